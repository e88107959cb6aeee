"""Incremental resolution in a real store: equals a full rebuild, keeps ids, honours stewards."""
from __future__ import annotations

import datetime as dt
import random

import pytest
import sqlalchemy as sa

from munihub import store
from munihub.testing import synthetic as syn
from munihub.persian.transforms import TRANSFORMS
from munihub.resolve.run import resolve_all

KINDS = {"national_id": "national_id", "first_name": "person_name", "last_name": "person_name",
         "father_name": "person_name", "gender": "gender", "birth_date": "date", "mobile": "mobile",
         "postal_code": "postal_code"}
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def normalized(rec: dict) -> dict:
    """A noisy synthetic record as publish would store it (the contracts' transforms)."""
    out = {}
    for key, value in rec.items():
        if value not in (None, ""):
            try:
                out[key] = TRANSFORMS[KINDS.get(key, "text")](value)
            except ValueError:
                pass
    return out


def rows(n: int = 60, seed: int = 5) -> list[dict]:
    """Person rows in two sources and payments naming their payer, from `n` true people."""
    rng = random.Random(seed)
    people = syn.make_people(n, seed)
    people += syn.make_hard_negatives(people, seed, n // 6)
    out = []
    for i, p in enumerate(people):
        for source in ("registry.citizens", "health.patients"):
            if source == "registry.citizens" or rng.random() < 0.6:
                out.append({"source": source, "source_key": f"{p.person_id}", "entity_type": "person",
                            "record": normalized(syn.noisy_copy(p, rng)[0])})
        if rng.random() < 0.5:
            rec = normalized(syn.noisy_copy(p, rng)[0])
            out.append({"source": "finance.payments", "source_key": f"PAY{i}", "entity_type": "payment",
                        "record": {"payment_id": f"PAY{i}", "payer_name": f"{rec['first_name']} {rec['last_name']}",
                                   **{k: rec[k] for k in ("national_id", "mobile") if k in rec},
                                   "amount_rial": 1000 * i}})
    return out


def publish(engine, batch: list[dict], when: dt.datetime, load_id: str) -> None:
    """Upsert rows into source_rows as publish does (hash, load id, updated_at)."""
    t = store.source_rows
    with engine.begin() as conn:
        for r in batch:
            conn.execute(t.delete().where(t.c.source == r["source"], t.c.source_key == r["source_key"]))
            conn.execute(t.insert().values(**r, record_hash=store.record_hash(r["record"]),
                                           first_load_id=load_id, load_id=load_id, updated_at=when))


def members(engine) -> dict[str, str]:
    m = store.entity_members
    with engine.connect() as conn:
        return {f"{s}|{k}": e for s, k, e in conn.execute(sa.select(m.c.source, m.c.source_key, m.c.entity_id))}


def partition(assigned: dict[str, str]) -> set[frozenset]:
    groups: dict[str, set] = {}
    for ref, eid in assigned.items():
        groups.setdefault(eid, set()).add(ref)
    return {frozenset(g) for g in groups.values()}


def test_incremental_equals_full_rebuild_and_keeps_ids(store_url, tmp_path):
    data = rows()
    first, second = data[: len(data) * 2 // 3], data[len(data) * 2 // 3:]
    changed = dict(first[0], record={**first[0]["record"], "mobile": "+989150000001"})
    engine = store.open_store(store_url)
    publish(engine, first, T0, "L1")
    assert resolve_all(engine)["mode"] == "full"
    before = members(engine)
    publish(engine, second + [changed], T0 + dt.timedelta(hours=1), "L2")
    inc = resolve_all(engine)
    assert inc["mode"] == "incremental"
    assert inc["changed_records"] == len(second) + sum(r["entity_type"] == "payment" for r in second) + 1
    after = members(engine)
    # every record resolved before keeps its entity id: an incremental run only adds
    moved = {ref: (before[ref], after.get(ref)) for ref in before if after.get(ref) != before[ref]}
    assert moved == {}
    full = resolve_all(engine, full=True)
    assert full["mode"] == "full"
    assert members(engine) == after  # a full rebuild gives the very same ids
    assert full["types"] == inc["types"]

    fresh = store.open_store(f"sqlite:///{tmp_path / 'fresh.db'}")
    publish(fresh, first[1:] + [changed] + second, T0, "L1")
    resolve_all(fresh)
    assert partition(members(fresh)) == partition(after)  # same clusters as resolving all at once


def test_nothing_changed_resolves_nothing(tmp_path):
    engine = store.open_store(f"sqlite:///{tmp_path / 's.db'}")
    publish(engine, rows(20), T0, "L1")
    resolve_all(engine)
    before = members(engine)
    again = resolve_all(engine)
    assert again["changed_records"] == 0 and again["region_records"] == 0
    assert members(engine) == before


def _decide(engine, left: str, right: str, verdict: str) -> None:
    with engine.begin() as conn:
        conn.execute(store.match_decisions.insert().values(
            left_ref=min(left, right), right_ref=max(left, right), decision=verdict,
            decided_by="tester", decided_at=dt.datetime.now(dt.timezone.utc), note="test"))


def test_steward_decisions_hold_across_incremental_and_full_runs(tmp_path):
    engine = store.open_store(f"sqlite:///{tmp_path / 's.db'}")
    data = rows(40)
    publish(engine, data[:60], T0, "L1")
    resolve_all(engine)
    assigned = members(engine)
    left = next(r for r in sorted(assigned) if r.startswith("registry.") and
                f"health.patients|{r.split('|')[1]}" in assigned and
                assigned[f"health.patients|{r.split('|')[1]}"] == assigned[r])
    right = f"health.patients|{left.split('|')[1]}"
    loner_a, loner_b = "registry.citizens|P0000001", "registry.citizens|P0000002"
    assert assigned[loner_a] != assigned[loner_b]
    _decide(engine, left, right, "no-match")
    _decide(engine, loner_a, loner_b, "match")
    resolve_all(engine)
    split = members(engine)
    assert split[left] != split[right]
    assert split[loner_a] == split[loner_b]
    publish(engine, data[60:], T0 + dt.timedelta(hours=2), "L2")
    for kw in ({}, {"full": True}):
        assert resolve_all(engine, **kw)["mode"] == ("full" if kw else "incremental")
        now = members(engine)
        assert now[left] != now[right] and now[loner_a] == now[loner_b]


@pytest.mark.postgres
def test_postgres_incremental_run_on_real_server(pg_url):
    engine = store.open_store(pg_url)
    data = rows(30)
    publish(engine, data[:40], T0, "L1")
    resolve_all(engine)
    publish(engine, data[40:], T0 + dt.timedelta(minutes=5), "L2")
    inc = members(engine) if resolve_all(engine)["mode"] == "incremental" else None
    resolve_all(engine, full=True)
    assert inc == members(engine)
    engine.dispose()


@pytest.mark.postgres
def test_same_data_gives_the_same_model_and_clusters_on_sqlite_and_postgres(pg_url, tmp_path):
    """A trained model (EM, term frequencies) and its clusters do not depend on the engine or
    on the order rows come back in: bit for bit the same on SQLite and PostgreSQL."""
    data = rows(700, seed=9)
    got = []
    for url, batch in ((f"sqlite:///{tmp_path / 's.db'}", data), (pg_url, data[::-1])):
        engine = store.open_store(url)
        publish(engine, batch, T0, "L1")
        resolve_all(engine, full=True)
        with engine.connect() as conn:
            model = conn.execute(sa.select(store.match_models.c.model)
                                 .where(store.match_models.c.entity_type == "person")).scalar()
        got.append((model, members(engine)))
        engine.dispose()
    (sqlite_model, sqlite_members), (pg_model, pg_members) = got
    assert sqlite_model is not None and sqlite_model.get("tf"), "too few pairs: the model was not trained"
    assert sqlite_model == pg_model
    assert sqlite_members == pg_members
