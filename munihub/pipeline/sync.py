"""The pipeline: composes the stages, and nothing else.

`sync_source` = `extract_and_stage` → `check_load` → `publish_load`; each is also a
separate entry point so an Airflow task can run exactly one stage, passing only the load id.
`consolidate` resolves entities and writes the stewards' report.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import os
import socket
import time
import uuid
from typing import Any

import sqlalchemy as sa

from munihub import audit, store
from munihub.config import Settings, load_settings
from munihub.contracts import Contract, find_contract, load_contract
from munihub.errors import ConcurrentRunError, MunihubError, QualityGateError, StoreError
from munihub.secrets import redact

log = logging.getLogger("munihub.pipeline")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@functools.lru_cache(maxsize=8)
def _engine(url: str) -> sa.Engine:
    return store.open_store(url)


def engine_for(settings: Settings | None = None) -> sa.Engine:
    """The (migrated) store engine for `settings`, shared within the process."""
    return _engine((settings or load_settings()).store_url)


def contract_for(ref: str, settings: Settings | None = None) -> Contract:
    """The contract `ref` names (dataset id or file), parsed and checked once per content.

    Every stage of a load reads its contract; parsing and checking one costs ~6 ms, so a
    process keeps the result by the file's bytes: an edited contract is read afresh.
    """
    settings = settings or load_settings()
    path = find_contract(ref, settings.contracts_dir)
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return load_contract(path, schemas_dir=settings.schemas_dir)  # let it report the problem
    return _parsed_contract(str(path), digest, settings.schemas_dir)


@functools.lru_cache(maxsize=256)
def _parsed_contract(path: str, digest: str, schemas_dir) -> Contract:
    return load_contract(path, schemas_dir=schemas_dir)


@functools.lru_cache(maxsize=64)
def _validator(entity_type: str, schemas_dir: str):
    from munihub.validate import compile_validator
    return compile_validator(entity_type, schemas_dir=schemas_dir)


def errors_of(contract: Contract, settings: Settings):
    """The record validator for the contract's shared schema, as a function record -> reasons."""
    return _validator(contract.entity_type, str(settings.schemas_dir)).errors


# ---------------------------------------------------------------- leases

def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _holder_dead(holder: str) -> bool:
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
        return False
    except ProcessLookupError:
        return True
    except PermissionError:
        return False


def acquire_lease(engine: sa.Engine, source: str, seconds: int) -> None:
    """Claim the right to run `source`; ConcurrentRunError if a live run holds it."""
    t, now = store.leases, _now()
    with engine.begin() as conn:
        row = conn.execute(sa.select(t).where(t.c.source == source).with_for_update()).mappings().first()
        values = {"holder": _holder(), "acquired_at": now, "expires_at": now + dt.timedelta(seconds=seconds)}
        if row is None:
            try:
                with conn.begin_nested():
                    conn.execute(t.insert().values(source=source, **values))
                return
            except sa.exc.IntegrityError:
                pass
        else:
            expires = row["expires_at"]
            if expires.tzinfo is None:
                expires = expires.replace(tzinfo=dt.timezone.utc)
            if expires < now or _holder_dead(row["holder"]):
                done = conn.execute(t.update().where(t.c.source == source, t.c.holder == row["holder"]).values(**values))
                if done.rowcount == 1:
                    return
    raise ConcurrentRunError("another run of this source is in progress", where=source,
                             hint="this run exits without publishing; the running one will publish")


def release_lease(engine: sa.Engine, source: str) -> None:
    with engine.begin() as conn:
        conn.execute(store.leases.delete().where(store.leases.c.source == source))


def _abandon_unfinished(engine: sa.Engine, source: str) -> None:
    """Loads of `source` left half-way by a crash: drop their staging; their rows will be re-read.

    Open quarantine rows of held loads are superseded too: a held load did not move the cursor,
    so this run reads (and, if still bad, quarantines) the same records again.
    """
    t = store.loads
    with engine.begin() as conn:
        held = sa.select(t.c.load_id).where(t.c.source == source, t.c.status == "held")
        conn.execute(store.quarantine.update().where(store.quarantine.c.source == source,
                                                     store.quarantine.c.status == "open",
                                                     store.quarantine.c.load_id.in_(held))
                     .values(status="superseded"))
        ids = [r for (r,) in conn.execute(sa.select(t.c.load_id).where(
            t.c.source == source, t.c.status.in_(["extracting", "staged", "checked"])))]
        if ids:
            conn.execute(store.staged_rows.delete().where(store.staged_rows.c.load_id.in_(ids)))
            conn.execute(store.quarantine.delete().where(store.quarantine.c.load_id.in_(ids)))
            conn.execute(t.update().where(t.c.load_id.in_(ids)).values(status="abandoned", finished_at=_now()))


def begin_load(engine: sa.Engine, contract: Contract, *, interval_start: str | None = None,
               interval_end: str | None = None, keep_cursor: bool = False) -> tuple[str, Any]:
    """Open a ledger row for a new load of `contract`: (load id, the source's cursor now).

    The cursor's version is recorded so publish can compare-and-set it.  With `keep_cursor`
    (replays, backfills) the load's cursor_after is the current cursor: it never moves it.
    """
    load_id = uuid.uuid4().hex
    with engine.begin() as conn:
        cur = conn.execute(sa.select(store.cursors.c.cursor, store.cursors.c.version)
                           .where(store.cursors.c.source == contract.id)).first()
        cursor = cur[0] if cur else None
        conn.execute(store.loads.insert().values(
            load_id=load_id, source=contract.id, contract_version=contract.version, status="extracting",
            started_at=_now(), interval_start=interval_start, interval_end=interval_end, rows_in=0,
            rows_quarantined=0, cursor_before=cursor, cursor_version=cur[1] if cur else None,
            cursor_after=cursor if keep_cursor else None))
    return load_id, cursor


def mark_staged(engine: sa.Engine, load_id: str, **values) -> None:
    with engine.begin() as conn:
        conn.execute(store.loads.update().where(store.loads.c.load_id == load_id).values(status="staged", **values))


def fail_load(engine: sa.Engine, load_id: str, source: str, exc: BaseException) -> None:
    """Record a load as failed (error redacted, audited), drop what it staged, free the source."""
    message = redact(str(exc))[:2000]
    with engine.begin() as conn:
        conn.execute(store.staged_rows.delete().where(store.staged_rows.c.load_id == load_id))
        conn.execute(store.quarantine.delete().where(store.quarantine.c.load_id == load_id))
        conn.execute(store.loads.update().where(store.loads.c.load_id == load_id)
                     .values(status="failed", finished_at=_now(), error=message, rows_quarantined=0))
        audit.append(conn, actor="pipeline", action="sync", target=source, outcome="failed",
                     detail={"load_id": load_id, "error": message[:500]})
    release_lease(engine, source)


# ---------------------------------------------------------------- stages

def extract_and_stage(contract_id: str, settings: Settings | None = None, interval_start: str | None = None,
                      interval_end: str | None = None, crash_hook=None) -> str:
    """Read the source since its cursor, stage good rows, quarantine bad ones; return the load id."""
    from munihub.extract import connect, read_batches
    from munihub.stage import stage_batches

    settings = settings or load_settings()
    contract = contract_for(contract_id, settings)
    engine = engine_for(settings)
    acquire_lease(engine, contract.id, contract.timeout_seconds)
    _abandon_unfinished(engine, contract.id)
    load_id, cursor = begin_load(engine, contract, interval_start=interval_start, interval_end=interval_end)
    try:
        check = errors_of(contract, settings)
        with connect(contract, batch_size=settings.batch_size) as conn_:
            hook = (lambda counts: crash_hook("during-extract")) if crash_hook else None
            counts = stage_batches(engine, contract, load_id, read_batches(conn_, cursor),
                                   check, on_batch=hook)
    except BaseException as exc:
        fail_load(engine, load_id, contract.id, exc)
        raise
    mark_staged(engine, load_id)
    if crash_hook:
        crash_hook("after-staging")
    log.info("%s: staged load %s: %d read, %d quarantined", contract.id, load_id, counts.rows_in, counts.quarantined)
    return load_id


def _load(engine: sa.Engine, load_id: str) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(sa.select(store.loads).where(store.loads.c.load_id == load_id)).mappings().first()
    if row is None:
        raise StoreError(f"no load {load_id!r}", hint="run extract first")
    return dict(row)


def check_load(load_id: str, settings: Settings | None = None, crash_hook=None) -> str:
    """Run the contract's dataset checks on a staged load; hold it (QualityGateError) on an error."""
    from munihub.quality import blocking, compile_checks, run_checks
    from munihub.stage import staged_records

    settings = settings or load_settings()
    engine = engine_for(settings)
    load = _load(engine, load_id)
    if load["status"] in {"checked", "published"}:
        return load["status"]
    contract = contract_for(load["source"], settings)
    with engine.connect() as conn:
        previous = conn.execute(sa.select(store.loads.c.rows_in, store.loads.c.checks).where(
            store.loads.c.source == contract.id, store.loads.c.status == "published", store.loads.c.rows_in > 0)
            .order_by(store.loads.c.started_at.desc()).limit(1)).first() or (None, None)
    records = staged_records(engine, load_id)
    # A load that read nothing new has nothing to check; one whose every row was quarantined
    # is checked on zero rows, so a rowCount rule can hold it.
    results = run_checks(compile_checks(contract), records, previous_rows=previous[0], previous_checks=previous[1],
                         quarantined=load["rows_quarantined"] or 0, dataset=contract.id,
                         data_docs_dir=settings.reports / "data-docs" / contract.id,
                         docs_relative_to=settings.reports) if load["rows_in"] else []
    held = blocking(results)
    status = "held" if held else "checked"
    with engine.begin() as conn:
        conn.execute(store.loads.update().where(store.loads.c.load_id == load_id).values(checks=results, status=status))
        if held:
            conn.execute(store.staged_rows.delete().where(store.staged_rows.c.load_id == load_id))
            conn.execute(store.loads.update().where(store.loads.c.load_id == load_id).values(finished_at=_now()))
            audit.append(conn, actor="pipeline", action="sync", target=contract.id, outcome="held",
                         detail={"load_id": load_id, "rows_in": load["rows_in"],
                                 "failed_checks": [r["name"] for r in held]})
    if crash_hook:
        crash_hook("after-checks")
    if held:
        release_lease(engine, contract.id)
        names = "; ".join(r["message"] for r in held)
        raise QualityGateError(f"load {load_id} held by {len(held)} failed check(s): {names}", where=contract.id,
                               hint="the consolidated store was not changed; see `munihub report`")
    return status


def publish_load(load_id: str, settings: Settings | None = None, crash_hook=None) -> dict[str, Any]:
    """Publish a checked load atomically, then let the connector tidy up (e.g. move files)."""
    from munihub.connector import load_connector_class
    from munihub.extract import connect
    from munihub.publish import publish_staged

    settings = settings or load_settings()
    engine = engine_for(settings)
    load = _load(engine, load_id)
    contract = contract_for(load["source"], settings)
    try:
        counts = publish_staged(engine, load_id, entity_type=contract.entity_type, crash_hook=crash_hook)
    except ConcurrentRunError:
        with engine.begin() as conn:
            conn.execute(store.staged_rows.delete().where(store.staged_rows.c.load_id == load_id))
            conn.execute(store.quarantine.delete().where(store.quarantine.c.load_id == load_id))
            conn.execute(store.loads.update().where(store.loads.c.load_id == load_id)
                         .values(status="skipped", finished_at=_now(), error="another run published first"))
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
    return {"source": contract.id, "load_id": load_id, "rows_in": load["rows_in"],
            "rows_quarantined": load["rows_quarantined"], **counts}


def sync_source(contract_id: str, settings: Settings | None = None, **kw) -> dict[str, Any]:
    """Extract, check and publish one source; the whole per-source flow without Airflow."""
    settings = settings or load_settings()
    load_id = extract_and_stage(contract_id, settings, **kw)
    check_load(load_id, settings)
    return publish_load(load_id, settings)


def consolidate(settings: Settings | None = None) -> dict[str, Any]:
    """Resolve published rows into entities and golden records, then write the report."""
    from munihub.resolve import resolve_all

    settings = settings or load_settings()
    engine = engine_for(settings)
    started = time.perf_counter()
    result = resolve_all(engine, settings, match_settings=settings.match_settings)
    resolved = time.perf_counter()
    try:
        from munihub.report import write_report
        from munihub.contracts import load_all
        contracts, _ = load_all(settings.contracts_dir, schemas_dir=settings.schemas_dir)
        result["report"] = str(write_report(engine, settings.reports, contracts=contracts))
    except ImportError:  # the report module is optional for library users
        result["report"] = None
    # wall seconds per phase, so a slow consolidation says which half to look at
    result["seconds"] = {"resolve": round(resolved - started, 3), "report": round(time.perf_counter() - resolved, 3)}
    return result


def check_freshness(settings: Settings | None = None, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Sources whose last published load is older than their contract's freshness window."""
    from munihub.contracts import load_all

    settings = settings or load_settings()
    engine = engine_for(settings)
    now = now or _now()
    contracts, _ = load_all(settings.contracts_dir, schemas_dir=settings.schemas_dir)
    stale = []
    with engine.connect() as conn:
        last = dict(conn.execute(sa.select(store.loads.c.source, sa.func.max(store.loads.c.finished_at))
                                 .where(store.loads.c.status == "published").group_by(store.loads.c.source)).all())
    for c in contracts:
        if not c.freshness_seconds:
            continue
        when = last.get(c.id)
        if isinstance(when, str):
            when = dt.datetime.fromisoformat(when)
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        age = (now - when).total_seconds() if when else None
        if age is None or age > c.freshness_seconds:
            stale.append({"source": c.id, "owner": c.owner, "last_published": when.isoformat() if when else None,
                          "age_seconds": age, "freshness_seconds": c.freshness_seconds})
    return stale
