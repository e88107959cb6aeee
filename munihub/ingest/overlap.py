"""Overlap a sync's waits with its work: the next batch read, the last one written, while this
one is mapped.

Staging one batch is three steps, each waiting on another process: the source database
sends the rows, the hub maps and validates them, the store takes them by COPY and commits.
Run one after another the hub waited for both databases at every batch (a 200k-row sync:
about 9 s of its 17 s in COPY and commit, 1.4 s reading pages).  `prefetch` reads one batch
ahead in a thread and `WriteBehind` writes in another, in order, one batch at a time, so
memory stays what three batches take (four with `mapped`'s helper), whatever the load.
Both threads mostly wait on sockets, where the drivers release the GIL.

Errors keep their order: a failed read is raised where the batch would have been taken, a
failed write at the next `submit` or when the block ends, so no batch is staged after one
that failed.  Leaving a block by an error lets the write under way finish (the load fails
and its staging is discarded anyway).
"""
from __future__ import annotations

import contextlib
import functools
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

_DONE = object()


@functools.cache
def one_arena() -> None:
    """Keep the threads below in glibc's one main malloc arena.  Each thread that allocates
    otherwise gets an arena of its own, reserving 64 MB of address space apiece: the two
    threads lifted a 200k-row sync's address space from ~175 to ~310 MB while its resident
    memory stayed ~165 MB, and under `ulimit -v 300000` (a cap on address space, the way
    issue 18 tries flat memory) the sync died of MemoryError.  The threads mostly wait on
    sockets, their work serialised by the GIL anyway, so sharing the arena costs nothing
    that shows.  Not glibc (musl, macOS): nothing to do."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None).mallopt(ctypes.c_int(-8), ctypes.c_int(1))  # M_ARENA_MAX = 1
    except (AttributeError, OSError):
        pass


GC_YOUNG = 50_000  # allocations (net) between the young generation's collections while staging
_gc_lock = threading.Lock()
_gc_saved: list = []  # [thresholds before the outermost block, blocks open, whether it froze]


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the block with the cyclic garbage collector seldom woken.  Staging keeps three
    batches of records alive (dicts, tuples, lists) and makes and drops a million more, none of
    them in a cycle (reference counting frees them): at the default threshold of 700 the
    collector ran ~2,000 times in a 200k-row load, moving each live batch through the
    generations and walking every object the imports made, 0.45 of 3.3 s of the hub's CPU;
    with 50,000 it runs a few times (0.08 s).  What exists before the block is frozen out of
    the collections (`gc.freeze`), unless something froze objects before (a server that froze its
    start-up heap): `gc.unfreeze` would thaw those too.  Blocks in several threads share the
    setting: the first to enter sets it, the last to leave restores it."""
    import gc

    with _gc_lock:
        if not _gc_saved:
            _gc_saved[:] = [gc.get_threshold(), 0, gc.get_freeze_count() == 0]
            threshold = _gc_saved[0]
            if _gc_saved[2]:
                gc.freeze()
            gc.set_threshold(max(GC_YOUNG, threshold[0]), *threshold[1:])
        _gc_saved[1] += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_saved[1] -= 1
            if not _gc_saved[1]:
                gc.set_threshold(*_gc_saved[0])
                if _gc_saved[2]:
                    gc.unfreeze()
                _gc_saved.clear()


def prefetch(items: Iterable, depth: int = 1, name: str = "munihub-prefetch",
             join_timeout: float | None = None) -> Iterator:
    """`items` read in a thread, at most `depth` ahead of the consumer (the one being read
    counts).  Closing the returned generator (a `for` left by an exception) stops the reader
    and closes `items`, waiting for the item being read (at most `join_timeout` seconds)."""
    box: queue.Queue = queue.Queue()
    room = threading.Semaphore(depth)
    stop = threading.Event()

    def read() -> None:
        it = iter(items)
        try:
            while True:
                while not room.acquire(timeout=0.1):
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                item = next(it, _DONE)
                box.put((item, None))
                if item is _DONE:
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            box.put((_DONE, exc))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()  # the connector's generator ends (its cursor closed) in its own thread

    one_arena()
    reader = threading.Thread(target=read, name=name, daemon=True)
    reader.start()
    try:
        while True:
            item, exc = box.get()
            if exc is not None:
                raise exc
            if item is _DONE:
                return
            room.release()
            yield item
    finally:
        stop.set()
        reader.join(join_timeout)


class WriteBehind:
    """Run submitted calls in one thread, in order, one at a time: `submit` waits while the
    last call is still running (one batch being written, one being mapped); `with` waits
    for the last.  A failed call is raised by the next `submit` or on leaving the block, and
    no call runs after it."""

    def __init__(self) -> None:
        self._box: queue.Queue = queue.Queue()
        self._idle = threading.Semaphore(1)
        self._error: BaseException | None = None
        one_arena()
        self._thread = threading.Thread(target=self._run, name="munihub-write-behind", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            call = self._box.get()
            if call is _DONE:
                return
            try:
                if self._error is None:
                    call()
            except BaseException as exc:  # noqa: BLE001 - raised in the submitting thread
                self._error = exc
            finally:
                self._idle.release()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        self._idle.acquire()
        if self._error is not None:
            self._idle.release()
            raise self._error
        self._box.put(lambda: fn(*args))

    def __enter__(self) -> WriteBehind:
        return self

    def __exit__(self, kind, exc, tb) -> None:
        self._box.put(_DONE)
        self._thread.join()
        if kind is None and self._error is not None:
            raise self._error


# The column plan a forked helper maps with: set just before the fork, inherited by the child
# (a plan holds compiled checks and closures that do not pickle).
_PLAN: Any = None


def _map_in_helper(records: list, keep_order: bool) -> list:
    return _PLAN.stage_batch(records, keep_order=keep_order)


def _exit_with(parent: int) -> None:
    """In the helper: leave when the sync that forked it is gone (killed outright, it never
    says so; the helper would wait for work forever)."""
    import os

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="munihub-helper-watch", daemon=True).start()


def _helper_allowed() -> bool:
    import multiprocessing
    import os

    # Asked for only: on a machine whose second core is busy the helper cost 1.2 s more CPU
    # per 200k rows and saved no time, and it is a second process of ~100 MB (see mapped).
    return (os.environ.get("MUNIHUB_MAP_HELPER", "0") in {"1", "true", "yes"} and (os.cpu_count() or 1) > 1
            and "fork" in multiprocessing.get_all_start_methods()
            and not multiprocessing.current_process().daemon)  # a daemon (a Celery or Airflow worker) may not fork


def mapped(plan: Any, batches: Iterable, keep_order: bool) -> Iterator[tuple[Any, list | None]]:
    """(batch, `plan.stage_batch` of its records) in order.  With `MUNIHUB_MAP_HELPER=1`
    every other batch is mapped by a forked helper process on the machine's other core
    while this one maps the next (the mapping is pure CPU, which no thread of one
    interpreter can share).  The helper starts only with a load's second batch (a small
    source never forks); results are the same, as both hold the same plan and each value's
    reading depends on it alone.  Measured at 200k rows on a machine loaded by other jobs:
    the sync's own process 6.6 → 5.5 s CPU, the helper 2.2 s, staging no faster; it pays
    where a second core is idle.  Without a plan (`plan` None) every record goes through
    `stage.check_record`: (batch, None)."""
    global _PLAN
    if plan is None:
        for batch in batches:
            yield batch, None
        return
    helper, waiting, allowed = None, None, _helper_allowed()
    try:
        for n, batch in enumerate(batches):
            if allowed and n >= 1 and waiting is None:
                if helper is None:
                    import multiprocessing
                    import os
                    from concurrent.futures import ProcessPoolExecutor

                    _PLAN = plan
                    helper = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"),
                                                 initializer=_exit_with, initargs=(os.getpid(),))
                waiting = (batch, helper.submit(_map_in_helper, batch.records, keep_order))
                continue
            here = plan.stage_batch(batch.records, keep_order=keep_order)
            if waiting is not None:
                yield waiting[0], waiting[1].result()
                waiting = None
            yield batch, here
        if waiting is not None:
            yield waiting[0], waiting[1].result()
    finally:
        if helper is not None:
            helper.shutdown(wait=True, cancel_futures=True)
            _PLAN = None
