"""Backfill of a date range on a SQLite source: idempotent, range-bound, and the cursor stays put."""
from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from munihub.testing import municipality
from munihub import pipeline, store
from munihub.pipeline.backfill import backfill, bound, interval
from munihub.cli.main import main as cli_main
from munihub.config import load_settings
from munihub.errors import ConfigError

SOURCE = "s004_taxi.persons"   # subsystems go rest, csv, jsonl, sqlite, ... (municipality.kind_of)
DB = "data/s004_taxi.db"


@pytest.fixture
def city(tmp_path, monkeypatch):
    """A 4-subsystem municipality (300 rows each) and a SQLite store, as the environment says."""
    out = tmp_path / "city"
    municipality.generate(out, sources=4, rows=300)
    env = {**municipality.environment(out), "MUNIHUB_HOME": str(tmp_path / "home"),
           "MUNIHUB_STORE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    store.forget_engines()
    yield out, load_settings()
    store.forget_engines()


def _published(settings) -> dict[str, str]:
    with store.engine_for(settings).connect() as conn:
        t = store.source_rows
        return dict(conn.execute(sa.select(t.c.source_key, t.c.load_id).where(t.c.source == SOURCE)).all())


def _cursor(settings):
    with store.engine_for(settings).connect() as conn:
        return conn.execute(sa.select(store.cursors.c.cursor).where(store.cursors.c.source == SOURCE)).first()


def _in_range(out, lo, hi) -> tuple[int, int]:
    """(rows in [lo, hi), of which quarantined) straight from the source table: bad on purpose,
    except a bad birth date, which is set aside while its record is published."""
    con = sqlite3.connect(out / DB)
    try:
        ids = [i for (i,) in con.execute("SELECT id FROM persons WHERE updated_at >= ? AND updated_at < ?", (lo, hi))]
    finally:
        con.close()
    kinds = municipality.syn.BAD_KINDS
    return len(ids), sum(1 for i in ids if i % municipality.BAD_EVERY == 0 and
                         kinds[((i - 1) // municipality.BAD_EVERY) % len(kinds)] != "bad_jalali_date")


def test_backfill_twice_publishes_the_range_once(city):
    out, settings = city
    first = backfill(SOURCE, "2024-03-01", "2024-05-01", settings)
    rows, bad = _in_range(out, "2024-03-01", "2024-05-01")
    assert 0 < rows < 300
    assert first["rows_in"] == rows and first["rows_quarantined"] == bad
    assert first["rows_new"] == rows - bad
    keys = _published(settings)
    assert len(keys) == rows - bad

    second = backfill(SOURCE, "2024-03-01", "2024-05-01", settings)
    assert second["rows_in"] == rows
    assert (second["rows_new"], second["rows_changed"]) == (0, 0)
    assert _published(settings) == keys   # same rows, still owned by the first load


def test_rows_outside_the_range_are_untouched(city):
    out, settings = city
    backfill(SOURCE, "2024-03-01", "2024-05-01", settings)
    before = _published(settings)
    con = sqlite3.connect(out / DB)   # a change outside the range (December) must not be picked up
    con.execute("UPDATE persons SET address = 'تغییر', updated_at = '2024-12-30 10:00:00' "
                "WHERE id = (SELECT min(id) FROM persons WHERE updated_at >= '2024-06-01')")
    con.commit()
    con.close()
    again = backfill(SOURCE, "2024-03-01", "2024-05-01", settings)
    assert (again["rows_new"], again["rows_changed"]) == (0, 0)
    assert _published(settings) == before
    june = backfill(SOURCE, "2024-06-01", "2024-07-01", settings)
    after = _published(settings)
    assert june["rows_new"] > 0 and len(after) == len(before) + june["rows_new"]
    assert {k: after[k] for k in before} == before   # March-April rows still from their first load


def test_backfill_does_not_move_the_cursor(city):
    out, settings = city
    backfill(SOURCE, "2024-03-01", "2024-05-01", settings)
    assert _cursor(settings)[0] is None  # never synced: the next scheduled run still starts at the beginning
    full = pipeline.sync_source(SOURCE, settings)
    rows, bad = _in_range(out, "2024-01-01", "2025-01-01")
    in_range, in_bad = _in_range(out, "2024-03-01", "2024-05-01")
    assert full["rows_in"] == rows
    assert full["rows_new"] == (rows - bad) - (in_range - in_bad)   # the backfilled rows were already there
    after_sync = _cursor(settings)[0]
    assert after_sync and after_sync["watermark"].startswith("2024-12")
    backfill(SOURCE, "2024-01-01", "2024-02-01", settings)
    assert _cursor(settings)[0] == after_sync


def test_backfill_of_a_file_drop_filters_by_the_incremental_field(city):
    out, settings = city
    assert municipality.kind_of(2, False) == "csv" and municipality.kind_of(4, False) == "sqlite"
    result = backfill("s002_sports.persons", "2024-03-01", "2024-05-01", settings)   # a CSV drop
    assert 0 < result["rows_in"] < 300
    assert backfill("s002_sports.persons", "2024-03-01", "2024-05-01", settings)["rows_new"] == 0


def test_bounds_and_empty_ranges():
    assert bound("2024-03-01") == "2024-03-01"
    assert bound("2024-03-01T04:30:00+03:30") == "2024-03-01 01:00:00"
    with pytest.raises(ConfigError, match="not a date"):
        bound("1403/01/01")
    with pytest.raises(ConfigError, match="empty"):
        interval("2024-05-01", "2024-03-01")


def test_cli_backfill(city, capsys):
    assert cli_main(["backfill", SOURCE, "--start", "2024-03-01", "--end", "2024-04-01"]) == 0
    assert '"rows_new"' in capsys.readouterr().out
    assert cli_main(["backfill", SOURCE, "--start", "2024-04-01", "--end", "2024-03-01"]) == 1
    assert "empty" in capsys.readouterr().err
