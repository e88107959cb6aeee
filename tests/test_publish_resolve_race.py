"""A publish that commits while resolution runs is resolved by the next run, on every engine.

Incremental resolution reads the rows stamped at or after its last mark.  A publish that
stamped its rows, then committed only after a resolution run had read a newer mark (set by
another source that published meanwhile), used to be skipped by every later incremental run:
its rows never reached an entity until a full rebuild.
"""
from __future__ import annotations

import shutil
import sqlite3
import threading

import sqlalchemy as sa

from munihub import pipeline, store
from munihub.config import REPO_ROOT, Settings
from munihub.resolve import resolve_all

from test_pipeline import DATA, ROWS

SOURCES = ("testreg.citizens", "testreg.citizens_p", "testreg.citizens_q")


def _settings(tmp_path, store_url, monkeypatch) -> Settings:
    src = tmp_path / "src.db"
    with sqlite3.connect(src) as db:
        db.execute("CREATE TABLE citizens (id INTEGER PRIMARY KEY, code_melli TEXT, fname TEXT, lname TEXT, "
                   "birth TEXT, mobile TEXT, updated_at TEXT)")
        db.executemany("INSERT INTO citizens VALUES (?,?,?,?,?,?,?)", ROWS)
    folder = tmp_path / "contracts" / "testreg"
    folder.mkdir(parents=True)
    text = (DATA / "citizens.yaml").read_text(encoding="utf-8")
    for source in SOURCES:  # three subsystems reading the same table
        (folder / f"{source}.yaml").write_text(text.replace("id: testreg.citizens", f"id: {source}", 1),
                                               encoding="utf-8")
    monkeypatch.setenv("MUNIHUB_TEST_SRC", str(src))
    return Settings(home=tmp_path / "home", store_url=store_url, contracts_dir=tmp_path / "contracts",
                    schemas_dir=REPO_ROOT / "schemas", batch_size=2)


def _staged(source: str, settings: Settings) -> str:
    load_id = pipeline.extract_and_stage(source, settings)
    pipeline.check_load(load_id, settings)
    return load_id


def test_a_publish_committed_during_a_resolution_run_is_resolved_next_run(tmp_path, store_url, monkeypatch):
    settings = _settings(tmp_path, store_url, monkeypatch)
    engine = pipeline.engine_for(settings)
    pipeline.sync_source(SOURCES[0], settings)
    assert resolve_all(engine)["mode"] == "full"
    slow, fast = _staged(SOURCES[1], settings), _staged(SOURCES[2], settings)

    stamped, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold(where: str) -> None:  # the slow publish pauses once its rows carry their stamp
        if where == "stamped":
            stamped.set()
            assert release.wait(60)

    def run(fn, *args, **kw):
        def body():
            try:
                fn(*args, **kw)
            except BaseException as exc:  # noqa: BLE001 (reported below)
                errors.append(exc)
        thread = threading.Thread(target=body, daemon=True)
        thread.start()
        return thread

    threads = [run(pipeline.publish_load, slow, settings, crash_hook=hold)]
    assert stamped.wait(30), "the slow publish never reached its stamp"
    threads.append(run(pipeline.publish_load, fast, settings))   # another source publishes meanwhile
    threads[-1].join(3)
    threads.append(run(resolve_all, engine))                     # and resolution runs meanwhile
    threads[-1].join(3)
    release.set()
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive()
    assert not errors, errors

    assert resolve_all(engine)["mode"] == "incremental"
    with engine.connect() as conn:
        published = {f"{s}|{k}" for s, k in conn.execute(sa.select(store.source_rows.c.source,
                                                                   store.source_rows.c.source_key))}
        resolved = set(conn.execute(sa.select(store.match_features.c.ref)).scalars())
        members = {f"{s}|{k}" for s, k in conn.execute(sa.select(store.entity_members.c.source,
                                                                 store.entity_members.c.source_key))}
    assert {r.split("|")[0] for r in published} == set(SOURCES)
    assert published - resolved == set()
    assert published - members == set()
