"""What made aihwkit's TikiTakaReRamSBPreset fall on aihwkit 1.2.0: the check of its cause.

On the demo (recipes/specs/digits-demo.toml: digits-mlp, 3 epochs, 3 seeds, lr 0.1) every row
but one gave the same numbers to the last digit on aihwkit 1.1.0 and 1.2.0; the Tiki-Taka preset
fell from 0.708 to 0.406. aihwkit 1.2.0 added ``scale_fast_lr`` to ``TransferCompound``, on by
default: the rate onto the residual array becomes ``fast_lr * lr`` (the preset's fast_lr is 1.0,
so 0.1 at lr 0.1) where 1.1.0 used ``fast_lr`` alone (1.0). If that is the whole cause, the
preset with ``scale_fast_lr = False`` on 1.2.0 reproduces 1.1.0's numbers exactly.

Run it in each pair's venv and compare (docs/optimizers.md has the figures):

    .venv-py311/bin/python benchmarks/preset_versions.py    # aihwkit 1.1.0: the preset as is
    .venv/bin/python benchmarks/preset_versions.py          # 1.2.0: as is, and with the field off

Each row goes through the same sweep engine as `make demo` (its seeds, its recipe), in-process,
into a temporary folder; the rows print as ``name: mean +- std (per-seed values)``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Callable
from typing import Any

PRESET = "TikiTakaReRamSBPreset"
UNSCALED = f"{PRESET}-unscaled"


def unscaled_preset() -> Any:
    """aihwkit's preset with ``scale_fast_lr`` off: 1.1.0's absolute fast rate on 1.2.0."""
    from aihwkit.simulator import presets

    config = getattr(presets, PRESET)()
    config.device.scale_fast_lr = False
    return config


class _Plugin:
    """An in-process plugin registering :func:`unscaled_preset` (aihwkit >= 1.2 only)."""

    from aimc_plugins import hookimpl

    @hookimpl
    def register_presets(self, register: Callable[[Any], None]) -> None:
        from aimc_plugins.host.records import Preset

        register(Preset(UNSCALED, unscaled_preset, "scale_fast_lr off", family="Tiki-Taka"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args(argv)

    import aihwkit
    from aihwkit.simulator.configs.compounds import TransferCompound

    import aimc_plugins
    from aimc_plugins.host import plugins

    has_field = "scale_fast_lr" in TransferCompound.__dataclass_fields__
    devices = [PRESET]
    if has_field:
        plugins.register(_Plugin(), name="preset-versions")
        devices.append(UNSCALED)
    with tempfile.TemporaryDirectory() as out:
        results = aimc_plugins.compare(
            recipe="digits-mlp",
            devices=devices,
            optimizers=["sgd"],
            params={"lr": 0.1},
            seeds=args.seeds,
            epochs=args.epochs,
            out=out,
            workers=0,
            report=False,
            progress=False,
        )
        table = aimc_plugins.load_results(out)
    print(f"aihwkit {aihwkit.__version__}; TransferCompound.scale_fast_lr exists: {has_field}")
    for device, group in table.groupby("device"):
        values = [float(v) for v in group.sort_values("seed")["test_accuracy"]]
        spread = statistics.stdev(values) if len(values) > 1 else float("nan")
        shown = ", ".join(f"{v:.4f}" for v in values)
        print(f"{device}: {statistics.mean(values):.3f} +- {spread:.3f} ({shown})")
    return 0 if results is not None else 1


if __name__ == "__main__":
    sys.exit(main())
