"""Idempotence and concurrency: a re-run publishes nothing; simultaneous runs publish once.

Runs are real processes started at the same instant (they sleep until a shared start time),
on SQLite and PostgreSQL.  A loser must either exit with ConcurrentRunError naming the
source, or run after the winner and publish nothing new; the store must equal one run's.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

import crashdriver
from munihub import pipeline, store

HERE = Path(__file__).parent
RUNNERS = 3

CHILD = r"""
import json, os, sys, time
sys.path.insert(0, {here!r})
import crashdriver
from munihub import pipeline, store
from munihub.errors import ConcurrentRunError
os.environ["MUNIHUB_TEST_SRC"] = {src!r}
settings = crashdriver.settings_for({url!r}, __import__("pathlib").Path({contracts!r}), __import__("pathlib").Path({home!r}))
store.engine_for(settings)            # migrations and imports before the start line
time.sleep(max(0.0, {start!r} - time.time()))
try:
    r = pipeline.sync_source(crashdriver.CONTRACT, settings)
    print(json.dumps({{"outcome": "published", "new": r["rows_new"], "changed": r["rows_changed"]}}))
except ConcurrentRunError as exc:
    print(json.dumps({{"outcome": "concurrent", "message": str(exc)}}))
"""


@pytest.fixture
def workspace(tmp_path, store_url, monkeypatch):
    contracts = tmp_path / "contracts" / "testreg"
    contracts.mkdir(parents=True)
    shutil.copy(HERE.parent / "data" / "core" / "citizens.yaml", contracts / "citizens.yaml")
    src = tmp_path / "src.db"
    crashdriver.make_source(src, 7, phase=1)
    monkeypatch.setenv("MUNIHUB_TEST_SRC", str(src))
    settings = crashdriver.settings_for(store_url, tmp_path / "contracts", tmp_path / "home")
    store.engine_for(settings)  # migrate once, so children do not race on creating tables
    return settings, src


def _race(settings, src) -> list[dict]:
    start = time.time() + 4.0
    code = CHILD.format(here=str(HERE), src=str(src), url=settings.store_url, contracts=str(settings.contracts_dir),
                        home=str(settings.home), start=start)
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(RUNNERS)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
        outs.append(json.loads(out.strip().splitlines()[-1]))
    return outs


def _published_loads(settings) -> list[tuple]:
    with store.engine_for(settings).connect() as conn:
        return conn.execute(sa.select(store.loads.c.rows_new, store.loads.c.rows_changed)
                            .where(store.loads.c.status == "published")).all()


def test_rerun_of_the_same_interval_publishes_nothing(workspace):
    settings, _ = workspace
    first = pipeline.sync_source(crashdriver.CONTRACT, settings)
    before = crashdriver.dump(store.engine_for(settings))
    for _ in range(2):
        again = pipeline.sync_source(crashdriver.CONTRACT, settings)
        assert (again["rows_in"], again["rows_new"], again["rows_changed"]) == (0, 0, 0)
    assert first["rows_new"] > 0
    assert crashdriver.dump(store.engine_for(settings)) == before


def test_simultaneous_runs_in_separate_processes_publish_once(workspace):
    settings, src = workspace
    outcomes = _race(settings, src)
    print("race outcomes:", outcomes)
    winners = [o for o in outcomes if o["outcome"] == "published" and o["new"] > 0]
    assert len(winners) == 1, outcomes
    for o in outcomes:
        if o is not winners[0]:
            assert (o["outcome"] == "concurrent" and crashdriver.CONTRACT in o["message"]) or \
                (o["outcome"] == "published" and o["new"] == o["changed"] == 0), o
    nonempty = [r for r in _published_loads(settings) if r.rows_new or r.rows_changed]
    assert len(nonempty) == 1
    # the store holds exactly what one uninterrupted run makes
    raced = crashdriver.dump(store.engine_for(settings))
    with store.engine_for(settings).begin() as conn:
        for table in (store.source_rows, store.cursors, store.quarantine, store.loads):
            conn.execute(table.delete())
    pipeline.sync_source(crashdriver.CONTRACT, settings)
    assert crashdriver.dump(store.engine_for(settings)) == raced


def test_simultaneous_runs_after_new_rows_publish_the_delta_once(workspace):
    settings, src = workspace
    pipeline.sync_source(crashdriver.CONTRACT, settings)
    crashdriver.make_source(src, 7, phase=2)
    outcomes = _race(settings, src)
    winners = [o for o in outcomes if o["outcome"] == "published" and (o["new"] or o["changed"])]
    assert len(winners) == 1, outcomes
    with store.engine_for(settings).connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(store.source_rows)).scalar()
        version = conn.execute(sa.select(store.cursors.c.version)).scalar()
    assert n == sum(1 for r in _published_loads(settings) for _ in range(r.rows_new))
    assert version == 1 + sum(1 for o in outcomes if o["outcome"] == "published")
