"""Row helpers every wing writes the store with: content hashes, bulk inserts and deletes,
and WHERE clauses chunked under every engine's bound-parameter limit."""
from __future__ import annotations

import hashlib
import itertools
import json
import operator
from typing import Any, Iterable, Iterator

import sqlalchemy as sa


def record_hash(record: dict[str, Any]) -> str:
    """Content hash of a record: key order and whitespace do not matter."""
    blob = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def encode_json(value: Any) -> str:
    """JSON text for `bulk_insert`: compact UTF-8 (msgspec, ~10x json.dumps); reads back
    through the JSON column type like SQLAlchemy's own encoding."""
    import msgspec

    return msgspec.json.encode(value).decode("utf-8")


def bulk_insert(conn, table: sa.Table, columns: list[str], rows: list[tuple]) -> None:
    """Insert many rows through the driver, several per statement: for millions of rows
    SQLAlchemy's per-row parameter handling costs more than the insert.  Values of JSON
    columns come already encoded (`encode_json`); other values go through the column type."""
    if not rows:
        return
    dialect = conn.dialect
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    procs, marks = [], []
    for name in columns:
        impl = table.c[name].type.dialect_impl(dialect)
        is_json = isinstance(impl, sa.JSON)
        procs.append(None if is_json else impl.bind_processor(dialect))
        marks.append(f"CAST({mark} AS JSONB)" if is_json and dialect.name == "postgresql" else mark)
    if any(procs):
        rows = [tuple(p(v) if p else v for p, v in zip(procs, row)) for row in rows]
    quote = dialect.identifier_preparer.quote
    head = f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) VALUES "
    one = "(" + ", ".join(marks) + ")"
    per = max(1, 30_000 // len(columns))  # bound parameters per statement stay under SQLite's cap
    for part in chunks(rows, per):
        conn.exec_driver_sql(head + ", ".join([one] * len(part)), tuple(v for row in part for v in row))


def _copy_column(values: list) -> list[str]:
    """Each value of one column in COPY's text format: NULL is \\N; backslash, tab and line
    breaks escaped."""
    out = []
    append = out.append
    for v in values:
        if v is None:
            append("\\N")
            continue
        text = v if isinstance(v, str) else str(v)
        if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
            text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
        append(text)
    return out


def bulk_copy(conn, table: sa.Table, columns: list[str], rows: list[tuple]) -> None:
    """`bulk_insert` through PostgreSQL's COPY (one stream, no statement to parse or bind):
    staging's writes in a 200k-row sync went from 13.3 s (executemany of dicts) to 6.9 s
    (hashing included, under cProfile).  Other engines use `bulk_insert`.
    Values are as for `bulk_insert`: JSON already encoded, the rest through the column type."""
    if not rows:
        return
    dialect = conn.dialect
    if dialect.name != "postgresql":
        bulk_insert(conn, table, columns, rows)
        return
    impls = [table.c[c].type.dialect_impl(dialect) for c in columns]
    procs = [None if isinstance(impl, sa.JSON) else impl.bind_processor(dialect) for impl in impls]
    # A column at a time, then the rows joined in C: a function call per value cost 0.39 s
    # of CPU for 50k staged rows, this 0.23 s (the writer thread shares the GIL with
    # the mapping, so every second here is one the sync waits for).
    texts = []
    for j, p in enumerate(procs):
        column = [row[j] for row in rows]
        if p is not None:
            column = [p(v) if v is not None else None for v in column]
        texts.append(_copy_column(column))
    copy_text(conn, table, columns, "\n".join(map("\t".join, zip(*texts))) + "\n")


def plain_copy_text(columns: list, rows: int) -> str | None:
    """`rows` rows given as columns of text (none NULL) in COPY's text format, joined in C;
    None when a value holds one of the characters COPY escapes (backslash, tab, line breaks),
    found by counting: every tab and line break beyond the joins' own is in a value.
    Staging's common batch, whose records are JSON text (no raw tab or line break: the
    encoder escapes them), then skips `bulk_copy`'s rows as tuples and its per-column
    escaping: 0.53-0.65 → 0.34 s of CPU per 200k staged rows."""
    # One join over the values and separators interleaved (value, tab, value, ..., newline):
    # a join per row and then one of the rows cost 0.15 s per 200k rows, this 0.06 s.
    tab = itertools.repeat("\t")
    parts = [part for column in columns for part in (column, tab)]
    parts[-1] = itertools.repeat("\n")
    text = "".join(itertools.chain.from_iterable(zip(*parts)))
    if "\\" in text or "\r" in text or text.count("\t") != (len(columns) - 1) * rows or text.count("\n") != rows:
        return None
    return text


# COPY's binary format: a header (signature, flags, no extension), per row the field count and
# each field as its byte length and bytes, then -1 (`COPY … WITH (FORMAT binary)`).
_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_BINARY_TRAILER = b"\xff\xff"
# A field's length prefix, looked up (keys and positions, ≤ 500 characters, are under 2,000
# bytes; most records too): 8,192 of them hold ~0.4 MB, 65,536 held 3 MB of every process.
_LENGTH = [i.to_bytes(4, "big") for i in range(1 << 13)]
_INT4 = operator.methodcaller("to_bytes", 4, "big")


def staged_copy_binary(load_id: str, first_seq: int, keys: list[bytes], texts: list[bytes], digests: list[bytes],
                       positions: list[bytes]) -> bytes:
    """Staged rows (load_id, seq, source_key, record, record_hash, position) in COPY's binary
    format, every value UTF-8 bytes (none NULL; texts JSON for the jsonb column, digests 64
    hex characters): PostgreSQL reads each field by its length instead of scanning every byte
    for tabs, line ends and escapes, and nothing needs escaping (1M staged rows: its text
    format's parse ~1 s of CPU)."""
    n = len(keys)
    ident = load_id.encode()
    head = b"\x00\x06" + len(ident).to_bytes(4, "big") + ident + b"\x00\x00\x00\x04"  # 6 fields, load_id, seq's length
    length = _LENGTH.__getitem__
    # jsonb's binary form is a version byte (1) and the text; a batch with a record of 8 KiB
    # or more takes the records' lengths from int.to_bytes instead of the table
    jsonb_length = length if max(map(len, texts)) < len(_LENGTH) - 1 else _INT4
    rows = b"".join(itertools.chain.from_iterable(zip(
        itertools.repeat(head, n), map(_INT4, range(first_seq, first_seq + n)),
        map(length, map(len, keys)), keys,
        map(jsonb_length, map((1).__add__, map(len, texts))), itertools.repeat(b"\x01", n), texts,
        itertools.repeat(b"\x00\x00\x00\x40", n), digests,
        map(length, map(len, positions)), positions)))
    return _BINARY_HEADER + rows + _BINARY_TRAILER


def copy_text(conn, table: sa.Table, columns: list[str], text: str | bytes) -> None:
    """Rows already in COPY's text format (`bulk_copy`, `plain_copy_text`), or as bytes in its
    binary format (`staged_copy_binary`), into `table` on PostgreSQL."""
    # Encoded once here: psycopg2 would encode each piece it reads from a text buffer again,
    # and a StringIO of Persian text copies it into four bytes a character (50k staged rows:
    # 34 → 13 ms of CPU).  In the connection's own encoding, as psycopg2 would.
    import io

    driver = conn.connection.driver_connection
    binary = text.__class__ is bytes  # `staged_copy_binary`'s
    if binary:
        data = text
    else:
        from psycopg2.extensions import encodings  # PostgreSQL's encoding names → Python codecs
        data = text.encode(encodings.get(driver.encoding, "utf-8"))
    size = len(data)
    buf = io.BytesIO(data)
    quote = conn.dialect.identifier_preparer.quote
    cursor = driver.cursor()
    try:
        # In one read: psycopg2 reads the buffer 8 kB at a time by default, taking the GIL back
        # for each piece, which under a busy thread (staging writes behind the mapping) waited a
        # switch interval each time.
        cursor.copy_expert(f"COPY {quote(table.name)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
                           + (" WITH (FORMAT binary)" if binary else ""), buf,
                           size=max(8192, size))
    finally:
        cursor.close()


def bulk_delete(conn, table: sa.Table, columns: list[str], rows: list[tuple]) -> None:
    """Delete the rows whose `columns` equal one of `rows`.  On PostgreSQL a chunk is one
    statement joined to a VALUES list: psycopg2's executemany sends one statement per row
    (480,000 blocking keys took 16 s that way).  SQLite's executemany stays in-process."""
    if not rows:
        return
    dialect = conn.dialect
    if dialect.name != "postgresql":
        query = table.delete().where(*(table.c[c] == sa.bindparam(f"p{i}") for i, c in enumerate(columns)))
        for part in chunks(rows, 5000):
            conn.execute(query, [{f"p{i}": v for i, v in enumerate(row)} for row in part])
        return
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    match = " AND ".join(f"t.{quote(c)} = g.{quote(c)}" for c in columns)
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    for part in chunks(rows, 5000):
        conn.exec_driver_sql(f"DELETE FROM {quote(table.name)} AS t USING (VALUES {', '.join([one] * len(part))}) "
                             f"AS g({names}) WHERE {match}", tuple(v for row in part for v in row))


def bulk_rekey(conn, table: sa.Table, source: str, pairs: list[tuple[str, str]], match: dict | None = None,
               **also) -> None:
    """Set `source_key` from old to new for each (old, new) pair of `source`'s rows of `table`
    (those whose columns equal `match`), and the columns of `also` to their values.
    PostgreSQL: one UPDATE per chunk joined to a VALUES list, as `bulk_delete` (executemany
    sent a statement per row: 20,000 rows in three tables took 28 s; SQLAlchemy's `values()`
    spent 17 s compiling); SQLite's executemany stays in-process."""
    if not pairs:
        return
    match = match or {}
    if conn.dialect.name != "postgresql":
        query = table.update().where(table.c.source == source, table.c.source_key == sa.bindparam("old"),
                                     *(table.c[c] == v for c, v in match.items())) \
            .values(source_key=sa.bindparam("new"), **also)
        for part in chunks(pairs, 5000):
            conn.execute(query, [{"old": old, "new": new} for old, new in part])
        return
    quote = conn.dialect.identifier_preparer.quote
    sets = "".join(f", {quote(c)} = %s" for c in also)
    where = "".join(f" AND t.{quote(c)} = %s" for c in match)
    for part in chunks(pairs, 5000):
        conn.exec_driver_sql(
            f"UPDATE {quote(table.name)} AS t SET source_key = g.new{sets} "
            f"FROM (VALUES {', '.join(['(%s, %s)'] * len(part))}) AS g(old, new) "
            f"WHERE t.source = %s AND t.source_key = g.old{where}",
            (*also.values(), *(v for pair in part for v in pair), source, *match.values()))


def chunks(items: list, size: int = 500) -> Iterator[list]:
    """`items` in slices of `size`: 500 values per IN (...) stays well under every engine's
    bound-parameter limit."""
    for i in range(0, len(items), size):
        yield items[i:i + size]


def key_clauses(table: sa.Table, keys: Iterable[tuple[str, str]], size: int = 500) -> Iterator:
    """WHERE clauses picking (source, source_key) pairs, one per source and chunk of keys.
    SQLite plans a row-value IN, `(source, source_key) IN (VALUES ...)`, as a scan of the
    whole table; `source = ? AND source_key IN (...)` uses the primary key."""
    by_source: dict[str, set[str]] = {}
    for source, key in keys:
        by_source.setdefault(source, set()).add(key)
    for source in sorted(by_source):
        for part in chunks(sorted(by_source[source]), size):
            yield sa.and_(table.c.source == source, table.c.source_key.in_(part))
