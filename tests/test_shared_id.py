"""One valid national id, two people: a child's record carrying a parent's id (another first
name beside another birth date, gender or a father named as the parent) is refused by the
exact rule on both paths and kept out of the parent's entity by clustering; a renamed person
and a birth-date typo under one id stay one person (found by bench_blind4: nid:parent_on_child)."""
from __future__ import annotations

import pytest

from munihub.persian.ids import national_id_check_digit
from munihub.resolve import clustering, components, match, vectorized
from munihub.resolve.conflicts import clearly_two, conflict_of
from munihub.resolve.explain import explain_features
from munihub.resolve.match import Pair, features, find_matches, settings_for


def _nid(first9: str) -> str:
    return first9 + str(national_id_check_digit(first9))


FATHER, RENAMED, TYPO = _nid("320331371"), _nid("542013546"), _nid("669205052")


def rec(ref: str, **fields) -> dict:
    return {"ref": ref, "source": ref.split("|")[0], "entity_type": "person", "trust": 1,
            "updated_at": "2024-01-01", "fields": fields}


def people() -> list[dict]:
    return [
        rec("tax|1", national_id=FATHER, first_name="مهدی", last_name="امیری", birth_date="1971-03-21",
            gender="male", mobile="+989151446187"),
        rec("portal|1", national_id=FATHER, first_name="پویا", last_name="امیری", birth_date="2001-05-05",
            gender="male", mobile="+989365708774"),
        rec("culture|1", national_id=FATHER, first_name="زهرا", last_name="امیری", gender="female"),
        rec("culture|2", national_id=FATHER, first_name="علی", last_name="امیری", father_name="مهدی"),
        # one woman renamed (کبری -> کیمیا), one birth date; one man with a birth date far off
        rec("registry|1", national_id=RENAMED, first_name="کبری", last_name="نوری", birth_date="1980-02-02"),
        rec("portal|2", national_id=RENAMED, first_name="کیمیا", last_name="نوری", birth_date="1980-02-02"),
        rec("registry|2", national_id=TYPO, first_name="حسن", last_name="طوسی", birth_date="1960-01-05"),
        rec("portal|3", national_id=TYPO, first_name="حسن", last_name="طوسی", birth_date="1975-08-20"),
    ]


def _exact(pairs) -> set[tuple[str, str]]:
    return {(p.left_ref, p.right_ref) for p in pairs if p.rule == "exact:national_id"}


def test_a_childs_record_under_a_parents_id_is_refused_on_both_paths():
    records = people()
    pairs = find_matches(records)
    exact = _exact(pairs)
    for child in ("portal|1", "culture|1", "culture|2"):  # another birth date, gender, a father named
        assert (child, "tax|1") not in exact and ("tax|1", child) not in exact
        assert not any({p.left_ref, p.right_ref} == {child, "tax|1"} for p in pairs)  # nor scored
    assert ("portal|2", "registry|1") in exact  # renamed, one birth date
    assert ("portal|3", "registry|2") in exact  # one name, a birth date typed wrong
    slot = match.build_index(records)["person"]
    conf = settings_for("person")
    want = match.match_index(slot, conf)
    assert vectorized.match_index(vectorized.build_index(records, "person"), conf) == want
    assert vectorized.match_index(slot, conf) == want


def test_clearly_two_needs_the_first_name_and_more():
    conf = settings_for("person")
    f = lambda **kw: features(rec("x|1", national_id=FATHER, **kw))  # noqa: E731
    assert clearly_two(f(first_name="مهدی", birth_date="1971-03-21"), f(first_name="پویا", birth_date="2001-05-05"), conf)
    assert clearly_two(f(first_name="مهدی"), f(first_name="زهرا"), conf)  # genders from the names
    assert not clearly_two(f(first_name="مهدی"), f(first_name="پویا"), conf)  # a first name alone
    assert not clearly_two(f(first_name="غلامرضا", birth_date="1971-03-21"), f(first_name="رضا", birth_date="1971-03-21"), conf)
    assert not clearly_two(f(first_name="مهدی", birth_date="1971-03-21"), f(first_name="مهدي", birth_date="2001-05-05"), conf)
    assert not clearly_two(f(first_name="محمدرضا", gender="male"), f(first_name="رضا", gender="male"), conf)
    # another first name and another surname: a daughter «شهلا کلاته» under her mother «خانم موسوی»'s
    # id (a wife keeps her surname); a surname typo or a first name alone is still one person
    assert clearly_two(f(first_name="مریم", last_name="موسوی"), f(first_name="شهلا", last_name="کلاته"), conf)
    assert not clearly_two(f(first_name="مریم", last_name="موسوی"), f(first_name="شهلا", last_name="موسوي"), conf)
    assert not clearly_two(f(first_name="کبری", last_name="نوری"), f(first_name="کیمیا", last_name="نوری"), conf)
    # «محمدرضا فرزند رضا» and a registry's «رضا», son of رضا: محمدرضا giving half his name, not his father
    son = f(first_name="محمدرضا", father_name="رضا")
    assert not clearly_two(son, f(first_name="رضا", father_name="رضا", birth_date="1953-01-11"), conf)
    assert clearly_two(son, f(first_name="رضا", father_name="کاظم", birth_date="1953-01-11"), conf)


def test_explain_says_why_one_id_is_refused():
    conf = settings_for("person")
    by = {r["ref"]: features(r) for r in people()}
    out = explain_features(by["tax|1"], by["portal|1"], conf)
    assert out["rule"] == "one valid national_id, two people (first_key and birth_date differ): never a match"
    assert out["probability"] == 0.0
    assert "father_key names the other" in explain_features(by["tax|1"], by["culture|2"], conf)["rule"]
    assert explain_features(by["registry|1"], by["portal|2"], conf)["rule"] == "exact:national_id"


def _family() -> tuple[list[dict], list[Pair]]:
    """The father's registry row, tax row and 137 call (the id, no first name), the son's
    licence with the father's id (no birth date) and the son's own portal account (no id),
    linked to the licence by name and mobile."""
    records = [rec("registry|1", national_id=FATHER, first_name="مهدی", last_name="امیری", birth_date="1971-03-21"),
               rec("tax|1", national_id=FATHER, first_name="مهدی", last_name="امیری"),
               rec("zz137|1", national_id=FATHER, last_name="امیری"),
               rec("licence|1", national_id=FATHER, first_name="پویا", last_name="امیری", mobile="+989365708774"),
               rec("portal|9", first_name="پویا", last_name="امیری", birth_date="2001-05-05", mobile="+989365708774")]
    pairs = find_matches(records)
    pairs = [p for p in pairs if p.rule.startswith("exact:")] + [Pair("licence|1", "portal|9", 0.97, "fellegi-sunter")]
    return records, sorted(pairs)


@pytest.mark.parametrize("path", ["clustering", "components"])
def test_no_id_link_chains_a_child_into_the_parents_entity(path):
    records, pairs = _family()
    assert ("licence|1", "registry|1") in _exact(pairs)  # the pair alone cannot tell them apart
    refs = [r["ref"] for r in records]
    conf = settings_for("person")
    slot = vectorized.build_index(records, "person")
    for test in (conflict_of({r: features(x) for r, x in zip(refs, records)}, conf), conflict_of(slot["features"], conf)):
        run = clustering.cluster if path == "clustering" else components.cluster
        got = run(refs, pairs, conf["match"], (), test)
        assert got["licence|1"] == got["portal|9"] != got["registry|1"]  # the son with his own account
        assert got["zz137|1"] == got["registry|1"] == got["tax|1"]  # the call with the father's records


def test_a_renamed_persons_parts_still_join_by_the_id():
    conf = settings_for("person")
    records = [rec("registry|1", national_id=RENAMED, first_name="کبری", last_name="نوری", birth_date="1980-02-02"),
               rec("tax|1", national_id=RENAMED, first_name="کبری", last_name="نوری"),
               rec("portal|1", national_id=RENAMED, first_name="کیمیا", last_name="نوری", birth_date="1980-02-02"),
               rec("portal|2", first_name="کیمیا", last_name="نوری", birth_date="1980-02-02", mobile="+989150000001")]
    pairs = sorted(find_matches(records) + [Pair("portal|1", "portal|2", 0.97, "fellegi-sunter")])
    refs = [r["ref"] for r in records]
    got = clustering.cluster(refs, pairs, conf["match"], (), conflict_of({r["ref"]: features(r) for r in records}, conf))
    assert len(set(got.values())) == 1
