"""Dataset checks of a staged load, compiled from the contract and run by great-expectations.

`compile_checks` turns the contract's ODCS quality rules into plain check specs (pure, no
GE).  `run_checks` lets great-expectations 1.x measure each metric on the load's rows and
applies the contract's operator (mustBe, mustBeLessOrEqualTo, …) to the measured figure.
Results are data (`passed`/`warning`/`failed`/`error`), never exceptions: the pipeline
decides what holds a load.
"""
from __future__ import annotations

import logging
import os
from typing import Any

from munihub.contracts import Contract

OPERATORS = {
    "mustBe": lambda v, t: v == t,
    "mustNotBe": lambda v, t: v != t,
    "mustBeGreaterThan": lambda v, t: v > t,
    "mustBeGreaterOrEqualTo": lambda v, t: v >= t,
    "mustBeLessThan": lambda v, t: v < t,
    "mustBeLessOrEqualTo": lambda v, t: v <= t,
    "mustBeBetween": lambda v, t: t[0] <= v <= t[1],
    "mustNotBeBetween": lambda v, t: not (t[0] <= v <= t[1]),
}
FIELD_METRICS = {"nullValues", "missingValues", "duplicateValues", "invalidValues"}


def compile_checks(contract: Contract) -> list[dict[str, Any]]:
    """Plain check specs from the contract's rules, plus the implicit ones every load gets."""
    specs: list[dict[str, Any]] = []
    rules = [dict(r) for r in contract.quality] + [dict(q) for f in contract.fields for q in f.quality]
    for rule in rules:
        if rule.get("type") == "custom" and rule.get("engine") == "munihub":
            impl = rule.get("implementation") or {}
            if "rowCountDriftPercent" in impl:
                specs.append(_spec(rule, metric="rowCountDrift", operator="mustBeLessOrEqualTo",
                                   threshold=float(impl["rowCountDriftPercent"]), unit="percent"))
            continue
        metric = rule.get("metric") or rule.get("rule")
        if metric not in FIELD_METRICS | {"rowCount"}:
            continue  # text rules and other engines' rules are documentation for humans
        op = next((k for k in OPERATORS if k in rule), None)
        if op is None:
            continue
        specs.append(_spec(rule, metric=metric, operator=op, threshold=rule[op],
                           unit=rule.get("unit") or "rows"))
    for name in contract.key:  # a key repeated inside one load means the source is confused
        if not any(s["metric"] == "duplicateValues" and s["field"] == name for s in specs):
            specs.append({"name": f"unique key {name}", "field": name, "metric": "duplicateValues",
                          "operator": "mustBe", "threshold": 0, "unit": "rows", "severity": "warning",
                          "arguments": {}})
    return specs


def _spec(rule: dict, **kw) -> dict[str, Any]:
    field = rule.get("field")
    name = rule.get("name") or (f"{kw['metric']} {field}" if field else kw["metric"])
    return {"name": name, "field": field, "severity": str(rule.get("severity") or "error"),
            "arguments": rule.get("arguments") or {}, **kw}


def _flatten(record: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in record.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _gx():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    try:
        import great_expectations as gx
    except ImportError as exc:  # pragma: no cover - depends on the install
        from munihub.errors import ConfigError
        raise ConfigError("great-expectations is not installed",
                          hint="pip install 'munihub[quality]'") from exc
    for name in ("great_expectations", "great_expectations.core", "great_expectations.data_context"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return gx


def _expectation(gx, spec: dict):
    ex, field, args = gx.expectations, spec["field"], spec["arguments"]
    metric = spec["metric"]
    if metric in {"nullValues", "missingValues"}:
        return ex.ExpectColumnValuesToNotBeNull(column=field)
    if metric == "duplicateValues":
        return ex.ExpectColumnValuesToBeUnique(column=field)
    if metric == "invalidValues":
        if "validValues" in args:
            return ex.ExpectColumnValuesToBeInSet(column=field, value_set=list(args["validValues"]))
        if "pattern" in args:
            return ex.ExpectColumnValuesToMatchRegex(column=field, regex=args["pattern"])
    return None


def run_checks(specs: list[dict], records: list[dict], *, previous_rows: int | None = None,
               data_docs_dir: str | None = None) -> list[dict[str, Any]]:
    """Measure every spec on `records` with great-expectations; one result dict per spec."""
    import pandas as pd

    gx = _gx()
    columns = {s["field"] for s in specs if s.get("field")}
    frame = pd.DataFrame([_flatten(r) for r in records])
    for col in columns - set(frame.columns):
        frame[col] = None  # a dropped column is measured as all-null, not skipped
    frame = frame.astype(object).where(frame.notna(), None)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    batch = (context.data_sources.add_pandas("munihub").add_dataframe_asset(name="load")
             .add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": frame}))
    suite = gx.ExpectationSuite(name="load")
    measured: list[tuple[dict, Any]] = []
    for spec in specs:
        exp = None if spec["metric"] in {"rowCount", "rowCountDrift"} else _expectation(gx, spec)
        if exp is not None:
            suite.add_expectation(exp)
        measured.append((spec, exp))
    by_cfg = {}
    if suite.expectations:
        for res in batch.validate(suite, result_format="SUMMARY").results:
            by_cfg[(res.expectation_config.type, res.expectation_config.kwargs.get("column"))] = res
    results = []
    total = len(frame)
    for spec, exp in measured:
        if spec["metric"] == "rowCount":
            results.append(_judge(spec, total, total))
            continue
        if spec["metric"] == "rowCountDrift":
            if not previous_rows:
                results.append(_result(spec, "passed", None, "no earlier load to compare with"))
            else:
                drift = abs(total - previous_rows) * 100.0 / previous_rows
                results.append(_judge(spec, round(drift, 2), total, note=f"{previous_rows} → {total} rows"))
            continue
        if exp is None:
            results.append(_result(spec, "error", None, f"metric {spec['metric']} needs arguments "
                                                         "(validValues or pattern)"))
            continue
        res = by_cfg.get((exp.configuration.type, spec["field"]))
        if res is None or (res.exception_info or {}).get("raised_exception"):
            msg = (res.exception_info or {}).get("exception_message") if res else "no result"
            results.append(_result(spec, "error", None, f"could not measure: {msg}"))
            continue
        unexpected = res.result.get("unexpected_count") or 0
        if spec["metric"] in {"nullValues", "missingValues"}:
            unexpected = int(frame[spec["field"]].isna().sum() +
                             (frame[spec["field"]].astype(str).str.strip() == "").sum()
                             if spec["metric"] == "missingValues" else frame[spec["field"]].isna().sum())
        results.append(_judge(spec, unexpected, total))
    if data_docs_dir:
        for r in results:
            r["data_docs"] = data_docs_dir
    return results


def _judge(spec: dict, count: float, total: int, note: str = "") -> dict:
    value = count
    if spec["unit"] == "percent" and spec["metric"] != "rowCountDrift":
        value = round(count * 100.0 / total, 2) if total else 0.0
    ok = OPERATORS[spec["operator"]](value, spec["threshold"])
    status = "passed" if ok else ("failed" if spec["severity"] == "error" else "warning")
    unit = "%" if spec["unit"] == "percent" else " rows"
    message = note or f"{spec['name']}: measured {value}{unit}, expected {spec['operator']} {spec['threshold']}"
    return _result(spec, status, value, message)


def _result(spec: dict, status: str, observed, message: str) -> dict:
    return {"name": spec["name"], "field": spec.get("field"), "metric": spec["metric"],
            "severity": spec["severity"], "status": status, "observed": observed,
            "expected": f"{spec['operator']} {spec['threshold']}" if "operator" in spec else None,
            "message": message}


def blocking(results: list[dict]) -> list[dict]:
    """The results that hold a load: an error-severity check that failed or could not run."""
    return [r for r in results if r["status"] == "failed" or (r["status"] == "error" and r["severity"] == "error")]
