"""The DAG factory parsed by Airflow's own DagBag, the glue, and real runs through `airflow dags test`.

Airflow reads its configuration when first imported, so AIRFLOW_HOME (a temporary folder),
the dags folder and a SQLite metadata URL are set here before anything imports it.
"""
from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_AF_HOME = Path(tempfile.mkdtemp(prefix="munihub-airflow-"))
os.environ.update({
    "AIRFLOW_HOME": str(_AF_HOME), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AF_HOME / 'airflow.db'}",
})

pytest.importorskip("airflow", reason="Airflow is not installed (pip install -e '.[airflow]')")
from airflow.dag_processing.dagbag import DagBag  # noqa: E402
from airflow.sdk import Connection  # noqa: E402
from airflow.sdk.exceptions import AirflowFailException  # noqa: E402

from munihub.airflow import glue  # noqa: E402
from munihub.contracts import discover_contracts, load_all  # noqa: E402
from munihub.errors import QualityGateError, TransientSourceError  # noqa: E402

pytestmark = pytest.mark.airflow

# A minimal valid contract on the SQL connector over a SQLite file; {agency}/{dataset} vary.
CONTRACT = """\
apiVersion: v3.1.0
kind: DataContract
id: {agency}.{dataset}
name: {dataset}
version: 1.0.0
status: active
domain: civil-registry
team:
  - username: {agency}-steward
servers:
  - server: src
    type: custom
    customProperties:
      - {{property: connector, value: sql}}
      - {{property: url, value: "sqlite:///${{MUNIHUB_TEST_SRC}}"}}
      - {{property: table, value: citizens}}
      - {{property: watermark, value: updated_at}}
      - {{property: key, value: id}}
schema:
  - name: citizens
    physicalName: citizens
    customProperties:
      - {{property: sharedSchema, value: person}}
    quality:
      - {{metric: rowCount, mustBeGreaterThan: 0, severity: error}}
    properties:
      - {{name: national_id, physicalName: code_melli, logicalType: string, primaryKey: true, primaryKeyPosition: 1, required: true, classification: personal, transformLogic: national_id}}
      - {{name: first_name, physicalName: fname, logicalType: string, transformLogic: person_name}}
      - {{name: last_name, physicalName: lname, logicalType: string, transformLogic: person_name}}
slaProperties:
  - {{property: freshness, value: 1, unit: d}}
customProperties:
  - {{property: schedule, value: "{schedule}"}}
  - {{property: retries, value: 3}}
  - {{property: retryDelaySeconds, value: 1}}
  - {{property: timeoutSeconds, value: 600}}
  - {{property: pool, value: {agency}_db}}
"""


def write_contract(folder: Path, agency: str, dataset: str, schedule: str = "@daily") -> Path:
    path = folder / agency / f"{dataset}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CONTRACT.format(agency=agency, dataset=dataset, schedule=schedule), "utf-8")
    return path


def parse(monkeypatch, contracts: Path, only: str | None = None) -> tuple[DagBag, float]:
    monkeypatch.setenv("MUNIHUB_CONTRACTS", str(contracts))
    if only:
        monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", only)
    else:
        monkeypatch.delenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", raising=False)
    started = time.perf_counter()
    bag = DagBag(str(ROOT / "dags"))
    return bag, time.perf_counter() - started


def schedule_uris(condition) -> set[str]:
    """Every asset URI in an asset schedule (an Asset, or AssetAny/AssetAll of them)."""
    if hasattr(condition, "objects"):
        return set().union(*(schedule_uris(o) for o in condition.objects))
    return {condition.uri}


def sync_dags(bag: DagBag) -> dict:
    return {i: d for i, d in bag.dags.items() if i.startswith("sync__")}


@pytest.fixture
def contracts_dir(tmp_path, monkeypatch) -> Path:
    """The repo's demo contracts when there are any, else three written here."""
    repo = ROOT / "contracts"
    if discover_contracts(repo):
        return repo
    folder = tmp_path / "contracts"
    for agency, dataset in (("registry", "citizens"), ("finance", "payers"), ("urban", "owners")):
        write_contract(folder, agency, dataset)
    return folder


# ---------------------------------------------------------------- parsing

def test_one_dag_per_contract_plus_consolidate_and_freshness(contracts_dir, monkeypatch):
    bag, seconds = parse(monkeypatch, contracts_dir)
    print(f"\nDagBag parse of dags/ over {contracts_dir}: {seconds:.2f} s")
    assert bag.import_errors == {}
    files = discover_contracts(contracts_dir)
    good, broken = load_all(contracts_dir)
    assert len(sync_dags(bag)) == len(files) == len(good) + len(broken)   # a broken one still shows
    assert {"munihub__consolidate", "munihub__freshness", "munihub__backfill"} <= set(bag.dags)
    assert len(bag.dags) == len(files) + 3
    # DagBag silently overwrites a duplicate id: the file's DAG count must equal the bag's
    assert sum(s.dag_num for s in bag.dagbag_stats) == len(bag.dags)
    assert seconds < 5


def test_sync_dag_takes_everything_from_its_contract(contracts_dir, monkeypatch):
    bag, _ = parse(monkeypatch, contracts_dir)
    good, _ = load_all(contracts_dir)
    assert good, "no loadable contract to check"
    for c in good:
        d = bag.dags[f"sync__{c.agency}__{c.dataset}"]
        assert [t.task_id for t in d.topological_sort()] == ["extract_and_stage", "check_load", "publish_load"]
        assert d.max_active_runs == 1 and d.catchup is False
        assert {f"agency:{c.agency}", f"domain:{c.domain}"} <= set(d.tags)
        for t in d.tasks:
            assert (t.owner, t.pool, t.retries) == (c.owner, c.pool, c.retries)
            assert t.retry_delay.total_seconds() == c.retry_delay_seconds
            assert t.execution_timeout.total_seconds() == c.timeout_seconds
            assert t.on_failure_callback
        publish = d.get_task("publish_load")
        assert [(a.name, a.uri) for a in publish.outlets] == [(c.id, f"munihub://{c.id}/")]
        assert not d.get_task("extract_and_stage").outlets
        if c.schedule:
            assert d.timetable is not None and d.schedule == c.schedule
    consolidate = bag.dags["munihub__consolidate"]
    assert schedule_uris(consolidate.schedule) == {f"munihub://{c.id}/" for c in good}
    if len(good) > 1:
        assert type(consolidate.schedule).__name__ == "AssetAny"   # any one update triggers it
    assert bag.dags["munihub__freshness"].schedule == "@hourly"


def test_pools_named_by_contracts_are_the_only_ones_needed(contracts_dir, monkeypatch):
    good, _ = load_all(contracts_dir)
    monkeypatch.setenv("MUNIHUB_CONTRACTS", str(contracts_dir))
    bag = DagBag(str(ROOT / "dags"), known_pools={c.pool for c in good} | {"default_pool"})
    assert bag.import_errors == {}
    from munihub.airflow.home import contract_pools
    assert set(contract_pools()) == {c.pool for c in good}


def test_broken_contracts_do_not_hide_the_good_ones(tmp_path, monkeypatch):
    folder = tmp_path / "contracts"
    write_contract(folder, "registry", "citizens")
    write_contract(folder, "finance", "payers", schedule="0 2 * * *")
    (folder / "hr").mkdir()
    (folder / "hr" / "staff.yaml").write_text("id: hr.staff\nservers: [\n", "utf-8")        # bad YAML
    bad = write_contract(folder, "permits", "issued")
    bad.write_text(bad.read_text("utf-8").replace("value: person", "value: spaceship"), "utf-8")
    dup = write_contract(folder, "registry", "citizens_copy")                              # same id again
    dup.write_text(dup.read_text("utf-8").replace("id: registry.citizens_copy", "id: registry.citizens"), "utf-8")

    bag, _ = parse(monkeypatch, folder)
    assert bag.import_errors == {}
    assert set(sync_dags(bag)) == {"sync__registry__citizens", "sync__finance__payers", "sync__hr__staff",
                                   "sync__permits__issued", "sync__registry__citizens_copy"}
    broken = {i for i, d in bag.dags.items() if "broken-contract" in d.tags}
    assert broken == {"sync__hr__staff", "sync__permits__issued", "sync__registry__citizens_copy"}
    assert "spaceship" in bag.dags["sync__permits__issued"].doc_md
    assert "staff.yaml:3" in bag.dags["sync__hr__staff"].doc_md                          # file:line kept
    assert bag.dags["sync__hr__staff"].schedule is None
    assert bag.dags["sync__finance__payers"].schedule == "0 2 * * *"
    assert schedule_uris(bag.dags["munihub__consolidate"].schedule) == {"munihub://registry.citizens/", "munihub://finance.payers/"}


def test_stand_in_never_takes_a_good_dags_id(tmp_path, monkeypatch):
    folder = tmp_path / "contracts"
    write_contract(folder, "registry", "citizens")
    other = folder / "registry" / "citizens.yml"        # same path-derived id as the good one
    other.write_text("{", "utf-8")
    bag, _ = parse(monkeypatch, folder)
    assert "broken-contract" not in bag.dags["sync__registry__citizens"].tags
    assert "broken-contract" in bag.dags["sync__registry__citizens__broken"].tags


def test_worker_parse_builds_only_its_own_dag(tmp_path, monkeypatch):
    folder = tmp_path / "contracts"
    for i in range(5):
        write_contract(folder, "agency", f"set{i}")
    bag, _ = parse(monkeypatch, folder, only="sync__agency__set3")
    assert set(bag.dags) == {"sync__agency__set3"}
    bag, _ = parse(monkeypatch, folder, only="munihub__consolidate")
    assert set(bag.dags) == {"munihub__consolidate"}
    bag, _ = parse(monkeypatch, folder, only="munihub__freshness")
    assert set(bag.dags) == {"munihub__freshness"}


def test_dag_file_imports_nothing_heavy(tmp_path):
    """Parsing adds none of the heavy libraries beyond what Airflow itself already loaded."""
    folder = tmp_path / "contracts"
    write_contract(folder, "registry", "citizens")
    code = ("import runpy, sys, airflow.sdk; heavy = ('pandas', 'great_expectations', 'sqlalchemy', 'splink', "
            "'duckdb', 'fastapi', 'jdatetime', 'requests'); before = {m for m in heavy if m in sys.modules}; "
            "runpy.run_path(sys.argv[1]); print(sorted(m for m in heavy if m in sys.modules and m not in before))")
    out = subprocess.run([sys.executable, "-c", code, str(ROOT / "dags" / "munihub_dags.py")],
                         env={**os.environ, "MUNIHUB_CONTRACTS": str(folder)}, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


# ---------------------------------------------------------------- glue

def test_run_stage_fails_fast_only_on_permanent_errors():
    def held():
        raise QualityGateError("load x held", where="registry.citizens")

    def flaky():
        raise TransientSourceError("503 from source", where="registry.citizens")

    with pytest.raises(AirflowFailException, match="QualityGateError: registry.citizens: load x held"):
        glue.run_stage(held)
    with pytest.raises(TransientSourceError):     # unchanged, so Airflow retries it
        glue.run_stage(flaky)
    assert glue.run_stage(lambda a, b=0: a + b, 1, b=2) == 3


def test_connection_secrets_exported_into_the_named_variables(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_REGISTRY_DB", json.dumps({
        "conn_type": "postgres", "login": "reader", "password": "s3cr et/pw", "host": "127.0.0.1",
        "extra": {"token": "tok-123"}}))
    contract = contract_with_secrets()
    env: dict[str, str] = {}
    assert glue.export_connection_secrets(contract, env) == ["REG_PASSWORD", "REG_TOKEN", "REG_USER"]
    assert env == {"REG_USER": "reader", "REG_PASSWORD": "s3cr et/pw", "REG_TOKEN": "tok-123"}
    conn = Connection(conn_id="x", conn_type="http", host="127.0.0.1", password="pw")
    assert glue.connection_values(conn, {"uri": "U", "host": "H"}) == {"U": conn.get_uri(), "H": "127.0.0.1"}


def test_missing_connection_names_the_contract_and_the_fix(monkeypatch):
    contract = contract_with_secrets()
    monkeypatch.delenv("AIRFLOW_CONN_REGISTRY_DB", raising=False)
    with pytest.raises(Exception, match="registry_db.*not defined.*AIRFLOW_CONN_REGISTRY_DB"):
        glue.export_connection_secrets(contract, {})


def contract_with_secrets():
    """A contract naming an Airflow connection and three secret variables, loaded from YAML."""
    folder = Path(tempfile.mkdtemp()) / "contracts"
    path = write_contract(folder, "registry", "citizens")
    path.write_text(path.read_text("utf-8").replace(
        "      - {property: key, value: id}\n",
        "      - {property: key, value: id}\n"
        "      - {property: airflowConnection, value: registry_db}\n"
        "      - {property: secrets, value: {login: REG_USER, password: REG_PASSWORD, token: REG_TOKEN}}\n"),
        "utf-8")
    good, bad = load_all(folder)
    assert not bad, [str(b) for b in bad]
    assert good[0].airflow_connection == "registry_db"
    return good[0]


class Webhook:
    """A real HTTP server on 127.0.0.1 that keeps every JSON body POSTed to it."""

    def __init__(self):
        bodies = self.bodies = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.close()


def test_alerts_post_to_the_webhook_and_redact_secrets(webhook, monkeypatch):
    from munihub.secrets import redact
    redact("", extra=())  # the registry of secrets starts from resolve_secrets
    monkeypatch.setenv("MUNIHUB_ALERT_WEBHOOK", webhook.url)
    from munihub import secrets as core_secrets
    monkeypatch.setattr(core_secrets, "_KNOWN", {"hunter2-secret"})
    assert glue.notify_stale([{"source": "registry.citizens", "age_seconds": 90000, "freshness_seconds": 86400}]) == 1
    glue.notify_failure({"ti": None, "run_id": "r1", "exception": ValueError("bad hunter2-secret")})
    assert webhook.bodies[0] == {"kind": "stale_source", "source": "registry.citizens", "age_seconds": 90000,
                                 "freshness_seconds": 86400}
    assert webhook.bodies[1]["kind"] == "task_failed" and webhook.bodies[1]["run_id"] == "r1"
    assert webhook.bodies[1]["error"] == "ValueError: bad ***"
    # an unreachable webhook is logged, never raised
    assert glue.send_alert({"kind": "x"}, webhook="http://127.0.0.1:9/none", timeout=2) is False


def test_dag_id_for_a_broken_file_follows_the_layout(tmp_path):
    assert glue.dag_id_for_file(tmp_path / "hr" / "staff.yaml", tmp_path) == "sync__hr__staff"
    assert glue.dag_id_for_file(tmp_path / "hr.staff.yaml", tmp_path) == "sync__hr__staff"
    assert glue.dag_id_for_file(tmp_path / "a b" / "x$.yaml", tmp_path) == "sync__a_b__x_"


# ---------------------------------------------------------------- real runs (`airflow dags test`)

@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory):
    """Contracts, a SQLite source and the environment for an Airflow home that `run-dag` prepares."""
    base = tmp_path_factory.mktemp("run")
    contracts = base / "contracts"
    write_contract(contracts, "testreg", "citizens")
    (contracts / "hr").mkdir()
    (contracts / "hr" / "staff.yaml").write_text("id: hr.staff\nservers: [\n", "utf-8")
    src = base / "src.db"
    with sqlite3.connect(src) as db:
        db.execute("CREATE TABLE citizens (id INTEGER PRIMARY KEY, code_melli TEXT, fname TEXT, lname TEXT, "
                   "updated_at TEXT)")
        db.executemany("INSERT INTO citizens VALUES (?,?,?,?,?)", [
            (1, "0012345679", "علي", "رضايی", "2024-01-01 10:00:00"),
            (2, "0076543218", "فاطمه", "كريمی", "2024-01-01 10:00:00"),
            (3, "1234567890", "بد", "کد", "2024-01-02 09:00:00")])   # wrong check digit: quarantined
    env = {**os.environ, "MUNIHUB_CONTRACTS": str(contracts), "MUNIHUB_HOME": str(base / "home"),
           "MUNIHUB_STORE_URL": f"sqlite:///{base / 'store.db'}", "MUNIHUB_TEST_SRC": str(src)}
    for var in ("AIRFLOW_HOME", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "_AIRFLOW_PARSING_CONTEXT_DAG_ID"):
        env.pop(var, None)
    return base / "airflow", env, base


def test_env_command_prints_the_exports(airflow_home):
    home, env, _ = airflow_home
    out = subprocess.run([sys.executable, "-m", "munihub.airflow.home", "env", "--home", str(home)],
                         env=env, capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0
    assert f"export AIRFLOW__CORE__DAGS_FOLDER='{ROOT / 'dags'}'" in out.stdout
    assert "export AIRFLOW__CORE__LOAD_EXAMPLES='False'" in out.stdout
    assert "export AIRFLOW__API__HOST='127.0.0.1'" in out.stdout
    assert f"export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN='sqlite:///{home / 'airflow.db'}'" in out.stdout


@pytest.mark.slow
def test_dags_run_through_airflow(airflow_home, webhook):
    """A real sync publishes (bad row quarantined), consolidation runs, the broken contract's DAG
    fails once (no retries) and alerts the webhook; run-dag exits non-zero because one failed."""
    import sqlalchemy as sa
    home, env, base = airflow_home
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "munihub.airflow.home", "run-dag", "sync__testreg__citizens",
                          "munihub__consolidate", "sync__hr__staff", "--home", str(home)],
                         env={**env, "MUNIHUB_ALERT_WEBHOOK": webhook.url}, capture_output=True, text=True, cwd=ROOT)
    print(f"\nrun-dag of 3 DAGs: exit {out.returncode} in {time.perf_counter() - started:.1f} s")
    outcome = dict(re.findall(r"^munihub: (\S+): (\w+) in", out.stderr, re.M))
    assert outcome == {"sync__testreg__citizens": "success", "munihub__consolidate": "success",
                       "sync__hr__staff": "failed"}, out.stderr[-4000:]
    assert out.returncode == 1
    assert [(b["dag_id"], b["task_id"]) for b in webhook.bodies] == [("sync__hr__staff", "contract_error")]
    assert "staff.yaml:3" in webhook.bodies[0]["error"]
    assert json.loads((home / "pools.json").read_text()) == {
        "testreg_db": {"slots": 2, "description": "munihub syncs against source system 'testreg_db'"}}
    engine = sa.create_engine(env["MUNIHUB_STORE_URL"])
    with engine.connect() as conn:
        loads = conn.execute(sa.text("SELECT status, rows_in, rows_quarantined FROM loads")).all()
        published = conn.execute(sa.text("SELECT count(*) FROM source_rows")).scalar()
    engine.dispose()
    assert [tuple(r) for r in loads] == [("published", 3, 1)]
    assert published == 2


def test_the_embedded_standalone_runs_no_log_server_on_every_interface(monkeypatch):
    """Airflow's log servers bind to all interfaces (no setting changes it); the embedded home
    starts its scheduler and triggerer with --skip-serve-logs, flags this Airflow must accept."""
    from airflow.cli import cli_parser
    from airflow.cli.commands import standalone_command as sc
    from munihub.airflow import home

    for component in home.LOG_SERVING_COMPONENTS:
        assert cli_parser.get_parser().parse_args([component, "--skip-serve-logs"]).skip_serve_logs is True
    built = {}
    monkeypatch.setattr(sc.SubCommand, "__init__", sc.SubCommand.__init__)   # restored after the test

    def run(self):   # what StandaloneCommand.run builds, without starting anything
        for name in ("scheduler", "dag-processor", "api-server", "triggerer"):
            built[name] = sc.SubCommand(self, name=name, command=[name], env={}).command

    monkeypatch.setattr(sc.StandaloneCommand, "run", run)
    home.run_standalone()
    assert built == {"scheduler": ["scheduler", "--skip-serve-logs"], "dag-processor": ["dag-processor"],
                     "api-server": ["api-server"], "triggerer": ["triggerer", "--skip-serve-logs"]}
