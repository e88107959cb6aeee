"""Survivorship: trust, validity, recency, most frequent name, titles; lineage to ref + load."""
from __future__ import annotations

from munihub.resolve.golden import golden_record
from munihub.persian.ids import national_id_check_digit


def nid(first9: str) -> str:
    """A national id with a valid check digit: the package's one implementation."""
    return first9 + str(national_id_check_digit(first9))


GOOD = nid("092345678")
BAD = GOOD[:9] + str((int(GOOD[9]) + 1) % 10)


def member(ref, trust, updated_at, load_id, **fields):
    return {"ref": ref, "trust": trust, "updated_at": updated_at, "load_id": load_id,
            "fields": fields}


MEMBERS = [
    member("registry|1", 9, "2023-01-01T00:00:00", 11, national_id=BAD, first_name="علی",
           last_name="رضایی", birth_date="1980-03-21", mobile="+989151111111", title="سید"),
    member("permits|7", 3, "2024-06-01T00:00:00", 22, national_id=GOOD, first_name="علی",
           last_name="رضائی", birth_date="1980-03-12", mobile="+989152222222",
           address={"city": "مشهد", "street": "بلوار سجاد"}, title="مهندس"),
    member("137|c", 1, "2025-02-02T00:00:00", 33, first_name="علی", last_name="رضایی",
           mobile="0915", address={"city": "مشهد", "street": "بلوار وکیل‌آباد"}, title="سید"),
]


def test_valid_national_id_beats_higher_trust():
    golden, lineage = golden_record("person", MEMBERS)
    assert golden["national_id"] == GOOD
    assert lineage["national_id"] == {"ref": "permits|7", "load_id": 22, "value": GOOD,
                                      "rule": "valid"}


def test_trust_wins_for_birth_date():
    golden, lineage = golden_record("person", MEMBERS)
    assert golden["birth_date"] == "1980-03-21" and lineage["birth_date"]["ref"] == "registry|1"


def test_recency_wins_for_address_as_one_object():
    golden, lineage = golden_record("person", MEMBERS)
    assert golden["address"] == {"city": "مشهد", "street": "بلوار وکیل‌آباد"}
    assert lineage["address"]["load_id"] == 33 and lineage["address"]["rule"] == "recent"


def test_most_frequent_name_spelling_then_trust():
    golden, lineage = golden_record("person", MEMBERS)
    assert golden["last_name"] == "رضایی"  # two of three members
    assert lineage["last_name"]["ref"] == "registry|1"  # the trusted one of the two


def test_invalid_mobile_loses_to_valid_even_if_newer():
    golden, _ = golden_record("person", MEMBERS)
    assert golden["mobile"] == "+989151111111"


def test_titles_are_collected_not_chosen():
    golden, lineage = golden_record("person", MEMBERS)
    assert golden["title"] == ["سید", "مهندس"]
    assert lineage["title"]["refs"] == ["137|c", "permits|7", "registry|1"]


def test_rules_override_and_every_value_traces_back():
    golden, lineage = golden_record("person", MEMBERS, {"birth_date": "recent"})
    assert golden["birth_date"] == "1980-03-12"
    refs = {m["ref"]: m for m in MEMBERS}
    for field, line in lineage.items():
        if line["rule"] != "collect":
            source = refs[line["ref"]]
            assert source["fields"][field] == golden[field] == line["value"]
            assert source["load_id"] == line["load_id"]


def test_result_does_not_depend_on_member_order():
    assert golden_record("person", MEMBERS) == golden_record("person", MEMBERS[::-1])


def test_unknown_type_falls_back_to_trust():
    golden, lineage = golden_record("project", [member("a|1", 1, "2024", 1, title="x"),
                                                member("b|1", 5, "2020", 2, title="y")])
    assert golden == {"title": "y"} and lineage["title"]["rule"] == "trust"
