"""How good is a clustering: pairwise and B-cubed precision/recall/F1, duplicate reduction.

Everything is computed from cluster-overlap counts (a contingency table), never by listing
the O(n^2) pairs, so a million records evaluate in seconds.  Refs missing from `predicted`
count as singletons; only refs present in `truth` are scored.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterable


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _tables(predicted: dict[str, Any], truth: dict[str, Any]):
    pred = {ref: predicted.get(ref, ("singleton", ref)) for ref in truth}
    return Counter(pred.values()), Counter(truth.values()), Counter((pred[r], truth[r]) for r in truth)


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def pairwise_scores(predicted: dict[str, Any], truth: dict[str, Any]) -> dict[str, float]:
    """Precision/recall/F1 over record pairs put together (by cluster sizes, not enumeration).

    With no true pairs recall is 1.0; with no predicted pairs precision is 1.0."""
    pred_sizes, true_sizes, both = _tables(predicted, truth)
    tp = sum(_pairs(n) for n in both.values())
    predicted_pairs = sum(_pairs(n) for n in pred_sizes.values())
    true_pairs = sum(_pairs(n) for n in true_sizes.values())
    precision = tp / predicted_pairs if predicted_pairs else 1.0
    recall = tp / true_pairs if true_pairs else 1.0
    return {"precision": precision, "recall": recall, "f1": _f1(precision, recall),
            "true_positives": tp, "predicted_pairs": predicted_pairs, "true_pairs": true_pairs}


def bcubed_scores(predicted: dict[str, Any], truth: dict[str, Any]) -> dict[str, float]:
    """B-cubed precision/recall/F1: per-record overlap of its predicted and true cluster."""
    if not truth:
        return {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    pred_sizes, true_sizes, both = _tables(predicted, truth)
    # every record in cell (p, t) shares n records with itself in both clusters
    precision = sum(n * n / pred_sizes[p] for (p, _), n in both.items()) / len(truth)
    recall = sum(n * n / true_sizes[t] for (_, t), n in both.items()) / len(truth)
    return {"precision": precision, "recall": recall, "f1": _f1(precision, recall)}


def duplicate_reduction(records: Iterable[Any], clusters: dict[str, Any]) -> dict[str, float]:
    """How many records became how many entities; records are refs or dicts with "ref"."""
    refs = [r["ref"] if isinstance(r, dict) else r for r in records]
    entities = len({clusters.get(ref, ("singleton", ref)) for ref in refs})
    return {"records": len(refs), "entities": entities, "duplicates_removed": len(refs) - entities,
            "reduction": (1 - entities / len(refs)) if refs else 0.0}
