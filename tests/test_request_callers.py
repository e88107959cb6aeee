"""137 follow-ups grouped by the persons step's result: one citizen calling from two phones,
once by title and surname, once by her whole name and national id, is one request, in a
full run and once a later person merge says so in an incremental one (and two again once a
steward splits the person)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from munihub import store
from munihub.resolve.followups import group_followups
from munihub.resolve.run import resolve_all

from test_partial import _publish

T0 = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)
PLACE = {"category": "روشنایی معابر", "address": "بلوار توس کوچه 12", "district": "3"}
ZAHRA_NID = "0923456781"


def _call(key: str, day: int, name: str, mobile: str, **more) -> dict:
    return {"source": "rc137.calls", "source_key": key, "entity_type": "service_request",
            "record": {"tracking_code": key, "citizen_name": name, "mobile": mobile, **PLACE,
                       "filed_at": f"2024-05-{day:02d}T10:00:00", **more}}


def _zahra() -> dict:
    return {"source": "registry.citizens", "source_key": "R1", "entity_type": "person", "record": {
        "national_id": ZAHRA_NID, "first_name": "زهرا", "last_name": "حسین‌زاده", "gender": "female",
        "mobile": "+989150000001", "address": PLACE["address"], "postal_code": "9188811111"}}


# «خانم حسین‌زاده» on her mobile, then «زهرا حسین‌زاده» with her national id on another phone
TITLE_ONLY = _call("1403000001", 1, "خانم حسین‌زاده", "+989150000001")
WHOLE_NAME = _call("1403000002", 6, "زهرا حسین‌زاده", "+989150000002", national_id=ZAHRA_NID)
# a neighbour at the same spot, and her sister-in-law of the home with another first name
NEIGHBOUR = _call("1403000003", 3, "علی کریمی", "+989150000003")
SISTER = _call("1403000004", 4, "مریم حسین‌زاده", "+989150000004")


def _groups(engine) -> dict[str, str]:
    m = store.entity_members
    with engine.connect() as conn:
        return {k: e for k, e in conn.execute(sa.select(m.c.source_key, m.c.entity_id).where(
            m.c.entity_type == "service_request"))}


def _members(engine) -> dict[str, str]:
    m = store.entity_members
    with engine.connect() as conn:
        return {f"{s}|{k}": e for s, k, e in conn.execute(sa.select(m.c.source, m.c.source_key, m.c.entity_id))}


def _req(call: dict) -> dict:
    return {"ref": f"{call['source']}|{call['source_key']}", "entity_type": "service_request",
            "fields": call["record"]}


def test_one_person_is_the_same_citizen_whatever_phone_and_name_form():
    calls = [_req(c) for c in (TITLE_ONLY, WHOLE_NAME, NEIGHBOUR, SISTER)]
    a, b, c, d = (r["ref"] for r in calls)
    assert group_followups(calls)[b] == b  # two phones, a title only: nothing else says it is she
    persons = {a: "P-zahra", b: "P-zahra", c: "P-ali", d: "P-maryam"}
    got = group_followups(calls, persons=persons)
    assert got[b] == a
    assert got[c] == c and got[d] == d  # the neighbour and the sister are other requests
    # names that contradict say two citizens whatever the persons step did: put in her
    # person, the sister is never in one request with «زهرا», and a man's «آقای حسین‌زاده»
    # never with either
    brother = _req(_call("1403000006", 2, "آقای حسین‌زاده", "+989150000006"))
    wrong = {**persons, d: "P-zahra", brother["ref"]: "P-zahra"}
    got = group_followups(calls + [brother], persons=wrong)
    assert got[d] != got[b] and got[brother["ref"]] == brother["ref"]
    # the same spot and category long after: a new request, whoever calls
    later = _req(_call("1403000005", 1, "زهرا حسین‌زاده", "+989150000002", national_id=ZAHRA_NID,
                       filed_at="2024-09-01T10:00:00"))
    assert group_followups(calls + [later], persons={**persons, later["ref"]: "P-zahra"})[later["ref"]] == later["ref"]


def test_a_person_merge_regroups_the_calls_in_an_incremental_run(store_url):
    engine = store.open_store(store_url)
    _publish(engine, [TITLE_ONLY, WHOLE_NAME, NEIGHBOUR, SISTER], T0, "L1")
    resolve_all(engine)
    before = _groups(engine)
    assert before["1403000001"] != before["1403000002"]  # nothing yet says the two callers are one
    _publish(engine, [_zahra()], T0 + dt.timedelta(hours=1), "L2")  # the registry: her mobile and id
    assert resolve_all(engine)["mode"] == "incremental"
    people = _members(engine)
    assert people["rc137.calls|1403000001#person"] == people["rc137.calls|1403000002#person"]
    after = _groups(engine)
    assert after["1403000002"] == after["1403000001"] == before["1403000001"]  # the first call's id stays
    assert len({after["1403000001"], after["1403000003"], after["1403000004"]}) == 3
    assert after["1403000003"] == before["1403000003"] and after["1403000004"] == before["1403000004"]
    resolve_all(engine, full=True)
    assert _members(engine) == {**people, **{f"rc137.calls|{k}": v for k, v in after.items()}}
    # a steward says the two callers are two people: the calls are two requests again
    _decide(engine, "rc137.calls|1403000001#person", "rc137.calls|1403000002#person", "no-match")
    assert resolve_all(engine)["mode"] == "incremental"
    people = _members(engine)
    assert people["rc137.calls|1403000001#person"] != people["rc137.calls|1403000002#person"]
    split = _groups(engine)
    assert split["1403000001"] == before["1403000001"] and split["1403000002"] != split["1403000001"]
    resolve_all(engine, full=True)
    assert _groups(engine) == split
    engine.dispose()


def _decide(engine, left: str, right: str, verdict: str) -> None:
    with engine.begin() as conn:
        conn.execute(store.match_decisions.insert().values(
            left_ref=min(left, right), right_ref=max(left, right), decision=verdict,
            decided_by="steward", decided_at=dt.datetime.now(dt.timezone.utc), note="two people"))
