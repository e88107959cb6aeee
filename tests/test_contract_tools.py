"""Contract tooling on real things: a temporary git repo, a SQLite source, files in tmp_path."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
import yaml

from munihub import store
from munihub.report.catalog import write_catalog
from munihub.cli.main import build_parser, main
from munihub.config import REPO_ROOT, Settings
from munihub.contracts.gate import check_against
from munihub.contracts.template import new_contract, todo_markers
from munihub.pipeline.contract_test import freshness_result
from munihub.contracts import load_contract
from munihub.errors import ContractError, ConfigError
from munihub.persian.ids import national_id_check_digit

BASE = Path(__file__).parent / "data" / "contracts" / "base.yaml"
SCHEMAS = REPO_ROOT / "schemas"


def national_id(first9: str) -> str:
    """A national id with a valid check digit: the package's one implementation."""
    return first9 + str(national_id_check_digit(first9))


# ---------------------------------------------------------------- check --against in a real git repo

def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args], cwd=repo,
                          check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    (root / "contracts" / "ctest").mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    shutil.copy(BASE, root / "contracts" / "ctest" / "payments.yaml")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "first contract")
    return root


def edit(path: Path, fn) -> None:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    fn(doc)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")


def narrow(doc):
    next(p for p in doc["schema"][0]["properties"] if p["name"] == "reference")["logicalType"] = "integer"


def test_check_fails_on_a_breaking_change_without_a_major_bump(repo, capsys):
    path = repo / "contracts" / "ctest" / "payments.yaml"
    edit(path, lambda d: (narrow(d), d.update(version="1.3.0")))
    code = main(["contracts", "check", "--against", "HEAD", "--contracts", str(repo / "contracts")])
    captured = capsys.readouterr()
    assert code == 1
    assert "contracts/ctest/payments.yaml" in captured.out and "violation" in captured.out
    assert "schema.payments.reference.logicalType" in captured.err and "date" not in captured.err.split("→")[0][-5:]


def test_check_fails_on_a_tightened_constraint_or_an_added_object_bumped_too_little(repo, capsys):
    path = repo / "contracts" / "ctest" / "payments.yaml"

    def tighten(d):
        next(p for p in d["schema"][0]["properties"] if p["name"] == "reference")["logicalTypeOptions"] = \
            {"minLength": 6}
        d["version"] = "1.3.0"
    edit(path, tighten)
    assert main(["contracts", "check", "--against", "HEAD", "--contracts", str(repo / "contracts")]) == 1
    assert "schema.payments.reference.logicalTypeOptions.minLength" in capsys.readouterr().err
    edit(path, lambda d: next(p for p in d["schema"][0]["properties"] if p["name"] == "reference").pop(
        "logicalTypeOptions"))
    edit(path, lambda d: d["schema"].append({"name": "refunds", "properties": [{"name": "payment_id"}]}))
    assert main(["contracts", "check", "--against", "HEAD", "--contracts", str(repo / "contracts"),
                 "--format", "json"]) == 0  # an added object is a minor change; 1.3.0 covers it
    assert "schema.refunds" in capsys.readouterr().out


def test_check_passes_with_a_major_bump_and_names_new_files(repo, capsys):
    path = repo / "contracts" / "ctest" / "payments.yaml"
    edit(path, lambda d: (narrow(d), d.update(version="2.0.0")))
    shutil.copy(BASE, repo / "contracts" / "ctest" / "other.yaml")
    git(repo, "add", "contracts/ctest/other.yaml")
    code = main(["contracts", "check", "--against", "HEAD", "--contracts", str(repo / "contracts"), "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["ok"]
    assert {f["file"]: f["status"] for f in data["files"]} == \
        {"contracts/ctest/payments.yaml": "ok", "contracts/ctest/other.yaml": "new"}


def test_check_counts_a_deleted_contract_as_breaking(repo):
    (repo / "contracts" / "ctest" / "payments.yaml").unlink()
    results = check_against("HEAD", repo / "contracts")
    assert [(r["file"], r["status"]) for r in results] == [("contracts/ctest/payments.yaml", "violation")]
    assert "deleted" in results[0]["message"]


def test_check_against_an_older_commit(repo):
    path = repo / "contracts" / "ctest" / "payments.yaml"
    edit(path, lambda d: d.update(version="1.2.4", description={"purpose": "بهتر"}))
    git(repo, "commit", "-qam", "describe better")
    assert check_against("HEAD~1", repo / "contracts")[0]["status"] == "ok"
    assert check_against("HEAD", repo / "contracts") == []


def test_check_outside_git_and_with_an_unknown_ref_says_so(tmp_path, repo):
    (tmp_path / "plain" / "contracts").mkdir(parents=True)
    with pytest.raises(ConfigError, match="not a git checkout"):
        check_against("HEAD", tmp_path / "plain" / "contracts")
    with pytest.raises(ConfigError, match="unknown git ref 'nosuchbranch'"):
        check_against("nosuchbranch", repo / "contracts")


def test_the_projects_own_contracts_pass_check_against_head(capsys):
    if not (REPO_ROOT / ".git").exists():
        pytest.skip("the project is not a git checkout here")
    code = main(["contracts", "check", "--against", "HEAD", "--contracts", str(REPO_ROOT / "contracts")])
    assert code == 0, capsys.readouterr()


# ---------------------------------------------------------------- new

@pytest.fixture
def env(tmp_path, monkeypatch):
    (tmp_path / "contracts").mkdir()
    monkeypatch.setenv("MUNIHUB_CONTRACTS", str(tmp_path / "contracts"))
    monkeypatch.setenv("MUNIHUB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MUNIHUB_SCHEMAS", str(SCHEMAS))
    return tmp_path


def test_new_writes_a_template_that_lint_flags_until_the_todos_are_filled(env, capsys):
    assert main(["contracts", "new", "--agency", "transit", "--dataset", "riders", "--schema", "person"]) == 0
    path = env / "contracts" / "transit" / "riders.yaml"
    text = path.read_text(encoding="utf-8")
    assert "apiVersion: v3.1.0" in text and "physicalName: TODO" in text
    assert "کد ملی" in text and "environment variable" in text        # Persian and English guidance
    assert "- name: address.city" in text                              # nested shared fields pre-listed
    capsys.readouterr()
    assert main(["contracts", "lint", str(path)]) == 1
    out = capsys.readouterr().out
    assert "TODO at" in out and f"{path}:" in out and "physicalName" in out
    path.write_text(text.replace("TODO", "filled"), encoding="utf-8")
    contract = load_contract(path, schemas_dir=SCHEMAS)
    assert contract.id == "transit.riders" and contract.key == ["national_id"] and contract.entity_type == "person"
    assert contract.secrets == {"url": "TRANSIT_RIDERS_DB_URL"}
    assert todo_markers(path) == []
    assert main(["contracts", "lint", str(path)]) == 0


@pytest.mark.parametrize("connector", ["rest", "file", "soap"])
def test_new_templates_for_other_connectors_load(tmp_path, connector):
    path = new_contract("water", "meters", "payment", connector, tmp_path, SCHEMAS)
    with pytest.raises(ContractError) as err:  # a template is not a contract until its TODOs are filled
        load_contract(path, schemas_dir=SCHEMAS)
    assert err.value.problems and all("TODO at" in p for p in err.value.problems)
    assert todo_markers(path)
    path.write_text(path.read_text(encoding="utf-8").replace("TODO", "filled"), encoding="utf-8")
    assert load_contract(path, schemas_dir=SCHEMAS).connector == connector


@pytest.mark.parametrize("agency,dataset", [("../etc", "x"), ("a", "../../x"), ("a;drop", "x"), ("a", "x'--"),
                                            ("A B", "x"), ("a", "x/y"), ("", "x")])
def test_new_refuses_unsafe_identifiers(tmp_path, agency, dataset):
    with pytest.raises(ConfigError, match="not a safe identifier"):
        new_contract(agency, dataset, "person", "sql", tmp_path / "contracts", SCHEMAS)
    assert not any(tmp_path.rglob("*.yaml"))


def test_new_refuses_to_overwrite_and_unknown_schema_or_connector(env, capsys):
    assert main(["contracts", "new", "--agency", "a", "--dataset", "b", "--schema", "person"]) == 0
    before = (env / "contracts" / "a" / "b.yaml").read_text()
    assert main(["contracts", "new", "--agency", "a", "--dataset", "b", "--schema", "agency"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert (env / "contracts" / "a" / "b.yaml").read_text() == before
    assert main(["contracts", "new", "--agency", "a", "--dataset", "c", "--schema", "nosuch"]) == 1
    assert main(["contracts", "new", "--agency", "a", "--dataset", "d", "--schema", "person", "--connector", "ftp"]) == 1
    assert "unknown connector kind 'ftp'" in capsys.readouterr().err


# ---------------------------------------------------------------- test against a live SQLite source

def _rows(now: str, n: int = 10) -> list[tuple]:
    return [(i, f"P{i:04d}", national_id(f"{i:09d}"), "علی رضایی", str(1000 * i), f"R{i}", "1403/08/14", "موفق", now)
            for i in range(1, n + 1)]


@pytest.fixture
def live(env, monkeypatch):
    src = env / "src.db"
    with sqlite3.connect(src) as db:
        db.execute("CREATE TABLE payments (id INTEGER PRIMARY KEY, shenase TEXT, code_melli TEXT, name_pardakht TEXT, "
                   "mablagh TEXT, peygiri TEXT, tarikh TEXT, vaziat TEXT, updated_at TEXT)")
        db.executemany("INSERT INTO payments VALUES (?,?,?,?,?,?,?,?,?)",
                       _rows(dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")))
    (env / "contracts" / "ctest").mkdir()
    shutil.copy(BASE, env / "contracts" / "ctest" / "payments.yaml")
    monkeypatch.setenv("MUNIHUB_CTEST_SRC", str(src))
    return src


def test_contract_test_passes_on_good_data_and_touches_no_store(live, env, capsys):
    code = main(["contracts", "test", "ctest.payments", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["ok"]
    assert report["read"] == 10 and report["valid"] == 10 and report["invalid"] == 0
    status = {r["name"]: r["status"] for r in report["checks"]}
    assert status["schema"] == "passed" and status["rowCount"] == "passed" and status["freshness"] == "passed"
    assert status["nullValues national_id"] == "passed"
    assert not (env / "home").exists()


def test_contract_test_fails_on_injected_bad_rows_with_counts(live, capsys):
    with sqlite3.connect(live) as db:
        db.executemany("INSERT INTO payments VALUES (?,?,?,?,?,?,?,?,?)", [
            (11, "P0011", "1234567890", "بد", "5", "R11", "1403/08/14", "موفق", "2024-01-01"),   # bad check digit
            (12, "P0012", national_id("000000012"), "بد", "abc", "R12", "1403/08/14", "موفق", "2024-01-01"),
            (13, "P0013", None, "بی‌کد", "7", "R13", "1403/08/14", "موفق", "2024-01-01"),
            (14, "P0014", None, "بی‌کد", "8", "R14", "1403/08/14", "موفق", "2024-01-01")])
    code = main(["contracts", "test", str(live.parent / "contracts" / "ctest" / "payments.yaml")])
    out = capsys.readouterr().out
    assert code == 1
    # the bad check digit is set aside (national_id is not essential here), the record stays valid
    assert "read 14 record(s), 13 valid, 1 invalid, 1 national_id value(s) set aside" in out
    assert "1 of 14 records invalid" in out and "/amount_rial" in out
    assert "nullValues national_id" in out and "23.08" in out and "failed" in out   # 3 of 13 valid rows null
    code = main(["contracts", "test", "ctest.payments", "-n", "3", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert report["read"] == 3 and report["partial"] and code == 1   # oldest rows first: the bad ones


def test_freshness_is_judged_on_the_newest_watermark_or_unknown():
    contract = load_contract(BASE, schemas_dir=SCHEMAS)
    now = dt.datetime(2026, 1, 10, tzinfo=dt.timezone.utc)
    fresh = freshness_result(contract, [{"updated_at": "2026-01-09T12:00:00"}, {"updated_at": "2025-01-01"}], False, now)
    assert fresh["status"] == "passed" and fresh["observed"] == 12.0
    stale = freshness_result(contract, [{"updated_at": "2026-01-01 00:00:00"}], True, now)
    assert stale["status"] == "warning" and "sample only" in stale["message"]
    unknown = freshness_result(contract, [{"updated_at": None}], False, now)
    assert unknown["status"] == "unknown" and "unknown" in unknown["message"]


# ---------------------------------------------------------------- catalog

HOSTILE = '<script>alert("x")</script>'


def test_catalog_is_rtl_escaped_and_shows_the_last_load(env, live):
    path = env / "contracts" / "ctest" / "payments.yaml"
    edit(path, lambda d: (d.update(name=HOSTILE, description={"purpose": f"{HOSTILE} & پرداخت"}),
                          d["team"]["members"][0].update(username='"><img src=x onerror=alert(1)>')))
    settings = Settings(home=env / "home", store_url=f"sqlite:///{env / 'store.db'}",
                        contracts_dir=env / "contracts", schemas_dir=SCHEMAS)
    index = write_catalog(settings, env / "cat")
    html = index.read_text(encoding="utf-8")
    page = (env / "cat" / "datasets" / "ctest.payments.html").read_text(encoding="utf-8")
    for text in (html, page):
        assert '<html lang="fa" dir="rtl">' in text and "<script" not in text and "<img" not in text
        assert "&lt;script&gt;" in text and "<link" not in text and "src=" not in text.replace("src=x", "")
        assert '<bdi dir="ltr" class="id">ctest.payments</bdi>' in text
        assert "no load yet" in text
    assert "&quot;&gt;&lt;img" in html
    assert "شناسه پرداخت" in page and "code_melli" in page and "شخصی" in page   # Persian title, source, class
    assert not (env / "store.db").exists()                                    # the catalog never makes a store

    engine = store.open_store(settings.store_url)
    with engine.begin() as conn:
        conn.execute(store.loads.insert().values(load_id="l1", source="ctest.payments", status="failed",
                                                 started_at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)))
        conn.execute(store.loads.insert().values(load_id="l2", source="ctest.payments", status="published",
                                                 started_at=dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc)))
    engine.dispose()
    html = write_catalog(settings, env / "cat").read_text(encoding="utf-8")
    assert "no load yet" not in html and "منتشر شد" in html and ">published<" in html


def test_catalog_cli_writes_to_munihub_home_by_default(env, live, capsys):
    assert main(["contracts", "catalog"]) == 0
    assert capsys.readouterr().out.strip() == str(env / "home" / "catalog" / "index.html")
    assert (env / "home" / "catalog" / "datasets" / "ctest.payments.html").is_file()


# ---------------------------------------------------------------- help

def test_every_contracts_subcommand_has_help():
    parser = build_parser()
    top = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    group = next(a for a in top.choices["contracts"]._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: c.help for c in group._choices_actions}
    for name in ("diff", "check", "new", "test", "catalog"):
        assert helps.get(name), name
        text = group.choices[name].format_help()
        assert all(a.help for a in group.choices[name]._actions), name
        assert "usage: munihub contracts " + name in text
