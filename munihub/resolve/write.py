"""Resolution results into the store: entities with golden records, members, open review
pairs, features with their content hash and blocking keys, models.  Rows are encoded first
and inserted through the driver in bulk (`store.bulk_insert`); golden records are made
chunk by chunk while they are written."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Iterable, Iterator

import sqlalchemy as sa

from munihub.resolve import blocking as blocking_store
from munihub import store
from munihub.resolve.records import with_fields




def save_model(conn, etype: str, model: dict, now: dt.datetime) -> None:
    t = store.match_models
    conn.execute(t.delete().where(t.c.entity_type == etype))
    conn.execute(t.insert().values(entity_type=etype, model=model, trained=True, trained_at=now))


def content_hash(rec: dict) -> str:
    return rec.get("record_hash") or store.record_hash(rec["fields"])


def feature_rows(etype: str, records: dict[str, dict], feats: dict[str, dict]) -> list[tuple]:
    """(ref, entity type, content hash, encoded features) of the given match records."""
    return [(ref, etype, content_hash(rec), store.encode_json(feats.get(ref) or {})) for ref, rec in records.items()]


def insert_features(conn, etype: str, rows: list[tuple], match_settings: dict | None) -> None:
    """Insert feature rows (whose refs hold none) and, for matched types, their blocking keys."""
    import msgspec

    from munihub.resolve import match

    store.bulk_insert(conn, store.match_features, ["ref", "entity_type", "record_hash", "features"], rows)
    if etype == "service_request":  # follow-ups are regrouped whole, never through blocks
        return
    conf = match.settings_for(etype, match_settings)
    for part in store.chunks(rows, 20_000):
        blocking_store.write_keys(conn, etype, {r[0]: msgspec.json.decode(r[3]) for r in part}, conf)


def write_features(conn, etype: str, records: dict[str, dict], feats: dict[str, dict]) -> None:
    """Store (replace) the features and content hash of the given match records."""
    t = store.match_features
    refs = list(records)
    for part in store.chunks(refs):
        conn.execute(t.delete().where(t.c.ref.in_(part)))
    store.bulk_insert(conn, t, ["ref", "entity_type", "record_hash", "features"],
                      feature_rows(etype, records, feats))


def region_rows(etype: str, records: dict[str, dict], ids: dict[str, str], rule: dict[str, str],
                review: list, now: dt.datetime, chunk: int = 20_000) -> Iterator[dict[str, list[tuple]]]:
    """Entity (golden record), member and open review rows for `records`, encoded, in chunks
    of entities: a million golden records are never held at once."""
    from munihub.resolve.golden import golden_record

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


def forget(conn, etype: str, refs: Iterable[str], previous: dict, service_type: bool) -> None:
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
    for part in store.chunks(refs):
        conn.execute(q.delete().where(q.c.status == "open", sa.or_(q.c.left_ref.in_(part),
                                                                   q.c.right_ref.in_(part))))
    for part in store.chunks(sorted({previous[r] for r in refs if r in previous})):
        conn.execute(e.delete().where(e.c.entity_id.in_(part)))
