"""Load the shared JSON Schemas (`schemas/<name>.schema.json`) and resolve `$ref`s between them offline.

Every schema's `$id` is `urn:munihub:schema:<name>`, and a `$ref` may only point at one of
those URNs or inside the same file, so nothing is ever fetched from the network.  The
folder is `$MUNIHUB_SCHEMAS` when set, else `schemas/` next to the `munihub` package.
Problems (unknown name, bad JSON, wrong `$id`, a `$ref` that resolves nowhere, a `$ref`
cycle between files) raise one `ConfigError` naming the schema, file:line or ref.
"""
from __future__ import annotations

import copy
import functools
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from munihub.config import REPO_ROOT, home_dir
from munihub.errors import ConfigError

URN_PREFIX = "urn:munihub:schema:"
_NAME = re.compile(r"[a-z][a-z0-9_]*")


def resolve_schemas_dir(path: str | Path | None = None) -> Path:
    """The shared-schema folder: `path`, else $MUNIHUB_SCHEMAS, else <repo>/schemas."""
    chosen = path or os.environ.get("MUNIHUB_SCHEMAS") or REPO_ROOT / "schemas"
    return Path(chosen).expanduser().resolve()


def list_schemas(directory: str | Path | None = None) -> list[str]:
    """Names of the shared schemas in the folder, sorted (`person`, `address`, …)."""
    folder = resolve_schemas_dir(directory)
    return sorted(p.name[: -len(".schema.json")] for p in folder.glob("*.schema.json"))


def schema_uri(name: str) -> str:
    return URN_PREFIX + name


def load_schema(name: str, schemas_dir: str | Path | None = None) -> dict:
    """The parsed schema `name`, checked: known name, valid JSON, matching `$id`, valid draft 2020-12."""
    folder = str(resolve_schemas_dir(schemas_dir))
    schema = _load(name, folder)
    _load_all(folder)  # every $ref in the folder resolves and none loops
    return copy.deepcopy(schema)


@functools.lru_cache(maxsize=64)
def _load(name: str, folder: str) -> dict:
    path = Path(folder) / f"{name}.schema.json"
    if not _NAME.fullmatch(name or "") or not path.is_file():
        known = ", ".join(list_schemas(folder)) or "none"
        raise ConfigError(f"unknown shared schema {name!r}", where=folder,
                          hint=f"known schemas: {known}; set MUNIHUB_SCHEMAS to another folder if needed")
    text = path.read_text(encoding="utf-8")
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"schema {name} is not valid JSON: {exc.msg}", where=f"{path}:{exc.lineno}",
                          hint="fix the JSON syntax") from None
    if not isinstance(schema, dict):
        raise ConfigError(f"schema {name} must be a JSON object", where=str(path))
    if schema.get("$id") != schema_uri(name):
        raise ConfigError(f"schema {name} has $id {schema.get('$id')!r}", where=str(path),
                          hint=f"set \"$id\": \"{schema_uri(name)}\" (the file name decides the id)")
    marker = _checked_marker(text)
    if marker.exists():
        return schema
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        pointer = "/" + "/".join(str(p) for p in exc.absolute_path)
        raise ConfigError(f"schema {name} is not a valid draft 2020-12 schema at {pointer}: {exc.message}",
                          where=str(path)) from None
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:  # a read-only home only costs the check again next time
        pass
    return schema


def _checked_marker(text: str) -> Path:
    """A file whose presence says these exact schema bytes passed the draft 2020-12 check.

    Importing `jsonschema` (with its format checkers) and checking every shared schema cost
    ~0.08 s of CPU at each process start, most of a small sync's own work; the schemas
    change with a release, not between syncs.  Any edit changes the digest, so an edited
    schema is checked again.
    """
    digest = hashlib.sha256(("draft 2020-12\0" + text).encode("utf-8")).hexdigest()
    return home_dir() / "cache" / "checked-schemas" / digest


def load_all(schemas_dir: str | Path | None = None) -> dict[str, dict]:
    """Every shared schema by name, with all `$ref`s checked to resolve and to form no cycle."""
    return copy.deepcopy(dict(_load_all(str(resolve_schemas_dir(schemas_dir)))))


@functools.lru_cache(maxsize=8)
def _load_all(folder: str) -> tuple[tuple[str, dict], ...]:
    schemas = {name: _load(name, folder) for name in list_schemas(folder)}
    edges = {name: check_refs(schema, schemas, where=name) for name, schema in schemas.items()}
    _check_cycles(edges)
    return tuple(schemas.items())


def iter_refs(node: Any, path: str = ""):
    """(JSON pointer of the `$ref`, its value) for every `$ref` inside a schema."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield path + "/$ref", value
            elif key not in ("enum", "const", "x-enum-titles", "examples", "default"):
                yield from iter_refs(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from iter_refs(item, f"{path}/{i}")


def _pointer_target(document: Any, fragment: str) -> bool:
    node = document
    for token in [t for t in fragment.lstrip("/").split("/") if t] if fragment else []:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return False
    return True


def check_refs(schema: dict, schemas: dict[str, dict], *, where: str) -> set[str]:
    """Names of the shared schemas `schema` refers to; ConfigError for a `$ref` that resolves nowhere."""
    targets: set[str] = set()
    for pointer, ref in iter_refs(schema):
        base, _, fragment = ref.partition("#")
        if not base:
            document = schema
        elif base.startswith(URN_PREFIX) and base[len(URN_PREFIX):] in schemas:
            document = schemas[base[len(URN_PREFIX):]]
            targets.add(base[len(URN_PREFIX):])
        else:
            raise ConfigError(f"schema {where}: $ref {ref!r} at {pointer} does not resolve",
                              where=where, hint=f"refer to one of {', '.join(URN_PREFIX + n for n in sorted(schemas))}"
                              " (no web addresses: validation runs offline)")
        if fragment and not _pointer_target(document, fragment):
            raise ConfigError(f"schema {where}: $ref {ref!r} at {pointer} points at nothing "
                              f"(no {fragment} in {base or 'this schema'})", where=where)
    return targets


def _check_cycles(edges: dict[str, set[str]]) -> None:
    # Shared schemas nest (person → address) but never recurse; a cycle is a mistake.
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for nxt in sorted(edges.get(name, ())):
            if state.get(nxt) == 1:
                cycle = " → ".join(trail[trail.index(nxt):] + [nxt])
                raise ConfigError(f"schema {nxt}: $ref cycle {cycle}",
                                  hint="shared schemas may nest but not refer back to themselves")
            if nxt not in state:
                visit(nxt, trail + [nxt])
        state[name] = 2

    for name in sorted(edges):
        if name not in state:
            visit(name, [name])


def reference_registry(schemas_dir: str | Path | None = None):
    """A `referencing.Registry` holding every shared schema under its URN (for `jsonschema`)."""
    return _reference_registry(str(resolve_schemas_dir(schemas_dir)))


@functools.lru_cache(maxsize=8)
def _reference_registry(folder: str):
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012
    resources = [(schema_uri(n), Resource.from_contents(s, default_specification=DRAFT202012))
                 for n, s in _load_all(folder)]
    return Registry().with_resources(resources)


def fast_registry(schemas_dir: str | Path | None = None):
    """A `jsonschema_rs.Registry` holding every shared schema under its URN (for the fast path)."""
    return _fast_registry(str(resolve_schemas_dir(schemas_dir)))


@functools.lru_cache(maxsize=8)
def _fast_registry(folder: str):
    import jsonschema_rs
    return jsonschema_rs.Registry([(schema_uri(n), s) for n, s in _load_all(folder)])


def clear_caches() -> None:
    """Forget loaded schemas and registries (after editing schema files in a running process)."""
    for fn in (_load, _load_all, _reference_registry, _fast_registry):
        fn.cache_clear()


def json_type(value) -> str | None:
    """The JSON Schema type of a Python value (`integer` for ints, not `number`; booleans are
    not integers), or None for a value JSON has no type for (a date, bytes)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return None


def flatten(record: dict, prefix: str = "") -> dict:
    """A nested record as {dotted field name: value}, the names contracts use (`address.city`)."""
    out: dict = {}
    for key, value in record.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


# ---------------------------------------------------------------- what a field is, by its schema
# The reader a field gets when its contract names no transformLogic, and the fields that are
# personal when it names no classification: an agency writing its contract by hand, without
# `munihub contracts new`, still gets national ids, phones and Jalali dates read and its
# citizens' data masked at the gateway.  An explicit transformLogic (`string`: as written)
# or classification always wins.
FORMAT_TRANSFORMS = {"ir-national-id": "national_id", "ir-mobile": "mobile", "ir-phone": "phone",
                     "ir-postal-code": "postal_code", "date": "date", "date-time": "datetime"}
PERSONAL = {"national_id", "mobile", "phone", "email", "postal_code", "birth_date", "address.detail",
            "address.street", "address.plate", "address.alley", "payer_name", "owner_name", "citizen_name",
            "latitude", "longitude"}


def schema_fields(name: str, schemas_dir: str | Path | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(dotted field name, its JSON Schema) for every field of a shared schema, nested
    objects (`$ref: urn:munihub:schema:address`) expanded one level as `address.city`."""
    schema = load_schema(name, schemas_dir)
    out = []
    for field, spec in (schema.get("properties") or {}).items():
        ref = str(spec.get("$ref") or "")
        if ref.startswith(URN_PREFIX):
            inner = load_schema(ref[len(URN_PREFIX):], schemas_dir)
            for sub, sub_spec in (inner.get("properties") or {}).items():
                title = f"{spec.get('title', field)} / {sub_spec.get('title', sub)}"
                out.append((f"{field}.{sub}", {**sub_spec, "title": title}))
        elif spec.get("type") == "object" and spec.get("properties"):
            out += [(f"{field}.{sub}", s) for sub, s in spec["properties"].items()]
        else:
            out.append((field, spec))
    return out


def default_transform(name: str, spec: dict) -> str:
    """The reader a template writes for a shared-schema field (`text` for plain text): the
    property's own `x-reader` annotation (an honorific's `title`), else by format and name."""
    if spec.get("x-reader"):
        return str(spec["x-reader"])
    if spec.get("format") in FORMAT_TRANSFORMS:
        return FORMAT_TRANSFORMS[spec["format"]]
    if name.endswith("gender"):
        return "gender"
    if name.endswith(("_name", "father_name")) or name in {"first_name", "last_name", "full_name"}:
        return "person_name"
    return {"integer": "integer", "number": "number", "boolean": "boolean"}.get(spec.get("type"), "text")


# A date reader that can never give its field's format: `date` on a date-time field (every
# row of a 137 export quarantined for its `filed_at`), `datetime` on a date field.  Such a
# property is read with the field's own reader, its parameter kept (`fitted`).  Other readers
# written on a field stay as written: text on a phone field keeps the number as typed, which
# its format allows.
_MISFITS = {"date": {"datetime"}, "datetime": {"date"}}
# Readers whose value can never have the field's type: a number or yes/no on a text field (an
# engineer whose system keeps national ids, mobiles or tracking codes as numbers writes
# `transformLogic: integer`: every value was refused as "must be string", and a tracking code's
# leading zeros were lost on the way), text on a number field.  Read with the field's own reader.
_NOT_TEXT = frozenset({"integer", "number", "boolean"})
_TEXT = frozenset({"text", "string", "digits"})


def fitted(transform: str | None, default: str | None) -> str | None:
    """The reader a property is read with on a field whose own reader is `default`
    (`field_defaults`): the field's own when the property names none, or names one that can
    never give the field's format (`date` on a date-time: `datetime`, its parameter kept;
    `integer` on a national id or tracking code: the field's), else the one it names."""
    if not transform:
        return default
    name, sep, param = str(transform).partition(":")
    if default in _MISFITS and name in _MISFITS[default]:
        return f"{default}{sep}{param}"  # (a century, an order of day and month: the same for both)
    if default and not param and ((name in _NOT_TEXT and default not in _NOT_TEXT)
                                  or (name in _TEXT and default in {"integer", "number"})):
        return default
    return transform


def field_defaults(name: str, schemas_dir: str | Path | None = None) -> dict[str, tuple[str | None, bool]]:
    """Field -> (the reader it gets without transformLogic, whether it is personal without a
    classification) for shared schema `name`; {} for a schema that does not load (the
    contract's check reports it).  Plain text keeps its value as written (`string`: text
    unchanged, so a contract that named no reader for a code or a category publishes it as
    before; a spreadsheet's number 9871416283 or 9871416283.0 as its digits, not refused)."""
    try:
        fields = schema_fields(name, schemas_dir)
    except ConfigError:
        return {}
    out = {}
    for field, spec in fields:
        reader = default_transform(field, spec)
        if reader == "text":
            reader = "string" if spec.get("type") == "string" else None
        out[field] = (reader, field in PERSONAL)
    return out
