"""The `zoo` command frame: help, version, and that every registered subcommand builds its parser."""

import subprocess
import sys

import pytest

from zoo import __version__
from nlpzoo.cli import SUBCOMMANDS, _available, build_parser, main


def test_version_prints_versions(capsys):
    assert main(["version"]) == 0
    out = capsys.readouterr().out
    assert f"nlpzoo {__version__}" in out and "torch " in out and "transformers " in out


def test_help_lists_available_subcommands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name, (module, _) in SUBCOMMANDS.items():
        assert (name in out) == _available(module)
    assert "version" in out


@pytest.mark.parametrize("name", [n for n, (m, _) in SUBCOMMANDS.items() if _available(m)])
def test_each_subcommand_has_help(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([name, "--help"])
    assert exit_info.value.code == 0
    assert "usage: zoo " + name in capsys.readouterr().out


def test_console_entry_point_runs_as_module():
    result = subprocess.run([sys.executable, "-m", "nlpzoo", "version"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("nlpzoo ")
