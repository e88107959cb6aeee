"""The Airflow edge, and the only part of munihub that touches Airflow.

`glue` holds what the DAG files in `dags/` call (DAG ids, assets, one stage per task,
connection secrets, alerts); `home` sets up an Airflow home over a munihub home (the demo,
`make airflow`).  Airflow itself is imported lazily, inside functions, so importing this
package does not need Airflow installed.
"""
from __future__ import annotations

__all__: list[str] = []  # import `munihub.airflow.glue` or `munihub.airflow.home` by name
