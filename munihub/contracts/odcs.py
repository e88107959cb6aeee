"""The standard's layer of lint: is a document valid ODCS v3.x, and if not, what exactly is wrong.

The JSON Schema shipped by the `open-data-contract-standard` package judges; this module
turns its raw errors into one problem each, at the line of the offending key, real cause
first.  A raw validator reports a missing required key three ways (the `required` error,
then "Unevaluated properties are not allowed" for every sibling the failed branch no longer
evaluates, then a `oneOf` dump of every branch); only the first says what to fix.
"""
from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import re
from importlib import resources
from typing import Any

LAYER = "ODCS"
# Keys that tell which branch of a `oneOf` a value meant: a branch that fails on one of them
# is a branch the author did not mean, so its errors explain nothing.
_QUOTED = re.compile(r"'([^']+)'")
_MISSING = re.compile(r"required keys? (.*?) (?:is|are) missing")


@dataclasses.dataclass(frozen=True)
class Problem:
    """One problem in a contract: where (key path, line), which layer's rule, what to do."""

    path: tuple
    line: int
    layer: str     # "ODCS" (the standard) or "munihub" (runnable by the hub)
    message: str

    def render(self, file) -> str:
        return f"{file}:{self.line}: {self.layer}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "layer": self.layer, "path": "/".join(map(str, self.path)),
                "message": self.message}


@functools.lru_cache(maxsize=1)
def odcs_schema() -> dict:
    text = resources.files("open_data_contract_standard").joinpath("schema.json").read_text("utf-8")
    return json.loads(text)


def schema_version() -> str:
    """The newest ODCS version the shipped schema describes (its `apiVersion` default)."""
    return str(odcs_schema()["properties"]["apiVersion"].get("default") or "v3")


def standard_version(data: dict) -> str:
    """The ODCS version a document claims, when the shipped schema knows it; else the schema's own."""
    claimed = data.get("apiVersion")
    known = odcs_schema()["properties"]["apiVersion"].get("enum") or []
    return str(claimed) if claimed in known else schema_version()


@functools.lru_cache(maxsize=1)
def odcs_validator():
    """The reference validator for the ODCS JSON Schema (clear messages and paths)."""
    import jsonschema

    schema = odcs_schema()
    return jsonschema.validators.validator_for(schema)(schema)


@functools.lru_cache(maxsize=1)
def _fast():
    """A compiled validator for the common case (a valid contract); None if unavailable."""
    try:
        import jsonschema_rs
    except ImportError:
        return None
    return jsonschema_rs.validator_for(odcs_schema())


def odcs_errors(data: dict) -> list:
    """The standard's raw complaints about `data` (reference validator), in document order."""
    fast = _fast()
    if fast is not None:
        try:
            if fast.is_valid(data):
                return []
        except ValueError:  # a key YAML read as a number, true or null (`1: مرد` in a valueMap)
            data = _as_json(data)
            if fast.is_valid(data):
                return []
    return sorted(odcs_validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))


def _as_json(data):
    """`data` as JSON would carry it, the form the standard's schema is written for: every
    mapping key text (`1` → "1", null → "null"), dates as ISO text."""
    import json
    return json.loads(json.dumps(data, ensure_ascii=False, default=str))


# ---------------------------------------------------------------- from raw errors to problems

def _branch_errors(error) -> list:
    """The errors of the `oneOf`/`anyOf` branch the author most likely meant.

    A branch whose errors are all `required` keys the value does not have, or a wrong
    `const`/`type` of a discriminating key, is not what was meant; among the rest the
    branch with the fewest errors wins.
    """
    branches: dict[int, list] = {}
    for sub in error.context or []:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)

    def meant(errs) -> bool:
        return not all(e.validator == "required" and not e.relative_path for e in errs)
    candidates = [errs for errs in branches.values() if meant(errs)] or list(branches.values())
    return min(candidates, key=len) if candidates else []


def _flatten(errors) -> list:
    out = []
    for e in errors:
        if e.validator in {"oneOf", "anyOf"} and e.context:
            out.extend(_flatten(_branch_errors(e)))
        else:
            out.append(e)
    return out


def _unexpected(error) -> list[str]:
    """The key names an additional/unevaluated-properties error lists."""
    inside = error.message.partition("(")[2]
    return _QUOTED.findall(inside) or _QUOTED.findall(error.message)


def _known_keys(schema: dict) -> set[str]:
    keys = set((schema or {}).get("properties") or {})
    for part in ("allOf", "anyOf", "oneOf"):
        for sub in (schema or {}).get(part) or []:
            keys |= _known_keys(sub) if isinstance(sub, dict) else set()
    return keys


def _where(path) -> str:
    return "/".join(map(str, path)) or "(top)"


def _enum_text(values: list) -> str:
    shown = ", ".join(map(repr, values[:12]))
    return shown + (f", … ({len(values)} in all)" if len(values) > 12 else "")


def _message(e) -> tuple[tuple, str]:
    """(key path of the offending key, a message naming the problem) for one raw error."""
    path, where = tuple(e.absolute_path), _where(e.absolute_path)
    if e.validator == "required":
        key = e.message.split(chr(39))[1]
        if key == "metric" and isinstance(e.instance, dict) and "rule" in e.instance:
            # `type: library, rule: nullCheck`, as ODCS v3.0's examples write a rule
            return path + ("rule",), _v30_rule(path + ("rule",), e.instance.get("rule"))
        if key == "map" and isinstance(e.instance, dict) and "logicalType" not in e.instance:
            # the schema's `if logicalType == map` holds when logicalType is absent: say what to do
            return path, f"{where}: no logicalType given, so the ODCS schema reads this property as a map " \
                         "and asks for its 'map' key; give the property a logicalType"
        found = [(k, e.instance[k]) for k in ("type", "logicalType")
                 if isinstance(e.instance, dict) and isinstance(e.instance.get(k), str)]
        noun = {"servers": "server", "quality": "quality rule", "properties": "property"}.get(
            path[-2] if len(path) > 1 else "", "entry")
        because = f" (a {noun} of {found[0][0]} {found[0][1]!r} needs it)" \
            if "then" in e.absolute_schema_path and found else ""  # asked for by an if/then on that key
        return path, f"{where}: required key {key!r} is missing{because}"
    if e.validator == "enum":
        if len(path) == 3 and path[0] == "servers" and path[2] == "type":
            # `type: sqlite`, `type: csv`: the list of 44 cut at 12 never said which to write
            near = difflib.get_close_matches(str(e.instance), [str(v) for v in e.validator_value], n=1)
            return path, (f"{where}: {e.instance!r} is not allowed, not a server type of ODCS; "
                          + (f"did you mean {near[0]!r}? " if near else "")
                          + "write `custom` for a store it has no type for (SQLite), `local` for a folder of "
                            "files; the `connector` custom property says how the hub reads it")
        return path, f"{where}: {e.instance!r} is not allowed; use one of {_enum_text(list(e.validator_value))}"
    if e.validator == "const":
        return path, f"{where}: must be {e.validator_value!r}, not {e.instance!r}"
    if e.validator == "not" and isinstance(e.validator_value, dict) and e.validator_value.get("required"):
        key = e.validator_value["required"][0]
        return path + (key,), f"{where}: key {key!r} is not allowed here"
    if e.validator == "oneOf":  # valid under several branches: keys that exclude each other
        keys = [k for sub in e.validator_value for k in (sub.get("required") or []) if isinstance(e.instance, dict)
                and k in e.instance]
        return path, f"{where}: give only one of {', '.join(keys) or 'the alternatives'}, not several"
    if e.validator == "uniqueItems" and isinstance(e.instance, list):
        twice = next((i for i, v in enumerate(e.instance) if v in e.instance[:i]), 0)
        return path + (twice,), f"{where}: items must be unique; {e.instance[twice]!r} is listed twice"
    if e.validator in {"minItems", "maxItems"}:
        size = len(e.instance) if isinstance(e.instance, list) else "?"
        if e.validator_value == 1 and size == 0:
            return path, f"{where}: must not be empty"
        return path, f"{where}: has {size} item(s); needs {'at least' if e.validator == 'minItems' else 'at most'} " \
                     f"{e.validator_value}"
    if e.validator == "type":
        hint = ""
        if e.validator_value == "string" and isinstance(e.instance, (int, float)) and not isinstance(e.instance, bool):
            hint = f"; write it in quotes: \"{e.instance}\""  # `version: 1.0` is a number to YAML
        elif e.validator_value == "object" and isinstance(e.instance, str) and _known_keys(e.schema):
            hint = f"; write it as keys under it: {', '.join(sorted(_known_keys(e.schema))[:6])}"
        return path, (f"{where}: must be {e.validator_value}, not {type(e.instance).__name__} "
                      f"{str(e.instance)[:60]!r}{hint}")[:300]
    return path, f"{where}: {e.message[:240]}"


def odcs_problems(data: dict, line_of) -> list[Problem]:
    """Each of the standard's problems once, at the line of its key, the real cause before its echoes.

    `line_of(path)` gives the line of a key path.  Echoes dropped: "unevaluated properties"
    when another error sits at or under the same place (the failed branch left them
    unevaluated), an unknown key reported by both additionalProperties and
    unevaluatedProperties, a `oneOf` "valid under each" when a required key is missing.
    """
    raw = _flatten(odcs_errors(data))
    real = [e for e in raw if e.validator not in {"unevaluatedProperties", "additionalProperties"}]
    out: list[Problem] = []
    seen: set[tuple] = set()

    def add(path: tuple, message: str, rank: int) -> None:
        if (path, message) not in seen:
            seen.add((path, message))
            out.append(Problem(path, line_of(path), LAYER, message))
            ranks[len(out) - 1] = rank
    ranks: dict[int, int] = {}
    for e in raw:
        path = tuple(e.absolute_path)
        if e.validator in {"unevaluatedProperties", "additionalProperties"}:
            if e.validator == "unevaluatedProperties" and any(
                    tuple(r.absolute_path)[:len(path)] == path for r in real):
                continue  # an echo of the real error under the same object
            known = sorted(_known_keys(e.schema))
            older = isinstance(e.instance, dict) and "rule" in e.instance and "metric" not in e.instance
            for key in _unexpected(e):
                if older and key != "rule" and key.startswith("must"):
                    continue  # an echo: the operators are v3.1's too, once `rule` is `metric`
                if older and key == "rule":
                    add(path + (key,), _v30_rule(path + (key,), e.instance.get("rule")), 1)
                    continue
                hint = difflib.get_close_matches(key, known, n=1)
                add(path + (key,), f"{_where(path + (key,))}: unknown key {key!r} in ODCS"
                    + (f"; did you mean {hint[0]!r}?" if hint else ""), 1)
            continue
        if e.validator == "oneOf" and any(r.validator == "required" and tuple(r.absolute_path) == path
                                          for r in real if r is not e):
            continue
        key_path, message = _message(e)
        add(key_path, message, 0)
    order = sorted(range(len(out)), key=lambda i: (ranks[i], out[i].line))
    merged = _merge_required([out[i] for i in order])
    return merged


# ODCS v3.0's quality rule names (`rule: nullCheck`, as its examples write them) -> v3.1's metrics.
_V30_RULES = {"nullcheck": "nullValues", "nullvalues": "nullValues", "missingvalues": "missingValues",
              "validvalues": "invalidValues", "invalidvalues": "invalidValues", "duplicatecount": "duplicateValues",
              "duplicatevalues": "duplicateValues", "uniquecheck": "duplicateValues", "rowcount": "rowCount"}


def _v30_rule(path: tuple, rule) -> str:
    """A quality item written the v3.0 way (`rule: nullCheck, mustBe: 0`) in a v3.1 contract."""
    metric = _V30_RULES.get(str(rule).replace("_", "").lower())
    return (f"{_where(path)}: 'rule' is ODCS v3.0's key; v3.1 names the check `metric` (nullValues, missingValues, "
            f"invalidValues, duplicateValues, rowCount)" + (f": write `metric: {metric}`" if metric else ""))


def _merge_required(problems: list[Problem]) -> list[Problem]:
    """Several required keys missing from one object: one problem naming them all."""
    out: list[Problem] = []
    for p in problems:
        prev = next((q for q in out if q.path == p.path and "required key" in q.message
                     and "required key" in p.message), None)
        if prev is None:
            out.append(p)
            continue
        names = [n for m in (prev.message, p.message) for n in _QUOTED.findall(_MISSING.search(m)[1])]
        rest = prev.message.partition(" missing")[2]  # why they are needed, when the schema said so
        out[out.index(prev)] = dataclasses.replace(
            prev, message=f"{_where(p.path)}: required keys {', '.join(map(repr, names))} are missing{rest}")
    return out
