"""The blocking index kept in the store: incremental runs that read only the neighbourhood of
their new records store exactly what a full rebuild stores, round after round.

Every stored table of resolution is compared (entities with golden records and lineage,
members, open review pairs, features and the keys themselves), on SQLite and PostgreSQL,
with changed records (a renamed person moves blocks and first-name counts), giant blocks
(a tiny `max_block`) and a steward decision in between.
"""
from __future__ import annotations

import datetime as dt
import random

import pytest
import sqlalchemy as sa

from munihub.resolve import blocking as blocking_store, clustering, match
from munihub import store
from munihub.resolve.run import _assign, resolve_all
from test_resolve import T0, publish, rows

TIMES = {"updated_at", "assigned_at", "created_at", "id"}


def dump(engine) -> dict[str, list]:
    """Every resolution table as sorted rows, without timestamps and surrogate ids."""
    out = {}
    with engine.connect() as conn:
        for table in (store.entities, store.entity_members, store.review_queue, store.match_features,
                      store.match_keys):
            cols = [c for c in table.c if c.name not in TIMES]
            out[table.name] = sorted(repr(tuple(r)) for r in conn.execute(sa.select(*cols)))
    return out


def renamed(row: dict, rng: random.Random) -> dict:
    rec = dict(row["record"])
    rec["first_name"] = rng.choice(["زهرا", "محمد", "علی", "فاطمه"])
    return {**row, "record": rec}


@pytest.mark.parametrize("max_block", [60, 3])
def test_incremental_rounds_store_what_a_full_rebuild_stores(store_url, max_block):
    rng = random.Random(max_block)
    settings = {"person": {"max_block": max_block}}
    data = rows(90, seed=11)
    rng.shuffle(data)
    batches = [data[:len(data) // 2], data[len(data) // 2:len(data) * 3 // 4], data[len(data) * 3 // 4:]]
    engine = store.open_store(store_url)
    publish(engine, batches[0], T0, "L0")
    assert resolve_all(engine, match_settings=settings)["mode"] == "full"
    for i, batch in enumerate(batches[1:], start=1):
        people = [r for r in batches[0] if r["entity_type"] == "person"]
        changed = [renamed(r, rng) for r in rng.sample(people, 5)]
        publish(engine, batch + changed, T0 + dt.timedelta(hours=i), f"L{i}")
        if i == 2:  # a steward splits a pair the matcher joined
            m = store.entity_members
            with engine.connect() as conn:
                got = conn.execute(sa.select(m.c.source, m.c.source_key, m.c.entity_id)
                                   .order_by(m.c.entity_id, m.c.source, m.c.source_key)).all()
            pair = next((a, b) for a, b in zip(got, got[1:]) if a[2] == b[2])
            with engine.begin() as conn:
                left, right = sorted(f"{r[0]}|{r[1]}" for r in pair)
                conn.execute(store.match_decisions.insert().values(
                    left_ref=left, right_ref=right, decision="no-match", decided_by="tester",
                    decided_at=dt.datetime.now(dt.timezone.utc), note="test"))
        inc = resolve_all(engine, match_settings=settings)
        assert inc["mode"] == "incremental" and inc["changed_records"] >= len(batch)
        after_incremental = dump(engine)
        assert after_incremental["match_keys"], "keys are written"
        resolve_all(engine, full=True, match_settings=settings)
        assert dump(engine) == after_incremental
    engine.dispose()


def test_counted_keys_equal_the_feature_counts(tmp_path):
    """The stored count keys say how often each first name occurs, as the in-memory index does."""
    engine = store.open_store(f"sqlite:///{tmp_path / 's.db'}")
    publish(engine, rows(40, seed=2), T0, "L1")
    resolve_all(engine)
    conf = match.settings_for("person")
    with engine.connect() as conn:
        feats = dict(conn.execute(sa.select(store.match_features.c.ref, store.match_features.c.features)
                                  .where(store.match_features.c.entity_type == "person")).all())
        hood = blocking_store.Neighbourhood(conn, "person", conf, {}, {})
        hood.fetch(set(feats), True)
    expected = match.index_from_features(feats, {}, conf)["counts"]["first_key"]
    assert {k: v for k, v in hood.slot["counts"]["first_key"].items()} == \
        {k: v for k, v in expected.items() if k}
    assert hood.slot["features"] == feats


def test_a_new_id_held_outside_the_region_is_not_reused(tmp_path):
    engine = store.open_store(f"sqlite:///{tmp_path / 's.db'}")
    taken = clustering.new_entity_id("person", "x|1")
    with engine.begin() as conn:
        conn.execute(store.entities.insert().values(entity_id=taken, entity_type="person", golden={},
                                                    lineage={}, member_count=1, updated_at=T0))
    with engine.connect() as conn:
        ids = _assign(conn, {"x|1": "x|1", "x|2": "x|1"}, {}, "person")
    assert set(ids.values()) == {clustering.new_entity_id("person", "x|1", salt=1)}


def test_a_store_resolved_before_the_index_existed_runs_in_full_once(tmp_path):
    engine = store.open_store(f"sqlite:///{tmp_path / 's.db'}")
    publish(engine, rows(20), T0, "L1")
    resolve_all(engine)
    with engine.begin() as conn:  # as a run before migration 0004 left it
        conn.execute(store.match_keys.delete())
        conn.execute(store.resolution_runs.update().values(summary={"mode": "full"}))
    publish(engine, rows(30)[-3:], T0 + dt.timedelta(hours=1), "L2")
    assert resolve_all(engine)["mode"] == "full"
    assert resolve_all(engine)["mode"] == "incremental"
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(store.match_keys)).scalar() > 0


@pytest.mark.parametrize("max_block", [60, 2])
def test_neighbourhood_equals_the_in_memory_index_after_changes(tmp_path, max_block):
    """Blocks, features and counts loaded from the store for new and changed records are the
    ones the in-memory index holds once those records are added to it."""
    rng = random.Random(7)
    settings = {"person": {"max_block": max_block}}
    conf = match.settings_for("person", settings)
    data = [r for r in rows(80, seed=4) if r["entity_type"] == "person"]
    engine = store.open_store(f"sqlite:///{tmp_path / 's.db'}")
    publish(engine, data[:-20], T0, "L1")
    resolve_all(engine, match_settings=settings)
    changed = [renamed(r, rng) for r in rng.sample(data[:-20], 8)]
    new = [{"ref": f"{r['source']}|{r['source_key']}", "source": r["source"], "entity_type": "person",
            "fields": r["record"]} for r in data[-20:] + changed]
    new_feats = {r["ref"]: match.features(r, settings) for r in new}
    with engine.connect() as conn:
        stored = dict(conn.execute(sa.select(store.match_features.c.ref, store.match_features.c.features)
                                   .where(store.match_features.c.entity_type == "person")).all())
        old = blocking_store.stored_features(conn, "person", list(new_feats))
        assert old, "some records changed"
        hood = blocking_store.Neighbourhood(conn, "person", conf, new_feats, old)
        hood.fetch(set(new_feats), True)
    memory = match.index_from_features(dict(stored), {r: r.split("|")[0] for r in stored}, conf)
    match.build_index(new, settings, {"person": memory})
    limit, checked = conf["max_block"], 0
    for key, block in hood.slot["blocks"].items():
        expected = memory["blocks"].get(key, [])
        if len(expected) > limit or len(block) > limit:
            assert len(expected) > limit and len(block) > limit, key
        else:
            assert sorted(block) == sorted(expected), key
            checked += 1
    assert checked
    for ref, feats in hood.slot["features"].items():
        assert feats == memory["features"][ref]
    for value, n in hood.slot["counts"]["first_key"].items():
        assert n == memory["counts"]["first_key"][value], value
    assert {f["first_key"] for f in new_feats.values() if f.get("first_key")} <= set(hood.slot["counts"]["first_key"])
