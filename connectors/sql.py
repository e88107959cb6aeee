"""The `sql` connector kind: a table or read-only query in any SQLAlchemy database.

Incremental reads use keyset pagination on (watermark, key): each page asks for rows strictly
after the last (watermark, key) pair seen, so rows sharing a timestamp are never skipped nor
read twice, and memory holds one page whatever the table size.  SQLite, with no round trip to
save, reads after the cursor in one ordered SELECT stepped a batch at a time unless a
`fetch_size` asks for pages (see `_streams_keyset`).  Values come back JSON-safe:
dates, times and decimals as text (the database's own ISO form with psycopg2 and PyMySQL,
`isoformat()`/`str()` with other drivers), bytes as base64, arrays and JSON as lists and dicts.
"""
from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from connectors.sql_values import json_type_of, page_columns, psycopg2_text_types, pymysql_text_conversions
from munihub.ingest.connector import Batch, Connector, Rows
from munihub.errors import ConfigError, PermanentSourceError, SourceError, TransientSourceError

# Characters that could end a quoted identifier or start a comment: never in a name.
_BAD_IDENT = re.compile(r"[\"'`;\\\[\]]|--|/\*|\*/")
_WRITE_WORDS = re.compile(
    r"\b(insert|update|delete|merge|upsert|drop|alter|create|truncate|grant|revoke|"
    r"call|exec|execute|copy|into|vacuum|attach|detach|pragma)\b", re.I)
# Message fragments that mean "ask again later" / "asking again will not help".
_PERMANENT_TEXT = ("authentication", "access denied", "does not exist", "unknown database",
                   "no such table", "no such column", "permission denied", "unable to open database")
_TRANSIENT_TEXT = ("connection refused", "could not connect", "can't connect", "timeout", "timed out",
                   "gone away", "lost connection", "server closed", "terminating connection",
                   "database is locked", "connection reset", "too many connections")
_TRANSIENT_MYSQL = {1040, 1205, 1213, 2002, 2003, 2006, 2013, 2055}


def check_identifier(name: Any, what: str, source: str) -> str:
    """`name` if it is a safe table/column name; a ConfigError naming it otherwise."""
    text = str(name or "")
    # a Persian name's half-space (ZWNJ), joiner and direction marks are format characters,
    # not control ones: «نام‌خانوادگی» is a column name like any other
    bad = not text.strip() or len(text) > 128 or _BAD_IDENT.search(text) or any(
        unicodedata.category(ch).startswith("C") and ch not in "\u200c\u200d\u200e\u200f" for ch in text)
    if bad:
        raise ConfigError(f"{what} {text!r} is not an acceptable identifier", where=f"source {source}",
                          hint="names may not be empty, contain quotes, ;, \\, brackets, comment "
                               "markers or non-printing characters")
    return text


def check_read_only_query(query: str, source: str) -> str:
    """The query without a trailing ';' if it is one SELECT (or WITH ... SELECT); ConfigError otherwise."""
    text = re.sub(r"--[^\n]*|/\*.*?\*/", " ", str(query or ""), flags=re.S).strip().rstrip(";").strip()
    why = None
    if not re.match(r"(select|with)\b", text, re.I):
        why = "it does not start with SELECT or WITH"
    elif ";" in text:
        why = "it holds more than one statement"
    elif m := _WRITE_WORDS.search(text):
        why = f"it contains {m.group(1).upper()!r}"
    elif re.search(r"\bfor\s+(update|share)\b|\block\s+in\s+share\b", text, re.I):
        why = "it locks rows"
    if why:
        raise ConfigError(f"query refused: {why}", where=f"source {source}",
                          hint="give one read-only SELECT, or a `table`")
    return text


def _names(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


def _after(cols: list[sa.ColumnElement], values: list[Any], backend: str) -> sa.ColumnElement:
    """Rows strictly after `values` in the order of `cols`, written so an index on `cols` is used.

    PostgreSQL and SQLite compare row values, (a, b) > (:a, :b); MySQL/MariaDB do not range-scan
    those, so they get a >= :a AND ((a > :a) OR (a = :a AND b > :b)).
    """
    binds = [sa.bindparam(f"k{i}", v) for i, v in enumerate(values)]
    if len(cols) == 1:
        return cols[0] > binds[0]
    if backend in ("postgresql", "sqlite"):
        return sa.tuple_(*cols) > sa.tuple_(*binds)
    terms = []
    for i, col in enumerate(cols):
        terms.append(sa.and_(*[cols[j] == binds[j] for j in range(i)], col > binds[i]))
    return sa.and_(cols[0] >= binds[0], sa.or_(*terms))


class SqlConnector(Connector):
    """Reads a table or a SELECT page by page, resuming after the last (watermark, key) read."""

    kind = "sql"
    params_schema = {
        "type": "object",
        "required": ["url"],
        "properties": {
            "url": {"type": "string"}, "table": {"type": "string"}, "schema": {"type": "string"},
            "query": {"type": "string"}, "watermark": {"type": "string"},
            "key": {"type": ["string", "array"], "items": {"type": "string"}},
            "batch_size": {"type": "integer", "minimum": 1}, "fetch_size": {"type": "integer", "minimum": 1},
            "connect_timeout": {"type": "number"},
        },
        "oneOf": [{"required": ["table"]}, {"required": ["query"]}],
    }

    def __init__(self, params, *, source="?", secrets=None, batch_size=1000):
        super().__init__(params, source=source, secrets=secrets, batch_size=batch_size)
        p = self.params
        self.url = self._url()
        self.shown_url = self.url.render_as_string(hide_password=True)
        self.table = p.get("table")
        self.schema = p.get("schema")
        self.query = p.get("query")
        if bool(self.table) == bool(self.query):
            raise ConfigError("sql connector needs exactly one of `table` or `query`", where=self.where)
        if self.table:
            check_identifier(self.table, "table", source)
            if self.schema:
                check_identifier(self.schema, "schema", source)
        else:
            self.query = check_read_only_query(self.query, source)
        self.watermark = p.get("watermark") or None
        self.keys = _names(p.get("key"))
        for name in ([self.watermark] if self.watermark else []) + self.keys:
            check_identifier(name, "column", source)
        if self.watermark and not self.keys:
            raise ConfigError(f"watermark {self.watermark!r} needs a `key` to break ties", where=self.where,
                              hint="name a unique column (e.g. id) so rows sharing a timestamp are not lost")
        self.order = ([self.watermark] if self.watermark else []) + self.keys
        self.connect_timeout = float(p.get("connect_timeout", 10))
        self._engine: sa.Engine | None = None

    @property
    def where(self) -> str:
        return f"source {self.source} ({self.shown_url})"

    def _url(self) -> sa.URL:
        """The URL with the password from secrets; a password written into params is refused."""
        raw = self.secrets.get("url") or self.params.get("url")
        if not raw:
            raise ConfigError("sql connector needs a `url`", where=f"source {self.source}")
        try:
            url = sa.engine.make_url(str(raw))
        except sa_exc.ArgumentError as exc:
            raise ConfigError(f"`url` is not a SQLAlchemy URL: {exc}", where=f"source {self.source}") from exc
        if url.password is not None and not self.secrets.get("url"):
            raise ConfigError("the `url` param carries a password", where=f"source {self.source}",
                              hint="put the password in a secret (`password`), never in the contract")
        if self.secrets.get("password"):
            url = url.set(password=self.secrets["password"])
        return url

    # -- connection and errors -----------------------------------------------------------
    def engine(self) -> sa.Engine:
        if self._engine is None:
            backend, args = self.url.get_backend_name(), {}
            if backend == "sqlite":
                db = self.url.database or ""
                if db and db != ":memory:" and not db.startswith("file:") and not Path(db).is_file():
                    raise PermanentSourceError(f"SQLite file {db!r} does not exist", where=self.where,
                                               hint="check the path in `url`")
            elif backend == "postgresql":
                args = {"connect_timeout": max(1, int(self.connect_timeout))}
            elif backend in ("mysql", "mariadb"):
                args = {"connect_timeout": self.connect_timeout}
            if self.url.get_driver_name() == "pymysql":
                args["conv"] = pymysql_text_conversions()
            self._engine = sa.create_engine(self.url, connect_args=args, pool_pre_ping=False)
            if self.url.get_driver_name() == "psycopg2":
                sa.event.listen(self._engine, "connect", psycopg2_text_types)
        return self._engine

    def _classify(self, exc: Exception, doing: str) -> SourceError:
        """A SourceError for a driver failure: transient if asking again may help."""
        orig = getattr(exc, "orig", None) or exc
        text = self._redact(str(orig).strip().splitlines()[0] if str(orig).strip() else exc.__class__.__name__)
        low = text.lower()
        code = orig.args[0] if getattr(orig, "args", None) and isinstance(orig.args[0], int) else None
        pgcode = getattr(orig, "pgcode", None) or ""
        if isinstance(exc, sa_exc.NoSuchTableError):
            transient = False
        elif code in _TRANSIENT_MYSQL or pgcode.startswith(("08", "53", "57P", "40")):
            transient = True
        elif any(t in low for t in _PERMANENT_TEXT):
            transient = False
        elif any(t in low for t in _TRANSIENT_TEXT) or getattr(exc, "connection_invalidated", False):
            transient = True
        else:
            transient = isinstance(exc, sa_exc.OperationalError) and code is None and not pgcode
        cls = TransientSourceError if transient else PermanentSourceError
        hint = ("the database may be down or busy; the run will be retried" if transient
                else "fix the connector params, the credentials or the source; retrying will not help")
        return cls(f"{doing} failed: {text}", where=self.where, hint=hint)

    def _redact(self, text: str) -> str:
        for secret in self.secrets.values():
            if secret and len(secret) >= 3:
                text = text.replace(secret, "***")
        return text

    def _connect(self) -> sa.Connection:
        try:
            conn = self.engine().connect()
        except sa_exc.SQLAlchemyError as exc:
            raise self._classify(exc, "connecting") from exc
        # Belt and braces behind the query check: the session itself refuses writes.
        try:
            backend = self.url.get_backend_name()
            if backend == "sqlite":
                conn.exec_driver_sql("PRAGMA query_only = ON")
            elif backend == "postgresql":
                conn = conn.execution_options(postgresql_readonly=True)
            elif backend in ("mysql", "mariadb"):
                conn.exec_driver_sql("SET SESSION TRANSACTION READ ONLY")
                conn.rollback()
        except sa_exc.SQLAlchemyError as exc:
            conn.close()
            raise self._classify(exc, "opening a read-only session") from exc
        return conn

    # -- what to select ------------------------------------------------------------------
    def _source_columns(self, conn: sa.Connection) -> list[str]:
        """The column names of the table or query, so missing ones are named before reading."""
        try:
            # One cheap probe (no catalog reflection): SELECT * ... WHERE false gives the names.
            src = (sa.table(self.table, schema=self.schema) if self.table
                   else sa.text(f"({self.query}) AS munihub_q"))
            try:
                names = list(conn.execute(sa.select(sa.text("*")).select_from(src).where(sa.false())).keys())
            except sa_exc.DBAPIError:
                conn.rollback()
                if self.table and not sa.inspect(conn).has_table(self.table, schema=self.schema):
                    raise sa_exc.NoSuchTableError(self.table) from None
                raise
            conn.rollback()
        except sa_exc.NoSuchTableError as exc:
            name = f"{self.schema}.{self.table}" if self.schema else self.table
            raise PermanentSourceError(f"table {name!r} does not exist", where=self.where,
                                       hint="check `table`/`schema` and that the user may read it") from exc
        except sa_exc.SQLAlchemyError as exc:
            raise self._classify(exc, "reading the table's columns" if self.table else "running the query") from exc
        missing = [c for c in self.order if c not in names]
        if missing:
            what = "watermark column" if missing[0] == self.watermark else "key column"
            raise PermanentSourceError(f"{what} {missing[0]!r} is not in {self._label()} "
                                       f"(columns: {', '.join(names[:30])})", where=self.where,
                                       hint="fix `watermark`/`key` in the contract")
        return names

    def _label(self) -> str:
        if self.table:
            return f"table {self.schema + '.' if self.schema else ''}{self.table}"
        return "the query"

    def _from(self, names: list[str]):
        """A selectable with untyped columns: values come back as the driver gives them."""
        cols = [sa.column(n) for n in names]
        if self.table:
            return sa.table(self.table, *cols, schema=self.schema)
        return sa.text(self.query).columns(*cols).subquery("munihub_q")

    # -- reading -------------------------------------------------------------------------
    def read_batches(self, cursor: dict[str, Any] | None) -> Iterator[Batch]:
        conn = self._connect()
        try:
            names = self._source_columns(conn)
            src = self._from(names)
            if not self.order:
                yield from self._stream(conn, sa.select(*[src.c[n] for n in names]), names, None)
            elif self._streams_keyset():
                values = self._start_values(cursor)
                yield from self._stream(conn, self._keyset_select(src, names, values), names, values)
            else:
                yield from self._pages(conn, src, names, cursor)
        finally:
            conn.close()

    def _start_values(self, cursor: dict[str, Any] | None) -> list[Any] | None:
        if not cursor:
            return None
        key = cursor.get("key")
        keys = list(key) if isinstance(key, list) and len(self.keys) > 1 else [key]
        values = ([cursor.get("watermark")] if self.watermark else []) + keys
        if len(values) != len(self.order) or any(v is None for v in values):
            raise PermanentSourceError(f"stored cursor {cursor!r} does not fit watermark/key {self.order}",
                                       where=self.where, hint="reset the source's cursor after changing them")
        return values

    def _cursor_for(self, names: list[str], last: tuple) -> dict[str, Any]:
        """The cursor after the row `last` (a tuple in the order of `names`)."""
        at = {n: i for i, n in enumerate(names)}  # a name given twice: its last column, as in a record
        key = [last[at[k]] for k in self.keys]
        out = {"key": key if len(key) > 1 else key[0]}
        if self.watermark:
            out = {"watermark": last[at[self.watermark]], **out}
        return out

    def _batch(self, names: list[str], rows: list, batch_no: int) -> Batch:
        """One batch of row tuples, handed on a column at a time (`Rows`): no dict per row.
        Its cursor is its last row's (with watermark/key)."""
        columns = page_columns(names, rows)
        cursor = self._cursor_for(names, tuple(columns[n][-1] for n in names)) if self.order else None
        return Batch(Rows(columns, len(rows)), cursor=cursor,
                     where=f"{self._label()} batch {batch_no}")  # position: "... batch 3 #17"

    def _fetch_size(self) -> int:
        """Rows per query: at least a batch, and big enough that round trips do not dominate."""
        return max(self.batch_size, int(self.params.get("fetch_size", 10000)))

    def _streams_keyset(self) -> bool:
        """SQLite without a `fetch_size` reads after the cursor in one ordered, lazily stepped SELECT.

        Paging costs SQLite a quarter of its speed and saves no round trip, but the one SELECT
        holds the file's read lock until the last batch is read: in rollback-journal mode the source's
        writers wait that long, so a `fetch_size` brings the pages back (the lock per page only).
        """
        return self.url.get_driver_name() == "pysqlite" and "fetch_size" not in self.params

    def _keyset_select(self, src, names: list[str], values: list[Any] | None):
        """Rows after `values` (all rows if None) in (watermark, key) order."""
        order_cols = [src.c[n] for n in self.order]
        stmt = sa.select(*[src.c[n] for n in names])
        if self.watermark:  # a NULL watermark has no place in the order; see docs
            stmt = stmt.where(src.c[self.watermark].is_not(None))
        if values is not None:
            stmt = stmt.where(_after(order_cols, values, self.url.get_backend_name()))
        return stmt.order_by(*order_cols)

    def _pages(self, conn, src, names, cursor) -> Iterator[Batch]:
        """Keyset pagination: each query reads rows after the last (watermark, key), in that order.

        Each page is read to its end before its batches go out, so no statement (on SQLite, no
        read lock) stays open while the caller works between batches.
        """
        fetch = self._fetch_size()
        values = self._start_values(cursor)
        # No per-record positions: each record carries its key, and "table t batch 3 #17" says the rest.
        batch_no, pending = 0, []
        while True:
            stmt = self._keyset_select(src, names, values).limit(fetch)
            rows: list[tuple] = []
            try:
                result = conn.execute(stmt)
                # Plain DB-API tuples: the columns are untyped, so SQLAlchemy Rows would add cost, not values.
                rows = result.cursor.fetchall()  # one page: at most `fetch` rows in memory
                result.close()
                conn.rollback()  # never hold a snapshot open between pages
            except (sa_exc.SQLAlchemyError, conn.dialect.loaded_dbapi.Error) as exc:
                raise self._classify(exc, f"reading {self._label()} after {values}") from exc
            pending += rows
            last_page, start = len(rows) < fetch, 0
            while len(pending) - start >= self.batch_size or (last_page and start < len(pending)):
                batch_no += 1
                yield self._batch(names, pending[start:start + self.batch_size], batch_no)
                start += self.batch_size
            del pending[:start]
            if last_page:
                return
            values = list(self._cursor_values(names, rows[-1]))

    def _cursor_values(self, names: list[str], last: tuple) -> list[Any]:
        """The (watermark, key) values of the row `last`, JSON-safe as its batch hands them."""
        safe = page_columns(names, [last])
        return [safe[n][0] for n in self.order]

    def _stream(self, conn, stmt, names, after: list[Any] | None) -> Iterator[Batch]:
        """One server-side streamed SELECT in batches; with watermark/key each batch's cursor is its last row's."""
        batch_no = 0
        try:
            for rows in self._stream_rows(conn, stmt):
                for start in range(0, len(rows), self.batch_size):
                    batch_no += 1
                    yield self._batch(names, rows[start:start + self.batch_size], batch_no)
        except (sa_exc.SQLAlchemyError, conn.dialect.loaded_dbapi.Error) as exc:
            raise self._classify(exc, f"reading {self._label()}" + (f" after {after}" if after else "")) from exc

    def _stream_rows(self, conn: sa.Connection, stmt) -> Iterator[list]:
        """Pages of plain tuples from one SELECT, never the whole result in memory.

        The drivers shipped with the hub get a server-side DB-API cursor directly (SQLAlchemy's
        Rows would only add cost to untyped columns); any other driver goes through stream_results.
        """
        driver, fetch = self.url.get_driver_name(), self._fetch_size()
        if driver == "pysqlite" and "fetch_size" not in self.params:
            fetch = self.batch_size  # no round trips to save: small pages stay in the CPU cache
        if driver not in ("psycopg2", "pymysql", "pysqlite"):
            result = conn.execution_options(stream_results=True, yield_per=fetch).execute(stmt)
            for part in result.partitions(fetch):
                yield [tuple(r) for r in part]
            return
        dbapi = conn.connection.dbapi_connection
        if driver == "psycopg2":
            cur = dbapi.cursor(name=f"munihub_{uuid.uuid4().hex[:12]}")   # a server-side cursor
        elif driver == "pymysql":
            from pymysql.cursors import SSCursor
            cur = dbapi.cursor(SSCursor)                                   # unbuffered
        else:
            cur = dbapi.cursor()                                           # SQLite steps lazily
        compiled = stmt.compile(dialect=conn.dialect)
        # Parameters always go along, even none: the compiled text doubles '%' for format-style
        # drivers, and an empty tuple or mapping undoes that.
        params = (tuple(compiled.params[k] for k in compiled.positiontup) if compiled.positional
                  else compiled.params)
        try:
            cur.execute(compiled.string, params)
            while rows := cur.fetchmany(fetch):
                yield rows
        finally:
            cur.close()
            conn.rollback()

    # -- probes --------------------------------------------------------------------------
    def check(self) -> None:
        """Connect, run SELECT 1, and make sure the table/query and its watermark/key columns exist."""
        conn = self._connect()
        try:
            try:
                conn.execute(sa.select(sa.literal(1))).scalar()
            except sa_exc.SQLAlchemyError as exc:
                raise self._classify(exc, "probing with SELECT 1") from exc
            self._source_columns(conn)
        finally:
            conn.close()

    def discover(self) -> dict[str, Any]:
        """A JSON Schema from the table's reflected columns (a query: from its first page)."""
        if not self.table:
            return super().discover()
        conn = self._connect()
        try:
            self._source_columns(conn)
            cols = sa.inspect(conn).get_columns(self.table, schema=self.schema)
        except sa_exc.SQLAlchemyError as exc:
            raise self._classify(exc, "reflecting the table") from exc
        finally:
            conn.close()
        props = {}
        for col in cols:
            kind = json_type_of(col["type"])
            props[col["name"]] = {"type": [kind, "null"] if col.get("nullable", True) else kind}
        return {"type": "object", "properties": props, "x-key": self.keys, "x-watermark": self.watermark}

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
