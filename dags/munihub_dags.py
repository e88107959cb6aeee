"""munihub DAGs, generated from the data contracts at parse time.

- `sync__<agency>__<dataset>` per contract: extract_and_stage -> check_load -> publish_load;
  only the load id passes between tasks, and a publish updates the asset `munihub://<dataset id>`.
- `munihub__consolidate`: entity resolution + report whenever any dataset asset is updated.
- `munihub__freshness`: hourly; alerts for sources older than their contract's freshness SLA.
- A contract that does not load gets a stand-in DAG (same sync id, tag `broken-contract`)
  whose only task fails with every problem and file:line; the other DAGs are unaffected.

Nothing heavy is imported here: each task imports the core stage it calls.  A worker parsing
for one DAG (get_parsing_context) builds only that DAG.
"""
from __future__ import annotations

import datetime as dt
import functools
import logging
import operator
from pathlib import Path

from airflow.sdk import dag, get_parsing_context, task

from munihub.airflow import glue
from munihub.config import load_settings
from munihub.contracts import load_all, load_contract
from munihub.errors import ContractError

log = logging.getLogger("munihub.dags")

START = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
CONSOLIDATE_DAG_ID = "munihub__consolidate"
FRESHNESS_DAG_ID = "munihub__freshness"
COMMON = {"owner": "munihub", "on_failure_callback": glue.notify_failure}


def _interval() -> tuple[str | None, str | None, bool]:
    """The run's data interval, and whether the run is a backfill (`airflow backfill create`)."""
    from airflow.sdk import get_current_context

    ctx = get_current_context()
    start, end = ctx.get("data_interval_start"), ctx.get("data_interval_end")
    run = ctx.get("dag_run")
    backfill = "backfill" in str(getattr(run, "run_type", "") or "").lower()
    return (start.isoformat() if start else None, end.isoformat() if end else None, backfill)


def build_sync_dag(contract):
    """One DAG for one contract: schedule, retries, timeout, owner and pool from the contract."""
    default_args = {
        **COMMON, "owner": contract.owner, "retries": contract.retries,
        "retry_delay": dt.timedelta(seconds=contract.retry_delay_seconds),
        "execution_timeout": dt.timedelta(seconds=contract.timeout_seconds), "pool": contract.pool,
    }

    @dag(dag_id=glue.sync_dag_id(contract.agency, contract.dataset), schedule=contract.schedule,
         start_date=START, catchup=False, max_active_runs=1, default_args=default_args,
         tags=["munihub", f"agency:{contract.agency}", f"domain:{contract.domain}"],
         description=f"{contract.name}: sync {contract.id} ({contract.connector})",
         doc_md=f"Contract `{contract.path.name}` v{contract.version}, owner {contract.owner}. "
                f"{contract.description}")
    def sync():
        @task(task_id="extract_and_stage")
        def extract_and_stage(contract_id: str) -> str:
            from munihub import contracts, pipeline
            start, end, backfill = _interval()
            glue.run_stage(glue.export_connection_secrets, glue.run_stage(contracts.contract_for, contract_id))
            if backfill and start and end:  # re-read that interval; the normal cursor stays where it is
                from munihub.pipeline.backfill import extract_interval
                return glue.run_stage(extract_interval, contract_id, start, end)
            return glue.run_stage(pipeline.extract_and_stage, contract_id, interval_start=start, interval_end=end)

        @task(task_id="check_load")
        def check_load(load_id: str) -> str:
            from munihub import pipeline
            glue.run_stage(pipeline.check_load, load_id)
            return load_id

        @task(task_id="publish_load", outlets=[glue.dataset_asset(contract.id)])
        def publish_load(contract_id: str, load_id: str) -> dict:
            from munihub import contracts, pipeline
            # publishing lets the connector tidy up the source, which may need the secrets too
            glue.run_stage(glue.export_connection_secrets, glue.run_stage(contracts.contract_for, contract_id))
            return glue.run_stage(pipeline.publish_load, load_id)

        publish_load(contract.id, check_load(extract_and_stage(contract.id)))

    return sync()


def build_broken_dag(dag_id: str, error: ContractError):
    """Stand-in for a contract that does not load: visible, tagged, and failing with the problems."""
    message = str(error)

    @dag(dag_id=dag_id, schedule=None, start_date=START, catchup=False, default_args=dict(COMMON),
         tags=["munihub", "broken-contract"], description=f"BROKEN CONTRACT: {error.what}"[:200],
         doc_md="This contract does not load; fix it and the real DAG comes back on the next parse.\n\n"
                "```\n" + message + "\n```")
    def broken():
        @task(task_id="contract_error", retries=0)
        def contract_error(text: str) -> None:
            glue.fail_task(text)

        contract_error(message)

    return broken()


def build_consolidate_dag(dataset_ids: list[str]):
    """Resolution + report, run whenever any dataset's asset is updated (any of them)."""
    assets = [glue.dataset_asset(d) for d in sorted(dataset_ids)]
    schedule = functools.reduce(operator.or_, assets) if assets else None

    @dag(dag_id=CONSOLIDATE_DAG_ID, schedule=schedule, start_date=START, catchup=False, max_active_runs=1,
         default_args={**COMMON, "retries": 1, "retry_delay": dt.timedelta(minutes=5)},
         tags=["munihub", "consolidate"], description="Entity resolution, golden records and the stewards' report")
    def consolidate_dag():
        @task(task_id="consolidate")
        def consolidate() -> dict:
            from munihub import pipeline
            result = glue.run_stage(pipeline.consolidate)
            # only small scalars go to XCom; the report and the store hold the rest
            return {k: v for k, v in result.items() if isinstance(v, (str, int, float, bool, type(None)))}

        consolidate()

    return consolidate_dag()


def build_freshness_dag():
    """Hourly: one alert per source older than its contract's freshness SLA."""
    @dag(dag_id=FRESHNESS_DAG_ID, schedule="@hourly", start_date=START, catchup=False, max_active_runs=1,
         default_args={**COMMON, "retries": 0}, tags=["munihub", "freshness"],
         description="Alert on sources older than their freshness SLA")
    def freshness_dag():
        @task(task_id="check_freshness")
        def check_freshness() -> list:
            from munihub import pipeline
            stale = glue.run_stage(pipeline.check_freshness)
            glue.notify_stale(stale)
            return [s["source"] for s in stale]

        check_freshness()

    return freshness_dag()


def _only_contract(wanted: str, contracts_dir: Path, schemas_dir: Path):
    """The one contract a worker needs, found by the contracts/<agency>/<dataset>.yaml layout."""
    agency, _, dataset = wanted.removeprefix("sync__").partition("__")
    for path in (contracts_dir / agency / f"{dataset}.yaml", contracts_dir / agency / f"{dataset}.yml"):
        if path.is_file():
            try:
                contract = load_contract(path, schemas_dir=schemas_dir)
            except ContractError:
                return None
            if glue.sync_dag_id(contract.agency, contract.dataset) == wanted:
                return contract
    return None


def build_all() -> dict:
    """Every DAG this file defines (or only the one the parsing context asks for)."""
    settings = load_settings()
    wanted = get_parsing_context().dag_id
    if wanted == FRESHNESS_DAG_ID:
        return {wanted: build_freshness_dag()}
    if wanted and wanted.startswith("sync__"):
        contract = _only_contract(wanted, settings.contracts_dir, settings.schemas_dir)
        if contract is not None:
            return {wanted: build_sync_dag(contract)}
    contracts, broken = load_all(settings.contracts_dir, schemas_dir=settings.schemas_dir)
    builders = {}  # every id first, so a stand-in never takes a good DAG's id
    for contract in contracts:
        dag_id = glue.sync_dag_id(contract.agency, contract.dataset)
        if dag_id in builders:  # ids that differ only in '_' vs '.' can map to one DAG id
            broken.append(ContractError(f"DAG id {dag_id} is already used", where=str(contract.path)))
            continue
        builders[dag_id] = functools.partial(build_sync_dag, contract)
    for error in broken:
        log.error("munihub: contract not loaded, its DAG fails until fixed: %s", error)
        path = Path((error.where or "contract").split(":")[0])
        dag_id = glue.dag_id_for_file(path, settings.contracts_dir)
        while dag_id in builders:
            dag_id += "__broken"
        builders[dag_id] = functools.partial(build_broken_dag, dag_id, error)
    dags = {dag_id: build() for dag_id, build in builders.items() if not wanted or wanted == dag_id}
    if not wanted or wanted == CONSOLIDATE_DAG_ID:
        dags[CONSOLIDATE_DAG_ID] = build_consolidate_dag([c.id for c in contracts])
    if not wanted:
        dags[FRESHNESS_DAG_ID] = build_freshness_dag()
    return dags


globals().update(build_all())
