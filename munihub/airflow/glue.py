"""The one place the hub touches Airflow: stage calls, alerts, secrets from connections, assets.

Only `dags/` imports this module, and it imports Airflow lazily inside functions, so the
core (`munihub/`) keeps working where Airflow is not installed.  The DAG file stays a thin
factory; the behaviour worth testing lives here as plain functions.
"""
from __future__ import annotations

import json
import logging
import os
import re
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from munihub.errors import ConfigError, MunihubError

log = logging.getLogger("munihub.airflow")

ASSET_SCHEME = "munihub"
WEBHOOK_ENV = "MUNIHUB_ALERT_WEBHOOK"
# Connection attributes a contract's `secrets` parameter may name directly; other names are
# looked up in the connection's extra JSON.
CONNECTION_FIELDS = ("login", "password", "host", "port", "schema")


# ---------------------------------------------------------------- names

def sync_dag_id(agency: str, dataset: str) -> str:
    """`sync__<agency>__<dataset>`: one DAG per contract, stable so run history is kept."""
    return f"sync__{agency}__{dataset}"


def dag_id_for_file(path: Path, contracts_dir: Path) -> str:
    """The sync DAG id a contract file would have by the `contracts/<agency>/<dataset>.yaml` layout.

    Used for a contract that does not load, so its stand-in DAG keeps the id (and history)
    of the DAG it replaces.
    """
    try:
        rel = Path(path).resolve().relative_to(Path(contracts_dir).resolve())
    except ValueError:
        rel = Path(Path(path).name)
    parts = [re.sub(r"[^A-Za-z0-9_.\-]", "_", p) for p in (*rel.parent.parts, rel.stem)]
    if len(parts) == 1:
        parts = parts[0].split(".", 1) if "." in parts[0] else ["contracts", parts[0]]
    return sync_dag_id("_".join(parts[:-1]), parts[-1])


def asset_uri(dataset_id: str) -> str:
    """The asset URI a successful publish of `dataset_id` updates (`munihub://registry.citizens`)."""
    return f"{ASSET_SCHEME}://{dataset_id}"


def dataset_asset(dataset_id: str):
    """The Airflow Asset for one dataset; name = dataset id so the UI shows what people know."""
    from airflow.sdk import Asset

    return Asset(name=dataset_id, uri=asset_uri(dataset_id), group=ASSET_SCHEME)


# ---------------------------------------------------------------- running a stage

def run_stage(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call one core stage; a non-retryable MunihubError fails the task at once (no retries).

    A retryable one (a timeout, a 503) is re-raised unchanged so Airflow retries it with the
    contract's delay.  The message is the hub's own one-line message: what, where, what to do.
    """
    try:
        return fn(*args, **kwargs)
    except MunihubError as exc:
        if exc.retryable:
            raise
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc


def fail_task(message: str) -> None:
    """Fail the running task without retries (used by a broken contract's stand-in DAG)."""
    from airflow.sdk.exceptions import AirflowFailException

    raise AirflowFailException(message)


# ---------------------------------------------------------------- secrets from connections

def connection_values(conn: Any, secrets: dict[str, str]) -> dict[str, str]:
    """Env var -> value for each contract secret parameter found in an Airflow connection.

    A parameter named like a connection field (login, password, host, port, schema) takes that
    field; `uri`/`url` takes the whole connection URI; any other name is a key of `extra`.
    """
    extra = conn.extra_dejson if getattr(conn, "extra", None) else {}
    values: dict[str, str] = {}
    for param, var in secrets.items():
        if param in CONNECTION_FIELDS:
            value = getattr(conn, param, None)
        elif param in {"uri", "url"}:
            value = conn.get_uri()
        else:
            value = extra.get(param)
        if value not in (None, ""):
            values[var] = str(value)
    return values


def export_connection_secrets(contract: Any, env: dict[str, str] | None = None) -> list[str]:
    """Copy the contract's secrets from its Airflow connection into environment variables.

    The core then reads the environment only (`munihub.secrets`).  Values are registered with
    Airflow's secrets masker so they never reach task logs.  Returns the variables set.
    """
    conn_id = getattr(contract, "airflow_connection", None)
    if not conn_id:
        return []
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException
    from airflow.sdk.log import mask_secret

    try:
        conn = Connection.get(conn_id)
    except AirflowNotFoundException as exc:
        raise ConfigError(f"Airflow connection {conn_id!r} is not defined", where=contract.id,
                          hint="create it in the UI (Admin > Connections), with `airflow connections add`, "
                               f"or as AIRFLOW_CONN_{conn_id.upper()}") from exc
    values = connection_values(conn, contract.secrets)
    target = os.environ if env is None else env
    for var, value in values.items():
        mask_secret(value, var)
        target[var] = value
    missing = sorted(set(contract.secrets.values()) - set(values) - set(target))
    if missing:
        log.warning("%s: connection %r has no value for %s", contract.id, conn_id, ", ".join(missing))
    return sorted(values)


# ---------------------------------------------------------------- alerts

def send_alert(event: dict[str, Any], webhook: str | None = None, timeout: float = 10.0) -> bool:
    """Log an alert and, when a webhook URL is configured, POST it as JSON; True if delivered.

    Delivery is best effort: an alert that cannot be sent is logged, never raised, so it can
    not turn a finished task into a failed one.
    """
    from munihub.secrets import redact

    body = json.loads(redact(json.dumps(event, ensure_ascii=False, default=str)))
    log.error("munihub alert: %s", json.dumps(body, ensure_ascii=False))
    url = webhook if webhook is not None else os.environ.get(WEBHOOK_ENV, "")
    if not url:
        return False
    request = urllib.request.Request(url, data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                                     headers={"Content-Type": "application/json; charset=utf-8"},
                                     method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 - URL from operator config
            return 200 <= resp.status < 300
    except (OSError, ValueError) as exc:
        log.warning("munihub alert: could not POST to %s env webhook: %s", WEBHOOK_ENV, exc)
        return False


def notify_failure(context: Any) -> None:
    """on_failure_callback for every munihub task: one alert naming the DAG, task, run and error."""
    ti = context.get("ti") or context.get("task_instance")
    exc = context.get("exception")
    send_alert({
        "kind": "task_failed",
        "dag_id": getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", None),
        "task_id": getattr(ti, "task_id", None),
        "run_id": context.get("run_id") or getattr(ti, "run_id", None),
        "try_number": getattr(ti, "try_number", None),
        "error": f"{type(exc).__name__}: {exc}" if exc else None,
    })


def notify_stale(stale: list[dict[str, Any]]) -> int:
    """One alert per stale source (from `check_freshness`); returns how many were sent."""
    for item in stale:
        send_alert({"kind": "stale_source", **item})
    return len(stale)
