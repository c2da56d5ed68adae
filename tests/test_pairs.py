"""The tested aihwkit + torch pairs (issue 21): how a pair is installed (make install PAIR=...,
its Python found or refused in one line), which pair the doctor sees, the 1.2.0-only chopped
residual learning optimizer (refused in one line before 1.2.0), and the report's notes when
results depend on the aihwkit version."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from aimc_plugins.host import plugins
from aimc_plugins.host.records import ParameterError
from aimc_plugins.report.versions import version_notes
from aimc_plugins.training import pairs
from aimc_plugins.training.identity import PlannedRun, RunKind
from aimc_plugins.training.run import DONE, RunOutcome

ROOT = Path(__file__).resolve().parents[1]
ON_12 = pairs.chopped_residual_available()


def pins(path: Path) -> dict[str, str]:
    """``name -> version`` of the ``name==version`` lines of a constraints file."""
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line.strip())
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


@pytest.mark.parametrize("pair", pairs.PAIRS, ids=lambda p: p.name)
def test_each_pair_is_the_one_its_constraints_file_pins(pair: pairs.TestedPair) -> None:
    pinned = pins(ROOT / pair.constraints)
    assert pinned["aihwkit"] == pair.aihwkit
    assert pinned["torch"].rstrip(".*") == pair.torch
    makefile = (ROOT / "Makefile").read_text()
    assert f"ifeq ($(PAIR),{pair.name})" in makefile and pair.constraints in makefile


def test_the_py312_torch_is_inside_the_machines_pip_cap() -> None:
    """2.14.1 was chosen so that the pair installs here and in CI without lifting the cap
    (/etc/xdg/pip: torch<=2.14.1); docs/install.md says why not 2.15."""
    from packaging.version import Version

    assert Version(pins(ROOT / "constraints/wheel-py312.txt")["torch"]) <= Version("2.14.1")


def test_the_installed_environment_is_a_tested_pair() -> None:
    """`make test` runs in a pair's venv (either one): the doctor names it."""
    pair = pairs.installed_pair()
    assert pair is not None, pairs.describe_installed_pair()
    assert pair.name in pairs.describe_installed_pair()


def test_pair_matching_by_python_minor_and_torch_prefix() -> None:
    py311, py312 = pairs.PAIRS
    assert py311.matches("3.11.7", "1.1.0", "2.10.0")
    assert py311.matches("3.11.9", "1.1.0", "2.10.1+cpu")
    assert not py311.matches("3.11.7", "1.1.0", "2.1.0")  # a prefix of the text, not the series
    assert not py311.matches("3.12.1", "1.1.0", "2.10.0")
    assert py312.matches("3.12.1", "1.2.0", "2.14.1")
    assert not py312.matches("3.12.1", "1.2.0", "2.15.0")


def test_versions_compare_by_release() -> None:
    assert pairs.at_least("1.2.0", "1.2.0") and pairs.at_least("1.2.0+cu130", "1.2.0")
    assert pairs.at_least("1.3.0", "1.2.0") and not pairs.at_least("1.1.0", "1.2.0")
    assert not pairs.at_least("not installed", "1.2.0")


def test_chopped_residual_refusal_is_one_line_naming_the_version() -> None:
    refusal = pairs.chopped_residual_refusal("1.1.0")
    assert "\n" not in refusal
    assert "aihwkit >= 1.2.0" in refusal and "installed: aihwkit 1.1.0" in refusal
    assert "make install PAIR=py312" in refusal
    assert pairs.chopped_residual_refusal("1.2.0") == ""


def test_c_rl_is_listed_with_searchable_rates() -> None:
    record = plugins.optimizers()["c-rl"]
    params = {p.name: p for p in record.parameters}
    assert params["alpha"].search is not None and params["beta"].search is not None
    assert params["gamma"].default > 0
    assert "1.2.0" in record.description


@pytest.mark.skipif(ON_12, reason="aihwkit >= 1.2.0 runs c-rl")
def test_c_rl_is_refused_in_one_line_before_aihwkit_1_2() -> None:
    from aimc_plugins.training.setup import build_device

    record = plugins.optimizers()["c-rl"]
    with pytest.raises(ParameterError) as caught:
        record.build([build_device("Idealized")] * 2)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("c-rl needs aihwkit >= 1.2.0")


@pytest.mark.skipif(not ON_12, reason="needs aihwkit >= 1.2.0 (make install PAIR=py312)")
def test_c_rl_passes_the_optimizer_contract_and_sets_upstream_fields() -> None:
    from aihwkit.simulator.configs.compounds import ChoppedTransferCompound

    from aimc_plugins.kit.testing import check_optimizer
    from aimc_plugins.training.setup import build_device

    record = plugins.optimizers()["c-rl"]
    setup = record.build([build_device("Idealized")] * 2, gamma=0.3)
    compound = setup.rpu_config.device
    assert type(compound) is ChoppedTransferCompound
    assert compound.gamma == 0.3 and compound.scale_fast_lr is False
    assert compound.in_chop_prob > 0  # chopped, as upstream runs it
    assert setup.description.startswith("c-rl:")
    report = check_optimizer(record)
    assert report.results["accuracy"] >= 0.3


def test_find_python_finds_this_python_and_refuses_a_missing_one() -> None:
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    found = subprocess.run(
        [str(ROOT / "scripts/find-python.sh"), version], capture_output=True, text=True
    )
    assert found.returncode == 0, found.stderr
    path = found.stdout.strip()
    check = "import sys; print('%d.%d' % sys.version_info[:2])"
    assert subprocess.run([path, "-c", check], capture_output=True, text=True).stdout.strip() == (
        version
    )
    missing = subprocess.run(
        [str(ROOT / "scripts/find-python.sh"), "2.99"], capture_output=True, text=True
    )
    assert missing.returncode == 1 and missing.stdout == ""


def test_a_missing_or_wrong_python_is_refused_in_one_line(tmp_path: Path) -> None:
    script = str(ROOT / "scripts/new-venv.sh")
    venv = str(tmp_path / "venv")
    env = {**os.environ}
    missing = subprocess.run(
        [script, "", "3.12", venv, "PAIR=py312"], capture_output=True, text=True, env=env
    )
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1
    assert "PAIR=py312 needs Python 3.12" in missing.stderr and "PYTHON=" in missing.stderr
    wrong = subprocess.run(
        [script, sys.executable, "2.99", venv, "PAIR=x"], capture_output=True, text=True
    )
    assert wrong.returncode == 1 and wrong.stderr.count("\n") == 1
    assert f"is {sys.version_info.major}.{sys.version_info.minor}" in wrong.stderr
    assert not Path(venv).exists()


def test_make_refuses_an_unknown_pair() -> None:
    result = subprocess.run(
        ["make", "-n", "install", "PAIR=py399"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode != 0 and "PAIR is 'py311'" in result.stderr


def outcome(device: str, aihwkit: str, kind: RunKind = RunKind.PRESET, seed: int = 0):
    run = PlannedRun("digits-mlp", device, "sgd", seed, 3, kind=kind)
    return RunOutcome(run, DONE, final={"test_accuracy": 0.5}, versions={"aihwkit": aihwkit})


def family(name: str) -> str:
    return "Tiki-Taka" if name.startswith("TikiTaka") else "single-device SGD"


def test_no_version_note_for_one_version_without_changed_presets() -> None:
    runs = [outcome("TikiTakaReRamSBPreset", "1.1.0"), outcome("ReRamSB", "1.1.0", RunKind.DEVICE)]
    assert version_notes(runs, family) == []


def test_a_tiki_taka_preset_on_1_2_is_noted() -> None:
    runs = [outcome("TikiTakaReRamSBPreset", "1.2.0"), outcome("ReRamSBPreset", "1.2.0")]
    (note,) = version_notes(runs, family)
    assert note.startswith("TikiTakaReRamSBPreset / sgd: ran on aihwkit 1.2.0")
    assert "scale_fast_lr" in note


def test_a_table_mixing_aihwkit_versions_says_which_rows_ran_on_which() -> None:
    runs = [
        outcome("ReRamSB", "1.1.0", RunKind.DEVICE),
        outcome("EcRam", "1.2.0", RunKind.DEVICE),
        outcome("Idealized", "1.1.0", RunKind.DEVICE),
        outcome("Idealized", "1.2.0", RunKind.DEVICE, seed=1),
    ]
    (note,) = version_notes(runs, family)
    assert note.startswith("runs of 2 aihwkit versions in this table")
    assert "1.1.0: ReRamSB / sgd" in note and "1.2.0: EcRam / sgd" in note
    assert "mixed within the row: Idealized / sgd" in note


def test_the_report_notes_carry_the_version_notes() -> None:
    from aimc_plugins.report.writers import run_notes

    runs = [
        outcome("ReRamSB", "1.1.0", RunKind.DEVICE),
        outcome("EcRam", "1.2.0", RunKind.DEVICE),
    ]
    assert any(n.startswith("runs of 2 aihwkit versions in this table") for n in run_notes(runs))


def test_the_doctor_names_the_pair_and_the_version_dependent_features() -> None:
    from aimc_plugins.cli.doctor import run_checks

    checks = {c.name: c for c in run_checks()}
    assert checks["tested pair"].ok
    chopped = checks["chopped residual learning (optimizer c-rl)"]
    assert chopped.ok and chopped.detail.startswith("available" if ON_12 else "not available")


def test_the_makefile_and_the_doctor_agree_on_the_default_pair() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert f"DEFAULT_PAIR := {pairs.DEFAULT_PAIR}\n" in makefile
    assert pairs.DEFAULT_PAIR in {p.name for p in pairs.PAIRS}


def dry_install(*args: str, always: bool = False) -> subprocess.CompletedProcess[str]:
    """``make -n install ARGS``: what make would do, without doing it; ``always`` (``-B``): as
    if nothing were installed yet."""
    env = {k: v for k, v in os.environ.items() if k not in {"PAIR", "VENV", "MAKEFLAGS"}}
    flags = ["-n", "-B"] if always else ["-n"]
    return subprocess.run(
        ["make", *flags, "install", *args], cwd=ROOT, capture_output=True, text=True, env=env
    )


def test_plain_make_installs_the_default_pair_into_dot_venv() -> None:
    """The default pair gets `.venv` (every documented `.venv/bin/...` command runs it); a
    machine without Python 3.12 gets py311 there, and one line saying so."""
    has_312 = subprocess.run(
        [str(ROOT / "scripts/find-python.sh"), "3.12"], capture_output=True, text=True
    ).stdout.strip()
    result = dry_install("VENV_HAS=", always=True)
    assert result.returncode == 0, result.stderr
    expected = pairs.DEFAULT_PAIR if has_312 else "py311"
    pair = next(p for p in pairs.PAIRS if p.name == expected)
    assert f"-c {pair.constraints} " in result.stdout
    assert ".venv/bin/python -m pip install" in result.stdout
    assert ("no Python 3.12" in result.stdout) == (not has_312)


def test_naming_the_other_pair_installs_it_beside_dot_venv() -> None:
    other = next(p for p in pairs.PAIRS if p.name != pairs.DEFAULT_PAIR)
    result = dry_install(f"PAIR={other.name}", "VENV_HAS=", always=True)
    assert result.returncode == 0, result.stderr
    assert f"{other.venv}/bin/python -m pip install -q -c {other.constraints}" in result.stdout


def fake_venv(folder: Path, python_version: str) -> Path:
    """A venv whose ``bin/python`` only reports ``python_version``, with a fresh stamp."""
    (folder / "bin").mkdir(parents=True)
    python = folder / "bin" / "python"
    python.write_text(f"#!/bin/sh\necho {python_version}\n")
    python.chmod(0o755)
    (folder / ".aimc-installed").touch()
    return folder


def test_a_venv_of_the_wrong_python_is_recreated_with_one_line(tmp_path: Path) -> None:
    """A `.venv` made for py311 before the default changed has a fresh stamp, so the stamp's
    time alone would keep it: make notices its Python and recreates it."""
    venv = fake_venv(tmp_path / "old", "3.11")
    result = dry_install("PAIR=py312", f"VENV={venv}")
    assert result.returncode == 0, result.stderr
    assert f"{venv} runs Python 3.11 and PAIR=py312 needs 3.12: recreating" in result.stdout
    assert f"rm -rf {venv}" in result.stdout


def test_a_venv_of_the_right_python_with_a_fresh_stamp_is_left_alone(tmp_path: Path) -> None:
    venv = fake_venv(tmp_path / "current", "3.12")
    result = dry_install("PAIR=py312", f"VENV={venv}")
    assert result.returncode == 0, result.stderr
    assert "recreating" not in result.stdout and "pip install" not in result.stdout
