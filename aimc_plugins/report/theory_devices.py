"""From a planned run to the theory's prediction of its device, for the report's theory section.

One :class:`Resolver` per report: each run is resolved through the builder that trained it
(:func:`aimc_plugins.training.setup.resolve`: the registered device with the run's parameters,
the optimizer's RPU config with its periphery), so the prediction is of the device the run
trained, and the recipe's initial weights are built once per recipe and weight mapping. Any
failure to derive a response (an aihwkit family without a derivation, a plugin missing here)
becomes the reason the row has no prediction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from aimc_plugins.devices.build import device_response
from aimc_plugins.devices.config_response import response_of
from aimc_plugins.devices.diagnostics import diagnose
from aimc_plugins.devices.theory import Prediction, floor_of, predict
from aimc_plugins.host import plugins
from aimc_plugins.training.identity import PlannedRun
from aimc_plugins.training.initial_weights import (
    InitialWeights,
    recipe_weights,
    weight_scaling_omega,
)
from aimc_plugins.training.noise_cost import with_noise_cost
from aimc_plugins.training.setup import resolve

# A response, a build or a recipe's network can fail in any way a plugin's code can (a KeyError
# for a plugin missing here, a ValueError for a bad parameter, a RuntimeError from torch, ...):
# each becomes the reason a row has no prediction, since one device must never stop a report.
_RESOLVE_ERRORS = (Exception,)


def _why(exc: BaseException) -> str:
    text = str(exc.args[0]) if exc.args else str(exc)
    return f"no prediction: {text or type(exc).__name__}"


@dataclass(frozen=True)
class ResidualPoint:
    """One Tiki-Taka / residual-learning row: its residual device's symmetric point as trained
    (zero shift included) and the floor it predicts."""

    device: str
    optimizer: str
    measured: float
    n_done: int
    gamma: float | None = None
    std: float = math.nan  # over the seeds, for comparing two rows of one device
    algorithm: str = ""  # the registered optimizer (rl, ttv1, ...), whatever the row's label
    zero_shift: str = ""
    residual: str = ""  # the residual device's aihwkit class as built
    symmetric_point: float | None = None
    floor: bool | None = None
    reason: str = ""


class Resolver:
    """Predictions of the runs' devices on their recipes' initial weights, with what was used."""

    def __init__(self) -> None:
        self._weights: dict[tuple[str, float], InitialWeights] = {}
        self._trained: dict[str, Any] = {}
        self._reasons: list[str] = []
        self.notes: list[str] = []

    def weights(self, run: PlannedRun, rpu_config: Any) -> InitialWeights:
        key = (run.recipe, weight_scaling_omega(rpu_config))
        if key not in self._weights:
            self._weights[key] = recipe_weights(plugins.registry.recipe(run.recipe), rpu_config)
        return self._weights[key]

    def trained(self, run: PlannedRun) -> Any:
        """The run's recipe's network trained in floating point (once per recipe), or None
        where the recipe provides none."""
        if run.recipe not in self._trained:
            trained = None
            try:
                build = plugins.registry.recipe(run.recipe).trained
                trained = build() if build is not None else None
            except _RESOLVE_ERRORS as exc:  # the ranking falls back to S_K, and says so
                self.notes.append(
                    f"recipe {run.recipe!r}: its trained network could not be built "
                    f"({type(exc).__name__}: {exc}); devices are ranked by S_K alone"
                )
            self._trained[run.recipe] = trained
        return self._trained[run.recipe]

    def weights_text(self) -> str:
        """Which weights the predictions were evaluated on, and in which units."""
        if not self._weights:
            why = self._reasons[0] if self._reasons else "no Analog SGD device to evaluate"
            return f"no weights: {why}"
        return " ".join(f"{w.source}; {w.units}." for w in self._weights.values()) + (
            " The results store keeps no trained weights, so the theory is evaluated where "
            "training starts."
        )

    def prediction(self, run: PlannedRun) -> tuple[Prediction | None, str]:
        """The prediction for an Analog SGD run's device, or ``None`` and why not."""
        try:
            resolved = resolve(run)
            record = plugins.registry.device(run.registered_device)
            response = device_response(record, run.device_params)
            weights = self.weights(run, resolved.setup.rpu_config)
            config = resolved.adapted.device if resolved.adapted is not None else None
            named = replace(response, name=run.device)
            found = predict(named, weights.values, config=config)
            return with_noise_cost(found, self.trained(run)), ""
        except _RESOLVE_ERRORS as exc:
            self._reasons.append(_why(exc))
            return None, _why(exc)

    def residual(
        self, run: PlannedRun, measured: float, n_done: int, std: float = math.nan
    ) -> ResidualPoint:
        """The residual array's device as the run built it (zero shift applied) and the floor
        its symmetric point predicts."""
        shift = str(run.params.get("zero_shift", "none (not an option of this optimizer)"))
        base = ResidualPoint(
            run.device, run.shown_optimizer, measured, n_done, zero_shift=shift, std=std
        )
        try:
            compound = resolve(run).setup.rpu_config.device
            # aihwkit's compounds put the fast (gradient) array first; a transfer rule names it
            gradient = getattr(compound, "gradient_device", None)
            residual = gradient() if gradient is not None else compound.unit_cell_devices[0]
            diag = diagnose(response_of(residual))
        except _RESOLVE_ERRORS as exc:
            return replace(base, reason=_why(exc))
        point, floor = floor_of(diag)
        return replace(
            base,
            gamma=float(getattr(compound, "gamma", 0.0) or 0.0),
            residual=type(residual).__name__,
            algorithm=run.optimizer,
            symmetric_point=point,
            floor=floor,
            reason="" if floor is not None else "several symmetric points: no single prediction",
        )
