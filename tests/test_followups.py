"""137 follow-up grouping: inside/outside the window, chains, refers_to, place and citizen."""
from __future__ import annotations

import itertools

from munihub.resolve.followups import distance_m, group_followups


def req(ref, filed_at, *, tracking=None, refers_to=None, **fields):
    base = {"national_id": "0923456781", "mobile": "+989151234567", "citizen_name": "علی رضایی",
            "category": "پسماند", "district": "منطقه 9", "address": "بلوار سجاد پلاک 12"}
    base.update(fields)
    return {"ref": ref, "entity_type": "service_request",
            "fields": {**base, "tracking_code": tracking or ref.split("|")[1],
                       "refers_to": refers_to, "filed_at": filed_at}}


def test_repeat_inside_window_is_one_request():
    out = group_followups([req("137|a", "2024-01-01"), req("137|b", "2024-01-20T10:00:00")])
    assert out == {"137|a": "137|a", "137|b": "137|a"}


def test_new_complaint_after_window_is_new():
    out = group_followups([req("137|a", "2024-01-01"), req("137|b", "2024-02-15")])
    assert out["137|b"] == "137|b"


def test_window_counts_from_most_recent_request_in_chain():
    out = group_followups([req("137|a", "2024-01-01"), req("137|b", "2024-01-25"),
                           req("137|c", "2024-02-20")])  # 50 days after a, 26 after b
    assert set(out.values()) == {"137|a"}


def test_refers_to_joins_even_outside_window_and_other_district():
    out = group_followups([req("137|a", "2024-01-01", tracking="T-100"),
                           req("137|b", "2024-06-01", refers_to="T-100", district="منطقه 1",
                               mobile="+989120000000", national_id=None)])
    assert out["137|b"] == "137|a"


def test_refers_to_a_later_filed_request_still_joins():
    out = group_followups([req("137|a", "2024-03-01", refers_to="T-200"),
                           req("137|b", "2024-05-01", tracking="T-200", category="روشنایی")])
    assert out["137|a"] == out["137|b"] == "137|a"


def test_other_category_or_citizen_or_district_stays_apart():
    base = req("137|a", "2024-01-01")
    others = [req("137|b", "2024-01-02", category="روشنایی"),
              req("137|c", "2024-01-02", national_id="1111111111", mobile="+989120000000",
                  citizen_name="مریم احمدی"),
              req("137|d", "2024-01-02", district="منطقه 2")]
    out = group_followups([base] + others)
    assert len(set(out.values())) == 4


def test_same_citizen_by_mobile_only_and_similar_address():
    out = group_followups([req("137|a", "2024-01-01", national_id=None),
                           req("137|b", "2024-01-05", national_id=None, citizen_name=None,
                               address="بلوار سجاد پلاک 12 ")])
    assert out["137|b"] == "137|a"


def test_coordinates_within_200m_join_beyond_do_not():
    here = dict(latitude=36.2970, longitude=59.6060)
    near = dict(latitude=36.2980, longitude=59.6065)   # ~120 m
    far = dict(latitude=36.3100, longitude=59.6060)    # ~1.4 km
    assert 100 < distance_m((36.2970, 59.6060), (36.2980, 59.6065)) < 200
    out = group_followups([req("137|a", "2024-01-01", **here),
                           req("137|b", "2024-01-03", district="x", address="y", **near),
                           req("137|c", "2024-01-04", **far)])
    assert out["137|b"] == "137|a" and out["137|c"] == "137|c"


def test_grouping_is_independent_of_input_order():
    reqs = [req("137|a", "2024-01-01"), req("137|b", "2024-01-25"), req("137|c", "2024-02-20"),
            req("137|d", "2024-05-01"), req("137|e", "2024-05-03", refers_to="a")]
    expected = group_followups(reqs)
    assert expected["137|d"] == "137|d" and expected["137|e"] == "137|a"
    for perm in itertools.permutations(reqs):
        assert group_followups(list(perm)) == expected


def test_bad_date_names_the_request():
    import pytest
    from munihub.errors import MunihubError
    with pytest.raises(MunihubError, match="137\\|z"):
        group_followups([req("137|z", "1403/08/14")])
