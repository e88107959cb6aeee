"""Golden-record survivorship: pick each field's surviving value from a cluster's members.

Rules per field (top-level fields; a nested `address` survives as one object so parts of
two addresses never mix):
  trust     higher source trust, then newer `updated_at`, then smaller ref
  recent    newer `updated_at`, then trust, then ref (phones, addresses move)
  valid     a valid value (national id check digit, +989 mobile) beats an invalid one, then trust
  frequent  the most frequent value by name key (spelling variants count together), then trust
  collect   every distinct value, sorted (titles: سید, دکتر, … are attributes, not names)
Every golden value carries lineage: the member ref and load id it came from.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

RULES: dict[str, dict[str, str]] = {
    "person": {"national_id": "valid", "first_name": "frequent", "last_name": "frequent",
               "full_name": "frequent", "father_name": "frequent", "mobile": "valid",
               "phone": "recent", "email": "recent", "address": "recent",
               "postal_code": "recent", "title": "collect", "*": "trust"},
    "service_request": {"status": "recent", "closed_at": "recent", "*": "trust"},
    "permit": {"status": "recent", "expires_on": "recent", "*": "trust"},
    "agency": {"name": "frequent", "*": "trust"},
}


# Fields a match record carries for matching only, never a golden value: a national id set
# aside at publish for its wrong check digit (`records.SET_ASIDE_ID`) waits for a steward;
# the date of the row naming a mention (`records.MENTIONED_ON`) is the row's, not the person's;
# a landline without its city code (`records.PHONE_LOCAL`) belongs to a city only guessed; a
# foreign national's number (`records.FOREIGN_ID`) was set aside from a national id column.
MATCH_ONLY = frozenset({"national_id_set_aside", "mentioned_on", "phone_local", "foreign_id"})


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _valid(field: str, value: Any) -> bool:
    from munihub.resolve.ids import valid_id

    if field == "national_id":
        return valid_id("national_id", str(value))
    if field == "mobile":
        text = str(value)
        return text.startswith("+989") and len(text) == 13 and text[1:].isdigit()
    return True


def _ranked(candidates: list[dict]) -> list[dict]:
    """Members best-first by trust, then recency, then ref (stable multi-key sort)."""
    out = sorted(candidates, key=lambda m: m["ref"])
    out.sort(key=lambda m: str(m.get("updated_at") or ""), reverse=True)
    out.sort(key=lambda m: int(m.get("trust") or 0), reverse=True)
    return out


def _pick(field: str, rule: str, ranked: list[dict]) -> dict:
    """The winning member for one field; `ranked` is already best-first (`_ranked`)."""
    if len(ranked) == 1:
        return ranked[0]
    ranked = list(ranked)
    if rule == "recent":
        ranked.sort(key=lambda m: str(m.get("updated_at") or ""), reverse=True)
    elif rule == "valid":
        ranked.sort(key=lambda m: _valid(field, m["fields"][field]), reverse=True)
    elif rule == "frequent":
        from munihub.resolve.match import _transform

        groups: dict[str, list[dict]] = defaultdict(list)
        for m in ranked:  # keeps best-first order inside each group
            groups[_transform(m["fields"][field], "name") or ""].append(m)
        position = {id(m): i for i, m in enumerate(ranked)}
        best = min(groups.values(), key=lambda g: (-len(g), position[id(g[0])]))
        return best[0]
    return ranked[0]


def _titles(values: list[Any]) -> list[str]:
    out = set()
    for value in values:
        out.update(value if isinstance(value, (list, tuple, set)) else str(value).split())
    return sorted(t for t in out if t)


def golden_record(entity_type: str, members: list[dict], rules: dict[str, str] | None = None
                  ) -> tuple[dict[str, Any], dict[str, dict]]:
    """The golden record of one cluster and its lineage `{field: {ref, load_id, value, rule}}`.

    `members` are match records (`ref`, `fields`, `trust`, `updated_at`, `load_id`); `rules`
    maps field -> rule name over the entity type's defaults (`"*"` sets the fallback)."""
    conf = {**RULES.get(entity_type, {"*": "trust"}), **(rules or {})}
    # `v or`: most values are non-empty strings, which need no further test (a million
    # entities' golden records call this for every value of every member)
    fields = sorted({f for m in members for f, v in (m.get("fields") or {}).items()
                     if (v or not _empty(v)) and f not in MATCH_ONLY})
    golden: dict[str, Any] = {}
    lineage: dict[str, dict] = {}
    best_first = _ranked(members) if len(members) > 1 else members  # once, not per field
    for field in fields:
        rule = conf.get(field, conf.get("*", "trust"))
        having = [m for m in best_first if (v := (m.get("fields") or {}).get(field)) or not _empty(v)]
        if rule == "collect":
            ranked = having
            golden[field] = _titles([m["fields"][field] for m in ranked])
            lineage[field] = {"ref": ranked[0]["ref"], "load_id": ranked[0].get("load_id"),
                              "value": golden[field], "rule": rule,
                              "refs": sorted(m["ref"] for m in having)}
            continue
        winner = _pick(field, rule, having)
        golden[field] = winner["fields"][field]
        lineage[field] = {"ref": winner["ref"], "load_id": winner.get("load_id"),
                          "value": golden[field], "rule": rule}
    return golden, lineage
