"""What an indicator can be computed over: each *fact* is one SQL relation built from the store
(published source rows, entities and their members) with named columns, the dimensions it
offers, the day its Jalali periods come from and the column naming the citizen behind a row
(what small-count suppression counts).

Facts are SQLAlchemy selectables, so one definition runs as the same SQL on SQLite and
PostgreSQL.  The only engine-specific piece is the number of days between two ISO times.

    service_request       one row per 137 request (follow-ups included)
    request_group         one row per request group: a problem, its follow-ups folded in
    inter_agency_request  one row per request between agencies
    plan_indicator        one row per plan indicator and Jalali period (target and measured)
    source_record         one row per record a source keeps, with its person and copies
    source_pair           one row per person two sources both keep
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import sqlalchemy as sa

from munihub import store

MENTION = "#person"  # the suffix of a person mention's key (munihub.resolve.records.MENTION)


@dataclasses.dataclass(frozen=True)
class Fact:
    """A relation indicators are computed over, and what a definition may say about it."""

    name: str
    entity_type: str                 # the source rows it reads (what a refresh watches)
    columns: dict[str, str]          # column -> text | number | day
    dimensions: dict[str, str]       # dimension name -> column (month and week come from `day`)
    build: Callable[[str, str], sa.Subquery]  # (dialect name, as-of ISO time) -> relation
    day: str | None = None           # column holding the ISO day Jalali months and weeks come from
    period_field: str | None = None  # column already holding a Jalali period (plan indicators)
    citizen: str | None = None       # column naming the citizen; None: nothing personal to protect

    @property
    def snapshot(self) -> bool:
        """No time of its own: figures are taken as of the computation, per Jalali month."""
        return self.day is None and self.period_field is None


def days_between(dialect: str, start, end):
    """Days (fractional) from `start` to `end`, both ISO date or date-time text."""
    if dialect == "postgresql":
        ts = sa.TIMESTAMP(timezone=True)  # offsets honoured; naive text read as UTC (set by compute)
        return sa.extract("epoch", sa.cast(end, ts) - sa.cast(start, ts)) / 86400.0
    return sa.func.julianday(end) - sa.func.julianday(start)


def _text(name: str):
    return store.source_rows.c.record[name].as_string()


def _flag(condition):
    return sa.case((condition, 1), else_=0)


def _rows_of(entity_type: str, fields: list[str]):
    r = store.source_rows
    return [r.c.source.label("src"), r.c.source_key.label("key"), r.c.updated_at,
            *(_text(f).label(f) for f in fields)], r.c.entity_type == entity_type


# ---------------------------------------------------------------- 137

def _request_rows(members=None) -> sa.Subquery:
    """One row per 137 request with its group and citizen.  `members` (source, source_key,
    group_id) narrows it to some groups' requests (what an incremental refresh recomputes);
    by default every request's group comes from the entity members."""
    r, m = store.source_rows, store.entity_members
    pm = m.alias("pm")
    if members is None:
        members = sa.select(m.c.source, m.c.source_key, m.c.entity_id.label("group_id")).where(
            m.c.entity_type == "service_request").subquery("request_members")
    cols, where = _rows_of("service_request", ["district", "category", "subcategory", "status",
                                               "filed_at", "closed_at"])
    return (sa.select(*cols, members.c.group_id,
                      # a request naming nobody counts as a citizen of its own (its group)
                      sa.func.coalesce(pm.c.entity_id, members.c.group_id).label("citizen"),
                      sa.func.substr(_text("filed_at"), 1, 10).label("day"))
            .select_from(r.join(members, sa.and_(members.c.source == r.c.source,
                                                 members.c.source_key == r.c.source_key))
                         # the entity type in the join condition halves what the hash join builds
                         .outerjoin(pm, sa.and_(pm.c.source == r.c.source, pm.c.entity_type == "person",
                                                pm.c.source_key == r.c.source_key + MENTION)))
            .where(where)).subquery("req0")


def _service_requests(dialect: str, as_of: str) -> sa.Subquery:
    q = _request_rows()
    first = sa.func.row_number().over(partition_by=q.c.group_id,
                                      order_by=(q.c.filed_at, q.c.src, q.c.key))
    return sa.select(*q.c, _flag(first > 1).label("is_followup"),
                     days_between(dialect, q.c.filed_at, q.c.closed_at).label("resolution_days"),
                     sa.case((q.c.closed_at.is_(None), days_between(dialect, q.c.filed_at, sa.literal(as_of))),
                             else_=None).label("open_days")).subquery("service_request")


GROUP_BASE = ("group_id", "citizen", "district", "category", "status", "filed_at", "day", "src", "requests",
              "closed_at")


def group_base(members=None) -> sa.Select:
    """One row per request group, from its requests: the first request's citizen, place,
    category and day, how many requests it folds, when it was resolved (`GROUP_BASE`);
    `members` as for `_request_rows`."""
    req = _request_rows(members)
    by_group = dict(partition_by=req.c.group_id)
    g = sa.select(req.c.group_id, req.c.citizen, req.c.district, req.c.category, req.c.status,
                  req.c.filed_at, req.c.day, req.c.src,
                  sa.func.row_number().over(**by_group, order_by=(req.c.filed_at, req.c.src, req.c.key)).label("rn"),
                  sa.func.count().over(**by_group).label("requests"),
                  sa.func.count(req.c.closed_at).over(**by_group).label("closed_n"),
                  sa.func.max(req.c.closed_at).over(**by_group).label("last_closed")).subquery("g0")
    # A problem is resolved when every request about it is closed.
    closed_at = sa.case((g.c.closed_n == g.c.requests, g.c.last_closed), else_=None)
    return sa.select(*(g.c[c] for c in GROUP_BASE[:-1]), closed_at.label("closed_at")).where(g.c.rn == 1)


def with_repeats(dialect: str, base) -> sa.Select:
    """Group rows (`base`: a relation with the `GROUP_BASE` columns) with their follow-ups,
    repeats, closure and resolution time.  A repeat: the same citizen brings the same problem
    (category) at the same place (district) again after the earlier one was closed; a
    follow-up inside the window is not a repeat, it is folded into its group.  A group's
    repeat depends only on the groups of its own citizen."""
    before = sa.func.lag(base.c.closed_at).over(
        partition_by=(base.c.citizen, base.c.district, base.c.category),
        order_by=(base.c.filed_at, base.c.group_id))
    h = sa.select(*base.c, before.label("previous_closed")).subquery("g2")
    is_repeat = _flag(sa.and_(h.c.previous_closed.is_not(None),
                              days_between(dialect, h.c.previous_closed, h.c.filed_at) >= 0))
    return sa.select(
        h.c.group_id, h.c.citizen, h.c.district, h.c.category, h.c.status, h.c.filed_at, h.c.closed_at,
        h.c.day, h.c.src, h.c.requests,
        (h.c.requests - 1).label("followups"), is_repeat.label("is_repeat"),
        (h.c.requests - 1 + is_repeat).label("repeats"),
        _flag(h.c.closed_at.is_not(None)).label("closed"),
        days_between(dialect, h.c.filed_at, h.c.closed_at).label("resolution_days"))


def open_days(dialect: str, rel, as_of: str):
    """Days a still-open group has been open as of `as_of` (moves with every computation)."""
    return sa.case((rel.c.closed_at.is_(None), days_between(dialect, rel.c.filed_at, sa.literal(as_of))),
                   else_=None).label("open_days")


def _request_groups(dialect: str, as_of: str) -> sa.Subquery:
    """The request groups computed from scratch over the store (what `munihub.indicators.groups`
    keeps maintained in `indicator_request_groups`, and what tests check it against)."""
    h = with_repeats(dialect, group_base().subquery("g1")).subquery("g3")
    return sa.select(*h.c, open_days(dialect, h, as_of)).subquery("request_group")


# ---------------------------------------------------------------- between agencies

def _inter_agency(dialect: str, as_of: str) -> sa.Subquery:
    cols, where = _rows_of("inter_agency_request", ["from_agency", "to_agency", "subject", "status",
                                                    "opened_on", "due_on", "closed_on"])
    q = sa.select(*cols).where(where).subquery("iar0")
    today = sa.literal(as_of[:10])
    late = sa.case((q.c.due_on.is_(None), 0),
                   (q.c.closed_on.is_not(None), _flag(q.c.closed_on > q.c.due_on)),
                   else_=_flag(today > q.c.due_on))
    return sa.select(*q.c, (q.c.from_agency + " → " + q.c.to_agency).label("agency_pair"),
                     sa.func.substr(q.c.opened_on, 1, 10).label("day"),
                     days_between(dialect, q.c.opened_on, q.c.closed_on).label("turnaround_days"),
                     late.label("overdue"), _flag(q.c.closed_on.is_(None)).label("open")
                     ).subquery("inter_agency_request")


# ---------------------------------------------------------------- the operational plan

def _plan(dialect: str, as_of: str) -> sa.Subquery:
    cols, where = _rows_of("indicator", ["indicator_code", "title", "agency_code", "period", "unit"])
    r = store.source_rows
    return sa.select(*cols, r.c.record["target_value"].as_float().label("target_value"),
                     r.c.record["measured_value"].as_float().label("measured_value")
                     ).where(where).subquery("plan_indicator")


# ---------------------------------------------------------------- the systems themselves

def _people():
    """Per person entity: its members' smallest and largest source (two differ: confirmed)."""
    m = store.entity_members
    return sa.select(m.c.entity_id, sa.func.min(m.c.source).label("lo"), sa.func.max(m.c.source).label("hi")
                     ).where(m.c.entity_type == "person").group_by(m.c.entity_id).subquery("people")


def _source_records(dialect: str, as_of: str) -> sa.Subquery:
    m = store.entity_members
    pm = m.alias("pm")
    own = sa.not_(m.c.source_key.like("%" + MENTION))
    person = sa.case((m.c.entity_type == "person", m.c.entity_id), else_=pm.c.entity_id)
    q = (sa.select(m.c.source.label("src"), m.c.source_key.label("key"), m.c.entity_type, m.c.entity_id,
                   person.label("person_id"))
         .select_from(m.outerjoin(pm, sa.and_(pm.c.source == m.c.source, pm.c.entity_type == "person",
                                              pm.c.source_key == m.c.source_key + MENTION)))
         .where(own)).subquery("sr0")
    people = _people()
    copy = sa.func.row_number().over(partition_by=(q.c.entity_id, q.c.src), order_by=q.c.key)
    return (sa.select(*q.c, _flag(copy > 1).label("extra_copy"),
                      _flag(sa.and_(people.c.lo.is_not(None), people.c.lo != people.c.hi)).label("confirmed"),
                      _flag(q.c.person_id.is_not(None)).label("names_person"))
            .select_from(q.outerjoin(people, people.c.entity_id == q.c.person_id))).subquery("source_record")


def _source_pairs(dialect: str, as_of: str) -> sa.Subquery:
    m = store.entity_members
    # a CTE read twice is computed once (PostgreSQL materializes it; as a subquery it grouped
    # the 1.5M person members twice, 2 of the 9 s this fact took over 100 systems)
    held = sa.select(m.c.entity_id, m.c.source).where(m.c.entity_type == "person").distinct().cte("held")
    b = held.alias("held_b")
    return (sa.select(held.c.source.label("source_a"), b.c.source.label("source_b"),
                      (held.c.source + " & " + b.c.source).label("source_pair"),
                      held.c.entity_id.label("person_id"))
            .select_from(held.join(b, sa.and_(b.c.entity_id == held.c.entity_id, held.c.source < b.c.source)))
            ).subquery("source_pair")


_TIME = {"month": None, "week": None}
FACTS: dict[str, Fact] = {f.name: f for f in (
    Fact("service_request", "service_request",
         {"src": "text", "key": "text", "group_id": "text", "citizen": "text", "district": "text",
          "category": "text", "subcategory": "text", "status": "text", "filed_at": "day", "closed_at": "day",
          "day": "day", "is_followup": "number", "resolution_days": "number", "open_days": "number"},
         {"district": "district", "category": "category", "status": "status", "source": "src", **_TIME},
         _service_requests, day="day", citizen="citizen"),
    Fact("request_group", "service_request",
         {"group_id": "text", "citizen": "text", "district": "text", "category": "text", "status": "text",
          "filed_at": "day", "closed_at": "day", "day": "day", "src": "text", "requests": "number",
          "followups": "number", "is_repeat": "number", "repeats": "number", "closed": "number",
          "resolution_days": "number", "open_days": "number"},
         {"district": "district", "category": "category", "status": "status", "source": "src", **_TIME},
         _request_groups, day="day", citizen="citizen"),
    Fact("inter_agency_request", "inter_agency_request",
         {"src": "text", "key": "text", "from_agency": "text", "to_agency": "text", "subject": "text",
          "status": "text", "opened_on": "day", "due_on": "day", "closed_on": "day", "day": "day",
          "agency_pair": "text", "turnaround_days": "number", "overdue": "number", "open": "number"},
         {"agency": "to_agency", "from_agency": "from_agency", "to_agency": "to_agency",
          "agency_pair": "agency_pair", "status": "status", "source": "src", **_TIME},
         _inter_agency, day="day"),
    Fact("plan_indicator", "indicator",
         {"src": "text", "key": "text", "indicator_code": "text", "title": "text", "agency_code": "text",
          "period": "text", "unit": "text", "target_value": "number", "measured_value": "number"},
         {"indicator": "indicator_code", "title": "title", "agency": "agency_code", "unit": "unit",
          "period": "period"},
         _plan, period_field="period"),
    Fact("source_record", "",
         {"src": "text", "key": "text", "entity_type": "text", "entity_id": "text", "person_id": "text",
          "extra_copy": "number", "confirmed": "number", "names_person": "number"},
         {"source": "src", "entity_type": "entity_type"},
         _source_records, citizen="person_id"),
    Fact("source_pair", "",
         {"source_a": "text", "source_b": "text", "source_pair": "text", "person_id": "text"},
         {"source_pair": "source_pair", "source_a": "source_a", "source_b": "source_b"},
         _source_pairs, citizen="person_id"),
)}
