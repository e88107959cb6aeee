"""Every source record kept (issue 15): rows keyed by the source's own record id, a bad value
of a non-essential field set aside instead of the record, phones filed by what they are."""
from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from munihub import contracts, pipeline, store
from munihub.config import REPO_ROOT, Settings
from munihub.errors import ContractError

from test_pipeline import national_id

DATA = Path(__file__).parent / "data" / "core"
NID = national_id("001234567")
ROWS = [  # (licence_no, code_melli, fname, lname, birth, tel, updated_at)
    ("L-1", NID, "علی", "احمدی", "1365/02/11", "09151234567", "2024-01-01 10:00:00"),
    ("L-2", NID, "علی", "احمدی", "1365/02/11", "09151234567", "2024-01-01 10:00:00"),  # renewal, same citizen
    ("L-3", "1234567890", "رضا", "کریمی", "1370/01/01", "051-38001234", "2024-01-01 10:00:00"),  # bad check digit
    ("L-4", national_id("076543210"), "زهرا", "تاریخی", "1403/07/31", "38001234", "2024-01-01 10:00:00"),
    ("L-5", national_id("112233445"), "حسن", None, "1360/01/01", None, "2024-01-01 10:00:00"),  # required lname
    (None, national_id("223344556"), "مریم", "بی‌شماره", None, None, "2024-01-01 10:00:00"),  # no record id
    ("۶", national_id("334455667"), "نرگس", "رقمی", None, "12", "2024-01-01 10:00:00"),  # Persian digits in the id
]


def licences_db(path: Path, rows: list[tuple]) -> Path:
    """The licensing office's source table, as a SQLite file."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE licences (licence_no TEXT, code_melli TEXT, fname TEXT, lname TEXT, birth TEXT, "
                   "tel TEXT, updated_at TEXT)")
        db.executemany("INSERT INTO licences VALUES (?,?,?,?,?,?,?)", rows)
    return path


@pytest.fixture
def licences(tmp_path, store_url, monkeypatch):
    src = licences_db(tmp_path / "src.db", ROWS)
    folder = tmp_path / "contracts" / "testlic"
    folder.mkdir(parents=True)
    shutil.copy(DATA / "licences.yaml", folder / "licences.yaml")
    monkeypatch.setenv("MUNIHUB_TEST_SRC", str(src))
    settings = Settings(home=tmp_path / "home", store_url=store_url, contracts_dir=tmp_path / "contracts",
                        schemas_dir=REPO_ROOT / "schemas", batch_size=3)
    return settings, src


def _rows(settings) -> dict[str, dict]:
    with store.engine_for(settings).connect() as conn:
        return {k: r for k, r in conn.execute(sa.select(store.source_rows.c.source_key, store.source_rows.c.record))}


def _aside(settings) -> list[dict]:
    with store.engine_for(settings).connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(store.set_aside).order_by(store.set_aside.c.id)).mappings()]


def test_records_sharing_a_national_id_are_kept_apart_by_their_record_id(licences):
    settings, src = licences
    result = pipeline.sync_source("testlic.licences", settings)
    rows = _rows(settings)
    assert {"L-1", "L-2"} <= set(rows)  # a renewal no longer replaces the first licence
    assert rows["L-1"]["national_id"] == rows["L-2"]["national_id"] == NID
    assert "6" in rows  # the id is read as the source wrote it, digits made Latin
    assert result["rows_new"] == len(rows) == 5
    # rows in = published + quarantined, for every load
    assert result["rows_in"] == 7 == result["rows_new"] + result["rows_changed"] + result["rows_unchanged"] + \
        result["rows_quarantined"]
    with sqlite3.connect(src) as db:
        db.execute("UPDATE licences SET lname='احمدی‌نژاد', updated_at='2024-02-01 00:00:00' WHERE licence_no='L-2'")
    again = pipeline.sync_source("testlic.licences", settings)
    assert (again["rows_in"], again["rows_changed"], again["rows_new"]) == (1, 1, 0)
    rows = _rows(settings)
    assert rows["L-1"]["last_name"] == "احمدی" and rows["L-2"]["last_name"] == "احمدی‌نژاد"


def test_an_empty_record_id_or_required_field_quarantines_the_record_with_a_clear_reason(licences):
    settings, _ = licences
    pipeline.sync_source("testlic.licences", settings)
    with store.engine_for(settings).connect() as conn:
        q = conn.execute(sa.select(store.quarantine.c.raw, store.quarantine.c.reasons)).all()
    why = {raw["fname"]: [r["message"] for r in reasons] for raw, reasons in q}
    assert set(why) == {"حسن", "مریم"}
    assert any("record id licence_no is empty" in m for m in why["مریم"])
    assert any("last_name" in m for m in why["حسن"])


def test_a_bad_value_of_a_non_essential_field_is_set_aside_and_the_record_published(licences):
    settings, _ = licences
    result = pipeline.sync_source("testlic.licences", settings)
    rows, aside = _rows(settings), _aside(settings)
    assert "national_id" not in rows["L-3"] and rows["L-3"]["last_name"] == "کریمی"
    assert "birth_date" not in rows["L-4"] and rows["L-4"]["first_name"] == "زهرا"
    got = {(a["source_key"], a["field"]): a for a in aside}
    assert set(got) == {("L-3", "national_id"), ("L-4", "birth_date"), ("6", "mobile")}
    nid = got[("L-3", "national_id")]
    assert nid["value"] == "1234567890" and nid["source_field"] == "code_melli"
    assert nid["rule"] == "transform:national_id" and nid["status"] == "open"
    assert nid["reason"]["message"] and nid["reason"]["message_fa"]
    with store.engine_for(settings).connect() as conn:
        counted = conn.execute(sa.select(store.loads.c.values_set_aside)
                               .where(store.loads.c.load_id == result["load_id"])).scalar_one()
    assert counted == {"national_id": 1, "birth_date": 1, "mobile": 1}


def test_phones_land_by_kind_and_short_local_numbers_take_the_contracts_area_code(licences):
    settings, _ = licences
    pipeline.sync_source("testlic.licences", settings)
    rows = _rows(settings)
    assert rows["L-1"]["mobile"] == "+989151234567" and "phone" not in rows["L-1"]
    assert rows["L-3"]["phone"] == "+985138001234" and "mobile" not in rows["L-3"]  # a landline in the mobile column
    assert rows["L-4"]["phone"] == "+985138001234"  # 8 digits completed with `mobile:51`


def test_a_held_or_failed_load_leaves_no_set_aside_values_behind(licences):
    settings, _ = licences
    from munihub.ingest import loads
    load_id = pipeline.extract_and_stage("testlic.licences", settings)
    assert len(_aside(settings)) == 3
    loads.abandon_unfinished(store.engine_for(settings), "testlic.licences")  # as a crashed run's successor does
    assert _aside(settings) == []
    assert loads.load_row(store.engine_for(settings), load_id)["status"] == "abandoned"


def _contract(tmp_path, **replace) -> Path:
    text = (DATA / "licences.yaml").read_text(encoding="utf-8")
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_contract_names_its_record_id_and_essential_fields(tmp_path):
    c = contracts.load_contract(DATA / "licences.yaml")
    assert c.record_id == ("licence_no",) and c.key == []
    assert [f.name for f in c.fields if f.must_read] == ["last_name"]  # required ⇒ essential
    with pytest.raises(ContractError) as err:
        contracts.load_contract(_contract(tmp_path, **{"value: [licence_no]": "value: [1, 2]"}))
    assert any(":27: munihub: recordId must name the source field" in p for p in err.value.problems)


@pytest.mark.parametrize("spec, said", [
    ("mobile:5x", "is not a city code"),
    ("text:51", "takes no parameter"),
    ("phone_number", "unknown transform"),
])
def test_transform_parameters_are_checked_at_load_with_file_and_line(tmp_path, spec, said):
    with pytest.raises(ContractError) as err:
        contracts.load_contract(_contract(tmp_path, **{'transformLogic: "mobile:51"': f'transformLogic: "{spec}"'}))
    assert any("c.yaml:34: " in p and said in p for p in err.value.problems), err.value.problems


def _cli(monkeypatch, settings, capsys, *argv) -> tuple[int, str]:
    from munihub.cli.main import main
    for var, value in (("MUNIHUB_HOME", settings.home), ("MUNIHUB_STORE_URL", settings.store_url),
                       ("MUNIHUB_CONTRACTS", settings.contracts_dir), ("MUNIHUB_SCHEMAS", settings.schemas_dir)):
        monkeypatch.setenv(var, str(value))
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_stewards_list_count_replay_and_dismiss_set_aside_values(licences, monkeypatch, capsys):
    settings, _ = licences
    pipeline.sync_source("testlic.licences", settings)
    code, out = _cli(monkeypatch, settings, capsys, "quarantine", "values", "--count")
    assert code == 0 and "national_id" in out and "transform:national_id" in out and "birth_date" in out
    code, out = _cli(monkeypatch, settings, capsys, "quarantine", "values", "--field", "national_id")
    assert code == 0 and "L-3" in out and "1234567890" not in out  # the raw value is masked on screen
    code, out = _cli(monkeypatch, settings, capsys, "status")
    assert code == 0 and "set_aside" in out.splitlines()[0]
    assert next(line for line in out.splitlines() if "testlic.licences" in line).split()[5] == "3"

    # the registry's fix: the impossible 31st of Mehr was a typo for the 30th
    ids = {a["field"]: a["id"] for a in _aside(settings)}
    with store.engine_for(settings).begin() as conn:
        conn.execute(store.set_aside.update().where(store.set_aside.c.id == ids["birth_date"])
                     .values(value="1403/07/30"))
    from munihub.pipeline.replay import replay_set_aside
    done = replay_set_aside(settings, "testlic.licences", actor="sara")
    assert done == {"source": "testlic.licences", "replayed": 1, "still_set_aside": 2}
    assert _rows(settings)["L-4"]["birth_date"] == "2024-10-21"
    status = {a["field"]: (a["status"], a["decided_by"]) for a in _aside(settings)}
    assert status["birth_date"] == ("replayed", "sara") and status["national_id"][0] == "open"

    code, out = _cli(monkeypatch, settings, capsys, "quarantine", "dismiss-values", str(ids["national_id"]),
                     "--why", "the licence office never recorded it", "--by", "sara")
    assert code == 0 and "dismissed 1" in out
    from munihub.ingest import quarantine
    assert [r["field"] for r in quarantine.list_set_aside(settings)] == ["mobile"]


def test_a_local_number_without_the_contracts_city_code_is_set_aside_with_the_fix_named(tmp_path):
    from munihub.ingest.mapping import map_record
    c = contracts.load_contract(_contract(tmp_path, **{'transformLogic: "mobile:51"': "transformLogic: mobile"}))
    record, reasons, aside = map_record(c, {"licence_no": "L-9", "lname": "احمدی", "tel": "38001234"})
    assert record == {"last_name": "احمدی"} and reasons == []
    assert aside[0]["field"] == "mobile" and 'mobile:51' in aside[0]["message"] and aside[0]["value"] == "38001234"


def test_a_value_the_shared_schema_refuses_is_set_aside_unless_the_field_is_essential(tmp_path):
    from munihub.ingest.stage import check_record
    from munihub.ingest.validate import errors_of
    settings = Settings(home=tmp_path, store_url="sqlite://", contracts_dir=tmp_path, schemas_dir=REPO_ROOT / "schemas")
    c = contracts.load_contract(DATA / "licences.yaml")
    raw = {"licence_no": "L-9", "lname": "احمدی", "sex": "نامعلوم"}  # read as text, but not male/female
    record, key, reasons, aside = check_record(c, raw, errors_of(c, settings))
    assert (record, key, reasons) == ({"last_name": "احمدی"}, "L-9", [])
    assert [(a["field"], a["rule"], a["value"], a["source_field"]) for a in aside] == [("gender", "enum", "نامعلوم", "sex")]
    essential = contracts.load_contract(_contract(tmp_path, **{"transformLogic: text}": "transformLogic: text, "
                                                              "customProperties: [{property: essential, value: true}]}"}))
    record, key, reasons, aside = check_record(essential, raw, errors_of(essential, settings))
    assert [r["rule"] for r in reasons] == ["enum"] and aside == []


def test_status_and_sync_name_the_values_set_aside_per_field_even_after_a_quiet_rerun(licences, monkeypatch, capsys):
    settings, _ = licences
    from munihub.cli.main import main
    for var, value in (("MUNIHUB_HOME", settings.home), ("MUNIHUB_STORE_URL", settings.store_url),
                       ("MUNIHUB_CONTRACTS", settings.contracts_dir), ("MUNIHUB_SCHEMAS", settings.schemas_dir)):
        monkeypatch.setenv(var, str(value))
    code = main(["sync", "testlic.licences"])
    said = capsys.readouterr().err
    assert code == 0 and "3 value(s) set aside (birth_date 1, mobile 1, national_id 1" in said
    # bad input: one line naming the source, the record and the field
    [problem] = [line for line in said.splitlines() if "quarantined, e.g." in line]
    assert re.search(r"testlic\.licences record (L-5: last_name: required|at .*#\d+: licence_no: record id)", problem)
    _cli(monkeypatch, settings, capsys, "sync", "testlic.licences")  # reads nothing new, sets nothing aside
    code, out = _cli(monkeypatch, settings, capsys, "status", "--format", "json")
    import json
    [row] = json.loads(out)
    assert (row["rows_in"], row["set_aside"], row["set_aside_last_load"]) == (0, 3, 0)
    assert row["set_aside_by_field"] == {"birth_date": 1, "mobile": 1, "national_id": 1}
    assert row["set_aside_fields"] == "birth_date 1, mobile 1, national_id 1"


@pytest.mark.parametrize("tel, want, aside", [
    # a mobile and the home's landline in one field: both kept, each under its kind
    ("09151234567 - 05138001234", {"mobile": "+989151234567", "phone": "+985138001234"}, []),
    ("۳۸۰۰۱۲۳۴ / ۰۹۱۵۱۲۳۴۵۶۷", {"mobile": "+989151234567", "phone": "+985138001234"}, []),  # mobile:51's city code
    ("همراه: 09151234567 ثابت: 051-3800-1234", {"mobile": "+989151234567", "phone": "+985138001234"}, []),
    # two mobiles: the first kept, the second set aside (counted, for a steward), not dropped
    ("09151234567، 09121234567", {"mobile": "+989151234567"}, ["phone:second"]),
    ("تلفن 09151234567", {"mobile": "+989151234567"}, []),
    ("05138001234 داخلی 12", {"phone": "+985138001234"}, []),  # an extension is no number of its own
    ("پلاک 12 واحد 3", {}, ["transform:mobile"]),  # short digit groups are no phone
])
def test_a_phone_field_holding_several_numbers_or_words_keeps_every_number(tel, want, aside):
    from munihub.ingest.mapping import map_record
    contract = contracts.load_contract(DATA / "licences.yaml")
    record, reasons, set_aside = map_record(contract, {"licence_no": "L-9", "lname": "کریمی", "tel": tel})
    assert not reasons
    assert {k: record[k] for k in ("mobile", "phone") if k in record} == want
    assert [a["rule"] for a in set_aside] == aside


def test_a_registry_keyed_by_national_id_publishes_a_mistyped_id_keyed_as_written(licences, tmp_path):
    """No recordId, the national id the primary key: a row whose id fails its check digit still
    names its row.  It is published keyed by the id as written, the id set aside (for a steward
    and for matching); a row with no id at all has no key and waits in quarantine."""
    settings, _ = licences
    keyed = _contract(tmp_path, **{"      - {property: recordId, value: [licence_no]}\n": "",
                                   "transformLogic: national_id}": "transformLogic: national_id, primaryKey: true}"})
    shutil.copy(keyed, settings.contracts_dir / "testlic" / "licences.yaml")
    pipeline.sync_source("testlic.licences", settings)
    rows, aside = _rows(settings), _aside(settings)
    assert rows["1234567890"]["last_name"] == "کریمی" and "national_id" not in rows["1234567890"]
    assert [(a["source_key"], a["field"], a["rule"]) for a in aside if a["field"] == "national_id"] == \
        [("1234567890", "national_id", "transform:national_id")]
    assert rows[NID]["national_id"] == NID  # a valid id keys its row by its canonical form, as before
    with store.engine_for(settings).connect() as conn:
        why = [r for rs in conn.execute(sa.select(store.quarantine.c.reasons)).scalars() for r in rs]
    assert not any(r["rule"] == "key" for r in why)  # every row here has an id


@pytest.mark.parametrize("stand_in", ["ندارد", "-", "0", "0000000000", "۰۰۰۰/۰۰/۰۰", "نامشخص", "N/A"])
def test_a_stand_in_for_no_number_is_absent_not_set_aside(stand_in):
    """What clerks type where a number is unknown is no number gone wrong: the field is absent
    and nothing waits for a steward; a real value gone wrong is still set aside."""
    from munihub.ingest.mapping import map_record
    contract = contracts.load_contract(DATA / "licences.yaml")
    raw = {"licence_no": "L-9", "lname": "کریمی", "code_melli": stand_in, "tel": stand_in, "birth": stand_in}
    record, reasons, aside = map_record(contract, raw)
    assert not reasons and not aside and set(record) == {"last_name"}
    _, _, aside = map_record(contract, {**raw, "code_melli": "1234567890"})  # a wrong check digit
    assert [a["field"] for a in aside] == ["national_id"]
