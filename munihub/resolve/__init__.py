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

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from munihub.resolve.run import resolve_all

__all__ = ["resolve_all"]


def __getattr__(name: str):
    # `run` (and with it the store and SQLAlchemy, ~0.2 s) imported when asked for, not by
    # every import of a resolve module: the array matcher and its workers need none of it
    if name == "resolve_all":
        from munihub.resolve.run import resolve_all
        return resolve_all
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
