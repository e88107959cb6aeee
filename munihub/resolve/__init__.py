"""Entity resolution: from published rows to entities and golden records.

`records` (published rows as match records) → `match` (features, blocking, exact rules,
Fellegi-Sunter scoring; its model in `model`) → `clustering` (clusters and stable ids) →
`golden` (field survivorship with lineage) and `followups` (137 requests folded into the
request they follow); `blocking` keeps the blocking index in the store so incremental runs
read only the neighbourhood of what changed; `write` stores the results; `run` drives a full
or incremental run.  Stewards act through `review`; `evaluate`, `export` and `entities`
read the results.
"""
from __future__ import annotations

from munihub.resolve.run import resolve_all

__all__ = ["resolve_all"]
