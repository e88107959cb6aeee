"""The second generator: five export shapes of one city's households, with truth."""
from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict

import pytest

from munihub.persian.ids import is_national_id
from munihub.testing import exports


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    out = tmp_path_factory.mktemp("exports")
    counts = exports.generate(out, households=400, seed=7)
    truth = list(csv.DictReader((out / "truth_persons.csv").open(encoding="utf-8")))
    groups = list(csv.DictReader((out / "truth_requests.csv").open(encoding="utf-8")))
    return out, counts, truth, groups


def _records(out):
    rows = {"registry": list(csv.DictReader((out / "registry.csv").open(encoding="utf-8"))),
            "hotline": json.loads((out / "hotline.json").read_text("utf-8")),
            "payments": list(csv.DictReader((out / "payments.csv").open(encoding="utf-8"))),
            "permits": list(csv.DictReader((out / "permits.csv").open(encoding="utf-8"))),
            "licences": json.loads((out / "licences.json").read_text("utf-8"))}
    ids = {"registry": "شناسه", "hotline": "tracking_code", "payments": "payment_id", "permits": "permit_no",
           "licences": "licence_no"}
    return {(s, r[ids[s]]) for s, rs in rows.items() for r in rs}, rows


def test_every_record_has_exactly_one_truth_row(city):
    out, counts, truth, _ = city
    records, _ = _records(out)
    labelled = [(t["source"], t["record_id"]) for t in truth]
    assert len(labelled) == len(set(labelled)) == len(records)
    assert set(labelled) == records


def test_same_seed_same_city_and_another_seed_another(tmp_path, city):
    out, counts, _, _ = city
    again = exports.generate(tmp_path / "again", households=400, seed=7)
    assert again == counts
    assert (tmp_path / "again" / "hotline.json").read_bytes() == (out / "hotline.json").read_bytes()
    exports.generate(tmp_path / "other", households=400, seed=8)
    assert (tmp_path / "other" / "hotline.json").read_bytes() != (out / "hotline.json").read_bytes()


def test_the_phenomena_a_real_city_shows_are_all_there(city):
    _, _, truth, groups = city
    seen = Counter(label for t in truth for label in t["phenomena"].split(";") if label)
    for label in ("reregistration", "zeros_lost", "placeholder", "title_surname_only", "surname_first", "farzand",
                  "title", "compound_half", "household_mobile", "landline", "no_phone", "nid_one_digit",
                  "followup", "generic_followup", "quoted_code", "renewal"):
        assert seen[label] > 0, label
    traps = Counter(label for g in groups for label in g["phenomena"].split(";") if label)
    assert traps["late_repeat"] > 0 and traps["other_citizen_same_place"] > 0


def test_ids_are_valid_except_the_mistyped_and_households_share_a_home(city):
    out, _, truth, _ = city
    _, rows = _records(out)
    by_record = {(t["source"], t["record_id"]): t for t in truth}
    for r in rows["licences"]:
        assert is_national_id(r["holder_national_id"])
    for r in rows["registry"]:
        nid = r["کد_ملی"].translate(str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")).zfill(10)
        assert is_national_id(nid)
    mistyped = [r for r in rows["hotline"] if "nid_one_digit" in by_record["hotline", r["tracking_code"]]["phenomena"]]
    assert mistyped and all(r["national_id"] for r in mistyped)
    # Re-registrations are two records of one person; twins and spouses are different people at one address.
    people_at = defaultdict(set)
    for r in rows["registry"]:
        people_at[r["نشانی"].replace(" (نشانی جدید)", "")].add(by_record["registry", r["شناسه"]]["person_id"])
    assert max(len(p) for p in people_at.values()) >= 3


def test_a_follow_up_shares_its_group_and_a_late_repeat_does_not(city):
    _, _, _, groups = city
    by_group = defaultdict(list)
    for g in groups:
        by_group[g["request_group"]].append(g["phenomena"])
    assert any(len(v) > 1 and any("followup" in p for p in v) for v in by_group.values())
    late = [k for k, v in by_group.items() if any("late_repeat" in p for p in v)]
    assert late and all(k.endswith("-late") and len(by_group[k]) == 1 for k in late)
