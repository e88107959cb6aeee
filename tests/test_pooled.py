"""Parts joined by evidence their records give together (munihub.resolve.pooled): a name on
one 137 call and the mobile on its follow-up against a registry row with both; never a name
or a number alone, never across a conflict or a steward's "no-match"."""
from __future__ import annotations

import datetime as dt

from munihub import store
from munihub.persian import national_id_check_digit
from munihub.resolve import match, partial, pooled
from munihub.resolve.conflicts import conflict_of
from munihub.resolve.run import resolve_all

from test_resolve_id_typos import typo

CONF = match.settings_for("person")
ROSTER = partial.roster_settings("person", CONF)
MOBILE = "+989150000001"


def nid(n: int) -> str:
    first9 = f"{n:09d}"
    return first9 + str(national_id_check_digit(first9))


def parts(feats: dict[str, dict], together: list[set[str]]) -> dict[str, str]:
    """ref -> its part's smallest ref: `together` as parts, every other ref alone."""
    out = {r: r for r in feats}
    for group in together:
        for r in group:
            out[r] = min(group)
    return out


def join(feats, together, decisions=()):
    refused = {(a, b) for a, b, v in decisions if v == "no-match"}
    refused |= {(b, a) for a, b in refused}
    return pooled.join(parts(feats, together), feats, ROSTER, conflict_of(feats, CONF), refused)


# a nameless call from the mobile and the named follow-up of one request (one part, by
# their thread), and the registry row of that name and mobile
THREAD = {"c1#person": {"mobile": MOBILE, "thread": "t1"},
          "c2#person": {"first_key": "علی", "last_key": "احمدی", "gender": "male", "thread": "t1"},
          "reg": {"first_key": "علی", "last_key": "احمدی", "gender": "male", "mobile": MOBILE,
                  "birth_date": "1980-01-01"}}


def test_name_and_number_of_one_part_join_the_person_holding_both():
    out = join(THREAD, [{"c1#person", "c2#person"}])
    assert out["c1#person"] == out["c2#person"] == out["reg"] == "c1#person"


def test_the_number_alone_joins_nobody():
    feats = {**THREAD, "c2#person": {"thread": "t1", "district": "3"}}  # the follow-up nameless too
    out = join(feats, [{"c1#person", "c2#person"}])
    assert out["reg"] == "reg" and out["c1#person"] == "c1#person"


def test_another_name_on_the_number_is_another_member_of_the_home():
    feats = {**THREAD, "c2#person": {"first_key": "زهرا", "last_key": "احمدی", "gender": "female", "thread": "t1"}}
    out = join(feats, [{"c1#person", "c2#person"}])
    assert out["reg"] == "reg"


def test_a_conflict_or_a_no_match_keeps_them_apart():
    feats = {**THREAD, "c3#person": {"national_id": nid(1), "thread": "t1"},
             "reg": {**THREAD["reg"], "national_id": nid(2)}}
    out = join(feats, [{"c1#person", "c2#person", "c3#person"}])  # another national id in the part
    assert out["reg"] == "reg"
    out = join(THREAD, [{"c1#person", "c2#person"}], [("c1#person", "reg", "no-match")])
    assert out["reg"] == "reg"


def test_resolve_partials_joins_and_says_why():
    why: dict[str, str] = {}
    out = partial.resolve_partials(parts(THREAD, [{"c1#person", "c2#person"}]), THREAD, ROSTER,
                                   conflict_of(THREAD, CONF), why=why)
    assert out["reg"] == "c1#person" and why == {"reg": pooled.POOLED}
    assert partial.WHY[pooled.POOLED]


def test_a_name_near_but_not_the_same_joins_nobody():
    # محمد / محمود: one letter apart (no conflict), but two names: brothers on one mobile
    feats = {"c1#person": {"mobile": MOBILE, "thread": "t1"},
             "c2#person": {"first_key": "محمد", "last_key": "احمدی", "thread": "t1"},
             "reg": {"first_key": "محمود", "last_key": "احمدی", "mobile": MOBILE}}
    out = join(feats, [{"c1#person", "c2#person"}])
    assert out["reg"] == "reg"


def test_a_mistyped_id_joins_the_one_valid_id_on_record_a_typo_away():
    owner = nid(94548120)
    feats = {"c1#person": {"national_id": typo(owner), "district": "7"},
             "reg": {"national_id": owner, "first_key": "رضا", "last_key": "کریمی", "gender": "male"}}
    why: dict[str, str] = {}
    out = pooled.join(parts(feats, []), feats, ROSTER, conflict_of(feats, CONF), why=why)
    assert out["reg"] == "c1#person" and why == {"reg": pooled.POOLED_ID}
    # a title's gender the owner does not have: another person's mistyped id
    feats["c1#person"]["gender"] = "female"
    assert join(feats, [])["reg"] == "reg"


def test_a_mistyped_id_two_valid_ids_on_record_are_a_typo_from_joins_neither():
    from munihub.resolve.ids import typo_variants

    owner = nid(94548120)
    wrong = typo(owner)
    other = next(v for v in typo_variants(wrong) if v != owner)
    feats = {"c1#person": {"national_id": wrong},
             "reg": {"national_id": owner, "first_key": "رضا", "last_key": "کریمی"},
             "reg2": {"national_id": other, "first_key": "حسن", "last_key": "نوری"}}
    out = join(feats, [])
    assert out["c1#person"] == "c1#person" and out["reg"] == "reg" and out["reg2"] == "reg2"


# ---------------------------------------------------------------- through the store

def _publish(engine, rows, when, load_id):
    from munihub import store

    with engine.begin() as conn:
        for source, key, etype, record in rows:
            conn.execute(store.source_rows.insert().values(
                source=source, source_key=key, entity_type=etype, record=record,
                record_hash=store.record_hash(record), first_load_id=load_id, load_id=load_id,
                updated_at=when))


def _members(engine):
    import sqlalchemy as sa

    from munihub import store

    m = store.entity_members
    with engine.connect() as conn:
        return {f"{s}|{k}": (e, r) for s, k, e, r in conn.execute(
            sa.select(m.c.source, m.c.source_key, m.c.entity_id, m.c.rule).where(m.c.entity_type == "person"))}


T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def test_an_incremental_run_joins_as_a_full_run(tmp_path):
    """A nameless call from علی احمدی's mobile about a problem away from his home, then its
    follow-up quoting its code with his name and no number: each call alone is nobody, the
    request's two calls together are him, in an incremental run as in a full one."""
    citizen = ("registry.citizens", "R1", "person", {
        "national_id": nid(1), "first_name": "علی", "last_name": "احمدی", "gender": "male", "mobile": MOBILE,
        "address": {"detail": "مشهد، بلوار توس، کوچه ۱۲، پلاک ۵", "district": "3"}})
    call = {"category": "روشنایی معابر", "address": "بلوار سجاد کوچه 40", "district": "9"}
    first = ("rc137.calls", "1403000001", "service_request", {
        **call, "tracking_code": "1403000001", "citizen_name": "ناشناس", "mobile": MOBILE,
        "filed_at": "2024-05-01T10:00:00"})
    again = ("rc137.calls", "1403000002", "service_request", {
        **call, "tracking_code": "1403000002", "citizen_name": "علی احمدی", "filed_at": "2024-05-04T10:00:00",
        "description": "پیگیری درخواست 1403000001"})
    engine = store.open_store(f"sqlite:///{tmp_path / 'pooled.db'}")
    _publish(engine, [citizen], T0, "L1")
    resolve_all(engine)
    _publish(engine, [first, again], T0 + dt.timedelta(hours=1), "L2")
    assert resolve_all(engine)["mode"] == "incremental"
    after = _members(engine)
    calls = ("rc137.calls|1403000001#person", "rc137.calls|1403000002#person")
    assert after[calls[0]][0] == after[calls[1]][0] == after["registry.citizens|R1"][0]
    assert after["registry.citizens|R1"][1] == pooled.POOLED
    resolve_all(engine, full=True)
    assert _members(engine) == after


def test_an_incremental_run_joins_the_name_on_a_landline_as_a_full_run(tmp_path):
    """علی احمدی calls from the home's landline about a problem in one street, months later
    about another in another district: one person, found by the later call's own run."""
    def call(code, address, district, day):
        return ("rc137.calls", code, "service_request", {
            "tracking_code": code, "citizen_name": "علی احمدی", "phone": LANDLINE, "category": "آسفالت",
            "address": address, "district": district, "filed_at": f"2024-{day}T10:00:00"})

    engine = store.open_store(f"sqlite:///{tmp_path / 'landline.db'}")
    _publish(engine, [call("1403000001", "بلوار سجاد کوچه 40", "9", "02-01")], T0, "L1")
    resolve_all(engine)
    _publish(engine, [call("1403000002", "بلوار توس کوچه 12", "3", "09-01")], T0 + dt.timedelta(hours=1), "L2")
    assert resolve_all(engine)["mode"] == "incremental"
    after = _members(engine)
    assert after["rc137.calls|1403000001#person"][0] == after["rc137.calls|1403000002#person"][0]
    assert after["rc137.calls|1403000002#person"][1] == pooled.POOLED
    resolve_all(engine, full=True)
    assert _members(engine) == after


LANDLINE = "+985131111111"


def test_the_whole_name_on_the_homes_landline_is_one_person_wherever_the_problem_was():
    # two calls of علی احمدی from the home's landline about problems in two streets: each
    # member of a home has a first name of their own
    feats = {"c1#person": {"first_key": "علی", "last_key": "احمدی", "phone": LANDLINE, "place": "سجاد/40"},
             "c2#person": {"first_key": "علی", "last_key": "احمدی", "phone": LANDLINE, "place": "توس/12"},
             "c3#person": {"first_key": "زهرا", "last_key": "احمدی", "phone": LANDLINE, "place": "توس/12"}}
    out = join(feats, [])
    assert out["c1#person"] == out["c2#person"] != out["c3#person"]


def test_a_landline_and_a_name_on_two_records_of_a_part_join_nobody():
    # the landline is anyone's at home: only beside the whole name on one record is it his
    feats = {"c1#person": {"phone": LANDLINE, "thread": "t1"},
             "c2#person": {"first_key": "علی", "last_key": "احمدی", "thread": "t1"},
             "reg": {"first_key": "علی", "last_key": "احمدی", "phone": LANDLINE}}
    out = join(feats, [{"c1#person", "c2#person"}])
    assert out["reg"] == "reg"


def test_an_incremental_run_finds_a_mistyped_ids_owner_as_a_full_run(tmp_path):
    """A nameless call whose only evidence is an id one digit off رضا کریمی's (set aside at
    publish), about a problem in another district: the one id on record a typo away is his."""
    owner = nid(94548120)
    engine = store.open_store(f"sqlite:///{tmp_path / 'typo.db'}")
    _publish(engine, [("registry.citizens", "R2", "person", {
        "national_id": owner, "first_name": "رضا", "last_name": "کریمی", "birth_date": "1985-03-04",
        "address": {"detail": "مشهد، بلوار هاشمیه، کوچه 21، پلاک 5", "district": "12"}})], T0, "L1")
    resolve_all(engine)
    _publish(engine, [("rc137.calls", "7", "service_request", {
        "tracking_code": "7", "address": "بلوار سجاد کوچه 40", "district": "9", "citizen_name": "ناشناس",
        "category": "روشنایی معابر", "filed_at": "2024-05-01T10:00:00"})], T0 + dt.timedelta(days=1), "L2")
    with engine.begin() as conn:
        conn.execute(store.set_aside.insert().values(
            source="rc137.calls", load_id="L2", source_key="7", field="national_id", value=typo(owner),
            rule="transform:national_id", reason={}, status="open"))
    assert resolve_all(engine)["mode"] == "incremental"
    after = _members(engine)
    assert after["rc137.calls|7#person"][0] == after["registry.citizens|R2"][0]
    resolve_all(engine, full=True)
    assert _members(engine) == after
