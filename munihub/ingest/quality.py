"""Dataset checks of a staged load, compiled from the contract and run by great-expectations.

`compile_checks` turns the contract's ODCS quality rules, plus the implicit checks every
load gets, into plain check specs (pure, no GE).  `run_checks` measures each spec on the
load's rows (GE for the per-value metrics, plain counting for the rest), applies the
contract's operator (mustBe, mustBeLessOrEqualTo, ...) and returns results as data
(`passed`/`warning`/`failed`/`error`), never exceptions: the pipeline decides what holds a
load.

Contract spellings (severity from the rule: `error` holds the load, `warning` publishes):
- ODCS metrics rowCount, nullValues, missingValues (arguments.missingValues), duplicateValues,
  invalidValues (arguments.validValues or .pattern); unit rows or percent of the load's rows.
- `{type: custom, engine: munihub, implementation: {...}}`: rowCountDriftPercent (rows read vs
  the last published load), and on a field nullShareDriftPoints, newValuePercent (rows whose
  value the last load never had; fields with <= 50 distinct values), freshnessSeconds.
- Implicit: key uniqueness (warning); quarantine share above customProperties
  maxQuarantinePercent (default 10, severity quarantineSeverity, default warning);
  freshness = age of the newest value of the slaProperties freshness `element` (else the
  field read from the server's watermark) against the freshness window (freshnessSeverity,
  default warning); emptied fields = a field filled before and null in all of >= 10 rows now.
Drift results carry a small `profile` (null shares, enum-like value counts) that the next
load reads back through `previous_checks` (the last published load's `loads.checks`).
"""
from __future__ import annotations

import datetime as dt
import itertools
import json
import os
from pathlib import Path
from collections.abc import Iterable
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
GE_METRICS = {"nullValues", "missingValues", "duplicateValues", "invalidValues"}
# munihub custom rules: implementation key -> (metric, unit, applies to a field)
CUSTOM = {"rowCountDriftPercent": ("rowCountDrift", "percent", False),
          "nullShareDriftPoints": ("nullShareDrift", "points", True),
          "newValuePercent": ("newValues", "percent", True),
          "freshnessSeconds": ("freshness", "seconds", True)}
DEFAULT_MAX_QUARANTINE_PERCENT = 10.0
ENUM_LIKE_MAX = 50      # a field with more distinct values than this is not profiled for new values
EMPTIED_MIN_ROWS = 10   # fewer rows than this say nothing about a column having vanished


def _props(items) -> dict[str, Any]:
    return {c.get("property"): c.get("value") for c in items or [] if isinstance(c, dict)}


def compile_checks(contract: Contract) -> list[dict[str, Any]]:
    """Plain check specs from the contract's rules, plus the implicit ones every load gets."""
    specs: list[dict[str, Any]] = []
    rules = [dict(r) for r in contract.quality] + [dict(q) for f in contract.fields for q in f.quality]
    for rule in rules:
        if rule.get("type") == "custom" and rule.get("engine") == "munihub":
            impl = rule.get("implementation") or {}
            for key, (metric, unit, per_field) in CUSTOM.items():
                if key in impl and (rule.get("field") or not per_field):
                    specs.append(_spec(rule, metric=metric, operator="mustBeLessOrEqualTo",
                                       threshold=float(impl[key]), unit=unit))
            continue
        metric = rule.get("metric") or rule.get("rule")
        if metric not in GE_METRICS | {"rowCount"}:
            continue  # text rules and other engines' rules are documentation for humans
        op = next((k for k in OPERATORS if k in rule), None)
        if op is None:
            continue
        specs.append(_spec(rule, metric=metric, operator=op, threshold=rule[op],
                           unit=rule.get("unit") or "rows"))
    # A key repeated inside one load means the source is confused, unless the contract names the
    # source's own record id: then a shared key (a national id) may repeat across records.
    key = [] if contract.record_id else contract.key
    if len(key) == 1 and not any(s["metric"] == "duplicateValues" and s["field"] == key[0] for s in specs):
        specs.append(_implicit(f"unique key {key[0]}", "duplicateValues", 0, "rows", field=key[0], op="mustBe"))
    elif len(key) > 1:  # a composite key is unique as a tuple; its parts may repeat on their own
        specs.append(_implicit(f"unique key {'+'.join(key)}", "duplicateKeys", 0, "rows", op="mustBe",
                               arguments={"fields": list(key)}))
    top = _props(contract.raw.get("customProperties"))
    specs.append(_implicit("quarantine share", "quarantineShare",
                           float(top.get("maxQuarantinePercent", DEFAULT_MAX_QUARANTINE_PERCENT)), "percent",
                           severity=str(top.get("quarantineSeverity") or "warning")))
    fresh = _freshness_field(contract)
    if fresh and contract.freshness_seconds and not any(s["metric"] == "freshness" for s in specs):
        specs.append(_implicit(f"freshness {fresh}", "freshness", contract.freshness_seconds, "seconds",
                               field=fresh, severity=str(top.get("freshnessSeverity") or "warning")))
    if contract.fields:
        specs.append(_implicit("emptied fields", "emptiedFields", 0, "fields", op="mustBe",
                               arguments={"fields": [f.name for f in contract.fields]}))
    return specs


def _freshness_field(contract: Contract) -> str | None:
    """The field whose newest value says how fresh a load is: the freshness SLA's `element`
    (`object.field` or `field`, shared or source name), else the field read from the watermark."""
    sla = next((i for i in contract.raw.get("slaProperties") or []
                if isinstance(i, dict) and i.get("property") in {"freshness", "latency"}), {})
    wanted = [str(sla["element"]).split(",")[0].strip()] if sla.get("element") else []
    wanted = [w.split(".", 1)[1] if "." in w and not contract.field(w) else w for w in wanted]
    wanted.append(str(contract.params.get("watermark") or ""))
    for name in filter(None, wanted):
        for f in contract.fields:
            if name in {f.name, f.source}:
                return f.name
    return None


def _spec(rule: dict, **kw) -> dict[str, Any]:
    field = rule.get("field")
    name = rule.get("name") or (f"{kw['metric']} {field}" if field else kw["metric"])
    return {"name": name, "field": field, "severity": str(rule.get("severity") or "error"),
            "arguments": rule.get("arguments") or {}, **kw}


def _implicit(name, metric, threshold, unit, *, field=None, op="mustBeLessOrEqualTo", severity="warning",
              arguments=None) -> dict[str, Any]:
    return {"name": name, "field": field, "metric": metric, "operator": op, "threshold": threshold,
            "unit": unit, "severity": severity, "arguments": arguments or {}}


# ---------------------------------------------------------------- measuring

def _value(record: dict, path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    if isinstance(value, (dict, list)):  # nested objects are compared as their JSON text
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def _column(records: list[dict], path: str) -> list:
    """One field's values; a plain name takes the fast path (a million records: ~0.1 s)."""
    if "." in path:
        return [_value(r, path) for r in records]
    values = [r.get(path) for r in records]
    kinds = set(map(type, values))
    if dict in kinds or list in kinds:
        values = [_value(r, path) for r in records]
    return values


def _frame(specs: list[dict], records: Iterable[dict]):
    """Only the columns the specs read (a projection, not the flattened records): memory stays
    proportional to the rules, not to the record width.  A column no record has is all-null.
    `records` is read once, a slice at a time, so a streamed load is never held whole as dicts
    (holding them cost a 200k-row sync 241 MB of peak memory: 708 MB, now 467 MB)."""
    import pandas as pd

    columns = sorted({s["field"] for s in specs if s.get("field")} |
                     {f for s in specs if s["metric"] in {"emptiedFields", "duplicateKeys"}
                      for f in s["arguments"]["fields"]})
    data: dict[str, list] = {c: [] for c in columns}
    total, it = 0, iter(records)
    while part := list(itertools.islice(it, 5000)):
        total += len(part)
        for c in columns:
            data[c].extend(_column(part, c))
    pattern_only = {s["field"] for s in specs if "pattern" in s["arguments"]} - \
        {s["field"] for s in specs if "validValues" in s["arguments"]}
    for c in pattern_only:  # a regex reads text; a number in the column is matched as its digits
        data[c] = [v if v is None or isinstance(v, str) else str(v) for v in data[c]]
    return pd.DataFrame(data, columns=columns, dtype=object, index=pd.RangeIndex(total))


def _expectation(g, spec: dict, tag: int):
    ex, field, args, meta = g.expectations, spec["field"], spec["arguments"], {"munihub": tag}
    metric = spec["metric"]
    if metric in {"nullValues", "missingValues"}:
        return ex.ExpectColumnValuesToNotBeNull(column=field, meta=meta)
    if metric == "duplicateValues":
        return ex.ExpectColumnValuesToBeUnique(column=field, meta=meta)
    if metric == "invalidValues" and "validValues" in args:
        return ex.ExpectColumnValuesToBeInSet(column=field, value_set=list(args["validValues"]), meta=meta)
    if metric == "invalidValues" and "pattern" in args:
        return ex.ExpectColumnValuesToMatchRegex(column=field, regex=args["pattern"], meta=meta)
    return None


def _native_count(spec: dict, frame) -> int | None:
    """Unexpected values of a null / unique / allowed-values rule counted on the frame itself,
    as great-expectations counts them (nulls are never duplicates nor outside a set); None for
    a rule only GE measures (patterns).  Importing GE alone took 2.2 s of a 100-row sync's 3.4 s."""
    metric, args = spec["metric"], spec["arguments"]
    if spec.get("field") not in frame:
        return None
    col = frame[spec["field"]]
    if metric in {"nullValues", "missingValues"}:
        return int(col.isna().sum())
    if metric == "duplicateValues":
        return int(col.dropna().duplicated(keep=False).sum())
    if metric == "invalidValues" and "validValues" in args and "pattern" not in args:
        return int((~col.dropna().isin(list(args["validValues"]))).sum())
    return None


def _measure_ge(specs: list[dict], frame, docs_dir, dataset: str) -> tuple[dict[int, Any], str | None]:
    """GE results of the per-value specs by spec index, and the Data Docs index (if built).
    GE runs only for Data Docs (`docs_dir`) or a rule measured nowhere else (a pattern)."""
    from munihub.ingest import quality_docs

    wanted = [(i, s) for i, s in enumerate(specs) if s["metric"] in GE_METRICS]
    if docs_dir is None and all(_native_count(s, frame) is not None for _, s in wanted):
        return {}, None
    if not wanted or frame.empty:
        return {}, None
    g = quality_docs.gx()
    exps = [e for e in (_expectation(g, s, i) for i, s in wanted) if e is not None]
    if not exps:
        return {}, None
    # GE fingerprints every frame it is given: hand it only the columns it measures
    cols = sorted({s["field"] for _, s in wanted})
    results, index = quality_docs.validate(frame[cols], exps, dataset=dataset, docs_dir=docs_dir)
    return {quality_docs.result_key(r): r for r in results}, index


def previous_profile(previous_checks: list[dict] | str | None) -> dict[str, dict]:
    """Null shares and enum-like value counts recorded by the previous load's drift results."""
    if isinstance(previous_checks, str):
        previous_checks = json.loads(previous_checks)
    out: dict[str, dict] = {"null_share": {}, "values": {}}
    for r in previous_checks or []:
        for part, figures in (r.get("profile") or {}).items():
            out.setdefault(part, {}).update(figures)
    return out


def run_checks(specs: list[dict], records: Iterable[dict], previous_rows: int | None = None,
               data_docs_dir: str | Path | None = None, *, quarantined: int = 0,
               previous_checks: list[dict] | None = None, now: dt.datetime | None = None,
               dataset: str | None = None, docs_relative_to: str | Path | None = None) -> list[dict[str, Any]]:
    """Measure every spec on `records`; one result dict per spec, in spec order.

    `previous_rows`/`previous_checks` describe the last published load (drift);
    `quarantined` is this load's quarantine count; with `data_docs_dir` GE also writes
    Data Docs there and every result links them as `data_docs` (relative to
    `docs_relative_to`, e.g. the reports folder, so the link works when the folder is served).
    """
    frame = _frame(specs, records)
    total = len(frame)
    ge, index = _measure_ge(specs, frame, data_docs_dir,
                            dataset or (Path(data_docs_dir).name if data_docs_dir else "load"))
    if index and docs_relative_to:
        index = Path(os.path.relpath(index, docs_relative_to)).as_posix()
    before = previous_profile(previous_checks)
    ctx = {"frame": frame, "total": total, "previous_rows": previous_rows, "quarantined": quarantined,
           "before": before, "now": now or dt.datetime.now(dt.timezone.utc)}
    results = []
    for i, spec in enumerate(specs):
        if spec["metric"] in GE_METRICS:
            result = _ge_result(spec, ge.get(i), frame, total)
        else:
            result = MEASURES[spec["metric"]](spec, ctx)
        if index:
            result["data_docs"] = index
        results.append(result)
    return results


def _ge_result(spec: dict, res, frame, total: int) -> dict:
    args = spec["arguments"]
    if spec["metric"] == "invalidValues" and not ({"validValues", "pattern"} & set(args)):
        return _result(spec, "error", None, f"{spec['name']}: invalidValues needs arguments.validValues "
                                            "or arguments.pattern in the contract")
    if total == 0:
        return _judge(spec, 0, total)
    count = _native_count(spec, frame)
    if count is None:
        if res is None or (res.exception_info or {}).get("raised_exception"):
            msg = (res.exception_info or {}).get("exception_message") if res else "no result"
            return _result(spec, "error", None, f"{spec['name']}: could not measure: {msg}")
        count = int(res.result.get("unexpected_count") or 0)
    if spec["metric"] == "missingValues":  # null, blank, or one of the contract's missing markers
        col = frame[spec["field"]]
        markers = {str(m) for m in args.get("missingValues") or []}
        text = col.map(lambda v: None if v is None else str(v).strip())
        count = int((col.isna() | (text == "") | text.isin(markers)).sum())
    return _judge(spec, count, total)


def _null_share(frame, field: str) -> float:
    return round(float(frame[field].isna().mean()) * 100, 2) if len(frame) else 0.0


def _row_count(spec, ctx):
    return _judge(spec, ctx["total"], ctx["total"])


def _row_count_drift(spec, ctx):
    # rows read (staged + quarantined), like the previous load's rows_in it is compared with
    prev, total = ctx["previous_rows"], ctx["total"] + (ctx["quarantined"] or 0)
    if not prev:
        return _result(spec, "passed", None, "no earlier load to compare with")
    drift = round(abs(total - prev) * 100.0 / prev, 2)
    return _judge(spec, drift, total, note=f"row count drift {drift}%: {prev} → {total} rows")


def _quarantine_share(spec, ctx):
    seen = ctx["total"] + (ctx["quarantined"] or 0)
    share = round((ctx["quarantined"] or 0) * 100.0 / seen, 2) if seen else 0.0
    return _judge(spec, share, ctx["total"],
                  note=f"{ctx['quarantined'] or 0} of {seen} rows quarantined ({share}%)")


def _null_share_drift(spec, ctx):
    field, frame = spec["field"], ctx["frame"]
    now = _null_share(frame, field)
    was = ctx["before"]["null_share"].get(field)
    if was is None or not len(frame):
        out = _result(spec, "passed", None, f"{field}: null share {now}%, no earlier figure to compare with")
    else:
        drift = round(abs(now - was), 2)
        out = _judge(spec, drift, ctx["total"], note=f"{field}: null share {was}% → {now}% ({drift} points)")
    out["profile"] = {"null_share": {field: now}}
    return out


def _new_values(spec, ctx):
    field, col = spec["field"], ctx["frame"][spec["field"]].dropna()
    counts = col.map(str).value_counts()
    profile = {field: {k: int(v) for k, v in counts.items()} if len(counts) <= ENUM_LIKE_MAX else None}
    was = ctx["before"]["values"].get(field, "absent")
    if was == "absent" or not len(col):
        out = _result(spec, "passed", None, f"{field}: no earlier values to compare with")
    elif was is None or profile[field] is None:
        out = _result(spec, "passed", None, f"{field}: more than {ENUM_LIKE_MAX} distinct values, not enum-like")
    else:
        new = {k: n for k, n in profile[field].items() if k not in was}
        share = round(sum(new.values()) * 100.0 / len(col), 2)
        shown = ", ".join(f"{k} ({n})" for k, n in sorted(new.items(), key=lambda kv: -kv[1])[:5])
        out = _judge(spec, share, ctx["total"], note=f"{field}: {sum(new.values())} rows ({share}%) with "
                                                     f"values not seen in the previous load{': ' + shown if new else ''}")
    out["profile"] = {"values": profile}
    return out


def _emptied_fields(spec, ctx):
    frame, shares = ctx["frame"], {f: _null_share(ctx["frame"], f) for f in spec["arguments"]["fields"]}
    was = ctx["before"]["null_share"]
    emptied = sorted(f for f, s in shares.items() if s == 100.0 and was.get(f, 100.0) < 50.0) \
        if len(frame) >= EMPTIED_MIN_ROWS else []
    note = (f"{len(emptied)} field(s) empty in all {len(frame)} rows but filled before "
            f"(a dropped source column?): {', '.join(emptied)}") if emptied else "no field went empty"
    out = _judge(spec, len(emptied), ctx["total"], note=note)
    out["field"] = ",".join(emptied) or None
    out["profile"] = {"null_share": shares}
    return out


def _when(value) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        when = value
    elif isinstance(value, dt.date):
        when = dt.datetime(value.year, value.month, value.day)
    else:
        try:
            when = dt.datetime.fromisoformat(str(value))
        except ValueError:
            return None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def _freshness(spec, ctx):
    field = spec["field"]
    # each distinct value parsed once: a load's dates repeat far more often than not
    times = [w for w in map(_when, set(ctx["frame"][field].dropna())) if w is not None]
    if not times:
        return _result(spec, "error", None, f"freshness: no readable {field} value in the load")
    newest = max(times)
    age = int((ctx["now"] - newest).total_seconds())
    return _judge(spec, age, ctx["total"], note=f"newest {field} {newest.isoformat()} is {age / 86400:.1f} days "
                                                f"old; window {float(spec['threshold']) / 86400:g} days")


def _duplicate_keys(spec, ctx):
    fields, frame = spec["arguments"]["fields"], ctx["frame"]
    repeated = int(frame[fields].astype(str).duplicated().sum()) if len(frame) else 0
    return _judge(spec, repeated, ctx["total"], note=f"{repeated} row(s) repeat a key {'+'.join(fields)}")


MEASURES = {"rowCount": _row_count, "duplicateKeys": _duplicate_keys, "rowCountDrift": _row_count_drift, "quarantineShare": _quarantine_share,
            "nullShareDrift": _null_share_drift, "newValues": _new_values, "emptiedFields": _emptied_fields,
            "freshness": _freshness}
UNITS = {"percent": "%", "points": " points", "seconds": " s", "fields": " fields", "rows": " rows"}


def _judge(spec: dict, value: float, total: int, note: str = "") -> dict:
    """Apply the spec's operator; counts of per-value metrics become a share when unit is percent."""
    if spec["unit"] == "percent" and spec["metric"] in GE_METRICS:
        value = round(value * 100.0 / total, 2) if total else 0.0
    ok = OPERATORS[spec["operator"]](value, spec["threshold"])
    status = "passed" if ok else ("failed" if spec["severity"] == "error" else "warning")
    measured = f"{spec['name']}: measured {value}{UNITS.get(spec['unit'], '')}, " \
               f"expected {spec['operator']} {spec['threshold']}"
    return _result(spec, status, value, f"{note} ({measured})" if note else measured)


def _result(spec: dict, status: str, observed, message: str) -> dict:
    return {"name": spec["name"], "field": spec.get("field"), "metric": spec["metric"],
            "severity": spec["severity"], "status": status, "observed": observed,
            "expected": f"{spec['operator']} {spec['threshold']}" if "operator" in spec else None,
            "message": message}


def blocking(results: list[dict]) -> list[dict]:
    """The results that hold a load: an error-severity check that failed or could not run."""
    return [r for r in results if r["status"] == "failed" or (r["status"] == "error" and r["severity"] == "error")]
