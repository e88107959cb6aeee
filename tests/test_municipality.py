"""A generated municipality: every subsystem syncs, Airflow sees one DAG per contract, and a dead
source fails alone while the others publish and consolidation runs on what arrived."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from munihub.testing import municipality, municipality_server as server
from munihub import store

ROOT = Path(__file__).resolve().parent.parent


def _env(out: Path, tmp_path: Path, urls: dict[str, str]) -> dict[str, str]:
    return {**municipality.environment(out), **urls, "MUNIHUB_HOME": str(tmp_path / "home"),
            "MUNIHUB_STORE_URL": f"sqlite:///{tmp_path / 'store.db'}", "MUNIHUB_SCHEMAS": str(ROOT / "schemas")}


@pytest.fixture
def city(tmp_path, monkeypatch):
    """(folder, manifest, env) for a 5-subsystem city of 120 rows, its REST servers running."""
    out = tmp_path / "city"
    manifest = municipality.generate(out, sources=5, rows=120)
    urls = server.serve_all(out)
    env = _env(out, tmp_path, urls)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    store.forget_engines()
    yield out, manifest, env, urls
    server.shutdown_all(urls)
    store.forget_engines()


def test_generator_writes_every_kind_and_valid_contracts(tmp_path):
    from munihub.contracts import load_all

    manifest = municipality.generate(tmp_path / "c", sources=8, rows=50)
    kinds = [s["kind"] for s in manifest["sources"]]
    assert set(kinds) == {"sqlite", "rest", "csv", "jsonl"} and len(kinds) == 8
    contracts, broken = load_all(tmp_path / "c" / "contracts", schemas_dir=ROOT / "schemas")
    assert broken == [] and len(contracts) == 8
    assert {c.retries for c in contracts} == {1} and {c.retry_delay_seconds for c in contracts} == {1}
    assert len({c.pool for c in contracts}) == 8   # one pool per source system


@pytest.mark.postgres
def test_postgres_subsystems(tmp_path, pg_url):
    manifest = municipality.generate(tmp_path / "c", sources=5, rows=40, pg_url=pg_url)
    table = next(s["table"] for s in manifest["sources"] if s["kind"] == "postgresql")
    eng = sa.create_engine(pg_url)
    with eng.connect() as conn:
        assert conn.execute(sa.text(f'SELECT count(*) FROM "{table}"')).scalar() == 40
    eng.dispose()


def test_run_all_syncs_every_kind_and_an_incremental_resync_reads_only_changes(city):
    from munihub.config import load_settings
    from munihub.pipeline.run_all import run_all

    out, manifest, env, urls = city
    summary = run_all(load_settings())
    assert [s["status"] for s in summary["sources"]] == ["published"] * 5
    assert all(s["read"] == 120 and s["quarantined"] == 1 for s in summary["sources"])
    # every row names its citizen: the quarantined one too (bad on purpose in a value its contract requires)
    assert summary["entities"][0]["records"] == 5 * 120
    changed = municipality.change_rows(out, fraction=0.05)
    assert changed == 5 * 6
    again = run_all(load_settings())
    # each kind reads only the changed rows (the file kinds: the new delta file), all published as changes
    assert [s["changed"] for s in again["sources"]] == [6] * 5, again["sources"]
    assert sum(s["read"] for s in again["sources"]) < 5 * 120 // 4


def _dag_ids_from_dagbag(env: dict[str, str], tmp_path: Path) -> tuple[list[str], dict]:
    """Airflow's own DagBag over dags/, in a fresh interpreter configured like a deployment."""
    code = ("import json; from airflow.dag_processing.dagbag import DagBag; "
            f"b = DagBag({str(ROOT / 'dags')!r}); "
            "print(json.dumps({'ids': sorted(b.dags), 'errors': {k: str(v) for k, v in b.import_errors.items()}}))")
    af = {"AIRFLOW_HOME": str(tmp_path / "af"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
          "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'af.db'}",
          "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags")}
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env, **af}, capture_output=True,
                          text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return result["ids"], result["errors"]


@pytest.mark.airflow
@pytest.mark.parametrize("n", [20, pytest.param(100, marks=pytest.mark.nightly)])
def test_airflow_sees_one_dag_per_subsystem(tmp_path, n):
    pytest.importorskip("airflow")
    out = tmp_path / "city"
    municipality.generate(out, sources=n, rows=10)
    ids, errors = _dag_ids_from_dagbag(_env(out, tmp_path, {}), tmp_path)
    assert errors == {}
    sync = [i for i in ids if i.startswith("sync__")]
    assert len(sync) == n and len(set(sync)) == n
    assert {"munihub__consolidate", "munihub__freshness"} <= set(ids)
    assert len(ids) >= n + 2


def _published_sources(store_url: str) -> set[str]:
    eng = sa.create_engine(store_url)
    try:
        with eng.connect() as conn:
            return {s for (s,) in conn.execute(sa.select(store.loads.c.source).where(store.loads.c.status == "published"))}
    except sa.exc.OperationalError:   # the store is not created yet
        return set()
    finally:
        eng.dispose()


@pytest.mark.airflow
@pytest.mark.slow
def test_a_dead_source_fails_alone_and_consolidation_runs_on_what_arrived(tmp_path):
    pytest.importorskip("airflow")
    out = tmp_path / "city"
    manifest = municipality.generate(out, sources=3, rows=120)   # rest, csv, jsonl
    urls = server.serve_all(out)
    env = _env(out, tmp_path, urls)
    ids = [s["id"] for s in manifest["sources"]]
    victim = "s001_library.persons"
    assert next(s for s in manifest["sources"] if s["id"] == victim)["kind"] == "rest"
    order = [i for i in ids if i != victim] + [victim]     # the victim's DAG runs last
    dags = [f"sync__{i.split('.')[0]}__persons" for i in order] + ["munihub__consolidate"]
    cmd = [sys.executable, "-m", "munihub.airflow.home", "run-dag", *dags, "--home", str(tmp_path / "af")]
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while not _published_sources(env["MUNIHUB_STORE_URL"]) and time.monotonic() < deadline \
                and proc.poll() is None:
            time.sleep(0.5)
        # mid-run: the first source has published, the victim's DAG has not started yet
        assert victim not in _published_sources(env["MUNIHUB_STORE_URL"])
        server.shutdown(urls[municipality.url_env("s001_library")])
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
        server.shutdown_all(urls)
    assert proc.returncode == 1, err[-3000:]
    assert "munihub: sync__s001_library__persons: failed" in err
    assert "munihub: munihub__consolidate: success" in err, err[-3000:]
    assert _published_sources(env["MUNIHUB_STORE_URL"]) == set(ids) - {victim}
    eng = sa.create_engine(env["MUNIHUB_STORE_URL"])
    with eng.connect() as conn:
        tries = conn.execute(sa.select(store.loads.c.status, store.loads.c.error)
                             .where(store.loads.c.source == victim)).all()
        members = conn.execute(sa.select(sa.func.count()).select_from(store.entity_members)).scalar()
        victims = conn.execute(sa.select(sa.func.count()).select_from(store.entity_members)
                               .where(store.entity_members.c.source == victim)).scalar()
    eng.dispose()
    assert [s for s, _ in tries] == ["failed", "failed"]          # retries=1: two tries, both refused
    assert all("refused" in (e or "").lower() or "127.0.0.1" in (e or "") for _, e in tries), tries
    assert members >= 2 * 119 and victims == 0                     # consolidated what arrived
