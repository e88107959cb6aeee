"""Custom formats and record validation: verdicts, pointers, rules, Persian messages, masking, batches."""
from __future__ import annotations

import datetime as dt

import pytest

from munihub.contracts import formats
from munihub.errors import ConfigError
from munihub.testing.synthetic import make_people, national_id_check
from munihub.ingest.validate import Reason, compile_validator, validate_batch

ENGINES = ["fast", "reference"]


def _nid(first9: str) -> str:
    return first9 + national_id_check(first9)


# ---------------------------------------------------------------- formats

@pytest.mark.parametrize("value", ["0935195017", "0642792674", "1289669848", _nid("001234567"), _nid("987654321")])
def test_national_id_valid(value):
    assert formats.is_national_id(value) and formats.national_id_problem(value) is None


@pytest.mark.parametrize("value, problem", [
    ("0935195018", "check"), ("0935195010", "check"),
    ("1111111111", "repeated"), ("0000000000", "repeated"),   # both pass the checksum, still invalid
    ("093519501", "length"), ("09351950170", "length"), ("", "length"),
    ("۰۹۳۵۱۹۵۰۱۷", "length"),                                  # not normalized: Persian digits
    ("09351950a7", "length"), (" 935195017", "length"),
])
def test_national_id_invalid(value, problem):
    assert not formats.is_national_id(value)
    assert formats.national_id_problem(value) == problem


def test_national_id_fast_check_agrees_with_the_plain_algorithm():
    import random
    rng = random.Random(3)
    for _ in range(20000):
        v = f"{rng.randrange(10 ** 10):010d}"
        total = sum(int(v[i]) * (10 - i) for i in range(9)) % 11
        expected = int(v[9]) == (total if total < 2 else 11 - total) and len(set(v)) > 1
        assert formats.is_national_id(v) is expected, v


def test_every_synthetic_identity_has_a_valid_national_id():
    assert all(formats.is_national_id(p.national_id) for p in make_people(500, seed=11))


@pytest.mark.parametrize("value, ok", [
    ("+989151234567", True), ("+989001234567", True), ("09151234567", False), ("+98915123456", False),
    ("+9891512345678", False), ("00989151234567", False), ("+989151234567\n", False), ("+98915123456a", False),
])
def test_mobile(value, ok):
    assert formats.is_mobile(value) is ok


@pytest.mark.parametrize("value, ok", [
    ("9187654321", True), ("1111111111", False), ("918765432", False), ("91876543210", False),
    ("۹۱۸۷۶۵۴۳۲۱", False), ("91876-54321", False),
])
def test_postal_code(value, ok):
    assert formats.is_postal_code(value) is ok


@pytest.mark.parametrize("value, ok", [
    ("2024-02-29", True), ("2023-02-29", False), ("2024-02-30", False), ("2024-13-01", False),
    ("2024-1-05", False), ("20240105", False), ("2024-01-05T00:00:00", False), ("۲۰۲۴-۰۱-۰۵", False),
])
def test_gregorian_date(value, ok):
    assert formats.is_date(value) is ok


@pytest.mark.parametrize("value, ok", [
    ("2024-09-01T08:15:00", True), ("2024-09-01T08:15:00Z", True), ("2024-09-01T08:15:00.123+03:30", True),
    ("2024-09-01 08:15:00", False), ("2024-09-01T24:00:00", False), ("2024-02-30T08:00:00", False),
    ("2024-09-01T08:15", False),
])
def test_date_time(value, ok):
    assert formats.is_date_time(value) is ok


@pytest.mark.parametrize("value, ok", [
    ("1403/12/30", True),    # 1403 is a Jalali leap year: Esfand has 30 days
    ("1402/12/30", False),   # 1402 is not
    ("1402/12/29", True), ("1403/06/31", True), ("1403/07/31", False), ("1403/13/01", False),
    ("1403/8/14", False), ("1403-08-14", False),
])
def test_jalali_date(value, ok):
    assert formats.is_jalali_date(value) is ok


@pytest.mark.parametrize("value, ok", [("1403", True), ("1403-08", True), ("1403-Q2", True),
                                       ("1403-13", False), ("1403-Q5", False), ("03-08", False)])
def test_jalali_period(value, ok):
    assert formats.is_jalali_period(value) is ok


def test_non_strings_are_left_to_type():
    assert all(check(12345) for check in formats.FORMATS.values())


def test_mask_keeps_only_last_four():
    assert formats.mask("0935195017") == "******5017"
    assert formats.mask("+989151234567") == "*********4567"
    assert formats.mask("abc") == "***"


# ---------------------------------------------------------------- validation

PERSON = {"national_id": "0935195017", "first_name": "علی", "last_name": "رضایی", "birth_date": "1988-03-21",
          "gender": "male", "mobile": "+989151234567", "address": {"city": "مشهد", "postal_code": "9187654321"}}


def _pairs(reasons):
    return [(r.pointer, r.rule) for r in reasons]


@pytest.mark.parametrize("engine", ENGINES)
def test_valid_person_has_no_reasons(engine):
    v = compile_validator("person", engine=engine)
    assert v.is_valid(PERSON) and v.errors(PERSON) == []


@pytest.mark.parametrize("engine", ENGINES)
def test_every_rule_points_at_its_field(engine):
    bad = dict(PERSON, national_id="0935195018", mobile="09151234567", gender="M", birth_date="1990-02-30",
               first_name="", last_name=7, title="x" * 41, zip_code="9187654321",
               address={"city": "مشهد", "postal_code": "0000000000", "zip": "1"})
    v = compile_validator("person", engine=engine)
    assert not v.is_valid(bad)
    assert _pairs(v.errors(bad)) == [
        ("/address/postal_code", "format:ir-postal-code"), ("/address/zip", "additionalProperties"),
        ("/birth_date", "format:date"), ("/first_name", "minLength"), ("/gender", "enum"),
        ("/last_name", "type"), ("/mobile", "format:ir-mobile"), ("/national_id", "format:ir-national-id"),
        ("/title", "maxLength"), ("/zip_code", "additionalProperties")]


@pytest.mark.parametrize("engine", ENGINES)
def test_required_points_at_the_missing_field_in_persian(engine):
    reasons = compile_validator("service_request", engine=engine).errors({"status": "ثبت شده"})
    assert _pairs(reasons) == [("/filed_at", "required"), ("/tracking_code", "required")]
    assert reasons[1].message == "required field tracking_code is missing"
    assert reasons[1].message_fa == "فیلد الزامی «کد رهگیری» خالی است"
    assert reasons[1].to_dict()["field"] == "tracking_code"


def test_persian_messages_per_rule():
    v = compile_validator("person")
    by_rule = {r.rule: r for r in v.errors(dict(PERSON, national_id="0935195018", gender="x", last_name=7))}
    assert by_rule["format:ir-national-id"].message_fa == "کد ملی ******5018 نامعتبر است (رقم کنترل)"
    assert by_rule["enum"].message_fa.startswith("مقدار «جنسیت» مجاز نیست")
    assert "مرد (male)" in by_rule["enum"].message_fa
    assert by_rule["type"].message_fa == "مقدار «نام خانوادگی» باید متن باشد"
    assert by_rule["type"].message == "last_name must be string, not integer"
    repeated = v.errors(dict(PERSON, national_id="1111111111"))[0]
    assert repeated.message_fa == "کد ملی ******1111 نامعتبر است (ارقام یکسان)"
    short = v.errors(dict(PERSON, national_id="093519501"))[0]
    assert "۱۰ رقم" in short.message_fa


@pytest.mark.parametrize("engine", ENGINES)
def test_messages_never_carry_a_whole_id_or_mobile(engine):
    v = compile_validator("person", engine=engine)
    for field, value in [("national_id", "0935195018"), ("mobile", "09151234567"), ("mobile", "+98915123456"),
                         ("postal_code", "1111111111"), ("email", "ali.rezaei@mail"), ("gender", "0935195017"),
                         ("last_name", 935195017)]:
        reasons = v.errors(dict(PERSON, **{field: value}))
        assert reasons, (field, value)
        for r in reasons:
            assert str(value) not in r.message and str(value) not in r.message_fa, r


@pytest.mark.parametrize("engine", ENGINES)
def test_whole_record_problems_have_the_empty_pointer(engine):
    v = compile_validator("person", engine=engine)
    assert _pairs(v.errors({})) == [("", "minProperties")]
    assert v.errors({})[0].message_fa == "رکورد خالی است؛ هیچ فیلدی پر نشده"
    assert _pairs(v.errors(["not", "a", "record"])) == [("", "type")]


@pytest.mark.parametrize("engine", ENGINES)
def test_numbers_and_bounds(engine):
    v = compile_validator("service_request", engine=engine)
    base = {"tracking_code": "1372409000123", "filed_at": "2024-09-01T08:15:00"}
    # latitude and longitude swapped: both fall outside Iran
    reasons = v.errors(dict(base, latitude=59.6, longitude=36.3))
    assert _pairs(reasons) == [("/latitude", "maximum"), ("/longitude", "minimum")]
    assert reasons[0].message_fa == "مقدار «عرض جغرافیایی» بیشتر از بیشینه 40 است"
    p = compile_validator("payment", engine=engine)
    assert _pairs(p.errors({"payment_id": "P1", "amount_rial": -5})) == [("/amount_rial", "minimum")]
    assert _pairs(p.errors({"payment_id": "P1", "amount_rial": 1.5})) == [("/amount_rial", "type")]
    assert p.errors({"payment_id": "P1", "amount_rial": 10.0}) == []   # 10.0 is an integer in JSON Schema
    assert _pairs(p.errors({"payment_id": "P1", "amount_rial": True})) == [("/amount_rial", "type")]


def test_non_json_values_fall_back_to_the_reference_engine():
    v = compile_validator("person")   # jsonschema_rs refuses a date object; the record still gets reasons
    reasons = v.errors(dict(PERSON, birth_date=dt.date(1988, 3, 21)))
    assert _pairs(reasons) == [("/birth_date", "type")]


def test_pointer_escapes_slash_and_tilde():
    reasons = compile_validator("person").errors(dict(PERSON, **{"a/b~c": 1}))
    assert _pairs(reasons) == [("/a~1b~0c", "additionalProperties")]
    assert reasons[0].field == "a/b~c"


def test_validate_batch_keeps_order_and_both_engines_agree():
    good = [dict(PERSON, national_id=p.national_id, mobile="+98" + p.mobile[1:]) for p in make_people(50, seed=5)]
    records = good[:20] + [dict(PERSON, mobile="0915")] + good[20:] + [{}]
    for engine in ENGINES:
        out = validate_batch(compile_validator("person", engine=engine), records)
        assert len(out) == len(records)
        assert [i for i, r in enumerate(out) if r] == [20, 51]
        assert _pairs(out[20]) == [("/mobile", "format:ir-mobile")]
        assert all(isinstance(r, Reason) for r in out[51])


def test_compiled_validators_are_cached_by_schema():
    from munihub.contracts import schemas
    assert compile_validator("person") is compile_validator(schemas.load_schema("person"))
    assert compile_validator("person") is not compile_validator("person", engine="reference")
    changed = schemas.load_schema("person")
    changed["properties"]["title"]["maxLength"] = 5
    assert compile_validator(changed) is not compile_validator("person")


def test_unknown_engine_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown validation engine 'turbo'"):
        compile_validator("person", engine="turbo")


def test_reasons_serialize_for_the_quarantine_table():
    r = compile_validator("person").errors(dict(PERSON, address={"city": "مشهد", "postal_code": "91234"}))[0]
    assert r.to_dict() == {
        "pointer": "/address/postal_code", "rule": "format:ir-postal-code",
        "message": "address.postal_code: postal code *1234 is not 10 digits (not all the same)",
        "message_fa": "کد پستی *1234 نامعتبر است (باید ۱۰ رقم باشد)", "field": "address.postal_code"}


def _native_candidates(fmt):
    if fmt == "date":
        for y in [f"{y:04d}" for y in range(0, 10000)]:
            yield from (f"{y}-02-29", f"{y}-02-28", f"{y}-12-31")
        for y in ("0000", "0001", "0400", "1900", "2000", "2023", "2024", "2100", "9999"):
            yield from (f"{y}-{m:02d}-{d:02d}" for m in range(14) for d in range(33))
        yield from ("2024-01-05\n", "2024-1-05", "۲۰۲۴-۰۱-۰۵", "")
    else:
        yield from ["+989151234567", "+98915123456", "+989151234567\n", "09151234567", "9187654321", "0000000000",
                    "918765432", "05138123456", "+98 51 3800 0000", "-0513", "0513-", "1403", "1403-08", "1403-Q2",
                    "1403-13", "1403\n", "9187654321\n", "۹۱۸۷۶۵۴۳۲۱", "", "+", "1234", "12345678901234567890123"]


@pytest.mark.parametrize("fmt", sorted(formats.NATIVE_EQUIVALENTS))
def test_native_equivalents_give_the_same_verdicts_as_the_python_checks(fmt):
    """The fast engine's is_valid pre-pass checks these natively; they must not disagree anywhere."""
    import jsonschema_rs
    native = jsonschema_rs.validator_for({"type": "string", **formats.NATIVE_EQUIVALENTS[fmt]})
    check = formats.FORMATS[fmt]
    disagree = [v for v in _native_candidates(fmt) if native.is_valid(v) != check(v)]
    assert disagree == []
