"""Typed records that plugins register, and the small value types they exchange.

Records are frozen dataclasses: they can be pickled to worker processes and compared in tests,
and a plugin cannot mutate another plugin's registration. The host fills in ``plugin`` when a
record is registered; plugin authors leave it empty.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

LR_DEFAULT = 0.1


class ParameterError(ValueError):
    """A hyper-parameter or device parameter is unknown or out of its valid range."""


@dataclass(frozen=True)
class SearchRange:
    """Where a tuner looks for a parameter's value: ``[low, high]``, on a log scale for rates.

    A :class:`Param` that carries one is tuned by default when a comparison is tuned
    (``aimc compare --tune N``); a spec's ``[tune.space.OPTIMIZER]`` table can narrow or widen it.
    """

    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.low >= self.high:
            raise ParameterError(f"a search range needs finite low < high, got {self}")
        if self.log and self.low <= 0:
            raise ParameterError(f"a log-scale search range needs low > 0, got {self}")


# Default search ranges, log scale, each two to two and a half decades around the values the
# paper and aihwkit use: a tuning budget of a few trials covers them, and a setting at a range's
# edge says the range should be widened ([tune.space.OPTIMIZER]).
# A learning rate: digital SGD on the paper's sigmoid network is best near 1, Analog SGD near
# 0.1-0.5, the paper's rates are 0.05-0.1.
LR_SEARCH = SearchRange(0.01, 3.0, log=True)
# The rate of the gradient onto the residual array P (alpha): the paper's 0.05, ours 0.1.
FAST_RATE_SEARCH = SearchRange(0.01, 1.0, log=True)
# A transfer or filter rate (beta): the paper's 0.01, ours 0.05.
RATE_SEARCH = SearchRange(0.003, 0.3, log=True)


@dataclass(frozen=True)
class Param:
    """One tunable parameter of a device or an optimizer: the schema the CLI shows and checks.

    ``search`` is the range a tuned comparison searches by default (none: the parameter keeps
    its value unless a spec's ``[tune.space]`` names it)."""

    name: str
    default: Any
    help: str = ""
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True
    search: SearchRange | None = None

    @property
    def kind(self) -> type:
        return type(self.default) if self.default is not None else float

    def coerce(self, value: Any) -> Any:
        """Convert ``value`` (a CLI string, say) to this parameter's type and check its range."""
        kind = self.kind
        given = value
        try:
            if kind is not bool and isinstance(value, bool):
                raise TypeError(value)  # True is an int to Python, never a number to a user
            if kind is bool and isinstance(value, str):
                if value.lower() not in {"true", "false", "1", "0", "yes", "no"}:
                    raise ValueError(value)
                value = value.lower() in {"true", "1", "yes"}
            elif kind is bool and not isinstance(value, bool):
                if value not in (0, 1):
                    raise ValueError(value)
                value = bool(value)
            elif kind is int and isinstance(value, float):
                if not value.is_integer():
                    raise ValueError(value)  # int(1.5) would silently train with 1
                value = int(value)
            elif kind is int and isinstance(value, str):
                value = _int_text(value)
            elif not isinstance(value, kind):
                value = kind(value)
        except (TypeError, ValueError, OverflowError):
            raise ParameterError(f"{self.name}={given!r} is not a valid {kind.__name__}") from None
        if self.choices is not None and value not in self.choices:
            raise ParameterError(f"{self.name}={value!r} is not one of {list(self.choices)}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if isinstance(value, float) and not math.isfinite(value):
                raise ParameterError(f"{self.name}={value!r} must be finite")
            _check_machine_range(self.name, value)
            if self.low is not None and (
                value < self.low or (value == self.low and not self.low_inclusive)
            ):
                raise ParameterError(f"{self.name}={value!r} is below its valid range {self.range}")
            if self.high is not None and (
                value > self.high or (value == self.high and not self.high_inclusive)
            ):
                raise ParameterError(f"{self.name}={value!r} is above its valid range {self.range}")
        return value

    @property
    def range(self) -> str:
        if self.choices is not None:
            return "{" + ", ".join(map(str, self.choices)) + "}"
        if self.low is None and self.high is None:
            return "any"
        low = "-inf" if self.low is None else f"{self.low:g}"
        left = ("[" if self.low_inclusive else "(") + low
        right = ("inf" if self.high is None else f"{self.high:g}") + (
            "]" if self.high_inclusive else ")"
        )
        return f"{left}, {right}"


# Values reach torch and aihwkit's compiled core as float32 (weights, learning rates, device
# fields) or int64 (sizes, counts): a Python float beyond float32 becomes inf there and fails deep
# inside a run ("cannot be converted to type float without overflow"), so it is refused here.
FLOAT32_MAX = 3.4028234663852886e38
FLOAT32_TINY = 1.401298464324817e-45  # the smallest float32 above 0 (subnormal)
INT64_MAX = 2**63 - 1


def _int_text(text: str) -> int:
    """``"1000"``, ``"1_000"`` or ``"1e3"`` as an int; ``"1.5"`` is refused, not truncated."""
    try:
        return int(text)
    except ValueError:
        number = float(text)
        if not number.is_integer():
            raise
        return int(number)


def _check_machine_range(name: str, value: float) -> None:
    """Refuse numbers float32 / int64 cannot hold (see :data:`FLOAT32_MAX`)."""
    if isinstance(value, int):
        if abs(value) > INT64_MAX:
            raise ParameterError(f"{name}={value!r} does not fit a 64-bit integer")
        return
    if abs(value) > FLOAT32_MAX:
        raise ParameterError(
            f"{name}={value!r} is beyond float32's range (|x| <= 3.4e38), which torch and "
            "aihwkit compute in"
        )
    if value != 0.0 and abs(value) < FLOAT32_TINY:
        raise ParameterError(
            f"{name}={value!r} rounds to 0 in float32 (|x| >= 1.4e-45), which torch and "
            "aihwkit compute in"
        )


def resolve_params(owner: str, schema: Sequence[Param], given: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with ``given``, each value coerced and range-checked.

    Unknown names are rejected with the closest known one, so a typo never silently trains with
    a default.
    """
    import difflib

    by_name = {p.name: p for p in schema}
    resolved = {p.name: p.default for p in schema}
    for key, value in given.items():
        if key not in by_name:
            close = difflib.get_close_matches(key, list(by_name), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            known = ", ".join(by_name) or "none"
            raise ParameterError(f"{owner} has no parameter {key!r}{hint} (known: {known})")
        try:
            resolved[key] = by_name[key].coerce(value)
        except ParameterError as exc:
            raise ParameterError(f"{owner}: {exc}") from None
    return resolved


@dataclass(frozen=True)
class Device:
    """An analog device: how one element responds to pulses.

    ``factory(**params)`` returns either an aihwkit pulsed-device config (``PulsedDevice``
    subclass) or a :class:`~aimc_plugins.devices.response.ResponseDevice` (a response written in
    Python),
    which :meth:`build` adapts to an aihwkit device so that training stays in the compiled core.
    """

    name: str
    factory: Callable[..., Any]
    description: str = ""
    family: str = ""
    parameters: tuple[Param, ...] = ()
    plugin: str = ""


@dataclass(frozen=True)
class TrainingSetup:
    """What an optimizer builds: the aihwkit RPU config of every analog layer, and the learning
    rate handed to the torch optimizer.

    ``rpu_config`` is ``None`` for a floating-point (digital) baseline.
    """

    rpu_config: Any
    lr: float
    description: str = ""


@dataclass(frozen=True)
class Optimizer:
    """A training algorithm.

    ``factory(devices, **hparams)`` receives a sequence of aihwkit device configs (the main
    array's first; ``n_devices`` of them) and returns a :class:`TrainingSetup`.
    """

    name: str
    factory: Callable[..., TrainingSetup]
    description: str = ""
    parameters: tuple[Param, ...] = ()
    n_devices: int = 1
    plugin: str = ""

    def build(self, devices: Sequence[Any], **hparams: Any) -> TrainingSetup:
        resolved = resolve_params(f"optimizer {self.name!r}", self.parameters, hparams)
        return self.factory(list(devices), **resolved)


@dataclass(frozen=True)
class Preset:
    """A complete training configuration (device and algorithm fixed together).

    ``factory()`` returns an aihwkit RPU config used as it is.
    """

    name: str
    factory: Callable[[], Any]
    description: str = ""
    family: str = ""
    plugin: str = ""


TEST_SPLIT = "test"
VALIDATION_SPLIT = "validation"
SPLITS = (TEST_SPLIT, VALIDATION_SPLIT)


@dataclass(frozen=True, init=False)
class RunConfig:
    """Everything a recipe needs for one training run.

    ``split`` says what the run is evaluated on: ``"test"`` (train on the whole training set,
    report the test split) or ``"validation"`` (train on the training set less a held-out
    part, report that part and never touch the test split): tuning trials run with the latter,
    so that no setting is chosen on test data. A recipe that offers a validation split says so
    in :attr:`Recipe.validation`.

    ``accelerator`` is the compute device the run trains on (``"cpu"`` or ``"cuda"``), named so
    that "device" means one thing, the analog device. It was called ``device`` until 0.2.0:
    ``RunConfig(device=...)`` and ``config.device`` still work, with a
    :class:`DeprecationWarning`, until 0.3.0."""

    setup: TrainingSetup
    seed: int = 0
    epochs: int | None = None
    accelerator: str = "cpu"
    show_progress: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)
    split: str = TEST_SPLIT

    # Written out (not generated) only to accept the older keyword ``device`` with a warning;
    # the parameters are the fields, in their order, so positional calls mean what they meant.
    def __init__(
        self,
        setup: TrainingSetup,
        seed: int = 0,
        epochs: int | None = None,
        accelerator: str = "cpu",
        show_progress: bool = False,
        options: Mapping[str, Any] | None = None,
        split: str = TEST_SPLIT,
        *,
        device: str | None = None,
    ) -> None:
        if device is not None:
            _renamed("RunConfig(device=...)", "RunConfig(accelerator=...)")
            accelerator = device
        for name, value in (
            ("setup", setup),
            ("seed", seed),
            ("epochs", epochs),
            ("accelerator", accelerator),
            ("show_progress", show_progress),
            ("options", {} if options is None else options),
            ("split", split),
        ):
            object.__setattr__(self, name, value)

    @property
    def device(self) -> str:
        """Deprecated: :attr:`accelerator`."""
        _renamed("RunConfig.device", "RunConfig.accelerator")
        return self.accelerator


def _renamed(old: str, new: str) -> None:
    """The warning of a spelling renamed in 0.2.0, removed in 0.3.0 (CHANGELOG.md)."""
    import warnings

    warnings.warn(
        f"{old} is deprecated and will be removed in aimc-plugins 0.3.0; use {new}",
        DeprecationWarning,
        stacklevel=3,
    )


@dataclass(frozen=True)
class RunResult:
    """A finished run: one metrics dict per epoch (``history``) and the final metrics.

    ``notes`` are caveats a reader of the results must see next to the numbers (for example a
    transfer schedule too slow for the run's budget), one line each."""

    history: tuple[Mapping[str, float], ...]
    final: Mapping[str, float]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: it holds a model
class TrainedNetwork:
    """A recipe's network trained in floating point, with the data it was trained on: what the
    theory measures the cost of an update's noise on (docs/theory.md section 10).

    ``model`` is a torch module, ``inputs`` / ``targets`` its training set as tensors, and
    ``batch_size`` the recipe's mini-batch size.
    """

    model: Any
    inputs: Any
    targets: Any
    batch_size: int


@dataclass(frozen=True)
class Recipe:
    """A network, a dataset and a training loop.

    ``run(RunConfig) -> RunResult``. ``metric`` names the final metric a comparison ranks by;
    ``higher_is_better`` says which way. ``options`` is the schema of ``RunConfig.options``: a
    sweep checks every run's options against it before training, and a recipe without a schema
    accepts none (a typo never trains silently on a default).

    ``validation`` describes the validation split the recipe carves from its training data when
    run with ``RunConfig.split == "validation"`` (it then reports ``validation_metric``, and
    never evaluates its test split); empty: the recipe offers none, and a comparison on it
    cannot be tuned.

    ``network`` builds the recipe's network, untrained and digital (a torch module), so that
    its initial weights can be read without training: ``aimc predict --recipe`` and the
    report's theory section evaluate the theory on them. ``None``: the recipe does not say.

    ``trained`` returns the network trained in floating point (:class:`TrainedNetwork`), on
    which the theory measures what write noise costs; ``None``: the prediction ranks by the
    response's ``S_K`` alone.
    """

    name: str
    run: Callable[[RunConfig], RunResult]
    description: str = ""
    dataset: str = ""
    default_epochs: int = 5
    metric: str = "test_accuracy"
    higher_is_better: bool = True
    options: tuple[Param, ...] = ()
    plugin: str = ""
    validation: str = ""
    network: Callable[[], Any] | None = None
    trained: Callable[[], TrainedNetwork] | None = None

    @property
    def validation_metric(self) -> str:
        """The metric a validation run reports in place of :attr:`metric`: ``test_X`` becomes
        ``val_X``; a metric not measured on a test split (a training objective) keeps its name."""
        if self.metric.startswith("test_"):
            return "val_" + self.metric.removeprefix("test_")
        return self.metric

    def check_options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        return resolve_params(f"recipe {self.name!r} option", self.options, given)


@dataclass(frozen=True)
class Tracker:
    """An experiment tracker (TensorBoard, MLflow, ...) that a sweep may send its runs to.

    A sweep chooses trackers by name (``aimc compare --track NAME``, ``track = [NAME]`` in a
    spec). The plugin that registered the tracker then receives the event hooks ``run_started``,
    ``epoch_ended`` and ``run_finished`` (:mod:`aimc_plugins.host.hookspecs`) for every run of
    that sweep, in the process that trains it, with ``tracker=name``; plugins whose trackers were
    not chosen receive nothing. ``check()``, if given, runs when a sweep chooses the tracker,
    before any training: it raises (an ``ImportError`` naming the package to install, say) when
    the tracker cannot work here, so a sweep never trains for an hour and tracks nothing.
    """

    name: str
    description: str = ""
    check: Callable[[], None] | None = None
    plugin: str = ""


@dataclass(frozen=True)
class RunEvent:
    """A run starting (``status`` empty) or finished (``done``, ``diverged`` or ``failed``, with
    its ``final`` metrics and ``error``), as the chosen trackers receive it.

    ``config`` is the run's whole configuration (what its ``run_id`` hashes: recipe, device and
    its parameters, optimizer and its hyper-parameters, seed, epochs, recipe options,
    periphery); ``device`` and ``optimizer`` are the labels the report shows. ``out_dir`` is the
    sweep's output folder (the one holding ``results.sqlite``), where a tracker that writes
    files puts them; empty when a run is trained outside a sweep.
    """

    run_id: str
    label: str
    device: str
    optimizer: str
    seed: int
    epochs: int
    config: Mapping[str, Any]
    sweep: str = ""
    out_dir: str = ""
    status: str = ""
    final: Mapping[str, Any] = field(default_factory=dict)
    error: str = ""
    duration_s: float = 0.0
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class EpochEvent:
    """One finished epoch of ``run``: ``metrics`` as the results store keeps them (numbers as
    Python floats, the ``epoch`` key included)."""

    run: RunEvent
    epoch: int
    epochs: int
    metrics: Mapping[str, Any]


def as_dict(record: Any) -> dict[str, Any]:
    """A record as JSON-able data, for ``--json`` listings: one implementation for every record.

    Callables (factories, a recipe's ``run``) are code, not data, and are left out; a parameter
    schema also shows its valid range and type, which a script would otherwise recompute."""
    if not is_dataclass(record) or isinstance(record, type):
        raise TypeError(f"not a record: {record!r}")
    data: dict[str, Any] = {}
    for item in fields(record):
        value = getattr(record, item.name)
        if callable(value) and not isinstance(value, type):
            continue
        data[item.name] = _plain(value)
    if isinstance(record, Param):
        data["range"] = record.range
        data["type"] = record.kind.__name__
    return data


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return as_dict(value)
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    return value
