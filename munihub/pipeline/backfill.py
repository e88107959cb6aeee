"""Backfill: re-read one source for a date range and publish it through the usual stage/check/publish.

The interval is half-open, [start, end), like Airflow's data intervals; bounds are dates
(`2024-03-01`) or date-times, compared with the source's watermark as `YYYY-MM-DD HH:MM:SS`
text (what a TEXT watermark holds; PostgreSQL and MySQL cast it for timestamp columns).

- `sql` sources with a watermark: the connector reads only `start <= watermark < end`
  (a WHERE in the database, keyset-paged as usual).
- every other kind (REST, SOAP, file drops) and `sql` without a watermark: the source is read
  from the beginning and only records whose contract `incremental` field lies in the interval
  are kept.  File drops hold only the files still in the folder (moved files are not re-read).

A backfill load never moves the source's cursor: it publishes with the cursor it found, so the
next scheduled run continues exactly where it would have.  Publishing upserts by key and content
hash, so a second backfill of the same range publishes nothing new.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from munihub.config import Settings, load_settings
from munihub.ingest.connector import Batch, load_connector_class
from munihub.contracts import Contract
from munihub.errors import ConfigError

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def bound(text: str | dt.date | dt.datetime, what: str = "start") -> str:
    """A range bound as sortable watermark text: `YYYY-MM-DD` or `YYYY-MM-DD HH:MM:SS` (UTC)."""
    if isinstance(text, dt.datetime):
        value = text
    elif isinstance(text, dt.date):
        return text.isoformat()
    else:
        raw = str(text or "").strip()
        if _DATE.match(raw):
            dt.date.fromisoformat(raw)  # rejects 2024-02-30
            return raw
        try:
            value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"backfill {what} {raw!r} is not a date", where="backfill",
                              hint="give YYYY-MM-DD or an ISO date-time such as 2024-03-01T00:00:00+00:00") from None
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.strftime("%Y-%m-%d %H:%M:%S")


def interval(start, end) -> tuple[str, str]:
    """(start, end) as bound texts; a ConfigError if the range is empty or reversed."""
    lo, hi = bound(start, "start"), bound(end, "end")
    if lo >= hi:
        raise ConfigError(f"backfill range {lo} .. {hi} is empty", where="backfill",
                          hint="the end is exclusive and must come after the start")
    return lo, hi


def incremental_field(contract: Contract) -> str | None:
    """The source field named by the contract's top-level `incremental` custom property."""
    top = {p.get("property"): p.get("value") for p in contract.raw.get("customProperties") or []}
    value = top.get("incremental")
    return str(value) if isinstance(value, str) and value else None


# ---------------------------------------------------------------- reading an interval

def _interval_sql_class():
    """The sql connector with the interval as a WHERE on its watermark (imported lazily)."""
    SqlConnector = load_connector_class("sql")  # through its entry point, as every kind is reached

    class IntervalSqlConnector(SqlConnector):
        """Reads only rows with start <= watermark < end; otherwise the sql kind unchanged."""

        window: tuple[str, str] = ("", "")

        def _from(self, names):
            base = super()._from(names)
            wm = base.c[self.watermark]
            lo, hi = self.window
            return sa.select(*base.c).where(wm >= sa.bindparam("bf_lo", lo), wm < sa.bindparam("bf_hi", hi)) \
                .subquery("munihub_backfill")

    return IntervalSqlConnector


def _filtered(batches: Iterator[Batch], field: str, lo: str, hi: str) -> Iterator[Batch]:
    """Only the records whose `field` (text-compared, 'T' read as a space) lies in [lo, hi)."""
    for batch in batches:
        keep = [i for i, rec in enumerate(batch.records)
                if isinstance(rec, dict) and rec.get(field) not in (None, "")
                and lo <= str(rec[field]).replace("T", " ") < hi]
        if keep:
            yield Batch([batch.records[i] for i in keep], cursor=None, where=batch.where,
                        positions=[batch.position(i) for i in keep])


def read_interval(contract: Contract, lo: str, hi: str, batch_size: int) -> Iterator[Batch]:
    """The source's records in [lo, hi), by the cheapest route its kind allows."""
    from munihub.contracts import expand_params
    from munihub.ingest.extract import connect, read_batches
    from munihub.secrets import resolve_secrets

    params = expand_params(contract)
    params.setdefault("batch_size", batch_size)
    if contract.connector == "sql" and params.get("watermark"):
        cls = _interval_sql_class()
        conn = cls(params, source=contract.id, secrets=resolve_secrets(contract))
        conn.window = (lo, hi)
        try:
            yield from read_batches(conn, None)
        finally:
            conn.close()
        return
    field = incremental_field(contract)
    if not field:
        raise ConfigError("backfill needs a watermark to select a date range", where=contract.id,
                          hint="add customProperties `incremental: <source field>` to the contract")
    with connect(contract, batch_size=batch_size) as conn:
        yield from _filtered(read_batches(conn, None), field, lo, hi)


# ---------------------------------------------------------------- the load

def extract_interval(contract_id: str, start, end, settings: Settings | None = None) -> str:
    """Stage the source's records in [start, end) as a load that keeps the cursor; the load id."""
    from munihub.ingest.loads import acquire_lease, begin_load, fail_load, mark_staged
    from munihub.contracts import contract_for
    from munihub.store import engine_for
    from munihub.ingest.validate import errors_of
    from munihub.ingest.stage import stage_batches

    lo, hi = interval(start, end)
    settings = settings or load_settings()
    contract = contract_for(contract_id, settings)
    engine = engine_for(settings)
    acquire_lease(engine, contract.id, contract.timeout_seconds)
    load_id, _ = begin_load(engine, contract, interval_start=lo, interval_end=hi)
    try:
        stage_batches(engine, contract, load_id, read_interval(contract, lo, hi, settings.batch_size),
                      errors_of(contract, settings))
    except BaseException as exc:
        fail_load(engine, load_id, contract.id, exc)
        raise
    # cursor_after None: publishing keeps cursor_before, so the scheduled runs are unaffected
    mark_staged(engine, load_id, cursor_after=None)
    return load_id


def backfill(contract_id: str, start, end, settings: Settings | None = None) -> dict[str, Any]:
    """Extract [start, end) of one source, check and publish it; the publish counts and the range."""
    from munihub.pipeline.sync import check_load, publish_load

    settings = settings or load_settings()
    load_id = extract_interval(contract_id, start, end, settings)
    check_load(load_id, settings)
    result = publish_load(load_id, settings)
    lo, hi = interval(start, end)
    return {**result, "interval_start": lo, "interval_end": hi}
