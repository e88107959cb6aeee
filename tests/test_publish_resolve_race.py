"""A publish (or a steward decision) that commits while resolution runs is taken up by the
next run, on every engine.

Incremental resolution reads the rows stamped at or after its last mark.  A publish that
stamped its rows, then committed only after a resolution run had read a newer mark (set by
another source that published meanwhile), used to be skipped by every later incremental run:
its rows never reached an entity until a full rebuild.
"""
from __future__ import annotations

import threading

import sqlalchemy as sa

from munihub.store import marks
from munihub import pipeline, store
from munihub.resolve import review
from munihub.config import REPO_ROOT, Settings
from munihub.resolve.run import resolve_all

from test_pipeline import DATA, citizens_source

SOURCES = ("testreg.citizens", "testreg.citizens_p", "testreg.citizens_q")


def _settings(tmp_path, store_url, monkeypatch) -> Settings:
    src = citizens_source(tmp_path / "src.db")
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


def _race(monkeypatch, engine, slow, fast) -> None:
    """Run `slow` (a publish or a decision) until it has stamped its rows; meanwhile `fast`
    commits and a resolution run starts; then let `slow` commit and wait for all three."""
    stamped, release = threading.Event(), threading.Event()
    real_stamp = marks.stamp

    def held_stamp(conn, table):
        now = real_stamp(conn, table)
        if threading.current_thread().name == "slow":
            stamped.set()
            assert release.wait(60)
        return now

    monkeypatch.setattr(marks, "stamp", held_stamp)
    errors: list[BaseException] = []

    def start(fn, name=None) -> threading.Thread:
        def body():
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 (reported below)
                errors.append(exc)
        thread = threading.Thread(target=body, name=name, daemon=True)
        thread.start()
        return thread

    threads = [start(slow, "slow")]
    assert stamped.wait(30), "the slow writer never reached its stamp"
    for fn in (fast, lambda: resolve_all(engine)):
        threads.append(start(fn))
        threads[-1].join(3)  # on PostgreSQL resolution waits here for the slow writer
    release.set()
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive()
    assert not errors, errors


def _entity_of(engine) -> dict[str, str]:
    m = store.entity_members
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(m.c.source + "|" + m.c.source_key, m.c.entity_id)).all())


def test_a_publish_committed_during_a_resolution_run_is_resolved_next_run(tmp_path, store_url, monkeypatch):
    settings = _settings(tmp_path, store_url, monkeypatch)
    engine = store.engine_for(settings)
    pipeline.sync_source(SOURCES[0], settings)
    assert resolve_all(engine)["mode"] == "full"
    slow, fast = _staged(SOURCES[1], settings), _staged(SOURCES[2], settings)

    _race(monkeypatch, engine, lambda: pipeline.publish_load(slow, settings),
          lambda: pipeline.publish_load(fast, settings))   # another source publishes meanwhile

    assert resolve_all(engine)["mode"] == "incremental"
    with engine.connect() as conn:
        published = {f"{s}|{k}" for s, k in conn.execute(sa.select(store.source_rows.c.source,
                                                                   store.source_rows.c.source_key))}
        resolved = set(conn.execute(sa.select(store.match_features.c.ref)).scalars())
    assert {r.split("|")[0] for r in published} == set(SOURCES)
    assert published - resolved == set()
    assert published - set(_entity_of(engine)) == set()


def test_a_decision_committed_during_a_resolution_run_is_applied_next_run(tmp_path, store_url, monkeypatch):
    """Steward decisions seed the next run from their own mark; a "match" stamped before a
    run read a newer decision mark, but committed after, must still merge its pair."""
    settings = _settings(tmp_path, store_url, monkeypatch)
    engine = store.engine_for(settings)
    pipeline.sync_source(SOURCES[0], settings)
    resolve_all(engine)
    with engine.connect() as conn:
        # the published rows (the citizen of the row quarantined for its id's check digit aside)
        refs = sorted(r for r in conn.execute(sa.select(store.match_features.c.ref)).scalars() if "#copy-" not in r)
    entity = _entity_of(engine)
    assert len(refs) == 4 and len({entity[r] for r in refs}) == 4  # four different citizens
    slow_pair, fast_pair = refs[:2], refs[2:]

    _race(monkeypatch, engine,
          lambda: review.decide(engine, *slow_pair, "match", by="steward-1", why="same person, new address"),
          lambda: review.decide(engine, *fast_pair, "match", by="steward-2", why="same person"))

    assert resolve_all(engine)["mode"] == "incremental"
    entity = _entity_of(engine)
    assert entity[fast_pair[0]] == entity[fast_pair[1]]
    assert entity[slow_pair[0]] == entity[slow_pair[1]]
