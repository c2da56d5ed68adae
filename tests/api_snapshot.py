"""The plugin API as data, and its snapshot per release: ``tests/data/api/VERSION.json``.

The API is what plugins and users may rely on: the facade's public names
(``aimc_plugins.__all__``), the hook specifications (names and arguments), and the records'
fields, properties and methods (:mod:`aimc_plugins.host.records`). ``tests/test_api_contract.py``
fails when it differs from the current version's snapshot, so a change is always a decision:

1. name the change in CHANGELOG.md, in the section of the version it ships in;
2. if that version is released (its CHANGELOG heading has a date), bump the version first
   (``pyproject.toml`` and ``aimc_plugins/host/version.py``);
3. write the snapshot again: ``.venv/bin/python -m tests.api_snapshot --write``.

``--write`` refuses to rewrite a released version's snapshot, and a snapshot whose changes
(since the previous version's) the CHANGELOG section does not name.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SNAPSHOTS = REPO / "tests" / "data" / "api"
CHANGELOG = REPO / "CHANGELOG.md"
WRITE_COMMAND = ".venv/bin/python -m tests.api_snapshot --write"


def surface() -> dict[str, Any]:
    """The plugin API of the code as it is now."""
    import aimc_plugins
    from aimc_plugins.host import hookspecs, records

    hooks = {}
    for name, function in sorted(vars(hookspecs).items()):
        if callable(function) and hasattr(function, f"{hookspecs.PROJECT}_spec"):
            hooks[name] = list(inspect.signature(function).parameters)
    record_types = {}
    module_names = []
    for name, value in sorted(vars(records).items()):
        if name.startswith("_") or getattr(value, "__module__", records.__name__) not in (
            records.__name__,
            None,
        ):
            continue
        if inspect.ismodule(value) or name in {"annotations"}:
            continue
        module_names.append(name)
        if dataclasses.is_dataclass(value) and isinstance(value, type):
            fields = [
                f.name
                + (
                    ""
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
                    else "="
                )
                for f in dataclasses.fields(value)
            ]
            members = sorted(
                m
                for m, v in vars(value).items()
                if not m.startswith("_")
                and m not in {f.name for f in dataclasses.fields(value)}
                and (callable(v) or isinstance(v, property))
            )
            record_types[name] = {"fields": fields, "members": members}
    return {
        "public_names": sorted(aimc_plugins.__all__),
        "hooks": hooks,
        "records": record_types,
        "records_module": module_names,
    }


def names_of(data: dict[str, Any]) -> set[str]:
    """Every item of a surface as one name (``hook register_devices(register)``,
    ``Device.family``): what a CHANGELOG entry must mention when it changes."""
    items = set(data["public_names"]) | set(data["records_module"])
    items |= {f"{hook}({', '.join(args)})" for hook, args in data["hooks"].items()}
    for record, parts in data["records"].items():
        items |= {f"{record}.{f.rstrip('=')}" for f in parts["fields"]}
        items |= {f"{record}.{m}" for m in parts["members"]}
    return items


def version() -> str:
    from aimc_plugins.host.version import VERSION

    return VERSION


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text))


def snapshot_path(of: str) -> Path:
    return SNAPSHOTS / f"{of}.json"


def previous_snapshot(of: str) -> dict[str, Any] | None:
    """The snapshot of the latest version before ``of``, if any is kept."""
    older = [p for p in SNAPSHOTS.glob("*.json") if _version_key(p.stem) < _version_key(of)]
    if not older:
        return None
    latest = max(older, key=lambda p: _version_key(p.stem))
    return dict(json.loads(latest.read_text()))


def changelog_section(of: str) -> tuple[str, str] | None:
    """(heading, text) of the CHANGELOG section of version ``of``."""
    text = CHANGELOG.read_text(encoding="utf-8")
    match = re.search(rf"^## \[{re.escape(of)}\](.*)$", text, re.MULTILINE)
    if match is None:
        return None
    rest = text[match.end() :]
    following = re.search(r"^## \[", rest, re.MULTILINE)
    return match.group(0), rest[: following.start()] if following else rest


def released(heading: str) -> bool:
    return re.search(r"\d{4}-\d{2}-\d{2}", heading) is not None


def unexplained(current: dict[str, Any], of: str) -> list[str]:
    """Changed API items (against the previous version's snapshot) that the version's
    CHANGELOG section does not name."""
    before = previous_snapshot(of)
    section = changelog_section(of)
    if before is None:
        return []
    text = section[1] if section else ""
    changed = names_of(current) ^ names_of(before)
    return sorted(item for item in changed if item.split("(")[0] not in text)


def problems() -> list[str]:
    """Why the API does not match its snapshot (empty: it does)."""
    of = version()
    section = changelog_section(of)
    if section is None:
        return [f"CHANGELOG.md has no section '## [{of}]' for the current version"]
    path = snapshot_path(of)
    if not path.exists():
        return [f"no API snapshot for version {of}: run `{WRITE_COMMAND}`"]
    kept = json.loads(path.read_text())
    now = surface()
    if kept != now:
        added = sorted(names_of(now) - names_of(kept))
        removed = sorted(names_of(kept) - names_of(now))
        return [
            f"the plugin API differs from its snapshot {path.relative_to(REPO)}: "
            f"added {added or 'nothing'}, removed {removed or 'nothing'}. If this is intended, "
            f"name it in CHANGELOG.md under '## [{of}]' (bump the version first if {of} is "
            f"released), then run `{WRITE_COMMAND}`"
        ]
    missing = unexplained(now, of)
    if missing:
        return [f"CHANGELOG.md's section for {of} does not name these API changes: {missing}"]
    return []


def write() -> int:
    of = version()
    section = changelog_section(of)
    if section is None:
        print(f"CHANGELOG.md needs a section '## [{of}]' first", file=sys.stderr)
        return 1
    path = snapshot_path(of)
    now = surface()
    if path.exists() and json.loads(path.read_text()) != now and released(section[0]):
        print(
            f"{of} is released (its CHANGELOG heading is dated): bump the version first",
            file=sys.stderr,
        )
        return 1
    missing = unexplained(now, of)
    if missing:
        print(f"name these changes in CHANGELOG.md under [{of}] first: {missing}", file=sys.stderr)
        return 1
    SNAPSHOTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
    print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        sys.exit(write())
    for problem in problems():
        print(problem)
