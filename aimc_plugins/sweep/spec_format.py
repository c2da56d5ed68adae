"""The sweep spec file format and its checks: which recipe, devices, optimizers and seeds to run.

A spec is declarative: :func:`aimc_plugins.sweep.planning.expand` turns it into the list of
:class:`PlannedRun` it stands for, each identified by the hash of its whole configuration.
Everything a user can get wrong in a spec (an unknown key, a typo in a device name, a value out of
range) is reported by :func:`load_spec` / ``planning.check`` with the file and the closest valid
name, before any training.

Format (``recipes/specs/*.toml``)::

    name = "digits-small"            # optional; defaults to the file name. A label, one folder
                                     # name (sweeps/NAME/): no '/', '..', leading dot
                                     # (check_folder_label)
    recipe = "digits-mlp"
    seeds = 3                        # or a list: [0, 1, 2]; default 3
    epochs = 2                       # optional; the recipe's default otherwise
    periphery = "paper"              # optional periphery profile (aimc_plugins.training.periphery)
    options = { n_train = 1000 }     # optional recipe options
    track = ["tensorboard"]          # optional experiment trackers (docs/trackers.md); they
                                     # observe the runs and do not change their ids

    devices = [
      "ReRamSB",                                  # a device (aimc devices)
      "TikiTakaReRamSBPreset",                    # a preset config: runs under its own algorithm
      "power(tau=0.7, g=0.5)",                    # a device with parameters
      { name = "exponential", grid = { tau = [0.6, 0.7], g = [1, 2] } },   # a grid of them
      "@preset-devices",                          # a selector: several names at once
    ]
    optimizers = [
      "digital",                                  # runs once, not once per device
      { name = "sgd", params = { lr = 0.05 } },
      { name = "sgd", grid = { lr = [0.01, 0.1] }, label = "sgd-lr" },
    ]

    [scale.full]                     # optional named scales: `aimc compare SPEC --scale full`
    epochs = 30
    options = { source = "full" }

    target = 0.8                     # optional: time to target is measured against this value
                                     # (default: a fraction of the digital baseline's final value)
    [tune]                           # optional: tune every row with the same budget on a
    trials = 8                       # validation split (aimc_plugins.sweep.tuning has the form)
    [converge]                       # optional (or converge = true): epochs is then a cap, and
    patience = 5                     # each row trains until its validation metric stops
    min_delta = 0.005                # improving (aimc_plugins.sweep.convergence)

A preset device entry may carry ``params = { lr = ... }``, or ``grid = { lr = [...] }`` for one
row per rate (labelled ``NAME(lr=...)``); otherwise it runs once, at the ``lr`` of the first
optimizer entry that sets one (as ``--param lr=...`` does on the command line), and when the
optimizers give several rates the plan says so in one warning
(:func:`aimc_plugins.sweep.planning.plan_warnings`).

Device selectors stand for several entries at once, in a spec and in ``--device`` alike
(:func:`aimc_plugins.sweep.selectors.expand_selector`; this module knows only how one looks):
``@presets`` (every preset training configuration), ``@preset-devices`` (aihwkit's preset devices),
``@family:NAME`` (the preset configurations of one family, as ``aimc presets`` shows it, case and
punctuation ignored: ``@family:ttv2``), and glob patterns over device and preset names (``ReRam*``,
``*Preset``, ``TTv2?*``; ``fnmatch``, case-sensitive). A selector that selects nothing is an error
naming it, never an empty sweep. A selector entry may be a table with ``params`` / ``grid`` (given
to every device it selects) but no ``label``. Devices named twice, by hand and through a selector,
run once. """

from __future__ import annotations

import ast
import difflib
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Self

from aimc_plugins.sweep.convergence import Convergence, ConvergenceError, convergence_from_table
from aimc_plugins.sweep.tuning import TuneError, TuneSettings, settings_from_table
from aimc_plugins.training.periphery import DEFAULT_PROFILE, PROFILES
from aimc_plugins.training.tracking import choose_trackers

SPEC_KEYS = (
    "name",
    "description",
    "recipe",
    "seeds",
    "epochs",
    "periphery",
    "options",
    "devices",
    "optimizers",
    "scale",
    "track",
    "tune",
    "converge",
    "target",
)
ENTRY_KEYS = ("name", "params", "grid", "label")
# Analog runs are stochastic: three seeds are the fewest that give a confidence interval worth
# reading (Student t with 2 degrees of freedom is already 4.3 standard errors wide).
DEFAULT_SEEDS = 3
SCALE_KEYS = ("epochs", "seeds", "options", "periphery", "tune", "converge")


class SpecError(ValueError):
    """A sweep spec that cannot be run as written."""


def literal(text: str) -> Any:
    """``text`` read as a Python literal (``"1000"`` -> ``1000``, ``"[1, 2]"`` -> a list), or
    the text itself when it is none: how command-line values are read, so that a flag and the
    same value in a TOML spec give the same run id (planning's ``literal_options`` uses it)."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


# Characters a folder name cannot carry on one of the systems a spec may travel to (Windows
# refuses these; every system refuses NUL and the separators).
_UNPORTABLE = frozenset('<>:"|?*')
MAX_LABEL_BYTES = 200  # a file system takes 255 bytes per name; room for "-SCALE" and more


def check_folder_label(what: str, text: str) -> str:
    """``text`` if it can be one folder name as it is, else :class:`SpecError` in one line.

    A spec's ``name`` and its scales' names are labels, and they become a folder name
    (``sweeps/NAME-SCALE/``), never a path: a name such as ``../../../escape-test`` would
    otherwise plan its store outside ``sweeps/``. Refused: an empty name, a path separator,
    ``..``, a leading dot (hidden, or ``.``), control characters, characters some file systems
    cannot carry (``<>:"|?*``), spaces at either end, and names over :data:`MAX_LABEL_BYTES`
    bytes."""
    why = ""
    if not isinstance(text, str) or not text:
        why = "is empty"
    elif "/" in text or "\\" in text:
        why = "holds a path separator"
    elif ".." in text:
        why = "holds '..'"
    elif text.startswith("."):
        why = "starts with a dot"
    elif any(ord(c) < 32 or c == "\x7f" for c in text):
        why = "holds a control character"
    elif bad := sorted(set(text) & _UNPORTABLE):
        why = f"holds {''.join(bad)!r}, which some file systems cannot carry in a name"
    elif text != text.strip():
        why = "starts or ends with a space"
    elif len(text.encode("utf-8")) > MAX_LABEL_BYTES:
        why = f"is longer than {MAX_LABEL_BYTES} bytes"
    if why:
        raise SpecError(
            f"{what} {text!r} {why}: it is a label that names one folder (sweeps/NAME/), not a "
            "path; use letters, digits, '-', '_' and '.'"
        )
    return text


def parse_call(text: str) -> tuple[str, dict[str, Any]]:
    """``"power(tau=0.7, g=0.5)"`` -> ``("power", {"tau": 0.7, "g": 0.5})``, read the one way
    every device name is read (:mod:`aimc_plugins.devices.names`), as a spec error."""
    from aimc_plugins.devices.names import DeviceRefError, parse_device_ref

    try:
        parsed = parse_device_ref(text)
    except DeviceRefError as exc:
        raise SpecError(str(exc)) from None
    return parsed.name, dict(parsed.params)


def _check_keys(where: str, given: Iterable[str], known: Sequence[str]) -> None:
    for key in given:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise SpecError(f"{where}: unknown key {key!r}{hint} (known: {', '.join(known)})")


def _table(where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise SpecError(f"{where} must be a table, got {value!r}")
    return dict(value)


@dataclass(frozen=True)
class Entry:
    """A device or optimizer named in a spec, with fixed ``params`` and a ``grid`` to sweep:
    what :class:`DeviceEntry` and :class:`OptimizerEntry` share, and what planning counts runs
    over without knowing which of the two it holds."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    grid: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    label: str = ""

    @classmethod
    def parse(cls, value: Any, where: str = "entry") -> Self:
        """From ``"name"``, ``"name(k=v)"`` or a ``{name, params, grid, label}`` table."""
        if isinstance(value, str):
            name, params = parse_call(value)
            return cls(name=name, params=params)
        table = _table(where, value)
        _check_keys(where, table, ENTRY_KEYS)
        if not isinstance(table.get("name"), str) or not table["name"].strip():
            raise SpecError(f"{where} needs a name")
        name, params = parse_call(table["name"])
        params.update(_table(f"{where}.params", table.get("params", {})))
        grid = _table(f"{where}.grid", table.get("grid", {}))
        for key, values in grid.items():
            if not isinstance(values, list) or not values:
                raise SpecError(f"{where}.grid.{key} must be a non-empty list, got {values!r}")
        label = table.get("label", "")
        if not isinstance(label, str):
            raise SpecError(f"{where}.label must be a string")
        return cls(name=name, params=params, grid=grid, label=label)

    def settings(self) -> list[dict[str, Any]]:
        """Every parameter setting of this entry: ``params`` with each point of ``grid``."""
        keys = list(self.grid)
        return [
            {**self.params, **dict(zip(keys, point, strict=True))}
            for point in itertools.product(*(self.grid[k] for k in keys))
        ]


class DeviceEntry(Entry):
    """A device, device with parameters, preset configuration, or selector in a spec."""

    @classmethod
    def parse(cls, value: Any, where: str = "entry") -> Self:
        """As :meth:`Entry.parse`, and a selector (``@presets``, ``ReRam*``) kept as written
        for :func:`expand` to resolve against the registered names."""
        text = value if isinstance(value, str) else None
        if isinstance(value, Mapping) and isinstance(value.get("name"), str):
            text = value["name"]
        if text is None or not is_selector(text):
            return super().parse(value, where)
        if isinstance(value, str):
            return cls(name=text.strip())
        table = _table(where, value)
        _check_keys(where, table, ENTRY_KEYS)
        if table.get("label"):
            raise SpecError(
                f"{where}: a selector ({text.strip()!r}) stands for several devices and cannot "
                "take one label"
            )
        # params and grid are read as for any entry; the name stays the selector as written
        entry = super().parse({**table, "name": "selector"}, where)
        return replace(entry, name=text.strip())


class OptimizerEntry(Entry):
    """An optimizer with hyper-parameters in a spec."""


# -- what a device selector looks like (expanded in aimc_plugins.sweep.selectors) --------------

ALL_PRESETS = "@presets"
PRESET_DEVICES = "@preset-devices"
FAMILY_PREFIX = "@family:"
SELECTORS = (ALL_PRESETS, PRESET_DEVICES, FAMILY_PREFIX + "NAME")
_GLOB_CHARS = frozenset("*?[")


def is_selector(text: str) -> bool:
    """Whether a device string selects several names: ``@...``, or a glob pattern (``*``, ``?``,
    ``[``) without parameters (``name(k=[1, 2])`` is one device with a list value)."""
    text = text.strip()
    return text.startswith("@") or ("(" not in text and bool(_GLOB_CHARS & set(text)))



@dataclass(frozen=True)
class SweepSpec:
    """A declarative sweep: recipe x devices x optimizers x seeds."""

    name: str
    recipe: str
    devices: tuple[DeviceEntry, ...]
    optimizers: tuple[OptimizerEntry, ...]
    seeds: tuple[int, ...] = tuple(range(DEFAULT_SEEDS))
    epochs: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    periphery: str = DEFAULT_PROFILE
    description: str = ""
    scales: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    track: tuple[str, ...] = ()  # tracker names: who observes the runs, not what they are
    tune: TuneSettings | None = None  # tuning budget and spaces ([tune]; sweep.tuning)
    target: float | None = None  # the metric value time to target is measured against
    converge: Convergence | None = None  # epochs is a cap ([converge]; sweep.convergence)

    def scaled(self, scale: str | None) -> SweepSpec:
        """This spec with a named ``[scale.NAME]`` table's overrides applied."""
        if not scale:
            return self
        if scale not in self.scales:
            known = ", ".join(self.scales) or "none"
            raise SpecError(f"spec {self.name!r} has no scale {scale!r} (known: {known})")
        over = self.scales[scale]
        return replace(
            self,
            epochs=_epochs(over.get("epochs", self.epochs)),
            seeds=_seeds(over["seeds"]) if "seeds" in over else self.seeds,
            options={**self.options, **_table("scale.options", over.get("options", {}))},
            periphery=over.get("periphery", self.periphery),
            tune=_tune(
                {**self._tune_table, **_table("scale.tune", over["tune"])}
                if "tune" in over
                else self._tune_table
            ),
            converge=_converge(over["converge"]) if "converge" in over else self.converge,
        )

    @property
    def _tune_table(self) -> dict[str, Any]:
        return self.tune.as_table() if self.tune is not None else {}


def _seeds(value: Any) -> tuple[int, ...]:
    if isinstance(value, bool):
        raise SpecError(f"seeds must be a count or a list of integers, got {value!r}")
    if isinstance(value, int):
        if value < 1:
            raise SpecError(f"seeds must be at least 1, got {value}")
        return tuple(range(value))
    if (
        isinstance(value, list)
        and value
        and all(isinstance(s, int) and not isinstance(s, bool) for s in value)
    ):
        return tuple(dict.fromkeys(value))
    raise SpecError(f"seeds must be a count or a non-empty list of integers, got {value!r}")


def _epochs(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(f"epochs must be a positive integer, got {value!r}")
    return value


def _tune(table: Mapping[str, Any]) -> TuneSettings | None:
    """The ``[tune]`` table as :class:`TuneSettings` (``None`` when absent or empty)."""
    if not table:
        return None
    try:
        return settings_from_table(table)
    except TuneError as exc:
        raise SpecError(str(exc)) from None


def _converge(value: Any) -> Convergence | None:
    """The ``converge`` value (``true``, ``false`` or a table) as :class:`Convergence`."""
    try:
        return convergence_from_table(value)
    except (ConvergenceError, TypeError) as exc:
        raise SpecError(str(exc)) from None


def _target(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SpecError(f"target must be a finite number (a value of the metric), got {value!r}")
    return float(value)


def _track(value: Any) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise SpecError(f"track must be a tracker name or a list of them, got {value!r}")
    return tuple(dict.fromkeys(names))


def check_trackers(names: Sequence[str]) -> tuple[str, ...]:
    """The tracker names, each known and able to run here, or :class:`SpecError` listing the
    known ones (:func:`~aimc_plugins.training.tracking.choose_trackers`)."""
    try:
        return tuple(tracker.name for tracker in choose_trackers(names))
    except ValueError as exc:
        raise SpecError(str(exc)) from None


def _entries(kind: type[Entry], key: str, value: Any) -> tuple[Any, ...]:
    if isinstance(value, (str, Mapping)):
        value = [value]
    if not isinstance(value, list) or not value:
        raise SpecError(f"{key} must be a non-empty list")
    return tuple(kind.parse(item, f"{key}[{i}]") for i, item in enumerate(value))


def spec_from_dict(data: Mapping[str, Any], default_name: str = "sweep") -> SweepSpec:
    """A :class:`SweepSpec` from parsed TOML (checks the shape, not the names)."""
    _check_keys("spec", data, SPEC_KEYS)
    for required in ("recipe", "devices", "optimizers"):
        if required not in data:
            raise SpecError(f"spec needs {required!r}")
    if not isinstance(data["recipe"], str):
        raise SpecError(f"recipe must be a name, got {data['recipe']!r}")
    periphery = data.get("periphery", DEFAULT_PROFILE)
    if periphery not in PROFILES:
        raise SpecError(f"unknown periphery profile {periphery!r} (known: {', '.join(PROFILES)})")
    scales = _table("scale", data.get("scale", {}))
    for scale_name, over in scales.items():
        check_folder_label("scale name", scale_name)
        _check_keys(f"scale.{scale_name}", _table(f"scale.{scale_name}", over), SCALE_KEYS)
    if "name" in data:
        if not isinstance(data["name"], str):
            raise SpecError(f"name must be a string, got {data['name']!r}")
        name = check_folder_label("spec name", data["name"])
    else:
        name = check_folder_label(
            "spec name (the file's name; set `name = ...` in the spec)", default_name
        )
    return SweepSpec(
        name=name,
        description=str(data.get("description", "")),
        recipe=data["recipe"],
        devices=_entries(DeviceEntry, "devices", data["devices"]),
        optimizers=_entries(OptimizerEntry, "optimizers", data["optimizers"]),
        seeds=_seeds(data.get("seeds", DEFAULT_SEEDS)),
        epochs=_epochs(data.get("epochs")),
        options=_table("options", data.get("options", {})),
        periphery=periphery,
        scales=scales,
        track=_track(data.get("track", [])),
        tune=_tune(_table("tune", data.get("tune", {}))),
        target=_target(data.get("target")),
        converge=_converge(data.get("converge", False)),
    )


def load_spec(path: str | Path, scale: str | None = None) -> SweepSpec:
    """Read a TOML spec; errors name the file."""
    import tomllib

    path = Path(path)
    try:
        data = tomllib.loads(read_text_file(path, "spec"))
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}") from None
    try:
        return spec_from_dict(data, default_name=path.stem).scaled(scale)
    except SpecError as exc:
        raise SpecError(f"{path}: {exc}") from None


def read_text_file(path: Path, what: str) -> str:
    """The UTF-8 text of ``path``, or one :class:`SpecError` line naming the file: a binary or
    mis-encoded file must not end in a ``UnicodeDecodeError`` traceback."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SpecError(f"{path}: no such {what} file") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read the {what} file: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(
            f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            f"a {what} file is text"
        ) from None
