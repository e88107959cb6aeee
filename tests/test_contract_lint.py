"""Lint in two layers, read on the standard's own material (../shared/conformance, read in place):
every example is valid ODCS; every negative test is rejected, its first message at the line of the
offending key naming the real problem, with no follow-on noise; the hub's own rules said apart."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from munihub.cli.main import main
from munihub.contracts import lint_contract, load_contract
from munihub.errors import ContractError

ODCS = Path(__file__).resolve().parents[1].parent / "shared" / "conformance" / "odcs-examples"
GOOD = Path(__file__).parent / "data" / "core" / "citizens.yaml"
needs_shared = pytest.mark.skipif(not ODCS.is_dir(), reason="../shared/conformance is not beside the repository")

# negative test -> (a regex for the line the first message must point at, words that message must hold
# [, which match of the regex when it is not the first])
NEGATIVE = {
    "additional-unknown-property": (r"^unknownRootField:", "unknown key 'unknownRootField'"),
    "enum-duplicate-values": (r"^\s+- value: pending", "'pending'} is listed twice", 2),
    "enum-empty": (r"^\s+enum: \[\]", "enum: must not be empty"),
    "enum-missing-value": (r"^\s+- label: Pending", "required key 'value' is missing"),
    "invalid-api-version": (r"^apiVersion:", "'v4.0.0' is not allowed"),
    "invalid-kind": (r"^kind:", "'DataModel' is not allowed"),
    "invalid-quality-dimension": (r"^\s+dimension:", "dimension: 'validity' is not allowed"),
    "invalid-quality-metric": (r"^\s+- metric: invalidMetric", "metric: 'invalidMetric' is not allowed"),
    "invalid-quality-type": (r"^\s+- type: unknown", "type: 'unknown' is not allowed"),
    "map-missing-block": (r"^\s+- name: user_preferences", "required key 'map' is missing"),
    "map-missing-key": (r"^\s+map:", "map: required key 'key' is missing"),
    "map-missing-value": (r"^\s+map:", "map: required key 'value' is missing"),
    "missing-required-fields": (r"^version:", "required key 'id' is missing"),
    "quality-custom-missing-implementation": (r"^\s+- type: custom", "required key 'implementation' is missing"),
    "quality-element-field": (r"^\s+element:", "unknown key 'element'"),
    "quality-library-missing-metric": (r"^\s+- type: library", "required key 'metric' is missing"),
    "quality-multiple-operators": (r"^\s+- type: library", "only one of mustBe, mustNotBe"),
    "quality-mustbebetween-wrong-size": (r"^\s+mustBeBetween:", "mustBeBetween: has 1 item(s); needs at least 2"),
    "quality-sql-missing-query": (r"^\s+- type: sql", "required key 'query' is missing"),
    "relationship-property-level-with-from": (r"^\s+- from:", "key 'from' is not allowed here"),
    "relationship-schema-level-missing-from-to": (r"^\s+- type: foreignKey", "required keys 'from', 'to' are missing"),
    "schema-property-invalid-logicaltype": (r"^\s+logicalType: binary", "'binary' is not allowed"),
    "schema-property-missing-name": (r"^\s+- logicalType: string", "required key 'name' is missing"),
    "server-invalid-type": (r"^\s+type: mongodb", "'mongodb' is not allowed"),
    "server-missing-conditional-fields": (r"^\s+- server: athena-prod", "required key 'schema' is missing"),
    "server-missing-required-fields": (r"^\s+- ", "required keys 'server', 'type' are missing"),
    "sla-missing-required-value": (r"^\s+- property: latency", "required key 'value' is missing"),
    "synonym-missing-term": (r"^\s+- description: Missing", "required key 'synonym' is missing"),
}
# Each negative test breaks one rule, so the standard's layer says one thing (two unknown keys: two).
PROBLEM_COUNT = {"quality-element-field": 2}
NOISE = ("Unevaluated properties", "is valid under each of", "is not valid under any of", "Additional properties")


def _line(path: Path, pattern: str, nth: int = 1) -> int:
    found = [i for i, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if re.search(pattern, text) and not text.lstrip().startswith("#")]
    return found[nth - 1]


@needs_shared
def test_the_standard_has_28_negative_tests_and_each_is_expected_here():
    assert sorted(p.name.removesuffix(".odcs.yaml") for p in (ODCS / "invalid").glob("*.yaml")) == sorted(NEGATIVE)


@needs_shared
@pytest.mark.parametrize("name", sorted(NEGATIVE))
def test_each_negative_test_is_rejected_at_the_right_line_with_the_real_problem_first(name):
    path = ODCS / "invalid" / f"{name}.odcs.yaml"
    pattern, words, *nth = NEGATIVE[name]
    result = lint_contract(path)
    assert not result["valid_odcs"] and not result["runnable"]
    standard = [p for p in result["problems"] if p["layer"] == "ODCS"]
    first = result["problems"][0]
    assert first["layer"] == "ODCS" and words in first["message"]
    assert first["line"] == _line(path, pattern, *nth)
    assert not any(n in p["message"] for p in standard for n in NOISE)
    assert len(standard) == PROBLEM_COUNT.get(name, 1), standard
    assert len({(p["line"], p["message"]) for p in standard}) == len(standard)
    assert all(len(p["message"]) < 400 for p in standard)  # no schema dumps


@needs_shared
def test_every_example_of_the_standard_is_valid_odcs_and_says_which_version():
    examples = sorted((ODCS / "valid").rglob("*.yaml"))
    assert len(examples) == 28
    for path in examples:
        result = lint_contract(path)
        assert result["valid_odcs"], (path, result["problems"][:2])
        assert re.fullmatch(r"ODCS v3\.\d\.\d", result["standard"])
        assert all(p["layer"] == "munihub" for p in result["problems"])


def _write(tmp_path, text: str) -> Path:
    p = tmp_path / "c.yaml"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize("written, meant", [
    ("نام", "first_name"),            # the column's Persian header written as the field: its title
    ("نام  پدر", "father_name"),
    ("firstName", "first_name"), ("First Name", "first_name"),
])
def test_a_property_name_that_is_no_field_name_says_which_field_it_means(tmp_path, written, meant):
    text = GOOD.read_text(encoding="utf-8").replace("- name: first_name", f'- name: "{written}"')
    result = lint_contract(_write(tmp_path, text))
    [problem] = result["problems"]
    assert f"did you mean {meant!r}" in problem["message"]
    assert ("physicalName" in problem["message"]) is (not written.isascii())


def test_a_field_two_properties_name_is_refused_unless_it_is_a_phone(tmp_path):
    # `name: first_name` on «نام» and again on «نام پدر»: the father's name wrote over the
    # first name in every record; a phone field may take two columns (the second set aside)
    text = GOOD.read_text(encoding="utf-8").replace("- name: last_name", "- name: first_name", 1)
    p = _write(tmp_path, text)
    [problem] = lint_contract(p)["problems"]
    assert "'first_name' is named by two properties" in problem["message"]
    assert problem["line"] == _line(p, r"- name: first_name", 2)


@pytest.mark.parametrize("written, says", [("sqlite", "write `custom`"), ("postgress", "did you mean 'postgres")])
def test_a_server_type_odcs_lacks_says_what_to_write(tmp_path, written, says):
    # the standard's 44 types were cut at 12 in the message: SQLite's engineer never saw `custom`
    text = re.sub(r"(?m)^(\s+type: )\w+", rf"\g<1>{written}", GOOD.read_text(encoding="utf-8"), count=1)
    [problem] = lint_contract(_write(tmp_path, text))["problems"]
    assert f"'{written}' is not allowed, not a server type" in problem["message"] and says in problem["message"]


def test_essential_written_in_quotes_is_refused_not_read_as_false(tmp_path):
    text = GOOD.read_text(encoding="utf-8").replace(
        "      - name: first_name\n", "      - name: first_name\n        customProperties: [{property: essential, value: 'true'}]\n", 1)
    [problem] = lint_contract(_write(tmp_path, text))["problems"]
    assert "essential must be true or false" in problem["message"]


@pytest.mark.parametrize("top, says", [
    ("customProperties:\n  - {property: schedule, value: daily}\n", "write '@daily'"),
    ("customProperties:\n  - {property: schedule, value: every night}\n", "cron expression such as '0 2 * * *'"),
    ("slaProperties:\n  - {property: freshness, value: 2, unit: fortnight}\n", "freshness unit 'fortnight'"),
    ("description: قرارداد کنتورها\n", "write it as keys under it: authoritativeDefinitions, customProperties, "
                                       "limitations, purpose"),
])
def test_a_top_level_setting_written_loosely_says_how_to_write_it(tmp_path, top, says):
    # `schedule: daily` passed lint and broke the DAG; an unknown freshness unit was read as days
    text = re.sub(r"(?m)^(customProperties|slaProperties|description):.*\n(?:[ -].*\n)*", "",
                  GOOD.read_text(encoding="utf-8")) + top
    problems = lint_contract(_write(tmp_path, text))["problems"]
    assert [p["message"] for p in problems if says in p["message"]], problems


def test_a_version_yaml_reads_as_a_number_says_to_quote_it(tmp_path):
    text = re.sub(r"(?m)^version: .*$", "version: 1.0", GOOD.read_text(encoding="utf-8"))
    [problem] = lint_contract(_write(tmp_path, text))["problems"]
    assert "must be string, not float" in problem["message"] and 'quotes: "1.0"' in problem["message"]


def test_freshness_in_persian_or_short_units_is_read_in_them(tmp_path):
    from munihub.contracts.load import _freshness_seconds
    assert _freshness_seconds([{"property": "freshness", "value": 2, "unit": "ساعت"}]) == 7200
    assert _freshness_seconds([{"property": "freshness", "value": 1, "unit": "hrs"}]) == 3600


def test_transform_source_objects_that_leave_out_the_physical_name_are_refused(tmp_path):
    # ODCS's own example lists the source *tables* there: the hub joins the columns named, so
    # `physicalName: fname, transformSourceObjects: [citizens]` read an absent column, empty
    text = GOOD.read_text(encoding="utf-8")
    tables = text.replace("        physicalName: fname\n", "        physicalName: fname\n        transformSourceObjects: [citizens]\n")
    [problem] = lint_contract(_write(tmp_path, tables))["problems"]
    assert "does not list" in problem["message"] and "'fname'" in problem["message"]
    both = text.replace("        physicalName: fname\n", "        physicalName: fname\n        transformSourceObjects: [fname, lname]\n")
    assert lint_contract(_write(tmp_path, both))["problems"] == []


@pytest.mark.parametrize("old, new, says", [
    ("          - property: essential\n", "          - property: Essential\n", "'Essential' is read by the hub only as 'essential'"),
    ("      - property: table\n", "      - property: Table\n", "'Table' is read by the hub only as 'table'"),
])
def test_a_custom_property_of_the_hub_spelt_otherwise_is_refused_not_ignored(tmp_path, old, new, says):
    # `value_map`, `valuemap`: the valueMap was ignored without a word and codes passed unmapped
    from munihub.cli.contracts import _connector_params
    text = GOOD.read_text(encoding="utf-8")
    assert old in text
    problems = lint_contract(_write(tmp_path, text.replace(old, new)), connectors=_connector_params())["problems"]
    assert [p["message"] for p in problems if says in p["message"]], problems
    p = _write(tmp_path, text + "  - {property: value_map, value: 1}\n  - {property: myOwnNote, value: x}\n")
    assert [p["message"] for p in lint_contract(p)["problems"]] == []  # not one of the top level's: free


def test_a_value_map_written_as_a_list_says_how_to_write_it(tmp_path):
    text = GOOD.read_text(encoding="utf-8").replace(
        "      - name: first_name\n", "      - name: first_name\n        customProperties: "
        "[{property: valueMap, value: [{from: مرد, to: male}]}]\n", 1)
    [problem] = lint_contract(_write(tmp_path, text))["problems"]
    assert "{value: {مرد: male, زن: female}}" in problem["message"]


def test_a_second_schema_object_is_refused_not_ignored(tmp_path):
    # persons and their phones as two objects of one contract: the second was never read
    text = GOOD.read_text(encoding="utf-8")
    second = re.sub(r"(?m)^slaProperties:", "  - name: phones\n    properties:\n      - {name: mobile, "
                    "physicalName: tel, logicalType: string}\nslaProperties:", text, count=1)
    assert second != text
    p = _write(tmp_path, second)
    [problem] = lint_contract(p)["problems"]
    assert "one schema object per contract" in problem["message"] and "'phones'" in problem["message"]
    assert problem["line"] == _line(p, r"- name: phones")


def test_a_misspelled_field_is_an_error_at_its_name_line_with_a_suggestion(tmp_path):
    text = GOOD.read_text(encoding="utf-8").replace("- name: first_name", "- name: frist_name")
    p = _write(tmp_path, text)
    result = lint_contract(p)
    assert result["valid_odcs"] and not result["runnable"]
    [problem] = result["problems"]
    assert problem["layer"] == "munihub" and problem["line"] == _line(p, r"- name: frist_name")
    assert "'frist_name' is not a field of shared schema 'person'" in problem["message"]
    assert "did you mean 'first_name'" in problem["message"]
    with pytest.raises(ContractError, match="valid ODCS v3.1.0, but not runnable by munihub"):
        load_contract(p)


def test_an_unknown_transform_is_reported_at_its_own_line(tmp_path):
    p = _write(tmp_path, GOOD.read_text(encoding="utf-8").replace("transformLogic: mobile",
                                                                   "transformLogic: telepathy"))
    [problem] = lint_contract(p)["problems"]
    assert problem["line"] == _line(p, r"transformLogic: telepathy") and "unknown transform 'telepathy'" in \
        problem["message"]


def test_a_value_map_onto_a_value_the_shared_schema_forbids_is_an_error(tmp_path):
    gender = ("      - name: gender\n        physicalName: jens\n        logicalType: string\n"
              "        customProperties:\n          - property: valueMap\n            value: {m: male, z: woman}\n")
    text = GOOD.read_text(encoding="utf-8").replace("      - name: first_name\n", gender + "      - name: first_name\n")
    p = _write(tmp_path, text)
    problems = lint_contract(p)["problems"]
    assert [p_["layer"] for p_ in problems] == ["munihub"]
    assert "'woman'" in problems[0]["message"] and "gender" in problems[0]["message"]


def test_a_value_map_keyed_by_numeric_codes_is_read(tmp_path):
    # YAML reads `1:` as a number, and the compiled ODCS validator takes text keys only; the
    # standard's check sees the contract as JSON would carry it (every key text), and mapping
    # reads the codes as written
    gender = ("      - name: gender\n        physicalName: jens\n        logicalType: string\n"
              "        transformLogic: gender\n"
              "        customProperties:\n          - property: valueMap\n            value: {1: male, 2: female}\n")
    text = GOOD.read_text(encoding="utf-8").replace("      - name: first_name\n", gender + "      - name: first_name\n")
    p = _write(tmp_path, text)
    result = lint_contract(p)
    assert result["valid_odcs"] and result["runnable"], result["problems"]
    from munihub.ingest.mapping import map_field
    [f] = [f for f in load_contract(p).fields if f.name == "gender"]
    assert map_field(f, {"jens": 2}) == ("female", None) and map_field(f, {"jens": "۱"}) == ("male", None)


@pytest.mark.parametrize("text", ["~: 1\n", "null: x\napiVersion: v3.1.0\n", "1: x\n", "true: [1]\n"])
def test_a_key_yaml_reads_as_null_number_or_boolean_is_a_problem_not_a_crash(tmp_path, text):
    p = _write(tmp_path, text)
    with pytest.raises(ContractError) as err:
        load_contract(p)
    assert str(p) in str(err.value)


def test_unknown_connector_parameters_and_missing_ones_come_from_the_connector(tmp_path):
    p = _write(tmp_path, GOOD.read_text(encoding="utf-8"))
    schema = {"type": "object", "required": ["url", "dsn"], "properties": {"url": {"type": "string"}}}
    problems = lint_contract(p, connectors={"sql": schema})["problems"]
    assert [pr["message"] for pr in problems] == [
        "connector sql needs parameter 'dsn': add {property: dsn, value: …} to the server's customProperties"]
    # the sql connector's table or query: lint passed and the sync stopped on the missing table
    from munihub.cli.contracts import _connector_params
    text = GOOD.read_text(encoding="utf-8")
    no_table = text.replace("      - property: table\n        value: citizens\n", "")
    assert no_table != text
    problems = lint_contract(_write(tmp_path, no_table), connectors=_connector_params())["problems"]
    assert [pr["message"] for pr in problems] == [
        "connector sql: give exactly one of table, query (as {property: table, value: …})"]
    problems = lint_contract(p, connectors={"rest": {}})["problems"]
    assert "unknown connector 'sql'" in problems[0]["message"]


def test_a_valid_odcs_contract_the_hub_cannot_run_is_not_called_invalid(tmp_path, capsys):
    p = _write(tmp_path, "apiVersion: v3.0.2\nkind: DataContract\nid: a.b\nversion: 1.0.0\nstatus: active\n"
                         "schema:\n  - name: t\n    properties:\n      - name: x\n        logicalType: string\n")
    result = lint_contract(p)
    assert result["valid_odcs"] and result["standard"] == "ODCS v3.0.2" and not result["runnable"]
    assert {pr["layer"] for pr in result["problems"]} == {"munihub"}
    assert main(["contracts", "lint", str(p)]) == 1
    out = capsys.readouterr().out
    assert f"{p}: valid ODCS v3.0.2; NOT runnable by munihub yet" in out
    assert "munihub: the hub needs a server" in out and "sharedSchema" in out


def test_an_unknown_top_level_key_is_reported_at_its_own_line(tmp_path):
    text = GOOD.read_text(encoding="utf-8") + "\nservres:\n  - server: x\n"
    p = _write(tmp_path, text)
    [problem] = lint_contract(p)["problems"]
    assert problem["layer"] == "ODCS" and problem["line"] == _line(p, r"^servres:")
    assert "unknown key 'servres'" in problem["message"] and "did you mean 'servers'" in problem["message"]


def test_lint_json_lists_both_verdicts(tmp_path, capsys):
    import json
    assert main(["contracts", "lint", str(GOOD), "--format", "json"]) == 0
    [result] = json.loads(capsys.readouterr().out)
    assert result["valid_odcs"] and result["runnable"] and result["problems"] == []


def test_a_property_without_logical_type_is_told_to_add_one_not_a_map(tmp_path):
    p = _write(tmp_path, "apiVersion: v3.2.0\nkind: DataContract\nid: a.b\nversion: 1.0.0\nstatus: active\n"
                         "schema:\n  - name: t\n    properties:\n      - name: x\n")
    first = lint_contract(p)["problems"][0]
    assert first["layer"] == "ODCS" and first["line"] == 9 and "give the property a logicalType" in first["message"]


def test_a_quality_rule_written_the_v3_0_way_is_told_its_v3_1_name(tmp_path):
    # `rule: nullCheck, mustBe: 0` from the standard's v3.0 examples, in a v3.1 contract: one
    # problem at `rule`, naming the metric to write, not two "unknown key" echoes
    text = GOOD.read_text(encoding="utf-8").replace("          - metric: nullValues\n            mustBeLessOrEqualTo: 50",
                                                    "          - rule: nullCheck\n            mustBe: 0")
    p = _write(tmp_path, text)
    [problem] = lint_contract(p)["problems"]
    assert problem["layer"] == "ODCS" and problem["line"] == _line(p, r"- rule: nullCheck")
    assert "write `metric: nullValues`" in problem["message"] and "mustBe" not in problem["message"]
    # with `type: library` (as the v3.0 examples write it too) the schema asks for `metric`
    # instead of ignoring `rule`: the same one problem, not "required key 'metric' is missing"
    p = _write(tmp_path, text.replace("          - rule: nullCheck", "          - type: library\n            rule: nullCheck"))
    [problem] = lint_contract(p)["problems"]
    assert problem["line"] == _line(p, r"rule: nullCheck") and "write `metric: nullValues`" in problem["message"]
