"""A shared schema compiled into plain per-value checks, so a batch is validated a column at a time.

`jsonschema_rs` judges a record in ~4 µs, but a load's columns repeat: ten first names, two
genders, thirteen districts.  Compiled here, each field's subschema becomes one Python check
asked once per distinct value of a batch, and an object node's `required`,
`additionalProperties: false` and `min/maxProperties` become a check of which fields a record
has (a handful of patterns per load).  Only keywords whose meaning is plain are compiled
(type, enum, const, min/maxLength, pattern, format, minimum/maximum and their exclusive forms,
properties with required/additionalProperties/min/maxProperties, `$ref` to a shared schema,
boolean schemas); a node using any other keyword is not compiled (`compile_node` returns None)
and the caller keeps validating whole records with `jsonschema_rs`, which also writes every
reason: these checks only say valid or not.  `tests/test_value_checks.py` holds them to the
fast engine's verdicts on the official JSON Schema suite and on generated bad values.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from munihub.contracts import formats, schemas
from munihub.ingest import engines

Check = Callable[[Any], bool]

# Keywords that never change a verdict (2020-12 annotations, the hub's own x- keywords).
ANNOTATIONS = frozenset({"title", "description", "examples", "default", "$comment", "$schema", "$id", "deprecated",
                         "readOnly", "writeOnly", "$anchor"})
LEAF = frozenset({"type", "enum", "const", "minLength", "maxLength", "pattern", "format", "minimum", "maximum",
                  "exclusiveMinimum", "exclusiveMaximum"})
OBJECT = frozenset({"properties", "required", "additionalProperties", "minProperties", "maxProperties"})


def json_kind(value: Any) -> str | None:
    """The JSON type of a plain Python value as the fast engine reads it (None: not JSON)."""
    cls = value.__class__
    if cls is str:
        return "string"
    if cls is bool:
        return "boolean"
    if cls is int:
        return "integer"
    if cls is float:
        return "integer" if math.isfinite(value) and value.is_integer() else "number"
    if value is None:
        return "null"
    if cls is dict:
        return "object"
    if cls is list or cls is tuple:
        return "array"
    return None


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON Schema means it: 1 == 1.0, but false != 0 and "1" != 1."""
    ka, kb = json_kind(a), json_kind(b)
    if ka in ("integer", "number") and kb in ("integer", "number"):
        return a == b
    if ka != kb:
        return False
    if ka == "array":
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    if ka == "object":
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return a == b


def _has_type(value: Any, wanted: frozenset) -> bool:
    kind = json_kind(value)
    return kind in wanted or (kind == "integer" and "number" in wanted)


def _resolve(node: Any, known: dict[str, dict]) -> Any:
    """A node with its `$ref` to a shared schema followed (the referring node's keywords kept
    beside the target's, as 2020-12 applies both); None for any other `$ref`."""
    if not isinstance(node, dict) or "$ref" not in node:
        return node
    ref = node["$ref"]
    if not (isinstance(ref, str) and ref.startswith(schemas.URN_PREFIX)) or "#" in ref:
        return None
    target = known.get(ref[len(schemas.URN_PREFIX):])
    if not isinstance(target, dict) or "$ref" in target:
        return None
    rest = {k: v for k, v in node.items() if k != "$ref"}
    if set(rest) - ANNOTATIONS:  # keywords on both sides: compiled as one node only when they cannot clash
        return None
    return target


def _supported(node: dict) -> bool:
    return all(k in ANNOTATIONS or k in LEAF or k in OBJECT or k.startswith("x-") for k in node)


def compile_node(node: Any, known: dict[str, dict] | None = None, depth: int = 0) -> Check | None:
    """A check `value -> bool` giving the fast engine's verdict on `node`, or None if the node
    uses a keyword compiled nowhere here (the caller then validates with `jsonschema_rs`)."""
    known = known if known is not None else {}
    node = _resolve(node, known)
    if node is True or node == {}:
        return lambda value: True
    if node is False:
        return lambda value: False
    if not isinstance(node, dict) or depth > 8 or not _supported(node):
        return None
    tests: list[Check] = []
    if "type" in node:
        wanted = node["type"] if isinstance(node["type"], list) else [node["type"]]
        if not all(isinstance(w, str) for w in wanted):
            return None
        kinds = frozenset(wanted)
        if kinds == {"string"}:
            tests.append(lambda v: v.__class__ is str)
        else:
            tests.append(lambda v, kinds=kinds: _has_type(v, kinds))
    if "enum" in node:
        if not isinstance(node["enum"], list):
            return None
        options = node["enum"]
        strings = frozenset(o for o in options if o.__class__ is str)
        tests.append(lambda v: (v in strings) if v.__class__ is str else any(json_equal(v, o) for o in options))
    if "const" in node:
        tests.append(lambda v, c=node["const"]: json_equal(v, c))
    text = _text_tests(node)
    if text is None:
        return None
    tests += text
    numbers = _number_tests(node)
    if numbers is None:
        return None
    tests += numbers
    if OBJECT & node.keys():
        shape = _object_test(node, known, depth)
        if shape is None:
            return None
        tests.append(shape)
    return _all_of(tests)


def _all_of(tests: list[Check]) -> Check:
    """One check from several, without a generator per value (this runs per distinct value)."""
    if not tests:
        return lambda v: True
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        a, b = tests
        return lambda v: a(v) and b(v)
    if len(tests) == 3:
        a, b, c = tests
        return lambda v: a(v) and b(v) and c(v)
    head, rest = tests[0], _all_of(tests[1:])
    return lambda v: head(v) and rest(v)


def _text_tests(node: dict) -> list[Check] | None:
    tests: list[Check] = []
    lo, hi = node.get("minLength"), node.get("maxLength")
    for limit in (lo, hi):
        if limit is not None and not (isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0):
            return None
    if lo is not None:
        tests.append(lambda v: v.__class__ is not str or len(v) >= lo)
    if hi is not None:
        tests.append(lambda v: v.__class__ is not str or len(v) <= hi)
    if "pattern" in node:
        pattern = node["pattern"]
        if not isinstance(pattern, str):
            return None
        tests.append(lambda v: v.__class__ is not str or engines.search(pattern, v))
    if "format" in node:  # the hub's formats are checked; every other one is an annotation
        check = formats.FORMATS.get(node["format"]) if isinstance(node["format"], str) else None
        if check is not None:
            tests.append(lambda v: v.__class__ is not str or check(v))
    return tests


def _is_number(v: Any) -> bool:
    return (v.__class__ is int or v.__class__ is float)


def _number_tests(node: dict) -> list[Check] | None:
    tests: list[Check] = []
    for keyword, holds in (("minimum", lambda v, t: v >= t), ("maximum", lambda v, t: v <= t),
                           ("exclusiveMinimum", lambda v, t: v > t), ("exclusiveMaximum", lambda v, t: v < t)):
        if keyword not in node:
            continue
        limit = node[keyword]
        if not _is_number(limit):
            return None
        tests.append(lambda v, t=limit, holds=holds: not _is_number(v) or holds(v, t))
    return tests


def _object_test(node: dict, known: dict, depth: int) -> Check | None:
    props = node.get("properties", {})
    required = node.get("required", [])
    extra = node.get("additionalProperties", True)
    if not isinstance(props, dict) or not isinstance(required, list) or extra not in (True, False):
        return None
    subs = {}
    for name, sub in props.items():
        compiled = compile_node(sub, known, depth + 1)
        if compiled is None:
            return None
        subs[name] = compiled
    shape = object_shape(node)
    if shape is None:
        return None

    def check(v):
        if v.__class__ is not dict:
            return True
        return shape(v.keys()) and all(subs[k](x) for k, x in v.items() if k in subs)
    return check


def object_shape(node: dict) -> Callable[[Any], bool] | None:
    """A check of an object's key set alone: required, additionalProperties (true or false)
    and min/maxProperties.  None if the node says more about keys than that."""
    if set(node) & {"patternProperties", "propertyNames", "dependentRequired", "dependentSchemas",
                    "unevaluatedProperties", "dependencies"}:
        return None
    props, required = node.get("properties", {}), node.get("required", [])
    extra = node.get("additionalProperties", True)
    lo, hi = node.get("minProperties"), node.get("maxProperties")
    if extra not in (True, False) or not all(isinstance(r, str) for r in required):
        return None
    for limit in (lo, hi):
        if limit is not None and not (isinstance(limit, int) and not isinstance(limit, bool)):
            return None
    needed, declared = frozenset(required), frozenset(props)

    def shape(keys) -> bool:
        keys = keys if isinstance(keys, (set, frozenset)) else set(keys)
        return (needed <= keys and (extra or keys <= declared)
                and (lo is None or len(keys) >= lo) and (hi is None or len(keys) <= hi))
    return shape


def field_nodes(schema: dict, paths: list[tuple[str, ...]], folder: str
                ) -> tuple[dict[tuple, Any], dict[tuple, Callable], dict[str, dict]] | None:
    """For a record made only of `paths` (field paths such as ("address", "city")): each path's
    subschema, the key-set check of each object on the way (the root is `()`) and the shared
    schemas they refer to.  None when an object on the way cannot be compiled."""
    known = schemas.load_all(folder)
    nodes: dict[tuple, Any] = {}
    shapes: dict[tuple, Callable] = {}
    for path in paths:
        node = _resolve(schema, known)
        for depth, part in enumerate(path):
            if not isinstance(node, dict) or not _supported(node) or set(node) & (LEAF - {"type"}):
                return None  # an object node that also tests its value as a whole
            if node.get("type", "object") != "object":
                return None  # a path through a node that cannot be an object: let the engine say why
            where = path[:depth]
            if where not in shapes:
                shape = object_shape(node)
                if shape is None:
                    return None
                shapes[where] = shape
            props = node.get("properties", {})
            sub = props.get(part, True if node.get("additionalProperties", True) is True else False)
            node = _resolve(sub, known)
        nodes[path] = node
    return nodes, shapes, known


TEXT_LEAF = frozenset({"type", "enum", "minLength", "maxLength", "pattern", "format"})


def text_column_check(node: Any, known: dict[str, dict] | None = None,
                      proven: str | None = None) -> Callable[[list], bool] | None:
    """For a list of text values: whether `compile_node(node)` passes every one, asked of the
    whole column (lengths by min/max, an enum by a set, a format or pattern by map), so the
    common column of ids or phones costs one call per value, not one per keyword.  None for a
    node with any keyword beyond type, enum, min/maxLength, pattern and format (then ask the
    value check of each value).  Only for lists of str."""
    node = _resolve(node, known if known is not None else {})
    if node is True or node == {}:
        return lambda values: True
    if not isinstance(node, dict) or not all(k in ANNOTATIONS or k in TEXT_LEAF or k.startswith("x-") for k in node):
        return None
    tests: list[Callable[[list], bool]] = []
    if "type" in node:
        wanted = node["type"] if isinstance(node["type"], list) else [node["type"]]
        if not all(isinstance(w, str) for w in wanted):
            return None
        if "string" not in wanted:
            return lambda values: not values  # no text passes (an empty column does)
    if "enum" in node:
        if not isinstance(node["enum"], list):
            return None
        strings = frozenset(o for o in node["enum"] if o.__class__ is str)
        tests.append(lambda values: strings.issuperset(values))
    lo, hi = node.get("minLength"), node.get("maxLength")
    for limit in (lo, hi):
        if limit is not None and not (isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0):
            return None
    if lo is not None:
        tests.append(lambda values: min(map(len, values)) >= lo)
    if hi is not None:
        tests.append(lambda values: max(map(len, values)) <= hi)
    if "pattern" in node:
        pattern = node["pattern"]
        if not isinstance(pattern, str):
            return None
        tests.append(lambda values: all(engines.search(pattern, v) for v in values))
    if "format" in node:  # the hub's formats are checked; every other one is an annotation
        check = formats.FORMATS.get(node["format"]) if isinstance(node["format"], str) else None
        if check is not None and node["format"] != proven:  # (`proven`: the values are known to have it)
            column = formats.COLUMN_FORMATS.get(node["format"])
            tests.append(column if column is not None else lambda values: all(map(check, values)))
    return lambda values: not values or all(test(values) for test in tests)
