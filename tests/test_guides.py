"""The plugin-writing guides in docs/ are executed: their code is known to work.

Convention (stated in each guide): a fenced ``python`` block starting with ``# file: NAME``
is written to that file in a scratch folder on ``sys.path``; every other ``python`` block runs,
in order, in one namespace; the ``test_*`` functions of the files named ``test_*.py`` are
called; a ``toml`` block must parse and name the guide's module under the ``aimc_plugins``
entry-point group. In a guide that runs its shell (``fit-a-device.md``), every ``bash`` line
starting with ``aimc`` runs first, in the scratch folder. Any failure in the guide's code fails
here.
"""

from __future__ import annotations

import importlib
import re
import shlex
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

DOCS = Path(__file__).resolve().parents[1] / "docs"
GUIDES = {
    "write-a-device-plugin.md": "lab_reram",
    "write-an-optimizer-plugin.md": "lab_converters",
}
SHELL_GUIDES = ("fit-a-device.md",)
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
FILE_MARK = re.compile(r"^# file: (\S+)\n")


def blocks(text: str, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(text) if lang == language]


def test_fence_parser_finds_blocks():
    text = "a\n```python\n# file: x.py\nX = 1\n```\n```toml\n[a]\n```\n```python\nprint(1)\n```\n"
    assert blocks(text, "python") == ["# file: x.py\nX = 1\n", "print(1)\n"]
    assert blocks(text, "toml") == ["[a]\n"]


@pytest.mark.parametrize("guide", sorted(GUIDES))
def test_guide_code_runs(guide, tmp_path, monkeypatch, fresh_plugins):
    module = GUIDES[guide]
    text = (DOCS / guide).read_text(encoding="utf-8")
    python = blocks(text, "python")
    files = [(FILE_MARK.match(b).group(1), b) for b in python if FILE_MARK.match(b)]
    scripts = [b for b in python if not FILE_MARK.match(b)]
    assert files and scripts, "the guide lost its worked example"
    assert f"{module}.py" in [name for name, _ in files]
    for name, body in files:
        (tmp_path / name).write_text(body, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        namespace: dict = {"__name__": f"guide_{module}"}
        for number, script in enumerate(scripts, start=1):
            code = compile(script, f"{guide} python block {number}", "exec")
            exec(code, namespace)
        for name, _ in files:
            if name.startswith("test_"):
                tests = importlib.import_module(name.removesuffix(".py"))
                functions = [getattr(tests, f) for f in dir(tests) if f.startswith("test_")]
                assert functions, f"{name} defines no tests"
                for function in functions:
                    function()
    finally:
        for name, _ in files:
            sys.modules.pop(name.removesuffix(".py"), None)


@pytest.mark.parametrize("guide", sorted(GUIDES))
def test_guide_pyproject_exposes_the_module(guide):
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    module = GUIDES[guide]
    (toml,) = blocks((DOCS / guide).read_text(encoding="utf-8"), "toml")
    project = tomllib.loads(toml)
    assert project["project"]["entry-points"]["aimc_plugins"] == {module: module}
    assert project["tool"]["setuptools"]["py-modules"] == [module]


def aimc_lines(text: str) -> list[str]:
    return [
        line.strip()
        for body in blocks(text, "bash")
        for line in body.splitlines()
        if line.strip().startswith("aimc ")
    ]


@pytest.mark.parametrize("guide", SHELL_GUIDES)
def test_guide_commands_and_code_run(guide, tmp_path, monkeypatch, fresh_plugins):
    from aimc_plugins.cli.main import cli

    text = (DOCS / guide).read_text(encoding="utf-8")
    commands, scripts = aimc_lines(text), blocks(text, "python")
    assert commands and scripts, "the guide lost its worked example"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the guide may extend it
    before = set(sys.modules)
    for command in commands:
        result = CliRunner().invoke(cli, shlex.split(command)[1:])
        assert result.exit_code == 0, f"{command}\n{result.output}"
    namespace: dict = {"__name__": "guide_fit"}
    try:
        for number, script in enumerate(scripts, start=1):
            exec(compile(script, f"{guide} python block {number}", "exec"), namespace)
    finally:
        for name in set(sys.modules) - before:
            if name.startswith("lab_"):
                del sys.modules[name]


def test_python_api_guide_runs_and_leaves_a_table_and_a_report(tmp_path, monkeypatch):
    """docs/python-api.md: every python block runs in order, in a scratch folder; it must end
    with a DataFrame of the runs and a report page."""
    pandas = pytest.importorskip("pandas")
    guide = "python-api.md"
    scripts = blocks((DOCS / guide).read_text(encoding="utf-8"), "python")
    assert len(scripts) >= 4, "the guide lost its worked example"
    monkeypatch.chdir(tmp_path)
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # runs this small gain nothing from threads that share the cores
    namespace: dict = {"__name__": "guide_python_api"}
    try:
        for number, script in enumerate(scripts, start=1):
            exec(compile(script, f"{guide} python block {number}", "exec"), namespace)
    finally:
        torch.set_num_threads(threads)
    assert isinstance(namespace["runs"], pandas.DataFrame) and len(namespace["runs"]) > 0
    assert (tmp_path / "api-demo-report" / "report.html").is_file()
