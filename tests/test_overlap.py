"""munihub.ingest.overlap: the next batch read and the last one written while one is mapped,
in order, errors raised where they belong, nothing left running."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from munihub.ingest.overlap import WriteBehind, mapped, prefetch


def test_prefetch_keeps_order_and_reads_at_most_one_ahead():
    read = []

    def source():
        for i in range(6):
            read.append(i)
            yield i

    got = []
    for item in prefetch(source()):
        time.sleep(0.02)  # let the reader run as far ahead as it may
        assert len(read) <= item + 2  # the item in hand and the one read ahead
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


def test_one_write_at_a_time_submit_waits_for_the_last_and_an_error_lets_it_finish():
    started, release, done = threading.Event(), threading.Event(), []

    def slow(i):
        started.set()
        release.wait(2)
        done.append(i)

    with pytest.raises(KeyError):
        with WriteBehind() as writer:
            writer.submit(slow, 0)
            started.wait(2)
            threading.Timer(0.2, release.set).start()
            writer.submit(done.append, 1)  # waits for 0: only one batch is ever in flight
            assert done[0] == 0
            raise KeyError("mapping failed")
    assert done == [0, 1]


class _Plan:
    """A stand-in column plan: which process mapped each record, and its mapping."""

    def stage_batch(self, records, keep_order=True):
        import os
        return [(r, os.getpid(), keep_order) for r in records]


class _Batch:
    def __init__(self, records):
        self.records = records


def test_mapped_keeps_order_and_a_helper_process_maps_every_other_batch(monkeypatch):
    import os
    monkeypatch.setenv("MUNIHUB_MAP_HELPER", "1")
    batches = [_Batch([f"{b}.{i}" for i in range(3)]) for b in range(5)]
    got = list(mapped(_Plan(), iter(batches), keep_order=False))
    assert [b for b, _ in got] == batches
    assert [[r for r, _, _ in plain] for _, plain in got] == [b.records for b in batches]
    pids = [plain[0][1] for _, plain in got]
    if os.cpu_count() > 1:
        assert pids[0] == os.getpid() and {pids[1], pids[3]} != {os.getpid()} and pids[2] == os.getpid()
    assert all(keep is False for _, plain in got for _, _, keep in plain)


def test_a_one_batch_load_or_a_helper_not_asked_for_never_forks(monkeypatch):
    import os
    monkeypatch.setenv("MUNIHUB_MAP_HELPER", "1")
    batches = [_Batch(["a", "b"])]
    assert [plain[0][1] for _, plain in mapped(_Plan(), iter(batches), True)] == [os.getpid()]
    monkeypatch.delenv("MUNIHUB_MAP_HELPER")  # off unless asked for
    batches = [_Batch([str(i)]) for i in range(4)]
    assert {plain[0][1] for _, plain in mapped(_Plan(), iter(batches), True)} == {os.getpid()}


def test_without_a_plan_every_record_is_left_to_check_record():
    batches = [_Batch(["a"]), _Batch(["b"])]
    assert list(mapped(None, iter(batches), True)) == [(batches[0], None), (batches[1], None)]


def test_the_helper_leaves_when_the_sync_that_forked_it_is_killed(tmp_path):
    """A sync killed outright (the crash suite's SIGKILL) leaves no helper process behind."""
    import os
    import signal
    import subprocess
    import sys
    code = ("import os, signal\n"
            "from munihub.ingest.overlap import mapped\n"
            "class P:\n"
            "    def stage_batch(self, records, keep_order=True):\n"
            "        return [os.getpid() for _ in records]\n"
            "class B:\n"
            "    def __init__(self, r): self.records = r\n"
            "for batch, plain in mapped(P(), iter([B([1]), B([2]), B([3])]), True):\n"
            "    if plain[0] != os.getpid():\n"
            "        print(plain[0], flush=True)\n"
            "        os.kill(os.getpid(), signal.SIGKILL)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "MUNIHUB_MAP_HELPER": "1"}, timeout=60)
    if os.cpu_count() == 1:
        return
    helper = int(done.stdout.split()[0])
    for _ in range(50):
        try:
            os.kill(helper, 0)
        except ProcessLookupError:
            return
        with open(f"/proc/{helper}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return  # exited, waiting for its reaper
        time.sleep(0.1)
    os.kill(helper, signal.SIGKILL)
    raise AssertionError("the helper outlived the sync that forked it")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's arenas, read from /proc")
def test_the_threads_add_no_malloc_arena_to_the_address_space():
    """`ulimit -v` caps address space: an arena per thread reserved 64 MB each and a sync at
    165 MB resident died under a 300 MB cap.  The threads allocate (a batch read, a batch
    written) and the process's peak address space grows by far less than one arena."""
    code = ("import sys\n"
            "sys.path.insert(0, '.')\n"
            "from munihub.ingest.overlap import WriteBehind, prefetch\n"
            "def vm(key):\n"
            "    return int(next(l for l in open('/proc/self/status') if l.startswith(key)).split()[1]) // 1024\n"
            "before = vm('VmSize')\n"
            "def batches():\n"
            "    for i in range(20):\n"
            "        yield [bytes(200_000) + bytes([i]) for _ in range(5)]\n"
            "kept = []\n"
            "with WriteBehind() as writer:\n"
            "    for batch in prefetch(batches()):\n"
            "        writer.submit(lambda b: kept.append([bytearray(x) for x in b][-1][-1]), batch)\n"
            "assert kept == list(range(20)), kept\n"
            "print(vm('VmPeak') - before)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) < 48, f"the threads grew the address space by {done.stdout.strip()} MB"


def test_staging_runs_with_the_collector_seldom_woken_and_gives_its_settings_back():
    """Inside `fewer_collections` the young generation waits for GC_YOUNG allocations and what
    existed before is frozen; blocks nest and overlap across threads, and the last one out
    restores the thresholds and unfreezes."""
    import gc

    from munihub.ingest.overlap import GC_YOUNG, fewer_collections

    before = gc.get_threshold()
    inner_entered, outer_may_leave = threading.Event(), threading.Event()

    def other_thread():
        with fewer_collections():
            inner_entered.set()
            outer_may_leave.wait(5)
            time.sleep(0.05)  # leaves after the first block
        assert gc.get_threshold() == before

    with fewer_collections():
        assert gc.get_threshold()[0] >= GC_YOUNG and gc.get_freeze_count() > 0
        worker = threading.Thread(target=other_thread)
        worker.start()
        inner_entered.wait(5)
    assert gc.get_threshold()[0] >= GC_YOUNG  # the other thread's block still runs
    outer_may_leave.set()
    worker.join(5)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_a_freeze_made_before_staging_outlives_it():
    """A process that froze its start-up heap itself (the gateway does) keeps it frozen after a
    staging block: `gc.unfreeze` would thaw everything, not only what the block froze."""
    import gc

    from munihub.ingest.overlap import fewer_collections

    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with fewer_collections():
            pass
        assert gc.get_freeze_count() > frozen // 2 > 0  # not thawed (objects freed meanwhile leave the count)
    finally:
        gc.unfreeze()


def test_a_load_is_staged_inside_fewer_collections(monkeypatch, tmp_path):
    import gc
    import types

    from munihub import store
    from munihub.ingest import loads
    from munihub.ingest.connector import Batch
    from munihub.ingest.overlap import GC_YOUNG
    from munihub.ingest.stage import stage_batches

    engine = store.open_store(f"sqlite:///{tmp_path / 'store.db'}")
    contract = types.SimpleNamespace(id="t.gc", version="1.0.0", key=["k"], record_id=None, fields=[])
    load_id, _ = loads.begin_load(engine, contract)
    seen = []
    monkeypatch.setattr("munihub.ingest.stage.plan_for", lambda contract, errors_of: None)
    monkeypatch.setattr("munihub.ingest.stage.check_record",
                        lambda contract, raw, errors_of: seen.append(gc.get_threshold()[0]) or (raw, raw["k"], [], []))
    stage_batches(engine, contract, load_id, [Batch(records=[{"k": "1"}, {"k": "2"}], cursor={"n": 2})],
                  errors_of=lambda r: [])
    assert seen and min(seen) >= GC_YOUNG and gc.get_threshold()[0] < GC_YOUNG
