"""Pairwise matching: features, blocking, exact rules, Fellegi-Sunter scoring (clusters and
stable ids from the pairs: `munihub.resolve.clustering`).

Plain data in, plain data out; no store.  Records are dicts shaped like
`{"ref", "source", "entity_type", "fields", "updated_at", "trust"}` with normalized fields.
Order: a shared valid trusted id (national id) is a match, two different valid ones never
are; every other blocked pair is scored by Fellegi-Sunter in plain Python.  Small batches
use the documented m/u below (calibrated for blocked candidates); from `min_train` candidate
pairs up, u comes from seeded random pairs, m from shared-id pairs (or EM), and the prior
from EM over all pairs -- Splink's recipe without its start-up cost, so tests stay fast and
incremental matching of a few records takes milliseconds.
"""
from __future__ import annotations

import dataclasses
import functools
from collections import Counter, defaultdict
from itertools import combinations
from typing import Any, Callable, Iterable

# at the top, not in `_transform_text`: an import statement run per distinct value was 7 %
# of the features' time at a million records
from munihub.persian import match_key, name_key
from munihub.persian.names import latin_skeletons, name_skeleton
from munihub.persian.ids import is_national_id  # ten ASCII digits with their check: the hot path
from munihub.resolve.caps import capped as _capped
from munihub.resolve.conflicts import clearly_two
from munihub.resolve.ids import contradicting_ids, typo_variants, valid_id
from munihub.resolve.model import (comparison_plan, comparison_vector, completed, default_model,  # noqa: F401
                                   probability, random_vectors, tf_adjustment, tf_tables, train)


_PERSON = {
    "trusted_ids": ["national_id"], "swappable": [("first_key", "last_key")], "halves": ["first_key"],
    "cap_unless_exact": {"first_key": 0.9},
    # a surname that differs (not a typo) beside a shared mobile or address is another
    # household member: a wife keeps her own surname
    "cap_when_different": {"last_key": 0.9},
    # a name part missing on a side, or the short half of a compound first name (`halves`:
    # رضا of محمدرضا), counts only beside something personal: a title and surname with the
    # home's landline and address is anyone in that home (docs/resolution.md).  The mobile
    # is mostly its owner's, but a home's members borrow it: it makes a match, ranked below
    # one the thread, id or birth date makes, and below the whole name at the same home (a
    # son «علی» on his father محمدعلی's mobile is the home's علی) (caps.capped)
    "cap_when_partial": {
        "first_key": (0.9, ("national_id", "birth_date", "thread"), {"mobile": 0.98}),
        "last_key": (0.9, ("national_id", "birth_date", "thread", ("mobile", "first_key"),
                           ("place", "first_key")))},
    "match": 0.95, "review": 0.6, "prior": 0.2,
    # a match made of names and the home alone (no id, birth date, mobile or 137 thread)
    # ranks below one personal evidence makes: «رضا» on the home's landline is the father
    # رضا by name, and the twin محمدرضا by his own thread; the thread decides
    "rank_below_personal": (0.99, ("national_id", "birth_date", "mobile", "thread")),  # caps._below
    # never one person, however a chain of links runs (see clustering.cluster); two fathers'
    # names too: «محمدعلی فرزند علی» on his father's mobile is علی's son, not علی
    "conflicts": ["birth_date", "gender", "first_key", "last_key", "father_key"],
    # ... and even under one valid national id, another first name beside another birth
    # date, gender or surname: a child's record carrying a parent's id (a data-entry error) is
    # not the parent (a mother keeps her own surname); a first name alone changes officially
    # (غلامرضا → رضا), a date alone is a typo
    # (`conflicts.clearly_two`: no exact match, and no id link chains the two in a cluster)
    "apart_despite_id": [["first_key", "birth_date"], ["first_key", "gender"], ["first_key", "last_key"]],
    # ... or another first name on a record naming the other's first name as its father's:
    # «محمد سبزواری», son of جواد, under جواد سبزواری's id is his son
    "child_names_parent": ["father_key", "first_key"],
    # ... but the two halves of a compound first name the cluster holds are one woman's
    # (فاطمه, زهرا of فاطمه‌زهرا: conflicts.between), unless a side states a birth date: a
    # registry's row gives its person's whole name, so its زهرا is the daughter
    "whole_names_with": ["birth_date"],
    # a record that states no gender has its first name's, when the name is given to one
    # gender only (persian.first_name_genders): «خانم طباطبایی» calling from the mobile of
    # «کاظم طباطبایی» (a daughter, a sister) is then not him (gender_of_first)
    "gender_from": "first_key",
    # a national id: valid, set aside for its check digit, or a foreign national's FIDA number
    # (records.SET_ASIDE_ID, FOREIGN_ID: never valid ids for the exact rule)
    "features": {"national_id": (["national_id", "national_id_set_aside", "foreign_id"], "raw"),
                 "first_key": ("first_name", "name"), "last_key": ("last_name", "name"), "full_key": ("full_name", "name"),
                 "father_key": ("father_name", "name"), "birth_date": ("birth_date", "raw"),
                 "mobile": ("mobile", "raw"), "phone": (["phone", "phone_local"], "landline"),
                 "postal_code": (["postal_code", "address.postal_code"], "raw"),
                 "gender": ("gender", "raw"), "place": ("address", "place"),
                 "district": ("address", "district"), "thread": ("request_thread", "raw"),
                 # not compared (no comparison names it): the roster's reference date
                 # (`partial`: a child on record is no 137 caller)
                 "mentioned_on": ("mentioned_on", "raw")},
    # m/u are for pairs inside the blocked candidate set (not random pairs).
    "comparisons": {
        "national_id": {"kind": "code", "m": [0.03, 0.04, 0.93], "u": [0.995, 0.004, 0.001]},
        # tf: an exact agreement weighs by how common the name is (محمد, احمدی count for less)
        "first_key": {"kind": "name", "tf": True,
                      "m": [0.02, 0.04, 0.09, 0.85], "u": [0.85, 0.05, 0.04, 0.06]},
        "last_key": {"kind": "name", "tf": True,
                     "m": [0.03, 0.04, 0.08, 0.85], "u": [0.75, 0.05, 0.05, 0.15]},
        # full name only speaks when first or last name is missing on a side (no double count)
        "full_key": {"kind": "name", "fallback_for": ["first_key", "last_key"],
                     "m": [0.02, 0.04, 0.09, 0.85], "u": [0.9, 0.04, 0.03, 0.03]},
        "father_key": {"kind": "name", "m": [0.05, 0.04, 0.06, 0.85], "u": [0.8, 0.04, 0.04, 0.12]},
        "birth_date": {"kind": "code", "m": [0.02, 0.08, 0.9], "u": [0.97, 0.02, 0.01]},
        "mobile": {"kind": "exact", "m": [0.35, 0.65], "u": [0.9, 0.1]},
        "postal_code": {"kind": "exact", "m": [0.4, 0.6], "u": [0.93, 0.07]},
        # a landline is a household's: agreement says little more than "same home" (spouses,
        # children, twins share it), so it weighs less than a mobile and never blocks alone
        "phone": {"kind": "exact", "m": [0.4, 0.6], "u": [0.8, 0.2]},
        "gender": {"kind": "exact", "m": [0.02, 0.98], "u": [0.5, 0.5]},
        # street and alley: one home is a household, so a place only counts beside names
        # (the first-name caps below keep spouses, children and twins apart)
        "place": {"kind": "exact", "m": [0.15, 0.85], "u": [0.99, 0.01]},
        "district": {"kind": "exact", "m": [0.08, 0.92], "u": [0.92, 0.08]},
        # a 137 call and the follow-up citing it: mostly one caller
        "thread": {"kind": "exact", "m": [0.85, 0.15], "u": [0.9999, 0.0001]},
    },
    # A common name (محمد محمدی) blocks thousands of different people: a block above
    # max_block carries no signal and would cost n^2 pairs, so pairs come through ids,
    # mobile and birth date instead.
    "max_block": 60,
    # a national id that fails its check (set aside at publish: records.SET_ASIDE_ID) blocks
    # with the valid ids one typo away, so a nameless caller's mistyped id still meets its
    # owner; two valid ones one typo apart are scored, not refused, where these features
    # agree exactly as far as both sides give them (`contradicting_ids`, `near_agree`): twins
    # registered one after the other can hold ids one digit apart, and their first names differ
    "near_ids": {"national_id": ["first_key", "last_key"]},
    "blocking": [["national_id"], ["last_key", "birth_date"], ["first_key", "birth_date"],
                 ["first_key", "last_key"],
                 ["full_key"], ["mobile"], ["birth_date", "postal_code"],
                 ["birth_date", "father_key"], ["phone", "last_key"], ["phone", "first_key"],
                 ["last_key", "place"], ["first_key", "place"], ["thread"]],
}


def _simple(trusted: str, name_field: str, extra: dict) -> dict:
    """Settings for record types identified by a code plus a citizen (name, mobile)."""
    feats = {trusted: (trusted, "raw"), "national_id": ("national_id", "raw"),
             "name_key": (name_field, "name"), "mobile": ("mobile", "raw"), **extra}
    comps = {f: {"kind": "code" if f != "name_key" else "name"} for f in feats}
    return {"trusted_ids": [trusted], "match": 0.95, "review": 0.6, "prior": 0.1,
            "features": feats, "comparisons": comps,
            "blocking": [[trusted], ["national_id", "name_key"], ["mobile", "name_key"]]}


def _coded(code: str, title_field: str) -> dict:
    """Settings for records with an authoritative code: same code, same thing."""
    return {"trusted_ids": [code], "match": 0.95, "review": 0.6, "prior": 0.1,
            "features": {code: (code, "raw"), "name_key": (title_field, "name")},
            "comparisons": {code: {"kind": "code"}, "name_key": {"kind": "name"}},
            "blocking": [[code]]}


DEFAULT_SETTINGS: dict[str, dict] = {
    "person": _PERSON,
    "permit": _simple("permit_no", "owner_name", {"parcel_code": ("parcel_code", "raw")}),
    "payment": _simple("payment_id", "payer_name", {"reference": ("reference", "raw")}),
    "service_request": _simple("tracking_code", "citizen_name", {}),
    "agency": {"trusted_ids": ["agency_code"], "match": 0.95, "review": 0.6, "prior": 0.1,
               "features": {"agency_code": ("agency_code", "raw"), "name_key": ("name", "name"),
                            "phone": ("phone", "raw")},
               "comparisons": {"agency_code": {"kind": "code"}, "name_key": {"kind": "name"},
                               "phone": {"kind": "exact"}},
               "blocking": [["agency_code"], ["name_key"], ["phone"]]},
    "project": _coded("project_code", "title"),
    "inter_agency_request": _coded("request_id", "subject"),
    "indicator": _coded("indicator_code", "title"),
    "address": {"trusted_ids": [], "match": 0.95, "review": 0.6, "prior": 0.1,
                "features": {"postal_code": ("postal_code", "raw"), "street": ("street", "text"),
                             "plate": ("plate", "raw"), "district": ("district", "text")},
                "comparisons": {"postal_code": {"kind": "code"}, "street": {"kind": "name"},
                                "plate": {"kind": "exact"}, "district": {"kind": "exact"}},
                "blocking": [["postal_code"], ["district", "street"]]},
}


@dataclasses.dataclass(frozen=True, order=True)
class Pair:
    """Two records judged alike: `probability` in [0, 1], `rule` says which rule decided."""

    left_ref: str
    right_ref: str
    probability: float
    rule: str


def settings_for(entity_type: str, settings: dict | None = None) -> dict:
    """The effective settings of one entity type: defaults overlaid by `settings[type]`."""
    base = dict(DEFAULT_SETTINGS.get(entity_type, {}))
    base.update((settings or {}).get(entity_type, {}))
    if not base.get("features"):
        from munihub.errors import ConfigError
        raise ConfigError(f"no matching settings for entity type {entity_type!r}",
                          where="munihub.resolve.match", hint="add features/comparisons/blocking for it")
    base.setdefault("trusted_ids", [])
    base.setdefault("match", 0.95)
    base.setdefault("review", 0.6)
    base.setdefault("prior", 0.1)
    base["_plan"] = comparison_plan(base)  # comparisons precompiled: scored once per candidate pair
    return base


# --------------------------------------------------------------------------- features
def _transform(value: Any, how: str) -> str | None:
    if how in ("place", "district"):  # an address (dict or text) read for where it is
        from munihub.resolve.places import district_key, place_key
        return place_key(value) if how == "place" else district_key(value)
    if how == "raw" and isinstance(value, str):  # ids and dates are unique: a cache only churns
        return value.strip().casefold() or None
    if how == "landline":
        return landline_key(value)
    if isinstance(value, str):
        return _transform_text(value, how)
    if value is None:
        return None
    return _transform_text(str(value), how)


def landline_key(value: Any) -> str | None:
    """A landline by its last eight digits (`+985138412345` and a local `38412345` that a
    contract gave without its city code, `records.PHONE_LOCAL`, are one number: a city's hub
    meets few other cities' numbers, and a landline is a home's weak evidence anyway); a
    mobile in a phone field stays whole."""
    if value is None:
        return None
    text = str(value).strip()
    if text.startswith("+98") and text[3:4] != "9" and len(text) == 13 and text[3:].isdigit():
        return text[-8:]
    return text.casefold() or None


@functools.lru_cache(maxsize=1 << 18)  # names and codes repeat a lot across records
def _transform_text(value: str, how: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    if how == "raw":
        return text.casefold()
    key = match_key(name_key(text) if how == "name" else text)
    return key or None


def _get(fields: dict, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(fields, dict):
            return None
        fields = fields.get(part)
    return fields


def features(record: dict, settings: dict | None = None, conf: dict | None = None) -> dict[str, str]:
    """Comparison features of one record (name keys, ids, dates), per its entity type; a
    feature the record lacks is left out (read them with `.get`): a million small dicts
    weigh half as much below eleven keys.  `conf`: that type's `settings_for`, when the
    caller has it already."""
    conf = conf or settings_for(record.get("entity_type", "person"), settings)
    fields = record.get("fields") or {}
    out: dict[str, str] = {}
    for feat, (paths, how) in conf["features"].items():
        paths = [paths] if isinstance(paths, str) else paths
        value = next((v for v in (_transform(_get(fields, p), how) for p in paths) if v), None)
        if value is not None:
            out[feat] = value
    if "full_key" in conf["features"] and not out.get("full_key") and (out.get("first_key") or out.get("last_key")):
        out["full_key"] = (out.get("first_key") or "") + (out.get("last_key") or "")
    source = conf.get("gender_from")
    if source and "gender" not in out and out.get(source) and "gender" in conf["features"]:
        gender = gender_of_first(out[source])
        if gender:
            out["gender"] = gender
    return out


def gender_of_first(first_key: str) -> str | None:
    """The gender a first name's key says ("male" / "female"), or None: not in the shipped
    list, or given to both.  A Latin key («maryam») says its Persian name's, by skeleton
    (`persian.names.name_skeleton`), where every listed name of that skeleton has one gender."""
    gender = _first_genders().get(first_key)
    if gender is None and first_key[:1].isascii():
        found = {g for sk in latin_skeletons(first_key) if (g := _skeleton_genders().get(sk))}
        gender = found.pop() if len(found) == 1 else None
    return gender


@functools.lru_cache(maxsize=1)
def _first_genders() -> dict[str, str]:
    from munihub.persian import first_name_genders

    return {key: g for name, g in first_name_genders().items() if (key := _transform_text(name, "name"))}


@functools.lru_cache(maxsize=1)
def _skeleton_genders() -> dict[str, str]:
    found: dict[str, set] = {}
    for key, gender in _first_genders().items():
        found.setdefault(name_skeleton(key), set()).add(gender)
    return {sk: genders.pop() for sk, genders in found.items() if len(genders) == 1 and len(sk) >= 2}


# --------------------------------------------------------------------------- blocking
def blocking_keys(feats: dict, conf: dict) -> list[tuple]:
    """The blocking keys of one record: one per rule whose features are all present; a rule
    of one trusted id in `near_ids` also gives, for an id that fails its check, the key of
    every valid id one typo away (`typo_variants`): the mistyped id meets the valid one."""
    keys = []
    for i, rule in enumerate(conf["blocking"]):
        values = [feats.get(f) for f in rule]
        if all(values):
            keys.append((i, *values))
    for f in conf.get("near_ids", ()):  # after the loop: one test a record, not one a rule
        value = feats.get(f)
        if value and not is_national_id(value) and [f] in conf["blocking"]:
            i = conf["blocking"].index([f])
            keys += [(i, v) for v in typo_variants(value)]
    return keys


def _candidates(blocks: dict[tuple, list[str]], max_block: int) -> set[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    for refs in blocks.values():
        if 1 < len(refs) <= max_block:  # giant blocks (a shared office phone) carry no signal
            pairs.update(combinations(sorted(refs), 2))
    return pairs


# --------------------------------------------------------------------------- scoring
def _score(pairs: Iterable[tuple[str, str]], index: dict, conf: dict, model: dict | None,
           min_train: int) -> tuple[list[Pair], dict]:
    feats, sources = index["features"], index["sources"]
    exact, fuzzy, agreed = [], [], []
    trusted = conf["trusted_ids"]
    for a, b in pairs:
        if conf.get("link_only") and sources.get(a) == sources.get(b):
            continue
        fa, fb = feats[a], feats[b]
        ids = [f for f in trusted if valid_id(f, fa.get(f)) and valid_id(f, fb.get(f))]
        shared = next((f for f in ids if fa[f] == fb[f]), None)
        if shared is not None:
            # one id, two people: another first name and another birth date (or gender) is
            # a child's record carrying a parent's id, refused (`conflicts.clearly_two`)
            if not clearly_two(fa, fb, conf):
                exact.append(Pair(a, b, 1.0, "exact:" + shared))
                if model is None:
                    agreed.append(comparison_vector(fa, fb, conf))
        elif not any(contradicting_ids(f, fa, fb, conf) for f in ids):
            # two different valid trusted ids are different entities, never scored
            # kept as a tuple of levels (comparisons in settings order): a dict per candidate
            # pair of 13 comparisons weighs twice a dict of 10, and full runs hold millions
            fuzzy.append((a, b, tuple(comparison_vector(fa, fb, conf).values())))
    if model is None:
        vectors = [v for _, _, v in fuzzy]
        if len(vectors) + len(agreed) >= min_train:
            n = len(feats)
            total = n * (n - 1) // 2
            if conf.get("link_only"):
                per = Counter(sources.values())
                total -= sum(k * (k - 1) // 2 for k in per.values())
            model = train(vectors, agreed, random_vectors(feats, conf, sources), total, conf)
            model["tf"] = tf_tables(feats, conf)
        else:
            model = default_model(conf)
    model = completed(model, conf)
    out = list(exact)
    seen: dict[tuple, tuple[dict, float]] = {}  # few distinct patterns: score each once
    names = list(conf["comparisons"])
    for a, b, pattern in fuzzy:
        if pattern not in seen:
            vector = dict(zip(names, pattern))
            seen[pattern] = (vector, probability(vector, model))
        v, p = seen[pattern]
        if "tf" in model:
            p = _shifted(p, sum(tf_adjustment(v, feats[a], feats[b], model).values()))
        p, _ = _capped(p, v, conf, feats[a], feats[b], index.get("counts", {}))
        if p >= conf["review"]:
            out.append(Pair(a, b, round(p, 6), "fellegi-sunter"))
    return out, model


def _shifted(p: float, logit: float) -> float:
    """Probability `p` with `logit` added to its log-odds."""
    import math
    if not logit or p <= 0.0 or p >= 1.0:
        return p
    return 1 / (1 + math.exp(-(math.log(p / (1 - p)) + logit)))


def _by_type(records: Iterable[dict]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for rec in records:
        groups[rec.get("entity_type", "person")].append(rec)
    return groups


def find_matches(records: list[dict], settings: dict | None = None, *,
                 min_train: int = 500, models: dict | None = None) -> list[Pair]:
    """Pairs at or above the review threshold: exact trusted-id rules first, then
    Fellegi-Sunter on blocked candidates (EM-trained when >= `min_train` candidate pairs).

    `models`, if given, supplies a model per entity type or receives the one used, so
    `match_incremental` can score new records exactly as the full run did."""
    out: list[Pair] = []
    for etype, recs in sorted(_by_type(records).items()):
        index = build_index(recs, settings)[etype]
        found, model = match_index(index, settings_for(etype, settings),
                                   (models or {}).get(etype), min_train)
        out += found
        if models is not None:
            models[etype] = model
    return sorted(out)


def match_index(slot: dict, conf: dict, model: dict | None = None,
                min_train: int = 500, free_blocks: bool = False) -> tuple[list[Pair], dict]:
    """Every blocked pair of one type's index scored: (pairs >= review, the model used).
    With `model` None one is trained (or the defaults taken) as `find_matches` describes.
    `free_blocks` empties the slot's blocks once the candidates are known: for a million
    records they weigh more than the pairs, and scoring is the run's memory peak."""
    pairs = sorted(_candidates(slot["blocks"], conf.get("max_block", 2000)))
    if free_blocks:
        slot["blocks"] = defaultdict(list)
    return _score(pairs, slot, conf, model, min_train)


# --------------------------------------------------------------------------- incremental
def build_index(records: Iterable[dict], settings: dict | None = None,
                index: dict | None = None) -> dict:
    """Blocking index `{type: {"blocks": {key: [refs]}, "features": {ref: ...}, "sources",
    "counts": {feature: Counter}}}`; pass `index` to add records to an existing one (a
    changed record replaces its old keys and counts)."""
    index = index if index is not None else {}
    confs: dict[str, dict] = {}
    for rec in records:
        etype = rec.get("entity_type", "person")
        conf = confs.get(etype) or confs.setdefault(etype, settings_for(etype, settings))
        slot = index.setdefault(etype, {"blocks": defaultdict(list), "features": {},
                                        "sources": {}, "counts": defaultdict(Counter)})
        ref = rec["ref"]
        counted = conf.get("cap_unless_exact", {})
        if ref in slot["features"]:
            old = slot["features"][ref]
            for key in blocking_keys(old, conf):
                slot["blocks"][key].remove(ref)
            for name in counted:
                slot["counts"][name][old.get(name)] -= 1
        feats = features(rec, settings, conf)
        slot["features"][ref] = feats
        slot["sources"][ref] = rec.get("source", ref.split("|")[0])
        for key in blocking_keys(feats, conf):
            slot["blocks"][key].append(ref)
        for name in counted:
            slot["counts"][name][feats.get(name)] += 1
    return index


def match_incremental(new_records: list[dict], index: dict, settings: dict | None = None,
                      model: dict | None = None) -> list[Pair]:
    """Match new or changed records against an index of existing ones (and each other),
    through the same blocking; the index is updated in place.  Cost grows with the new
    records' blocks, not with the whole data set."""
    build_index(new_records, settings, index)
    out: list[Pair] = []
    for etype, recs in sorted(_by_type(new_records).items()):
        conf = settings_for(etype, settings)
        m = (model or {}).get(etype) or default_model(conf)
        out += score_refs([rec["ref"] for rec in recs], index[etype], conf, m)
    return sorted(out)


def score_refs(refs: Iterable[str], slot: dict, conf: dict, model: dict) -> list[Pair]:
    """Pairs >= review between `refs` and anything sharing a block with them in `slot`
    (blocks over `max_block` skipped, as in a full run), scored with `model`."""
    pairs = set()
    limit = conf.get("max_block", 2000)
    for ref in refs:
        for key in blocking_keys(slot["features"][ref], conf):
            block = slot["blocks"][key]
            if len(block) <= limit:
                pairs.update((ref, r) if ref < r else (r, ref) for r in block if r != ref)
    return _score(sorted(pairs), slot, conf, model, 0)[0]


def index_from_features(feats: dict[str, dict], sources: dict[str, str], conf: dict) -> dict:
    """One type's index slot rebuilt from stored features (no normalization: cheap)."""
    slot = {"blocks": defaultdict(list), "features": feats, "sources": sources,
            "counts": defaultdict(Counter)}
    counted = conf.get("cap_unless_exact", {})
    for ref, f in feats.items():
        for key in blocking_keys(f, conf):
            slot["blocks"][key].append(ref)
        for name in counted:
            slot["counts"][name][f.get(name)] += 1
    return slot


def grow_region(seeds: Iterable[str], slot: dict, conf: dict, model: dict,
                previous: dict[str, str], members_of: dict[str, list[str]],
                decisions: Iterable[tuple[str, str, str]] = (),
                fetch: Callable[[set[str], bool], None] | None = None) -> tuple[set[str], list[Pair]]:
    """The refs an incremental run must re-cluster, and every scored pair touching them.

    Starting from `seeds` (new or changed refs, refs of new decisions), add each ref's
    former entity (`previous` ref -> id, `members_of` id -> refs) and everything linked at
    or above the match threshold (or by a steward "match"), until closed.  The region is
    then a union of whole link-connected parts, so clustering it alone gives what a full
    run gives there.

    `fetch(refs, blocks)`, if given, is called before `refs` are looked at, so a slot kept
    in the store can load just that neighbourhood into `slot`, `previous` and `members_of`:
    with blocks False their features and former entities, with True also every block they
    are in (members' features and counts included)."""
    linked = defaultdict(set)
    for a, b, verdict in decisions:
        if verdict == "match":
            linked[a].add(b), linked[b].add(a)
    feats = slot["features"]
    region: set[str] = set()
    pairs: dict[tuple[str, str], Pair] = {}
    frontier = set(seeds)
    while frontier:
        if fetch:
            fetch(frontier, False)
        layer = {r for r in frontier if r in feats}
        closed = set(layer)
        while layer:  # whole former entities and steward links first, then score them all
            nxt_layer = {other for ref in layer
                         for other in (*members_of.get(previous.get(ref), ()), *linked.get(ref, ()))
                         if other not in region and other not in closed}
            if fetch and nxt_layer:
                fetch(nxt_layer, False)
            layer = {r for r in nxt_layer if r in feats}
            closed |= layer
        region |= closed
        if fetch:
            fetch(closed, True)
        nxt = set()
        for p in score_refs(sorted(closed), slot, conf, model):
            pairs[(p.left_ref, p.right_ref)] = p
            if p.probability >= conf["match"]:
                nxt.update((p.left_ref, p.right_ref))
        frontier = nxt - region
    return region, sorted(pairs.values())
