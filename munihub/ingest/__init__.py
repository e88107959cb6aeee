"""Ingest: from a source to published rows, one module per step.

`connector` (the one plugin interface: read batches since a cursor) → `extract` (open the
contract's connector, read) → `mapping` (onto the shared schema) → `validate` (each record
against the shared JSON Schema) → `stage` (good rows under a load id, bad ones to
`quarantine` with reasons, a non-essential field's bad value set aside; `columnar` maps and
validates a batch a column at a time with the schema compiled by `value_checks`) → `quality`
(dataset checks, measured in SQL by `quality_measure`; great-expectations only for Data Docs,
inside `quality_docs`, its views in `quality_views`) → `publish` (rows, cursor and ledger in one
transaction).  `loads` keeps the ledger row and the per-source lease.
"""
from __future__ import annotations

from munihub.ingest.connector import Batch, Connector, Rows, connector_kinds, load_connector_class, open_connector

__all__ = ["Batch", "Connector", "Rows", "connector_kinds", "load_connector_class", "open_connector"]
