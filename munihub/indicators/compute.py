"""Compute indicators in the store: one SQL aggregate per definition over its fact, on SQLite
and PostgreSQL alike, written to `indicator_values` per Jalali period and cell.

`refresh` recomputes only the periods whose rows changed since the indicator's last run
(a changed definition, a snapshot indicator, or `full=True` recompute everything).  Medians
and percentiles are taken with window functions (the two middle rows of each cell) and
interpolated linearly, the way numpy and PostgreSQL's percentile_cont do.
"""
from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from typing import Any, Iterable

import sqlalchemy as sa

from munihub import store
from munihub.indicators import calendar
from munihub.indicators.define import Definition, as_json
from munihub.indicators.facts import FACTS, Fact

PERMILLE = 1000  # percentiles in integer per-mille: integer division picks the same row on every engine


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _condition(rel, cond: dict):
    col, op, value = rel.c[cond["field"]], cond.get("op", "eq"), cond.get("value")
    return {"eq": lambda: col == value, "ne": lambda: sa.or_(col != value, col.is_(None)),
            "in": lambda: col.in_(value), "not_in": lambda: sa.or_(col.not_in(value), col.is_(None)),
            "null": lambda: col.is_(None), "not_null": lambda: col.is_not(None),
            "gt": lambda: col > value, "ge": lambda: col >= value,
            "lt": lambda: col < value, "le": lambda: col <= value}[op]()


def _framed(defn: Definition, fact: Fact, rel, as_of: dt.datetime):
    """(from clause, period column, cell columns, where clauses) of a definition over its fact."""
    cal = store.indicator_calendar
    source = rel
    if defn.time in ("month", "week"):
        source = rel.join(cal, cal.c.day == rel.c[fact.day])
        period = cal.c[defn.time]
    elif defn.time == "period":
        period = rel.c[fact.period_field]
    else:  # no period dimension: a snapshot, kept under the Jalali month it was taken in
        period = sa.literal(calendar.month_of(as_of))
    cells = [rel.c[fact.dimensions[d]].label(d) for d in defn.cells]
    where = [_condition(rel, c) for c in defn.filters]
    # A constant period is not grouped or partitioned by (PostgreSQL refuses GROUP BY 'text').
    keys = ([] if defn.time is None else [period]) + [rel.c[fact.dimensions[d]] for d in defn.cells]
    return source, period.label("period"), cells, where, keys


def aggregate_query(defn: Definition, rel, as_of: dt.datetime, periods: list[str] | None = None):
    """The SQL giving one row per period and cell: rows, citizens, the measure's parts, the target."""
    fact = FACTS[defn.source]
    source, period, cells, where, keys = _framed(defn, fact, rel, as_of)
    if periods is not None and defn.time is not None:
        where.append(period.element.in_(periods))
    m = defn.measure
    kind = m["kind"]
    parts: list = [sa.func.count().label("rows")]
    parts.append((sa.func.count(sa.distinct(rel.c[fact.citizen])) if fact.citizen else sa.null()).label("citizens"))
    if kind == "count":
        parts += [sa.func.count().label("numerator"), sa.null().label("denominator")]
    elif kind == "distinct_count":
        parts += [sa.func.count(sa.distinct(rel.c[m["field"]])).label("numerator"), sa.null().label("denominator")]
    elif kind == "sum":
        parts += [sa.func.sum(rel.c[m["field"]]).label("numerator"), sa.null().label("denominator")]
    elif kind == "mean":
        parts += [sa.func.sum(rel.c[m["field"]]).label("numerator"),
                  sa.func.count(rel.c[m["field"]]).label("denominator")]
    elif kind == "share":
        hit = sa.and_(*(_condition(rel, c) for c in m["where"]))
        parts += [sa.func.sum(sa.case((hit, 1), else_=0)).label("numerator"), sa.func.count().label("denominator")]
    else:  # median, percentile: the value comes from `percentile_query`
        parts += [sa.func.count(rel.c[m["field"]]).label("numerator"), sa.null().label("denominator")]
    target = (defn.target or {}).get("field")
    parts.append((sa.func.avg(rel.c[target]) if target else sa.null()).label("target"))
    return sa.select(period, *cells, *parts).select_from(source).where(*where).group_by(*keys)


def percentile_query(defn: Definition, rel, as_of: dt.datetime, periods: list[str] | None = None):
    """The one or two rows around the percentile of each cell: (period, cells…, v, rn, n)."""
    fact = FACTS[defn.source]
    source, period, cells, where, keys = _framed(defn, fact, rel, as_of)
    value = rel.c[defn.measure["field"]]
    where.append(value.is_not(None))
    if periods is not None and defn.time is not None:
        where.append(period.element.in_(periods))
    part = keys or None
    inner = sa.select(period, *cells, value.label("v"),
                      sa.func.row_number().over(partition_by=part, order_by=value).label("rn"),
                      sa.func.count().over(partition_by=part).label("n")
                      ).select_from(source).where(*where).subquery("ranked")
    p = int(round(_p(defn) * PERMILLE))
    pos = (inner.c.n - 1) * p // PERMILLE  # integer division on both engines
    return sa.select(inner).where(sa.or_(inner.c.rn - 1 == pos, inner.c.rn - 2 == pos))


def _p(defn: Definition) -> float:
    return 0.5 if defn.measure["kind"] == "median" else float(defn.measure["p"])


def _interpolate(defn: Definition, rows) -> dict[tuple, float]:
    p = int(round(_p(defn) * PERMILLE))
    picked: dict[tuple, dict[int, float]] = defaultdict(dict)
    sizes: dict[tuple, int] = {}
    for r in rows:
        key = tuple(r[:-3])
        picked[key][r.rn] = float(r.v)
        sizes[key] = r.n
    out = {}
    for key, vals in picked.items():
        n = sizes[key]
        pos, frac = divmod((n - 1) * p, PERMILLE)
        lo = vals[pos + 1]
        hi = vals.get(pos + 2, lo)
        out[key] = lo + (hi - lo) * frac / PERMILLE
    return out


def figures(conn, defn: Definition, as_of: dt.datetime, periods: list[str] | None = None) -> list[dict]:
    """The figures of `defn` (for `periods`, or all) as rows: period, dims, value and its parts."""
    fact = FACTS[defn.source]
    _cover_calendar(conn, defn, as_of)
    rel = fact.build(conn.dialect.name, as_of.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat())
    kind = defn.measure["kind"]
    rows = conn.execute(aggregate_query(defn, rel, as_of, periods)).all()
    pct = {}
    if kind in ("median", "percentile"):
        pct = _interpolate(defn, conn.execute(percentile_query(defn, rel, as_of, periods)).all())
    out = []
    for r in rows:
        key = tuple(r[:1 + len(defn.cells)])
        num, den = r.numerator, r.denominator
        if kind in ("median", "percentile"):
            value = pct.get(key)
        elif kind in ("share", "mean"):
            value = float(num) / float(den) if den else None
        else:
            value = float(num) if num is not None else None
        target = defn.target.get("value") if defn.target and "value" in defn.target else r.target
        out.append({"period": str(r.period), "dims": dict(zip(defn.cells, key[1:])), "value": value,
                    "numerator": float(num) if num is not None else None,
                    "denominator": float(den) if den is not None else None,
                    "rows": int(r.rows), "citizens": int(r.citizens) if r.citizens is not None else None,
                    "target": float(target) if target is not None else None})
    return out


# ---------------------------------------------------------------- what changed

def _marks(conn) -> tuple[Any, Any]:
    return (conn.execute(sa.select(sa.func.max(store.source_rows.c.updated_at))).scalar(),
            conn.execute(sa.select(sa.func.max(store.entity_members.c.assigned_at))).scalar())


def _aware(value):
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:  # SQLite hands back naive UTC
        value = value.replace(tzinfo=dt.timezone.utc)
    return value


def changed_periods(conn, defn: Definition, since: dt.datetime, as_of: dt.datetime) -> list[str]:
    """The periods of `defn` whose figures rows published after `since` can move.

    A changed 137 request moves its own month and, through its group, the months of every
    request grouped with it (a follow-up joining an earlier problem, two groups merging)."""
    fact = FACTS[defn.source]
    dialect, when = conn.dialect.name, as_of.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat()
    if fact.period_field:
        rel = fact.build(dialect, when)
        q = sa.select(rel.c[fact.period_field]).where(rel.c.updated_at > since).distinct()
        return sorted(str(p) for (p,) in conn.execute(q) if p is not None)
    rows = FACTS["service_request"].build(dialect, when) if fact.grouped else fact.build(dialect, when)
    changed = sa.select(rows.c.group_id if fact.grouped else rows.c.day).where(rows.c.updated_at > since)
    days = (sa.select(rows.c.day).where(rows.c.group_id.in_(changed)) if fact.grouped else changed)
    cal = store.indicator_calendar
    q = sa.select(cal.c[defn.time]).where(cal.c.day.in_(days.scalar_subquery())).distinct()
    return sorted(p for (p,) in conn.execute(q))


def _cover_calendar(conn, defn: Definition, as_of: dt.datetime) -> None:
    fact = FACTS[defn.source]
    if defn.time not in ("month", "week"):
        return
    rel = fact.build(conn.dialect.name, as_of.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat())
    day = rel.c[fact.day]
    lo, hi = conn.execute(sa.select(sa.func.min(day), sa.func.max(day)).where(day.is_not(None))).one()
    calendar.cover(conn, lo, hi)


def _last_run(conn, indicator_id: str):
    t = store.indicator_runs
    return conn.execute(sa.select(t).where(t.c.indicator_id == indicator_id)
                        .order_by(t.c.run_id.desc()).limit(1)).mappings().first()


def _write(conn, defn: Definition, rows: list[dict], periods: list[str] | None, now: dt.datetime) -> None:
    t = store.indicator_values
    if periods is None:
        conn.execute(t.delete().where(t.c.indicator_id == defn.id))
    else:
        for part in store.chunks(periods):
            conn.execute(t.delete().where(t.c.indicator_id == defn.id, t.c.period.in_(part)))
    store.bulk_insert(conn, t, ["indicator_id", "period", "cell", "dims", "value", "numerator", "denominator",
                                "rows", "citizens", "target", "computed_at"],
                      [(defn.id, r["period"], as_json(r["dims"]), store.encode_json(r["dims"]), r["value"],
                        r["numerator"], r["denominator"], r["rows"], r["citizens"], r["target"], now)
                       for r in rows])


def refresh(engine: sa.Engine, definitions: Iterable[Definition], *, full: bool = False,
            as_of: dt.datetime | None = None) -> list[dict]:
    """Bring every indicator's stored figures up to date; one summary per indicator.

    Incremental unless `full`, the definition changed since its last run, or it is a snapshot."""
    as_of = as_of or _now()
    out = []
    for defn in definitions:
        started = time.perf_counter()
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")  # naive times in the data are UTC
            source_mark, member_mark = _marks(conn)
            last = _last_run(conn, defn.id)
            incremental = not full and last is not None and last["definition_hash"] == defn.hash \
                and defn.time is not None and last["source_mark"] is not None
            _cover_calendar(conn, defn, as_of)  # the periods that changed are read through it
            periods = None
            if incremental:
                periods = changed_periods(conn, defn, _aware(last["source_mark"]), as_of)
            elif defn.time is None:
                periods = [calendar.month_of(as_of)]  # a snapshot: earlier months' are history
            rows = figures(conn, defn, as_of, periods) if periods != [] else []
            now = _now()
            _write(conn, defn, rows, periods, now)
            seconds = round(time.perf_counter() - started, 3)
            conn.execute(store.indicator_runs.insert().values(
                indicator_id=defn.id, definition_hash=defn.hash, mode="incremental" if incremental else "full",
                source_mark=source_mark, member_mark=member_mark, computed_at=now,
                periods=periods, seconds=seconds))
        out.append({"indicator": defn.id, "mode": "incremental" if incremental else "full",
                    "periods": len(periods) if periods is not None else "all", "cells": len(rows),
                    "seconds": seconds})
    return out


def refresh_folder(engine: sa.Engine, folder) -> dict[str, Any]:
    """Refresh every valid definition under `folder` (what consolidation runs): a broken
    definition is reported, never allowed to stop the others or the consolidation."""
    from munihub.indicators.define import load_all

    good, bad = load_all(folder)
    runs = refresh(engine, good)
    return {"computed": len(runs), "cells": sum(r["cells"] for r in runs),
            "seconds": round(sum(r["seconds"] for r in runs), 3), "problems": [str(e) for e in bad]}
