"""Export resolved entities: golden records, or the cluster of every source row, as CSV or Parquet.

`clusters` has one row per (source row, entity it belongs to): `source, source_key,
entity_id, entity_type, mention, rule, copy, position` — a payment row appears twice, once as
the payment and once (`mention` true) as the citizen it names.  A row kept for matching alone
(an earlier copy of a key the source re-used, or a row waiting in quarantine for a value its
contract requires: `store.earlier_copies`) is listed under its key as the source wrote it
(empty for a row that had none), with `copy` (its content hash's first hex digits) and
`position` (where it was read, «clients.csv line 7»), so an agency finds it by its own key.  `entities` has one row per entity with its
golden record as JSON text.  Rows stream in batches, so a million entities fit in memory.
Exports hold personal data unmasked unless `mask` is set.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Iterator

import sqlalchemy as sa

from munihub import store
from munihub.errors import MunihubError
from munihub.resolve.records import COPY, COPY_HASH

KINDS = ("entities", "clusters")
FORMATS = ("csv", "parquet")
COLUMNS = {"entities": ["entity_id", "entity_type", "member_count", "golden", "updated_at"],
           "clusters": ["source", "source_key", "entity_id", "entity_type", "mention", "rule", "copy", "position"]}
BATCH = 50_000


def _rows(engine: sa.Engine, kind: str, mask: bool) -> Iterator[list[dict[str, Any]]]:
    from munihub.masking import mask_record, mask_text

    if kind == "entities":
        t = store.entities
        query = sa.select(t.c.entity_id, t.c.entity_type, t.c.member_count, t.c.golden,
                          t.c.updated_at).order_by(t.c.entity_id)
    else:
        t = store.entity_members
        query = sa.select(t.c.source, t.c.source_key, t.c.entity_id, t.c.entity_type,
                          t.c.rule).order_by(t.c.source, t.c.source_key)
    with engine.connect() as conn:
        positions = {} if kind == "entities" else _copy_positions(conn)
        result = conn.execution_options(yield_per=BATCH).execute(query).mappings()
        for part in result.partitions(BATCH):
            batch = []
            for row in part:
                row = dict(row)
                if kind == "entities":
                    golden = mask_record(row["golden"]) if mask else row["golden"]
                    row["golden"] = json.dumps(golden, ensure_ascii=False, sort_keys=True, default=str)
                    row["updated_at"] = str(row["updated_at"])
                else:
                    key = row["source_key"]
                    row["mention"] = key.endswith("#person")
                    key, _, copy = key.removesuffix("#person").partition(COPY)
                    row["copy"], row["position"] = copy, positions.get((row["source"], key, copy), "") if copy else ""
                    key = "" if copy and key.startswith("#") else key  # no source writes such a key (#keyless)
                    row["source_key"] = mask_text(key) if mask and key else key
                batch.append(row)
            yield batch


def _copy_positions(conn) -> dict[tuple[str, str, str], str]:
    """(source, key, copy) -> where each kept copy was read (copies are few: a re-used key's
    earlier rows, rows waiting in quarantine)."""
    e = store.earlier_copies
    return {(s, k, h[:COPY_HASH]): p or "" for s, k, h, p in conn.execute(
        sa.select(e.c.source, e.c.source_key, e.c.record_hash, e.c.position))}


def export(engine: sa.Engine, kind: str, fmt: str, out: str | Path, *, mask: bool = False) -> dict[str, Any]:
    """Write `kind` (entities|clusters) to `out` as `fmt` (csv|parquet); returns the row count."""
    if kind not in KINDS or fmt not in FORMATS:
        raise MunihubError(f"cannot export {kind!r} as {fmt!r}", where="export",
                           hint=f"kinds: {', '.join(KINDS)}; formats: {', '.join(FORMATS)}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    columns = COLUMNS[kind]
    n = 0
    if fmt == "csv":
        with out.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            for batch in _rows(engine, kind, mask):
                writer.writerows(batch)
                n += len(batch)
    else:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:  # pragma: no cover - pyarrow ships with the resolve extra
            raise MunihubError("Parquet export needs pyarrow", where="export",
                               hint="pip install pyarrow, or use --format csv") from None
        types = {"member_count": pa.int64(), "mention": pa.bool_()}
        schema = pa.schema([(c, types.get(c, pa.string())) for c in columns])
        with pq.ParquetWriter(out, schema) as writer:
            for batch in _rows(engine, kind, mask):
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                n += len(batch)
    return {"kind": kind, "format": fmt, "rows": n, "path": str(out)}
