"""Whether two 137 calls are one citizen: the caller tests of follow-up grouping.

A follow-up is the same citizen's call about the same problem, but hotline callers say who
they are unevenly: a national id, a mobile or a household's landline, a whole name, a title
and surname («خانم احمدی»), or nothing («ناشناس»); and a neighbour with another name reports
the same pothole, a daughter calls on her father's phone.  `same_citizen` decides a pair:
a shared national id, names that do not contradict backed by a shared number, one person
entity from the persons step, names that fully agree, or a partial or missing name with no
other number or id; never a title or first name of the other gender.  Within a group,
`vetoes` says when a member keeps a caller out (a member naming less than the caller does so
only by a contradicting name or another national id), `backed` when the caller shares a
number or id with a member, and `hear_surnames` lends a nameless call the one surname its
number's named calls give.  Calls are the profiles `followups._profile` builds; plain
functions, no store.
"""
from __future__ import annotations

from collections import defaultdict

from munihub.persian.names import one_name_across_scripts, two_scripts

def _differ(a: str | None, b: str | None, by: int = 1) -> bool:
    """Both given and at least `by` characters apart (a mistyped id is one digit off)."""
    return bool(a and b) and (len(a) != len(b) or sum(x != y for x, y in zip(a, b)) >= by)


def same_citizen(a: dict, b: dict) -> bool:
    """The same national id, or names that do not contradict backed by a shared number, or
    one person entity (`followups.group_followups`' `persons`), or names that fully agree, or a partial
    or missing name with no other number or id (a title and surname under a generic follow-up
    category: from any phone of the home); never a title or first name of the other gender."""
    ca, cb = a["citizen"], b["citizen"]
    if ca.get("nid") and ca.get("nid") == cb.get("nid"):
        return True
    heard_a, heard_b = a["last"] or a.get("heard_last"), b["last"] or b.get("heard_last")
    if _names_differ(heard_a, heard_b) and not any(
            ca.get(k) and ca.get(k) == cb.get(k) for k in ("mobile", "phone")):
        return False  # «ناشناس» on the number a neighbour named himself on is that neighbour
    fa, fb = a["first"], b["first"]
    if _names_differ(a["last"], b["last"]):
        return False  # a neighbour with another surname reports the same pothole
    if _names_differ(fa, fb, halves=True):
        return False  # two first names (half of a compound, محمدرضا / رضا, agrees): a household's phone
    if any(ca.get(k) and ca.get(k) == cb.get(k) for k in ("mobile", "phone")):
        return True
    if a.get("gender") and b.get("gender") and a["gender"] != b["gender"]:
        return False  # «خانم احمدی» is not «علی احمدی»: a daughter on her father's phone
    if ca.get("person") and ca.get("person") == cb.get("person"):
        # the persons step joined both callers (another phone, a title only, an id on one call);
        # it comes after the name checks: a sister of the home stays herself whatever it did
        return True
    if _names_agree(fa, fb, halves=True) and _names_agree(a["last"], b["last"]):
        return True  # the whole name agrees; the number may be another of the household's
    if (a["generic"] or b["generic"]) and _names_agree(a["last"], b["last"]) and \
            not _differ(ca.get("nid"), cb.get("nid"), by=2):
        # a «پیگیری درخواست» call follows an earlier request up: a title and the surname
        # of that request's caller is that caller on another phone of the home
        return True
    # a title and surname, or «ناشناس», is anyone's: another mobile or national id is someone else
    return not (_differ(ca.get("mobile"), cb.get("mobile")) or _differ(ca.get("nid"), cb.get("nid"), by=2))


def _names_contradict(a: dict, b: dict) -> bool:
    """Two surnames, or two first names (neither half of the other), that differ."""
    return _names_differ(a["last"], b["last"]) or _names_differ(a["first"], b["first"], halves=True)


def _names_differ(x: str | None, y: str | None, halves: bool = False) -> bool:
    """Two name keys given in one script that differ (with `halves`, neither holding the
    other: محمدرضا / رضا agree); keys in two scripts («maryam», «مریم») are not compared, as
    matching does not compare them beyond their skeletons (`model.across_scripts`)."""
    if not (x and y) or x == y or two_scripts(x, y):
        return False
    return not (halves and (x in y or y in x))


def _names_agree(x: str | None, y: str | None, halves: bool = False) -> bool:
    """Two name keys that agree: equal, half of each other (`halves`), or in two scripts with
    one skeleton («maryam» / «مریم»: `persian.names.name_skeleton`)."""
    if not (x and y):
        return False
    if two_scripts(x, y):
        return one_name_across_scripts(x, y)
    return x == y or (halves and (x in y or y in x))


def vetoes(member: dict, p: dict, backed: bool = False) -> bool:
    """Whether a group's `member` says the caller of `p` is someone else.  A member that
    names less than `p` (a title and surname, «ناشناس») vetoes only by a name that
    contradicts: its other number is the household's phone it called from, and who it was
    is what the group's named members say.  So does any member when `p` shares a number or
    id with another member of the group (`backed`): one citizen calls from more than one
    phone, and the group's other number is no longer a neighbour's."""
    if not same_citizen(member, p):
        names_less = (not member["first"] and p["first"]) or (not member["last"] and p["last"])
        return bool(not (names_less or backed) or _names_contradict(member, p) or
                    _differ(member["citizen"].get("nid"), p["citizen"].get("nid"), by=2))
    return False


def backed(p: dict, members: list[dict]) -> bool:
    """Whether `p` shares a national id, mobile or landline with a group member it is the
    same citizen as."""
    return any(any(v and q["citizen"].get(k) == v for k, v in p["citizen"].items() if k != "name")
               and same_citizen(q, p) for q in members)


def hear_surnames(profiles: list[dict]) -> None:
    """A nameless call from a mobile or landline that every named call on it names with one
    surname gets that surname as `heard_last`: only to tell it from a caller of another surname."""
    surnames: dict[tuple, set] = defaultdict(set)
    for p in profiles:
        if p["last"]:
            for k in ("mobile", "phone"):
                if p["citizen"].get(k):
                    surnames[k, p["citizen"][k]].add(p["last"])
    for p in profiles:
        if not (p["first"] or p["last"]):
            heard = set().union(*(surnames.get((k, p["citizen"][k]), ()) for k in ("mobile", "phone")
                                  if p["citizen"].get(k)))
            if len(heard) == 1:
                p["heard_last"] = heard.pop()
