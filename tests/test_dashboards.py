"""The managers' dashboards in the workbench: figures only, filters checked, CSV equal to the
store's figures, small counts shown as suppressed; and the SVG chart builder on its own.

A town written straight into a real store (SQLite; PostgreSQL for the pages once): 400
requests to the 137 hotline from 80 citizens with real-looking names and mobiles, follow-ups,
inter-agency requests, plan indicators, two person registries; resolved, indicators computed.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
import time

import pytest
import sqlalchemy as sa

from munihub import store
from munihub.config import REPO_ROOT, Settings
from munihub.indicators import load_all, refresh, values
from munihub.resolve.run import resolve_all
from munihub.workbench import charts
from tests.test_indicators import CATEGORIES, _row, city_rows, request

UTC = dt.timezone.utc
AS_OF = dt.datetime(2025, 2, 10, tzinfo=UTC)
SHIPPED = REPO_ROOT / "indicators"
PASSWORD = "a long passphrase 20"
FIRST = ["علی", "محمد", "فاطمه", "زهرا", "رضا", "مریم", "حسین", "سارا"]
LAST = ["رضایی", "محمدی", "احمدی", "کریمی", "حسینی", "موسوی", "جعفری", "کاظمی", "صادقی", "نوری"]
PERSONAL = ("national_id", "citizen_name", "first_name", "last_name", "mobile", "address", "tracking_code",
            "refers_to", "latitude", "longitude")


def name_of(c: int) -> tuple[str, str]:
    return FIRST[c % 8], LAST[c // 8 % 10]


def town_rows() -> list[dict]:
    """400 requests from 80 citizens over five Jalali months (Shahrivar to Bahman 1403), 40
    follow-ups, and the inter-agency, plan and registry rows of test_indicators' city."""
    start = dt.datetime(2024, 9, 1, 8, 0)
    rows = []
    for i in range(400):
        c = i % 80
        filed = start + dt.timedelta(hours=9 * i)
        closed = filed + dt.timedelta(days=i % 9 + 1) if i % 3 else None
        rec = request(i, c, CATEGORIES[i % 3], filed, closed)
        rec.update(citizen_name=" ".join(name_of(c)), mobile=f"0915{c:07d}", district=f"منطقه {c % 4 + 1}",
                   address=f"خیابان {LAST[c % 10]} پلاک {c + 100}")
        rows.append(_row("rc137.requests", f"T{i:04d}", "service_request", rec))
        if i % 10 == 0:  # a follow-up two days on, citing the request
            f = request(1000 + i, c, CATEGORIES[i % 3], filed + dt.timedelta(days=2), None,
                        refers_to=f"T{i:04d}", tracking=f"F{i:04d}")
            f.update(citizen_name=rec["citizen_name"], mobile=rec["mobile"], district=rec["district"])
            rows.append(_row("rc137.requests", f"F{i:04d}", "service_request", f))
    rows += [r for r in city_rows() if r["source"] in ("coordination.requests", "planning.indicators")]
    for c in range(40):  # the registry knows half the citizens; a staff system keeps 12 of them again
        first, last = name_of(c)
        rows.append(_row("registry.citizens", f"{c:010d}", "person",
                         {"national_id": f"{c:010d}", "first_name": first, "last_name": last,
                          "mobile": f"0915{c:07d}"}))
    for c in range(12):
        first, last = name_of(c)
        rows.append(_row("hr.staff", f"S{c}", "person", {"national_id": f"{c:010d}", "first_name": first,
                                                          "last_name": last}))
    return rows


def personal_values(engine) -> set[str]:
    """Every personal value the store holds (ids, names, mobiles, addresses, codes), long
    enough that finding it in a page means it is there."""
    found = set()
    with engine.connect() as conn:
        for (record,) in conn.execute(sa.select(store.source_rows.c.record)):
            for key in PERSONAL:
                if record.get(key) not in (None, "") and len(str(record[key])) >= 5:
                    found.add(str(record[key]))
    full_names = {" ".join(name_of(c)) for c in range(80)}
    return found | full_names


def build_town(url: str) -> sa.Engine:
    from munihub.workbench import add_user

    engine = store.open_store(url)
    with engine.begin() as conn:
        conn.execute(store.source_rows.insert(), town_rows())
    resolve_all(engine)
    refresh(engine, load_all(SHIPPED)[0], as_of=AS_OF)
    add_user(engine, "mina", PASSWORD, "manager", display_name="مینا (مدیر برنامه‌ریزی)", actor="test")
    add_user(engine, "sara", PASSWORD, "steward", display_name="سارا", actor="test")
    return engine


@pytest.fixture
def town(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = build_town(url)
    settings = Settings(home=tmp_path / "home", store_url=url, contracts_dir=REPO_ROOT / "contracts",
                        schemas_dir=REPO_ROOT / "schemas")
    yield settings, engine
    engine.dispose()
    store.forget_engines()


def client(settings, user: str):
    from fastapi.testclient import TestClient

    from munihub.workbench import create_app
    c = TestClient(create_app(settings, prefix=""), follow_redirects=False)
    pre = re.search(r'name="csrf" value="([^"]+)"', c.get("/signin").text).group(1)
    assert c.post("/signin", data={"csrf": pre, "username": user, "password": PASSWORD}).status_code == 303
    return c


def shipped(ident: str):
    return next(d for d in load_all(SHIPPED)[0] if d.id == ident)


def csv_rows(text: str) -> list[dict]:
    assert text.startswith("\ufeff")  # Excel reads Persian UTF-8 only after a byte-order mark
    return list(csv.DictReader(io.StringIO(text[1:])))


# ---------------------------------------------------------------- the pages

FAMILY_PAGES = ("/dashboards/137", "/dashboards/inter_agency", "/dashboards/plan", "/dashboards/systems")


def test_a_manager_sees_only_dashboards_and_no_personal_value(town):
    settings, engine = town
    c = client(settings, "mina")
    assert c.get("/").headers["location"] == "/dashboards"
    secrets = personal_values(engine)
    assert len(secrets) > 200  # ids, names, mobiles and addresses really are in the store
    seen = []
    for path in ("/dashboards", *FAMILY_PAGES, "/dashboards/137?district=منطقه 2&category=" + CATEGORIES[1],
                 "/dashboards/inter_agency?agency=MM-FIN"):
        r = c.get(path)
        assert r.status_code == 200, (path, r.text[-400:])
        seen.append(r.text)
        for href in re.findall(r'href="([^"]+\.csv[^"]*)"', r.text):  # every CSV the page offers
            got = c.get(href.replace("&amp;", "&"))
            assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
            seen.append(got.text)
    assert sum(".csv" in x for x in seen[:7]) and len(seen) > 25
    text = "\n".join(seen)
    leaked = sorted(s for s in secrets if s in text)
    assert leaked == [], f"personal values on a manager's page: {leaked[:5]}"
    # the header offers the dashboards only
    header = re.search(r'<header class="top">(.*?)</header>', seen[1], re.S).group(1)
    assert "/dashboards" in header and "/quarantine" not in header and "/entities" not in header


@pytest.mark.parametrize("path", ["/quarantine", "/quarantine/1", "/review", "/review/1", "/entities?q=1",
                                  "/entities/P-000000000001", "/sources/rc137.requests"])
def test_a_manager_is_refused_every_record_page_and_the_refusal_is_audited(town, path):
    settings, engine = town
    c = client(settings, "mina")
    r = c.get(path)
    assert r.status_code == 403 and "مدیر" in r.text
    with engine.connect() as conn:
        refused = conn.execute(sa.select(store.audit_log.c.target).where(
            store.audit_log.c.action == "workbench.refused", store.audit_log.c.actor == "mina")).scalars().all()
    assert path.split("?")[0] in refused


def test_a_steward_sees_the_dashboards_too(town):
    settings, _ = town
    c = client(settings, "sara")
    assert c.get("/dashboards/systems").status_code == 200
    assert "/quarantine" in c.get("/dashboards").text  # and keeps the record pages in the header


def test_each_family_page_has_a_chart_with_title_desc_and_a_table_per_indicator(town):
    settings, _ = town
    c = client(settings, "mina")
    defs = load_all(SHIPPED)[0]
    for family in ("137", "inter_agency", "plan", "systems"):
        page = c.get(f"/dashboards/{family}").text
        sections = re.findall(r'<section class="indicator" id="([^"]+)">(.*?)</section>', page, re.S)
        assert [s[0] for s in sections] == [d.id for d in defs if d.family == family]
        for ident, body in sections:
            assert "<svg" in body and "<title id=" in body and "<desc id=" in body, ident
            assert 'role="img"' in body and "<table>" in body, ident
            assert "http" not in re.sub(r'xmlns="http://www.w3.org/2000/svg"', "", body), ident


def test_persian_months_and_digits_and_right_to_left_time(town):
    settings, _ = town
    page = client(settings, "mina").get("/dashboards/137").text
    assert 'dir="rtl"' in page and "مهر ۱۴۰۳" in page and "بهمن ۱۴۰۳" in page
    svg = re.search(r'<section class="indicator" id="137.requests_by_category">.*?(<svg.*?</svg>)', page, re.S).group(1)
    labels = re.findall(r'<text x="([\d.]+)"[^>]*text-anchor="middle"[^>]*>([^<]+)</text>', svg)
    xs = {label: float(x) for x, label in labels}
    assert xs["شهریور ۱۴۰۳"] > xs["مهر ۱۴۰۳"] > xs["دی ۱۴۰۳"]  # earlier months to the right


def test_a_filter_is_applied_by_the_server_and_its_csv_equals_the_stores_figures(town):
    settings, engine = town
    c = client(settings, "mina")
    cat = CATEGORIES[2]
    r = c.get("/dashboards/137", params={"category": cat})
    assert r.status_code == 200 and f"پالایه: موضوع: {cat}" in r.text
    got = csv_rows(c.get("/dashboards/137/137.requests_by_category.csv", params={"category": cat}).text)
    want = [x for x in values(engine, shipped("137.requests_by_category")) if x["dims"]["category"] == cat]
    assert got and {x["category"] for x in got} == {cat}
    assert [(x["period"], x["value"], x["suppressed"]) for x in got] == \
        [(w["period"], "" if w["value"] is None else str(w["value"]), str(w["suppressed"])) for w in want]
    # an agency filter keeps the pairs with the agency on either side
    rows = csv_rows(c.get("/dashboards/inter_agency/inter_agency.requests.csv", params={"agency": "MM-WST"}).text)
    assert rows and all("MM-WST" in x["agency_pair"].split(" → ") for x in rows)
    everything = csv_rows(c.get("/dashboards/inter_agency/inter_agency.requests.csv").text)
    assert len(everything) > len(rows)
    # (read in SQL only for the cells naming the agency: the same rows as all of them filtered here)
    assert rows == [x for x in everything if "MM-WST" in x["agency_pair"].split(" → ")]


@pytest.mark.parametrize("query, says", [
    ({"district": "منطقه ۹۹"}, "در فهرست منطقه"),
    ({"category": "<script>x</script>"}, "در فهرست موضوع"),
    ({"agency": "NOPE"}, "در فهرست دستگاه"),
    ({"distrct": "منطقه 1"}, "پالایهٔ «distrct» شناخته نیست"),
])
def test_a_bad_filter_gets_a_clear_persian_message_not_a_500(town, query, says):
    settings, _ = town
    c = client(settings, "mina")
    for path in ("/dashboards/137", "/dashboards/137/137.requests.csv"):
        r = c.get(path, params=query)
        assert r.status_code == 400 and says in r.text and "<script>x" not in r.text


def test_an_unknown_dashboard_or_indicator_is_a_message(town):
    settings, _ = town
    c = client(settings, "mina")
    r = c.get("/dashboards/finance")
    assert r.status_code == 400 and "داشبوردی به نام «finance» نیست" in r.text
    r = c.get("/dashboards/137/systems.overlap.csv")
    assert r.status_code == 400 and "در این داشبورد نیست" in r.text


def test_suppressed_cells_show_as_suppressed_never_their_value(town):
    settings, engine = town
    c = client(settings, "mina")
    defn = shipped("137.requests")
    raw = values(engine, defn, suppress=False)
    hidden = [r for r in values(engine, defn) if r["suppressed"]]
    assert hidden and len(hidden) < len(raw)  # some cells of the town count fewer than 5 citizens
    page = c.get("/dashboards/137", params={"district": hidden[0]["dims"]["district"]}).text
    section = re.search(r'<section class="indicator" id="137.requests">(.*?)</section>', page, re.S).group(1)
    assert "پنهان" in section and 'class="suppressed"' in section
    got = csv_rows(c.get("/dashboards/137/137.requests.csv", params={"district": hidden[0]["dims"]["district"]}).text)
    for row in got:
        if row["suppressed"] == "True":
            assert row["value"] == row["citizens"] == row["rows"] == ""
    # the chart's data never carries a suppressed value
    district = hidden[0]["dims"]["district"]
    values_in_svg = [float(v) for v in re.findall(r'data-value="([^"]+)"', section)]
    shown = [r["value"] for r in values(engine, defn) if not r["suppressed"] and r["dims"]["district"] == district]
    assert values_in_svg and set(values_in_svg) <= set(shown)
    assert len(values_in_svg) + section.count('<circle class="suppressed"') <= len(got)


def record_run(engine) -> None:
    """A computation of the indicators recorded, as `indicators compute` or a refresh does."""
    with engine.begin() as conn:
        conn.execute(store.indicator_runs.insert().values(
            indicator_id="plan.targets", definition_hash="x", mode="incremental",
            computed_at=dt.datetime.now(UTC), periods=["1403-Q2"], seconds=0.1))


def until(check, seconds: float = 20.0):
    """Poll `check()` until it is truthy (then return it), failing after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not so after {seconds} s")


def test_a_kept_page_is_made_again_behind_when_the_indicators_are_computed_again(town, monkeypatch):
    from munihub.workbench import dashboards
    monkeypatch.setattr(dashboards, "WATCH_SECONDS", 0.1)
    settings, engine = town
    c = client(settings, "mina")
    pages = c.app.state.dashboard_pages
    t = store.indicator_values

    def plan_csv() -> dict:
        return {(r["indicator_dimension"], r["period"]): r["value"]
                for r in csv_rows(c.get("/dashboards/plan/plan.targets.csv").text)}
    assert plan_csv()[("IND-A", "1403-Q2")] == "55.0" and "۵۵" in c.get("/dashboards/plan").text
    key = ("page", "plan", ())
    made_from = until(lambda: pages.version(key))
    with engine.begin() as conn:  # a figure changes behind the app's back: the kept page stays
        conn.execute(t.update().where(t.c.indicator_id == "plan.targets", t.c.period == "1403-Q2",
                                      t.c.cell.like('%IND-A%')).values(value=77.0))
    assert plan_csv()[("IND-A", "1403-Q2")] == "55.0" and "۷۷" not in c.get("/dashboards/plan").text
    record_run(engine)
    # nobody asks: the workbench notices the computation and makes the page and the CSV again
    until(lambda: pages.version(key) != made_from
          and pages.version(("csv", "plan", "plan.targets", ())) == pages.version(key))
    page = c.get("/dashboards/plan").text
    assert "۷۷" in page and "در حال آماده شدن" not in page
    assert plan_csv()[("IND-A", "1403-Q2")] == "77.0"


def test_a_page_asked_while_it_is_made_again_is_the_same_filters_previous_one_saying_so(town, monkeypatch):
    from munihub.workbench import dashboards
    monkeypatch.setattr(dashboards, "WATCH_SECONDS", 3600)  # only the requests make pages here
    settings, engine = town
    c = client(settings, "mina")
    pages = c.app.state.dashboard_pages
    t = store.indicator_values
    one, two = {"district": "منطقه 1"}, {"district": "منطقه 2"}
    before = c.get("/dashboards/137", params=one).text
    assert "۹٬۸۷۶" not in before and "در حال آماده شدن" not in before
    with engine.begin() as conn:
        conn.execute(t.update().where(t.c.indicator_id == "137.requests").values(value=9876.0))
    record_run(engine)
    # another filter is never given this page, old or new: it is made for its own filter
    other = c.get("/dashboards/137", params=two).text
    assert "۹٬۸۷۶" in other and "در حال آماده شدن" not in other and "منطقه ۲" in other
    # the same filter: the previous computation's page at once, with when it was computed
    stale = c.get("/dashboards/137", params=one).text
    assert "در حال آماده شدن" in stale and "از محاسبهٔ" in stale and "۹٬۸۷۶" not in stale
    assert stale.split("</main>")[0][-5000:] == before.split("</main>")[0][-5000:]  # the very page made before
    # ... while the new one is made behind; then it is served, without the note
    key = ("page", "137", tuple(sorted(one.items())))
    until(lambda: pages.version(key) == pages.version(("page", "137", tuple(sorted(two.items())))))
    fresh = c.get("/dashboards/137", params=one).text
    assert "۹٬۸۷۶" in fresh and "در حال آماده شدن" not in fresh
    # a CSV is never the previous computation's: it waits for the current one
    got = csv_rows(c.get("/dashboards/137/137.requests.csv", params=one).text)
    assert got and {x["value"] for x in got} <= {"9876.0", ""}
    with engine.begin() as conn:
        conn.execute(t.update().where(t.c.indicator_id == "137.requests").values(value=5432.0))
    record_run(engine)
    got = csv_rows(c.get("/dashboards/137/137.requests.csv", params=one).text)
    assert got and {x["value"] for x in got} <= {"5432.0", ""}


def test_a_snapshot_page_reads_only_its_last_periods(town):
    _, engine = town
    plan = shipped("plan.targets")
    every, last = values(engine, plan), values(engine, plan, last=1)
    assert {r["period"] for r in every} == {"1403-Q1", "1403-Q2"}
    assert [(r["cell"], r["value"]) for r in last] == [(r["cell"], r["value"]) for r in every if r["period"] == "1403-Q2"]
    assert all(r["previous"] is None for r in last) and values(engine, plan, last=2) == every


def test_the_print_stylesheet_hides_navigation_filters_and_links(town):
    settings, _ = town
    page = client(settings, "mina").get("/dashboards/137").text
    rule = re.search(r"@media print\{(.*?)\}\}", page, re.S).group(1)
    hidden = re.search(r"([^{}]+)\{display:none!important\}", rule).group(1).split(",")
    assert {"header.top", ".no-print", "form"} <= {h.strip() for h in hidden}
    assert 'class="no-print csv"' in page and 'class="inline filters no-print"' in page


def test_pages_on_postgresql(tmp_path, pg_url):
    engine = build_town(pg_url)
    settings = Settings(home=tmp_path / "home", store_url=pg_url, contracts_dir=REPO_ROOT / "contracts",
                        schemas_dir=REPO_ROOT / "schemas")
    c = client(settings, "mina")
    for path in FAMILY_PAGES:
        assert c.get(path).status_code == 200
    got = csv_rows(c.get("/dashboards/systems/systems.duplicate_rate.csv").text)
    want = values(engine, shipped("systems.duplicate_rate"))
    assert [(x["source"], x["value"]) for x in got] == [(w["dims"]["source"], str(w["value"])) for w in want]
    assert c.get("/dashboards/137", params={"district": "x"}).status_code == 400
    # a filter narrowed in SQL (the cell's JSON) gives the same rows as the whole read filtered here
    got = csv_rows(c.get("/dashboards/137/137.requests.csv", params={"district": "منطقه 3"}).text)
    want = [r for r in values(engine, shipped("137.requests")) if r["dims"]["district"] == "منطقه 3"]
    assert got and [(x["period"], x["category"], x["value"]) for x in got] == \
        [(w["period"], w["dims"]["category"], "" if w["value"] is None else str(w["value"])) for w in want]
    engine.dispose()


def test_users_cli_adds_a_manager(town, monkeypatch, capsys):
    from munihub.cli.main import main
    from munihub.workbench import list_users

    settings, engine = town
    monkeypatch.setenv("MUNIHUB_STORE_URL", settings.store_url)
    monkeypatch.setenv("MUNIHUB_HOME", str(settings.home))
    monkeypatch.setenv("NEW_PW", PASSWORD)
    assert main(["users", "add", "omid", "--role", "manager", "--password-env", "NEW_PW", "--by", "test"]) == 0
    assert {u["username"]: u["role"] for u in list_users(engine)}["omid"] == "manager"


# ---------------------------------------------------------------- the chart builder

def test_bar_heights_are_proportional_to_the_values_on_a_nice_axis():
    assert charts.nice_top(87) == 100 and charts.nice_top(0.23) == 0.25 and charts.nice_top(1200) == 2000
    assert charts.nice_top(0) == 1.0 and charts.nice_top(5) == 5
    assert charts.heights([0, 25, 50, None, 100], 200) == [0, 50, 100, None, 200]
    assert charts.heights([3, 6], 100, top=12) == [25, 50]
    svg = charts.columns(["1403-07", "1403-08"], [{"label": "", "values": [20.0, 40.0]}], chart_id="t",
                         title="درخواست‌ها", width=400, height=200)
    bars = {float(v): float(h) for h, v in re.findall(r'class="bar"[^>]*height="([\d.]+)"[^>]*data-value="([^"]+)"', svg)}
    assert bars[40.0] == pytest.approx(2 * bars[20.0]) and bars[40.0] > 50
    xs = [float(x) for x in re.findall(r'class="bar" x="([\d.]+)"', svg)]
    assert xs[0] > xs[1]  # 1403-07 (first) on the right
    assert "<title id=\"t-t\">درخواست‌ها</title>" in svg and "<desc id=\"t-d\">از مهر ۱۴۰۳ تا آبان ۱۴۰۳" in svg


def test_an_empty_series_draws_a_message_not_an_axis():
    for svg in (charts.columns([], [], chart_id="e", title="x"),
                charts.columns(["1403-07"], [{"label": "", "values": [None]}], chart_id="e", title="x"),
                charts.lines([], [], chart_id="e", title="x"), charts.bars([], [], chart_id="e", title="x")):
        assert "برای این پالایه رقمی نیست" in svg and 'class="bar"' not in svg and "<title" in svg


def test_a_suppressed_cell_is_a_hatched_stub_without_its_value():
    series = [{"label": "منطقه ۱", "values": [12.0, None, 30.0], "suppressed": [False, True, False]}]
    svg = charts.columns(["1403-07", "1403-08", "1403-09"], series, chart_id="s", title="x")
    assert svg.count('class="suppressed"') == 1 and svg.count('class="bar"') == 2
    assert 'fill="url(#s-hatch)"' in svg and "پنهان" in svg
    assert "<title>منطقه ۱ · آبان ۱۴۰۳: پنهان" in svg and "None" not in svg
    line = charts.lines(["1403-07", "1403-08", "1403-09"], series, chart_id="l", title="x")
    assert line.count('class="suppressed"') == 1 and line.count('class="point"') == 2
    assert line.count("<polyline") == 0  # a suppressed month breaks the line: two single points
    bar = charts.bars(["الف", "ب"], [None, 7.0], [True, False], chart_id="b", title="x")
    assert bar.count('class="suppressed"') == 1 and 'data-value="7.0"' in bar and "الف: پنهان" in bar


def test_targets_and_off_track_are_drawn():
    series = [{"label": "IND-A", "values": [40.0, 55.0], "targets": [50.0, 50.0], "on_track": [False, True]}]
    svg = charts.columns(["1403-Q1", "1403-Q2"], series, chart_id="p", title="x")
    assert svg.count('class="target"') == 2 and svg.count('stroke="#c5221f"') == 1
    assert "فصل ۱ ۱۴۰۳" in svg


def test_figures_read_in_persian():
    assert charts.figure(1234) == "۱٬۲۳۴" and charts.figure(0.125, "سهم") == "۱۲٫۵٪"
    assert charts.figure(2.5) == "۲٫۵" and charts.figure(None) == "—"
    assert charts.figure(7, suppressed=True) == "پنهان"
    assert charts.figure(-4) == "\u2066−۴\u2069"
    assert charts.period_fa("1403-12") == "اسفند ۱۴۰۳" and charts.period_fa("1403-W05") == "هفتهٔ ۵ ۱۴۰۳"


# ---------------------------------------------------------------- pages kept between views

def test_a_page_asked_while_it_is_being_made_is_made_once():
    import threading

    from munihub.workbench.figures import KeptPages
    pages, calls, started, go = KeptPages(), [], threading.Event(), threading.Event()

    def slow() -> str:
        calls.append(1)
        started.set()
        go.wait(5)
        return "page"
    maker = threading.Thread(target=pages.refresh, args=("k", 1, slow))
    maker.start()
    started.wait(5)
    got = []
    asker = threading.Thread(target=lambda: got.append(pages.get("k", 1, slow)))
    asker.start()
    time.sleep(0.1)
    assert not got  # waiting for the page being made, not making a second one
    go.set()
    maker.join(5), asker.join(5)
    assert got == [("page", True)] and len(calls) == 1
    assert pages.get("k", 1, slow) == ("page", True) and len(calls) == 1
    assert pages.get("k", 2, lambda: "new", stale=True) == ("page", False)  # the old one, new made behind
    until(lambda: pages.version("k") == 2)
    assert pages.get("k", 2, slow) == ("new", True)


def test_the_watch_calls_on_each_new_version_and_stops_with_its_owner():
    import gc

    from munihub.workbench.figures import watch

    class Owner:
        pass
    owner, seen, version = Owner(), [], [1]
    thread = watch(owner, lambda: version[0], lambda _owner, v: seen.append(v), 0.02)
    until(lambda: seen == [1])
    version[0] = 2
    until(lambda: seen == [1, 2])
    time.sleep(0.1)
    assert seen == [1, 2]  # once per version, not once per look
    del owner
    gc.collect()
    thread.join(2)
    assert not thread.is_alive()
