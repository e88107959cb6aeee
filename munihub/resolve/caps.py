"""Caps on a Fellegi-Sunter probability where the weights cannot see the danger.

Split from `munihub.resolve.match` (the scorer) so `munihub.resolve.explain` applies the same
caps when it shows why a pair scored what it did.
"""
from __future__ import annotations

from collections import Counter

from munihub.resolve.model import KINDS, is_half


def capped(p: float, vector: dict[str, int], conf: dict, fa: dict, fb: dict,
           counts: dict[str, Counter]) -> tuple[float, list[str]]:
    """The probability after the caps of `conf`, and the comparisons that capped it.

    `cap_unless_exact`: a comparison that is present but not exact caps p: twins (حسن,
    حسین) share everything else and Persian first names sit close (محمد/محمود jw 0.95).
    Unless the two are one edit apart and one spelling is `typo_ratio` times rarer in the
    data (`counts`): then it is a typo of a common name (لیرضا for علیرضا), not another name.
    `cap_when_different`: `{feature: cap}`, a comparison at its lowest level (not a typo) caps p:
    a surname that differs beside the mobile or home a household shares.
    `cap_when_partial`: `{feature: (cap, unless[, shared])}`, a feature missing on a side (a
    title and surname, «آقای احمدی», or «ناشناس») or half of the other (رضا / محمدرضا) caps p
    unless an entry of `unless` at least nearly agrees: a comparison (national id, birth date,
    the 137 thread), or a tuple of comparisons that must all agree (the home with the first
    name): a surname, an address and the phone a household shares are anyone's in that
    household, but its members have different first names.  `shared`, `{comparison: ceiling}`:
    a number one member of a home may lend another (the mobile) lifts the cap only to its
    ceiling, a match but below any link personal evidence makes (p is squeezed into the band
    (cap, ceiling], so such links keep their order); so a title and surname
    calling from the twin sister's mobile, whose thread names the other twin, is clustered by
    the thread first, and the conflict check (`clustering.cluster`) keeps it from the sister.
    `rank_below_personal`: `(ceiling, personal)`: a match no comparison of `personal` agrees on
    (names and the home alone) is squeezed into (match, ceiling], so any link personal
    evidence makes outranks it when the conflict check must choose: «رضا» on the home's
    landline is the father رضا by name, the twin محمدرضا by his own 137 thread."""
    import jellyfish

    why = []
    for name, cap in conf.get("cap_unless_exact", {}).items():
        kind = conf["comparisons"][name].get("kind", "exact")
        if 0 <= vector.get(name, -1) < len(KINDS[kind]) - 1 and p > cap:
            seen = sorted((counts.get(name, {}).get(fa[name], 0),
                           counts.get(name, {}).get(fb[name], 0)))
            if seen[1] < conf.get("typo_ratio", 10) * max(seen[0], 1) or \
                    jellyfish.damerau_levenshtein_distance(fa[name], fb[name]) > 1:
                p = cap
                why.append(name)
    for name, cap in conf.get("cap_when_different", {}).items():
        if vector.get(name, -1) == 0 and p > cap:
            p = cap
            why.append(name)
    for name, (cap, unless, *shared) in conf.get("cap_when_partial", {}).items():
        if p > cap and (fa.get(name) is None or fb.get(name) is None or is_half(fa[name], fb[name])) and \
                not any(_agree(vector, u, conf) for u in unless):
            ceiling = max((c for n, c in (shared[0] if shared else {}).items() if _agree(vector, n, conf)),
                          default=cap)
            # squeezed into (cap, ceiling], not flattened: two such links of one mention (the
            # mobile's owner and a member who borrowed it) keep the order their weights give
            lifted = _squeezed(p, cap, ceiling)
            if p > lifted:
                p = lifted
                why.append(name)
    below, match = _below(conf), conf.get("match", 0.95)
    if below and p > match:
        ceiling, personal = below
        if not any(_agree(vector, n, conf) for n in personal):
            lifted = _squeezed(p, match, ceiling)
            if p > lifted:
                p = lifted
                why.append("personal")
    return p, why


def _squeezed(p: float, floor: float, ceiling: float) -> float:
    """`p` mapped into (floor, ceiling]: capped links keep the order their weights give."""
    return floor + (ceiling - floor) * p


def _below(conf: dict) -> tuple | None:
    """`rank_below_personal` when the settings compare every comparison it names: settings
    that bring their own comparisons (an English file with an SSN) have no thread or mobile
    to call personal, and keep their own caps."""
    below = conf.get("rank_below_personal")
    if below and all(n in conf["comparisons"] for n in below[1]):
        return below
    return None


def active(conf: dict) -> bool:
    """Whether any cap of `conf` can act (else scoring skips them: a million pairs)."""
    return bool(any(conf.get(k) for k in ("cap_unless_exact", "cap_when_partial", "cap_when_different"))
                or _below(conf))


def _agree(vector: dict[str, int], what: str | tuple[str, ...], conf: dict) -> bool:
    """Whether every comparison of `what` agrees: a name exactly, a code at least nearly."""
    names = (what,) if isinstance(what, str) else what
    for n in names:
        kind = conf["comparisons"][n].get("kind", "exact")
        if vector.get(n, -1) < (len(KINDS[kind]) - 1 if kind == "name" else 1):
            return False
    return True
