"""Exports as agencies save them, read by contracts as agencies write them (found by
bench/bench_outsider.py): a Windows-1256 header spells «ي»/«ك» where the contract has «ی»/«ک»,
a CSV saved as UTF-8 keeps its byte-order mark on the first column, and a contract that names
its own record id keeps a record whose national id (its primaryKey) is mistyped."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from munihub.cli.main import main

from munihub import contracts, pipeline, store
from munihub.config import REPO_ROOT, Settings
from munihub.ingest.mapping import column_renames

from test_pipeline import national_id

NID = national_id("092345678")
CONTRACT = """apiVersion: v3.1.0
kind: DataContract
id: permits.cases
name: cases
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
      - {{property: encoding, value: {encoding}}}
schema:
  - name: cases
    physicalName: cases
    customProperties:
      - {{property: sharedSchema, value: person}}
      - {{property: recordId, value: "شماره پرونده"}}
    properties:
      - {{name: national_id, physicalName: "کد ملی مالک", logicalType: string, transformLogic: national_id, primaryKey: true}}
      - {{name: full_name, physicalName: "نام مالک", logicalType: string, transformLogic: person_name}}
      - {{name: mobile, physicalName: "تلفن همراه", logicalType: string, transformLogic: "mobile:51"}}
customProperties:
  - {{property: retries, value: 0}}
"""


def _sync(tmp_path, header: list[str], rows: list[list[str]], encoding: str, contract_encoding: str,
          store_url: str | None = None):
    drop = tmp_path / "drop"
    drop.mkdir()
    lines = [",".join(header)] + [",".join(r) for r in rows]
    (drop / "cases.csv").write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    (tmp_path / "contracts" / "permits").mkdir(parents=True)
    (tmp_path / "contracts" / "permits" / "cases.yaml").write_text(
        CONTRACT.format(folder=drop.as_posix(), encoding=contract_encoding), "utf-8")
    settings = Settings(home=tmp_path / "home", store_url=store_url or f"sqlite:///{tmp_path / 'store.db'}",
                        contracts_dir=tmp_path / "contracts", schemas_dir=REPO_ROOT / "schemas")
    result = pipeline.sync_source("permits.cases", settings)
    with store.engine_for(settings).connect() as conn:
        rows = dict(conn.execute(sa.select(store.source_rows.c.source_key, store.source_rows.c.record)).all())
        aside = [(a.source_key, a.field) for a in conn.execute(sa.select(store.set_aside))]
    return result, rows, aside


def test_a_windows_1256_header_with_arabic_letters_is_read_under_the_contracts_persian_names(tmp_path):
    # Windows-1256 has no Persian «ی» or «ک»: Excel writes «ي» and «ك», in the header too
    header = ["شماره پرونده", "کد ملي مالك", "نام مالك", "تلفن همراه"]
    header = [h.replace("ی", "ي").replace("ک", "ك") for h in header]
    result, rows, _ = _sync(tmp_path, header, [["14021001", NID, "علي احمدي", "09151234567"]],
                            "cp1256", "windows-1256")
    assert result["rows_quarantined"] == 0
    assert rows["14021001"]["national_id"] == NID
    assert rows["14021001"]["full_name"] == "علی احمدی" and rows["14021001"]["mobile"] == "+989151234567"


def test_a_utf8_csv_with_a_byte_order_mark_keeps_its_first_column(tmp_path):
    # the record id is the first column; read as "utf-8" the header's first name starts with U+FEFF
    result, rows, _ = _sync(tmp_path, ["شماره پرونده", "کد ملی مالک", "نام مالک", "تلفن همراه"],
                            [["T-1", NID, "زهرا رضایی", ""]], "utf-8-sig", "utf-8")
    assert result["rows_quarantined"] == 0 and set(rows) == {"T-1"}


def test_a_mistyped_national_id_under_a_record_id_is_set_aside_not_the_record(tmp_path):
    bad = NID[:-1] + str((int(NID[-1]) + 1) % 10)
    result, rows, aside = _sync(tmp_path, ["شماره پرونده", "کد ملی مالک", "نام مالک", "تلفن همراه"],
                                [["T-1", bad, "زهرا رضایی", "09151234567"], ["T-2", NID, "علی احمدی", ""]],
                                "utf-8", "utf-8")
    assert result["rows_quarantined"] == 0
    assert rows["T-1"] == {"full_name": "زهرا رضایی", "mobile": "+989151234567"}
    assert aside == [("T-1", "national_id")]


def test_a_primary_key_is_essential_when_required_or_read_as_written(tmp_path):
    """Without a recordId a key field's value its reader refuses still names its row (published
    keyed as written, `mapping.source_key`; an empty key waits in quarantine): only a required
    key quarantines the record for an unreadable value."""
    path = tmp_path / "c.yaml"
    text = CONTRACT.format(folder=tmp_path.as_posix(), encoding="utf-8")
    path.write_text(text, "utf-8")
    with_id = contracts.load_contract(path)
    assert [f.name for f in with_id.fields if f.must_read] == []
    no_id = text.replace('      - {property: recordId, value: "شماره پرونده"}\n', "")
    path.write_text(no_id, "utf-8")
    assert [f.name for f in contracts.load_contract(path).fields if f.must_read] == []
    path.write_text(text.replace("primaryKey: true", "primaryKey: true, required: true"), "utf-8")
    assert [f.name for f in contracts.load_contract(path).fields if f.must_read] == ["national_id"]


@pytest.mark.parametrize("columns, renamed", [
    ({"کد ملي", "نام"}, {"کد ملي": "کد ملی"}),                     # Arabic yeh
    ({"\ufeffکد ملی", "نام"}, {"\ufeffکد ملی": "کد ملی"}),         # byte-order mark
    ({"کد  ملی", "نام"}, {"کد  ملی": "کد ملی"}),                   # two spaces
    ({"کد‌ملی", "نام"}, {"کد‌ملی": "کد ملی"}),                     # a half-space
    ({"کد ملی", "کد ملي", "نام"}, {}),                              # the exact name is there: nothing moves
    ({"کد ملي", "كد ملی", "نام"}, {}),                              # two candidates: none is guessed
])
def test_a_column_is_renamed_only_when_the_exact_name_is_missing_and_one_spelling_fits(columns, renamed):
    record = {c: "x" for c in columns}
    assert column_renames({"کد ملی", "نام"}, [record]) == renamed


def test_a_payment_carries_its_payers_address_into_the_person_it_names(tmp_path):
    # a water bill names its subscriber and the subscription's address and postal code:
    # the payer's mention needs them to tell one «علی احمدی» from another
    from munihub.ingest.stage import check_record
    from munihub.ingest.validate import errors_of
    from munihub.resolve.records import person_mention

    path = tmp_path / "bills.yaml"
    path.write_text(CONTRACT.format(folder=tmp_path.as_posix(), encoding="utf-8")
                    .replace("sharedSchema, value: person", "sharedSchema, value: payment")
                    .replace("national_id, physicalName: \"کد ملی مالک\", logicalType: string, transformLogic: national_id, "
                             "primaryKey: true", "payment_id, physicalName: \"شماره پرونده\", logicalType: string, "
                             "primaryKey: true")
                    .replace("name: full_name", "name: payer_name")
                    .replace("    properties:\n", "    properties:\n"
                             "      - {name: amount_rial, physicalName: amount, logicalType: integer, transformLogic: integer}\n"
                             "      - {name: address.detail, physicalName: addr, logicalType: string}\n"
                             "      - {name: address.postal_code, physicalName: postal, logicalType: string, "
                             "transformLogic: postal_code}\n"), "utf-8")
    c = contracts.load_contract(path)
    settings = Settings(home=tmp_path, store_url="sqlite://", contracts_dir=tmp_path, schemas_dir=REPO_ROOT / "schemas")
    raw = {"شماره پرونده": "B-1", "نام مالک": "احمدی علی", "amount": "120000",
           "addr": "مشهد، بلوار سجاد، کوچه ۱۲، پلاک ۴", "postal": "۹۱۸۴۷۶۵۴۳۱"}
    record, key, reasons, aside = check_record(c, raw, errors_of(c, settings))
    assert (key, reasons, aside) == ("B-1", [], [])
    mention = person_mention(record)
    assert mention["postal_code"] == "9184765431" and mention["address"]["detail"].startswith("مشهد")


def test_a_record_id_the_source_re_used_for_another_record_is_said_with_where(tmp_path, store_url, monkeypatch,
                                                                              capsys):
    # a case number passed to a new owner: publish keeps the last copy of a key, so the first
    # owner's record is not published; the load says so, naming both places
    rows = [["14021001", NID, "علی احمدی", ""], ["14021002", national_id("093456789"), "زهرا رضایی", ""],
            ["14021001", national_id("094567890"), "حسن کریمی", ""], ["14021002", national_id("093456789"),
                                                                       "زهرا رضایی", ""]]  # the same again: fine
    result, published, _ = _sync(tmp_path, ["شماره پرونده", "کد ملی مالک", "نام مالک", "تلفن همراه"], rows,
                                 "utf-8", "utf-8", store_url)
    assert published["14021001"]["full_name"] == "حسن کریمی"
    assert result["rows_overwritten"] == 1
    assert result["overwritten"].startswith("1 row(s) share their record id (شماره پرونده) with a later row of other "
                                            "values and are not published (their records are kept for matching "
                                            "persons only), e.g. cases.csv line 2 and cases.csv line 4")
    # the command line says it in one line after the sync's summary
    (tmp_path / "drop" / "cases2.csv").write_text("شماره پرونده,کد ملی مالک,نام مالک,تلفن همراه\r\n"
                                                  f"7,{NID},علی احمدی,\r\n7,{NID},علی احمدیان,\r\n", "utf-8")
    for var, value in (("MUNIHUB_HOME", tmp_path / "home"), ("MUNIHUB_STORE_URL", store_url),
                       ("MUNIHUB_CONTRACTS", tmp_path / "contracts"), ("MUNIHUB_SCHEMAS", REPO_ROOT / "schemas")):
        monkeypatch.setenv(var, str(value))
    assert main(["sync", "permits.cases"]) == 0
    said = capsys.readouterr().err.strip().splitlines()
    assert said[-1] == ("munihub: 1 row(s) share their record id (شماره پرونده) with a later row of other values and "
                        "are not published (their records are kept for matching persons only), e.g. cases2.csv line 2 and cases2.csv line 3; if the rows are one record's history (a "
                        "status log), the last one read is published; if the source re-uses ids for other records, "
                        "name more fields in recordId (unique record id شماره پرونده: measured 1 rows, expected mustBe 0)")


def test_a_source_without_re_used_ids_has_nothing_said(tmp_path):
    result, published, _ = _sync(tmp_path, ["شماره پرونده", "کد ملی مالک", "نام مالک", "تلفن همراه"],
                                 [["1", NID, "علی احمدی", ""], ["1", NID, "علی احمدی", ""]], "utf-8", "utf-8")
    assert "rows_overwritten" not in result and set(published) == {"1"}


def test_a_column_the_contract_names_and_the_source_lacks_is_said_with_the_nearest_one(tmp_path, caplog):
    # «تلفن همراه» misspelt in the export as «شماره همراه»: no spelling of the same letters
    # fits, so the mobile reads as empty in every record; the sync says so, with where
    caplog.set_level("WARNING", logger="munihub.ingest.mapping")
    result, rows, _ = _sync(tmp_path, ["شماره پرونده", "کد ملی مالک", "نام مالک", "تلفن همراه مالک"],
                            [["14021001", NID, "علی احمدی", "09151234567"]], "utf-8", "utf-8")
    assert result["rows_quarantined"] == 0 and "mobile" not in rows["14021001"]
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(said) == 1 and "permits.cases" in said[0] and "cases.csv" in said[0]
    assert "'تلفن همراه' (the source has 'تلفن همراه مالک')" in said[0]


def test_nothing_is_said_when_every_column_is_there(tmp_path, caplog):
    caplog.set_level("WARNING", logger="munihub.ingest.mapping")
    _sync(tmp_path, ["شماره پرونده", "کد ملی مالک", "نام مالک", "تلفن همراه"],
          [["14021001", NID, "علی احمدی", "09151234567"]], "utf-8", "utf-8")
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_persian_column_names_with_a_half_space_are_source_fields(tmp_path):
    """«شماره‌ پرونده», «کد ملی‌ مالک»: Persian headers carry the half-space (ZWNJ), which Python
    calls unprintable; the contract may name them so, as recordId and physicalName (found by
    bench/bench_blind4.py: lint refused «شماره ثبت‌نام»), and lint says it is runnable."""
    from munihub.contracts import lint_contract

    header = ["شماره\u200cپرونده", "کد ملی\u200cمالک", "نام مالک", "تلفن همراه"]
    global CONTRACT
    plain = CONTRACT
    CONTRACT = plain.replace('"شماره پرونده"', '"شماره\u200cپرونده"').replace('"کد ملی مالک"', '"کد ملی\u200cمالک"')
    try:
        result, rows, _ = _sync(tmp_path, header, [["14021001", NID, "علی احمدی", "09151234567"]], "utf-8", "utf-8")
    finally:
        CONTRACT = plain
    assert result["rows_quarantined"] == 0 and rows["14021001"]["national_id"] == NID
    report = lint_contract(tmp_path / "contracts" / "permits" / "cases.yaml")
    assert report["runnable"], report["problems"]


def test_a_mobile_a_spreadsheet_rounded_is_set_aside_not_published_padded_with_zeros(tmp_path):
    # a CSV saved from Excel with the mobile column too narrow: «9.15123E+09» is 9151234567 with
    # four digits lost; read as 9151230000 it would publish another subscriber's number
    result, rows, aside = _sync(tmp_path, ["شماره پرونده", "کد ملی مالک", "نام مالک", "تلفن همراه"],
                                [["T-1", NID, "زهرا رضایی", "9.15123E+09"], ["T-2", "", "علی احمدی", "9.151234567E+09"]],
                                "utf-8", "utf-8")
    assert result["rows_quarantined"] == 0
    assert "mobile" not in rows["T-1"] and rows["T-2"]["mobile"] == "+989151234567"
    assert aside == [("T-1", "mobile")]


def test_a_header_with_a_dot_is_one_column_not_a_nested_path(tmp_path, monkeypatch):
    # «ش.پرونده», «ش.همراه», «تاریخ تولد (ه.ش)»: Persian headers abbreviate with dots; the
    # contract's physicalName was read as a path into a nested object, found nothing, and the
    # mobile was published absent (the record id: every row quarantined for an empty key)
    import sys
    dotted = CONTRACT.replace('"شماره پرونده"', '"ش.پرونده"').replace('"تلفن همراه"', '"ش.همراه"')
    monkeypatch.setattr(sys.modules[__name__], "CONTRACT", dotted)
    result, rows, aside = _sync(tmp_path, ["ش.پرونده", "کد ملی مالک", "نام مالک", "ش.همراه"],
                                [["T-1", NID, "زهرا رضایی", "09151234567"]], "utf-8", "utf-8")
    assert result["rows_quarantined"] == 0 and not aside
    assert rows == {"T-1": {"national_id": NID, "full_name": "زهرا رضایی", "mobile": "+989151234567"}}


def test_a_field_name_written_as_physical_name_is_told_the_column_of_its_persian_title(tmp_path, caplog):
    # physicalName: national_id on a Persian export: the warning named no column the source has
    import sys
    english = CONTRACT.replace('physicalName: "کد ملی مالک"', "physicalName: national_id").replace(
        "value: person}}", "value: person}}").replace('{{name: full_name, physicalName: "نام مالک"',
                                                       '{{name: full_name, physicalName: full_name')
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(sys.modules[__name__], "CONTRACT", english)
    try:
        with caplog.at_level("WARNING"):
            _sync(tmp_path, ["شماره پرونده", "کد ملی", "نام کامل", "تلفن همراه"],
                  [["T-1", NID, "زهرا رضایی", ""]], "utf-8", "utf-8")
    finally:
        monkeypatch.undo()
    assert "'national_id' (the source has 'کد ملی')" in caplog.text
    assert "'full_name' (the source has 'نام کامل')" in caplog.text


def test_districts_are_published_as_one_value_however_each_system_writes_them(tmp_path):
    """A property on a district field with no transformLogic is read as a district: «۳»,
    «منطقه۳» and «3» are published as «منطقه 3», so a manager's dashboard by district counts
    one district once; «ناحیه ۲» (a sub-district) stays as written."""
    global CONTRACT
    plain = CONTRACT
    CONTRACT = plain.replace("    properties:\n", "    properties:\n      - {{name: address.district, "
                             "physicalName: \"منطقه\", logicalType: string}}\n")
    try:
        result, rows, _ = _sync(tmp_path, ["شماره پرونده", "کد ملی مالک", "نام مالک", "تلفن همراه", "منطقه"],
                                [["A", NID, "علی احمدی", "", "۳"], ["B", "", "زهرا رضایی", "", "منطقه۳"],
                                 ["C", "", "حسن نوری", "", "3"], ["D", "", "مریم کریمی", "", "ناحیه ۲"]],
                                "utf-8", "utf-8")
    finally:
        CONTRACT = plain
    assert result["rows_quarantined"] == 0
    assert {k: r["address"]["district"] for k, r in rows.items()} == {
        "A": "منطقه 3", "B": "منطقه 3", "C": "منطقه 3", "D": "ناحیه 2"}
