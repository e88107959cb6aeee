"""Values a reader refuses still say who a citizen is, for matching only (docs/resolution.md):
a landline given without its city code (a contract writing `transformLogic: phone` with no
city code, an export writing «۳۸۴۱۲۳۴۵») names its home, as landlines are compared by their
last eight digits (`match.landline_key`, `records.PHONE_LOCAL`); a foreign national's twelve-
digit FIDA number in a national id column names its resident (`records.FOREIGN_ID`), set aside
from a published row or refused in a row held in quarantine for a required value
(`stage.held_record`'s `#refused`).  Never a person's value."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from munihub import pipeline, store
from munihub.config import REPO_ROOT, Settings
from munihub.resolve.match import landline_key
from munihub.ingest.mapping import REFUSED as INGEST_REFUSED
from munihub.resolve.records import FOREIGN_ID, PHONE_LOCAL, REFUSED, load_match_records
from munihub.resolve.run import resolve_all

from test_pipeline import national_id

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
CONTRACT = """apiVersion: v3.1.0
kind: DataContract
id: welfare.clients
name: clients
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
  - name: clients
    physicalName: clients
    customProperties:
      - {{property: sharedSchema, value: person}}
      - {{property: recordId, value: "شماره پرونده"}}
    properties:
      - {{name: full_name, physicalName: "نام", logicalType: string, transformLogic: person_name}}
      - {{name: phone, physicalName: "تلفن", logicalType: string, transformLogic: phone}}
customProperties:
  - {{property: retries, value: 0}}
"""
FIDA = "۱۲۳۴۵۶۷۸۹۰۱۲"


def _city(tmp_path):
    """Two registry namesakes «حسین کاظمی» at two homes, and a welfare client «حسین کاظمی»
    whose landline, the first home's, came without its city code."""
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "clients.csv").write_text("شماره پرونده,نام,تلفن\nW1,حسین کاظمی,۳۸۴۱۲۳۴۵\n", "utf-8")
    (tmp_path / "contracts" / "welfare").mkdir(parents=True)
    (tmp_path / "contracts" / "welfare" / "clients.yaml").write_text(CONTRACT.format(folder=drop.as_posix()), "utf-8")
    settings = Settings(home=tmp_path / "home", store_url=f"sqlite:///{tmp_path / 'store.db'}",
                        contracts_dir=tmp_path / "contracts", schemas_dir=REPO_ROOT / "schemas")
    result = pipeline.sync_source("welfare.clients", settings)
    engine = store.engine_for(settings)
    rows = [("R1", {"national_id": national_id("093155305"), "first_name": "حسین", "last_name": "کاظمی",
                    "birth_date": "1970-01-02", "phone": "+985138412345"}),
            ("R2", {"national_id": national_id("094548120"), "first_name": "حسین", "last_name": "کاظمی",
                    "birth_date": "1985-03-04", "phone": "+985137654321"})]
    with engine.begin() as conn:
        for key, record in rows:
            conn.execute(store.source_rows.insert().values(
                source="registry.citizens", source_key=key, entity_type="person", record=record,
                record_hash=store.record_hash(record), first_load_id="L1", load_id="L1", updated_at=T0))
    return result, engine


def test_a_landline_without_its_city_code_is_set_aside_and_still_names_the_home(tmp_path):
    result, engine = _city(tmp_path)
    assert result["rows_quarantined"] == 0 and result["rows_new"] == 1
    with engine.connect() as conn:
        aside = [(a.source_key, a.field, a.rule) for a in conn.execute(sa.select(store.set_aside))]
    assert aside == [("W1", "phone", "transform:phone")]
    client = next(r for r in load_match_records(engine)["person"] if r["ref"] == "welfare.clients|W1")
    assert client["fields"][PHONE_LOCAL] == "38412345" and "phone" not in client["fields"]
    resolve_all(engine)
    m = store.entity_members
    with engine.connect() as conn:
        ids = {k: e for k, e in conn.execute(sa.select(m.c.source_key, m.c.entity_id))}
        goldens = [g for (g,) in conn.execute(sa.select(store.entities.c.golden))]
    assert ids["W1"] == ids["R1"] != ids["R2"]
    assert not any(PHONE_LOCAL in str(g) or "38412345" == g.get("phone") for g in goldens)


def test_a_dismissed_local_landline_is_no_evidence(tmp_path):
    _, engine = _city(tmp_path)
    with engine.begin() as conn:
        conn.execute(store.set_aside.update().values(status="dismissed"))
    client = next(r for r in load_match_records(engine)["person"] if r["ref"] == "welfare.clients|W1")
    assert PHONE_LOCAL not in client["fields"]


def test_landlines_are_keyed_by_their_last_eight_digits_and_mobiles_whole():
    assert landline_key("+985138412345") == landline_key("38412345") == "38412345"
    assert landline_key("+982188412345") == "88412345"
    assert landline_key("+989151234567") == "+989151234567"  # a mobile in a phone field
    assert landline_key(None) is None and landline_key(" ") is None


def _sync(tmp_path, agency: str, csv_text: str, national_id: str) -> dict:
    """Sync one CSV of `agency`.clients (record id, name, national id column) into the store."""
    drop = tmp_path / agency
    drop.mkdir()
    (drop / "clients.csv").write_text(csv_text, "utf-8")
    contract = CONTRACT.format(folder=drop.as_posix()).replace("welfare.clients", f"{agency}.clients").replace(
        "      - {name: phone, physicalName: \"تلفن\", logicalType: string, transformLogic: phone}",
        f"      - {{name: national_id, physicalName: \"کد ملی\", logicalType: string, transformLogic: national_id"
        f"{national_id}}}")
    (tmp_path / "contracts" / agency).mkdir(parents=True)
    (tmp_path / "contracts" / agency / "clients.yaml").write_text(contract, "utf-8")
    settings = Settings(home=tmp_path / "home", store_url=f"sqlite:///{tmp_path / 'store.db'}",
                        contracts_dir=tmp_path / "contracts", schemas_dir=REPO_ROOT / "schemas")
    return pipeline.sync_source(f"{agency}.clients", settings)


def test_a_foreign_nationals_number_names_the_resident_published_or_held(tmp_path):
    """A licence's «غلام‌سخی رحیمی» and a portal's «آقای رحیمی» (a title and surname: joined only
    by agreeing evidence) give the same FIDA number in their national id columns; the portal's
    column is `required`, so its row waits in quarantine and only its citizen is kept."""
    licences = _sync(tmp_path, "licences", f"شماره پرونده,نام,کد ملی\nL1,غلام‌سخی رحیمی,{FIDA}\n", "")
    portal = _sync(tmp_path, "portal", f"شماره پرونده,نام,کد ملی\nP1,آقای رحیمی,{FIDA}\nP2,آقای رحیمی,\n",
                   ", required: true")
    assert licences["rows_quarantined"] == 0 and licences["values_set_aside"] == {"national_id": 1}
    assert portal["rows_quarantined"] == 2
    engine = store.open_store(f"sqlite:///{tmp_path / 'store.db'}")
    records = {r["ref"].split("#")[0]: r["fields"] for r in load_match_records(engine)["person"]}
    held = [f for ref, f in records.items() if ref.startswith("portal.clients|P1")]
    assert records["licences.clients|L1"][FOREIGN_ID] == "123456789012"
    assert len(held) == 1 and held[0][FOREIGN_ID] == "123456789012" and REFUSED not in held[0]
    resolve_all(engine)
    m = store.entity_members
    with engine.connect() as conn:
        ids = {f"{s}|{k}": e for s, k, e in conn.execute(sa.select(m.c.source, m.c.source_key, m.c.entity_id))}
        goldens = [g for (g,) in conn.execute(sa.select(store.entities.c.golden))]
    portal_ids = [e for ref, e in ids.items() if ref.startswith("portal.clients|P1")]
    assert portal_ids == [ids["licences.clients|L1"]]
    assert not any("123456789012" in str(g) for g in goldens)


def test_ingest_and_resolve_name_the_refused_values_alike():
    assert INGEST_REFUSED == REFUSED
