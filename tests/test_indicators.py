"""Indicators for city managers: definitions checked with file:line, figures computed in SQL on
both engines and checked against the same figures recomputed by hand over the store,
follow-ups counted once, incremental refresh equal to a full one, small counts suppressed."""
from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict

import pytest
import sqlalchemy as sa

from munihub import store
from munihub.config import REPO_ROOT
from munihub.indicators import IndicatorError, load_all, load_definition, refresh, values
from munihub.indicators.calendar import jalali_periods
from munihub.indicators.compute import figures
from munihub.persian.ids import national_id_check_digit
from munihub.resolve.run import resolve_all

UTC = dt.timezone.utc
AS_OF = dt.datetime(2025, 1, 20, tzinfo=UTC)
T0 = dt.datetime(2025, 1, 1, tzinfo=UTC)
SHIPPED = REPO_ROOT / "indicators"
CATEGORIES = ("پسماند", "آسفالت", "روشنایی معابر")


def shipped(ident: str):
    return next(d for d in load_all(SHIPPED)[0] if d.id == ident)


def _row(source, key, etype, record, when=T0):
    return {"source": source, "source_key": key, "entity_type": etype, "record": record, "record_hash": key,
            "first_load_id": "L1", "load_id": "L1", "updated_at": when}


def nid(citizen: int) -> str:
    """A valid national id for the citizen: as the contracts' transforms publish them (one that
    fails its check digit is set aside at publish, never matched as an id)."""
    first9 = f"{100000 + citizen:09d}"
    return first9 + str(national_id_check_digit(first9))


def request(i: int, citizen: int, category: str, filed: dt.datetime, closed: dt.datetime | None,
            refers_to: str | None = None, tracking: str | None = None) -> dict:
    rec = {"tracking_code": tracking or f"T{i:04d}", "national_id": nid(citizen),
           "citizen_name": f"شهروند {citizen}", "category": category, "district": f"منطقه {citizen % 4}",
           "latitude": 36.0 + citizen * 0.05, "longitude": 59.0 + citizen * 0.05,
           "status": "بسته شده" if closed else "ثبت شده", "filed_at": filed.strftime("%Y-%m-%dT%H:%M:%S")}
    if closed:
        rec["closed_at"] = closed.strftime("%Y-%m-%dT%H:%M:%S")
    if refers_to:
        rec["refers_to"] = refers_to
    return rec


def city_rows() -> list[dict]:
    """60 requests (20 citizens, 3 categories, Sept 2024 - Jan 2025), 6 follow-ups citing their
    request, one repeat after closure; inter-agency requests, plan indicators, two registries."""
    start = dt.datetime(2024, 9, 1, 8, 0)
    rows = []
    for i in range(60):
        filed = start + dt.timedelta(days=2 * i, hours=i % 5)
        closed = filed + dt.timedelta(days=i % 7 + 1, hours=3) if i % 2 == 0 else None
        rows.append(_row("rc137.requests", f"T{i:04d}", "service_request",
                         request(i, i % 20, CATEGORIES[i // 20], filed, closed)))
    for i in range(0, 60, 10):  # follow-ups: same citizen, problem and place, three days on
        filed = start + dt.timedelta(days=2 * i + 3)
        rows.append(_row("rc137.requests", f"F{i:04d}", "service_request",
                         request(100 + i, i % 20, CATEGORIES[i // 20], filed, filed + dt.timedelta(days=2),
                                 refers_to=f"T{i:04d}", tracking=f"F{i:04d}")))
    # citizen 0 brings the same problem back 40 days after it was closed: a repeat, not a follow-up
    rows.append(_row("rc137.requests", "R0001", "service_request",
                     request(200, 0, CATEGORIES[0], start + dt.timedelta(days=49), None, tracking="R0001")))
    pairs = [("MM-FIN", "MM-137"), ("MM-137", "MM-FIN"), ("MM-WST", "MM-FIN")]
    for i in range(12):
        opened = dt.date(2024, 9, 1) + dt.timedelta(days=7 * i)
        rec = {"request_id": f"IA-{i:03d}", "from_agency": pairs[i % 3][0], "to_agency": pairs[i % 3][1],
               "status": "closed" if i % 3 != 2 else "open", "opened_on": opened.isoformat(),
               "due_on": (opened + dt.timedelta(days=10)).isoformat()}
        if i % 3 != 2:
            rec["closed_on"] = (opened + dt.timedelta(days=4 + 2 * i)).isoformat()
        rows.append(_row("coordination.requests", rec["request_id"], "inter_agency_request", rec))
    for code, values_ in (("IND-A", [(50, 40), (50, 55)]), ("IND-B", [(10, 12), (10, 8)])):
        for q, (target, measured) in enumerate(values_, start=1):
            rows.append(_row("planning.indicators", f"{code}|1403-Q{q}", "indicator",
                             {"indicator_code": code, "period": f"1403-Q{q}", "target_value": target,
                              "measured_value": measured}))
    for c in range(15):  # the registry knows citizens 0-14; a second system keeps 0-4 again
        rows.append(_row("registry.citizens", f"{c:010d}", "person",
                         {"national_id": nid(c), "first_name": "شهروند", "last_name": str(c)}))
    for c in range(5):
        rows.append(_row("hr.staff", f"S{c}", "person",
                         {"national_id": nid(c), "first_name": "شهروند", "last_name": str(c)}))
    return rows


def _city(url: str):
    engine = store.open_store(url)
    with engine.begin() as conn:
        conn.execute(store.source_rows.insert(), city_rows())
    resolve_all(engine)
    return engine


@pytest.fixture
def city(store_url):
    engine = _city(store_url)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_city(pg_url):
    """The city on PostgreSQL alone: for what only PostgreSQL does."""
    engine = _city(pg_url)
    yield engine
    engine.dispose()


def all_figures(engine, defs) -> dict:
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")
        return {d.id: {(r["period"], tuple(sorted(r["dims"].items()))): r for r in figures(conn, d, AS_OF)}
                for d in defs}


# ---------------------------------------------------------------- definitions

def test_shipped_definitions_load_clean():
    good, bad = load_all(SHIPPED)
    assert bad == []
    families = Counter(d.family for d in good)
    assert set(families) == {"137", "inter_agency", "plan", "systems"}
    assert len({d.id for d in good}) == len(good) >= 17


def test_a_typo_names_the_file_the_line_and_the_field(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("id: 137.bad\ntitle: t\nfamily: '137'\nsource: request_group\n"
                    "measure: {kind: cuont}\n"
                    "dimensions:\n  - month\n  - distrct\n"
                    "filters:\n  - {field: statuss, op: eq, value: x}\n"
                    "targett: {value: 1, direction: up}\n", encoding="utf-8")
    with pytest.raises(IndicatorError) as err:
        load_definition(path)
    problems = err.value.problems
    assert len(problems) == 4  # every problem at once
    text = "\n".join(problems)
    assert f"{path}:5: measure kind 'cuont'" in text and "did you mean 'count'" in text
    assert f"{path}:8: dimension 'distrct'" in text and "'district'" in text
    assert f"{path}:10: field 'statuss'" in text and "'status'" in text
    assert f"{path}:11: unknown key 'targett'" in text and "'target'" in text


def test_a_misspelt_measure_key_is_one_problem_about_the_key_and_one_about_the_missing_measure(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("id: 137.m\ntitle: t\nfamily: '137'\nsource: request_group\nmesure: {kind: count}\n",
                    encoding="utf-8")
    with pytest.raises(IndicatorError) as err:
        load_definition(path)
    problems = err.value.problems
    assert f"{path}:5: unknown key 'mesure'; did you mean 'measure'?" in problems
    assert [p for p in problems if "measure" in p and "mesure" not in p] == [
        f"{path}:1: measure is missing; give a mapping with a kind "
        "(count, distinct_count, mean, median, percentile, share, sum), e.g. `measure: {kind: count}`"]


def test_a_measure_without_its_field_and_a_bad_percentile_are_refused(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("id: x.p\ntitle: t\nfamily: systems\nsource: request_group\n"
                    "measure: {kind: percentile, field: district, p: 90}\n", encoding="utf-8")
    with pytest.raises(IndicatorError) as err:
        load_definition(path)
    text = str(err.value)
    assert "percentile needs a number; 'district' is text" in text and "p between 0 and 1" in text


# ---------------------------------------------------------------- figures against the store by hand

def _groups_by_hand(engine) -> list[dict]:
    """Request groups from the raw store in Python: first request, follow-ups, closure."""
    r, m = store.source_rows, store.entity_members
    with engine.connect() as conn:
        rows = conn.execute(sa.select(r.c.source_key, r.c.record, m.c.entity_id)
                            .join(m, sa.and_(m.c.source == r.c.source, m.c.source_key == r.c.source_key))
                            .where(r.c.entity_type == "service_request")).all()
    by_group = defaultdict(list)
    for key, rec, gid in rows:
        by_group[gid].append((rec["filed_at"], key, rec))
    out = []
    for members in by_group.values():
        members.sort()
        first = members[0][2]
        closed = [x[2].get("closed_at") for x in members]
        out.append({"district": first["district"], "category": first["category"], "size": len(members),
                    "month": jalali_periods(dt.date.fromisoformat(first["filed_at"][:10]))[0],
                    "filed": dt.datetime.fromisoformat(first["filed_at"]),
                    "closed": max(closed) if all(closed) else None})
    return out


def test_figures_match_a_recount_by_hand(city):
    groups = _groups_by_hand(city)
    got = all_figures(city, [shipped(i) for i in ("137.requests", "137.followup_rate", "137.resolution_median",
                                                  "137.resolution_p90", "inter_agency.turnaround_median")])
    by_hand = Counter((g["month"], (("category", g["category"]), ("district", g["district"]))) for g in groups)
    assert {k: v["value"] for k, v in got["137.requests"].items()} == {k: float(n) for k, n in by_hand.items()}

    months = defaultdict(list)
    for g in groups:
        months[(g["month"], g["district"])].append(g["size"] - 1)
    for (month, district), sizes in months.items():
        assert got["137.followup_rate"][(month, (("district", district),))]["value"] == pytest.approx(
            sum(sizes) / len(sizes))

    days = defaultdict(list)
    for g in groups:
        if g["closed"]:
            days[(g["month"], g["category"])].append(
                (dt.datetime.fromisoformat(g["closed"]) - g["filed"]).total_seconds() / 86400)
    for (month, category), d in days.items():
        key = (month, (("category", category),))
        assert got["137.resolution_median"][key]["value"] == pytest.approx(statistics.median(d), abs=1e-6)
        q = statistics.quantiles(d, n=10, method="inclusive")[-1] if len(d) > 1 else d[0]
        assert got["137.resolution_p90"][key]["value"] == pytest.approx(q, abs=1e-6)

    turn = got["inter_agency.turnaround_median"]
    assert turn[(next(iter(turn))[0], (("agency_pair", "MM-FIN → MM-137"),))]["value"] == statistics.median(
        [4 + 2 * i for i in range(0, 12, 3)])


@pytest.mark.postgres
def test_percentiles_sorted_per_cell_equal_the_window_ranking(pg_city):
    # PostgreSQL ranks by sorting each cell's values apart (`rank`); every shipped median and
    # percentile, by month and cell or as a snapshot, all periods or some, must pick the
    # values the window functions (`percentile_query`, what SQLite runs) pick
    from munihub.indicators.compute import cover_calendar, interpolate, percentile_query, rank
    from munihub.indicators.facts import FACTS

    ranked = [d for d in load_all(SHIPPED)[0] if d.measure["kind"] in ("median", "percentile")]
    assert {d.time for d in ranked} == {"month", None}
    with pg_city.begin() as conn:
        conn.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")
        for d in ranked:
            rel = FACTS[d.source].build("postgresql", AS_OF.replace(tzinfo=None).isoformat())
            cover_calendar(conn, d, rel)
            for periods in (None, ["1403-07", "1403-09"]):
                peers = [p for p in ranked if p.source == d.source]
                window = interpolate(d, conn.execute(percentile_query(d, rel, AS_OF, periods, peers)).all())
                assert window and interpolate(d, rank(conn, d, rel, AS_OF, periods, peers)) == window, d.id


def test_a_followup_folded_into_its_request_is_not_a_new_request(city):
    defs = [shipped("137.requests"), shipped("137.followup_rate")]
    refresh(city, defs, as_of=AS_OF)
    before = sum(r["value"] for r in values(city, defs[0], suppress=False))
    rate_before = {r["cell"] + r["period"]: r["value"] for r in values(city, defs[1], suppress=False)}
    with city.begin() as conn:  # a new follow-up of T0030 (citizen 10, منطقه 2), three days later
        conn.execute(store.source_rows.insert(), [_row("rc137.requests", "F9999", "service_request", request(
            999, 10, CATEGORIES[1], dt.datetime(2024, 9, 1, 8) + dt.timedelta(days=63), None,
            refers_to="T0030", tracking="F9999"), when=dt.datetime.now(UTC))])
    resolve_all(city)
    refresh(city, defs, as_of=AS_OF)
    assert sum(r["value"] for r in values(city, defs[0], suppress=False)) == before
    rate_after = {r["cell"] + r["period"]: r["value"] for r in values(city, defs[1], suppress=False)}
    assert sum(rate_after.values()) > sum(rate_before.values())


def test_repeat_rate_counts_the_problem_brought_back_after_closure(city):
    got = all_figures(city, [shipped("137.repeat_rate")])["137.repeat_rate"]
    repeats = [(k, v) for k, v in got.items() if v["numerator"]]
    assert len(repeats) == 1 and repeats[0][0][1] == (("district", "منطقه 0"),)
    assert repeats[0][1]["numerator"] == 1


def test_systems_figures_match_the_members(city):
    got = all_figures(city, [shipped("systems.overlap"), shipped("systems.unconfirmed")])
    overlap = {dict(k[1])["source_pair"]: v["value"] for k, v in got["systems.overlap"].items()}
    assert overlap["hr.staff & registry.citizens"] == 5  # citizens 0-4 in both
    assert overlap["rc137.requests & registry.citizens"] == 15
    unconfirmed = {dict(k[1])["source"]: v["value"] for k, v in got["systems.unconfirmed"].items()}
    # requests of citizens 15-19 (3 each): no other system knows them
    assert unconfirmed == {"rc137.requests": 15.0}

    # the citizens behind each source's records, by hand: a person record's own entity, else
    # the person its mention resolved to (records naming nobody count no citizen)
    m = store.entity_members
    with city.connect() as conn:
        members = conn.execute(sa.select(m.c.source, m.c.source_key, m.c.entity_type, m.c.entity_id)).all()
    mention = {(s, k[:-len("#person")]): e for s, k, t, e in members if k.endswith("#person")}
    people = defaultdict(set)
    for s, k, t, e in members:
        if not k.endswith("#person"):
            people[s]  # a source whose records name nobody counts no citizen
            person = e if t == "person" else mention.get((s, k))
            if person:
                people[s].add(person)
    shares = all_figures(city, [shipped("systems.duplicate_rate")])["systems.duplicate_rate"]
    assert {dict(k[1])["source"]: v["citizens"] for k, v in shares.items()} == {s: len(p) for s, p in people.items()}
    assert {s: len(p) for s, p in people.items()}["planning.indicators"] == 0
    assert {dict(k[1])["source_pair"]: v["citizens"] for k, v in got["systems.overlap"].items()} == overlap


def test_plan_indicators_against_target_with_trend(city):
    defn = shipped("plan.targets")
    refresh(city, [defn], as_of=AS_OF)
    rows = {(r["dims"]["indicator"], r["period"]): r for r in values(city, defn)}
    assert rows[("IND-A", "1403-Q1")]["on_track"] is False and rows[("IND-A", "1403-Q2")]["on_track"] is True
    assert rows[("IND-A", "1403-Q2")]["change"] == 15 and rows[("IND-A", "1403-Q2")]["previous"] == 40


# ---------------------------------------------------------------- engines, increments, suppression

@pytest.mark.postgres
def test_sqlite_and_postgresql_agree(tmp_path, pg_url):
    results = []
    for url in (f"sqlite:///{tmp_path / 's.db'}", pg_url):
        engine = store.open_store(url)
        with engine.begin() as conn:
            conn.execute(store.source_rows.insert(), city_rows())
        resolve_all(engine)
        results.append(all_figures(engine, load_all(SHIPPED)[0]))
        engine.dispose()
    lite, pg = results
    assert lite.keys() == pg.keys()
    for ident in lite:
        assert lite[ident].keys() == pg[ident].keys(), ident
        assert lite[ident], f"{ident} computed nothing on the test city"
        for cell, row in lite[ident].items():
            other = pg[ident][cell]
            assert (row["value"] is None) == (other["value"] is None), (ident, cell)
            if row["value"] is not None:
                assert other["value"] == pytest.approx(row["value"], abs=1e-6), (ident, cell)
            assert (row["rows"], row["citizens"]) == (other["rows"], other["citizens"]), (ident, cell)


def test_incremental_refresh_touches_only_changed_periods_and_equals_a_full_one(city):
    defs = [shipped("137.requests"), shipped("137.resolution_median"), shipped("inter_agency.requests")]
    first = refresh(city, defs, as_of=AS_OF)
    assert {r["mode"] for r in first} == {"full"}
    with city.begin() as conn:  # one new request in a new month (Bahman 1403)
        conn.execute(store.source_rows.insert(), [_row("rc137.requests", "N0001", "service_request", request(
            500, 3, CATEGORIES[2], dt.datetime(2025, 1, 25, 9), dt.datetime(2025, 1, 27, 9)),
            when=dt.datetime.now(UTC))])
    resolve_all(city)
    second = {r["indicator"]: r for r in refresh(city, defs, as_of=AS_OF)}
    assert second["137.requests"]["mode"] == "delta" and second["137.requests"]["periods"] == 1
    assert second["inter_agency.requests"]["periods"] == 0
    incremental = {d.id: values(city, d, suppress=False) for d in defs}
    assert [r for r in incremental["137.requests"] if r["period"] == "1403-11"]
    refresh(city, defs, full=True, as_of=AS_OF)
    assert {d.id: values(city, d, suppress=False) for d in defs} == incremental


def test_a_changed_definition_is_recomputed_from_scratch(city, tmp_path):
    text = (SHIPPED / "137/requests.yaml").read_text(encoding="utf-8")
    path = tmp_path / "requests.yaml"
    path.write_text(text, encoding="utf-8")
    refresh(city, [load_definition(path)], as_of=AS_OF)
    path.write_text(text.replace("dimensions: [district, category, month]", "dimensions: [district, month]"),
                    encoding="utf-8")
    changed = load_definition(path)
    assert refresh(city, [changed], as_of=AS_OF)[0]["mode"] == "full"
    assert all(set(r["dims"]) == {"district"} for r in values(city, changed, suppress=False))


def test_cells_of_fewer_than_k_citizens_are_suppressed(city):
    defn = shipped("137.requests")
    refresh(city, [defn], as_of=AS_OF)
    raw = values(city, defn, suppress=False)
    seen = values(city, defn)
    small = [r for r in raw if r["citizens"] < defn.k]
    assert small and len(seen) == len(raw)
    for r, s in zip(raw, seen):
        if r["citizens"] < defn.k:
            assert s["suppressed"] and s["value"] is None and s["citizens"] is None and s["rows"] is None
        else:
            assert s["value"] == r["value"] and not s["suppressed"]


def test_export_csv_and_parquet(city, tmp_path):
    from munihub.indicators import export
    pq = pytest.importorskip("pyarrow.parquet")
    defn = shipped("systems.overlap")
    refresh(city, [defn], as_of=AS_OF)
    rows = values(city, defn)
    csv_text = export(rows, tmp_path / "o.csv").read_text(encoding="utf-8")
    assert csv_text.splitlines()[0].startswith("indicator,period,source_pair,value")
    assert "hr.staff & registry.citizens" in csv_text
    table = pq.read_table(export(rows, tmp_path / "o.parquet")).to_pylist()
    assert {r["source_pair"]: r["value"] for r in table} == {r["dims"]["source_pair"]: r["value"] for r in rows}


def test_flat_keeps_the_indicator_id_beside_a_dimension_named_indicator():
    # plan.targets is broken down by the plan's own indicator code; in CSV and Parquet that
    # code must not overwrite the id of the indicator the figures belong to
    from munihub.indicators import read
    row = {"indicator": "plan.targets", "period": "1403-07", "dims": {"indicator": "IND-137-01"},
           **{k: None for k in read.COLUMNS if k not in {"indicator", "period"}}, "value": 12.5}
    flat = read.flat([row])[0]
    assert flat["indicator"] == "plan.targets" and flat["indicator_dimension"] == "IND-137-01"
    assert read.to_csv([row]).splitlines()[0].startswith("indicator,period,indicator_dimension,value")


# ---------------------------------------------------------------- the command line

def test_cli_lint_compute_show_export(city, tmp_path, capsys, monkeypatch):
    import shutil

    from munihub.cli.main import main

    folder = tmp_path / "indicators"
    shutil.copytree(SHIPPED, folder)
    monkeypatch.setenv("MUNIHUB_INDICATORS", str(folder))
    monkeypatch.setenv("MUNIHUB_STORE_URL", city.url.render_as_string(hide_password=False))
    monkeypatch.setenv("MUNIHUB_HOME", str(tmp_path / "home"))
    assert main(["indicators", "lint"]) == 0
    assert main(["indicators", "compute", "systems.overlap", "137.requests"]) == 0
    assert "systems.overlap" in capsys.readouterr().out
    assert main(["indicators", "show", "systems.overlap"]) == 0
    assert "hr.staff & registry.citizens" in capsys.readouterr().out
    assert main(["indicators", "export", "137.requests", str(tmp_path / "r.csv")]) == 0
    assert (tmp_path / "r.csv").read_text(encoding="utf-8").startswith("indicator,period,district,category,")
    assert main(["indicators", "show", "no.such"]) == 1
    assert "no indicator 'no.such'" in capsys.readouterr().err

    bad = folder / "systems/overlap.yaml"
    bad.write_text(bad.read_text(encoding="utf-8").replace("dimensions: [source_pair]", "dimensions: [sourcepair]"),
                   encoding="utf-8")
    assert main(["indicators", "lint"]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:6: dimension 'sourcepair' is not offered by source_pair; did you mean 'source_pair'?" in err


def test_two_files_with_one_id_keep_the_first_and_name_both(tmp_path):
    text = (SHIPPED / "systems/overlap.yaml").read_text(encoding="utf-8")
    (tmp_path / "a.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(text, encoding="utf-8")
    good, bad = load_all(tmp_path)
    assert [d.path.name for d in good] == ["a.yaml"]
    assert len(bad) == 1 and str(bad[0]).startswith(f"{tmp_path / 'b.yaml'}: indicator id 'systems.overlap' "
                                                    f"is already used by {tmp_path / 'a.yaml'}")


def test_consolidation_refreshes_the_indicators_and_a_dashboard_page_has_no_personal_field(city, tmp_path):
    from munihub.config import Settings
    from munihub.indicators import family_page
    from munihub.pipeline.consolidate import consolidate

    settings = Settings(home=tmp_path, store_url=city.url.render_as_string(hide_password=False),
                        contracts_dir=REPO_ROOT / "contracts", schemas_dir=REPO_ROOT / "schemas")
    result = consolidate(settings)["indicators"]
    assert result["computed"] == len(load_all(SHIPPED)[0]) and result["problems"] == [] and result["cells"] > 0
    page = family_page(city, load_all(SHIPPED)[0], "137", where={"district": "منطقه 1"})
    assert {p["id"] for p in page} == {d.id for d in load_all(SHIPPED)[0] if d.family == "137"}
    requests = next(p for p in page if p["id"] == "137.requests")
    assert requests["chart"]["periods"] and all(s["dims"]["district"] == "منطقه 1" for s in requests["chart"]["series"])
    text = str(page)
    for personal in ("national_id", "citizen_name", "mobile", "0000000001", "شهروند 1"):  # names are "شهروند N"
        assert personal not in text


def test_a_steward_regrouping_without_new_rows_recomputes_in_full(city):
    defn = shipped("137.repeat_rate")
    refresh(city, [defn], as_of=AS_OF)
    with city.begin() as conn:  # entities moved, no row published (what a steward decision does)
        conn.execute(store.entity_members.update().values(assigned_at=dt.datetime.now(UTC)))
    assert refresh(city, [defn], as_of=AS_OF)[0]["mode"] == "full"
    assert refresh(city, [defn], as_of=AS_OF)[0]["mode"] == "incremental"


def test_jalali_months_and_weeks():
    # 1 Farvardin 1403 was a Wednesday: week 1 runs to Friday, week 2 starts on Saturday
    assert jalali_periods(dt.date(2024, 3, 19)) == ("1402-12", "1402-W53")
    assert jalali_periods(dt.date(2024, 3, 20)) == ("1403-01", "1403-W01")
    assert jalali_periods(dt.date(2024, 3, 22)) == ("1403-01", "1403-W01")
    assert jalali_periods(dt.date(2024, 3, 23)) == ("1403-01", "1403-W02")
    assert jalali_periods(dt.date(2024, 10, 22)) == ("1403-08", "1403-W32")
    assert jalali_periods(dt.date(2025, 3, 20)) == ("1403-12", "1403-W53")  # 30 Esfand of a leap year


def test_a_weekly_indicator_counts_by_jalali_week(city, tmp_path):
    path = tmp_path / "weekly.yaml"
    path.write_text("id: 137.weekly\ntitle: هفتگی\nfamily: '137'\nsource: service_request\n"
                    "measure: {kind: count}\ndimensions: [week]\nsuppress: false\n", encoding="utf-8")
    defn = load_definition(path)
    refresh(city, [defn], as_of=AS_OF)
    got = {r["period"]: r["value"] for r in values(city, defn)}
    with city.connect() as conn:
        filed = [rec["filed_at"] for (rec,) in conn.execute(
            sa.select(store.source_rows.c.record).where(store.source_rows.c.entity_type == "service_request"))]
    assert got == dict(Counter(jalali_periods(dt.date.fromisoformat(f[:10]))[1] for f in filed))
    assert sum(got.values()) == len(filed) == 67  # follow-ups count here: this fact is every request
