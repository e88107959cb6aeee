"""Attacks through contracts and drop folders: SSRF, SQL injection, path traversal, YAML tags.

Every case must be refused with a classified MunihubError and have no effect.  A socket
guard (autouse) makes sure no test here can ever reach an address off this machine, even
if a defence failed: a connect to anything but 127.0.0.0/8 or ::1 raises at once.
"""
from __future__ import annotations

import ipaddress
import socket
import sqlite3
import zipfile

import pytest

from connectors.files import FileConnector
from connectors.http_guard import check_url
from connectors.rest import RestConnector
from connectors.sql import SqlConnector
from fakeserver import json_reply, redirect, serve
from munihub.errors import ConfigError, ContractError, MunihubError, SecurityError


@pytest.fixture(autouse=True)
def only_loopback(monkeypatch):
    """No allow-list from conftest; and a hard stop on any connect off this machine."""
    monkeypatch.delenv("MUNIHUB_ALLOW_HOSTS", raising=False)
    real = socket.socket.connect
    attempts = []

    def guarded(sock, address):
        host = address[0] if isinstance(address, tuple) else None
        if host is not None and not ipaddress.ip_address(host.split("%")[0]).is_loopback:
            attempts.append(host)
            raise ConnectionRefusedError(f"test guard: connect to {host} blocked")
        return real(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    yield attempts
    assert not attempts, f"a request was attempted to {attempts}"


SSRF_URLS = [
    "http://127.0.0.1:9/x", "http://localhost:9/x", "http://[::1]:9/x", "http://0.0.0.0:9/x",
    "http://169.254.169.254/latest/meta-data/", "http://[::ffff:169.254.169.254]/", "http://[fe80::1]/",
    "http://10.0.0.1/", "http://192.168.1.1/", "http://172.16.0.1/",
    "http://2130706433/", "http://0x7f000001/", "http://0177.0.0.1/", "http://127.1/", "http://2852039166/",
    "http://0xa9fea9fe/", "http://127.0.0.1.:9/", "http://user:pw@127.0.0.1:9/",
    "file:///etc/passwd", "gopher://127.0.0.1:25/_HELO", "ftp://127.0.0.1/", "dict://127.0.0.1:11211/",
    "http:///nohost", "http://127.0.0.1:99999/",
]


@pytest.mark.parametrize("url", SSRF_URLS)
def test_ssrf_url_refused_before_any_connection(url):
    with pytest.raises(SecurityError):
        check_url(url, source="attack")
    conn = RestConnector({"url": url, "retries": 0}, source="attack")
    with pytest.raises(SecurityError):
        list(conn.read_batches(None))


def test_allow_list_lets_exactly_the_named_host_through(monkeypatch):
    with serve({"/x": lambda req: json_reply([{"id": 1}])}) as server:
        monkeypatch.setenv("MUNIHUB_ALLOW_HOSTS", "127.0.0.1")
        rows = [r for b in RestConnector({"url": server.url + "/x"}, source="ok").read_batches(None) for r in b.records]
        assert rows == [{"id": 1}]
        with pytest.raises(SecurityError):  # localhost is another name: not on the list
            check_url(f"http://localhost:{server.port}/x", source="attack")


@pytest.mark.parametrize("target", [
    "http://169.254.169.254/latest/meta-data/iam/", "http://localhost:{port}/secret", "http://[::1]:{port}/secret",
    "file:///etc/passwd", "gopher://127.0.0.1:{port}/_x", "http://2130706433:{port}/secret",
])
def test_redirect_to_an_internal_address_is_refused(target):
    with serve({"/start": lambda req: redirect(target.format(port=req.base_url.rsplit(":", 1)[1]))(req),
                "/secret": lambda req: json_reply([{"leaked": True}])}) as server:
        conn = RestConnector({"url": server.url + "/start", "retries": 0, "allow_hosts": ["127.0.0.1"]},
                             source="attack")
        with pytest.raises(SecurityError):
            list(conn.read_batches(None))
        assert server.hits_on("/secret") == []


def test_ssrf_through_a_contract_fails_the_load_and_publishes_nothing(tmp_path):
    import faultkit
    from munihub.pipeline.run_all import run_all
    import crashdriver
    faultkit.rest_contract(tmp_path / "c", "meta", "http://169.254.169.254/latest/meta-data/")
    settings = crashdriver.settings_for(f"sqlite:///{tmp_path / 's.db'}", tmp_path / "c", tmp_path / "home")
    row = run_all(settings)["sources"][0]
    assert row["status"] == "failed" and "refused" in row["error"]


# ---------------------------------------------------------------- SQL injection

@pytest.fixture
def victim(tmp_path):
    db = tmp_path / "v.db"
    with sqlite3.connect(db) as c:
        c.execute("CREATE TABLE citizens (id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT)")
        c.execute("INSERT INTO citizens VALUES (1, 'a', '2024-01-01')")
    return db


INJECTIONS = [
    {"table": "citizens; DROP TABLE citizens"}, {"table": 'citizens" ; DROP TABLE citizens; --'},
    {"table": "citizens--"}, {"table": "citizens/*"}, {"table": "[citizens]"}, {"table": "citizens`"},
    {"table": "citizens", "schema": "main; DROP TABLE citizens"},
    {"table": "citizens", "watermark": "updated_at) OR 1=1 --", "key": "id"},
    {"table": "citizens", "watermark": "updated_at", "key": "id'; DELETE FROM citizens; --"},
    {"table": "citizens", "watermark": "updated_at", "key": ["id", 'name"']},
    {"query": "DELETE FROM citizens"}, {"query": "SELECT 1; DROP TABLE citizens"},
    {"query": "WITH x AS (DELETE FROM citizens RETURNING *) SELECT * FROM x"},
    {"query": "SELECT * FROM citizens; ATTACH DATABASE '/tmp/x.db' AS x"},
    {"query": "PRAGMA writable_schema=1"},
]


@pytest.mark.parametrize("params", INJECTIONS, ids=lambda p: repr(p)[:60])
def test_sql_injection_through_identifiers_and_queries_is_refused(victim, params):
    with pytest.raises(ConfigError):
        conn = SqlConnector({"url": f"sqlite:///{victim}", **params}, source="attack")
        list(conn.read_batches(None))
    with sqlite3.connect(victim) as c:
        assert c.execute("SELECT count(*) FROM citizens").fetchone() == (1,)


@pytest.mark.parametrize("physical", ['citizens"; DROP TABLE x; --', "citizens; --", "a'b"])
def test_sql_injection_through_contract_names_is_refused(tmp_path, physical):
    from munihub.config import REPO_ROOT
    from munihub.contracts import load_contract
    text = (REPO_ROOT / "tests" / "data" / "core" / "citizens.yaml").read_text(encoding="utf-8")
    path = tmp_path / "c.yaml"
    path.write_text(text.replace("physicalName: citizens", f"physicalName: '{physical.replace(chr(39), chr(39) * 2)}'")
                    .replace("physicalName: lname", f"physicalName: '{physical.replace(chr(39), chr(39) * 2)}'"),
                    encoding="utf-8")
    with pytest.raises(ContractError, match="not allowed in an identifier"):
        load_contract(path, schemas_dir=REPO_ROOT / "schemas")


# Filter values sent to the gateway are bound parameters: tests/test_api.py
# (test_sql_metacharacters_in_filters_match_nothing_extra) sends quote, comment, DROP and UNION
# payloads to a live app on SQLite and PostgreSQL and checks nothing extra comes back and no 500.


# ---------------------------------------------------------------- drop folders

def _drop(tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text("id,name\n1,secret\n", encoding="utf-8")
    return drop, outside


def test_symlinked_file_out_of_the_drop_folder_is_refused(tmp_path):
    drop, outside = _drop(tmp_path)
    (drop / "innocent.csv").symlink_to(outside / "secret.csv")
    with pytest.raises(SecurityError, match="outside the drop folder"):
        list(FileConnector({"path": str(drop)}, source="attack").read_batches(None))


def test_symlinked_directory_out_of_the_drop_folder_is_refused(tmp_path):
    drop, outside = _drop(tmp_path)
    (drop / "sub").symlink_to(outside, target_is_directory=True)
    with pytest.raises(SecurityError):  # named through the link: refused
        list(FileConnector({"path": str(drop), "pattern": "sub/*.csv"}, source="attack").read_batches(None))
    try:  # a recursive pattern either refuses or does not descend into the link
        read = [r for b in FileConnector({"path": str(drop), "pattern": "**/*.csv"}, source="attack")
                .read_batches(None) for r in b.records]
    except SecurityError:
        read = []
    assert read == []


@pytest.mark.parametrize("pattern", ["../outside/*.csv", "../*/*", "/etc/*", "sub/../../outside/*"])
def test_dotdot_and_absolute_patterns_are_refused(tmp_path, pattern):
    drop, _ = _drop(tmp_path)
    with pytest.raises(SecurityError):
        list(FileConnector({"path": str(drop), "pattern": pattern}, source="attack").read_batches(None))


def test_xlsx_with_traversal_member_names_writes_nothing_outside(tmp_path):
    drop, outside = _drop(tmp_path)
    with zipfile.ZipFile(drop / "evil.xlsx", "w") as z:
        z.writestr("../../outside/pwned.txt", "x")
        z.writestr("/tmp/pwned-abs.txt", "x")
        z.writestr("[Content_Types].xml", "<Types/>")
    with pytest.raises(MunihubError):
        list(FileConnector({"path": str(drop)}, source="attack").read_batches(None))
    assert not (outside / "pwned.txt").exists() and not (tmp_path / "pwned.txt").exists()


def test_move_after_publish_cannot_be_steered_out_of_the_folder(tmp_path):
    drop, outside = _drop(tmp_path)
    (drop / "a.csv").write_text("id,name\n1,x\n", encoding="utf-8")
    conn = FileConnector({"path": str(drop), "move": True}, source="attack")
    batches = list(conn.read_batches(None))
    forged = {"done": {"../outside/secret.csv": "0" * 64, **batches[-1].cursor["done"]}}
    try:
        conn.finish(forged)
    except MunihubError:
        pass
    assert (outside / "secret.csv").exists(), "finish() moved a file from outside the drop folder"


# ---------------------------------------------------------------- YAML

UNSAFE_YAML = [
    "!!python/object/apply:os.system ['touch {marker}']",
    "!!python/object/new:subprocess.Popen [['touch', '{marker}']]",
    "!!python/name:os.system",
]

# Aliases: once a RecursionError / >10 GB billion-laughs bug, fixed in read_yaml (refused after composing).


@pytest.mark.parametrize("payload", UNSAFE_YAML)
def test_unsafe_yaml_tags_are_refused_never_run(tmp_path, payload):
    from munihub.contracts import load_contract
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.yaml"
    path.write_text(f"apiVersion: v3.1.0\nkind: DataContract\nid: {payload.format(marker=marker)}\n", encoding="utf-8")
    with pytest.raises(ContractError):
        load_contract(path)
    assert not marker.exists()


def test_self_referencing_alias_is_a_contract_error(tmp_path):
    from munihub.contracts import load_contract
    path = tmp_path / "loop.yaml"
    path.write_text("apiVersion: v3.1.0\nkind: DataContract\nid: &a [*a, *a]\n", encoding="utf-8")
    with pytest.raises(ContractError):
        load_contract(path)


LAUGHS = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from munihub.contracts import load_contract
from munihub.errors import ContractError
try:
    load_contract(sys.argv[1])
except ContractError:
    sys.exit(0)
sys.exit(1)
"""


def test_billion_laughs_yaml_is_a_bounded_contract_error(tmp_path):
    import subprocess
    import sys
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i-1}"] * 10) + "]" for i in range(1, 9)]
    path = tmp_path / "laughs.yaml"
    path.write_text("\n".join(lines) + "\nid: x.y\n", encoding="utf-8")
    # in a child capped at 1 GiB: the bug must not take this machine's memory with it
    try:
        done = subprocess.run([sys.executable, "-c", LAUGHS, str(path)], capture_output=True, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("load_contract still running after 20 s on a 1 KB file")
    assert done.returncode == 0, done.stderr[-500:]
