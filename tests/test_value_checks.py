"""The shared schema compiled into per-value checks (column validation) gives the fast engine's
verdict: on every case of the official JSON Schema suite whose schema it compiles, and on
values generated valid and invalid for every node of every shared schema."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings

from munihub.contracts import schemas
from munihub.ingest import value_checks
from munihub.ingest.validate import compile_validator

from test_validate_differential import DELIBERATE, KNOWN, NAMES, SUITE, _suite_files, invalid_value, records, \
    valid_value


def _suite_cases():
    for path in _suite_files() + _suite_files("optional") + _suite_files("optional/format"):
        for group in json.loads(path.read_text(encoding="utf-8")):
            check = value_checks.compile_node(group["schema"], KNOWN)
            for case in group["tests"]:
                yield path, group, case, check


@pytest.mark.skipif(not SUITE.is_dir(), reason="../shared/conformance is not beside the repository")
def test_compiled_checks_agree_with_the_fast_engine_on_the_official_suite():
    compiled = agreed = 0
    kinds: set[str] = set()
    for path, group, case, check in _suite_cases():
        if check is None:
            continue
        schema = group["schema"] if isinstance(group["schema"], dict) else {"allOf": [group["schema"]]}
        engine = compile_validator(schema, engine="fast")
        where = (path.name, group["description"], case["description"])
        compiled += 1
        assert check(case["data"]) == engine.is_valid(case["data"]), where
        if path.parent == SUITE:
            assert check(case["data"]) == (case["valid"] != (where in DELIBERATE)), where
        agreed += 1
        kinds.add(path.stem)
    # the keywords the hub's schemas use are all among the files whose cases ran
    assert {"type", "enum", "const", "maxLength", "minLength", "pattern", "minimum", "maximum", "exclusiveMinimum",
            "exclusiveMaximum", "required", "properties", "additionalProperties", "minProperties",
            "boolean_schema"} <= kinds, sorted(kinds)
    assert compiled >= 250 and agreed == compiled, (compiled, agreed)


@pytest.mark.skipif(not SUITE.is_dir(), reason="../shared/conformance is not beside the repository")
def test_keywords_not_compiled_are_left_to_the_engine():
    for keyword in ("allOf", "anyOf", "oneOf", "not", "if-then-else", "items", "patternProperties", "multipleOf",
                    "dependentRequired", "unevaluatedProperties", "ref", "propertyNames"):
        groups = json.loads((SUITE / f"{keyword}.json").read_text(encoding="utf-8"))
        assert all(value_checks.compile_node(g["schema"], KNOWN) is None for g in groups
                   if isinstance(g["schema"], dict) and keyword.split("-")[0] in g["schema"]), keyword


def _nodes():
    """(schema name, path, node) of every property of every shared schema, nested ones too."""
    for name in NAMES:
        stack = [((), KNOWN[name])]
        while stack:
            path, node = stack.pop()
            resolved = value_checks._resolve(node, KNOWN)
            yield name, path, node
            for prop, sub in (resolved.get("properties") or {}).items():
                stack.append((path + (prop,), sub))


NODES = list(_nodes())


def test_every_node_of_every_shared_schema_compiles():
    missing = [(n, p) for n, p, node in NODES if value_checks.compile_node(node, KNOWN) is None]
    assert not missing and len(NODES) > 60


@pytest.mark.parametrize("name,path,node", NODES, ids=lambda x: x if isinstance(x, str) else
                         ".".join(x) if isinstance(x, tuple) else "")
def test_generated_values_get_the_fast_engines_verdict(name, path, node):
    check = value_checks.compile_node(node, KNOWN)
    engine = compile_validator(dict(node), engine="fast")

    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(valid_value(node) | invalid_value(node))
    def agree(value):
        assert check(value) == engine.is_valid(value), (name, path, value)
    agree()


@pytest.mark.parametrize("name", NAMES)
def test_whole_records_get_the_fast_engines_verdict(name):
    check = value_checks.compile_node(KNOWN[name], KNOWN)
    engine = compile_validator(name, engine="fast")
    seen = set()

    # derandomized: a random run of 150 once drew no valid service request at all (a quarter of
    # the draws are unmutated records), and `seen` below then failed without any disagreement
    @settings(max_examples=150, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(records(name))
    def agree(record):
        verdict = check(record)
        seen.add(verdict)
        assert verdict == engine.is_valid(record), record
    agree()
    assert seen == {True, False}


def _field_checks(schema, paths):
    """Each path's compiled value check and the key-set checks, as `columnar.plan_for` builds them."""
    nodes, shapes, known = value_checks.field_nodes(schema, paths, str(schemas.resolve_schemas_dir(None)))
    return {p: value_checks.compile_node(node, known) for p, node in nodes.items()}, shapes


def test_field_checks_judge_a_record_by_its_values_and_its_key_set():
    fields = [("national_id",), ("first_name",), ("address", "city"), ("address", "postal_code")]
    values, shapes = _field_checks(KNOWN["person"], fields)
    assert values[("first_name",)]("علی") and not values[("first_name",)]("")
    assert not values[("national_id",)]("1234567890") and values[("address", "postal_code")]("9187654321")
    assert shapes[()]({"first_name"}) and not shapes[()](set()) and not shapes[()]({"zip"})  # minProperties, extras
    assert shapes[("address",)]({"city"}) and not shapes[("address",)]({"town"})
    # a field the schema does not declare is compiled as "never valid" under additionalProperties: false
    values, _ = _field_checks(KNOWN["person"], [("nationalId",)])
    assert not values[("nationalId",)]("x")


def test_json_equality_is_json_schemas():
    eq = value_checks.json_equal
    assert eq(1, 1.0) and not eq(True, 1) and not eq(False, 0) and not eq("1", 1) and eq([1, {"a": 2}], [1.0, {"a": 2}])
    assert not eq([False], [0]) and not eq({"a": 1}, {"a": 1, "b": 2})


@pytest.mark.parametrize("name,path,node", NODES, ids=lambda x: x if isinstance(x, str) else
                         ".".join(x) if isinstance(x, tuple) else "")
def test_a_column_of_text_gets_the_verdict_of_its_values(name, path, node):
    """`text_column_check` asks a whole column at once: it passes a list of text exactly when
    the value check passes each of its values."""
    column = value_checks.text_column_check(node, KNOWN)
    if column is None:
        return  # an object node or a keyword beyond text's: staging asks value by value
    check = value_checks.compile_node(node, KNOWN)
    texts = valid_value(node).filter(lambda v: isinstance(v, str)) | invalid_value(node).filter(
        lambda v: isinstance(v, str))
    from hypothesis import strategies as st

    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(texts, max_size=6))
    def agree(values):
        assert column(values) == all(check(v) for v in values), (name, path, values)
    agree()


def test_the_person_schemas_text_fields_are_checked_a_column_at_a_time():
    compiled = {p: value_checks.text_column_check(node, KNOWN) for n, p, node in NODES if n == "person" and len(p) == 1}
    assert all(compiled[(f,)] is not None for f in ("national_id", "mobile", "postal_code", "first_name", "gender"))
    assert compiled[("national_id",)](["0499370899", "1000000011"]) is True
    assert compiled[("national_id",)](["0499370899", "0499370898"]) is False  # a wrong check digit
    assert compiled[("gender",)](["male", "female"]) and not compiled[("gender",)](["male", "man"])
    assert compiled[("first_name",)]([]) and not compiled[("first_name",)](["علی", ""])  # minLength 1
