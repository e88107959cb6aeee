"""The served app in a real headless Chromium, shared by the browser tests.

`munihub serve`'s app (gateway at /, workbench at /workbench) runs in uvicorn on a free
127.0.0.1 port, and Playwright drives the machine's Debian Chromium (CI installs it with
`apt-get install -y chromium`; Playwright comes from PyPI, no `playwright install`).
"""
from __future__ import annotations

import contextlib
import shutil
import socket
import threading
import time
from collections.abc import Iterator

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def need_chromium():
    """Playwright's sync API, or skip the test naming what to install."""
    if not CHROMIUM:
        pytest.skip("chromium is not on PATH (install it with `apt-get install -y chromium`)")
    return pytest.importorskip("playwright.sync_api", reason="pip install playwright (no browser download)")


@contextlib.contextmanager
def served_in_chromium() -> Iterator[tuple[str, object]]:
    """(base URL of the served app, a launched Chromium), both stopped on the way out; the app
    reads its settings from the environment, as `munihub serve` does."""
    sync_api = need_chromium()
    import uvicorn

    from munihub.cli.gateway import served_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(served_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            try:
                yield f"http://127.0.0.1:{port}", browser
            finally:
                browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
