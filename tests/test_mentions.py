"""Full person mentions (issue 15): every record that names a citizen yields a mention carrying
every identifying field it has, read through the one-field name parser."""
from __future__ import annotations

import pytest

from munihub.resolve.records import match_records, person_mention


def test_a_hotline_call_carries_every_identifying_field_and_the_name_parts():
    call = {"tracking_code": "137-1", "citizen_name": "احمدی، آقای علی فرزند حسن", "national_id": "0012345679",
            "mobile": "+989151234567", "phone": "+985138001234", "district": "منطقه ۳",
            "address": "بلوار سجاد، کوچه ۴، پلاک ۱۲", "category": "پسماند"}
    assert person_mention(call) == {
        "national_id": "0012345679", "mobile": "+989151234567", "phone": "+985138001234",
        "first_name": "علی", "last_name": "احمدی", "full_name": "علی احمدی", "father_name": "حسن", "title": "آقای",
        "gender": "male", "request_thread": "137-1",
        "address": {"detail": "بلوار سجاد، کوچه ۴، پلاک ۱۲", "district": "منطقه ۳"}}


def test_a_follow_up_shares_the_thread_of_the_call_it_cites_in_any_digits():
    from munihub.resolve.records import request_thread
    first = {"tracking_code": "1403000124", "description": "آسفالت کوچه خراب است"}
    later = {"tracking_code": "1403000190", "description": "پیگیری درخواست شماره ۱۴۰۳۰۰۰۱۲۴؛ هنوز رسیدگی نشده"}
    cited = {"tracking_code": "1403000201", "refers_to": "1403000124"}
    assert request_thread(first) == request_thread(later) == request_thread(cited) == "1403000124"
    assert request_thread({"tracking_code": "1403000300", "description": "چراغ خاموش"}) == "1403000300"
    assert request_thread({"payment_id": "P1"}) is None


def test_a_name_and_an_address_without_id_or_phone_still_name_a_citizen():
    permit = {"permit_no": "PR-1", "owner_name": "سیدمحمد موسوی", "district": "منطقه ۱",
              "address": {"street": "بلوار وکیل‌آباد", "postal_code": "9188888888"}}
    got = person_mention(permit)
    assert (got["first_name"], got["last_name"], got["seyyed"]) == ("محمد", "موسوی", True)
    assert got["address"] == {"street": "بلوار وکیل‌آباد", "postal_code": "9188888888", "district": "منطقه ۱"}
    assert got["postal_code"] == "9188888888"


def test_anonymous_callers_are_mentions_by_their_number_and_nobody_is_made_up():
    assert person_mention({"citizen_name": "ناشناس", "mobile": "+989151234567"}) == {"mobile": "+989151234567"}
    assert person_mention({"citizen_name": "شهروند", "district": "منطقه ۳", "address": "بلوار سجاد"}) is None
    assert person_mention({"payment_id": "P1", "amount_rial": 10}) is None


def test_a_guessed_name_order_says_so():
    got = person_mention({"payer_name": "فاطمه زهرا", "mobile": "+989151234567"})
    assert got["name_confidence"] < 0.7
    sure = person_mention({"payer_name": "زهرا کریمی"})
    assert "name_confidence" not in sure and sure["last_name"] == "کریمی"


def test_match_records_give_every_naming_row_its_mention():
    recs = match_records("rc137.requests", "137-9", "service_request",
                         {"tracking_code": "137-9", "citizen_name": "خانم کریمی", "address": "بلوار توس"},
                         None, None, {})
    assert [r["ref"] for r in recs] == ["rc137.requests|137-9", "rc137.requests|137-9#person"]
    assert recs[1]["fields"] == {"last_name": "کریمی", "full_name": "کریمی", "title": "خانم",
                                 "gender": "female", "request_thread": "137-9",
                                 "address": {"detail": "بلوار توس"}}


def test_a_person_source_with_a_one_field_name_is_matched_on_its_parts():
    from munihub.resolve.records import with_fields
    import json

    row = {"full_name": "احمدی، آقای علی فرزند حسن", "mobile": "+989151234567"}
    rec = match_records("clinic.patients", "9", "person", row, None, None, {})[0]
    assert (rec["fields"]["first_name"], rec["fields"]["last_name"], rec["fields"]["father_name"]) == \
        ("علی", "احمدی", "حسن")
    raw = match_records("clinic.patients", "9", "person", None, None, None, {},
                        raw=json.dumps(row).encode("utf-8"))[0]
    assert with_fields(raw)["fields"] == rec["fields"]  # full and incremental runs read the same parts
    kept = {"full_name": "علی احمدی", "first_name": "علی"}
    assert match_records("s", "1", "person", kept, None, None, {})[0]["fields"] == kept  # parts the source gave win


def test_a_number_written_into_the_name_field_is_the_callers_and_no_part_of_the_name():
    # «علی رضایی (۰۹۱۵…)», «رضایی تلفن ۰۹۱۵-…»: clerks type the callback number where there is room
    got = person_mention({"citizen_name": "جناب آقای علی رضایی تلفن ۰۹۱۵-۱۲۳-۴۵۶۷"})
    assert (got["first_name"], got["last_name"], got["mobile"]) == ("علی", "رضایی", "+989151234567")
    # the call's own number wins; a landline with its city code is a phone; a date is nobody's
    got = person_mention({"citizen_name": "رضایی، علی (051-3800-1234)", "mobile": "+989121111111"})
    assert (got["full_name"], got["mobile"], got["phone"]) == ("علی رضایی", "+989121111111", "+985138001234")
    got = person_mention({"citizen_name": "علی رضایی ۱۴۰۳/۰۸/۱۴"})
    assert got["full_name"] == "علی رضایی" and not {"mobile", "phone", "national_id"} & set(got)
    # only a number: nobody is named, the number still is the caller's
    assert person_mention({"citizen_name": "همراه: ۰۹۱۵۱۲۳۴۵۶۷"}) == {"mobile": "+989151234567"}
    # a registry's one-field name with a national id in it (check digit valid)
    recs = match_records("water.bills", "B1", "person", {"full_name": "رضایی علی - کد ملی 0084575948"}, None, None, {})
    assert (recs[0]["fields"]["last_name"], recs[0]["fields"]["national_id"]) == ("رضایی", "0084575948")


@pytest.mark.parametrize("written", ["زهرا جعفری ک.م 9340146247", "زهرا جعفری کد ملی: ۹۳۴۰۱۴۶۲۴۷",
                                     "جعفری، زهرا ش.م 9340146247", "زهرا جعفری (شماره ملی 9340146247)"])
def test_a_number_labelled_a_national_id_is_the_id_not_the_mobile_its_digits_would_read_as(written):
    # ten digits starting with 9 read as a mobile that lost its 0; the clerk's label says otherwise
    got = person_mention({"citizen_name": written})
    assert (got["first_name"], got["last_name"], got.get("national_id")) == ("زهرا", "جعفری", "9340146247")
    assert "mobile" not in got and "phone" not in got


def test_a_national_id_the_operator_noted_in_the_description_is_the_callers():
    call = {"tracking_code": "1", "citizen_name": "ناشناس", "description": "چاله در کوچه؛ کد ملی ۰۹۴۲۲۹۹۳۷۱"}
    assert person_mention(call)["national_id"] == "0942299371"
    # the call's own field wins; an id with a qualifier is someone else's; a failed check names nobody
    assert person_mention({**call, "national_id": "0012345679"})["national_id"] == "0012345679"
    assert person_mention({**call, "description": "کد ملی مالک 0942299371"}) is None
    assert person_mention({**call, "description": "کد ملی 0942299370"}) is None


def test_name_keys_ignore_a_number_in_the_name_field():
    from munihub.persian import name_key

    assert name_key("علی رضایی (۰۹۱۵۱۲۳۴۵۶۷)") == name_key("علی رضایی تلفن همراه 09151234567") == name_key("علی رضایی")
    # a stray digit or two is no number anyone calls: it stays, as it was written
    assert name_key("رضایی 2") != name_key("رضایی 3")


def test_a_title_asked_apart_from_the_name_says_the_callers_gender():
    # a 137 form with its own «آقای / خانم» field beside a name field holding the surname alone
    from munihub.persian.transforms import TRANSFORMS

    title = TRANSFORMS["title"]
    assert [title(v) for v in ("خانم", "سرکار خانم", "جناب آقای", "حاج محمد", "محمد")] == \
        ["خانم", "خانم", "آقای", "حاج", None]
    got = person_mention({"citizen_name": "کریمی", "citizen_title": "خانم", "mobile": "+989151234567"})
    assert (got["last_name"], got["gender"]) == ("کریمی", "female")


def test_a_name_with_a_stray_digit_parses():
    from munihub.persian import parse_name

    assert parse_name("علی رضایی 2").numbers == ()  # (it recursed without end once)
