"""Records that can never be one entity, however a chain of links runs: the test
`munihub.resolve.clustering.cluster` applies before it joins two parts.

Split from `munihub.resolve.match` (the scorer): a conflict is not a weight but a veto on
clustering, so a partial mention that scores high with two people of one home joins only
the stronger one.
"""
from __future__ import annotations

from typing import Callable


def conflicting(fa: dict, fb: dict, conf: dict) -> bool:
    """Whether two records cannot be one entity whatever else agrees: different valid trusted
    ids, or (with `conflicts` in the settings) a listed comparison present on both sides and
    further apart than a typo: another birth date, gender, surname, or a first name that is
    neither a misspelling nor half of the other (محمدرضا / رضا, رضا / راض are one man's name;
    حسن / زهرا are two people).  Names swapped or split elsewhere are not a conflict."""
    from munihub.resolve.match import valid_id

    for f in conf["trusted_ids"]:
        if fa.get(f) != fb.get(f) and valid_id(f, fa.get(f)) and valid_id(f, fb.get(f)):
            return True
    for name in conf.get("conflicts", ()):
        a, b = fa.get(name), fb.get(name)
        if a and b and a != b and _far(a, b, conf["comparisons"][name].get("kind", "exact")):
            if not any(_swapped(fa, fb, x, y) for x, y in conf.get("swappable", ())):
                return True
    return False


def _swapped(fa: dict, fb: dict, x: str, y: str) -> bool:
    """Both parts given on both sides and each close to the other side's opposite part, or
    the same letters split elsewhere."""
    ax, ay, bx, by = (fa.get(x) or ""), (fa.get(y) or ""), (fb.get(x) or ""), (fb.get(y) or "")
    if not (ax and ay and bx and by):
        return False
    return (not _far(ax, by, "name") and not _far(ay, bx, "name")) or ax + ay in (bx + by, by + bx)


def _far(a: str, b: str, kind: str) -> bool:
    import jellyfish

    if kind == "exact":
        return True
    if kind == "name" and (a in b or b in a):
        return False
    return jellyfish.damerau_levenshtein_distance(a, b) > 2


def conflict_of(feats: dict[str, dict], conf: dict) -> Callable[[str, str], bool] | None:
    """`clustering.cluster`'s conflict test over one type's features (None: the type has no
    trusted id and no `conflicts`)."""
    if not conf["trusted_ids"] and not conf.get("conflicts"):
        return None
    return lambda a, b: a in feats and b in feats and conflicting(feats[a], feats[b], conf)
