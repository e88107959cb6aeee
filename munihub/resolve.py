"""Resolve: turn published source rows into entities with stable ids and golden records.

Every source row is a record of its own entity type (a permit, a payment …).  Rows that
also name a citizen (national id, name, mobile) contribute a *person mention*, so the same
citizen found in the registry, the 137 hotline and the payments system becomes one person.
Matching itself is `munihub.match` (exact ids, then Fellegi–Sunter); 137 follow-ups are
`munihub.followups`; survivorship is `munihub.golden`.  Steward decisions are applied on
every run and the matcher never overrides them.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import sqlalchemy as sa

from munihub import store
from munihub.config import Settings

MENTION = "#person"
# Fields of non-person records that name the citizen behind them.
PERSON_NAME_FIELDS = ("citizen_name", "owner_name", "payer_name")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _iso(value) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value or "")


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


def load_match_records(engine: sa.Engine, settings: Settings | None = None) -> dict[str, list[dict]]:
    """Published source rows as match records, grouped by entity type (person mentions included)."""
    trust = _trust(settings)
    t = store.source_rows
    groups: dict[str, list[dict]] = defaultdict(list)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.source, t.c.source_key, t.c.entity_type, t.c.record,
                                      t.c.load_id, t.c.updated_at).order_by(t.c.source, t.c.source_key))
        for source, key, etype, record, load_id, updated in rows:
            base = {"source": source, "updated_at": _iso(updated), "trust": trust.get(source, 1),
                    "load_id": load_id}
            groups[etype].append({**base, "ref": f"{source}|{key}", "entity_type": etype, "fields": record})
            if etype != "person":
                mention = person_mention(record)
                if mention:
                    groups["person"].append({**base, "ref": f"{source}|{key}{MENTION}",
                                             "entity_type": "person", "fields": mention, "trust": 0})
    return groups


def _previous(conn) -> dict[str, str]:
    t = store.entity_members
    return {f"{s}|{k}": e for s, k, e in conn.execute(sa.select(t.c.source, t.c.source_key, t.c.entity_id))}


def _decisions(conn) -> list[tuple[str, str, str]]:
    t = store.match_decisions
    return [tuple(r) for r in conn.execute(sa.select(t.c.left_ref, t.c.right_ref, t.c.decision))]


def resolve_type(entity_type: str, records: list[dict], previous: dict[str, str],
                 decisions: list[tuple[str, str, str]], settings: dict | None = None):
    """Cluster one entity type: (ref -> entity id, pairs for review, rule per ref)."""
    from munihub import match

    conf = match.settings_for(entity_type, settings)
    refs = [r["ref"] for r in records]
    if entity_type == "service_request":
        from munihub.followups import group_followups
        clusters = group_followups(records)
        pairs: list = []
        rule = {r: "followup" for r in refs}
    else:
        pairs = match.find_matches(records, settings)
        clusters = match.cluster(refs, pairs, conf["match"], decisions)
        rule = {}
        for p in pairs:
            if p.probability >= conf["match"]:
                rule.setdefault(p.left_ref, p.rule)
                rule.setdefault(p.right_ref, p.rule)
    ids = match.assign_entity_ids(clusters, previous, entity_type)
    decided = {(a, b) for a, b, _ in decisions} | {(b, a) for a, b, _ in decisions}
    review = [p for p in pairs if conf["review"] <= p.probability < conf["match"]
              and (p.left_ref, p.right_ref) not in decided and ids[p.left_ref] != ids[p.right_ref]]
    return ids, review, rule


def resolve_all(engine: sa.Engine, settings: Settings | None = None) -> dict[str, Any]:
    """Re-resolve every entity type from the published rows and store entities, members, review."""
    from munihub.golden import golden_record

    groups = load_match_records(engine, settings)
    now = _now()
    with engine.connect() as conn:
        previous, decisions = _previous(conn), _decisions(conn)
    summary: dict[str, Any] = {"types": {}}
    entity_rows, member_rows, review_rows = [], [], []
    for etype, records in sorted(groups.items()):
        ids, review, rule = resolve_type(etype, records, previous, decisions)
        by_entity: dict[str, list[dict]] = defaultdict(list)
        for rec in records:
            by_entity[ids[rec["ref"]]].append(rec)
        for eid, members in sorted(by_entity.items()):
            golden, lineage = golden_record(etype, members, {})
            entity_rows.append({"entity_id": eid, "entity_type": etype, "golden": golden, "lineage": lineage,
                                "member_count": len(members), "updated_at": now})
            for m in members:
                source, _, key = m["ref"].partition("|")
                member_rows.append({"source": source, "source_key": key, "entity_id": eid, "entity_type": etype,
                                    "rule": rule.get(m["ref"], "single"), "score": None,
                                    "load_id": m.get("load_id"), "assigned_at": now})
        for p in review:
            review_rows.append({"entity_type": etype, "left_ref": p.left_ref, "right_ref": p.right_ref,
                                "probability": p.probability, "status": "open", "created_at": now})
        summary["types"][etype] = {"records": len(records), "entities": len(by_entity),
                                   "review": len(review)}
    with engine.begin() as conn:  # one transaction: readers never see half a resolution
        conn.execute(store.entity_members.delete())
        conn.execute(store.entities.delete())
        conn.execute(store.review_queue.delete().where(store.review_queue.c.status == "open"))
        for table, rows in ((store.entities, entity_rows), (store.entity_members, member_rows)):
            for i in range(0, len(rows), 5000):
                conn.execute(table.insert(), rows[i:i + 5000])
        if review_rows:
            conn.execute(store.review_queue.insert(), review_rows)
    summary["records"] = sum(v["records"] for v in summary["types"].values())
    summary["entities"] = sum(v["entities"] for v in summary["types"].values())
    return summary
