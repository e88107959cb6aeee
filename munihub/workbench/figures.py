"""Figures kept between pages: the overview's (the static report's `gather` takes seconds on a big
store) and the managers' dashboard pages (`KeptPages`, kept until the indicators are computed again).

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


class KeptPages:
    """The last `size` dashboard pages (or CSVs), each kept until the figures change.

    `get(key, version, compute)` returns the page kept for `key` if it was made from the same
    `version` of the figures (the last indicator run), and otherwise makes it; a big city's
    unfiltered page reads tens of thousands of figures, so each is made once per computation
    rather than once per view."""

    def __init__(self, size: int = 32):
        self._size, self._kept = size, {}
        self._lock = threading.Lock()

    def get(self, key, version, compute: Callable[[], Any]) -> Any:
        with self._lock:
            found = self._kept.pop(key, None)
            if found is not None and found[0] == version:
                self._kept[key] = found  # most recently used last
                return found[1]
        value = compute()
        with self._lock:
            self._kept[key] = (version, value)
            while len(self._kept) > self._size:
                self._kept.pop(next(iter(self._kept)))
        return value
