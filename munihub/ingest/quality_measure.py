"""What dataset checks read of a load's columns, from records in memory or from the staging table.

Checks ask a few questions of a column: how many rows, how many nulls, which distinct values
with how many rows each, how many rows repeat a value, how many rows repeat a key tuple.
`StagedColumns` answers them with SQL aggregates over `staged_rows` (one pass for every null
count, a GROUP BY per column that needs its values, streamed), so a load is never read back
into Python whole: a 200k-row sync's checks held a 200k-row pandas frame (and imported
pandas) before.  `RecordColumns` answers the same questions for records in memory (contract
tests, previews).  Values are compared as their JSON text, as both engines store them, so 1
and "1" are two values; null is a missing field or a JSON null; a nested object reads as its
JSON text with sorted keys.  `tests/test_quality_measure.py` holds the two to one answer on
SQLite and PostgreSQL.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa

from munihub import store
from munihub.ingest.loads import staged_keys_distinct

SAMPLE_ROWS = 10_000  # rows great-expectations documents in Data Docs (the verdicts read every row)
_SAFE_NAME = re.compile(r"[A-Za-z0-9_\u0600-\u06FF-]+")


def _readable(field: str) -> bool:
    """Whether `field` can be read in SQL (`StagedColumns._value_sql` refuses the others)."""
    return all(_SAFE_NAME.fullmatch(p) for p in field.split("."))


def _plain(text: str) -> Any:
    """A value from its JSON text, as checks read it (objects and lists as sorted JSON text)."""
    value = json.loads(text)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


class RecordColumns:
    """The checks' questions answered over records in memory (read once, a projection kept)."""

    def __init__(self, records: Iterable[dict], fields: Iterable[str]):
        self.columns: dict[str, list] = {f: [] for f in fields}
        self.records_seen: list[dict] = []
        self.total = 0
        for record in records:
            self.total += 1
            if len(self.records_seen) < SAMPLE_ROWS:
                self.records_seen.append(record)
            for f, column in self.columns.items():
                column.append(_json_text(record, f))

    def nulls(self, fields: Iterable[str]) -> dict[str, int]:
        return {f: sum(v is None for v in self.columns.get(f, ())) if f in self.columns else self.total
                for f in fields}

    def values(self, field: str) -> Iterator[tuple[Any, int]]:
        for text, n in Counter(v for v in self.columns.get(field, ()) if v is not None).items():
            yield _plain(text), n

    def repeated(self, field: str) -> int:
        return sum(n for n in Counter(v for v in self.columns.get(field, ()) if v is not None).values() if n > 1)

    def overwritten(self) -> tuple[int, str | None, str | None]:
        """Records in memory carry no source key (contract tests, previews): nothing to say."""
        return 0, None, None

    def repeated_keys(self, fields: list[str]) -> int:
        rows = zip(*(self.columns.get(f, [None] * self.total) for f in fields))
        return self.total - len(set(rows))

    def sample(self, limit: int) -> list[dict]:
        return self.records_seen[:limit]


def _json_text(record: dict, path: str) -> str | None:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    if value is None:
        return None
    return _canonical(value) if isinstance(value, (dict, list)) else store.encode_json(value)


def _canonical(value: Any) -> str:
    """An object's identity: its JSON text with sorted keys (PostgreSQL's jsonb compares so)."""
    if isinstance(value, str):
        value = json.loads(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _merged(groups: Iterable[tuple[str, int]]) -> Iterator[tuple[str, int]]:
    """(JSON text, rows) groups with objects merged by their sorted text: SQLite groups an
    object by the text it was written as.  Scalars pass straight through (streamed); the
    few objects wait to the end."""
    objects: Counter = Counter()
    for text, n in groups:
        if text[:1] in "{[":
            objects[_canonical(text)] += int(n)
        else:
            yield text, int(n)
    yield from objects.items()


class StagedColumns:
    """The checks' questions answered in SQL over one load's rows in `staged_rows`."""

    def __init__(self, engine: sa.Engine, load_id: str, key_field: str | None = None, fields: Iterable[str] = (),
                 profile: dict | None = None):
        """`key_field`: the field whose value (as `str`) every staged row's `source_key` is,
        when the contract keys its rows by one field of its own; `fields`: the ones checks
        will count nulls of.  One pass counts the rows, every one of those fields' nulls and
        (PostgreSQL) the key field's object or list values: three passes over a 200k-row
        load before (0.19 + 0.77 + 0.51 s at load 3), one of 0.6 s so.  With the load's
        `profile` (`loads.staged_profile`: the same figures counted while staging) and every
        one of them in it, none: 1.55 s of PostgreSQL at 1M rows."""
        self.engine, self.load_id, self.key_field, self.fields = engine, load_id, key_field, list(fields)
        first = [f for f in dict.fromkeys(self.fields) if _readable(f)]
        objects = engine.dialect.name == "postgresql" and key_field is not None and _readable(key_field)
        if profile and set(first) <= set(profile.get("nulls") or ()) and (not objects or profile.get("key") == key_field):
            self.total = int(profile["rows"])
            self._nulls: dict[str, int] = {f: int(profile["nulls"][f]) for f in first}
            self._key_objects: int | None = int(profile["key_objects"]) if objects else None
            return
        counts = ["count(*)"] + [f"count({self._value_sql(f, as_text=False)})" for f in first]
        if objects:
            counts.append(f"count(*) FILTER (WHERE jsonb_typeof({self._value_sql(key_field, as_text=False)}) "
                          f"IN ('object', 'array'))")
        with engine.connect() as conn:
            found = conn.execute(sa.text(f"SELECT {', '.join(counts)} {self._where()}"), {"load_id": load_id}).first()
        self.total = int(found[0] or 0)
        self._nulls = {f: self.total - int(n or 0) for f, n in zip(first, found[1:])}
        self._key_objects = int(found[-1] or 0) if objects else None

    def _value_sql(self, field: str, as_text: bool = True) -> str:
        """SQL for the JSON text of `field` in `record` (NULL when missing or JSON null);
        without `as_text` on PostgreSQL the jsonb value, enough to count it (no cast per row)."""
        parts = field.split(".")
        if not _readable(field):
            raise ValueError(f"field name {field!r} cannot be read in SQL")
        if self.engine.dialect.name == "postgresql":
            # `->` per level, not `#> '{a,b}'`: the path array is parsed again for every row
            # (a 200k-row load's null counts took 0.77 s with `#>`, 0.58 s so)
            path = "".join(f" -> '{p}'" for p in parts)
            return f"NULLIF(record{path}, 'null'::jsonb)" + ("::text" if as_text else "")
        path = "$" + "".join(f'."{p}"' for p in parts)
        return f"NULLIF(record -> '{path}', 'null')"

    def _where(self) -> str:
        return "FROM staged_rows WHERE load_id = :load_id"

    def nulls(self, fields: Iterable[str]) -> dict[str, int]:
        fields = list(fields)
        wanted = [f for f in dict.fromkeys(fields) if f not in self._nulls]
        if wanted:
            wanted += [f for f in dict.fromkeys(self.fields) if f not in self._nulls and f not in wanted]
            counts = ", ".join(f"count({self._value_sql(f, as_text=False)})" for f in wanted)
            with self.engine.connect() as conn:
                found = conn.execute(sa.text(f"SELECT {counts} {self._where()}"), {"load_id": self.load_id}).first()
            self._nulls.update({f: self.total - int(n or 0) for f, n in zip(wanted, found)})
        return {f: self._nulls[f] for f in fields}

    def values(self, field: str) -> Iterator[tuple[Any, int]]:
        value = self._value_sql(field)
        query = sa.text(f"SELECT {value} AS v, count(*) {self._where()} AND {value} IS NOT NULL GROUP BY {value}")
        with self.engine.connect() as conn:
            rows = conn.execution_options(stream_results=True, yield_per=5000).execute(query, {"load_id": self.load_id})
            for text, n in _merged(rows):
                yield _plain(text), n

    def repeated(self, field: str) -> int:
        """Scalars counted in SQL (only the repeated groups come back); objects merged here."""
        value = self._value_sql(field)
        if field == self.key_field and not self._repeats_possible(value):
            return 0
        scalars = sa.text(f"SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n {self._where()} AND {value} IS NOT "
                          f"NULL AND substr({value}, 1, 1) NOT IN ('{{', '[') GROUP BY {value} HAVING count(*) > 1) r")
        objects = sa.text(f"SELECT {value}, count(*) {self._where()} AND substr({value}, 1, 1) IN ('{{', '[') "
                          f"GROUP BY {value}")
        with self.engine.connect() as conn:
            found = int(conn.execute(scalars, {"load_id": self.load_id}).scalar() or 0)
            merged = _merged(conn.execute(objects, {"load_id": self.load_id}))
            return found + sum(n for _, n in merged if n > 1)

    def _repeats_possible(self, value: str) -> bool:
        """False when no two rows can share the key field's value: their keys all differ (two
        equal scalars have one `str`, so one key) and no value is an object or a list (whose
        `str` follows key order).  Grouping the plain key column instead of each record's JSON
        value took a 200k-row load's check from 2.0-2.7 s to 0.8 s (one more pass: 0.25 s)."""
        keys = sa.text(f"SELECT 1 {self._where()} GROUP BY source_key HAVING count(*) > 1 LIMIT 1")
        with self.engine.connect() as conn:
            if self._key_objects is not None:  # PostgreSQL: the jsonb types counted in the first pass
                if self._key_objects:
                    return True
                return (not staged_keys_distinct(conn, self.load_id)
                        and conn.execute(keys, {"load_id": self.load_id}).first() is not None)
            objects = sa.text(f"SELECT 1 {self._where()} AND substr({value}, 1, 1) IN ('{{', '[') LIMIT 1")
            return (conn.execute(keys, {"load_id": self.load_id}).first() is not None
                    or conn.execute(objects, {"load_id": self.load_id}).first() is not None)

    def overwritten(self) -> tuple[int, str | None, str | None]:
        """Rows whose key a later row of the load holds with other values (publish keeps each
        key's last copy), and the first and last position of one such key.  PostgreSQL proves
        most loads free of repeats by the keys' hashes first (`staged_keys_distinct`)."""
        query = sa.text(f"SELECT count(*) - 1, source_key {self._where()} GROUP BY source_key "
                        "HAVING count(DISTINCT record_hash) > 1 ORDER BY min(seq)")
        where = sa.text(f"SELECT position {self._where()} AND source_key = :key ORDER BY seq")
        with self.engine.connect() as conn:
            if staged_keys_distinct(conn, self.load_id):
                return 0, None, None
            found = conn.execute(query, {"load_id": self.load_id}).all()
            if not found:
                return 0, None, None
            places = [p for (p,) in conn.execute(where, {"load_id": self.load_id, "key": found[0][1]})]
        return sum(int(n) for n, _ in found), places[0], places[-1]

    def repeated_keys(self, fields: list[str]) -> int:
        values = ", ".join(self._value_sql(f) for f in fields)
        query = sa.text(f"SELECT count(*) FROM (SELECT 1 AS one {self._where()} GROUP BY {values}) keys")
        with self.engine.connect() as conn:
            return self.total - int(conn.execute(query, {"load_id": self.load_id}).scalar() or 0)

    def sample(self, limit: int) -> list[dict]:
        s = store.staged_rows
        with self.engine.connect() as conn:
            return [r for (r,) in conn.execute(sa.select(s.c.record).where(s.c.load_id == self.load_id)
                                               .order_by(s.c.seq).limit(limit))]
