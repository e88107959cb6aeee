"""`contracts test`: try a contract against its live source without touching the store.

Reads up to N records, maps and validates each against the shared schema, runs the
contract's dataset checks on the valid ones, and judges freshness from the newest
watermark value seen.  Results are data (passed/warning/failed/error, with counts), as in
`munihub.ingest.quality`, so the CLI renders them and CI can read the JSON.
"""
from __future__ import annotations

import collections
import datetime as dt
from typing import Any

from munihub.config import Settings
from munihub.contracts import Contract


def _result(name: str, status: str, message: str, *, observed=None, severity: str = "error",
            metric: str = "") -> dict[str, Any]:
    return {"name": name, "field": None, "metric": metric, "severity": severity, "status": status,
            "observed": observed, "expected": None, "message": message}


def sample(contract: Contract, limit: int) -> tuple[list[dict], bool]:
    """Up to `limit` raw records from the start of the source; and whether more remained."""
    from munihub.ingest.extract import connect, read_batches
    from munihub.ingest.mapping import named_as_contract

    raws: list[dict] = []
    with connect(contract, batch_size=min(limit, 1000)) as conn:
        for batch in named_as_contract(contract, read_batches(conn, None)):
            for raw in batch.records:
                if len(raws) >= limit:
                    return raws, True
                raws.append(raw)
    return raws, False


def schema_result(contract: Contract, raws: list[dict], errors_of) -> tuple[dict, list[dict]]:
    """Map + validate every record: one result counting the invalid ones by field and rule."""
    from munihub.ingest.stage import check_record

    good, bad, why, aside = [], 0, collections.Counter(), collections.Counter()
    for raw in raws:
        record, _, reasons, held = check_record(contract, raw, errors_of)
        aside.update(a["field"] for a in held if not reasons)
        if reasons:
            bad += 1
            why.update({f"{r.get('pointer') or '/'} {r.get('rule')}" for r in reasons})
        else:
            good.append(record)
    top = ", ".join(f"{k} ×{n}" for k, n in why.most_common(5))
    if not raws:
        res = _result("schema", "warning", "no records read; nothing to validate", observed=0, metric="schema")
    elif bad:
        res = _result("schema", "failed", f"{bad} of {len(raws)} records invalid: {top}", observed=bad, metric="schema")
    else:
        res = _result("schema", "passed", f"all {len(raws)} records valid", observed=0, metric="schema")
    res["expected"], res["invalid_by_reason"] = "0 invalid records", dict(why)
    res["set_aside_by_field"] = dict(aside)  # published without these values (not essential)
    return res, good


def watermark_field(contract: Contract) -> str | None:
    """The source field that says when a row last changed, if the contract names one."""
    wm = contract.params.get("watermark")
    if isinstance(wm, str):
        return wm
    inc = contract.params.get("incremental")
    if isinstance(inc, dict) and inc.get("field"):
        return str(inc["field"])
    top = {c.get("property"): c.get("value") for c in contract.raw.get("customProperties") or []
           if isinstance(c, dict)}
    return str(top["incremental"]) if isinstance(top.get("incremental"), str) else None


def _when(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        moment = dt.datetime.fromtimestamp(value / 1000 if value > 1e11 else value, dt.timezone.utc)
    else:
        text = str(value or "").strip()
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            try:
                from munihub.persian import parse_date  # Jalali and Persian digits too
                moment = dt.datetime.fromisoformat(parse_date(text))
            except (ValueError, TypeError, ImportError):
                return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def freshness_result(contract: Contract, raws: list[dict], partial: bool,
                     now: dt.datetime | None = None) -> dict[str, Any]:
    """Newest watermark seen vs the contract's freshness window; 'unknown' when either is missing."""
    now = now or dt.datetime.now(dt.timezone.utc)
    field = watermark_field(contract)
    if contract.freshness_seconds is None or not field:
        why = "no freshness window in slaProperties" if contract.freshness_seconds is None \
            else "no watermark/updated field in the contract"
        return {**_result("freshness", "unknown", f"unknown: {why}", metric="freshness", severity="warning")}
    times = [t for t in (_when(r.get(field)) for r in raws if isinstance(r, dict)) if t]
    if not times:
        return _result("freshness", "unknown", f"unknown: no readable {field} value in the sample",
                       metric="freshness", severity="warning")
    newest = max(times)
    age = (now - newest).total_seconds()
    window = contract.freshness_seconds
    res = _result("freshness", "passed" if age <= window else "warning",
                  f"newest {field} {newest.isoformat()} is {age / 3600:.1f}h old; window {window / 3600:g}h"
                  + (" (sample only: a later record may be newer)" if partial else ""),
                  observed=round(age / 3600, 2), metric="freshness", severity="warning")
    res["expected"] = f"≤ {window / 3600:g}h"
    return res


def test_contract(contract: Contract, settings: Settings, limit: int = 1000) -> dict[str, Any]:
    """Every check of `contract` against its live source, as data; nothing is written anywhere."""
    from munihub.ingest.validate import errors_of
    from munihub.ingest.quality import compile_checks, run_checks

    raws, partial = sample(contract, limit)
    schema, good = schema_result(contract, raws, errors_of(contract, settings))
    results = [schema]
    if raws:
        results += run_checks(compile_checks(contract), good)
    results.append(freshness_result(contract, raws, partial))
    counts = collections.Counter(r["status"] for r in results)
    return {"dataset": contract.id, "version": contract.version, "read": len(raws),
            "valid": len(good), "invalid": len(raws) - len(good), "partial": partial,
            "set_aside": schema["set_aside_by_field"],
            "checks": results, "counts": dict(counts),
            "ok": not any(r["status"] in {"failed", "error"} for r in results)}


test_contract.__test__ = False  # not a pytest test, despite its name
