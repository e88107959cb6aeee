"""Load isolation: one source flooding 100x rows does not stall the others; connections stay capped.

N quiet SQLite sources (60 rows each) sync at once in threads of one process, against a
PostgreSQL store, first alone and then beside one source with 100x the rows.  Each quiet
source's duration is compared with the quiet run; pg_stat_activity is sampled throughout and
must stay within two per process (a sync holds at most two store connections at once; each
process's pool cap is SQLAlchemy's 5 + 10) plus the sampler.  Each source runs in its own
process, as Airflow runs tasks (and threads of one process, which share great-expectations' state).
"""
from __future__ import annotations

import random
import sqlite3
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

import crashdriver
from munihub import pipeline

POOL_CAP = 5 + 10  # sa.create_engine defaults, which munihub.store uses for PostgreSQL
QUIET_ROWS, FLOOD_FACTOR = 60, 100


def _source(path: Path, rows: int, seed: int) -> None:
    rng = random.Random(seed)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE citizens (id INTEGER PRIMARY KEY, code_melli TEXT, fname TEXT, lname TEXT, "
                   "birth TEXT, mobile TEXT, updated_at TEXT)")
        db.executemany("INSERT INTO citizens VALUES (?,?,?,?,?,?,?)",
                       [(i, crashdriver.national_id(f"{rng.randrange(10 ** 8, 10 ** 9)}"), "علی", "رضایی",
                         "1370/05/20", None, f"2024-01-01 00:00:{i % 60:02d}") for i in range(1, rows + 1)])


def _contracts(folder: Path, n: int, flood: bool, seed: int) -> list[str]:
    text = crashdriver.Path(crashdriver.__file__).parent.parent.joinpath("data", "core", "citizens.yaml").read_text(
        encoding="utf-8")
    ids = []
    folder.mkdir(parents=True)
    for i in range(n + (1 if flood else 0)):
        name = "flood" if i == n else f"quiet{i:03d}"
        src = folder / f"{name}.db"
        _source(src, QUIET_ROWS * (FLOOD_FACTOR if i == n else 1), seed * 1000 + i)
        (folder / name).mkdir(parents=True)
        (folder / name / "citizens.yaml").write_text(
            text.replace("id: testreg.citizens", f"id: {name}.citizens").replace("${MUNIHUB_TEST_SRC}", str(src)),
            encoding="utf-8")
        ids.append(f"{name}.citizens")
    return ids


def _sample_connections(url: str, stop: threading.Event, peak: list[int]) -> None:
    db = sa.engine.make_url(url).database
    eng = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with eng.connect() as conn:
        while not stop.is_set():
            n = conn.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = :d"), {"d": db}).scalar()
            peak[0] = max(peak[0], n)
            time.sleep(0.05)
    eng.dispose()


CHILD = r"""
import os, sys, time
sys.path.insert(0, {here!r})
import crashdriver
from munihub import pipeline
settings = crashdriver.settings_for({url!r}, __import__("pathlib").Path({folder!r}), __import__("pathlib").Path({home!r}))
pipeline.engine_for(settings)
pipeline.contract_for({cid!r}, settings)
import munihub.quality, munihub.stage, munihub.extract  # imports before the start line
time.sleep(max(0.0, {start!r} - time.time()))
t = time.monotonic()
pipeline.sync_source({cid!r}, settings)
print(time.monotonic() - t)
"""


def _run(tmp_path: Path, store_url: str, n: int, flood: bool) -> tuple[dict[str, float], int]:
    """Every source in its own process (as Airflow runs tasks), all starting at one instant."""
    import subprocess
    import sys
    folder = tmp_path / ("flood" if flood else "quiet")
    ids = _contracts(folder, n, flood, seed=3)
    settings = crashdriver.settings_for(store_url, folder, tmp_path / "home")
    pipeline.engine_for(settings)
    start = time.time() + 3.0 + 0.4 * len(ids)  # every child imported and waiting
    procs = {cid: subprocess.Popen([sys.executable, "-c", CHILD.format(
        here=str(Path(__file__).parent), url=store_url, folder=str(folder), home=str(tmp_path / "home"),
        cid=cid, start=start)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for cid in ids}
    stop, peak = threading.Event(), [0]
    sampler = threading.Thread(target=_sample_connections, args=(store_url, stop, peak))
    sampler.start()
    durations = {}
    try:
        for cid, p in procs.items():
            out, err = p.communicate(timeout=300)
            assert p.returncode == 0, err[-1500:]
            durations[cid] = float(out.strip().splitlines()[-1])
    finally:
        stop.set()
        sampler.join()
    return durations, peak[0]


def _threads_sync(settings, ids: list[str]) -> dict[str, str]:
    def one(cid):
        try:
            pipeline.sync_source(cid, settings)
            return cid, "published"
        except Exception as exc:  # noqa: BLE001 - the outcome is the assertion
            return cid, f"{exc.__class__.__name__}: {str(exc)[:200]}"
    with ThreadPoolExecutor(max_workers=len(ids)) as pool:
        return dict(pool.map(one, ids))




def test_sources_synced_in_threads_of_one_process_all_publish(tmp_path):
    ids = _contracts(tmp_path / "c", 16, False, seed=4)
    settings = crashdriver.settings_for(f"sqlite:///{tmp_path / 's.db'}", tmp_path / "c", tmp_path / "home")
    pipeline.engine_for(settings)
    outcomes = _threads_sync(settings, ids)
    assert set(outcomes.values()) == {"published"}, outcomes


def _isolation(tmp_path, pg_url, n: int) -> None:
    quiet, peak_q = _run(tmp_path, pg_url, n, flood=False)
    pipeline._engine.cache_clear()
    with sa.create_engine(pg_url).begin() as conn:  # same store, fresh tables: a fair second run
        for table in ("source_rows", "cursors", "loads", "quarantine", "staged_rows", "leases"):
            conn.execute(sa.text(f"DELETE FROM {table}"))
    loud, peak_l = _run(tmp_path, pg_url, n, flood=True)
    base = statistics.median(quiet.values())
    beside = statistics.median(v for k, v in loud.items() if k != "flood.citizens")
    worst = max(v for k, v in loud.items() if k != "flood.citizens")
    print(f"\n{n} quiet sources x {QUIET_ROWS} rows; flood {QUIET_ROWS * FLOOD_FACTOR} rows: "
          f"quiet median {base:.2f} s alone, {beside:.2f} s beside the flood (worst {worst:.2f} s, "
          f"flood {loud['flood.citizens']:.2f} s); peak store connections {peak_q} / {peak_l} (bound {2 * (n + 1) + 1})")
    assert beside <= 3 * base + 2.0, "quiet sources slowed by more than 3x (+2 s) beside a flooding one"
    assert max(peak_q, peak_l) <= 2 * (n + 1) + 1


@pytest.mark.postgres
def test_a_flooding_source_does_not_stall_six_others(tmp_path, pg_url):
    _isolation(tmp_path, pg_url, 6)


@pytest.mark.postgres
@pytest.mark.nightly
def test_a_flooding_source_does_not_stall_twenty_others(tmp_path, pg_url):
    _isolation(tmp_path, pg_url, 20)


@pytest.mark.postgres
@pytest.mark.nightly
def test_a_flooding_source_does_not_stall_a_hundred_others(tmp_path, pg_url):
    _isolation(tmp_path, pg_url, 100)
