"""Compare two versions of a data contract: every change, whether it breaks, and the bump it needs.

Pure functions over the YAML dicts (no loading, no files), so `contracts diff`, `contracts
check --against REF` and a CI job all classify the same way.  "Breaking" means data or a
consumer that worked with the old contract can fail with the new one: a field gone or
renamed, a type narrowed, a rule that holds loads made stricter, the shared schema swapped.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any

BUMPS = {None: 0, "patch": 1, "minor": 2, "major": 3}
# logicalType changes every old value still satisfies; any other type change narrows.
WIDENING = {("integer", "number"), ("date", "timestamp")}
# Transforms that accept any text; moving from one of these to a parser tightens the format.
FREE_TRANSFORMS = {None, "", "string", "text", "concat"}
SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2}
# Property keys compared one by one below; any other key is metadata (a patch).
PROPERTY_KEYS = {"name", "physicalName", "logicalType", "transformLogic", "transformSourceObjects",
                 "required", "primaryKey", "primaryKeyPosition", "classification", "quality",
                 "customProperties", "logicalTypeOptions", "enum"}
TOP_KEYS = {"apiVersion", "kind", "version", "id", "servers", "schema", "slaProperties", "customProperties"}


@dataclasses.dataclass(frozen=True)
class Change:
    """One difference between two contract versions."""

    kind: str        # field-removed, type-narrowed, enum-added, …
    path: str        # where in the contract, e.g. properties.mobile.logicalType
    change: str      # what changed, for people
    breaking: bool
    bump: str        # the least version bump this change needs: major | minor | patch

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _major(kind, path, text) -> Change:
    return Change(kind, path, text, True, "major")


def _minor(kind, path, text) -> Change:
    return Change(kind, path, text, False, "minor")


def _patch(kind, path, text) -> Change:
    return Change(kind, path, text, False, "patch")


# ---------------------------------------------------------------- small readers

def _custom(items) -> dict[str, Any]:
    return {c.get("property"): c.get("value") for c in items or [] if isinstance(c, dict)}


def _object(doc: dict) -> dict:
    objs = doc.get("schema") or []
    return objs[0] if objs and isinstance(objs[0], dict) else {}


def _properties(doc: dict) -> dict[str, dict]:
    return {str(p.get("name")): p for p in _object(doc).get("properties") or [] if isinstance(p, dict)}


def _enum(prop: dict) -> set[str] | None:
    """A property's allowed values, wherever the contract lists them (None when it does not)."""
    for values in (prop.get("enum"), (prop.get("logicalTypeOptions") or {}).get("enum"),
                   _custom(prop.get("customProperties")).get("enum")):
        if isinstance(values, list):
            return {str(v) for v in values}
    return None


def _value_map(prop: dict) -> dict[str, str]:
    vm = _custom(prop.get("customProperties")).get("valueMap")
    return {str(k): str(v) for k, v in vm.items()} if isinstance(vm, dict) else {}


def _freshness_seconds(doc: dict) -> float | None:
    units = {"s": 1, "sec": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "minute": 60, "minutes": 60,
             "h": 3600, "hour": 3600, "hours": 3600, "d": 86400, "day": 86400, "days": 86400,
             "w": 604800, "week": 604800, "weeks": 604800}
    for item in doc.get("slaProperties") or []:
        if isinstance(item, dict) and item.get("property") in {"freshness", "latency"}:
            try:
                return float(item["value"]) * units.get(str(item.get("unit") or "d").lower(), 86400)
            except (KeyError, TypeError, ValueError):
                return None
    return None


def _show(value) -> str:
    return "(none)" if value is None else str(value)


# ---------------------------------------------------------------- quality rules

def _rule_id(rule: dict, field: str | None) -> str:
    metric = rule.get("metric") or rule.get("rule") or rule.get("type") or "rule"
    return f"{field or 'dataset'}:{rule.get('name') or metric}"


def _tighter(op: str, old, new) -> bool | None:
    """True if `new` is stricter than `old` under operator `op`, False if looser, None if equal."""
    if old == new:
        return None
    try:
        if "LessThan" in op or "LessOrEqual" in op:
            return float(new) < float(old)
        if "GreaterThan" in op or "GreaterOrEqual" in op:
            return float(new) > float(old)
        if op == "mustBeBetween":
            return float(new[0]) > float(old[0]) or float(new[1]) < float(old[1])
    except (TypeError, ValueError, IndexError):
        pass
    return True  # mustBe / mustNotBe / anything unreadable: a different target may reject old data


def _diff_rules(old_rules, new_rules, field: str | None, base: str) -> list[Change]:
    """Quality rules matched by (field, name or metric): added, removed, tightened, loosened."""
    out: list[Change] = []
    old = {_rule_id(r, field): r for r in old_rules or [] if isinstance(r, dict)}
    new = {_rule_id(r, field): r for r in new_rules or [] if isinstance(r, dict)}
    for rid in sorted(old.keys() | new.keys()):
        path = f"{base}.quality.{rid.split(':', 1)[1]}"
        o, n = old.get(rid), new.get(rid)
        if o is None:
            holds = str(n.get("severity", "error")) == "error"
            out.append((_major if holds else _minor)("quality-tightened" if holds else "quality-added", path,
                       f"new {n.get('severity', 'error')} rule {rid.split(':', 1)[1]}"))
            continue
        if n is None:
            out.append(_minor("quality-loosened", path, "rule removed"))
            continue
        sev_o, sev_n = str(o.get("severity", "error")), str(n.get("severity", "error"))
        holds = sev_n == "error"
        notes_tight, notes_loose = [], []
        if SEVERITY_RANK.get(sev_n, 2) > SEVERITY_RANK.get(sev_o, 2):
            (notes_tight if holds else notes_loose).append(f"severity {sev_o} → {sev_n}")
        elif sev_n != sev_o:
            notes_loose.append(f"severity {sev_o} → {sev_n}")
        ops = {k for k in (o.keys() | n.keys()) if k.startswith("must")}
        for op in sorted(ops):
            if op not in n:
                notes_loose.append(f"{op} {o[op]} dropped")
            elif op not in o:
                notes_tight.append(f"{op} {n[op]} added")
            else:
                verdict = _tighter(op, o[op], n[op])
                if verdict is not None:
                    (notes_tight if verdict else notes_loose).append(f"{op} {o[op]} → {n[op]}")
        valid_o = set(map(str, ((o.get("arguments") or {}).get("validValues") or [])))
        valid_n = set(map(str, ((n.get("arguments") or {}).get("validValues") or [])))
        if valid_o - valid_n:
            notes_tight.append(f"valid values removed: {', '.join(sorted(valid_o - valid_n))}")
        if valid_n - valid_o:
            notes_loose.append(f"valid values added: {', '.join(sorted(valid_n - valid_o))}")
        if notes_tight and holds:
            out.append(_major("quality-tightened", path, "; ".join(notes_tight)))
        elif notes_tight:  # a warning never holds a load, so a stricter one breaks no one
            out.append(_minor("quality-tightened-warning", path, "; ".join(notes_tight)))
        if notes_loose:
            out.append(_minor("quality-loosened", path, "; ".join(notes_loose)))
        rest_o = {k: v for k, v in o.items() if not k.startswith("must") and k not in {"severity", "arguments"}}
        rest_n = {k: v for k, v in n.items() if not k.startswith("must") and k not in {"severity", "arguments"}}
        if rest_o != rest_n or ({**(o.get("arguments") or {}), "validValues": 0} !=
                                {**(n.get("arguments") or {}), "validValues": 0}):
            out.append(_patch("quality-metadata", path, "rule text or arguments changed"))
    return out


# ---------------------------------------------------------------- properties

def _transform_change(name: str, old, new) -> Change:
    path = f"properties.{name}.transformLogic"
    text = f"transform {_show(old)} → {_show(new)}"
    if new in FREE_TRANSFORMS or (old, new) == ("integer", "number"):
        return _minor("format-loosened", path, text)
    return _major("format-tightened", path, text)


def _diff_property(name: str, o: dict, n: dict) -> list[Change]:
    out: list[Change] = []
    base = f"properties.{name}"
    if o.get("logicalType") != n.get("logicalType"):
        pair = (o.get("logicalType"), n.get("logicalType"))
        text = f"logicalType {_show(pair[0])} → {_show(pair[1])}"
        out.append(_minor("type-widened", f"{base}.logicalType", text) if pair in WIDENING or pair[0] is None
                   else _major("type-narrowed", f"{base}.logicalType", text))
    if o.get("transformLogic") != n.get("transformLogic"):
        out.append(_transform_change(name, o.get("transformLogic"), n.get("transformLogic")))
    if bool(o.get("required")) != bool(n.get("required")):
        out.append(_major("made-required", f"{base}.required", "field is now required") if n.get("required")
                   else _minor("made-optional", f"{base}.required", "field is now optional"))
    if o.get("physicalName") != n.get("physicalName") or \
            (o.get("transformSourceObjects") or []) != (n.get("transformSourceObjects") or []):
        out.append(_patch("source-changed", f"{base}.physicalName",
                          f"read from {_show(o.get('physicalName'))} → {_show(n.get('physicalName'))}"))
    if str(o.get("classification") or "internal") != str(n.get("classification") or "internal"):
        out.append(_minor("classification-changed", f"{base}.classification",
                          f"classification {o.get('classification') or 'internal'} → "
                          f"{n.get('classification') or 'internal'}"))
    enum_o, enum_n = _enum(o), _enum(n)
    if enum_o is not None or enum_n is not None:
        if enum_o is not None and enum_n is None:
            out.append(_minor("enum-added", f"{base}.enum", "enum list dropped: any value allowed"))
        elif enum_o is None:
            out.append(_major("enum-removed", f"{base}.enum", f"values now limited to {', '.join(sorted(enum_n))}"))
        else:
            out += _enum_changes(f"{base}.enum", enum_o, enum_n)
    vm_o, vm_n = _value_map(o), _value_map(n)
    if vm_o != vm_n:
        out += _enum_changes(f"{base}.valueMap", set(vm_o.values()), set(vm_n.values()))
        gone = sorted(set(vm_o) - set(vm_n))
        if gone:
            out.append(_major("format-tightened", f"{base}.valueMap",
                              f"source codes no longer mapped: {', '.join(gone)}"))
        retargeted = sorted(k for k in set(vm_o) & set(vm_n) if vm_o[k] != vm_n[k])
        if retargeted:
            out.append(_major("value-map-changed", f"{base}.valueMap",
                              "source codes mapped to another value: " +
                              ", ".join(f"{k}: {vm_o[k]} → {vm_n[k]}" for k in retargeted)))
        added = sorted(set(vm_n) - set(vm_o))
        if added and set(vm_n.values()) <= set(vm_o.values()):
            out.append(_patch("value-map-extended", f"{base}.valueMap",
                              f"new source codes mapped: {', '.join(added)}"))
    out += _diff_rules(o.get("quality"), n.get("quality"), name, base)
    cp_o = {k: v for k, v in _custom(o.get("customProperties")).items() if k not in {"valueMap", "enum"}}
    cp_n = {k: v for k, v in _custom(n.get("customProperties")).items() if k not in {"valueMap", "enum"}}
    meta_o = {k: v for k, v in o.items() if k not in PROPERTY_KEYS}
    meta_n = {k: v for k, v in n.items() if k not in PROPERTY_KEYS}
    lto = {k: v for k, v in (o.get("logicalTypeOptions") or {}).items() if k != "enum"}
    ltn = {k: v for k, v in (n.get("logicalTypeOptions") or {}).items() if k != "enum"}
    if meta_o != meta_n or cp_o != cp_n or lto != ltn:
        keys = sorted({k for k in meta_o.keys() | meta_n.keys() if meta_o.get(k) != meta_n.get(k)} |
                      ({"customProperties"} if cp_o != cp_n else set()) |
                      ({"logicalTypeOptions"} if lto != ltn else set()))
        out.append(_patch("metadata", base, f"{', '.join(keys)} changed"))
    return out


def _enum_changes(path: str, old: set[str], new: set[str]) -> list[Change]:
    out = []
    if old - new:
        out.append(_major("enum-removed", path, f"values removed: {', '.join(sorted(old - new))}"))
    if new - old:
        out.append(_minor("enum-added", path, f"values added: {', '.join(sorted(new - old))}"))
    return out


def _same_source(o: dict, n: dict) -> bool:
    return o.get("physicalName") == n.get("physicalName") and \
        (o.get("transformSourceObjects") or []) == (n.get("transformSourceObjects") or []) and \
        o.get("transformLogic") == n.get("transformLogic")


def _key(props: dict[str, dict]) -> list[str]:
    keyed = [(int(p.get("primaryKeyPosition", -1)), name) for name, p in props.items() if p.get("primaryKey")]
    return [name for _, name in sorted(keyed)]


def _diff_fields(old: dict, new: dict) -> list[Change]:
    out: list[Change] = []
    po, pn = _properties(old), _properties(new)
    removed = [n for n in po if n not in pn]
    added = [n for n in pn if n not in po]
    for name in list(removed):  # a removed + added pair read from the same source is a rename
        twin = next((a for a in added if _same_source(po[name], pn[a])), None)
        if twin is not None:
            removed.remove(name)
            added.remove(twin)
            out.append(_major("field-renamed", f"properties.{name}", f"renamed to {twin}"))
    out += [_major("field-removed", f"properties.{name}", "field removed") for name in removed]
    for name in added:
        if pn[name].get("required"):
            out.append(_major("required-field-added", f"properties.{name}", "new field, required"))
        else:
            out.append(_minor("field-added", f"properties.{name}", "new optional field"))
    for name in po:
        if name in pn:
            out += _diff_property(name, po[name], pn[name])
    if _key(po) != _key(pn):
        out.append(_major("key-changed", "primaryKey", f"primary key {'+'.join(_key(po)) or '(none)'} → "
                                                     f"{'+'.join(_key(pn)) or '(none)'}"))
    return out


# ---------------------------------------------------------------- the whole contract

def diff_contracts(old: dict, new: dict) -> list[Change]:
    """Every difference between two contract documents (YAML dicts), classified."""
    out: list[Change] = []
    if old.get("id") != new.get("id"):
        out.append(_major("id-changed", "id", f"dataset id {_show(old.get('id'))} → {_show(new.get('id'))}"))
    so = _custom(_object(old).get("customProperties")).get("sharedSchema")
    sn = _custom(_object(new).get("customProperties")).get("sharedSchema")
    if so != sn:
        out.append(_major("shared-schema-changed", "schema.sharedSchema", f"shared schema {_show(so)} → {_show(sn)}"))
    out += _diff_fields(old, new)
    out += _diff_rules(_object(old).get("quality"), _object(new).get("quality"), None, "schema")
    obj_o = {k: v for k, v in _object(old).items() if k not in {"properties", "quality", "customProperties"}}
    obj_n = {k: v for k, v in _object(new).items() if k not in {"properties", "quality", "customProperties"}}
    if obj_o.get("physicalName") != obj_n.get("physicalName"):
        out.append(_patch("server-changed", "schema.physicalName",
                          f"source table/object {_show(obj_o.get('physicalName'))} → {_show(obj_n.get('physicalName'))}"))
    obj_o.pop("physicalName", None), obj_n.pop("physicalName", None)
    if obj_o != obj_n:
        out.append(_patch("metadata", "schema", "schema object description or metadata changed"))
    out += _diff_servers(old.get("servers") or [], new.get("servers") or [])
    fo, fn = _freshness_seconds(old), _freshness_seconds(new)
    if fo != fn:
        text = f"freshness {_hours(fo)} → {_hours(fn)}"
        if fn is None or (fo is not None and fn > fo):
            out.append(_patch("freshness-loosened", "slaProperties.freshness", text))
        else:
            out.append(_minor("freshness-tightened", "slaProperties.freshness", text))
    elif (old.get("slaProperties") or []) != (new.get("slaProperties") or []):
        out.append(_patch("metadata", "slaProperties", "service levels other than freshness changed"))
    to, tn = _custom(old.get("customProperties")), _custom(new.get("customProperties"))
    for key in sorted(to.keys() | tn.keys(), key=str):
        if to.get(key) != tn.get(key):
            out.append(_patch("operational", f"customProperties.{key}",
                              f"{key} {_show(to.get(key))} → {_show(tn.get(key))}"))
    for key in sorted((old.keys() | new.keys()) - TOP_KEYS, key=str):
        if old.get(key) != new.get(key):
            out.append(_patch("metadata", key, f"{key} changed"))
    return out


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return "(none)"
    return f"{seconds / 3600:g}h"


def _diff_servers(old: list, new: list) -> list[Change]:
    """Where the data comes from: operational, never breaking for the hub's consumers."""
    o = old[0] if old and isinstance(old[0], dict) else {}
    n = new[0] if new and isinstance(new[0], dict) else {}
    out = []
    co, cn = _custom(o.get("customProperties")).get("connector"), _custom(n.get("customProperties")).get("connector")
    if co != cn or o.get("type") != n.get("type"):
        out.append(_patch("connector-changed", "servers.connector",
                          f"connector {_show(co or o.get('type'))} → {_show(cn or n.get('type'))}"))
    strip = lambda s: {k: v for k, v in s.items() if k != "description"}  # noqa: E731
    if not out and strip(o) != strip(n):
        out.append(_patch("server-changed", "servers", "server parameters changed"))
    if o.get("description") != n.get("description") or old[1:] != new[1:]:
        out.append(_patch("metadata", "servers", "server description or extra servers changed"))
    return out


# ---------------------------------------------------------------- versions

def required_bump(changes: list[Change]) -> str | None:
    """The least semver bump that covers every change: major, minor, patch, or None (no change)."""
    return max((c.bump for c in changes), key=BUMPS.__getitem__, default=None)


def parse_version(text) -> tuple[int, int, int] | None:
    """MAJOR.MINOR.PATCH (a pre-release or build suffix ignored); None if not semver."""
    m = re.match(r"^\s*v?(\d+)\.(\d+)\.(\d+)", str(text or ""))
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


def actual_bump(old_version, new_version) -> str | None:
    """The bump between two versions: major, minor, patch, None (same), or 'downgrade'/'invalid'."""
    o, n = parse_version(old_version), parse_version(new_version)
    if o is None or n is None:
        return "invalid"
    if n == o:
        return None
    if n < o:
        return "downgrade"
    return "major" if n[0] > o[0] else "minor" if n[1] > o[1] else "patch"


def bump_verdict(old: dict, new: dict, changes: list[Change] | None = None) -> dict[str, Any]:
    """Required vs actual bump for a pair of documents, and whether the new version is enough."""
    changes = diff_contracts(old, new) if changes is None else changes
    required, actual = required_bump(changes), actual_bump(old.get("version"), new.get("version"))
    if actual in {"invalid", "downgrade"}:
        enough = False
    else:
        enough = BUMPS[actual] >= BUMPS[required]
    return {"old_version": str(old.get("version")), "new_version": str(new.get("version")),
            "required": required, "actual": actual, "sufficient": enough,
            "breaking": any(c.breaking for c in changes)}
