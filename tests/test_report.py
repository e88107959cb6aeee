"""The stewards' report: golden JSON, masked everywhere, escaped, held and stale loads shown."""
from __future__ import annotations

import datetime as dt
import json
import os
import urllib.parse
from pathlib import Path

import pytest

from munihub import store
from munihub.masking import mask_record, mask_text, mask_value
from munihub.report.build import gather, headline, write_report

GOLDEN = Path(__file__).parent / "golden"
NOW = dt.datetime(2024, 11, 4, 12, 0, tzinfo=dt.timezone.utc)
NATIONAL_ID = "0084575948"          # valid check digit, must never reach a report file
MOBILE = "09151234567"
HOSTILE = "<script>alert('x')</script>"
FA = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


class Contract:
    """The fields of munihub.contracts.Contract the report reads."""

    def __init__(self, id, owner, freshness_seconds, version="1.0.0"):
        self.id, self.agency, self.owner = id, id.split(".")[0], owner
        self.freshness_seconds, self.version = freshness_seconds, version


CONTRACTS = [Contract("registry.citizens", "ثبت احوال", 86400),
             Contract("finance.payments", "مالی", 3600, "2.1.0"),
             Contract("rc137.requests", "سامانه ۱۳۷", None)]


def _check(name, status, severity="error", field="national_id", **kw):
    return {"name": name, "field": field, "metric": "nullValues", "severity": severity, "status": status,
            "observed": kw.get("observed", 0), "expected": "= 0", "message": kw.get("message", f"{name} ok"),
            **({"data_docs": kw["data_docs"]} if "data_docs" in kw else {})}


def _load(load_id, source, status, minutes_ago, rows_in, new, changed, unchanged, quarantined, checks=(), error=None,
          set_aside=None):
    started = NOW - dt.timedelta(minutes=minutes_ago)
    return {"load_id": load_id, "source": source, "contract_version": "1.0.0", "status": status,
            "started_at": started, "finished_at": started + dt.timedelta(seconds=30),
            "rows_in": rows_in, "rows_new": new, "rows_changed": changed, "rows_unchanged": unchanged,
            "rows_quarantined": quarantined, "checks": list(checks), "error": error,
            "values_set_aside": set_aside or {}}


def fill(engine) -> None:
    """A small but complete store: three sources, a held load, a stale source, entities, review."""
    at = NOW - dt.timedelta(hours=1)
    loads = [
        _load("L1", "registry.citizens", "published", 300, 10, 8, 0, 0, 2,
              [_check("nid_not_null", "passed")]),
        _load("L2", "registry.citizens", "published", 60, 12, 1, 2, 7, 2,
              [_check("nid_not_null", "passed", data_docs="gx/registry.citizens/index.html"), _check("mobile_valid", "warning", "warning", "mobile",
                                                         observed=2.5, message=f"bad mobile {MOBILE}")]),
        _load("P1", "finance.payments", "published", 600, 5, 5, 0, 0, 0, [_check("rows", "passed", field=None)]),
        _load("P2", "finance.payments", "held", 20, 6, 0, 0, 0, 6,
              [_check("rows", "passed", field=None),
               _check("amount_not_null", "failed", field="amount_rial", observed=100.0)],
              error="quality gate: amount_not_null failed"),
        _load("R1", "rc137.requests", "published", 30, 3, 3, 0, 0, 0,
              set_aside={"national_id": 1, "mobile": 2}),  # published without those values
    ]
    quarantine = [
        {"source": "registry.citizens", "load_id": "L2", "position": "row 4", "source_key": NATIONAL_ID,
         "raw": {"kod_melli": NATIONAL_ID, "mob": MOBILE, "name": HOSTILE, "note": f"شماره {MOBILE.translate(FA)}"},
         "reasons": [{"pointer": "/mobile", "rule": "format:ir-mobile", "field": "mobile",
                      "message": f"mobile {HOSTILE} is not a mobile", "message_fa": "شماره همراه نادرست است"}]},
        {"source": "registry.citizens", "load_id": "L2", "position": "row 7", "source_key": "x7",
         "raw": {"kod_melli": int(NATIONAL_ID), "mob": "+98 915 123 4567"},
         "reasons": [{"pointer": "/mobile", "rule": "format:ir-mobile", "field": "mobile", "message": "bad",
                      "message_fa": "نادرست"},
                     {"pointer": "/national_id", "rule": "format:ir-national-id", "field": "national_id",
                      "message": f"check digit of {NATIONAL_ID} is wrong", "message_fa": "رقم کنترل"}]},
        {"source": "registry.citizens", "load_id": "L1", "position": "row 1", "source_key": "x1",
         "raw": {"a": 1}, "reasons": [{"pointer": "/first_name", "rule": "required", "field": "first_name",
                                       "message": "missing", "message_fa": "خالی"}], "status": "replayed"},
    ]
    rows = [{"source": s, "source_key": k, "entity_type": t, "record": r, "record_hash": "h",
             "first_load_id": "L1", "load_id": "L1", "updated_at": at} for s, k, t, r in [
        ("registry.citizens", "c1", "person", {"national_id": NATIONAL_ID, "first_name": "علی", "mobile": "+989151234567"}),
        ("registry.citizens", "c2", "person", {"national_id": "1234567891", "first_name": "رضا"}),
        ("finance.payments", "p1", "payment", {"payment_id": "p1", "national_id": NATIONAL_ID, "payer_name": "علي"}),
        ("rc137.requests", "r1", "service_request", {"tracking_code": "r1", "citizen_name": HOSTILE}),
    ]]
    members = [{"source": s, "source_key": k, "entity_id": eid, "entity_type": "person", "rule": "exact",
                "score": 1.0, "load_id": "L1", "assigned_at": at} for s, k, eid in [
        ("registry.citizens", "c1", "E1"), ("registry.citizens", "c2", "E2"),
        ("finance.payments", "p1#person", "E1"), ("rc137.requests", "r1#person", "E1")]]
    ents = [{"entity_id": eid, "entity_type": "person", "golden": {}, "lineage": {}, "member_count": n,
             "updated_at": at} for eid, n in [("E1", 3), ("E2", 1)]]
    review = [{"entity_type": "person", "left_ref": "registry.citizens|c1", "right_ref": "finance.payments|p1#person",
               "probability": 0.87, "status": "open", "created_at": at},
              {"entity_type": "person", "left_ref": "registry.citizens|c2", "right_ref": "rc137.requests|r1#person",
               "probability": 0.5, "status": "decided", "created_at": at}]
    aside = [{"source": "rc137.requests", "load_id": "R1", "position": f"row {i}", "source_key": key, "field": field,
              "source_field": field, "value": value, "rule": f"transform:{field}", "status": status,
              "reason": {"message": f"{field}: {value} cannot be read", "message_fa": f"{field} {value} خوانا نیست"}}
             for i, (key, field, value, status) in enumerate([
                 ("r1", "national_id", NATIONAL_ID[:-1] + "1", "open"), ("r2", "mobile", MOBILE[:-1], "open"),
                 ("r3", "mobile", "38001234", "open"), ("r4", "mobile", MOBILE, "dismissed")])]
    with engine.begin() as conn:
        conn.execute(store.loads.insert(), loads)
        conn.execute(store.set_aside.insert(), aside)
        conn.execute(store.quarantine.insert(), [{"status": "open", **q} for q in quarantine])
        conn.execute(store.source_rows.insert(), rows)
        conn.execute(store.entity_members.insert(), members)
        conn.execute(store.entities.insert(), ents)
        conn.execute(store.review_queue.insert(), review)


@pytest.fixture
def filled(tmp_path):
    engine = store.open_store(f"sqlite:///{tmp_path / 'store.db'}")
    fill(engine)
    yield engine
    engine.dispose()


def _by_source(data):
    return {s["source"]: s for s in data["sources"]}


def test_masking_keeps_last_digits_only():
    assert mask_value(NATIONAL_ID) == "*******948"
    assert mask_value(MOBILE) == "*******4567"
    assert mask_value("+989151234567") == "********4567"
    assert mask_text(f"کد {NATIONAL_ID.translate(FA)} تاریخ 1403/08/14") == "کد *******۹۴۸ تاریخ 1403/08/14"
    assert mask_record({"kod_melli": int(NATIONAL_ID), "amount_rial": 1500000000}) == \
        {"kod_melli": "*****948", "amount_rial": 1500000000}


def test_counts_held_and_stale_per_source(filled):
    data = gather(filled, CONTRACTS, now=NOW, run_id="t1")
    src = _by_source(data)
    cit = src["registry.citizens"]
    assert cit["last_load"]["load_id"] == "L2"
    assert (cit["last_load"]["rows_in"], cit["last_load"]["published"], cit["last_load"]["rows_quarantined"]) == (12, 10, 2)
    assert cit["last_load"]["balanced"] is True
    assert (cit["checks"]["passed"], cit["checks"]["warning"]) == (1, 1)
    assert cit["quarantine"]["open"] == 2  # the replayed row is not open
    top = cit["quarantine"]["reasons"][0]
    assert (top["rule"], top["field"], top["count"]) == ("format:ir-mobile", "mobile", 2)
    assert [t["load_id"] for t in cit["trend"]] == ["L1", "L2"]
    assert cit["freshness"]["stale"] is False and cit["freshness"]["age_seconds"] == 3570

    pay = src["finance.payments"]
    assert pay["held"] and pay["last_load"]["status"] == "held"
    assert pay["last_load"]["balanced"] is None  # a held load published nothing: balance does not apply
    failed = [c for c in pay["checks"]["items"] if c["status"] == "failed"]
    assert [c["name"] for c in failed] == ["amount_not_null"]
    assert pay["freshness"]["stale"] is True  # last *published* load is 10 h old, window 1 h
    assert src["rc137.requests"]["freshness"]["stale"] is None  # no freshness window

    person = {t["entity_type"]: t for t in data["entities"]}["person"]
    assert (person["records"], person["entities"], person["duplicates"]) == (4, 2, 2)
    assert data["overlap"]["multi_source_entities"] == 1
    assert [(p["left"], p["right"], p["entities"]) for p in data["overlap"]["pairs"]] == [
        ("finance.payments", "rc137.requests", 1), ("finance.payments", "registry.citizens", 1),
        ("rc137.requests", "registry.citizens", 1)]
    assert data["review"]["open"] == 1
    assert data["totals"]["held_sources"] == 1 and data["totals"]["stale_sources"] == 1


def test_golden_json_and_html_fragments(filled, tmp_path):
    out = tmp_path / "report"
    index = write_report(filled, out, contracts=CONTRACTS, run_id="golden", now=NOW)
    data = json.loads((out / "run-golden.json").read_text(encoding="utf-8"))
    golden = GOLDEN / "report-run.json"
    text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    if os.environ.get("MUNIHUB_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8"), "set MUNIHUB_UPDATE_GOLDEN=1 to accept a deliberate change"

    assert index == out / "index.html"
    run = (out / "run-golden.html").read_text(encoding="utf-8")
    assert run.startswith('<!doctype html>\n<html lang="fa" dir="rtl">')
    assert '<meta charset="utf-8">' in run
    assert '<bdi class="id" dir="ltr">registry.citizens</bdi>' in run
    assert 'مقدارهای کنار گذاشته (رکورد منتشر شد، مقدار نه): <bdi class="id" dir="ltr">mobile</bdi> ۲' in run
    assert '<span class="badge bad">نگه داشته شد</span>' in run
    assert '<span class="bad">کهنه</span>' in run
    # The checks table says what the contract promised and what was measured; great-expectations'
    # Data Docs, which judge by GE's own thresholds and say "Failed" for loads the hub passed, are
    # not linked from what stewards read.
    assert "Data Docs" not in run and "gx/registry.citizens" not in run
    assert "<svg" in run and "<script" not in run.lower().replace("&lt;script", "")
    assert "http://" not in run.replace("http://www.w3.org/2000/svg", "") and "https://" not in run
    assert "run-golden.html" in index.read_text(encoding="utf-8")
    review = (out / "review.html").read_text(encoding="utf-8")
    assert "*******948" in review and "********4567" in review and "#1 " in review


def test_no_raw_id_or_mobile_in_any_file(filled, tmp_path):
    out = tmp_path / "report"
    write_report(filled, out, contracts=CONTRACTS, run_id="a", now=NOW)
    write_report(filled, out, contracts=CONTRACTS, run_id="b", now=NOW + dt.timedelta(hours=1))
    files = [p for p in out.iterdir() if p.is_file()]
    assert {p.name for p in files} >= {"run-a.json", "run-a.html", "run-b.json", "run-b.html", "index.html",
                                       "review.html", "runs.json"}
    secrets = []
    for raw in (NATIONAL_ID, MOBILE, MOBILE[1:], "9151234567", "84575948"):
        secrets += [raw, raw.translate(FA), urllib.parse.quote(raw), urllib.parse.quote(raw.translate(FA))]
    for path in files:
        text = path.read_text(encoding="utf-8")
        compact = text.replace(" ", "").replace("-", "")
        for s in secrets:
            assert s not in compact, f"{s!r} leaked into {path.name}"
    assert "*******948" in (out / "run-a.html").read_text(encoding="utf-8")


def test_hostile_text_is_escaped(filled, tmp_path):
    out = tmp_path / "report"
    write_report(filled, out, contracts=CONTRACTS, run_id="x", now=NOW)
    for name in ("run-x.html", "review.html", "index.html"):
        html = (out / name).read_text(encoding="utf-8")
        assert "<script" not in html
    run = (out / "run-x.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;" in run  # the reason message and raw payload are shown, escaped


def test_earlier_runs_kept_and_listed(filled, tmp_path):
    out = tmp_path / "report"
    (out).mkdir()
    (out / "notes.txt").write_text("steward notes", encoding="utf-8")
    write_report(filled, out, contracts=CONTRACTS, run_id="r1", now=NOW)
    (out / "runs.json").unlink()  # lost index: rebuilt from the run files
    write_report(filled, out, contracts=CONTRACTS, run_id="r2", now=NOW + dt.timedelta(minutes=5))
    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.index("run-r2.html") < index.index("run-r1.html")  # newest first
    assert (out / "run-r1.html").exists() and (out / "notes.txt").read_text(encoding="utf-8") == "steward notes"
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]



def test_bad_run_id_refused(filled, tmp_path):
    from munihub.errors import ConfigError
    with pytest.raises(ConfigError, match="run id"):
        write_report(filled, tmp_path, run_id="../evil")


def test_headline_for_status(filled):
    rows = {r["source"]: r for r in headline(filled, CONTRACTS, now=NOW)}
    assert rows["finance.payments"]["status"] == "held" and rows["finance.payments"]["stale"] == "yes"
    assert (rows["registry.citizens"]["rows_in"], rows["registry.citizens"]["published"],
            rows["registry.citizens"]["quarantined"]) == (12, 10, 2)
    assert rows["rc137.requests"]["stale"] == "-"


@pytest.mark.postgres
def test_same_figures_on_postgres(pg_url, filled):
    engine = store.open_store(pg_url)
    try:
        fill(engine)
        pg, lite = gather(engine, CONTRACTS, now=NOW, run_id="t"), gather(filled, CONTRACTS, now=NOW, run_id="t")
        assert pg == lite
    finally:
        engine.dispose()


def test_overlap_counts_an_entity_once_per_pair_of_sources(store_url):
    from munihub.report.build import _overlap

    engine = store.open_store(store_url)
    at = NOW
    members = [("b_y", "1", "E1"), ("a.x", "2", "E1"), ("a.x", "3", "E1"),   # two records of a.x: one entity
               ("c.z", "4", "E2"), ("a.x", "5", "E2"), ("b_y", "6", "E2"),
               ("b_y", "7", "E3"), ("b_y", "8", "E3"), ("a.x", "9", "E4")]  # one source each: no overlap
    try:
        with engine.begin() as conn:
            conn.execute(store.entity_members.insert(), [
                {"source": s, "source_key": k, "entity_id": e, "entity_type": "person", "assigned_at": at}
                for s, k, e in members])
        with engine.connect() as conn:
            overlap = _overlap(conn)
    finally:
        engine.dispose()
    # code-point order on every engine ('.' < '_'); pairs sharing no entity are not listed
    assert overlap == {"multi_source_entities": 2, "pairs": [
        {"left": "a.x", "right": "b_y", "entities": 2}, {"left": "a.x", "right": "c.z", "entities": 1},
        {"left": "b_y", "right": "c.z", "entities": 1}]}
