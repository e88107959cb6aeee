"""A manager's dashboards in a real headless Chromium (Playwright, the machine's chromium).

`munihub serve`'s app runs in uvicorn on a free port over the town of test_dashboards (a real
SQLite store, indicators computed); the manager signs in, opens each family page, filters,
downloads a CSV and compares it with `munihub indicators show --json`, is refused a steward's
page, and prints a page to PDF with the print stylesheet applied.  Nothing is fetched from
anywhere but the served app.
"""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from munihub import store
from tests.browsing import need_chromium, served_in_chromium
from tests.test_dashboards import CATEGORIES, PASSWORD, build_town, personal_values

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture
def served(tmp_path, monkeypatch):
    need_chromium()
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = build_town(url)
    monkeypatch.setenv("MUNIHUB_STORE_URL", url)
    monkeypatch.setenv("MUNIHUB_HOME", str(tmp_path / "home"))
    store.forget_engines()
    try:
        with served_in_chromium() as (base, browser):
            yield engine, base, browser, tmp_path
    finally:
        engine.dispose()
        store.forget_engines()


def shown(capsys, *argv: str) -> list[dict]:
    """`munihub indicators show … --json`, as a manager's figures (suppressed)."""
    from munihub.cli.main import main
    capsys.readouterr()
    assert main(["indicators", "show", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_manager_opens_every_dashboard_filters_downloads_and_prints(served, capsys):
    engine, base, browser, tmp = served
    context = browser.new_context(viewport={"width": 1366, "height": 900}, accept_downloads=True)
    page = context.new_page()
    errors, outside = [], []
    page.on("console", lambda m: errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(base) and
            not r.url.startswith("data:") else None)
    shots = tmp / "shots"
    shots.mkdir()

    def shot(name: str) -> None:
        path = shots / f"dashboards-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(path, ARTIFACTS / path.name)

    secrets = personal_values(engine)
    page.goto(base + "/workbench/")
    page.fill("input[name=username]", "mina")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/workbench/dashboards")
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.locator("header.top a").all_inner_texts() == ["داشبوردها"]  # nothing else is offered
    shot("01-index")

    for family, name in (("137", "سامانهٔ ۱۳۷"), ("inter_agency", "کار بین‌دستگاهی"), ("plan", "برنامهٔ عملیاتی"),
                         ("systems", "خود سامانه‌ها")):
        page.goto(base + "/workbench/dashboards")
        page.click(f"a[href='/workbench/dashboards/{family}']")
        page.wait_for_url(f"{base}/workbench/dashboards/{family}")
        page.evaluate("document.fonts.ready")
        assert name in page.locator("h1").inner_text()
        charts = page.locator("svg.chart[role=img]")
        assert charts.count() >= 1 and charts.first.is_visible()
        assert page.evaluate("getComputedStyle(document.querySelector('main')).direction") == "rtl"
        html = page.content()
        assert not [s for s in secrets if s in html], f"personal value on {family}"
        shot(f"02-{family}")

    # filter the 137 page by a category, through the form, on the server
    page.goto(base + "/workbench/dashboards/137")
    page.select_option("form.filters select[name=category]", CATEGORIES[1])
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state()
    assert "category=" in page.url and f"پالایه: موضوع: {CATEGORIES[1]}" in page.locator("p.applied").inner_text()
    shot("03-137-filtered")
    link = page.locator("section[id='137.requests_by_category'] a:text('دریافت CSV رقم‌ها')")
    with page.expect_download() as wait:
        link.click()
    path = Path(wait.value.path())
    got = list(csv.DictReader(path.open(encoding="utf-8-sig")))
    want = shown(capsys, "137.requests_by_category", "--where", f"category={CATEGORIES[1]}")
    assert got and len(got) == len(want)
    for g, w in zip(got, want):
        assert (g["period"], g["category"], g["suppressed"]) == (w["period"], w["dims"]["category"], str(w["suppressed"]))
        assert (float(g["value"]) if g["value"] else None) == w["value"]
    assert not [s for s in secrets if s in path.read_text(encoding="utf-8")]

    # a steward's page is refused, with the reason
    response = page.goto(base + "/workbench/quarantine")
    assert response.status == 403 and "مدیر" in page.locator(".msg.bad").inner_text()

    # the printable view: no navigation, no filters, no download links; the charts stay
    page.goto(base + f"/workbench/dashboards/137?category={CATEGORIES[1]}")
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible() and not page.locator("form.filters").is_visible()
    assert not page.locator("p.csv").first.is_visible() and page.locator("svg.chart").first.is_visible()
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and len(pdf) > 20_000
    (shots / "dashboards-137.pdf").write_bytes(pdf)
    page.emulate_media(media="screen")
    assert page.locator("header.top").is_visible()

    assert errors == [] and outside == []
    context.close()
