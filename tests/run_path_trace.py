"""A run's main path through the host's modules, traced while it runs (issue 28).

What is measured, and why so:

- **Host frames** are Python frames in ``aimc_plugins`` outside ``builtin/``; **plugin frames**
  are those of plugin code: ``aimc_plugins/builtin/`` and the modules of plugins registered in
  this process. The host exists to call plugin code (a device's, a preset's or an optimizer's
  factory, a response's q+-, a recipe's ``run``); what plugin code then calls is the plugin's
  business and is not traced.
- A host frame is on the run's **main path** when a plugin call is made from it or from a host
  frame it called: the spine from ``run_sweep`` down to each plugin call. Leaves beside it (a
  registry lookup, the run id, a progress line) are errands, not the path.
- A **stay** is a stretch of time in which the innermost main-path frame is in one module; it
  begins by a call (the module is *entered*) or by a return. A **climb back** is a stay in a
  higher layer than the stay before it (``host`` < ``devices`` < ``training`` < ``sweep``, the
  order of :data:`import_layers.LAYERS`).

A run that goes down the layers once and comes back has two climbs back (from the devices to
training, which trains, and from training to the sweep, which stores) and enters each module
once; every further climb is a detour (a lower layer handing control back up to be sent down
again), every further entry a module visited twice.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from import_layers import LAYERS

import aimc_plugins
from aimc_plugins.host import plugins

ROOT = Path(aimc_plugins.__file__).parent
HOST, PLUGIN = "host", "plugin"


@dataclass(frozen=True)
class Stay:
    module: str  # aimc_plugins.x.y
    entered: bool  # begun by a call into the module (else by a return into it)

    @property
    def layer(self) -> str:
        return self.module.split(".")[1] if self.module.count(".") else ""

    @property
    def height(self) -> int:
        return LAYERS.index(self.layer) if self.layer in LAYERS else -1


@dataclass
class RunPath:
    """The stays of one traced stretch of code, in order."""

    stays: list[Stay] = field(default_factory=list)
    # every host function called outside plugin code, main path or not: "module:qualname"
    calls: Counter[str] = field(default_factory=Counter)

    @property
    def modules(self) -> set[str]:
        return {s.module for s in self.stays}

    @property
    def entries(self) -> Counter[str]:
        """How many times each module was entered by a call."""
        return Counter(s.module for s in self.stays if s.entered)

    @property
    def climbs(self) -> list[tuple[str, str]]:
        """(from, to) of every stay in a higher layer than the one before it."""
        return [
            (before.module, after.module)
            for before, after in zip(self.stays, self.stays[1:], strict=False)
            if after.height > before.height
        ]

    def summary(self) -> str:
        twice = {m: n for m, n in self.entries.items() if n > 1}
        return (
            f"{len(self.stays)} stays in {len(self.modules)} modules, "
            f"{len(self.climbs)} climbs back, entered more than once: {twice or 'none'}"
        )

    def __str__(self) -> str:
        return " > ".join(s.module.removeprefix("aimc_plugins.") for s in self.stays)


def _plugin_roots() -> list[Path]:
    """Where the code of the plugins registered outside the host lives: a plugin module's file,
    or the folder of a plugin package (a device's factory may sit in a submodule)."""
    roots = []
    for _, plugin in plugins.pm.list_name_plugin():
        module = sys.modules.get(getattr(plugin, "__module__", "") or "")
        source = getattr(plugin, "__file__", None) or getattr(module, "__file__", None)
        if not source:
            continue
        path = Path(source).resolve()
        if path.is_relative_to(ROOT):
            continue  # the host's own: builtin/ is plugin code, the rest is the host
        roots.append(path.parent if path.name == "__init__.py" else path)
    return roots


def _classifier() -> Callable[[str], tuple[str, str] | None]:
    roots = _plugin_roots()
    builtin = ROOT / "builtin"
    seen: dict[str, tuple[str, str] | None] = {}

    def classify(filename: str) -> tuple[str, str] | None:
        """(HOST or PLUGIN, module) of a source file, or None for any other code."""
        if filename not in seen:
            path = Path(filename).resolve() if filename[:1] not in "<" else None
            if path is None:
                seen[filename] = None
            elif path.is_relative_to(builtin) or any(path.is_relative_to(r) for r in roots):
                seen[filename] = (PLUGIN, path.stem)
            elif path.is_relative_to(ROOT):
                parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
                if parts[-1] == "__init__":
                    parts.pop()
                seen[filename] = (HOST, ".".join(parts))
            else:
                seen[filename] = None
        return seen[filename]

    return classify


@contextmanager
def traced() -> Iterator[RunPath]:
    """Trace the calling thread's host frames while the block runs; the path is filled in when
    the block ends."""
    classify = _classifier()
    path = RunPath()
    events: list[tuple[str, int]] = []  # ("call" | "return", host frame id)
    frames: dict[int, str] = {}  # host frame id -> module
    main: set[int] = set()
    stack: list[int] = []  # host frames now running, outermost first
    inside_plugin = 0  # depth of plugin frames now running: what they call is not traced
    ids: dict[int, int] = {}  # id(frame) -> host frame id, while it runs
    plugin_frames: set[int] = set()

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal inside_plugin
        if event not in ("call", "return"):
            return
        code = frame.f_code
        if code.co_name in ("<module>", "find_spec"):
            return  # imports are not the run's path
        kind = classify(code.co_filename)
        if kind is None:
            return
        if event == "call":
            if kind[0] == PLUGIN:
                if inside_plugin == 0:
                    main.update(stack)  # every host frame under a plugin call is main path
                inside_plugin += 1
                plugin_frames.add(id(frame))
            elif inside_plugin == 0:
                path.calls[f"{kind[1]}:{code.co_qualname}"] += 1
                number = len(frames)
                frames[number] = kind[1]
                ids[id(frame)] = number
                stack.append(number)
                events.append(("call", number))
        elif id(frame) in plugin_frames:
            plugin_frames.discard(id(frame))
            inside_plugin -= 1
        elif inside_plugin == 0 and id(frame) in ids:
            number = ids.pop(id(frame))
            if stack and stack[-1] == number:
                stack.pop()
            events.append(("return", number))

    before = sys.getprofile()
    sys.setprofile(profile)
    try:
        yield path
    finally:
        sys.setprofile(before)
    # replay: the innermost main-path frame's module after each event on a main-path frame
    running: list[int] = []
    for event, number in events:
        if event == "call":
            running.append(number)
        elif running and running[-1] == number:
            running.pop()
        if number not in main:
            continue
        inner = next((n for n in reversed(running) if n in main), None)
        if inner is None:
            continue
        module = frames[inner]
        if not path.stays or path.stays[-1].module != module:
            path.stays.append(Stay(module, entered=event == "call"))
