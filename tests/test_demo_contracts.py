"""The demo municipality and its contracts: ODCS-valid, consistent with what the build writes,
every subsystem readable with the standard library, the 137 API paginated behind a token."""
from __future__ import annotations

import csv
import json
import re
import shutil
import sqlite3
import sys
import urllib.error
import urllib.request
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import sqlalchemy as sa
import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:   # `demo` is a top-level folder of the repo, not an installed package
    sys.path.insert(0, str(ROOT))

from demo import build as demo_build            # noqa: E402
from demo import requests_api                   # noqa: E402
from munihub import pipeline, store  # noqa: E402
from munihub.persian.ids import is_national_id  # noqa: E402
from munihub.testing import synthetic as syn  # noqa: E402
from munihub.config import Settings  # noqa: E402

CONTRACTS = sorted((ROOT / "contracts").rglob("*.yaml"))
TRANSFORMS = {"text", "person_name", "national_id", "mobile", "postal_code", "date", "datetime",
              "integer", "number", "gender", "title", "digits"}
SECRET_WORDS = re.compile(r"password|passwd|secret|token|api[_-]?key|credential", re.I)
ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
PERSONAL = {"national_id", "mobile", "birth_date", "address", "address.detail", "postal_code",
            "citizen_name", "owner_name", "payer_name", "latitude", "longitude"}


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def custom(items) -> dict:
    return {c["property"]: c["value"] for c in items or []}


def server_params(doc: dict) -> dict:
    server = doc["servers"][0]
    params = {k: v for k, v in server.items() if k in {"path", "format", "encoding", "location"}}
    params.update(custom(server.get("customProperties")))
    return params


def test_there_is_a_contract_per_demo_dataset():
    ids = {load(p)["id"] for p in CONTRACTS}
    assert {"registry.citizens", "rc137.requests", "urbanplanning.permits", "finance.payments",
            "projects.projects", "hr.agencies"} <= ids


@pytest.mark.parametrize("path", CONTRACTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_contract_is_valid_odcs_and_follows_conventions(path):
    schema = json.loads(resources.files("open_data_contract_standard").joinpath("schema.json").read_text("utf-8"))
    validator_cls = jsonschema.validators.validator_for(schema)
    assert validator_cls is jsonschema.Draft201909Validator     # the draft the schema declares
    validator_cls.check_schema(schema)
    doc = load(path)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in validator_cls(schema).iter_errors(doc)]
    assert errors == []
    assert doc["id"] == f"{path.parent.name}.{path.stem}"
    assert (doc["apiVersion"], doc["kind"], doc["status"], doc["tenant"]) == ("v3.1.0", "DataContract", "active", "mashhad")
    assert re.fullmatch(r"\d+\.\d+\.\d+", doc["version"])
    assert re.search("[\u0600-\u06FF]", doc["description"]["purpose"]) and re.search("[A-Za-z]{4}", doc["description"]["purpose"])
    assert doc["team"]["members"][0]["role"] == "owner"
    top = custom(doc["customProperties"])
    assert {"schedule", "retries", "retryDelaySeconds", "timeoutSeconds", "pool"} <= set(top)
    assert doc["slaProperties"][0]["property"] == "freshness"
    params = server_params(doc)
    assert params["connector"] in {"sql", "rest", "file"}
    needed = {"sql": {"url", "table", "watermark", "key", "batch_size"},
              "rest": {"url", "path", "records", "pagination", "incremental", "auth"},
              "file": {"path", "pattern", "format", "encoding"}}[params["connector"]]
    assert needed <= set(params)
    obj = doc["schema"][0]
    assert custom(obj["customProperties"])["sharedSchema"]
    assert (ROOT / "schemas" / f"{custom(obj['customProperties'])['sharedSchema']}.schema.json").is_file()
    assert any(q["metric"] == "rowCount" and q["severity"] == "error" for q in obj["quality"])
    props = obj["properties"]
    assert any(p.get("primaryKey") for p in props)
    about_people = custom(obj["customProperties"])["sharedSchema"] in {"person", "service_request", "permit", "payment"}
    for p in props:
        assert p["transformLogic"].partition(":")[0] in TRANSFORMS, p["name"]
        if about_people and p["name"] in PERSONAL:
            assert p["classification"] == "personal", p["name"]
        if p.get("primaryKey") and sum(bool(q.get("primaryKey")) for q in props) == 1:
            assert any(q["metric"] == "duplicateValues" for q in p.get("quality", [])), p["name"]


def test_dataset_ids_are_unique():
    ids = [load(p)["id"] for p in CONTRACTS]
    assert len(ids) == len(set(ids))


def _walk(value, path=()):
    """(path, leaf) pairs; an ODCS custom property {property: p, value: v} counts as key p."""
    if isinstance(value, dict) and set(value) >= {"property", "value"}:
        yield from _walk(value["value"], path + (str(value["property"]),))
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, path + (i,))
    else:
        yield path, value


@pytest.mark.parametrize("path", CONTRACTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_secret_looking_values(path):
    doc = load(path)
    params = server_params(doc)
    for name, env in (params.get("secrets") or {}).items():
        assert ENV_NAME.fullmatch(env), f"secret {name} must name an environment variable, not hold a value"
    # The `secrets` map is checked above (names -> variable names); everything else must hold no secret.
    for server in doc["servers"]:
        server["customProperties"] = [c for c in server.get("customProperties", []) if c["property"] != "secrets"]
    for where, value in _walk(doc):
        text = str(value)
        assert not re.search(r"://[^/\s:@]+:[^/\s@]+@", text), where           # password in a URL
        assert not re.search(r"bearer\s+\S{8,}", text, re.I), where
        assert not re.fullmatch(r"[A-Za-z0-9_\-]{24,}", text) or ENV_NAME.fullmatch(text), where
        keys = [k for k in where if isinstance(k, str)]
        if keys and SECRET_WORDS.search(keys[-1]):
            pytest.fail(f"{path}: {'/'.join(map(str, where))} looks like a secret")
    raw = path.read_text(encoding="utf-8")
    assert "/work/" not in raw and "/home/" not in raw and "/tmp/" not in raw


# ---------------------------------------------------------------- the built demo

@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    manifest = demo_build.build(out, seed=7, people=120)
    assert manifest["counts"]["registry.citizens"] > 120
    return out


def _env(demo_dir: Path) -> dict:
    return dict(line.split("=", 1) for line in (demo_dir / "demo.env").read_text().splitlines() if line)


def test_build_is_deterministic(tmp_path, demo_dir):
    demo_build.build(tmp_path, seed=7, people=120)
    for name in ("truth/persons.csv", "truth/requests.csv", "requests.json", "projects/projects_1403.jsonl"):
        assert (tmp_path / name).read_bytes() == (demo_dir / name).read_bytes(), name


def test_registry_and_payments_read_with_sqlite3(demo_dir):
    con = sqlite3.connect(demo_dir / "registry.db")
    rows = con.execute("SELECT code_melli, fname, birth_jalali, updated_at FROM citizens ORDER BY updated_at").fetchall()
    assert len(rows) > 120 and rows[0][3] <= rows[-1][3]
    ids = [r[0] for r in rows]
    assert None in ids                                                       # missing required field
    latin = [i.translate(str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "0123456789" * 2)).zfill(10) for i in ids if i]
    assert any(not is_national_id(i) for i in latin)               # bad check digit
    assert sum(is_national_id(i) for i in latin) > 0.9 * len(latin)
    assert any(r[2] and r[2].endswith(("/07/31", "/09/31", "/11/31")) for r in rows)   # impossible Jalali date
    assert any(re.search("[يك]", r[1] or "") for r in rows)                   # Arabic letter forms
    con.close()
    con = sqlite3.connect(demo_dir / "payments.db")
    pay = con.execute("SELECT shenase, mablagh_rial, tarikh, last_modified FROM pardakht").fetchall()
    assert len(pay) > 50 and any(p[1] is None for p in pay) and any(p[2] == "1403/07/31" for p in pay)
    assert all(p[3] for p in pay)
    con.close()


def test_permit_drop_has_cp1256_and_utf8_bom_files(demo_dir):
    legacy, modern = demo_dir / "permits" / "permits_1402.csv", demo_dir / "permits" / "permits_1403.csv"
    with pytest.raises(UnicodeDecodeError):
        legacy.read_bytes().decode("utf-8")
    assert modern.read_bytes().startswith(b"\xef\xbb\xbf")
    with legacy.open(encoding="cp1256", newline="") as fh:
        old = list(csv.DictReader(fh))
    with modern.open(encoding="utf-8-sig", newline="") as fh:
        new = list(csv.DictReader(fh))
    assert list(old[0]) == list(new[0]) == demo_build.PERMIT_COLUMNS
    assert any("ي" in r["MalekName"] + r["Address"] for r in old)
    both = old + new
    assert any(not r["ParvaneNo"] for r in both) and any(r["TarikhSodur"] == "1403/07/31" for r in both)


def test_files_json_and_xlsx_are_readable(demo_dir):
    lines = [json.loads(x) for f in sorted((demo_dir / "projects").glob("*.jsonl"))
             for x in f.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 60 and any(x["code"] is None for x in lines)
    assert isinstance(json.loads((demo_dir / "coordination" / "requests.json").read_text("utf-8")), list)
    assert isinstance(json.loads((demo_dir / "indicators" / "indicators.json").read_text("utf-8")), list)
    from openpyxl import load_workbook
    sheet = load_workbook(demo_dir / "agencies" / "agencies.xlsx", read_only=True).active
    rows = list(sheet.values)
    assert rows[0][0] == "Code" and len(rows) > 20


def _source_fields(doc: dict, demo_dir: Path) -> set[str]:
    """Every field name (dotted for nested JSON) the built source actually has."""
    params = server_params(doc)
    env = {**_env(demo_dir), "MUNIHUB_DEMO_137_URL": "http://127.0.0.1"}
    fill = lambda v: re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], v)  # noqa: E731
    if params["connector"] == "sql":
        con = sqlite3.connect(fill(params["url"]).removeprefix("sqlite:///"))
        cols = {r[1] for r in con.execute(f"PRAGMA table_info({params['table']})")}
        con.close()
        assert {params["watermark"], params["key"]} <= cols
        return cols
    if params["connector"] == "rest":
        records = json.loads((demo_dir / "requests.json").read_text("utf-8"))["data"]
    else:
        files = sorted(Path(fill(params["path"])).glob(params["pattern"]))
        assert files, params
        fmt = params["format"]
        if fmt == "csv":
            with files[0].open(encoding="utf-8-sig", errors="replace", newline="") as fh:
                return set(next(csv.reader(fh)))
        if fmt == "xlsx":
            from openpyxl import load_workbook
            return {c for c in next(load_workbook(files[0], read_only=True).active.values) if c}
        text = files[0].read_text("utf-8")
        records = [json.loads(x) for x in text.splitlines()] if fmt == "jsonl" else json.loads(text)
    names: set[str] = set()
    for rec in records:
        for where, _ in _walk(rec):
            names.add(".".join(map(str, where)))
    return names


@pytest.mark.parametrize("path", CONTRACTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_contract_physical_names_exist_in_the_built_source(path, demo_dir):
    doc = load(path)
    fields = _source_fields(doc, demo_dir)
    missing = [p["physicalName"] for p in doc["schema"][0]["properties"] if p["physicalName"] not in fields]
    assert missing == []


def test_truth_tables_label_every_source_record(demo_dir):
    with (demo_dir / "truth" / "persons.csv").open(encoding="utf-8") as fh:
        persons = list(csv.DictReader(fh))
    sources = {r["source"] for r in persons}
    assert sources == {"registry.citizens", "urbanplanning.permits", "finance.payments"}
    assert {r["negative_kind"] for r in persons} >= {"lookalike", "twin", "phone_reassigned"}
    assert {r["bad"] for r in persons} >= set(syn.BAD_KINDS)
    with (demo_dir / "truth" / "requests.csv").open(encoding="utf-8") as fh:
        reqs = list(csv.DictReader(fh))
    served = json.loads((demo_dir / "requests.json").read_text("utf-8"))["data"]
    assert {r["tracking_code"] for r in reqs} == {r["tracking_code"] for r in served}
    assert sum(r["is_follow_up"] == "1" for r in reqs) > 10


def _get(url: str, token: str | None):
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read().decode("utf-8"))


def test_137_api_pages_with_the_token(demo_dir):
    token = _env(demo_dir)["MUNIHUB_DEMO_137_TOKEN"]
    served = json.loads((demo_dir / "requests.json").read_text("utf-8"))["data"]
    url = requests_api.serve(demo_dir / "requests.json", token=token)
    try:
        assert url.startswith("http://127.0.0.1:")
        for bad in (None, "wrong"):
            with pytest.raises(urllib.error.HTTPError) as err:
                _get(f"{url}/requests", bad)
            assert err.value.code == 401
        with pytest.raises(urllib.error.HTTPError) as err:
            _get(f"{url}/requests?page=0", token)
        assert err.value.code == 400
        seen, page, nxt = [], 1, f"{url}/requests?page=1&size=40"
        while nxt:
            body = _get(nxt, token)
            assert body["page"] == page and len(body["data"]) <= 40
            seen += body["data"]
            nxt, page = body["next"], page + 1
        assert page - 1 == -(-len(served) // 40)
        assert sorted(r["tracking_code"] for r in seen) == sorted(r["tracking_code"] for r in served)
        stamps = [r["updated_at"] for r in seen]
        assert stamps == sorted(stamps)
        since = stamps[len(stamps) // 2]
        newer = _get(f"{url}/requests?size=500&updated_since={since}", token)
        # inclusive, as the REST connector's watermark expects: the request stamped `since` comes back
        assert newer["data"][0]["updated_at"] == since and all(r["updated_at"] >= since for r in newer["data"])
        assert newer["total"] == sum(s >= since for s in stamps)
        same = _get(f"{url}/requests?page=2&size=40", token)
        assert same["data"] == seen[40:80]
    finally:
        requests_api.shutdown(url)


def test_137_requests_sharing_the_last_stamp_are_not_lost_nor_published_twice(demo_dir, tmp_path, monkeypatch):
    """The rc137 contract through the pipeline against the demo server, three runs.

    The first run ends on three requests stamped in the same second.  The second run asks
    `updated_since` that second: the server sends those three again, plus one filed in that same
    second afterwards and one edited without its stamp moving; only those two are taken.
    """
    token = _env(demo_dir)["MUNIHUB_DEMO_137_TOKEN"]
    requests = sorted(json.loads((demo_dir / "requests.json").read_text("utf-8"))["data"],
                      key=lambda r: r["updated_at"])
    last = requests[-1]["updated_at"]
    for r in requests[-3:]:
        r["updated_at"] = last
    (tmp_path / "contracts" / "rc137").mkdir(parents=True)
    shutil.copy(ROOT / "contracts" / "rc137" / "requests.yaml", tmp_path / "contracts" / "rc137")
    settings = Settings(home=tmp_path / "home", store_url=f"sqlite:///{tmp_path / 'store.db'}",
                        contracts_dir=tmp_path / "contracts", schemas_dir=ROOT / "schemas", batch_size=25)
    monkeypatch.setenv("MUNIHUB_DEMO_137_TOKEN", token)

    def sync(records: list[dict]) -> dict:
        data = tmp_path / "requests.json"
        data.write_text(json.dumps({"data": records}, ensure_ascii=False), "utf-8")
        url = requests_api.serve(data, token=token)
        monkeypatch.setenv("MUNIHUB_DEMO_137_URL", url)
        try:
            return pipeline.sync_source("rc137.requests", settings)
        finally:
            requests_api.shutdown(url)

    def published() -> dict[str, tuple]:
        with store.engine_for(settings).connect() as conn:
            rows = conn.execute(sa.select(store.source_rows).where(store.source_rows.c.source == "rc137.requests"))
            return {r.source_key: (r.record_hash, r.load_id) for r in rows}

    def quarantined() -> int:
        with store.engine_for(settings).connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(store.quarantine)).scalar()

    first = sync(requests)
    before, held = published(), quarantined()
    boundary = [r for r in requests[-3:] if r["tracking_code"] in before]
    assert first["rows_in"] == len(requests) and len(boundary) >= 2, "the data no longer fits this test"
    late = {**boundary[0], "tracking_code": "1372419999999"}       # filed in the same second, after the run
    edited = {**boundary[1], "description": boundary[1]["description"] + " (دوباره)"}  # edited, same stamp
    second = sync(requests[:-3] + [r if r is not boundary[1] else edited for r in requests[-3:]] + [late])
    after = published()
    assert (second["rows_in"], second["rows_new"], second["rows_changed"]) == (2, 1, 1)
    assert set(after) == set(before) | {late["tracking_code"]} and quarantined() == held
    unchanged = set(before) - {edited["tracking_code"]}
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}  # not published again
    third = sync(requests[:-3] + [r if r is not boundary[1] else edited for r in requests[-3:]] + [late])
    assert third["rows_in"] == 0 and published() == after


def test_137_api_refuses_to_start_without_a_token(demo_dir, monkeypatch):
    monkeypatch.delenv(requests_api.TOKEN_ENV, raising=False)
    from munihub.errors import ConfigError
    with pytest.raises(ConfigError, match=requests_api.TOKEN_ENV):
        requests_api.serve(demo_dir / "requests.json")
