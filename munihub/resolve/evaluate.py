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


# ---------------------------------------------------------------- against the store
ID_COLUMNS = ("true_id", "true_request_id", "true_person_id")
KEY_COLUMNS = ("source_key", "tracking_code")


def read_truth(path) -> tuple[list[tuple[str | None, str, str]], str]:
    """Truth rows `(source or None, source_key, true id)` from a CSV and the id column used.

    Accepts `source, source_key, true_id` and the demo's truth files (`true_person_id`;
    137 requests keyed by `tracking_code` with `true_request_id` and no source column)."""
    import csv
    from pathlib import Path

    from munihub.errors import MunihubError

    path = Path(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            id_col = next((c for c in ID_COLUMNS if c in header), None)
            key_col = next((c for c in KEY_COLUMNS if c in header), None)
            if not id_col or not key_col:
                raise MunihubError(f"truth file has columns {header}", where=str(path),
                                   hint="need source_key (or tracking_code) and true_id (or "
                                        "true_person_id / true_request_id); source is optional")
            rows = [(r.get("source") or None, r[key_col], r[id_col]) for r in reader
                    if r.get(key_col) and r.get(id_col)]
    except OSError as exc:
        raise MunihubError(f"cannot read truth file: {exc.strerror}", where=str(path),
                           hint="pass --truth with a CSV path") from None
    return rows, id_col


def evaluate_members(members: dict[str, str], truth_rows: list[tuple[str | None, str, str]],
                     id_col: str) -> dict[str, Any]:
    """Scores of stored clusters (`members`: "source|key" -> entity id) against truth rows.

    With `true_person_id` a row that is not itself a person is judged by the citizen it
    names (its "#person" member); rows the store does not hold (quarantined) are counted
    apart, not scored."""
    by_key: dict[str, list[str]] = {}
    if any(src is None for src, _, _ in truth_rows):
        for ref in members:
            by_key.setdefault(ref.split("|", 1)[1], []).append(ref)
    truth: dict[str, str] = {}
    missing = 0
    for source, key, true_id in truth_rows:
        if source is None:
            candidates = [r for r in by_key.get(key, []) if not r.endswith("#person")]
            ref = candidates[0] if len(candidates) == 1 else None
        else:
            ref = f"{source}|{key}"
            if id_col == "true_person_id" and f"{ref}#person" in members:
                ref = f"{ref}#person"
        if ref is None or ref not in members:
            missing += 1
            continue
        truth[ref] = true_id
    predicted = {ref: members[ref] for ref in truth}
    return {"scored": len(truth), "not_in_store": missing,
            "pairwise": pairwise_scores(predicted, truth), "bcubed": bcubed_scores(predicted, truth),
            "reduction": duplicate_reduction(list(truth), predicted),
            "true_entities": len(set(truth.values()))}


def evaluate_store(engine, truth_path) -> dict[str, Any]:
    """Pairwise and B-cubed P/R/F1 and duplicate reduction of the store's entity_members."""
    import sqlalchemy as sa

    from munihub import store

    rows, id_col = read_truth(truth_path)
    m = store.entity_members
    with engine.connect() as conn:
        members = {f"{s}|{k}": e for s, k, e in
                   conn.execute(sa.select(m.c.source, m.c.source_key, m.c.entity_id))}
    return {"truth": str(truth_path), "id_column": id_col, **evaluate_members(members, rows, id_col)}
