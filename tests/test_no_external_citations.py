"""Every tracked file cites only what a user's clone contains.

The project's background notes and its shared folder lived beside the repository while it was
written, never in it: a citation of either is a dead link in every clone. The theory the code
relies on is docs/theory.md.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# assembled, so that this file does not match itself
FORBIDDEN = re.compile("science" + r"\.md|\.\./shared")


def _tracked_files() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    return [ROOT / name for name in out.split("\0") if name]


def test_no_tracked_file_cites_files_outside_the_repository() -> None:
    offenders = []
    for path in _tracked_files():
        if not path.is_file():  # deleted in the working tree, not yet in the index
            continue
        if path == Path(__file__).resolve():  # the guard names what it forbids
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary files cite nothing
        for number, line in enumerate(text.splitlines(), 1):
            if FORBIDDEN.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "citations of files a clone lacks:\n" + "\n".join(offenders)


def test_the_theory_it_points_to_is_there() -> None:
    assert (ROOT / "docs" / "theory.md").is_file()


def test_the_pattern_catches_both_forms() -> None:
    """The check above could pass by matching nothing; show it matches what it must."""
    assert FORBIDDEN.search("see docs/" + "science.md")
    assert FORBIDDEN.search("cp ../" + "shared/data .")
    assert not FORBIDDEN.search("see docs/theory.md")
