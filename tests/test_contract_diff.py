"""Contract diff: one test per change kind, rename detection, bump computation, the CLI's exit code."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from munihub.cli.main import main
from munihub.contracts.diff import actual_bump, bump_verdict, diff_contracts, required_bump

BASE_PATH = Path(__file__).parent / "data" / "contracts" / "base.yaml"
BASE = yaml.safe_load(BASE_PATH.read_text(encoding="utf-8"))


def edited(**changes) -> dict:
    doc = copy.deepcopy(BASE)
    for key, value in changes.items():
        doc[key] = value
    return doc


def prop(doc: dict, name: str) -> dict:
    return next(p for p in doc["schema"][0]["properties"] if p["name"] == name)


def custom(items: list, name: str) -> dict:
    return next(c for c in items if c["property"] == name)


def kinds(old, new) -> dict[str, bool]:
    return {c.kind: c.breaking for c in diff_contracts(old, new)}


def test_identical_contracts_have_no_change_and_need_no_bump():
    assert diff_contracts(BASE, copy.deepcopy(BASE)) == []
    assert required_bump([]) is None
    assert bump_verdict(BASE, BASE)["sufficient"] is True


def test_field_removed_is_breaking():
    new = edited()
    new["schema"][0]["properties"] = [p for p in new["schema"][0]["properties"] if p["name"] != "reference"]
    changes = diff_contracts(BASE, new)
    assert [(c.kind, c.path, c.breaking) for c in changes] == [("field-removed", "schema.payments.reference", True)]


def test_removed_plus_added_from_the_same_source_is_a_rename():
    new = edited()
    prop(new, "reference")["name"] = "bank_reference"
    changes = diff_contracts(BASE, new)
    assert len(changes) == 1
    assert changes[0].kind == "field-renamed" and changes[0].breaking
    assert "bank_reference" in changes[0].change


def test_removed_plus_added_from_another_source_is_not_a_rename():
    new = edited()
    p = prop(new, "reference")
    p["name"], p["physicalName"] = "kind", "noe"
    assert kinds(BASE, new) == {"field-removed": True, "field-added": False}


def test_type_narrowed_is_breaking_and_widened_is_not():
    new = edited()
    prop(new, "reference")["logicalType"] = "integer"
    assert kinds(BASE, new) == {"type-narrowed": True}
    wide = edited()
    prop(wide, "amount_rial")["logicalType"] = "number"
    assert kinds(BASE, wide) == {"type-widened": False}
    assert kinds(wide, BASE) == {"type-narrowed": True}


def test_field_made_required_is_breaking_and_optional_is_not():
    new = edited()
    prop(new, "reference")["required"] = True
    assert kinds(BASE, new) == {"made-required": True}
    assert kinds(new, BASE) == {"made-optional": False}


def test_enum_value_removed_is_breaking_and_added_is_minor():
    new = edited()
    custom(prop(new, "status")["customProperties"], "enum")["value"] = ["paid", "failed"]
    assert kinds(BASE, new) == {"enum-removed": True}
    more = edited()
    custom(prop(more, "status")["customProperties"], "enum")["value"] = ["paid", "failed", "refunded", "pending"]
    changes = diff_contracts(BASE, more)
    assert [(c.kind, c.breaking, c.bump) for c in changes] == [("enum-added", False, "minor")]
    assert "pending" in changes[0].change


def test_value_map_target_removed_is_breaking_and_new_target_is_minor():
    gone = edited()
    custom(prop(gone, "status")["customProperties"], "valueMap")["value"] = {"موفق": "paid", "ناموفق": "failed"}
    found = kinds(BASE, gone)
    assert found["enum-removed"] is True and found["format-tightened"] is True
    grown = edited()
    custom(prop(grown, "status")["customProperties"], "valueMap")["value"] = \
        {"موفق": "paid", "ناموفق": "failed", "برگشتی": "refunded", "در انتظار": "pending"}
    assert kinds(BASE, grown) == {"enum-added": False}


def test_primary_key_changed_is_breaking():
    new = edited()
    prop(new, "reference").update(primaryKey=True, primaryKeyPosition=2)
    changes = diff_contracts(BASE, new)
    key = [c for c in changes if c.kind == "key-changed"]
    assert key and key[0].breaking and "payment_id+reference" in key[0].change


def test_transform_to_a_stricter_format_is_breaking_and_to_free_text_is_not():
    new = edited()
    prop(new, "reference")["transformLogic"] = "digits"
    assert kinds(BASE, new) == {"format-tightened": True}
    loose = edited()
    prop(loose, "national_id")["transformLogic"] = "text"
    assert kinds(BASE, loose) == {"format-loosened": False}


def test_quality_threshold_lowered_or_severity_raised_to_error_is_breaking():
    lower = edited()
    prop(lower, "national_id")["quality"][0]["mustBeLessOrEqualTo"] = 5
    assert kinds(BASE, lower) == {"quality-tightened": True}
    assert kinds(lower, BASE) == {"quality-loosened": False}
    severe = edited()
    prop(severe, "status")["quality"][0]["severity"] = "error"
    changes = diff_contracts(BASE, severe)
    assert [(c.kind, c.breaking) for c in changes] == [("quality-tightened", True)]
    assert "warning → error" in changes[0].change


def test_a_stricter_warning_rule_breaks_no_load():
    new = edited()
    prop(new, "status")["quality"][0]["mustBeLessOrEqualTo"] = 1
    assert kinds(BASE, new) == {"quality-tightened-warning": False}


def test_dataset_rule_raised_is_breaking():
    new = edited()
    new["schema"][0]["quality"][0]["mustBeGreaterThan"] = 100
    changes = diff_contracts(BASE, new)
    assert [(c.kind, c.path, c.breaking) for c in changes] == [("quality-tightened", "schema.payments.quality.rowCount", True)]


def test_writing_out_the_reader_and_class_the_hub_already_gave_is_a_restatement():
    """A property without transformLogic or classification is read by its shared-schema field
    (`schemas.field_defaults`): spelling that out, or dropping it, changes nothing the hub does;
    a reader other than the default is still a change."""
    bare = copy.deepcopy(BASE)
    for name in ("national_id", "paid_on", "payer_name"):
        for key in ("transformLogic", "classification"):
            prop(bare, name).pop(key, None)
    assert {c.kind for c in diff_contracts(bare, BASE)} == {"restated"}
    assert {c.kind for c in diff_contracts(BASE, bare)} == {"restated"}
    other = copy.deepcopy(bare)
    prop(other, "national_id")["transformLogic"] = "text"
    assert kinds(bare, other) == {"format-loosened": False}
    # a date-time reader on a date field is read as the field's date (`schemas.fitted`): the
    # same as naming none
    fitted = copy.deepcopy(bare)
    prop(fitted, "paid_on")["transformLogic"] = "datetime"
    assert {c.kind for c in diff_contracts(bare, fitted)} == {"restated"}


def test_transform_parameter_added_is_non_breaking_changed_is_breaking():
    # `date` → `date:13` reads two-digit years the bare transform set aside; every value read
    # before reads the same.  Another century changes values already published.
    base = edited()
    prop(base, "paid_on")["transformLogic"] = "date"
    added = edited()
    prop(added, "paid_on")["transformLogic"] = "date:13"
    assert kinds(base, added) == {"format-loosened": False}
    moved = edited()
    prop(moved, "paid_on")["transformLogic"] = "date:14"
    assert kinds(added, moved) == {"format-tightened": True}
    assert kinds(added, base) == {"format-tightened": True}


def test_record_id_named_or_changed_is_breaking():
    # every published row's identity moves with it (the store rekeys them at the next sync)
    named = edited()
    named["schema"][0]["customProperties"].append({"property": "recordId", "value": "payment_id"})
    assert kinds(BASE, named) == {"record-id-changed": True}
    both = edited()
    both["schema"][0]["customProperties"].append({"property": "recordId", "value": ["payment_id", "status"]})
    assert kinds(named, both) == {"record-id-changed": True}
    same = edited()  # one field as a string or as a list of one is the same identity
    same["schema"][0]["customProperties"].append({"property": "recordId", "value": ["payment_id"]})
    assert not any(c.breaking for c in diff_contracts(named, same))


def test_shared_schema_changed_is_breaking():
    new = edited()
    new["schema"][0]["customProperties"][0]["value"] = "permit"
    assert kinds(BASE, new) == {"shared-schema-changed": True}


def test_server_and_connector_changes_are_listed_but_not_breaking():
    new = edited()
    custom(new["servers"][0]["customProperties"], "table")["value"] = "payments_v2"
    changes = diff_contracts(BASE, new)
    assert [(c.kind, c.breaking, c.bump) for c in changes] == [("server-changed", False, "patch")]
    rest = edited()
    custom(rest["servers"][0]["customProperties"], "connector")["value"] = "rest"
    assert kinds(BASE, rest) == {"connector-changed": False}


def test_optional_field_added_is_minor_and_required_field_added_is_breaking():
    new = edited()
    new["schema"][0]["properties"].append({"name": "kind", "physicalName": "noe", "logicalType": "string"})
    changes = diff_contracts(BASE, new)
    assert [(c.kind, c.breaking, c.bump) for c in changes] == [("field-added", False, "minor")]
    req = edited()
    req["schema"][0]["properties"].append({"name": "kind", "physicalName": "noe", "required": True})
    assert kinds(BASE, req) == {"required-field-added": True}


def test_description_change_is_a_patch():
    new = edited(description={"purpose": "پرداخت‌ها، با توضیح بهتر"})
    prop(new, "reference")["description"] = "bank reference number"
    changes = diff_contracts(BASE, new)
    assert {c.kind for c in changes} == {"docs"} and {c.level for c in changes} == {"info"}
    assert not any(c.breaking for c in changes) and required_bump(changes) == "patch"


def test_freshness_loosened_is_not_breaking():
    new = edited(slaProperties=[{"property": "freshness", "value": 7, "unit": "d"}])
    changes = diff_contracts(BASE, new)
    assert [(c.kind, c.breaking, c.bump) for c in changes] == [("freshness-loosened", False, "minor")]
    assert "24h → 168h" in changes[0].change


def test_required_bump_is_the_largest_change():
    new = edited(description={"purpose": "x"})
    new["schema"][0]["properties"].append({"name": "kind", "physicalName": "noe"})
    assert required_bump(diff_contracts(BASE, new)) == "minor"
    prop(new, "reference")["logicalType"] = "integer"
    assert required_bump(diff_contracts(BASE, new)) == "major"


@pytest.mark.parametrize("old,new,bump", [("1.2.3", "2.0.0", "major"), ("1.2.3", "1.3.0", "minor"),
                                          ("1.2.3", "1.2.4", "patch"), ("1.2.3", "1.2.3", None),
                                          ("1.2.3", "1.1.9", "downgrade"), ("1.2.3", "next", "invalid"),
                                          ("1.2.3", "1.10.0", "minor")])
def test_actual_bump_compares_semver_numerically(old, new, bump):
    assert actual_bump(old, new) == bump


def test_verdict_says_whether_the_new_version_is_enough():
    new = edited(version="1.3.0")
    prop(new, "reference")["required"] = True
    verdict = bump_verdict(BASE, new)
    assert verdict["required"] == "major" and verdict["actual"] == "minor" and not verdict["sufficient"]
    new["version"] = "2.0.0"
    assert bump_verdict(BASE, new)["sufficient"]


def _write(tmp_path, doc, name) -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return p


def test_cli_diff_exits_1_when_the_bump_is_insufficient(tmp_path, capsys):
    new = edited(version="1.2.4")
    prop(new, "reference")["logicalType"] = "integer"
    code = main(["contracts", "diff", str(BASE_PATH), str(_write(tmp_path, new, "new.yaml"))])
    out = capsys.readouterr().out
    assert code == 1
    assert "type-narrowed" in out and "breaking" in out and "schema.payments.reference.logicalType" in out
    assert "1 breaking, 0 non-breaking, 0 info; required bump: major" in out and "NOT enough" in out


def test_cli_diff_json_and_a_sufficient_bump_exits_0(tmp_path, capsys):
    new = edited(version="1.3.0")
    new["schema"][0]["properties"].append({"name": "kind", "physicalName": "noe"})
    code = main(["contracts", "diff", str(BASE_PATH), str(_write(tmp_path, new, "new.yaml")), "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["sufficient"] and data["required"] == "minor"
    assert data["changes"] == [{"kind": "field-added", "path": "schema.payments.kind", "change": "new optional field",
                                "level": "non-breaking", "breaking": False, "bump": "minor"}]
