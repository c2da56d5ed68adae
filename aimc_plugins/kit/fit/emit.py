"""Write a fitted device as a plugin: one module, or a whole installable distribution.

The table goes into the module as Python literals, so the plugin is self-contained, readable
and diffable: the fit is done once, from the data, and never re-run when the plugin loads.
The module and the distribution come from templates (``aimc_plugins/kit/templates/fitted``), as
``aimc new-plugin``'s do.
"""

from __future__ import annotations

import pprint
from collections.abc import Iterable
from pathlib import Path
from string import Template

from aimc_plugins.devices.cost import DeviceCost
from aimc_plugins.kit.fit.estimate import FittedResponse
from aimc_plugins.kit.scaffold import PluginNames, plugin_names

TEMPLATES = "templates/fitted"


def _template(relative: str) -> Template:
    from importlib import resources

    path = resources.files("aimc_plugins.kit").joinpath(f"{TEMPLATES}/{relative}")
    return Template(path.read_text(encoding="utf-8"))


def _literal(values: Iterable[float]) -> str:
    """A tuple literal, one value per line (as ruff format would lay it out)."""
    body = "".join(f"    {float(v)!r},\n" for v in values)
    return f"(\n{body})"


def _figure(value: float) -> str:
    """A figure as a person writes it: ``1e-12``, ``2.5e-9`` (not ``2.5e-09``), ``1e6``."""
    text = f"{float(value):.6g}"
    mantissa, e, exponent = text.partition("e")
    return f"{mantissa}e{int(exponent)}" if e else text


def cost_line(cost: DeviceCost | None) -> str | None:
    """The report's ``cost`` line, or None where the device declares no cost."""
    if cost is None or not cost.declared:
        return None
    parts = []
    if cost.energy_up is not None and cost.energy_down is not None:
        parts.append(
            f"energy up {_figure(cost.energy_up)} J, down {_figure(cost.energy_down)} J per pulse"
        )
    if cost.endurance is not None:
        parts.append(f"endurance {_figure(cost.endurance)} pulses")
    return f"cost           {'; '.join(parts)}"


def report_lines(fit: FittedResponse) -> list[str]:
    """The fit's figures and quality, as the command prints them and the module records them."""
    q = fit.quality
    cost = cost_line(fit.cost)
    return [
        f"range          [{fit.w_min:.6g}, {fit.w_max:.6g}]  "
        f"dw_min {fit.dw_min:.6g}  states {(fit.w_max - fit.w_min) / fit.dw_min:.4g}",
        f"data           {fit.n_devices} device(s), {fit.n_steps} steps",
        f"noise          c2c {fit.c2c_noise:.4g}  dw_min_dtod {fit.dw_min_dtod:.4g}  "
        f"up_down_dtod {fit.up_down_dtod:.4g}",
        f"fit quality    RMS residual of bin means (of the peak step): up "
        f"{q['rms_residual_up']:.3g}, down {q['rms_residual_down']:.3g}",
        f"               chi2 per bin: up {q['chi2_per_bin_up']:.3g}, down "
        f"{q['chi2_per_bin_down']:.3g} (about 1: the table is within the noise)",
        f"uncertainty    max standard error of q (of the peak): up "
        f"{q['max_standard_error_up']:.3g}, down {q['max_standard_error_down']:.3g}",
        *(f"wrong way      {note}" for note in fit.notes),
        *([cost] if cost is not None else []),
    ]


def module_source(fit: FittedResponse, source: str) -> str:
    """The plugin module's text."""
    summary = {k: (float(v) if isinstance(v, float) else v) for k, v in fit.summary().items()}
    noise = {
        "c2c_noise": fit.c2c_noise,
        "dw_min_dtod": fit.dw_min_dtod,
        "up_down_dtod": fit.up_down_dtod,
    }
    return _template("device.py.tmpl").substitute(
        name=fit.name,
        source=source,
        mapping=fit.mapping,
        report="\n".join(report_lines(fit)),
        dw_min=repr(fit.dw_min),
        nodes=_literal(fit.nodes),
        q_up=_literal(fit.q_up),
        q_down=_literal(fit.q_down),
        noise=pprint.pformat(noise, width=96),
        cost="".join(f"\n        {k}={v!r}," for k, v in fit.cost_fields().items()),
        fit=pprint.pformat(summary, width=96),
    )


def write_module(fit: FittedResponse, path: Path, source: str) -> Path:
    """Write the plugin module to ``path`` (a ``.py`` file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(module_source(fit, source), encoding="utf-8")
    return path


def distribution_names(fit: FittedResponse) -> PluginNames:
    """The distribution, module and entry-point names of a fitted device's plugin."""
    return plugin_names(fit.name)


def write_distribution(
    fit: FittedResponse, folder: Path, source: str, plot: Path | None = None
) -> Path:
    """Write an installable distribution into ``folder``: pyproject.toml with the entry point,
    the module as a package, a contract test and a README with the report (and plot)."""
    names = distribution_names(fit)
    folder = Path(folder)
    mapping = {
        **names.mapping(),
        "name": fit.name,
        "source": source,
        "report": "```\n" + "\n".join(report_lines(fit)) + "\n```",
        "plot": plot.name if plot is not None else "",
    }
    files = {
        "pyproject.toml": _template("pyproject.toml.tmpl").substitute(mapping),
        "README.md": _template("README.md.tmpl").substitute(mapping),
        f"tests/test_{names.module}.py": _template("tests/test_plugin.py.tmpl").substitute(mapping),
        f"{names.module}/__init__.py": module_source(fit, source),
    }
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if plot is not None and plot.exists() and plot.parent != folder:
        (folder / plot.name).write_bytes(plot.read_bytes())
    return folder
