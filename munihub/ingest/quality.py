"""Dataset checks of a staged load, compiled from the contract and measured by SQL aggregates.

`compile_checks` turns the contract's ODCS quality rules, plus the implicit checks every
load gets, into plain check specs (pure, no GE).  `run_checks` measures each spec on the
load's columns (`quality_measure`: SQL aggregates over the staging table, or records in
memory), counting as great-expectations counts; applies the contract's operator (mustBe,
mustBeLessOrEqualTo, ...) and returns results as data (`passed`/`warning`/`failed`/`error`),
never exceptions: the pipeline decides what holds a load.  great-expectations (and pandas)
load only to write Data Docs, on a sample of the load, when MUNIHUB_DATA_DOCS=1.

Contract spellings (severity from the rule: `error` holds the load, `warning` publishes):
- ODCS metrics rowCount, nullValues, missingValues (arguments.missingValues), duplicateValues,
  invalidValues (arguments.validValues or .pattern); unit rows or percent of the load's rows.
- `{type: custom, engine: munihub, implementation: {...}}`: rowCountDriftPercent (rows read vs
  the last published load), and on a field nullShareDriftPoints, newValuePercent (rows whose
  value the last load never had; fields with <= 50 distinct values), freshnessSeconds.
- Implicit: key uniqueness and a property's `unique: true` (warnings); quarantine share above customProperties
  maxQuarantinePercent (default 10, severity quarantineSeverity, default warning);
  freshness = age of the newest value of the slaProperties freshness `element` (else the
  field read from the server's watermark) against the freshness window (freshnessSeverity,
  default warning); emptied fields = a field filled before and null in all of >= 10 rows now.
Drift results carry a small `profile` (null shares, enum-like value counts) that the next
load reads back through `previous_checks` (the last published load's `loads.checks`).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections import Counter
from pathlib import Path
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
    objects = contract.raw.get("schema") if isinstance(contract.raw.get("schema"), list) else []
    props = (objects[0].get("properties") if objects and isinstance(objects[0], dict) else None) or []
    for prop in props:  # ODCS `unique: true`: said by the contract, so measured and reported
        name = prop.get("name") if isinstance(prop, dict) and prop.get("unique") is True else None
        if name and contract.field(name) and not any(s["metric"] == "duplicateValues" and s["field"] == name
                                                     for s in specs):
            specs.append(_implicit(f"unique {name}", "duplicateValues", 0, "rows", field=name, op="mustBe"))
    if contract.record_id:  # the record id itself must tell records apart, or publish keeps one
        specs.append(_implicit(f"unique record id {'+'.join(contract.record_id)}", "overwrittenRecords", 0, "rows",
                               op="mustBe", arguments={"fields": list(contract.record_id)}))
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

def _fields(specs: list[dict]) -> list[str]:
    """Every field a spec reads."""
    return sorted({s["field"] for s in specs if s.get("field")} |
                  {f for s in specs if s["metric"] in {"emptiedFields", "duplicateKeys"}
                   for f in s["arguments"]["fields"]})


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


def _data_docs(specs: list[dict], columns, docs_dir, dataset: str) -> str | None:
    """Data Docs of the per-value rules, built by great-expectations on a sample of the load
    (the first `SAMPLE_ROWS` rows): the verdicts are measured on every row, without GE."""
    import pandas as pd

    from munihub.ingest import quality_docs
    from munihub.ingest.quality_measure import SAMPLE_ROWS

    wanted = [(i, s) for i, s in enumerate(specs) if s["metric"] in GE_METRICS and s.get("field")]
    if not wanted or not columns.total:
        return None
    g = quality_docs.gx()
    exps = [e for e in (_expectation(g, s, i) for i, s in wanted) if e is not None]
    if not exps:
        return None
    cols = sorted({s["field"] for _, s in wanted})
    rows = [{c: _value(r, c) for c in cols} for r in columns.sample(SAMPLE_ROWS)]
    frame = pd.DataFrame(rows, columns=cols, dtype=object)
    for _, s in wanted:  # a regex reads text; a number in the column is matched as its digits
        if "pattern" in s["arguments"] and "validValues" not in s["arguments"]:
            frame[s["field"]] = [v if v is None or isinstance(v, str) else str(v) for v in frame[s["field"]]]
    _, index = quality_docs.validate(frame, exps, dataset=dataset, docs_dir=docs_dir)
    return index


def _value(record: dict, path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    if isinstance(value, (dict, list)):  # nested objects are compared as their JSON text
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def previous_profile(previous_checks: list[dict] | str | None) -> dict[str, dict]:
    """Null shares and enum-like value counts recorded by the previous load's drift results."""
    if isinstance(previous_checks, str):
        previous_checks = json.loads(previous_checks)
    out: dict[str, dict] = {"null_share": {}, "values": {}}
    for r in previous_checks or []:
        for part, figures in (r.get("profile") or {}).items():
            out.setdefault(part, {}).update(figures)
    return out


def run_checks(specs: list[dict], records, previous_rows: int | None = None,
               data_docs_dir: str | Path | None = None, *, quarantined: int = 0,
               previous_checks: list[dict] | None = None, now: dt.datetime | None = None,
               dataset: str | None = None, docs_relative_to: str | Path | None = None) -> list[dict[str, Any]]:
    """Measure every spec on a load; one result dict per spec, in spec order.

    `records` is the load: records (read once, only the columns the specs name kept) or the
    staged load's columns (`quality_measure.StagedColumns`: measured in SQL, never read whole).
    `previous_rows`/`previous_checks` describe the last published load (drift);
    `quarantined` is this load's quarantine count; with `data_docs_dir` great-expectations
    also writes Data Docs there (on a sample) and every result links them as `data_docs`
    (relative to `docs_relative_to`, e.g. the reports folder, so the link works when served).
    """
    from munihub.ingest.quality_measure import RecordColumns

    columns = records if hasattr(records, "repeated_keys") else RecordColumns(records, _fields(specs))
    index = None
    if data_docs_dir is not None:
        index = _data_docs(specs, columns, data_docs_dir,
                           dataset or (Path(data_docs_dir).name if data_docs_dir else "load"))
    if index and docs_relative_to:
        index = Path(os.path.relpath(index, docs_relative_to)).as_posix()
    ctx = {"columns": columns, "total": columns.total, "previous_rows": previous_rows, "quarantined": quarantined,
           "before": previous_profile(previous_checks), "now": now or dt.datetime.now(dt.timezone.utc)}
    results = []
    for spec in specs:
        if spec["metric"] in GE_METRICS:
            result = _per_value_result(spec, columns)
        else:
            result = MEASURES[spec["metric"]](spec, ctx)
        if index:
            result["data_docs"] = index
        results.append(result)
    return results


def _per_value_result(spec: dict, columns) -> dict:
    """Null, missing, duplicate and invalid values counted as great-expectations counts them
    (nulls are never duplicates nor invalid; a pattern is searched in the value's text)."""
    args, metric, field, total = spec["arguments"], spec["metric"], spec["field"], columns.total
    if metric == "invalidValues" and not ({"validValues", "pattern"} & set(args)):
        return _result(spec, "error", None, f"{spec['name']}: invalidValues needs arguments.validValues "
                                            "or arguments.pattern in the contract")
    if total == 0:
        return _judge(spec, 0, total)
    if metric == "nullValues":
        count = columns.nulls([field])[field]
    elif metric == "missingValues":  # null, blank, or one of the contract's missing markers
        markers = {str(m) for m in args.get("missingValues") or []}
        count = columns.nulls([field])[field] + sum(
            n for v, n in columns.values(field) if (t := str(v).strip()) == "" or t in markers)
    elif metric == "duplicateValues":
        count = columns.repeated(field)
    elif "validValues" in args:
        allowed = list(args["validValues"])
        count, bad, more = 0, [], False
        for v, n in columns.values(field):  # streamed: a column of distinct values is never held
            if v not in allowed:
                count += n
                bad = sorted([*bad, (v, n)], key=lambda vn: (-vn[1], str(vn[0])))  # the most frequent,
                more, bad = more or len(bad) > 3, bad[:3]  # whichever order the store yields them in
        if bad:  # which values, and that they are judged as published: validValues written as the
            # source's codes («مرد») refused every row the valueMap had made `male`, saying only a count
            shown = ", ".join(f"{str(v)[:40]!r} ({n})" for v, n in bad) + (", …" if more else "")
            return _judge(spec, count, total, note=f"{field}: values not in validValues: {shown}; values are "
                          "judged as published (after the field's reader and valueMap): list those")
    else:
        try:
            pattern = re.compile(args["pattern"])
        except (re.error, TypeError) as exc:
            return _result(spec, "error", None, f"{spec['name']}: could not measure: {exc}")
        count = sum(n for v, n in columns.values(field) if not pattern.search(str(v)))
    return _judge(spec, count, total)


def _null_share(ctx, field: str) -> float:
    total = ctx["total"]
    return round(ctx["columns"].nulls([field])[field] * 100.0 / total, 2) if total else 0.0


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
    field = spec["field"]
    now = _null_share(ctx, field)
    was = ctx["before"]["null_share"].get(field)
    if was is None or not ctx["total"]:
        out = _result(spec, "passed", None, f"{field}: null share {now}%, no earlier figure to compare with")
    else:
        drift = round(abs(now - was), 2)
        out = _judge(spec, drift, ctx["total"], note=f"{field}: null share {was}% → {now}% ({drift} points)")
    out["profile"] = {"null_share": {field: now}}
    return out


def _value_counts(columns, field: str) -> dict[str, int] | None:
    """Rows per value (as text) of an enum-like field; None past ENUM_LIKE_MAX distinct values
    (the reading stops there: a free-text column costs no more than 51 groups)."""
    counts: Counter = Counter()
    for v, n in columns.values(field):
        counts[str(v)] += n
        if len(counts) > ENUM_LIKE_MAX:
            return None
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _new_values(spec, ctx):
    field, columns = spec["field"], ctx["columns"]
    filled = ctx["total"] - columns.nulls([field])[field]
    counts = _value_counts(columns, field)
    profile = {field: counts}
    was = ctx["before"]["values"].get(field, "absent")
    if was == "absent" or not filled:
        out = _result(spec, "passed", None, f"{field}: no earlier values to compare with")
    elif was is None or counts is None:
        out = _result(spec, "passed", None, f"{field}: more than {ENUM_LIKE_MAX} distinct values, not enum-like")
    else:
        new = {k: n for k, n in counts.items() if k not in was}
        share = round(sum(new.values()) * 100.0 / filled, 2)
        shown = ", ".join(f"{k} ({n})" for k, n in sorted(new.items(), key=lambda kv: -kv[1])[:5])
        out = _judge(spec, share, ctx["total"], note=f"{field}: {sum(new.values())} rows ({share}%) with "
                                                     f"values not seen in the previous load{': ' + shown if new else ''}")
    out["profile"] = {"values": profile}
    return out


def _emptied_fields(spec, ctx):
    fields, total = spec["arguments"]["fields"], ctx["total"]
    nulls = ctx["columns"].nulls(fields)
    shares = {f: round(nulls[f] * 100.0 / total, 2) if total else 0.0 for f in fields}
    was = ctx["before"]["null_share"]
    emptied = sorted(f for f, s in shares.items() if s == 100.0 and was.get(f, 100.0) < 50.0) \
        if total >= EMPTIED_MIN_ROWS else []
    note = (f"{len(emptied)} field(s) empty in all {total} rows but filled before "
            f"(a dropped source column?): {', '.join(emptied)}") if emptied else "no field went empty"
    out = _judge(spec, len(emptied), total, note=note)
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
    # each distinct value parsed once (a load's dates repeat far more often than not), and only
    # the newest kept: a timestamp column has about as many distinct values as rows
    times = (w for w in (_when(v) for v, _ in ctx["columns"].values(field)) if w is not None)
    newest = max(times, default=None)
    if newest is None:
        return _result(spec, "error", None, f"freshness: no readable {field} value in the load")
    age = int((ctx["now"] - newest).total_seconds())
    return _judge(spec, age, ctx["total"], note=f"newest {field} {newest.isoformat()} is {age / 86400:.1f} days "
                                                f"old; window {float(spec['threshold']) / 86400:g} days")


def _duplicate_keys(spec, ctx):
    fields = spec["arguments"]["fields"]
    repeated = ctx["columns"].repeated_keys(fields) if ctx["total"] else 0
    return _judge(spec, repeated, ctx["total"], note=f"{repeated} row(s) repeat a key {'+'.join(fields)}")


def _overwritten_records(spec, ctx):
    """Rows a later row of the same load replaces although their values differ: a source that
    re-uses its record ids (a case number passed to a new owner) publishes each key's last
    copy only; the earlier records are kept for person matching alone (`store.earlier_copies`),
    never served or counted.  Said with where, never silently."""
    rows, first, last = ctx["columns"].overwritten() if ctx["total"] else (0, None, None)
    fields = "+".join(spec["arguments"]["fields"])
    note = (f"{rows} row(s) share their record id ({fields}) with a later row of other values and are not "
            f"published (their records are kept for matching persons only), e.g. {first} and {last}; "
            f"if the rows are one record's history (a status log), the last one read is published; "
            f"if the source re-uses ids for other records, name more fields in recordId"
            if rows else f"no two rows share a record id ({fields}) with other values")
    return _judge(spec, rows, ctx["total"], note=note)


MEASURES = {"rowCount": _row_count, "duplicateKeys": _duplicate_keys, "overwrittenRecords": _overwritten_records, "rowCountDrift": _row_count_drift,
            "quarantineShare": _quarantine_share, "nullShareDrift": _null_share_drift, "newValues": _new_values,
            "emptiedFields": _emptied_fields, "freshness": _freshness}
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
