"""Compute indicators in the store: one SQL aggregate per definition over its fact, on SQLite
and PostgreSQL alike, giving one figure per Jalali period and cell (`munihub.indicators.refresh`
writes them to `indicator_values` and keeps them up to date).  Medians
and percentiles are taken with window functions (the two middle rows of each cell) and
interpolated linearly, the way numpy and PostgreSQL's percentile_cont do.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict

import sqlalchemy as sa

from munihub import store
from munihub.indicators import calendar
from munihub.indicators.define import Definition
from munihub.indicators.facts import FACTS, Fact

WORK_MEM = "64MB"  # per sort or hash: a million request groups sort in memory
RANDOM_PAGE_COST = 1.1  # the store's working set is cached: an index look-up costs little more than a scan
PERMILLE = 1000  # percentiles in integer per-mille: integer division picks the same row on every engine


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
    kept_period = defn.time in ("month", "week") and defn.time in rel.c
    if kept_period:  # the kept request groups carry their month and week: no calendar join
        period = rel.c[defn.time]
    elif defn.time in ("month", "week"):
        source = rel.join(cal, cal.c.day == rel.c[fact.day])
        period = cal.c[defn.time]
    elif defn.time == "period":
        period = rel.c[fact.period_field]
    else:  # no period dimension: a snapshot, kept under the Jalali month it was taken in
        period = sa.literal(calendar.month_of(as_of))
    cells = [rel.c[fact.dimensions[d]].label(d) for d in defn.cells]
    where = [_condition(rel, c) for c in defn.filters]
    if kept_period:  # as the calendar join would: a row without a day has no period
        where.append(period.is_not(None))
    # A constant period is not grouped or partitioned by (PostgreSQL refuses GROUP BY 'text').
    keys = ([] if defn.time is None else [period]) + [rel.c[fact.dimensions[d]] for d in defn.cells]
    return source, period.label("period"), cells, where, keys


def by_citizen(defn: Definition) -> bool:
    """Whether the aggregate counts citizens itself: grouped first by cell and citizen, then by
    cell (two hashed groupings; a COUNT(DISTINCT) beside the parts makes PostgreSQL sort every
    row by cell).  Needs parts that add up over citizens: not a distinct count, not a target mean."""
    return bool(FACTS[defn.source].citizen) and defn.measure["kind"] != "distinct_count" \
        and not (defn.target or {}).get("field")


def aggregate_query(defn: Definition, rel, as_of: dt.datetime, periods: list[str] | None = None):
    """The SQL giving one row per period and cell: rows, the measure's parts, the target, and
    the distinct citizens when `by_citizen` (else `citizens_query` counts them)."""
    fact = FACTS[defn.source]
    source, period, cells, where, keys = _framed(defn, fact, rel, as_of)
    if periods is not None and defn.time is not None:
        where.append(period.element.in_(periods))
    m = defn.measure
    kind = m["kind"]
    num, den = sa.func.count(), None
    if kind == "distinct_count":
        num = sa.func.count(sa.distinct(rel.c[m["field"]]))
    elif kind == "sum":
        num = sa.func.sum(rel.c[m["field"]])
    elif kind == "mean":
        num, den = sa.func.sum(rel.c[m["field"]]), sa.func.count(rel.c[m["field"]])
    elif kind == "share":
        hit = sa.and_(*(_condition(rel, c) for c in m["where"]))
        num, den = sa.func.sum(sa.case((hit, 1), else_=0)), sa.func.count()
    elif kind in ("median", "percentile"):  # the value comes from `percentile_query`
        num = sa.func.count(rel.c[m["field"]])
    if not by_citizen(defn):
        target = (defn.target or {}).get("field")
        return sa.select(period, *cells, sa.func.count().label("rows"), num.label("numerator"),
                         (den if den is not None else sa.null()).label("denominator"),
                         (sa.func.avg(rel.c[target]) if target else sa.null()).label("target")
                         ).select_from(source).where(*where).group_by(*keys)
    timed = defn.time is not None  # else the period is a constant: not grouped by (PostgreSQL refuses it)
    citizen = rel.c[fact.citizen]
    inner = sa.select(*([period] if timed else []), *cells, sa.func.count().label("rows"), num.label("numerator"),
                      *([den.label("denominator")] if den is not None else [])
                      ).select_from(source).where(*where).group_by(*keys, citizen).subquery("by_citizen")
    outer_cells = [inner.c[d] for d in defn.cells]
    return sa.select(inner.c.period if timed else period, *outer_cells, sa.func.sum(inner.c.rows).label("rows"),
                     sa.func.count().label("citizens"), sa.func.sum(inner.c.numerator).label("numerator"),
                     (sa.func.sum(inner.c.denominator) if den is not None else sa.null()).label("denominator"),
                     sa.null().label("target")).group_by(*([inner.c.period] if timed else []), *outer_cells)


def citizens_query(defn: Definition, rel, as_of: dt.datetime, periods: list[str] | None = None):
    """The distinct citizens of each period and cell, when the aggregate cannot count them
    (`by_citizen`): (period, cells…, citizens), or None when the fact names no citizen."""
    fact = FACTS[defn.source]
    if not fact.citizen:
        return None
    source, period, cells, where, keys = _framed(defn, fact, rel, as_of)
    if periods is not None and defn.time is not None:
        where.append(period.element.in_(periods))
    timed = defn.time is not None  # else the period is a constant: not grouped by (PostgreSQL refuses it)
    pairs = sa.select(*([period] if timed else []), *cells, rel.c[fact.citizen].label("citizen")).select_from(
        source).where(*where).distinct().subquery("cell_citizens")
    grouped = ([pairs.c.period] if timed else []) + [pairs.c[d] for d in defn.cells]
    return sa.select(pairs.c.period if timed else period, *(pairs.c[d] for d in defn.cells),
                     sa.func.count().label("citizens")).group_by(*grouped)


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


def figures(conn, defn: Definition, as_of: dt.datetime, periods: list[str] | None = None,
            rel=None) -> list[dict]:
    """The figures of `defn` (for `periods`, or all) as rows: period, dims, value and its parts.

    `rel` is the fact already materialized (`munihub.indicators.refresh`); else it is built here."""
    fact = FACTS[defn.source]
    if rel is None:
        rel = fact.build(conn.dialect.name, iso_utc(as_of))
    cover_calendar(conn, defn, rel)
    kind = defn.measure["kind"]
    rows = conn.execute(aggregate_query(defn, rel, as_of, periods)).all()
    citizens = None
    if by_citizen(defn):
        citizens = {tuple(r[:1 + len(defn.cells)]): r.citizens for r in rows}
    elif (query := citizens_query(defn, rel, as_of, periods)) is not None:
        citizens = {tuple(r[:-1]): r.citizens for r in conn.execute(query)}
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
                    "rows": int(r.rows), "citizens": int(citizens.get(key, 0)) if citizens is not None else None,
                    "target": float(target) if target is not None else None})
    return out


def set_session(conn) -> None:
    """Per transaction, on PostgreSQL: naive times in the data are UTC; sorts of a few hundred
    thousand rows (percentiles, distinct citizens) stay in memory instead of spilling; and the
    look-ups of an incremental refresh (ten thousand keys among millions of members, all
    cached) go by index: at the default random page cost the planner scans every member
    instead (0.8 s against 0.3 s for 10,000 changed requests).  Commits do not wait for the
    disk: figures are derived data, and a refresh lost in a crash is lost whole (its values
    and its run row commit together), so the next refresh redoes it."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")
        conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
        conn.exec_driver_sql(f"SET LOCAL work_mem = '{WORK_MEM}'")
        conn.exec_driver_sql(f"SET LOCAL random_page_cost = {RANDOM_PAGE_COST}")


def iso_utc(when: dt.datetime) -> str:
    """A moment as naive ISO text in UTC: how the SQL compares it with the data's times."""
    return when.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat()


def cover_calendar(conn, defn: Definition, rel) -> None:
    """Extend the Jalali calendar over the days `rel` spans, if `defn` groups by month or week."""
    if defn.time not in ("month", "week") or defn.time in rel.c:  # kept groups carry their periods
        return
    day = rel.c[FACTS[defn.source].day]
    lo, hi = conn.execute(sa.select(sa.func.min(day), sa.func.max(day)).where(day.is_not(None))).one()
    calendar.cover(conn, lo, hi)
