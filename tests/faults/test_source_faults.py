"""Source faults: a failing subsystem costs bounded time, publishes nothing, and harms no other source.

Each case runs `munihub.pipeline.run_all.run_all` over two contracts: a REST source pointed at a
misbehaving fakeserver route (or a closed port) and a healthy SQLite source.  Retries and
timeouts are shortened in the contract (retries 2, backoff 0.05-0.2 s, total 3 s).
"""
from __future__ import annotations

import socket
import time

import pytest
import sqlalchemy as sa

import crashdriver
import faultkit
from fakeserver import Reply, json_reply, raw, serve, status
from munihub import store
from munihub.pipeline.run_all import run_all

ROWS = [faultkit.person(i) for i in range(1, 31)]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _second_page_fails(req):
    if req.query.get("page", "1") == "1":
        return json_reply({"data": ROWS[:10]})
    return json_reply({"error": "down"}, 503)


CASES = {  # name: (route handler or None for a refused connection, extra params, error words, max seconds)
    "refused": (None, {}, "Connection refused", 10),
    "503 repeated": (status(503), {}, "HTTP 503", 10),
    "429 with Retry-After": (status(429, {"Retry-After": "1"}), {}, "HTTP 429", 10),
    "drip feed": (lambda req: Reply(200, b'{"data": []}' * 50, {"Content-Type": "application/json"}, drip=0.3),
                  {"retries": 1}, "total timeout", 15),
    "truncated JSON": (raw(b'{"data": [{"nid": "0012345679", "fname": "\xd8\xb9'), {}, "truncated JSON", 10),
    "body shorter than Content-Length": (lambda req: Reply(200, b'{"data": [', {"Content-Length": "5000"}),
                                         {}, "body", 15),
    "second page down": (_second_page_fails, {"pagination": {"type": "page", "page_size": 10}}, "HTTP 503", 10),
}


@pytest.fixture
def two_sources(tmp_path, store_url, monkeypatch):
    src = tmp_path / "src.db"
    monkeypatch.setenv("MUNIHUB_TEST_SRC", str(src))
    faultkit.sqlite_contract(tmp_path / "contracts", src)
    return tmp_path, crashdriver.settings_for(store_url, tmp_path / "contracts", tmp_path / "home")


@pytest.mark.parametrize("case", sorted(CASES))
def test_faulty_source_fails_bounded_and_alone(two_sources, case):
    tmp_path, settings = two_sources
    handler, params, words, limit = CASES[case]
    with serve({"/people": handler} if handler else {}) as server:
        url = f"http://127.0.0.1:{_closed_port()}/people" if handler is None else server.url + "/people"
        rest_id = faultkit.rest_contract(settings.contracts_dir, "people", url, **params)
        started = time.monotonic()
        summary = run_all(settings)
        elapsed = time.monotonic() - started
        hits = len(server.hits)
    rows = {r["source"]: r for r in summary["sources"]}
    print(f"{case}: {elapsed:.1f} s, {hits} requests, error: {rows[rest_id].get('error')}")
    assert rows[rest_id]["status"] == "failed" and words in rows[rest_id]["error"], rows[rest_id]
    assert elapsed < limit, f"{case} took {elapsed:.1f} s"
    assert hits <= 1 + params.get("retries", faultkit.FAST["retries"]) + (1 if case == "second page down" else 0)
    assert rows[crashdriver.CONTRACT]["status"] == "published" and rows[crashdriver.CONTRACT]["new"] > 0
    engine = store.engine_for(settings)
    with engine.connect() as conn:
        published = conn.execute(sa.select(sa.func.count()).select_from(store.source_rows)
                                 .where(store.source_rows.c.source == rest_id)).scalar()
        loads = conn.execute(sa.select(store.loads.c.status, store.loads.c.error)
                             .where(store.loads.c.source == rest_id)).all()
        cursor = conn.execute(sa.select(store.cursors).where(store.cursors.c.source == rest_id)).first()
        staged = conn.execute(sa.select(sa.func.count()).select_from(store.staged_rows)).scalar()
        lease = conn.execute(sa.select(store.leases).where(store.leases.c.source == rest_id)).first()
    assert published == 0 and cursor is None and staged == 0, "a failed load left data behind"
    assert [s for s, _ in loads] == ["failed"] and words in loads[0][1]
    assert lease is None, "a failed run kept its lease"


def test_after_the_fault_clears_the_next_run_publishes_everything(two_sources):
    _, settings = two_sources
    healthy = {"up": False}

    def flaky(req):
        return json_reply({"data": ROWS}) if healthy["up"] else json_reply({"error": "down"}, 503)

    with serve({"/people": flaky}) as server:
        rest_id = faultkit.rest_contract(settings.contracts_dir, "people", server.url + "/people")
        first = {r["source"]: r for r in run_all(settings)["sources"]}
        healthy["up"] = True
        second = {r["source"]: r for r in run_all(settings)["sources"]}
    assert first[rest_id]["status"] == "failed"
    assert second[rest_id]["status"] == "published" and second[rest_id]["new"] == len(ROWS)
