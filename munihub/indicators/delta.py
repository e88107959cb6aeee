"""Bring an indicator over the kept request groups up to date cell by cell, from what one
maintenance changed (`munihub.indicators.groups`, `delta_relation`), instead of recomputing
every period a changed group counted in.

Rows, sums, shares and distinct citizens add up over citizens: a cell's figure after the
change is its stored figure, less what the changed citizens' groups gave it before, plus
what they give now (every other citizen's groups are as they were).  So a 1 % change spread
over every month costs an aggregate over those citizens' groups (a few tens of thousands),
not over every group, and only the cells whose figures moved are written.  Medians and
percentiles do not add up: they are ranked again over the periods of the cells a changed
group was or is in, and written for those cells.

Applies to a definition whose parts all add up over citizens (`by_citizen`), per month or
week or a snapshot of this month, reading only columns kept in the store, summing only
integer columns that cannot be null (a float sum moved by differences would not equal the
sum taken anew to the last bit).  A snapshot's share may count the open days, which move
with the time of the computation: its numerator is counted again over every group, in one
grouping by cell (`recounted`).
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from munihub import store
from munihub.indicators import calendar, groups
from munihub.indicators.compute import (aggregates, by_citizen, interpolate, iso_utc, numerator_query, ranked_rows,
                                        shape, shared_query)
from munihub.indicators.define import Definition, as_json

ADDITIVE = ("count", "sum", "mean", "share", "distinct_count", "median", "percentile")
RANKED = ("median", "percentile")
PARTS = ("rows", "citizens", "numerator", "denominator")


def _fields(defn: Definition) -> tuple[list[str], list[str]]:
    """(the fields its filters read, the fields its measure reads)."""
    m = defn.measure
    return [c["field"] for c in defn.filters], [c["field"] for c in m.get("where", [])] + (
        [m["field"]] if m.get("field") else [])


def applies(defn: Definition) -> bool:
    """Whether `defn`'s stored figures can be moved by a change of the kept groups (see above)."""
    if defn.source != groups.FACT or defn.time not in ("month", "week", None) or not by_citizen(defn) \
            or defn.measure["kind"] not in ADDITIVE:
        return False
    kept = store.indicator_request_groups.c
    filters, measured = _fields(defn)
    if any(f not in kept for f in filters):
        return False
    if any(f not in kept for f in measured):  # the open days: only a snapshot's share counts them again
        return defn.time is None and defn.measure["kind"] == "share"
    if defn.measure["kind"] in ("sum", "mean"):
        col = kept[defn.measure["field"]]
        return isinstance(col.type, sa.Integer) and not col.nullable
    return True


def recounted(defn: Definition) -> bool:
    """A snapshot whose share counts what moves with the time of the computation (the open
    days): its numerator is counted again over every group, in one grouping by cell."""
    return any(f not in store.indicator_request_groups.c for f in _fields(defn)[1])


def _by_cell(defn: Definition, rows: list[dict]) -> dict[tuple[str, str], dict]:
    return {(str(r["key"][0]), as_json(dict(zip(defn.cells, r["key"][1:])))): r for r in rows}


def _aggregate(conn, memo: dict, defn: Definition, definitions: list[Definition], side: int | None,
               as_of: dt.datetime) -> dict[tuple[str, str], dict]:
    """`defn`'s aggregate rows over one side of the change, by (period, cell); computed once
    for every definition of its `shape`, both sides in one pass (`_both_sides`)."""
    key = ("delta", shape(defn), side)
    if key not in memo:
        peers = [d for d in definitions if shape(d) == shape(defn)]
        if side is None:
            rel = groups.delta_relation(conn.dialect.name, iso_utc(as_of), side, defn.time)
            memo[key] = aggregates(conn, peers, rel, as_of)
        else:
            for s, rows in _both_sides(conn, peers, as_of).items():
                memo[("delta", shape(defn), s)] = rows
    return _by_cell(defn, memo[key][defn.id])


def _both_sides(conn, peers: list[Definition], as_of: dt.datetime) -> dict[int, dict[str, list[dict]]]:
    """{side: {definition: aggregate rows}}: the rows `aggregates` gives over each side of the
    change, from one grouping by side (one scan of the changed citizens' groups, not two)."""
    defn = peers[0]
    rel = groups.delta_relation(conn.dialect.name, iso_utc(as_of), "both", defn.time)
    out: dict[int, dict[str, list[dict]]] = {0: {p.id: [] for p in peers}, 1: {p.id: [] for p in peers}}
    width = 1 + len(defn.cells)
    for r in conn.execute(shared_query(peers, rel, as_of, by=("side",))).mappings():
        side, key = r["side"], tuple(r.values())[1:1 + width]
        for i, p in enumerate(peers):
            out[side][p.id].append({"key": key, "rows": r["rows"], "citizens": r["citizens"],
                                    "numerator": r[f"numerator_{i}"], "denominator": r[f"denominator_{i}"],
                                    "target": r["target"]})
    return out


def _numerators(conn, defn: Definition, rel, as_of: dt.datetime) -> dict[tuple[str, str], float]:
    """The numerator of every cell, counted over every kept group (`recounted`)."""
    q = numerator_query(defn, rel, as_of)
    return {k: float(r["numerator"] or 0) for k, r in _by_cell(defn, [
        {"key": tuple(r)[:1 + len(defn.cells)], "numerator": r.numerator_0} for r in conn.execute(q)]).items()}


def _stored(conn, defn: Definition, periods: set[str]) -> dict[tuple[str, str], dict]:
    t = store.indicator_values
    out = {}
    for part in store.chunks(sorted(periods)):
        for r in conn.execute(sa.select(t.c.period, t.c.cell, t.c.dims, *(t.c[p] for p in PARTS)).where(
                t.c.indicator_id == defn.id, t.c.period.in_(part))).mappings():
            out[(r["period"], r["cell"])] = dict(r)
    return out


def changes(conn, memo: dict, defn: Definition, definitions: list[Definition], as_of: dt.datetime,
            rel) -> tuple[list[dict], list[tuple[str, str]]] | None:
    """(figures to write, (period, cell) of the figures to delete: the rewritten ones and the
    cells left empty), or None when the stored figures do not add up with the change (not
    the version it leads from): the caller recomputes the periods instead.  `rel` is the
    kept groups as the fact reads them (what medians are ranked over)."""
    before = _aggregate(conn, memo, defn, definitions, 0, as_of)
    after = _aggregate(conn, memo, defn, definitions, 1, as_of)
    kind = defn.measure["kind"]
    moved = set(_aggregate(conn, memo, defn, definitions, None, as_of)) if kind in RANKED else set()
    keys = before.keys() | after.keys() | moved
    recount = recounted(defn)
    numerators = _numerators(conn, defn, rel, as_of) if recount else {}
    stored = _stored(conn, defn, {k[0] for k in keys | numerators.keys()} | (
        {calendar.month_of(as_of)} if recount else set()))
    if recount:  # every cell's share moves with the time
        keys |= stored.keys() | numerators.keys()
    values = {}
    if moved:
        periods = sorted({k[0] for k in moved})
        values = _by_cell(defn, [{"key": k, "value": v} for k, v in interpolate(
            defn, ranked_rows(conn, memo, defn, definitions, rel, as_of, periods)).items()])
    target = (defn.target or {}).get("value")
    write, delete = [], []
    for key in sorted(keys):
        old, was, now = stored.get(key), before.get(key), after.get(key)
        if was is not None and old is None:
            return None  # the change leads from figures other than those stored
        had = {p: _part(old, p) for p in PARTS}
        if had["rows"] < _part(was, "rows") or had["citizens"] < _part(was, "citizens"):
            return None  # the stored cell holds less than the changed citizens gave it
        new = {p: had[p] - _part(was, p) + _part(now, p) for p in PARTS}
        if recount:
            new["numerator"] = numerators.get(key, 0.0)
        if new["rows"] == 0:
            if old is not None:
                delete.append(key)
            continue
        if old is not None and new == had and key not in moved:
            continue  # nothing of this cell moved
        den = new["denominator"] if kind in ("mean", "share") else None
        num = new["numerator"]
        if kind in RANKED:
            value = values[key]["value"] if key in values else None
        elif kind in ("mean", "share"):
            value = num / den if den else None
        else:
            value = num
        if old is not None:
            delete.append(key)
        dims = (now or was)["key"][1:] if (now or was) else None
        write.append({"period": key[0], "dims": dict(zip(defn.cells, dims)) if dims is not None else old["dims"],
                      "value": value, "numerator": num, "denominator": den, "rows": int(new["rows"]),
                      "citizens": int(new["citizens"]), "target": float(target) if target is not None else None})
    return write, delete


def _part(row: dict | None, part: str) -> float:
    """A part of a stored figure or of an aggregate row; none counts as nothing."""
    if row is None or row[part] is None:
        return 0
    return float(row[part]) if part in ("numerator", "denominator") else int(row[part])
