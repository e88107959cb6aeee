"""Evaluation maths checked against brute-force pair enumeration on random small inputs."""
from __future__ import annotations

from itertools import combinations

from hypothesis import given, settings, strategies as st

from munihub.resolve.evaluate import bcubed_scores, duplicate_reduction, pairwise_scores

labelings = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=1, max_size=25)


def brute_pairwise(pred, truth):
    refs = sorted(truth)
    p = {(a, b) for a, b in combinations(refs, 2) if pred.get(a, a) == pred.get(b, b)}
    t = {(a, b) for a, b in combinations(refs, 2) if truth[a] == truth[b]}
    precision = len(p & t) / len(p) if p else 1.0
    recall = len(p & t) / len(t) if t else 1.0
    return precision, recall


def brute_bcubed(pred, truth):
    refs = sorted(truth)
    prec = rec = 0.0
    for r in refs:
        same_pred = {s for s in refs if pred[s] == pred[r]}
        same_true = {s for s in refs if truth[s] == truth[r]}
        prec += len(same_pred & same_true) / len(same_pred)
        rec += len(same_pred & same_true) / len(same_true)
    return prec / len(refs), rec / len(refs)


@settings(max_examples=200, deadline=None)
@given(labelings)
def test_pairwise_matches_brute_force(labels):
    pred = {f"r{i}": f"p{a}" for i, (a, _) in enumerate(labels)}
    truth = {f"r{i}": f"t{b}" for i, (_, b) in enumerate(labels)}
    got = pairwise_scores(pred, truth)
    precision, recall = brute_pairwise(pred, truth)
    assert abs(got["precision"] - precision) < 1e-12 and abs(got["recall"] - recall) < 1e-12
    if precision + recall:
        assert abs(got["f1"] - 2 * precision * recall / (precision + recall)) < 1e-12


@settings(max_examples=200, deadline=None)
@given(labelings)
def test_bcubed_matches_brute_force(labels):
    pred = {f"r{i}": f"p{a}" for i, (a, _) in enumerate(labels)}
    truth = {f"r{i}": f"t{b}" for i, (_, b) in enumerate(labels)}
    got = bcubed_scores(pred, truth)
    precision, recall = brute_bcubed(pred, truth)
    assert abs(got["precision"] - precision) < 1e-12 and abs(got["recall"] - recall) < 1e-12


def test_missing_predictions_are_singletons():
    truth = {"a": 1, "b": 1, "c": 2}
    assert pairwise_scores({}, truth)["recall"] == 0.0
    assert pairwise_scores({"a": "x", "b": "x"}, truth)["f1"] == 1.0


def test_duplicate_reduction_counts_entities():
    out = duplicate_reduction([{"ref": "a"}, "b", "c", "d"], {"a": 1, "b": 1, "c": 2})
    assert out == {"records": 4, "entities": 3, "duplicates_removed": 1, "reduction": 0.25}


def brute_by_label(pred, truth, labels, label):
    """Pairs touching a labelled record, and the labelled records' B-cubed, by enumeration."""
    refs = sorted(truth)
    has = {r for r in refs if label in (labels.get(r) or ("(none)",))}
    pairs = [(a, b) for a, b in combinations(refs, 2) if a in has or b in has]
    p = {x for x in pairs if pred[x[0]] == pred[x[1]]}
    t = {x for x in pairs if truth[x[0]] == truth[x[1]]}
    precision = len(p & t) / len(p) if p else 1.0
    recall = len(p & t) / len(t) if t else 1.0
    bp = br = 0.0
    for r in has:
        same_pred = {s for s in refs if pred[s] == pred[r]}
        same_true = {s for s in refs if truth[s] == truth[r]}
        bp += len(same_pred & same_true) / len(same_pred) / len(has)
        br += len(same_pred & same_true) / len(same_true) / len(has)
    return precision, recall, bp, br


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4), st.sets(st.sampled_from("ab"))),
                min_size=1, max_size=25))
def test_scores_by_label_match_brute_force(rows):
    from munihub.resolve.evaluate import scores_by_label
    pred = {f"r{i}": f"p{a}" for i, (a, _, _) in enumerate(rows)}
    truth = {f"r{i}": f"t{b}" for i, (_, b, _) in enumerate(rows)}
    labels = {f"r{i}": tuple(sorted(ls)) for i, (_, _, ls) in enumerate(rows)}
    got = scores_by_label(pred, truth, labels)
    present = {x for ls in labels.values() for x in ls} | ({"(none)"} if any(not ls for ls in labels.values()) else set())
    assert set(got) == present
    for label, s in got.items():
        precision, recall, bp, br = brute_by_label(pred, truth, labels, label)
        assert s["records"] == sum(label in (ls or ("(none)",)) for ls in labels.values())
        assert abs(s["pairwise"]["precision"] - precision) < 1e-12
        assert abs(s["pairwise"]["recall"] - recall) < 1e-12
        assert abs(s["bcubed"]["precision"] - bp) < 1e-12 and abs(s["bcubed"]["recall"] - br) < 1e-12


def test_a_false_merge_counts_against_the_look_alike_label():
    from munihub.resolve.evaluate import scores_by_label
    # twins t1/t2 merged: the twin label loses precision, the unlabelled pair is untouched
    truth = {"a": "t1", "b": "t2", "c": "x", "d": "x"}
    pred = {"a": "E", "b": "E", "c": "F", "d": "F"}
    got = scores_by_label(pred, truth, {"a": ("twin",), "b": ("twin",)})
    assert got["twin"]["pairwise"]["precision"] == 0.0 and got["twin"]["bcubed"]["precision"] == 0.5
    assert got["(none)"]["pairwise"]["f1"] == 1.0
