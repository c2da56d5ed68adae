"""scripts/build-aihwkit.sh and scripts/gpu-check.sh, checked without building anything: their
syntax, and the commands their --dry-run prints (what a GPU machine would run); and
scripts/install-browser.sh (which `make test` runs) against stand-in commands, installing
nothing: quiet when the browser is there, apt-get as root, and never a failure."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "scripts" / "build-aihwkit.sh"
GPU = ROOT / "scripts" / "gpu-check.sh"
BROWSER = ROOT / "scripts" / "install-browser.sh"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def dry(script: Path, *args: str, **env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "RPU_CUDA_ARCHITECTURES"}
    result = subprocess.run(
        ["bash", str(script), *args, "--dry-run"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**environment, **env},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.parametrize("script", [BUILD, GPU], ids=["build-aihwkit", "gpu-check"])
def test_scripts_parse_and_explain_themselves(script):
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=30)
    usage = subprocess.run(
        ["bash", str(script), "--help"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    assert "--dry-run" in usage and "set -euo" not in usage


def test_cpu_source_build_commands(tmp_path):
    out = dry(BUILD, "--venv", str(tmp_path / "venv"))
    assert f"-c {ROOT}/constraints/source-cpu.txt torch" in out
    assert "scikit-build\\>=0.18.1" in out and "pybind11\\>=3.0.1" in out
    assert "USE_CUDA=OFF" in out
    assert "--no-build-isolation --no-cache-dir aihwkit==1.2.0" in out


def test_gpu_check_builds_for_the_gpu_it_finds_and_runs_every_check(tmp_path):
    out = dry(GPU, "--out", str(tmp_path / "out"), "--venv", str(tmp_path / "v"),
              RPU_CUDA_ARCHITECTURES="80")  # fmt: skip
    assert "--system-site-packages" in out  # the machine's CUDA torch is reused
    assert "USE_CUDA=ON" in out and "-DRPU_CUDA_ARCHITECTURES=80" in out
    assert "--no-build-isolation --no-cache-dir --no-deps" in out
    for command in ("doctor", "doctor --json", "benchmarks/accelerators.py", "--batch 128",
                    "recipes/digits_mlp.py", "--accelerator cuda --workers 2"):  # fmt: skip
        assert command in out.replace("\\ ", " "), command
    assert str(tmp_path / "out" / "doctor.json") in out


def test_gpu_check_offline_uses_the_wheelhouse(tmp_path):
    wheelhouse = tmp_path / "wh"
    wheelhouse.mkdir()
    (wheelhouse / "aihwkit-1.2.0.tar.gz").write_bytes(b"")
    out = dry(GPU, "--out", str(tmp_path / "out"), "--venv", str(tmp_path / "v"),
              "--wheelhouse", str(wheelhouse), "--phase", "build")  # fmt: skip
    assert f"--no-index --find-links {wheelhouse}" in out
    assert f"tar -xzf {wheelhouse}/aihwkit-1.2.0.tar.gz" in out
    assert "doctor" not in out  # --phase build stops after the build


def browser_install(bin_dir: Path, *commands: str, **env: str) -> subprocess.CompletedProcess:
    """scripts/install-browser.sh with only ``bin_dir`` on PATH, holding stand-ins: each of
    ``commands`` (``"name:output"``) is a script that logs its arguments to ``calls`` and prints
    the output."""
    bin_dir.mkdir(exist_ok=True)
    for command in commands:
        name, _, output = command.partition(":")
        stand_in = bin_dir / name
        stand_in.write_text(
            f'#!{shutil.which("bash")}\necho "{name} $*" >> {bin_dir / "calls"}\necho {output}\n'
        )
        stand_in.chmod(0o755)
    return subprocess.run(
        [shutil.which("bash") or "bash", str(BROWSER)],
        capture_output=True, text=True, timeout=60, env={"PATH": str(bin_dir), **env},
    )  # fmt: skip


def test_install_browser_is_quiet_when_the_browser_is_there(tmp_path):
    done = browser_install(tmp_path / "bin", "chromium:", "chromedriver:", "apt-get:")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert not (tmp_path / "bin" / "calls").exists()  # apt-get was not run


def test_install_browser_installs_debians_pair_with_apt_get_as_root(tmp_path):
    done = browser_install(tmp_path / "bin", "apt-get:", "id:0")
    assert done.returncode == 0, done.stderr
    calls = (tmp_path / "bin" / "calls").read_text().splitlines()
    assert calls[0] == "id -u" and calls[1].startswith("apt-get update")
    assert calls[2].startswith("apt-get ") and " install -y " in calls[2]
    assert calls[2].endswith(" chromium chromium-driver fonts-dejavu-core")
    # the stand-in installed nothing: said loudly, and still no failure
    assert "NO BROWSER: apt-get ran, yet chromium or chromedriver is not on PATH" in done.stderr


@pytest.mark.parametrize(
    ("commands", "env", "said"),
    [
        ((), {}, "NO BROWSER: chromium/chromedriver missing and no apt-get here"),
        (("apt-get:", "id:1000"), {}, "NO BROWSER: chromium/chromedriver missing and no root"),
        (("apt-get:", "id:0"), {"AIMC_INSTALL_BROWSER": "no"}, "NOT INSTALLED: AIMC_INSTALL"),
    ],
    ids=["no-apt-get", "not-root", "opted-out"],
)
def test_install_browser_never_fails_make_test(tmp_path, commands, env, said):
    done = browser_install(tmp_path / "bin", *commands, **env)
    assert done.returncode == 0 and said in done.stderr, done.stderr
    calls = tmp_path / "bin" / "calls"
    assert not calls.exists() or "apt-get" not in calls.read_text()
