"""scripts/build-aihwkit.sh and scripts/gpu-check.sh, checked without building anything: their
syntax, and the commands their --dry-run prints (what a GPU machine would run)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "scripts" / "build-aihwkit.sh"
GPU = ROOT / "scripts" / "gpu-check.sh"

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
