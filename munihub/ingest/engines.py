"""The two validation engines, compiled to give one verdict on any draft 2020-12 schema.

The fast path (`jsonschema_rs`) runs loads; the reference (`jsonschema`) is the yardstick.
Left to their defaults they disagree: the fast one checks every standard format, the
reference none; they read regular expressions in two dialects (Python's `re` cannot even
compile `\\p{Letter}`); they fetch or refuse remote `$ref`s differently.  So both are built
here alike: the same checked formats (`formats.FORMATS`; every other format an annotation,
as 2020-12 says), one regex dialect (the fast engine's, called from the reference's
`pattern`, `patternProperties` and `additionalProperties`), draft 2020-12 whatever
`$schema` says (with draft 7's `dependencies`, which the fast one keeps), and no network (a `$ref` nothing here holds is a ConfigError at compile).
"""
from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from munihub.contracts import formats, schemas
from munihub.errors import ConfigError

Pair = tuple[tuple, str]  # (instance path tokens, rule)


# ---------------------------------------------------------------- one regex dialect

@functools.lru_cache(maxsize=1024)
def _regex(pattern: str):
    import jsonschema_rs
    return jsonschema_rs.Draft202012Validator({"pattern": pattern})


def search(pattern: str, text: str) -> bool:
    """Does `pattern` match somewhere in `text`, read as the fast engine reads it."""
    return _regex(pattern).is_valid(text)


def _pattern(validator, pattern, instance, schema):
    from jsonschema.exceptions import ValidationError
    if validator.is_type(instance, "string") and not search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator, patterns, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def extra_keys(instance: dict, schema: dict) -> list[str]:
    """Keys neither `properties` nor `patternProperties` of `schema` cover."""
    declared, patterns = schema.get("properties", {}), list(schema.get("patternProperties", {}))
    return [k for k in instance if k not in declared and not any(search(p, k) for p in patterns)]


def _additional_properties(validator, additional, instance, schema):
    from jsonschema.exceptions import ValidationError
    if not validator.is_type(instance, "object"):
        return
    extras = extra_keys(instance, schema)
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif additional is False and extras:
        yield ValidationError(f"Additional properties are not allowed ({', '.join(map(repr, extras))} unexpected)")


def _dependencies(validator, dependencies, instance, schema):
    """Draft 7's `dependencies`, which the fast engine still applies under 2020-12 (the suite's
    optional compatibility tests expect it): the reference applies it too, one verdict."""
    from jsonschema.exceptions import ValidationError
    if not validator.is_type(instance, "object"):
        return
    for prop, dependency in dependencies.items():
        if prop not in instance:
            continue
        if validator.is_type(dependency, "array"):
            for each in dependency:
                if each not in instance:
                    yield ValidationError(f"{each!r} is a dependency of {prop!r}")
        else:
            yield from validator.descend(instance, dependency, schema_path=prop)


def _evaluated_keys(validator, instance: dict, schema) -> set:
    """The keys `schema` evaluates: jsonschema's own walk (`find_evaluated_property_keys_by_schema`,
    pinned 4.26), with its patternProperties read in our dialect instead of Python's `re`."""
    from jsonschema._utils import is_valid
    if not isinstance(schema, dict):
        return set()
    keys: set = set()
    for ref in (schema.get("$ref"), schema.get("$dynamicRef")):
        if ref is not None:
            resolved = validator._resolver.lookup(ref)
            keys |= _evaluated_keys(validator.evolve(schema=resolved.contents, _resolver=resolved.resolver),
                                    instance, resolved.contents)
    if isinstance(schema.get("properties"), dict):
        keys |= schema["properties"].keys() & instance.keys()
    for keyword in ("additionalProperties", "unevaluatedProperties"):
        if schema.get(keyword) is not None:
            keys |= {k for k, v in instance.items() if is_valid(validator.descend(v, schema[keyword]))}
    keys |= {k for k in instance for pattern in schema.get("patternProperties", {}) if search(pattern, k)}
    for prop, sub in (schema.get("dependentSchemas") or {}).items():
        if prop in instance:
            keys |= _evaluated_keys(validator, instance, sub)
    for keyword in ("allOf", "oneOf", "anyOf"):
        for sub in schema.get(keyword, []):
            if is_valid(validator.descend(instance, sub)):
                keys |= _evaluated_keys(validator, instance, sub)
    if "if" in schema:
        if validator.evolve(schema=schema["if"]).is_valid(instance):
            keys |= _evaluated_keys(validator, instance, schema["if"])
            keys |= _evaluated_keys(validator, instance, schema.get("then"))
        else:
            keys |= _evaluated_keys(validator, instance, schema.get("else"))
    return keys


def _unevaluated_properties(validator, unevaluated, instance, schema):
    """`unevaluatedProperties` as jsonschema has it, but never handing Python's `re` a pattern."""
    from jsonschema.exceptions import ValidationError
    if not validator.is_type(instance, "object"):
        return
    seen = _evaluated_keys(validator, instance, schema)
    bad = [k for k in instance if k not in seen and any(True for _ in validator.descend(
        instance[k], unevaluated, path=k, schema_path=k))]
    if bad:
        yield ValidationError(f"Unevaluated properties are not allowed ({', '.join(map(repr, sorted(bad)))})")


@functools.lru_cache(maxsize=1)
def _reference_class():
    from jsonschema import Draft202012Validator, validators
    return validators.extend(Draft202012Validator, {
        "pattern": _pattern, "patternProperties": _pattern_properties,
        "additionalProperties": _additional_properties, "dependencies": _dependencies,
        "unevaluatedProperties": _unevaluated_properties})


# ---------------------------------------------------------------- compiling

@functools.lru_cache(maxsize=8)
def _reference_registry(folder: str):
    """The shared schemas and the JSON Schema meta-schemas; nothing fetched."""
    from jsonschema_specifications import REGISTRY as META  # a default Registry never retrieves
    return META.combine(schemas.reference_registry(folder))


def compile_reference(schema: dict, folder: str):
    checker = _format_checker()
    return _reference_class()(schema, registry=_reference_registry(folder), format_checker=checker)


@functools.lru_cache(maxsize=1)
def _format_checker():
    from jsonschema import FormatChecker
    checker = FormatChecker(formats=())
    for name, check in formats.FORMATS.items():
        checker.checks(name)(check)
    return checker


def _rs(schema: dict, registry, where: str):
    import jsonschema_rs
    try:
        return jsonschema_rs.Draft202012Validator(schema, formats=formats.FAST_FORMATS, validate_formats=True,
                                                  ignore_unknown_formats=True, registry=registry, offline=True)
    except (ValueError, jsonschema_rs.ReferencingError) as exc:  # ValidationError is a ValueError
        raise ConfigError(f"schema {schema.get('$id', '?')} does not compile: {str(exc).splitlines()[0]}",
                          where=where, hint="a $ref must point inside the schema, at a shared schema (urn:munihub:"
                                            "schema:<name>) or at a JSON Schema meta-schema: validation runs offline"
                          ) from None


def compile_fast(schema: dict, folder: str):
    return _rs(schema, schemas.fast_registry(folder), folder)


def _native(node: Any) -> Any:
    """A copy of a schema with regex-equivalent formats swapped for native keywords."""
    if isinstance(node, list):
        return [_native(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: (v if k in ("enum", "const", "x-enum-titles") else _native(v)) for k, v in node.items()}
    equivalent = formats.NATIVE_EQUIVALENTS.get(out.get("format")) if isinstance(out.get("format"), str) else None
    if equivalent is not None:
        del out["format"]
        out["allOf"] = [*out.get("allOf", []), equivalent]
    return out


@functools.lru_cache(maxsize=8)
def _native_registry(folder: str):
    import jsonschema_rs
    return jsonschema_rs.Registry([(schemas.schema_uri(n), _native(s)) for n, s in schemas.load_all(folder).items()])


def compile_prefilter(schema: dict, folder: str):
    """The fast `is_valid` pass: same verdicts as the schema, fewer calls back into Python."""
    return _rs(_native(schema), _native_registry(folder), folder)


# ---------------------------------------------------------------- errors as (path, rule) pairs

def fast_pairs(validator, record: Any) -> Iterator[Pair]:
    for e in validator.iter_errors(record):
        kind, path = e.kind, tuple(e.instance_path)
        name = kind.name
        if name == "required":
            yield path + (kind.property,), "required"
        elif name == "additionalProperties":
            for extra in kind.unexpected:
                yield path + (extra,), name
        elif name == "format":
            yield path, "format:" + kind.format
        else:
            yield path, name


# The reference's names for a failure where the fast engine's differ (same place, same cause).
_SAME_RULE = {"None": "falseSchema", "minContains": "contains", "maxContains": "contains"}


def reference_pairs(validator, record: Any) -> Iterator[Pair]:
    for e in validator.iter_errors(record):
        path, keyword = tuple(e.absolute_path), _SAME_RULE.get(str(e.validator), str(e.validator))
        if "propertyNames" in e.absolute_schema_path:  # a key's own failure is the object's propertyNames
            yield path, "propertyNames"
        elif keyword == "dependentRequired" and isinstance(e.instance, dict):
            for prop, needed in e.validator_value.items():
                if prop in e.instance:
                    yield from ((path + (n,), "required") for n in needed if n not in e.instance)
        elif keyword == "required" and isinstance(e.instance, dict):
            for prop in e.validator_value:
                if prop not in e.instance:
                    yield path + (prop,), "required"
        elif keyword == "additionalProperties" and isinstance(e.instance, dict):
            for prop in extra_keys(e.instance, e.schema):
                yield path + (prop,), keyword
        elif keyword == "format":
            yield path, "format:" + str(e.validator_value)
        else:
            yield path, keyword
