"""The gateway over HTTP: deny by default, per-field grants, pseudonyms, paging, push, audit."""
from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from munihub.store import audit
from munihub.gateway import grants
from munihub import store
from munihub.config import REPO_ROOT, Settings

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from munihub.gateway.api import GatewayConfig, create_app  # noqa: E402

KEY = b"test-pseudonym-key"
NOW = dt.datetime(2024, 11, 4, tzinfo=dt.timezone.utc)


def citizen(i: int) -> dict:
    return {"national_id": f"{i:010d}", "first_name": f"علی{i}", "last_name": "رضایی", "gender": "male",
            "birth_date": "1990-01-02", "mobile": f"+98915{i:07d}", "postal_code": f"91{i:08d}",
            "address": {"district": str(i % 13), "detail": f"خیابان امام رضا {i}"}}


def push_contract(folder: Path, inbox: Path) -> None:
    """A push dataset: citizens.yaml with the server swapped for a push inbox."""
    text = (REPO_ROOT / "contracts/registry/citizens.yaml").read_text(encoding="utf-8")
    text = text.replace("id: registry.citizens", "id: health.visits")
    text = re.sub(r"servers:\n(.*?)\nschema:", "servers:\n  - server: inbox\n    type: custom\n"
                  "    customProperties:\n      - {property: connector, value: push}\n"
                  f"      - {{property: inbox, value: \"{inbox}\"}}\nschema:", text, flags=re.S)
    (folder / "health").mkdir(parents=True, exist_ok=True)
    (folder / "health/visits.yaml").write_text(text, encoding="utf-8")


def make_gateway(tmp_path: Path, url: str, n: int = 30) -> tuple[Settings, dict[str, str]]:
    """A store with `n` citizens, 3 payments, 2 golden persons, one load, and five agencies."""
    contracts = tmp_path / "contracts"
    shutil.copytree(REPO_ROOT / "contracts", contracts)
    push_contract(contracts, tmp_path / "inbox")
    settings = Settings(home=tmp_path, store_url=url, contracts_dir=contracts, schemas_dir=REPO_ROOT / "schemas")
    engine = store.open_store(url)
    with engine.begin() as conn:
        conn.execute(store.source_rows.insert(), [
            {"source": "registry.citizens", "source_key": f"{i:010d}", "entity_type": "person",
             "record": citizen(i), "record_hash": "h", "first_load_id": "L1", "load_id": "L1", "updated_at": NOW}
            for i in range(n)] + [
            {"source": "finance.payments", "source_key": f"PAY{i}", "entity_type": "payment",
             "record": {"payment_id": f"PAY{i}", "amount_rial": 1000 * i, "national_id": f"{i:010d}"},
             "record_hash": "h", "first_load_id": "L2", "load_id": "L2", "updated_at": NOW} for i in range(3)])
        conn.execute(store.loads.insert(), [
            {"load_id": "L1", "source": "registry.citizens", "status": "published", "started_at": NOW,
             "finished_at": NOW, "rows_in": n, "checks": [{"name": "rowCount", "status": "passed"}]}])
        conn.execute(store.entities.insert(), [
            {"entity_id": f"P-{i:012d}", "entity_type": "person", "golden": citizen(i), "member_count": 1,
             "updated_at": NOW, "lineage": {"national_id": {"ref": f"registry.citizens|{i:010d}", "load_id": "L1",
                                                            "value": f"{i:010d}", "rule": "source_rank"},
                                            "first_name": {"ref": f"registry.citizens|{i:010d}", "load_id": "L1",
                                                           "value": f"علی{i}", "rule": "source_rank"}}}
            for i in range(2)])
        conn.execute(store.entity_members.insert(), [
            {"source": "registry.citizens", "source_key": f"{i:010d}", "entity_id": f"P-{i:012d}",
             "entity_type": "person", "rule": "exact_id", "load_id": "L1", "assigned_at": NOW} for i in range(2)])
    tokens = {name: grants.add_agency(engine, name, name.upper(), rate_per_minute=100000)
              for name in ("all", "narrow", "golden", "none", "pusher")}
    grants.grant(engine, "all", "registry.citizens", ["*"])
    grants.grant(engine, "all", "finance.payments", ["*"])
    grants.grant(engine, "narrow", "registry.citizens", ["first_name", "national_id", "address.district"])
    grants.grant(engine, "golden", "entity:person", ["*"])
    grants.grant(engine, "pusher", "health.visits", ["*"], can_push=True)
    return settings, tokens


def client_for(settings: Settings, **cfg) -> TestClient:
    return TestClient(create_app(settings, GatewayConfig(pseudonym_key=KEY, **cfg)))


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def gw(tmp_path):
    settings, tokens = make_gateway(tmp_path, f"sqlite:///{tmp_path / 'store.db'}")
    return client_for(settings), tokens, settings


# ---------------------------------------------------------------- who sees what

DATASETS = {"registry.citizens": "/v1/datasets/registry.citizens/rows",
            "finance.payments": "/v1/datasets/finance.payments/rows",
            "entity:person": "/v1/entities/person"}
GRANTED = {("all", "registry.citizens"), ("all", "finance.payments"), ("narrow", "registry.citizens"),
           ("golden", "entity:person")}


def test_only_granted_agency_dataset_pairs_return_data(gw):
    client, tokens, _ = gw
    for agency in ("all", "narrow", "golden", "none", "pusher"):
        for dataset, path in DATASETS.items():
            r = client.get(path, headers=auth(tokens[agency]))
            expected = 200 if (agency, dataset) in GRANTED else 403
            assert r.status_code == expected, (agency, dataset, r.text)
            if expected == 200:
                body = r.json()
                assert (body.get("rows") or body.get("entities")), (agency, dataset)
            else:
                assert "rows" not in r.json() and "no grant" in r.json()["detail"]
    listed = client.get("/v1/datasets", headers=auth(tokens["narrow"])).json()["datasets"]
    assert [d["dataset"] for d in listed] == ["registry.citizens"]


def test_a_record_id_read_from_a_personal_field_is_pseudonymized(gw):
    client, tokens, settings = gw
    path = settings.contracts_dir / "registry" / "citizens.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("{property: recordId, value: id}", "{property: recordId, value: code_melli}"),
                    encoding="utf-8")  # a registry keyed by the national id it also publishes
    row = client.get("/v1/datasets/registry.citizens/rows?limit=1", headers=auth(tokens["all"])).json()["rows"][0]
    assert row["key"].startswith("ps_")


def test_fields_are_limited_to_the_grant_and_personal_ones_pseudonymized(gw):
    client, tokens, _ = gw
    wide = client.get("/v1/datasets/registry.citizens/rows?limit=1", headers=auth(tokens["all"])).json()["rows"][0]
    rec = wide["record"]
    assert rec["first_name"] == "علی0" and rec["address"]["district"] == "0"   # internal: in clear
    for personal in ("national_id", "mobile", "birth_date", "postal_code"):
        assert rec[personal].startswith("ps_") and rec[personal] != citizen(0)[personal]
    assert rec["address"]["detail"].startswith("ps_")
    # the key is the registry's own row id (its contract's recordId), not a personal value: in clear
    assert wide["key"] == "0000000000"
    narrow = client.get("/v1/datasets/registry.citizens/rows?limit=1", headers=auth(tokens["narrow"])).json()["rows"][0]
    assert narrow["record"] == {"first_name": "علی0", "national_id": "0000000000", "address": {"district": "0"}}
    assert narrow["key"] == "0000000000"
    # one agency's pseudonym is stable across requests and differs from another agency's
    again = client.get("/v1/datasets/registry.citizens/rows?limit=1", headers=auth(tokens["all"])).json()["rows"][0]
    assert again["record"]["national_id"] == rec["national_id"]
    other = grants.pseudonym("0000000000", agency_id="narrow", field="national_id", key=KEY)
    assert other != rec["national_id"]


def test_pseudonyms_change_when_the_key_rotates(gw, tmp_path):
    _, tokens, settings = gw
    a = client_for(settings).get("/v1/entities/person?limit=1", headers=auth(tokens["golden"])).json()
    b = TestClient(create_app(settings, GatewayConfig(pseudonym_key=b"rotated"))).get(
        "/v1/entities/person?limit=1", headers=auth(tokens["golden"])).json()
    ga, gb = a["entities"][0]["golden"], b["entities"][0]["golden"]
    assert ga["first_name"] == gb["first_name"] == "علی0"
    assert ga["national_id"] != gb["national_id"] and ga["national_id"].startswith("ps_")


def test_asking_for_an_ungranted_field_is_refused(gw):
    client, tokens, _ = gw
    r = client.get("/v1/datasets/registry.citizens/rows?fields=first_name,mobile", headers=auth(tokens["narrow"]))
    assert r.status_code == 403 and "mobile" in r.json()["detail"]
    r = client.get("/v1/datasets/registry.citizens/rows?fields=first_name", headers=auth(tokens["narrow"]))
    assert r.status_code == 200 and all(set(x["record"]) == {"first_name"} for x in r.json()["rows"])


# ---------------------------------------------------------------- refusals

def test_auth_failures_are_401_and_revoked_tokens_stop_working(gw):
    client, tokens, settings = gw
    path = "/v1/datasets/registry.citizens/rows"
    assert client.get(path).status_code == 401
    assert client.get(path, headers=auth("not-a-token")).status_code == 401
    assert client.get(path, headers={"Authorization": "Basic abc"}).status_code == 401
    assert client.get(path, headers=auth(tokens["all"])).status_code == 200
    assert grants.revoke(store.open_store(settings.store_url), "all") == 1
    r = client.get(path, headers=auth(tokens["all"]))
    assert r.status_code == 401 and "rows" not in r.json()


def test_revoked_grant_is_403(gw):
    client, tokens, settings = gw
    grants.revoke(store.open_store(settings.store_url), "narrow", "registry.citizens")
    assert client.get("/v1/datasets/registry.citizens/rows", headers=auth(tokens["narrow"])).status_code == 403


def test_unknown_entity_is_404_and_page_cap_is_422(gw):
    client, tokens, _ = gw
    h = auth(tokens["golden"])
    assert client.get("/v1/entities/person/P-000000000001", headers=h).status_code == 200
    assert client.get("/v1/entities/person/P-nope", headers=h).status_code == 404
    assert client.get("/v1/entities/permit/P-000000000001", headers=h).status_code == 403
    r = client.get("/v1/entities/person?limit=501", headers=h)
    assert r.status_code == 422 and "page cap of 500" in r.json()["detail"]
    assert client.get("/v1/entities/person?limit=0", headers=h).status_code == 422
    assert client.get("/v1/entities/person?cursor=garbage", headers=h).status_code == 422


def test_the_rows_route_served_without_fastapi_answers_as_fastapi_does(gw, tmp_path):
    """The rows read runs on a plain ASGI handler (no dependency solving); its refusals match
    those of a route FastAPI serves, and it stays in the OpenAPI document with its parameters."""
    client, tokens, _ = gw
    rows, entities = "/v1/datasets/registry.citizens/rows", "/v1/entities/person"
    for query in ("limit=abc", "limit=0", "limit=-3", "limit=1.5"):
        direct = client.get(f"{rows}?{query}", headers=auth(tokens["all"]))
        through_fastapi = client.get(f"{entities}?{query}", headers=auth(tokens["golden"]))
        assert direct.status_code == through_fastapi.status_code == 422, query
        assert [(e["type"], e["loc"]) for e in direct.json()["detail"]] == \
            [(e["type"], e["loc"]) for e in through_fastapi.json()["detail"]], query
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}, auth("wrong")):
        direct, through_fastapi = client.get(rows, headers=headers), client.get(entities, headers=headers)
        assert direct.status_code == through_fastapi.status_code == 401
        assert direct.json() == through_fastapi.json() and direct.headers["www-authenticate"] == "Bearer"
    assert client.get(rows + "?limit=2", headers={"Authorization": f"bearer {tokens['all']}"}).status_code == 200
    # Matched ahead of Starlette's stack and router: still a 403 without a grant, 405 for a POST,
    # 404 for a path the route does not match, and every one audited under its route.
    assert client.app.middleware_stack.__name__ == "rows_first"
    no_grant = client.get("/v1/datasets/finance.payments/rows", headers=auth(tokens["narrow"]))
    assert no_grant.status_code == 403 and "no grant" in no_grant.json()["detail"]
    assert client.post(rows, headers=auth(tokens["all"])).status_code == 405
    assert client.get(rows + "/more", headers=auth(tokens["all"])).status_code == 404
    from munihub.gateway import datasets
    from fastapi.routing import APIRoute
    route = next(r for r in client.app.routes if isinstance(r, APIRoute) and r.path == datasets.ROWS)
    assert route.app.__module__ == "munihub.gateway.datasets"  # not FastAPI's request handler
    operation = client.get("/openapi.json").json()["paths"][datasets.ROWS]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"dataset_id", "cursor", "limit", "fields"}


def test_per_agency_page_cap_and_rate_limit(tmp_path):
    settings, tokens = make_gateway(tmp_path, f"sqlite:///{tmp_path / 'store.db'}", n=5)
    engine = store.open_store(settings.store_url)
    grants.add_agency(engine, "tiny", "Tiny", page_cap=2, rate_per_minute=12)
    tok = grants.issue_token(engine, "tiny")
    grants.grant(engine, "tiny", "registry.citizens", ["first_name"])
    client = client_for(settings)
    path = "/v1/datasets/registry.citizens/rows"
    assert client.get(path + "?limit=3", headers=auth(tok)).status_code == 422
    assert client.get(path + "?limit=2", headers=auth(tok)).status_code == 200  # a burst of 2 at 12/min, both spent
    r = client.get(path + "?limit=2", headers=auth(tok))
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


@pytest.mark.parametrize("value", ["' OR '1'='1", "0000000001' --", "x\"; DROP TABLE source_rows; --",
                                   "%", "_", "*", "1 OR 1=1", "\\", "0000000001\x00"])
def test_sql_metacharacters_in_filters_match_nothing_extra(gw, value):
    client, tokens, settings = gw
    r = client.get("/v1/datasets/registry.citizens/rows", params={"filter[national_id]": value},
                   headers=auth(tokens["narrow"]))
    assert r.status_code == 200 and r.json()["rows"] == []
    r = client.get("/v1/datasets/registry.citizens/rows", params={f"filter[{value}]": "1"},
                   headers=auth(tokens["narrow"]))
    assert r.status_code in (403, 422)
    with store.open_store(settings.store_url).connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(store.source_rows)).scalar() == 33


def test_filters_match_exactly_and_need_an_explicit_grant_for_personal_fields(gw):
    client, tokens, _ = gw
    r = client.get("/v1/datasets/registry.citizens/rows",
                   params={"filter[national_id]": "0000000007", "filter[address.district]": "7"},
                   headers=auth(tokens["narrow"]))
    assert [x["key"] for x in r.json()["rows"]] == ["0000000007"]
    # under "*" national_id is pseudonymized: filtering on it would be an oracle
    r = client.get("/v1/datasets/registry.citizens/rows", params={"filter[national_id]": "0000000007"},
                   headers=auth(tokens["all"]))
    assert r.status_code == 403


def test_pagination_covers_every_row_exactly_once(gw):
    client, tokens, _ = gw
    seen, cursor, pages = [], None, 0
    while True:
        r = client.get("/v1/datasets/registry.citizens/rows", params={"limit": 7, **({"cursor": cursor} if cursor else {})},
                       headers=auth(tokens["narrow"]))
        assert r.status_code == 200
        body = r.json()
        seen += [x["key"] for x in body["rows"]]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
        assert "000000" not in cursor  # opaque: the key is not readable in it
    assert seen == [f"{i:010d}" for i in range(30)] and pages == 5
    # a cursor from one agency's listing does not work for another listing
    first = client.get("/v1/datasets/registry.citizens/rows?limit=7", headers=auth(tokens["narrow"])).json()
    r = client.get(f"/v1/datasets/registry.citizens/rows?cursor={first['next_cursor']}", headers=auth(tokens["all"]))
    assert r.status_code == 422


def test_lineage_and_quality(gw):
    client, tokens, _ = gw
    lin = client.get("/v1/entities/person/P-000000000001/lineage", headers=auth(tokens["golden"])).json()
    assert lin["loads"][0]["load_id"] == "L1" and lin["members"][0]["source"] == "registry.citizens"
    assert lin["fields"]["first_name"]["value"] == "علی1"
    assert lin["fields"]["national_id"]["value"].startswith("ps_")
    assert "0000000001" not in json.dumps([lin["fields"], lin["members"]])  # no grant on the source: refs pseudonymized too
    q = client.get("/v1/datasets/registry.citizens/quality", headers=auth(tokens["narrow"])).json()
    assert q["status"] == "published" and q["checks"][0]["name"] == "rowCount"
    assert client.get("/v1/datasets/finance.payments/quality", headers=auth(tokens["all"])).status_code == 404


# ---------------------------------------------------------------- push

def test_push_is_idempotent_and_conflicting_bodies_are_409(gw, tmp_path):
    client, tokens, _ = gw
    path, h = "/v1/datasets/health.visits/deliveries", auth(tokens["pusher"])
    body = json.dumps([{"code_melli": "0000000001"}]).encode()
    r1 = client.post(path, content=body, headers={**h, "Idempotency-Key": "b1"})
    assert r1.status_code == 202, r1.text
    r2 = client.post(path, content=body, headers={**h, "Idempotency-Key": "b1"})
    assert r2.status_code == 200 and r2.json() == r1.json()
    r3 = client.post(path, content=b"[]", headers={**h, "Idempotency-Key": "b1"})
    assert r3.status_code == 409
    assert [p.name for p in (tmp_path / "inbox").iterdir()] == ["pusher.b1.json"]
    assert (tmp_path / "inbox/pusher.b1.json").read_bytes() == body


def test_push_refusals_store_nothing(gw, tmp_path):
    client, tokens, _ = gw
    path, h = "/v1/datasets/health.visits/deliveries", auth(tokens["pusher"])
    assert client.post(path, content=b"[{]", headers={**h, "Idempotency-Key": "bad"}).status_code == 422
    assert client.post(path, content=b"[1,2]", headers={**h, "Idempotency-Key": "bad2"}).status_code == 422
    assert client.post(path, content=b"[]", headers=h).status_code == 422  # no key
    assert client.post(path, content=b"[]", headers={**h, "Idempotency-Key": "../x"}).status_code == 422
    assert client.post(path, content=b"[]", headers={**auth(tokens["all"]), "Idempotency-Key": "k"}).status_code == 403
    assert client.post("/v1/datasets/registry.citizens/deliveries", content=b"[]",
                       headers={**auth(tokens["all"]), "Idempotency-Key": "k"}).status_code == 403
    small = client_for(gw[2], max_push_bytes=100)
    big = json.dumps([{"x": "y" * 200}]).encode()
    assert small.post(path, content=big, headers={**h, "Idempotency-Key": "big"}).status_code == 413
    assert not (tmp_path / "inbox").exists() or not any((tmp_path / "inbox").iterdir())
    with store.open_store(gw[2].store_url).connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(store.push_deliveries)).scalar() == 0


# ---------------------------------------------------------------- audit

def test_every_request_is_audited_and_the_chain_verifies(gw):
    client, tokens, settings = gw
    client.get("/v1/datasets/registry.citizens/rows?limit=4", headers=auth(tokens["narrow"]))
    client.get("/v1/datasets/finance.payments/rows", headers=auth(tokens["narrow"]))
    client.get("/v1/datasets", headers=auth("wrong"))
    engine = store.open_store(settings.store_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(store.audit_log).where(store.audit_log.c.action == "api.get")
                            .order_by(store.audit_log.c.seq)).mappings().all()
    assert [(r["actor"], r["target"], r["outcome"]) for r in rows] == [
        ("narrow", "/v1/datasets/{dataset_id}/rows", "200"),
        ("narrow", "/v1/datasets/{dataset_id}/rows", "403"),
        ("anonymous", "/v1/datasets", "401")]
    assert rows[0]["detail"]["rows"] == 4 and rows[0]["detail"]["dataset"] == "registry.citizens"
    assert audit.verify(engine) == []


def test_audit_write_failure_refuses_the_request(gw):
    client, tokens, settings = gw
    engine = store.open_store(settings.store_url)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE audit_log RENAME TO audit_log_moved"))
    r = client.get("/v1/datasets/registry.citizens/rows", headers=auth(tokens["narrow"]))
    assert r.status_code == 503 and "rows" not in r.json() and "0000000000" not in r.text
    assert client.get("/v1/datasets", headers=auth("x")).status_code == 503


@pytest.mark.postgres
def test_grants_paging_and_audit_on_postgresql(tmp_path, pg_url):
    settings, tokens = make_gateway(tmp_path, pg_url)
    client = client_for(settings)
    seen, cursor = [], None
    while True:
        body = client.get("/v1/datasets/registry.citizens/rows", params={"limit": 8, **({"cursor": cursor} if cursor else {})},
                          headers=auth(tokens["narrow"])).json()
        seen += [x["key"] for x in body["rows"]]
        if not (cursor := body["next_cursor"]):
            break
    assert seen == [f"{i:010d}" for i in range(30)]
    assert client.get("/v1/datasets/finance.payments/rows", headers=auth(tokens["narrow"])).status_code == 403
    r = client.get("/v1/datasets/registry.citizens/rows", params={"filter[address.district]": "' OR 1=1 --"},
                   headers=auth(tokens["narrow"]))
    assert r.status_code == 200 and r.json()["rows"] == []
    engine = store.open_store(pg_url)
    assert audit.verify(engine) == []
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET outcome = '200' WHERE outcome = '403'"))
    assert any("edited" in p for p in audit.verify(engine))
    engine.dispose()


@pytest.mark.postgres
def test_a_page_read_on_postgresql_is_the_page_read_through_sqlalchemy(tmp_path, pg_url):
    """PostgreSQL pages come as JSON text decoded by the gateway and are projected column by
    column; they must be the pages SQLite gives (records decoded by SQLAlchemy), pseudonyms and
    all, the second read (from the per-worker pseudonym memo) too."""
    pages = {}
    for name, url in (("pg", pg_url), ("sqlite", f"sqlite:///{tmp_path / 'lite' / 'store.db'}")):
        (tmp_path / name).mkdir(exist_ok=True)
        (tmp_path / "lite").mkdir(exist_ok=True)
        settings, tokens = make_gateway(tmp_path / name, url)
        client = client_for(settings)
        reads = [client.get("/v1/datasets/registry.citizens/rows", params={"limit": 30},
                            headers=auth(tokens[agency])).json()["rows"] for agency in ("all", "narrow", "all")]
        assert reads[0] == reads[2]
        pages[name] = reads[:2]
    for read in (*pages["pg"], *pages["sqlite"]):
        for row in read:
            row.pop("updated_at")  # SQLite keeps the stamp naive, a difference older than this test
    assert pages["pg"] == pages["sqlite"]
    everything = pages["pg"][0]
    assert len(everything) == 30 and everything[3]["record"]["national_id"] == grants.pseudonym(
        "0000000003", agency_id="all", field="national_id", key=KEY)
    assert "0000000003" not in str([r["record"] for r in everything])


@pytest.mark.postgres
def test_pages_stay_right_when_a_datasets_records_change_shape(tmp_path, pg_url):
    """A worker reads a dataset's next pages in the shape it last saw its records share; when the
    records change shape (a field added, a nested object turned to text) the pages are still
    the record-by-record projection, and the same as a fresh worker's."""
    settings, tokens = make_gateway(tmp_path, pg_url)
    client = client_for(settings)
    rows = "/v1/datasets/registry.citizens/rows"
    first = client.get(rows, params={"limit": 10}, headers=auth(tokens["all"])).json()["rows"]
    assert "0000000003" not in str([r["record"] for r in first]) and set(first[0]["record"]) >= {"national_id", "address"}
    engine = store.open_store(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE source_rows SET record = record || jsonb_build_object('nickname', 'x') "
                             "WHERE source = 'registry.citizens' AND source_key < '0000000005'"))
        conn.execute(sa.text("UPDATE source_rows SET record = jsonb_set(record, '{address}', '\"text\"') "
                             "WHERE source = 'registry.citizens' AND source_key = '0000000007'"))
    engine.dispose()
    for agency in ("all", "narrow", "all"):
        pages = [c.get(rows, params={"limit": 10}, headers=auth(tokens[agency])).json()["rows"]
                 for c in (client, client_for(settings))]  # this worker, a fresh one
        assert pages[0] == pages[1]
        got = {r["key"]: r["record"] for r in pages[0]}
        if agency == "all":
            assert got["0000000001"]["nickname"] == "x" and "nickname" not in got["0000000006"]
            assert got["0000000007"]["address"] == grants.pseudonym("text", agency_id="all", field="address", key=KEY)
            assert "0000000003" not in str(list(got.values()))
        else:
            assert set(got["0000000001"]) == {"first_name", "national_id", "address"}


# ---------------------------------------------------------------- a real socket

def test_real_http_server_with_requests(tmp_path):
    requests = pytest.importorskip("requests")
    uvicorn = pytest.importorskip("uvicorn")
    settings, tokens = make_gateway(tmp_path, f"sqlite:///{tmp_path / 'store.db'}")
    server = uvicorn.Server(uvicorn.Config(create_app(settings, GatewayConfig(pseudonym_key=KEY)),
                                           host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 10
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {tokens['golden']}"
        base = f"http://127.0.0.1:{port}"
        assert requests.get(f"{base}/healthz", timeout=5).json() == {"status": "ok"}
        r = s.get(f"{base}/v1/entities/person/P-000000000000", timeout=5)
        assert r.status_code == 200 and r.json()["golden"]["first_name"] == "علی0"
        assert s.get(f"{base}/v1/datasets/registry.citizens/rows", timeout=5).status_code == 403
        assert requests.get(f"{base}/v1/entities/person", timeout=5).status_code == 401
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# ---------------------------------------------------------------- caches, group commit, streaming

def test_access_revoked_by_another_process_stops_within_the_cache_bound(gw):
    """The CLI revoking in another process cannot reach this worker's cache: the bound is auth_ttl."""
    _, tokens, settings = gw
    ttl = 1.0
    client = client_for(settings, auth_ttl=ttl)
    path = "/v1/datasets/registry.citizens/rows?limit=1"
    assert client.get(path, headers=auth(tokens["all"])).status_code == 200
    assert client.get(path, headers=auth(tokens["narrow"])).status_code == 200
    revoked_at = time.monotonic()
    with store.open_store(settings.store_url).begin() as conn:  # what another process's revoke does
        conn.execute(sa.update(store.agency_tokens).where(store.agency_tokens.c.agency_id == "all")
                     .values(revoked_at=NOW))
        conn.execute(sa.delete(store.grants).where(store.grants.c.agency_id == "narrow"))
    cached = client.get(path, headers=auth(tokens["all"]))
    if time.monotonic() - revoked_at < ttl * 0.8:  # still inside the bound: the cached grant answered
        assert cached.status_code == 200
    time.sleep(max(0.0, ttl - (time.monotonic() - revoked_at)) + 0.05)
    r = client.get(path, headers=auth(tokens["all"]))
    assert r.status_code == 401 and "rows" not in r.json()
    assert client.get(path, headers=auth(tokens["narrow"])).status_code == 403
    uncached = client_for(settings, auth_ttl=0)  # no cache: refused at once
    assert uncached.get(path, headers=auth(tokens["all"])).status_code == 401


def test_a_token_in_use_is_renewed_off_the_request_path_within_the_cache_bound(gw, monkeypatch):
    """In the second half of a cached token's life a request starts a lookup on another thread and
    is answered from the cache; the renewed entry answers past the first one's expiry, so no
    request of a token in steady use waits for a lookup (10-45 ms under load, twice per worker
    per bound in the bench).  A renewal that finds the token revoked drops it at once.
    Lookups are told apart by their thread, not by timing: a loaded machine may start one more
    renewal, never one more lookup on a request's path."""
    _, tokens, settings = gw
    ttl, path, h = 2.0, "/v1/datasets/registry.citizens/rows?limit=1", auth(tokens["all"])
    lookups, real = [], grants.authorize

    def authorize(conn, token):
        renewal = threading.current_thread().name == "munihub-token-renewal"
        lookups.append((time.monotonic(), renewal))
        return real(conn, token)
    monkeypatch.setattr(grants, "authorize", authorize)
    client = client_for(settings, auth_ttl=ttl)
    on_request = lambda: [t for t, renewal in lookups if not renewal]  # noqa: E731
    renewals = lambda: [t for t, renewal in lookups if renewal]  # noqa: E731

    def settled(n: int) -> None:  # n renewals have run and their result is in the cache
        deadline = time.monotonic() + 5
        while len(renewals()) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
    assert client.get(path, headers=h).status_code == 200 and len(on_request()) == 1  # the request looked it up
    first = on_request()[0]
    assert client.get(path, headers=h).status_code == 200
    if time.monotonic() < first + ttl * 0.45:  # a young entry (unless this machine was slow): no renewal
        assert not renewals()
    time.sleep(max(0.0, first + ttl * 0.6 - time.monotonic()))
    assert client.get(path, headers=h).status_code == 200
    settled(1)
    assert len(on_request()) == 1
    time.sleep(max(0.0, first + ttl * 1.1 - time.monotonic()))  # the first lookup's entry has expired
    assert client.get(path, headers=h).status_code == 200 and len(on_request()) == 1  # a renewed one answered
    settled(len(renewals()))
    with store.open_store(settings.store_url).begin() as conn:  # what another process's revoke does
        conn.execute(sa.update(store.agency_tokens).where(store.agency_tokens.c.agency_id == "all")
                     .values(revoked_at=NOW))
    latest = renewals()[-1]
    time.sleep(max(0.0, latest + ttl * 0.6 - time.monotonic()))
    before = len(renewals())
    assert client.get(path, headers=h).status_code == 200  # cached; starts the renewal that finds it revoked
    settled(before + 1)
    assert time.monotonic() < latest + ttl  # still within the renewed entry's bound, yet refused
    r = client.get(path, headers=h)
    assert r.status_code == 401 and "rows" not in r.json() and len(on_request()) == 2


def test_a_worker_reads_the_granted_contracts_before_its_first_request(gw, monkeypatch):
    """Reading a contract (and the shared schemas) the first time takes 0.15-0.3 s with the
    worker's event loop stopped: the start-up does it, so no request waits for it."""
    import munihub.contracts
    _, tokens, settings = gw
    read, real = [], munihub.contracts.contract_for
    monkeypatch.setattr(munihub.contracts, "contract_for", lambda ref, *a, **k: read.append(ref) or real(ref, *a, **k))
    with client_for(settings) as client:  # `with`: the app's start-up runs
        started = list(read)
        for path in (DATASETS["registry.citizens"], DATASETS["finance.payments"]):
            assert client.get(path, headers=auth(tokens["all"])).status_code == 200
    assert sorted(started) == ["finance.payments", "health.visits", "registry.citizens"] and read == started


@pytest.mark.postgres
def test_a_worker_opens_its_page_and_audit_connections_before_its_first_request(tmp_path, pg_url, monkeypatch):
    """Connecting was most of a worker's first page and first audit batch (each 5-15 ms under
    load): the start-up opens one of each, so the first request opens none."""
    from munihub.store import pgasync
    settings, tokens = make_gateway(tmp_path, pg_url)
    opened, real = [], pgasync.connect

    async def counted(engine):
        opened.append(engine)
        return await real(engine)
    monkeypatch.setattr(pgasync, "connect", counted)
    with client_for(settings) as client:
        started = len(opened)
        assert client.get(DATASETS["registry.citizens"], headers=auth(tokens["all"])).status_code == 200
    assert started == 2 and len(opened) == 2


def test_a_failed_warm_up_is_logged_and_the_worker_still_serves(gw, monkeypatch, caplog):
    import munihub.contracts
    _, tokens, settings = gw
    real = munihub.contracts.contract_for

    def broken(*a, **k):
        raise RuntimeError("disk gone")
    monkeypatch.setattr(munihub.contracts, "contract_for", broken)
    with client_for(settings) as client:
        monkeypatch.setattr(munihub.contracts, "contract_for", real)
        assert client.get(DATASETS["registry.citizens"], headers=auth(tokens["all"])).status_code == 200
    assert "gateway warm-up incomplete (RuntimeError: disk gone)" in caplog.text


def test_a_worker_freezes_its_start_up_heap_once(gw, monkeypatch):
    """The objects alive after start-up are kept out of the collector's full collections (which
    walked them all, 45-55 ms with the loop stopped, once per few thousand requests); once per
    process, so a second app in the same process (tests) adds nothing."""
    import gc

    from munihub.gateway import api
    _, _, settings = gw
    monkeypatch.setattr(api, "_heap_settled", [False])
    gc.unfreeze()
    with client_for(settings):
        frozen = gc.get_freeze_count()
    gc.unfreeze()
    with client_for(settings):
        again = gc.get_freeze_count()
    assert frozen > 10_000 and again == 0


def test_the_access_cache_compares_the_whole_token_hash(monkeypatch):
    from munihub.gateway.access import AccessCache
    cache = AccessCache(60)
    cache.put("token-a", "agency a", grants.changes())
    assert cache.get("token-a") == "agency a" and cache.get("token-b") is None
    real = grants.hash_token
    # a token whose hash shares the entry's lookup prefix but not the rest is not the cached one
    monkeypatch.setattr(grants, "hash_token", lambda t: real("token-a")[:16] + "0" * 48 if t == "token-b" else real(t))
    assert cache.get("token-b") is None and cache.get("token-a") == "agency a"
    grants._changed()  # an access change in this process makes every cached entry stale
    assert cache.get("token-a") is None


def test_no_answer_leaves_before_its_audit_entry_commits(gw, monkeypatch):
    client, tokens, settings = gw
    slow_write = audit.GroupCommit._write

    def late(self, batch):  # a slow commit: an answer sent without waiting would overtake it
        time.sleep(0.3)
        slow_write(self, batch)
    monkeypatch.setattr(audit.GroupCommit, "_write", late)
    client = client_for(settings)
    engine = store.open_store(settings.store_url)
    for path, agency in (("/v1/datasets/registry.citizens/rows?limit=2", "narrow"), ("/v1/datasets", "all")):
        before = audit.head(engine)["seq"]
        assert client.get(path, headers=auth(tokens[agency])).status_code == 200
        assert audit.head(engine)["seq"] == before + 1


def test_concurrent_requests_share_audit_commits_and_keep_one_chain(gw):
    _, tokens, settings = gw
    client = client_for(settings)
    engine = store.open_store(settings.store_url)
    before = audit.head(engine)["seq"]
    statuses = []

    def walk():
        for _ in range(10):
            statuses.append(client.get("/v1/datasets/registry.citizens/rows?limit=5",
                                       headers=auth(tokens["narrow"])).status_code)
    threads = [threading.Thread(target=walk) for _ in range(6)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert statuses == [200] * 60
    assert audit.head(engine)["seq"] == before + 60 and audit.verify(engine) == []


def test_a_large_page_is_streamed_with_the_same_rows(tmp_path):
    from munihub.gateway.respond import STREAM_ROWS
    n = STREAM_ROWS * 2 + 7
    settings, tokens = make_gateway(tmp_path, f"sqlite:///{tmp_path / 'store.db'}", n=n)
    client, h = client_for(settings), auth(tokens["all"])
    whole = client.get(f"/v1/datasets/registry.citizens/rows?limit={n}", headers=h)
    assert whole.status_code == 200 and "content-length" not in whole.headers  # streamed in chunks
    body = whole.json()
    assert body["next_cursor"] is None and body["dataset"] == "registry.citizens"
    small = client.get("/v1/datasets/registry.citizens/rows?limit=10", headers=h).json()
    assert body["rows"][:10] == small["rows"] and len(body["rows"]) == n
    assert body["rows"][-1]["record"]["first_name"] == f"علی{n - 1}"


@pytest.mark.postgres
def test_an_unwritable_audit_log_refuses_a_streamed_page_on_postgresql(tmp_path, pg_url):
    from munihub.gateway.respond import STREAM_ROWS
    settings, tokens = make_gateway(tmp_path, pg_url, n=STREAM_ROWS + 50)
    client = client_for(settings)
    h, path = auth(tokens["narrow"]), f"/v1/datasets/registry.citizens/rows?limit={STREAM_ROWS + 50}"
    assert len(client.get(path, headers=h).json()["rows"]) == STREAM_ROWS + 50
    engine = store.open_store(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE audit_log RENAME TO audit_log_moved"))
    r = client.get(path, headers=h)
    assert r.status_code == 503 and "rows" not in r.json() and "0000000000" not in r.text
    small = client.get("/v1/datasets/registry.citizens/rows?limit=3", headers=h)  # a page sent whole
    assert small.status_code == 503 and "rows" not in small.json() and "0000000000" not in small.text
    engine.dispose()


def _redis_url() -> str:
    import socket
    with socket.socket() as s:
        s.settimeout(1)
        if s.connect_ex(("127.0.0.1", 6379)) != 0:
            pytest.skip("Redis is not listening on 127.0.0.1:6379")
    return "redis://127.0.0.1:6379/15"


def test_rate_limits_are_shared_by_workers_through_redis(tmp_path):
    pytest.importorskip("redis")
    import uuid
    url = _redis_url()
    settings, _ = make_gateway(tmp_path, f"sqlite:///{tmp_path / 'store.db'}", n=3)
    engine = store.open_store(settings.store_url)
    agency = f"tiny-{uuid.uuid4().hex[:8]}"  # a bucket of its own in the shared Redis
    tok = grants.add_agency(engine, agency, "Tiny", rate_per_minute=12)  # a burst of 2
    grants.grant(engine, agency, "registry.citizens", ["first_name"])
    path = "/v1/datasets/registry.citizens/rows?limit=1"
    try:
        one, two = client_for(settings, redis_url=url), client_for(settings, redis_url=url)  # two workers
        assert one.get(path, headers=auth(tok)).status_code == 200
        assert two.get(path, headers=auth(tok)).status_code == 200
        r = one.get(path, headers=auth(tok))  # per worker this would still be inside its own burst
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert two.get(path, headers=auth(tok)).status_code == 429
    finally:
        import redis
        redis.Redis.from_url(url).delete(f"munihub:rate:{agency}")


def test_rate_limits_fall_back_to_each_worker_when_redis_is_away(tmp_path, caplog):
    pytest.importorskip("redis")
    settings, _ = make_gateway(tmp_path, f"sqlite:///{tmp_path / 'store.db'}", n=3)
    engine = store.open_store(settings.store_url)
    tok = grants.add_agency(engine, "tiny", "Tiny", rate_per_minute=12)
    grants.grant(engine, "tiny", "registry.citizens", ["first_name"])
    import socket
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = client_for(settings, redis_url=f"redis://127.0.0.1:{port}/0")
    path = "/v1/datasets/registry.citizens/rows?limit=1"
    assert [client.get(path, headers=auth(tok)).status_code for _ in range(3)] == [200, 200, 429]
    assert "fall back to per-worker buckets" in caplog.text


@pytest.mark.postgres
def test_a_request_costs_one_statement_and_no_ping_no_rollback_once_cached(tmp_path, pg_url):
    """The token and grants are read once (one checkout of the read pool, one statement); after
    that a page is one statement on a kept event-loop connection, and nothing else is sent."""
    settings, tokens = make_gateway(tmp_path, pg_url)
    app = create_app(settings, GatewayConfig(pseudonym_key=KEY))
    client, reads, pages = TestClient(app), app.state.reads, app.state.pages
    path, h = "/v1/datasets/registry.citizens/rows?limit=5", auth(tokens["narrow"])
    seen = {"checkouts": 0, "statements": [], "pings": 0, "pages": []}
    sa.event.listen(reads.pool, "checkout", lambda *a: seen.__setitem__("checkouts", seen["checkouts"] + 1))
    sa.event.listen(reads, "before_cursor_execute", lambda c, cur, stmt, *a: seen["statements"].append(stmt))
    real_ping, real_fetch = reads.dialect.do_ping, pages.fetch

    def ping(dbapi_conn):
        seen["pings"] += 1
        return real_ping(dbapi_conn)

    async def fetch(sql, params):
        seen["pages"].append(sql)
        return await real_fetch(sql, params)
    reads.dialect.do_ping, pages.fetch = ping, fetch
    assert client.get(path, headers=h).status_code == 200  # a cold cache: token and grants, then the page
    assert seen["checkouts"] == 1 and len(seen["statements"]) == 1 and "agency_tokens" in seen["statements"][0]
    assert len(seen["pages"]) == 1 and pages.open == 1
    for _ in range(3):
        assert client.get(path, headers=h).status_code == 200
    assert seen["checkouts"] == 1 and seen["pings"] == 0 and len(seen["statements"]) == 1
    assert len(seen["pages"]) == 4 and all("FROM source_rows" in s for s in seen["pages"])
    assert pages.open == 1 and pages._idle[0].autocommit  # one kept connection: no BEGIN, no ROLLBACK
    filtered = client.get(path + "&filter[address.district]=3", headers=h)  # filters go through `reads`
    assert filtered.status_code == 200 and [r["record"]["address"]["district"] for r in filtered.json()["rows"]] == ["3"] * 3
    assert len(seen["statements"]) == 2 and "FROM source_rows" in seen["statements"][1]


def test_a_silent_redis_is_left_alone_for_a_while_then_tried_again():
    pytest.importorskip("redis")
    import asyncio

    import redis

    from munihub.gateway.access import RedisRateLimiter
    limiter = RedisRateLimiter("redis://127.0.0.1:1/0", retry_after=0.2)
    calls = []

    async def hung(*args):
        calls.append(args)
        raise redis.TimeoutError("no answer")

    async def answers(*args):
        calls.append(args)
        return 1, 0.0, time.monotonic()

    def take():
        return asyncio.run(limiter.take("tiny", 12))
    limiter._lease = hung
    assert take() == 0 and len(calls) == 1   # the fallback bucket answered
    assert take() == 0 and len(calls) == 1   # Redis not asked again yet
    assert take() > 0                        # burst of 2 spent, per worker
    time.sleep(0.25)
    limiter._lease = answers
    assert take() == 0 and len(calls) == 2   # tried again, and it answers


def test_a_worker_leases_tokens_from_the_shared_bucket_and_spends_them_within_the_lease():
    """A fast agency costs a Redis call per lease, not per request; a lease outlived is dropped,
    so no worker spends tokens taken from the shared bucket more than `lease` seconds ago."""
    pytest.importorskip("redis")
    import asyncio
    import uuid

    from munihub.gateway.access import RedisRateLimiter
    url = _redis_url()
    agency = f"fast-{uuid.uuid4().hex[:8]}"
    limiter = RedisRateLimiter(url, lease=1.0, max_lease=5)
    calls, real = [], limiter._lease

    async def counted(*args):
        calls.append(args)
        return await real(*args)
    limiter._lease = counted

    async def run():
        await limiter.take(agency + "-warm", 6000)  # connects and loads the script: slow on a busy machine
        calls.clear()
        first = [await limiter.take(agency, 6000) for _ in range(8)]  # 100 a second: 5 a lease (max_lease)
        leases = len(calls)
        await asyncio.sleep(1.1)
        return first, leases, await limiter.take(agency, 6000)
    try:
        first, leases, after = asyncio.run(run())
        assert first == [0.0] * 8 and leases == 2 and all(c[3] == 5 for c in calls)
        assert after == 0.0 and len(calls) == 3  # 2 tokens of the last lease were left, but it had ended
    finally:
        import redis
        redis.Redis.from_url(url).delete(f"munihub:rate:{agency}", f"munihub:rate:{agency}-warm")
