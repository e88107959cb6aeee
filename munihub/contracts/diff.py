"""Compare two versions of a data contract: every change, its level, and the version bump it needs.

Pure functions over the YAML dicts (no loading, no files), so `contracts diff`, `contracts
check --against REF` and a CI job all classify the same way.  Every schema object is
compared (matched by name), every property at any depth (nested `properties` and array
`items`), every constraint and quality rule (`munihub.contracts.changes` says how each
compares).  A rename is recognised only from evidence: the same `physicalName` under a new
name, or the new element naming the old one (`customProperties: renamedFrom`); one removal
and one addition are never guessed to be a rename.
"""
from __future__ import annotations

import re
from typing import Any

from munihub.contracts.changes import (BUMPS_ORDER, Change, breaking, compare_constraints, compare_rules,
                                       constraints_of, info, non_breaking, show)
from munihub.contracts.runnable import record_id_fields
from munihub.contracts.schemas import field_defaults, fitted

# Type changes every old value still satisfies; any other change of type narrows.
WIDENING = {("integer", "number")}
# physicalType spellings read as the logical type they hold (length or precision in brackets ignored).
PHYSICAL = {**dict.fromkeys(("string", "str", "varchar", "nvarchar", "char", "nchar", "text", "clob"), "string"),
            **dict.fromkeys(("int", "integer", "bigint", "smallint", "tinyint", "long", "short"), "integer"),
            **dict.fromkeys(("double", "float", "decimal", "number", "numeric", "real"), "number"),
            **dict.fromkeys(("bool", "boolean"), "boolean"), "date": "date",
            **dict.fromkeys(("timestamp", "datetime", "timestamptz", "timestamp_ntz", "timestamp_tz"), "timestamp"),
            **dict.fromkeys(("record", "struct", "object", "map"), "object"),
            **dict.fromkeys(("array", "list"), "array")}
# Transforms that accept any text; moving from one of these to a parser tightens the format.
FREE_TRANSFORMS = {None, "", "string", "text", "concat"}
# Property keys compared one by one below; any other key is documentation (info).
PROPERTY_KEYS = {"name", "physicalName", "logicalType", "physicalType", "required", "unique", "primaryKey",
                 "logicalTypeOptions", "quality", "properties", "items", "customProperties",
                 "transformLogic", "transformSourceObjects", "classification"}
OBJECT_KEYS = {"name", "physicalName", "physicalType", "logicalType", "properties", "quality", "customProperties"}
MUNIHUB_CUSTOM = {"enum", "valueMap", "renamedFrom", "sharedSchema", "recordId"}
TOP_KEYS = {"id", "servers", "schema", "slaProperties", "customProperties"}


# ---------------------------------------------------------------- small readers

def _custom(items) -> dict[str, Any]:
    return {c.get("property"): c.get("value") for c in items or [] if isinstance(c, dict)}


def _named(items) -> dict[str, dict]:
    return {str(p.get("name")): p for p in items or [] if isinstance(p, dict)}


def _type(node: dict) -> str | None:
    """The type a node promises: its logicalType, else what its physicalType spells, else None (any)."""
    if node.get("logicalType"):
        return str(node["logicalType"]).lower()
    physical = node.get("physicalType")
    if not physical:
        return None
    bare = re.sub(r"\(.*\)$", "", str(physical).strip().lower()).strip()
    return PHYSICAL.get(bare, f"physical:{bare}")


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


# ---------------------------------------------------------------- matching (renames from evidence only)

def _match(old: dict[str, dict], new: dict[str, dict]) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """Pairs (old name, new name) of the same element, then the removed and the added names.

    A pair under two names needs evidence: the new element says `renamedFrom: <old name>`,
    or both read the same non-empty physicalName (the hub's source field or table).
    """
    pairs = [(n, n) for n in old if n in new]
    removed = [n for n in old if n not in new]
    added = [n for n in new if n not in old]
    for name in list(added):
        marker = _custom(new[name].get("customProperties")).get("renamedFrom")
        physical = new[name].get("physicalName")
        twin = marker if marker in removed else next(
            (r for r in removed if physical and old[r].get("physicalName") == physical), None)
        if twin is not None:
            removed.remove(twin)
            added.remove(name)
            pairs.append((twin, name))
    return pairs, removed, added


# ---------------------------------------------------------------- properties, at any depth

def _type_change(base: str, o: dict, n: dict) -> list[Change]:
    to, tn = _type(o), _type(n)
    if to == tn:
        if str(o.get("physicalType")) != str(n.get("physicalType")):
            return [info("physical-type-changed", f"{base}.physicalType",
                         f"physicalType {show(o.get('physicalType'))} → {show(n.get('physicalType'))}")]
        return []
    text = f"type {show(to)} → {show(tn)}"
    if tn is None:
        return [non_breaking("type-loosened", f"{base}.logicalType", text + ": any type allowed")]
    if to is None:
        return [breaking("type-narrowed", f"{base}.logicalType", text + ": values limited to one type")]
    if (to, tn) in WIDENING:
        return [non_breaking("type-widened", f"{base}.logicalType", text)]
    return [breaking("type-narrowed", f"{base}.logicalType", text)]


def _transform_change(base: str, old, new) -> Change:
    text = f"transform {show(old)} → {show(new)}"
    # a parameter where there was none (`mobile` → `mobile:51`, `date` → `date:13`) only reads
    # values the bare transform refused; every value read before reads the same
    added_parameter = isinstance(new, str) and ":" not in str(old) and new.partition(":")[0] == old
    if new in FREE_TRANSFORMS or (old, new) == ("integer", "number") or added_parameter:
        return non_breaking("format-loosened", f"{base}.transformLogic", text)
    return breaking("format-tightened", f"{base}.transformLogic", text)


def _enum_changes(path: str, old: set[str], new: set[str]) -> list[Change]:
    out = []
    if old - new:
        out.append(breaking("enum-removed", path, f"values removed: {', '.join(sorted(old - new))}"))
    if new - old:
        out.append(non_breaking("enum-added", path, f"values added: {', '.join(sorted(new - old))}"))
    return out


def _values(base: str, o: dict, n: dict) -> list[Change]:
    """Allowed values (enum) and the hub's source-code maps (valueMap)."""
    out: list[Change] = []
    enum_o, enum_n = _enum(o), _enum(n)
    if enum_o is not None and enum_n is None:
        out.append(non_breaking("enum-dropped", f"{base}.enum", "enum list dropped: any value allowed"))
    elif enum_o is None and enum_n is not None:
        out.append(breaking("enum-limited", f"{base}.enum", f"values now limited to {', '.join(sorted(enum_n))}"))
    elif enum_o is not None:
        out += _enum_changes(f"{base}.enum", enum_o, enum_n)
    vm_o, vm_n = _value_map(o), _value_map(n)
    if vm_o == vm_n:
        return out
    out += _enum_changes(f"{base}.valueMap", set(vm_o.values()), set(vm_n.values()))
    gone = sorted(set(vm_o) - set(vm_n))
    if gone:
        out.append(breaking("format-tightened", f"{base}.valueMap", f"source codes no longer mapped: {', '.join(gone)}"))
    moved = sorted(k for k in set(vm_o) & set(vm_n) if vm_o[k] != vm_n[k])
    if moved:
        out.append(breaking("value-map-changed", f"{base}.valueMap", "source codes mapped to another value: " +
                            ", ".join(f"{k}: {vm_o[k]} → {vm_n[k]}" for k in moved)))
    added = sorted(set(vm_n) - set(vm_o))
    if added and set(vm_n.values()) <= set(vm_o.values()):
        out.append(info("value-map-extended", f"{base}.valueMap", f"new source codes mapped: {', '.join(added)}"))
    return out


def _docs(base: str, o: dict, n: dict, handled: set[str]) -> list[Change]:
    """Everything else a node says (description, tags, custom properties, …): documentation."""
    keys = sorted(k for k in (o.keys() | n.keys()) - handled if o.get(k) != n.get(k))
    co = {k: v for k, v in _custom(o.get("customProperties")).items() if k not in MUNIHUB_CUSTOM}
    cn = {k: v for k, v in _custom(n.get("customProperties")).items() if k not in MUNIHUB_CUSTOM}
    keys += [f"customProperties.{k}" for k in sorted(co.keys() | cn.keys(), key=str) if co.get(k) != cn.get(k)]
    lo, ln = o.get("logicalTypeOptions") or {}, n.get("logicalTypeOptions") or {}
    keys += [f"logicalTypeOptions.{k}" for k in sorted(lo.keys() | ln.keys())
             if lo.get(k) != ln.get(k) and k not in constraints_of(o) and k not in constraints_of(n) and k != "enum"]
    return [info("docs", base, f"{', '.join(keys)} changed")] if keys else []


def _diff_property(base: str, o: dict, n: dict) -> list[Change]:
    out = _type_change(base, o, n)
    if o.get("transformLogic") != n.get("transformLogic"):
        out.append(_transform_change(base, o.get("transformLogic"), n.get("transformLogic")))
    if bool(o.get("required")) != bool(n.get("required")):
        out.append(breaking("made-required", f"{base}.required", "field is now required") if n.get("required")
                   else non_breaking("made-optional", f"{base}.required", "field is now optional"))
    if o.get("physicalName") != n.get("physicalName") or \
            (o.get("transformSourceObjects") or []) != (n.get("transformSourceObjects") or []):
        out.append(info("source-changed", f"{base}.physicalName",
                        f"read from {show(o.get('physicalName'))} → {show(n.get('physicalName'))}"))
    if str(o.get("classification") or "internal") != str(n.get("classification") or "internal"):
        out.append(non_breaking("classification-changed", f"{base}.classification",
                                f"classification {o.get('classification') or 'internal'} → "
                                f"{n.get('classification') or 'internal'}"))
    out += compare_constraints(o, n, base)
    out += _values(base, o, n)
    out += compare_rules(o.get("quality"), n.get("quality"), base)
    out += _diff_properties(base, o.get("properties"), n.get("properties"))
    items_o, items_n = o.get("items"), n.get("items")
    if isinstance(items_o, dict) or isinstance(items_n, dict):
        out += _diff_property(f"{base}[]", items_o if isinstance(items_o, dict) else {},
                              items_n if isinstance(items_n, dict) else {})
    out += _docs(base, o, n, PROPERTY_KEYS)
    return out or _restated(base, o, n)


def _restated(base: str, o: dict, n: dict) -> list[Change]:
    """A node written differently with the same meaning (a default spelled out or dropped): still
    a change to the file, so it is listed, as info."""
    keys = sorted(str(k) for k in o.keys() | n.keys() if o.get(k) != n.get(k) and k != "name")  # renames: above
    if not keys:
        return []
    return [info("restated", base, f"{', '.join(keys)} written differently, same meaning")]


def _key(props: dict[str, dict]) -> list[str]:
    keyed = [(int(p.get("primaryKeyPosition", -1)), name) for name, p in props.items() if p.get("primaryKey")]
    return [name for _, name in sorted(keyed)]


def _diff_properties(base: str, old_items, new_items) -> list[Change]:
    """The properties under one object, property or array item: matched, removed, added, compared."""
    po, pn = _named(old_items), _named(new_items)
    pairs, removed, added = _match(po, pn)
    out = [breaking("field-removed", f"{base}.{name}", "field removed") for name in removed]
    for old_name, new_name in pairs:
        if old_name != new_name:
            out.append(breaking("field-renamed", f"{base}.{old_name}", f"renamed to {new_name}"))
    for name in added:
        out.append(breaking("required-field-added", f"{base}.{name}", "new field, required") if pn[name].get("required")
                   else non_breaking("field-added", f"{base}.{name}", "new optional field"))
    for old_name, new_name in pairs:
        out += _diff_property(f"{base}.{new_name}", po[old_name], pn[new_name])
    ko, kn = _key(po), _key(pn)
    if [dict(pairs).get(k, k) for k in ko] != kn:  # a renamed key column is reported as the rename
        out.append(breaking("key-changed", f"{base}.primaryKey",
                            f"primary key {'+'.join(ko) or '(none)'} → {'+'.join(kn) or '(none)'}"))
    return out


# ---------------------------------------------------------------- schema objects

def _as_loaded(props, shared) -> Any:
    """The properties with the reader and classification the hub gives a property that names
    none (`schemas.field_defaults` of the shared schema both versions use): writing out
    `transformLogic: national_id` where the hub already read national ids changes nothing it
    does, so it is a restatement, not a tightened format."""
    defaults = field_defaults(str(shared), None) if shared and isinstance(props, list) else {}
    if not defaults:
        return props
    out = []
    for p in props:
        reader, personal = defaults.get(p.get("name"), (None, False)) if isinstance(p, dict) else (None, False)
        given = {}
        read = fitted(p.get("transformLogic"), reader) if reader else None
        if read and read != p.get("transformLogic"):
            given["transformLogic"] = read  # as the hub reads it
        if personal and not p.get("classification"):
            given["classification"] = "personal"
        out.append({**p, **given} if given else p)
    return out


def _diff_object(base: str, o: dict, n: dict) -> list[Change]:
    out: list[Change] = []
    so = _custom(o.get("customProperties")).get("sharedSchema")
    sn = _custom(n.get("customProperties")).get("sharedSchema")
    if so != sn:
        out.append(breaking("shared-schema-changed", f"{base}.sharedSchema", f"shared schema {show(so)} → {show(sn)}"))
    ro = _custom(o.get("customProperties")).get("recordId")
    rn = _custom(n.get("customProperties")).get("recordId")
    if record_id_fields(ro) != record_id_fields(rn):  # every published row's identity moves (the store rekeys them)
        out.append(breaking("record-id-changed", f"{base}.recordId",
                            f"source record id {show(ro)} → {show(rn)}"))
    for key in ("physicalType", "logicalType"):
        pt_o, pt_n = o.get(key), n.get(key)
        if pt_o != pt_n:  # a table now a topic or a view is reached another way; naming the kind first is a note
            out.append(breaking("object-type-changed", f"{base}.{key}", f"{key} {pt_o} → {pt_n}")
                       if pt_o and pt_n else info("docs", f"{base}.{key}", f"{key} {show(pt_o)} → {show(pt_n)}"))
    if o.get("physicalName") != n.get("physicalName"):
        out.append(info("source-changed", f"{base}.physicalName",
                        f"source table/object {show(o.get('physicalName'))} → {show(n.get('physicalName'))}"))
    out += _diff_properties(base, _as_loaded(o.get("properties"), so if so == sn else None),
                            _as_loaded(n.get("properties"), sn if so == sn else None))
    out += compare_rules(o.get("quality"), n.get("quality"), base)
    out += _docs(base, o, n, OBJECT_KEYS)
    return out or _restated(base, o, n)


def _diff_objects(old: dict, new: dict) -> list[Change]:
    oo, on = _named(old.get("schema")), _named(new.get("schema"))
    pairs, removed, added = _match(oo, on)
    out = [breaking("object-removed", f"schema.{name}", "schema object removed") for name in removed]
    for old_name, new_name in pairs:
        if old_name != new_name:
            out.append(breaking("object-renamed", f"schema.{old_name}", f"renamed to {new_name}"))
    out += [non_breaking("object-added", f"schema.{name}", "new schema object") for name in added]
    for old_name, new_name in pairs:
        out += _diff_object(f"schema.{new_name}", oo[old_name], on[new_name])
    return out


# ---------------------------------------------------------------- the whole contract

def diff_contracts(old: dict, new: dict) -> list[Change]:
    """Every difference between two contract documents (YAML dicts), classified."""
    out: list[Change] = []
    if old.get("id") != new.get("id"):
        out.append(breaking("id-changed", "id", f"dataset id {show(old.get('id'))} → {show(new.get('id'))}"))
    out += _diff_objects(old, new)
    out += _diff_servers(old.get("servers") or [], new.get("servers") or [])
    fo, fn = _freshness_seconds(old), _freshness_seconds(new)
    if fo != fn:
        text = f"freshness {_hours(fo)} → {_hours(fn)}"
        out.append(non_breaking("freshness-loosened" if fn is None or (fo is not None and fn > fo)
                                else "freshness-tightened", "slaProperties.freshness", text))
    elif _sla(old, {"freshness", "latency"}) != _sla(new, {"freshness", "latency"}):  # same promise, reworded
        out.append(non_breaking("sla-changed", "slaProperties.freshness", "freshness element or wording changed"))
    if _sla(old) != _sla(new):
        out.append(non_breaking("sla-changed", "slaProperties", "service levels other than freshness changed"))
    to, tn = _custom(old.get("customProperties")), _custom(new.get("customProperties"))
    for key in sorted(to.keys() | tn.keys(), key=str):
        if to.get(key) != tn.get(key):
            out.append(info("operational", f"customProperties.{key}", f"{key} {show(to.get(key))} → {show(tn.get(key))}"))
    for key in sorted((old.keys() | new.keys()) - TOP_KEYS - {"version"}, key=str):
        if old.get(key) != new.get(key):
            out.append(info("docs", key, f"{key} changed"))
    return out


def _sla(doc: dict, wanted: set[str] | None = None) -> list:
    """Service levels: those named in `wanted`, or every one but freshness (compared on its own)."""
    items = [s for s in doc.get("slaProperties") or [] if isinstance(s, dict)]
    if wanted is not None:
        return [s for s in items if s.get("property") in wanted]
    return [s for s in items if s.get("property") not in {"freshness", "latency"}]


def _hours(seconds: float | None) -> str:
    return "(none)" if seconds is None else f"{seconds / 3600:g}h"


def _diff_servers(old: list, new: list) -> list[Change]:
    """Where the data comes from: operational, never breaking for the hub's consumers."""
    o = old[0] if old and isinstance(old[0], dict) else {}
    n = new[0] if new and isinstance(new[0], dict) else {}
    out = []
    co, cn = _custom(o.get("customProperties")).get("connector"), _custom(n.get("customProperties")).get("connector")
    if co != cn or o.get("type") != n.get("type"):
        out.append(info("connector-changed", "servers.connector",
                        f"connector {show(co or o.get('type'))} → {show(cn or n.get('type'))}"))
    strip = lambda s: {k: v for k, v in s.items() if k != "description"}  # noqa: E731
    if not out and strip(o) != strip(n):
        out.append(info("server-changed", "servers", "server parameters changed"))
    if o.get("description") != n.get("description") or old[1:] != new[1:]:
        out.append(info("docs", "servers", "server description or extra servers changed"))
    return out


# ---------------------------------------------------------------- versions

def required_bump(changes: list[Change]) -> str | None:
    """The least semver bump that covers every change: major, minor, patch, or None (no change)."""
    return max((c.bump for c in changes), key=BUMPS_ORDER.__getitem__, default=None)


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
    enough = False if actual in {"invalid", "downgrade"} else BUMPS_ORDER[actual] >= BUMPS_ORDER[required]
    return {"old_version": str(old.get("version")), "new_version": str(new.get("version")),
            "required": required, "actual": actual, "sufficient": enough,
            "breaking": any(c.breaking for c in changes),
            "counts": {level: sum(c.level == level for c in changes) for level in ("breaking", "non-breaking", "info")}}
