"""Resolve: turn published source rows into entities with stable ids and golden records.

Every source row is a record of its own entity type (a permit, a payment …).  Rows that
also name a citizen (national id, name, mobile) contribute a *person mention*, so the same
citizen found in the registry, the 137 hotline and the payments system becomes one person.
Matching itself is `munihub.resolve.match` (exact ids, then Fellegi–Sunter); 137 follow-ups are
`munihub.resolve.followups`; survivorship is `munihub.resolve.golden`; rows become match records in
`munihub.resolve.records` and results are written by `munihub.resolve.write`.  Steward
decisions are applied on every run and the matcher never overrides them.

Runs are incremental: only rows published since the last run's mark (and pairs a steward
decided since) are matched, against the blocking index kept in the store (only the blocks
they fall in are read: `munihub.resolve.blocking`); the entities they touch are re-clustered
as whole link-connected regions, so the result equals a full rebuild
(`resolve_all(..., full=True)`), which keeps every id.
"""
from __future__ import annotations

import datetime as dt
import gc
from collections import defaultdict
from typing import Any, Iterable

import sqlalchemy as sa

from munihub.resolve import blocking as blocking_store, clustering
from munihub.resolve.conflicts import conflict_of
from munihub.store import marks
from munihub import store
from munihub.config import Settings
from munihub.resolve.records import MENTION, load_match_records, rows_for_refs, thread_mentions, trust_of, with_fields
from munihub.resolve.write import (content_hash, feature_rows, forget, insert_features, save_model,
                                   write_features, write_region)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)



def _previous(conn, entity_type: str | None = None) -> dict[str, str]:
    t = store.entity_members
    query = sa.select(t.c.source, t.c.source_key, t.c.entity_id)
    if entity_type is not None:
        query = query.where(t.c.entity_type == entity_type)
    return {f"{s}|{k}": e for s, k, e in conn.execute(query)}


def _decisions(conn) -> list[tuple[str, str, str]]:
    t = store.match_decisions
    return [tuple(r) for r in conn.execute(sa.select(t.c.left_ref, t.c.right_ref, t.c.decision))]


def _models(conn) -> dict[str, dict]:
    t = store.match_models
    return {e: m for e, m in conn.execute(sa.select(t.c.entity_type, t.c.model))}


def _last_run(conn):
    t = store.resolution_runs
    return conn.execute(sa.select(t).where(t.c.finished_at.is_not(None))
                        .order_by(t.c.run_id.desc()).limit(1)).mappings().first()


_aware = marks.aware  # kept under its old name for the callers below


def _moved_keys():
    t = store.loads
    return sa.and_(t.c.status == "published", sa.or_(t.c.rows_rekeyed > 0, t.c.rows_retired > 0, t.c.copies_dropped > 0))


def _keys_moved_since(conn, mark) -> bool:
    """Whether a publish since `mark` rekeyed or retired rows (a contract changed its record
    identity, munihub.ingest.identity) or dropped kept earlier copies (their key published
    again without them): the stored index still names the former refs, so the next run is a
    full one, which keeps entity ids through the members the publish rekeyed."""
    t = store.loads
    query = sa.select(t.c.load_id).where(_moved_keys())
    if mark is not None:
        query = query.where(t.c.finished_at > mark)
    return conn.execute(query.limit(1)).first() is not None


def resolve_type(entity_type: str, records: list[dict], previous: dict[str, str],
                 decisions: list[tuple[str, str, str]], settings: dict | None = None,
                 model: dict | None = None, persons: dict[str, str] | None = None) -> dict[str, Any]:
    """Cluster one entity type from scratch: `{ids, review, rule, model, features}`.

    `model` (the stored one) scores the pairs; None trains one (or takes the defaults).
    `persons` (service requests): request ref -> its caller's person entity (`request_persons`)."""
    from munihub.resolve import components, match, partial, vectorized

    conf = match.settings_for(entity_type, settings)
    refs = [r["ref"] for r in records]
    feats: dict[str, dict] = {}
    if entity_type == "service_request":
        from munihub.resolve.followups import followup_options, group_followups
        why: dict[str, str] = {}  # the rule each call joined its group by (`followups.WHY`)
        clusters = group_followups([with_fields(r) for r in records], options=followup_options(conf),
                                   persons=persons, why=why)
        pairs: list = []
        conflict = None
        rule = {r: why.get(r, "followup") for r in refs}
        ids = clustering.assign_entity_ids(clusters, previous, entity_type)
    else:
        # features per column on every core, candidates from the encoded features (no block dict)
        slot = vectorized.build_index(records, entity_type, settings, prepare=with_fields)
        feats = slot["features"]
        # the same pairs and model as match.match_index, per comparison and on every core, kept
        # as arrays: clusters, ids and rules from them, `Pair`s only for the review band
        scored, model = vectorized.score_index(slot, conf, model, free_blocks=True)
        conflict = conflict_of(feats, conf)
        label = components.cluster_scored(scored, conf["match"], decisions, conflict)
        # who lives at each home decides the partial mentions the pairs left open
        moved: dict[str, str] = {}
        label = _with_partials(scored["refs"], label, feats, partial.roster_settings(entity_type, conf),
                               conflict, decisions, moved)
        ids = components.entity_ids(scored["refs"], label, previous, entity_type)
        rule = components.first_rules(scored, conf["match"]) | moved  # a moved mention says the roster moved it
        p = scored["probability"]
        pairs = vectorized.pairs_of(scored, (p >= conf["review"]) & (p < conf["match"]))
    return {"ids": ids, "review": _review(pairs, ids, previous, decisions, conf, conflict), "rule": rule,
            "model": model, "features": feats}


def _with_partials(refs: list[str], label, feats: dict, roster: dict | None, conflict, decisions,
                   why: dict[str, str] | None = None):
    """`label` (per position of the sorted `refs`, its cluster's smallest position) after
    `partial.resolve_partials`, which works on ref -> smallest ref of its part (and fills
    `why` with the rule of each record it moved)."""
    if roster is None:
        return label
    import numpy as np

    from munihub.resolve import partial

    clusters = partial.resolve_partials(dict(zip(refs, (refs[k] for k in label.tolist()))), feats, roster,
                                        conflict, decisions, why=why)
    index = {r: i for i, r in enumerate(refs)}
    return np.fromiter((index[clusters[r]] for r in refs), dtype=np.int64, count=len(refs))


def request_threads(groups: dict[str, list[dict]], match_settings: dict | None,
                    engine: sa.Engine | None = None, trust: dict | None = None) -> None:
    """Give the person mentions of 137 calls in `groups` their request's whole follow-up thread
    (`records.thread_mentions`), before persons are matched.  A full run's `groups` hold every
    request.  An incremental run's hold what changed: with `engine` every request is read back
    (follow-ups are regrouped whole anyway), and a stored mention whose thread moved (a late
    earlier call, a follow-up joining two groups) is added to `groups` to be matched again,
    so the result stays what a full run gives."""
    from munihub.resolve import match
    from munihub.resolve.followups import followup_options

    options = followup_options(match.settings_for("service_request", match_settings))
    if engine is None:
        if groups.get("service_request"):  # a million registry persons need no pass without calls
            thread_mentions(groups["service_request"], groups.get("person", []), options)
        return
    if "service_request" not in groups:
        return  # a mention changes only with its request row, and no thread moved
    every = load_match_records(engine, entity_type="service_request", trust=trust)
    thread_mentions(every.get("service_request", []), every.get("person", []), options)
    fresh = {r["ref"]: r for r in groups.setdefault("person", [])}
    with engine.connect() as conn:
        stored = blocking_store.stored_features(conn, "person", [r["ref"] for r in every.get("person", [])])
    for rec in every.get("person", []):
        if rec["ref"] in fresh:
            fresh[rec["ref"]]["fields"]["request_thread"] = rec["fields"].get("request_thread")
        elif (stored.get(rec["ref"]) or {}).get("thread") != match.features(rec, match_settings).get("thread"):
            groups["person"].append(rec)


def _type_order(etype: str) -> tuple[int, str]:
    """Persons first, 137 requests last: follow-ups are grouped with the persons found
    (`request_persons`), and persons with the threads of a first grouping without them
    (`request_threads`), so neither waits for itself."""
    return {"person": 0, "service_request": 2}.get(etype, 1), etype


def request_persons(person_ids: dict[str, str], refs: Iterable[str]) -> dict[str, str]:
    """Request ref -> the person entity of its mention (`records.MENTION`), from person ref
    -> entity id: whom each 137 call's caller was resolved to (a call naming nobody: none)."""
    return {ref: person_ids[ref + MENTION] for ref in refs if ref + MENTION in person_ids}


def _rules(pairs, threshold: float) -> dict[str, str]:
    rule: dict[str, str] = {}
    for p in sorted(pairs):
        if p.probability >= threshold:
            rule.setdefault(p.left_ref, p.rule)
            rule.setdefault(p.right_ref, p.rule)
    return rule


def _review(pairs, ids: dict, previous: dict, decisions, conf: dict, conflict=None) -> list:
    """The pairs a steward is asked about: in the review band, undecided, in two entities, and
    not two records the conflict test says are two people whatever links them (two valid
    national ids, two birth dates, a daughter's and her mother's first names: clustering never
    joins them, and a queue of them hid the pairs worth a look)."""
    decided = {(a, b) for a, b, _ in decisions} | {(b, a) for a, b, _ in decisions}
    entity = lambda r: ids.get(r) or previous.get(r)  # noqa: E731 (outside a region: unchanged)
    return sorted({p for p in pairs if conf["review"] <= p.probability < conf["match"]
                   and (p.left_ref, p.right_ref) not in decided
                   and entity(p.left_ref) != entity(p.right_ref)
                   and not (conflict is not None and conflict(p.left_ref, p.right_ref))})


def resolve_all(engine: sa.Engine, settings: Settings | None = None, *, full: bool = False,
                retrain: bool = False, match_settings: dict | None = None) -> dict[str, Any]:
    """Resolve what changed since the last run (everything on the first run or with `full`)
    and store entities, members, review pairs, features and the run mark.

    `retrain` fits new Fellegi–Sunter models instead of reusing the stored ones (a full run
    then may move borderline pairs, so ids can change where the model does).
    `match_settings` default to those of `settings` (`MUNIHUB_MATCH_SETTINGS`): a caller that
    hands its settings gets its match settings too, not the defaults."""
    from munihub.resolve.followups import followup_options

    if match_settings is None and settings is not None:
        match_settings = settings.match_settings

    followup_options((match_settings or {}).get("service_request"))  # a wrong option fails before any work
    started = _now()
    t = store.source_rows
    with engine.begin() as conn:
        marks.read_lock(conn)  # publishes and decisions in flight commit first (munihub.store.marks)
        last = _last_run(conn)
        # The mark covers the kept earlier copies of re-used record ids too, and the publishes
        # that moved keys: one that only dropped copies changes no row, and the run after the
        # full run it causes would otherwise see it again and run in full again.
        source_mark = max((m for m in (conn.execute(q).scalar() for q in (
            sa.select(sa.func.max(t.c.updated_at)), sa.select(sa.func.max(store.earlier_copies.c.updated_at)),
            sa.select(sa.func.max(store.loads.c.finished_at)).where(_moved_keys()))) if m is not None),
            key=_aware, default=None)
        decision_mark = conn.execute(sa.select(sa.func.max(store.match_decisions.c.decided_at))).scalar()
        moved = last is not None and _keys_moved_since(conn, _aware(last["source_mark"]))
    # A store resolved before the blocking index was kept (migration 0004) runs in full once.
    indexed = last is not None and (last["summary"] or {}).get("blocking_index")
    mode = "full" if full or retrain or not indexed or moved else "incremental"
    trust = trust_of(settings)
    # Millions of small long-lived dicts and tuples: the cyclic GC would rescan them again
    # and again (measured: index building ~2x slower); nothing here makes cycles.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        if mode == "full":
            summary = _resolve_full(engine, trust, match_settings, retrain)
        else:
            summary = _resolve_incremental(engine, trust, match_settings, _aware(last["source_mark"]),
                                           _aware(last["decision_mark"]))
    finally:
        if was_enabled:
            gc.enable()
    if mode == "full" and engine.dialect.name == "postgresql":
        # Millions of rows just replaced: until autovacuum samples them the planner works
        # from stale statistics, and the next incremental run's lookups took 5-10x longer
        # (1M records: 45.6 s, 7.8 s once analyzed).
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE match_keys, match_features, entity_members, entities, review_queue")
    summary["types"] = counts(engine)
    summary["records"] = sum(v["records"] for v in summary["types"].values())
    summary["entities"] = sum(v["entities"] for v in summary["types"].values())
    summary["mode"] = mode
    summary["blocking_index"] = 1
    with engine.begin() as conn:
        conn.execute(store.resolution_runs.insert().values(
            mode=mode, started_at=started, finished_at=_now(), source_mark=source_mark,
            decision_mark=decision_mark,
            summary={k: v for k, v in summary.items() if k != "types"}))
    return summary


def counts(engine: sa.Engine) -> dict[str, dict[str, int]]:
    """Records, entities and open review pairs per entity type, as stored."""
    f, e, q = store.match_features, store.entities, store.review_queue
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"records": 0, "entities": 0, "review": 0})
    with engine.connect() as conn:
        for key, query in (
                ("records", sa.select(f.c.entity_type, sa.func.count()).group_by(f.c.entity_type)),
                ("entities", sa.select(e.c.entity_type, sa.func.count()).group_by(e.c.entity_type)),
                ("review", sa.select(q.c.entity_type, sa.func.count()).where(q.c.status == "open")
                 .group_by(q.c.entity_type))):
            for etype, n in conn.execute(query):
                out[etype][key] = n
    return {k: out[k] for k in sorted(out)}


def _resolve_full(engine: sa.Engine, trust: dict, match_settings: dict | None,
                  retrain: bool) -> dict[str, Any]:
    groups = load_match_records(engine, trust=trust, raw=True)
    request_threads(groups, match_settings)
    now = _now()
    with engine.connect() as conn:
        previous, decisions = _previous(conn), _decisions(conn)
        stored = {} if retrain else _models(conn)
    writes: list[dict] = []
    changed = 0
    persons: dict[str, str] = {}
    for etype in sorted(groups, key=_type_order):
        records = {r["ref"]: r for r in groups.pop(etype)}
        result = resolve_type(etype, list(records.values()), previous, decisions, match_settings,
                              stored.get(etype), persons)
        if etype == "person":
            persons = request_persons(result["ids"], (r["ref"] for r in groups.get("service_request", ())))
        changed += len(records)
        # Features are kept encoded and the index is gone once a type is matched, so the
        # peak is one type's matching; golden records are made while they are written.
        writes.append({"etype": etype, "records": records, "ids": result["ids"], "rule": result["rule"],
                       "review": result["review"], "features": feature_rows(etype, records, result["features"]),
                       "model": result["model"] if etype not in stored else None})
        del records, result
    with engine.begin() as conn:  # one transaction: readers never see half a resolution
        for table in (store.entity_members, store.entities, store.match_features, store.match_keys):
            conn.execute(table.delete())
        conn.execute(store.review_queue.delete().where(store.review_queue.c.status == "open"))
        while writes:
            w = writes.pop(0)
            insert_features(conn, w["etype"], w.pop("features"), match_settings)
            write_region(conn, w["etype"], w["records"], w["ids"], w["rule"], w["review"], now)
            if w["model"] is not None:
                save_model(conn, w["etype"], w["model"], now)
    return {"changed_records": changed}


def _stored(conn, refs: list[str]) -> dict[str, str]:
    t = store.match_features
    out = {}
    for part in store.chunks(refs):
        out.update(conn.execute(sa.select(t.c.ref, t.c.record_hash).where(t.c.ref.in_(part))).all())
    return out


def _changes(engine: sa.Engine, trust: dict, since, decided_since):
    """(new or changed match records by type, refs of decisions made since, all decisions)."""
    changed = load_match_records(engine, since=since, trust=trust, unresolved=True)
    d = store.match_decisions
    with engine.connect() as conn:
        hashes = _stored(conn, [r["ref"] for recs in changed.values() for r in recs])
        query = sa.select(d.c.left_ref, d.c.right_ref)
        if decided_since is not None:
            query = query.where(d.c.decided_at > decided_since)
        decided = sorted({ref for pair in conn.execute(query) for ref in pair})
        f, types = store.match_features, {}
        for part in store.chunks(decided):
            types.update(conn.execute(sa.select(f.c.ref, f.c.entity_type).where(f.c.ref.in_(part))).all())
        decisions = _decisions(conn)
    fresh = {etype: [r for r in recs if hashes.get(r["ref"]) != content_hash(r)]
             for etype, recs in changed.items()}
    seeds: dict[str, list[str]] = defaultdict(list)
    for ref in decided:
        if ref in types:
            seeds[types[ref]].append(ref)
    return {k: v for k, v in fresh.items() if v}, seeds, decisions


def _resolve_incremental(engine: sa.Engine, trust: dict, match_settings: dict | None,
                         since, decided_since) -> dict[str, Any]:
    """Match only what changed; re-cluster the regions it touches (see `match.grow_region`),
    reading from the store only the blocks and entities those regions reach."""
    now = _now()
    fresh, seeds, decisions = _changes(engine, trust, since, decided_since)
    request_threads(fresh, match_settings, engine, trust)
    summary = {"changed_records": sum(map(len, fresh.values())), "region_records": 0}
    if not fresh and not seeds:
        return summary
    with engine.connect() as conn:
        models = _models(conn)
    types = sorted(set(fresh) | set(seeds), key=_type_order)
    for etype in types:  # persons before requests, which may be appended below
        new = {r["ref"]: r for r in fresh.get(etype, [])}
        if etype == "service_request":  # follow-up chains are cheap: regroup the whole type
            records = {r["ref"]: r for r in load_match_records(
                engine, entity_type=etype, trust=trust).get(etype, [])}
            with engine.connect() as conn:  # the person regions above are written already
                previous = _previous(conn, etype)
                persons = _callers(conn, list(records))
            result = resolve_type(etype, list(records.values()), previous, decisions, match_settings,
                                  persons=persons)
            ids, rule, review = result["ids"], result["rule"], result["review"]
            region, feats, old, conf = set(records), {}, {}, None
        else:
            region, ids, rule, review, previous, feats, old, conf = _match_region(
                engine, etype, new, seeds.get(etype, ()), decisions, models, match_settings)
            with engine.connect() as conn:
                records = {**rows_for_refs(conn, region - set(new), trust), **new}
                if etype == "person" and "service_request" not in types and _callers_moved(conn, ids, previous):
                    # a person merge or split (a new registry row, a steward) moves the callers
                    # of calls no row of which changed: their follow-ups are grouped again
                    types.append("service_request")
            records = {r: records[r] for r in region if r in records}
        summary["region_records"] += len(records)
        with engine.begin() as conn:
            forget(conn, etype, records, previous, service_type=etype == "service_request")
            write_region(conn, etype, records, ids, {r: v for r, v in rule.items() if r in region},
                         review, now)
            write_features(conn, etype, new if etype != "service_request" else records, feats)
            if conf is not None:
                blocking_store.write_keys(conn, etype, {r: feats[r] for r in new}, conf, old)
    return summary


def _callers(conn, refs: list[str]) -> dict[str, str]:
    """Request ref -> the person entity of its mention, as stored (`request_persons`)."""
    m = store.entity_members
    keys = {tuple(f"{ref}{MENTION}".split("|", 1)) for ref in refs}
    out: dict[str, str] = {}
    for where in store.key_clauses(m, keys):
        for source, key, eid in conn.execute(sa.select(m.c.source, m.c.source_key, m.c.entity_id)
                                             .where(where, m.c.entity_type == "person")):
            out[f"{source}|{key}"] = eid
    return request_persons(out, refs)


def _callers_moved(conn, ids: dict[str, str], previous: dict[str, str]) -> bool:
    """Whether a person region gave the mention of a stored 137 call another entity."""
    moved = [ref[:-len(MENTION)] for ref, eid in ids.items()
             if ref.endswith(MENTION) and previous.get(ref) not in (None, eid)]
    f = store.match_features
    return any(conn.execute(sa.select(f.c.ref).where(f.c.ref.in_(part), f.c.entity_type == "service_request")
                            .limit(1)).first() for part in store.chunks(moved))


def _match_region(engine: sa.Engine, etype: str, new: dict[str, dict], seeds, decisions,
                  models: dict, match_settings: dict | None):
    """Grow and cluster the region of one type's new records against the stored index:
    (region, ids, rule, review pairs, previous, features, their old features, conf)."""
    from munihub.resolve import homes, match, partial

    conf = match.settings_for(etype, match_settings)
    roster = partial.roster_settings(etype, conf)
    feats = {ref: match.features(rec, match_settings) for ref, rec in new.items()}
    with engine.connect() as conn:
        old = blocking_store.stored_features(conn, etype, list(new))
        hood = blocking_store.Neighbourhood(conn, etype, conf, feats, old)
        model = models.get(etype) or match.default_model(conf)
        region, pairs = match.grow_region([*new, *seeds], hood.slot, conf, model, hood.previous,
                                          hood.members_of, decisions, fetch=hood.fetch)
        # the roster step weighs a partial mention against its home-mates: the region holds
        # them and their whole parts, as a full run's clusters do (homes.home_mates)
        while mates := homes.home_mates(region, hood.slot["features"], roster) - region:
            region, pairs = match.grow_region([*region, *mates], hood.slot, conf, model, hood.previous,
                                              hood.members_of, decisions, fetch=hood.fetch)
        hood.former({r for p in pairs for r in (p.left_ref, p.right_ref)})  # for the review queue
        conflict = conflict_of(hood.slot["features"], conf)
        clusters = clustering.cluster(region, pairs, conf["match"], decisions, conflict)
        moved: dict[str, str] = {}
        clusters = partial.resolve_partials(clusters, hood.slot["features"], roster, conflict, decisions, why=moved)
        ids = _assign(conn, clusters, hood.previous, etype)
    rule, review = _rules(pairs, conf["match"]) | moved, _review(pairs, ids, hood.previous, decisions, conf, conflict)
    return region, ids, rule, review, hood.previous, hood.slot["features"], old, conf


def _assign(conn, clusters: dict[str, str], previous: dict[str, str], etype: str) -> dict[str, str]:
    """`clustering.assign_entity_ids` for a region: `previous` holds only the region's refs, so a
    new id that entities outside it already hold is reserved and the ids assigned again;
    the result is what a full run (which knows every id) assigns."""
    reserved: set[str] = set()
    while True:
        ids = clustering.assign_entity_ids(clusters, previous, etype, reserved)
        clash = blocking_store.taken_ids(conn, set(ids.values()) - set(previous.values())) - reserved
        if not clash:
            return ids
        reserved |= clash
