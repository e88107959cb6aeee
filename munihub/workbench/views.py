"""What the workbench pages read from the store, as plain dicts, masked by the one rule.

Figures of sources come from `munihub.report.build` (the static report shows the same);
this module adds what only an interactive page needs: filtered quarantine, one review pair
with the weight of each comparison, entity search and the decisions behind an entity.
`names=True` masks persons' names too (a viewer); ids, mobiles and landlines are always masked.
"""
from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from munihub import store
from munihub.errors import MunihubError
from munihub.masking import mask_record, mask_text

PAGE = 100
COUNT_CAP = 1_000
ENTITY_ID = re.compile(r"[A-Za-z0-9_\-]{1,40}")
TOKEN = re.compile(r"^[A-Za-z0-9_./:\-]{1,120}$")


class BadInput(MunihubError):
    """Something typed into a page cannot be used; `message_fa` says so in Persian."""

    def __init__(self, what: str, message_fa: str):
        self.message_fa = message_fa
        super().__init__(what, where="workbench")


def fa_digits(value) -> str:
    """A number in Persian digits, for a message (escaped later, with the rest of it)."""
    return str(value).translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _day(value: str | None, what_fa: str) -> str | None:
    from munihub.persian.dates import parse_date
    from munihub.persian.letters import to_latin_digits

    if not value or not value.strip():
        return None
    try:
        return parse_date(to_latin_digits(value.strip()))
    except MunihubError:
        raise BadInput(f"bad date {value!r}", f"«{value}» تاریخ نیست؛ {what_fa} را مانند ۱۴۰۳/۰۸/۱۴ بنویسید.")
    except ValueError:
        raise BadInput(f"bad date {value!r}", f"«{value}» تاریخ نیست؛ {what_fa} را مانند ۱۴۰۳/۰۸/۱۴ بنویسید.")


def _token(value: str | None, what_fa: str) -> str | None:
    if not value or not value.strip():
        return None
    if not TOKEN.match(value.strip()):
        raise BadInput(f"bad filter {value!r}", f"«{value}» برای {what_fa} پذیرفته نیست؛ از فهرست انتخاب کنید.")
    return value.strip()


def positive_int(value: Any, what_fa: str) -> int:
    """An id typed or posted (Persian digits welcome); BadInput in Persian otherwise."""
    from munihub.persian.letters import to_latin_digits

    text = to_latin_digits(str(value or "")).strip()
    if not text.isdigit() or len(text) > 12 or int(text) <= 0:
        raise BadInput(f"not an id: {value!r}", f"«{value}» شمارهٔ {what_fa} نیست.")
    return int(text)


# ---------------------------------------------------------------- quarantine

def quarantine_filters(engine: sa.Engine) -> dict[str, list[str]]:
    """The choices of the filter form: sources, fields and rules that have open entries."""
    q = store.quarantine
    with engine.connect() as conn:
        # sources from the ledger (a few rows per load), not a scan of every quarantined row
        sources = [s for (s,) in conn.execute(sa.select(store.loads.c.source).distinct().order_by(store.loads.c.source))]
        sample = conn.execute(sa.select(q.c.reasons).where(q.c.status == "open").order_by(q.c.id.desc())
                              .limit(2000)).scalars().all()
    fields, rules = set(), set()
    for reasons in sample:
        for r in reasons or []:
            fields.add(r.get("pointer") or r.get("field") or "")
            rules.add(r.get("rule") or "")
    return {"sources": sources, "fields": sorted(f for f in fields if f), "rules": sorted(r for r in rules if r)}


def _reason_filters(engine: sa.Engine, reasons, field: str | None, rule: str | None) -> list:
    """Conditions on the JSON list of reasons ({pointer, field, rule, ...}).  PostgreSQL: JSONB
    containment, which the GIN index of migration 0007 answers; SQLite: the stored JSON text,
    where SQLAlchemy writes `"key": "value"`."""
    out = []
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB

        def has(**item):
            return reasons.op("@>")(sa.literal([item], JSONB))
        if field:  # a pointer (/mobile) from the filter form or a field name (mobile) from the report
            out.append(sa.or_(has(pointer="/" + field.lstrip("/")), has(field=field.lstrip("/"))))
        if rule:
            out.append(has(rule=rule))
        return out
    text = sa.cast(reasons, sa.Text)
    if field:
        name = _like(field.lstrip("/"))
        out.append(sa.or_(text.like(f'%"pointer": "/{name}"%', escape="\\"),
                          text.like(f'%"field": "{name}"%', escape="\\")))
    if rule:
        out.append(text.like(f'%"rule": "{_like(rule)}"%', escape="\\"))
    return out


def list_quarantine(engine: sa.Engine, *, source=None, field=None, rule=None, since=None, until=None,
                    status="open", limit: int = PAGE) -> dict[str, Any]:
    """Quarantined records matching the filters, newest first, with the load's start; the
    payload stays out (the record's own page shows it masked), reasons are masked."""
    q, ld = store.quarantine, store.loads
    source, field, rule = _token(source, "منبع"), _token(field, "فیلد"), _token(rule, "قاعده")
    if status not in ("open", "replayed", "dismissed", "superseded", "all"):
        raise BadInput(f"bad status {status!r}", f"وضعیت «{status}» شناخته نیست.")
    day_from, day_to = _day(since, "تاریخ آغاز"), _day(until, "تاریخ پایان")
    where = []
    if status != "all":
        where.append(q.c.status == status)
    if source:
        where.append(q.c.source == source)
    where += _reason_filters(engine, q.c.reasons, field, rule)
    for day, op in ((day_from, "ge"), (day_to, "lt")):
        if day:  # a Jalali or Gregorian day, Tehran time, as a UTC bound the engine compares
            import datetime as dt
            from munihub.workbench.html import TEHRAN
            bound = dt.datetime.fromisoformat(day).replace(tzinfo=TEHRAN) + dt.timedelta(days=op == "lt")
            bound = bound.astimezone(dt.timezone.utc)
            if engine.dialect.name == "sqlite":
                bound = bound.replace(tzinfo=None)
            # through the ledger's load ids: the quarantine is then read newest first until a
            # page is full, instead of joined and sorted whole
            loads = sa.select(ld.c.load_id).where(ld.c.started_at >= bound if op == "ge" else ld.c.started_at < bound)
            where.append(q.c.load_id.in_(loads.scalar_subquery()))
    query = (sa.select(q.c.id, q.c.source, q.c.load_id, q.c.position, q.c.source_key, q.c.reasons, q.c.status,
                       ld.c.started_at).select_from(q.outerjoin(ld, ld.c.load_id == q.c.load_id))
             .where(*where))
    with engine.connect() as conn:
        # counted up to COUNT_CAP: an exact count of 100k matching rows costs more than the page
        total = conn.execute(sa.select(sa.func.count()).select_from(query.limit(COUNT_CAP + 1).subquery())).scalar()
        rows = conn.execute(query.order_by(q.c.id.desc()).limit(limit)).mappings().all()
    return {"total": total, "cap": COUNT_CAP, "rows": [{
        "id": r["id"], "source": r["source"], "load_id": r["load_id"], "status": r["status"],
        "position": mask_text(r["position"] or ""), "source_key": mask_text(str(r["source_key"] or "")),
        "started_at": r["started_at"],
        "reasons": [{"pointer": x.get("pointer"), "rule": x.get("rule"),
                     "message_fa": mask_text(str(x.get("message_fa") or x.get("message") or ""))}
                    for x in r["reasons"] or []]} for r in rows]}


# ---------------------------------------------------------------- review

def review_pair(engine: sa.Engine, review_id: int, *, names: bool = False) -> dict[str, Any]:
    """One review pair side by side: fields (differences marked on the unmasked values, shown
    masked) and each comparison's level and Fellegi-Sunter weight (log2 m/u), as Splink shows."""
    from munihub.contracts.schemas import flatten
    from munihub.resolve.explain import explain_features
    from munihub.resolve.match import settings_for
    from munihub.resolve.records import rows_for_refs

    q, f, mm, m = store.review_queue, store.match_features, store.match_models, store.entity_members
    with engine.connect() as conn:
        pair = conn.execute(sa.select(q).where(q.c.id == review_id)).mappings().first()
        if pair is None:
            raise BadInput(f"no review pair {review_id}", f"جفتی با شمارهٔ {fa_digits(review_id)} در صف بازبینی نیست.")
        refs = [pair["left_ref"], pair["right_ref"]]
        records = rows_for_refs(conn, refs, {})
        feats = dict(conn.execute(sa.select(f.c.ref, f.c.features).where(f.c.ref.in_(refs))).all())
        model = conn.execute(sa.select(mm.c.model).where(mm.c.entity_type == pair["entity_type"])).scalar()
        entity = {}
        for where in store.key_clauses(m, (tuple(r.split("|", 1)) for r in refs)):
            entity.update({f"{s}|{k}": e for s, k, e in conn.execute(
                sa.select(m.c.source, m.c.source_key, m.c.entity_id).where(where))})
    sides = [flatten((records.get(ref) or {}).get("fields") or {}) for ref in refs]
    masked = [flatten(mask_record((records.get(ref) or {}).get("fields") or {}, names=names)) for ref in refs]
    fields = [{"field": k, "left": masked[0].get(k), "right": masked[1].get(k),
               "differs": sides[0].get(k) != sides[1].get(k)} for k in sorted(set(sides[0]) | set(sides[1]))]
    comparisons = []
    try:  # the rows `munihub resolve explain` prints; a null side has no weight to show
        conf = settings_for(pair["entity_type"])
        why = explain_features(feats.get(refs[0]) or {}, feats.get(refs[1]) or {}, conf, model)
        comparisons = [{"comparison": r["comparison"], "level": r["level"],
                        "weight": None if r["level"] == "null" else round(r["weight"], 2)} for r in why["comparisons"]]
    except MunihubError:
        pass  # an entity type without matching settings: fields only
    return {"id": pair["id"], "entity_type": pair["entity_type"], "status": pair["status"],
            "probability": round(pair["probability"], 4), "created_at": pair["created_at"],
            "left_ref": mask_text(refs[0]), "right_ref": mask_text(refs[1]),
            "left_entity": entity.get(refs[0]), "right_entity": entity.get(refs[1]),
            "fields": fields, "comparisons": comparisons}


# ---------------------------------------------------------------- entities

def _members_to_entities(conn, pairs: set[tuple[str, str]]) -> list[str]:
    m = store.entity_members
    found: list[str] = []
    for where in store.key_clauses(m, pairs):
        found += [e for (e,) in conn.execute(sa.select(m.c.entity_id).where(where))]
    return found


def _refs_by_feature(conn, feature: str, value: str, limit: int) -> set[tuple[str, str]]:
    """(source, key) of records whose matcher feature `feature` equals `value`, found through
    the blocking index in the store (`match_keys`, a primary-key lookup on both engines)
    rather than by scanning every record's features; each hit is checked against its
    stored features, so a hash collision finds nothing extra."""
    from munihub.resolve.blocking import block_id
    from munihub.resolve.match import DEFAULT_SETTINGS, settings_for

    keys = []
    for etype in DEFAULT_SETTINGS:
        blocking = settings_for(etype).get("blocking", [])
        if [feature] in blocking:
            keys.append(block_id(etype, (blocking.index([feature]), value)))
    if not keys:
        return set()
    k, f = store.match_keys, store.match_features
    refs = conn.execute(sa.select(k.c.ref).where(k.c.key.in_(keys)).limit(limit * 4)).scalars().all()
    if not refs:
        return set()
    found = conn.execute(sa.select(f.c.ref, f.c.features).where(f.c.ref.in_(refs))).all()
    return {tuple(ref.split("|", 1)) for ref, feats in found
            if (feats or {}).get(feature) == value}


def search_entities(engine: sa.Engine, text: str, *, names: bool = False, limit: int = 50) -> dict[str, Any]:
    """Entities by national id, mobile, name (normalized as the matcher does) or source record id.

    Digits may be typed in Persian or Arabic-Indic; a name is folded to the matcher's name key
    (letter forms, half-spaces, titles), so `علي‌رضا` finds `علیرضا`.
    """
    from munihub.persian import ids
    from munihub.persian.letters import to_latin_digits
    from munihub.resolve.match import _transform

    query = (text or "").strip()
    if not query:
        return {"kind": None, "entities": []}
    if len(query) > 200:
        raise BadInput("query too long", "عبارت جست‌وجو بیش از اندازه بلند است.")
    latin = re.sub(r"[\s\-]", "", to_latin_digits(query))
    with engine.connect() as conn:
        if "|" in query:
            kind = "ref"
            source, _, key = query.partition("|")
            found = _members_to_entities(conn, {(source.strip(), to_latin_digits(key.strip()))})
        elif latin.isdigit() and len(latin) == 10 and not latin.startswith("09"):
            kind = "national_id"
            if not ids.is_valid_national_id(latin):
                raise BadInput("bad national id", f"«{query}» کد ملی معتبر نیست (رقم کنترل نمی‌خواند).")
            found = _members_to_entities(conn, _refs_by_feature(conn, "national_id", latin, limit))
        elif latin.lstrip("+").isdigit() and len(latin.lstrip("+")) >= 10:
            kind = "mobile"
            try:
                mobile = ids.parse_mobile(latin)
            except MunihubError:
                raise BadInput("bad mobile", f"«{query}» شمارهٔ همراه درستی نیست (نمونه: ۰۹۱۵۱۲۳۴۵۶۷).")
            found = _members_to_entities(conn, _refs_by_feature(conn, "mobile", _transform(mobile, "raw"), limit))
        elif latin.isdigit() or re.fullmatch(r"[A-Za-z0-9_.:/-]+", latin):
            kind = "source_key"
            m = store.entity_members
            found = [e for (e,) in conn.execute(sa.select(m.c.entity_id).where(m.c.source_key == latin)
                                                .limit(limit))]
        else:
            kind = "name"
            key = _transform(query, "name")
            if not key:
                raise BadInput("empty name", f"«{query}» نامی برای جست‌وجو ندارد.")
            found = _members_to_entities(conn, _refs_by_feature(conn, "full_key", key, limit))
        ids_found = list(dict.fromkeys(found))[:limit]
        e = store.entities
        rows = conn.execute(sa.select(e.c.entity_id, e.c.entity_type, e.c.golden, e.c.member_count)
                            .where(e.c.entity_id.in_(ids_found))).mappings().all() if ids_found else []
    return {"kind": kind, "entities": [{**dict(r), "golden": mask_record(r["golden"], names=names)}
                                       for r in sorted(rows, key=lambda r: r["entity_id"])]}


def entity_page(engine: sa.Engine, settings, entity_id: str, *, names: bool = False) -> dict[str, Any]:
    """The golden record, the lineage of each value, members and the steward decisions on them."""
    from munihub.resolve.entities import show_entity

    if not ENTITY_ID.fullmatch(entity_id or ""):
        raise BadInput("bad entity id", f"«{entity_id}» شناسهٔ موجودیت نیست (نمونه: P-1a2b3c4d5e6f).")
    try:
        ent = show_entity(settings, entity_id)
    except MunihubError:
        raise BadInput(f"no entity {entity_id}", f"موجودیتی با شناسهٔ «{entity_id}» پیدا نشد.")
    refs = [f"{x['source']}|{x['source_key']}" for x in ent["members"]]
    d = store.match_decisions
    with engine.connect() as conn:
        decisions = [dict(r) for r in conn.execute(sa.select(d).where(
            sa.or_(d.c.left_ref.in_(refs), d.c.right_ref.in_(refs))).order_by(d.c.decided_at)).mappings()]
    lineage = []
    for field, where in sorted((ent["lineage"] or {}).items()):
        source, _, key = str(where.get("ref") or "").partition("|")
        lineage.append({"field": field, "source": source, "source_key": mask_text(key),
                        "load_id": where.get("load_id"), "rule": where.get("rule")})
    return {"entity_id": ent["entity_id"], "entity_type": ent["entity_type"],
            "golden": mask_record(ent["golden"], names=names), "lineage": lineage,
            "members": [{**x, "source_key": mask_text(str(x["source_key"]))} for x in ent["members"]],
            "decisions": [{**x, "left_ref": mask_text(x["left_ref"]), "right_ref": mask_text(x["right_ref"]),
                           "note": mask_text(x["note"] or "")} for x in decisions]}


# ---------------------------------------------------------------- checks explained

EXAMPLES = 5


def failing_examples(engine: sa.Engine, source: str, checks: list[dict]) -> dict[str, dict]:
    """Per check name, a few published rows or values that the check counts against the source:
    rows with the field empty (nullValues, missingValues), values held by several rows
    (duplicateValues); masked.  Only for checks that measured something (observed > 0)."""
    s = store.source_rows
    out: dict[str, dict] = {}
    with engine.connect() as conn:
        for c in checks:
            field, metric, observed = c.get("field"), c.get("metric"), c.get("observed")
            if not field or not isinstance(observed, (int, float)) or observed <= 0 or not TOKEN.match(field):
                continue
            value = s.c.record[tuple(field.split("."))] if "." in field else s.c.record[field]
            text = value.as_string()
            if metric in ("nullValues", "missingValues"):
                keys = conn.execute(sa.select(s.c.source_key).where(
                    s.c.source == source, sa.or_(text.is_(None), text == "")).order_by(s.c.source_key)
                    .limit(EXAMPLES)).scalars().all()
                out[c["name"]] = {"kind": "rows", "items": [mask_text(k) for k in keys]}
            elif metric == "duplicateValues":
                rows = conn.execute(sa.select(text, sa.func.count()).where(s.c.source == source, text.isnot(None))
                                    .group_by(text).having(sa.func.count() > 1).order_by(sa.func.count().desc())
                                    .limit(EXAMPLES)).all()
                out[c["name"]] = {"kind": "values", "items": [
                    f"{mask_record({field.split('.')[-1]: v})[field.split('.')[-1]]} ×{n}" for v, n in rows]}
    return out
