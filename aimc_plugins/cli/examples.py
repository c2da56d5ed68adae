"""Example invocations shown under each command's ``--help``, kept in one place so that
``tests/test_cli_help.py`` can check that every built-in command has some and that each one
parses with the command's real options."""

from __future__ import annotations

EXAMPLES: dict[str, tuple[str, ...]] = {
    "plugins": ("aimc plugins", "aimc plugins --json"),
    "devices": ("aimc devices", "aimc devices --json"),
    "optimizers": ("aimc optimizers", "aimc optimizers --json"),
    "presets": ("aimc presets", "aimc presets --json"),
    "recipes": ("aimc recipes", "aimc recipes --json"),
    "trackers": ("aimc trackers", "aimc trackers --json"),
    "doctor": ("aimc doctor", "aimc doctor --json"),
    "compare": (
        "aimc compare --device ReRamSB --device 'power(g=0.5)' --optimizer sgd --epochs 2",
        "aimc compare --device 'power(g=0.5)' --device @preset-devices --out vs/",
        "aimc compare recipes/specs/digits-demo.toml --workers 2 --json",
    ),
    "report": (
        "aimc report sweeps/digits-demo",
        "aimc report sweeps/digits-demo --out paper/ --title 'Digits MLP'",
        "aimc report sweeps/digits-demo --json",
    ),
    "show": ("aimc show 'power(tau=0.7, g=0.5)'", "aimc show ReRamSB --out figures/ --json"),
    "predict": (
        "aimc predict 'power(g=0.5, tau=0.7)' 'power(g=2.0, tau=0.7)' ReRamSB",
        "aimc predict 'exponential(g=1.0)' 'linear(c=0.2)' --recipe digits-mlp --json",
    ),
    "characterize": ("aimc characterize 'power(g=2)'", "aimc characterize ReRamSB --noise --json"),
    "new-plugin": ("aimc new-plugin my-lab-devices --out ~/src",),
    "fit": (
        "aimc fit traces.csv --name my-reram",
        "aimc fit traces.csv --name my-reram --module my_reram.py --json",
        "aimc fit traces.csv --name my-reram --energy-up 1e-12 --energy-down 2e-12 --endurance 1e6",
    ),
    "traces": (
        "aimc traces ReRamSB reram.csv",
        "aimc traces 'power(g=2)' power.csv --devices 16 --no-dtod",
    ),
}


def command_examples(name: str, after: str = "") -> str:
    """The epilog of command ``name``: its examples (one per line, kept as written by click's
    ``\\b`` marker), then ``after``."""
    lines = "\n".join(f"  {example}" for example in EXAMPLES[name])
    text = f"\b\nExamples:\n{lines}"
    return f"{text}\n\n{after}" if after else text
