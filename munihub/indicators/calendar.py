"""The Jalali calendar the indicator SQL groups by: one row per Gregorian day with its Jalali
month (`1403-07`) and week (`1403-W05`, weeks start on Saturday, week 1 holds 1 Farvardin).

A join on a small table gives every engine the same Jalali periods without calendar arithmetic
in SQL; the table is extended to cover the days the data spans, never recomputed.
"""
from __future__ import annotations

import datetime as dt
import functools

import sqlalchemy as sa

from munihub import store


@functools.lru_cache(maxsize=4096)
def jalali_periods(day: dt.date) -> tuple[str, str]:
    """(month, week) labels of a Gregorian day."""
    import jdatetime

    j = jdatetime.date.fromgregorian(date=day)
    first = jdatetime.date(j.year, 1, 1)
    week = (j.yday() - 1 + first.weekday()) // 7 + 1  # jdatetime: Saturday is weekday 0
    return f"{j.year:04d}-{j.month:02d}", f"{j.year:04d}-W{week:02d}"


def month_of(when: dt.datetime | dt.date) -> str:
    """The Jalali month label of a moment (a snapshot's period)."""
    day = when.date() if isinstance(when, dt.datetime) else when
    return jalali_periods(day)[0]


def _day(text) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(text)[:10])
    except (TypeError, ValueError):
        return None


def cover(conn, first, last) -> int:
    """Make the calendar hold every day from `first` to `last` (ISO text); the days added."""
    lo, hi = _day(first), _day(last)
    if lo is None or hi is None:
        return 0
    t = store.indicator_calendar
    have_lo, have_hi = conn.execute(sa.select(sa.func.min(t.c.day), sa.func.max(t.c.day))).one()
    spans = [(lo, hi)]
    if have_lo is not None:  # the table is one contiguous span: add only what lies outside it
        have_lo, have_hi = dt.date.fromisoformat(have_lo), dt.date.fromisoformat(have_hi)
        spans = [(a, b) for a, b in ((min(lo, have_lo), have_lo - dt.timedelta(days=1)),
                                     (have_hi + dt.timedelta(days=1), max(hi, have_hi))) if a <= b]
    rows = []
    for a, b in spans:
        day = a
        while day <= b:
            rows.append((day.isoformat(), *jalali_periods(day)))
            day += dt.timedelta(days=1)
    store.bulk_insert(conn, t, ["day", "month", "week"], rows)
    return len(rows)
