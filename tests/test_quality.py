"""Dataset checks: contract rules compiled to specs, measured by great-expectations, judged by
the ODCS operator; drift against the previous load's profile; Data Docs kept per dataset."""
from __future__ import annotations

import datetime as dt
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from munihub.config import REPO_ROOT
from munihub.contracts import load_contract
from munihub.ingest.quality import blocking, compile_checks, run_checks

DATA = Path(__file__).parent / "data"
NOW = dt.datetime(2024, 11, 4, 12, 0, tzinfo=dt.timezone.utc)


def spec(metric, field=None, op="mustBe", threshold=0, unit="rows", severity="error", **arguments):
    return {"name": f"{metric} {field}", "field": field, "metric": metric, "operator": op,
            "threshold": threshold, "unit": unit, "severity": severity, "arguments": arguments}


def one(s, records, **kw) -> dict:
    [result] = run_checks([s], records, **kw)
    return result


def test_values_a_valid_values_rule_refuses_are_named_as_published():
    # validValues written as the source's codes («مرد», «زن») while the valueMap publishes
    # male/female: every row refused, and the message said only "measured 3 rows"
    r = one(spec("invalidValues", "gender", validValues=["مرد", "زن"]),
            [{"gender": "male"}, {"gender": "female"}, {"gender": "male"}, {"gender": None}])
    assert r["status"] == "failed" and r["observed"] == 3
    assert "'male' (2)" in r["message"] and "'female' (1)" in r["message"] and "as published" in r["message"]


def test_a_property_marked_unique_is_measured_as_a_warning(tmp_path):
    # ODCS `unique: true` on a national id (the record id another column): it was never checked
    text = (DATA / "quality" / "permits.yaml").read_text(encoding="utf-8")
    import re
    marked = re.sub(r"(- name: owner_name\n(\s+))", r"\1unique: true\n\2", text, count=1)
    assert marked != text
    path = tmp_path / "permits.yaml"
    path.write_text(marked, encoding="utf-8")
    [s] = [s for s in compile_checks(load_contract(path)) if s["name"] == "unique owner_name"]
    assert (s["metric"], s["severity"], s["field"]) == ("duplicateValues", "warning", "owner_name")


def test_contract_rules_and_implicit_checks_compile_to_specs():
    specs = {(s["metric"], s["field"]): s for s in compile_checks(load_contract(DATA / "quality" / "permits.yaml"))}
    assert specs[("nullValues", "owner_name")]["unit"] == "percent"
    assert specs[("nullValues", "owner_name")]["severity"] == "error"
    assert specs[("invalidValues", "status")]["arguments"]["validValues"] == ["issued", "expired", "revoked"]
    assert specs[("rowCountDrift", None)]["threshold"] == 45.0
    assert specs[("nullShareDrift", "owner_name")]["unit"] == "points"
    assert specs[("newValues", "status")]["threshold"] == 10.0
    assert specs[("duplicateValues", "permit_no")]["severity"] == "warning"      # implicit key uniqueness
    assert specs[("quarantineShare", None)]["threshold"] == 25.0                 # customProperties
    assert specs[("freshness", "issued_on")]["threshold"] == 3650 * 86400        # slaProperties element
    assert "district" in specs[("emptiedFields", None)]["arguments"]["fields"]


def test_defaults_when_the_contract_says_nothing():
    specs = compile_checks(load_contract(DATA / "core" / "citizens.yaml"))
    quarantine = next(s for s in specs if s["metric"] == "quarantineShare")
    assert (quarantine["threshold"], quarantine["severity"]) == (10.0, "warning")
    # the watermark column (updated_at) is not a contract field: no freshness check on values
    assert not any(s["metric"] == "freshness" for s in specs)


@pytest.mark.parametrize("unit,threshold,expected_status,observed", [
    ("percent", 30, "failed", 40.0), ("percent", 40, "passed", 40.0), ("rows", 4, "passed", 4), ("rows", 3, "failed", 4)])
def test_null_share_in_percent_or_rows(unit, threshold, expected_status, observed):
    records = [{"a": None if i < 4 else i} for i in range(10)]
    r = one(spec("nullValues", "a", "mustBeLessOrEqualTo", threshold, unit), records)
    assert (r["status"], r["observed"]) == (expected_status, observed)


def test_missing_values_count_blanks_and_markers():
    records = [{"a": v} for v in [None, "", "  ", "N/A", "ok", "ok"]]
    r = one(spec("missingValues", "a", "mustBeLessOrEqualTo", 3, missingValues=["N/A"]), records)
    assert (r["status"], r["observed"]) == ("failed", 4)


def test_duplicates_allowed_values_and_pattern():
    records = [{"k": "1", "s": "open", "p": 1201}, {"k": "1", "s": "open", "p": 1202},
               {"k": "2", "s": "باز", "p": "x9"}, {"k": "3", "s": None, "p": None}]
    results = run_checks([spec("duplicateValues", "k"), spec("invalidValues", "s", validValues=["open", "closed"]),
                          spec("invalidValues", "p", severity="warning", pattern=r"^\d{4}$")], records)
    assert [(r["status"], r["observed"]) for r in results] == [("failed", 2), ("failed", 1), ("warning", 1)]
    assert [r["name"] for r in blocking(results)] == ["duplicateValues k", "invalidValues s"]


def test_invalid_values_without_arguments_is_an_error_that_holds():
    r = one(spec("invalidValues", "s"), [{"s": "x"}])
    assert r["status"] == "error" and "validValues" in r["message"]
    assert blocking([r]) == [r]


def test_a_dropped_column_is_measured_as_all_null_not_skipped():
    r = one(spec("nullValues", "gone", "mustBeLessOrEqualTo", 50, "percent", "warning"), [{"a": 1}] * 5)
    assert (r["status"], r["observed"]) == ("warning", 100.0)


def test_nested_fields_are_read_by_dotted_name():
    records = [{"address": {"city": "مشهد"}}, {"address": {}}, {}]
    r = one(spec("nullValues", "address.city", "mustBeLessOrEqualTo", 1), records)
    assert (r["status"], r["observed"]) == ("failed", 2)


def test_row_count_and_row_count_drift_count_quarantined_rows_as_read():
    records = [{"a": i} for i in range(6)]
    drift = spec("rowCountDrift", None, "mustBeLessOrEqualTo", 30, "percent")
    assert one(drift, records, previous_rows=10, quarantined=4)["observed"] == 0.0   # 10 read, as before
    r = one(drift, records, previous_rows=10)
    assert (r["status"], r["observed"]) == ("failed", 40.0) and "10 → 6" in r["message"]
    assert one(drift, records)["status"] == "passed"                               # first load
    assert one(spec("rowCount", None, "mustBeGreaterThan", 0), [])["status"] == "failed"


def test_quarantine_share_warns_above_the_threshold_and_holds_when_error():
    records = [{"a": 1}] * 8
    warn = one(spec("quarantineShare", None, "mustBeLessOrEqualTo", 10.0, "percent", "warning"), records, quarantined=2)
    assert (warn["status"], warn["observed"]) == ("warning", 20.0) and "2 of 10" in warn["message"]
    hold = one(spec("quarantineShare", None, "mustBeLessOrEqualTo", 10.0, "percent"), records, quarantined=2)
    assert blocking([hold]) == [hold]
    assert one(spec("quarantineShare", None, "mustBeLessOrEqualTo", 10.0, "percent"), records)["status"] == "passed"


def _roundtrip(results) -> list[dict]:
    """What the pipeline stores in loads.checks and reads back for the next load."""
    return json.loads(json.dumps(results, ensure_ascii=False))


def test_null_share_drift_against_the_previous_load():
    s = spec("nullShareDrift", "a", "mustBeLessOrEqualTo", 20, "points", "warning")
    first = run_checks([s], [{"a": 1}] * 9 + [{"a": None}])
    assert first[0]["status"] == "passed" and first[0]["profile"] == {"null_share": {"a": 10.0}}
    second = one(s, [{"a": 1}] * 5 + [{"a": None}] * 5, previous_checks=_roundtrip(first))
    assert (second["status"], second["observed"]) == ("warning", 40.0)
    assert "10.0% → 50.0%" in second["message"]


def test_new_enum_values_share_against_the_previous_load():
    s = spec("newValues", "status", "mustBeLessOrEqualTo", 10, "percent", "warning")
    first = run_checks([s], [{"status": v} for v in ["open", "closed"] * 10])
    second = one(s, [{"status": v} for v in ["open"] * 14 + ["معلق"] * 6], previous_checks=_roundtrip(first))
    assert (second["status"], second["observed"]) == ("warning", 30.0) and "معلق (6)" in second["message"]
    many = run_checks([s], [{"status": str(i)} for i in range(60)])          # not enum-like: not judged
    assert one(s, [{"status": "x"}], previous_checks=_roundtrip(many))["status"] == "passed"


def test_emptied_field_is_reported_by_name():
    s = spec("emptiedFields", None, "mustBe", 0, "fields", "warning", fields=["a", "b"])
    first = run_checks([s], [{"a": 1, "b": 2}] * 12)
    r = one(s, [{"a": 1}] * 12, previous_checks=_roundtrip(first))
    assert (r["status"], r["observed"], r["field"]) == ("warning", 1, "b")
    assert one(s, [{"a": 1}] * 3, previous_checks=_roundtrip(first))["status"] == "passed"  # too few rows to say


def test_freshness_of_the_newest_value():
    s = spec("freshness", "issued_on", "mustBeLessOrEqualTo", 86400 * 30, "seconds", "warning")
    stale = one(s, [{"issued_on": "2024-09-01"}, {"issued_on": "2024-10-01"}, {"issued_on": None}], now=NOW)
    assert stale["status"] == "warning" and stale["observed"] == int(34.5 * 86400)
    fresh = one(s, [{"issued_on": "2024-11-01T08:00:00+03:30"}], now=NOW)
    assert fresh["status"] == "passed"
    assert one(s, [{"issued_on": "not a date"}], now=NOW)["status"] == "error"


def test_data_docs_are_kept_per_dataset_and_linked(tmp_path, capfd, caplog):
    caplog.set_level(logging.INFO)
    docs = tmp_path / "data-docs" / "testreg.citizens"
    specs = [spec("nullValues", "a", "mustBeLessOrEqualTo", 1), spec("invalidValues", "s", validValues=["x"])]
    records = [{"a": None, "s": "x"}, {"a": 1, "s": "y"}]
    first = run_checks(specs, records, data_docs_dir=docs)
    second = run_checks(specs, records, data_docs_dir=docs)
    index = Path(second[0]["data_docs"])
    assert index.is_file() and index.is_relative_to(docs) and first[0]["data_docs"] == str(index)
    pages = list((index.parent / "validations").rglob("*.html"))
    assert len(pages) == 2  # the first run's page survives the second build
    assert "data_docs" not in run_checks(specs, records)[0]
    linked = run_checks(specs, records, data_docs_dir=docs, docs_relative_to=tmp_path)[0]["data_docs"]
    assert linked.startswith("data-docs/testreg.citizens/") and (tmp_path / linked) == index
    assert "Calculating Metrics" not in capfd.readouterr().err
    assert not [r.getMessage() for r in caplog.records if r.name.startswith("great_expectations")]


def test_each_load_renders_its_own_page_and_leaves_earlier_pages_as_written(tmp_path):
    docs = tmp_path / "data-docs" / "testreg.citizens"
    records = [{"a": None, "s": "x"}, {"a": 1, "s": "y"}]
    first = run_checks([spec("nullValues", "a", "mustBeLessOrEqualTo", 1)], records, data_docs_dir=docs)
    site = Path(first[0]["data_docs"]).parent
    [page] = (site / "validations").rglob("*.html")
    written = (page.stat().st_mtime_ns, page.read_bytes())
    # the next load's contract has another rule: its suite page shows it, the first page is kept
    run_checks([spec("nullValues", "a", "mustBeLessOrEqualTo", 1), spec("invalidValues", "s", validValues=["x"])],
               records, data_docs_dir=docs)
    pages = list((site / "validations").rglob("*.html"))
    assert len(pages) == 2 and (page.stat().st_mtime_ns, page.read_bytes()) == written
    assert "values must belong to this set" in next((site / "expectations").rglob("*.html")).read_text("utf-8")
    index = (site / "index.html").read_text("utf-8")
    assert all(p.relative_to(site).as_posix() in index for p in pages)
    assert (site / "static" / "styles" / "data_docs_default_styles.css").is_file()


def test_data_docs_templates_are_compiled_once_not_per_build(tmp_path, monkeypatch):
    import jinja2

    specs, records = [spec("nullValues", "a", "mustBeLessOrEqualTo", 1)], [{"a": None}, {"a": 1}]
    run_checks(specs, records, data_docs_dir=tmp_path / "one")
    compiled = []
    real = jinja2.Environment.compile
    monkeypatch.setattr(jinja2.Environment, "compile", lambda self, *a, **kw: compiled.append(a) or real(self, *a, **kw))
    result = run_checks(specs, records, data_docs_dir=tmp_path / "two")  # a new site, the same templates
    assert Path(result[0]["data_docs"]).is_file() and compiled == []


def test_site_config_swaps_only_the_views():
    from munihub.ingest.quality_views import site_config

    given = {"class_name": "SiteBuilder", "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
             "site_section_builders": {"profiling": "None", "validations": {"run_name_filter": {"not_includes": "x"}}}}
    config = site_config(given)
    sections = config["site_section_builders"]
    assert sections["profiling"] == "None"  # switched off stays off
    assert sections["validations"]["run_name_filter"] == {"not_includes": "x"}
    assert {sections[s]["view"]["class_name"] for s in ("expectations", "validations")} == {"PageView"}
    assert config["site_index_builder"]["view"]["class_name"] == "IndexPageView"
    assert "view" not in given["site_index_builder"]  # the context's own config is not touched


def test_the_scaffolded_config_variables_template_is_dropped_a_filled_one_kept(tmp_path):
    from munihub.ingest.quality_docs import CONFIG_VARIABLES

    specs, records = [spec("nullValues", "a", "mustBeLessOrEqualTo", 1)], [{"a": None}, {"a": 1}]
    run_checks(specs, records, data_docs_dir=tmp_path / "ds")
    assert not (tmp_path / "ds" / CONFIG_VARIABLES).exists()
    (tmp_path / "ds" / CONFIG_VARIABLES).write_text("# mine\nwarehouse_schema: munihub\n", "utf-8")
    assert run_checks(specs, records, data_docs_dir=tmp_path / "ds")[0]["status"] == "passed"
    assert "warehouse_schema" in (tmp_path / "ds" / CONFIG_VARIABLES).read_text("utf-8")


def test_great_expectations_is_not_imported_with_the_module():
    code = ("import sys, munihub.ingest.quality, munihub.ingest.quality_docs, munihub.pipeline; "
            "print('great_expectations' in sys.modules, 'pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_scipy_stats_and_altair_wait_until_used():
    """great-expectations imports them for expectations munihub never builds; they load on first use."""
    code = ("import sys, tempfile\n"
            "from munihub.ingest.quality import run_checks\n"
            "from munihub.ingest import quality_docs\n"
            "r = run_checks([{'name': 'n', 'field': 'a', 'metric': 'nullValues', 'operator': 'mustBe',\n"
            "                 'threshold': 1, 'unit': 'rows', 'severity': 'error', 'arguments': {}}],\n"
            "               [{'a': None}, {'a': 1}], data_docs_dir=tempfile.mkdtemp())  # GE runs for the docs\n"
            "print(r[0]['status'], 'scipy.stats._stats_py' in sys.modules, 'altair.vegalite' in sys.modules)\n"
            "from scipy import stats\n"
            "import great_expectations.expectations.core.expect_column_kl_divergence_to_be_less_than as kl\n"
            "print(round(kl.stats.entropy([0.5, 0.5], [0.9, 0.1]), 4), round(stats.entropy([1, 1]), 4),\n"
            "      type(stats).__name__, callable(kl.alt.Chart))\n")  # a stand-in bound early forwards
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, check=True)
    assert out.stdout.split() == ["passed", "False", "False", "0.5108", "0.6931", "_Deferred", "True"]


def test_nulls_uniqueness_and_allowed_values_are_measured_without_great_expectations():
    """Issue 18: importing great-expectations was most of a small sync's time; these rules are
    counted on the frame as GE counts them, so GE loads only for Data Docs or a pattern."""
    code = ("import sys\n"
            "from munihub.ingest.quality import run_checks\n"
            "rule = lambda m, f, t, **a: {'name': m, 'field': f, 'metric': m, 'operator': 'mustBe', 'threshold': t,\n"
            "                             'unit': 'rows', 'severity': 'error', 'arguments': a}\n"
            "rows = [{'a': None, 'k': 1, 'g': 'x'}, {'a': 1, 'k': 1, 'g': 'y'}, {'a': 2, 'k': None, 'g': None},\n"
            "        {'a': 3, 'k': None, 'g': 'z'}]\n"
            "r = run_checks([rule('nullValues', 'a', 1), rule('duplicateValues', 'k', 2),\n"
            "                rule('invalidValues', 'g', 1, validValues=['x', 'y'])], iter(rows))\n"
            "print(*[x['status'] for x in r], *[x['observed'] for x in r], 'great_expectations' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, check=True)
    # nulls are neither duplicates (k) nor outside the allowed set (g)
    assert out.stdout.split() == ["passed", "passed", "passed", "1", "2", "1", "False"]


def test_a_composite_key_is_unique_as_a_tuple_not_column_by_column(tmp_path):
    import dataclasses
    base = load_contract(DATA / "quality" / "permits.yaml")
    fields = tuple(dataclasses.replace(f, primary_key=True, key_position=1) if f.name == "national_id" else
                   dataclasses.replace(f, key_position=0) if f.primary_key else f for f in base.fields)
    contract = dataclasses.replace(base, fields=fields)
    key = contract.key
    assert len(key) == 2
    specs = [s for s in compile_checks(contract) if s["metric"] in {"duplicateValues", "duplicateKeys"}
             and (s["field"] in key or s["arguments"].get("fields") == key)]
    assert [(s["metric"], s["arguments"].get("fields")) for s in specs] == [("duplicateKeys", key)]
    # each part repeats on its own, no pair repeats: valid data, no warning
    good = [{key[0]: a, key[1]: b} for a, b in [("p1", "n1"), ("p1", "n2"), ("p2", "n1")]]
    assert one(specs[0], good)["status"] == "passed"
    bad = good + [{key[0]: "p1", key[1]: "n2"}]
    result = one(specs[0], bad)
    assert (result["status"], result["observed"]) == ("warning", 1)


class _ManyValues:
    """A staged load's columns (`quality_measure.StagedColumns`' questions) whose every field
    has `n` distinct values, handed out one at a time as the SQL GROUP BY streams them."""

    def __init__(self, n: int):
        self.total = n

    def nulls(self, fields):
        return {f: 0 for f in fields}

    def values(self, field):
        start = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
        return ((f"{(start + dt.timedelta(seconds=i)).isoformat()}", 1) for i in range(self.total))

    def repeated(self, field):
        return 0

    def repeated_keys(self, fields):
        return 0


def test_checks_hold_no_column_of_a_large_load_in_memory():
    """A column with as many distinct values as rows (a timestamp, an id) is read value by
    value: what the checks hold stays flat however large the load (10M rows under 300 MB)."""
    import tracemalloc

    specs = [spec("freshness", "at", "mustBeLessOrEqualTo", 86400, "seconds", "warning"),
             spec("newValues", "at", "mustBeLessOrEqualTo", 100, "percent", "warning"),
             spec("invalidValues", "at", validValues=["x"]),
             spec("invalidValues", "at", pattern="^2"),
             spec("missingValues", "at", missingValues=["-"])]

    def peak(n: int) -> int:
        tracemalloc.start()
        try:
            results = run_checks(specs, _ManyValues(n), now=NOW, previous_checks=[])
            held = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert results[0]["status"] == "warning" and results[2]["observed"] == n  # every value was read
        return held

    peak(10)  # the first run imports what the checks need
    small, large = peak(1_000), peak(100_000)
    assert large < small + 200_000, (small, large)  # a list of 100k datetimes alone is ~5 MB
