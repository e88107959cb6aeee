"""Database values as JSON-safe Python, a page at a time, for the `sql` connector.

Dates, times and decimals become text, bytes base64, arrays and JSON documents lists and
dicts.  The checks run a column (or a page) at a time at C speed, because they run for
every value of every row and the connector must keep up with a bare DB-API loop.
"""
from __future__ import annotations

import base64
import datetime as dt
import decimal
import uuid
from functools import lru_cache
from itertools import chain
from operator import itemgetter
from typing import Any

import sqlalchemy as sa

_PLAIN = frozenset({str, int, float, bool, type(None)})


def json_safe(value: Any) -> Any:
    """A database value as JSON-safe Python: Decimal -> str, date/time -> ISO, bytes -> base64."""
    if type(value) in _PLAIN:
        return value
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    return str(value)


# Exact type -> converter; C-level callables so a whole column converts at C speed.
_FAST = {decimal.Decimal: str, dt.datetime: dt.datetime.isoformat, dt.date: dt.date.isoformat,
         dt.time: dt.time.isoformat, uuid.UUID: str}


@lru_cache(maxsize=256)
def _records_maker(names: tuple[str, ...]):
    """A function making a list of row tuples into dicts keyed by `names`.

    Generated, as namedtuple generates its class: a comprehension over a dict display builds
    each dict twice as fast as dict(zip(names, row)), and it runs for every row read.  Only
    k0.., v0.. are written into the code; the names themselves come in as arguments.
    """
    if not names:
        return lambda rows: [{} for _ in rows]
    keys = ", ".join(f"k{i}" for i in range(len(names)))
    values = ", ".join(f"v{i}" for i in range(len(names)))
    pairs = ", ".join(f"k{i}: v{i}" for i in range(len(names)))
    code = f"def make({keys}):\n    return lambda rows: [{{{pairs}}} for {values}, in rows]\n"
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 - the text holds only generated identifiers
    return namespace["make"](*names)


def page_records(names: list[str], rows) -> list[dict[str, Any]]:
    """A page of rows as JSON-safe dicts.

    Types are checked a column at a time at C speed; only a column holding a non-JSON value
    (Decimal, datetime, bytes...) is converted, so a page of plain values costs what building
    its dicts does.
    """
    records = _records_maker(tuple(names))(rows)
    if set(map(type, chain.from_iterable(rows))) <= _PLAIN:
        return records  # the common case, decided in one C-speed pass
    for i, name in enumerate(names):
        extra = set(map(type, map(itemgetter(i), rows))) - _PLAIN
        if not extra:
            continue
        fast = _FAST.get(next(iter(extra))) if len(extra) == 1 else None
        for rec in records:
            value = rec[name]
            if type(value) not in _PLAIN:
                rec[name] = fast(value) if fast else json_safe(value)
    return records


def page_columns(names: list[str], rows) -> dict[str, list | tuple]:
    """A page of rows as JSON-safe columns, by name (`Rows`): what `page_records` gives,
    without a dict per row.  A column is converted only when it holds a non-JSON value."""
    columns = list(zip(*rows)) if rows else [()] * len(names)
    for i, column in enumerate(columns):
        extra = set(map(type, column)) - _PLAIN
        if not extra:
            continue
        fast = _FAST.get(next(iter(extra))) if len(extra) == 1 else None
        columns[i] = [value if type(value) in _PLAIN else fast(value) if fast else json_safe(value)
                      for value in column]
    return dict(zip(names, columns))  # a name given twice: its last column, as a dict of the row keeps


# Dates, times and decimals are asked of the driver as the database's own text: exact, already
# JSON-safe, and parsing them into Python objects only to print them again is most of the cost.
_PG_TEXT_OIDS = (1082, 1083, 1114, 1184, 1266, 1700)   # date, time, timestamp(tz), timetz, numeric


def psycopg2_text_types(dbapi_connection, _record) -> None:
    import psycopg2.extensions as ext

    as_text = ext.new_type(_PG_TEXT_OIDS, "MUNIHUB_TEXT", lambda value, _cur: value)
    ext.register_type(as_text, dbapi_connection)


def pymysql_text_conversions() -> dict:
    from pymysql.constants import FIELD_TYPE
    from pymysql.converters import conversions

    conv = dict(conversions)
    for code in (FIELD_TYPE.DATE, FIELD_TYPE.TIME, FIELD_TYPE.DATETIME, FIELD_TYPE.TIMESTAMP,
                 FIELD_TYPE.DECIMAL, FIELD_TYPE.NEWDECIMAL):
        conv[code] = str
    return conv


def json_type_of(sql_type: sa.types.TypeEngine) -> str:
    """The JSON type a column's values have after `json_safe`."""
    try:
        py = sql_type.python_type
    except NotImplementedError:
        return "string"
    if py is bool:
        return "boolean"
    if py is int:
        return "integer"
    if py is float:
        return "number"
    if py in (dict,):
        return "object"
    if py in (list, tuple):
        return "array"
    return "string"  # Decimal, dates, bytes and text all become strings
