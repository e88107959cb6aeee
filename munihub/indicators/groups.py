"""The 137 request groups kept in the store (`indicator_request_groups`) and maintained
incrementally, so a refresh after a day's consolidation regroups the requests that changed,
not a million of them.

A refresh takes the requests published since the groups' source mark, and those whose
citizen (person mention) was reassigned since their member mark; the groups they are in
now and were in before (`indicator_group_members` remembers: resolution rewrites every
request's membership on each run), closed over the requests of those groups until no
other group is reached (a follow-up joining two groups, a group split in two).  Only those
groups are recomputed, with the repeat chains of their citizens (a repeat depends on the
citizen's previous group).  The days of every group that changed go to
`indicator_fact_days` under a new version, and an indicator computed at version v
recomputes the Jalali periods of the days changed after v.

Rebuilt from scratch when asked (`full`), on first use, and when members moved with no row
published (a steward's decision or a retrained model regroups requests without a trace).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from munihub import store
from munihub.indicators import calendar
from munihub.indicators.compute import set_session
from munihub.indicators.facts import GROUP_BASE, group_base, open_days, with_repeats
from munihub.store.marks import aware
from munihub.store.stats import SHARE

FACT = "request_group"
KEEP_VERSIONS = 200  # the days log keeps this many versions; an indicator older than that recomputes in full
MAX_ROUNDS = 50      # closing the touched groups over their members converges in two or three


def relation(dialect: str, as_of: str) -> sa.Subquery:
    """The kept request groups as the `request_group` fact reads them (open days as of `as_of`)."""
    t = store.indicator_request_groups
    return sa.select(*t.c, open_days(dialect, t, as_of)).subquery("request_group")


def state(conn) -> dict | None:
    t = store.indicator_facts
    row = conn.execute(sa.select(t).where(t.c.fact == FACT)).mappings().first()
    return dict(row) if row else None


def changed_days(conn, since_version: int) -> sa.Select:
    """The days whose groups changed after `since_version` (a select of `day`)."""
    d = store.indicator_fact_days
    return sa.select(d.c.day).where(d.c.fact == FACT, d.c.version > since_version)


def maintain(conn, marks: tuple[Any, Any], full: bool = False) -> dict:
    """Bring the kept groups up to the store `marks` (newest row published, newest member
    assigned), in the caller's transaction: {mode, version, groups recomputed, days changed}."""
    if conn.dialect.name == "postgresql":  # two refreshes at once would both apply one change (724242-4: migrations, audit, marks)
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(724245)"))
    now_state = state(conn)
    if now_state is not None and not full:
        same_rows = aware(now_state["source_mark"]) == aware(marks[0])
        same_members = aware(now_state["member_mark"]) == aware(marks[1])
        if same_rows and same_members:
            return {"mode": "unchanged", "version": now_state["version"], "groups": 0, "days": 0}
        if now_state["source_mark"] is not None and not (same_rows and not same_members):
            return _incremental(conn, now_state, marks)
    return _rebuild(conn, now_state, marks)


def _save(conn, before: dict | None, marks, version: int, logged_since: int) -> None:
    t = store.indicator_facts
    values = dict(version=version, logged_since=logged_since, source_mark=marks[0], member_mark=marks[1],
                  maintained_at=dt.datetime.now(dt.timezone.utc))
    if before is None:
        conn.execute(t.insert().values(fact=FACT, **values))
    else:
        conn.execute(t.update().where(t.c.fact == FACT).values(**values))


def _analyze(conn, *tables: sa.Table) -> None:
    # autovacuum may be off: a table planned on stale statistics picks nested loops over millions
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("ANALYZE " + ", ".join(t.name for t in tables))


def _cover(conn, rel) -> None:
    lo, hi = conn.execute(sa.select(sa.func.min(rel.c.day), sa.func.max(rel.c.day))
                          .where(rel.c.day.is_not(None))).one()
    calendar.cover(conn, lo, hi)


def _with_periods(dialect: str, base) -> sa.Select:
    """Group rows (from `base`, the GROUP_BASE columns) with repeats and their Jalali month and week."""
    rows = with_repeats(dialect, base).subquery("g4")
    cal = store.indicator_calendar
    return (sa.select(*rows.c, cal.c.month, cal.c.week)
            .select_from(rows.outerjoin(cal, cal.c.day == rows.c.day)))


COLUMNS = [c.name for c in store.indicator_request_groups.c]
NOT_READ = {"group_id", "updated_at"}  # what no indicator reads: a change to it alone moves no figure


def _rebuild(conn, before: dict | None, marks) -> dict:
    t, gm, m = store.indicator_request_groups, store.indicator_group_members, store.entity_members
    dialect = conn.dialect.name
    set_session(conn)
    if dialect == "postgresql":
        conn.exec_driver_sql(f"TRUNCATE {t.name}, {gm.name}")
    else:
        conn.execute(t.delete())
        conn.execute(gm.delete())
    conn.execute(gm.insert().from_select(["source", "source_key", "group_id"], sa.select(
        m.c.source, m.c.source_key, m.c.entity_id).where(m.c.entity_type == "service_request")))
    base = group_base().subquery("g1")
    r = store.source_rows
    day = sa.func.substr(r.c.record["filed_at"].as_string(), 1, 10)
    lo, hi = conn.execute(sa.select(sa.func.min(day), sa.func.max(day))
                          .where(r.c.entity_type == "service_request")).one()
    calendar.cover(conn, lo, hi)
    query = _with_periods(dialect, base).subquery("g5")
    conn.execute(t.insert().from_select(COLUMNS, sa.select(*(query.c[c] for c in COLUMNS))))
    _analyze(conn, t, gm)
    d = store.indicator_fact_days
    conn.execute(d.delete().where(d.c.fact == FACT))
    version = (before["version"] if before else 0) + 1
    _save(conn, before, marks, version, logged_since=version)
    groups = conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
    return {"mode": "rebuilt", "version": version, "groups": groups, "days": None}


def _temp(conn, name: str, *columns: sa.Column) -> sa.Table:
    table = sa.Table(name, sa.MetaData(), *columns, prefixes=["TEMPORARY"])
    table.drop(conn, checkfirst=True)
    table.create(conn)
    return table


def _incremental(conn, before: dict, marks) -> dict:
    t, gm, m, r = (store.indicator_request_groups, store.indicator_group_members, store.entity_members,
                   store.source_rows)
    dialect = conn.dialect.name
    set_session(conn)
    since, member_since = before["source_mark"], before["member_mark"]
    keys = _temp(conn, "ig_keys", sa.Column("source", sa.String(200)), sa.Column("source_key", sa.String(500)))
    touched = _temp(conn, "ig_touched", sa.Column("group_id", sa.String(40), primary_key=True))
    temps = [keys, touched]
    try:
        # the requests that changed, and those whose citizen may have (their mention reassigned)
        conn.execute(keys.insert().from_select(["source", "source_key"], sa.select(r.c.source, r.c.source_key).where(
            r.c.entity_type == "service_request", r.c.updated_at > since)))
        if member_since is not None:
            mention = sa.func.substr(m.c.source_key, 1, sa.func.length(m.c.source_key) - len("#person"))
            conn.execute(keys.insert().from_select(["source", "source_key"], sa.select(m.c.source, mention).where(
                m.c.entity_type == "person", m.c.assigned_at > member_since, m.c.source_key.like("%#person"))))
        _analyze(conn, keys)
        now_in = sa.select(m.c.entity_id.label("group_id")).select_from(m.join(keys, sa.and_(
            keys.c.source == m.c.source, keys.c.source_key == m.c.source_key))).where(
            m.c.entity_type == "service_request")
        was_in = sa.select(gm.c.group_id).select_from(gm.join(keys, sa.and_(
            keys.c.source == gm.c.source, keys.c.source_key == gm.c.source_key)))
        conn.execute(touched.insert().from_select(["group_id"], sa.union(now_in, was_in)))
        if not _close(conn, touched):  # a regrouping this wide is cheaper done from scratch
            return _rebuild(conn, before, marks)
        _analyze(conn, touched)
        in_touched = sa.select(touched.c.group_id)

        citizens = _temp(conn, "ig_citizens", sa.Column("citizen", sa.String(40)))
        base = _temp(conn, "ig_base", *(sa.Column(c.name, c.type) for c in t.c if c.name in GROUP_BASE))
        temps += [citizens, base]
        conn.execute(base.insert().from_select(list(GROUP_BASE), group_base(in_touched)))
        conn.execute(citizens.insert().from_select(["citizen"], sa.union(
            sa.select(t.c.citizen).where(t.c.group_id.in_(in_touched)), sa.select(base.c.citizen))))
        # the rest of those citizens' groups: their repeats may move with a touched group
        conn.execute(base.insert().from_select(list(GROUP_BASE), sa.select(*(t.c[c] for c in GROUP_BASE)).where(
            t.c.citizen.in_(sa.select(citizens.c.citizen)), t.c.group_id.not_in(in_touched))))
        _analyze(conn, citizens, base)
        _cover(conn, base)
        fresh = _temp(conn, "ig_fresh", *(sa.Column(c.name, c.type) for c in t.c))
        temps.append(fresh)
        q = _with_periods(dialect, base).subquery("g5")
        conn.execute(fresh.insert().from_select(COLUMNS, sa.select(*(q.c[c] for c in COLUMNS))))

        days = _moved_days(t, fresh, in_touched)
        version = before["version"] + 1
        log = store.indicator_fact_days
        n_days = conn.execute(log.insert().from_select(["fact", "version", "day"], sa.select(
            sa.literal(FACT), sa.literal(version), days.c.day).where(days.c.day.is_not(None)))).rowcount

        # apply: the touched groups and the chains recomputed with them replace what was kept
        conn.execute(t.delete().where(sa.or_(t.c.group_id.in_(in_touched),
                                             t.c.group_id.in_(sa.select(fresh.c.group_id)))))
        conn.execute(t.insert().from_select(COLUMNS, sa.select(*(fresh.c[c] for c in COLUMNS))))
        conn.execute(gm.delete().where(gm.c.group_id.in_(in_touched)))
        conn.execute(gm.insert().from_select(["source", "source_key", "group_id"], sa.select(
            m.c.source, m.c.source_key, m.c.entity_id).where(m.c.entity_type == "service_request",
                                                             m.c.entity_id.in_(in_touched))))
        groups = conn.execute(sa.select(sa.func.count()).select_from(touched)).scalar()
        _keep_statistics(conn, conn.execute(sa.select(sa.func.count()).select_from(fresh)).scalar(), t, gm)
        conn.execute(log.delete().where(log.c.fact == FACT, log.c.version <= version - KEEP_VERSIONS))
        _save(conn, before, marks, version, logged_since=max(before["logged_since"], version - KEEP_VERSIONS))
        return {"mode": "incremental", "version": version, "groups": groups, "days": n_days}
    finally:
        for table in temps:
            table.drop(conn, checkfirst=True)


def _moved_days(t: sa.Table, fresh: sa.Table, in_touched) -> sa.Subquery:
    """The days of the groups whose figures can move: gone, new, or differing in a column
    an indicator reads (before and after; a republished request that changed nothing, or a
    mention reassigned to the same person, moves none)."""
    same_group = t.c.group_id == fresh.c.group_id
    differs = sa.or_(*(t.c[c].is_distinct_from(fresh.c[c]) for c in COLUMNS if c not in NOT_READ))
    changed = sa.select(t.c.day.label("old"), fresh.c.day.label("new")).select_from(
        t.join(fresh, same_group)).where(differs).subquery("changed")
    gone = sa.select(t.c.day).where(t.c.group_id.in_(in_touched), ~sa.exists().where(same_group))
    new = sa.select(fresh.c.day).where(~sa.exists().where(same_group))
    return sa.union(gone, new, sa.select(changed.c.old), sa.select(changed.c.new)).subquery("d")


def _close(conn, touched: sa.Table) -> bool:
    """Add to `touched` every group its requests are in now or were in before, until none is
    added: a request that left a touched group for another makes that one touched too.
    False if that did not settle within MAX_ROUNDS."""
    m, gm = store.entity_members, store.indicator_group_members
    in_touched = sa.select(touched.c.group_id)
    pair = sa.and_(gm.c.source == m.c.source, gm.c.source_key == m.c.source_key)
    was_in = sa.select(gm.c.group_id).select_from(m.join(gm, pair)).where(
        m.c.entity_type == "service_request", m.c.entity_id.in_(in_touched))
    now_in = sa.select(m.c.entity_id.label("group_id")).select_from(gm.join(m, pair)).where(
        m.c.entity_type == "service_request", gm.c.group_id.in_(in_touched))
    reached = sa.union(was_in, now_in).subquery("reached")
    add = touched.insert().from_select(["group_id"], sa.select(reached.c.group_id).where(
        reached.c.group_id.not_in(in_touched)))
    for _ in range(MAX_ROUNDS):
        if not conn.execute(add).rowcount:
            return True
    return False


def _keep_statistics(conn, changed: int, *tables: sa.Table) -> None:
    """ANALYZE after a change of at least a tenth of the kept groups (PostgreSQL: autovacuum may
    be off, and a table's statistics then stay those of its last rebuild)."""
    if conn.dialect.name != "postgresql":
        return
    known = conn.execute(sa.text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:t)"),
                         {"t": tables[0].name}).scalar()
    if known is None or known < 0 or changed >= SHARE * known:
        _analyze(conn, *tables)
