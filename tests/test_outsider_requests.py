"""`bench/outsider_exports.py`'s 137 request truth holds what its labels say, and
`bench/bench_outsider.py`'s follow-up settings are ones the hub accepts (documented options)."""
from __future__ import annotations

import collections
import json
import re
import sys
from pathlib import Path

import yaml

BENCH = Path(__file__).resolve().parents[1] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import bench_outsider  # noqa: E402
import outsider_exports  # noqa: E402

DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")


def test_request_truth_matches_the_calls_and_their_quoted_codes(tmp_path):
    requests: list[tuple] = []
    persons = outsider_exports.generate(tmp_path / "data", 80, 3, requests)
    calls = [json.loads(x) for x in (tmp_path / "data" / "calls" / "calls.jsonl").read_text("utf-8").splitlines()]
    request = {code: req for _, code, req, _ in requests}
    assert sorted(request) == sorted(c["tracking"] for c in calls)
    assert sorted(request) == sorted(rid for dataset, rid, _, _ in persons if dataset == "rc137.calls")
    size = collections.Counter(request.values())
    labels = {code: set(lb) for _, code, _, lb in requests}
    quoted = 0
    for c in calls:
        cited = [re.sub(r"\D", "", q) for q in  # a code read out with separators, «137-1234-5678»
                 re.findall(r"(?<!\d)137[- ]?\d{4}[- ]?\d{4}(?!\d)", c["description"].translate(DIGITS))]
        assert all(request[q] == request[c["tracking"]] for q in cited)  # a quoted code is this request's
        assert bool(cited) == ("quoted_code" in labels[c["tracking"]])
        quoted += bool(cited)
        if "followup" in labels[c["tracking"]]:
            assert size[request[c["tracking"]]] > 1
        assert ("generic_followup" in labels[c["tracking"]]) == (c["subject"] in outsider_exports.GENERIC)
    assert quoted and any(s > 2 for s in size.values())
    for trap in ("recurring_after_close", "other_citizen_same_place", "neighbour_same_street",
                 "quoted_code_separators", "callback_mobile_in_text", "office_number_in_text"):
        assert any(trap in lb for lb in labels.values())


def test_the_follow_up_settings_are_the_documented_ones(tmp_path, monkeypatch):
    from munihub.config import load_settings

    bench_outsider.write_contracts(tmp_path, tmp_path / "data")
    path = tmp_path / "match_settings.yaml"
    followup = yaml.safe_load(path.read_text("utf-8"))["service_request"]["followup"]
    assert set(outsider_exports.GENERIC) <= set(followup["generic_categories"])
    docs = (Path(__file__).resolve().parents[1] / "docs" / "resolution.md").read_text("utf-8")
    assert all(f"    {key}:" in docs for key in followup)
    settings = load_settings({"MUNIHUB_MATCH_SETTINGS": str(path), "MUNIHUB_HOME": str(tmp_path / "home")})
    assert settings.match_settings["service_request"]["followup"] == followup


def test_thread_losses_class_pairs_by_link_names_and_truth():
    calls = [{"tracking": "13700000001", "caller_phone": "09150000001", "caller_nid": None, "description": "چاله"},
             {"tracking": "13700000002", "caller_phone": "", "caller_nid": None,
              "description": "پیرو درخواست شماره ۱۳۷۰۰۰۰۰۰۰۱"},
             {"tracking": "13700000003", "caller_phone": "9150000001", "caller_nid": None, "description": "هنوز"},
             {"tracking": "13700000004", "caller_phone": "", "caller_nid": None, "description": "هنوز"}]
    truth = [("rc137.calls", c["tracking"], pid, ()) for c, pid in zip(calls, ["P1", "P2", "P1", "P1"])]
    ref = "rc137.calls|{}#person".format
    features = {ref(calls[0]["tracking"]): {"first_key": "علی", "last_key": "احمدی", "thread": "t"},
                ref(calls[1]["tracking"]): {"thread": "t"},  # a nameless household member, quoting the code
                ref(calls[2]["tracking"]): {"last_key": "احمدی", "thread": "t"},
                ref(calls[3]["tracking"]): {"first_key": "علی", "last_key": "احمدی", "thread": "u"}}
    members = {ref(c["tracking"]): "E1" for c in calls[:3]}
    found = bench_outsider.thread_losses(truth, calls, {"members": members, "features": features})
    assert found["quoted code; full+nameless"] == {"two": 1, "two, joined": 1}
    assert found["number; full+surname"] == {"one citizen": 1, "one citizen, joined": 1}
    assert found["place; nameless+surname"] == {"two": 1, "two, joined": 1}
    assert len(found) == 3  # a call alone in its thread makes no pair
