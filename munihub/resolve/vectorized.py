"""Candidate scoring for a whole entity type at once, in arrays and on every core.

`match.match_index` scores each blocked pair in plain Python (a dict of levels per pair,
about 25 µs a pair); a million records give millions of candidate pairs.  This module gives
the same pairs and model from the same index (`match.build_index`) and settings, computed
per comparison instead of per pair:

- candidates from the blocks as integer pairs (blocks of one size at once), deduplicated;
- every feature value dictionary-encoded, the levels of each comparison computed over the
  pairs' code columns (`munihub.resolve.levels`: string similarity once per *distinct* pair
  of values, on forked worker processes);
- the model trained on pattern counts (`train_counts`, the same recipe as `model.train`);
  each pattern's probability once; the caps (`munihub.resolve.caps`) on the pairs that reach
  the review threshold, as `match._score` applies them.

Features come as a `columns.FeatureTable` (code columns) from `build_index`; scores stay
arrays (`score_index`) until `pairs_of` makes `Pair`s of the few a caller wants.  Grouping
millions of pairs hashes them (pyarrow, of the `resolve` extra) rather than sorting rows.

Plain data in and out, like `munihub.resolve.match`; numpy and pyarrow are the additions.
"""
from __future__ import annotations

import os
from collections import Counter, defaultdict
from typing import Callable, Sequence

import numpy as np

from munihub.resolve import model as fs
from munihub.resolve.caps import active as caps_active, capped
from munihub.resolve.levels import (Pool, factorize, forked_map, key_of, level_columns, random_pairs, shared,
                                    sharing)
from munihub.resolve.conflicts import clearly_two_many, typo_spared
from munihub.resolve.ids import valid_id
from munihub.resolve.match import Pair

#: records per worker below which features are computed in this process
FEATURES_PER_WORKER = 20_000


def workers() -> int:
    """Worker processes to use: every core this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def sorted_unique(x: np.ndarray) -> np.ndarray:
    """`np.unique(x)` of an integer array by one sort (numpy's hash-based unique takes seconds
    on millions of distinct pair codes)."""
    s = np.sort(x)
    return s[np.r_[True, s[1:] != s[:-1]]] if len(s) else s


# --------------------------------------------------------------------------- index
def _transform_range(bounds: tuple[int, int]) -> list:
    from munihub.resolve.columns import transform_all

    values, how = shared()
    return transform_all(values[bounds[0]:bounds[1]], how)


def _transform_many(values: list, how: str, processes: int = 1) -> list:
    """`columns.transform_all` on every core when there are many distinct values to normalize
    (street addresses: nearly one per record); ids and dates (`raw`) are cheaper to
    transform here than to send back."""
    from munihub.resolve.columns import transform_all

    procs = min(processes, max(1, len(values) // FEATURES_PER_WORKER))
    if procs < 2 or how in ("raw", "landline"):
        return transform_all(values, how)
    step = -(-len(values) // (procs * 4))
    parts = forked_map(_transform_range, [(a, a + step) for a in range(0, len(values), step)], procs,
                       (values, how))
    return [k for part in parts for k in part]


def build_index(records: Sequence[dict], entity_type: str, settings: dict | None = None,
                prepare: Callable[[dict], dict] | None = None, processes: int | None = None) -> dict:
    """One type's index slot as `match.build_index` makes it (features, sources, counts),
    but no blocks, and the features a `columns.FeatureTable` (each distinct value normalized
    once, on every core): `match_index` finds the candidates from its code columns, which is
    faster and lighter than a dict of key tuples.  `prepare(record)`, if given, turns a stored
    record into one with `fields`.  Refs must be unique (a full run's records)."""
    from functools import partial

    from munihub.resolve import match
    from munihub.resolve.columns import feature_table

    conf = match.settings_for(entity_type, settings)
    processes = processes or workers()
    # chunks of records to forked workers (each reads, dedups and normalizes its own); one
    # chunk's distinct values to the pool when there is a single chunk
    table = feature_table(records, conf, prepare, partial(_transform_many, processes=processes), processes)
    slot = {"blocks": None, "features": table,
            "sources": {r["ref"]: r["source"] if "source" in r else r["ref"].split("|")[0] for r in records},
            "counts": defaultdict(Counter)}
    for name in conf.get("cap_unless_exact", {}):
        slot["counts"][name] = table.counts(name)
    return slot


# --------------------------------------------------------------------------- candidates
def rule_pairs(columns: list[np.ndarray], n_values: int, max_block: int) -> np.ndarray:
    """Pair codes `i * n + j` of the records sharing every one of `columns` (encoded
    features, -1 = null) in a group of 2..max_block: one blocking rule, as blocks would give."""
    n = len(columns[0])
    idx = np.flatnonzero(np.logical_and.reduce([c >= 0 for c in columns]))
    key = columns[0][idx]
    for c in columns[1:]:
        key = key * n_values + c[idx]
        if c is not columns[-1] and len(key) and int(key.max()) >= (2 ** 63 - 1) // max(n_values, 1) - 1:
            # compact ids (< n) before the next column, so its product stays within int64;
            # an order-preserving renumbering: the groups and their order are the same
            key = np.unique(key, return_inverse=True)[1].astype(np.int64)
    order = np.argsort(key, kind="stable")  # members stay ascending within a group
    key, members = key[order], idx[order]
    return _group_pairs(key, members, n, max_block)


def _group_pairs(key: np.ndarray, members: np.ndarray, n: int, max_block: int) -> np.ndarray:
    """Pair codes `i * n + j` within each run of equal `key` (sorted; members ascending in a
    run) of 2..max_block members; runs of one size are expanded together."""
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    sizes = np.diff(np.r_[starts, len(key)])
    parts = [np.empty(0, dtype=np.int64)]
    for size in np.unique(sizes[(sizes > 1) & (sizes <= max_block)]).tolist():
        m = members[starts[sizes == size][:, None] + np.arange(size)]
        i, j = np.triu_indices(size, 1)
        parts.append((m[:, i] * n + m[:, j]).ravel())
    return np.concatenate(parts)


def near_id_pairs(col: np.ndarray, values: list[str], name: str, n_values: int, max_block: int) -> np.ndarray:
    """`rule_pairs` of a one-id rule in `near_ids`, with the extra keys `match.blocking_keys`
    gives an id that fails its check: each valid id one typo away (`typo_variants`), so the
    mistyped id joins that id's block, and a block the mistyped ones push past `max_block`
    is dropped whole, as blocks would drop it.  Where every id is valid this is `rule_pairs`."""
    from munihub.persian.ids import is_national_id
    from munihub.resolve.ids import typo_variants

    n = len(col)
    present = np.unique(col[col >= 0])
    bad = [c for c in present.tolist() if not is_national_id(values[c])]  # as match.blocking_keys tests
    if not bad:
        return rule_pairs([col], n_values, max_block)
    code_of = {values[int(c)]: int(c) for c in present}
    extra: dict[str, int] = {}  # a variant no record holds: a key of its own past the codes
    rows, keys = [np.flatnonzero(col >= 0)], []
    keys.append(col[rows[0]])
    more_rows, more_keys = [], []
    for row in np.flatnonzero(np.isin(col, bad)).tolist():  # one pass, not one per id
        for v in typo_variants(values[int(col[row])]):
            more_rows.append(row)
            more_keys.append(code_of[v] if v in code_of else extra.setdefault(v, n_values + len(extra)))
    rows.append(np.asarray(more_rows, dtype=np.int64))
    keys.append(np.asarray(more_keys, dtype=np.int64))
    members, key = np.concatenate(rows), np.concatenate(keys)
    order = np.lexsort((members, key))  # members ascending within a group
    key, members = key[order], members[order]
    return _group_pairs(key, members, n, max_block)


def candidate_pairs(blocks: dict, index: dict[str, int], max_block: int) -> np.ndarray:
    """Sorted unique pair codes `i * n + j` (i < j, positions in `index`) of every block of
    2..max_block members; blocks of one size are expanded together."""
    n = len(index)
    by_size: dict[int, list[list[int]]] = defaultdict(list)
    for refs in blocks.values():
        if 1 < len(refs) <= max_block:
            by_size[len(refs)].append(sorted(index[r] for r in refs))
    parts = [np.empty(0, dtype=np.int64)]
    for size, members in by_size.items():
        m = np.asarray(members, dtype=np.int64)
        i, j = np.triu_indices(size, 1)
        parts.append((m[:, i] * n + m[:, j]).ravel())
    return np.unique(np.concatenate(parts))


def _patterns(levels: dict[str, np.ndarray], names: list[str], radix: list[int]) -> np.ndarray:
    """One integer per pair encoding its levels (mixed radix, comparison order)."""
    n = len(levels[names[0]]) if names else 0
    pattern = np.zeros(n, dtype=np.int64)
    for name, base in zip(names, radix):
        pattern = pattern * base + (levels[name].astype(np.int64) + 1)
    return pattern


# --------------------------------------------------------------------------- training
def train_counts(fuzzy: dict[tuple, int], exact: dict[tuple, int], randoms: dict[tuple, int],
                 total_pairs: int, conf: dict, iterations: int = 25, strength: float = 20.0) -> dict:
    """`model.train` from pattern counts (pattern = levels in the settings' comparison order)
    instead of one vector per pair: the same arithmetic, in the same order."""
    base = fs.default_model(conf)
    names = list(base["m"])
    levels = [len(fs.KINDS[conf["comparisons"][n].get("kind", "exact")]) for n in names]
    flat = [[1.0 / lv] * lv for lv in levels]
    # one 1.0 per random pair, as model.train adds them: the same floats to the last bit
    rand = [p for p in sorted(randoms) for _ in range(randoms[p])]
    model = {"prior": 0.0, "m": dict(base["m"]),
             "u": dict(zip(names, fs._tally(rand, [1.0] * len(rand), levels, flat, 1)))}
    n_exact, n_fuzzy = sum(exact.values()), sum(fuzzy.values())
    learn_m = n_exact < 50
    if not learn_m:
        pats = [p for p, c in sorted(exact.items()) for _ in range(c)]
        model["m"] = dict(zip(names, fs._tally(pats, [1.0] * len(pats), levels,
                                               [base["m"][n] for n in names], strength)))
        model["m"].update(fs.trusted_m(base, conf))
    patterns = dict(sorted(fuzzy.items()))
    model["prior"] = max(n_exact + 0.1 * n_fuzzy, 1) / max(total_pairs, 1)
    for _ in range(iterations):
        post = {pat: fs.probability(dict(zip(names, pat)), model) for pat in patterns}
        expected = n_exact + sum(cnt * post[pat] for pat, cnt in patterns.items())
        model["prior"] = min(max(expected / max(total_pairs, 1), 1e-12), 0.5)
        if learn_m:
            pats = list(patterns)
            model["m"] = dict(zip(names, fs._tally(pats, [patterns[p] * post[p] for p in pats],
                                                   levels, [base["m"][n] for n in names], strength)))
    return model


# --------------------------------------------------------------------------- scoring
def _encoded(feats: dict, plan, conf: dict, more: set[str]) -> tuple[list[str], dict, list[str]]:
    """(sorted refs, code column per feature, values) of features held as dicts (an index
    `match.build_index` made): one vocabulary for every feature, so a first name can be
    compared with a last name (swaps)."""
    refs = sorted(feats)
    n = len(refs)
    wanted = {name for name, _, fb in plan} | {f for _, _, fb in plan for f in fb} | set(conf["trusted_ids"])
    vocab: dict = {None: 0, "": 0}
    column: dict[str, np.ndarray] = {}
    rows = [feats[r] for r in refs]
    for name in sorted(wanted | more):
        column[name] = np.fromiter([vocab.setdefault(f.get(name), len(vocab) - 1) for f in rows],
                                   dtype=np.int64, count=n) - 1  # null: -1
    return refs, column, list(vocab)[2:]


def _tf_tables(table, conf: dict) -> dict:
    """`model.tf_tables` from a `columns.FeatureTable`'s code counts."""
    out = {}
    for name, comp in conf["comparisons"].items():
        if comp.get("tf") and name in table.columns:
            counts = table.counts(name)
            counts.pop(None, None)
            if counts:
                out[name] = fs.tf_table(counts)
    return out


def score_index(slot: dict, conf: dict, model: dict | None = None, min_train: int = 500,
                free_blocks: bool = False, processes: int | None = None) -> tuple[dict, dict]:
    """What `match.match_index` computes, per comparison over arrays and on `processes` cores
    (default: all), kept as arrays: ({"refs": sorted refs, "left", "right": positions in them,
    "probability", "rule": index into "rules"}, the model used).  Shared trusted ids first,
    then the scored pairs >= review, each in (left, right) order (`pairs_of` makes `Pair`s)."""
    from munihub.resolve.columns import FeatureTable

    feats, sources = slot["features"], slot["sources"]
    plan = conf.get("_plan") or fs.comparison_plan(conf)
    blocked = {f for rule in conf["blocking"] for f in rule}
    if isinstance(feats, FeatureTable):  # from `build_index`: the code columns as they are
        refs, column, values = feats.refs, feats.columns, feats.values
        column = {name: column.get(name, np.full(len(refs), -1, dtype=np.int64))
                  for name in set(column) | blocked | set(conf["comparisons"])}
    else:
        refs, column, values = _encoded(feats, plan, conf, blocked if slot.get("blocks") is None else set())
    n = len(refs)
    n_values = len(values) + 1
    limit = conf.get("max_block", 2000)
    if slot.get("blocks") is None:  # from `build_index` here: group the encoded features
        from concurrent.futures import ThreadPoolExecutor

        # one rule per thread: numpy sorts without the GIL, so the rules' groupings overlap
        with ThreadPoolExecutor(max(1, min(processes or workers(), len(conf["blocking"])))) as threads:
            near = conf.get("near_ids", ())
            found = list(threads.map(
                lambda rule: near_id_pairs(column[rule[0]], values, rule[0], n_values, limit)
                if len(rule) == 1 and rule[0] in near else rule_pairs([column[f] for f in rule], n_values, limit),
                conf["blocking"]))
        codes = sorted_unique(np.concatenate([np.empty(0, dtype=np.int64)] + found))
        del found
    else:
        codes = candidate_pairs(slot["blocks"], {r: i for i, r in enumerate(refs)}, limit)
        if free_blocks:
            slot["blocks"] = defaultdict(list)
    left, right = codes // n, codes % n
    del codes
    if conf.get("link_only"):
        src = np.asarray([hash(sources.get(r)) for r in refs], dtype=np.int64)
        keep = src[left] != src[right]
        left, right = left[keep], right[keep]
    with sharing(values):
        pool = Pool(processes or workers())
        try:
            levels = level_columns(left, right, column, conf, n_values, pool)
            randoms = None
            if model is None:
                rl, rr = random_pairs(n, conf.get("u_sample", 50_000))
                if conf.get("link_only"):
                    keep = src[rl] != src[rr]
                    rl, rr = rl[keep], rr[keep]
                randoms = level_columns(rl, rr, column, conf, n_values, pool)
        finally:
            pool.close()

    # trusted ids: a shared valid one is a match, two different valid ones never are
    exact_rule = np.full(len(left), -1, dtype=np.int8)
    contradicts = np.zeros(len(left), dtype=bool)
    for k, f in enumerate(conf["trusted_ids"]):
        col = column[f]
        present = np.unique(col[col >= 0])
        good = np.zeros(n_values, dtype=bool)
        good[present] = np.fromiter((valid_id(f, values[c]) for c in present.tolist()), dtype=bool,
                                    count=len(present))
        ok = good[col]  # -1 (absent) reads the last entry: never valid
        both = ok[left] & ok[right]
        same = both & (column[f][left] == column[f][right])
        # one id, two people (`conflicts.clearly_two`: a child's record with a parent's id):
        # refused, as `match._score` refuses it
        at = np.flatnonzero(same)
        two = np.zeros(len(left), dtype=bool)
        two[at] = clearly_two_many(column, values, conf, left[at], right[at])
        contradicts |= two
        same &= ~two
        exact_rule[(exact_rule < 0) & same] = k
        differ = both & ~same
        contradicts |= differ & ~typo_spared(f, column, left, right, differ, values, conf)  # scored
    is_exact = exact_rule >= 0
    is_fuzzy = ~is_exact & ~contradicts

    names = [name for name, _, _ in plan]
    radix = [len(fs.KINDS[kind]) + 1 for _, kind, _ in plan]
    pattern = _patterns(levels, names, radix)

    def decode(code: int) -> tuple:
        out = []
        for base in reversed(radix):
            out.append(int(code % base) - 1)
            code //= base
        return tuple(reversed(out))

    uniq, inverse, counts = np.unique(pattern[is_fuzzy], return_inverse=True, return_counts=True)
    fuzzy_counts = {decode(int(c)): int(k) for c, k in zip(uniq, counts)}
    if model is None:
        if is_fuzzy.sum() + is_exact.sum() >= min_train:
            ex_uniq, ex_counts = np.unique(pattern[is_exact], return_counts=True)
            total = n * (n - 1) // 2
            if conf.get("link_only"):
                total -= sum(k * (k - 1) // 2 for k in Counter(sources.values()).values())
            r_uniq, r_counts = np.unique(_patterns(randoms, names, radix), return_counts=True)
            model = train_counts(fuzzy_counts, {decode(int(c)): int(k) for c, k in zip(ex_uniq, ex_counts)},
                                 {decode(int(c)): int(k) for c, k in zip(r_uniq, r_counts)}, total, conf)
            model["tf"] = (_tf_tables(feats, conf) if isinstance(feats, FeatureTable)
                           else fs.tf_tables(feats, conf))
        else:
            model = fs.default_model(conf)
    model = fs.completed(model, conf)

    probs = np.asarray([fs.probability(dict(zip(names, decode(int(c)))), model) for c in uniq])
    pair_p = probs[inverse] if len(uniq) else np.empty(0)
    fuzzy_left, fuzzy_right = left[is_fuzzy], right[is_fuzzy]
    if "tf" in model and model["tf"]:
        pair_p = _tf_shifted(pair_p, uniq[inverse] if len(uniq) else inverse, fuzzy_left, fuzzy_right,
                             levels, is_fuzzy, column, model, values)
    reach = np.flatnonzero(pair_p >= conf["review"])
    if caps_active(conf):
        row = feats.row if isinstance(feats, FeatureTable) else (lambda i: feats[refs[i]])
        rows: dict[int, dict] = {}
        counted = slot.get("counts", {})
        p_reach = pair_p[reach].tolist()
        for k, (a, b, code) in enumerate(zip(fuzzy_left[reach].tolist(), fuzzy_right[reach].tolist(),
                                             inverse[reach].tolist())):
            fa = rows[a] if a in rows else rows.setdefault(a, row(a))
            fb = rows[b] if b in rows else rows.setdefault(b, row(b))
            p_reach[k] = capped(p_reach[k], dict(zip(names, decode(int(uniq[code])))), conf, fa, fb, counted)[0]
        pair_p = pair_p.copy()
        pair_p[reach] = p_reach
        reach = reach[pair_p[reach] >= conf["review"]]
    rounded, back = np.unique(pair_p[reach], return_inverse=True)  # Python's rounding, once a value
    rounded = np.asarray([round(p, 6) for p in rounded.tolist()], dtype=np.float64)
    scored = {"refs": refs, "rules": ["fellegi-sunter"] + ["exact:" + f for f in conf["trusted_ids"]],
              "left": np.concatenate([left[is_exact], fuzzy_left[reach]]),
              "right": np.concatenate([right[is_exact], fuzzy_right[reach]]),
              "probability": np.concatenate([np.ones(int(is_exact.sum())), rounded[back.ravel()]]),
              "rule": np.concatenate([exact_rule[is_exact] + 1, np.zeros(len(reach), dtype=np.int8)]).astype(np.int8)}
    return scored, model


def pairs_of(scored: dict, keep: np.ndarray | None = None) -> list[Pair]:
    """`Pair`s of scored pairs (`score_index`), all or those where `keep` is true, in order."""
    refs, rules = scored["refs"], scored["rules"]
    at = slice(None) if keep is None else keep
    return [Pair(refs[a], refs[b], p, rules[k]) for a, b, p, k in zip(
        scored["left"][at].tolist(), scored["right"][at].tolist(), scored["probability"][at].tolist(),
        scored["rule"][at].tolist())]


def match_index(slot: dict, conf: dict, model: dict | None = None, min_train: int = 500,
                free_blocks: bool = False, processes: int | None = None) -> tuple[list[Pair], dict]:
    """`match.match_index`, computed per comparison over arrays and on `processes` cores
    (default: all): (pairs >= review, the model used)."""
    scored, model = score_index(slot, conf, model, min_train, free_blocks, processes)
    return pairs_of(scored), model


def _tf_shifted(pair_p: np.ndarray, pair_pattern: np.ndarray, left: np.ndarray, right: np.ndarray,
                levels: dict, is_fuzzy: np.ndarray, column: dict, model: dict, values: list[str]) -> np.ndarray:
    """Pair probabilities with the term-frequency adjustment `match._score` adds (Splink's):
    the log-odds `model.tf_adjustment` gives each agreeing value, computed once per distinct
    value and summed per pair in the same order; then the shift once per distinct (pattern,
    log-odds), with the same function."""
    import math

    logit = np.zeros(len(pair_p))
    for name, table in model["tf"].items():
        u = model["u"][name][-1]
        if name not in levels or not u > 0:
            continue
        top = len(model["u"][name]) - 1
        ca, cb = column[name][left], column[name][right]
        agree = np.flatnonzero((levels[name][is_fuzzy] == top) & (ca == cb) & (ca >= 0))
        codes, inverse = np.unique(ca[agree], return_inverse=True)
        weight = np.asarray([max(-fs.TF_BOUND, min(fs.TF_BOUND, math.log(u / table.get(values[c], table[""]))))
                             for c in codes.tolist()], dtype=np.float64)
        logit[agree] += weight[inverse.ravel()]
    # one shift per distinct (pattern, log-odds), grouped by hashing: the shifted value of a
    # group depends on nothing else, so the group order does not matter
    combos, inverse = factorize(key_of(pair_pattern, logit.view(np.int64)))
    first = np.zeros(len(combos), dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(inverse) - 1, -1, -1)  # a member of each group
    # `match._shifted` written out (the same arithmetic): a call each was half the time here
    exp, log = math.exp, math.log
    shifted = np.asarray([p if not x or p <= 0.0 or p >= 1.0 else 1 / (1 + exp(-(log(p / (1 - p)) + x)))
                          for p, x in zip(pair_p[first].tolist(), logit[first].tolist())])
    return shifted[inverse] if len(combos) else pair_p
