"""Scale-out: Airflow with the CeleryExecutor on Redis, PostgreSQL for its metadata and the store.

Starts the components Airflow 3.3 needs as real processes on 127.0.0.1 in one process group
(api-server, scheduler, dag-processor, celery worker), unpauses and triggers the sync DAGs of a
small generated municipality, waits (bounded) for them and the asset-triggered consolidation,
checks the store, then stops the whole group, also on failure.  The settings are the ones
docs/scale-out.md documents.  A private Celery queue keeps other workers on Redis out of it.
"""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from munihub.testing import municipality, municipality_server as server
from munihub import store

ROOT = Path(__file__).resolve().parent.parent
REDIS = ("127.0.0.1", 6379)

pytestmark = [pytest.mark.celery, pytest.mark.slow, pytest.mark.postgres]


def _reachable(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def celery_env(home: Path, metadata_url: str, queue: str) -> dict[str, str]:
    """Airflow settings for CeleryExecutor scale-out on this machine (docs/scale-out.md)."""
    from munihub.airflow.home import full_env

    api_port = _free_port()
    sql = metadata_url.replace("postgresql://", "postgresql+psycopg2://", 1)
    return {**full_env(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sql,
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS[0]}:{REDIS[1]}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + sql,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "2",
            "AIRFLOW__API__HOST": "127.0.0.1", "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False"}


class Group:
    """Airflow components, each leading its own process group (its task processes included);
    `stop` signals every group, then kills what is left."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs, self.procs = env, logs, []
        logs.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, *args: str) -> None:
        with (self.logs / f"{name}.log").open("w") as out:
            self.procs.append(subprocess.Popen([sys.executable, "-m", "airflow", *args], env=self.env,
                                               stdout=out, stderr=subprocess.STDOUT, start_new_session=True))

    def dead(self) -> list[str]:
        return [" ".join(p.args[2:4]) for p in self.procs if p.poll() is not None]

    def _signal(self, sig: int) -> bool:
        """Send `sig` to every group; True if any group still existed."""
        alive = False
        for p in self.procs:
            try:
                os.killpg(p.pid, sig)
                alive = True
            except ProcessLookupError:
                pass
        return alive

    def stop(self, grace: float = 20.0) -> None:
        if self._signal(signal.SIGTERM):
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and self._signal(0):
                time.sleep(0.3)
            self._signal(signal.SIGKILL)   # workers' task children may outlive their parents
        for p in self.procs:
            p.wait(timeout=10)


def _airflow(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "airflow", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def _runs(meta: sa.Engine, dag_ids: list[str]) -> dict[str, list[str]]:
    try:
        with meta.connect() as conn:
            rows = conn.execute(sa.text("SELECT dag_id, state FROM dag_run WHERE dag_id = ANY(:ids)"),
                                {"ids": dag_ids}).all()
    except sa.exc.ProgrammingError:
        return {}
    out: dict[str, list[str]] = {}
    for dag_id, state in rows:
        out.setdefault(dag_id, []).append(state)
    return out


def _known_dags(meta: sa.Engine) -> set[str]:
    with meta.connect() as conn:
        return {d for (d,) in conn.execute(sa.text("SELECT dag_id FROM dag"))}


def test_celery_scale_out_publishes_every_source(tmp_path, pg_server, monkeypatch, request):
    if not _reachable(*REDIS):
        pytest.skip("Redis is not listening on 127.0.0.1:6379")
    pytest.importorskip("airflow.providers.celery")
    admin = sa.create_engine(pg_server, isolation_level="AUTOCOMMIT")
    tag = uuid.uuid4().hex[:10]
    names = {"meta": f"munihub_af_{tag}", "store": f"munihub_cs_{tag}"}
    with admin.connect() as conn:
        for name in names.values():
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:   # after the group has stopped, pass or fail
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    request.addfinalizer(drop)
    url = {k: sa.engine.make_url(pg_server).set(database=v).render_as_string(hide_password=False)
           for k, v in names.items()}
    out = tmp_path / "city"
    manifest = municipality.generate(out, sources=3, rows=80)   # REST, CSV, JSON Lines
    urls = server.serve_all(out)
    hub = {**municipality.environment(out), **urls, "MUNIHUB_HOME": str(tmp_path / "home"),
           "MUNIHUB_STORE_URL": url["store"], "MUNIHUB_SCHEMAS": str(ROOT / "schemas")}
    for k, v in hub.items():
        monkeypatch.setenv(k, v)
    home = tmp_path / "af"
    env = celery_env(home, url["meta"], queue=f"munihub_{tag}")
    group = Group(env, tmp_path / "logs")
    sync_ids = [f"sync__{s['agency']}__persons" for s in manifest["sources"]]
    meta = sa.create_engine(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    try:
        prep = subprocess.run([sys.executable, "-m", "munihub.airflow.home", "_prepare", str(_pools(home))],
                              env=env, capture_output=True, text=True, timeout=240)
        assert prep.returncode == 0, prep.stderr[-3000:]
        group.start("api-server", "api-server")
        group.start("scheduler", "scheduler")
        group.start("dag-processor", "dag-processor")
        group.start("worker", "celery", "worker", "-q", env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"],
                    "--concurrency", "2", "--without-gossip", "--without-mingle")
        deadline = time.monotonic() + 120
        while not set(sync_ids) <= _known_dags(meta) and time.monotonic() < deadline and not group.dead():
            time.sleep(2)
        assert not group.dead(), f"components exited: {group.dead()}; see {group.logs}"
        assert set(sync_ids) <= _known_dags(meta), "the dag-processor did not serialize the DAGs in 120 s"
        unpause = _airflow(env, "dags", "unpause", "--treat-dag-id-as-regex", "-y", "^(sync__|munihub__consolidate)")
        assert unpause.returncode == 0, unpause.stderr[-2000:]
        for dag_id in sync_ids:
            trig = _airflow(env, "dags", "trigger", dag_id)
            assert trig.returncode == 0, trig.stderr[-2000:]
        wanted = sync_ids + ["munihub__consolidate"]
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not group.dead():
            runs = _runs(meta, wanted)
            if "failed" in sum(runs.values(), []) or all("success" in runs.get(d, []) for d in wanted):
                break
            time.sleep(3)
        runs = _runs(meta, wanted)
        assert all(runs.get(d) and "success" in runs[d] for d in sync_ids), f"{runs}; logs in {group.logs}"
        assert "success" in runs.get("munihub__consolidate", []), f"{runs}; logs in {group.logs}"
    finally:
        group.stop()
        meta.dispose()
        server.shutdown_all(urls)
        store.forget_engines()
    st = sa.create_engine(url["store"])
    with st.connect() as conn:
        published = conn.execute(sa.select(store.loads.c.source, store.loads.c.rows_new)
                                 .where(store.loads.c.status == "published")).all()
        members = conn.execute(sa.select(sa.func.count()).select_from(store.entity_members)).scalar()
    st.dispose()
    assert {s for s, _ in published} == {s["id"] for s in manifest["sources"]}
    assert sum(n for _, n in published) == 3 * 80   # 80 rows each: none bad (1 in 100)
    # the asset-triggered consolidation starts on the first publish: it holds at least that source
    assert members >= 80


def _pools(home: Path) -> Path:
    """The contracts' pools in `airflow pools import` form (one per source system)."""
    import json

    from munihub.airflow.home import contract_pools
    home.mkdir(parents=True, exist_ok=True)
    path = home / "pools.json"
    path.write_text(json.dumps(contract_pools()), "utf-8")
    return path
