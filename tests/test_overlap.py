"""munihub.ingest.overlap: the next batch read and the last one written while one is mapped,
in order, errors raised where they belong, nothing left running."""
from __future__ import annotations

import threading
import time

import pytest

from munihub.ingest.overlap import WriteBehind, prefetch


def test_prefetch_keeps_order_and_reads_at_most_one_ahead():
    read = []

    def source():
        for i in range(6):
            read.append(i)
            yield i

    got = []
    for item in prefetch(source()):
        time.sleep(0.02)  # let the reader run as far ahead as it may
        assert len(read) <= item + 3  # the item in hand, one queued, one the reader holds
        got.append(item)
    assert got == list(range(6))


def test_prefetch_raises_the_readers_error_after_the_batches_before_it():
    def source():
        yield 1
        yield 2
        raise ConnectionError("source went away")

    got = []
    with pytest.raises(ConnectionError, match="source went away"):
        for item in prefetch(source()):
            got.append(item)
    assert got == [1, 2]


def test_leaving_a_prefetch_early_closes_the_source_and_stops_its_thread():
    closed = threading.Event()

    def source():
        try:
            for i in range(1000):
                yield i
        finally:
            closed.set()

    before = threading.active_count()
    with pytest.raises(RuntimeError):
        for item in prefetch(source()):
            if item == 3:
                raise RuntimeError("mapping failed")
    assert closed.wait(2)
    assert threading.active_count() == before


def test_write_behind_runs_in_order_and_the_block_waits_for_the_last():
    done = []
    with WriteBehind() as writer:
        for i in range(5):
            writer.submit(lambda i: (time.sleep(0.01), done.append(i)), i)
    assert done == [0, 1, 2, 3, 4]


def test_a_failed_write_stops_the_writes_after_it_and_is_raised_to_the_submitter():
    done = []

    def write(i):
        if i == 1:
            raise OSError("store refused batch 1")
        done.append(i)

    with pytest.raises(OSError, match="batch 1"):
        with WriteBehind() as writer:
            for i in range(4):
                writer.submit(write, i)
                time.sleep(0.02)
    assert done == [0]


def test_leaving_the_block_by_an_error_drops_the_waiting_write():
    started, release, done = threading.Event(), threading.Event(), []

    def slow(i):
        started.set()
        release.wait(2)
        done.append(i)

    with pytest.raises(KeyError):
        with WriteBehind() as writer:
            writer.submit(slow, 0)
            started.wait(2)
            writer.submit(slow, 1)   # waits behind 0, which is still under way
            threading.Timer(0.1, release.set).start()
            raise KeyError("mapping failed")
    assert done == [0]
