"""The main job on the embedded default: build the demo city, sync every source through
Airflow, consolidate, and print the summary.

    python -m demo.run --home var/demo --fresh      # what `make demo` runs
    python -m demo.run --home var/demo --ui         # Airflow's UI on the same home

Everything lives under --home: the demo subsystems (sources/), the SQLite consolidated
store, Airflow's SQLite metadata (airflow/) and the stewards' report (reports/).  The 137
REST API runs inside this process on 127.0.0.1 while the DAGs run.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _env_file(path: Path) -> dict[str, str]:
    out = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, _, value = line.partition("=")
                out[key.removeprefix("export ").strip()] = value.strip().strip('"').strip("'")
    return out


def prepare(home: Path, fresh: bool, people: int, seed: int, store_url: str | None = None) -> dict[str, str]:
    """Build the demo subsystems (if needed), start the 137 API; the environment for the hub."""
    if fresh and home.exists():
        shutil.rmtree(home)
    sources = home / "sources"
    if not sources.is_dir():
        subprocess.run([sys.executable, "-m", "demo.build", "--out", str(sources), "--seed", str(seed),
                        "--people", str(people)], check=True, cwd=REPO)
    env = {"MUNIHUB_DEMO_137_TOKEN": secrets.token_hex(16)}
    env.update(_env_file(sources / "demo.env"))
    os.environ.update(env)
    from demo.requests_api import serve
    url = serve(next(p for p in (sources / "requests.json", sources / "requests.db") if p.exists()))
    env.update({
        "MUNIHUB_HOME": str(home), "MUNIHUB_STORE_URL": store_url or f"sqlite:///{home / 'munihub.db'}",
        "MUNIHUB_CONTRACTS": str(REPO / "contracts"), "MUNIHUB_SCHEMAS": str(REPO / "schemas"),
        "MUNIHUB_DEMO_DIR": str(sources), "MUNIHUB_DEMO_137_URL": url, "MUNIHUB_ALLOW_HOSTS": "127.0.0.1,localhost",
    })
    os.environ.update(env)
    return env


STANDALONE_137_PORT = 8137   # `python -m demo.requests_api`'s default


def write_hub_env(home: Path, env: dict[str, str]) -> Path:
    """`<home>/hub.env`: the exports that point the CLI at this home, so `munihub status` after
    the demo reads the demo's store instead of an empty ./.munihub.  The 137 API lives only
    while the demo runs; the file names the standalone server's port and the same token."""
    import shlex
    keys = ["MUNIHUB_HOME", "MUNIHUB_STORE_URL", "MUNIHUB_CONTRACTS", "MUNIHUB_SCHEMAS", "MUNIHUB_DEMO_DIR",
            "MUNIHUB_ALLOW_HOSTS", "MUNIHUB_DEMO_137_TOKEN"]
    sources = shlex.quote(str(Path(env["MUNIHUB_DEMO_DIR"]) / "requests.json"))
    lines = [f"# munihub: point the CLI at the demo home ({home}): `. {home}/hub.env`",
             *(f"export {k}={shlex.quote(env[k])}" for k in keys if env.get(k)),
             "# the 137 API runs only while `make demo` or `make airflow` runs; to sync it from the CLI,",
             f"# start it in another terminal (after this file): python -m demo.requests_api {sources}",
             f"export MUNIHUB_DEMO_137_URL=http://127.0.0.1:{STANDALONE_137_PORT}"]
    path = home / "hub.env"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def use_lines(path: Path) -> str:
    """The two lines a user types to use the demo home from the CLI."""
    try:
        shown = path.relative_to(Path.cwd())
    except ValueError:
        shown = path
    return f"use this home from the CLI:\n  . {shown}\n  munihub status"


def _airflow(*args: str, log: Path | None = None) -> int:
    """Run `python -m munihub.airflow.home ARGS`; with `log`, keep Airflow's chatter in that file
    and show only munihub's own one-line outcomes."""
    cmd = [sys.executable, "-m", "munihub.airflow.home", *args]
    if log is None:
        return subprocess.run(cmd, cwd=REPO).returncode
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as out, subprocess.Popen(
            cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1) as proc:
        for line in proc.stdout:
            out.write(line)
            if line.startswith("munihub:"):
                print(f"demo: {line.removeprefix('munihub:').strip()}", file=sys.stderr, flush=True)
    return proc.returncode


def run_through_airflow(home: Path) -> bool:
    """Run every sync DAG, then the consolidation DAG, with Airflow's own test runner; True if all succeeded."""
    from munihub.config import load_settings
    from munihub.contracts import load_all

    log = home / "logs" / "airflow-runs.log"
    if _airflow("setup", "--home", str(home / "airflow"), log=log) != 0:
        raise SystemExit(f"demo: setting up Airflow's home failed (see {log})")
    contracts, broken = load_all(load_settings().contracts_dir)
    for err in broken:
        print(f"demo: broken contract skipped: {err}", file=sys.stderr)
    dag_ids = [f"sync__{c.agency}__{c.dataset}" for c in contracts]
    print(f"demo: running {len(dag_ids)} sync DAGs and munihub__consolidate through Airflow "
          f"(Airflow's log: {log}) …", file=sys.stderr, flush=True)
    # One process for all runs: Airflow's in-process execution API starts once.
    return _airflow("run-dag", *dag_ids, "munihub__consolidate", "--home", str(home / "airflow"), log=log) == 0


def summary(since: dt.datetime) -> str:
    """Per source counts of this run's loads, entities before/after, and where the report is."""
    import sqlalchemy as sa

    from munihub import store
    from munihub.cli.main import table
    from munihub.config import load_settings
    from munihub.store import engine_for

    settings = load_settings()
    engine = engine_for(settings)
    t = store.loads
    with engine.connect() as conn:
        loads = conn.execute(sa.select(t).where(t.c.started_at >= since).order_by(t.c.source, t.c.started_at)).mappings().all()
        ents = conn.execute(sa.select(store.entities.c.entity_type, sa.func.count(),
                                      sa.func.sum(store.entities.c.member_count))
                            .group_by(store.entities.c.entity_type).order_by(store.entities.c.entity_type)).all()
        review = conn.execute(sa.select(sa.func.count()).select_from(store.review_queue)
                              .where(store.review_queue.c.status == "open")).scalar()
    rows = [{"source": r["source"], "status": r["status"], "read": r["rows_in"],
             "published": (r["rows_new"] or 0) + (r["rows_changed"] or 0) + (r["rows_unchanged"] or 0),
             "new": r["rows_new"], "quarantined": r["rows_quarantined"],
             "set_aside": sum((r["values_set_aside"] or {}).values()),
             "rows in = published + quarantined": "yes" if r["status"] != "published" or r["rows_in"] ==
             (r["rows_new"] or 0) + (r["rows_changed"] or 0) + (r["rows_unchanged"] or 0) + (r["rows_quarantined"] or 0)
             else "NO"} for r in loads]
    ent_rows = [{"entity type": e, "records before": n_members, "entities after": n,
                 "duplicates cut": n_members - n} for e, n, n_members in ents]
    index = settings.reports / "index.html"
    return "\n".join([
        "Sources (this run)", table(rows, list(rows[0]) if rows else ["source"]), "",
        "Duplicate cutting", table(ent_rows, ["entity type", "records before", "entities after", "duplicates cut"]),
        f"open review pairs: {review}", "",
        f"quality report: {index if index.exists() else '(not written)'}",
        f"consolidated store: {settings.store_url}",
    ])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Run the demo municipality end to end on the embedded default")
    p.add_argument("--home", default="var/demo", help="where everything is kept (default var/demo)")
    p.add_argument("--fresh", action="store_true", help="start from an empty home")
    p.add_argument("--people", type=int, default=300, help="citizens in the demo city")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--no-airflow", action="store_true", help="run the core directly instead of through Airflow")
    p.add_argument("--ui", action="store_true", help="start Airflow's UI on the demo home and wait")
    p.add_argument("--store-url", help="consolidated store URL (default: SQLite under --home)")
    args = p.parse_args(argv)
    home = Path(args.home).resolve()
    env = prepare(home, args.fresh, args.people, args.seed, args.store_url)
    hub_env = write_hub_env(home, env)
    if args.ui:
        print(use_lines(hub_env), file=sys.stderr, flush=True)
        return _airflow("standalone", "--home", str(home / "airflow"))
    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    started = time.monotonic()
    if args.no_airflow:
        from munihub.config import load_settings
        from munihub.pipeline.run_all import run_all
        run_all(load_settings(), progress=lambda m: print(f"demo: {m}", file=sys.stderr))
        ok = True
    else:
        ok = run_through_airflow(home)
    print(summary(since))
    print(f"\nwall time: {time.monotonic() - started:.1f} s")
    print(f"\n{use_lines(hub_env)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
