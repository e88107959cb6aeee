"""The file connector on real files in tmp_path: every format, encodings, once-only, safety."""
from __future__ import annotations

import codecs
import csv
import json
import os
import zipfile

import pytest

from connectors.files import FileConnector
from munihub.testing.conformance import ConnectorConformance
from munihub.errors import ConfigError, PermanentSourceError, SecurityError

PEOPLE = ["زهرا محمدی‌نژاد", "علی رضایی", "فاطمه کریمی", "محمدعلی حسینی‌پور", "مریم یوسفی"]


def people(first: int, n: int) -> list[dict]:
    return [{"id": str(i), "name": f"{PEOPLE[i % 5]} {i}", "city": "مشهد", "born": f"1360/0{i % 9 + 1}/1{i % 9}"}
            for i in range(first, first + n)]


def write(folder, name: str, rows: list[dict]) -> None:
    """`rows` written in the format that `name`'s extension says."""
    path = folder / name
    fmt = name.rsplit(".", 1)[1]
    if fmt in ("csv", "tsv"):
        with path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter="," if fmt == "csv" else "\t")
            w.writeheader()
            w.writerows(rows)
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    elif fmt == "json":
        path.write_text(json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")
    elif fmt == "xml":
        items = "".join(f'<p:person id="{r["id"]}"><name>{r["name"]}</name><city>{r["city"]}</city>'
                        f'<born>{r["born"]}</born></p:person>\n' for r in rows)
        path.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n<p:export xmlns:p="urn:x">\n{items}</p:export>\n',
                        encoding="utf-8")
    elif fmt == "xlsx":
        import openpyxl
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.append(list(rows[0]))
        for r in rows:
            ws.append([int(r["id"]), r["name"], r["city"], r["born"]])
        wb.save(path)


def files(folder, **params) -> FileConnector:
    return FileConnector({"path": str(folder), **params}, source="test.permits")


def read_all(conn, cursor=None):
    batches = list(conn.read_batches(cursor))
    return [r for b in batches for r in b.records], batches


class TestConformanceEachFormat(ConnectorConformance):
    expected_count = 26
    key_field = "id"
    incremental = True

    @pytest.fixture(params=["csv", "tsv", "jsonl", "json", "xml", "xlsx"])
    def make_connector(self, request, tmp_path):
        fmt = request.param
        write(tmp_path, f"b_1403.{fmt}", people(100, 15))
        write(tmp_path, f"a_1402.{fmt}", people(1, 11))
        return lambda: files(tmp_path, pattern=f"*.{fmt}", xml_record="person")


def test_every_format_gives_the_same_records_in_name_order(tmp_path):
    want = people(1, 4)
    for fmt in ("csv", "tsv", "jsonl", "json", "xml", "xlsx"):
        folder = tmp_path / fmt
        folder.mkdir()
        write(folder, f"x.{fmt}", want)
        records, batches = read_all(files(folder, xml_record="person"))
        got = [{k: str(v) for k, v in r.items()} for r in records]
        assert got == want, fmt
        assert batches[-1].positions[0] == {"csv": "x.csv line 2", "tsv": "x.tsv line 2", "jsonl": "x.jsonl line 1",
                                            "json": "x.json record 1 (line 2)", "xml": "x.xml record 1 (line 3)",
                                            "xlsx": "x.xlsx row 2"}[fmt]


def test_json_records_inside_a_document_by_dotted_path(tmp_path):
    doc = {"meta": {"page": 1}, "data": {"items": people(1, 3)}}
    (tmp_path / "api.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    records, batches = read_all(files(tmp_path, records="data.items"))
    assert records == people(1, 3) and batches[0].positions[2] == "api.json record 3"
    with pytest.raises(PermanentSourceError, match="no list of records at 'data.rows'"):
        read_all(files(tmp_path, records="data.rows"))


def test_windows_1256_persian_csv_is_detected_and_round_trips(tmp_path):
    text = "رضا پژوهش\u200cگر چگيني، کوچه 1"  # cp1256 has Arabic yeh and ZWNJ, no Persian digits
    (tmp_path / "legacy.csv").write_bytes(f"کد,نام و نشاني\n7,{text}\n".encode("cp1256"))
    records, batches = read_all(files(tmp_path))
    assert records == [{"کد": "7", "نام و نشاني": text}]
    assert "Windows-1256" in batches[0].where and "legacy.csv" in batches[0].where


def test_excels_unicode_text_is_read_by_its_byte_order_mark(tmp_path):
    """Excel's «Unicode Text» export: UTF-16 LE with its mark, tab-separated (found by
    bench_blind7: read as Windows-1256, every line was "expected 10 columns, found 1")."""
    text = "کد\tنام و نشانی\r\n7\tزهرا محمدی\u200cنژاد، کوچه ۱\r\n"
    (tmp_path / "members.txt").write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    records, batches = read_all(files(tmp_path, pattern="*.txt", format="tsv"))
    assert records == [{"کد": "7", "نام و نشانی": "زهرا محمدی\u200cنژاد، کوچه ۱"}]
    assert "UTF-16" in batches[0].where


def test_an_old_binary_excel_file_says_to_save_it_as_xlsx(tmp_path):
    (tmp_path / "volunteers.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)
    with pytest.raises(PermanentSourceError, match=r"Excel 97-2003.*\.xls") as auto:
        read_all(files(tmp_path, pattern="*.xls"))
    assert ".xlsx" in auto.value.hint
    with pytest.raises(PermanentSourceError, match=r"Excel 97-2003.*save it as \.xlsx"):
        read_all(files(tmp_path, pattern="*.xls", format="xlsx"))


def test_an_encoding_that_does_not_fit_says_which_to_write(tmp_path):
    # «ANSI», as Notepad names a Persian Windows file, passed lint and stopped the sync with
    # "unknown encoding"; a Windows-1256 file under `encoding: utf-8` said only "not valid utf-8"
    from munihub.contracts import lint_contract
    from munihub.cli.contracts import _connector_params
    contract = tmp_path.parent / f"{tmp_path.name}.yaml"
    contract.write_text(f"""apiVersion: v3.1.0
kind: DataContract
id: water.meters
version: 1.0.0
status: active
servers:
  - server: drop
    type: local
    path: "{tmp_path.as_posix()}"
    format: csv
    customProperties:
      - {{property: connector, value: file}}
      - {{property: encoding, value: ANSI}}
schema:
  - name: meters
    customProperties:
      - {{property: sharedSchema, value: person}}
    properties:
      - {{name: national_id, physicalName: "کد ملی", logicalType: string, primaryKey: true}}
""", encoding="utf-8")
    [problem] = lint_contract(contract, connectors=_connector_params())["problems"]
    assert "unknown encoding 'ANSI'" in problem["message"] and "windows-1256" in problem["message"]
    with pytest.raises(ConfigError) as info:
        files(tmp_path, encoding="ANSI")
    assert "windows-1256" in str(info.value)
    (tmp_path / "legacy.csv").write_bytes("کد,نام\n7,چگيني\n".encode("cp1256"))
    with pytest.raises(PermanentSourceError) as info:
        read_all(files(tmp_path, encoding="utf-8"))
    assert "not valid utf-8" in str(info.value) and "windows-1256" in str(info.value)


@pytest.mark.parametrize("name", ["legacy.xml", "legacy.jsonl"])
def test_windows_1256_xml_and_json_lines_are_detected_too(tmp_path, name):
    text = "كوچه گلها، پلاك 5"
    body = (f"<r><person><name>{text}</name></person></r>" if name.endswith("xml")
            else json.dumps({"name": text}, ensure_ascii=False) + "\n")
    (tmp_path / name).write_bytes(body.encode("cp1256"))
    records, batches = read_all(files(tmp_path, xml_record="person"))
    assert records == [{"name": text}] and "Windows-1256" in batches[0].where


def test_utf8_with_bom_leaves_no_bom_in_the_first_column(tmp_path):
    (tmp_path / "bom.csv").write_bytes("\ufeffکد ملی,نام\n0012345679,علی\n".encode("utf-8"))
    records, batches = read_all(files(tmp_path))
    assert records == [{"کد ملی": "0012345679", "نام": "علی"}]
    assert "1256" not in batches[0].where


@pytest.mark.parametrize("delimiter", ["\t", ";", "|"])
def test_delimiter_is_sniffed_from_the_header(tmp_path, delimiter):
    (tmp_path / "export.csv").write_text(delimiter.join(["id", "name", "note"]) + "\n" +
                                         delimiter.join(["1", "علی", "a, b"]) + "\n", encoding="utf-8")
    records, _ = read_all(files(tmp_path))
    assert records == [{"id": "1", "name": "علی", "note": "a, b"}]


@pytest.mark.parametrize("delimiter", [",", "\t", ";"])
def test_a_reports_title_rows_above_the_header_are_not_read_as_the_header(tmp_path, delimiter):
    """Exports made for people start with the report's title and date, one cell each."""
    lines = ["گزارش مشترکین آب منطقه ۹", "تاریخ تهیه: ۱۴۰۳/۰۸/۱۴", "", delimiter.join(["id", "name"]),
             delimiter.join(["1", "علی"]), delimiter.join(["2", ""])]
    (tmp_path / "report.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    import openpyxl
    wb = openpyxl.Workbook()
    for row in (["گزارش مشترکین آب منطقه ۹"], [], ["تاریخ تهیه: ۱۴۰۳/۰۸/۱۴", None], ["id", "name"], [1, "علی"], [2, None]):
        wb.active.append(row)
    wb.save(tmp_path / "report.xlsx")
    for name, two in (("report.csv", {"id": "2", "name": ""}), ("report.xlsx", {"id": 2, "name": None})):
        records, _ = read_all(files(tmp_path, pattern=name))
        assert records == [{"id": "1" if name.endswith("csv") else 1, "name": "علی"}, two], name


def test_a_reports_totals_row_is_no_record(tmp_path, caplog):
    """«جمع کل» and its sums, below the records of a report (or between them), is skipped and
    said; a row whose first cell only starts with «جمع» is a record."""
    import openpyxl
    wb = openpyxl.Workbook()
    for row in (["شماره پروانه", "مالک", "مبلغ"], ["P-1", "علی", 100], ["جمع کل:", None, 100],
                ["P-2", "جمعه‌ای", 5], [None, "مجموع", 105]):
        wb.active.append(row)
    wb.save(tmp_path / "report.xlsx")
    (tmp_path / "report.csv").write_text("id,name,amount\n1,علی,100\nجمع,,100\n", encoding="utf-8")
    with caplog.at_level("INFO"):
        xlsx, _ = read_all(files(tmp_path, pattern="report.xlsx"))
        csv_rows, _ = read_all(files(tmp_path, pattern="report.csv"))
    assert [r["شماره پروانه"] for r in xlsx] == ["P-1", "P-2"]
    assert csv_rows == [{"id": "1", "name": "علی", "amount": "100"}]
    assert "report.xlsx row 3: a totals row" in caplog.text and "report.csv line 3: a totals row" in caplog.text


def test_a_file_of_one_column_keeps_its_first_row_as_the_header(tmp_path):
    (tmp_path / "ids.csv").write_text("کد ملی\n0012345679\n0084575948\n", encoding="utf-8")
    records, _ = read_all(files(tmp_path))
    assert records == [{"کد ملی": "0012345679"}, {"کد ملی": "0084575948"}]
    many = ["کد ملی"] + [f"00{n:08d}" for n in range(12)]  # more single cells than title rows
    (tmp_path / "ids.csv").write_text("\n".join(many) + "\n", encoding="utf-8")
    records, _ = read_all(files(tmp_path))
    assert [r["کد ملی"] for r in records][-12:] == many[1:]


def test_each_file_read_once_by_content_even_when_renamed(tmp_path):
    write(tmp_path, "a.csv", people(1, 3))
    _, batches = read_all(files(tmp_path))
    cursor = json.loads(json.dumps(batches[-1].cursor))
    assert list(cursor["done"]) == ["a.csv"]
    os.rename(tmp_path / "a.csv", tmp_path / "renamed.csv")
    (tmp_path / "copy.csv").write_bytes((tmp_path / "renamed.csv").read_bytes())
    write(tmp_path, "b.csv", people(10, 2))
    records, _ = read_all(files(tmp_path), cursor)
    assert [r["id"] for r in records] == ["10", "11"]


def test_same_name_with_new_content_is_read_and_old_content_stays_known(tmp_path):
    write(tmp_path, "today.csv", people(1, 2))
    _, b1 = read_all(files(tmp_path))
    write(tmp_path, "today.csv", people(5, 2))
    records, b2 = read_all(files(tmp_path), b1[-1].cursor)
    assert [r["id"] for r in records] == ["5", "6"]
    assert len(b2[-1].cursor["done"]) == 2


def test_traversal_and_symlinks_out_of_the_folder_are_refused(tmp_path):
    drop, outside = tmp_path / "drop", tmp_path / "secret"
    drop.mkdir()
    outside.mkdir()
    write(outside, "passwd.csv", people(1, 1))
    with pytest.raises(SecurityError, match=r"\.\."):
        files(drop, pattern="../secret/*.csv")
    os.symlink(outside / "passwd.csv", drop / "link.csv")
    with pytest.raises(SecurityError, match="link.csv") as err:
        read_all(files(drop))
    assert "outside the drop folder" in str(err.value) and "test.permits" in str(err.value)
    with pytest.raises(SecurityError):
        files(drop).fail("../secret/passwd.csv", "nope")
    assert (outside / "passwd.csv").exists()


MALFORMED = {
    "quote.csv": ('id,name\n1,"علی\n2,رضا\n', "quote.csv line 2"),
    "width.csv": ("id,name\n1,علی\n2,رضا,اضافه\n", "quote.csv line 3".replace("quote", "width")),
    "bad.jsonl": ('{"id": 1}\n{"id": 2, "name": \n', "bad.jsonl line 2"),
    "list.jsonl": ('{"id": 1}\n[1, 2]\n', "list.jsonl line 2"),
    "cut.json": ('[\n {"id": 1},\n {"id": 2, "name": "عل', "cut.json line 3"),
    "open.json": ('[\n {"id": 1},\n', "open.json line 3"),
    "broken.xml": ('<?xml version="1.0"?>\n<r>\n<person><id>1</id></person>\n<person><id>2</person>\n</r>',
                   "broken.xml line 4"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_files_are_permanent_errors_naming_file_and_line(tmp_path, name):
    text, where = MALFORMED[name]
    write(tmp_path, "a_good.csv", people(1, 2))
    (tmp_path / name).write_text(text, encoding="utf-8")
    conn = files(tmp_path, xml_record="person")
    seen = []
    with pytest.raises(PermanentSourceError) as err:
        for batch in conn.read_batches(None):
            seen.append(batch)
    assert where in str(err.value) and "test.permits" in str(err.value)
    assert all(name not in b.cursor["done"] for b in seen)  # the bad file is not consumed
    assert seen and "a_good.csv" in seen[-1].cursor["done"]


def test_wrong_explicit_encoding_names_the_line(tmp_path):
    (tmp_path / "p.csv").write_bytes("id,name\n1,ali\n2,علي\n".encode("cp1256"))
    with pytest.raises(PermanentSourceError, match=r"p.csv line \d+: not valid utf-8"):
        read_all(files(tmp_path, encoding="utf-8"))


def test_xml_entities_are_refused_without_expansion(tmp_path):
    (tmp_path / "lol.xml").write_text('<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
                                      '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n'
                                      '<r><person><id>&b;</id></person></r>', encoding="utf-8")
    (tmp_path / "xxe.xml").write_text('<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                                      '<r><person><id>&x;</id></person></r>', encoding="utf-8")
    for name in ("lol.xml", "xxe.xml"):
        with pytest.raises(PermanentSourceError, match=f"{name} line 2: .*entities"):
            read_all(files(tmp_path, pattern=name, xml_record="person"))


def test_xlsx_that_is_not_a_zip_or_expands_too_far_is_refused(tmp_path):
    (tmp_path / "fake.xlsx").write_text("id,name\n1,x\n", encoding="utf-8")
    with pytest.raises(PermanentSourceError, match="fake.xlsx: not an xlsx"):
        read_all(files(tmp_path))
    (tmp_path / "fake.xlsx").unlink()
    with zipfile.ZipFile(tmp_path / "bomb.xlsx", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/worksheets/sheet1.xml", "0" * 5_000_000)
    with pytest.raises(PermanentSourceError, match="bomb.xlsx: the workbook expands to 5000000 bytes"):
        read_all(files(tmp_path, max_unzipped_bytes=1_000_000))


def test_finish_moves_only_published_files_and_fail_leaves_a_reason(tmp_path):
    write(tmp_path, "a.csv", people(1, 2))
    write(tmp_path, "b.csv", people(3, 2))
    conn = files(tmp_path, move=True, batch_size=2)
    first = next(iter(conn.read_batches(None)))
    assert conn.finish(first.cursor) == ["a.csv"]  # only what the published cursor lists
    assert (tmp_path / "processed" / "a.csv").exists() and (tmp_path / "b.csv").exists()
    assert files(tmp_path, move=False).finish({"done": {"b.csv": "x"}}) == []
    target = conn.fail("b.csv", "ستون تاریخ خالی است")
    assert target == tmp_path / "failed" / "b.csv"
    assert (tmp_path / "failed" / "b.csv.reason.txt").read_text(encoding="utf-8").strip() == "ستون تاریخ خالی است"
    assert read_all(files(tmp_path))[0] == []  # processed/ and failed/ are never read again


def test_missing_folder_and_unknown_format_are_reported(tmp_path):
    with pytest.raises(PermanentSourceError, match="does not exist"):
        files(tmp_path / "nope").check()
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(PermanentSourceError, match="notes.txt"):
        files(tmp_path).check()
    with pytest.raises(ConfigError, match="format"):
        files(tmp_path, format="parquet")


def test_a_pattern_matching_nothing_is_said_not_passed_off_as_a_quiet_read(tmp_path, caplog):
    write(tmp_path, "a.csv", people(1, 2))
    conn = FileConnector({"path": str(tmp_path), "pattern": "*.xlsx"}, source="drop")
    with caplog.at_level("WARNING", logger="munihub.connectors.file"):
        assert list(conn.read_batches(None)) == []
        conn.check()
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 2 and all("no file in drop folder" in m and "'*.xlsx'" in m and "drop" in m for m in said)
    caplog.clear()
    with caplog.at_level("WARNING", logger="munihub.connectors.file"):   # files there: nothing to say
        assert len(list(FileConnector({"path": str(tmp_path)}, source="drop").read_batches(None))) == 1
    assert caplog.records == []


def test_the_contract_can_make_an_empty_drop_folder_an_error(tmp_path):
    conn = FileConnector({"path": str(tmp_path), "if_no_files": "error"}, source="drop")
    with pytest.raises(PermanentSourceError, match="matches pattern '\\*'"):
        list(conn.read_batches(None))
    with pytest.raises(PermanentSourceError, match="no file in drop folder"):
        conn.check()
    with pytest.raises(ConfigError, match="if_no_files"):
        FileConnector({"path": str(tmp_path), "if_no_files": "maybe"}, source="drop")
