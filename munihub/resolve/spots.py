"""Where 137 calls are one spot: the place tests of follow-up grouping, and its place buckets.

A follow-up reports the problem at the place the first call did, so two calls of one request
must be at one spot (`same_spot`): coordinates within a radius (`distance_m`), else the same
street and alley (`same_place` on `places.place_key`, a street one key writes after a word
more included), the same landmark when a call gives no alley, or similar address text, all
in one district (a district left out on one call does not undo an agreeing street and
alley).  `same_home` tells the caller's home from a neighbour's on the alley (the plaque,
`places.home_key`, or a phone in common), for a follow-up by another member of the home.
`place_keys` are the blocking buckets `followups.group_followups` finds a call's candidate
groups through: every `same_place` pair in one district shares one.  Calls are the profiles
`followups._profile` builds; plain functions, no store.
"""
from __future__ import annotations

import math

# Two address texts that read no street and alley, in one district, are one spot from this
# Jaro-Winkler similarity on
ADDRESS_SIMILARITY = 0.9


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in metres (haversine)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(h))


def same_place(a: str, b: str) -> bool:
    """Two `street/alley` keys of one place: the same alley of the same street, or of a street
    one key writes after a word more («مشهد کوهسنگی ۵۱» is «کوهسنگی، کوچه ۵۱»)."""
    if a == b:
        return True
    (sa, la), (sb, lb) = a.rsplit("/", 1), b.rsplit("/", 1)
    short, long_ = sorted((sa, sb), key=len)
    return la == lb and len(short) >= 3 and long_.endswith(short)


def place_bucket(p: dict, district: str | None = None) -> tuple:
    """A blocking key every `same_place` pair in one district shares: the alley, the street's
    last letters and the district (None: a call that gives none)."""
    street, lane = p["place"].rsplit("/", 1)
    return ("lane", lane, street[-3:], district)


def _place_lookups(p: dict, districts: dict[tuple, set]) -> list[tuple]:
    """The place buckets `p` may share a group with: its district's and the calls' that give
    none; a call that gives none, every district's of its street and alley."""
    if not p["place"]:
        return []
    given = [p["district"]] if p["district"] else sorted(d for d in districts.get(place_bucket(p), ()) if d)
    return [place_bucket(p, d) for d in given] + [place_bucket(p)]


def landmark_bucket(p: dict) -> list[tuple]:
    """A landmark location's blocking key: its district and landmark (`places.landmark_key`)."""
    return [("landmark", p["district"], p["landmark"])] if p.get("landmark") and p["district"] else []


def place_keys(p: dict, districts: dict[tuple, set]) -> list[tuple]:
    """Every place bucket a call may share a group through (its address text, street and
    alley, landmark)."""
    return ([("place", p["district"], p["address"])] if p["district"] and p["address"] else []) + \
        _place_lookups(p, districts) + landmark_bucket(p)


def same_spot(a: dict, b: dict, radius_m: float = 200.0) -> bool:
    """Two calls' places are one spot: coordinates within `radius_m`, else the same street and
    alley, landmark or similar address text in one district (call profiles: `followups._profile`)."""
    if a["coords"] and b["coords"]:
        return distance_m(a["coords"], b["coords"]) <= radius_m
    if a["district"] and b["district"] and a["district"] != b["district"]:
        return False
    if a.get("place") and b.get("place"):
        # street and alley both read: «کوچه 42» is not «کوچه 15»; a district left out
        # (the operator skipped it on one call) does not undo an agreeing street and alley
        return same_place(a["place"], b["place"])
    if not (a["district"] and b["district"]):
        return False
    if a.get("landmark") or b.get("landmark"):
        # a landmark and no alley («جنب مسجد الزهرا») is one spot by its text, in one district:
        # not «روبروی پارک ملت» on the street, nor an alley of it
        return a.get("landmark") == b.get("landmark")
    if a["address"] and b["address"]:
        import jellyfish
        return jellyfish.jaro_winkler_similarity(a["address"], b["address"]) >= ADDRESS_SIMILARITY
    return True


def same_home(a: dict, b: dict) -> bool:
    """Two calls from one home: the same street, alley and plaque (`places.home_key`), or a
    mobile or landline in common (call profiles: `followups._profile`)."""
    if a.get("home") and b.get("home"):
        (pa, na), (pb, nb) = a["home"].rsplit("#", 1), b["home"].rsplit("#", 1)
        if na == nb and same_place(pa, pb):
            return True
    return any(a["citizen"].get(k) and a["citizen"].get(k) == b["citizen"].get(k) for k in ("mobile", "phone"))
