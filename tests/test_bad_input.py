"""Bad input of every kind ends in one line that says what is wrong: a non-zero exit, no
traceback, and nothing written (or lost) on the way.

Each case is a command line and a regex its error must match. Hostile device plugins (a factory
returning an int, impossible aihwkit configs, a response its table cannot follow) are registered
in-process for the module.
"""

from __future__ import annotations

import csv
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from aimc_plugins import Device, hookimpl
from aimc_plugins.cli.main import cli
from aimc_plugins.devices.response import ResponseDevice
from aimc_plugins.host import plugins


def spiky(w: np.ndarray) -> np.ndarray:
    """A response with a narrow spike no 63-node table can follow (table error ~10x)."""
    return 1.0 + 10.0 * np.exp(-(((w - 0.0123) / 0.002) ** 2))


def flat(w: np.ndarray) -> np.ndarray:
    return np.ones_like(w)


def spiky_device(allow: bool = False) -> ResponseDevice:
    return ResponseDevice("spiky", spiky, flat, -1.0, 1.0, n_states=1000, allow_table_error=allow)


def _native(**fields: float):
    from aihwkit.simulator.configs import SoftBoundsDevice

    return SoftBoundsDevice(**fields)


class Hostile:
    """Device factories that return what no device plugin should."""

    @hookimpl
    def register_devices(self, register):
        register(Device(name="bad-int", factory=lambda: 5))
        register(Device(name="bad-nan", factory=lambda: _native(dw_min=float("nan"))))
        register(Device(name="bad-neg", factory=lambda: _native(dw_min=-0.001)))
        register(Device(name="bad-zero", factory=lambda: _native(dw_min=0.0)))
        register(Device(name="bad-range", factory=lambda: _native(w_min=0.5, w_max=0.5)))
        register(Device(name="bad-table", factory=spiky_device))


@pytest.fixture(scope="module", autouse=True)
def hostile() -> Iterator[None]:
    plugins.register(Hostile(), name="hostile-devices")
    yield
    plugins.unregister("hostile-devices")


def _binary(path: Path) -> Path:
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe binary")
    return path


def _huge_spec(path: Path) -> Path:
    values = ", ".join(str(0.1 + i / 1000) for i in range(200))
    path.write_text(
        'recipe = "digits-mlp"\nseeds = 3\n'
        f'devices = [{{ name = "power", grid = {{ tau = [{values}], g = [{values}] }} }}]\n'
        'optimizers = ["sgd"]\n'
    )
    return path


def _wrong_way_csv(path: Path) -> Path:
    """Up pulses move up; down pulses move up too (a little): swapped or broken labels."""
    rng = np.random.default_rng(0)
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["device", "pulse", "direction", "weight"])
        for device in range(300):
            w, pulse = rng.uniform(-0.8, 0.8), 0
            out.writerow([device, pulse, "", w])
            for direction, step in (("up", 0.01), ("down", 0.003)) * 2:
                for _ in range(5):
                    w += step * (1 + 0.1 * rng.standard_normal())
                    pulse += 1
                    out.writerow([device, pulse, direction, w])
    return path


def _partly_wrong_way_csv(path: Path) -> Path:
    """Up response 0.03 (0.3 - w): up pulses lower the weight above w = 0.3 (down pulses are
    right everywhere), with 10% step noise."""
    rng = np.random.default_rng(0)
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["device", "pulse", "direction", "weight"])
        for device in range(300):
            w, pulse = rng.uniform(-0.95, 0.95), 0
            out.writerow([device, pulse, "", w])
            for direction in ("up", "down") * 3:
                for _ in range(5):
                    step = 0.03 * (0.3 - w) if direction == "up" else -0.02 * (1 + w)
                    w = min(1.0, max(-1.0, w + step * (1 + 0.1 * rng.standard_normal())))
                    pulse += 1
                    out.writerow([device, pulse, direction, w])
    return path


def _named_spec(path: Path, name: str | None = None, scale: str = "quick") -> Path:
    """A small valid spec whose ``name`` (left out: the file's name) and scale are given."""
    quoted = json.dumps  # a TOML basic string is a JSON string for these names
    path.write_text(
        (f"name = {quoted(name)}\n" if name is not None else "")
        + 'recipe = "digits-mlp"\ndevices = ["ReRamSB"]\noptimizers = ["sgd"]\n'
        + f"[scale.{quoted(scale)}]\nepochs = 1\n"
    )
    return path


DRY = ["--dry-run", "--seeds", "1"]

# (id, argv with {tmp} for the test's folder, a file to prepare or None, regex of the error)
CASES = [
    ("binary-spec", ["compare", "{tmp}/spec.toml", "--dry-run"], "spec:binary",
     r"spec\.toml: not UTF-8 text"),
    ("binary-fit-csv", ["fit", "{tmp}/data.csv", "--name", "lab-x", "--out", "{tmp}/lab"],
     "data:binary", r"data\.csv: not UTF-8 text"),
    ("huge-grid", ["compare", "{tmp}/spec.toml", "--dry-run"], "spec:huge",
     r"120,000 runs, above the limit of 100,000 \(devices\[0\]\.grid tau 200 x g 200"),
    ("bool-as-float", ["show", "power(tau=True)", "--out", "{tmp}/out"], None,
     r"tau=True is not a valid float"),
    ("float-as-int", ["compare", "--recipe", "least-squares", "--device", "power",
                      "--option", "n_samples=1.5", *DRY], None,
     r"n_samples=1\.5 is not a valid int"),
    ("lr-overflow", ["compare", "--device", "power", "--param", "lr=1e308", *DRY], None,
     r"lr=1e\+308 is beyond float32's range"),
    ("lr-underflow", ["compare", "--device", "power", "--param", "lr=1e-50", *DRY], None,
     r"lr=1e-50 rounds to 0 in float32"),
    ("lr-nan", ["compare", "--device", "power", "--param", "lr=nan", *DRY], None,
     r"lr=nan must be finite"),
    ("lr-bool", ["compare", "--device", "power", "--param", "lr=True", *DRY], None,
     r"lr='True' is not a valid float"),
    ("device-param-overflow", ["show", "power(g=1e39)", "--out", "{tmp}/out"], None,
     r"g=1e\+39 is beyond float32's range"),
    ("int-overflow", ["compare", "--recipe", "least-squares", "--device", "power",
                      "--option", "n_samples=10**20", *DRY], None,
     r"n_samples='10\*\*20' is not a valid int"),
    ("plugin-named-like-host", ["new-plugin", "aimc-plugins", "--out", "{tmp}/gen"], None,
     r"host's own"),
    ("plugin-named-keyword", ["new-plugin", "class", "--out", "{tmp}/gen"], None,
     r"'class' is a Python keyword"),
    ("plugin-named-like-a-dependency", ["new-plugin", "numpy", "--out", "{tmp}/gen"], None,
     r"module 'numpy' is taken"),
    ("fit-wrong-way", ["fit", "{tmp}/data.csv", "--name", "lab-x", "--out", "{tmp}/lab"],
     "data:wrong-way", r"down pulses move the weight the wrong way"),
    ("fit-partly-wrong-way", ["fit", "{tmp}/data.csv", "--name", "lab-x", "--out", "{tmp}/lab"],
     "data:partly-wrong-way",
     r"up pulses lower the weight for w in \[0\.3\d*, 0\.\d+\] .* up pulses start there: "
     r"device \d+ pulses? \d+.*--allow-wrong-way"),
    ("spec-name-escapes", ["compare", "{tmp}/spec.toml", "--dry-run"],
     "spec:name=../../../escape-test",
     r"spec name '\.\./\.\./\.\./escape-test' holds a path separator: it is a label"),
    ("spec-name-dotdot", ["compare", "{tmp}/spec.toml", "--dry-run"], "spec:name=..",
     r"spec name '\.\.' holds '\.\.'"),
    ("spec-name-backslash", ["compare", "{tmp}/spec.toml", "--dry-run"], "spec:name=a\\b",
     r"holds a path separator"),
    ("spec-name-hidden", ["compare", "{tmp}/spec.toml", "--dry-run"], "spec:name=.hidden",
     r"spec name '\.hidden' starts with a dot"),
    ("spec-name-empty", ["compare", "{tmp}/spec.toml", "--dry-run"], "spec:name=",
     r"spec name '' is empty"),
    ("spec-name-unportable", ["compare", "{tmp}/spec.toml", "--dry-run"], "spec:name=a:b*",
     r"holds '\*:', which some file systems cannot carry"),
    ("spec-name-control", ["compare", "{tmp}/spec.toml", "--dry-run"], "spec:name=a\nb",
     r"holds a control character"),
    ("scale-name-escapes", ["compare", "{tmp}/spec.toml", "--dry-run", "--scale", "../x"],
     "spec:scale=../x", r"scale name '\.\./x' holds a path separator"),
    ("factory-int-show", ["show", "bad-int", "--out", "{tmp}/out"], None,
     r"bad-int'?: check 'factory returns a device' failed: got int \(5\)"),
    ("factory-int-characterize", ["characterize", "bad-int", "--out", "{tmp}/out"], None,
     r"check 'factory returns a device' failed"),
    ("factory-int-traces", ["traces", "bad-int", "{tmp}/out/t.csv"], None,
     r"check 'factory returns a device' failed"),
    ("factory-int-compare", ["compare", "--device", "bad-int", *DRY], None,
     r"check 'factory returns a device' failed"),
    ("native-nan", ["compare", "--device", "bad-nan", *DRY], None,
     r"check 'dw_min is a number' failed: dw_min=nan"),
    ("native-negative-step", ["characterize", "bad-neg", "--out", "{tmp}/out"], None,
     r"check 'dw_min positive' failed: dw_min=-0\.001"),
    ("native-zero-step", ["traces", "bad-zero", "{tmp}/out/t.csv"], None,
     r"check 'dw_min positive' failed: dw_min=0\.0"),
    ("native-empty-range", ["show", "bad-range", "--out", "{tmp}/out"], None,
     r"check 'range non-empty' failed"),
    ("table-error", ["compare", "--device", "bad-table", *DRY], None,
     r"\d+-node aihwkit table misses the declared response by \d+% \(tolerance 1%\)"),
]  # fmt: skip


def _prepare(kind: str | None, tmp: Path) -> None:
    if kind is None:
        return
    target, how = kind.split(":", 1)
    path = tmp / ("spec.toml" if target == "spec" else "data.csv")
    if how.startswith("name="):
        _named_spec(path, name=how.removeprefix("name="))
        return
    if how.startswith("scale="):
        _named_spec(path, scale=how.removeprefix("scale="))
        return
    makers = {
        "binary": _binary,
        "huge": _huge_spec,
        "wrong-way": _wrong_way_csv,
        "partly-wrong-way": _partly_wrong_way_csv,
    }
    makers[how](path)


@pytest.mark.parametrize(
    ("argv", "prepare", "pattern"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_one_line(
    tmp_path: Path, argv: list[str], prepare: str | None, pattern: str
) -> None:
    _prepare(prepare, tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    started = time.perf_counter()
    result = CliRunner().invoke(cli, [a.replace("{tmp}", str(tmp_path)) for a in argv])
    elapsed = time.perf_counter() - started
    output = result.output
    assert result.exit_code != 0, output
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    assert "Traceback" not in output
    error_lines = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1, output
    assert re.search(pattern, error_lines[0]), error_lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written
    assert elapsed < 30, f"took {elapsed:.1f} s"


def test_show_still_inspects_a_device_whose_table_training_refuses(tmp_path: Path) -> None:
    """The theory needs only the declared response: `show` draws it and says, as a warning,
    why training refuses the device (and `compare` above still refuses it)."""
    result = CliRunner().invoke(cli, ["show", "bad-table", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "aihwkit device  none" in result.output
    assert "training refuses this device" in result.output and "allow_table_error" in result.output
    assert (tmp_path / "bad-table-response.png").exists()


def test_a_huge_grid_is_refused_before_expanding(tmp_path: Path) -> None:
    """Counting is products of lengths: well under a second even for 10^12 runs."""
    from aimc_plugins.sweep.spec import SpecError, count_runs, expand, load_spec

    values = ", ".join(str(0.1 + i / 10**6) for i in range(1000))
    spec_path = tmp_path / "spec.toml"
    spec_path.write_text(
        'recipe = "digits-mlp"\nseeds = 2\n'
        f'devices = [{{ name = "power", grid = {{ tau = [{values}], g = [{values}] }} }}]\n'
        'optimizers = [{ name = "sgd", grid = { lr = [0.1, 0.2, 0.3] } }, "digital"]\n'
    )
    spec = load_spec(spec_path)
    started = time.perf_counter()
    total, why = count_runs(spec)
    assert total == (1 + 10**6 * 3) * 2  # 3 sgd settings per device; digital runs once
    assert "devices[0].grid tau 1000 x g 1000" in why and "optimizers[0].grid lr 3" in why
    with pytest.raises(SpecError, match="6,000,002 runs"):
        expand(spec)
    assert time.perf_counter() - started < 1.0


def test_a_grid_within_the_limit_counts_what_it_expands_to(tmp_path: Path) -> None:
    from aimc_plugins.sweep.spec import count_runs, expand, load_spec

    spec_path = tmp_path / "spec.toml"
    spec_path.write_text(
        'recipe = "digits-mlp"\nseeds = 2\n'
        'devices = [{ name = "power", grid = { g = [0.5, 1.0, 2.0] } }, "ReRamSB", '
        '"TikiTakaReRamSBPreset"]\n'
        'optimizers = [{ name = "sgd", grid = { lr = [0.1, 0.2] } }, "digital"]\n'
    )
    spec = load_spec(spec_path)
    total, _ = count_runs(spec)
    # digital once, power 3 x 2 lr, ReRamSB 2 lr, the preset once; times 2 seeds
    assert total == len(expand(spec)) == (1 + 3 * 2 + 2 + 1) * 2


def test_a_spec_name_is_a_label_and_the_default_folder_stays_under_sweeps(tmp_path: Path) -> None:
    """However a spec is given (a file, a dict, a SweepSpec, a name passed in), its name and
    scale name one folder directly under sweeps/; a file whose name cannot be one is refused
    with a hint to set ``name``."""
    from aimc_plugins.api.comparison import SPECS_OUT, plan_comparison, spec_out
    from aimc_plugins.sweep.spec import SpecError, load_spec, spec_from_dict

    spec = load_spec(_named_spec(tmp_path / "spec.toml", name="digits demo v2.1"))
    assert spec_out(spec.name, "quick") == SPECS_OUT / "digits demo v2.1-quick"
    with pytest.raises(SpecError, match=r"spec name '\.\./x' holds a path separator"):
        plan_comparison(spec, name="../x", scale="quick")
    with pytest.raises(SpecError, match=r"scale name 'a/b'"):
        spec_out("fine", "a/b")
    with pytest.raises(SpecError, match=r"spec name '\.\.' holds '\.\.'"):
        spec_from_dict({"name": "..", "recipe": "r", "devices": ["d"], "optimizers": ["o"]})
    hidden = _named_spec(tmp_path / ".hidden.toml")
    with pytest.raises(SpecError, match=r"the file's name; set `name = \.\.\.` in the spec"):
        load_spec(hidden)
    for name in ("digits-demo", "paper_mnist", "run 3", "v1.2", "ü-device"):
        out = spec_out(name, "full")
        assert out.parent == SPECS_OUT and out.name == f"{name}-full"
