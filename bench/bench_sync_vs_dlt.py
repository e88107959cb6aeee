"""Sync at the speed of the database: munihub vs dlt vs the COPY-upsert limit, same PostgreSQL table.

    .venv/bin/python bench/bench_sync_vs_dlt.py                 # 1M rows
    .venv/bin/python bench/bench_sync_vs_dlt.py --rows 100000 --skip dlt-default
    .venv/bin/python bench/bench_sync_vs_dlt.py --rows 10000000 --cap-mb 300 --keep-source munihub_src10m \
        --skip copy dlt-default dlt-fastest      # munihub alone, to the end under a 300 MB cap

One PostgreSQL source table (12 columns, Persian text, a citizen registry) of N rows is
merged by key into a PostgreSQL store, then 1 % of its rows change and the same merge runs
again.  Paths, each in its own process (its peak memory is that process's VmHWM):

- `copy`: COPY the table out, COPY it into a temp table, `INSERT … ON CONFLICT DO UPDATE …
  WHERE changed` (no mapping, no validation: the database's limit);
- `dlt-default`: dlt's `sql_table` (SQLAlchemy backend) merged into PostgreSQL;
- `dlt-fastest`: dlt's `sql_table` with the pyarrow backend, loaded as parquet through ADBC;
- `munihub`: `pipeline.sync_source` on a contract for the table (extract, map, validate,
  stage, dataset checks, publish).

dlt runs in its own virtualenv (`.bench-venvs/dlt`, made from PyPI on first use): it is
never a dependency of the hub.  The last line is `full: munihub/dlt-fastest ratio R,
munihub peak MB M`.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

from venvs import tool_python

ROOT = Path(__file__).resolve().parent.parent
DLT_PINS = ["dlt[postgres,sql_database]==1.31.0", "adbc-driver-postgresql==1.13.0", "pyarrow", "psycopg2-binary",
            "sqlalchemy>=2"]
SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432"
COLUMNS = ("id", "code_melli", "fname", "lname", "father", "jensiat", "birth_jalali", "mobile", "code_posti",
           "mantaghe", "address", "updated_at")

CONTRACT = """\
apiVersion: v3.1.0
kind: DataContract
id: bench.persons
name: persons
version: 1.0.0
status: active
team: {name: bench, members: [{username: bench, role: owner}]}
servers:
  - server: bench-pg
    type: custom
    customProperties:
      - {property: connector, value: sql}
      - {property: url, value: "${BENCH_SOURCE_URL}"}
      - {property: table, value: persons}
      - {property: watermark, value: updated_at}
      - {property: key, value: id}
      - {property: batch_size, value: 5000}
schema:
  - name: persons
    physicalName: persons
    physicalType: table
    customProperties:
      - {property: sharedSchema, value: person}
    quality:
      - {metric: rowCount, mustBeGreaterThan: 0, severity: error}
    properties:
      - {name: national_id, physicalName: code_melli, logicalType: string, transformLogic: national_id,
         primaryKey: true, primaryKeyPosition: 1, required: true, classification: personal,
         quality: [{metric: duplicateValues, mustBe: 0, severity: error}]}
      - {name: first_name, physicalName: fname, logicalType: string, transformLogic: person_name, required: true}
      - {name: last_name, physicalName: lname, logicalType: string, transformLogic: person_name, required: true}
      - {name: father_name, physicalName: father, logicalType: string, transformLogic: person_name,
         quality: [{metric: nullValues, mustBeLessOrEqualTo: 10, unit: percent, severity: warning}]}
      - {name: gender, physicalName: jensiat, logicalType: string, transformLogic: gender}
      - {name: birth_date, physicalName: birth_jalali, logicalType: date, transformLogic: date}
      - {name: mobile, physicalName: mobile, logicalType: string, transformLogic: mobile, classification: personal}
      - {name: postal_code, physicalName: code_posti, logicalType: string, transformLogic: postal_code}
      - {name: address.district, physicalName: mantaghe, logicalType: string, transformLogic: text}
      - {name: address.detail, physicalName: address, logicalType: string, transformLogic: text}
customProperties:
  - {property: incremental, value: updated_at}
"""

# Each child prints one JSON line: {"rows": …}; the parent adds wall seconds and peak MB.
PEAK = "int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1]) // 1024"
# The munihub child also says its peak address space (what RLIMIT_AS / `ulimit -v` caps).
VM_PEAK = "int(next(l for l in open('/proc/self/status') if l.startswith('VmPeak')).split()[1]) // 1024"

COPY_CHILD = textwrap.dedent("""
    import io, json, sys, psycopg2
    src_dsn, dst_dsn, since = sys.argv[1], sys.argv[2], sys.argv[3]
    src, dst = psycopg2.connect(src_dsn), psycopg2.connect(dst_dsn)
    cols = {cols!r}
    buf = io.StringIO()
    where = f" WHERE updated_at > '{{since}}'" if since else ""
    src.cursor().copy_expert(f"COPY (SELECT {{', '.join(cols)}} FROM persons{{where}}) TO STDOUT", buf)
    buf.seek(0)
    cur = dst.cursor()
    cur.execute("CREATE TABLE IF NOT EXISTS target (LIKE persons_shape INCLUDING ALL)")
    cur.execute("CREATE TEMP TABLE incoming (LIKE persons_shape) ON COMMIT DROP")
    cur.copy_expert("COPY incoming FROM STDIN", buf)
    sets = ", ".join(f"{{c}} = excluded.{{c}}" for c in cols[1:])
    cur.execute(f"INSERT INTO target SELECT * FROM incoming ON CONFLICT (id) DO UPDATE SET {{sets}} "
                f"WHERE (target.*) IS DISTINCT FROM (excluded.*)")
    rows = cur.rowcount
    dst.commit()
    print(json.dumps({{"rows": rows, "peak_mb": {peak}}}))
""").format(cols=COLUMNS, peak=PEAK)

DLT_CHILD = textwrap.dedent("""
    import json, sys, dlt
    from dlt.sources.sql_database import sql_table
    src, dst, backend, work = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    table = sql_table(credentials=src, table="persons", backend=backend, chunk_size=50000,
                      incremental=dlt.sources.incremental("updated_at"), primary_key="id",
                      write_disposition="merge")
    pipe = dlt.pipeline(pipeline_name=f"bench_{{backend}}", pipelines_dir=work,
                        destination=dlt.destinations.postgres(dst), dataset_name=f"dlt_{{backend}}")
    info = pipe.run(table, loader_file_format="parquet" if backend == "pyarrow" else None)
    rows = pipe.last_trace.last_normalize_info.row_counts.get("persons", 0)
    print(json.dumps({{"rows": rows, "peak_mb": {peak}}}))
""").format(peak=PEAK)

# The munihub child also says the CPU seconds of its PostgreSQL backends (source and store:
# the server runs on this machine), read from /proc when each connection closes or at the end.
MUNIHUB_CHILD = textwrap.dedent("""
    import json, os
    import sqlalchemy as sa
    backend_cpu, open_pids = [0.0], set()
    def cpu_of(pid):
        try:
            with open(f"/proc/{{pid}}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return 0.0
    @sa.event.listens_for(sa.pool.Pool, "connect")
    def _opened(dbapi_conn, record):
        record.info["pid"] = dbapi_conn.get_backend_pid()
        open_pids.add(record.info["pid"])
    @sa.event.listens_for(sa.pool.Pool, "close")
    def _closing(dbapi_conn, record):
        pid = record.info.pop("pid", None)
        if pid in open_pids:
            open_pids.discard(pid)
            backend_cpu[0] += cpu_of(pid)
    import time
    from munihub import pipeline
    from munihub.ingest.publish_ahead import PublishAhead
    # sync_source's three stages, each timed (wall): where a run's time goes without a profiler
    with PublishAhead() as early:  # as sync_source: a first load published ahead while staged
        t0 = time.perf_counter()
        load_id = pipeline.extract_and_stage("bench.persons", early=early)
        t1 = time.perf_counter()
        pipeline.check_load(load_id, early=early)
        t2 = time.perf_counter()
        r = pipeline.publish_load(load_id, early=early)
        t3 = time.perf_counter()
    backend_cpu[0] += sum(cpu_of(pid) for pid in open_pids)
    print(json.dumps({{"rows": r["rows_in"], "new": r["rows_new"], "changed": r["rows_changed"],
                       "peak_mb": {peak}, "vm_peak_mb": {vm_peak}, "pg_cpu_s": round(backend_cpu[0], 2),
                       "stages_s": [round(t1 - t0, 2), round(t2 - t1, 2), round(t3 - t2, 2)]}}))
""").format(peak=PEAK, vm_peak=VM_PEAK)


# `--profile`: the full munihub run under cProfile, cumulative seconds of each stage's entry
# point (the shares the "profile by stage" asks for), printed before the JSON line.
PROFILE_CHILD = textwrap.dedent("""
    import cProfile, json, pstats, sys
    from munihub import pipeline
    prof = cProfile.Profile()
    r = prof.runcall(pipeline.sync_source, "bench.persons")
    stats = pstats.Stats(prof)
    total = max(v[3] for v in stats.stats.values())
    stages = {stages!r}
    for (path, line, name), (cc, nc, tt, ct, callers) in sorted(stats.stats.items(), key=lambda kv: -kv[1][3]):
        label = stages.get(name)
        if label and ("munihub" in path or "sqlalchemy" in path):
            print(f"profile  {{label:34}} {{ct:7.2f}} s  {{100 * ct / total:5.1f}} %", file=sys.stderr)
            stages.pop(name)
    print(json.dumps({{"rows": r["rows_in"], "new": r["rows_new"], "changed": r["rows_changed"],
                       "peak_mb": {peak}}}))
""").format(peak=PEAK, stages={
    "sync_source": "whole sync", "extract_and_stage": "extract + map + validate + stage",
    "read_batches": "source read", "stage_batch": "map + validate + encode (columns)",
    "check_record": "map + validate (record by record)", "stage_batches": "stage (all)",
    "check_load": "dataset checks (all)", "run_checks": "checks: measure",
    "_data_docs": "checks: great-expectations Data Docs", "publish_load": "publish (all)",
    "publish_staged": "publish: merge + ledger", "_latest_staged": "publish: read staged rows back"})


def _sa(url: str):
    import sqlalchemy as sa
    return sa.create_engine(url, isolation_level="AUTOCOMMIT")


def _sql(url: str, *statements: str):
    """Run statements through the bare driver (no parameters, so `%` is SQL's modulo); the
    last one's first value."""
    import psycopg2
    conn = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"))
    conn.autocommit = True
    try:
        cur = conn.cursor()
        for statement in statements:
            cur.execute(statement)
        return cur.fetchone()[0] if cur.description else None
    finally:
        conn.close()


def _create_db(name: str) -> str:
    with _sa(f"{SERVER}/test").connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    return f"{SERVER}/{name}"


def _source_db(name: str) -> str:
    with _sa(f"{SERVER}/test").connect() as conn:
        if not conn.exec_driver_sql("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).first():
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    return f"{SERVER}/{name}"


def _drop_db(name: str) -> None:
    with _sa(f"{SERVER}/test").connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _fill(url: str, rows: int) -> None:
    """The source table, generated inside PostgreSQL (valid national ids, Persian text)."""
    first = "ARRAY['علی','محمد','فاطمه','زهرا','حسین','مریم','رضا','سارا','مهدی','نرگس']"
    last = "ARRAY['احمدی','محمدی','حسینی','رضایی','کریمی','موسوی','جعفری','صادقی','رحیمی','نوری']"
    _sql(url, """
            CREATE TABLE persons (id bigint PRIMARY KEY, code_melli text, fname text, lname text, father text,
                jensiat text, birth_jalali text, mobile text, code_posti text, mantaghe text, address text,
                updated_at timestamptz NOT NULL)""", f"""
            INSERT INTO persons
            SELECT i, n9 || (CASE WHEN r < 2 THEN r ELSE 11 - r END)::text,
                   ({first})[1 + i % 10], ({last})[1 + (i / 10) % 10], ({first})[1 + (i / 7) % 10],
                   CASE WHEN i % 2 = 0 THEN 'مرد' ELSE 'زن' END,
                   (1330 + i % 60)::text || '/' || lpad((1 + i % 12)::text, 2, '0') || '/'
                       || lpad((1 + i % 28)::text, 2, '0'),
                   '0915' || lpad((i % 10000000)::text, 7, '0'),
                   translate(lpad(((i::bigint * 7919) % 100000)::text, 5, '0'), '02', '13')  -- no 0 or 2 there
                       || lpad((i % 100000)::text, 5, '0'),
                   'منطقه ' || (1 + i % 13)::text,
                   'مشهد، خیابان امام رضا، کوچه ' || (i % 97)::text || '، پلاک ' || (i % 300)::text,
                   timestamptz '2024-01-01' + (i || ' seconds')::interval
            FROM (SELECT i, n9, (SELECT sum(substr(n9, k, 1)::int * (11 - k)) FROM generate_series(1, 9) k) % 11 AS r
                  FROM (SELECT i, lpad((100000000 + i)::text, 9, '0') AS n9
                        FROM generate_series(1, {rows}) i) s) t""",
         "CREATE INDEX ON persons (updated_at)", "ANALYZE persons")


def _change(url: str, share: float) -> str:
    """Touch `share` of the rows (a new address, a later stamp); the stamp the changes start after."""
    before = _sql(url, "SELECT max(updated_at) FROM persons")
    step = max(1, round(1 / share))
    # after every stamp already there, so a kept source (`--keep-source`) changes again
    start = f"greatest(timestamptz '2026-01-01', timestamptz '{before.isoformat()}' + interval '1 day')"
    # The unit number replaces the one an earlier change wrote: appended each time, a kept
    # source's addresses grew past the schema's maxLength after ~20 changes and the same rows
    # then went through the set-aside path (a slower, different sync from the first runs').
    # The number is the change's first day, so no change writes the unit the last one wrote.
    unit = f"(extract(epoch from {start})::bigint / 86400)::text"
    _sql(url, f"UPDATE persons SET address = regexp_replace(address, ' \\(واحد [0-9۰-۹]+\\)$', '') "
              f"|| ' (واحد ' || {unit} || ')', "
              f"updated_at = {start} + (id || ' seconds')::interval WHERE id % {step} = 0",
         "ANALYZE persons")
    return before.isoformat()


def _capped(cap_mb: int):
    """The child's address space limited to `cap_mb` (RLIMIT_AS, what `ulimit -v` sets): an
    allocation past it fails in the child (MemoryError), so a sync that outgrows the cap
    cannot finish.  Set between fork and exec, so the bench itself is not limited."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (cap_mb * 2 ** 20, cap_mb * 2 ** 20))
    return limit


def _rss_mb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(l.split()[1]) // 1024 for l in status if l.startswith("VmRSS"))
    except (OSError, StopIteration):
        return None


def _run(cmd: list[str], env: dict | None = None, cap_mb: int | None = None) -> dict:
    """Run one path's child; with `cap_mb`, under that cap and with its RSS sampled every
    few seconds (`rss_mb`: ten samples spread over the run), to see memory stay flat."""
    import resource

    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env={**os.environ, **(env or {})}, cwd=ROOT,
                                 preexec_fn=_capped(cap_mb) if cap_mb else None)
        samples = []
        while True:
            try:  # returns as soon as the child ends: the wall time is not rounded up to a sample
                child.wait(timeout=2)
                break
            except subprocess.TimeoutExpired:
                if cap_mb and (rss := _rss_mb(child.pid)) is not None:
                    samples.append(rss)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        out.seek(0)
        err.seek(0)
        done = subprocess.CompletedProcess(cmd, child.returncode, out.read(), err.read())
    if done.returncode != 0:
        capped = f" under a {cap_mb} MB address-space cap" if cap_mb else ""
        raise SystemExit(f"{cmd[:3]} failed{capped}:\n{done.stderr[-3000:]}")
    for line in done.stderr.splitlines():
        if line.startswith("profile "):
            print(line, file=sys.stderr)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    if samples:
        out["rss_mb"] = [samples[i * (len(samples) - 1) // 9] for i in range(10)]
    # the child's own CPU (every thread; a machine shared with other work moves wall time far
    # more than CPU time)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {**out, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2)}


def _dlt_python() -> str:
    return tool_python("dlt", DLT_PINS)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--change", type=float, default=0.01, help="share of rows changed for the incremental run")
    ap.add_argument("--skip", nargs="*", default=[], choices=["copy", "dlt-default", "dlt-fastest", "munihub"])
    ap.add_argument("--profile", action="store_true", help="profile munihub's full run by stage (slower)")
    ap.add_argument("--cap-mb", type=int, help="run munihub's syncs under this address-space limit (RLIMIT_AS, "
                                               "as `ulimit -v`) and say whether its peak RSS stayed under it too")
    ap.add_argument("--hub-store", choices=["postgresql", "sqlite"], default="postgresql",
                    help="munihub's store (the other paths always load PostgreSQL)")
    ap.add_argument("--db-prefix", default="munihub_bench", help="prefix of the databases the bench makes and drops")
    ap.add_argument("--keep-source", metavar="DB", help="use (and keep) this source database: filled with --rows "
                                                        "rows if it has no persons table, so a 10M-row source is "
                                                        "made once for several runs")
    args = ap.parse_args()

    # The hub as installed runs from bytecode (pip writes it); a development tree under
    # PYTHONDONTWRITEBYTECODE=1 has none, and every munihub child then compiled the ~60 modules
    # it imports from source: ~0.1 s of CPU, ~0.25 s of wall on this machine, a quarter of a
    # 1 % incremental sync.  Written into the tree's own __pycache__ folders (ignored by git).
    subprocess.run([sys.executable, "-m", "compileall", "-q", "munihub", "connectors"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    tag = uuid.uuid4().hex[:8]
    names = {k: f"{args.db_prefix}_{k}_{tag}" for k in ("src", "copy", "dlt", "hub")}
    if args.keep_source:
        names.pop("src")
    urls = {k: _create_db(n) for k, n in names.items()}
    work = Path(tempfile.mkdtemp(prefix="munihub-bench-sync-"))
    try:
        if args.keep_source:
            urls["src"] = _source_db(args.keep_source)
        t = time.perf_counter()
        if args.keep_source and _sql(urls["src"], "SELECT to_regclass('persons') IS NOT NULL"):
            args.rows = _sql(urls["src"], "SELECT count(*) FROM persons")
            print(f"source: {args.rows:,} rows kept in {args.keep_source}", file=sys.stderr)
        else:
            _fill(urls["src"], args.rows)
            print(f"source: {args.rows:,} rows in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        with _sa(urls["copy"]).connect() as conn:  # the COPY path's target shape, without data
            conn.exec_driver_sql("CREATE TABLE persons_shape (id bigint PRIMARY KEY, code_melli text, fname text, "
                                 "lname text, father text, jensiat text, birth_jalali text, mobile text, "
                                 "code_posti text, mantaghe text, address text, updated_at timestamptz NOT NULL)")
        dsn = lambda url: url.replace("postgresql+psycopg2://", "postgresql://")  # noqa: E731
        # dlt's postgres destination insists on a password; the local server trusts loopback,
        # so any placeholder works and none is a secret.
        dlt_dst = dsn(urls["dlt"]).replace("postgres@", "postgres:trust@")
        (work / "contracts").mkdir()
        (work / "contracts" / "persons.yaml").write_text(CONTRACT, encoding="utf-8")
        hub_store = urls["hub"] if args.hub_store == "postgresql" else f"sqlite:///{work / 'hub.db'}"
        hub_env = {"MUNIHUB_HOME": str(work / "home"), "MUNIHUB_STORE_URL": hub_store,
                   "MUNIHUB_CONTRACTS": str(work / "contracts"), "BENCH_SOURCE_URL": urls["src"],
                   "MUNIHUB_BATCH_SIZE": "5000", "PYTHONPATH": str(ROOT)}
        paths = {
            "copy": lambda since: [sys.executable, "-c", COPY_CHILD, dsn(urls["src"]), dsn(urls["copy"]), since],
            "dlt-default": lambda since: [_dlt_python(), "-c", DLT_CHILD, urls["src"], dlt_dst,
                                          "sqlalchemy", str(work / "dlt")],
            "dlt-fastest": lambda since: [_dlt_python(), "-c", DLT_CHILD, urls["src"], dlt_dst,
                                          "pyarrow", str(work / "dlt")],
            "munihub": lambda since: [sys.executable, "-c",
                                      PROFILE_CHILD if args.profile and not since else MUNIHUB_CHILD],
        }
        results: dict[str, dict] = {}
        for phase in ("full", "incremental"):
            since = "" if phase == "full" else _change(urls["src"], args.change)
            for name, cmd in paths.items():
                if name in args.skip:
                    continue
                hub = name == "munihub"
                r = _run(cmd(since), hub_env if hub else None, args.cap_mb if hub else None)
                results[f"{name}:{phase}"] = r
                pg = f" + PostgreSQL {r['pg_cpu_s']:.2f} s" if "pg_cpu_s" in r else ""
                print(f"{phase:12} {name:12} {r['wall_s']:8.2f} s  {args.rows / r['wall_s'] if phase == 'full' else 0:10,.0f}"
                      f" rows/s  peak {r['peak_mb']:6} MB  CPU {r['cpu_s']:.2f} s{pg}  ({r})", file=sys.stderr)
                if hub and args.cap_mb:
                    print(f"cap {phase}: munihub finished under a {args.cap_mb} MB address-space cap, peak RSS "
                          f"{r['peak_mb']} MB ({'within' if r['peak_mb'] <= args.cap_mb else 'OVER'} the cap), "
                          f"peak address space {r['vm_peak_mb']} MB", file=sys.stderr)
        print(json.dumps(results, indent=2))
        full = results.get("munihub:full")
        fast = results.get("dlt-fastest:full")
        for phase in ("full", "incremental"):
            base = results.get(f"dlt-fastest:{phase}")
            hub = results.get(f"munihub:{phase}")
            if base and hub:
                print(f"{phase}: munihub {hub['wall_s']} s vs dlt-fastest {base['wall_s']} s "
                      f"(speed ratio {base['wall_s'] / hub['wall_s']:.2f}); CPU munihub {hub['cpu_s']} s "
                      f"+ its PostgreSQL backends {hub.get('pg_cpu_s', '?')} s, dlt-fastest {base['cpu_s']} s "
                      f"(its backends not counted)")
        if full and fast:
            print(f"full: munihub/dlt-fastest ratio {fast['wall_s'] / full['wall_s']:.2f}, "
                  f"munihub peak MB {full['peak_mb']}")
    finally:
        for name in names.values():
            _drop_db(name)
        shutil.rmtree(work, ignore_errors=True)  # a SQLite store or dlt's files can hold gigabytes


if __name__ == "__main__":
    main()
