"""Compute indicators in the store: one SQL aggregate per definition over its fact, on SQLite
and PostgreSQL alike, giving one figure per Jalali period and cell (`munihub.indicators.refresh`
writes them to `indicator_values` and keeps them up to date).  Medians
and percentiles pick the two middle rows of each cell (window functions on SQLite; each
cell's values sorted apart on PostgreSQL, `sorted_query`) and are interpolated linearly,
the way numpy and PostgreSQL's percentile_cont do.
"""
from __future__ import annotations

import datetime as dt
import json
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
    row by cell).  Needs parts that add up over citizens: not a target mean, and no distinct
    count but of the citizens themselves (then it is the citizens' count)."""
    citizen = FACTS[defn.source].citizen
    return bool(citizen) and not (defn.target or {}).get("field") \
        and (defn.measure["kind"] != "distinct_count" or defn.measure["field"] == citizen)


def _parts(defn: Definition, rel):
    """(numerator, denominator or None): the measure's parts as SQL aggregates."""
    m = defn.measure
    kind = m["kind"]
    if kind == "distinct_count":
        return sa.func.count(sa.distinct(rel.c[m["field"]])), None
    if kind == "sum":
        return sa.func.sum(rel.c[m["field"]]), None
    if kind == "mean":
        return sa.func.sum(rel.c[m["field"]]), sa.func.count(rel.c[m["field"]])
    if kind == "share":
        hit = sa.and_(*(_condition(rel, c) for c in m["where"]))
        return sa.func.sum(sa.case((hit, 1), else_=0)), sa.func.count()
    if kind in ("median", "percentile"):  # the value comes from `percentile_query`
        return sa.func.count(rel.c[m["field"]]), None
    return sa.func.count(), None


def shape(defn: Definition) -> tuple | None:
    """Definitions of one shape (fact, period, cells, filters) that count citizens themselves
    share one aggregate (`shared_query`): one pass over a million groups instead of three."""
    if not by_citizen(defn):
        return None
    return (defn.source, defn.time, defn.cells, json.dumps(defn.filters, sort_keys=True, ensure_ascii=False,
                                                           default=str))


def aggregate_query(defn: Definition, rel, as_of: dt.datetime, periods: list[str] | None = None):
    """The SQL giving one row per period and cell: rows, the measure's parts, the target, and
    the distinct citizens when `by_citizen` (else `citizens_query` counts them)."""
    if by_citizen(defn):
        return shared_query([defn], rel, as_of, periods)
    fact = FACTS[defn.source]
    source, period, cells, where, keys = _framed(defn, fact, rel, as_of)
    if periods is not None and defn.time is not None:
        where.append(period.element.in_(periods))
    num, den = _parts(defn, rel)
    target = (defn.target or {}).get("field")
    return sa.select(period, *cells, sa.func.count().label("rows"), sa.null().label("citizens"),
                     num.label("numerator_0"), (den if den is not None else sa.null()).label("denominator_0"),
                     (sa.func.avg(rel.c[target]) if target else sa.null()).label("target")
                     ).select_from(source).where(*where).group_by(*keys)


def numerator_query(defn: Definition, rel, as_of: dt.datetime):
    """One row per period and cell: (period, cells…, numerator_0), the measure's numerator
    alone, in one grouping by cell (no citizens counted)."""
    source, period, cells, where, keys = _framed(defn, FACTS[defn.source], rel, as_of)
    return sa.select(period, *cells, _parts(defn, rel)[0].label("numerator_0")).select_from(source).where(
        *where).group_by(*keys)


def shared_query(defns: list[Definition], rel, as_of: dt.datetime, periods: list[str] | None = None,
                 by: tuple[str, ...] = ()):
    """One row per period and cell for definitions of one `shape`: rows, distinct citizens and
    each definition's parts (numerator_i, denominator_i).  Grouped first by cell and citizen,
    then by cell: two hashed groupings, where a COUNT(DISTINCT) beside the parts makes
    PostgreSQL sort every row by cell.  `by`: columns of `rel` grouped by first and given
    first (the two sides of a change, aggregated in one pass)."""
    defn = defns[0]
    fact = FACTS[defn.source]
    source, period, cells, where, keys = _framed(defn, fact, rel, as_of)
    if periods is not None and defn.time is not None:
        where.append(period.element.in_(periods))
    parts, outer_parts = [], []
    counts_citizens = [d.measure["kind"] == "distinct_count" for d in defns]  # of the citizen: see by_citizen
    for i, d in enumerate(defns):
        if counts_citizens[i]:
            continue
        num, den = _parts(d, rel)
        parts.append(num.label(f"numerator_{i}"))
        if den is not None:
            parts.append(den.label(f"denominator_{i}"))
    timed = defn.time is not None  # else the period is a constant: not grouped by (PostgreSQL refuses it)
    citizen = rel.c[fact.citizen]
    split = [rel.c[b] for b in by]
    inner = sa.select(*split, *([period] if timed else []), *cells, citizen.label("citizen"),
                      sa.func.count().label("rows"), *parts).select_from(source).where(*where).group_by(
        *split, *keys, citizen).subquery("by_citizen")
    citizens = sa.func.count(inner.c.citizen)  # rows naming no citizen make a group of their own: not counted
    for i in range(len(defns)):
        outer_parts.append((citizens if counts_citizens[i] else sa.func.sum(inner.c[f"numerator_{i}"])
                            ).label(f"numerator_{i}"))
        den = inner.c.get(f"denominator_{i}")
        outer_parts.append((sa.func.sum(den) if den is not None else sa.null()).label(f"denominator_{i}"))
    outer_cells = [inner.c[d] for d in defn.cells]
    outer_split = [inner.c[b] for b in by]
    return sa.select(*outer_split, inner.c.period if timed else period, *outer_cells,
                     sa.func.sum(inner.c.rows).label("rows"), citizens.label("citizens"), *outer_parts,
                     sa.null().label("target")).group_by(*outer_split, *([inner.c.period] if timed else []),
                                                         *outer_cells)


def aggregates(conn, defns: list[Definition], rel, as_of: dt.datetime, periods: list[str] | None = None
               ) -> dict[str, list[dict]]:
    """Each definition's aggregate rows ({key, rows, citizens, numerator, denominator, target}),
    definitions of one `shape` computed together."""
    out = {}
    for d in defns:
        if d.id in out:
            continue
        peers = [p for p in defns if p.id not in out and shape(p) is not None and shape(p) == shape(d)] or [d]
        cover_calendar(conn, d, rel)
        query = shared_query(peers, rel, as_of, periods) if shape(d) is not None else aggregate_query(
            d, rel, as_of, periods)
        rows = conn.execute(query).mappings().all()
        width = 1 + len(d.cells)
        for i, p in enumerate(peers):
            out[p.id] = [{"key": tuple(r.values())[:width], "rows": r["rows"], "citizens": r["citizens"],
                          "numerator": r[f"numerator_{i}"], "denominator": r[f"denominator_{i}"],
                          "target": r["target"]} for r in rows]
    return out


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


def ranked_shape(defn: Definition) -> tuple | None:
    """Medians and percentiles of one field over one shape rank the rows once (`percentile_query`)."""
    if defn.measure["kind"] not in ("median", "percentile"):
        return None
    return (defn.source, defn.time, defn.cells, defn.measure["field"],
            json.dumps(defn.filters, sort_keys=True, ensure_ascii=False, default=str))


def percentile_query(defn: Definition, rel, as_of: dt.datetime, periods: list[str] | None = None,
                     also: list[Definition] = ()):
    """The one or two rows around the percentile of each cell: (period, cells…, v, rn, n); with
    `also` (definitions of the same `ranked_shape`), the rows around theirs too, in one pass."""
    source, period, cells, where, keys, value = _ranked_frame(defn, rel, as_of, periods)
    part = keys or None
    inner = sa.select(period, *cells, value.label("v"),
                      sa.func.row_number().over(partition_by=part, order_by=value).label("rn"),
                      sa.func.count().over(partition_by=part).label("n")
                      ).select_from(source).where(*where).subquery("ranked")
    near = []
    for p in _positions(defn, also):
        pos = (inner.c.n - 1) * p // PERMILLE  # integer division on both engines
        near += [inner.c.rn - 1 == pos, inner.c.rn - 2 == pos]
    return sa.select(inner).where(sa.or_(*near))


def _ranked_frame(defn: Definition, rel, as_of: dt.datetime, periods: list[str] | None):
    """What both rankings rank: the rows of the cells with a value, in `periods` if given."""
    source, period, cells, where, keys = _framed(defn, FACTS[defn.source], rel, as_of)
    value = rel.c[defn.measure["field"]]
    where.append(value.is_not(None))
    if periods is not None and defn.time is not None:
        where.append(period.element.in_(periods))
    return source, period, cells, where, keys, value


def _positions(defn: Definition, also: list[Definition] = ()) -> list[int]:
    return sorted({int(round(_p(d) * PERMILLE)) for d in (defn, *also)})


def sorted_query(defn: Definition, rel, as_of: dt.datetime, periods: list[str] | None = None,
                 also: list[Definition] = ()):
    """PostgreSQL: one row per cell, (period, cells…, n, then the values at ranks pos + 1 and
    pos + 2 of each percentile), each cell's values gathered by hashing and sorted apart.  The
    same rows as `percentile_query` gives, without sorting every row of every cell together
    with the window functions (a sort of 373k closed groups by cell took 2.4 s, this 0.7 s)."""
    from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by

    source, period, cells, where, keys, value = _ranked_frame(defn, rel, as_of, periods)
    per_cell = sa.select(period, *cells, sa.func.array_agg(value).label("a"), sa.func.count().label("n")
                         ).select_from(source).where(*where).group_by(*keys).subquery("per_cell")
    x = sa.func.unnest(per_cell.c.a).table_valued("x").alias("x")
    ordered = sa.select(sa.type_coerce(sa.func.array_agg(aggregate_order_by(x.c.x, x.c.x)), ARRAY(sa.Float))
                        .label("s")).select_from(x).lateral("sorted_values")
    picks = []
    for p in _positions(defn, also):
        pos = (per_cell.c.n - 1) * p // PERMILLE  # integer division, as in percentile_query
        picks += [ordered.c.s[pos + 1], ordered.c.s[pos + 2]]
    return sa.select(*(c for c in per_cell.c if c.name != "a"), *picks).select_from(per_cell.join(ordered, sa.true()))


def rank(conn, defn: Definition, rel, as_of: dt.datetime, periods: list[str] | None = None,
         also: list[Definition] = ()) -> list[tuple]:
    """The rows around each cell's percentiles, (period, cells…, v, rn, n) as `percentile_query`
    gives them; on PostgreSQL through `sorted_query`."""
    if conn.dialect.name != "postgresql":
        return [tuple(r) for r in conn.execute(percentile_query(defn, rel, as_of, periods, also))]
    out = []
    for r in conn.execute(sorted_query(defn, rel, as_of, periods, also)):
        *key, n = r[:2 + len(defn.cells)]
        if not n:  # a snapshot without cells aggregates to one row even over no rows
            continue
        for i, p in enumerate(_positions(defn, also)):
            pos = (n - 1) * p // PERMILLE
            for rn in (pos + 1, pos + 2):
                if rn <= n:
                    out.append((*key, r[2 + len(defn.cells) + 2 * i + rn - pos - 1], rn, n))
    return out


def ranked_rows(conn, memo: dict, defn: Definition, definitions: list[Definition], rel, as_of: dt.datetime,
                periods: list[str] | None) -> list | None:
    """`defn`'s `percentile_query` rows, ranked once (kept in `memo`) with every median and
    percentile of its `ranked_shape`; None for other measures."""
    if ranked_shape(defn) is None:
        return None
    key = ("ranked", ranked_shape(defn), tuple(periods) if periods is not None else None)
    if key not in memo:
        peers = [d for d in definitions if ranked_shape(d) == ranked_shape(defn)]
        memo[key] = rank(conn, defn, rel, as_of, periods, also=peers)
    return memo[key]


def _p(defn: Definition) -> float:
    return 0.5 if defn.measure["kind"] == "median" else float(defn.measure["p"])


def interpolate(defn: Definition, rows) -> dict[tuple, float]:
    p = int(round(_p(defn) * PERMILLE))
    picked: dict[tuple, dict[int, float]] = defaultdict(dict)
    sizes: dict[tuple, int] = {}
    for r in rows:  # (period, cells…, v, rn, n)
        key = tuple(r[:-3])
        picked[key][r[-2]] = float(r[-3])
        sizes[key] = r[-1]
    out = {}
    for key, vals in picked.items():
        n = sizes[key]
        pos, frac = divmod((n - 1) * p, PERMILLE)
        lo = vals[pos + 1]
        hi = vals.get(pos + 2, lo)
        out[key] = lo + (hi - lo) * frac / PERMILLE
    return out


def figures(conn, defn: Definition, as_of: dt.datetime, periods: list[str] | None = None,
            rel=None, aggregate: list[dict] | None = None, ranked: list | None = None) -> list[dict]:
    """The figures of `defn` (for `periods`, or all) as rows: period, dims, value and its parts.

    `rel` is the fact already materialized (`munihub.indicators.refresh`); else it is built
    here.  `aggregate` is its rows from `aggregates` when computed with other definitions, and
    `ranked` its `percentile_query` rows when ranked with others."""
    fact = FACTS[defn.source]
    if rel is None:
        rel = fact.build(conn.dialect.name, iso_utc(as_of))
    cover_calendar(conn, defn, rel)
    kind = defn.measure["kind"]
    rows = aggregate if aggregate is not None else aggregates(conn, [defn], rel, as_of, periods)[defn.id]
    citizens = None
    if not by_citizen(defn) and (query := citizens_query(defn, rel, as_of, periods)) is not None:
        citizens = {tuple(r[:-1]): r.citizens for r in conn.execute(query)}
    pct = {}
    if kind in ("median", "percentile"):
        pct = interpolate(defn, ranked if ranked is not None else rank(conn, defn, rel, as_of, periods))
    out = []
    for r in rows:
        key = r["key"]
        num, den = r["numerator"], r["denominator"]
        if kind in ("median", "percentile"):
            value = pct.get(key)
        elif kind in ("share", "mean"):
            value = float(num) / float(den) if den else None
        else:
            value = float(num) if num is not None else None
        target = defn.target.get("value") if defn.target and "value" in defn.target else r["target"]
        counted = r["citizens"] if by_citizen(defn) else (citizens.get(key, 0) if citizens is not None else None)
        out.append({"period": str(key[0]), "dims": dict(zip(defn.cells, key[1:])), "value": value,
                    "numerator": float(num) if num is not None else None,
                    "denominator": float(den) if den is not None else None,
                    "rows": int(r["rows"]), "citizens": int(counted) if counted is not None else None,
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
