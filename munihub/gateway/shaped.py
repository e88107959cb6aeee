"""Pages of records that share one shape, decoded straight into a record type of that shape.

Decoding a page's JSON records into dicts, rebuilding each projected record as a new dict and
encoding it was about a third of a worker's CPU per page.  Once a worker has seen a dataset's
records share one shape (a page decoded the ordinary way, `shape_of_page`), a view's next
pages are decoded by msgspec into a struct type made for that shape and view (`plan`): the
decoder itself refuses a record of another shape (a field missing or added at any level, an
object where a plain value was or the other way round), and the projection is then a few C
loops over the page, field by field (pseudonyms put in place, dropped fields set to UNSET,
which the encoder leaves out).  The same struct is encoded as the answer's record, in the
same field order as the dict.  (Asking PostgreSQL for each field apart and writing records
by a template was tried first: it cost the database 2 ms more per page than it saved here.)

A record the decoder refuses is decoded as a dict and projected record by record
(`munihub.gateway.grants.projector`), so a page is always the page the ordinary path gives.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections import deque
from itertools import repeat
from operator import attrgetter
from typing import Any, Callable

import msgspec

__all__ = ["Shape", "shape_of", "shape_of_page", "Plan", "plan", "project", "Row", "stamp_iso"]

# ((name, inner shape or None for a plain value), ...) in the records' field order
Shape = tuple
_decode = msgspec.json.decode


def shape_of(record: Any) -> Shape | None:
    """The field names of `record`, nested objects by theirs; None for what is not a non-empty
    object at every level (those records keep the ordinary path)."""
    if record.__class__ is not dict or not record:
        return None
    out = []
    for name, value in record.items():
        if value.__class__ is dict:
            inner = shape_of(value)
            if inner is None:
                return None
            out.append((name, inner))
        else:
            out.append((name, None))
    return tuple(out)


def shape_of_page(records: list) -> Shape | None:
    """The shape every record of a page shares, or None."""
    if not records:
        return None
    first = shape_of(records[0])
    if first is None or any(shape_of(r) != first for r in records[1:]):
        return None
    return first


@functools.lru_cache(maxsize=4096)
def stamp_iso(text: str | None) -> str | None:
    """A timestamp as PostgreSQL spells it (ISO, the session's offset) -> as the ordinary path
    spells it (Python's isoformat of the same instant and offset).  Fetched as text, since
    psycopg2 builds a datetime and a time zone per row (a quarter of a page's fetch); cached
    (mapped over a page in C), as the rows of one load share their stamp."""
    if text is None:
        return None
    try:
        return dt.datetime.fromisoformat(text).isoformat()
    except ValueError:  # 'infinity' and such: as PostgreSQL spells them
        return text


class Row(msgspec.Struct, gc=False):
    """One row of a page, encoded as the ordinary path's dict is (the same names, in order)."""

    key: Any
    load_id: Any
    updated_at: Any
    record: Any


@dataclasses.dataclass(frozen=True)
class Plan:
    """How one view reads records of one shape: a decoder into a record type that admits only
    that shape, and what to do to each field afterwards (in `steps`: the parent's getter, the
    field's attribute, and UNSET to leave it out or a pseudonym column function)."""

    decoder: Any
    steps: tuple[tuple[Callable | None, str, Any], ...]


# A plain value, shown in clear or pseudonymized (as the ordinary path does, of its text): an
# object there would be projected by its own fields, so a record holding one takes that path.
_PLAIN = str | int | float | bool | None | list


def plan(shape: Shape, view) -> Plan:
    """The plan of `view` (a `grants.View`) over records of `shape`."""
    from munihub.gateway.pages import pseudonym_column

    steps: list[tuple[Callable | None, str, Any]] = []

    def record_type(fields: Shape, prefix: str, parent: str | None):
        """The struct type of one level; returns (type, anything kept)."""
        specs, rename, kept = [], {}, False
        getter = attrgetter(parent) if parent else None
        for i, (name, inner) in enumerate(fields):
            attr, path = f"f{i}", prefix + name
            rename[attr] = name
            what = view.decide(path)
            if what == "drop":
                specs.append((attr, Any))
                steps.append((getter, attr, msgspec.UNSET))
            elif inner is not None:
                sub, sub_kept = record_type(inner, path + ".", f"{parent}.{attr}" if parent else attr)
                specs.append((attr, sub))
                if sub_kept:
                    kept = True
                else:  # an object with nothing kept is left out, as grants.projector does
                    steps.append((getter, attr, msgspec.UNSET))
            elif what == "clear":
                specs.append((attr, _PLAIN))
                kept = True
            else:
                specs.append((attr, _PLAIN))
                steps.append((getter, attr, pseudonym_column(view.key, view.agency_id, path)))
                kept = True
        return msgspec.defstruct("Record", specs, rename=rename, forbid_unknown_fields=True, gc=False), kept

    top, _ = record_type(shape, "", None)
    return Plan(msgspec.json.Decoder(top), tuple(steps))


def project(plan: Plan, texts: list[str], one_by_one: Callable) -> tuple[list, list[str]]:
    """The records (JSON texts) of a page as the view shows them: those of the plan's shape
    decoded into its record type and changed field by field, the others by `one_by_one`; and
    the texts of those others."""
    decode = plan.decoder.decode
    try:
        records = list(map(decode, texts))
        typed, odd = records, []
    except msgspec.ValidationError:  # some records are of another shape
        records, typed, odd = [], [], []
        for text in texts:
            try:
                typed.append(decode(text))
                records.append(typed[-1])
            except msgspec.ValidationError:
                records.append(one_by_one(_decode(text)))
                odd.append(text)
    for getter, attr, what in plan.steps:
        parents = typed if getter is None else list(map(getter, typed))
        if what is msgspec.UNSET:
            values = repeat(msgspec.UNSET, len(parents))
        else:
            values = what(list(map(attrgetter(attr), parents)))
        deque(map(setattr, parents, repeat(attr), values), maxlen=0)
    return records, odd
