"""Steward review through the CLI: masked listing, decisions by id or refs, applied next run."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from munihub import store
from munihub.cli.main import main
from munihub.resolve.run import resolve_all

ALI = {"first_name": "علی", "last_name": "رضایی", "birth_date": "1990-01-01", "father_name": "حسن",
       "mobile": "+989151234567", "gender": "male"}
# The same whole name on another mobile, nothing else given: unsure (p ~ 0.94); another
# father or gender would be a conflict, never a pair to review.
OTHER = {"first_name": "علی", "last_name": "رضایی", "mobile": "+989157654321"}
NOW = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)


@pytest.fixture
def hub(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    (tmp_path / "contracts").mkdir()
    monkeypatch.setenv("MUNIHUB_STORE_URL", url)
    monkeypatch.setenv("MUNIHUB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MUNIHUB_CONTRACTS", str(tmp_path / "contracts"))
    engine = store.open_store(url)
    with engine.begin() as conn:
        for source, rec in (("registry.citizens", ALI), ("health.patients", OTHER)):
            conn.execute(store.source_rows.insert().values(
                source=source, source_key="K1", entity_type="person", record=rec,
                record_hash=store.record_hash(rec), first_load_id="L1", load_id="L1", updated_at=NOW))
    resolve_all(engine)
    return engine


def entity_ids(engine) -> dict[str, str]:
    m = store.entity_members
    with engine.connect() as conn:
        return {s: e for s, e in conn.execute(sa.select(m.c.source, m.c.entity_id))}


def test_review_list_shows_the_unsure_pair_masked(hub, capsys):
    assert main(["review", "list"]) == 0
    out = capsys.readouterr().out
    assert "registry.citizens|K1" in out and "health.patients|K1" in out
    assert "+989151234567" not in out and "4567" in out  # mobiles masked, last digits kept
    assert "0.93" in out


def test_decide_by_review_id_then_by_refs_is_applied_on_the_next_run(hub, capsys):
    ids = entity_ids(hub)
    assert ids["registry.citizens"] != ids["health.patients"]
    with hub.connect() as conn:
        review_id = conn.execute(sa.select(store.review_queue.c.id)).scalar_one()
    assert main(["review", "decide", str(review_id), "match", "--why", "same person, clerk typo", "--by", "zahra"]) == 0
    with hub.connect() as conn:
        decision = conn.execute(sa.select(store.match_decisions)).mappings().one()
        status = conn.execute(sa.select(store.review_queue.c.status)).scalar_one()
    assert (decision["decision"], decision["decided_by"], decision["note"]) == ("match", "zahra", "same person, clerk typo")
    assert status == "decided"
    assert resolve_all(hub)["mode"] == "incremental"
    ids = entity_ids(hub)
    assert ids["registry.citizens"] == ids["health.patients"]
    capsys.readouterr()
    assert main(["review", "list"]) == 0 and "(none)" in capsys.readouterr().out

    assert main(["review", "decide", "health.patients|K1", "registry.citizens|K1", "no-match",
                 "--why", "different mothers"]) == 0
    resolve_all(hub)
    ids = entity_ids(hub)
    assert ids["registry.citizens"] != ids["health.patients"]
    resolve_all(hub, full=True)
    assert entity_ids(hub) == ids


@pytest.mark.parametrize("argv, says", [
    (["review", "decide", "1", "maybe", "--why", "x"], "unknown decision 'maybe'"),
    (["review", "decide", "999", "match", "--why", "x"], "no review pair with id 999"),
    (["review", "decide", "nosuch|1", "registry.citizens|K1", "match", "--why", "x"], "no resolved record 'nosuch|1'"),
    (["review", "decide", "registry.citizens|K1", "match", "--why", "x"], "cannot read the pair"),
])
def test_bad_decisions_are_one_line_errors(hub, capsys, argv, says):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("munihub: error:") and says in err and "Traceback" not in err


def test_review_commands_have_help(capsys):
    for argv in (["review", "--help"], ["review", "decide", "--help"], ["resolve", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        out = capsys.readouterr().out
        assert out.startswith("usage: munihub")
    with pytest.raises(SystemExit):
        main(["review", "decide", "--help"])
    assert "--why" in capsys.readouterr().out


def test_resolve_command_runs_incrementally_then_full(hub, capsys):
    assert main(["resolve"]) == 0
    out = capsys.readouterr().out
    assert "incremental run: 0 new or changed" in out and "person" in out
    assert main(["resolve", "--full"]) == 0
    assert "full run: 2 record(s) matched" in capsys.readouterr().out
