"""Preview a source: its first records, mapped and validated, without touching the store."""
from __future__ import annotations

from typing import Any

from munihub.config import Settings


def preview(contract_ref: str, settings: Settings, limit: int = 20) -> list[dict[str, Any]]:
    """Up to `limit` records as the hub would stage them, each with `_valid` and `_reasons`."""
    from munihub.ingest.extract import connect, read_batches
    from munihub.ingest.mapping import named_as_contract
    from munihub.masking import mask_record
    from munihub.contracts import contract_for
    from munihub.ingest.validate import errors_of
    from munihub.ingest.stage import check_record

    contract = contract_for(contract_ref, settings)
    check = errors_of(contract, settings)
    out: list[dict[str, Any]] = []
    with connect(contract, batch_size=limit) as conn:
        for batch in named_as_contract(contract, read_batches(conn, None)):
            for raw in batch.records:
                record, _, reasons, aside = check_record(contract, raw, check)
                # the agency's own data: ids and mobiles masked by name, dates and the rest as converted
                row = mask_record(record, scan_text=False)
                row["_valid"] = "yes" if not reasons else "no"
                row["_reasons"] = "; ".join(f"{r['pointer']} {r['rule']}" for r in reasons)
                row["_set_aside"] = "; ".join(f"{a['pointer']} {a['rule']}" for a in aside)
                out.append(row)
                if len(out) >= limit:
                    return out
    return out
