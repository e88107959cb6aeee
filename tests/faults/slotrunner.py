"""Sources dispatched to a fixed number of worker slots, one process per task, as Airflow runs them.

The deployment model of docs/airflow.md without Airflow's own components: the LocalExecutor
runs at most `parallelism` task instances at once (the embedded home sets it to the CPU
count), each in a process of its own; a pool caps how many of its tasks run at once (one per
source system, `contract.pool`); a sync DAG's tasks run in order (extract_and_stage ->
check_load -> publish_load, only the load id passed on); and the scheduler starts the queued
task with the highest priority_weight first (Airflow's default weight_rule "downstream":
3, 2, 1), oldest first.  Each task here is a fresh Python (`TASK` below), so it pays what an
Airflow task pays before work: the interpreter, munihub, and great-expectations on
check_load.  What Airflow adds around a task (the scheduler loop, the execution API, parsing
the DAG file) is not here: it is the same for every source and no source can grow it.

Also the sources themselves: `make_sources` writes N quiet SQLite sources and one flooding
source, each with its own contract (and so its own pool).  Values and dispatching only; the
assertions are in test_load_isolation.py and the figures in bench/bench_load_isolation.py.
"""
from __future__ import annotations

import os
import random
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import crashdriver

STAGES = ("extract_and_stage", "check_load", "publish_load")
WEIGHTS = {"extract_and_stage": 3, "check_load": 2, "publish_load": 1}  # weight_rule "downstream"
# A source's fixed cost per sync (three fresh processes, imports, great-expectations, Data Docs)
# is ~4 s of CPU; at 60 rows a 100x flood (6 batches) costs about what a quiet source does.
QUIET_ROWS, FLOOD_FACTOR = 500, 100
FLOOD = "flood.citizens"
REPO = Path(__file__).resolve().parents[2]
CORE = REPO / "tests" / "data" / "core" / "citizens.yaml"

# One Airflow task: run one core stage, print what the next task needs (the load id).
TASK = r"""
import sys
from munihub import pipeline
stage, arg = sys.argv[1], sys.argv[2]
out = getattr(pipeline, stage)(arg)
print(out if stage == "extract_and_stage" else arg)
"""


@dataclass
class Task:
    source: str
    stage: str
    started: float = 0.0   # time.monotonic() of the fork
    ended: float = 0.0
    cpu: float = 0.0       # user + system seconds of the task's process
    error: str = ""

    @property
    def wall(self) -> float:
        return self.ended - self.started


@dataclass
class Run:
    """What one dispatch measured: every task, and each source's own duration (its tasks' sum)."""
    tasks: list[Task] = field(default_factory=list)
    wall: float = 0.0      # first task started -> last task ended
    peak_running: int = 0  # most task processes alive at once
    peak_in_pool: dict[str, int] = field(default_factory=dict)
    store_cpu: float = 0.0     # CPU seconds of the store's server processes for this database
    machine_busy: float = 0.0  # CPU seconds the whole machine was busy (all cores, everyone's work)

    def own(self, source: str) -> float:
        return sum(t.wall for t in self.tasks if t.source == source)

    def cpu(self, source: str) -> float:
        return sum(t.cpu for t in self.tasks if t.source == source)

    def sources(self) -> list[str]:
        return sorted({t.source for t in self.tasks})

    def failed(self) -> list[Task]:
        return [t for t in self.tasks if t.error]


def make_sources(folder: Path, n: int, flood: bool, seed: int = 3, rows: int = QUIET_ROWS) -> list[str]:
    """`n` quiet sources of `rows` rows (+ `flood.citizens` with FLOOD_FACTOR times more),
    each its own agency, so its own contract, DAG and pool.  The flood comes first: it is
    triggered with the others and wins the first slot, the worst case for them."""
    text = CORE.read_text(encoding="utf-8")
    folder.mkdir(parents=True)
    names = (["flood"] if flood else []) + [f"quiet{i:03d}" for i in range(n)]
    for i, name in enumerate(names):
        rng, count = random.Random(seed * 1000 + i), rows * (FLOOD_FACTOR if name == "flood" else 1)
        src = folder / f"{name}.db"
        with sqlite3.connect(src) as db:
            db.execute("CREATE TABLE citizens (id INTEGER PRIMARY KEY, code_melli TEXT, fname TEXT, lname TEXT, "
                       "birth TEXT, mobile TEXT, updated_at TEXT)")
            db.executemany("INSERT INTO citizens VALUES (?,?,?,?,?,?,?)",
                           [(k, crashdriver.national_id(f"{rng.randrange(10 ** 8, 10 ** 9)}"), "علی", "رضایی",
                             "1370/05/20", None, f"2024-01-01 00:00:{k % 60:02d}") for k in range(1, count + 1)])
        (folder / name).mkdir()
        (folder / name / "citizens.yaml").write_text(
            text.replace("id: testreg.citizens", f"id: {name}.citizens").replace("${MUNIHUB_TEST_SRC}", str(src)),
            encoding="utf-8")
    return [f"{name}.citizens" for name in names]


def _run_task(task: Task, arg: str, env: dict[str, str], logs: Path) -> str:
    """One task in a fresh process; fills in its times; returns its last stdout line."""
    out, err = logs / f"{task.source}.{task.stage}.out", logs / f"{task.source}.{task.stage}.err"
    with open(out, "wb") as o, open(err, "wb") as e:
        task.started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-c", TASK, task.stage, arg], env=env, stdout=o, stderr=e)
        _, status, usage = os.wait4(proc.pid, 0)  # the child's own CPU time, which wait() does not give
        task.ended = time.monotonic()
    proc.returncode = os.waitstatus_to_exitcode(status)
    task.cpu = usage.ru_utime + usage.ru_stime
    if proc.returncode != 0:
        task.error = err.read_text(encoding="utf-8", errors="replace")[-1500:] or f"exit {proc.returncode}"
        return ""
    lines = out.read_text(encoding="utf-8").split()
    return lines[-1] if lines else ""


def run_in_slots(sources: list[str], env: dict[str, str], slots: int, logs: Path,
                 pools: dict[str, str] | None = None, pool_slots: dict[str, int] | None = None) -> Run:
    """Sync every source through `slots` worker slots; `pools` maps a source to its pool
    (default: its agency, the contracts' default) and `pool_slots` a pool to its slot count
    (default 2, MUNIHUB_POOL_SLOTS' default).  Every DAG run is queued at the start."""
    pools = pools or {s: s.split(".")[0] for s in sources}
    pool_slots = pool_slots or {}
    logs.mkdir(parents=True, exist_ok=True)
    queue: list[tuple[int, int, str, str, str]] = []  # (-weight, order, source, stage, argument)
    for order, source in enumerate(sources):
        queue.append((-WEIGHTS[STAGES[0]], order, source, STAGES[0], source))
    run, lock = Run(), threading.Condition()
    state = {"running": 0, "pool": {}, "seq": len(sources)}

    def next_task():
        """The highest-priority queued task whose pool has a free slot (None: wait or stop)."""
        free = [item for item in queue if state["pool"].get(pools[item[2]], 0) < pool_slots.get(pools[item[2]], 2)]
        if not free:
            return None
        queue.remove(min(free))
        return min(free)

    def slot() -> None:
        while True:
            with lock:
                item = next_task()
                while item is None:
                    if not queue and state["running"] == 0:
                        lock.notify_all()
                        return
                    lock.wait()
                    item = next_task()
                _, _, source, stage, arg = item
                pool = pools[source]
                state["running"] += 1
                state["pool"][pool] = state["pool"].get(pool, 0) + 1
                run.peak_running = max(run.peak_running, state["running"])
                run.peak_in_pool[pool] = max(run.peak_in_pool.get(pool, 0), state["pool"][pool])
                task = Task(source, stage)
                run.tasks.append(task)
            result = _run_task(task, arg, env, logs)
            with lock:
                state["running"] -= 1
                state["pool"][pool] -= 1
                following = STAGES.index(stage) + 1
                if not task.error and following < len(STAGES):
                    state["seq"] += 1
                    queue.append((-WEIGHTS[STAGES[following]], state["seq"], source, STAGES[following], result))
                lock.notify_all()

    workers = [threading.Thread(target=slot, name=f"slot-{i}") for i in range(slots)]
    started = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    run.wall = time.monotonic() - started
    return run


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation; the one value if there is one."""
    values = sorted(values)
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]


def overlapping(run: Run, of: str) -> list[Task]:
    """The other sources' tasks that ran, at least partly, while a task of `of` was running."""
    busy = [(t.started, t.ended) for t in run.tasks if t.source == of]
    return [t for t in run.tasks if t.source != of and any(t.started < e and s < t.ended for s, e in busy)]


def _cpu_ticks(pid: int) -> int:
    """utime + stime of a local process in clock ticks (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def machine_busy_seconds() -> float:
    """CPU seconds all cores have been busy since boot (Linux /proc/stat), anyone's work."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def sample_connections(url: str, stop: threading.Event, peak: list[int], store_cpu: list[float]) -> None:
    """Keep `peak[0]` at the most connections PostgreSQL has seen to `url`'s database (this one
    included) and `store_cpu[0]` at the CPU seconds its server processes used (the sampler's own
    excluded; read from /proc, so only for a server on this machine, sampled every 50 ms)."""
    import sqlalchemy as sa

    db, ticks = sa.engine.make_url(url).database, {}
    # autocommit: inside one transaction pg_stat_activity is a snapshot taken at its first read
    eng = sa.create_engine(url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        while not stop.is_set():
            pids = conn.execute(sa.text("SELECT pid, pid = pg_backend_pid() FROM pg_stat_activity "
                                        "WHERE datname = :d"), {"d": db}).all()
            peak[0] = max(peak[0], len(pids))
            for pid, own in pids:
                if not own:
                    ticks[pid] = max(ticks.get(pid, 0), _cpu_ticks(pid))
            time.sleep(0.05)
    eng.dispose()
    store_cpu[0] = sum(ticks.values()) / os.sysconf("SC_CLK_TCK")


def task_env(store_url: str, contracts: Path, home: Path) -> dict[str, str]:
    """What a worker gives its tasks: this environment with the hub's settings, batch size default."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUNIHUB_")}
    env.update(MUNIHUB_STORE_URL=store_url, MUNIHUB_CONTRACTS=str(contracts), MUNIHUB_HOME=str(home),
               MUNIHUB_SCHEMAS=str(REPO / "schemas"), GX_ANALYTICS_ENABLED="false")
    return env


def measured_run(store_url: str, folder: Path, n: int, flood: bool, slots: int,
                 rows: int = QUIET_ROWS) -> tuple[Run, int]:
    """Write the sources, sync them through `slots` slots (the flood in a pool of one), sampling
    the store's connections: (the run, peak connections).  A home of its own per run, so Data
    Docs of an earlier run do not make this one's checks slower."""
    ids = make_sources(folder / "contracts", n, flood, rows=rows)
    env = task_env(store_url, folder / "contracts", folder / "home")
    stop, peak, store_cpu = threading.Event(), [0], [0.0]
    sampler = threading.Thread(target=sample_connections, args=(store_url, stop, peak, store_cpu))
    sampler.start()
    busy = machine_busy_seconds()
    try:
        run = run_in_slots(ids, env, slots, folder / "logs", pool_slots={"flood": 1})
    finally:
        stop.set()
        sampler.join()
    run.machine_busy, run.store_cpu = machine_busy_seconds() - busy, store_cpu[0]
    return run, peak[0]


def clear_store(url: str) -> None:
    """Empty what a sync writes, keeping the migrated tables: a fair second run on the same store."""
    import sqlalchemy as sa

    eng = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with eng.begin() as conn:
        for table in ("source_rows", "cursors", "loads", "quarantine", "staged_rows", "leases"):
            conn.execute(sa.text(f"DELETE FROM {table}"))
    eng.dispose()
