"""Keep the stored figures up to date: after each consolidation only the Jalali periods whose
rows changed are recomputed; a changed definition (or `full=True`) recomputes everything; an
indicator without a period dimension is a snapshot, taken again and kept per Jalali month.

The request groups are kept in the store and maintained incrementally
(`munihub.indicators.groups`): a refresh regroups only the requests that changed, and an
indicator over them recomputes the periods of the days that changed since the version it
was computed at; or, computed at the version this refresh's change leads from, has its
figures moved cell by cell by that change (`munihub.indicators.delta`).  Every other fact an indicator reads is built once per refresh into a
temporary table, so several indicators over one fact build it once.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import time
from typing import Any, Iterable

import sqlalchemy as sa

from munihub import store
from munihub.indicators import calendar, delta, groups
from munihub.indicators.compute import aggregates, cover_calendar, figures, iso_utc, ranked_rows, set_session, shape
from munihub.indicators.define import Definition, as_json
from munihub.indicators.facts import FACTS
from munihub.store.marks import aware, read_lock

PG_LOCK = 724246  # advisory lock class (724242-5: migrations, the audit writer, store marks, the kept groups)

# Facts made of entity members only: their figures move only when the members do.
MEMBERS_ONLY = {"source_record", "source_pair"}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Facts:
    """The facts of one refresh: the request groups kept in the store, brought up to date on
    first use; the others materialized on first use into a temporary table."""

    def __init__(self, conn, as_of: dt.datetime, marks: tuple[Any, Any], full: bool = False):
        self.conn, self.as_of, self.marks, self.full, self.tables = conn, as_of, marks, full, {}
        self.kept: dict[str, dict] = {}  # maintained fact -> what maintaining it did

    def maintained(self, name: str) -> dict | None:
        """For a fact kept in the store: its state once brought up to date (version, logged_since)."""
        if name != groups.FACT:
            return None
        self[name]
        return self.kept[name]

    def __getitem__(self, name: str):
        if name == groups.FACT and name not in self.tables:
            with self.conn.begin() if not self.conn.in_transaction() else contextlib.nullcontext():
                done = groups.maintain(self.conn, self.marks, self.full, delta=True)
                self.kept[name] = {**done, **groups.state(self.conn)}
            self.tables[name] = groups.relation(self.conn.dialect.name, iso_utc(self.as_of))
        if name not in self.tables:
            fact = FACTS[name]
            rel = fact.build(self.conn.dialect.name, iso_utc(self.as_of))
            table = sa.Table(f"indicator_fact_{name}", sa.MetaData(),
                             *(sa.Column(c.name, _type(fact.columns.get(c.name), c.type)) for c in rel.c),
                             prefixes=["TEMPORARY"])
            with self.conn.begin() if not self.conn.in_transaction() else contextlib.nullcontext():
                set_session(self.conn)
                table.drop(self.conn, checkfirst=True)
                table.create(self.conn)
                self.conn.execute(table.insert().from_select([c.name for c in rel.c], sa.select(rel)))
                if self.conn.dialect.name == "postgresql":
                    self.conn.exec_driver_sql(f"ANALYZE {table.name}")
            self.tables[name] = table
        return self.tables[name]

    def drop(self) -> None:
        """Temporary tables live as long as the pooled connection: drop them when done."""
        if self.conn.in_transaction():
            self.conn.rollback()
        with self.conn.begin():
            for table in self.tables.values():
                if isinstance(table, sa.Table):
                    table.drop(self.conn, checkfirst=True)
            if groups.FACT in self.kept:
                groups.drop_delta(self.conn)


def _type(kind: str | None, known: sa.types.TypeEngine) -> sa.types.TypeEngine:
    """The column type of a materialized fact (SQL functions such as julianday have none)."""
    if kind == "number":
        return sa.Float()
    if kind in ("text", "day") or isinstance(known, sa.types.NullType):
        return sa.Text()
    return known


def changed_periods(conn, defn: Definition, facts: Facts, since: dt.datetime,
                    since_version: int | None = None) -> list[str]:
    """The periods of `defn` whose figures can have moved: those of rows published after
    `since`; for the kept request groups, those of the days whose groups changed after the
    fact version `since_version` (a changed request moves its group, and through the group
    the months of every request in it, and the repeats of its citizen's later groups)."""
    fact = FACTS[defn.source]
    rel = facts[defn.source]
    if fact.period_field:
        q = sa.select(rel.c[fact.period_field]).where(rel.c.updated_at > since).distinct()
        return sorted(str(p) for (p,) in conn.execute(q) if p is not None)
    if facts.maintained(defn.source) is not None:
        days = groups.changed_days(conn, since_version).subquery("changed_days")
    else:
        days = sa.select(rel.c[fact.day].label("day")).where(rel.c.updated_at > since).subquery("changed_days")
    cal = store.indicator_calendar
    q = sa.select(cal.c[defn.time]).where(cal.c.day.in_(sa.select(days.c.day))).distinct()
    return sorted(p for (p,) in conn.execute(q))


def _marks(conn) -> tuple[Any, Any]:
    """(newest row published, newest member assigned), read once writers in flight committed."""
    with conn.begin():
        read_lock(conn)
        return (conn.execute(sa.select(sa.func.max(store.source_rows.c.updated_at))).scalar(),
                conn.execute(sa.select(sa.func.max(store.entity_members.c.assigned_at))).scalar())


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


def _write_cells(conn, defn: Definition, rows: list[dict], gone: list[tuple[str, str]], now: dt.datetime) -> None:
    """Replace the figures of some cells (`gone`: (period, cell) of those rewritten or emptied)."""
    t = store.indicator_values
    store.bulk_delete(conn, t, ["indicator_id", "period", "cell"], [(defn.id, p, c) for p, c in gone])
    _write(conn, defn, rows, [], now)


def _leads_from(kept: dict, last, defn: Definition) -> bool:
    """Whether the kept groups' change in this refresh leads from the version `last` read,
    and `defn`'s figures can be moved by it cell by cell."""
    return kept.get("delta_from") is not None and last["fact_version"] == kept["delta_from"] and delta.applies(defn)


def _plan(conn, defn: Definition, facts: Facts, last, marks, full: bool, as_of: dt.datetime):
    """(mode, periods to recompute: None for all, [] for none); mode "delta": the cells the
    maintained fact's change moved, from the figures stored (`munihub.indicators.delta`)."""
    same = not full and last is not None and last["definition_hash"] == defn.hash
    if defn.time is None:  # a snapshot of this month
        month = calendar.month_of(as_of)
        unmoved = same and defn.source in MEMBERS_ONLY and last["periods"] == [month] \
            and aware(last["member_mark"]) == aware(marks[1])
        if unmoved:
            return "unchanged", []
        kept = facts.maintained(defn.source)
        if same and kept is not None and last["periods"] == [month] and _leads_from(kept, last, defn):
            return "delta", None
        return "snapshot", [month]
    kept = facts.maintained(defn.source)
    if kept is not None:  # the kept groups log what changed by version; a rebuild or pruning ends that
        if same and last["fact_version"] is not None and last["fact_version"] >= kept["logged_since"]:
            if _leads_from(kept, last, defn):
                return "delta", None
            return "incremental", changed_periods(conn, defn, facts, None, last["fact_version"])
        return "full", None
    regrouped = last is not None and aware(last["source_mark"]) == aware(marks[0]) \
        and aware(last["member_mark"]) != aware(marks[1])
    if same and last["source_mark"] is not None and not regrouped:
        # (entities that moved with no row published: steward decisions or a retrained model
        # regroup citizens anywhere in time, so those runs recompute in full)
        cover_calendar(conn, defn, facts[defn.source])  # new days must map to their periods first
        return "incremental", changed_periods(conn, defn, facts, aware(last["source_mark"]))
    return "full", None


def _shared(conn, memo: dict, defn: Definition, definitions: list[Definition], rel, as_of: dt.datetime,
            periods: list[str] | None) -> list[dict] | None:
    """`defn`'s aggregate rows, computed once with every definition of its `shape` for the same
    periods (the 137 figures by district and month read the groups once, not three times)."""
    if shape(defn) is None:
        return None
    key = (shape(defn), tuple(periods) if periods is not None else None)
    if defn.id not in memo.get(key, {}):
        memo[key] = aggregates(conn, [d for d in definitions if shape(d) == shape(defn)], rel, as_of, periods)
    return memo[key][defn.id]


def _lock(conn, defn: Definition):
    """Its last run, read again once no other refresh writes `defn`'s figures (PostgreSQL: a
    lock per indicator until the transaction ends): a figure moved by a change must be moved
    from the figures that change leads from, not from those another refresh just wrote."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({PG_LOCK}, hashtext(:id))"), {"id": defn.id})
    return _last_run(conn, defn.id)


def _compute(conn, memo: dict, defn: Definition, definitions: list[Definition], facts: Facts, last, mode: str,
             periods: list[str] | None, as_of: dt.datetime) -> tuple[str, list[str] | None, list[dict], dt.datetime]:
    """Compute and write `defn`'s figures as planned: (mode, periods, figures written, when)."""
    rel = facts[defn.source]
    if mode == "delta" and (last is None or last["fact_version"] != facts.maintained(defn.source)["delta_from"]):
        mode = "moved"  # another refresh wrote them meanwhile
    if mode == "delta":
        moved = delta.changes(conn, memo, defn, definitions, as_of, rel)
        if moved is not None:
            rows, gone = moved
            now = _now()
            _write_cells(conn, defn, rows, gone, now)
            # a snapshot moved by the change is this month's whole snapshot, whether or not a
            # cell moved: recorded as such, the next refresh can move it again (else it would
            # read "no period" and take the snapshot anew over every group, 1.8 s of a 1 % refresh)
            periods = [calendar.month_of(as_of)] if defn.time is None else sorted(
                {r["period"] for r in rows} | {p for p, _ in gone})
            return mode, periods, rows, now
    if mode in ("delta", "moved") and defn.time is None:  # the stored figures are not those the change leads from
        mode, periods = "snapshot", [calendar.month_of(as_of)]
    elif mode in ("delta", "moved"):
        version = last["fact_version"] if last is not None else None
        mode, periods = ("incremental", changed_periods(conn, defn, facts, None, version)) \
            if version is not None and version >= facts.maintained(defn.source)["logged_since"] else ("full", None)
    rows = []
    if periods != []:
        rows = figures(conn, defn, as_of, periods, rel=rel,
                       aggregate=_shared(conn, memo, defn, definitions, rel, as_of, periods),
                       ranked=ranked_rows(conn, memo, defn, definitions, rel, as_of, periods))
    now = _now()
    _write(conn, defn, rows, periods, now)
    return mode, periods, rows, now


def refresh(engine: sa.Engine, definitions: Iterable[Definition], *, full: bool = False,
            as_of: dt.datetime | None = None) -> list[dict]:
    """Bring every indicator's stored figures up to date; one summary per indicator."""
    as_of = as_of or _now()
    definitions = list(definitions)
    out: list[dict] = []
    shared: dict[tuple, Any] = {}  # per refresh: aggregates and rankings computed for several indicators
    with engine.connect() as conn:
        marks = _marks(conn)
        facts = Facts(conn, as_of, marks, full)
        try:
            for defn in definitions:
                started = time.perf_counter()
                with conn.begin():
                    last = _last_run(conn, defn.id)
                    mode, periods = _plan(conn, defn, facts, last, marks, full, as_of)
                if mode == "unchanged":  # nothing it reads moved: the last run still stands
                    out.append({"indicator": defn.id, "mode": mode, "cells": 0, "periods": 0,
                                "seconds": round(time.perf_counter() - started, 3)})
                    continue
                with conn.begin():
                    set_session(conn)
                    last = _lock(conn, defn)
                    mode, periods, rows, now = _compute(conn, shared, defn, definitions, facts, last, mode, periods,
                                                        as_of)
                    seconds = round(time.perf_counter() - started, 3)
                    kept = facts.maintained(defn.source)
                    conn.execute(store.indicator_runs.insert().values(
                        indicator_id=defn.id, definition_hash=defn.hash, mode=mode, source_mark=marks[0],
                        member_mark=marks[1], computed_at=now, periods=periods, seconds=seconds,
                        fact_version=kept["version"] if kept else None))
                out.append({"indicator": defn.id, "mode": mode, "cells": len(rows), "seconds": seconds,
                            "periods": len(periods) if periods is not None else "all"})
        finally:
            facts.drop()
    if groups.FACT in facts.kept:
        groups.vacuum(engine)
    return out


def refresh_folder(engine: sa.Engine, folder) -> dict[str, Any]:
    """Refresh every valid definition under `folder` (what consolidation runs): a broken
    definition is reported, never allowed to stop the others or the consolidation."""
    from munihub.indicators.define import load_all

    good, bad = load_all(folder)
    runs = refresh(engine, good)
    return {"computed": len(runs), "cells": sum(r["cells"] for r in runs),
            "seconds": round(sum(r["seconds"] for r in runs), 3), "problems": [str(e) for e in bad]}
