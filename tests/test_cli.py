"""The command line: every command has help, and errors are one line, not a traceback."""
from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from munihub.cli.main import COMMANDS, build_parser, main

from test_pipeline import setup  # noqa: F401  (the shared source + contract fixture)


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


@pytest.mark.parametrize("module", ["munihub", "munihub.cli.main"])
def test_munihub_help_runs_as_a_program(module):
    out = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "contracts" in out.stdout and "quarantine" in out.stdout


def test_status_without_a_home_says_where_it_looked_and_creates_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MUNIHUB_HOME", raising=False)
    monkeypatch.delenv("MUNIHUB_STORE_URL", raising=False)
    code = main(["status"])
    err = capsys.readouterr().err
    assert code == 1
    assert str(tmp_path / ".munihub" / "munihub.db") in err and "var/demo/hub.env" in err
    assert not (tmp_path / ".munihub").exists()   # no empty home made behind the user's back


def _env_for(monkeypatch, settings):
    monkeypatch.setenv("MUNIHUB_HOME", str(settings.home))
    monkeypatch.setenv("MUNIHUB_STORE_URL", settings.store_url)
    monkeypatch.setenv("MUNIHUB_CONTRACTS", str(settings.contracts_dir))


def test_sync_status_replay_consolidate_share_one_output_convention(setup, capsys, monkeypatch):  # noqa: F811
    import csv
    import io
    import json

    settings, _ = setup
    _env_for(monkeypatch, settings)
    assert main(["sync", "testreg.citizens", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    [synced] = json.loads(out)
    assert (synced["rows_new"], synced["rows_quarantined"]) == (4, 2)
    assert "munihub: synced testreg.citizens: 6 read, 4 new, 0 changed, 2 quarantined in" in err
    # a quiet re-run reads nothing and runs no check: status still shows the last checked load
    assert main(["sync", "testreg.citizens"]) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines()[0].split() == ["source", "load_id", "rows_in", "rows_new", "rows_changed",
                                           "rows_unchanged", "rows_quarantined"]
    assert main(["status", "--format", "csv"]) == 0
    out, err = capsys.readouterr()
    [row] = [r for r in csv.DictReader(io.StringIO(out)) if r["source"] == "testreg.citizens"]
    assert row["rows_in"] == "0" and row["checked"].startswith("published ") and "1 warning(s)" in row["checked"]
    assert "sources:" in err
    import sqlalchemy as sa
    from munihub import store
    q = store.quarantine
    with store.engine_for(settings).begin() as conn:   # the steward fixes the impossible date
        entry = next(r for r in conn.execute(sa.select(q.c.id, q.c.raw)) if r.raw["id"] == 6)
        conn.execute(q.update().where(q.c.id == entry.id).values(raw=dict(entry.raw, birth="1403/07/30")))
    assert main(["quarantine", "replay", "testreg.citizens", str(entry.id), "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert [(r["replayed"], r["published"]) for r in json.loads(out)] == [(1, 1)]
    assert "replayed 1 record(s) of testreg.citizens: 1 published, 0 still quarantined" in err
    assert main(["consolidate", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    # five published citizens and the one of the row still quarantined for its id's check digit
    assert json.loads(out) == [{"entity_type": "person", "records": 6, "entities": 6, "review": 0}]
    assert "consolidated 6 records into 6 entities" in err


def test_progress_reports_rows_rate_and_only_known_time_left():
    import io
    from munihub.cli.common import Progress
    out = io.StringIO()
    progress = Progress("sync x", every=0.0, stream=out)
    progress(1200, 3)
    assert "1,200 rows read (3 quarantined)" in out.getvalue() and "rows/s" in out.getvalue()
    assert "left" not in out.getvalue()    # no total: no guess
    Progress("sync y", total=10_000, every=0.0, stream=out)(5000)
    assert "s left" in out.getvalue()
