"""Pages projected column by column give exactly what record-by-record projection gives, and the
per-worker pseudonym memo never answers with another key's pseudonyms."""
from __future__ import annotations

import hashlib
import hmac
import random

import pytest

from munihub.gateway import grants, pages

KEY = b"page-key"
PERSONAL = frozenset({"national_id", "mobile", "address.detail", "birth_date"})


def personal(path: str) -> bool:
    return path in PERSONAL or any(p.startswith(path + ".") for p in PERSONAL)


def view(fields=("*",), wanted=(), key=KEY) -> grants.View:
    return grants.View("tax", grants.Grant("registry.citizens", tuple(fields)), personal, key, tuple(wanted))


def reference(value, key=KEY, field="national_id"):
    return "ps_" + hmac.new(key, f"tax|{field}|{value}".encode(), hashlib.sha256).hexdigest()[:32]


def person(i: int) -> dict:
    return {"national_id": f"{i:010d}", "first_name": "زهرا", "mobile": f"+98915{i:07d}", "birth_date": "1990-01-02",
            "address": {"district": f"منطقه {i % 3}", "detail": f"کوچه {i % 5}"}, "tags": [i, "x"], "score": i / 3}


def odd_pages():
    """Pages whose records do not share one shape, or where a nested value is not always an object."""
    a, b = person(1), person(2)
    yield [a, {k: v for k, v in b.items() if k != "mobile"}]                  # a field missing
    yield [a, {**b, "extra": "x"}]                                            # a field added
    yield [a, {**b, "address": None}]                                         # nested object or null
    yield [a, {**b, "address": "خیابان امام"}]                                # nested object or text
    yield [a, {**b, "address": {}}]                                           # an empty object
    yield [a, {**b, "address": {"district": "x"}}]                            # nested shapes differ
    yield [{"address": {"detail": "x"}}, {"address": {"district": "y"}}]      # ... under a narrowing view
    yield [a, None, "text", 5]                                                # not records at all
    yield [{}, {}]
    yield [{"national_id": None, "mobile": 9151234567}, {"national_id": 12, "mobile": True}]
    yield [dict(reversed(list(a.items()))), b]                                # the same fields, other order


VIEWS = [view(), view(["*", "national_id"]), view(["first_name", "address"]), view(["address.district"]),
         view(["*"], wanted=["address.detail", "mobile"]), view(["*"], key=None), view(["tags", "score"])]


@pytest.mark.parametrize("v", VIEWS, ids=range(len(VIEWS)))
def test_a_page_projected_by_columns_equals_each_record_projected(v):
    one_by_one = grants.projector(v)
    project = pages.page_projector(v, one_by_one)
    uniform = [person(i) for i in range(50)]
    for page in [uniform, uniform[:1], [], *odd_pages()]:
        assert project(page) == [one_by_one(r) for r in page], page
    rng = random.Random(7)
    for _ in range(200):  # records drawn from a few shapes, so some pages share one and some do not
        page = []
        for _ in range(rng.randint(1, 4)):
            r = person(rng.randint(0, 30))
            for name in rng.sample(sorted(r), rng.randint(0, 2)):
                r[name] = rng.choice([None, {}, {"detail": "y"}, "z", 3]) if rng.random() < 0.5 else r.pop(name)
            page.append(r)
        assert project(page) == [one_by_one(r) for r in page], page


def test_a_uniform_page_pseudonymizes_personal_fields_and_keeps_the_rest():
    out = pages.page_projector(view(), grants.projector(view()))([person(7), person(8)])
    assert out[0]["national_id"] == reference("0000000007") and out[1]["mobile"] == reference("+989150000008", field="mobile")
    assert out[0]["address"] == {"district": "منطقه 1", "detail": reference("کوچه 2", field="address.detail")}
    assert out[0]["first_name"] == "زهرا" and "0000000007" not in str(out)


def test_a_pseudonym_column_is_the_keyed_hmac_on_a_miss_and_on_a_hit(monkeypatch):
    monkeypatch.setattr(pages, "MEMO_SIZE", 4)
    pages.pseudonym_column.cache_clear()
    values = [f"{i:010d}" for i in range(10)] + [None, 12, True, 1.5, ""]
    expected = [None if v is None else reference(v) for v in values]
    column = pages.pseudonym_column(KEY, "tax", "national_id")
    for _ in range(3):  # the memo fills, rolls over and is read back
        assert column(values) == expected
        assert column(values[:3] * 4) == expected[:3] * 4
    pages.pseudonym_column.cache_clear()


def test_a_rotated_key_never_gets_the_old_keys_memo():
    """The memo is per key: after the key changes, every value is pseudonymized with the new key,
    including values the old key's column has just remembered."""
    pages.pseudonym_column.cache_clear()
    values = ["0012345678", "0098765432"]
    old = pages.pseudonym_column(KEY, "tax", "national_id")(values)
    new = pages.pseudonym_column(b"rotated-key", "tax", "national_id")(values)
    assert new == [reference(v, key=b"rotated-key") for v in values] and not set(new) & set(old)
    v_old, v_new = view(key=KEY), view(key=b"rotated-key")
    page = [person(1)]
    seen = pages.page_projector(v_old, grants.projector(v_old))(page)
    rotated = pages.page_projector(v_new, grants.projector(v_new))(page)
    assert rotated[0]["national_id"] == reference("0000000001", key=b"rotated-key") != seen[0]["national_id"]
    assert pages.pseudonym_column(None, "tax", "national_id")(["0012345678", None]) == ["*******678", None]


@pytest.mark.postgres
def test_a_page_decoded_into_its_shape_equals_each_record_projected(pg_url):
    """`shaped`: pages of a learned shape are decoded into a record type of that shape and
    projected field by field; every record, of that shape or not (odd pages mixed in, weird
    names), is what `grants.projector` makes of it, in the same field order, and the records of
    another shape are told apart."""
    import datetime as dt
    import json

    import msgspec
    import psycopg2

    from munihub import store
    from munihub.gateway import shaped

    odd = [r for page in odd_pages() for r in page] + [
        {**person(3), "address": {"detail": "x", "district": 'a "quoted" \\ value\n'}},
        {**person(4), "national_id": ["0000000004"]}, {**person(5), "mobile": 5},
        {**person(6), "mobile": True}, {**person(7), "birth_date": 1e20}, {**person(8), "tags": {"a": 1}}, {**person(10), "tags": {}},
        {**person(9), "address": {**person(9)["address"], "more": {"x": 1}}}]
    weird = {"50% off": "x", "ta'g": "y", "نام": "z", "n": {"a%sb": 1}}
    records = [person(i) for i in range(20)] + odd + [weird, weird]
    engine = store.open_store(pg_url)
    stamp = dt.datetime(2024, 11, 4, 10, 30, 0, 120000, tzinfo=dt.timezone.utc)
    with engine.begin() as conn:
        conn.execute(store.source_rows.insert(), [
            {"source": "s", "source_key": f"{i:04d}", "entity_type": "person", "record": r, "record_hash": "h",
             "first_load_id": "L", "load_id": "L", "updated_at": stamp} for i, r in enumerate(records)])
    args, kwargs = engine.dialect.create_connect_args(engine.url)
    conn = psycopg2.connect(*args, **kwargs)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:  # the records as the ordinary path reads them (jsonb's field order)
            cur.execute("SELECT record::text, updated_at::text FROM source_rows ORDER BY source_key")
            texts, stamps = zip(*cur.fetchall())
    finally:
        conn.close()
        engine.dispose()
    assert shaped.stamp_iso(stamps[0]) == stamp.isoformat() and shaped.stamp_iso(None) is None
    records = [json.loads(t) for t in texts]
    for shape in (shaped.shape_of(records[0]), shaped.shape_of(records[-1])):
        for v in VIEWS:
            one_by_one = grants.projector(v)
            got, others = shaped.project(shaped.plan(shape, v), list(texts), one_by_one)
            got = json.loads(msgspec.json.encode(got))
            want = [one_by_one(r) for r in records]
            assert got == want
            assert [list(r) for r in got if isinstance(r, dict)] == [list(r) for r in want if isinstance(r, dict)]
            assert not set(others) & set(texts[:20]) or shape != shaped.shape_of(records[0])
