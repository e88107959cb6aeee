"""The 137 request groups kept in the store (`indicator_request_groups`) and maintained
incrementally, so a refresh after a day's consolidation regroups the requests that changed,
not a million of them.

A refresh takes the requests published since the groups' source mark, and those whose
citizen (person mention) was reassigned since their member mark; the groups they are in
now and were in before (`indicator_group_members` remembers: resolution rewrites every
request's membership on each run), closed over the requests of those groups until no
other group is reached (a follow-up joining two groups, a group split in two).  Only those
groups are recomputed, with the groups of the same citizen, place and problem (a repeat
depends on the group before it); only the groups that came out different are written.  The
days those groups counted in, before and after, go to `indicator_fact_days` under a new
version, and an indicator computed at version v recomputes the Jalali periods of the days
changed after v.

Rebuilt from scratch when asked (`full`), on first use, when members moved with no row
published (a steward's decision or a retrained model regroups requests without a trace), and
when the kept groups are found empty (on PostgreSQL they are unlogged: derived data, written
without WAL, emptied by a crash).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from munihub import store
from munihub.indicators import calendar
from munihub.indicators.compute import set_session
from munihub.indicators.facts import GROUP_BASE, MENTION, group_base, open_days, with_repeats
from munihub.store.marks import aware
from munihub.store.stats import large_share

FACT = "request_group"
KEEP_VERSIONS = 200  # the days log keeps this many versions; an indicator older than that recomputes in full
INDEX_MEM = "256MB"  # building the kept tables' indexes after a rebuild (PostgreSQL)
MAX_ROUNDS = 50      # closing the touched groups over their members converges in two or three
DEAD_SHARE = 0.2     # dead rows against live ones that have the kept tables vacuumed
PG_LOCK = 724245     # advisory lock id (724242-4: migrations, the audit writer, store marks)


def relation(dialect: str, as_of: str) -> sa.Subquery:
    """The kept request groups as the `request_group` fact reads them (open days as of `as_of`)."""
    t = store.indicator_request_groups
    return sa.select(*t.c, open_days(dialect, t, as_of)).subquery("request_group")


def state(conn) -> dict | None:
    """The kept groups' row of `indicator_facts` (version, logged_since, marks), None before the first refresh."""
    t = store.indicator_facts
    row = conn.execute(sa.select(t).where(t.c.fact == FACT)).mappings().first()
    return dict(row) if row else None


def changed_days(conn, since_version: int) -> sa.Select:
    """The days whose groups changed after `since_version` (a select of `day`)."""
    d = store.indicator_fact_days
    return sa.select(d.c.day).where(d.c.fact == FACT, d.c.version > since_version)


def maintain(conn, marks: tuple[Any, Any], full: bool = False, delta: bool = False) -> dict:
    """Bring the kept groups up to the store `marks` (newest row published, newest member
    assigned), in the caller's transaction: {mode, version, groups recomputed, days changed};
    with `delta`, an incremental change also leaves its citizens' groups before and after in
    the temporary table `DELTA` (read through `delta_relation`; `drop_delta` when done), and
    `delta_from` says the version it leads from."""
    if conn.dialect.name == "postgresql":  # two refreshes at once would both apply one change
        conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({PG_LOCK})"))
    now_state = state(conn)
    t = store.indicator_request_groups
    # unlogged on PostgreSQL (migration 0010): a crash or a failover leaves the kept groups empty
    lost = now_state is not None and conn.execute(sa.select(t.c.group_id).limit(1)).first() is None
    if now_state is not None and not full and not lost:
        same_rows = aware(now_state["source_mark"]) == aware(marks[0])
        same_members = aware(now_state["member_mark"]) == aware(marks[1])
        if same_rows and same_members:
            return {"mode": "unchanged", "version": now_state["version"], "groups": 0, "days": 0}
        if now_state["source_mark"] is not None and not (same_rows and not same_members):
            return _incremental(conn, now_state, marks, delta)
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


TEMP_STATISTICS = 10  # statistics target of this maintenance's temporary tables (PostgreSQL's default: 100)


def _analyze_temp(conn, *tables: sa.Table, columns: tuple[str, ...] = ()) -> None:
    """ANALYZE temporary tables of a few tens of thousands of rows, on a sample of a tenth the
    default size: their plans need row counts (every page is still read) and rough distinct
    counts, not fine histograms; the default target sorted every row of every column, ~0.1 s a
    table, nearly 1 s of a 1 % refresh.  (`columns`: only those, of a single table.)"""
    if conn.dialect.name != "postgresql":
        return
    conn.exec_driver_sql(f"SET LOCAL default_statistics_target = {TEMP_STATISTICS}")
    names = f"{tables[0].name} ({', '.join(columns)})" if columns else ", ".join(t.name for t in tables)
    conn.exec_driver_sql(f"ANALYZE {names}")
    conn.exec_driver_sql("SET LOCAL default_statistics_target = DEFAULT")  # the kept tables' own ANALYZE


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
CHAIN = ("citizen", "district", "category")  # a repeat is the same citizen, place and problem again


def _rebuild(conn, before: dict | None, marks) -> dict:
    t, gm, m = store.indicator_request_groups, store.indicator_group_members, store.entity_members
    dialect = conn.dialect.name
    set_session(conn)
    if dialect == "postgresql":
        conn.exec_driver_sql(f"TRUNCATE {t.name}, {gm.name}")
        # (a work_mem holding the million requests' sorts in memory measured no faster: the
        # rows are wide; 1.0 + 1.5 s in memory against 0.3 + 1.1 s spilled, machine shared)
        conn.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{INDEX_MEM}'")
    else:
        conn.execute(t.delete())
        conn.execute(gm.delete())
    # secondary indexes are built once over the rows rather than kept up row by row
    indexes = [i for table in (t, gm) for i in table.indexes]
    for index in indexes:
        index.drop(conn)
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
    for index in indexes:
        index.create(conn)
    _analyze(conn, t, gm)
    d = store.indicator_fact_days
    conn.execute(d.delete().where(d.c.fact == FACT))
    version = (before["version"] if before else 0) + 1
    _save(conn, before, marks, version, logged_since=version)
    groups = conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
    return {"mode": "rebuilt", "version": version, "groups": groups, "days": None}


def _temp(conn, name: str, *columns: sa.Column) -> sa.Table:
    """A temporary table of this maintenance: dropped with the transaction on PostgreSQL (also
    when it fails), at the end of it on SQLite (or by the next maintenance, if it failed)."""
    table = sa.Table(name, sa.MetaData(), *columns, prefixes=["TEMPORARY"], postgresql_on_commit="DROP")
    table.drop(conn, checkfirst=True)
    table.create(conn)
    return table


def _incremental(conn, before: dict, marks, delta: bool = False) -> dict:
    t, gm, m = store.indicator_request_groups, store.indicator_group_members, store.entity_members
    dialect = conn.dialect.name
    set_session(conn)
    since, member_since = before["source_mark"], before["member_mark"]
    member_cols = lambda: [sa.Column("source", sa.String(200)), sa.Column("source_key", sa.String(500)),  # noqa: E731
                           sa.Column("group_id", sa.String(40)), sa.Column("round", sa.Integer)]
    keys = _temp(conn, "ig_keys", sa.Column("source", sa.String(200)), sa.Column("source_key", sa.String(500)))
    touched = _temp(conn, "ig_touched", sa.Column("group_id", sa.String(40), primary_key=True),
                    sa.Column("round", sa.Integer))
    now, was = _temp(conn, "ig_now", *member_cols()), _temp(conn, "ig_was", *member_cols())
    temps = [keys, touched, now, was]
    for changed in _changed_requests(since, member_since):
        conn.execute(keys.insert().from_select(["source", "source_key"], changed))
    _analyze_temp(conn, keys)
    key_of = lambda x: sa.and_(keys.c.source == x.c.source, keys.c.source_key == x.c.source_key)  # noqa: E731
    groups_of_keys = sa.union(
        sa.select(m.c.entity_id.label("group_id")).select_from(m.join(keys, key_of(m))).where(
            m.c.entity_type == "service_request"),
        sa.select(gm.c.group_id).select_from(gm.join(keys, key_of(gm)))).subquery("k")
    conn.execute(touched.insert().from_select(["group_id", "round"], sa.select(groups_of_keys.c.group_id,
                                                                               sa.literal(0))))
    rounds = _close(conn, touched, now, was)
    if not rounds:  # a regrouping this wide is cheaper done from scratch
        return _rebuild(conn, before, marks)
    # (the members were analyzed after the first round: again only if later rounds added some)
    _analyze_temp(conn, touched, *((now, was) if rounds > 1 else ()))

    # the touched groups recomputed from their requests now, and the groups of the same
    # citizen, place and problem (a repeat depends on the one before it) as kept
    base = _temp(conn, "ig_base", *(sa.Column(c.name, c.type) for c in t.c if c.name in GROUP_BASE))
    chains = _temp(conn, "ig_chains", *(sa.Column(c, sa.Text) for c in CHAIN))
    fresh = _temp(conn, "ig_fresh", *(sa.Column(c.name, c.type) for c in t.c))
    temps += [base, chains, fresh]
    current = sa.select(now.c.source, now.c.source_key, now.c.group_id).subquery("touched_members")
    conn.execute(base.insert().from_select(list(GROUP_BASE), group_base(current)))
    in_touched = sa.select(touched.c.group_id)
    conn.execute(chains.insert().from_select(list(CHAIN), sa.union(
        sa.select(*(t.c[c] for c in CHAIN)).where(t.c.group_id.in_(in_touched)),
        sa.select(*(base.c[c] for c in CHAIN)))))
    _analyze_temp(conn, chains)
    # Every kept group of those citizens, read once (by index: joined directly, PostgreSQL hashes
    # the chains and scans every kept group): what the diff, the changed citizens and their
    # groups before are then taken from, by hashing a few tens of thousands of rows instead of
    # looking each up again among the kept ones (three rounds of 10,000 look-ups, ~0.5 s)
    kin = _temp(conn, "ig_kin", *(sa.Column(c.name, c.type) for c in t.c))
    temps.append(kin)
    conn.execute(kin.insert().from_select(COLUMNS, sa.select(*(t.c[c] for c in COLUMNS)).where(
        t.c.citizen.in_(sa.select(chains.c.citizen)))))
    _analyze_temp(conn, kin, columns=("group_id", "citizen", "district", "category"))  # (joined and filtered by)
    same_chain = sa.and_(kin.c.citizen == chains.c.citizen, *(kin.c[c].is_not_distinct_from(chains.c[c])
                                                                for c in CHAIN[1:]))
    conn.execute(base.insert().from_select(list(GROUP_BASE), sa.select(*(kin.c[c] for c in GROUP_BASE)).where(
        sa.exists().where(same_chain), ~sa.exists().where(touched.c.group_id == kin.c.group_id))))
    _analyze_temp(conn, base)
    _cover(conn, base)
    q = _with_periods(dialect, base).subquery("g5")
    conn.execute(fresh.insert().from_select(COLUMNS, sa.select(*(q.c[c] for c in COLUMNS))))

    diff = _diff(conn, fresh, touched, kin)
    temps.append(diff)
    version = before["version"] + 1
    log = store.indicator_fact_days
    days = sa.union(sa.select(diff.c.old_day.label("day")), sa.select(diff.c.new_day)).subquery("d")
    n_days = conn.execute(log.insert().from_select(["fact", "version", "day"], sa.select(
        sa.literal(FACT), sa.literal(version), days.c.day).where(days.c.day.is_not(None)))).rowcount

    # apply only what moved
    moved = sa.select(diff.c.group_id)
    if delta:
        temps.append(_keep_delta(conn, diff, fresh, kin))
    conn.execute(t.delete().where(t.c.group_id.in_(moved)))
    conn.execute(t.insert().from_select(COLUMNS, sa.select(*(fresh.c[c] for c in COLUMNS)).where(
        fresh.c.group_id.in_(sa.select(diff.c.group_id).where(diff.c.fresh == 1)))))
    _remember_members(conn, now, was)
    changed = conn.execute(sa.select(sa.func.count()).select_from(diff)).scalar()
    _keep_statistics(conn, changed, t, gm)
    conn.execute(log.delete().where(log.c.fact == FACT, log.c.version <= version - KEEP_VERSIONS))
    _save(conn, before, marks, version, logged_since=max(before["logged_since"], version - KEEP_VERSIONS))
    if dialect != "postgresql":
        for table in temps:
            table.drop(conn)
    return {"mode": "incremental", "version": version, "groups": changed, "days": n_days,
            "delta_from": before["version"] if delta else None}


DELTA = "indicator_group_delta"


def _delta_table() -> sa.Table:
    t = store.indicator_request_groups
    return sa.Table(DELTA, sa.MetaData(), *(sa.Column(c.name, c.type) for c in t.c), sa.Column("side", sa.Integer),
                    sa.Column("moved", sa.Integer), prefixes=["TEMPORARY"])


def _keep_delta(conn, diff: sa.Table, fresh: sa.Table, kin: sa.Table) -> sa.Table:
    """Before the change is applied: every kept group of the citizens whose groups moved, as
    it is (side 0) and as it will be (side 1), `moved` marking the groups that changed, in
    `DELTA`; the temporary table of those citizens.  A figure that adds up over citizens
    (rows, sums, distinct citizens) moves by what those citizens give after less what they
    gave before: every other citizen's groups stay as they are.  `kin`: every kept group of
    the citizens whose groups were recomputed (a superset of those citizens)."""
    t, d = kin, _delta_table()
    d.drop(conn, checkfirst=True)
    d.create(conn)
    now_moved = sa.select(diff.c.group_id).where(diff.c.fresh == 1)
    citizens = _temp(conn, "ig_citizens", sa.Column("citizen", sa.String(40), primary_key=True))
    conn.execute(citizens.insert().from_select(["citizen"], sa.union(
        sa.select(t.c.citizen).where(t.c.group_id.in_(sa.select(diff.c.group_id))),
        sa.select(fresh.c.citizen).where(fresh.c.group_id.in_(now_moved)))))
    _analyze_temp(conn, citizens)
    moved = sa.case((t.c.group_id.in_(sa.select(diff.c.group_id)), 1), else_=0)
    conn.execute(d.insert().from_select(COLUMNS + ["side", "moved"], sa.select(
        *(t.c[c] for c in COLUMNS), sa.literal(0), moved).where(t.c.citizen.in_(sa.select(citizens.c.citizen)))))
    # after: their groups that do not move, and the new versions of those that do
    conn.execute(d.insert().from_select(COLUMNS + ["side", "moved"], sa.union_all(
        sa.select(*(d.c[c] for c in COLUMNS), sa.literal(1), sa.literal(0)).where(d.c.side == 0, d.c.moved == 0),
        sa.select(*(fresh.c[c] for c in COLUMNS), sa.literal(1), sa.literal(1)).where(
            fresh.c.group_id.in_(now_moved)))))
    # (unanalyzed, its tens of thousands of rows were planned as a few dozen and sorted, not hashed);
    # only what the figures filter, join and group by: every column took 0.34 s of a 6 s refresh
    _analyze_temp(conn, d, columns=("side", "moved", "citizen", "district", "category", "month", "week"))
    return citizens


def delta_relation(dialect: str, as_of: str, side: int | str | None = None, time: str | None = None) -> sa.Subquery:
    """The groups `maintain` left in `DELTA`, as the `request_group` fact reads them, with their
    `side`: those of the changed citizens before (`side` 0) or after (1) the change, both
    ("both", to be grouped by side), or (None) the groups that moved, as they were and as they
    are; with `time` (month or week), only the groups of a citizen in a period one of its
    moved groups counts in (its other groups count in cells of other periods the same before
    and after: a third to half fewer rows to group)."""
    d = _delta_table()
    where = [] if side == "both" else [d.c.side == side if side is not None else d.c.moved == 1]
    if time is not None:
        m = d.alias("moved")
        where.append(sa.exists().where(m.c.moved == 1, m.c.citizen == d.c.citizen, m.c[time] == d.c[time]))
    return sa.select(*(d.c[c] for c in COLUMNS), d.c.side, open_days(dialect, d, as_of)).where(
        *where).subquery("request_group")


def drop_delta(conn) -> None:
    _delta_table().drop(conn, checkfirst=True)


def _changed_requests(since, member_since) -> list[sa.Select]:
    """Selects of (source, source_key): the requests published since `since`, and those whose
    citizen may have changed, their mention reassigned since `member_since` (a person merged
    into another, or split off, moves the citizen of requests that did not change)."""
    r, m = store.source_rows, store.entity_members
    out = [sa.select(r.c.source, r.c.source_key).where(r.c.entity_type == "service_request", r.c.updated_at > since)]
    if member_since is not None:
        request_key = sa.func.substr(m.c.source_key, 1, sa.func.length(m.c.source_key) - len(MENTION))
        out.append(sa.select(m.c.source, request_key).where(
            m.c.entity_type == "person", m.c.assigned_at > member_since, m.c.source_key.like("%" + MENTION)))
    return out


def _diff(conn, fresh: sa.Table, touched: sa.Table, kin: sa.Table) -> sa.Table:
    """What moved, as a temporary table (group_id, old_day, new_day, fresh): the groups gone,
    new, or differing in any column (every one is read by some indicator), with the day
    each counted in before and after.  `kin` holds every kept group of the citizens
    recomputed: each touched group, and each kept group `fresh` holds."""
    t = kin
    diff = _temp(conn, "ig_diff", sa.Column("group_id", sa.String(40)), sa.Column("old_day", sa.String(10)),
                 sa.Column("new_day", sa.String(10)), sa.Column("fresh", sa.Integer))
    old = t.alias("old")
    differs = sa.or_(old.c.group_id.is_(None),
                     *(old.c[c].is_distinct_from(fresh.c[c]) for c in COLUMNS if c != "group_id"))
    conn.execute(diff.insert().from_select(["group_id", "old_day", "new_day", "fresh"], sa.select(
        fresh.c.group_id, old.c.day, fresh.c.day, sa.literal(1)).select_from(
        fresh.outerjoin(old, old.c.group_id == fresh.c.group_id)).where(differs)))
    # (driven from the touched groups: a NOT IN over the kept groups scans all of them)
    conn.execute(diff.insert().from_select(["group_id", "old_day", "new_day", "fresh"], sa.select(
        t.c.group_id, t.c.day, sa.null(), sa.literal(0)).select_from(
        touched.join(t, t.c.group_id == touched.c.group_id)).where(
        ~sa.exists().where(fresh.c.group_id == touched.c.group_id))))
    return diff


def _close(conn, touched: sa.Table, now: sa.Table, was: sa.Table) -> int:
    """Collect the members of the touched groups, now (`now`) and as last kept (`was`), and add
    to `touched` every group those requests are in now or were in before, round after round
    until none is added: a request that left a touched group, or joined one, makes its other
    group touched too.  How many rounds that took; 0 if it did not settle within MAX_ROUNDS."""
    m, gm = store.entity_members, store.indicator_group_members
    for n in range(MAX_ROUNDS):
        latest = sa.select(touched.c.group_id).where(touched.c["round"] == n)
        conn.execute(now.insert().from_select(["source", "source_key", "group_id", "round"], sa.select(
            m.c.source, m.c.source_key, m.c.entity_id, sa.literal(n)).where(
            m.c.entity_type == "service_request", m.c.entity_id.in_(latest))))
        conn.execute(was.insert().from_select(["source", "source_key", "group_id", "round"], sa.select(
            gm.c.source, gm.c.source_key, gm.c.group_id, sa.literal(n)).where(gm.c.group_id.in_(latest))))
        if n == 0:
            _analyze_temp(conn, now, was)
        if not _reach(conn, touched, now, was, n):
            return n + 1
    return 0


def _reach(conn, touched: sa.Table, now: sa.Table, was: sa.Table, n: int) -> int:
    """Add to `touched` (as round n + 1) the groups the members collected in round n were in
    before, or are in now, that are not touched yet; how many.  A request collected both now
    and as last kept is in a touched group now and was in one before (each request is in one
    group at a time): only the requests collected on one side are looked up on the other (a 1 %
    change moves few requests between groups; looking up all 40,000 took 0.3-0.6 s)."""
    m, gm = store.entity_members, store.indicator_group_members
    pair = lambda a, b: sa.and_(a.c.source == b.c.source, a.c.source_key == b.c.source_key)  # noqa: E731
    stayed = lambda a, b: sa.exists().where(pair(a, b))  # noqa: E731
    reached = sa.union(
        sa.select(gm.c.group_id).select_from(now.join(gm, pair(now, gm))).where(now.c["round"] == n,
                                                                              ~stayed(was, now)),
        sa.select(m.c.entity_id.label("group_id")).select_from(was.join(m, pair(was, m))).where(
            was.c["round"] == n, m.c.entity_type == "service_request", ~stayed(now, was))).subquery("reached")
    return conn.execute(touched.insert().from_select(["group_id", "round"], sa.select(
        reached.c.group_id, sa.literal(n + 1)).where(reached.c.group_id.not_in(
            sa.select(touched.c.group_id))))).rowcount


def _remember_members(conn, now: sa.Table, was: sa.Table) -> None:
    """Keep the touched groups' members as they are now, writing only the requests that moved."""
    gm = store.indicator_group_members
    cols = lambda x: [x.c.source, x.c.source_key, x.c.group_id]  # noqa: E731
    gone = sa.except_(sa.select(*cols(was)), sa.select(*cols(now))).subquery("gone")
    arrived = sa.except_(sa.select(*cols(now)), sa.select(*cols(was))).subquery("arrived")
    moved = _temp(conn, "ig_moved", sa.Column("source", sa.String(200)), sa.Column("source_key", sa.String(500)),
                  sa.Column("group_id", sa.String(40)), sa.Column("arrived", sa.Integer))
    conn.execute(moved.insert().from_select(["source", "source_key", "group_id", "arrived"], sa.union_all(
        sa.select(*gone.c, sa.literal(0)), sa.select(*arrived.c, sa.literal(1)))))
    conn.execute(gm.delete().where(sa.exists().where(moved.c.source == gm.c.source,
                                                     moved.c.source_key == gm.c.source_key)))
    conn.execute(gm.insert().from_select(["source", "source_key", "group_id"], sa.select(*cols(moved)).where(
        moved.c.arrived == 1)))
    if conn.dialect.name != "postgresql":
        moved.drop(conn)


def vacuum(engine: sa.Engine) -> list[str]:
    """VACUUM the kept tables whose dead rows (each refresh deletes and re-inserts the groups
    that moved) reach DEAD_SHARE of their live ones: with autovacuum off nothing else reclaims
    them, and every scan of the groups reads them.  PostgreSQL only (SQLite reuses free pages);
    outside any transaction, as VACUUM must be.  The tables vacuumed."""
    if engine.dialect.name != "postgresql":
        return []
    names = [store.indicator_request_groups.name, store.indicator_group_members.name]
    with engine.connect() as conn:
        stats = conn.execute(sa.text("SELECT relname, n_live_tup, n_dead_tup FROM pg_stat_user_tables "
                                     "WHERE relname IN :names").bindparams(sa.bindparam("names", expanding=True)),
                             {"names": names}).all()
    due = [name for name, live, dead in stats if dead and dead >= DEAD_SHARE * max(live, 1)]
    if due:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in due:
                conn.exec_driver_sql(f"VACUUM (ANALYZE) {name}")
    return due


def _keep_statistics(conn, changed: int, *tables: sa.Table) -> None:
    """ANALYZE after a change of at least a tenth of the kept groups (PostgreSQL: autovacuum may
    be off, and a table's statistics then stay those of its last rebuild)."""
    if conn.dialect.name == "postgresql" and large_share(conn, tables[0].name, changed):
        _analyze(conn, *tables)
