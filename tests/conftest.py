"""Shared fixtures: real engines only (SQLite files, the local PostgreSQL and MariaDB)."""
from __future__ import annotations

import os
import socket
import uuid

import pytest

PG_ADMIN = os.environ.get("MUNIHUB_TEST_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
MARIADB = os.environ.get("MUNIHUB_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/test")

# Tests reach only this machine; REST sources on 127.0.0.1 need the allow-list.
os.environ.setdefault("MUNIHUB_ALLOW_HOSTS", "127.0.0.1,localhost")


def _reachable(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def pg_server():
    if not _reachable(5432):
        pytest.skip("PostgreSQL is not listening on 127.0.0.1:5432 (.ci/run starts it)")
    return PG_ADMIN


@pytest.fixture
def pg_url(pg_server):
    """A throwaway PostgreSQL database, dropped after the test."""
    import sqlalchemy as sa

    name = f"munihub_t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(pg_server).set(database=name).render_as_string(hide_password=False)
    yield url
    from munihub import store
    store.forget_engines()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def mariadb_url():
    if not _reachable(3306):
        pytest.skip("MariaDB is not listening on 127.0.0.1:3306 (.ci/run starts it)")
    return MARIADB


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    """The consolidated store on each engine the hub supports."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("pg_url")
