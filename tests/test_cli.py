"""The command line: every command has help, and errors are one line, not a traceback."""
from __future__ import annotations

import argparse
import subprocess
import sys

from munihub.cli.main import COMMANDS, build_parser, main


def _all_parsers(parser, prefix=()):
    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _all_parsers(sub, prefix + (name,))


def test_every_command_and_subcommand_has_help():
    # The help a user reads in `munihub -h` / `munihub GROUP -h` is the choice's `help=`; a
    # parser's format_help() always has its usage line, so it proves nothing on its own.
    missing, seen = [], 0
    for path, parser in _all_parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                # add_parser without help= leaves no entry in _choices_actions at all
                helps = {c.dest: (c.help or "").strip() for c in action._choices_actions}
                for name in action.choices:
                    seen += 1
                    if not helps.get(name):
                        missing.append(" ".join(path + (name,)))
    assert seen >= len(COMMANDS) and missing == []


def test_every_registered_command_is_reachable_from_the_parser():
    paths = {".".join(p) for p, _ in _all_parsers(build_parser()) if p}
    assert set(COMMANDS) <= paths


def test_library_error_is_one_line_on_stderr(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MUNIHUB_CONTRACTS", str(tmp_path))
    monkeypatch.setenv("MUNIHUB_HOME", str(tmp_path / "home"))
    code = main(["sync", "nosuch.dataset"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("munihub: error:") and "nosuch.dataset" in err and "Traceback" not in err


def test_munihub_help_runs_as_a_program():
    out = subprocess.run([sys.executable, "-m", "munihub.cli.main", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "contracts" in out.stdout and "quarantine" in out.stdout
