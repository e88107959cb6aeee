"""The overview's figures, kept: the static report's `gather` takes seconds on a big store.

Pages get the last figures at once (the page says when they were taken); figures older than
`seconds` are refreshed in a background thread; a steward's action clears them, so its effect
shows on the next page (which then waits for fresh ones).
"""
import logging
import threading
import time
from typing import Any, Callable

log = logging.getLogger("munihub.workbench")


class KeptFigures:
    """`get()` the last figures (computing them if there are none), `clear()` after a change."""

    def __init__(self, compute: Callable[[], dict], seconds: float):
        self._compute, self._seconds = compute, seconds
        self._data: dict | None = None
        self._at, self._busy = 0.0, False
        self._lock = threading.Lock()

    def _refresh(self) -> dict:
        data = self._compute()
        with self._lock:
            self._data, self._at, self._busy = data, time.monotonic(), False
        return data

    def _background(self) -> None:
        try:
            self._refresh()
        except Exception:  # noqa: BLE001 - the next page computes them itself
            log.exception("refreshing the workbench figures failed")
            with self._lock:
                self._busy = False

    def get(self) -> dict[str, Any]:
        with self._lock:
            data, age = self._data, time.monotonic() - self._at
            if data is not None and age > self._seconds and not self._busy:
                self._busy = True
                threading.Thread(target=self._background, daemon=True).start()
        return data if data is not None else self._refresh()

    def clear(self) -> None:
        with self._lock:
            self._data = None
