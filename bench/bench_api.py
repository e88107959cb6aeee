"""Paginated reads per second through the gateway against PostgreSQL, beside direct SQL.

Creates a throwaway database on the local PostgreSQL, loads ROWS Persian citizen records
into `source_rows`, starts the gateway with uvicorn in a separate process (WORKERS worker
processes), and walks the dataset page by page from THREADS loopback clients (a kept-alive
urllib3 connection each, answers decoded by msgspec), bounded by a request count and a time
limit.  Then reads the same pages with the same keyset query straight from PostgreSQL in
this process, with the same number of threads (a pooled connection each, records decoded by
msgspec), and prints pages/s, rows/s, p50/p99 latency and the ratio.  Every gateway request
also writes and commits one audit entry, so the figure includes that.

    .venv/bin/python bench/bench_api.py [--rows 100000] [--limit 100] [--threads 4]
                                        [--requests 3000] [--seconds 60] [--workers 2] [--fields '*']
                                   [--redis redis://127.0.0.1:6379/0]
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import msgspec
import requests
import sqlalchemy as sa
import urllib3

from munihub.store import audit
from munihub.gateway import grants
from munihub import store

PG_ADMIN = os.environ.get("MUNIHUB_TEST_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
REPO = Path(__file__).resolve().parent.parent


def citizen(i: int) -> dict:
    return {"national_id": f"{i:010d}", "first_name": "سید محمدحسین", "last_name": "رضوی‌نژاد", "gender": "male",
            "birth_date": "1990-01-02", "mobile": f"+98915{i:07d}", "postal_code": f"91{i:08d}",
            "address": {"district": f"منطقه {i % 13 + 1}", "detail": f"بلوار وکیل‌آباد، کوچه {i % 90}"}}


def load(url: str, rows: int) -> None:
    engine = store.open_store(url)
    now = dt.datetime.now(dt.timezone.utc)
    with engine.begin() as conn:
        for start in range(0, rows, 10000):
            conn.execute(store.source_rows.insert(), [
                {"source": "registry.citizens", "source_key": f"{i:010d}", "entity_type": "person",
                 "record": citizen(i), "record_hash": "h", "first_load_id": "B", "load_id": "B", "updated_at": now}
                for i in range(start, min(rows, start + 10000))])
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE source_rows"))  # a fresh bulk load has no planner statistics
    engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def walk(fetch, threads: int, max_requests: int, seconds: float) -> tuple[int, int, list[float], float]:
    """THREADS walkers each page through the dataset (restarting at the end) until a bound hits."""
    lat: list[float] = []
    counts = {"pages": 0, "rows": 0}
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def worker(offset: int):
        cursor = None
        while time.perf_counter() < stop_at:
            with lock:
                if counts["pages"] >= max_requests:
                    return
                counts["pages"] += 1
            t0 = time.perf_counter()
            got, cursor = fetch(cursor)
            elapsed = time.perf_counter() - t0
            with lock:
                lat.append(elapsed)
                counts["rows"] += got

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    [t.start() for t in pool]
    [t.join() for t in pool]
    return counts["pages"], counts["rows"], lat, time.perf_counter() - started


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--limit", type=int, default=100, help="rows per page")
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--fields", default="*", help="granted fields ('*' pseudonymizes the personal ones)")
    ap.add_argument("--redis", default=None, help="Redis URL for rate limits shared by the workers, as in "
                                                  "production (default: each worker counts on its own)")
    args = ap.parse_args()

    name = f"munihub_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    server = None
    try:
        t0 = time.perf_counter()
        load(url, args.rows)
        print(f"loaded {args.rows} rows into source_rows in {time.perf_counter() - t0:.1f} s")
        engine = store.open_store(url)
        token = grants.add_agency(engine, "bench", "Bench", rate_per_minute=10**9)
        grants.grant(engine, "bench", "registry.citizens", args.fields.split(","))

        port = free_port()
        home = Path(os.environ.get("TMPDIR", "/tmp")) / name
        env = {**os.environ, "MUNIHUB_STORE_URL": url, "MUNIHUB_HOME": str(home),
               "MUNIHUB_CONTRACTS": str(REPO / "contracts"), "MUNIHUB_PSEUDONYM_KEY": secrets.token_hex(16),
               **({"MUNIHUB_GATEWAY_REDIS_URL": args.redis} if args.redis else {})}
        server = subprocess.Popen([sys.executable, "-m", "uvicorn", "munihub.gateway.api:create_app", "--factory",
                                   "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers),
                                   "--log-level", "warning", "--no-access-log"], env=env)
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if requests.get(base + "/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            raise SystemExit("the gateway did not start within 30 s")

        # Both sides parse their answers with the same decoder (msgspec, as the gateway does) and
        # keep their connections: the clients share the two cores with the gateway's workers, so a
        # needlessly slow client (requests re-reads proxy settings from the environment on every
        # call) would charge the gateway side for the client's own work.
        pool = urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=args.threads, block=True, timeout=30.0,
                                          retries=False)
        headers = {"Authorization": f"Bearer {token}"}

        def via_api(cursor):
            r = pool.request("GET", "/v1/datasets/registry.citizens/rows", headers=headers,
                             fields={"limit": args.limit, **({"cursor": cursor} if cursor else {})})
            if r.status != 200:
                raise RuntimeError(f"the gateway answered {r.status}: {r.data[:200]!r}")
            body = msgspec.json.decode(r.data)
            return len(body["rows"]), body["next_cursor"]

        t = store.source_rows
        sql_engine = sa.create_engine(url, pool_size=args.threads, json_deserializer=msgspec.json.decode)

        def via_sql(cursor):
            q = sa.select(t.c.source_key, t.c.record, t.c.load_id, t.c.updated_at).where(t.c.source == "registry.citizens")
            if cursor:
                q = q.where(t.c.source_key > cursor)
            with sql_engine.connect() as conn:
                rows = conn.execute(q.order_by(t.c.source_key).limit(args.limit + 1)).all()
            more, rows = len(rows) > args.limit, rows[:args.limit]
            return len(rows), rows[-1].source_key if more else None

        import psutil

        def server_cpus() -> dict[int, float]:  # each uvicorn process's CPU seconds (supervisor, workers)
            procs = [psutil.Process(server.pid), *psutil.Process(server.pid).children(recursive=True)]
            return {p.pid: sum(p.cpu_times()[:2]) for p in procs}

        def database_cpu() -> dict[int, float]:  # CPU seconds of this database's PostgreSQL backends
            with engine.connect() as conn:
                pids = conn.execute(sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                            "AND pid <> pg_backend_pid()")).scalars().all()
            seen = {}
            for pid in pids:
                try:
                    seen[pid] = sum(psutil.Process(pid).cpu_times()[:2])
                except (psutil.Error, OSError):  # another user's processes, or gone
                    pass
            return seen

        # Everything a page costs on this machine's cores: the client, the gateway's workers, the
        # database's backends.  On a shared machine their ratio says more than pages/s do.
        results, p99, total = {}, {}, {}
        for label, fetch in (("gateway (HTTP, audited)", via_api), ("direct SQL (same query)", via_sql)):
            cpu0, client0, db0 = server_cpus(), time.process_time(), database_cpu()
            pages, rows, lat, wall = walk(fetch, args.threads, args.requests, args.seconds)
            client = (time.process_time() - client0) / max(1, pages) * 1000  # this process: the clients
            db = sum(cpu - db0.get(pid, 0.0) for pid, cpu in database_cpu().items()) / max(1, pages) * 1000
            if fetch is via_api:
                spent = {pid: cpu - cpu0.get(pid, 0.0) for pid, cpu in server_cpus().items()}
                worker = sum(spent.values()) / max(1, pages) * 1000
                # uvicorn's workers share one listening socket and asyncio accepts every waiting
                # connection at once, so the clients' four kept connections can all land on one
                # worker (one core serving the gateway): the split says when a run was one of those.
                split = sorted((cpu for pid, cpu in spent.items() if pid != server.pid), reverse=True)
                print("gateway workers' share of its CPU: "
                      + " / ".join(f"{cpu / max(1e-9, sum(split)):.0%}" for cpu in split))
                print(f"gateway worker CPU per page: {worker:.2f} ms; HTTP client CPU per page {client:.2f} ms; "
                      f"PostgreSQL {db:.2f} ms; machine load average {os.getloadavg()[0]:.1f}")
                total[label] = worker + client + db
            else:
                print(f"direct SQL client CPU per page (query, decode): {client:.2f} ms; PostgreSQL {db:.2f} ms")
                total[label] = client + db
            results[label], p99[label] = pages / wall, percentile(lat, 0.99) * 1000
            print(f"{label:<26} {pages:>6} pages {rows:>8} rows in {wall:6.1f} s: {pages / wall:8.1f} pages/s "
                  f"{rows / wall:9.0f} rows/s  p50 {statistics.median(lat) * 1000:6.1f} ms  "
                  f"p99 {percentile(lat, 0.99) * 1000:6.1f} ms")
        api, sql = results.values()
        cpu_api, cpu_sql = total.values()
        print(f"CPU per page, every process: gateway {cpu_api:.2f} ms, direct SQL {cpu_sql:.2f} ms "
              f"(direct/gateway {cpu_sql / cpu_api:.3f})")
        print(f"ratio gateway/direct SQL: {api / sql:.3f} ({sql / api:.1f}x slower); page size {args.limit}, "
              f"{args.threads} client threads, {args.workers} uvicorn workers, {os.cpu_count()} cores, "
              f"grant fields={args.fields}")
        problems = audit.verify(engine)
        print(f"audit log after the run: {audit.head(engine)['seq']} entries, "
              f"{'intact' if not problems else f'{len(problems)} problems'}")
        engine.dispose()
        sql_engine.dispose()
        print(f"gateway/direct ratio {api / sql:.3f}, p99 {p99['gateway (HTTP, audited)']:.1f} ms")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        store.forget_engines()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
