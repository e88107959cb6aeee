"""Crash consistency of a source's FIRST load, which PostgreSQL publishes ahead
(`ingest.publish_ahead`: its rows go into source_rows batch by batch, in a transaction held
open until the publish commits it).  A run SIGKILLed at any point leaves nothing of the load
published (after the publish: all of it), and a re-run equals a run never interrupted, on
SQLite (which never publishes ahead) and PostgreSQL.

`ahead-written` kills the run just after T inserted the seed's n-th batch into source_rows
(in T's own thread), the rows written but not committed.
"""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

import crashdriver
from munihub import pipeline, store
from test_crash_consistency import _drop_pg, _fresh_pg, _workspace

HERE = Path(__file__).parent
POINTS = ("during-extract", "ahead-written", "after-staging", "after-checks", "inside-publish", "after-publish")
CASES = [(p, s) for p in POINTS for s in ([1, 2, 3] if p in ("during-extract", "ahead-written") else [1])]

# The child: crashdriver's hooks on a first load run as `sync_source` runs it (its three stages
# sharing one PublishAhead), saying how many rows it had written ahead when it dies.
DRIVER = """
import os, random, sys
sys.path.insert(0, {here!r})
import crashdriver
import sqlalchemy as sa
from munihub import pipeline, store
from munihub.ingest.publish_ahead import PublishAhead
url, contracts, home, src, point, seed = sys.argv[1:7]
os.environ["MUNIHUB_TEST_SRC"] = src
settings = crashdriver.settings_for(url, crashdriver.Path(contracts), crashdriver.Path(home))
kill_batch = random.Random(int(seed)).randint(1, 12)  # phase 1 reads 120 rows: 18 batches of 7
seen = {{"batches": 0, "inserts": 0}}
early = PublishAhead()

def die():
    print("ahead", early.written, "inserts", seen["inserts"], flush=True)
    crashdriver._die()

def hook(where):
    if where == "during-extract":
        seen["batches"] += 1
        if point == where and seen["batches"] == kill_batch:
            die()
    elif where == point:
        die()

def after(conn, cursor, statement, *a):
    if point == "ahead-written" and statement.lstrip().upper().startswith("INSERT INTO SOURCE_ROWS"):
        seen["inserts"] += 1
        if seen["inserts"] == kill_batch:
            die()
sa.event.listen(store.engine_for(settings), "after_cursor_execute", after)
print("pid", os.getpid(), flush=True)
with early:
    load_id = pipeline.extract_and_stage(crashdriver.CONTRACT, settings, crash_hook=hook, early=early)
    pipeline.check_load(load_id, settings, crash_hook=hook, early=early)
    pipeline.publish_load(load_id, settings, crash_hook=hook, early=early)
print("point", point, "was never reached", flush=True)
sys.exit(crashdriver.NOT_KILLED)
"""

_REFERENCES: dict[tuple[str, int], dict] = {}


def _reference(tmp_path, store_url, monkeypatch, seed: int) -> dict:
    """The store after an uninterrupted first load (seed's phase 1), built once per engine."""
    kind = "sqlite" if store_url.startswith("sqlite") else "postgres"
    if (kind, seed) not in _REFERENCES:
        base, src = _workspace(tmp_path, f"ref{seed}", seed)
        url = f"sqlite:///{base / 'ref.db'}" if kind == "sqlite" else _fresh_pg(store_url)
        try:
            monkeypatch.setenv("MUNIHUB_TEST_SRC", str(src))
            settings = crashdriver.settings_for(url, base / "contracts", base / "home")
            pipeline.sync_source(crashdriver.CONTRACT, settings)
            _REFERENCES[kind, seed] = crashdriver.dump(store.engine_for(settings))
        finally:
            store.engines._engine(url).dispose()
            if kind == "postgres":
                _drop_pg(url)
    return _REFERENCES[kind, seed]


@pytest.mark.parametrize("point,seed", CASES)
def test_kill_during_a_first_load_then_rerun_equals_uninterrupted(tmp_path, store_url, monkeypatch, point, seed):
    postgres = store_url.startswith("postgresql")
    if point == "ahead-written" and not postgres:
        pytest.skip("SQLite writes nothing ahead")
    expected = _reference(tmp_path, store_url, monkeypatch, seed)
    base, src = _workspace(tmp_path, f"run{seed}{point}", seed)
    url = store_url if not store_url.startswith("sqlite") else f"sqlite:///{base / 'store.db'}"
    settings = crashdriver.settings_for(url, base / "contracts", base / "home")
    engine = store.open_store(url)
    child = subprocess.run(
        [sys.executable, "-c", DRIVER.format(here=str(HERE)), url, str(base / "contracts"), str(base / "home"),
         str(src), point, str(seed)], capture_output=True, text=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, f"not killed at {point}: rc={child.returncode}\n{child.stderr[-2000:]}"
    said = child.stdout.split()
    ahead, inserts = int(said[said.index("ahead") + 1]), int(said[said.index("inserts") + 1])
    if point == "ahead-written":
        assert inserts >= 1  # killed with a batch just inserted into source_rows, uncommitted
    elif postgres and point != "during-extract":
        assert ahead > 0  # the kill found the load's rows written ahead
    else:
        assert postgres or ahead == 0  # SQLite never writes ahead

    crashed = crashdriver.dump(engine)
    if point == "after-publish":
        assert (crashed["rows"], crashed["cursors"]) == (expected["rows"], expected["cursors"])
    else:
        assert (crashed["rows"], crashed["cursors"]) == ([], []), f"half a first load is visible after a kill at {point}"

    monkeypatch.setenv("MUNIHUB_TEST_SRC", str(src))
    pipeline.sync_source(crashdriver.CONTRACT, settings)  # takes the dead run's lease over
    got = crashdriver.dump(engine)
    for part in ("rows", "cursors", "quarantine"):
        assert got[part] == expected[part], f"{part} differs after a kill at {point} (seed {seed})"
    assert got["unfinished_loads"] == 0
