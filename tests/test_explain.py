"""`munihub resolve explain`: the rule and the weight each comparison gave one pair."""
from __future__ import annotations

import json
import math

import pytest

from munihub.resolve.explain import explain_features
from munihub.resolve.match import features, find_matches, settings_for
from munihub.resolve.model import default_model
from tests.test_export import NID1, hub  # noqa: F401 (the resolved store fixture)
from tests.test_match import rec


def test_weights_add_up_to_the_probability_the_matcher_gives():
    a = rec("registry|1", first_name="زهرا", last_name="موسوی", birth_date="1990-02-02", mobile="+989150000001")
    b = rec("permits|2", first_name="زهرا", last_name="موسوی", birth_date="1990-02-03", phone="+985138000000")
    conf = settings_for("person")
    out = explain_features(features(a), features(b), conf)
    by = {r["comparison"]: r for r in out["comparisons"]}
    assert by["first_key"]["level"] == "exact" and by["birth_date"]["level"] == "edit<=1"
    assert by["mobile"]["level"] == "null" and by["mobile"]["weight"] == 0.0
    model = default_model(conf)
    assert by["last_key"]["weight"] == pytest.approx(math.log2(model["m"]["last_key"][3] / model["u"]["last_key"][3]))
    assert 1 / (1 + 2 ** -out["match_weight"]) == pytest.approx(out["fellegi_sunter"])
    (pair,) = find_matches([a, b])
    assert out["probability"] == pytest.approx(pair.probability, abs=1e-6) and out["rule"] == "fellegi-sunter"


def test_rules_come_before_weights():
    conf = settings_for("person")
    same = explain_features(features(rec("a|1", national_id=NID1, first_name="علی")),
                            features(rec("b|1", national_id=NID1, first_name="حسن")), conf)
    assert same["rule"] == "exact:national_id" and same["probability"] == 1.0  # a first name alone
    twin = rec("a|2", first_name="حسن", last_name="نوری", birth_date="2001-01-01", father_name="کاظم")
    other = rec("b|2", first_name="حسین", last_name="نوری", birth_date="2001-01-01", father_name="کاظم")
    out = explain_features(features(twin), features(other), conf)
    assert out["capped_by"] == ["first_key"] and out["probability"] == conf["cap_unless_exact"]["first_key"]


def test_explain_from_the_store_and_the_cli(hub, capsys):  # noqa: F811
    from munihub.cli.main import main
    from munihub.resolve.explain import explain_refs
    out = explain_refs(hub, "registry.citizens|N1", "health.patients|H1")
    assert out["rule"] == "exact:national_id" and out["entities"][0] == out["entities"][1] is not None
    assert main(["resolve", "explain", "registry.citizens|N1", "health.patients|H2"]) == 0
    text = capsys.readouterr().out
    assert "different valid national_id" in text and "first_key" in text and NID1 not in text
    assert main(["resolve", "explain", "registry.citizens|N1", "health.patients|H1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["probability"] == 1.0
    assert main(["resolve", "explain", "registry.citizens|N1", "nope|1"]) == 1
    assert "no resolved record 'nope|1'" in capsys.readouterr().err


def test_distribution_from_the_store_and_the_cli(hub, capsys):  # noqa: F811
    from munihub.cli.main import main
    from munihub.resolve.explain import score_distribution
    out = score_distribution(hub, "person")
    assert out["records"] > 0 and out["match_weight"] == pytest.approx(math.log2(0.95 / 0.05))
    assert all(b["pairs"] > 0 and b["to"] - b["from"] == 2.0 for b in out["bins"])
    assert [b["from"] for b in out["bins"]] == sorted(b["from"] for b in out["bins"])
    by = {(r["comparison"], r["level"]): r for r in out["parameters"]}
    assert by[("national_id", "exact")]["weight"] > 0 > by[("national_id", "else")]["weight"]
    assert main(["resolve", "distribution"]) == 0
    text = capsys.readouterr().out
    assert "match weight" in text and "national_id" in text
    assert main(["resolve", "distribution", "--type", "nothing"]) == 1
    assert "no resolved nothing records" in capsys.readouterr().err


def test_histogram_counts_only_scored_pairs():
    from munihub.resolve.explain import weight_histogram
    from munihub.resolve.match import Pair
    conf = settings_for("person")
    pairs = [Pair("a", "b", 0.97, "fellegi-sunter"), Pair("a", "c", 0.9, "fellegi-sunter"),
             Pair("a", "d", 0.91, "fellegi-sunter"), Pair("b", "c", 1.0, "exact:national_id")]
    out = weight_histogram(pairs, conf)
    assert [(b["from"], b["pairs"]) for b in out["bins"]] == [(2.0, 2), (4.0, 1)]
