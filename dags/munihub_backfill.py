"""`munihub__backfill`: re-read one source for a date range, triggered by hand with params.

    airflow dags trigger munihub__backfill --conf '{"contract": "registry.citizens",
                                                    "start": "2024-03-01", "end": "2024-04-01"}'

Same stages as a sync DAG (stage -> checks -> publish) on an interval load that never moves the
source's cursor, so a repeat publishes nothing new (see munihub/backfill.py).  `airflow backfill
create` on a sync DAG instead re-runs its scheduled intervals, which read from the cursor.
"""
from __future__ import annotations

import datetime as dt

from airflow.sdk import Param, dag, get_parsing_context, task

from munihub.airflow import glue


@dag(dag_id="munihub__backfill", schedule=None, start_date=dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc),
     catchup=False, max_active_runs=1, tags=["munihub", "backfill"],
     default_args={"owner": "munihub", "retries": 0, "on_failure_callback": glue.notify_failure},
     description="Backfill one source for [start, end) without moving its cursor",
     params={"contract": Param("", type="string", description="dataset id, e.g. registry.citizens"),
             "start": Param("", type="string", description="first day YYYY-MM-DD (inclusive)"),
             "end": Param("", type="string", description="day after the range YYYY-MM-DD (exclusive)")})
def munihub_backfill():
    @task(task_id="extract_interval")
    def extract_interval(params=None) -> str:
        from munihub.pipeline import backfill
        from munihub import contracts
        glue.run_stage(glue.export_connection_secrets, glue.run_stage(contracts.contract_for, params["contract"]))
        return glue.run_stage(backfill.extract_interval, params["contract"], params["start"], params["end"])

    @task(task_id="check_load")
    def check_load(load_id: str) -> str:
        from munihub import pipeline
        glue.run_stage(pipeline.check_load, load_id)
        return load_id

    @task(task_id="publish_load")
    def publish_load(load_id: str) -> dict:
        from munihub import pipeline
        return glue.run_stage(pipeline.publish_load, load_id)

    publish_load(check_load(extract_interval()))


# A worker parsing for another DAG skips this one (it only needs its own).
if get_parsing_context().dag_id in (None, "munihub__backfill"):
    munihub_backfill()
