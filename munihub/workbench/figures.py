"""Figures kept between pages: the overview's (the static report's `gather` takes seconds on a big
store) and the managers' dashboard pages (`KeptPages`, kept until the indicators are computed again).

Both follow one rule: a page gets the last figures at once (the page says when they were taken)
while fresher ones are made in a background thread (`behind`), one at a time per thing kept.
The overview's figures are refreshed once older than `seconds`; a dashboard page once the
indicators were computed again (`watch` notices a computation without waiting for a request).
A steward's action clears the overview's figures, so its effect shows on the next page (which
then waits for fresh ones).
"""
import logging
import threading
import time
import weakref
from typing import Any, Callable

log = logging.getLogger("munihub.workbench")


def behind(what: str, work: Callable[[], Any], done: Callable[[], None] = lambda: None) -> None:
    """Run `work` in a daemon thread; a failure is logged (the next page makes it itself), and
    `done` runs either way (it clears the "being made" mark)."""
    def run() -> None:
        try:
            work()
        except Exception:  # noqa: BLE001 - logged; a page asks again and makes it itself
            log.exception("refreshing %s in the background failed", what)
        finally:
            done()
    threading.Thread(target=run, name=f"munihub-refresh {what}", daemon=True).start()


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
            self._data, self._at = data, time.monotonic()
        return data

    def _idle(self) -> None:
        with self._lock:
            self._busy = False

    def get(self) -> dict[str, Any]:
        with self._lock:
            data, age = self._data, time.monotonic() - self._at
            if data is not None and age > self._seconds and not self._busy:
                self._busy = True
                behind("the workbench figures", self._refresh, self._idle)
        return data if data is not None else self._refresh()

    def clear(self) -> None:
        with self._lock:
            self._data = None


class KeptPages:
    """The last `size` dashboard pages (or CSVs), each kept until the figures change.

    `get(key, version, compute)` returns the page kept for `key` if it was made from the same
    `version` of the figures (the last indicator run), and otherwise makes it, once: a request
    for a page being made (by another request or by `refresh`) waits for it rather than making
    it again.  With `stale=True` a page kept from an older version is returned at once while the
    new one is made behind (`get` then says the page is not current).  A big city's unfiltered
    page reads tens of thousands of figures, so each is made once per computation rather than
    once per view, and `refresh` makes it before anybody asks."""

    def __init__(self, size: int = 64):
        self._size, self._kept = size, {}
        self._making: dict = {}  # key -> (version, threading.Event set when made)
        self._lock = threading.Lock()

    def _make(self, key, version, compute: Callable[[], Any], made: threading.Event) -> Any:
        try:
            value = compute()
            with self._lock:
                self._kept.pop(key, None)
                self._kept[key] = (version, value)  # most recently used last
                while len(self._kept) > self._size:
                    self._kept.pop(next(iter(self._kept)))
            return value
        finally:
            with self._lock:
                if self._making.get(key, (None, None))[1] is made:
                    del self._making[key]
            made.set()

    def _claim(self, key, version) -> tuple[threading.Event | None, threading.Event | None]:
        """(an event to wait on if `version` of `key` is being made, else a new event this caller
        must set by making it); called under the lock."""
        making = self._making.get(key)
        if making is not None and making[0] == version:
            return making[1], None
        made = threading.Event()
        self._making[key] = (version, made)
        return None, made

    def get(self, key, version, compute: Callable[[], Any], *, stale: bool = False) -> tuple[Any, bool]:
        """(the page, whether it was made from `version`)."""
        for _ in range(3):  # a maker that failed leaves nothing kept: then make it here
            with self._lock:
                found = self._kept.get(key)
                if found is not None and found[0] == version:
                    self._kept[key] = self._kept.pop(key)  # most recently used last
                    return found[1], True
                wait, made = self._claim(key, version)
                if stale and found is not None:
                    if made is not None:
                        behind(f"dashboard page {key!r}", lambda: self._make(key, version, compute, made))
                    return found[1], False
            if made is not None:
                return self._make(key, version, compute, made), True
            wait.wait()
        return compute(), True

    def version(self, key) -> Any:
        """The version of the figures the page kept for `key` was made from (None if none is kept)."""
        with self._lock:
            found = self._kept.get(key)
        return None if found is None else found[0]

    def refresh(self, key, version, compute: Callable[[], Any]) -> None:
        """Make the page of `version` for `key` behind, unless it is kept or being made already."""
        with self._lock:
            found = self._kept.get(key)
            if found is not None and found[0] == version:
                return
            wait, made = self._claim(key, version)
        if made is not None:
            self._make(key, version, compute, made)


def watch(owner: object, version: Callable[[], Any], changed: Callable[[object, Any], None],
          seconds: float) -> threading.Thread:
    """Every `seconds`, ask `version()` (one small query) and call `changed(owner, version)` in
    this background thread when it differs from the last seen (and once at the start), until
    `owner` is gone (only a weak reference is kept, so an app that is dropped stops its watch)."""
    ref = weakref.ref(owner)
    del owner

    def run() -> None:
        seen, failing = object(), False
        while True:
            target = ref()
            if target is None:
                return
            try:
                now = version()
                if now != seen:
                    changed(target, now)
                    seen = now
                failing = False
            except Exception:  # noqa: BLE001 - the store may be down a while; pages then make their own
                if not failing:
                    log.exception("watching the indicator computations failed (will try again)")
                failing = True
            del target
            time.sleep(seconds)
    thread = threading.Thread(target=run, name="munihub-watch indicators", daemon=True)
    thread.start()
    return thread
