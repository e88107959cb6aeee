"""Fellegi-Sunter model: comparison levels, default m/u, posterior probability, EM training.

Split from `munihub.resolve.match` so the scoring core stays short; `munihub.resolve.match` re-exports
`default_model`, `probability` and `train`.  A model is plain data
`{"prior": p, "m": {comparison: [per level]}, "u": {...}}`, so the store keeps it as JSON.
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Iterable

from munihub.persian.names import one_name_across_scripts, two_scripts

#: Levels of each comparison kind, index = level; -1 means "a side is null" (weight 0).
KINDS = {"name": ("else", "jw>=0.88", "jw>=0.94", "exact"),
         "code": ("else", "edit<=1", "exact"),
         "exact": ("else", "exact")}
DEFAULT_MU = {"name": ([0.03, 0.04, 0.08, 0.85], [0.85, 0.05, 0.04, 0.06]),
              "code": ([0.05, 0.10, 0.85], [0.95, 0.02, 0.03]),
              "exact": ([0.3, 0.7], [0.9, 0.1])}


def default_model(conf: dict) -> dict:
    """m/u/prior from settings (or the kind defaults): used when there is too little to train."""
    model = {"prior": conf["prior"], "m": {}, "u": {}}
    for name, comp in conf["comparisons"].items():
        m, u = DEFAULT_MU[comp.get("kind", "exact")]
        model["m"][name] = list(comp.get("m", m))
        model["u"][name] = list(comp.get("u", u))
    return model


def completed(model: dict, conf: dict) -> dict:
    """`model` with the default m/u of any comparison it lacks: a model stored before a
    version added comparisons (issue 16's place, district, thread) still scores, those at
    their documented defaults, until a `--retrain` run fits them."""
    names = conf["comparisons"]
    if all(n in model["m"] and n in model["u"] for n in names):
        return model
    base = default_model(conf)
    return {**model, "m": {**base["m"], **model["m"]}, "u": {**base["u"], **model["u"]}}


def comparison_plan(conf: dict) -> tuple:
    """(name, kind, fallback features) per comparison, precompiled once per settings."""
    return tuple((name, comp.get("kind", "exact"), tuple(comp.get("fallback_for", ())))
                 for name, comp in conf["comparisons"].items())


def _level(kind: str, a: str | None, b: str | None) -> int:
    if not a or not b:
        return -1
    if a == b:
        return len(KINDS[kind]) - 1
    if kind == "name":
        if two_scripts(a, b):
            return across_scripts(a, b)
        import jellyfish
        sim = jellyfish.jaro_winkler_similarity(a, b)
        return 2 if sim >= 0.94 else 1 if sim >= 0.88 else 0
    if kind == "code":
        import jellyfish
        return 1 if jellyfish.damerau_levenshtein_distance(a, b) <= 1 else 0
    return 0


def across_scripts(a: str, b: str) -> int:
    """The level of two name keys in two scripts (a bank's «hosein» and the registry's «حسین»):
    exact when their consonant skeletons are one (`persian.names.name_skeleton`), else not
    compared (-1): a transliteration that reads otherwise is no evidence against the name."""
    return len(KINDS["name"]) - 1 if one_name_across_scripts(a, b) else -1


def comparison_vector(fa: dict, fb: dict, conf: dict) -> dict[str, int]:
    """Level per comparison for one pair; a fallback comparison is null unless needed."""
    plan = conf.get("_plan") or comparison_plan(conf)
    out = {}
    for name, kind, fallback in plan:
        # the fallback speaks only for a side with none of the parts (an unsplit full name):
        # a title + surname mention's full key is its surname, and "surname" vs "first surname"
        # would count as a disagreement the surname comparison has already judged
        if fallback and any(fa.get(f) for f in fallback) and any(fb.get(f) for f in fallback):
            out[name] = -1
        else:
            out[name] = _level(kind, fa.get(name), fb.get(name))
    for x, y in conf.get("swappable", ()):
        # first and last name exchanged by a clerk, or split at another word of the same name
        # («علی پور نازنین» read as علی + پورنازنین for نازنین علی‌پور): the same letters in one
        # order or the other are the same name
        if out.get(x, -1) == 0 or out.get(y, -1) == 0:
            if fa.get(x) and fa.get(y) and fb.get(x) and fb.get(y) and \
                    fa[x] + fa[y] in (fb[x] + fb[y], fb[y] + fb[x]):
                out[x] = len(KINDS[conf["comparisons"][x]["kind"]]) - 1
                out[y] = len(KINDS[conf["comparisons"][y]["kind"]]) - 1
    for name in conf.get("halves", ()):  # محمدرضا and رضا: one name, half of it unknown
        # (whatever the similarity: فاطمه / فاطمه‌زهرا is jw 0.91, still not a typo)
        if 0 <= out.get(name, -1) < len(KINDS[conf["comparisons"][name]["kind"]]) - 1 and \
                is_half(fa[name], fb[name]):
            out[name] = -1
    return out


def is_half(a: str | None, b: str | None) -> bool:
    """Whether one name key is the start or end of the other, three letters or more (the short
    half of a compound first name: رضا of محمدرضا, فاطمه of فاطمه‌زهرا)."""
    if not a or not b or a == b:
        return False
    short, long = sorted((a, b), key=len)
    return len(short) >= 3 and (long.startswith(short) or long.endswith(short))


def probability(vector: dict[str, int], model: dict) -> float:
    """Posterior match probability of one comparison vector under a Fellegi-Sunter model."""
    logit = math.log(model["prior"] / (1 - model["prior"]))
    for name, lvl in vector.items():
        if lvl >= 0:
            logit += math.log(model["m"][name][lvl] / model["u"][name][lvl])
    return 1 / (1 + math.exp(-logit)) if logit > -700 else 0.0


TF_VALUES = 2000  # most common values kept per comparison: the model stays small JSON
TF_BOUND = math.log(10)  # a value moves a weight at most ten-fold either way


def tf_tables(feats: dict[str, dict], conf: dict) -> dict[str, dict[str, float]]:
    """Term frequencies of the comparisons marked `tf` (Splink's term-frequency adjustment):
    per comparison, the share of records holding each of its `TF_VALUES` most common values,
    and under "" the smallest share kept (what any rarer value is taken to have)."""
    out = {}
    for name, comp in conf["comparisons"].items():
        if not comp.get("tf"):
            continue
        counts = Counter(f.get(name) for f in feats.values() if f.get(name))
        if sum(counts.values()):
            out[name] = tf_table(counts)
    return out


def tf_table(counts: Counter) -> dict[str, float]:
    """One comparison's term-frequency table from its value counts (`tf_tables`)."""
    total = sum(counts.values())
    common = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TF_VALUES]
    table = {v: n / total for v, n in common}
    table[""] = min(table.values()) if len(counts) > len(common) else 1 / total
    return table


def tf_adjustment(vector: dict[str, int], fa: dict, fb: dict, model: dict) -> dict[str, float]:
    """Log-odds each `tf` comparison adds on an exact agreement: log(u / share of the value).
    محمد (one man in ten) agreeing says less than the average first name; a rare one more."""
    out = {}
    for name, table in (model.get("tf") or {}).items():
        u = model["u"][name][-1]
        if vector.get(name) == len(model["u"][name]) - 1 and fa.get(name) == fb.get(name) and u > 0:
            share = table.get(fa[name], table[""])
            out[name] = max(-TF_BOUND, min(TF_BOUND, math.log(u / share)))
    return out


def random_vectors(feats: dict, conf: dict, sources: dict, size: int = 50_000) -> list[dict]:
    """Comparison vectors of a seeded sample of random pairs (nearly all non-matches: u)."""
    import random
    from itertools import combinations

    refs = sorted(feats)
    n = len(refs)
    if n < 2:
        return []
    rng = random.Random(0)
    if n * (n - 1) // 2 <= size:
        pairs = combinations(refs, 2)
    else:
        pairs = ((refs[i], refs[j]) for i, j in
                 ((rng.randrange(n), rng.randrange(n)) for _ in range(size)) if i != j)
    return [comparison_vector(feats[a], feats[b], conf) for a, b in pairs
            if not (conf.get("link_only") and sources.get(a) == sources.get(b))]


def _tally(vectors: Iterable[tuple], weights: Iterable[float], levels: list[int],
           prior: list[float], strength: float) -> list[list[float]]:
    counts = [[strength * p for p in prior[i]] for i in range(len(levels))]
    for pat, w in zip(vectors, weights):
        for i, lvl in enumerate(pat):
            if lvl >= 0:
                counts[i][lvl] += w
    return [[max(c / sum(row), 1e-6) for c in row] for row in counts]


def trusted_m(base: dict, conf: dict) -> dict[str, list[float]]:
    """The documented m of each trusted id's own comparison, which m learned from pairs that
    share that id cannot give: chosen for an exact id, they say nothing of how often one
    person's id is mistyped, and a one-digit typo (the `edit<=1` level) would weigh nothing."""
    return {n: base["m"][n] for n in conf.get("trusted_ids", ()) if n in base["m"]}


def train(fuzzy: list[dict | tuple], exact: list[dict], randoms: list[dict], total_pairs: int,
          conf: dict, iterations: int = 25, strength: float = 20.0) -> dict:
    """Fellegi-Sunter parameters for a whole population of pairs (Splink's recipe, by hand):
    u from random pairs; m from pairs sharing a trusted id when there are >= 50 of them, else
    by EM over the blocked candidates with u fixed; the match prior by EM as expected matches
    over all `total_pairs`.  Defaults act as `strength` pseudo-pairs so m cannot drift far."""
    base = default_model(conf)
    names = list(base["m"])
    key = lambda v: v if isinstance(v, tuple) else tuple(v[n] for n in names)  # noqa: E731 (tuples: levels in order)
    levels = [len(KINDS[conf["comparisons"][n].get("kind", "exact")]) for n in names]
    flat = [[1.0 / lv] * lv for lv in levels]
    model = {"prior": 0.0, "m": dict(base["m"]),
             "u": dict(zip(names, _tally(map(key, randoms), [1.0] * len(randoms), levels, flat, 1)))}
    learn_m = len(exact) < 50
    if not learn_m:
        model["m"] = dict(zip(names, _tally(map(key, exact), [1.0] * len(exact), levels,
                                            [base["m"][n] for n in names], strength)))
        model["m"].update(trusted_m(base, conf))
    # sorted: float sums in a fixed order, so the same pairs give the same model bit for bit
    # whatever order blocking (set iteration, hash seed, engine) handed them over in
    patterns = dict(sorted(Counter(map(key, fuzzy)).items()))
    model["prior"] = max(len(exact) + 0.1 * len(fuzzy), 1) / max(total_pairs, 1)
    for _ in range(iterations):
        post = {pat: probability(dict(zip(names, pat)), model) for pat in patterns}
        expected = len(exact) + sum(cnt * post[pat] for pat, cnt in patterns.items())
        model["prior"] = min(max(expected / max(total_pairs, 1), 1e-12), 0.5)
        if learn_m:
            pats = list(patterns)
            model["m"] = dict(zip(names, _tally(pats, [patterns[p] * post[p] for p in pats],
                                                levels, [base["m"][n] for n in names], strength)))
    return model
