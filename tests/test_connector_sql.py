"""The sql connector on real engines: a SQLite file, the local PostgreSQL and MariaDB."""
from __future__ import annotations

import datetime as dt
import decimal
import json
import sqlite3
import uuid

import pytest
import sqlalchemy as sa

from connectors.sql import SqlConnector, check_read_only_query
from munihub.testing.conformance import ConnectorConformance
from munihub.errors import ConfigError, PermanentSourceError, TransientSourceError
from munihub.ingest.connector import Rows

NAMES = ["زهرا محمدی‌نژاد", "علی رضایی", "فاطمه کریمی", "محمدعلی حسینی‌پور", "مریم یوسفی"]
T0 = dt.datetime(2024, 3, 1, 10, 0, 0)


def rows(n: int, ties: int = 4) -> list[dict]:
    """n rows; every `ties` consecutive ids share one updated_at, so pages split ties."""
    return [{"id": i, "name": f"{NAMES[i % len(NAMES)]} {i}", "updated_at": T0 + dt.timedelta(hours=i // ties),
             "amount": decimal.Decimal(f"{i}.25")} for i in range(1, n + 1)]


def engine_url(request, tmp_path, kind: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'source.db'}"
    return request.getfixturevalue("pg_server" if kind == "postgres" else "mariadb_url")


ENGINES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres),
           pytest.param("mariadb", marks=pytest.mark.mariadb)]


@pytest.fixture(params=ENGINES)
def source_db(request, tmp_path):
    """(url, table, fill) on one engine; the uniquely named table is dropped afterwards."""
    url = engine_url(request, tmp_path, request.param)
    engine = sa.create_engine(url)
    name = f"mh_src_{uuid.uuid4().hex[:10]}"
    table = sa.Table(name, sa.MetaData(),
                     sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                     sa.Column("name", sa.String(200)),
                     sa.Column("updated_at", sa.DateTime),
                     sa.Column("amount", sa.Numeric(12, 2)),
                     sa.Index(f"ix_{name}_wm", "updated_at", "id"),
                     mysql_charset="utf8mb4", mysql_collate="utf8mb4_unicode_ci")
    table.create(engine)

    def fill(records):
        with engine.begin() as conn:
            conn.execute(table.insert(), records)

    yield url, name, fill
    table.drop(engine)
    engine.dispose()


def sql(url, table, **params) -> SqlConnector:
    return SqlConnector({"url": url, "table": table, **params}, source="test.citizens")


def read_all(conn, cursor=None):
    batches = list(conn.read_batches(cursor))
    return [r for b in batches for r in b.records], batches


class TestConformanceWatermark(ConnectorConformance):
    expected_count = 23
    key_field = "id"
    incremental = True

    @pytest.fixture(params=[5, None], ids=["pages", "default"])
    def make_connector(self, source_db, request):
        url, table, fill = source_db
        fill(rows(self.expected_count))
        # fetch_size 5: every read crosses several queries, whatever batch size the suite sets;
        # none: SQLite reads in one streamed SELECT, the servers in pages of 10,000
        fetch = {} if request.param is None else {"fetch_size": request.param}
        return lambda: sql(url, table, watermark="updated_at", key="id", **fetch)


class TestConformanceQuery(ConnectorConformance):
    expected_count = 17
    key_field = "id"

    @pytest.fixture
    def make_connector(self, tmp_path, request):
        url = engine_url(request, tmp_path, "sqlite")
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, deleted INTEGER)")
            conn.execute(sa.text("INSERT INTO people VALUES (:id, :name, :d)"),
                         [{"id": i, "name": NAMES[i % 5], "d": i % 4 == 0} for i in range(1, 23)])
        query = "SELECT id, name FROM people WHERE deleted = 0 -- live rows only\n;"
        return lambda: SqlConnector({"url": url, "query": query, "key": "id"}, source="test.people")


@pytest.mark.parametrize("fetch_size", [3, 4, 1000, None])
def test_ties_across_page_boundaries_are_read_exactly_once(source_db, fetch_size):
    url, table, fill = source_db
    same = [{**r, "updated_at": T0} for r in rows(10)]
    fill(same + rows(14)[10:])
    fetch = {} if fetch_size is None else {"fetch_size": fetch_size}  # none: SQLite's one streamed SELECT
    records, batches = read_all(sql(url, table, watermark="updated_at", key="id", batch_size=3, **fetch))
    assert [r["id"] for r in records] == list(range(1, 15))
    # handed a column at a time (no dict per row), read as the same records
    assert all(isinstance(b.records, Rows) for b in batches)
    assert batches[1].records.columns["id"] == (4, 5, 6) and batches[1].records[-1]["id"] == 6
    assert batches[0].cursor["key"] == 3 and batches[1].cursor["key"] == 6
    assert dt.datetime.fromisoformat(batches[0].cursor["watermark"].replace(" ", "T")) == T0


def test_resume_after_each_batch_then_pick_up_new_and_updated_rows(source_db):
    url, table, fill = source_db
    fill(rows(9, ties=9))
    conn = sql(url, table, watermark="updated_at", key="id", batch_size=2, fetch_size=2)
    _, batches = read_all(conn)
    for i, batch in enumerate(batches):
        rest, _ = read_all(sql(url, table, watermark="updated_at", key="id", batch_size=2, fetch_size=3),
                           batch.cursor)
        assert [r["id"] for r in rest] == list(range(2 * i + 3, 10))
    final = json.loads(json.dumps(batches[-1].cursor))  # as the store keeps it
    fill([{"id": 50, "name": "تازه", "updated_at": T0 + dt.timedelta(days=1), "amount": 1}])
    engine = sa.create_engine(url)
    with engine.begin() as c:  # a row edited later moves past the cursor and is read again
        c.execute(sa.text(f"UPDATE {table} SET updated_at = :t WHERE id = 4"), {"t": T0 + dt.timedelta(days=2)})
    engine.dispose()
    new, _ = read_all(sql(url, table, watermark="updated_at", key="id"), final)
    assert [r["id"] for r in new] == [50, 4]


def test_sqlite_pages_release_the_read_lock_between_batches_and_one_select_holds_it(tmp_path):
    """With a fetch_size a rollback-journal writer commits between batches; without, it waits."""
    url = f"sqlite:///{tmp_path / 'locks.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as c:
        c.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, updated_at TEXT)")
        c.execute(sa.text("INSERT INTO t VALUES (:id, '2024-03-01')"), [{"id": i} for i in range(1, 9)])
    engine.dispose()

    def writer_commits(new_id) -> bool:
        db = sqlite3.connect(tmp_path / "locks.db", timeout=0)
        try:
            db.execute("INSERT INTO t VALUES (?, '2024-03-02')", (new_id,))
            db.commit()
            return True
        except sqlite3.OperationalError as exc:
            assert "locked" in str(exc)
            return False
        finally:
            db.close()

    # Pages: row 101, committed after the first batch, is read at its place; one SELECT: row 100 never lands.
    for fetch, new_id, commits in (({"fetch_size": 2}, 101, True), ({}, 100, False)):
        batches = sql(url, "t", watermark="updated_at", key="id", batch_size=2, **fetch).read_batches(None)
        first = next(batches)
        assert writer_commits(new_id) is commits
        rest = [r["id"] for b in batches for r in b.records]
        assert [r["id"] for r in first.records] + rest == list(range(1, 9)) + [101]


def test_persian_text_and_values_round_trip_json_safe(source_db):
    url, table, fill = source_db
    fill(rows(5))
    records, _ = read_all(sql(url, table, key="id"))
    assert records[1]["name"] == "فاطمه کریمی 2"  # Persian yeh and keheh intact
    assert records[4]["name"] == "زهرا محمدی\u200cنژاد 5"  # the ZWNJ half-space survives
    assert str(records[0]["amount"]) in ("1.25", "1.2500")
    assert records[0]["updated_at"].startswith("2024-03-01")
    json.dumps(records)


def test_missing_watermark_column_names_source_and_column(source_db):
    url, table, _ = source_db
    with pytest.raises(PermanentSourceError) as err:
        list(sql(url, table, watermark="last_modified", key="id").read_batches(None))
    assert "test.citizens" in str(err.value) and "last_modified" in str(err.value)
    with pytest.raises(PermanentSourceError, match="mh_nope"):
        sql(url, "mh_nope").check()


def test_full_read_without_key_streams_with_no_cursor(source_db):
    url, table, fill = source_db
    fill(rows(11))
    records, batches = read_all(sql(url, table, batch_size=4))
    assert sorted(r["id"] for r in records) == list(range(1, 12))
    assert [len(b.records) for b in batches] == [4, 4, 3]
    assert all(b.cursor is None for b in batches)


@pytest.mark.parametrize("url", ["postgresql+psycopg2://postgres@127.0.0.1:1/test",
                                 "mysql+pymysql://root@127.0.0.1:1/test"])
def test_unreachable_port_is_transient_and_hides_the_password(url):
    conn = SqlConnector({"url": url, "table": "t", "key": "id"}, source="test.down",
                        secrets={"password": "hunter2-secret"})
    with pytest.raises(TransientSourceError) as err:
        conn.check()
    assert err.value.retryable
    assert "test.down" in str(err.value) and "127.0.0.1:1" in str(err.value)
    assert "hunter2-secret" not in str(err.value) and "***" in str(err.value)


@pytest.mark.mariadb
def test_refused_password_is_permanent_and_never_shown(mariadb_url):
    user_url = sa.engine.make_url(mariadb_url).set(username="mh_nobody")
    conn = SqlConnector({"url": user_url.render_as_string(), "table": "t"}, source="test.auth",
                        secrets={"password": "wrong-pass-123"})
    with pytest.raises(PermanentSourceError) as err:
        conn.check()
    assert not isinstance(err.value, TransientSourceError)
    assert "wrong-pass-123" not in str(err.value) and "test.auth" in str(err.value)


def test_missing_sqlite_file_is_permanent(tmp_path):
    with pytest.raises(PermanentSourceError, match="does not exist"):
        sql(f"sqlite:///{tmp_path / 'nope.db'}", "t").check()
    assert not (tmp_path / "nope.db").exists()  # the connector never creates the source


def test_password_in_params_is_refused_and_secret_url_accepted(tmp_path):
    with pytest.raises(ConfigError, match="password"):
        sql("postgresql://u:pw@127.0.0.1/db", "t")
    conn = SqlConnector({"table": "t"}, source="s", secrets={"url": "postgresql://u:pw@127.0.0.1/db"})
    assert "pw" not in conn.where and "***" in conn.where


@pytest.mark.parametrize("bad", ['t"; DROP TABLE x; --', "t;x", "a--b", "t\x00", "t\u200b", "", "x`y", "a[b]"])
def test_identifiers_with_metacharacters_are_refused(bad):
    with pytest.raises(ConfigError, match="identifier"):
        sql("sqlite:///x.db", bad or " ")
    with pytest.raises(ConfigError, match="identifier"):
        sql("sqlite:///x.db", "t", key=bad or " ")


@pytest.mark.parametrize("query", ["DELETE FROM t", "SELECT 1; DROP TABLE t", "select * into x from t",
                                   "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
                                   "SELECT * FROM t FOR UPDATE", "PRAGMA table_info(t)", "  "])
def test_only_one_read_only_select_is_accepted(query):
    with pytest.raises(ConfigError, match="refused"):
        check_read_only_query(query, "s")


def test_read_only_select_with_comments_and_functions_is_accepted():
    assert check_read_only_query("/* x */ SELECT replace(name, 'ي', 'ی') AS updated_name FROM t;", "s") \
        == "SELECT replace(name, 'ي', 'ی') AS updated_name FROM t"


def test_sqlite_session_refuses_writes_even_past_the_check(tmp_path):
    url = f"sqlite:///{tmp_path / 'ro.db'}"
    eng = sa.create_engine(url)
    with eng.begin() as c:
        c.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    conn = sql(url, "t")
    with conn._connect() as c, pytest.raises(sa.exc.OperationalError, match="readonly"):
        c.exec_driver_sql("INSERT INTO t VALUES (1)")


@pytest.mark.postgres
def test_postgres_types_become_json_safe(pg_server):
    eng = sa.create_engine(pg_server)
    name = f"mh_types_{uuid.uuid4().hex[:8]}"
    with eng.begin() as c:
        c.exec_driver_sql(f"CREATE TABLE {name} (id int primary key, price numeric(20,4), born date, "
                          f"at timestamptz, blob bytea, tags text[], doc jsonb, u uuid)")
        c.exec_driver_sql(f"INSERT INTO {name} VALUES (1, 12345678901234.5678, '2000-02-29', "
                          f"'2024-03-01 10:00+03:30', '\\x00ff', '{{الف,ب}}', '{{\"شهر\": \"مشهد\"}}', "
                          f"'12345678-1234-5678-1234-567812345678')")
    try:
        records, batches = read_all(sql(pg_server, name, key="id"))
        rec = records[0]
        assert rec["price"] == "12345678901234.5678"  # Decimal kept exact as a string
        assert rec["born"] == "2000-02-29"
        assert dt.datetime.fromisoformat(rec["at"]) == dt.datetime(2024, 3, 1, 6, 30, tzinfo=dt.timezone.utc)
        assert rec["blob"] == "AP8=" and rec["tags"] == ["الف", "ب"] and rec["doc"] == {"شهر": "مشهد"}
        assert rec["u"] == "12345678-1234-5678-1234-567812345678"
        json.dumps(records)
        schema = sql(pg_server, name, key="id").discover()
        assert schema["properties"]["id"]["type"] == "integer"
    finally:
        with eng.begin() as c:
            c.exec_driver_sql(f"DROP TABLE {name}")
        eng.dispose()


@pytest.mark.parametrize("key,fetch_size", [(None, 3), ("id", 3), ("id", None)])
def test_query_with_percent_signs_streams_and_pages_on_every_engine(source_db, key, fetch_size):
    url, table, fill = source_db
    fill(rows(12))
    query = f"SELECT id, name FROM {table} WHERE name LIKE '%علی%' AND id > 0"
    params = {"url": url, "query": query, "batch_size": 2, **({"key": key} if key else {}),
              **({"fetch_size": fetch_size} if fetch_size else {})}
    records, batches = read_all(SqlConnector(params, source="test.q"))
    assert sorted(r["id"] for r in records) == [1, 3, 6, 8, 11]  # علی رضایی and محمدعلی حسینی‌پور
    if key:  # resuming binds the cursor's key next to the query's own '%'
        rest, _ = read_all(SqlConnector(params, source="test.q"), batches[0].cursor)
        assert [r["id"] for r in rest] == [6, 8, 11]
    assert all(len(b.records) <= 2 for b in batches)
    assert (batches[0].cursor is None) == (key is None)


@pytest.mark.parametrize("kind", ENGINES)
def test_persian_names_with_a_half_space_are_identifiers(request, tmp_path, kind):
    """«کد‌ملی», «نام‌خانوادگی»: a half-space (ZWNJ) is a format character, not a control one;
    a zero-width space is still refused (test above)."""
    url = engine_url(request, tmp_path, kind)
    table, nid, last = f"mh_شهروندان\u200cثبت_{uuid.uuid4().hex[:6]}", "کد\u200cملی", "نام\u200cخانوادگی"
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    t = sa.Table(table, meta, sa.Column(nid, sa.String(10), primary_key=True), sa.Column(last, sa.String(40)))
    meta.drop_all(engine)
    meta.create_all(engine)
    try:
        with engine.begin() as conn:
            conn.execute(t.insert(), [{nid: "0012345679", last: "محمدی\u200cنژاد"}, {nid: "0012345680", last: "رضایی"}])
        records, _ = read_all(sql(url, table, key=nid, batch_size=1))
        assert [(r[nid], r[last]) for r in records] == [("0012345679", "محمدی\u200cنژاد"), ("0012345680", "رضایی")]
    finally:
        meta.drop_all(engine)
        engine.dispose()
