"""Syncing one source: extract and stage → dataset checks → publish, one function per stage.

Each stage is a separate entry point so an Airflow task runs exactly one, passing only the
load id; `sync_source` runs all three without Airflow.
"""
from __future__ import annotations

import functools
import logging
from typing import Any

import sqlalchemy as sa

from munihub import store
from munihub.config import Settings, load_settings
from munihub.contracts import contract_for
from munihub.errors import ConcurrentRunError, MunihubError, QualityGateError
from munihub.ingest.loads import (abandon_unfinished, utc_now, acquire_lease, begin_load, discard_staging, fail_load, load_row,
                                  mark_staged, release_lease)
from munihub.ingest.validate import errors_of
from munihub.store import audit, engine_for

log = logging.getLogger("munihub.pipeline")


def extract_and_stage(contract_id: str, settings: Settings | None = None, interval_start: str | None = None,
                      interval_end: str | None = None, crash_hook=None, progress=None, early=None) -> str:
    """Read the source since its cursor, stage good rows, quarantine bad ones; return the load id.

    `progress(rows_read, rows_quarantined)` is called after every staged batch (the CLI shows it).
    `early` (`publish_ahead.PublishAhead`): a source's first load on PostgreSQL is also written
    into source_rows as it is staged, in a transaction `publish_load(early=…)` commits.
    """
    from munihub.ingest.extract import connect, read_batches
    from munihub.ingest.stage import stage_batches

    settings = settings or load_settings()
    contract = contract_for(contract_id, settings)
    engine = engine_for(settings)
    acquire_lease(engine, contract.id, contract.timeout_seconds)
    abandon_unfinished(engine, contract.id)
    load_id, cursor = begin_load(engine, contract, interval_start=interval_start, interval_end=interval_end)
    try:
        if early is not None:
            from munihub.ingest.identity import identity_of

            early.open(engine, contract.id, load_id, contract.entity_type, identity_of(contract))
        check = errors_of(contract, settings)
        with connect(contract, batch_size=settings.batch_size) as conn_:
            def hook(counts):
                if progress:
                    progress(counts.rows_in, counts.quarantined)
                if crash_hook:
                    crash_hook("during-extract")
            counts = stage_batches(engine, contract, load_id, read_batches(conn_, cursor),
                                   check, on_batch=hook if (progress or crash_hook) else None, early=early)
    except BaseException as exc:
        if early is not None:
            early.close()
        fail_load(engine, load_id, contract.id, exc)
        raise
    mark_staged(engine, load_id)
    if crash_hook:
        crash_hook("after-staging")
    log.info("%s: staged load %s: %d read, %d quarantined", contract.id, load_id, counts.rows_in, counts.quarantined)
    return load_id


def _raw_key_fields(contract) -> list[str]:
    keyed = sorted((f for f in contract.fields if f.primary_key), key=lambda f: f.key_position)
    return [f.source for f in keyed if f.source]


def check_load(load_id: str, settings: Settings | None = None, crash_hook=None, early=None) -> str:
    """Run the contract's dataset checks on a staged load; hold it (QualityGateError) on an error
    (and roll back what `early` wrote of it into source_rows)."""
    from munihub.ingest.quality import blocking, compile_checks, run_checks
    from munihub.ingest.quality_measure import StagedColumns

    settings = settings or load_settings()
    engine = engine_for(settings)
    load = load_row(engine, load_id)
    if load["status"] in {"checked", "published"}:
        return load["status"]
    contract = contract_for(load["source"], settings)
    with engine.connect() as conn:
        previous = conn.execute(sa.select(store.loads.c.rows_in, store.loads.c.checks).where(
            store.loads.c.source == contract.id, store.loads.c.status == "published", store.loads.c.rows_in > 0)
            .order_by(store.loads.c.started_at.desc()).limit(1)).first() or (None, None)
    key_field = contract.key[0] if len(contract.key) == 1 and not contract.record_id else None
    # measured in SQL (the load is never read back whole), the rows and nulls counted while staging;
    # a profile whose row count is not the ledger's (it always is) would only be ignored
    profile = load.get("staged_profile")
    if profile and profile.get("rows") != (load["rows_in"] or 0) - (load["rows_quarantined"] or 0):
        profile = None
    columns = StagedColumns(engine, load_id, key_field, fields=[f.name for f in contract.fields], profile=profile)
    # A load that read nothing new has nothing to check; one whose every row was quarantined
    # is checked on zero rows, so a rowCount rule can hold it.
    docs = settings.reports / "data-docs" / contract.id if settings.data_docs else None
    results = run_checks(compile_checks(contract), columns, previous_rows=previous[0], previous_checks=previous[1],
                         quarantined=load["rows_quarantined"] or 0, dataset=contract.id,
                         data_docs_dir=docs,
                         docs_relative_to=settings.reports) if load["rows_in"] else []
    held = blocking(results)
    status = "held" if held else "checked"
    with engine.begin() as conn:
        if not held:  # lost in a server crash: the load is checked again (a held load's audit entry stays durable)
            store.async_commit(conn)
        conn.execute(store.loads.update().where(store.loads.c.load_id == load_id).values(checks=results, status=status))
        if held:
            conn.execute(store.staged_rows.delete().where(store.staged_rows.c.load_id == load_id))
            conn.execute(store.loads.update().where(store.loads.c.load_id == load_id).values(finished_at=utc_now()))
            audit.append(conn, actor="pipeline", action="sync", target=contract.id, outcome="held",
                         detail={"load_id": load_id, "rows_in": load["rows_in"],
                                 "failed_checks": [r["name"] for r in held]})
    if crash_hook:
        crash_hook("after-checks")
    if held:
        if early is not None:
            early.close()
        release_lease(engine, contract.id)
        names = "; ".join(r["message"] for r in held)
        raise QualityGateError(f"load {load_id} held by {len(held)} failed check(s): {names}", where=contract.id,
                               hint="the consolidated store was not changed; see `munihub report`")
    return status


def publish_load(load_id: str, settings: Settings | None = None, crash_hook=None, early=None) -> dict[str, Any]:
    """Publish a checked load atomically, then let the connector tidy up (e.g. move files).
    `early`: the `extract_and_stage(early=…)` that staged it (its rows already in source_rows)."""
    from munihub.ingest.connector import load_connector_class
    from munihub.ingest.extract import connect
    from munihub.ingest.identity import identity_of
    from munihub.ingest.publish import publish_staged
    from munihub.ingest.stage import held_record

    settings = settings or load_settings()
    engine = engine_for(settings)
    load = load_row(engine, load_id)
    contract = contract_for(load["source"], settings)
    # the citizens of rows quarantined only for a value the contract requires are kept for matching
    held = functools.partial(held_record, contract, errors_of(contract, settings))
    try:
        counts = publish_staged(engine, load_id, entity_type=contract.entity_type,
                                raw_key_fields=_raw_key_fields(contract), identity=identity_of(contract),
                                crash_hook=crash_hook, early=early, held=held)
    except ConcurrentRunError:
        with engine.begin() as conn:
            discard_staging(conn, [load_id])
            conn.execute(store.loads.update().where(store.loads.c.load_id == load_id)
                         .values(status="skipped", finished_at=utc_now(), error="another run published first"))
            audit.append(conn, actor="pipeline", action="sync", target=contract.id, outcome="skipped",
                         detail={"load_id": load_id, "reason": "another run published first"})
        raise
    if crash_hook:
        crash_hook("after-publish")
    release_lease(engine, contract.id)
    try:  # only kinds that tidy (drop folders move read files) are opened again
        if load["cursor_after"] is not None and hasattr(load_connector_class(contract.connector), "finish"):
            with connect(contract) as conn_:
                conn_.finish(load["cursor_after"])
    except MunihubError as exc:  # tidying is best effort: the data is already safely published
        log.warning("%s: published, but tidying the source failed: %s", contract.id, exc)
    # records a later record with the same id replaced (the source re-uses ids): said, not lost silently
    overwritten = next((c for c in load.get("checks") or [] if c.get("metric") == "overwrittenRecords"
                        and c.get("observed")), None)
    return {"source": contract.id, "load_id": load_id, "rows_in": load["rows_in"],
            "rows_quarantined": load["rows_quarantined"], **counts,
            "values_set_aside": dict(load["values_set_aside"] or {}),
            **({"rows_overwritten": overwritten["observed"], "overwritten": overwritten["message"]}
               if overwritten else {})}


def sync_source(contract_id: str, settings: Settings | None = None, **kw) -> dict[str, Any]:
    """Extract, check and publish one source; the whole per-source flow without Airflow."""
    from munihub.ingest.publish_ahead import PublishAhead

    settings = settings or load_settings()
    with PublishAhead() as early:  # whatever it holds is rolled back unless the publish committed it
        load_id = extract_and_stage(contract_id, settings, early=early, **kw)
        check_load(load_id, settings, early=early)
        return publish_load(load_id, settings, early=early)
