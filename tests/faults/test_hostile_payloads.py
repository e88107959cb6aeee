"""Hostile payloads: every parser and validator ends in a classified MunihubError or a clean result.

Hypothesis fuzzes the file formats (through FileConnector, the real entry point), the HTTP
body parsers, contract YAML, the normalizers, the validator and record staging; fixed cases
cover encodings, BOMs, duplicate keys, deep nesting, huge numbers, an xlsx zip bomb and a
2 GiB body streamed from a raw socket server that must be cut off at the byte cap.
"""
from __future__ import annotations

import contextlib
import importlib
import json
import math
import socket
import threading
import tracemalloc
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.files import FileConnector
from connectors.http_body import parse_json, parse_xml_records
from connectors.rest import RestConnector
from munihub import persian
from munihub.errors import MunihubError, PermanentSourceError, SourceError

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
TEXTISH = st.one_of(st.binary(max_size=400), st.text(max_size=300).map(lambda t: t.encode("utf-8")))
JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                       lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
                       max_leaves=20)


def _read_file(folder, name: str, body: bytes, **params) -> list | SourceError:
    """The records the file connector reads from `body`, or the classified error it refused it
    with: returned, not swallowed, so each test says which outcome is acceptable."""
    for old in folder.iterdir():
        old.unlink()
    (folder / name).write_bytes(body)
    conn = FileConnector({"path": str(folder), **params}, source="fuzz")
    try:
        return [r for b in conn.read_batches(None) for r in b.records]
    except SourceError as exc:
        return exc


@contextlib.contextmanager
def _python_peak():
    """Peak bytes Python allocated inside the block, from a baseline taken at its start (the
    process's lifetime RSS peak says nothing once an earlier test has used more)."""
    grown = [0]
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        yield grown
    finally:
        grown[0] = tracemalloc.get_traced_memory()[1] - base
        if started:
            tracemalloc.stop()


FORMATS = [("a.csv", {}, b"nid,name\n1,x\n2,y\n"), ("a.tsv", {}, b"nid\tname\n1\tx\n2\ty\n"),
           ("a.jsonl", {}, b'{"nid": 1}\n{"nid": 2}\n'), ("a.json", {}, b'[{"nid": 1}, {"nid": 2}]'),
           ("a.json", {"records": "data.items"}, b'{"data": {"items": [{"nid": 1}, {"nid": 2}]}}'),
           ("a.xml", {"xml_record": "r"}, b"<rs><r><nid>1</nid></r><r><nid>2</nid></r></rs>"),
           ("a.xlsx", {}, None)]


@pytest.mark.parametrize("name,params,good", FORMATS, ids=[f"{n}{p}" for n, p, _ in FORMATS])
def test_file_formats_survive_fuzzed_bytes(tmp_path_factory, name, params, good):
    folder = tmp_path_factory.mktemp("drop")
    if good is not None:  # the same reader reads a well-formed file: the fuzz is not all refusals
        assert [r["nid"] if isinstance(r["nid"], int) else int(r["nid"]) for r in _read_file(folder, name, good, **params)] == [1, 2]

    @FUZZ
    @given(body=TEXTISH)
    def check(body):
        out = _read_file(folder, name, body, **params)
        if isinstance(out, SourceError):   # refused: classified, naming the source and the file
            assert "fuzz" in str(out) and name in str(out), str(out)
        else:
            assert all(isinstance(r, dict) for r in out)

    check()


@FUZZ
@given(body=TEXTISH | JSONISH.map(lambda v: json.dumps(v).encode()))
def test_http_json_body_parser(body):
    try:
        value = parse_json(body, shown="http://x/y", source="fuzz")
    except PermanentSourceError as exc:
        assert "http://x/y" in str(exc) and "fuzz" in str(exc)   # names the URL and the source
        return
    # what it accepts, it reads exactly as the JSON standard library does (NaN compares unequal)
    expected = json.loads(body.decode("utf-8-sig"))
    assert json.dumps(value, sort_keys=True) == json.dumps(expected, sort_keys=True)


@FUZZ
@given(body=TEXTISH | st.text(alphabet="<>/=\"'&;!-[]r xa", max_size=200).map(str.encode))
def test_http_xml_body_parser(body):
    try:
        records = parse_xml_records(body, "r", shown="http://x/y", source="fuzz")
    except PermanentSourceError as exc:
        assert "http://x/y" in str(exc)
        return
    assert isinstance(records, list) and all(isinstance(r, dict) for r in records)


@FUZZ
@given(text=st.text(max_size=300) | st.text(alphabet="{}[]:,-&*!|>'\" \n\tabc%@`", max_size=200))
def test_contract_loader_on_fuzzed_yaml(tmp_path_factory, text):
    from munihub.contracts import load_contract
    path = tmp_path_factory.mktemp("c") / "c.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        contract = load_contract(path)
    except MunihubError as exc:
        assert "c.yaml" in str(exc), str(exc)   # every problem names the file it is in
        return
    assert contract.id   # accepted only as a whole contract


PARSERS = [persian.parse_national_id, persian.parse_mobile, persian.parse_phone, persian.parse_postal_code,
           persian.parse_gender, persian.parse_date, persian.parse_datetime, persian.normalize_text,
           persian.match_key, persian.name_key, persian.to_latin_digits]


@pytest.mark.parametrize("parse", PARSERS, ids=lambda f: f.__name__)
def test_normalizers_on_fuzzed_values(parse):
    @FUZZ
    @given(value=st.text(max_size=60) | st.text(alphabet="۰۱۲۳۴۵۶۷۸۹0123456789٠١٢٣/-+ :‌يكیک", max_size=30)
           | st.integers() | st.floats() | st.none())
    def check(value):
        try:
            out = parse(value)
        except MunihubError as exc:
            assert str(exc).strip()
            return
        except (TypeError, AttributeError):
            if isinstance(value, str):
                raise  # a non-string may be refused by type; a string never crashes a parser
            return
        # a canonical form is a fixed point: reading it again gives it back unchanged
        if isinstance(out, str):
            assert parse(out) == out, (value, out)

    check()


def _person_contract():
    from munihub.config import REPO_ROOT
    from munihub.contracts import load_contract
    return load_contract(REPO_ROOT / "tests" / "data" / "core" / "citizens.yaml", schemas_dir=REPO_ROOT / "schemas")


@FUZZ
@given(raw=st.dictionaries(st.sampled_from(["code_melli", "fname", "lname", "birth", "mobile", "x"]), JSONISH,
                           max_size=6) | JSONISH)
def test_validator_and_staging_classify_every_record(raw):
    from munihub.config import REPO_ROOT, Settings
    from munihub.ingest.validate import errors_of
    from munihub.ingest.stage import check_record
    contract = _person_contract()
    settings_ = Settings(home=REPO_ROOT, store_url="sqlite://", contracts_dir=REPO_ROOT, schemas_dir=REPO_ROOT / "schemas")
    record, key, reasons, _aside = check_record(contract, raw, errors_of(contract, settings_))
    assert reasons or key, "a record neither staged with a key nor quarantined with a reason"
    assert all(r.get("message") and "pointer" in r for r in reasons)


# ---------------------------------------------------------------- fixed cases

DEEP = b"[" * 100_000 + b"]" * 100_000
BIG_INT = b'[{"a": ' + b"9" * 10_001 + b"}]"


@pytest.mark.parametrize("body", [DEEP, BIG_INT], ids=["100k nested arrays", "10001-digit integer"])
def test_json_bombs_are_permanent_source_errors(body):
    with pytest.raises(PermanentSourceError):
        parse_json(body, shown="u", source="s")


@pytest.mark.parametrize("body, expected", [
    (DEEP, PermanentSourceError), (BIG_INT, PermanentSourceError),
    (b'{"data": [{"a": 1e400}]}', [{"a": math.inf}]), (b'\xef\xbb\xbf{"data": []}', []),
    (b'{"data": [{"a": 1, "a": 2}]}', [{"a": 2}]),                  # the last duplicate wins, as in json
    ('{"data": []}'.encode("utf-16"), PermanentSourceError),       # JSON is UTF-8 only
    (b'{"data": [{"a": "\xff\xfe"}]}', PermanentSourceError)],
    ids=["deep", "bigint", "1e400", "bom", "dup-keys", "utf16", "bad-utf8"])
def test_rest_source_bodies_end_classified_in_the_pipeline(tmp_path, body, expected):
    """Through munihub.ingest.extract (the pipeline's entry), anything a parser lets out is still a MunihubError."""
    from fakeserver import raw, serve
    from munihub.ingest.extract import read_batches
    with serve({"/x": raw(body)}) as server:
        conn = RestConnector({"url": server.url + "/x", "records": "data", "retries": 0}, source="hostile")
        try:
            outcome = [r for b in read_batches(conn, None) for r in b.records]
        except MunihubError as exc:
            outcome = exc
    if expected is PermanentSourceError:
        assert isinstance(outcome, PermanentSourceError), outcome
    else:
        assert not isinstance(outcome, Exception), outcome
        assert json.dumps(outcome, sort_keys=True) == json.dumps(expected, sort_keys=True)




@pytest.mark.parametrize("value", [float("inf"), float("nan"), 10 ** 5000, "\x00", "\ud800"],
                         ids=["inf", "nan", "5000-digit int", "NUL", "lone surrogate"])
def test_exotic_values_in_a_quarantined_raw_payload_store_cleanly(tmp_path, store_url, request, value):
    """A bad record carrying inf/NaN/NUL/lone surrogate is quarantined; a 5,000-digit int fails the load, classified."""
    import crashdriver
    import faultkit
    from fakeserver import Reply, serve
    from munihub import pipeline
    body = json.dumps({"data": [{"nid": "123", "fname": "x", "lname": "y", "extra": value}]}).encode() \
        if not isinstance(value, int) else b'{"data": [{"nid": "123", "extra": ' + b"9" * 5000 + b"}]}"
    with serve({"/x": lambda req: Reply(200, body, {"Content-Type": "application/json"})}) as server:
        cid = faultkit.rest_contract(tmp_path / "c", "exotic", server.url + "/x")
        settings_ = crashdriver.settings_for(store_url, tmp_path / "c", tmp_path / "home")
        if isinstance(value, int):   # past Python's 4,300-digit limit: the body itself is refused
            with pytest.raises(PermanentSourceError, match="refuses to read"):
                pipeline.sync_source(cid, settings_)
            return
        result = pipeline.sync_source(cid, settings_)   # quarantined, never a failed load
    assert result["rows_quarantined"] == 1


def test_xlsx_zip_bomb_is_refused_before_unzipping(tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    with zipfile.ZipFile(drop / "bomb.xlsx", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            chunk = b"\0" * (1 << 20)
            for _ in range(64):
                f.write(chunk)
    assert (drop / "bomb.xlsx").stat().st_size < 1 << 20
    importlib.import_module("openpyxl")  # first: the reader's import (~12 MiB) is no allocation of the bomb's
    with _python_peak() as grown, pytest.raises(PermanentSourceError, match="zip bomb"):
        list(FileConnector({"path": str(drop), "max_unzipped_bytes": 16 << 20}, source="bomb").read_batches(None))
    assert grown[0] < 4 << 20, f"refusing the bomb allocated {grown[0] >> 20} MiB"


class _Firehose:
    """A raw socket server that answers 200 and streams zeros until `limit` bytes or the client leaves."""

    def __init__(self, limit: int, declare: bool):
        self.limit, self.declare, self.sent = limit, declare, 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/big"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        conn, _ = self.sock.accept()
        with conn:
            conn.recv(65536)
            head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            head += f"Content-Length: {self.limit}\r\n\r\n" if self.declare else "Connection: close\r\n\r\n"
            chunk = b"0" * (1 << 20)
            try:
                conn.sendall(head.encode() + b"[")
                while self.sent < self.limit:
                    conn.sendall(chunk)
                    self.sent += len(chunk)
            except OSError:
                pass
        self.sock.close()


@pytest.mark.parametrize("declare", [False, True], ids=["no Content-Length", "Content-Length 2 GiB"])
def test_2gib_body_is_cut_off_at_the_byte_cap(declare):
    server = _Firehose(2 << 30, declare)
    conn = RestConnector({"url": server.url, "retries": 0, "max_response_bytes": 8 << 20, "allow_hosts": ["127.0.0.1"],
                          "timeout": {"connect": 2, "read": 5, "total": 30}}, source="firehose")
    with _python_peak() as grown, pytest.raises(PermanentSourceError, match="larger than"):
        list(conn.read_batches(None))
    print(f"firehose ({'declared' if declare else 'undeclared'}): server sent {server.sent >> 20} MiB, "
          f"Python peak {grown[0] >> 20} MiB above the baseline")
    assert server.sent < 256 << 20, "the client kept reading far past its cap"
    # the cap is 8 MiB: the body may be held up to it (and a copy), never the 2 GiB
    assert grown[0] < 32 << 20, f"reading allocated {grown[0] >> 20} MiB"
