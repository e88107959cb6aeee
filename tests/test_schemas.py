"""Shared schemas: every file loads, carries the agreed fields, and its example validates; broken folders fail clearly."""
from __future__ import annotations

import json
import re

import pytest

from munihub.contracts import schemas
from munihub.errors import ConfigError
from munihub.ingest.validate import compile_validator

# The field names agreed in docs/ARCHITECTURE.md ("Shared schemas").
FIELDS = {
    "person": "national_id first_name last_name full_name father_name birth_date gender mobile phone email "
              "postal_code address title",
    "address": "city district street alley plate postal_code detail",
    "agency": "agency_code name parent_code kind phone address",
    "service_request": "tracking_code national_id citizen_name citizen_title mobile phone category subcategory description district "
                       "address latitude longitude status filed_at closed_at refers_to",
    "permit": "permit_no national_id owner_name mobile phone parcel_code address district kind area_m2 floors status "
              "issued_on expires_on",
    "payment": "payment_id national_id payer_name mobile phone address amount_rial kind reference paid_on status "
               "permit_no",
    "project": "project_code title agency_code district budget_rial spent_rial progress_pct status start_on end_on",
    "inter_agency_request": "request_id from_agency to_agency subject status opened_on due_on closed_on refers_to",
    "indicator": "indicator_code title agency_code period target_value measured_value unit",
}
PERSIAN = re.compile(r"[\u0600-\u06FF]")


def test_every_agreed_schema_is_listed():
    assert schemas.list_schemas() == sorted(FIELDS)


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_schema_has_agreed_fields_urn_id_and_persian_titles(name):
    schema = schemas.load_schema(name)
    assert schema["$id"] == f"urn:munihub:schema:{name}"
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert list(schema["properties"]) == FIELDS[name].split()
    assert schema["additionalProperties"] is False
    assert PERSIAN.search(schema["title"])
    for field, sub in schema["properties"].items():
        assert PERSIAN.search(sub.get("title", "")), f"{name}.{field} has no Persian title"
    text = json.dumps(schema)
    assert "http://" not in text and "https://" not in text.replace(schema["$schema"], "")


@pytest.mark.parametrize("engine", ["fast", "reference"])
@pytest.mark.parametrize("name", sorted(FIELDS))
def test_schema_example_is_valid(name, engine):
    example = schemas.load_schema(name)["examples"][0]
    assert compile_validator(name, engine=engine).errors(example) == []


@pytest.mark.parametrize("name", ["person", "agency", "permit"])
def test_address_is_shared_by_ref_and_checked_inside(name):
    schema = schemas.load_schema(name)
    assert schema["properties"]["address"]["$ref"] == "urn:munihub:schema:address"
    example = dict(schema["examples"][0], address={"city": "مشهد", "postal_code": "1111111111"})
    reasons = compile_validator(name).errors(example)
    assert [(r.pointer, r.rule) for r in reasons] == [("/address/postal_code", "format:ir-postal-code")]


def test_gender_enum_carries_persian_titles():
    gender = schemas.load_schema("person")["properties"]["gender"]
    assert gender["enum"] == ["male", "female"]
    assert gender["x-enum-titles"] == {"male": "مرد", "female": "زن"}


def test_load_schema_returns_a_private_copy():
    schemas.load_schema("person")["properties"].clear()
    assert "national_id" in schemas.load_schema("person")["properties"]


def _folder(tmp_path, **files):
    for name, body in files.items():
        (tmp_path / f"{name}.schema.json").write_text(body if isinstance(body, str) else json.dumps(body),
                                                      encoding="utf-8")
    schemas.clear_caches()
    return tmp_path


def _schema(name, **extra):
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": f"urn:munihub:schema:{name}",
            "type": "object", **extra}


def test_unknown_schema_names_the_known_ones():
    with pytest.raises(ConfigError) as err:
        schemas.load_schema("citizen")
    assert "unknown shared schema 'citizen'" in str(err.value)
    assert "person" in str(err.value) and "service_request" in str(err.value)


def test_path_like_names_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="unknown shared schema"):
        schemas.load_schema("../person")


def test_bad_json_reports_file_and_line(tmp_path):
    folder = _folder(tmp_path, broken='{\n  "$id": "urn:munihub:schema:broken",\n  "type": \n}\n')
    with pytest.raises(ConfigError) as err:
        schemas.load_schema("broken", folder)
    assert "broken.schema.json:4" in str(err.value) and "not valid JSON" in str(err.value)


def test_id_must_match_file_name(tmp_path):
    folder = _folder(tmp_path, thing=_schema("other"))
    with pytest.raises(ConfigError, match=r"schema thing has \$id 'urn:munihub:schema:other'"):
        schemas.load_schema("thing", folder)


def test_invalid_draft_2020_12_is_reported_with_pointer(tmp_path):
    folder = _folder(tmp_path, thing=_schema("thing", properties={"a": {"type": "text"}}))
    with pytest.raises(ConfigError, match="not a valid draft 2020-12 schema at /properties/a/type"):
        schemas.load_schema("thing", folder)


def test_unresolvable_ref_names_schema_and_ref(tmp_path):
    folder = _folder(tmp_path, a=_schema("a", properties={"b": {"$ref": "urn:munihub:schema:missing"}}))
    with pytest.raises(ConfigError) as err:
        schemas.load_schema("a", folder)
    assert "schema a: $ref 'urn:munihub:schema:missing' at /properties/b/$ref does not resolve" in str(err.value)


def test_web_refs_are_refused(tmp_path):
    folder = _folder(tmp_path, a=_schema("a", properties={"b": {"$ref": "https://example.org/x.json"}}))
    with pytest.raises(ConfigError, match="runs offline"):
        schemas.load_all(folder)


def test_ref_fragment_must_point_somewhere(tmp_path):
    folder = _folder(tmp_path, a=_schema("a", properties={"b": {"$ref": "#/$defs/nothing"}}))
    with pytest.raises(ConfigError, match="points at nothing"):
        schemas.load_all(folder)


def test_ref_cycle_is_reported(tmp_path):
    folder = _folder(tmp_path,
                     a=_schema("a", properties={"b": {"$ref": "urn:munihub:schema:b"}}),
                     b=_schema("b", properties={"a": {"$ref": "urn:munihub:schema:a"}}))
    with pytest.raises(ConfigError, match=r"\$ref cycle a → b → a"):
        schemas.load_schema("a", folder)


def test_env_var_chooses_the_folder(tmp_path, monkeypatch):
    folder = _folder(tmp_path, only=_schema("only", properties={"x": {"type": "string"}}))
    monkeypatch.setenv("MUNIHUB_SCHEMAS", str(folder))
    assert schemas.list_schemas() == ["only"]
    assert compile_validator("only").errors({"x": 1})[0].rule == "type"
    monkeypatch.delenv("MUNIHUB_SCHEMAS")
    assert "person" in schemas.list_schemas()


def test_local_refs_inside_one_schema_resolve(tmp_path):
    folder = _folder(tmp_path, a=_schema("a", **{"$defs": {"code": {"type": "string", "maxLength": 3}},
                                                 "properties": {"c": {"$ref": "#/$defs/code"}}}))
    for engine in ("fast", "reference"):
        v = compile_validator("a", engine=engine, schemas_dir=folder)
        assert [(r.pointer, r.rule) for r in v.errors({"c": "abcd"})] == [("/c", "maxLength")]


def test_every_schema_carrying_a_citizens_mobile_has_a_landline_too():
    """A caller's landline must have a place to land (issue 15: typed phones)."""
    carrying = [n for n in FIELDS if "mobile" in schemas.load_schema(n)["properties"]]
    assert sorted(carrying) == ["payment", "permit", "person", "service_request"]
    for name in carrying:
        assert schemas.load_schema(name)["properties"]["phone"]["format"] == "ir-phone", name


_LOAD_IN_A_FRESH_PROCESS = """
import sys
from munihub.contracts import schemas
from munihub.ingest.validate import compile_validator
schemas.load_all(sys.argv[1])
assert compile_validator("person", schemas_dir=sys.argv[1]).is_valid({"first_name": "علی"})
print(sorted(m for m in ("jsonschema", "alembic") if m in sys.modules))
"""


def test_a_checked_schema_is_not_checked_again_in_the_next_process(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "MUNIHUB_HOME": str(tmp_path / "home"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}

    def run() -> str:
        done = subprocess.run([sys.executable, "-c", _LOAD_IN_A_FRESH_PROCESS, str(root / "schemas")],
                              capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()
    assert run() == "['jsonschema']"  # first start: every schema checked with jsonschema
    assert run() == "[]"  # later starts: the check is remembered, jsonschema never imported


def test_a_schema_edited_after_its_check_is_checked_again(tmp_path, monkeypatch):
    monkeypatch.setenv("MUNIHUB_HOME", str(tmp_path / "home"))
    (tmp_path / "s").mkdir()
    folder = _folder(tmp_path / "s", thing=_schema("thing", properties={"a": {"type": "string"}}))
    assert schemas.load_schema("thing", folder)["properties"] == {"a": {"type": "string"}}
    assert len(list((tmp_path / "home" / "cache" / "checked-schemas").iterdir())) == 1
    _folder(folder, thing=_schema("thing", properties={"a": {"type": "text"}}))
    with pytest.raises(ConfigError, match="not a valid draft 2020-12 schema at /properties/a/type"):
        schemas.load_schema("thing", folder)
