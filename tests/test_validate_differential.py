"""Differential test: the fast engine (jsonschema_rs) accepts, rejects and locates exactly what jsonschema does.

Records are generated from each shared schema: mostly valid values, mixed with mutations
(wrong types, missing required fields, near-miss formats, extra fields, out-of-enum values,
too-long strings, out-of-range numbers, nested address mistakes).  For every record both
engines must give the same verdict and the same set of (pointer, rule) pairs.
"""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from munihub.contracts import schemas
from munihub.testing.synthetic import national_id_check
from munihub.ingest.validate import compile_validator

NAMES = schemas.list_schemas()
KNOWN = schemas.load_all()
TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["علی‌اکبر", "محمد رضا", "مشهد", "", " ", "ي ك", "۱۲۳", "x\n"])
ANY_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                        | TEXT, lambda inner: st.lists(inner, max_size=2) | st.dictionaries(TEXT, inner, max_size=2),
                        max_leaves=4)


def _nid(first9: str) -> str:
    return first9 + national_id_check(first9)


DIGITS9 = st.from_regex(r"[0-9]{9}", fullmatch=True)
VALID_FORMAT = {
    "ir-national-id": DIGITS9.map(_nid).filter(lambda v: len(set(v)) > 1),
    "ir-mobile": st.from_regex(r"\+989[0-9]{9}", fullmatch=True),
    "ir-postal-code": st.from_regex(r"[0-9]{10}", fullmatch=True).filter(lambda v: len(set(v)) > 1),
    "ir-phone": st.from_regex(r"\+?[0-9][0-9 -]{2,10}[0-9]", fullmatch=True),
    "date": st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31)).map(dt.date.isoformat),
    "date-time": st.datetimes(dt.datetime(1950, 1, 1), dt.datetime(2100, 1, 1)).map(
        lambda d: d.isoformat(timespec="seconds")),
    "jalali-period": st.from_regex(r"1[0-9]{3}(-(0[1-9]|1[0-2]|Q[1-4]))?", fullmatch=True),
    "email": st.from_regex(r"[a-z0-9.]{1,10}@[a-z]{1,8}\.[a-z]{2,4}", fullmatch=True),
}
NEAR_MISS = {
    "ir-national-id": DIGITS9.map(lambda d: d + str((int(national_id_check(d)) + 1) % 10))
    | st.sampled_from(["0000000000", "1111111111", "093519501", "09351950170", "۰۹۳۵۱۹۵۰۱۷", "0935195017\n"]),
    "ir-mobile": st.sampled_from(["09151234567", "+98915123456", "+9891512345678", "00989151234567",
                                  "+989151234567\n", "+98 915 123 4567", "+۹۸۹۱۵۱۲۳۴۵۶۷"]),
    "ir-postal-code": st.sampled_from(["0000000000", "9999999999", "918765432", "91876543210", "9187654321\n",
                                       "۹۱۸۷۶۵۴۳۲۱"]),
    "ir-phone": st.sampled_from(["051", "+", "05138123456\n", "051-38", "۰۵۱۳۸۱۲۳۴۵۶", "0513812345a", "-0513"]),
    "date": st.sampled_from(["2024-02-30", "2023-02-29", "2024-13-01", "2024-1-5", "20240105", "1403/08/14",
                             "2024-01-05\n", "2024-01-05T00:00:00", "۲۰۲۴-۰۱-۰۵"]),
    "date-time": st.sampled_from(["2024-09-01 08:15:00", "2024-09-01T24:00:00", "2024-02-30T08:00:00",
                                  "2024-09-01T08:15", "2024-09-01T08:15:00+0330", "2024-09-01T08:15:00\n"]),
    "jalali-period": st.sampled_from(["1403-13", "1403-Q5", "03-08", "1403/08", "1403\n", "14030"]),
    "email": st.sampled_from(["a@b", "a b@c.de", "@c.de", "a@@c.de", "a@c.de\n"]),
}


def _resolve(node: dict) -> dict:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(schemas.URN_PREFIX):
        return {**KNOWN[ref[len(schemas.URN_PREFIX):]], **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def valid_value(node: dict) -> st.SearchStrategy:
    node = _resolve(node)
    kind = node.get("type")
    if "enum" in node:
        return st.sampled_from(node["enum"])
    if kind == "object":
        return record_of(node, mutate=False)
    if kind == "integer":
        return st.integers(node.get("minimum", -10 ** 12), node.get("maximum", 10 ** 12))
    if kind == "number":
        lo, hi = node.get("minimum", -1e9), node.get("maximum", 1e9)
        return st.floats(lo, hi, allow_nan=False, allow_infinity=False) | st.integers(int(lo) + 1, int(hi))
    if "format" in node:
        return VALID_FORMAT[node["format"]].filter(lambda v: len(v) <= node.get("maxLength", 10 ** 6))
    return st.text(alphabet=st.characters(codec="utf-8"), min_size=node.get("minLength", 0),
                   max_size=min(node.get("maxLength", 30), 30))


def invalid_value(node: dict) -> st.SearchStrategy:
    node = _resolve(node)
    options = [ANY_JSON]
    if node.get("type") == "object":
        options.append(record_of(node, mutate=True))
    if "format" in node:
        options.append(NEAR_MISS[node["format"]])
    if "enum" in node:
        options.append(st.sampled_from(["Male", "M", "زن", "OPEN", ""]))
    if "maxLength" in node:
        options.append(st.integers(1, 3).map(lambda n: "ب" * (node["maxLength"] + n)))
    if node.get("minLength"):
        options.append(st.just(""))
    if "minimum" in node:
        options.append(st.just(node["minimum"] - 0.5) | st.just(int(node["minimum"]) - 1))
    if "maximum" in node:
        options.append(st.just(node["maximum"] + 1) | st.just(node["maximum"] + 0.25))
    if node.get("type") == "integer":
        options.append(st.sampled_from([1.5, True, "12", 10.0]))
    return st.one_of(options)


def record_of(schema: dict, *, mutate: bool) -> st.SearchStrategy:
    """A record for `schema`: each field absent, valid or (when mutating) invalid; maybe extra fields."""
    required = set(schema.get("required", ()))
    parts = {}
    for name, sub in schema.get("properties", {}).items():
        choices = [valid_value(sub).map(lambda v: (True, v)), st.just((False, None))]
        if name in required:
            choices = [choices[0]] * 6 + [choices[1]]      # required fields are mostly present
        if mutate:
            choices.append(invalid_value(sub).map(lambda v: (True, v)))
        parts[name] = st.one_of(choices)
    extras = st.dictionaries(st.sampled_from(["zip_code", "nationalId", "Mobile", "", "a/b", "x~y", "شهر"]),
                             ANY_JSON, max_size=2) if mutate else st.just({})

    def build(drawn):
        fields, extra = drawn
        record = {k: v for k, (present, v) in fields.items() if present}
        record.update({k: v for k, v in extra.items() if k not in schema.get("properties", {})})
        return record
    return st.tuples(st.fixed_dictionaries(parts), extras).map(build)


def records(name: str) -> st.SearchStrategy:
    schema = KNOWN[name]
    return st.one_of(record_of(schema, mutate=False), record_of(schema, mutate=True), record_of(schema, mutate=True),
                     ANY_JSON)


def _pairs(reasons):
    return {(r.pointer, r.rule) for r in reasons}


def _check(name: str, record) -> None:
    fast = compile_validator(name, engine="fast")
    ref = compile_validator(name, engine="reference")
    expected = ref.errors(record)
    got = fast.errors(record)
    assert fast.is_valid(record) == ref.is_valid(record) == (not expected), record
    assert _pairs(got) == _pairs(expected), record
    # the full fast validator (not only its is_valid pre-pass) agrees too
    assert _pairs(fast.explain(record)) == _pairs(expected), record


def _run(name: str, examples: int) -> None:
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(records(name))
    def check(record):
        _check(name, record)
    check()


@pytest.mark.parametrize("name", NAMES)
def test_fast_engine_matches_jsonschema(name):
    _run(name, 200)


@pytest.mark.nightly
@pytest.mark.parametrize("name", NAMES)
def test_fast_engine_matches_jsonschema_long(name):
    _run(name, 1000)


def test_generated_records_include_valid_and_invalid():
    """Guards the generator itself: a differential test over only-invalid records would prove little."""
    seen = {"valid": 0, "invalid": 0}

    @settings(max_examples=100, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(records("person"))
    def count(record):
        seen["valid" if compile_validator("person").is_valid(record) else "invalid"] += 1
    count()
    assert seen["valid"] >= 10 and seen["invalid"] >= 10, seen
