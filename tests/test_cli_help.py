"""Every command's ``--help`` has examples that parse with the command's real options, and no
one-line summary in ``aimc --help`` is cut in the middle of "e.g."."""

from __future__ import annotations

import shlex

import pytest
from click.testing import CliRunner

from aimc_plugins.cli.examples import EXAMPLES
from aimc_plugins.cli.main import cli
from aimc_plugins.host.plugins import BUILTIN_PLUGINS

BUILTIN_COMMANDS = sorted(
    name
    for name, command in cli.commands.items()
    if (command.callback.__module__ if command.callback else "") in BUILTIN_PLUGINS
)


def test_every_builtin_command_has_examples():
    assert {"compare", "report", "doctor", "devices", "show", "traces"} <= set(BUILTIN_COMMANDS)
    assert set(BUILTIN_COMMANDS) <= set(EXAMPLES), "a command without examples"


@pytest.mark.parametrize("name", BUILTIN_COMMANDS)
def test_examples_show_in_help_and_parse(name, tmp_path, monkeypatch):
    help_text = CliRunner().invoke(cli, [name, "--help"]).output
    assert "Examples:" in help_text
    monkeypatch.chdir(tmp_path)  # the files the examples name exist here, so paths check out
    (tmp_path / "sweeps" / "digits-demo").mkdir(parents=True)
    (tmp_path / "traces.csv").write_text("pulse,direction,weight\n")
    for example in EXAMPLES[name]:
        assert example in help_text  # shown as written, one per line
        program, command, *args = shlex.split(example)
        assert (program, command) == ("aimc", name)
        # parses every option and argument the way running it would, without running it
        with cli.commands[name].make_context(name, args) as context:
            assert context.params


def test_summaries_are_not_cut_at_an_abbreviation():
    listing = CliRunner().invoke(cli, ["--help"]).output
    for name in BUILTIN_COMMANDS:
        summary = cli.commands[name].get_short_help_str(limit=60)
        assert not summary.rstrip(".").endswith("e.g"), (name, summary)
    assert "A device's theory: F, G, symmetric point" in listing
    assert "Pulse traces of a device on a tile, as CSV" in listing
