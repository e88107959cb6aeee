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


def _touching(n: int, labelled: int) -> int:
    """Pairs among `n` records with at least one of the `labelled` among them."""
    return _pairs(n) - _pairs(n - labelled)


def scores_by_label(predicted: dict[str, Any], truth: dict[str, Any],
                    labels: dict[str, Iterable[str]]) -> dict[str, dict[str, Any]]:
    """Pairwise and B-cubed P/R/F1 per label (a phenomenon), so a change is judged where it acts.

    A record counts for each of its labels ("(none)" when it has none).  Pairwise figures
    count the pairs touching at least one record with the label (a look-alike's false merge
    with an unlabelled record counts against the look-alike); B-cubed figures average the
    per-record scores of the labelled records.  Computed from cluster overlaps, no pair lists."""
    pred = {ref: predicted.get(ref, ("singleton", ref)) for ref in truth}
    pred_sizes, true_sizes, both = _tables(predicted, truth)
    by_label: dict[str, list[str]] = {}
    for ref in truth:
        for label in sorted(set(labels.get(ref) or ())) or ["(none)"]:
            by_label.setdefault(label, []).append(ref)
    out: dict[str, dict[str, Any]] = {}
    for label in sorted(by_label):
        refs = by_label[label]
        in_pred = Counter(pred[r] for r in refs)
        in_true = Counter(truth[r] for r in refs)
        in_both = Counter((pred[r], truth[r]) for r in refs)
        tp = sum(_touching(both[cell], n) for cell, n in in_both.items())
        predicted_pairs = sum(_touching(pred_sizes[p], n) for p, n in in_pred.items())
        true_pairs = sum(_touching(true_sizes[t], n) for t, n in in_true.items())
        precision = tp / predicted_pairs if predicted_pairs else 1.0
        recall = tp / true_pairs if true_pairs else 1.0
        b_precision = sum(n * both[(p, t)] / pred_sizes[p] for (p, t), n in in_both.items()) / len(refs)
        b_recall = sum(n * both[(p, t)] / true_sizes[t] for (p, t), n in in_both.items()) / len(refs)
        out[label] = {"records": len(refs),
                      "pairwise": {"precision": precision, "recall": recall, "f1": _f1(precision, recall),
                                   "true_positives": tp, "predicted_pairs": predicted_pairs,
                                   "true_pairs": true_pairs},
                      "bcubed": {"precision": b_precision, "recall": b_recall, "f1": _f1(b_precision, b_recall)}}
    return out


def duplicate_reduction(records: Iterable[Any], clusters: dict[str, Any]) -> dict[str, float]:
    """How many records became how many entities; records are refs or dicts with "ref"."""
    refs = [r["ref"] if isinstance(r, dict) else r for r in records]
    entities = len({clusters.get(ref, ("singleton", ref)) for ref in refs})
    return {"records": len(refs), "entities": entities, "duplicates_removed": len(refs) - entities,
            "reduction": (1 - entities / len(refs)) if refs else 0.0}


# ---------------------------------------------------------------- against the store
ID_COLUMNS = ("true_id", "true_request_id", "true_person_id", "person_id", "request_group")
KEY_COLUMNS = ("source_key", "tracking_code", "record_id")
PERSON_ID_COLUMNS = ("true_person_id", "person_id")
LABEL_SEPARATOR = ";"


def read_truth(path, by: str | None = None) -> tuple[list[tuple], str]:
    """Truth rows `(source or None, source_key, true id)` from a CSV and the id column used.

    Accepts `source, source_key, true_id`, the demo's truth files (`true_person_id`; 137
    requests keyed by `tracking_code` with `true_request_id` and no source column) and
    labelled truth (`record_id` with `person_id` or `request_group`).  With `by`, each row
    also carries the tuple of its labels in that column (`;`-separated)."""
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
            if by and by not in header:
                raise MunihubError(f"truth file has no column {by!r} (it has {header})", where=str(path),
                                   hint="pass --by with one of the file's columns, e.g. phenomena")
            rows = [(r.get("source") or None, r[key_col], r[id_col]) +
                    ((tuple(x.strip() for x in (r[by] or "").split(LABEL_SEPARATOR) if x.strip()),) if by else ())
                    for r in reader if r.get(key_col) and r.get(id_col)]
    except OSError as exc:
        raise MunihubError(f"cannot read truth file: {exc.strerror}", where=str(path),
                           hint="pass --truth with a CSV path") from None
    return rows, id_col


def evaluate_members(members: dict[str, str], truth_rows: list[tuple], id_col: str) -> dict[str, Any]:
    """Scores of stored clusters (`members`: "source|key" -> entity id) against truth rows.

    With `true_person_id` a row that is not itself a person is judged by the citizen it
    names (its "#person" member); rows the store does not hold (quarantined) are counted
    apart, not scored.  Rows carrying labels (`read_truth(..., by=)`) add `by_label`."""
    by_key: dict[str, list[str]] = {}
    if any(row[0] is None for row in truth_rows):
        for ref in members:
            by_key.setdefault(ref.split("|", 1)[1], []).append(ref)
    truth: dict[str, str] = {}
    labels: dict[str, tuple] = {}
    missing = 0
    for source, key, true_id, *labelled in truth_rows:
        if source is None:
            candidates = [r for r in by_key.get(key, []) if not r.endswith("#person")]
            ref = candidates[0] if len(candidates) == 1 else None
        else:
            ref = f"{source}|{key}"
            if id_col in PERSON_ID_COLUMNS and f"{ref}#person" in members:
                ref = f"{ref}#person"
        if ref is None or ref not in members:
            missing += 1
            continue
        truth[ref] = true_id
        if labelled:
            labels[ref] = labelled[0]
    predicted = {ref: members[ref] for ref in truth}
    result = {"scored": len(truth), "not_in_store": missing,
              "pairwise": pairwise_scores(predicted, truth), "bcubed": bcubed_scores(predicted, truth),
              "reduction": duplicate_reduction(list(truth), predicted),
              "true_entities": len(set(truth.values()))}
    if any(len(row) > 3 for row in truth_rows):
        result["by_label"] = scores_by_label(predicted, truth, labels)
    return result


def evaluate_store(engine, truth_path, by: str | None = None) -> dict[str, Any]:
    """Pairwise and B-cubed P/R/F1 and duplicate reduction of the store's entity_members,
    and with `by` (a label column of the truth file) the same figures per label."""
    import sqlalchemy as sa

    from munihub import store

    rows, id_col = read_truth(truth_path, by)
    m = store.entity_members
    with engine.connect() as conn:
        members = {f"{s}|{k}": e for s, k, e in
                   conn.execute(sa.select(m.c.source, m.c.source_key, m.c.entity_id))}
    return {"truth": str(truth_path), "id_column": id_col, **evaluate_members(members, rows, id_col)}
