"""Install a generated distribution the way a user would (``pip install -e``), but into a
throwaway ``--target`` folder, never into this environment's site-packages; then run Python
with that folder processed as a site directory (its ``.pth`` files included, which is how an
editable install hooks in), as site-packages would be."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PIP_INSTALL = (sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation")


def pip_install_editable(source: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*PIP_INSTALL, "--target", str(site), "-e", str(source)], capture_output=True, text=True
    )


def python_with_site(site: Path, code: str, cwd: Path) -> subprocess.CompletedProcess:
    prelude = f"import site, sys; site.addsitedir({str(site)!r}); "
    return subprocess.run(
        [sys.executable, "-c", prelude + code], cwd=cwd, capture_output=True, text=True
    )


def run_pytest(site: Path, folder: Path) -> subprocess.CompletedProcess:
    code = "import pytest; sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', 'tests']))"
    return python_with_site(site, code, cwd=folder)
