"""The command-line package: every command group is reachable, user errors share one handler (one line,
exit 2) in every group, a bug keeps its traceback, and both entry points run."""
import pytest

from opmodels import cli
from opmodels.cli import catalog
from tests.utils import run_cli


def test_every_command_of_every_group_is_registered():
    parser = cli.build_parser()
    commands = parser._subparsers._group_actions[0].choices  # argparse keeps them here
    assert list(commands) == ["list", "show", "gen-lut", "metrics", "cost", "gen-verilog", "verify", "import"]


@pytest.mark.parametrize("args, message", [
    (["show"], "name at least one operator id"),                                   # catalog group
    (["cost", "M4P8", "--samples", "1"], "argument --samples: takes an integer in 2..10,000,000, not '1'"),  # cost
    (["verify", "M4P8", "--vectors", "many"], "--vectors takes an integer in 1..10,000,000 or 'all', not 'many'"),  # rtl
    (["verify", "M4P8", "--param", "L"], "--param takes NAME=INTEGER, not 'L'"),
    (["gen-verilog", "M4P8", "--all"], "give operator ids or --all, not both"),
])
def test_user_errors_are_one_line_exit_2_in_every_group(capsys, args, message, monkeypatch):
    if args[0] == "verify":  # the argument checks, also on a machine without Icarus
        from opmodels import verification
        monkeypatch.setattr(verification, "require_simulator", lambda sim: None)
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("opmodels: error: ") and err.count("\n") == 1
    assert message in err


def test_a_bug_keeps_its_traceback(monkeypatch):
    def broken(args):
        raise KeyError("a bug, not a user error")
    monkeypatch.setattr(catalog, "cmd_list", broken)
    with pytest.raises(KeyError, match="a bug"):
        cli.main(["list"])


def test_module_and_console_entry_points():
    result = run_cli("--help")
    assert result.returncode == 0 and "gen-verilog" in result.stdout and "verify" in result.stdout
    result = run_cli("show", "M4P9")
    assert result.returncode == 2 and result.stderr.startswith("opmodels: error: ")
    from importlib.metadata import entry_points
    scripts = {e.name: e.value for e in entry_points(group="console_scripts")}
    assert scripts.get("opmodels") == "opmodels.cli:main"
