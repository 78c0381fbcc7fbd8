"""The `zoo` command frame: help, version, every registered subcommand builds its parser, `zoo --help` is fast
because it imports nothing heavy, and the core (`zoo/`) imports no package above it."""

import ast
import os
import subprocess
import sys
import time

import pytest
from conftest import REPO

from nlpzoo.cli import SUBCOMMANDS, _available, build_parser, main
from zoo import __version__

PACKAGES_ABOVE_THE_CORE = {"nlpzoo", "wobert", "dialog", "summarize", "mathwp", "whitening"}


def _env():
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


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
        assert (f"    {name} " in out) == _available(module)
    assert "version" in out


def test_commands_live_in_the_application_layer():
    assert all(module.startswith("nlpzoo.") for module, _ in SUBCOMMANDS.values()), SUBCOMMANDS
    assert _available("nlpzoo.commands.convert") and _available("nlpzoo.commands.solve") and not _available("zoo.no_such_module")
    assert not _available("no_such_package.cli")


@pytest.mark.parametrize("name", [n for n, (m, _) in SUBCOMMANDS.items() if _available(m)])
def test_each_subcommand_has_help(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([name, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: zoo " + name in out and "--quiet" in out and "exit codes" in out


def test_console_entry_point_runs_as_module():
    result = subprocess.run([sys.executable, "-m", "nlpzoo", "version"], capture_output=True, text=True,
                            timeout=120, env=_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("nlpzoo ")


def test_help_is_fast_and_imports_nothing_heavy():
    """`zoo --help` must not import torch, transformers or a model package (it took 8-18 s when it did)."""
    probe = ("import sys; from nlpzoo.cli import main\n"
             "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
             "heavy = sorted(m for m in ('torch', 'transformers', 'zoo', 'wobert', 'dialog', 'summarize', 'mathwp',"
             " 'whitening', 'numpy') if m in sys.modules)\n"
             "print('HEAVY', heavy, file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env=_env())
    assert "HEAVY []" in result.stderr, result.stderr
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "nlpzoo", "--help"], capture_output=True, text=True,
                            timeout=120, env=_env())
    elapsed = time.perf_counter() - start
    assert result.returncode == 0 and "COMMAND" in result.stdout
    assert elapsed < 3.0, f"zoo --help took {elapsed:.2f} s"


def _imports(path):
    """Top-level package names imported by a module, absolute or relative (relative ones resolve inside zoo)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add("zoo" if node.level else (node.module or "").split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            names.add(str(node.args[0].value).split(".")[0])
    return names


def test_core_imports_no_package_above_it():
    modules = sorted((REPO / "zoo").rglob("*.py"))
    assert len(modules) > 5
    offenders = {str(p.relative_to(REPO)): sorted(_imports(p) & PACKAGES_ABOVE_THE_CORE) for p in modules}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_import_walker_sees_every_import_form(tmp_path):
    """The walker above must be able to fail: each import form of a package above the core is caught."""
    for line in ("import wobert", "from dialog.chatbot import ChatBot", "import summarize.pipeline as p",
                 "def f():\n    from mathwp import Solver", "importlib.import_module('whitening.cli')",
                 "__import__('nlpzoo.cli')"):
        path = tmp_path / "m.py"
        path.write_text(line + "\n", encoding="utf-8")
        assert _imports(path) & PACKAGES_ABOVE_THE_CORE, line
