"""Secrets and personal data: a canary credential never surfaces; ids and mobiles never raw in reports.

A random canary is set in every credential a contract can name (bearer token, basic password,
query api key, OAuth2 client secret, a SQL password), syncs run, some failing on purpose
(wrong token -> 401, SQL to a missing database), then consolidate and the report.  Every log
record, stdout/stderr, every report and home file and every store table's text is scanned
for the canary raw, URL-encoded and base64 (alone and as `user:canary`): zero hits.
"""
from __future__ import annotations

import base64
import json
import logging
import re
import sqlite3
import urllib.parse
import uuid

import pytest
import sqlalchemy as sa

import crashdriver
import faultkit
from fakeserver import json_reply, oauth2_token, requires, serve
from munihub import store
from munihub.pipeline.run_all import run_all

ROWS = [faultkit.person(i) for i in range(1, 6)]


def _forms(secret: str, user: str = "steward") -> set[str]:
    pair = f"{user}:{secret}".encode()
    return {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret),
            base64.b64encode(secret.encode()).decode(), base64.b64encode(pair).decode(),
            base64.urlsafe_b64encode(secret.encode()).decode().rstrip("=")}


def _store_text(engine) -> str:
    parts = []
    with engine.connect() as conn:
        for table in store.metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                parts.append(json.dumps([str(v) if not isinstance(v, (dict, list)) else v for v in row],
                                        ensure_ascii=False, default=str))
    return "\n".join(parts)


def _files_text(*folders) -> str:
    out = []
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix != ".db" and "wal" not in p.name):
            out.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(out)


@pytest.fixture
def canary_run(tmp_path, pg_url, monkeypatch, caplog, capfd):
    canary = f"CANARY-{uuid.uuid4()}"
    access = f"CANARY-ACCESS-{uuid.uuid4()}"
    wrong = f"CANARY-WRONG-{uuid.uuid4()}"
    contracts = tmp_path / "contracts"
    src = tmp_path / "src.db"
    monkeypatch.setenv("MUNIHUB_TEST_SRC", str(src))
    faultkit.sqlite_contract(contracts, src)
    for var, value in {"C_TOKEN": canary, "C_USER": "steward", "C_PASSWORD": canary, "C_KEY": canary,
                       "C_CLIENT": "hub", "C_SECRET": canary, "C_WRONG": wrong, "C_SQL_PASSWORD": canary,
                       "C_PG_OK": pg_url, "C_PG_BAD": pg_url.rsplit("/", 1)[0] + "/no_such_database"}.items():
        monkeypatch.setenv(var, value)
    # a PostgreSQL source (trust auth ignores the password, but it travels in the URL the connector builds)
    eng = sa.create_engine(pg_url)
    with eng.begin() as conn:
        conn.execute(sa.text("CREATE TABLE people (nid text, fname text, lname text, updated_at text)"))
        conn.execute(sa.text("INSERT INTO people VALUES (:nid, :fname, :lname, :updated_at)"), ROWS)
    eng.dispose()
    people = {"/bearer": requires(lambda r: json_reply({"data": ROWS}), bearer=canary),
              "/basic": requires(lambda r: json_reply({"data": ROWS}), basic=("steward", canary)),
              "/key": requires(lambda r: json_reply({"data": ROWS}), query=("api_key", canary)),
              "/oauth": requires(lambda r: json_reply({"data": ROWS}), bearer=access),
              "/token": oauth2_token("hub", canary, access)}
    caplog.set_level(logging.DEBUG)
    with serve(people) as server:
        u = server.url
        faultkit.rest_contract(contracts, "bearer", u + "/bearer", auth={"type": "bearer"}, secrets={"token": "C_TOKEN"})
        faultkit.rest_contract(contracts, "basic", u + "/basic", auth={"type": "basic"},
                               secrets={"username": "C_USER", "password": "C_PASSWORD"})
        faultkit.rest_contract(contracts, "apikey", u + "/key", auth={"type": "api_key", "query_param": "api_key"},
                               secrets={"api_key": "C_KEY"})
        faultkit.rest_contract(contracts, "oauth", u + "/oauth", auth={"type": "oauth2", "token_url": u + "/token"},
                               secrets={"client_id": "C_CLIENT", "client_secret": "C_SECRET"})
        faultkit.rest_contract(contracts, "wrongtoken", u + "/bearer", auth={"type": "bearer"},
                               secrets={"token": "C_WRONG"})
        _sql_contract(contracts, "pgok", "${C_PG_OK}")
        _sql_contract(contracts, "pgbad", "${C_PG_BAD}")
        settings = crashdriver.settings_for(f"sqlite:///{tmp_path / 'store.db'}", contracts, tmp_path / "home")
        summary = run_all(settings, progress=print)
        summary2 = run_all(settings, progress=print)  # a second run: the OAuth token cached, 401s again
        hits = list(server.hits)
    out, err = capfd.readouterr()
    records = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    return {"canary": canary, "forms": _forms(canary) | _forms(access) | _forms(wrong), "summary": summary,
            "summary2": summary2, "settings": settings, "hits": hits, "out": out + err, "records": records,
            "logs": "\n".join(m for name, level, m in records if not _urllib3_debug(name, level)),
            "tmp": tmp_path}


def _urllib3_debug(name: str, level: int) -> bool:
    return name.startswith("urllib3") and level < logging.INFO


def _sql_contract(folder, dataset: str, url: str) -> None:
    text = (faultkit.CORE).read_text(encoding="utf-8")
    text = (text.replace("id: testreg.citizens", f"id: sqlsrc.{dataset}")
            .replace("sqlite:///${MUNIHUB_TEST_SRC}", url)
            .replace("value: citizens\n", "value: people\n").replace("physicalName: code_melli", "physicalName: nid")
            .replace("physicalName: birth\n", "physicalName: birth_unused\n")
            .replace("      - property: key\n        value: id", "      - property: key\n        value: nid\n"
                     "      - property: secrets\n        value: {password: C_SQL_PASSWORD}"))
    text = re.sub(r"      - name: birth_date.*?transformLogic: date\n", "", text, flags=re.S)
    text = re.sub(r"      - name: mobile.*?transformLogic: mobile\n", "", text, flags=re.S)
    (folder / "sqlsrc").mkdir(exist_ok=True)
    (folder / "sqlsrc" / f"{dataset}.yaml").write_text(text, encoding="utf-8")


@pytest.mark.postgres
def test_canary_secret_appears_nowhere(canary_run):
    run = canary_run
    status = {r["source"]: r["status"] for r in run["summary"]["sources"]}
    print(status)
    # the run really used the credentials: good ones published, wrong ones failed
    for good in ("faults.bearer", "faults.basic", "faults.apikey", "sqlsrc.pgok", crashdriver.CONTRACT):
        assert status.get(good) == "published", (good, run["summary"])
    assert status["faults.wrongtoken"] == "failed" and status["sqlsrc.pgbad"] == "failed"
    assert any(h.headers.get("authorization") == f"Bearer {run['canary']}" for h in run["hits"])
    places = {"log records": run["logs"], "stdout/stderr": run["out"],
              "summary": json.dumps([run["summary"], run["summary2"]], ensure_ascii=False),
              "report and home files": _files_text(run["settings"].home),
              "store tables": _store_text(store.engine_for(run["settings"]))}
    leaks = [(where, form) for where, text in places.items() for form in run["forms"] if form in text]
    assert not leaks, f"canary found: {leaks}"
    assert len(places["log records"]) > 0 and len(places["store tables"]) > 1000  # we scanned something real




@pytest.mark.postgres
def test_canary_absent_from_third_party_debug_logs(canary_run):
    debug = [m for name, level, m in canary_run["records"] if _urllib3_debug(name, level)]
    assert debug, "urllib3 logged nothing at DEBUG: the scan would prove nothing"
    assert not [m for m in debug for form in canary_run["forms"] if form in m]


@pytest.mark.postgres
def test_national_ids_and_mobiles_never_raw_in_report_files(canary_run):
    run = canary_run
    with sqlite3.connect(run["tmp"] / "src.db") as db:
        values = {v for row in db.execute("SELECT code_melli, mobile FROM citizens") for v in row if v}
    values |= {r["nid"] for r in ROWS}
    values |= {"+98" + v[1:] for v in values if v.startswith("09")}
    report = run["settings"].reports
    files = [p for p in report.rglob("*") if p.is_file()]
    assert any(p.suffix == ".html" for p in files) and any(p.suffix == ".json" for p in files)
    text = "\n".join(p.read_bytes().decode("utf-8", "replace") for p in files)  # fonts, images too
    raw = sorted(v for v in values if v in text)
    assert not raw, f"{len(raw)} raw ids/mobiles in the report, e.g. {raw[:3]}"




def test_an_oauth2_contract_with_a_token_url_loads(tmp_path):
    from munihub.contracts import load_contract
    faultkit.rest_contract(tmp_path, "oauth", "http://127.0.0.1:1/p", secrets={"client_id": "C", "client_secret": "S"},
                           auth={"type": "oauth2", "token_url": "http://127.0.0.1:1/token"})
    assert load_contract(tmp_path / "faults" / "oauth.yaml").params["auth"]["type"] == "oauth2"


def test_pseudonyms_stable_across_runs_and_changed_by_key_rotation():
    from munihub.gateway.grants import pseudonym, pseudonym_key

    nid = "0084575948"
    key = pseudonym_key({"MUNIHUB_PSEUDONYM_KEY": "key-2026"})
    first = pseudonym(nid, agency_id="finance", field="national_id", key=key)
    assert first == pseudonym(nid, agency_id="finance", field="national_id", key=key)  # stable across runs
    assert nid not in first and nid[-4:] not in first
    rotated = pseudonym(nid, agency_id="finance", field="national_id",
                        key=pseudonym_key({"MUNIHUB_PSEUDONYM_KEY": "key-2027"}))
    assert rotated != first  # a rotated key gives new pseudonyms
    # another agency cannot join its copy with this one's
    assert pseudonym(nid, agency_id="planning", field="national_id", key=key) != first
    # without a key the value is masked, never shown
    masked = pseudonym(nid, agency_id="finance", field="national_id", key=None)
    assert nid not in masked and masked.endswith("948")
