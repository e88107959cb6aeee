"""Records no one can place: a thin record of a name that a father and his namesake son at
one home both hold (munihub.resolve.namesakes) joins neither."""
from __future__ import annotations

import datetime as dt

from munihub import store
from munihub.resolve import match, namesakes, partial
from munihub.resolve.conflicts import conflict_of
from munihub.resolve.run import resolve_all

from test_partial import _members, _publish, _row, _rule
from test_pooled import nid, parts

CONF = match.settings_for("person")
ROSTER = partial.roster_settings("person", CONF)
HOME = {"phone": "+985131111111", "postal_code": "9188811111", "place": "توس/12"}
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def person(first, last="موسوی", **more) -> dict:
    return {k: v for k, v in {"first_key": first, "last_key": last, **more}.items() if v}


# the father محمد موسوی (registry, bank), his namesake son (registry), and a culture centre
# member «محمد موسوی» who gave his street and alley alone, joined to the father by the scores
FATHER = {"reg|1": person("محمد", national_id=nid(1), birth_date="1960-03-01", mobile="+989150000001",
                          gender="male", **HOME),
          "bank|1": person("mohammad", "mousavi", national_id=nid(1), birth_date="1960-03-01",
                           mobile="+989150000001")}
SON = {"reg|2": person("محمد", national_id=nid(2), birth_date="1990-07-01", father_key="محمد",
                       gender="male", **HOME)}
THIN = {"culture|1": person("محمد", place=HOME["place"])}


def separate(feats, together, matched=frozenset(), why=None):
    return namesakes.separate(parts(feats, together), feats, ROSTER, conflict_of(feats, CONF), matched, why)


def test_a_thin_record_of_a_name_father_and_son_hold_at_one_home_joins_neither():
    feats = {**FATHER, **SON, **THIN}
    why: dict[str, str] = {}
    out = separate(feats, [{"reg|1", "bank|1", "culture|1"}], why=why)
    assert out["culture|1"] == "culture|1" and why == {"culture|1": namesakes.SEPARATED}
    assert out["reg|1"] == out["bank|1"] == "bank|1" and out["reg|2"] == "reg|2"
    assert partial.WHY[namesakes.SEPARATED]


def test_so_does_a_bill_on_the_homes_landline_joined_to_the_son():
    bills = {"bill|1": person("محمد", **HOME), "bill|2": person("محمد", **HOME)}
    feats = {**FATHER, **SON, **bills}
    out = separate(feats, [{"reg|2", "bill|1", "bill|2"}, {"reg|1", "bank|1"}])
    # the home's bills under the name stay together (a landline beside one whole name), apart from both
    assert out["bill|1"] == out["bill|2"] == "bill|1"
    assert out["reg|2"] == "reg|2" and out["reg|1"] == "bank|1"


def test_without_a_namesake_at_home_nothing_moves():
    feats = {**FATHER, "reg|2": {**SON["reg|2"], "first_key": "علی"}, **THIN}
    together = [{"reg|1", "bank|1", "culture|1"}]
    assert separate(feats, together) == parts(feats, together)
    # nor when the other «محمد موسوی» lives elsewhere
    feats = {**FATHER, "reg|2": person("محمد", national_id=nid(2), birth_date="1990-07-01",
                                       phone="+985132222222", place="سجاد/3"), **THIN}
    assert separate(feats, together) == parts(feats, together)


def test_a_record_tied_by_something_personal_or_a_steward_stays():
    feats = {**FATHER, **SON, "culture|1": {**THIN["culture|1"], "mobile": "+989150000001"}}
    together = [{"reg|1", "bank|1", "culture|1"}]
    assert separate(feats, together) == parts(feats, together)  # the father's mobile
    feats = {**FATHER, **SON, **THIN}
    matched = {("culture|1", "reg|1"), ("reg|1", "culture|1")}
    assert separate(feats, together, matched) == parts(feats, together)


def test_a_bill_beside_its_sources_bill_stating_the_id_stays():
    # the water company's bills of one subscriber at one home, one with his national id typed in
    bills = {"bill|0": person("محمد", national_id=nid(1), **HOME), "bill|1": person("محمد", **HOME)}
    feats = {**FATHER, **SON, **bills}
    together = [{"reg|1", "bank|1", "bill|0", "bill|1"}]
    assert separate(feats, together) == parts(feats, together)
    # another source's record there is no bill of that subscriber
    feats = {**feats, "call|1#person": person("محمد", **HOME)}
    together = [{"reg|1", "bank|1", "bill|0", "bill|1", "call|1#person"}]
    assert separate(feats, together)["call|1#person"] == "call|1#person"


def test_the_full_run_leaves_the_thin_record_alone_and_an_incremental_run_too(tmp_path):
    """The father and the member first: one person; the son's registry row arrives: the
    member's record leaves, in an incremental run as in a full one."""
    address = "مشهد، بلوار توس، کوچه ۱۲، پلاک ۵"

    def citizen(key, n, born, father=None):
        return _row("registry.citizens", key, "person", {
            "national_id": nid(n), "first_name": "محمد", "last_name": "موسوی", "gender": "male",
            "birth_date": born, "father_name": father, "phone": HOME["phone"],
            "postal_code": HOME["postal_code"], "address": address})

    member = _row("culture.members", "M1", "person", {"first_name": "محمد", "last_name": "موسوی",
                                                       "address": "توس 12"})
    # the father's own records outnumber the son's: a tie of the scores would go his way
    # (clustering._ties), so the member's record is his by the scores
    other = _row("culture.members", "M0", "person", {"first_name": "محمد", "last_name": "موسوی",
                                                      "national_id": nid(1), "address": "توس 12"})
    engine = store.open_store(f"sqlite:///{tmp_path / 'namesakes.db'}")
    _publish(engine, [citizen("R1", 1, "1960-03-01", "علی"), member, other], T0, "L1")
    resolve_all(engine)
    before = _members(engine)
    assert before["culture.members|M1"] == before["registry.citizens|R1"]
    _publish(engine, [citizen("R2", 2, "1990-07-01", "محمد")], T0 + dt.timedelta(hours=1), "L2")
    assert resolve_all(engine)["mode"] == "incremental"
    after = _members(engine)
    assert after["culture.members|M1"] not in (after["registry.citizens|R1"], after["registry.citizens|R2"])
    assert _rule(engine, "culture.members|M1") == namesakes.SEPARATED
    resolve_all(engine, full=True)
    assert _members(engine) == after


def test_a_son_named_as_his_father_beside_a_sibling_puts_the_father_at_home():
    """The father has no row of his own; the son's names him by the son's own name, and a
    sister's row names the same father: the home's bills in that name are either man's."""
    bills = {"bill|1": person("محمد", **HOME), "bill|2": person("محمد", **HOME)}
    sister = {"reg|3": person("زهرا", national_id=nid(3), birth_date="1994-01-01", father_key="محمد",
                              gender="female", **HOME)}
    feats = {**SON, **sister, **bills}
    why: dict[str, str] = {}
    out = separate(feats, [{"reg|2", "bill|1", "bill|2"}], why=why)
    assert out["bill|1"] == out["bill|2"] == "bill|1" and out["reg|2"] == "reg|2"
    assert why == {"bill|1": namesakes.SEPARATED, "bill|2": namesakes.SEPARATED}
    # no sibling: a man named as his own father heads many homes, and the bills are his
    together = [{"reg|2", "bill|1", "bill|2"}]
    feats = {**SON, **bills}
    assert separate(feats, together) == parts(feats, together)
    # a child of his (born thirty years after him) is no sibling
    feats = {**SON, **bills, "reg|3": {**sister["reg|3"], "birth_date": "2020-01-01"}}
    assert separate(feats, together) == parts(feats, together)


def test_resolve_partials_takes_the_namesake_out_and_says_why():
    feats = {**FATHER, **SON, **THIN}
    why: dict[str, str] = {}
    together = [{"reg|1", "bank|1", "culture|1"}]
    out = partial.resolve_partials(parts(feats, together), feats, ROSTER, conflict_of(feats, CONF), why=why)
    assert out["culture|1"] == "culture|1" and why == {"culture|1": namesakes.SEPARATED}
