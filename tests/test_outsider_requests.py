"""`bench/outsider_exports.py`'s 137 request truth holds what its labels say, and
`bench/bench_outsider.py`'s follow-up settings are ones the hub accepts (documented options)."""
from __future__ import annotations

import collections
import json
import random
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
    assert sorted(request) == sorted({c["tracking"] for c in calls})  # a status log's rows: one code
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


def test_a_status_log_is_one_record_and_the_name_shapes_are_what_their_labels_say(tmp_path):
    requests: list[tuple] = []
    persons = outsider_exports.generate(tmp_path / "data", 200, 3, requests)
    rows = [json.loads(x) for x in (tmp_path / "data" / "calls" / "calls.jsonl").read_text("utf-8").splitlines()]
    truth = {rid: (pid, set(lb)) for dataset, rid, pid, lb in persons if dataset == "rc137.calls"}
    assert len(truth) == sum(1 for d, *_ in persons if d == "rc137.calls")  # one truth row a code
    assert len(requests) == len({code for _, code, _, _ in requests})
    by_code = collections.defaultdict(list)
    for row in rows:
        by_code[row["tracking"]].append(row)
    logged = {code for code, lb in truth.items() if "status_rows" in lb[1]}
    assert logged and logged == {code for code, rs in by_code.items() if len(rs) > 1}
    keys = lambda r: {k: v for k, v in r.items() if k not in ("status", "status_at", "caller_phone")}  # noqa: E731
    for code in logged:
        log = by_code[code]
        assert len(log) <= 3 and log[0]["status"] == "ثبت شده" and log[-1]["status"] != "ثبت شده"
        assert all(keys(r) == keys(log[-1]) for r in log)  # the same call, caller and registered stamp
        stamps = [tuple(int(x) for x in re.findall(r"\d+", r["status_at"])) for r in log]
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)  # a later status, a later time
        assert ("status_rows_phone_differs" in truth[code][1]) == any(
            r["caller_phone"] != log[-1]["caller_phone"] for r in log)
    people = {}
    for c in outsider_exports.city(random.Random(3), 200):  # generate's citizens: its stream starts so
        people[c.pid] = c
    last = {code: rs[-1] for code, rs in by_code.items()}
    for code, (pid, labels) in truth.items():
        c, name = people[pid], last[code]["caller_name"].replace("ي", "ی").replace("ك", "ک")
        assert ("name_father" in labels) == ("فرزند" in name)
        assert ("phone_in_name" in labels) == bool(re.search(r"\d{7}", name.translate(DIGITS).replace("-", "")))
        assert ("title_in_column" in labels) == (last[code]["caller_title"] is not None)
        if "title_in_column" in labels:
            assert name.split()[0].split("(")[0] == c.last  # the surname alone, a phone perhaps after it
        if "compound_half" in labels:
            assert c.first in outsider_exports.HALVES and c.first.replace("‌", "") not in name.replace("‌", "")
            assert any(h in name for h in outsider_exports.HALVES[c.first])
    assert any("compound_half" in lb for _, lb in truth.values())


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


def test_namesake_losses_count_whole_name_pairs_by_evidence_and_expected_namesakes():
    """`bench_outsider.namesake_losses`: pairs of records giving one whole name, by what else
    they share, of one citizen and of two and how many the store joined; and each whole
    name's expected namesakes over the store's parts (parts x share(first) x share(last))."""
    truth = [("tax", "1", "P1", ()), ("rc", "2", "P1", ()), ("rc", "3", "P2", ()),
             ("tax", "4", "P3", ()), ("rc", "5", "P4", ())]
    feats = {"tax|1": {"first_key": "وحید", "last_key": "میرحسینی", "place": "a"},
             "rc|2#person": {"first_key": "وحید", "last_key": "میرحسینی", "place": "b"},
             "rc|3#person": {"first_key": "وحید", "last_key": "میرحسینی", "place": "a"},
             "tax|4": {"first_key": "زهرا", "last_key": "میرحسینی"},
             "rc|5#person": {"last_key": "میرحسینی"}}  # a surname alone gives no whole name
    members = {"tax|1": "E1", "rc|2#person": "E2", "rc|3#person": "E1", "tax|4": "E3", "rc|5#person": "E4"}
    found = bench_outsider.namesake_losses(truth, {"members": members, "features": feats})
    assert found["classes"]["agree first+last; differ place"] == collections.Counter(
        {"one citizen": 1, "two": 1, "apart": 2})
    assert found["classes"]["agree first+last+place"] == collections.Counter({"two": 1, "two, joined": 1})
    # three parts give a whole name (E1, E2, E3): وحید on two of them, میرحسینی on all three,
    # so «وحید میرحسینی» expects 3 x 2/3 x 3/3 = 2 namesakes and «زهرا میرحسینی» 1
    assert found["expected"] == (1.0, 1.5, 2.0)
