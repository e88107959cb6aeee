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


def page_columns(names: list[str], rows) -> dict[str, list | tuple]:
    """A page of rows as JSON-safe columns, by name (`Rows`), without a dict per row.  Types
    are checked a column at a time at C speed; only a column holding a non-JSON value
    (Decimal, datetime, bytes...) is converted."""
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
