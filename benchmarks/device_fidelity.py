"""Fidelity of every registered device that has a response: which aihwkit device it became, the
adapter's table error, and the single-pulse error measured on a real tile (as ``aimc
characterize`` does), as a markdown table.

    .venv/bin/python benchmarks/device_fidelity.py [--plugin paper_devices] [--points 101]
"""

from __future__ import annotations

import argparse
import warnings

from aimc_plugins.devices.build import adapted_device, device_response
from aimc_plugins.devices.characterize import characterize
from aimc_plugins.devices.config_response import UnsupportedDevice
from aimc_plugins.host import plugins


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plugin", action="append", help="only devices of this plugin; repeat")
    parser.add_argument("--points", type=int, default=101)
    args = parser.parse_args()
    print(
        "| device | plugin | aihwkit device | table error | measured max | measured RMS "
        "| float32 allows |"
    )
    print("|---|---|---|---:|---:|---:|---:|")
    for name, record in plugins.devices().items():
        if args.plugin and record.plugin not in args.plugin:
            continue
        try:
            with warnings.catch_warnings(record=True):
                warnings.simplefilter("always")
                response, adapted = device_response(record), adapted_device(record)
        except UnsupportedDevice:
            continue
        result = characterize(response, adapted.device, args.points, kind=adapted.kind)
        kind = adapted.kind + (f" ({adapted.nodes} nodes)" if adapted.nodes else "")
        print(
            f"| {name} | {record.plugin.rsplit('.', 1)[-1]} | {kind} | {adapted.error:.2g} | "
            f"{result.max_error:.2g} | {result.rms_error:.2g} | {result.resolution:.2g} |"
        )


if __name__ == "__main__":
    main()
