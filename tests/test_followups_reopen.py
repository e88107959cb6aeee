"""137 follow-ups: a re-opened ticket joins its citizen's earlier request past the window; a
household member's follow-up under the request's own category joins the request of its home."""
from __future__ import annotations

import pytest

from munihub.errors import ConfigError
from munihub.resolve.followups import followup_options, group_followups, names_household
from munihub.resolve.places import home_key

HUSBAND = {"national_id": "0923456781", "mobile": "+989151234567", "citizen_name": "علی رضایی"}
WIFE = {"national_id": "0012345679", "mobile": "+989150000002", "citizen_name": "مریم کریمی"}
NEIGHBOUR = {"national_id": "1111111111", "mobile": "+989120000000", "citizen_name": "حسن احمدی"}


def req(ref, filed_at, who=HUSBAND, **fields):
    base = {**who, "category": "حیوانات ولگرد", "district": "منطقه ۶", "address": "خ توس ک ۴۸ پ ۳۷"}
    base.update(fields)
    return {"ref": ref, "entity_type": "service_request",
            "fields": {**base, "tracking_code": ref.split("|")[1], "filed_at": filed_at}}


# ---------------------------------------------------------------- re-opened tickets

CLOSED = req("137|a", "2024-01-01", status="بسته شده", closed_at="2024-01-09")


def test_a_reopened_ticket_joins_the_citizens_request_past_the_window():
    # 55 days on, the request closed long ago: the citizen says it was not fixed
    reopened = req("137|b", "2024-02-25", status="بازگشایی", description="مشکل برطرف نشده است",
                   address="مشهد - بلوار توس - توس 48 - پلاک 37")
    assert group_followups([CLOSED, reopened])["137|b"] == "137|a"
    why: dict = {}
    group_followups([CLOSED, reopened], why=why)
    assert why == {"137|b": "followup:reopened"}


def test_a_new_request_long_after_or_another_citizens_reopened_ticket_stays_apart():
    # the trap: the same place and category long after, not re-opened, is a new request
    assert group_followups([CLOSED, req("137|b", "2024-02-25", status="ثبت شده")])["137|b"] == "137|b"
    # a neighbour's re-opened ticket re-opens his own request, not this one
    other = req("137|b", "2024-02-25", NEIGHBOUR, status="بازگشایی")
    assert group_followups([CLOSED, other])["137|b"] == "137|b"
    # another problem at the home (another category) is not re-opened by it
    light = req("137|b", "2024-02-25", status="بازگشایی", category="روشنایی معابر")
    assert group_followups([CLOSED, light])["137|b"] == "137|b"


def test_a_reopened_ticket_looks_back_only_as_far_as_reopen_days():
    late = req("137|b", "2024-08-01", status="بازگشایی")  # 213 days on
    assert group_followups([CLOSED, late])["137|b"] == "137|b"
    longer = followup_options({"followup": {"reopen_days": 365}})
    assert group_followups([CLOSED, late], options=longer)["137|b"] == "137|a"
    off = followup_options({"followup": {"reopened_statuses": []}})
    assert group_followups([CLOSED, req("137|b", "2024-02-25", status="بازگشایی")], options=off)["137|b"] == "137|b"


def test_a_reopened_ticket_joins_the_citizens_latest_request_there():
    # two requests of his at the place, months apart: the later one is the one re-opened
    calls = [CLOSED, req("137|b", "2024-04-01", status="بسته شده"),
             req("137|c", "2024-05-20", status="بازگشایی")]
    out = group_followups(calls)
    assert out["137|b"] == "137|b" and out["137|c"] == "137|b"


def test_a_reopened_status_a_contract_maps_to_another_value_is_configured():
    mapped = req("137|b", "2024-02-25", status="reopened")
    assert group_followups([CLOSED, mapped])["137|b"] == "137|a"
    own = followup_options({"followup": {"reopened_statuses": ["باز شده مجدد"]}})
    assert group_followups([CLOSED, req("137|b", "2024-02-25", status="باز شده مجدد")], options=own)["137|b"] == "137|a"
    assert group_followups([CLOSED, mapped], options=own)["137|b"] == "137|b"


def test_the_new_options_are_checked_with_the_others():
    assert followup_options(None)["reopen_days"] == 180
    assert "بازگشایی" in followup_options(None)["reopened_statuses"]
    with pytest.raises(ConfigError) as err:
        followup_options({"followup": {"reopen_days": 0, "reopened_statuses": "بازگشایی",
                                       "household_words": [""]}})
    text = str(err.value)
    assert "reopen_days" in text and "reopened_statuses" in text and "household_words" in text


# ---------------------------------------------------------------- a household member's follow-up

def test_a_household_members_followup_under_the_requests_category_joins_it():
    # the wife (her own surname, mobile and national id) follows her husband's request up
    # under its own category: the call says so
    first = req("137|a", "2024-01-01")
    wife = req("137|b", "2024-01-07", WIFE, description="پیگیری درخواست همسرم",
               address="مشهد، بلوار توس، توس ۴۸، پلاک ۳۷، واحد ۲")
    assert group_followups([first, wife])["137|b"] == "137|a"
    why: dict = {}
    group_followups([first, wife], why=why)
    assert why == {"137|b": "followup:household"}
    # the same call saying nothing of a follow-up may be a new report: the same-citizen test decides
    plain = req("137|b", "2024-01-07", WIFE, description="لطفا رسیدگی شود")
    assert group_followups([first, plain])["137|b"] == "137|b"
    # a city can switch the reading off
    off = followup_options({"followup": {"household_words": []}})
    assert group_followups([first, wife], options=off)["137|b"] == "137|b"
    # …and the one-open-request rule with it (the persons step's threads, `records.request_threads`)
    assert group_followups([first, wife], options={**followup_options(None), "sole_request": False})["137|b"] == "137|b"


def test_a_neighbours_report_and_a_late_followup_stay_apart():
    first = req("137|a", "2024-01-01")
    # a neighbour on the alley reports the same problem: another request
    neighbour = req("137|b", "2024-01-03", NEIGHBOUR, address="خ توس ک ۴۸ پ ۱۲")
    assert group_followups([first, neighbour])["137|b"] == "137|b"
    # a follow-up after the window has nothing open to follow
    late = req("137|b", "2024-03-01", WIFE, description="پیگیری درخواست همسرم")
    assert group_followups([first, late])["137|b"] == "137|b"
    # nor does a follow-up of another category follow this one
    light = req("137|b", "2024-01-07", WIFE, description="پیگیری درخواست همسرم", category="روشنایی معابر")
    assert group_followups([first, light])["137|b"] == "137|b"


def test_with_a_neighbours_request_open_too_the_homes_is_followed_up():
    first = req("137|a", "2024-01-01")
    neighbour = req("137|n", "2024-01-02", NEIGHBOUR, address="خ توس ک ۴۸ پ ۱۲")
    wife = req("137|b", "2024-01-07", WIFE, description="پیگیری درخواست همسرم",
               address="مشهد، بلوار توس، توس ۴۸، پلاک ۳۷، واحد ۲")
    out = group_followups([first, neighbour, wife])
    assert out["137|b"] == "137|a" and out["137|n"] == "137|n"
    # without a plaque (or a shared phone) it could be either's: apart
    bare = req("137|b", "2024-01-07", WIFE, description="پیگیری درخواست همسرم", address="خ توس ک ۴۸")
    assert group_followups([first, neighbour, bare])["137|b"] == "137|b"


def test_a_description_names_a_member_of_the_home_by_its_words():
    words = tuple(followup_options(None)["household_words"])
    assert names_household("پيگيري درخواست پدرم", words)  # Arabic yeh read as Persian
    assert names_household("پیگیری درخواست یکی از اعضای خانواده", words)
    # a follow-up of one's own request names nobody of the home
    assert not names_household("پیگیری درخواست قبلی", words) and not names_household("لطفا رسیدگی شود", words)
    assert not names_household(None, words)


def test_another_citizens_own_followup_at_the_place_stays_apart():
    # a neighbour reporting at the same plaque follows up «his earlier request»: not this one
    first = req("137|a", "2024-01-01")
    own = req("137|b", "2024-01-07", NEIGHBOUR, description="پیگیری درخواست قبلی")
    assert group_followups([first, own])["137|b"] == "137|b"


def test_home_key_is_the_street_alley_and_plaque():
    assert home_key("خ توس ک ۴۸ پ ۳۷") == home_key("مشهد، بلوار توس، توس ۴۸، پلاک ۳۷، واحد ۲") == "توس/48#37"
    assert home_key("بلوار طبرسی،طبرسی۳،پ۱۱۷") == "طبرسی/3#117"
    assert home_key("خ توس ک ۴۸") is None and home_key("بلوار سجاد پلاک 12") is None


def test_the_store_says_by_which_rule_each_call_joined_its_request(tmp_path):
    """The members' rule: a re-opened ticket, a household member's follow-up; the re-opened
    ticket lends its caller the request's thread (the same citizen), the wife's does not."""
    import sqlalchemy as sa

    from munihub import store
    from munihub.resolve.records import request_threads
    from munihub.resolve.run import resolve_all
    from test_resolve import T0, publish

    def call(key, filed, who, **fields):
        record = {"tracking_code": key, **who, "category": "حیوانات ولگرد", "district": "منطقه ۶",
                  "address": "خ توس ک ۴۸ پ ۳۷", "filed_at": filed, **fields}
        return {"source": "rc137.calls", "source_key": key, "entity_type": "service_request", "record": record}

    calls = [call("1403000100", "2024-01-01T09:00:00", HUSBAND, status="بسته شده"),
             call("1403000200", "2024-01-06T09:00:00", WIFE, description="پیگیری درخواست همسرم"),
             call("1403000300", "2024-02-25T09:00:00", HUSBAND, status="بازگشایی")]
    engine = store.open_store(f"sqlite:///{tmp_path / 's.db'}")
    publish(engine, calls, T0, "L1")
    resolve_all(engine, full=True)
    m = store.entity_members
    with engine.connect() as conn:
        got = {k: (e, r) for k, e, r in conn.execute(sa.select(m.c.source_key, m.c.entity_id, m.c.rule)
                                                      .where(m.c.entity_type == "service_request"))}
    assert len({e for e, _ in got.values()}) == 1
    assert {k: r for k, (_, r) in got.items()} == {"1403000100": "followup", "1403000200": "followup:household",
                                                   "1403000300": "followup:reopened"}
    threads = request_threads([req("137|a", "2024-01-01", status="بسته شده"),
                               req("137|b", "2024-01-06", WIFE, description="پیگیری درخواست همسرم"),
                               req("137|c", "2024-02-25", status="بازگشایی")])
    assert threads["137|c"] == threads["137|a"] != threads["137|b"]
