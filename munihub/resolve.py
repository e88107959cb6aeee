"""Resolve: turn published source rows into entities with stable ids and golden records.

Every source row is a record of its own entity type (a permit, a payment …).  Rows that
also name a citizen (national id, name, mobile) contribute a *person mention*, so the same
citizen found in the registry, the 137 hotline and the payments system becomes one person.
Matching itself is `munihub.match` (exact ids, then Fellegi–Sunter); 137 follow-ups are
`munihub.followups`; survivorship is `munihub.golden`.  Steward decisions are applied on
every run and the matcher never overrides them.

Runs are incremental: only rows published since the last run's mark (and pairs a steward
decided since) are matched, against the blocking index kept in the store (only the blocks
they fall in are read: `munihub.blocking_store`); the entities they touch are re-clustered
as whole link-connected regions, so the result equals a full rebuild
(`resolve_all(..., full=True)`), which keeps every id.
"""
from __future__ import annotations

import datetime as dt
import gc
import sys
from collections import defaultdict
from typing import Any, Iterable, Iterator

import sqlalchemy as sa

from munihub import blocking_store, store
from munihub.config import Settings

MENTION = "#person"
# Fields of non-person records that name the citizen behind them.
PERSON_NAME_FIELDS = ("citizen_name", "owner_name", "payer_name")
CHUNK = 500  # refs per IN (...) query: well under every engine's bound-parameter limit


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _iso(value) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value or "")


def _chunks(items: list, size: int = CHUNK) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def person_mention(record: dict) -> dict | None:
    """The citizen named inside a non-person record, as person fields (None if nobody is named)."""
    person: dict[str, Any] = {}
    for f in ("national_id", "mobile"):
        if record.get(f):
            person[f] = record[f]
    for f in PERSON_NAME_FIELDS:
        if record.get(f):
            person["full_name"] = record[f]
            break
    if "national_id" not in person and not ("full_name" in person and "mobile" in person):
        return None  # a bare name is too weak to stand for a citizen
    return person


def _trust(settings: Settings | None) -> dict[str, int]:
    if settings is None:
        return {}
    from munihub.contracts import load_all
    contracts, _ = load_all(settings.contracts_dir, schemas_dir=settings.schemas_dir)
    out = {}
    for c in contracts:
        top = {p.get("property"): p.get("value") for p in c.raw.get("customProperties") or []}
        try:
            out[c.id] = int(top.get("trust", 1))
        except (TypeError, ValueError):
            out[c.id] = 1
    return out


def match_records(source: str, key: str, etype: str, record: dict | None, load_id, updated,
                  trust: dict[str, int], record_hash: str | None = None,
                  raw: bytes | None = None) -> list[dict]:
    """One source row as match records: itself, plus its person mention if it names one.
    `record_hash` is the row's stored content hash (the same `store.record_hash`), if known.
    With `raw` (the record's JSON) the base record keeps that instead of `fields` (see
    `with_fields`): a million decoded records would not fit the memory a full run may use."""
    source, load_id = sys.intern(source), sys.intern(load_id) if load_id else load_id
    base = {"source": source, "updated_at": sys.intern(_iso(updated)), "trust": trust.get(source, 1),
            "load_id": load_id}
    if raw is not None:
        first = {**base, "ref": f"{source}|{key}", "entity_type": etype, "raw": raw}
        record = _decode(raw) if etype != "person" else None  # only for its person mention
    else:
        first = {**base, "ref": f"{source}|{key}", "entity_type": etype, "fields": record}
    if record_hash:
        first["record_hash"] = record_hash
    out = [first]
    if etype != "person":
        mention = person_mention(record)
        if mention:
            out.append({**base, "ref": f"{source}|{key}{MENTION}", "entity_type": "person",
                        "fields": mention, "trust": 0})
    return out


def _decode(raw: bytes | str) -> Any:
    import msgspec

    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:  # what msgspec refuses (NaN, ...) the standard parser reads
        import json
        return json.loads(raw)


def with_fields(rec: dict) -> dict:
    """A match record with its `fields` decoded, if it holds them as raw JSON."""
    return rec if "fields" in rec else {**rec, "fields": _decode(rec["raw"])}


def load_match_records(engine: sa.Engine, settings: Settings | None = None, *,
                       since: dt.datetime | None = None, entity_type: str | None = None,
                       trust: dict | None = None, unresolved: bool = False,
                       raw: bool = False) -> dict[str, list[dict]]:
    """Published source rows as match records, grouped by entity type (person mentions
    included); `since` keeps rows updated at or after it, `entity_type` rows of one type,
    `unresolved` rows whose content hash differs from the one resolution stored (or none);
    `raw` keeps each record as its JSON text (`with_fields` decodes it)."""
    trust = _trust(settings) if trust is None else trust
    t, f = store.source_rows, store.match_features
    record = sa.cast(t.c.record, sa.Text) if raw else t.c.record
    query = sa.select(t.c.source, t.c.source_key, t.c.entity_type, record, t.c.load_id,
                      t.c.updated_at, t.c.record_hash).order_by(t.c.source, t.c.source_key)
    if since is not None:
        query = query.where(t.c.updated_at >= since)
    if unresolved:
        # Done in SQL: the rows at the mark can be a whole million-row load, and reading them
        # back only to find their hashes unchanged would cost what a full run costs.
        query = query.select_from(t.outerjoin(f, f.c.ref == t.c.source + "|" + t.c.source_key)).where(
            sa.or_(f.c.ref.is_(None), f.c.record_hash != t.c.record_hash))
    if entity_type is not None:
        query = query.where(t.c.entity_type == entity_type)
    groups: dict[str, list[dict]] = defaultdict(list)
    with engine.connect() as conn:
        for row in conn.execute(query):
            if raw:
                recs = match_records(*row[:3], None, *row[4:6], trust, row[6], raw=row[3].encode("utf-8"))
            else:
                recs = match_records(*row[:6], trust, row[6])
            for rec in recs:
                groups[rec["entity_type"]].append(rec)
    return groups


def _rows_for_refs(conn, refs: Iterable[str], trust: dict) -> dict[str, dict]:
    """Match records of the given refs, read back from source_rows (for golden records)."""
    t = store.source_rows
    keys = {tuple(r.removesuffix(MENTION).split("|", 1)) for r in refs}
    wanted = set(refs)
    out = {}
    for where in store.key_clauses(t, keys):
        rows = conn.execute(sa.select(t.c.source, t.c.source_key, t.c.entity_type, t.c.record,
                                      t.c.load_id, t.c.updated_at).where(where))
        for row in rows:
            for rec in match_records(*row, trust):
                if rec["ref"] in wanted:
                    out[rec["ref"]] = rec
    return out


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


def _aware(value):
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:  # SQLite hands back naive UTC
        value = value.replace(tzinfo=dt.timezone.utc)
    return value


def resolve_type(entity_type: str, records: list[dict], previous: dict[str, str],
                 decisions: list[tuple[str, str, str]], settings: dict | None = None,
                 model: dict | None = None) -> dict[str, Any]:
    """Cluster one entity type from scratch: `{ids, review, rule, model, features}`.

    `model` (the stored one) scores the pairs; None trains one (or takes the defaults)."""
    from munihub import match

    conf = match.settings_for(entity_type, settings)
    refs = [r["ref"] for r in records]
    feats: dict[str, dict] = {}
    if entity_type == "service_request":
        from munihub.followups import group_followups
        clusters = group_followups([with_fields(r) for r in records])
        pairs: list = []
        rule = {r: "followup" for r in refs}
    else:
        slot = match.build_index(map(with_fields, records), settings)[entity_type]
        feats = slot["features"]
        pairs, model = match.match_index(slot, conf, model, free_blocks=True)
        clusters = match.cluster(refs, pairs, conf["match"], decisions)
        rule = _rules(pairs, conf["match"])
    ids = match.assign_entity_ids(clusters, previous, entity_type)
    return {"ids": ids, "review": _review(pairs, ids, previous, decisions, conf), "rule": rule,
            "model": model, "features": feats}


def _rules(pairs, threshold: float) -> dict[str, str]:
    rule: dict[str, str] = {}
    for p in sorted(pairs):
        if p.probability >= threshold:
            rule.setdefault(p.left_ref, p.rule)
            rule.setdefault(p.right_ref, p.rule)
    return rule


def _review(pairs, ids: dict, previous: dict, decisions, conf: dict) -> list:
    decided = {(a, b) for a, b, _ in decisions} | {(b, a) for a, b, _ in decisions}
    entity = lambda r: ids.get(r) or previous.get(r)  # noqa: E731 (outside a region: unchanged)
    return sorted({p for p in pairs if conf["review"] <= p.probability < conf["match"]
                   and (p.left_ref, p.right_ref) not in decided
                   and entity(p.left_ref) != entity(p.right_ref)})


def resolve_all(engine: sa.Engine, settings: Settings | None = None, *, full: bool = False,
                retrain: bool = False, match_settings: dict | None = None) -> dict[str, Any]:
    """Resolve what changed since the last run (everything on the first run or with `full`)
    and store entities, members, review pairs, features and the run mark.

    `retrain` fits new Fellegi–Sunter models instead of reusing the stored ones (a full run
    then may move borderline pairs, so ids can change where the model does)."""
    started = _now()
    t = store.source_rows
    with engine.connect() as conn:
        last = _last_run(conn)
        source_mark = conn.execute(sa.select(sa.func.max(t.c.updated_at))).scalar()
        decision_mark = conn.execute(sa.select(sa.func.max(store.match_decisions.c.decided_at))).scalar()
    # A store resolved before the blocking index was kept (migration 0004) runs in full once.
    indexed = last is not None and (last["summary"] or {}).get("blocking_index")
    mode = "full" if full or retrain or not indexed else "incremental"
    trust = _trust(settings)
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
    now = _now()
    with engine.connect() as conn:
        previous, decisions = _previous(conn), _decisions(conn)
        stored = {} if retrain else _models(conn)
    writes: list[dict] = []
    changed = 0
    for etype in sorted(groups):
        records = {r["ref"]: r for r in groups.pop(etype)}
        result = resolve_type(etype, list(records.values()), previous, decisions, match_settings,
                              stored.get(etype))
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


def save_model(conn, etype: str, model: dict, now: dt.datetime) -> None:
    t = store.match_models
    conn.execute(t.delete().where(t.c.entity_type == etype))
    conn.execute(t.insert().values(entity_type=etype, model=model, trained=True, trained_at=now))


def _hash(rec: dict) -> str:
    return rec.get("record_hash") or store.record_hash(rec["fields"])


def feature_rows(etype: str, records: dict[str, dict], feats: dict[str, dict]) -> list[tuple]:
    """(ref, entity type, content hash, encoded features) of the given match records."""
    return [(ref, etype, _hash(rec), store.encode_json(feats.get(ref) or {})) for ref, rec in records.items()]


def insert_features(conn, etype: str, rows: list[tuple], match_settings: dict | None) -> None:
    """Insert feature rows (whose refs hold none) and, for matched types, their blocking keys."""
    import msgspec

    from munihub import match

    store.bulk_insert(conn, store.match_features, ["ref", "entity_type", "record_hash", "features"], rows)
    if etype == "service_request":  # follow-ups are regrouped whole, never through blocks
        return
    conf = match.settings_for(etype, match_settings)
    for part in _chunks(rows, 20_000):
        blocking_store.write_keys(conn, etype, {r[0]: msgspec.json.decode(r[3]) for r in part}, conf)


def write_features(conn, etype: str, records: dict[str, dict], feats: dict[str, dict]) -> None:
    """Store (replace) the features and content hash of the given match records."""
    t = store.match_features
    refs = list(records)
    for part in _chunks(refs):
        conn.execute(t.delete().where(t.c.ref.in_(part)))
    store.bulk_insert(conn, t, ["ref", "entity_type", "record_hash", "features"],
                      feature_rows(etype, records, feats))


def region_rows(etype: str, records: dict[str, dict], ids: dict[str, str], rule: dict[str, str],
                review: list, now: dt.datetime, chunk: int = 20_000) -> Iterator[dict[str, list[tuple]]]:
    """Entity (golden record), member and open review rows for `records`, encoded, in chunks
    of entities: a million golden records are never held at once."""
    from munihub.golden import golden_record

    by_entity: dict[str, list[str]] = defaultdict(list)
    for ref in records:
        by_entity[ids[ref]].append(ref)
    order = sorted(by_entity)
    for i in range(0, len(order), chunk):
        entity_rows, member_rows = [], []
        for eid in order[i:i + chunk]:
            members = [with_fields(records[ref]) for ref in by_entity[eid]]
            golden, lineage = golden_record(etype, members, {})
            entity_rows.append((eid, etype, store.encode_json(golden), store.encode_json(lineage),
                                len(members), now))
            for m in members:
                source, _, key = m["ref"].partition("|")
                member_rows.append((source, key, eid, etype, rule.get(m["ref"], "single"), None,
                                    m.get("load_id"), now))
        yield {"entities": entity_rows, "entity_members": member_rows, "review_queue": []}
    yield {"entities": [], "entity_members": [],
           "review_queue": [(etype, p.left_ref, p.right_ref, p.probability, "open", now) for p in review]}


REGION_COLUMNS = {
    "entities": ["entity_id", "entity_type", "golden", "lineage", "member_count", "updated_at"],
    "entity_members": ["source", "source_key", "entity_id", "entity_type", "rule", "score", "load_id",
                       "assigned_at"],
    "review_queue": ["entity_type", "left_ref", "right_ref", "probability", "status", "created_at"],
}


def insert_region(conn, chunks: Iterable[dict[str, list[tuple]]]) -> None:
    for rows in chunks:
        for name, columns in REGION_COLUMNS.items():
            store.bulk_insert(conn, store.metadata.tables[name], columns, rows[name])


def write_region(conn, etype: str, records: dict[str, dict], ids: dict[str, str],
                 rule: dict[str, str], review: list, now: dt.datetime) -> None:
    """Insert entities (golden records), members and open review pairs for `records`, whose
    old members, entities and open review rows the caller has already deleted."""
    insert_region(conn, region_rows(etype, records, ids, rule, review, now))


def _stored(conn, refs: list[str]) -> dict[str, str]:
    t = store.match_features
    out = {}
    for part in _chunks(refs):
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
        for part in _chunks(decided):
            types.update(conn.execute(sa.select(f.c.ref, f.c.entity_type).where(f.c.ref.in_(part))).all())
        decisions = _decisions(conn)
    fresh = {etype: [r for r in recs if hashes.get(r["ref"]) != _hash(r)]
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
    summary = {"changed_records": sum(map(len, fresh.values())), "region_records": 0}
    if not fresh and not seeds:
        return summary
    with engine.connect() as conn:
        models = _models(conn)
    for etype in sorted(set(fresh) | set(seeds)):
        new = {r["ref"]: r for r in fresh.get(etype, [])}
        if etype == "service_request":  # follow-up chains are cheap: regroup the whole type
            records = {r["ref"]: r for r in load_match_records(
                engine, entity_type=etype, trust=trust).get(etype, [])}
            with engine.connect() as conn:
                previous = _previous(conn, etype)
            result = resolve_type(etype, list(records.values()), previous, decisions)
            ids, rule, review = result["ids"], result["rule"], result["review"]
            region, feats, old, conf = set(records), {}, {}, None
        else:
            region, ids, rule, review, previous, feats, old, conf = _match_region(
                engine, etype, new, seeds.get(etype, ()), decisions, models, match_settings)
            with engine.connect() as conn:
                records = {**_rows_for_refs(conn, region - set(new), trust), **new}
            records = {r: records[r] for r in region if r in records}
        summary["region_records"] += len(records)
        with engine.begin() as conn:
            _forget(conn, etype, records, previous, service_type=etype == "service_request")
            write_region(conn, etype, records, ids, {r: v for r, v in rule.items() if r in region},
                         review, now)
            write_features(conn, etype, new if etype != "service_request" else records, feats)
            if conf is not None:
                blocking_store.write_keys(conn, etype, {r: feats[r] for r in new}, conf, old)
    return summary


def _match_region(engine: sa.Engine, etype: str, new: dict[str, dict], seeds, decisions,
                  models: dict, match_settings: dict | None):
    """Grow and cluster the region of one type's new records against the stored index:
    (region, ids, rule, review pairs, previous, features, their old features, conf)."""
    from munihub import match

    conf = match.settings_for(etype, match_settings)
    feats = {ref: match.features(rec, match_settings) for ref, rec in new.items()}
    with engine.connect() as conn:
        old = blocking_store.stored_features(conn, etype, list(new))
        hood = blocking_store.Neighbourhood(conn, etype, conf, feats, old)
        model = models.get(etype) or match.default_model(conf)
        region, pairs = match.grow_region([*new, *seeds], hood.slot, conf, model, hood.previous,
                                          hood.members_of, decisions, fetch=hood.fetch)
        hood.former({r for p in pairs for r in (p.left_ref, p.right_ref)})  # for the review queue
        clusters = match.cluster(region, pairs, conf["match"], decisions)
        ids = _assign(conn, clusters, hood.previous, etype)
    rule, review = _rules(pairs, conf["match"]), _review(pairs, ids, hood.previous, decisions, conf)
    return region, ids, rule, review, hood.previous, hood.slot["features"], old, conf


def _assign(conn, clusters: dict[str, str], previous: dict[str, str], etype: str) -> dict[str, str]:
    """`match.assign_entity_ids` for a region: `previous` holds only the region's refs, so a
    new id that entities outside it already hold is reserved and the ids assigned again;
    the result is what a full run (which knows every id) assigns."""
    from munihub import match

    reserved: set[str] = set()
    while True:
        ids = match.assign_entity_ids(clusters, previous, etype, reserved)
        clash = blocking_store.taken_ids(conn, set(ids.values()) - set(previous.values())) - reserved
        if not clash:
            return ids
        reserved |= clash


def _forget(conn, etype: str, refs: Iterable[str], previous: dict, service_type: bool) -> None:
    """Delete the members, entities and open review rows a region is about to replace."""
    m, e, q = store.entity_members, store.entities, store.review_queue
    refs = sorted(refs)
    if service_type:
        conn.execute(m.delete().where(m.c.entity_type == etype))
        conn.execute(e.delete().where(e.c.entity_type == etype))
        conn.execute(q.delete().where(q.c.entity_type == etype, q.c.status == "open"))
        return
    for where in store.key_clauses(m, (tuple(r.split("|", 1)) for r in refs)):
        conn.execute(m.delete().where(where))
    for part in _chunks(refs):
        conn.execute(q.delete().where(q.c.status == "open", sa.or_(q.c.left_ref.in_(part),
                                                                   q.c.right_ref.in_(part))))
    for part in _chunks(sorted({previous[r] for r in refs if r in previous})):
        conn.execute(e.delete().where(e.c.entity_id.in_(part)))
