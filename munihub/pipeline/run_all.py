"""Run every source once, isolated from each other, then consolidate: the hub's main job without Airflow.

One broken contract or unreachable source is recorded with its error and never stops the
others; what was already published stays published.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from munihub.config import Settings
from munihub.contracts import load_all
from munihub.errors import MunihubError
from munihub.secrets import redact


def run_all(settings: Settings, only: list[str] | None = None,
            progress: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """Sync each contract's source (all of them, or `only`), then consolidate; a summary dict."""
    from munihub.pipeline.consolidate import consolidate
    from munihub.pipeline.sync import sync_source

    contracts, broken = load_all(settings.contracts_dir, schemas_dir=settings.schemas_dir)
    rows: list[dict[str, Any]] = [{"source": str(err.where), "status": "broken contract", "error": err.what}
                                  for err in broken]
    for contract in contracts:
        if only and contract.id not in only:
            continue
        progress(f"syncing {contract.id} …")
        try:
            r = sync_source(contract.id, settings)
            rows.append({"source": contract.id, "status": "published", "read": r["rows_in"],
                         "published": r["rows_new"] + r["rows_changed"] + r["rows_unchanged"],
                         "new": r["rows_new"], "changed": r["rows_changed"], "quarantined": r["rows_quarantined"]})
        except MunihubError as err:
            status = "held" if err.__class__.__name__ == "QualityGateError" else "failed"
            rows.append({"source": contract.id, "status": status, "error": redact(str(err))[:300]})
            progress(f"  {contract.id}: {status}: {redact(str(err))[:300]}")
    progress("consolidating …")
    result = consolidate(settings)
    entities = [{"entity_type": t, **v} for t, v in sorted(result["types"].items())]
    return {"sources": rows, "entities": entities, "report": result.get("report")}
