"""137 follow-ups: repeated complaints about one problem become one request group.

Two requests are one problem when the same citizen (national id, mobile or name key) reports
the same category at the same place (coordinates within `radius_m`, else same district and a
similar address key) within `window_days`.  The window is a chain: it counts from the most
recent request already in the group, so a complaint renewed every three weeks stays one
problem; a complaint after a quiet month starts a new group.  A request citing an earlier
tracking code (`refers_to`) always joins that request's group, window or not.
Group key = ref of the group's earliest request (by filed_at, then ref): stable and
independent of input order.
"""
from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from typing import Any

ADDRESS_SIMILARITY = 0.9


def _fields(req: dict) -> dict:
    return req.get("fields", req)


def _when(value: Any, ref: str) -> dt.datetime:
    try:
        when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    except ValueError:
        from munihub.errors import MunihubError
        raise MunihubError(f"filed_at {value!r} is not an ISO date", where=f"request {ref}",
                           hint="normalize 137 dates to ISO before grouping") from None
    if when.tzinfo is not None:
        when = when.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return when


def _key(value: Any, how: str = "text") -> str | None:
    from munihub.resolve.match import _transform

    if isinstance(value, dict):
        value = " ".join(str(value[k]) for k in ("street", "alley", "plate", "detail") if value.get(k))
    return _transform(value, how)


def _coords(f: dict) -> tuple[float, float] | None:
    try:
        return float(f["latitude"]), float(f["longitude"])
    except (KeyError, TypeError, ValueError):
        return None


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in metres (haversine)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(h))


def _profile(req: dict) -> dict:
    f = _fields(req)
    return {"ref": req["ref"], "when": _when(f.get("filed_at"), req["ref"]),
            "tracking": str(f.get("tracking_code") or "") or None,
            "refers_to": str(f.get("refers_to") or "") or None,
            "citizen": {k: v for k, v in (("nid", f.get("national_id") or None),
                                          ("mobile", f.get("mobile") or None),
                                          ("name", _key(f.get("citizen_name"), "name"))) if v},
            "category": _key(f.get("category")), "district": _key(f.get("district")),
            "address": _key(f.get("address")), "coords": _coords(f)}


def same_problem(a: dict, b: dict, radius_m: float = 200.0) -> bool:
    """Same citizen, same category, same place (profiles from `_profile`)."""
    if not a["category"] or a["category"] != b["category"]:
        return False
    if not any(a["citizen"].get(k) == v for k, v in b["citizen"].items()):
        return False
    if a["coords"] and b["coords"]:
        return distance_m(a["coords"], b["coords"]) <= radius_m
    if not a["district"] or a["district"] != b["district"]:
        return False
    if a["address"] and b["address"]:
        import jellyfish
        return jellyfish.jaro_winkler_similarity(a["address"], b["address"]) >= ADDRESS_SIMILARITY
    return True


def group_followups(requests: list[dict], window_days: int = 30,
                    radius_m: float = 200.0) -> dict[str, str]:
    """Map each request ref to its group key (the ref of the group's first request)."""
    profiles = sorted((_profile(r) for r in requests), key=lambda p: (p["when"], p["ref"]))
    by_tracking = {p["tracking"]: p["ref"] for p in profiles if p["tracking"]}
    parent = {p["ref"]: p["ref"] for p in profiles}

    def find(ref: str) -> str:
        while parent[ref] != ref:
            parent[ref] = parent[parent[ref]]
            ref = parent[ref]
        return ref

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:  # roots are first requests; the earlier one stays root
            first, later = sorted((ra, rb), key=lambda r: order[r])
            parent[later] = first
            last[first] = max(last[first], last[later])
            members[first] += members.pop(later)

    order = {p["ref"]: i for i, p in enumerate(profiles)}
    last = {p["ref"]: p["when"] for p in profiles}  # per root: most recent request
    members = {p["ref"]: [p] for p in profiles}
    window = dt.timedelta(days=window_days)
    buckets: dict[tuple, set[str]] = defaultdict(set)  # (category, citizen key) -> refs
    cited = []
    for p in profiles:  # in time order, so a group's `last` only grows
        target = by_tracking.get(p["refers_to"]) if p["refers_to"] else None
        if target and target != p["ref"]:
            cited.append((p["ref"], target))
        if target and order[target] < order[p["ref"]]:
            union(target, p["ref"])
        else:
            roots = {find(r) for k, v in p["citizen"].items()
                     for r in buckets.get((p["category"], k, v), ())}
            best = None
            for root in sorted(roots, key=lambda r: order[r]):
                if p["when"] - last[root] <= window and \
                        any(same_problem(p, q, radius_m) for q in members[root]):
                    if best is None or last[root] > last[best]:
                        best = root
            if best is not None:
                union(best, p["ref"])
        for k, v in p["citizen"].items():
            buckets[(p["category"], k, v)].add(p["ref"])
    for ref, target in cited:  # a citation of a later-filed request joins afterwards
        union(ref, target)
    return {ref: find(ref) for ref in parent}
