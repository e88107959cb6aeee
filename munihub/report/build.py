"""The stewards' quality report: figures gathered from the store as plain dicts (run JSON).

`gather` reads the ledger, quarantine, entities and review queue once and returns JSON-ready
data; `write_report` saves it as `run-<id>.json` plus static HTML pages (rendered by
`munihub.report.render`).  Every value that could carry an id or mobile is masked here,
before it reaches any file.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
from array import array
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from munihub import store
from munihub.errors import ConfigError, StoreError
from munihub.masking import mask_record, mask_text

EXAMPLES_PER_REASON = 3
TOP_REASONS = 10
REVIEW_LIMIT = 500
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,80}$")


def _utc(value) -> dt.datetime | None:
    """A timestamp from either engine (SQLite gives naive datetimes or strings) as aware UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).replace(microsecond=0)


def _iso(value) -> str | None:
    when = _utc(value)
    return when.isoformat() if when else None


def _contracts_by_id(contracts) -> dict[str, Any]:
    if not contracts:
        return {}
    if isinstance(contracts, dict):
        return dict(contracts)
    return {c.id: c for c in contracts}


def _published(row) -> int:
    return (row["rows_new"] or 0) + (row["rows_changed"] or 0) + (row["rows_unchanged"] or 0)


def _load_summary(row) -> dict[str, Any]:
    rows_in, quarantined, published = row["rows_in"] or 0, row["rows_quarantined"] or 0, _published(row)
    return {"load_id": row["load_id"], "status": row["status"], "contract_version": row["contract_version"],
            "started_at": _iso(row["started_at"]), "finished_at": _iso(row["finished_at"]),
            "rows_in": rows_in, "rows_new": row["rows_new"] or 0, "rows_changed": row["rows_changed"] or 0,
            "rows_unchanged": row["rows_unchanged"] or 0, "rows_quarantined": quarantined,
            # only a published load can balance: a held or failed one published nothing on purpose
            "published": published,
            "balanced": rows_in == published + quarantined if row["status"] == "published" else None,
            # values kept out of published records (field -> count): the records are in `published`
            "values_set_aside": dict(row.get("values_set_aside") or {}),
            "error": mask_text(row["error"]) if row["error"] else None}


def _observed(value):
    """Measured numbers stay as they are; anything else (a sample value) is masked text."""
    if value is None or isinstance(value, (int, float, bool)):
        return value
    return mask_text(str(value))


def _checks_summary(checks: list[dict] | None) -> dict[str, Any]:
    """Counts by status and each check as shown (messages masked: they may quote values)."""
    items = []
    for c in checks or []:
        items.append({"name": c.get("name"), "field": c.get("field"), "metric": c.get("metric"),
                      "severity": c.get("severity"), "status": c.get("status"),
                      "observed": _observed(c.get("observed")), "expected": c.get("expected"),
                      "message": mask_text(str(c.get("message") or ""))})
    counts = Counter(i["status"] for i in items)
    docs = next((c.get("data_docs") for c in checks or [] if c.get("data_docs")), None)
    return {"passed": counts["passed"], "warning": counts["warning"], "failed": counts["failed"],
            "error": counts["error"], "items": items, "data_docs": docs}


def _trends(conn, runs: int) -> dict[str, list[dict]]:
    """The last `runs` loads of every source, oldest first, in one windowed query."""
    t = store.loads
    rank = sa.func.row_number().over(partition_by=t.c.source,
                                     order_by=(t.c.started_at.desc(), t.c.load_id.desc())).label("rank")
    inner = sa.select(t.c.source, t.c.load_id, t.c.status, t.c.started_at, t.c.rows_in, t.c.rows_new,
                      t.c.rows_changed, t.c.rows_unchanged, t.c.rows_quarantined, rank).subquery()
    rows = conn.execute(sa.select(inner).where(inner.c.rank <= runs)
                        .order_by(inner.c.source, inner.c.rank.desc())).mappings()
    out: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        out[r["source"]].append({"load_id": r["load_id"], "status": r["status"], "started_at": _iso(r["started_at"]),
                                 "rows_in": r["rows_in"] or 0, "published": _published(r),
                                 "quarantined": r["rows_quarantined"] or 0})
    return out


def _last_loads(conn) -> dict[str, dict]:
    t = store.loads
    rank = sa.func.row_number().over(partition_by=t.c.source,
                                     order_by=(t.c.started_at.desc(), t.c.load_id.desc())).label("rank")
    inner = sa.select(t, rank).subquery()
    rows = conn.execute(sa.select(inner).where(inner.c.rank == 1)).mappings()
    return {r["source"]: dict(r) for r in rows}


def _last_checks(conn) -> dict[str, dict]:
    """Per source, the newest load that ran checks (read rows): a quiet run that read nothing
    has no checks, and must not wipe the last ones from the report (issue 19)."""
    t = store.loads
    rank = sa.func.row_number().over(partition_by=t.c.source,
                                     order_by=(t.c.started_at.desc(), t.c.load_id.desc())).label("rank")
    inner = sa.select(t.c.source, t.c.load_id, t.c.checks, rank).where(t.c.rows_in > 0).subquery()
    rows = conn.execute(sa.select(inner.c.source, inner.c.load_id, inner.c.checks).where(inner.c.rank == 1))
    return {source: {"load_id": load_id, "checks": checks} for source, load_id, checks in rows}


def open_set_aside(conn) -> dict[str, dict[str, int]]:
    """source -> field -> values set aside still open (not replayed, dismissed or superseded)."""
    t = store.set_aside
    out: dict[str, dict[str, int]] = {}
    for source, field, n in conn.execute(sa.select(t.c.source, t.c.field, sa.func.count())
                                         .where(t.c.status == "open").group_by(t.c.source, t.c.field)):
        out.setdefault(source, {})[field] = n
    return out


def _last_published(conn) -> dict[str, Any]:
    t = store.loads
    return dict(conn.execute(sa.select(t.c.source, sa.func.max(t.c.finished_at))
                             .where(t.c.status == "published").group_by(t.c.source)).all())


def _quarantine(conn) -> dict[str, dict]:
    """Open quarantine per source: top reasons (rule + field) with a few masked examples."""
    q = store.quarantine
    rows = conn.execute(sa.select(q.c.id, q.c.source, q.c.load_id, q.c.source_key, q.c.raw, q.c.reasons)
                        .where(q.c.status == "open").order_by(q.c.source, q.c.id))
    per: dict[str, dict] = {}
    for qid, source, load_id, key, raw, reasons in rows:
        entry = per.setdefault(source, {"open": 0, "reasons": {}})
        entry["open"] += 1
        if isinstance(reasons, str):
            reasons = json.loads(reasons)
        for reason in reasons or []:
            field = reason.get("field") or reason.get("pointer") or ""
            slot = entry["reasons"].setdefault((reason.get("rule") or "?", field), {"count": 0, "examples": []})
            slot["count"] += 1
            if len(slot["examples"]) < EXAMPLES_PER_REASON:
                if isinstance(raw, str):
                    raw = json.loads(raw)
                slot["examples"].append({
                    "quarantine_id": qid, "load_id": load_id, "source_key": mask_text(str(key or "")),
                    "message": mask_text(str(reason.get("message") or "")),
                    "message_fa": mask_text(str(reason.get("message_fa") or "")),
                    "raw": json.dumps(mask_record(raw), ensure_ascii=False, sort_keys=True)[:400]})
    out = {}
    for source, entry in per.items():
        ranked = sorted(entry["reasons"].items(), key=lambda kv: (-kv[1]["count"], kv[0]))
        out[source] = {"open": entry["open"], "distinct_reasons": len(ranked),
                       "reasons": [{"rule": rule, "field": field, **slot} for (rule, field), slot in ranked[:TOP_REASONS]]}
    return out


def _shown(value) -> str:
    """A (masked) raw value as text: a string as it is, anything else as JSON; at most 200 characters."""
    return (value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True))[:200]


def _set_aside(conn) -> dict[str, dict]:
    """Open set-aside values per source: count per field and rule, with a few masked examples
    (record key, value, reason) each; counted in SQL, only the examples are read."""
    t = store.set_aside
    counts: dict[str, dict] = {}
    for source, field, rule, n in conn.execute(sa.select(t.c.source, t.c.field, t.c.rule, sa.func.count())
                                               .where(t.c.status == "open").group_by(t.c.source, t.c.field, t.c.rule)):
        entry = counts.setdefault(source, {"open": 0, "fields": {}})
        entry["open"] += n
        entry["fields"][(field, rule)] = {"field": field, "rule": rule, "count": n, "examples": []}
    if not counts:
        return {}
    rank = sa.func.row_number().over(partition_by=(t.c.source, t.c.field, t.c.rule), order_by=t.c.id).label("rank")
    inner = sa.select(t.c.id, t.c.source, t.c.field, t.c.rule, t.c.source_key, t.c.value, t.c.reason, rank) \
        .where(t.c.status == "open").subquery()
    for row in conn.execute(sa.select(inner).where(inner.c.rank <= EXAMPLES_PER_REASON)
                            .order_by(inner.c.source, inner.c.id)).mappings():
        reason = row["reason"] if isinstance(row["reason"], dict) else json.loads(row["reason"] or "{}")
        counts[row["source"]]["fields"][(row["field"], row["rule"])]["examples"].append({
            "set_aside_id": row["id"], "source_key": mask_text(str(row["source_key"])),
            "value": _shown(mask_record(row["value"], row["field"])),
            "message": mask_text(str(reason.get("message") or "")),
            "message_fa": mask_text(str(reason.get("message_fa") or ""))})
    return {source: {"open": entry["open"],
                     "fields": sorted(entry["fields"].values(), key=lambda x: (-x["count"], x["field"], x["rule"]))}
            for source, entry in counts.items()}


def _freshness(contract, last_published, now: dt.datetime) -> dict[str, Any]:
    window = getattr(contract, "freshness_seconds", None) if contract else None
    when = _utc(last_published)
    age = int((now - when).total_seconds()) if when else None
    stale = None if not window else (age is None or age > window)
    return {"window_seconds": window, "last_published": _iso(when), "age_seconds": age, "stale": stale}


def _entities(conn) -> tuple[list[dict], dict[str, Any]]:
    """Records before and entities after duplicate cutting, and cross-source overlap."""
    m, e, s = store.entity_members, store.entities, store.source_rows
    members = dict(conn.execute(sa.select(m.c.entity_type, sa.func.count()).group_by(m.c.entity_type)).all())
    ents = dict(conn.execute(sa.select(e.c.entity_type, sa.func.count()).group_by(e.c.entity_type)).all())
    rows = dict(conn.execute(sa.select(s.c.entity_type, sa.func.count()).group_by(s.c.entity_type)).all())
    types = []
    for etype in sorted(set(members) | set(ents) | set(rows)):
        before, after = members.get(etype, 0), ents.get(etype, 0)
        types.append({"entity_type": etype, "source_rows": rows.get(etype, 0), "records": before,
                      "entities": after, "duplicates": max(before - after, 0),
                      "duplicate_rate": round((before - after) / before, 4) if before else 0.0})
    return types, _overlap(conn)


def _overlap(conn) -> dict[str, Any]:
    """Entities with members in two or more sources, and the entities each pair of sources shares.

    One pass over the members in entity order; each source's entities become a bitset (an
    int), so a pair is one AND and a popcount.  The self-join this replaces made a row for
    every pair of sources inside every entity: 0.93M rows and 2-3.5 s on PostgreSQL at 20
    sources x 10,000 rows (sorts spilling to disk), on every consolidate, growing with the
    square of the sources an entity spans.  Sources are ordered by code point on every engine.
    """
    m = store.entity_members
    members: dict[str, array] = defaultdict(lambda: array("L"))
    entities, last = 0, None
    rows = conn.execute(sa.select(m.c.entity_id, m.c.source).order_by(m.c.entity_id)
                        .execution_options(stream_results=True, yield_per=20_000))  # flat memory
    for entity_id, source in rows:
        if entity_id != last:
            entities, last = entities + 1, entity_id
        members[source].append(entities - 1)
    bitsets = {}
    for source, indexes in members.items():
        bits = bytearray((entities + 7) // 8)
        for i in indexes:
            bits[i >> 3] |= 1 << (i & 7)
        bitsets[source] = int.from_bytes(bits, "little")
    once = twice = 0
    for bits in bitsets.values():
        twice |= once & bits
        once |= bits
    names = sorted(bitsets)
    pairs = [{"left": x, "right": y, "entities": n}
             for i, x in enumerate(names) for y in names[i + 1:] if (n := (bitsets[x] & bitsets[y]).bit_count())]
    return {"multi_source_entities": twice.bit_count(), "pairs": pairs}


def gather(engine: sa.Engine, contracts=None, runs: int = 30, *, now: dt.datetime | None = None,
           run_id: str | None = None) -> dict[str, Any]:
    """Every figure the report shows, as JSON-ready plain data (masked, timestamps in UTC)."""
    now = _utc(now or dt.datetime.now(dt.timezone.utc))
    by_id = _contracts_by_id(contracts)
    try:
        with engine.connect() as conn:
            last, published = _last_loads(conn), _last_published(conn)
            checked = _last_checks(conn)
            trends, quarantined, aside = _trends(conn, runs), _quarantine(conn), _set_aside(conn)
            types, overlap = _entities(conn)
            review_open = conn.execute(sa.select(sa.func.count()).select_from(store.review_queue)
                                       .where(store.review_queue.c.status == "open")).scalar() or 0
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"cannot read the store for the report: {exc.__class__.__name__}",
                         where=str(engine.url.render_as_string(hide_password=True)),
                         hint="run `munihub run` once so the store is created and migrated") from exc
    sources = []
    for source in sorted(set(by_id) | set(last)):
        contract, row = by_id.get(source), last.get(source)
        load = _load_summary(row) if row else None
        sources.append({
            "source": source,
            "agency": getattr(contract, "agency", None) or source.split(".")[0],
            "owner": getattr(contract, "owner", None), "contract_version": getattr(contract, "version", None),
            "has_contract": contract is not None,
            "last_load": load,
            "held": bool(load and load["status"] == "held"),
            "checks": _checks_summary((checked.get(source) or {}).get("checks") or (row["checks"] if row else None)),
            "checks_load_id": (checked.get(source) or {}).get("load_id"),
            "quarantine": quarantined.get(source, {"open": 0, "distinct_reasons": 0, "reasons": []}),
            "set_aside": aside.get(source, {"open": 0, "fields": []}),
            "freshness": _freshness(contract, published.get(source), now),
            "trend": trends.get(source, []),
        })
    return {"run_id": run_id, "generated_at": now.isoformat(), "runs": runs, "sources": sources,
            "entities": types, "overlap": overlap, "review": {"open": review_open},
            "totals": _totals(sources, types, review_open)}


def _totals(sources: list[dict], types: list[dict], review_open: int) -> dict[str, Any]:
    loads = [s["last_load"] for s in sources if s["last_load"]]
    return {"sources": len(sources),
            "published_sources": sum(1 for x in loads if x["status"] == "published"),
            "held_sources": sum(1 for s in sources if s["held"]),
            "failed_sources": sum(1 for x in loads if x["status"] == "failed"),
            "stale_sources": sum(1 for s in sources if s["freshness"]["stale"]),
            "rows_in": sum(x["rows_in"] for x in loads), "published": sum(x["published"] for x in loads),
            "quarantined": sum(x["rows_quarantined"] for x in loads),
            # waiting for a steward, of every load (a quiet re-run must not hide them)
            "values_set_aside": sum(s["set_aside"]["open"] for s in sources),
            "unbalanced_sources": sum(1 for x in loads if x["balanced"] is False),
            "records": sum(t["records"] for t in types), "entities": sum(t["entities"] for t in types),
            "review_open": review_open}


def headline(engine: sa.Engine, contracts=None, *, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Per source, for `munihub status`: last status, rows in/published/quarantined, freshness."""
    now = _utc(now or dt.datetime.now(dt.timezone.utc))
    by_id = _contracts_by_id(contracts)
    with engine.connect() as conn:  # only the ledger: status must stay quick on a big store
        last, published, waiting = _last_loads(conn), _last_published(conn), open_set_aside(conn)
        t = store.source_identity  # rows still keyed by a former record identity (munihub.ingest.identity)
        former = dict(conn.execute(sa.select(t.c.source, t.c.former_rows).where(t.c.former_rows > 0)).all())
    out = []
    for source in sorted(set(by_id) | set(last)):
        load = _load_summary(last[source]) if source in last else {}
        fresh = _freshness(by_id.get(source), published.get(source), now)
        out.append({"source": source, "status": load.get("status", "never run"),
                    "rows_in": load.get("rows_in", 0), "published": load.get("published", 0),
                    "quarantined": load.get("rows_quarantined", 0),
                    # values set aside still waiting for a steward, of every load: a quiet re-run
                    # that reads nothing sets nothing aside, and must not hide last week's
                    "set_aside": sum(waiting.get(source, {}).values()),
                    "set_aside_fields": ", ".join(f"{f} {n}" for f, n in sorted(waiting.get(source, {}).items())),
                    "set_aside_by_field": waiting.get(source, {}),
                    "set_aside_last_load": sum(load.get("values_set_aside", {}).values()),
                    # they move to their record id when their records are read again
                    "rows_keyed_by_former_identity": former.get(source, 0),
                    "finished_at": load.get("finished_at"),
                    "age_seconds": fresh["age_seconds"],
                    "stale": {True: "yes", False: "no", None: "-"}[fresh["stale"]]})
    return out


def _ref_parts(ref: str) -> tuple[str, str]:
    """`source|key#person` -> (source, key): refs are how the matcher names a record."""
    source, _, key = ref.partition("|")
    return source, key.split("#", 1)[0]


def review_pairs(engine: sa.Engine, limit: int = REVIEW_LIMIT) -> list[dict[str, Any]]:
    """Open review pairs, most likely matches first, each side's record masked for display."""
    rq, sr = store.review_queue, store.source_rows
    with engine.connect() as conn:
        pairs = conn.execute(sa.select(rq).where(rq.c.status == "open")
                             .order_by(rq.c.probability.desc(), rq.c.id).limit(limit)).mappings().all()
        wanted = {_ref_parts(r) for p in pairs for r in (p["left_ref"], p["right_ref"])}
        records: dict[tuple[str, str], dict] = {}
        for where in store.key_clauses(sr, wanted):
            for source, key, rec in conn.execute(sa.select(sr.c.source, sr.c.source_key, sr.c.record).where(where)):
                records[(source, key)] = json.loads(rec) if isinstance(rec, str) else rec
    out = []
    for p in pairs:
        sides = []
        for ref in (p["left_ref"], p["right_ref"]):
            source, key = _ref_parts(ref)
            sides.append({"source": source, "key": mask_text(key),
                          "record": mask_record(records.get((source, key)) or {})})
        out.append({"id": p["id"], "entity_type": p["entity_type"], "probability": round(p["probability"], 4),
                    "created_at": _iso(p["created_at"]), "left": sides[0], "right": sides[1]})
    return out


def write_atomic(path: Path, text: str) -> None:
    """Write beside the target, then rename: readers never see half a page."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _run_headline(data: dict) -> dict[str, Any]:
    return {"run_id": data["run_id"], "generated_at": data["generated_at"], **data["totals"]}


def _run_index(out_dir: Path, current: dict) -> list[dict]:
    """Headlines of every run in the directory: kept in runs.json, rebuilt from run-*.json if lost."""
    index_file = out_dir / "runs.json"
    runs: dict[str, dict] = {}
    try:
        runs = {r["run_id"]: r for r in json.loads(index_file.read_text(encoding="utf-8"))}
    except (OSError, ValueError, KeyError, TypeError):
        for path in out_dir.glob("run-*.json"):
            try:
                old = json.loads(path.read_text(encoding="utf-8"))
                runs[old["run_id"]] = _run_headline(old)
            except (OSError, ValueError, KeyError, TypeError):
                continue  # a foreign or damaged file: leave it alone, do not list it
    runs[current["run_id"]] = _run_headline(current)
    ordered = sorted(runs.values(), key=lambda r: (r.get("generated_at") or "", r["run_id"]), reverse=True)
    write_atomic(index_file, json.dumps(ordered, ensure_ascii=False, indent=1))
    return ordered


def write_report(engine: sa.Engine, out_dir, contracts=None, run_id: str | None = None, *,
                 now: dt.datetime | None = None, runs: int = 30) -> Path:
    """Write run-<id>.json, run-<id>.html, review.html and index.html; return the index path."""
    from munihub.report import render as report_html

    now = _utc(now or dt.datetime.now(dt.timezone.utc))
    run_id = run_id or now.strftime("%Y%m%dT%H%M%SZ")
    if not _RUN_ID.match(run_id):
        raise ConfigError(f"run id {run_id!r} is not usable in a file name",
                          hint="use letters, digits, '.', '_' or '-'")
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the report directory: {exc.strerror}", where=str(out),
                          hint="set MUNIHUB_HOME or the reports path to a writable directory") from exc
    data = gather(engine, contracts, runs=runs, now=now, run_id=run_id)
    pairs = review_pairs(engine)
    write_atomic(out / f"run-{run_id}.json", json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True))
    write_atomic(out / f"run-{run_id}.html", report_html.render_run(data))
    write_atomic(out / "review.html", report_html.render_review(pairs, data))
    index = out / "index.html"
    write_atomic(index, report_html.render_index(_run_index(out, data)))
    return index

