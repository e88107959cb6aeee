"""A registry keyed by the citizen's national id (no recordId): a row without an id (a child,
a foreign national, a clerk's omission) has no key and waits in quarantine for a steward as
before, and its citizen is kept for person matching alone (`publish._keep_held`, issue 16):
matched to the same citizen's record in another source, never served or counted, added once
however often the row is read again."""
from __future__ import annotations

import csv

import pytest
import sqlalchemy as sa

from munihub import pipeline, store
from munihub.config import REPO_ROOT, Settings
from munihub.ingest.mapping import KEYLESS
from munihub.resolve.run import resolve_all

from test_pipeline import national_id

FATEMEH, ALI = national_id("093456781"), national_id("092345678")
CONTRACT = """apiVersion: v3.1.0
kind: DataContract
id: {id}
name: {name}
version: 1.0.0
status: active
servers:
  - server: drop
    type: local
    path: "{folder}"
    format: csv
    customProperties:
      - {{property: connector, value: file}}
      - {{property: pattern, value: "*.csv"}}
schema:
  - name: {name}
    physicalName: {name}
    customProperties:
      - {{property: sharedSchema, value: person}}
{record_id}    properties:
      - {{name: national_id, physicalName: nid, logicalType: string, transformLogic: national_id{key}}}
      - {{name: full_name, physicalName: name, logicalType: string, transformLogic: person_name}}
      - {{name: birth_date, physicalName: birth, logicalType: string, transformLogic: date}}
      - {{name: mobile, physicalName: mobile, logicalType: string, transformLogic: "mobile:51"}}
customProperties:
  - {{property: retries, value: 0}}
"""
# the welfare registry keys its clients by national id; Fatemeh's row has none
CLIENTS = [("", "فاطمه رضایی", "1380/05/12", "09151112233"), (ALI, "علی احمدی", "1362/01/20", "09157778899")]
# the tax office names its own file numbers, and has Fatemeh's id
FILES = [("F-1", FATEMEH, "فاطمه رضایی", "1380/05/12", "09151112233"),
         ("F-2", ALI, "علی احمدی", "1362/01/20", "09157778899")]


def _write(path, header: str, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + "\r\n" + "".join(",".join(r) + "\r\n" for r in rows), "utf-8")


@pytest.fixture(params=["columns", "records"])
def city(request, tmp_path, store_url, monkeypatch):
    """Both staging paths, which quarantine the keyless row: a column at a time (it goes back to
    `check_record`), and record by record."""
    if request.param == "records":
        monkeypatch.setattr("munihub.ingest.stage.plan_for", lambda contract, errors_of: None)
    for dataset, folder, record_id, key in (
            ("welfare.clients", "clients", "", ", primaryKey: true"),
            ("tax.files", "files", "      - {property: recordId, value: file}\n", "")):
        agency, name = dataset.split(".")
        (tmp_path / "contracts" / agency).mkdir(parents=True)
        (tmp_path / "contracts" / agency / f"{name}.yaml").write_text(CONTRACT.format(
            id=dataset, name=name, folder=(tmp_path / folder).as_posix(), record_id=record_id, key=key), "utf-8")
    _write(tmp_path / "clients" / "clients.csv", "nid,name,birth,mobile", CLIENTS)
    _write(tmp_path / "files" / "files.csv", "file,nid,name,birth,mobile", FILES)
    return Settings(home=tmp_path / "home", store_url=store_url, contracts_dir=tmp_path / "contracts",
                    schemas_dir=REPO_ROOT / "schemas")


def _members(engine) -> dict[str, str]:
    m = store.entity_members
    with engine.connect() as conn:
        return {f"{s}|{k}": e for s, k, e in conn.execute(
            sa.select(m.c.source, m.c.source_key, m.c.entity_id).where(m.c.entity_type == "person"))}


def _state(engine) -> tuple[list, list, list]:
    """(quarantined rows' reasons, kept copies, published keys) of the welfare registry."""
    q, e, t = store.quarantine, store.earlier_copies, store.source_rows
    with engine.connect() as conn:
        reasons = [(r["rule"], r["message"]) for rs in conn.execute(sa.select(q.c.reasons).where(
            q.c.source == "welfare.clients", q.c.status == "open")).scalars() for r in rs]
        copies = [tuple(r) for r in conn.execute(sa.select(e.c.source_key, e.c.entity_type, e.c.record["full_name"]
                                                           .as_string()).where(e.c.source == "welfare.clients"))]
        keys = sorted(conn.execute(sa.select(t.c.source_key).where(t.c.source == "welfare.clients")).scalars())
    return reasons, copies, keys


def test_a_keyless_registry_row_waits_in_quarantine_and_its_citizen_is_matched(city):
    pipeline.sync_source("tax.files", city)
    result = pipeline.sync_source("welfare.clients", city)
    assert (result["rows_in"], result["rows_quarantined"], result["citizens_kept"]) == (2, 1, 1)  # ledger as before
    engine = store.engine_for(city)
    reasons, copies, keys = _state(engine)
    assert reasons == [("key", "primary key national_id is empty")]
    assert copies == [(KEYLESS, "person", "فاطمه رضایی")] and keys == [ALI]
    resolve_all(engine, city)
    members = _members(engine)
    kept = [r for r in members if r.startswith(f"welfare.clients|{KEYLESS}#copy-")]
    assert len(kept) == 1 and kept[0].endswith("#person")
    assert members[kept[0]] == members["tax.files|F-1"] != members["tax.files|F-2"]
    assert members[f"welfare.clients|{ALI}"] == members["tax.files|F-2"]
    from munihub.resolve.export import export  # no key of its own: listed by where it was read
    export(engine, "clusters", "csv", city.home / "clusters.csv")
    with open(city.home / "clusters.csv", encoding="utf-8") as fh:
        rows = {r["source_key"]: r for r in csv.DictReader(fh) if r["source"] == "welfare.clients"}
    assert (rows[""]["position"], rows[""]["entity_id"], rows[ALI]["copy"]) == \
        ("clients.csv line 2", members["tax.files|F-1"], "")


def test_the_same_keyless_row_read_again_adds_nothing_and_a_proper_row_later_breaks_nothing(city):
    pipeline.sync_source("tax.files", city)
    pipeline.sync_source("welfare.clients", city)
    engine = store.engine_for(city)
    resolve_all(engine, city)
    folder = city.contracts_dir.parent / "clients"
    _write(folder / "clients2.csv", "nid,name,birth,mobile", CLIENTS[:1])  # the next export repeats her row
    result = pipeline.sync_source("welfare.clients", city)
    assert (result["rows_in"], result["rows_quarantined"]) == (1, 1) and "citizens_kept" not in result
    assert len(_state(engine)[1]) == 1  # one kept citizen (the quarantine holds each read, as before)
    # a clerk adds her id: the registry publishes her row; the kept mention stays, a second
    # mention of the same person
    _write(folder / "clients3.csv", "nid,name,birth,mobile", [(FATEMEH, *CLIENTS[0][1:])])
    pipeline.sync_source("welfare.clients", city)
    _, copies, keys = _state(engine)
    assert len(copies) == 1 and keys == sorted([ALI, FATEMEH])
    for full in (False, True):
        resolve_all(engine, city, full=full)
        members = _members(engine)
        kept = next(r for r in members if r.startswith(f"welfare.clients|{KEYLESS}#copy-"))
        assert members[kept] == members[f"welfare.clients|{FATEMEH}"] == members["tax.files|F-1"]


def test_the_gateway_and_the_indicators_never_see_a_keyless_citizen(city):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from munihub.gateway import grants
    from munihub.gateway.api import GatewayConfig, create_app
    from munihub.indicators.facts import _source_records

    pipeline.sync_source("welfare.clients", city)
    engine = store.engine_for(city)
    resolve_all(engine, city)
    token = grants.add_agency(engine, "welfare", "WELFARE")
    grants.grant(engine, "welfare", "welfare.clients", ["*", "full_name"])
    client = TestClient(create_app(city, GatewayConfig(pseudonym_key=b"k" * 32)))
    served = client.get("/v1/datasets/welfare.clients/rows", headers={"Authorization": f"Bearer {token}"}).json()
    assert [r["record"]["full_name"] for r in served["rows"]] == ["علی احمدی"]
    with engine.connect() as conn:
        records = _source_records(engine.dialect.name, "1404-01-01")
        counted = conn.execute(sa.select(records.c.key).where(records.c.src == "welfare.clients")).scalars().all()
    assert counted == [ALI]


def test_a_row_quarantined_for_a_value_its_contract_requires_keeps_its_citizen_and_no_other(city):
    # the registry requires a name and holds birth dates essential: a row without a name waits
    # in quarantine and its citizen (mobile, birth date) is kept under its key; a row whose
    # essential birth date cannot be read is kept out whole, as the agency asked
    rz = national_id("091234567")
    path = city.contracts_dir / "welfare" / "clients.yaml"
    path.write_text(path.read_text("utf-8").replace(
        "transformLogic: person_name}", "transformLogic: person_name, required: true}").replace(
        "transformLogic: date}", "transformLogic: date, customProperties: [{property: essential, value: true}]}"),
        "utf-8")
    _write(city.contracts_dir.parent / "clients" / "clients.csv", "nid,name,birth,mobile",
           [CLIENTS[0], (ALI, "", *CLIENTS[1][2:]), (rz, "رضا محمدی", "1362/13/40", "09153334455")])
    result = pipeline.sync_source("welfare.clients", city)
    assert (result["rows_quarantined"], result["citizens_kept"]) == (3, 2)
    _, copies, keys = _state(store.engine_for(city))
    assert sorted(copies, key=str) == sorted([(KEYLESS, "person", "فاطمه رضایی"), (ALI, "person", None)], key=str)
    assert keys == []
    # a contract naming its record id: a row without one is quarantined, its citizen kept
    _write(city.contracts_dir.parent / "files" / "files.csv", "file,nid,name,birth,mobile", [("", *FILES[0][1:])])
    assert pipeline.sync_source("tax.files", city)["rows_quarantined"] == 1
    with store.engine_for(city).connect() as conn:
        assert conn.execute(sa.select(store.earlier_copies.c.source_key).where(
            store.earlier_copies.c.source == "tax.files")).scalars().all() == [KEYLESS]


def test_a_citizen_kept_under_its_key_leaves_when_the_key_is_published(city):
    pipeline.sync_source("tax.files", city)
    path = city.contracts_dir / "welfare" / "clients.yaml"
    path.write_text(path.read_text("utf-8").replace(
        "transformLogic: \"mobile:51\"}", "transformLogic: \"mobile:51\", required: true}"), "utf-8")
    folder = city.contracts_dir.parent / "clients"
    _write(folder / "clients.csv", "nid,name,birth,mobile", [CLIENTS[1][:3] + ("",)])  # no mobile taken
    result = pipeline.sync_source("welfare.clients", city)
    assert (result["rows_quarantined"], result["citizens_kept"]) == (1, 1)
    engine = store.engine_for(city)
    resolve_all(engine, city)
    members = _members(engine)
    kept = [r for r in members if r.startswith(f"welfare.clients|{ALI}#copy-")]
    assert len(kept) == 1 and members[kept[0]] == members["tax.files|F-2"]
    # the export lists it under the key the agency wrote, with where it was read
    from munihub.resolve.export import export
    export(engine, "clusters", "csv", city.home / "clusters.csv")
    with open(city.home / "clusters.csv", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["source"] == "welfare.clients"]
    assert [(r["source_key"], r["mention"], r["entity_id"], r["position"]) for r in rows] == \
        [(ALI, "True", members["tax.files|F-2"], "clients.csv line 2")]
    assert kept[0] == f"welfare.clients|{ALI}#copy-{rows[0]['copy']}#person"
    _write(folder / "clients.csv", "nid,name,birth,mobile", [CLIENTS[1]])  # the clerk adds the mobile
    pipeline.sync_source("welfare.clients", city)
    _, copies, keys = _state(engine)
    assert copies == [] and keys == [ALI]


def test_a_registry_that_starts_naming_its_record_id_keeps_its_keyless_citizens(city):
    # the registry's rows move to their client numbers as they are read again; the citizen of
    # the row without an id, not read again, stays (no published key ever held it)
    folder = city.contracts_dir.parent / "clients"
    _write(folder / "clients.csv", "cno,nid,name,birth,mobile", [(f"C-{i}", *r) for i, r in enumerate(CLIENTS)])
    pipeline.sync_source("welfare.clients", city)
    path = city.contracts_dir / "welfare" / "clients.yaml"
    path.write_text(path.read_text("utf-8").replace(", primaryKey: true}", "}").replace(
        "      - {property: sharedSchema, value: person}\n",
        "      - {property: sharedSchema, value: person}\n      - {property: recordId, value: cno}\n"), "utf-8")
    _write(folder / "clients2.csv", "cno,nid,name,birth,mobile", [("C-1", *CLIENTS[1])])
    result = pipeline.sync_source("welfare.clients", city)
    assert result["rows_rekeyed"] == 1 and "copies_dropped" not in result
    _, copies, keys = _state(store.engine_for(city))
    assert keys == ["C-1"] and [c[2] for c in copies] == ["فاطمه رضایی"]


def test_a_crash_inside_the_publish_keeps_no_keyless_citizen(city):
    class Crash(Exception):
        pass

    def hook(where):
        if where == "inside-publish":
            raise Crash(where)

    from munihub.ingest import loads

    engine = store.engine_for(city)
    load_id = pipeline.extract_and_stage("welfare.clients", city)
    pipeline.check_load(load_id, city)
    assert _state(engine)[1] == []  # staged and quarantined: nothing kept before the publish
    with pytest.raises(Crash):
        pipeline.publish_load(load_id, city, crash_hook=hook)
    assert _state(engine)[1] == []
    loads.release_lease(engine, "welfare.clients")
    result = pipeline.sync_source("welfare.clients", city)
    assert result["citizens_kept"] == 1 and len(_state(engine)[1]) == 1
