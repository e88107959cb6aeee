"""Steward review: pairs the matcher was unsure about, shown masked, decided with who and why.

A decision goes into `match_decisions` (the pair in ref order, so one pair has one row) and
marks the pair's `review_queue` rows decided; the next resolution applies it and the
matcher never overrides it (see `munihub.resolve.clustering.cluster`).
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from munihub.store import marks
from munihub import store
from munihub.errors import MunihubError

VERDICTS = ("match", "no-match")


def list_open(engine: sa.Engine, *, entity_type: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Open review pairs, most probable first, each side's record masked for display."""
    from munihub.masking import mask_record, mask_text
    from munihub.resolve.records import rows_for_refs as _rows_for_refs

    q, m = store.review_queue, store.entity_members
    query = sa.select(q.c.id, q.c.entity_type, q.c.left_ref, q.c.right_ref, q.c.probability) \
        .where(q.c.status == "open").order_by(q.c.probability.desc(), q.c.id).limit(limit)
    if entity_type:
        query = query.where(q.c.entity_type == entity_type)
    with engine.connect() as conn:
        pairs = [dict(r) for r in conn.execute(query).mappings()]
        refs = {ref for p in pairs for ref in (p["left_ref"], p["right_ref"])}
        records = _rows_for_refs(conn, refs, {})
        entity = {}
        for where in store.key_clauses(m, (tuple(r.split("|", 1)) for r in refs)):
            entity.update({f"{s}|{k}": e for s, k, e in conn.execute(
                sa.select(m.c.source, m.c.source_key, m.c.entity_id).where(where))})
    for p in pairs:
        for side in ("left", "right"):
            ref = p[f"{side}_ref"]
            p[side] = mask_record((records.get(ref) or {}).get("fields") or {})
            p[f"{side}_entity"] = entity.get(ref)
            p[f"{side}_ref"] = mask_text(ref)  # a source key can be a national id
            p[f"_{side}_ref"] = ref
        p["probability"] = round(p["probability"], 4)
    return pairs


def decide(engine: sa.Engine, left: str, right: str, verdict: str, *, by: str, why: str) -> dict[str, Any]:
    """Record a steward's verdict on one pair (replacing an earlier one) and close its review rows."""
    if verdict not in VERDICTS:
        raise MunihubError(f"unknown decision {verdict!r}", where="review decide",
                           hint=f"use one of: {', '.join(VERDICTS)}")
    if left == right:
        raise MunihubError(f"a record cannot be paired with itself ({left})", where="review decide",
                           hint="give two different refs, e.g. registry.citizens|123 health.patients|9")
    if not (why or "").strip():
        raise MunihubError("a decision needs a reason", where="review decide", hint="pass --why TEXT")
    left, right = sorted((left, right))
    d, q, f = store.match_decisions, store.review_queue, store.match_features
    with engine.begin() as conn:
        now = marks.stamp(conn, d)  # commit-ordered: resolution seeds from decisions after its mark
        known = set(conn.execute(sa.select(f.c.ref).where(f.c.ref.in_([left, right]))).scalars())
        missing = [r for r in (left, right) if r not in known]
        if missing:
            raise MunihubError(f"no resolved record {missing[0]!r}", where="review decide",
                               hint="refs are source|source_key (with #person for a citizen named in "
                                    "another record), as `munihub review list` prints them; run "
                                    "`munihub consolidate` first")
        conn.execute(d.delete().where(d.c.left_ref == left, d.c.right_ref == right))
        conn.execute(d.insert().values(left_ref=left, right_ref=right, decision=verdict,
                                       decided_by=by, decided_at=now, note=why))
        closed = conn.execute(q.update().where(q.c.status == "open", sa.or_(
            sa.and_(q.c.left_ref == left, q.c.right_ref == right),
            sa.and_(q.c.left_ref == right, q.c.right_ref == left))).values(status="decided")).rowcount
    return {"left_ref": left, "right_ref": right, "decision": verdict, "decided_by": by,
            "note": why, "review_rows_closed": closed}


def decide_queued(engine: sa.Engine, review_id: int, verdict: str, *, by: str, why: str) -> dict[str, Any]:
    """`decide` on the pair of one review-queue row (its id as `review list` shows it), so a
    steward never has to type a ref that holds a national id."""
    q = store.review_queue
    with engine.connect() as conn:
        row = conn.execute(sa.select(q.c.left_ref, q.c.right_ref).where(q.c.id == review_id)).first()
    if row is None:
        raise MunihubError(f"no review pair with id {review_id}", where="review decide",
                           hint="ids are in the first column of `munihub review list`")
    return decide(engine, row[0], row[1], verdict, by=by, why=why)
