"""A publish (or a steward decision) that commits while resolution runs is taken up by the
next run, on every engine.

Incremental resolution reads the rows stamped at or after its last mark.  A publish that
stamped its rows, then committed only after a resolution run had read a newer mark (set by
another source that published meanwhile), used to be skipped by every later incremental run:
its rows never reached an entity until a full rebuild.
"""
from __future__ import annotations

import sqlite3
import threading

import sqlalchemy as sa

from munihub import marks, pipeline, review, store
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


def _runner(errors: list):
    def run(fn, *args, thread_name: str | None = None, **kw):
        def body():
            try:
                fn(*args, **kw)
            except BaseException as exc:  # noqa: BLE001 (reported by the test)
                errors.append(exc)
        thread = threading.Thread(target=body, name=thread_name, daemon=True)
        thread.start()
        return thread
    return run


def test_a_publish_committed_during_a_resolution_run_is_resolved_next_run(tmp_path, store_url, monkeypatch):
    settings = _settings(tmp_path, store_url, monkeypatch)
    engine = pipeline.engine_for(settings)
    pipeline.sync_source(SOURCES[0], settings)
    assert resolve_all(engine)["mode"] == "full"
    slow, fast = _staged(SOURCES[1], settings), _staged(SOURCES[2], settings)

    stamped, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []
    run = _runner(errors)

    def hold(where: str) -> None:  # the slow publish pauses once its rows carry their stamp
        if where == "stamped":
            stamped.set()
            assert release.wait(60)

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


def test_a_decision_committed_during_a_resolution_run_is_applied_next_run(tmp_path, store_url, monkeypatch):
    """Steward decisions seed the next run from their own mark; a "match" stamped before a
    run read a newer decision mark, but committed after, must still merge its pair."""
    settings = _settings(tmp_path, store_url, monkeypatch)
    engine = pipeline.engine_for(settings)
    pipeline.sync_source(SOURCES[0], settings)
    resolve_all(engine)
    with engine.connect() as conn:
        refs = sorted(conn.execute(sa.select(store.match_features.c.ref)).scalars())
        entity = dict(conn.execute(sa.select(store.entity_members.c.source + "|" + store.entity_members.c.source_key,
                                             store.entity_members.c.entity_id)).all())
    assert len(refs) == 4 and len({entity[r] for r in refs}) == 4  # four different citizens
    slow_pair, fast_pair = refs[:2], refs[2:]

    stamped, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []
    run = _runner(errors)
    real_stamp = marks.stamp

    def held_stamp(conn, table):  # the slow decision pauses once it carries its stamp
        now = real_stamp(conn, table)
        if threading.current_thread().name == "slow":
            stamped.set()
            assert release.wait(60)
        return now

    monkeypatch.setattr(marks, "stamp", held_stamp)
    threads = [run(review.decide, engine, *slow_pair, "match", by="steward-1", why="same person, new address",
                   thread_name="slow")]
    assert stamped.wait(30), "the slow decision never reached its stamp"
    threads.append(run(review.decide, engine, *fast_pair, "match", by="steward-2", why="same person"))
    threads[-1].join(3)
    threads.append(run(resolve_all, engine))
    threads[-1].join(3)
    release.set()
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive()
    assert not errors, errors

    assert resolve_all(engine)["mode"] == "incremental"
    with engine.connect() as conn:
        entity = dict(conn.execute(sa.select(store.entity_members.c.source + "|" + store.entity_members.c.source_key,
                                             store.entity_members.c.entity_id)).all())
    assert entity[fast_pair[0]] == entity[fast_pair[1]]
    assert entity[slow_pair[0]] == entity[slow_pair[1]]
