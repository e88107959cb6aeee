"""Consolidation: resolve published rows into entities and golden records, then the report."""
from __future__ import annotations

import time
from typing import Any

from munihub.config import Settings, load_settings
from munihub.store import engine_for


def consolidate(settings: Settings | None = None) -> dict[str, Any]:
    """Resolve published rows into entities and golden records, then write the report."""
    from munihub.resolve.run import resolve_all

    settings = settings or load_settings()
    engine = engine_for(settings)
    started = time.perf_counter()
    result = resolve_all(engine, settings, match_settings=settings.match_settings)
    resolved = time.perf_counter()
    # Issue 20: indicators for city managers, refreshed for the periods this run changed.
    from munihub.indicators.refresh import refresh_folder
    result["indicators"] = refresh_folder(engine, settings.indicators)
    try:
        from munihub.report.build import write_report
        from munihub.contracts import load_all
        contracts, _ = load_all(settings.contracts_dir, schemas_dir=settings.schemas_dir)
        result["report"] = str(write_report(engine, settings.reports, contracts=contracts))
    except ImportError:  # the report module is optional for library users
        result["report"] = None
    # wall seconds per phase, so a slow consolidation says which half to look at
    result["seconds"] = {"resolve": round(resolved - started, 3), "report": round(time.perf_counter() - resolved, 3)}
    return result
