"""The report pages in a real headless Chromium: no console errors, right-to-left, screenshots.

CI installs Chromium with `apt-get install -y chromium`; screenshots go to test-artifacts/.
"""
from __future__ import annotations

import html.parser
import shutil
import subprocess
from pathlib import Path

import pytest

from munihub import store
from munihub.report.build import write_report
from test_report import CONTRACTS, NOW, fill

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class _RootAttrs(html.parser.HTMLParser):
    """The attributes of the first element (documentElement) of a serialized DOM."""

    def __init__(self):
        super().__init__()
        self.root: dict | None = None

    def handle_starttag(self, tag, attrs):
        if self.root is None and tag == "html":
            self.root = dict(attrs)


def _chromium(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
           "--enable-logging=stderr", "--v=0", *extra, page.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90)


def _console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if not CHROMIUM:
        pytest.skip("chromium is not on PATH (install it with `apt-get install -y chromium`)")
    root = tmp_path_factory.mktemp("browser")
    engine = store.open_store(f"sqlite:///{root / 'store.db'}")
    fill(engine)
    index = write_report(engine, root / "report", contracts=CONTRACTS, run_id="browser", now=NOW)
    engine.dispose()
    return index.parent


def test_console_catches_errors(site, tmp_path):
    """The console check itself works: a page with a broken script is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><script>undefinedFn()</script></body></html>", encoding="utf-8")
    result = _chromium(bad, tmp_path / "profile", "--dump-dom")
    assert any("Uncaught" in line for line in _console_lines(result.stderr))


@pytest.mark.parametrize("name", ["index.html", "run-browser.html", "review.html"])
def test_page_renders_rtl_without_console_errors(site, tmp_path, name):
    page = site / name
    dom = _chromium(page, tmp_path / "profile-dom", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    parser = _RootAttrs()
    parser.feed(dom.stdout)
    assert parser.root is not None, "no <html> element in the rendered DOM"
    assert parser.root.get("dir") == "rtl" and parser.root.get("lang") == "fa"
    assert _console_lines(dom.stderr) == []

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"report-{name.removesuffix('.html')}.png"
    shot.unlink(missing_ok=True)
    result = _chromium(page, tmp_path / "profile-shot", f"--screenshot={shot}", "--window-size=1280,2000")
    assert result.returncode == 0, result.stderr[-2000:]
    assert _console_lines(result.stderr) == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
