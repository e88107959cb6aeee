"""`edits.within_one_edit` (code comparisons in arrays) against jellyfish, pair by pair."""
import random

import jellyfish
import numpy as np

from munihub.resolve import edits, levels


def _pairs(n: int, alphabet: str, seed: int) -> tuple[list[str], list[str]]:
    """Strings and copies of them with 0-2 random edits (substitute, insert, delete, swap)."""
    rng = random.Random(seed)
    a, b = [], []
    for _ in range(n):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 7)))
        t = list(s)
        for _ in range(rng.randint(0, 2)):
            op = rng.randint(0, 3)
            if op == 0 and t:
                t[rng.randrange(len(t))] = rng.choice(alphabet)
            elif op == 1:
                t.insert(rng.randint(0, len(t)), rng.choice(alphabet))
            elif op == 2 and t:
                del t[rng.randrange(len(t))]
            elif op == 3 and len(t) > 1:
                i = rng.randrange(len(t) - 1)
                t[i], t[i + 1] = t[i + 1], t[i]
        a.append(s)
        b.append("".join(t))
    return a, b


def test_within_one_edit_is_jellyfish_distance_at_most_one():
    a, b = _pairs(60_000, "ab1-", 3)
    want = np.array([jellyfish.damerau_levenshtein_distance(x, y) <= 1 for x, y in zip(a, b)])
    assert 0.5 < want.mean() < 0.95  # both answers well represented
    assert np.array_equal(edits.within_one_edit(a, b), want)


def test_only_short_printable_ascii_is_answered():
    # jellyfish counts grapheme clusters: "e" + combining accent is one, CR LF is one
    assert edits.answerable(["ab", "a b", "é", "e\u0301a", "a\r\n", "x" * 41]).tolist() == \
        [True, True, False, False, False, False]


def test_code_levels_match_jellyfish_with_or_without_the_array_path():
    a, b = _pairs(3_000, "ab1é\u0301", 4)
    a += ["e\u0301a", "a\r\n", "x" * 45]
    b += ["ae\u0301", "a\n\r", "x" * 44]
    values = sorted(set(a) | set(b))
    code = {v: i for i, v in enumerate(values)}
    keep = [k for k in range(len(a)) if a[k] != b[k]]
    left = np.asarray([code[a[k]] for k in keep], dtype=np.int64)
    right = np.asarray([code[b[k]] for k in keep], dtype=np.int64)
    with levels.sharing(values):
        got = levels._similarities("code", left, right, levels.Pool(1))
    want = [jellyfish.damerau_levenshtein_distance(a[k], b[k]) <= 1 for k in keep]
    assert got.dtype == np.int8 and got.tolist() == [int(w) for w in want]
