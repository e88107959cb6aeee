"""Comparison levels of candidate pairs, per comparison over arrays and on every core (split
from `munihub.resolve.vectorized`, which blocks, trains and scores with them).

Feature values are dictionary-encoded: null, exact and swapped-name levels are array
comparisons; string similarity (Jaro-Winkler, edit distance) is computed once per *distinct*
pair of values, by worker processes forked after `sharing` has set the vocabulary, so they
inherit the values and only integer ids travel.
"""
from __future__ import annotations

import contextlib
import multiprocessing

import numpy as np

from munihub.persian.names import two_scripts
from munihub.resolve import model as fs

#: below this many distinct value pairs a comparison is computed in this process
PARALLEL_FROM = 20_000
_SHARED = None  # what forked workers read (`shared()`): set by `sharing` just before the fork


@contextlib.contextmanager
def sharing(value):
    """`value` as what `shared()` gives, for the duration: workers forked meanwhile inherit
    it, so only their tasks and results travel; afterwards the previous value is back (the
    value is not kept alive).  For `level_columns`, the vocabulary its codes refer to."""
    global _SHARED
    previous, _SHARED = _SHARED, value
    try:
        yield
    finally:
        _SHARED = previous


def shared():
    """The value of the innermost `sharing` block (in a forked worker: the parent's)."""
    return _SHARED


def forked_map(fn, tasks: list, processes: int, value=None) -> list:
    """`[fn(t) for t in tasks]` with `shared()` giving `value`, on `processes` forked workers
    when more than one.  The caller waits meanwhile, so the pages the workers share with it
    stay shared."""
    with sharing(value):
        if processes < 2 or len(tasks) < 2:
            return [fn(t) for t in tasks]
        with multiprocessing.get_context("fork").Pool(min(processes, len(tasks))) as pool:
            return pool.map(fn, tasks, chunksize=1)


def factorize(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values in order of first appearance, index of each element's value): what
    `np.unique(x, return_inverse=True)` tells, by hashing (pyarrow) instead of an argsort of
    millions of pairs.  For grouping where the order of the groups does not matter."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not len(x):
        return x[:0], np.zeros(0, dtype=np.int64)
    enc = pc.dictionary_encode(pa.array(x))
    return enc.dictionary.to_numpy(zero_copy_only=False), enc.indices.to_numpy(zero_copy_only=False)


def key_of(*columns: np.ndarray) -> np.ndarray:
    """One integer per row of several non-negative code columns, equal exactly where the
    rows are (each column folded in by factorizing: no overflow, no row sort)."""
    key = factorize(columns[0])[1].astype(np.int64)
    for col in columns[1:]:
        codes, inv = factorize(col)
        key = factorize(key * len(codes) + inv)[1].astype(np.int64)
    return key


def _similarity_levels(task: tuple[str, np.ndarray, np.ndarray]) -> np.ndarray:
    """Levels of distinct non-equal value pairs (ids into the shared vocabulary) for one
    comparison kind."""
    import jellyfish

    kind, left, right = task
    values = shared()
    if kind == "name":
        jw = jellyfish.jaro_winkler_similarity
        sims = np.fromiter((jw(values[a], values[b]) for a, b in zip(left.tolist(), right.tolist())),
                           dtype=np.float64, count=len(left))
        out = np.where(sims >= 0.94, 2, np.where(sims >= 0.88, 1, 0)).astype(np.int8)
        # keys in two scripts share no letter, so their similarity is 0: only those pairs are
        # looked at again (`model.across_scripts`), a few among millions in one script
        for k in np.flatnonzero(sims == 0.0).tolist():
            a, b = values[left[k]], values[right[k]]
            if two_scripts(a, b):
                out[k] = fs.across_scripts(a, b)
        return out
    if kind in ("code", "jellyfish-code"):  # the latter: values `edits` does not answer for
        dl = jellyfish.damerau_levenshtein_distance
        return np.fromiter((dl(values[a], values[b]) <= 1 for a, b in zip(left.tolist(), right.tolist())),
                           dtype=np.int8, count=len(left))
    return np.zeros(len(left), dtype=np.int8)


class Pool:
    """Worker processes forked on first need (small inputs never fork), so they inherit
    the shared vocabulary as it is then; one process means no pool at all."""

    def __init__(self, processes: int) -> None:
        self.processes, self._pool = processes, None

    def map(self, fn, tasks: list) -> list:
        if self.processes < 2:
            return list(map(fn, tasks))
        if self._pool is None:
            self._pool = multiprocessing.get_context("fork").Pool(self.processes)
        return self._pool.map(fn, tasks)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool.join()


def _similarities(kind: str, left: np.ndarray, right: np.ndarray, pool: Pool) -> np.ndarray:
    if kind == "code":  # one edit apart or not: in arrays here for short ASCII values
        from munihub.resolve.edits import answerable, within_one_edit

        values = shared()
        ids = np.unique(np.concatenate([left, right]))
        good = answerable([values[i] for i in ids.tolist()])
        fast = good[np.searchsorted(ids, left)] & good[np.searchsorted(ids, right)]
        out = np.empty(len(left), dtype=np.int8)
        out[fast] = within_one_edit([values[i] for i in left[fast].tolist()],
                                    [values[i] for i in right[fast].tolist()])
        slow = ~fast
        if slow.any():
            out[slow] = _similarities("jellyfish-code", left[slow], right[slow], pool)
        return out
    if len(left) < PARALLEL_FROM:
        return _similarity_levels((kind, left, right))
    chunks = max(8, len(left) // 50_000)
    bounds = np.linspace(0, len(left), chunks + 1, dtype=np.int64)
    tasks = [(kind, left[a:b], right[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    return np.concatenate(pool.map(_similarity_levels, tasks))


def _level_column(kind: str, ca: np.ndarray, cb: np.ndarray, n_values: int, pool) -> np.ndarray:
    top = len(fs.KINDS[kind]) - 1
    level = np.full(len(ca), -1, dtype=np.int8)
    present = (ca >= 0) & (cb >= 0)
    equal = present & (ca == cb)
    level[equal] = top
    differ = present & ~equal
    if kind == "exact":
        level[differ] = 0
        return level
    keys = ca[differ].astype(np.int64) * n_values + cb[differ]
    uniq, inverse = np.unique(keys, return_inverse=True)
    level[differ] = _similarities(kind, uniq // n_values, uniq % n_values, pool)[inverse]
    return level


def level_columns(left: np.ndarray, right: np.ndarray, column: dict[str, np.ndarray], conf: dict,
                  n_values: int, pool) -> dict[str, np.ndarray]:
    """Level per comparison (int8 arrays) for the pairs (left[k], right[k]) of encoded
    features: what `model.comparison_vector` gives each pair, fallback and swaps included."""
    plan = conf.get("_plan") or fs.comparison_plan(conf)
    n = len(next(iter(column.values()))) if column else 0
    levels = {}
    for name, kind, fallback in plan:
        lv = _level_column(kind, column[name][left], column[name][right], max(n_values, 1), pool)
        if fallback:  # speaks only when a side has none of the parts (`model.comparison_vector`)
            has = np.zeros(n, dtype=bool)
            for f in fallback:
                has |= column[f] >= 0
            lv[has[left] & has[right]] = -1
        levels[name] = lv
    values = shared()
    for x, y in conf.get("swappable", ()):  # the same letters in one order or the other
        top_x = len(fs.KINDS[conf["comparisons"][x]["kind"]]) - 1
        top_y = len(fs.KINDS[conf["comparisons"][y]["kind"]]) - 1
        ax, ay, bx, by = column[x][left], column[y][left], column[x][right], column[y][right]
        maybe = np.flatnonzero(((levels[x] == 0) | (levels[y] == 0)) & (ax >= 0) & (ay >= 0) & (bx >= 0) & (by >= 0))
        if len(maybe):
            _, first, inverse = np.unique(key_of(ax[maybe], ay[maybe], bx[maybe], by[maybe]),
                                          return_index=True, return_inverse=True)
            quads = np.stack([ax[maybe][first], ay[maybe][first], bx[maybe][first], by[maybe][first]], axis=1)
            same = np.fromiter((values[a] + values[b] in (values[c] + values[d], values[d] + values[c])
                                for a, b, c, d in quads.tolist()), dtype=bool, count=len(quads))
            hit = maybe[same[inverse.ravel()]]
            levels[x][hit], levels[y][hit] = top_x, top_y
    for name in conf.get("halves", ()):  # one name, half of it unknown: no evidence either way
        ca, cb = column[name][left], column[name][right]
        top = len(fs.KINDS[conf["comparisons"][name]["kind"]]) - 1  # any level below exact
        zero = np.flatnonzero((levels[name] >= 0) & (levels[name] < top))
        if len(zero):
            both, inverse = np.unique(np.stack([ca[zero], cb[zero]], axis=1), axis=0, return_inverse=True)
            half = np.fromiter((fs.is_half(values[a], values[b]) for a, b in both.tolist()),
                               dtype=bool, count=len(both))
            levels[name][zero[half[inverse.ravel()]]] = -1
    return levels


def random_pairs(n: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The seeded random pairs `model.random_vectors` draws (same generator, same order; all
    pairs when there are fewer than `size`), as positions in the sorted refs."""
    import random
    from itertools import combinations

    if n < 2:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    if n * (n - 1) // 2 <= size:
        pairs = np.asarray(list(combinations(range(n), 2)), dtype=np.int64)
        return pairs[:, 0], pairs[:, 1]
    rng = random.Random(0)
    drawn = np.asarray([(rng.randrange(n), rng.randrange(n)) for _ in range(size)], dtype=np.int64)
    drawn = drawn[drawn[:, 0] != drawn[:, 1]]
    return drawn[:, 0], drawn[:, 1]
