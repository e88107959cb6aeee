"""137 follow-up grouping: inside/outside the window, chains, refers_to, place and citizen."""
from __future__ import annotations

import itertools

from munihub.resolve.followups import followup_options, group_followups
from munihub.resolve.spots import distance_m


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


def test_a_name_in_latin_letters_is_the_same_caller_as_its_persian_spelling():
    # «Maryam کیانی» and «مريم کیاني» on one mobile are one caller; «Zahra کیانی» on that
    # mobile (her sister) is another, whose first name's skeleton differs
    base = req("137|a", "2024-01-01", national_id=None, citizen_name="مريم کیاني")
    out = group_followups([base, req("137|b", "2024-01-09", national_id=None, citizen_name="Maryam کیانی"),
                           req("137|c", "2024-01-10", national_id=None, citizen_name="Zahra کیانی",
                               mobile="+989120000001")])
    assert out["137|b"] == "137|a" and out["137|c"] != "137|a"


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


def test_another_alley_of_the_street_is_another_place():
    # «علی نوری» twice in one district about one category, but at alleys 12 and 15 of the
    # street: the address texts are alike, the places are not (two homes, two requests)
    out = group_followups([anon("137|a", "2024-01-01", citizen_name="علی نوری", address="بلوار سجاد، کوچه 12"),
                           anon("137|b", "2024-01-02", citizen_name="علی نوری", address="بلوار سجاد، کوچه 15"),
                           anon("137|c", "2024-01-03", citizen_name="علی نوری", address="بلوار سجاد کوچه ۱۲")])
    assert out == {"137|a": "137|a", "137|b": "137|b", "137|c": "137|a"}


def test_one_alley_written_three_ways_without_a_district_is_one_place():
    # the operator left out the district on one call and wrote the alley another way: the
    # street and alley still agree; another alley of that street, or another district, do not
    a = anon("137|a", "2024-01-01", citizen_name="علی نوری", address="خیابان کوهسنگی، کوچه 26", district="منطقه 3")
    b = anon("137|b", "2024-01-05", citizen_name="نوری علی", address="مشهد کوهسنگی ۲۶ پلاک ۴۰", district=None)
    c = anon("137|c", "2024-01-09", citizen_name="علی نوری", address="خ. کوهسنگی، نبش ک 26", district="3")
    d = anon("137|d", "2024-01-10", citizen_name="علی نوری", address="کوهسنگی 27", district="3")
    e = anon("137|e", "2024-01-11", citizen_name="علی نوری", address="کوهسنگی 26", district="منطقه 5")
    out = group_followups([a, b, c, d, e])
    assert out == {"137|a": "137|a", "137|b": "137|a", "137|c": "137|a", "137|d": "137|d", "137|e": "137|e"}


def test_a_nameless_call_on_a_neighbours_number_is_the_neighbours():
    # «ناشناس» from the landline «کاظم موسوی» named himself on is not «جواد طباطبایی», who
    # reported the same alley and category days before; with no named call on its number it is anyone's
    spot = dict(address="خیابان کوهسنگی، کوچه 17", district="1", category="سد معبر")
    kazem = anon("137|b", "2024-01-01", citizen_name="کاظم موسوی", phone="+985136940983", **spot)
    javad = anon("137|a", "2024-01-03", citizen_name="جواد طباطبایی", mobile="+989120868512", **spot)
    nameless = anon("137|c", "2024-01-05", citizen_name="ناشناس", phone="+985136940983", **spot)
    out = group_followups([javad, kazem, nameless])
    assert out["137|c"] == "137|b"
    out = group_followups([javad, {**nameless, "fields": {**nameless["fields"], "phone": "+985131111111"}}])
    assert out["137|c"] == "137|a"


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


def anon(ref, filed_at, **fields):
    """A caller with no id and no number: only the name (or none), the place and the category."""
    return req(ref, filed_at, **{"national_id": None, "mobile": None, **fields})


def test_generic_followup_category_joins_the_earlier_request():
    out = group_followups([req("137|a", "2024-01-01"),
                           req("137|b", "2024-01-06", category="پیگیری درخواست")])
    assert out["137|b"] == "137|a"
    # an alias configured for this city only; the default list does not know it
    mine = {"window_days": 30, "radius_m": 200.0, "generic_categories": ["رسیدگی مجدد"], "quoted_codes": True}
    redo = [req("137|a", "2024-01-01"), req("137|b", "2024-01-06", category="رسیدگی مجدد")]
    assert group_followups(redo)["137|b"] == "137|b"
    assert group_followups(redo, options=mine)["137|b"] == "137|a"
    # a category starting with a generic one is a follow-up's too, without any configuration
    for category in ("پیگیری مجدد", "پيگيري درخواست قبلی", "تماس مجدد"):
        again = [req("137|a", "2024-01-01"), req("137|b", "2024-01-06", category=category)]
        assert group_followups(again)["137|b"] == "137|a", category


def test_tracking_code_quoted_in_the_description_in_persian_digits():
    first = req("137|a", "2024-01-01", tracking="1403000123")
    later = anon("137|b", "2024-03-01", tracking="1403000999", citizen_name=None, district="منطقه 4",
                 description="پیگیری درخواست شماره ۱۴۰۳۰۰۰۱۲۳؛ هنوز رسیدگی نشده", category="پیگیری درخواست")
    assert group_followups([first, later])["137|b"] == "137|a"  # cited: window and place do not matter
    off = {"window_days": 30, "radius_m": 200.0, "generic_categories": [], "quoted_codes": False}
    assert group_followups([first, later], options=off)["137|b"] == "137|b"


def test_names_agree_without_ids_but_a_neighbour_is_another_request():
    out = group_followups([anon("137|a", "2024-01-01", citizen_name="محمدرضا نوری"),
                           anon("137|b", "2024-01-04", citizen_name="آقای رضا نوری"),
                           anon("137|c", "2024-01-05", citizen_name="فاطمه کریمی")])
    assert out["137|b"] == "137|a" and out["137|c"] == "137|c"


def test_a_nameless_caller_does_not_let_a_neighbour_into_the_group():
    out = group_followups([anon("137|a", "2024-01-01", citizen_name="علی نوری"),
                           anon("137|b", "2024-01-03", citizen_name="ناشناس"),
                           anon("137|c", "2024-01-05", citizen_name="فاطمه کریمی")])
    assert out["137|b"] == "137|a"   # same place, same category, nobody contradicted
    assert out["137|c"] == "137|c"   # another citizen's name: a new request


# A neighbour's request of another category open at the same place: with two requests open
# there, a generic follow-up is not the only one's (`sole_request`), and the same-citizen test
# alone decides which it follows up.
NEIGHBOUR = anon("137|n", "2024-01-01", citizen_name="حسن کریمی", mobile="+989150000077", category="روشنایی معابر")


def test_a_nameless_generic_followup_needs_a_number_in_common():
    out = group_followups([anon("137|a", "2024-01-01", citizen_name="علی نوری"), NEIGHBOUR,
                           anon("137|b", "2024-01-03", citizen_name=None, category="پیگیری درخواست"),
                           req("137|c", "2024-01-04", national_id=None, citizen_name=None,
                               category="پیگیری درخواست")])
    assert out["137|b"] == "137|b" and out["137|c"] == "137|c"


def test_same_place_and_category_long_after_is_a_new_request():
    out = group_followups([req("137|a", "2024-01-01"), req("137|b", "2024-06-01")],
                          options={"window_days": 30, "radius_m": 200.0, "generic_categories": [],
                                   "quoted_codes": True})
    assert out["137|b"] == "137|b"
    assert group_followups([req("137|a", "2024-01-01"), req("137|b", "2024-06-01")], window_days=200)["137|b"] == "137|a"


def test_followup_options_are_checked_all_at_once():
    import pytest
    from munihub.errors import ConfigError
    from munihub.resolve.followups import followup_options
    assert followup_options({"followup": {"window_days": 14}})["window_days"] == 14
    assert followup_options(None)["generic_categories"] == ["پیگیری درخواست", "پیگیری", "تماس مجدد", "درخواست مجدد"]
    with pytest.raises(ConfigError) as err:
        followup_options({"followup": {"window_days": 0, "generic_categories": "پیگیری", "colour": 1}})
    text = str(err.value)
    assert "window_days" in text and "generic_categories" in text and "'colour'" in text


def test_a_wrong_followup_option_stops_the_resolution_before_any_work(tmp_path):
    import pytest
    import sqlalchemy as sa
    from munihub.errors import ConfigError
    from munihub.resolve.run import resolve_all
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    with pytest.raises(ConfigError, match="window_days"):
        resolve_all(engine, match_settings={"service_request": {"followup": {"window_days": -1}}})


def test_a_household_phone_does_not_make_two_family_members_one_caller():
    out = group_followups([req("137|a", "2024-01-01", national_id=None, citizen_name="امیرحسین نوری"),
                           req("137|b", "2024-01-03", national_id=None, citizen_name="نرگس نوری"),
                           req("137|c", "2024-01-04", national_id=None, citizen_name="امیرحسین نوری")])
    assert out["137|b"] == "137|b" and out["137|c"] == "137|a"


def test_a_partial_name_with_another_mobile_is_someone_else():
    out = group_followups([anon("137|a", "2024-01-01", citizen_name="هانیه قوچانی", mobile="+989150000001"),
                           anon("137|b", "2024-01-02", citizen_name="خانم قوچانی", mobile="+989150000002"),
                           anon("137|c", "2024-01-03", citizen_name="ناشناس", mobile="+989150000003"),
                           anon("137|d", "2024-01-04", citizen_name="خانم قوچانی", mobile="+989150000001")])
    assert out["137|b"] == "137|b" and out["137|c"] == "137|c" and out["137|d"] == "137|a"


def test_a_nameless_member_on_another_phone_does_not_keep_the_named_caller_out():
    # «ناشناس» joined on the caller's own mobile; the caller's next call, from a household
    # member's mobile with the whole name, is still his follow-up: the nameless member's
    # other number says nothing about who he is.  A neighbour's name is still kept out.
    out = group_followups([anon("137|a", "2024-01-01", citizen_name="علی نوری", mobile="+989150000001"),
                           anon("137|b", "2024-01-02", citizen_name="ناشناس", mobile="+989150000001"),
                           anon("137|c", "2024-01-03", citizen_name="خانم نوری", mobile="+989150000002"),
                           anon("137|d", "2024-01-04", citizen_name="فاطمه کریمی", mobile="+989150000003"),
                           anon("137|e", "2024-01-05", citizen_name="علی نوری", mobile="+989150000004")])
    assert out["137|b"] == "137|a" and out["137|e"] == "137|a"
    assert out["137|c"] == "137|c" and out["137|d"] == "137|d"


def test_a_request_marked_duplicate_joins_the_citizens_group_at_that_place_whatever_its_age():
    """The operator's «تکراری»: the same citizen, place and category months later is still the
    earlier request; without the status it is a new one.  Under another category it is the
    duplicate of a request the data lacks, not of the caller's other problem at home (found by
    bench_blind5: the original quarantined, the duplicate joined the street-light request)."""
    first = req("137|a", "2024-01-01")
    dup = req("137|b", "2024-05-01", status="تکراری")
    assert group_followups([first, dup])["137|b"] == "137|a"
    fresh = req("137|b", "2024-05-01", status="ثبت شده")
    assert group_followups([first, fresh])["137|b"] == "137|b"
    other = req("137|b", "2024-05-01", category="روشنایی", status="تکراری")
    assert group_followups([first, other])["137|b"] == "137|b"
    generic = req("137|b", "2024-05-01", category="پیگیری درخواست", status="تکراری")
    assert group_followups([first, generic])["137|b"] == "137|a"
    neighbour = req("137|c", "2024-05-01", status="تکراری", national_id="0012345679",
                    mobile="+989150000000", citizen_name="زهرا کریمی")
    assert group_followups([first, neighbour])["137|c"] == "137|c"  # another citizen: not his duplicate
    off = group_followups([first, dup], options=followup_options({"followup": {"duplicate_statuses": []}}))
    assert off["137|b"] == "137|b"  # the option switched off


def test_duplicate_statuses_are_validated_with_the_other_options():
    import pytest
    from munihub.errors import ConfigError
    from munihub.resolve.followups import followup_options
    assert "تکراری" in followup_options(None)["duplicate_statuses"]
    with pytest.raises(ConfigError) as err:
        followup_options({"followup": {"duplicate_statuses": "تکراری", "window_days": -1}})
    assert "duplicate_statuses" in str(err.value) and "window_days" in str(err.value)


def test_a_caller_on_a_number_of_the_group_is_not_kept_out_by_its_other_number():
    # «آقای نوری» calls from the mobile the group's second call used: that member backs him,
    # so the first call's other mobile is the same citizen's other phone, not a neighbour's.
    # On a number nobody in the group used, the other mobile still keeps him out.
    out = group_followups([anon("137|a", "2024-01-01", citizen_name="علی نوری", mobile="+989150000001"),
                           anon("137|b", "2024-01-02", citizen_name="علی نوری", mobile="+989150000002"),
                           anon("137|c", "2024-01-03", citizen_name="آقای نوری", mobile="+989150000002"),
                           anon("137|d", "2024-01-04", citizen_name="آقای نوری", mobile="+989150000009")])
    assert out["137|b"] == "137|a" and out["137|c"] == "137|a" and out["137|d"] == "137|d"


def test_a_generic_followup_by_title_and_surname_from_another_phone_joins_the_request():
    # «خانم قوچانی» files «پیگیری درخواست» from her husband's mobile: the follow-up of هانیه
    # قوچانی's request at that place.  Under the request's own category the same call could
    # be another member of the home reporting it anew, and stays apart.
    first = anon("137|a", "2024-01-01", citizen_name="هانیه قوچانی", mobile="+989150000001")
    generic = anon("137|b", "2024-01-03", citizen_name="خانم قوچانی", mobile="+989150000002",
                   category="پیگیری درخواست")
    assert group_followups([first, NEIGHBOUR, generic])["137|b"] == "137|a"
    own = anon("137|b", "2024-01-03", citizen_name="خانم قوچانی", mobile="+989150000002")
    assert group_followups([first, NEIGHBOUR, own])["137|b"] == "137|b"
    # another surname, or another national id, is still someone else (with the neighbour's
    # request open there too: with only one, it is that one's follow-up, `sole_request`)
    other = anon("137|b", "2024-01-03", citizen_name="خانم کریمی", mobile="+989150000002", category="پیگیری درخواست")
    assert group_followups([first, NEIGHBOUR, other])["137|b"] == "137|b"
    ids = [req("137|a", "2024-01-01", citizen_name="هانیه قوچانی", national_id="0923456781"), NEIGHBOUR,
           req("137|b", "2024-01-03", citizen_name="خانم قوچانی", mobile="+989150000002",
               national_id="0012345679", category="پیگیری درخواست")]
    assert group_followups(ids)["137|b"] == "137|b"


def test_a_title_of_the_other_gender_is_another_member_of_the_home():
    # «آقای قوچانی» on another phone is not هانیه قوچانی (her father, a brother), even as a
    # generic follow-up; nor is «خانم قوچانی» with no number the caller علی قوچانی
    first = anon("137|a", "2024-01-01", citizen_name="هانیه قوچانی", mobile="+989150000001")
    mister = anon("137|b", "2024-01-03", citizen_name="آقای قوچانی", mobile="+989150000002",
                  category="پیگیری درخواست")
    assert group_followups([first, NEIGHBOUR, mister])["137|b"] == "137|b"
    ali = anon("137|a", "2024-01-01", citizen_name="علی قوچانی")
    assert group_followups([ali, anon("137|b", "2024-01-03", citizen_name="خانم قوچانی")])["137|b"] == "137|b"
    assert group_followups([ali, anon("137|b", "2024-01-03", citizen_name="آقای قوچانی")])["137|b"] == "137|a"


def test_a_groups_generic_followup_does_not_open_it_to_another_category():
    # صغری صادقی reports the rubbish from her mother's mobile and follows it up as «پیگیری
    # درخواست»; a day later the mother («حاجیه خانم صادقی», the same mobile) reports the
    # street light: another problem, not a member of the rubbish request
    calls = [anon("137|a", "2024-01-01", citizen_name="خانم صغری صادقی", mobile="+989150000001", category="پسماند"),
             anon("137|b", "2024-01-04", citizen_name="خانم صادقی", mobile="+989150000001",
                  category="پیگیری درخواست"),
             anon("137|c", "2024-01-05", citizen_name="حاجیه خانم صادقی", mobile="+989150000001",
                  category="روشنایی معابر")]
    out = group_followups(calls)
    assert out["137|b"] == "137|a" and out["137|c"] == "137|c"
    # the rubbish again is the group's
    again = calls[:2] + [anon("137|c", "2024-01-05", citizen_name="حاجیه خانم صادقی", mobile="+989150000001",
                              category="پسماند")]
    assert group_followups(again)["137|c"] == "137|a"


def test_resolve_all_reads_the_match_settings_of_the_settings_it_is_handed(tmp_path):
    """A caller handing its Settings gets their match settings, not silently the defaults."""
    import pytest
    import sqlalchemy as sa
    from munihub.config import Settings
    from munihub.errors import ConfigError
    from munihub.resolve.run import resolve_all
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    settings = Settings(home=tmp_path, store_url=str(engine.url), contracts_dir=tmp_path, schemas_dir=tmp_path,
                        match_settings={"service_request": {"followup": {"window_days": -1}}})
    with pytest.raises(ConfigError, match="window_days"):
        resolve_all(engine, settings)


def test_a_landmark_is_one_spot_by_its_text_within_the_district():
    # same caller by mobile only (no id): the place decides (issue 16)
    def call(ref, day, address, **f):
        return req(ref, day, national_id=None, citizen_name=None, address=address, **f)
    out = group_followups([call("137|a", "2024-01-01", "بلوار شهید سجاد، جنب مسجد الزهرا"),
                           call("137|b", "2024-01-05", "سجاد روبروی مسجد الزهرا"),
                           call("137|c", "2024-01-06", "بلوار سجاد، جنب مسجد جامع"),
                           call("137|d", "2024-01-07", "بلوار سجاد، جنب مسجد الزهرا", district="منطقه 2"),
                           call("137|e", "2024-01-08", "بلوار سجاد، کوچه ۱۲ جنب مسجد الزهرا")])
    assert out["137|b"] == "137|a"
    assert len({out[r] for r in ("137|a", "137|c", "137|d", "137|e")}) == 4


def test_nested_alleys_are_one_place_written_two_ways_and_not_their_parent_alley():
    def call(ref, day, address):
        return req(ref, day, national_id=None, citizen_name=None, address=address)
    out = group_followups([call("137|a", "2024-01-01", "وکیل‌آباد ۱۲، گلستان ۳"),
                           call("137|b", "2024-01-05", "بلوار وکیل آباد، کوچه 12، کوچه گلستان 3"),
                           call("137|c", "2024-01-06", "وکیل‌آباد ۱۲"),
                           call("137|d", "2024-01-07", "وکیل‌آباد ۱۴، گلستان ۳")])
    assert out["137|b"] == "137|a" and len({out[r] for r in ("137|a", "137|c", "137|d")}) == 3


def test_a_generic_followup_by_another_member_of_the_home_follows_the_only_request_there():
    # علی نوری reports the rubbish; his wife مریم کریمی (another surname, her own mobile and
    # national id) files «پیگیری درخواست» at the same place a week later: the one request open
    # there is what she follows up.  A follow-up reports no problem of its own.
    first = req("137|a", "2024-01-01", citizen_name="علی نوری", mobile="+989150000001")
    wife = req("137|b", "2024-01-08", citizen_name="مریم کریمی", mobile="+989150000002",
               national_id="0012345679", category="پیگیری درخواست")
    assert group_followups([first, wife])["137|b"] == "137|a"
    # a son's, nameless and with no number, too
    son = anon("137|b", "2024-01-08", citizen_name=None, category="پیگیری")
    assert group_followups([first, son])["137|b"] == "137|a"
    # with a neighbour's request open there too, it could be either's: the same-citizen test decides
    assert group_followups([first, NEIGHBOUR, wife])["137|b"] == "137|b"
    # the only request there, closed long ago (its chain quiet for the window), is no open one
    late = req("137|b", "2024-03-01", citizen_name="مریم کریمی", mobile="+989150000002",
               national_id="0012345679", category="پیگیری درخواست")
    assert group_followups([first, late])["137|b"] == "137|b"
    # under the request's own category she may be reporting it anew: the same-citizen test decides
    own = req("137|b", "2024-01-08", citizen_name="مریم کریمی", mobile="+989150000002", national_id="0012345679")
    assert group_followups([first, own])["137|b"] == "137|b"
    # another place is another request; and a city can switch the rule off
    there = req("137|b", "2024-01-08", citizen_name="مریم کریمی", mobile="+989150000002", national_id="0012345679",
                category="پیگیری درخواست", address="بلوار سجاد کوچه 40", district="منطقه 9")
    assert group_followups([first, there])["137|b"] == "137|b"
    assert group_followups([first, wife], options={**followup_options(None), "sole_request": False})["137|b"] == "137|b"


def test_a_home_members_followup_does_not_keep_the_requests_own_caller_out():
    # the wife's follow-up joined as the home's (`sole_request`) says nothing of who the
    # request's citizen is: علی نوری calling again from her mobile still joins his request
    first = anon("137|a", "2024-01-01", citizen_name="علی نوری", mobile="+989150000001")
    wife = anon("137|b", "2024-01-08", citizen_name="مریم کریمی", mobile="+989150000002", category="پیگیری درخواست")
    again = anon("137|c", "2024-01-12", citizen_name="علی نوری", mobile="+989150000002")
    out = group_followups([first, wife, again])
    assert out["137|b"] == out["137|c"] == "137|a"


def test_the_sole_request_option_is_checked():
    import pytest
    from munihub.errors import ConfigError
    assert followup_options(None)["sole_request"] is True
    assert followup_options({"followup": {"sole_request": False}})["sole_request"] is False
    with pytest.raises(ConfigError, match="sole_request must be true or false"):
        followup_options({"followup": {"sole_request": "yes"}})
