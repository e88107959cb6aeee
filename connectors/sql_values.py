"""Database values as JSON-safe Python, a page at a time, for the `sql` connector.

Dates, times and decimals become text, bytes base64, arrays and JSON documents lists and
dicts.  The checks run a column (or a page) at a time at C speed, because they run for
every value of every row and the connector must keep up with a bare DB-API loop.
"""
from __future__ import annotations

import base64
import datetime as dt
import decimal
import re
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


# PostgreSQL's COPY text format, read a page at a time: one decode of the page and one split
# give every value as text, where psycopg2 builds each row's tuple and each value one by one
# (a 200k-row read 0.42 -> 0.26 s of CPU).  Only the types whose values come out here exactly
# as psycopg2 (with `psycopg2_text_types`) hands them: a read with any other column (arrays,
# json, bytea, intervals, enums...) keeps the cursor.  A converter of None keeps the text.
_COPY_BOOL = {"t": True, "f": False}.__getitem__
_COPY_CONVERTERS = {
    **dict.fromkeys((18, 19, 25, 1042, 1043, 2950), None),  # "char", name, text, char(n), varchar, uuid
    **dict.fromkeys(_PG_TEXT_OIDS, None),                   # dates, times, numeric: text, as above
    **dict.fromkeys((20, 21, 23, 26), int),                  # int8, int2, int4, oid
    **dict.fromkeys((700, 701), float),                      # float4, float8 (NaN, Infinity included)
    16: _COPY_BOOL,
}
# What COPY TO writes after a backslash: a control character's letter, or the character itself
# (a backslash); a NULL is the whole field \N.
_COPY_ESCAPE = re.compile(r"\\(.)", re.S)
_COPY_LETTERS = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def copy_converters(type_codes) -> list | None:
    """Each column's converter from COPY text by its type's OID (a cursor description's
    `type_code`), or None when some column's type cannot be read from COPY text exactly."""
    if not type_codes or any(code not in _COPY_CONVERTERS for code in type_codes):
        return None
    return [_COPY_CONVERTERS[code] for code in type_codes]


def _unescape(match: re.Match) -> str:
    return _COPY_LETTERS.get(match.group(1), match.group(1))


def copy_columns(data: bytes, encoding: str, converters: list) -> list[tuple]:
    """The columns of a COPY TO text page (rows ended by newlines, fields split by tabs) in the
    Python codec `encoding`: every field split at once, a column taken by a slice; only a column
    holding a backslash (a NULL, or an escaped tab, newline or backslash) is looked at value by
    value.

    Columns are tuples, as `zip(*rows)` makes them: the garbage collector stops tracking a
    tuple of text and numbers at the first collection that sees it, where a list's values are
    walked again at every collection while the batch lives."""
    width = len(converters)
    # Tabs and newlines are split as bytes (half the size of the decoded text): no byte of a
    # client encoding's multibyte character is one (a backslash can be, in SJIS or BIG5, so
    # backslashes are looked for in the decoded text).  A value's own tabs and newlines are escaped.
    flat = data.replace(b"\n", b"\t").decode(encoding).split("\t")
    flat.pop()  # after the last row's newline: nothing
    columns = [flat[i::width] for i in range(width)]
    del flat
    escaped = b"\\" in data
    for i, (column, convert) in enumerate(zip(columns, converters)):
        nulls = False
        if escaped and "\\" in "\n".join(column):
            column = [None if v == "\\N" else _COPY_ESCAPE.sub(_unescape, v) if "\\" in v else v for v in column]
            nulls = None in column
        if convert is None:
            columns[i] = tuple(column)
        else:
            columns[i] = (tuple(None if v is None else convert(v) for v in column) if nulls
                          else tuple(map(convert, column)))
    return columns
