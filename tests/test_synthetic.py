"""The labelled Persian data generator: determinism, valid ids, documented noise, truth labels."""
from __future__ import annotations

import csv
import datetime as dt
import random
import re

import jdatetime
import pytest

from munihub.persian.ids import is_national_id
from munihub.testing import synthetic as syn


def reference_check(first9: str) -> str:
    # The rule as the national registry states it, written out independently of the module.
    total = sum(int(first9[i]) * (10 - i) for i in range(9))
    r = total % 11
    return str(r) if r < 2 else str(11 - r)


def squash(name: str) -> str:
    """Compare names ignoring letter forms and compound separators."""
    return name.translate(str.maketrans({"ي": "ی", "ك": "ک", "\u200c": None, " ": None}))


@pytest.fixture(scope="module")
def people():
    return syn.make_people(400, seed=11)


def test_same_seed_same_people_and_copies():
    assert syn.make_people(50, 3) == syn.make_people(50, 3)
    assert syn.make_people(50, 3) != syn.make_people(50, 4)
    p = syn.make_people(5, 3)[2]
    assert syn.noisy_copy(p, random.Random(9)) == syn.noisy_copy(p, random.Random(9))
    assert syn.make_requests(syn.make_people(30, 1), 5, 20) == syn.make_requests(syn.make_people(30, 1), 5, 20)


def test_true_identities_have_valid_unique_national_ids_and_mobiles(people):
    ids = [p.national_id for p in people]
    assert all(is_national_id(n) for n in ids)
    assert all(reference_check(n[:9]) == n[9] for n in ids)
    assert len(set(ids)) == len(ids)
    assert len({p.mobile for p in people}) == len(people)
    assert all(re.fullmatch(r"09\d{9}", p.mobile) and re.fullmatch(r"91\d{8}", p.postal_code) for p in people)
    assert sum(n.startswith("0") for n in ids) > len(ids) // 3   # Mashhad prefixes start with 0
    assert any("\u200c" in p.first_name for p in people)           # compound names occur


def test_known_national_ids():
    assert is_national_id("0084575948")
    assert not is_national_id("0084575949")
    assert not is_national_id("1111111111")     # all one digit is refused
    assert not is_national_id("084575948")


def test_jalali_matches_jdatetime():
    day = dt.date(1930, 1, 1)
    while day < dt.date(2030, 1, 1):
        j = jdatetime.date.fromgregorian(date=day)
        assert syn.jalali_of(day) == (j.year, j.month, j.day), day
        day += dt.timedelta(days=7)


def test_every_documented_noise_kind_occurs_and_shows(people):
    doc = syn.__doc__
    assert all(kind in doc for kind in syn.NOISE_RATES), "every noise kind is listed in the docstring"
    rng = random.Random(1)
    seen: dict[str, list] = {}
    for i in range(6000):
        person = people[i % len(people)]
        rec, kinds = syn.noisy_copy(person, rng, 1.0)
        assert not any(k.startswith("true_") for k in rec)
        for kind in kinds:
            seen.setdefault(kind, []).append((person, rec))
        if "name_swap" in kinds and "typo" not in kinds and "title" not in kinds:
            assert squash(rec["last_name"]) == squash(person.first_name)
    assert set(seen) == set(syn.NOISE_RATES)
    text_fields = ("first_name", "last_name", "father_name", "district", "street")
    for p, r in seen["arabic_letters"]:
        joined = "".join(r[k] or "" for k in text_fields)
        assert not re.search("[یک]", joined)
    assert any(re.search("[يك]", "".join(r[k] or "" for k in text_fields)) for _, r in seen["arabic_letters"])
    assert all(re.search("[۰-۹]", r["national_id"]) for _, r in seen["persian_digits"])
    assert all(re.search("[٠-٩]", r["national_id"]) for _, r in seen["arabic_indic_digits"])
    assert all(" " in r["first_name"] + r["last_name"] for _, r in seen["compound_space"])
    assert all("\u200c" not in r["first_name"] + r["last_name"] for _, r in seen["compound_joined"])
    assert all(r["birth_date"] is None or re.fullmatch(r"1[34][0-9]{2}-\d{1,2}-\d{1,2}|[۰-۹٠-٩-]+", r["birth_date"])
               for _, r in seen["date_jalali_dash"])
    assert all(r["birth_date"] is None or r["birth_date"].translate(str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "0123456789" * 2))
               == p.birth_date.isoformat() for p, r in seen["date_gregorian"])
    assert all(squash(r["first_name"].split()[0]) in syn.TITLES for _, r in seen["title"])
    assert all(None in r.values() for _, r in seen["missing_field"])
    assert all(len(r["national_id"]) < 10 and p.national_id.endswith(r["national_id"].translate(
        str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "0123456789" * 2))) for p, r in seen["nid_zeros_lost"])
    assert all(r["mobile"] is None or r["mobile"].startswith(("+98", "+۹۸", "+٩٨")) for _, r in seen["mobile_plus98"])
    assert all(r["mobile"] is None or r["mobile"].count(" ") == 2 for _, r in seen["mobile_spaced"])
    assert {r["gender"] for _, r in seen["gender_persian"]} <= {"مرد", "زن"}
    assert {r["gender"] for _, r in seen["gender_letter"]} <= {"M", "F"}


def test_typo_changes_one_name_by_one_letter(people):
    rng = random.Random(5)
    changed = 0
    for i in range(3000):
        p = people[i % len(people)]
        rec, kinds = syn.noisy_copy(p, rng, 1.0)
        if kinds == ["typo"]:
            diff = [(a, b) for a, b in ((rec["first_name"], p.first_name), (rec["last_name"], p.last_name)) if a != b]
            assert len(diff) <= 1
            if diff:
                a, b = diff[0]
                dropped = any(b[:k] + b[k + 1:] == a for k in range(len(b)))
                swapped = any(b[:k] + b[k + 1] + b[k] + b[k + 2:] == a for k in range(len(b) - 1))
                assert dropped or swapped, (a, b)
                changed += 1
    assert changed > 5


def test_zero_noise_is_a_clean_copy(people):
    p = people[0]
    rec, kinds = syn.noisy_copy(p, random.Random(0), 0.0)
    assert kinds == []
    assert (rec["national_id"], rec["first_name"], rec["last_name"], rec["mobile"], rec["gender"]) == \
        (p.national_id, p.first_name, p.last_name, p.mobile, p.gender)
    assert rec["birth_date"] == "{:04d}/{:02d}/{:02d}".format(*p.birth_jalali)


def test_hard_negatives_resemble_but_differ(people):
    negs = syn.make_hard_negatives(people, seed=11, n=30)
    by_id = {p.person_id: p for p in people}
    kinds = {n.negative_kind for n in negs}
    assert kinds == {"lookalike", "twin", "phone_reassigned"}
    all_ids = [p.national_id for p in people + negs]
    assert len(set(all_ids)) == len(all_ids) and all(is_national_id(n.national_id) for n in negs)
    for n in negs:
        base = by_id[n.resembles]
        assert n.person_id != base.person_id and n.national_id != base.national_id
        if n.negative_kind == "lookalike":
            assert (n.first_name, n.last_name, n.father_name) == (base.first_name, base.last_name, base.father_name)
            assert n.birth_date != base.birth_date
        elif n.negative_kind == "twin":
            assert (n.last_name, n.father_name, n.birth_date, n.street, n.plate, n.postal_code) == \
                (base.last_name, base.father_name, base.birth_date, base.street, base.plate, base.postal_code)
            assert n.first_name != base.first_name
        else:
            assert n.mobile == base.mobile


def test_requests_truth_follow_ups_and_renewals(people):
    window = 14
    reqs, truth = syn.make_requests(people, seed=3, cases=200, window_days=window)
    assert [r["tracking_code"] for r in reqs] == [t["tracking_code"] for t in truth]
    assert len({r["tracking_code"] for r in reqs}) == len(reqs)
    assert not any(k.startswith("true_") for r in reqs for k in r)
    by_code = {r["tracking_code"]: (r, t) for r, t in zip(reqs, truth)}
    cases: dict[str, list] = {}
    for r, t in zip(reqs, truth):
        cases.setdefault(t["true_request_id"], []).append((r, t))
    follow_ups = [t for t in truth if t["is_follow_up"]]
    assert len(follow_ups) > 30
    for items in cases.values():
        first_r, first_t = items[0]
        assert first_t["is_follow_up"] == 0
        start = dt.datetime.fromisoformat(first_r["filed_at"])
        for r, t in items[1:]:
            assert t["is_follow_up"] == 1 and t["true_person_id"] == first_t["true_person_id"]
            assert r["category"] == first_r["category"]
            assert dt.datetime.fromisoformat(r["filed_at"]) - start <= dt.timedelta(days=window)
    cited = [r for r in reqs if r["refers_to"]]
    assert cited and all(by_code[r["refers_to"]][1]["true_request_id"] == by_code[r["tracking_code"]][1]["true_request_id"]
                         for r in cited)
    assert any(c in r["description"] for r in reqs for c in ("کد رهگیری", "شماره", "عطف"))
    renewals = [k for k in cases if k.endswith("b")]
    assert renewals
    for k in renewals:
        new_r, new_t = cases[k][0]
        old_r, old_t = cases[k[:-1]][0]
        assert new_t["true_person_id"] == old_t["true_person_id"] and new_r["category"] == old_r["category"]
        assert dt.datetime.fromisoformat(new_r["filed_at"]) - dt.datetime.fromisoformat(old_r["filed_at"]) \
            > dt.timedelta(days=window)


def test_spoiled_records_are_invalid(people):
    rng = random.Random(2)
    rec, _ = syn.noisy_copy(people[0], rng, 0.0)
    assert not is_national_id(syn.spoil(rec, "bad_check_digit", rng)["national_id"])
    y, m, d = map(int, syn.spoil(rec, "bad_jalali_date", rng)["birth_date"].split("/"))
    with pytest.raises(ValueError):
        jdatetime.date(y, m, d)
    assert syn.spoil(rec, "missing_required", rng)["national_id"] is None
    assert rec["national_id"] == people[0].national_id        # the original is untouched
    with pytest.raises(ValueError):
        syn.spoil(rec, "nonsense", rng)


def test_write_truth_csv_round_trips(tmp_path, people):
    rows = [syn.person_truth("registry.citizens", p.national_id, p, ["typo"]) for p in people[:5]]
    rows.append({"source": "x", "extra": "ستون"})
    path = syn.write_truth_csv(tmp_path / "t" / "truth.csv", rows)
    with path.open(encoding="utf-8", newline="") as fh:
        back = list(csv.DictReader(fh))
    assert len(back) == 6 and back[0]["true_person_id"] == people[0].person_id
    assert back[-1]["extra"] == "ستون" and back[0]["extra"] == ""


# ---------------------------------------------------------------- export shapes (issue 15)

def test_export_shapes_write_every_name_form_and_phone_kind_as_labelled():
    import random

    from munihub.testing import phenomena, synthetic as syn

    people = syn.make_people(60, 3)
    rng = random.Random(3)
    seyyed = next(p for p in people if phenomena.is_seyyed(p) and p.gender == "male")
    plain = next(p for p in people if not phenomena.is_seyyed(p) and p.gender == "male")
    first, last = plain.first_name, plain.last_name
    assert phenomena.one_field_name(plain, rng, "name_plain") == (f"{first} {last}", "name_plain")
    assert phenomena.one_field_name(plain, rng, "name_surname_first") == (f"{last} {first}", "name_surname_first")
    assert phenomena.one_field_name(plain, rng, "name_comma")[0].replace(" ", "") in {f"{last}،{first}", f"{last},{first}"}
    assert phenomena.one_field_name(plain, rng, "name_father")[0] == f"{first} {last} فرزند {plain.father_name}"
    titled = phenomena.one_field_name(plain, rng, "title_surname_only")[0]
    assert titled.endswith(last) and first not in titled.split()
    assert phenomena.one_field_name(plain, rng, "placeholder")[0] in phenomena.PLACEHOLDERS
    assert phenomena.one_field_name(seyyed, rng, "seyyed_joined")[0] == f"سید{seyyed.first_name} {seyyed.last_name}"
    assert phenomena.one_field_name(plain, rng, "seyyed_joined")[1] == "name_plain"  # only seyyeds write it
    local = phenomena.landline_of(plain)
    assert len(local) == 8 and local[0] == "3" and phenomena.landline_of(plain) == local  # fixed per person
    assert phenomena.caller_phone(plain, rng, "mobile") == (plain.mobile, "mobile")
    landline, _ = phenomena.caller_phone(plain, rng, "landline")
    assert "".join(c for c in landline if c.isdigit()).endswith(local)
    assert phenomena.caller_phone(plain, rng, "short_local")[0].replace(" ", "") == local
    assert phenomena.caller_phone(plain, rng, "no_phone") == (None, "no_phone")
    drawn = {phenomena.one_field_name(p, rng)[1] for p in people * 10}
    assert {"name_plain", "name_title", "placeholder", "seyyed_joined", "title_surname_only"} <= drawn
