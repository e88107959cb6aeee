"""Why a pair scored what it did: the weight each comparison gave it, Splink's waterfall as a table.

A weight is log2(m/u) of the level the two records reached on that comparison (0 when a side
is null); the prior's weight plus the sum of the weights is the match weight, and the
probability is 1 / (1 + 2^-weight).  The rules the score goes through come first: a shared
valid trusted id (a national id with a correct check digit) is a match whatever the weights
unless the two records are two people all the same (another first name beside another birth
date or gender, or beside a father named as the other: `conflicts.parted_by`, never a match),
two different valid ones never are, and a first name that is present but not exact caps the
probability (`cap_unless_exact`; a rare one-edit typo of a common name escapes the cap, which
is not shown here), and so does a first or last name missing on a side or half of the other
unless the national id, birth date or 137 thread agrees (the mobile alone lifts it only to
0.99, below personal evidence: `cap_when_partial`), and a
surname that really differs (`cap_when_different`), and a match of names and home alone, no
personal evidence, is ranked below 0.99 (`rank_below_personal`).  A model trained on enough pairs also
carries term frequencies: an exact first name or surname weighs by how common it is (a row each).
"""
from __future__ import annotations

import math
from typing import Any

from munihub.resolve.caps import capped
from munihub.resolve.conflicts import parted_by
from munihub.resolve.model import KINDS, comparison_vector, completed, default_model, probability, tf_adjustment
from munihub.resolve.partial import WHY


def explain_features(fa: dict, fb: dict, conf: dict, model: dict | None = None) -> dict[str, Any]:
    """The rule, the prior weight, one row per comparison and the probability of one pair
    (`fa`, `fb`: match features; `conf`: `match.settings_for`; `model`: stored or default)."""
    from munihub.resolve.ids import contradicting_ids, valid_id
    from munihub.resolve.match import _shifted

    model = completed(model, conf) if model else default_model(conf)
    vector = comparison_vector(fa, fb, conf)
    rows = []
    for name, level in vector.items():
        kind = conf["comparisons"][name].get("kind", "exact")
        row = {"comparison": name, "left": fa.get(name), "right": fb.get(name),
               "level": KINDS[kind][level] if level >= 0 else "null", "m": None, "u": None, "weight": 0.0}
        if level >= 0:
            m, u = model["m"][name][level], model["u"][name][level]
            row.update(m=m, u=u, weight=math.log2(m / u) if m > 0 and u > 0 else 0.0)  # a zero m or u says nothing
        rows.append(row)
    for name, logit in tf_adjustment(vector, fa, fb, model).items():  # how common the value is
        rows.append({"comparison": f"{name} (term frequency)", "left": fa.get(name), "right": fb.get(name),
                     "level": "exact", "m": None, "u": None, "weight": logit / math.log(2)})
    prior = model["prior"]
    fellegi_sunter = _shifted(probability(vector, model), sum(tf_adjustment(vector, fa, fb, model).values()))
    ids = [f for f in conf.get("trusted_ids", []) if valid_id(f, fa.get(f)) and valid_id(f, fb.get(f))]
    refused = [f for f in ids if contradicting_ids(f, fa, fb, conf)]  # not one typo apart by one name
    rule = next((f"exact:{f}" for f in ids if fa[f] == fb[f]), None) or \
        (f"different valid {refused[0]}: never a match" if refused else "fellegi-sunter")
    apart = parted_by(fa, fb, conf) if rule.startswith("exact:") else ()
    if apart:  # one id, two people: a child's record carrying a parent's id (`match._score`)
        refused = [rule.removeprefix("exact:")]
        father, first = conf.get("child_names_parent") or (None, None)
        why = f"{first} differs, {father} names the other" if apart == (first, father) else \
            f"{' and '.join(apart)} differ"
        rule = f"one valid {refused[0]}, two people ({why}): never a match"
    # name counts are not kept with the model: the typo escape of the cap is not shown
    after_caps, capped_by = capped(fellegi_sunter, vector, conf, fa, fb, {})
    final = 1.0 if rule.startswith("exact:") else 0.0 if refused else after_caps
    return {"rule": rule, "prior": prior, "prior_weight": math.log2(prior / (1 - prior)), "comparisons": rows,
            "match_weight": math.log2(prior / (1 - prior)) + sum(r["weight"] for r in rows),
            "fellegi_sunter": fellegi_sunter, "capped_by": capped_by, "probability": final,
            "thresholds": {"match": conf["match"], "review": conf["review"]}}


def explain_refs(engine, left: str, right: str, match_settings: dict | None = None) -> dict[str, Any]:
    """`explain_features` for two resolved records of the store (refs `source|key`), with the
    stored model of their type, the entities they are in now and the rule each is in it by
    (`memberships`: a mention the household roster moved says so, `partial.WHY`)."""
    import sqlalchemy as sa

    from munihub import store
    from munihub.errors import MunihubError
    from munihub.resolve.match import settings_for

    f, mm, members = store.match_features, store.match_models, store.entity_members
    with engine.connect() as conn:
        found = {r: (t, feats) for r, t, feats in conn.execute(
            sa.select(f.c.ref, f.c.entity_type, f.c.features).where(f.c.ref.in_([left, right])))}
        for ref in (left, right):
            if ref not in found:
                raise MunihubError(f"no resolved record {ref!r}", where="resolve explain",
                                   hint="give refs as source|source_key (see `munihub export clusters`) "
                                        "of records a `munihub resolve` run has matched")
        etype = found[left][0]
        if found[right][0] != etype:
            raise MunihubError(f"{left!r} is a {etype}, {right!r} a {found[right][0]}", where="resolve explain",
                               hint="compare two records of one entity type")
        model = conn.execute(sa.select(mm.c.model).where(mm.c.entity_type == etype)).scalar()
        wanted = [sa.and_(members.c.source == s, members.c.source_key == k)
                  for s, k in (ref.split("|", 1) for ref in (left, right))]
        entities, rules = {}, {}
        for s, k, e, rule in conn.execute(
                sa.select(members.c.source, members.c.source_key, members.c.entity_id, members.c.rule)
                .where(members.c.entity_type == etype, sa.or_(*wanted))):
            entities[f"{s}|{k}"], rules[f"{s}|{k}"] = e, rule
    conf = settings_for(etype, match_settings)
    memberships = [{"ref": ref, "entity": entities.get(ref), "rule": rules.get(ref), "why": WHY.get(rules.get(ref))}
                   for ref in (left, right)]
    return {"entity_type": etype, "left": left, "right": right, "model": "stored" if model else "default",
            "entities": [entities.get(left), entities.get(right)], "memberships": memberships,
            **explain_features(found[left][1], found[right][1], conf, model)}


def weight_histogram(pairs, conf: dict, width: float = 2.0) -> dict[str, Any]:
    """Splink's match-weight chart as rows: scored pairs (`match.Pair`s, the Fellegi-Sunter
    ones) counted per `width`-wide bin of match weight (log2 odds), with the weights of the
    thresholds, so one sees whether the match threshold sits where the distribution has a gap."""
    def weight(p: float) -> float:
        return 60.0 if p >= 1.0 else -60.0 if p <= 0.0 else math.log2(p / (1 - p))

    bins: dict[float, int] = {}
    for p in pairs:
        if p.rule == "fellegi-sunter":
            lo = math.floor(weight(p.probability) / width) * width
            bins[lo] = bins.get(lo, 0) + 1
    return {"bins": [{"from": lo, "to": lo + width, "pairs": bins[lo]} for lo in sorted(bins)],
            "match_weight": weight(conf["match"]), "review_weight": weight(conf["review"])}


def score_distribution(engine, entity_type: str = "person", match_settings: dict | None = None,
                       width: float = 2.0) -> dict[str, Any]:
    """The stored records of one type re-blocked and re-scored with the stored model (as the
    last run scored them): the match-weight histogram of every pair at or above the review
    threshold, and the model's m, u and weight per comparison level (Splink's parameter chart)."""
    import sqlalchemy as sa

    from munihub import store
    from munihub.errors import MunihubError
    from munihub.resolve.match import index_from_features, match_index, settings_for

    f, mm = store.match_features, store.match_models
    with engine.connect() as conn:
        feats = {ref: fs for ref, fs in conn.execute(
            sa.select(f.c.ref, f.c.features).where(f.c.entity_type == entity_type))}
        model = conn.execute(sa.select(mm.c.model).where(mm.c.entity_type == entity_type)).scalar()
    if not feats:
        raise MunihubError(f"no resolved {entity_type} records", where="resolve distribution",
                           hint="run `munihub resolve` first, or pick another --type")
    conf = settings_for(entity_type, match_settings)
    stored = model is not None
    model = completed(model, conf) if model else default_model(conf)
    slot = index_from_features(feats, {r: r.split("|")[0] for r in feats}, conf)
    pairs, _ = match_index(slot, conf, model)
    levels = [{"comparison": name, "level": KINDS[comp.get("kind", "exact")][i], "m": m, "u": u,
               "weight": math.log2(m / u) if m > 0 and u > 0 else 0.0}
              for name, comp in conf["comparisons"].items()
              for i, (m, u) in enumerate(zip(model["m"][name], model["u"][name]))]
    return {"entity_type": entity_type, "records": len(feats), "model": "stored" if stored else "default",
            "prior": model["prior"], **weight_histogram(pairs, conf, width), "parameters": levels}
