"""One change between two contract versions, and how constraints and quality rules compare.

Levels follow the standard's meaning, seen from data that satisfied the old contract: a
change it may no longer satisfy (or a consumer that may lose what it read) is *breaking*
(a major bump); additions and loosening are *non-breaking* (minor); documentation and
where the hub reads from are *info* (patch).  `munihub.contracts.diff` walks the contract
and calls the comparisons here for each property and object.
"""
from __future__ import annotations

import dataclasses
from typing import Any

LEVEL_BUMP = {"breaking": "major", "non-breaking": "minor", "info": "patch"}
BUMPS_ORDER = {None: 0, "patch": 1, "minor": 2, "major": 3}
SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2}
# Constraints that reject more values when their number grows, and those that reject more when it shrinks.
LOWER_BOUNDS = ("minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties")
UPPER_BOUNDS = ("maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties")
# Constraints with no order: any new or different value may reject old data; dropping one loosens.
EXACT = ("pattern", "format", "timestampFormat", "const")
FLAGS = ("unique", "uniqueItems")  # false -> true tightens
# Quality-rule keys that only describe a rule; any other key changes what the rule tests.
RULE_DOCS = {"name", "description", "businessImpact", "dimension", "tags", "authoritativeDefinitions",
             "customProperties", "method", "scheduler", "schedule", "id"}


@dataclasses.dataclass(frozen=True)
class Change:
    """One difference between two contract versions, with its level and the bump it needs."""

    kind: str        # field-removed, type-narrowed, constraint-tightened, …
    path: str        # where, e.g. schema.orders.lines[].sku.logicalTypeOptions.minLength
    change: str      # what changed, for people
    level: str       # breaking | non-breaking | info

    @property
    def breaking(self) -> bool:
        return self.level == "breaking"

    @property
    def bump(self) -> str:
        return LEVEL_BUMP[self.level]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": self.path, "change": self.change, "level": self.level,
                "breaking": self.breaking, "bump": self.bump}


def breaking(kind, path, text) -> Change:
    return Change(kind, path, text, "breaking")


def non_breaking(kind, path, text) -> Change:
    return Change(kind, path, text, "non-breaking")


def info(kind, path, text) -> Change:
    return Change(kind, path, text, "info")


def show(value) -> str:
    return "(none)" if value is None else str(value)


def _number(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------- constraints

def constraints_of(prop: dict) -> dict[str, Any]:
    """A property's value constraints, wherever ODCS lets a contract write them."""
    found = {k: prop.get(k) for k in FLAGS if k in prop}
    options = prop.get("logicalTypeOptions")
    if isinstance(options, dict):
        found.update({k: v for k, v in options.items() if k in LOWER_BOUNDS + UPPER_BOUNDS + EXACT + FLAGS
                      or k == "multipleOf"})
    return found


def _bound(key: str, old, new) -> bool | None:
    """True when `new` rejects values `old` accepted, False when it accepts more, None if equal."""
    if old == new:
        return None
    if old is None:
        return True   # a bound where there was none
    if new is None:
        return False  # a bound dropped
    o, n = _number(old), _number(new)
    if o is None or n is None:
        return True   # unreadable: assume the worst for consumers of old data
    return n > o if key in LOWER_BOUNDS else n < o


def _exact(key: str, old, new) -> bool | None:
    if old == new:
        return None
    if key == "multipleOf" and old is not None and new is not None:
        o, n = _number(old), _number(new)
        if o and n and (o / n).is_integer():
            return False  # every multiple of old is a multiple of new
        return True
    return new is not None  # added or changed: may reject old values; dropped: loosens


def _flag(old, new) -> bool | None:
    if bool(old) == bool(new):
        return None
    return bool(new)


def compare_constraints(old: dict, new: dict, base: str) -> list[Change]:
    """Each constraint tightened (breaking) or loosened (non-breaking), one change per key."""
    co, cn = constraints_of(old), constraints_of(new)
    out: list[Change] = []
    for key in sorted(co.keys() | cn.keys()):
        o, n = co.get(key), cn.get(key)
        if key in LOWER_BOUNDS or key in UPPER_BOUNDS:
            tighter = _bound(key, o, n)
        elif key in FLAGS:
            tighter = _flag(o, n)
        else:
            tighter = _exact(key, o, n)
        if tighter is None:
            continue
        where = f"{base}.{key}" if key in FLAGS else f"{base}.logicalTypeOptions.{key}"
        text = f"{key} {show(o)} → {show(n)}"
        out.append(breaking("constraint-tightened", where, text) if tighter
                   else non_breaking("constraint-loosened", where, text))
    return out


# ---------------------------------------------------------------- quality rules

def rule_id(rule: dict) -> str:
    return str(rule.get("name") or rule.get("metric") or rule.get("rule") or rule.get("type") or "rule")


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
        if op == "mustNotBeBetween":
            return float(new[0]) < float(old[0]) or float(new[1]) > float(old[1])
    except (TypeError, ValueError, IndexError, KeyError):
        pass
    return True  # mustBe / mustNotBe / anything unreadable: a different target may reject old data


def _rule_notes(o: dict, n: dict) -> tuple[list[str], list[str]]:
    """What made a matched rule stricter and what made it looser."""
    tight, loose = [], []
    sev_o, sev_n = str(o.get("severity", "error")), str(n.get("severity", "error"))
    if SEVERITY_RANK.get(sev_n, 2) > SEVERITY_RANK.get(sev_o, 2):
        tight.append(f"severity {sev_o} → {sev_n}")
    elif sev_n != sev_o:
        loose.append(f"severity {sev_o} → {sev_n}")
    for op in sorted(k for k in (o.keys() | n.keys()) if k.startswith("must")):
        if op not in n:
            loose.append(f"{op} {o[op]} dropped")
        elif op not in o:
            tight.append(f"{op} {n[op]} added")
        else:
            verdict = _tighter(op, o[op], n[op])
            if verdict is not None:
                (tight if verdict else loose).append(f"{op} {o[op]} → {n[op]}")
    args_o, args_n = o.get("arguments") or {}, n.get("arguments") or {}
    valid_o, valid_n = set(map(str, args_o.get("validValues") or [])), set(map(str, args_n.get("validValues") or []))
    if valid_o - valid_n:
        tight.append(f"valid values removed: {', '.join(sorted(valid_o - valid_n))}")
    if valid_n - valid_o:
        loose.append(f"valid values added: {', '.join(sorted(valid_n - valid_o))}")
    what_o = {k: v for k, v in o.items() if k not in RULE_DOCS and k != "severity" and not k.startswith("must")}
    what_n = {k: v for k, v in n.items() if k not in RULE_DOCS and k != "severity" and not k.startswith("must")}
    what_o["arguments"] = {k: v for k, v in args_o.items() if k != "validValues"}
    what_n["arguments"] = {k: v for k, v in args_n.items() if k != "validValues"}
    if what_o != what_n:  # a new query, metric or argument: what it rejects cannot be told apart
        keys = sorted(k for k in what_o.keys() | what_n.keys() if what_o.get(k) != what_n.get(k))
        tight.append(f"{', '.join(keys)} changed")
    return tight, loose


def compare_rules(old_rules, new_rules, base: str) -> list[Change]:
    """Quality rules matched by name (or metric): added, removed, tightened, loosened, reworded.

    A rule that holds loads (severity error, the default) made stricter breaks producers whose
    data passed before; a warning never holds a load, so a stricter one is non-breaking.
    """
    out: list[Change] = []
    old = {rule_id(r): r for r in old_rules or [] if isinstance(r, dict)}
    new = {rule_id(r): r for r in new_rules or [] if isinstance(r, dict)}
    for rid in sorted(old.keys() | new.keys()):
        path = f"{base}.quality.{rid}"
        o, n = old.get(rid), new.get(rid)
        if o is None:
            holds = str(n.get("severity", "error")) == "error"
            out.append((breaking if holds else non_breaking)("quality-added", path,
                                                             f"new {n.get('severity', 'error')} rule {rid}"))
            continue
        if n is None:
            out.append(non_breaking("quality-removed", path, "rule removed"))
            continue
        tight, loose = _rule_notes(o, n)
        if tight and str(n.get("severity", "error")) == "error":
            out.append(breaking("quality-tightened", path, "; ".join(tight)))
        elif tight:
            out.append(non_breaking("quality-tightened-warning", path, "; ".join(tight)))
        if loose:
            out.append(non_breaking("quality-loosened", path, "; ".join(loose)))
        docs_o = {k: v for k, v in o.items() if k in RULE_DOCS}
        docs_n = {k: v for k, v in n.items() if k in RULE_DOCS}
        if docs_o != docs_n or (o != n and not (tight or loose)):  # reworded, or a default spelled out
            out.append(info("quality-docs", path, "rule description, metadata or wording changed"))
    return out
