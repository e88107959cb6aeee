"""Trusted ids between two records: whether one is usable for the exact rule (a national id
with its check digit), whether two are one typo apart, whether two valid ones contradict (two
people, unless `near_ids` spares a typo beside agreeing names), and the valid ids one typo from
a mistyped one (blocking).  Apart from `match`, which scores pairs, so that `conflicts` (which
`match` uses) reads these rules without a cycle."""
from __future__ import annotations

import functools

from munihub.persian.ids import is_national_id  # ten ASCII digits with their check: the hot path


@functools.lru_cache(maxsize=1 << 18)
def valid_id(field: str, value: str | None) -> bool:
    """Whether a trusted identifier is usable for the exact rule (national ids: check digit)."""
    if not value:
        return False
    if field != "national_id":
        return True
    from munihub.persian import is_valid_national_id

    return bool(is_valid_national_id(value))


def one_typo(a: str, b: str) -> bool:
    """Two different ids of one length one typo apart: one character changed, or two
    neighbours swapped (`edits.within_one_edit` for same-length strings, one pair)."""
    if len(a) != len(b) or a == b:
        return False
    at = [i for i in range(len(a)) if a[i] != b[i]]
    return len(at) == 1 or (len(at) == 2 and at[1] == at[0] + 1 and a[at[0]] == b[at[1]] and a[at[1]] == b[at[0]])


def contradicting_ids(f: str, fa: dict, fb: dict, conf: dict) -> bool:
    """Two different valid values of trusted id `f`: two entities, never scored nor joined;
    unless `f` is in `near_ids`, they are one typo apart and the features listed there agree
    exactly where both sides give them (`near_agree`).  Two valid national ids cannot differ in one digit alone but by a check-digit
    coincidence (the weighted sum's remainders 1 and 10 both give the check digit 1): such a
    pair beside the same whole name is one id mistyped into another valid one."""
    a, b = fa.get(f), fb.get(f)
    if a == b or not valid_id(f, a) or not valid_id(f, b):
        return False
    agree = conf.get("near_ids", {}).get(f)
    return agree is None or not one_typo(a, b) or not near_agree(fa, fb, agree)


def near_agree(fa: dict, fb: dict, agree) -> bool:
    """Whether the `near_ids` features `agree` spare two ids one typo apart: each one both
    sides give is the same, and both give one at least.  A title and surname («آقای
    طباطبایی») names no first name to differ in: twins one id apart differ in theirs, and
    a caller who names none is weighed by the rest (the first-name cap, the conflict check)."""
    both = [x for x in agree if fa.get(x) and fb.get(x)]
    return bool(both) and all(fa[x] == fb[x] for x in both)


@functools.lru_cache(maxsize=1 << 14)
def typo_variants(value: str) -> tuple[str, ...]:
    """The valid national ids one typo from `value`: one digit changed, or two neighbours
    swapped (about ten for an id that fails its check digit), sorted.  The check digit is
    that of the digits' weighted sum (`persian.ids.check_char_of_sum`), so a changed digit
    moves the sum by its weight times the change: 90 candidates cost integer steps, not 90
    validations."""
    from munihub.persian.ids import NATIONAL_ID_WEIGHTS, check_char_of_sum

    if len(value) != 10 or not value.isascii() or not value.isdigit():
        return ()
    digits = [int(c) for c in value]
    total = sum(d * w for d, w in zip(digits, NATIONAL_ID_WEIGHTS))
    found = set()
    for i, weight in enumerate(NATIONAL_ID_WEIGHTS):
        for d in range(10):
            if d != digits[i] and check_char_of_sum(total + (d - digits[i]) * weight) == value[9]:
                found.add(value[:i] + str(d) + value[i + 1:])
    found.add(value[:9] + check_char_of_sum(total))  # the check digit itself mistyped
    for i in range(9):  # two neighbours swapped (the last pair moves the check digit too)
        if value[i] != value[i + 1]:
            found.add(value[:i] + value[i + 1] + value[i] + value[i + 2:])
    return tuple(sorted(v for v in found if v != value and is_national_id(v)))
