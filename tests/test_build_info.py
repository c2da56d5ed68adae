"""`aimc doctor`'s build facts: wheel or source read off stub .dist-info folders, and what the
installed aihwkit reports here (no GPU: the GPU update is skipped, with the reason)."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

from click.testing import CliRunner

from aimc_plugins.cli.doctor import build_checks
from aimc_plugins.cli.main import cli
from aimc_plugins.training import build_info


def stub(
    tmp_path: Path, version: str = "1.2.0", wheel: str | None = None, direct: dict | None = None
):
    info = tmp_path / f"aihwkit-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: aihwkit\nVersion: {version}\n")
    if wheel is not None:
        (info / "WHEEL").write_text(wheel)
    if direct is not None:
        (info / "direct_url.json").write_text(json.dumps(direct))
    return importlib.metadata.PathDistribution(info)


PYPI_WHEEL = (
    "Wheel-Version: 1.0\nGenerator: skbuild 0.18.1\nRoot-Is-Purelib: false\n"
    "Tag: cp311-cp311-manylinux_2_27_x86_64\nTag: cp311-cp311-manylinux_2_28_x86_64\n"
)
LOCAL_WHEEL = "Wheel-Version: 1.0\nGenerator: skbuild 0.18.1\nTag: cp311-cp311-linux_x86_64\n"


def test_a_wheel_from_an_index_is_a_wheel(tmp_path):
    kind = build_info.build_kind(stub(tmp_path, "1.1.0", PYPI_WHEEL))
    assert kind.kind == "wheel" and "manylinux_2_28" in kind.detail


def test_a_wheel_pip_built_here_from_the_sdist_is_source(tmp_path):
    kind = build_info.build_kind(stub(tmp_path, "1.2.0", LOCAL_WHEEL))
    assert kind.kind == "source" and "linux_x86_64" in kind.detail


def test_checkouts_archives_and_setup_py_installs_are_source(tmp_path):
    editable = {"url": "file:///src/aihwkit", "dir_info": {"editable": True}}
    kind = build_info.build_kind(stub(tmp_path / "a", wheel=LOCAL_WHEEL, direct=editable))
    assert kind == build_info.BuildKind(
        "source", "built from the checkout file:///src/aihwkit (editable)"
    )
    archive = {"url": "file:///tmp/aihwkit-1.2.0.tar.gz", "archive_info": {}}
    kind = build_info.build_kind(stub(tmp_path / "b", wheel=LOCAL_WHEEL, direct=archive))
    assert kind.kind == "source" and "aihwkit-1.2.0.tar.gz" in kind.detail
    assert build_info.build_kind(stub(tmp_path / "c")).kind == "source"  # no WHEEL file
    # A wheel file installed by path is judged by its tags.
    wheel_file = {"url": "file:///w/aihwkit-1.1.0-cp311-cp311-manylinux_2_28_x86_64.whl"}
    kind = build_info.build_kind(stub(tmp_path / "d", "1.1.0", PYPI_WHEEL, wheel_file))
    assert kind.kind == "wheel"


def test_an_unrecognised_tag_is_unknown(tmp_path):
    wheel = "Wheel-Version: 1.0\nTag: cp311-cp311-macosx_11_0_arm64\n"
    assert build_info.build_kind(stub(tmp_path, wheel=wheel)).kind == "unknown"


def test_gpu_update_is_skipped_with_its_reason():
    assert build_info.gpu_update(False, ["H200"]) == (
        "skipped",
        "this aihwkit was compiled without CUDA",
    )
    status, detail = build_info.gpu_update(True, [])
    assert status == "skipped" and "no GPU" in detail


def test_facts_of_the_installed_aihwkit():
    from aihwkit.simulator import rpu_base

    facts = build_info.collect()
    assert facts.version == importlib.metadata.version("aihwkit")
    assert facts.build in {"wheel", "source"}
    assert facts.cuda_compiled == bool(rpu_base.cuda.is_compiled())
    if not facts.cuda_compiled or not facts.gpus:
        assert facts.gpu_update == "skipped" and facts.gpu_update_detail
    else:  # a GPU machine with a CUDA build: the update must run
        assert facts.gpu_update == "ok", facts.gpu_update_detail


def test_a_failed_gpu_update_fails_the_doctor():
    facts = build_info.BuildFacts(
        "1.2.0", "source", "compiled here", True, ["H200 (compute capability 9.0)"], "failed", "x"
    )
    checks = {c.name: c for c in build_checks(facts)}
    assert not checks["AnalogLinear update on GPU"].ok
    assert checks["GPU"].detail.endswith("CPU only")
    ok = build_info.BuildFacts("1.2.0", "source", "here", True, ["H200"], "ok", "moved")
    assert {c.name: c for c in build_checks(ok)}[
        "GPU"
    ].detail == "H200; usable with --accelerator cuda"


def test_doctor_json_reports_the_build():
    result = CliRunner().invoke(cli, ["doctor", "--json"], catch_exceptions=False)
    report = json.loads(result.output)
    facts = report["aihwkit"]
    assert facts["version"] == importlib.metadata.version("aihwkit")
    assert set(facts) == {
        "version", "build", "build_detail", "cuda_compiled", "gpus", "gpu_update",
        "gpu_update_detail",
    }  # fmt: skip
    names = [c["name"] for c in report["checks"]]
    assert {"aihwkit build", "aihwkit CUDA build", "GPU", "AnalogLinear update on GPU"} <= set(
        names
    )
    assert result.exit_code == 0, result.output
