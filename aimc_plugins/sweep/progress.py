"""Progress bars: one for the sweep, one per run in flight (epochs), all in the parent.

Workers never draw bars themselves (bars from several processes garble one terminal); they
send epoch events that the parent turns into bars here.
"""

from __future__ import annotations

from typing import Any

from aimc_plugins.training.identity import PlannedRun
from aimc_plugins.training.run import DONE, RunOutcome


class SweepProgress:
    """The sweep's bar and a bar per run that has reported at least one epoch."""

    def __init__(self, runs: list[PlannedRun], already_done: int, enabled: bool = True) -> None:
        from tqdm.auto import tqdm

        self._tqdm = tqdm
        self.enabled = enabled
        self._specs = {run.run_id: run for run in runs}
        self._bars: dict[str, Any] = {}
        self._problems = 0
        self.sweep = tqdm(
            total=already_done + len(runs),
            initial=already_done,
            desc="sweep",
            unit="run",
            disable=not enabled,
            position=0,
        )

    def epoch(self, run_id: str, epoch: int, epochs: int) -> None:
        if not self.enabled:
            return
        bar = self._bars.get(run_id)
        if bar is None:
            spec = self._specs.get(run_id)
            name = f"{spec.label} seed {spec.seed}" if spec else run_id
            bar = self._tqdm(
                total=epochs, desc=name, unit="epoch", leave=False, position=1 + len(self._bars)
            )
            self._bars[run_id] = bar
        bar.update(epoch - bar.n)

    def finished(self, outcome: RunOutcome) -> None:
        bar = self._bars.pop(outcome.run.run_id, None)
        if bar is not None:
            bar.close()
        if outcome.status != DONE:
            self._problems += 1
            self.sweep.set_postfix_str(f"{self._problems} failed/diverged")
        self.sweep.update(1)

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()
        self.sweep.close()
