"""Pages of records that share one shape: projected by PostgreSQL field by field, written out by a template.

Decoding a page's JSON records, rebuilding each projected record and encoding it again took
about a third of a worker's CPU per page.  Once a worker has seen a dataset's records share
one shape (a page decoded the ordinary way, `shape_of_page`), its next pages ask PostgreSQL
for each kept field on its own: a field shown in clear as its JSON text, a pseudonymized one
as its text for `munihub.gateway.pages.pseudonym_column` to hash.  Each record is then one
`%` of a template over those pieces, and the page one join: no record is decoded, rebuilt or
encoded in Python.

PostgreSQL checks, row by row, that the record still has the learned shape (the same field
names at every level, an object where one was, no object where a plain value was, text or
null where a pseudonym is made); a record that does not comes whole, and is projected record
by record (`munihub.gateway.grants.projector`).  So a page is always the page the ordinary
path gives (the same fields, values and order), only its JSON spelled by PostgreSQL.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from typing import Any, Callable

import msgspec

__all__ = ["Shape", "shape_of", "shape_of_page", "Plan", "plan", "render", "stamp_json"]

# ((name, inner shape or None for a plain value), ...) in the records' field order
Shape = tuple
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.decode
_ROW = '{"key":%s,"load_id":%s,"updated_at":%s,"record":%s}'


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


def _literal(name: str) -> str:
    # Names come from the data: dollar-quoted (no escapes to get wrong), and '%' doubled for the
    # driver's paramstyle.  `plan` refuses names holding '$' or NUL, so the quote cannot end early.
    return "$f$" + name.replace("%", "%%") + "$f$"


@dataclasses.dataclass(frozen=True)
class Plan:
    """How one view reads pages of one shape: the statement's text (with and without a start
    key), the record template, and per field column None (its JSON text as PostgreSQL spells
    it) or its pseudonym column function."""

    statements: tuple[str, str]
    template: str
    columns: tuple[Callable[[Any], list] | None, ...]


def plan(shape: Shape, view) -> Plan | None:
    """The plan of `view` (a `grants.View`) over records of `shape`, or None when a field name
    cannot be put in SQL as it is (a '$' or NUL in it)."""
    from munihub.gateway.pages import pseudonym_column
    from munihub.store import source_rows

    columns: list[str] = []          # SQL of each field column
    doing: list[Callable | None] = []  # and what becomes of it

    def level(expr: str, fields: Shape, prefix: str, checks: list[str]) -> str | None:
        """This level's template (None if nothing of it is kept), its columns and checks added."""
        names = [name for name, _ in fields]
        if any("$" in n or "\0" in n for n in names):
            raise ValueError
        keys = "ARRAY[" + ", ".join(map(_literal, names)) + "]::text[]"
        checks += [f"jsonb_typeof({expr}) = 'object'", f"{expr} ?& {keys}", f"({expr} - {keys}) = '{{}}'::jsonb"]
        parts = []
        for name, inner in fields:
            path = prefix + name
            what = view.decide(path)
            if what == "drop":
                continue
            field = f"{expr} -> {_literal(name)}"
            label = _encode(name).decode("utf-8").replace("%", "%%") + ":"
            if inner is not None:
                sub = level(f"({field})", inner, path + ".", checks)
                if sub is not None:  # an object with nothing kept is left out, as grants.projector does
                    parts.append(label + sub)
            elif what == "clear":
                checks.append(f"jsonb_typeof({field}) <> 'object'")
                columns.append(f"({field})::text")
                doing.append(None)
                parts.append(label + "%s")
            else:  # pseudonym: of a text value (as the ordinary path hashes it), or null
                checks.append(f"jsonb_typeof({field}) IN ('string', 'null')")
                columns.append(f"{expr} ->> {_literal(name)}")
                doing.append(pseudonym_column(view.key, view.agency_id, path, as_json=True))
                parts.append(label + "%s")
        return "{" + ",".join(parts) + "}" if parts else None

    checks: list[str] = []
    try:
        template = level("record", shape, "", checks) or "{}"
    except ValueError:
        return None
    head = (f"SELECT source_key, load_id, updated_at::text, CASE WHEN {' AND '.join(checks)} THEN NULL "
            f"ELSE record::text END{''.join(', ' + c for c in columns)} FROM {source_rows.name} WHERE source = %(source)s")
    tail = " ORDER BY source_key LIMIT %(n)s"
    return Plan((head + tail, head + " AND source_key > %(start)s" + tail), template, tuple(doing))


@functools.lru_cache(maxsize=4096)
def stamp_json(text: str | None) -> str:
    """A timestamp as PostgreSQL spells it (ISO, the session's offset) -> its JSON as the ordinary
    path writes it (Python's isoformat of the same instant and offset).  Fetched as text, as
    psycopg2 would build a datetime and a time zone per row (a quarter of a page's fetch);
    cached, as the rows of one load share their stamp."""
    if text is None:
        return "null"
    try:
        return '"' + dt.datetime.fromisoformat(text).isoformat() + '"'
    except ValueError:  # 'infinity' and such: as PostgreSQL spells them
        return _encode(text).decode("utf-8")


def render(plan: Plan, rows: list[tuple], keys: list, one_by_one: Callable) -> list[str]:
    """Each row of `plan`'s statement as the JSON of the answer's row (`keys`: the rows' keys as
    they are shown; `one_by_one`: the view's record projector, for records not of the plan's
    shape)."""
    if not rows:
        return []
    _, load_ids, stamps, rests, *fields = zip(*rows)
    pieces = [column if make is None else make(column) for column, make in zip(fields, plan.columns)]
    template, loads = plan.template, {}
    records = [template % values for values in zip(*pieces)] if pieces else [template] * len(rows)
    out = []
    for key, load_id, stamp, rest, record in zip(keys, load_ids, stamps, rests, records):
        if rest is not None:  # not of the plan's shape: projected as the ordinary path does
            record = _encode(one_by_one(_decode(rest))).decode("utf-8")
        load = loads.get(load_id)
        if load is None:
            load = loads[load_id] = _encode(load_id).decode("utf-8")
        out.append(_ROW % (_encode(key).decode("utf-8"), load, stamp_json(stamp), record))
    return out
