"""`resolve.vectorized.match_index` gives what `match.match_index` gives (pairs, rules,
probabilities, the trained model to the last bit), in worker processes too, on Persian
persons with the default settings, on a link-only type and on English settings."""
from __future__ import annotations

import random

import numpy as np

import pytest

from munihub.persian.ids import national_id_check_digit
from munihub.resolve import components, levels, match, vectorized

FIRST = ["علی", "رضا", "مهدی", "زهرا", "مریم", "سارا", "محمد", "محمود", "حسن", "حسین"]
LAST = ["احمدی", "کریمی", "طوسی", "نوری", "رضوی", "محمدی", "رضایی"]


def _nid(rng: random.Random) -> str:
    first9 = "".join(rng.choice("0123456789") for _ in range(9))
    return first9 + str(national_id_check_digit(first9))


def _typo(rng: random.Random, s: str) -> str:
    i = rng.randrange(len(s))
    return s[:i] + s[i + 1:] if len(s) > 2 else s


def persons(n_people: int, seed: int) -> list[dict]:
    """Noisy Persian person records: typos, swapped names, one-field names, shared and
    different valid national ids, a mistyped one, missing fields, phones reused."""
    rng = random.Random(seed)
    out = []
    for p in range(n_people):
        first, last, nid = rng.choice(FIRST), rng.choice(LAST), _nid(rng)
        born = f"19{rng.randint(50, 99)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"
        mobile = f"+98915{rng.randint(0, 99999):07d}"
        for k in range(rng.choice((1, 2, 2, 3, 4))):
            f = {"first_name": first, "last_name": last, "birth_date": born, "mobile": mobile}
            r = rng.random()
            if r < 0.15:
                f["first_name"] = _typo(rng, first)
            elif r < 0.25:
                f["first_name"], f["last_name"] = last, first
            elif r < 0.35:
                f.pop("first_name"), f.pop("last_name")
                f["full_name"] = f"{first} {last}"
            if rng.random() < 0.6:
                f["national_id"] = nid if rng.random() < 0.9 else nid[:-2] + nid[-1] + nid[-2]
            if rng.random() < 0.2:
                f.pop("birth_date")
            if rng.random() < 0.1:
                f["mobile"] = f"+98915{rng.randint(0, 99):07d}"  # a number many people share
            out.append({"ref": f"{rng.choice('abc')}|{p}-{k}", "source": "x", "entity_type": "person",
                        "fields": f})
    for r in out:
        r["source"] = r["ref"].split("|")[0]
    return out


ENGLISH = {"person": {
    "trusted_ids": [], "swappable": [["first_key", "last_key"]], "cap_unless_exact": {}, "cap_when_partial": {},
    "features": {"ssn": ["national_id", "raw"], "first_key": ["first_name", "name"],
                 "last_key": ["last_name", "name"], "birth_date": ["birth_date", "raw"],
                 "mobile": ["mobile", "raw"]},
    "comparisons": {"ssn": {"kind": "code"}, "first_key": {"kind": "name"}, "last_key": {"kind": "name"},
                    "birth_date": {"kind": "code"}, "mobile": {"kind": "exact"}},
    "blocking": [["ssn"], ["last_key", "birth_date"], ["first_key", "birth_date"], ["mobile"]]}}


def _both(records, settings=None, model=None, **kw):
    """(match.match_index on match.build_index, vectorized.match_index on vectorized.build_index:
    candidates from the encoded features, no blocks)."""
    slot = match.build_index(records, settings)["person"]
    conf = match.settings_for("person", settings)
    want = match.match_index(slot, conf, model)
    mine = vectorized.build_index(records, "person", settings, processes=kw.get("processes"))
    assert mine["features"] == slot["features"] and mine["sources"] == slot["sources"]
    assert mine["counts"] == slot["counts"]
    got = vectorized.match_index(mine, conf, model, **kw)
    assert vectorized.match_index(slot, conf, model, **kw) == got  # from match's blocks too
    return want, got


@pytest.fixture(scope="module")
def records():
    return persons(700, seed=5)


@pytest.mark.parametrize("settings", [None, ENGLISH], ids=["persian-defaults", "english"])
def test_same_pairs_and_model_as_match_index(records, settings):
    (pairs, model), (vpairs, vmodel) = _both(records, settings)
    assert len(pairs) > 300 and any(p.rule == "fellegi-sunter" for p in pairs)
    assert vpairs == pairs  # refs, rule and rounded probability of every pair
    assert vmodel == model  # trained on the data, equal to the last bit


def test_names_in_two_scripts_score_alike_on_both_paths(records):
    """A bank's Latin copies of some people (no national id, the mobile kept): the dict path
    and the array path give the same pairs, and some of them join across scripts."""
    letters = dict(zip("بپتثجچحخدذرزژسشصضطظعغفقکگلمنوهیاآ",
                       "b p t s j ch h kh d z r z zh s sh s z t z a gh f gh k g l m n ou h i a a".split()))

    def latin(name: str) -> str:  # a clerk's plain transliteration, letter by letter
        return "".join(letters.get(c, " " if c.isspace() else "") for c in name).title()

    copies = [{**r, "ref": f"bank|{i}", "source": "bank", "fields": {
        **{k: v for k, v in r["fields"].items() if k not in ("national_id", "first_name", "last_name")},
        "first_name": latin(r["fields"].get("first_name", "")), "last_name": latin(r["fields"].get("last_name", ""))}}
        for i, r in enumerate(records[:120]) if r["fields"].get("first_name") and r["fields"].get("mobile")]
    assert len(copies) > 20
    (pairs, _), (vpairs, _) = _both(records + copies)
    assert vpairs == pairs
    assert any(p.left_ref.startswith("bank|") != p.right_ref.startswith("bank|") and p.probability >= 0.95
               for p in pairs)


def test_every_rule_is_exercised(records):
    (pairs, _), _ = _both(records)
    rules = {p.rule for p in pairs}
    assert {"exact:national_id", "fellegi-sunter"} <= rules
    capped = [p for p in pairs if p.probability == 0.9]  # a non-exact first name caps at 0.9
    assert capped


def test_given_model_and_link_only(records):
    conf = {"person": {"link_only": True}}
    model = match.default_model(match.settings_for("person"))
    (pairs, _), (vpairs, vmodel) = _both(records, conf, model=model)
    assert pairs and vpairs == pairs and vmodel is model
    assert all(p.left_ref.split("|")[0] != p.right_ref.split("|")[0] for p in vpairs)


def test_worker_processes_give_the_same(records, monkeypatch):
    monkeypatch.setattr(levels, "PARALLEL_FROM", 1)  # every comparison goes to the pool
    monkeypatch.setattr(vectorized, "workers", lambda: 2)
    monkeypatch.setattr(vectorized, "FEATURES_PER_WORKER", 100)
    (pairs, model), (vpairs, vmodel) = _both(records, ENGLISH, processes=2)
    assert vpairs == pairs and vmodel == model


def test_small_input_and_no_candidates():
    one = persons(1, seed=1)[:1]
    pairs, model = vectorized.match_index(vectorized.build_index(one, "person"), match.settings_for("person"))
    assert pairs == [] and model["prior"] > 0


def test_giant_blocks_are_skipped_as_blocks_skip_them(records):
    conf = {"person": {"max_block": 3}}
    (pairs, _), (vpairs, _) = _both(records, conf)
    assert vpairs == pairs


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cluster_equals_clustering_cluster(seed):
    from munihub.resolve import clustering
    from munihub.resolve.match import Pair

    rng = random.Random(seed)
    refs = [f"s|{i:04d}" for i in range(400)]
    pairs = []
    for _ in range(500):  # chains, stars and long paths across the whole range
        a, b = sorted(rng.sample(refs, 2))
        pairs.append(Pair(a, b, round(rng.random(), 3), "fellegi-sunter"))
    pairs.append(Pair("s|0001", "other|9", 1.0, "exact:national_id"))  # a ref not clustered
    decisions = [("s|0005", "s|0399", "match"), ("s|0010", "s|0011", "no-match-pending")]
    want = clustering.cluster(refs, pairs, 0.6, decisions)
    got = components.cluster(refs, pairs, 0.6, decisions)
    assert got == want and len(set(want.values())) < 300
    no = [("s|0005", "s|0399", "no-match"), ("s|0020", "s|0021", "match")]
    assert components.cluster(refs, pairs, 0.6, no) == clustering.cluster(refs, pairs, 0.6, no)
    # a conflict test (here: refs of another parity never together) splits parts alike
    odd = lambda a, b: int(a[-1]) % 2 != int(b[-1]) % 2  # noqa: E731
    want = clustering.cluster(refs, pairs, 0.6, no, odd)
    assert components.cluster(refs, pairs, 0.6, no, odd) == want
    assert len(set(want.values())) > len(set(clustering.cluster(refs, pairs, 0.6, no).values()))


@pytest.mark.parametrize("settings", [None, ENGLISH], ids=["persian-defaults", "english"])
def test_conflicts_over_the_feature_table_cluster_alike(records, settings):
    """Parts tested for conflicts in arrays (`conflicts.TableConflicts.many`) are the parts the
    one-pair test finds: the clusters equal `clustering.cluster` with `conflict_of` on dicts."""
    from munihub.resolve import clustering
    from munihub.resolve.conflicts import conflict_of

    settings = {"person": {**(settings or {}).get("person", {}), "conflicts": ["birth_date", "first_key"]}}
    conf = match.settings_for("person", settings)
    slot = vectorized.build_index(records, "person", settings)
    pairs, _ = vectorized.match_index(slot, conf)
    refs = [r["ref"] for r in records]
    rng = random.Random(7)  # and chains of weak links across people: parts with conflicts
    pairs += [match.Pair(*sorted(rng.sample(refs, 2)), 0.7, "fellegi-sunter") for _ in range(300)]
    feats = dict(slot["features"])
    want = clustering.cluster(refs, pairs, 0.6, (), conflict_of(feats, conf))
    test = conflict_of(slot["features"], conf)
    assert hasattr(test, "many")
    assert components.cluster(refs, pairs, 0.6, (), test) == want
    assert want != clustering.cluster(refs, pairs, 0.6, ())  # conflicts did split parts


def test_the_halves_of_a_compound_name_cluster_alike_over_the_feature_table():
    """A part holding فاطمه‌زهرا, فاطمه and زهرا (a conflict as a pair) is re-clustered from
    the table with the part's compound names read (`TableConflicts.parts`), as on dicts."""
    from munihub.resolve import clustering
    from munihub.resolve.conflicts import conflict_of

    def rec(ref: str, first: str) -> dict:
        return {"ref": ref, "source": ref.split("|")[0], "entity_type": "person", "trust": 1,
                "updated_at": "2024-01-01", "fields": {"first_name": first, "last_name": "کریمی"}}

    records = [rec("registry|1", "فاطمه‌زهرا"), rec("137|1", "فاطمه"), rec("137|2", "زهرا")]
    conf = match.settings_for("person")
    slot = vectorized.build_index(records, "person")
    refs = [r["ref"] for r in records]
    pairs = [match.Pair("137|1", "registry|1", 0.97, "fellegi-sunter"),
             match.Pair("137|2", "registry|1", 0.96, "fellegi-sunter")]
    test = conflict_of(slot["features"], conf)
    assert hasattr(test, "many") and test("137|1", "137|2")
    got = components.cluster(refs, pairs, 0.95, (), test)
    assert got == clustering.cluster(refs, pairs, 0.95, (), conflict_of(dict(slot["features"]), conf))
    assert len(set(got.values())) == 1


def test_many_conflicts_equal_one_pair_tests(records):
    """`TableConflicts.many` says what `conflicts.conflicting` says of every pair (swapped
    names, one-edit dates and mistyped national ids included)."""
    import numpy as np

    from munihub.resolve.conflicts import conflict_of, conflicting

    settings = {"person": {"conflicts": ["birth_date", "first_key", "last_key"]}}
    conf = match.settings_for("person", settings)
    table = vectorized.build_index(records, "person", settings)["features"]
    rng = np.random.default_rng(3)
    n = len(table.refs)
    left = np.r_[rng.integers(0, n, 3000), np.arange(n - 1)]  # random pairs and neighbours (one person)
    right = np.r_[rng.integers(0, n, 3000), np.arange(1, n)]
    got = conflict_of(table, conf).many(left, right)
    want = [conflicting(table.row(a), table.row(b), conf) for a, b in zip(left.tolist(), right.tolist())]
    assert got.tolist() == want and 0 < sum(want) < len(want)


def test_many_conflicts_equal_one_pair_tests_on_names_longer_than_whole_ones():
    """A whole name (a row with a birth date) held inside a longer one is a conflict in
    `TableConflicts.many` as in `conflicting`, whichever side holds it."""
    import numpy as np

    from munihub.resolve.conflicts import conflict_of, conflicting

    conf = match.settings_for("person")
    people = [("جواد", "1976-07-08"), ("محمدجواد", None), ("جواد", None), ("محمدجواد", "1990-01-01"),
              ("ملیحه", "1982-09-11"), ("سیدملیحه", None), ("علی", "1950-02-02"), ("محمدعلی", None),
              ("اطمه", "1949-09-24"), ("فاطمه", None), ("Javad", None), ("Mohammad", "1976-07-08")]
    records = [{"ref": f"r|{i}", "source": "r", "entity_type": "person", "updated_at": "2024-01-01", "trust": 1,
                "fields": {"first_name": first, "last_name": "موسوی", **({"birth_date": born} if born else {})}}
               for i, (first, born) in enumerate(people)]
    table = vectorized.build_index(records, "person")["features"]
    n = len(table.refs)
    left, right = np.repeat(np.arange(n), n), np.tile(np.arange(n), n)
    got = conflict_of(table, conf).many(left, right)
    want = [conflicting(table.row(a), table.row(b), conf) for a, b in zip(left.tolist(), right.tolist())]
    assert got.tolist() == want and sum(want) > 0


@pytest.mark.parametrize("settings", [None, ENGLISH], ids=["persian-defaults", "english"])
def test_scored_arrays_give_the_clusters_ids_and_rules_of_pairs(records, settings):
    """`components.cluster_scored`, `entity_ids` and `first_rules` over `score_index`'s arrays
    give what `clustering.cluster`, `assign_entity_ids` and `run._rules` give from `Pair`s,
    with steward decisions, conflicts and former ids (some claimed twice, some split)."""
    from munihub.resolve import clustering
    from munihub.resolve.conflicts import conflict_of
    from munihub.resolve.run import _rules

    conf = match.settings_for("person", settings)
    slot = vectorized.build_index(records, "person", settings)
    scored, _ = vectorized.score_index(slot, conf)
    pairs = vectorized.pairs_of(scored)
    refs = scored["refs"]
    rng = random.Random(11)
    decisions = [(*sorted(rng.sample(refs, 2)), v) for v in ("match", "no-match") for _ in range(20)]
    decisions += [(p.left_ref, p.right_ref, "no-match") for p in rng.sample(
        [p for p in pairs if p.probability >= conf["match"]], 15)]
    # former entities: two clusters of today per old id (the larger keeps it), some members
    # moved to a random other one
    keys = sorted(set(clustering.cluster(refs, pairs, conf["match"]).values()))
    former = {k: f"P-old{i // 2}" for i, k in enumerate(keys)}
    today = clustering.cluster(refs, pairs, conf["match"])
    previous = {r: former[today[r]] if rng.random() < 0.8 else f"P-old{rng.randrange(len(keys) // 2)}"
                for r in refs if rng.random() < 0.7}
    previous["gone|1"] = "P-old7"  # an id held outside these refs is never reused
    for decided in ((), decisions):
        for test in (None, conflict_of(dict(slot["features"]), conf), conflict_of(slot["features"], conf)):
            want = clustering.cluster(refs, pairs, conf["match"], decided, test)
            label = components.cluster_scored(scored, conf["match"], decided, test)
            assert {r: refs[k] for r, k in zip(refs, label.tolist())} == want
            for before in ({}, previous):
                assert components.entity_ids(refs, label, before, "person") == \
                    clustering.assign_entity_ids(want, before, "person")
    assert components.first_rules(scored, conf["match"]) == _rules(pairs, conf["match"])
    assert len(set(want.values())) < len(refs)


def test_entity_ids_new_ids_and_taken_ones_as_assign_entity_ids():
    """New ids (hashed per cluster, unrolled in `cluster_ids`) for several types, and ids
    already taken (reserved) so the salted ones are drawn: the same as `assign_entity_ids`."""
    from munihub.resolve import clustering

    refs = sorted(f"src|{i}" for i in range(300))
    label = components._components(len(refs), np.arange(0, 299, 3), np.arange(1, 300, 3))
    want = {r: refs[k] for r, k in zip(refs, label.tolist())}
    for etype in ("person", "permit", "kiosk"):
        fresh = clustering.assign_entity_ids(want, {}, etype)
        taken = sorted(set(fresh.values()))[::4]
        assert components.entity_ids(refs, label, {}, etype) == fresh
        assert components.entity_ids(refs, label, {}, etype, taken) == \
            clustering.assign_entity_ids(want, {}, etype, taken) != fresh
        ids, cluster = components.cluster_ids(refs, label, {}, etype)
        assert [ids[c] for c in cluster.tolist()] == [fresh[r] for r in refs]


@pytest.mark.parametrize("n_values", [7, 2 ** 32])  # 2 ** 32: multiplied out, it wraps
def test_rule_pairs_are_the_groups_of_equal_rows(n_values):
    """Pairs of the rows equal on every column (none null), groups of 2..max_block: with a
    vocabulary small enough to multiply out and one that must be renumbered between columns."""
    from collections import defaultdict
    from itertools import combinations

    rng = np.random.default_rng(5)
    n = 3000
    columns = [rng.integers(-1, 7, n), rng.integers(-1, 4, n), rng.integers(-1, 3, n)]
    for rule in ([0], [0, 1], [0, 1, 2]):
        groups = defaultdict(list)
        for i in range(n):
            row = tuple(int(columns[k][i]) for k in rule)
            if min(row) >= 0:
                groups[row].append(i)
        want = sorted(i * n + j for g in groups.values() if 1 < len(g) <= 60 for i, j in combinations(g, 2))
        got = vectorized.rule_pairs([columns[k] for k in rule], n_values, 60)
        assert sorted(got.tolist()) == want and len(got) == len(set(got.tolist()))


def test_tf_shifted_is_match_shifted_to_the_last_bit():
    """The term-frequency shift in arrays gives each pair exactly `match._shifted` of its
    probability and the log-odds of its agreeing value (not merely to the rounding)."""
    import math

    from munihub.resolve import model as fs
    from munihub.resolve.match import _shifted

    values = ["ann", "bob", "cy"]
    column = {"f": np.asarray([0, 0, 1, 1, 2, 2, -1], dtype=np.int64)}
    table = {"ann": 0.3, "bob": 0.0001, "": 0.001}
    model = {"tf": {"f": table}, "u": {"f": [0.9, 0.05]}}
    left = np.asarray([0, 2, 4, 0, 6, 0, 2], dtype=np.int64)
    right = np.asarray([1, 3, 5, 4, 0, 1, 3], dtype=np.int64)
    levels = {"f": np.asarray([1, 1, 1, 0, -1, 1, 1], dtype=np.int8)}
    pair_p = np.asarray([0.123456789, 0.87654321, 0.5, 0.3, 0.2, 0.0, 0.999999], dtype=np.float64)
    got = vectorized._tf_shifted(pair_p, np.arange(len(left)), left, right, levels, np.ones(len(left), dtype=bool),
                                 column, model, values)
    want = []
    for p, a, b, lv in zip(pair_p.tolist(), left.tolist(), right.tolist(), levels["f"].tolist()):
        agree = lv == 1 and column["f"][a] == column["f"][b] >= 0
        share = table.get(values[column["f"][a]], table[""]) if agree else None
        want.append(_shifted(p, max(-fs.TF_BOUND, min(fs.TF_BOUND, math.log(0.05 / share))) if agree else 0.0))
    assert got.tolist() == want and got.tolist() != pair_p.tolist()
