"""Contract diff at every depth: each change kind on a top-level field, a nested field and an
array item's field, schema objects added/removed/renamed, and the peer tool's contract pairs
(read in place from ../shared/conformance) with verdicts decided by ODCS meaning."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from munihub.contracts.diff import diff_contracts, required_bump


def _field(name: str, **extra) -> dict:
    return {"name": name, "physicalName": f"src_{name}", "logicalType": "string", **extra}


def _holder() -> list[dict]:
    """The fields every location carries; each edit below targets `code`."""
    return [_field("code", required=False, unique=False,
                   logicalTypeOptions={"minLength": 2, "maxLength": 20, "pattern": "^[a-z]+$"},
                   customProperties=[{"property": "enum", "value": ["a", "b", "c"]}],
                   quality=[{"name": "few_nulls", "metric": "nullValues", "mustBeLessThan": 10}]),
            _field("amount", logicalType="integer", logicalTypeOptions={"minimum": 0, "exclusiveMaximum": 100}),
            _field("note", description="free text")]


BASE = {
    "apiVersion": "v3.1.0", "kind": "DataContract", "id": "t.depth", "version": "1.0.0", "status": "active",
    "schema": [{"name": "orders", "physicalName": "orders_tbl", "physicalType": "table", "properties": [
        *_holder(),
        {"name": "buyer", "logicalType": "object", "properties": _holder()},
        {"name": "lines", "logicalType": "array", "items": {"logicalType": "object", "properties": _holder()}},
    ]}],
}
# Where each location's fields live, and the path prefix the diff reports for them.
LOCATIONS = {
    "top": (lambda d: d["schema"][0]["properties"], "schema.orders"),
    "nested": (lambda d: d["schema"][0]["properties"][3]["properties"], "schema.orders.buyer"),
    "array": (lambda d: d["schema"][0]["properties"][4]["items"]["properties"], "schema.orders.lines[]"),
}


def _named(fields: list[dict], name: str) -> dict:
    return next(f for f in fields if f["name"] == name)


def _remove(fields, name):
    fields[:] = [f for f in fields if f["name"] != name]


def _opts(fields, name) -> dict:
    return _named(fields, name)["logicalTypeOptions"]


# edit, then every (kind, level, path under the location) the diff must report, and nothing else
EDITS = {
    "field removed": (lambda fs: _remove(fs, "note"), [("field-removed", "breaking", "note")]),
    "rename from physicalName": (lambda fs: _named(fs, "note").update(name="remark"),
                                 [("field-renamed", "breaking", "note")]),
    "rename from marker": (lambda fs: _named(fs, "note").update(
        name="remark", physicalName="other", customProperties=[{"property": "renamedFrom", "value": "note"}]),
        [("field-renamed", "breaking", "note"), ("source-changed", "info", "remark.physicalName")]),
    "no rename guessed": (lambda fs: (_remove(fs, "note"), fs.append({"name": "remark", "logicalType": "string"})),
                          [("field-removed", "breaking", "note"), ("field-added", "non-breaking", "remark")]),
    "optional field added": (lambda fs: fs.append(_field("extra")), [("field-added", "non-breaking", "extra")]),
    "required field added": (lambda fs: fs.append(_field("extra", required=True)),
                             [("required-field-added", "breaking", "extra")]),
    "type narrowed": (lambda fs: _named(fs, "note").update(logicalType="integer"),
                      [("type-narrowed", "breaking", "note.logicalType")]),
    "type widened": (lambda fs: _named(fs, "amount").update(logicalType="number"),
                     [("type-widened", "non-breaking", "amount.logicalType")]),
    "type dropped": (lambda fs: _named(fs, "note").pop("logicalType"),
                     [("type-loosened", "non-breaking", "note.logicalType")]),
    "made required": (lambda fs: _named(fs, "code").update(required=True),
                      [("made-required", "breaking", "code.required")]),
    "default dropped": (lambda fs: _named(fs, "code").pop("required") and None,  # required: false → absent
                        [("restated", "info", "code")]),
    "unique false → true": (lambda fs: _named(fs, "code").update(unique=True),
                            [("constraint-tightened", "breaking", "code.unique")]),
    "minLength raised": (lambda fs: _opts(fs, "code").update(minLength=3),
                         [("constraint-tightened", "breaking", "code.logicalTypeOptions.minLength")]),
    "maxLength lowered": (lambda fs: _opts(fs, "code").update(maxLength=10),
                          [("constraint-tightened", "breaking", "code.logicalTypeOptions.maxLength")]),
    "maxLength raised": (lambda fs: _opts(fs, "code").update(maxLength=30),
                         [("constraint-loosened", "non-breaking", "code.logicalTypeOptions.maxLength")]),
    "minimum raised": (lambda fs: _opts(fs, "amount").update(minimum=1),
                       [("constraint-tightened", "breaking", "amount.logicalTypeOptions.minimum")]),
    "exclusiveMinimum added": (lambda fs: _opts(fs, "amount").update(exclusiveMinimum=0),
                               [("constraint-tightened", "breaking", "amount.logicalTypeOptions.exclusiveMinimum")]),
    "exclusiveMaximum raised": (lambda fs: _opts(fs, "amount").update(exclusiveMaximum=1000),
                                [("constraint-loosened", "non-breaking", "amount.logicalTypeOptions.exclusiveMaximum")]),
    "pattern stricter": (lambda fs: _opts(fs, "code").update(pattern="^[a-z]{2}$"),
                         [("constraint-tightened", "breaking", "code.logicalTypeOptions.pattern")]),
    "pattern dropped": (lambda fs: _opts(fs, "code").pop("pattern"),
                        [("constraint-loosened", "non-breaking", "code.logicalTypeOptions.pattern")]),
    "allowed value removed": (lambda fs: _named(fs, "code")["customProperties"][0].update(value=["a", "b"]),
                              [("enum-removed", "breaking", "code.enum")]),
    "allowed value added": (lambda fs: _named(fs, "code")["customProperties"][0].update(value=["a", "b", "c", "d"]),
                            [("enum-added", "non-breaking", "code.enum")]),
    "quality rule tightened": (lambda fs: _named(fs, "code")["quality"][0].update(mustBeLessThan=5),
                               [("quality-tightened", "breaking", "code.quality.few_nulls")]),
    "quality rule loosened": (lambda fs: _named(fs, "code")["quality"][0].update(mustBeLessThan=50),
                              [("quality-loosened", "non-breaking", "code.quality.few_nulls")]),
    "quality rule added": (lambda fs: _named(fs, "note").update(quality=[{"metric": "nullValues", "mustBe": 0}]),
                           [("quality-added", "breaking", "note.quality.nullValues")]),
    "description changed": (lambda fs: _named(fs, "note").update(description="better words"),
                            [("docs", "info", "note")]),
}


@pytest.mark.parametrize("where", LOCATIONS)
@pytest.mark.parametrize("edit", EDITS)
def test_each_change_kind_at_each_depth(where, edit):
    fields_of, prefix = LOCATIONS[where]
    apply, expected = EDITS[edit]
    new = copy.deepcopy(BASE)
    apply(fields_of(new))
    found = sorted((c.kind, c.level, c.path) for c in diff_contracts(BASE, new))
    assert found == sorted((k, level, f"{prefix}.{p}") for k, level, p in expected)


def test_objects_added_removed_and_renamed_only_on_evidence():
    two = copy.deepcopy(BASE)
    two["schema"].append({"name": "customers", "physicalName": "cust", "properties": [_field("id")]})
    assert [(c.kind, c.level, c.path) for c in diff_contracts(BASE, two)] == \
        [("object-added", "non-breaking", "schema.customers")]
    assert [(c.kind, c.level, c.path) for c in diff_contracts(two, BASE)] == \
        [("object-removed", "breaking", "schema.customers")]
    renamed = copy.deepcopy(two)
    renamed["schema"][1]["name"] = "clients"  # same physicalName: the same table under a new name
    assert [(c.kind, c.level) for c in diff_contracts(two, renamed)] == [("object-renamed", "breaking")]
    other = copy.deepcopy(two)
    other["schema"][1].update(name="clients", physicalName="clients_tbl")
    assert sorted((c.kind, c.level) for c in diff_contracts(two, other)) == \
        [("object-added", "non-breaking"), ("object-removed", "breaking")]


def test_a_change_in_the_second_object_is_seen():
    two = copy.deepcopy(BASE)
    two["schema"].append({"name": "customers", "physicalName": "cust", "properties": [_field("id"), _field("tel")]})
    new = copy.deepcopy(two)
    new["schema"][1]["properties"].pop()
    assert [(c.kind, c.path) for c in diff_contracts(two, new)] == [("field-removed", "schema.customers.tel")]


def test_required_bump_follows_the_levels():
    new = copy.deepcopy(BASE)
    _named(new["schema"][0]["properties"], "note")["description"] = "x"
    assert required_bump(diff_contracts(BASE, new)) == "patch"
    new["schema"][0]["properties"].append(_field("extra"))
    assert required_bump(diff_contracts(BASE, new)) == "minor"
    _opts(new["schema"][0]["properties"], "code")["minLength"] = 5
    assert required_bump(diff_contracts(BASE, new)) == "major"


# ---------------------------------------------------------------- the peer tool's pairs

PEER = Path(__file__).resolve().parents[1].parent / "shared" / "conformance" / "contract-changelog"
B, N, I = "breaking", "non-breaking", "info"
# Verdicts by ODCS meaning (path, level), every change listed; where the peer tool disagrees:
# adding a pattern or a bound where none was tightens (it says "warning"), a logicalType added
# where no type was said narrows, a type-narrowing inside an array item breaks (it says nothing).
PEER_PAIRS = {
    ("odcs/changelog_unit_v1.yaml", "odcs/changelog_unit_v2.yaml"): [
        ("schema.customers", N), ("schema.orders.customer_id", B), ("schema.orders.region", N),
        ("schema.orders.order_id", I), ("schema.orders.order_date.logicalType", B),
        ("schema.orders.total_amount.required", B), ("schema.orders.total_amount.quality.positive", B),
        ("schema.orders.total_amount", I), ("schema.orders.quality.row_count", B), ("schema.orders", I),
        ("servers", I), ("slaProperties", N), ("customProperties.classification", I), ("description", I),
        ("domain", I), ("name", I), ("price", I), ("roles", I), ("status", I), ("support", I), ("team", I)],
    ("odcs/changelog_integration_v1.yaml", "odcs/changelog_integration_v2.yaml"): [
        ("schema.customers", N), ("schema.orders.customer_id", B), ("schema.orders.region", N),
        ("schema.orders.order_id", I), ("schema.orders.order_date.logicalType", B),
        ("schema.orders.total_amount.required", B), ("slaProperties", N)],
    ("odcs/warning_only_v1.yaml", "odcs/warning_only_v2.yaml"): [("schema.orders.region", N)],
    ("legacy-odcs/datacontract-fields-v1.odcs.yaml", "legacy-odcs/datacontract-fields-v2.odcs.yaml"): [
        ("schema.my_table.new_field", N), ("schema.my_table.field_required", I), ("schema.my_table.field_unique", I), ("schema.my_table.field_type.logicalType", B),
        ("schema.my_table.field_description", I), ("schema.my_table.field_pii", I),
        ("schema.my_table.field_classification.classification", N),
        *[(f"schema.my_table.field_{k}.logicalTypeOptions.{k}", B) for k in
          ("pattern", "minLength", "maxLength", "minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum")],
        ("schema.my_table.field_tags", I), ("schema.my_table.field_fields.new_nested_field", N),
        ("schema.my_table.field_custom_key", I)],
    ("legacy-odcs/datacontract-fields-v2.odcs.yaml", "legacy-odcs/datacontract-fields-v3.odcs.yaml"): [
        ("schema.my_table.field_type.logicalType", B), ("schema.my_table.field_required.required", B),
        ("schema.my_table.field_unique.unique", B), ("schema.my_table.field_description", I),
        ("schema.my_table.field_pii", I), ("schema.my_table.field_classification.classification", N),
        ("schema.my_table.field_pattern.logicalTypeOptions.pattern", B),
        ("schema.my_table.field_minLength.logicalTypeOptions.minLength", B),
        ("schema.my_table.field_maxLength.logicalTypeOptions.maxLength", N),
        ("schema.my_table.field_minimum.logicalTypeOptions.minimum", B),
        ("schema.my_table.field_exclusiveMinimum.logicalTypeOptions.exclusiveMinimum", B),
        ("schema.my_table.field_maximum.logicalTypeOptions.maximum", N),
        ("schema.my_table.field_exclusiveMaximum.logicalTypeOptions.exclusiveMaximum", N),
        ("schema.my_table.field_tags", I), ("schema.my_table.field_fields.nested_field_1.logicalType", B),
        ("schema.my_table.field_custom_key", I), ("schema.my_table.primaryKey", B),
        ("schema.my_table.field_primaryKey", I)],  # its primaryKeyPosition; being the key is the line above
    ("legacy-odcs/datacontract-fields-array-v1.odcs.yaml", "legacy-odcs/datacontract-fields-array-v2.odcs.yaml"): [
        ("schema.DataType.Records[].Field1", I),
        ("schema.DataType.Records[].Discount.IsAutomatic.classification", N),
        ("schema.DataType.Records[].Discount.IsAutomatic", I),
        ("schema.DataType.Records[].Discount.Conditions.Hierarchy.HasArticles.logicalType", B),
        ("schema.DataType.Records[].Discount.Conditions.Hierarchy.HasArticles", I)],
    ("legacy-odcs/datacontract-models-v1.odcs.yaml", "legacy-odcs/datacontract-models-v2.odcs.yaml"): [
        ("schema.my_table_2", N), ("schema.my_table.physicalType", I), ("schema.my_table", I)],
    ("legacy-odcs/datacontract-models-v2.odcs.yaml", "legacy-odcs/datacontract-models-v3.odcs.yaml"): [
        ("schema.my_table.physicalType", B), ("schema.my_table", I), ("schema.my_table_2", I)],
}


@pytest.mark.parametrize("pair", PEER_PAIRS, ids=lambda p: Path(p[1]).stem)
def test_peer_pairs_classified_by_odcs_meaning(pair):
    if not PEER.is_dir():
        pytest.skip("../shared/conformance is not beside the repository")
    old, new = (yaml.safe_load((PEER / name).read_text(encoding="utf-8")) for name in pair)
    found = sorted((c.path, c.level) for c in diff_contracts(old, new))
    assert found == sorted(PEER_PAIRS[pair])


def _leaves(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, path + (i,))
    else:
        yield path


def _at(doc, path):
    for token in path[:-1]:
        doc = doc[token]
    return doc, path[-1]


NO_CHANGE_UNREPORTED = ["odcs/changelog_unit_v2.yaml", "legacy-odcs/datacontract-fields-v3.odcs.yaml",
                        "legacy-odcs/datacontract-fields-array-v2.odcs.yaml"]


@pytest.mark.parametrize("name", NO_CHANGE_UNREPORTED)
def test_no_change_goes_unreported_anywhere_in_a_contract(name):
    """Every value changed and every key or list item deleted, one at a time: each is reported."""
    if not PEER.is_dir():
        pytest.skip("../shared/conformance is not beside the repository")
    doc = yaml.safe_load((PEER / name).read_text(encoding="utf-8"))
    missed = []
    for path in _leaves(doc):
        if path == ("version",):
            continue
        for edit in ("change", "delete"):
            new = copy.deepcopy(doc)
            parent, key = _at(new, path)
            if edit == "delete":
                del parent[key]
            else:
                value = parent[key]
                parent[key] = (not value) if isinstance(value, bool) else value + 7 if isinstance(
                    value, (int, float)) else f"{value}-x"
            if not diff_contracts(doc, new):
                missed.append((edit, path))
    assert missed == []


def test_fields_without_physical_names_are_never_paired_as_a_rename():
    old = {"schema": [{"name": "t", "properties": [{"name": "a"}, {"name": "b"}]}]}
    new = {"schema": [{"name": "t", "properties": [{"name": "a"}, {"name": "c"}]}]}
    assert sorted((c.kind, c.path) for c in diff_contracts(old, new)) == \
        [("field-added", "schema.t.c"), ("field-removed", "schema.t.b")]
