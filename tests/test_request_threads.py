"""137 request threads as person evidence: a follow-up chain or a place group links its callers."""
from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa

from munihub import store
from munihub.resolve.records import request_threads
from munihub.resolve.run import resolve_all
from test_followups import req
from test_resolve import T0, members, publish

CALLS = "rc137.calls"


def test_a_chain_a_place_group_and_a_cited_absent_call_are_one_thread_each():
    chain = [req("137|a", "2024-01-01", tracking="1403000100"),
             req("137|b", "2024-03-01", refers_to="1403000100", category="پیگیری درخواست"),
             req("137|c", "2024-06-01", description="پیرو ۱۴۰۳۰۰۰۲۰۰", tracking="1403000200",
                 national_id=None, mobile="+989120000000", citizen_name="آقای رضایی", district="منطقه 1")]
    chain[1]["fields"]["tracking_code"] = "1403000200"
    chain[2]["fields"]["tracking_code"] = "1403000300"
    place = [req("137|p", "2024-01-01", national_id=None, mobile=None, category="روشنایی", tracking="1403000400"),
             req("137|q", "2024-01-10", national_id=None, mobile=None, category="روشنایی", tracking="1403000500")]
    absent = [req("137|x", "2024-01-01", refers_to="1403999999", category="آب", citizen_name="مریم کاظمی",
                  national_id=None, mobile="+989121111111", tracking="1403000600"),
              req("137|y", "2024-09-01", description="پیرو 1403999999", category="آب", citizen_name="مریم کاظمی",
                  national_id=None, mobile="+989121111111", tracking="1403000700")]
    threads = request_threads(chain + place + absent)
    assert threads["137|a"] == threads["137|b"] == threads["137|c"] == "137|a"  # A <- B <- C
    assert threads["137|p"] == threads["137|q"] == "137|p"  # place, category and window, no code
    assert threads["137|x"] == threads["137|y"] == "137|x"  # the cited call is not in the data
    assert len(set(threads.values())) == 3


def test_a_home_members_followup_of_the_only_request_there_lends_its_caller_no_thread():
    # the wife's «پیگیری درخواست» joins her husband's request as the only one open at the
    # place (`sole_request`), but her mention must not take his thread: she is another person
    first = req("137|a", "2024-01-01", citizen_name="علی نوری", mobile="+989150000001", tracking="1403000100")
    wife = req("137|b", "2024-01-08", citizen_name="مریم کریمی", mobile="+989150000002",
               national_id="0012345679", category="پیگیری درخواست", tracking="1403000200")
    from munihub.resolve.followups import group_followups
    assert group_followups([first, wife])["137|b"] == "137|a"
    threads = request_threads([first, wife])
    assert threads["137|a"] != threads["137|b"]


def call(key: str, filed: str, caller: str, **fields) -> dict:
    record = {"tracking_code": key, "citizen_name": caller, "category": "پسماند", "district": "منطقه 9",
              "address": "بلوار سجاد کوچه 4", "filed_at": filed, **fields}
    return {"source": CALLS, "source_key": key, "entity_type": "service_request", "record": record}


REGISTRY = [{"source": "registry.citizens", "source_key": "1", "entity_type": "person",
             "record": {"national_id": "0923456781", "first_name": "علی", "last_name": "رضایی",
                        "gender": "male", "mobile": "+989151234567"}}]
# علی calls, follows up quoting his call, then once more quoting the follow-up, as «آقای رضایی»
# from his son's mobile; his wife follows up the same problem quoting his call
FIRST = call("1403000100", "2024-01-01T09:00:00", "علی رضایی", mobile="+989151234567")
SECOND = call("1403000200", "2024-01-20T09:00:00", "علی رضایی", description="پیگیری 1403000100")
THIRD = call("1403000300", "2024-03-01T09:00:00", "آقای رضایی", mobile="+989127777777",
             description="پیرو ۱۴۰۳۰۰۰۲۰۰")
NAMELESS = call("1403000600", "2024-02-10T09:00:00", "ناشناس", description="پیگیری ۱۴۰۳۰۰۰۱۰۰")
WIFE = call("1403000400", "2024-01-25T09:00:00", "مریم رضایی", mobile="+989128888888",
            refers_to="1403000100")


def threads_stored(engine) -> dict[str, str]:
    f = store.match_features
    with engine.connect() as conn:
        rows = conn.execute(sa.select(f.c.ref, f.c.features).where(f.c.entity_type == "person")).all()
    return {ref: (feats if isinstance(feats, dict) else json.loads(feats)).get("thread")
            for ref, feats in rows}


def test_the_third_call_of_a_chain_joins_the_caller_but_not_his_wife(tmp_path):
    engine = store.open_store(f"sqlite:///{tmp_path / 's.db'}")
    publish(engine, REGISTRY + [FIRST, SECOND, THIRD, NAMELESS, WIFE], T0, "L1")
    resolve_all(engine)
    ids = members(engine)
    ali = ids["registry.citizens|1"]
    assert ids[f"{CALLS}|1403000300#person"] == ali  # title + surname, another mobile: the thread
    assert ids[f"{CALLS}|1403000100#person"] == ids[f"{CALLS}|1403000200#person"] == ali
    assert ids[f"{CALLS}|1403000400#person"] != ali  # same thread, another first name
    # no name, no phone: a mention only because it quotes the first call's code
    assert ids[f"{CALLS}|1403000600#person"] == ali


def test_an_earlier_call_arriving_late_moves_the_thread_as_a_full_run_does(tmp_path):
    engine = store.open_store(f"sqlite:///{tmp_path / 's.db'}")
    publish(engine, REGISTRY + [SECOND, THIRD], T0, "L1")
    assert resolve_all(engine)["mode"] == "full"
    publish(engine, [FIRST, WIFE], T0 + dt.timedelta(hours=1), "L2")
    assert resolve_all(engine)["mode"] == "incremental"
    incremental, stored = members(engine), threads_stored(engine)
    # the thread is now the first call's: the stored follow-ups were matched again
    assert stored[f"{CALLS}|1403000300#person"] == stored[f"{CALLS}|1403000100#person"]
    resolve_all(engine, full=True)
    assert members(engine) == incremental and threads_stored(engine) == stored


def test_a_nameless_caller_on_the_landline_gets_the_thread_only_by_a_quoted_code():
    from munihub.resolve.records import match_records, thread_mentions

    def records(*calls):
        out = [r for c in calls for r in match_records(c["source"], c["source_key"], c["entity_type"],
                                                        c["record"], "L1", T0, {})]
        return [r for r in out if r["entity_type"] == "service_request"], \
            {r["ref"]: r for r in out if r["entity_type"] == "person"}

    landline = call("1403000500", "2024-01-03T09:00:00", "ناشناس", phone="+985137086849")
    requests, mentions = records(FIRST, landline)
    thread_mentions(requests, mentions.values())
    assert mentions[f"{CALLS}|1403000100#person"]["fields"]["request_thread"] == f"{CALLS}|1403000100"
    assert "request_thread" not in mentions[f"{CALLS}|1403000500#person"]["fields"]  # by place alone

    quoting = call("1403000500", "2024-01-03T09:00:00", "ناشناس", phone="+985137086849",
                   description="پیرو ۱۴۰۳۰۰۰۱۰۰")
    requests, mentions = records(FIRST, quoting)
    thread_mentions(requests, mentions.values())
    assert mentions[f"{CALLS}|1403000500#person"]["fields"]["request_thread"] == f"{CALLS}|1403000100"


# ---------------------------------------------------------------- which numbers are cited codes
def _citizen(ref, tracking, description, name, mobile, category="آب", district="منطقه 1"):
    return req(ref, "2024-01-01", tracking=tracking, description=description, citizen_name=name, national_id=None,
               mobile=mobile, category=category, district=district, address=f"خیابان {ref}")


def test_two_citizens_given_the_same_office_number_are_not_one_thread():
    office = "با دفتر منطقه ۰۵۱۳۸۰۳۴۱۱۱ هماهنگ شد"
    threads = request_threads([_citizen("137|m", "13700000001", office, "مریم کاظمی", "+989121111111"),
                               _citizen("137|n", "13700000002", "ارجاع به دفتر منطقه (تلفن 05138034111)",
                                        "علی رضایی", "+989122222222", category="برق")])
    assert threads["137|m"] != threads["137|n"]


def test_a_callback_mobile_joins_no_two_problems_of_one_caller():
    text = "لطفاً با 09121111111 تماس گرفته شود"
    threads = request_threads([_citizen("137|m", "13700000001", text, "مریم کاظمی", "+989121111111"),
                               _citizen("137|n", "13700000002", "با شماره 9121111111 تماس بگیرید",
                                        "مریم کاظمی", "+989121111111", category="برق", district="منطقه 5")])
    assert threads["137|m"] != threads["137|n"]


def test_numbers_of_the_codes_shape_are_no_codes_when_label_or_pattern_or_the_call_says_otherwise():
    from munihub.resolve.codes import quoted_codes
    own = "1403000001"  # codes of ten digits starting 14: a national id or a postal code may look alike
    assert quoted_codes("پیرو 1403000124", own) == ["1403000124"]
    assert quoted_codes("کد ملی 1412345678", own) == []
    assert quoted_codes("کد پستی: ۱۴۱۸۵۷۱۲۳۴", own) == []
    assert quoted_codes("مراجعه 1403000777", own, not_codes=("+98 140 300 0777",)) == []  # its own number
    assert quoted_codes("از 14030814", own, shapes={(8, "14")}) == []  # a date even in a code's shape
    assert quoted_codes("شماره پیگیری 09151234567", "09150000000") == []  # a mobile even so labelled
    assert quoted_codes("کد پستی 9185712345، پروانه 1234567", own) == []  # another shape


def test_the_code_of_a_call_this_one_was_split_from_is_no_citation():
    """An operator splitting one call into two requests quotes the first («ثبت جداگانه از تماس
    …», found by bench_blind5): another problem, not a follow-up; a follow-up quoting the same
    code still cites it."""
    from munihub.resolve.codes import quoted_codes
    own = "14030807471"
    assert quoted_codes("پسماند - ثبت جداگانه از تماس 14030807470", own) == []
    assert quoted_codes("درخواست مجزا از کد ۱۴۰۳۰۸۰۷۴۷۰", own) == []
    assert quoted_codes("پیگیری درخواست قبلی. کد پیگیری: 14030807470", own) == ["14030807470"]


def test_codes_read_out_with_separators_or_under_a_label_are_cited():
    from munihub.resolve.codes import quoted_codes
    own = "13799999999"
    assert quoted_codes("۱۳۷ ۱۲۳۴ ۵۶۷۸ هنوز رسیدگی نشده", own) == ["13712345678"]
    assert quoted_codes("کد رهگیری قبلی: 137-1234-5678؛ با شماره 0915-123-4567", own) == ["13712345678"]
    assert quoted_codes("کد رهگیری: 55512345", own) == ["55512345"]  # another shape, but labelled
    assert quoted_codes("1403-8-14 ثبت شد", own) == []


def test_a_code_quoted_with_separators_joins_its_request_and_the_shape_is_learned_from_the_data():
    from munihub.resolve.followups import group_followups
    from munihub.resolve.records import code_shapes, request_thread
    first = req("137|a", "2024-01-01", tracking="13712345678")
    later = req("137|b", "2024-04-01", tracking="13712349999", description="پیرو ۱۳۷-۱۲۳۴-۵۶۷۸", category="آب",
                district="منطقه 2", address="خیابان دیگر")
    assert group_followups([first, later]) == {"137|a": "137|a", "137|b": "137|a"}
    odd = {"tracking_code": "A-1", "description": "پیرو 13712340000"}  # its own code has no digits' shape
    assert request_thread(odd) == "a-1"
    assert request_thread(odd, code_shapes([first, later])) == "13712340000"


def test_request_threads_learn_the_code_shape_from_the_calls_in_the_data():
    # two calls whose own codes tell no shape cite one absent code of the shape the others have
    calls = [req("137|a", "2024-01-01", tracking="13700000001", category="برق"),
             _citizen("137|x", "X-1", "پیرو 13799990000", "مریم کاظمی", "+989121111111"),
             _citizen("137|y", "X-2", "پیرو 13799990000", "مریم کاظمی", "+989121111111", district="منطقه 7")]
    threads = request_threads(calls)
    assert threads["137|x"] == threads["137|y"] != threads["137|a"]
