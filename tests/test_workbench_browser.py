"""The workbench in a real headless Chromium (Playwright, the machine's chromium), as a steward would.

`munihub serve`'s app (gateway at /, workbench at /workbench) runs in uvicorn on a free port;
screenshots are kept under the test's tmp dir and under test-artifacts/.  CI installs Chromium
with `apt-get install -y chromium` and Playwright from PyPI (no `playwright install`).
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from munihub import store
from browsing import need_chromium, served_in_chromium
from test_workbench import MARYAM, PASSWORD, SECRETS, fix_contract, make_hub

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
FA = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


@pytest.fixture
def served(tmp_path, monkeypatch):
    need_chromium()
    settings = make_hub(tmp_path, monkeypatch)
    try:
        with served_in_chromium() as (base, browser):
            yield settings, base, browser, tmp_path
    finally:
        store.forget_engines()


class Visit:
    """A browser context with console errors collected and screenshots named in order."""

    def __init__(self, browser, base: str, shots: Path, **context):
        self.context = browser.new_context(**context)
        self.page = self.context.new_page()
        self.base, self.shots, self.errors = base, shots, []
        # error pages (400, 404) are wanted below; a failing font, style or script is not
        self.page.on("console", lambda m: self.errors.append(m.text)
                     if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("response", lambda r: self.errors.append(f"{r.status} {r.url}")
                     if r.status >= 400 and r.request.resource_type != "document" else None)

    def go(self, path: str):
        return self.page.goto(self.base + path)

    def sign_in(self, user: str) -> None:
        self.go("/workbench/")
        self.page.fill("input[name=username]", user)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(self.base + "/workbench/")

    def shot(self, name: str) -> Path:
        self.shots.mkdir(parents=True, exist_ok=True)
        path = self.shots / f"workbench-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(path, ARTIFACTS / path.name)
        return path

    def text(self) -> str:
        return self.page.content()

    def check_page(self) -> None:
        html = self.page.locator("html")
        assert html.get_attribute("dir") == "rtl" and html.get_attribute("lang") == "fa"
        assert "Traceback" not in self.text()
        for secret in SECRETS:
            assert secret not in self.text(), f"{secret} in clear on {self.page.url}"


def test_a_steward_fixes_replays_decides_and_searches(served):
    settings, base, browser, tmp = served
    v = Visit(browser, base, tmp / "shots", viewport={"width": 1366, "height": 900})

    # signed out: every page leads to the sign-in form, nothing else is shown
    for path in ("/workbench/", "/workbench/quarantine", "/workbench/entities?q=1", "/workbench/review/1"):
        v.go(path)
        assert v.page.url == base + "/workbench/signin" and "میزکار" not in v.page.locator("header").all_inner_texts()
    v.check_page()
    assert v.page.evaluate("document.fonts.check('16px Vazirmatn', 'سلام')")
    v.shot("01-signin")
    v.sign_in("sara")
    v.page.evaluate("document.fonts.ready")
    v.check_page()
    assert v.page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    v.shot("02-overview")
    v.page.click("header a[href='/workbench/values']")  # values set aside: counted, listed, masked
    v.check_page()
    assert "مقدارهای کنار گذاشته" in v.page.locator("h1").inner_text()
    v.go("/workbench/")

    # the source with problems comes first; open its quarantine, then Maryam's record
    first = v.page.locator("table tr").nth(1)
    assert "testreg.citizens" in first.inner_text()
    first.locator("a[href*='/quarantine?source=']").click()
    assert "قرنطینه" in v.page.locator("h1").inner_text()
    with store.engine_for(settings).connect() as conn:
        qid = conn.execute(sa.select(store.quarantine.c.id).where(store.quarantine.c.position.like("%"))
                           .order_by(store.quarantine.c.id.desc())).scalars().all()
        maryam = next(i for i in qid if conn.execute(sa.select(store.quarantine.c.raw).where(
            store.quarantine.c.id == i)).scalar()["id"] == MARYAM[0])
    v.page.click(f"a[href='/workbench/quarantine/{maryam}']")
    assert "«mobile»" in v.text() and "مقدار لازم خالی است" in v.text()
    v.check_page()
    v.shot("03-quarantined-record")

    # the steward fixes the contract, then replays the record from the page
    fix_contract(settings)
    form = v.page.locator("form:has(button:text('بازپخش این رکورد'))")
    form.locator("input[name=why]").fill("موبایل برای شهروند اختیاری است")
    form.locator("button").click()
    v.page.wait_for_load_state()
    assert "۱ رکورد بازپخش شد: ۱ منتشر شد" in v.page.locator(".msg").inner_text()
    v.shot("04-replayed")
    v.go("/workbench/sources/testreg.citizens")
    assert "منتشر شد" in v.page.locator("main > p").nth(1).inner_text()  # the replay load is published
    assert "قول پیمان" in v.text()
    v.shot("05-source-checks")

    # a review pair: side by side, differences highlighted, weights; decide, consolidate
    v.go("/workbench/review")
    v.page.locator("table a[href^='/workbench/review/']").first.click()
    assert v.page.locator("tr.diff").count() >= 3
    assert v.page.evaluate("getComputedStyle(document.querySelector('tr.diff')).backgroundColor") != "rgba(0, 0, 0, 0)"
    v.check_page()
    v.shot("06-review-pair")
    form = v.page.locator("form:has(button:text-is('یکی است'))")
    form.locator("input[name=why]").fill("همان شخص؛ نام پدر اشتباه تایپی است")
    form.locator("button").click()
    assert "تصمیم ثبت شد" in v.page.locator(".msg").inner_text()
    form = v.page.locator("form:has(button:text('اجرای یکپارچه‌سازی'))")
    form.locator("input[name=why]").fill("اعمال تصمیم")
    form.locator("button").click()
    assert "یکپارچه‌سازی اجرا شد" in v.page.locator(".msg").inner_text()
    with store.engine_for(settings).connect() as conn:
        ents = set(conn.execute(sa.select(store.entity_members.c.entity_id).where(
            store.entity_members.c.source.in_(["clinic.patients", "library.members"]))).scalars())
    assert len(ents) == 1  # the two records are one entity now
    v.go(f"/workbench/entities/{ents.pop()}")
    assert "clinic.patients" in v.text() and "library.members" in v.text() and "همان شخص" in v.text()
    v.shot("07-merged-entity")

    # a citizen by a national id typed in Persian digits (Maryam: published by the replay)
    v.go("/workbench/entities")
    v.page.fill("input[name=q]", MARYAM[1].translate(FA))
    v.page.click("form.inline button")
    assert "بر پایهٔ کد ملی: ۱ موجودیت" in v.page.locator("main").inner_text()
    v.check_page()
    v.shot("08-search-persian-digits")

    # wrong input: a Persian message, never a traceback
    v.go("/workbench/quarantine/abc")
    assert "شمارهٔ رکورد قرنطینه نیست" in v.page.locator(".msg").inner_text()
    v.go("/workbench/quarantine?since=1403/13/40")
    assert "تاریخ نیست" in v.page.locator(".msg").inner_text()
    v.check_page()
    v.shot("09-bad-input")

    # a forged post without the CSRF token, with the steward's own cookie, is refused
    with store.engine_for(settings).connect() as conn:
        open_id = conn.execute(sa.select(store.quarantine.c.id).where(store.quarantine.c.status == "open")).scalar()
    forged = v.context.request.post(f"{base}/workbench/quarantine/dismiss", form={"ids": str(open_id), "why": "x"})
    assert forged.status == 403 and "CSRF" in forged.text()
    with store.engine_for(settings).connect() as conn:
        assert conn.execute(sa.select(store.quarantine.c.status).where(store.quarantine.c.id == open_id)).scalar() == "open"

    # on a tablet, portrait
    t = Visit(browser, base, tmp / "shots", viewport={"width": 820, "height": 1180}, has_touch=True)
    t.sign_in("sara")
    t.page.evaluate("document.fonts.ready")
    assert t.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    t.shot("10-tablet-overview")
    assert v.errors == [] and t.errors == []


def test_a_viewer_cannot_decide_or_replay_and_the_signed_out_see_nothing(served):
    settings, base, browser, tmp = served
    v = Visit(browser, base, tmp / "shots-viewer", viewport={"width": 1280, "height": 900})
    v.sign_in("vida")
    v.go("/workbench/review")
    v.page.locator("table a[href^='/workbench/review/']").first.click()
    assert v.page.locator("button:text-is('یکی است')").count() == 0
    assert "ر***" in v.text() and "رضایی" not in v.text()  # names masked for a viewer
    v.check_page()
    v.shot("11-viewer-pair")
    pair = re.search(r"/review/(\d+)", v.page.url).group(1)
    token = v.page.locator("input[name=csrf]").first.get_attribute("value")
    refused = v.context.request.post(f"{base}/workbench/review/{pair}/decide",
                                     form={"verdict": "match", "why": "x", "csrf": token})
    assert refused.status == 403 and "بیننده" in refused.text()
    refused = v.context.request.post(f"{base}/workbench/quarantine/replay",
                                     form={"source": "testreg.citizens", "why": "x", "csrf": token})
    assert refused.status == 403
    with store.engine_for(settings).connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(store.match_decisions)).scalar() == 0

    anon = browser.new_context()
    anon_page = anon.new_page()
    response = anon_page.goto(f"{base}/workbench/entities?q={MARYAM[1]}")
    assert anon_page.url == f"{base}/workbench/signin" and "کد ملی" not in anon_page.content()
    assert response.status == 200 and anon_page.locator("input[name=password]").count() == 1
    posted = anon.request.post(f"{base}/workbench/consolidate", form={"why": "x"})
    assert posted.status == 401
    assert v.errors == []
