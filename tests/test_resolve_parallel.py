"""Work shared out to worker processes gives exactly what one process gives: the feature
table to the code (chunks of records to workers), and the clusters (conflict tests and
re-clustered parts to workers).  Thresholds are lowered so a few hundred
records take the parallel paths."""
from __future__ import annotations

import random

import numpy as np
import pytest

from munihub.resolve import columns, components, match, vectorized
from tests.test_vectorized import ENGLISH, persons


def _odd_records() -> list[dict]:
    """Persian persons, with values a string column cannot hold (numbers, True, bytes, a
    lone surrogate), address dicts and records without fields."""
    out = persons(120, seed=5)
    rng = random.Random(9)
    for k, r in enumerate(out):
        f = r["fields"]
        if k % 17 == 0:
            f["birth_date"] = rng.choice([1, True, 1.0, b"1960"])
        if k % 23 == 0:
            f["first_name"] = "ali\udc80"
        if k % 5 == 0:
            f["address"] = {"detail": f"مشهد، کوچه {k % 7}", "district": str(k % 3)}
        if k % 31 == 0:
            r["fields"] = None
    return out


def _table(records, settings, processes: int):
    conf = match.settings_for("person", settings)
    return columns.feature_table(records, conf, processes=processes)


@pytest.mark.parametrize("settings", [None, ENGLISH], ids=["persian-defaults", "english"])
def test_feature_table_on_workers_is_the_serial_table(monkeypatch, settings):
    records = _odd_records()
    monkeypatch.setattr(columns, "CHUNK", 37)  # 12 chunks, values met again in later ones
    one, many = _table(records, settings, 1), _table(records, settings, 3)
    assert many.refs == one.refs and many.values == one.values
    assert set(many.columns) == set(one.columns)
    for name, col in one.columns.items():
        assert np.array_equal(many.columns[name], col), name
    assert [name for name, _ in many.derived] == [name for name, _ in one.derived]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(many.derived, one.derived))
    conf = match.settings_for("person", settings)
    assert dict(many) == {r["ref"]: match.features(r, None, conf) for r in records}


def test_clusters_and_ids_on_workers_are_the_serial_ones(monkeypatch):
    from munihub.resolve.conflicts import conflict_of

    monkeypatch.setattr(components, "PARALLEL_FROM", 1)
    monkeypatch.setattr(components, "RECLUSTER_FROM", 1)
    settings = {"person": {"conflicts": ["birth_date", "first_key"]}}
    records = persons(400, seed=3)
    conf = match.settings_for("person", settings)
    slot = vectorized.build_index(records, "person", settings)
    scored, _ = vectorized.score_index(slot, conf)
    refs = scored["refs"]
    rng = random.Random(4)  # weak links across people: parts that hold conflicts
    extra = [sorted(rng.sample(range(len(refs)), 2)) for _ in range(300)]
    scored = {**scored, "left": np.r_[scored["left"], [a for a, _ in extra]],
              "right": np.r_[scored["right"], [b for _, b in extra]],
              "probability": np.r_[scored["probability"], np.full(len(extra), conf["match"])],
              "rule": np.r_[scored["rule"], np.zeros(len(extra), dtype=np.int8)]}
    decisions = [(*sorted(rng.sample(refs, 2)), v) for v in ("match", "no-match") for _ in range(10)]
    test = conflict_of(slot["features"], conf)
    for decided in ((), decisions):
        one = components.cluster_scored(scored, conf["match"], decided, test, processes=1)
        many = components.cluster_scored(scored, conf["match"], decided, test, processes=3)
        plain = components._components(len(refs), scored["left"], scored["right"])
        assert not np.array_equal(one, plain)  # conflicts did split parts: the workers' share counts
        assert np.array_equal(many, one)
        assert len(np.unique(one)) > 3
