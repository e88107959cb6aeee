"""Whether two short strings are at most one edit apart, for many pairs at once in arrays.

A `code` comparison (national ids, dates; `model.KINDS`) asks `jellyfish`'s
Damerau–Levenshtein distance <= 1, one pair at a time: about 10 µs a pair, and a million
records give hundreds of thousands of distinct differing pairs.  Distance <= 1 means equal,
or one substitution, one insertion or deletion, or one swap of neighbours, which array
comparisons of the padded characters tell for every pair at once.  jellyfish counts
grapheme clusters, not code points, so only printable ASCII strings (where the two are
the same) are answered here; the caller asks jellyfish about the rest.
"""
from __future__ import annotations

import numpy as np

#: longer strings are left to jellyfish (the character matrix grows with the longest)
WIDEST = 40


def answerable(values: list[str]) -> np.ndarray:
    """Per value, whether `within_one_edit` answers for it (short printable ASCII)."""
    return np.fromiter((isinstance(v, str) and len(v) <= WIDEST and v.isascii() and v.isprintable()
                        for v in values), dtype=bool, count=len(values))


def within_one_edit(a: list[str], b: list[str]) -> np.ndarray:
    """Per pair (a[k], b[k]) of `answerable` strings: Damerau–Levenshtein distance <= 1."""
    if not len(a):
        return np.zeros(0, dtype=bool)
    width = max(max(map(len, a)), max(map(len, b)), 1) + 1
    ca = _codes(a, width)
    cb = _codes(b, width)
    la = np.fromiter(map(len, a), dtype=np.int64, count=len(a))
    lb = np.fromiter(map(len, b), dtype=np.int64, count=len(b))
    out = np.zeros(len(a), dtype=bool)
    # same length: one substitution, or two neighbours swapped (padding is 0 on both sides)
    same = np.flatnonzero(la == lb)
    differ = ca[same] != cb[same]
    count = differ.sum(axis=1)
    out[same[count <= 1]] = True
    two = np.flatnonzero(count == 2)
    if len(two):
        at = np.argmax(differ[two], axis=1)  # the first difference
        x, y = ca[same[two]], cb[same[two]]
        rows = np.arange(len(two))
        nxt = np.minimum(at + 1, width - 1)
        swapped = ((x[rows, at] == y[rows, nxt]) & (x[rows, nxt] == y[rows, at])
                   & differ[two][rows, nxt])
        out[same[two[swapped]]] = True
    # lengths one apart: the shorter is the longer less one character, i.e. the common
    # prefix and the common suffix together cover the shorter
    for short, long_, ls, ll in ((ca, cb, la, lb), (cb, ca, lb, la)):
        one = np.flatnonzero(ll - ls == 1)
        if not len(one):
            continue
        s, t, n = short[one], long_[one], ls[one]
        prefix = np.cumprod(s == t, axis=1).sum(axis=1)
        # right-aligned: shift each row so its last character sits in the last column
        cols = np.arange(width)
        rs = np.take_along_axis(s, (cols[None, :] - (width - n)[:, None]) % width, axis=1)
        rt = np.take_along_axis(t, (cols[None, :] - (width - n - 1)[:, None]) % width, axis=1)
        suffix = np.cumprod((rs == rt)[:, ::-1], axis=1).sum(axis=1)
        out[one[prefix + suffix >= n]] = True
    return out


def _codes(values: list[str], width: int) -> np.ndarray:
    """The characters of each value as a row of byte codes, 0-padded to `width`."""
    raw = np.array(values, dtype=f"S{width}")
    return np.frombuffer(raw.tobytes(), dtype=np.uint8).reshape(len(values), width)
