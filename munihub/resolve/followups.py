"""137 follow-ups: repeated complaints about one problem become one request group.

Two requests are one problem when the same citizen reports the same category at the same place
(`spots.same_spot`: coordinates within `radius_m`, else same district and the same street and
alley (`places.place_key`, nested alleys included), the same landmark when either gives a
landmark and no alley (`places.landmark_key`: «جنب مسجد الزهرا» on that street), or a similar
address key when either gives no alley) within `window_days`.  The same citizen
(`callers.same_citizen`): a shared national id, mobile or landline, or agreeing names (the
surname, and the first name when both give one; half of a compound first name agrees), or both
calls' person mentions in one person entity (`persons`: the persons step weighed every source,
so «خانم حسین‌زاده» on one phone and «زهرا حسین‌زاده» with her national id on another are one
citizen once the registry says so; names that contradict or a title of the other gender still
say two); a caller who gave no name («ناشناس») at the same place is not a different citizen,
unless the named calls on that caller's number all give another surname
(`callers.hear_surnames`).  A neighbour with another name is (another request); a group member
that names less than the caller (a title and surname, «ناشناس») keeps him out only by a
contradicting name or another national id, not by the other household phone it called from; nor
does any member by its other number alone when the caller shares a number or id with another
member.  A title and surname filed under a generic category follows up that surname's request
at the place from any phone of the home; a title or first name of the other gender is someone
else.  A category listed in `generic_categories` («پیگیری درخواست») is the same as any, but a
group's generic follow-ups stand for the group's own category: a call of another category does
not join through them.  A generic follow-up at a place where exactly one request is open within
the window follows that one up whoever calls (`sole_request`: a wife of another surname, a
son), and so does a call under that request's category whose description names a member of the
home (`household_words`: «پیگیری درخواست همسرم»); with several open there, the one of the
caller's home (the plaque, `places.home_key`, or a shared phone: `spots.same_home`).  Such a
member keeps nobody out of the group, and lends its caller no thread
(`records.request_threads`).  The window is a chain: it counts from the most recent request
already in the group, so a complaint renewed every three weeks stays one problem; the same
place and category after a quiet month (long after the earlier one closed) starts a new group.
A request citing an earlier tracking code (`refers_to`, or quoted in the description in any
digits, with separators or not: `codes.quoted_codes`) always joins that request's group; one
whose status is listed in `duplicate_statuses` («تکراری») joins the group it cites, or else the
same citizen's latest group at that place of its category (or under a generic one) whatever its
age; one whose status is
listed in `reopened_statuses` («بازگشایی») the same citizen's latest group at that place of its
category past the window, up to `reopen_days`.  `why` says by which rule (`WHY`).  Group key =
ref of the group's earliest request (by filed_at, then ref): stable and independent of input
order.  Options: the `followup` mapping of the `service_request` match settings
(`FOLLOWUP_DEFAULTS`), checked by `followup_options`.  This module reads each call into a
profile (`_profile`) and groups them (`group_followups`); whether two calls are one citizen is
`callers`, one spot `spots`, and which quoted numbers are codes `codes`.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from collections import defaultdict
from typing import Any

from munihub.resolve.callers import backed, hear_surnames, same_citizen, vetoes
from munihub.resolve.codes import quoted_codes
from munihub.resolve.places import district_key, home_key, landmark_key, place_key
from munihub.resolve.spots import landmark_bucket, place_bucket, place_keys, same_home, same_spot

FOLLOWUP_DEFAULTS: dict[str, Any] = {
    "window_days": 30, "radius_m": 200.0,
    # a category naming one of these, or starting with one («پیگیری مجدد»، «پیگیری شکایت»), is a
    # follow-up's, not a problem's
    "generic_categories": ["پیگیری درخواست", "پیگیری", "تماس مجدد", "درخواست مجدد"],
    "quoted_codes": True,  # read earlier tracking codes from the description text
    # a request the operator marked as a duplicate joins the group it cites, or else the
    # citizen's latest earlier group at that place, whatever its category and age
    "duplicate_statuses": ["تکراری", "درخواست تکراری", "duplicate"],
    # a call under a generic category at a place where exactly one request is open within the
    # window follows that request up, whoever calls (a spouse, a son): a follow-up reports no
    # problem of its own, and there is only one to follow (`group_followups`)
    "sole_request": True,
    # a request the operator re-opened (the citizen says the closed one was not fixed) joins
    # the same citizen's latest earlier group at that place and category, up to `reopen_days`
    # after that group's last call, past the window: a re-opened ticket is no new problem
    "reopened_statuses": ["بازگشایی", "بازگشایی شده", "بازگشوده", "reopened"],
    "reopen_days": 180,
    # a description naming a member of the caller's home («پیگیری درخواست همسرم») says the
    # call follows that member's request up: under the category of the one request open at its
    # home it is that request's, whoever calls, as a generic follow-up is (with `sole_request`).
    # «پیگیری» alone is no such word: a citizen following up his own request is the same
    # citizen, and another citizen's «پیگیری» at the same place follows up his own
    "household_words": ["همسرم", "شوهرم", "خانمم", "پدرم", "مادرم", "پسرم", "دخترم", "فرزندم",
                        "برادرم", "خواهرم", "پدربزرگم", "مادربزرگم", "اعضای خانواده"],
}
# The rule a call joined an earlier call's group by (`group_followups`' `why`, the members'
# `rule` in the store), and what it means
CITED, SAME_CITIZEN, DUPLICATE, REOPENED = "followup:cited", "followup:same_citizen", "followup:duplicate", "followup:reopened"
SOLE_REQUEST, HOUSEHOLD = "followup:sole_request", "followup:household"
WHY = {CITED: "cites an earlier call's tracking code (refers_to, or quoted in the description)",
       SAME_CITIZEN: "the same citizen, category and place within the window of the group's last call",
       DUPLICATE: "marked a duplicate (duplicate_statuses): the same citizen's latest group at that place",
       REOPENED: "re-opened (reopened_statuses): the same citizen's latest request there, past the window, "
                 "within reopen_days",
       SOLE_REQUEST: "a generic follow-up at a place where one request (of the caller's home) was open",
       HOUSEHOLD: "names a member of the home (household_words) under the category of the one request "
                  "open at that home"}
def followup_options(conf: dict | None) -> dict[str, Any]:
    """The follow-up options of the service_request settings (`followup`) over the defaults;
    every problem is reported at once."""
    given = dict((conf or {}).get("followup") or {})
    problems = [f"unknown key {k!r} (known: {', '.join(sorted(FOLLOWUP_DEFAULTS))})"
                for k in sorted(set(given) - set(FOLLOWUP_DEFAULTS))]
    for key in ("window_days", "radius_m", "reopen_days"):
        if key in given and (isinstance(given[key], bool) or not isinstance(given[key], (int, float))
                             or given[key] <= 0):
            problems.append(f"{key} must be a positive number, not {given[key]!r}")
    cats = given.get("generic_categories", [])
    if not isinstance(cats, list) or not all(isinstance(c, str) and c.strip() for c in cats):
        problems.append(f"generic_categories must be a list of category names, not {cats!r}")
    for key in ("duplicate_statuses", "reopened_statuses", "household_words"):
        values = given.get(key, [])
        if not isinstance(values, list) or not all(isinstance(c, str) and c.strip() for c in values):
            problems.append(f"{key} must be a list of {'words' if key.endswith('words') else 'status values'}, "
                            f"not {values!r}")
    for key in ("quoted_codes", "sole_request"):
        if not isinstance(given.get(key, True), bool):
            problems.append(f"{key} must be true or false, not {given[key]!r}")
    if problems:
        from munihub.errors import ConfigError
        raise ConfigError("; ".join(problems), where="match settings: service_request.followup",
                          hint="fix these keys (see docs/resolution.md, 137 follow-ups)")
    return {**FOLLOWUP_DEFAULTS, **given}


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


def _name_parts(value: Any, title: Any = None) -> tuple[str | None, str | None, str | None]:
    """(first, last) name keys of a one-field caller name and the gender its title (or the
    form's title field, `title`) or first name says; all None when nobody is named."""
    if not isinstance(value, str) or not value.strip():
        return None, None, None
    from munihub.persian.person_names import parse_name
    from munihub.resolve.match import gender_of_first
    from munihub.persian import title_gender

    parsed = parse_name(value)
    if parsed is None or parsed.placeholder:
        return None, None, None
    first = _key(parsed.first, "name")
    said = title_gender(parsed.title) or (title_gender(title) if isinstance(title, str) else None)
    return first, _key(parsed.last, "name"), said or (gender_of_first(first) if first else None)


def _name_numbers(value: Any, fields: dict) -> dict[str, str]:
    """A caller's mobile, landline or national id written into the name field («علی رضایی
    (۰۹۱۵…)»), for those the call's own fields lack (`persian.contacts_in`)."""
    if not isinstance(value, str) or not any(c.isdigit() for c in value):
        return {}
    from munihub.persian import contacts_in, parse_name

    parsed = parse_name(value)
    got = contacts_in(parsed.numbers) if parsed is not None else {}
    return {("nid" if k == "national_id" else k): v for k, v in got.items() if not fields.get(k)}


@functools.lru_cache(maxsize=16)
def _followup_pattern(words: tuple[str, ...]) -> re.Pattern | None:
    from munihub.persian import normalize_text

    words = sorted({w for w in (normalize_text(x) for x in words) if w}, key=len, reverse=True)
    # a word starts the match («پیگیری‌ها», «پیگیریِ» too), not the middle of another word
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, words)) + ")") if words else None


def names_household(description: Any, words: tuple[str, ...]) -> bool:
    """Whether a call's description names a member of the caller's home (`household_words`:
    «پیگیری درخواست همسرم», «… پدرم»): the call follows that member's request up."""
    from munihub.persian import normalize_text

    pattern = _followup_pattern(tuple(words))
    text = normalize_text(str(description)) if isinstance(description, str) and description.strip() else None
    return bool(pattern and text and pattern.search(text))


@functools.lru_cache(maxsize=16)
def _generic_keys(categories: tuple[str, ...]) -> frozenset[str]:
    return frozenset(k for k in map(_key, categories) if k)


def _is_generic(category: str | None, generic: frozenset[str]) -> bool:
    """A follow-up's category: one of `generic_categories` or a longer one starting with one
    («پیگیری مجدد»، «پیگیری درخواست قبلی» after «پیگیری»)."""
    return bool(category) and (category in generic or any(category.startswith(g) for g in generic))


def _profile(req: dict, options: dict | None = None, person: str | None = None) -> dict:
    options = options or FOLLOWUP_DEFAULTS
    f = _fields(req)
    generic = _generic_keys(tuple(options["generic_categories"]))
    category = _key(f.get("category"))
    # every number is compared with the known codes (`group_followups`): no shape needed
    quoted = set(quoted_codes(f.get("description"))) if options["quoted_codes"] else set()
    first, last, gender = _name_parts(f.get("citizen_name"), f.get("citizen_title"))
    status = _key(f.get("status"))
    duplicate = status in {_key(c) for c in options.get("duplicate_statuses", ())} - {None}
    reopened = status in {_key(c) for c in options.get("reopened_statuses", ())} - {None}
    return {"ref": req["ref"], "when": _when(f.get("filed_at"), req["ref"]),
            "tracking": str(f.get("tracking_code") or "") or None,
            "refers_to": str(f.get("refers_to") or "") or None, "quoted": sorted(quoted),
            "citizen": {k: v for k, v in (("nid", f.get("national_id") or None),
                                          ("mobile", f.get("mobile") or None),
                                          ("phone", f.get("phone") or None),
                                          ("name", _key(f.get("citizen_name"), "name")),
                                          ("person", person)) if v}
            | _name_numbers(f.get("citizen_name"), f),
            "first": first, "last": last, "gender": gender,
            "category": category, "generic": _is_generic(category, generic), "duplicate": duplicate,
            "reopened": reopened, "for_household": names_household(f.get("description"), tuple(options["household_words"])),
            "district": district_key({"district": f.get("district")}),  # «منطقه ۳» is «3»
            "address": _key(f.get("address")), "place": place_key(f.get("address")), "landmark": landmark_key(f.get("address")),
            "home": home_key(f.get("address")),
            "coords": _coords(f)}


def _same_category(a: dict, b: dict) -> bool:
    return bool(a["category"]) and (a["category"] == b["category"] or a["generic"] or b["generic"])


def _of_category(p: dict, members: list[dict]) -> bool:
    """Whether `p` may be about the problem of a group: a generic follow-up follows any, a
    call with its own category (a duplicate too: «تکراری» under another category whose
    original is not in the data is no duplicate of the caller's other problem at home)
    only a group that reported that category (its
    generic follow-ups stand for the group's category, not for any: a household's «پیگیری
    درخواست» about the rubbish does not make the mother's street-light call on the same
    mobile a day later part of it)."""
    own = {q["category"] for q in members if not q["generic"]}
    return p["generic"] or not own or p["category"] in own


def _in_district(p: dict, members: list[dict]) -> bool:
    """Whether `p`'s district, if given, is one the group gives (or the group gives none): a
    member whose district was left out must not bridge two districts' alleys of one name."""
    if p["coords"]:
        return True  # coordinates decide the place (`same_problem`)
    known = {q["district"] for q in members if q["district"]}
    return not (p["district"] and known) or p["district"] in known


def _named(p: dict) -> bool:
    return bool(p["first"] or p["last"])


def same_problem(a: dict, b: dict, radius_m: float = 200.0, any_category: bool = False) -> bool:
    """Same citizen, same category (any, with `any_category`), same place (profiles from `_profile`)."""
    if not (any_category or _same_category(a, b)) or not same_citizen(a, b):
        return False
    if not any(a["citizen"].get(k) == v for k, v in b["citizen"].items()):
        if not ((a["district"] or a["place"]) and a["address"]):
            return False  # without an id in common, the place must be known
        if not (_named(a) and _named(b)) and (a["generic"] or b["generic"] or a["category"] != b["category"]):
            return False  # a nameless "follow-up" with no number in common could be anyone's
    return same_spot(a, b, radius_m)


def group_followups(requests: list[dict], window_days: int | None = None,
                    radius_m: float | None = None, options: dict | None = None,
                    persons: dict[str, str] | None = None, why: dict[str, str] | None = None) -> dict[str, str]:
    """Map each request ref to its group key (the ref of the group's first request).

    `options` as `followup_options` returns them; `window_days`/`radius_m` override them.
    `persons`: request ref -> the person entity its caller's mention was resolved to; two
    calls whose mentions are one person are the same citizen whatever phone or name form
    each gave (the place, category and window still decide).  `why`, when given, gets the
    rule each call joined an earlier one's group by (`WHY`); a group's first call has none."""
    options = {**FOLLOWUP_DEFAULTS, **(options or {})}
    window_days = options["window_days"] if window_days is None else window_days
    radius_m = options["radius_m"] if radius_m is None else radius_m
    persons = persons or {}
    profiles = sorted((_profile(r, options, persons.get(r["ref"])) for r in requests),
                      key=lambda p: (p["when"], p["ref"]))
    hear_surnames(profiles)
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
    # a re-opened ticket looks back further, never less far, than any call
    reopen_window = max(window, dt.timedelta(days=options["reopen_days"]))
    buckets: dict[tuple, set[str]] = defaultdict(set)  # citizen key or place -> refs
    districts: dict[tuple, set] = defaultdict(set)  # a street and alley -> the districts its calls gave
    cited = []
    for p in profiles:  # in time order, so a group's `last` only grows
        codes = [p["refers_to"]] if p["refers_to"] else []
        targets = [by_tracking[c] for c in codes + p["quoted"] if by_tracking.get(c) not in (None, p["ref"])]
        cited.extend((p["ref"], t) for t in targets)
        earlier = [t for t in targets if order[t] < order[p["ref"]]]
        if earlier:
            for target in earlier:
                union(target, p["ref"])
            rule = CITED
        else:
            keys = [(k, v) for k, v in p["citizen"].items()] + place_keys(p, districts)
            roots = {find(r) for key in keys for r in buckets.get(key, ())}
            best = None
            for root in sorted(roots, key=lambda r: order[r]):
                # one agreeing member is enough, but no member may be another citizen: a
                # nameless caller in a group must not let a neighbour in (`callers.vetoes`)
                gap = p["when"] - last[root]
                if (p["duplicate"] or gap <= (reopen_window if p["reopened"] else window)) and \
                        _of_category(p, members[root]) and \
                        _in_district(p, members[root]) and \
                        any(same_problem(p, q, radius_m, p["duplicate"]) for q in members[root]) and \
                        not any(vetoes(q, p, backed(p, members[root])) for q in members[root]
                                if not q.get("household")):
                    if best is None or last[root] > last[best]:
                        best = root
            rule = DUPLICATE if p["duplicate"] else \
                REOPENED if p["reopened"] and best is not None and p["when"] - last[best] > window else SAME_CITIZEN
            if best is None and (p["generic"] or p["for_household"]) and options["sole_request"] and \
                    ((p["district"] or p["place"]) and p["address"] or p["coords"]):
                # a follow-up by another member of the home (a spouse of another surname, a
                # son): with one request open at the place it is that one's; with two, or none,
                # the same-citizen test above decides alone
                here = {find(r) for key in place_keys(p, districts) for r in buckets.get(key, ())}
                open_ = [root for root in here if p["when"] - last[root] <= window and
                         _in_district(p, members[root]) and _of_category(p, members[root]) and
                         any(same_spot(p, q, radius_m) for q in members[root])]
                if len(open_) > 1:
                    # a neighbour's request is open there too: the one of the caller's home
                    # (its plaque, or a phone of the home) is the one followed up
                    open_ = [root for root in open_ if any(same_home(p, q) for q in members[root])]
                if len(open_) == 1:
                    best, rule = open_[0], SOLE_REQUEST if p["generic"] else HOUSEHOLD
                    # who the request's citizen is, its own calls say: not one of the home
                    p["household"] = True
            if best is not None:
                union(best, p["ref"])
            else:
                rule = None
        if rule and why is not None:
            why[p["ref"]] = rule
        for k, v in p["citizen"].items():
            buckets[(k, v)].add(p["ref"])
        if p["district"] and p["address"]:
            buckets[("place", p["district"], p["address"])].add(p["ref"])
        for key in landmark_bucket(p):
            buckets[key].add(p["ref"])
        if p["place"]:
            buckets[place_bucket(p, p["district"])].add(p["ref"])
            districts[place_bucket(p)].add(p["district"])
    for ref, target in cited:  # a citation of a later-filed request joins afterwards
        if why is not None and find(ref) != find(target):
            why.setdefault(max((ref, target), key=lambda r: order[r]), CITED)
        union(ref, target)
    return {ref: find(ref) for ref in parent}

