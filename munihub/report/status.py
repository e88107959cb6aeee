"""Headline figures per source for the terminal (`munihub status`): the report's headline."""
from __future__ import annotations

from typing import Any

from munihub.config import Settings


def source_status(settings: Settings) -> list[dict[str, Any]]:
    """Last load of every source (and every contract never run) with its counts and freshness."""
    from munihub.contracts import load_all
    from munihub.store import engine_for
    from munihub.report.build import headline

    contracts, _ = load_all(settings.contracts_dir, schemas_dir=settings.schemas_dir)
    rows = headline(engine_for(settings), contracts)
    for row in rows:
        row["finished_at"] = str(row.get("finished_at") or "")[:19]
    return rows
