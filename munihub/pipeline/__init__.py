"""The pipeline: operations that compose several wings, and the only modules that do.

`sync` (extract and stage → checks → publish, per source), `consolidate` (resolution and the
report), `freshness`, `backfill`, `replay` (quarantined records after a fix), `preview`,
`contract_test` (a contract against its live source) and `run_all` (every source, then
consolidation).  Faces (the CLI, the gateway, Airflow) call these; wings never do.
"""
from __future__ import annotations

from munihub.pipeline.consolidate import consolidate
from munihub.pipeline.freshness import check_freshness
from munihub.pipeline.sync import check_load, extract_and_stage, publish_load, sync_source

__all__ = ["sync_source", "extract_and_stage", "check_load", "publish_load", "consolidate", "check_freshness"]
