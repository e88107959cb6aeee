"""Crash consistency: a run SIGKILLed at any point, then re-run, equals a run never interrupted.

Each case: phase 1 (120 rows) is synced and consolidated in this process; phase 2 (180 new
rows, 30 updated) is synced by `crashdriver.py` in a child process that kills itself at the
point; the child's lease must be taken over (its pid is dead); then sync + consolidate run
again.  The canonical dump (rows + hashes, cursors, entities + members, quarantine by
position, unfinished loads) must equal the uninterrupted reference, on SQLite and PostgreSQL.
"""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

import crashdriver
from munihub import pipeline, store

HERE = Path(__file__).parent
# Seeds pick the data and, for the two seeded points, where the kill lands; CI runs three
# seeds there and one at the fixed points, the nightly (slow) run 20 seeds everywhere.
SEEDED = ("during-extract", "during-resolution")
CI_CASES = [(p, s) for p in crashdriver.POINTS for s in ([1, 2, 3] if p in SEEDED else [1])]
NIGHTLY_SEEDS = list(range(4, 21))


def _switch_to_record_id(base: Path) -> None:
    """The registry's contract starts naming its row id as the record id (issue 15)."""
    path = base / "contracts" / "testreg" / "citizens.yaml"
    text = path.read_text(encoding="utf-8")
    old = "      - property: sharedSchema\n        value: person\n"
    assert old in text
    path.write_text(text.replace(old, old + "      - property: recordId\n        value: id\n"), encoding="utf-8")


def _workspace(tmp_path: Path, name: str, seed: int) -> tuple[Path, Path]:
    base = tmp_path / name
    contracts = base / "contracts" / "testreg"
    contracts.mkdir(parents=True)
    shutil.copy(HERE.parent / "data" / "core" / "citizens.yaml", contracts / "citizens.yaml")
    src = base / "src.db"
    crashdriver.make_source(src, seed, phase=1)
    return base, src


def _phase1(settings, src, monkeypatch) -> None:
    monkeypatch.setenv("MUNIHUB_TEST_SRC", str(src))
    pipeline.sync_source(crashdriver.CONTRACT, settings)
    pipeline.consolidate(settings)


def _fresh_pg(pg_url: str) -> str:
    """A second throwaway database on the same server (the reference run needs its own store)."""
    import uuid
    url = sa.engine.make_url(pg_url)
    name = f"{url.database}_ref_{uuid.uuid4().hex[:4]}"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _drop_pg(url: str) -> None:
    url = sa.engine.make_url(url)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


_REFERENCES: dict[tuple[str, int, bool], tuple[dict, dict]] = {}


@pytest.fixture
def reference(tmp_path, store_url, monkeypatch):
    """Uninterrupted dumps by seed (phase 1 + consolidate, phase 2 + consolidate), built once per engine."""
    kind = "sqlite" if store_url.startswith("sqlite") else "postgres"

    def build(seed: int, switch: bool = False) -> tuple[dict, dict]:
        if (kind, seed, switch) in _REFERENCES:
            return _REFERENCES[kind, seed, switch]
        base, src = _workspace(tmp_path, f"ref{seed}{switch}", seed)
        url = f"sqlite:///{base / 'ref.db'}" if kind == "sqlite" else _fresh_pg(store_url)
        try:
            settings = crashdriver.settings_for(url, base / "contracts", base / "home")
            _phase1(settings, src, monkeypatch)
            after1 = crashdriver.dump(store.engine_for(settings))
            if switch:
                _switch_to_record_id(base)
            crashdriver.make_source(src, seed, phase=2)
            pipeline.sync_source(crashdriver.CONTRACT, settings)
            pipeline.consolidate(settings)
            _REFERENCES[kind, seed, switch] = (after1, crashdriver.dump(store.engine_for(settings)))
        finally:
            store.engines._engine(url).dispose()
            if kind == "postgres":
                _drop_pg(url)
        return _REFERENCES[kind, seed, switch]

    return build


def _kill_and_rerun(tmp_path, store_url, monkeypatch, reference, point: str, seed: int, switch: bool = False) -> None:
    after1, expected = reference(seed, switch)
    base, src = _workspace(tmp_path, f"run{seed}{point}", seed)
    url = store_url if not store_url.startswith("sqlite") else f"sqlite:///{base / 'store.db'}"
    settings = crashdriver.settings_for(url, base / "contracts", base / "home")
    _phase1(settings, src, monkeypatch)
    engine = store.engine_for(settings)
    assert crashdriver.dump(engine) == after1
    if switch:
        _switch_to_record_id(base)
    crashdriver.make_source(src, seed, phase=2)

    child = subprocess.run(
        [sys.executable, str(HERE / "crashdriver.py"), "--store", url, "--contracts", str(base / "contracts"),
         "--src", str(src), "--home", str(base / "home"), "--kill-at", point, "--seed", str(seed)],
        capture_output=True, text=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, f"not killed at {point}: rc={child.returncode}\n{child.stderr[-2000:]}"
    pid = int(child.stdout.split()[1])

    # Right after the kill: the published state is all-or-nothing, never in between.
    crashed = crashdriver.dump(engine)
    published = (crashed["rows"], crashed["cursors"])
    if point == "after-publish" or point == "during-resolution":
        assert published == (expected["rows"], expected["cursors"]), "a committed publish was lost"
    else:
        assert published == (after1["rows"], after1["cursors"]), f"half a load is visible after a kill at {point}"
    # Entities are rewritten in one transaction: a kill inside it leaves phase 1's entities.
    if switch and point == "after-publish":  # the committed publish took the members to their new keys
        assert crashed["entities"] == after1["entities"]
        assert sorted(m[-1] for m in crashed["members"]) == sorted(m[-1] for m in after1["members"])
        assert crashed["members"] != after1["members"]
    else:
        assert (crashed["entities"], crashed["members"]) == (after1["entities"], after1["members"])
    with engine.connect() as conn:
        holder = conn.execute(sa.select(store.leases.c.holder)
                              .where(store.leases.c.source == crashdriver.CONTRACT)).scalar()
    if point != "during-resolution":  # the dead run still holds the lease ...
        assert holder is not None and holder.endswith(f":{pid}")

    pipeline.sync_source(crashdriver.CONTRACT, settings)  # ... and a new run takes it over
    pipeline.consolidate(settings)
    got = crashdriver.dump(engine)
    for part in expected:
        assert got[part] == expected[part], f"{part} differs after a kill at {point} (seed {seed})"
    assert got["unfinished_loads"] == 0
    _assert_cursor_not_ahead(engine, src)


def _assert_cursor_not_ahead(engine, src: Path) -> None:
    """Every source row at or before the cursor is published or quarantined: nothing skipped."""
    import sqlite3
    with engine.connect() as conn:
        cursor = conn.execute(sa.select(store.cursors.c.cursor)).scalar()
        keys = set(conn.execute(sa.select(store.source_rows.c.source_key)).scalars())
        # quarantine positions are per load ("batch 1 #2"); the raw payload carries the source id
        quarantined = {raw.get("id") for raw in conn.execute(sa.select(store.quarantine.c.raw)).scalars()}
    since = next(v for k, v in cursor.items() if isinstance(v, str) and v.startswith("20")) \
        if isinstance(cursor, dict) else None
    with sqlite3.connect(src) as db:
        rows = db.execute("SELECT id, code_melli, updated_at FROM citizens").fetchall()
    for rid, nid, stamp in rows:
        if since is None or stamp <= since:
            assert nid in keys or str(rid) in keys or rid in quarantined, f"row id={rid} at or before the cursor is lost"


@pytest.mark.parametrize("point,seed", CI_CASES)
def test_kill_then_rerun_equals_uninterrupted(tmp_path, store_url, monkeypatch, reference, point, seed):
    _kill_and_rerun(tmp_path, store_url, monkeypatch, reference, point, seed)


@pytest.mark.parametrize("point", ["after-rekey", "inside-publish", "after-publish"])
def test_kill_while_rows_move_to_their_record_id_then_rerun_equals_uninterrupted(tmp_path, store_url, monkeypatch,
                                                                                 reference, point):
    """Phase 2 runs after the contract names its record id: the rows it reads again move from
    their national-id keys inside the publish; a kill there leaves them all where they were."""
    _kill_and_rerun(tmp_path, store_url, monkeypatch, reference, point, 1, switch=True)


@pytest.mark.nightly
@pytest.mark.parametrize("seed", [2, 3] + NIGHTLY_SEEDS)
@pytest.mark.parametrize("point", crashdriver.POINTS)
def test_kill_then_rerun_more_seeds(tmp_path, store_url, monkeypatch, reference, point, seed):
    _kill_and_rerun(tmp_path, store_url, monkeypatch, reference, point, seed)


def test_a_live_holder_still_blocks(tmp_path, monkeypatch):
    """The dead-pid takeover must not let a second run past a *live* holder."""
    from munihub.errors import ConcurrentRunError
    base, src = _workspace(tmp_path, "live", 1)
    settings = crashdriver.settings_for(f"sqlite:///{base / 's.db'}", base / "contracts", base / "home")
    monkeypatch.setenv("MUNIHUB_TEST_SRC", str(src))
    load_id = pipeline.extract_and_stage(crashdriver.CONTRACT, settings)
    with pytest.raises(ConcurrentRunError, match="in progress"):
        pipeline.extract_and_stage(crashdriver.CONTRACT, settings)
    pipeline.check_load(load_id, settings)
    assert pipeline.publish_load(load_id, settings)["rows_new"] > 0
