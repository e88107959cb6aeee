"""Prepare and drive an embedded Airflow home (SQLite metadata) for the demo, `make airflow` and tests.

    python -m munihub.airflow_home setup --home DIR        # env file, `airflow db migrate`, pools
    python -m munihub.airflow_home env --home DIR          # print the exports (eval "$(...)")
    python -m munihub.airflow_home run-dag DAG_ID --home DIR   # one run with `airflow dags test`
    python -m munihub.airflow_home standalone --home DIR   # the UI on 127.0.0.1:8080

Airflow itself only ever runs as a subprocess here, so importing this module stays cheap and
works without Airflow.  The MUNIHUB_* environment passes through to every Airflow command.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from munihub.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
DAGS_FOLDER = REPO_ROOT / "dags"
ENV_FILE = "airflow.env"
PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"
POOL_SLOTS = 2  # syncs at once against one source system; municipal databases are small


def default_home() -> Path:
    return Path(os.environ.get("MUNIHUB_HOME") or ".munihub") / "airflow"


def parallelism(cpus: int | None = None, sqlite: bool = True) -> int:
    """Task slots for this machine: SQLite metadata locks under concurrency, so stay small there."""
    cpus = cpus or os.cpu_count() or 2
    return max(2, cpus) if sqlite else max(4, 4 * cpus)


def airflow_env(home: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The AIRFLOW_* variables for an embedded home; an already-set metadata URL is kept (PostgreSQL)."""
    home = Path(home).resolve()
    base = dict(os.environ if base is None else base)
    sql = base.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN") or f"sqlite:///{home / 'airflow.db'}"
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sql,
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(parallelism(sqlite=sql.startswith("sqlite"))),
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "2",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": base.get("AIRFLOW__API__PORT", "8080"),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        # graphviz-free, quiet CLI output; tasks log to files under the home
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
    }


def full_env(home: Path) -> dict[str, str]:
    """This process's environment (MUNIHUB_* included) plus the home's Airflow settings."""
    return {**os.environ, **airflow_env(home)}


def write_env_file(home: Path) -> Path:
    """`export VAR=value` lines to source in a shell before running `airflow` by hand."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / ENV_FILE
    lines = [f"export {k}='{v}'" for k, v in sorted(airflow_env(home).items())]
    path.write_text("# written by python -m munihub.airflow_home setup\n" + "\n".join(lines) + "\n", "utf-8")
    return path


def airflow(home: Path, *args: str, check: bool = True, quiet: bool = False) -> int:
    """Run one `airflow` CLI command against `home`; a ConfigError naming it when it fails."""
    cmd = [sys.executable, "-m", "airflow", *args]
    out = subprocess.DEVNULL if quiet else None
    rc = subprocess.run(cmd, env=full_env(home), stdout=out).returncode
    if check and rc != 0:
        raise ConfigError(f"`airflow {' '.join(args)}` exited with {rc}", where=str(home),
                          hint="see the output above")
    return rc


def contract_pools() -> dict[str, dict]:
    """One pool per source system named by the contracts (contract.pool), in `pools import` format."""
    from munihub.config import load_settings
    from munihub.contracts import load_all

    settings = load_settings()
    contracts, _ = load_all(settings.contracts_dir, schemas_dir=settings.schemas_dir)
    slots = int(os.environ.get("MUNIHUB_POOL_SLOTS") or POOL_SLOTS)
    return {pool: {"slots": slots, "description": f"munihub syncs against source system {pool!r}"}
            for pool in sorted({c.pool for c in contracts})}


def setup(home: Path, quiet: bool = False) -> Path:
    """Env file, migrated metadata database and the contracts' pools; safe to run again."""
    home = Path(home).resolve()
    env_file = write_env_file(home)
    airflow(home, "db", "migrate", quiet=quiet)
    pools = contract_pools()
    if pools:
        pools_file = home / "pools.json"
        pools_file.write_text(json.dumps(pools, indent=2), "utf-8")
        airflow(home, "pools", "import", str(pools_file), quiet=quiet)
    (home / ".ready").write_text(time.strftime("%Y-%m-%dT%H:%M:%S"), "utf-8")
    return env_file


def ensure_setup(home: Path) -> None:
    if not (Path(home) / ".ready").exists():
        setup(home)


def run_dag(dag_id: str, home: Path) -> int:
    """One run of `dag_id` with Airflow's own test runner (no scheduler); 0 when the run succeeded."""
    ensure_setup(home)
    return airflow(home, "dags", "test", dag_id, check=False)


def read_login(home: Path) -> dict[str, str]:
    """The generated admin login of the simple auth manager ({user: password})."""
    path = Path(home) / PASSWORDS_FILE
    return json.loads(path.read_text("utf-8")) if path.is_file() else {}


def standalone(home: Path, wait_seconds: float = 120.0) -> int:
    """`airflow standalone` on 127.0.0.1 in its own process group; Ctrl-C stops the whole group."""
    home = Path(home).resolve()
    ensure_setup(home)
    env = full_env(home)
    proc = subprocess.Popen([sys.executable, "-m", "airflow", "standalone"], env=env, start_new_session=True)
    url = f"http://127.0.0.1:{env['AIRFLOW__API__PORT']}"

    def stop(*_):
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)

    signal.signal(signal.SIGTERM, lambda *a: (stop(), sys.exit(143)))
    try:
        deadline = time.monotonic() + wait_seconds
        while not read_login(home) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(1)
        for user, password in read_login(home).items():
            print(f"\nmunihub: Airflow UI at {url}  login: {user} / {password}\n", flush=True)
        return proc.wait()
    except KeyboardInterrupt:
        stop()
        return 130


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m munihub.airflow_home",
                                description="Prepare and drive an embedded Airflow home for munihub")
    sub = p.add_subparsers(dest="command", required=True)
    for name, text in (("setup", "write the env file, migrate the metadata DB, create the pools"),
                       ("env", "print the shell exports for this home"),
                       ("standalone", "start Airflow's UI, scheduler and workers on 127.0.0.1")):
        sp = sub.add_parser(name, help=text, description=text)
        sp.add_argument("--home", type=Path, default=default_home(), help="Airflow home (default $MUNIHUB_HOME/airflow)")
    rp = sub.add_parser("run-dag", help="run one DAG with `airflow dags test`", description="run one DAG once")
    rp.add_argument("dag_id")
    rp.add_argument("--home", type=Path, default=default_home(), help="Airflow home (default $MUNIHUB_HOME/airflow)")
    args = p.parse_args(argv)
    try:
        if args.command == "env":
            print((write_env_file(Path(args.home).resolve())).read_text("utf-8"), end="")
            return 0
        if args.command == "setup":
            env_file = setup(args.home, quiet=True)
            print(f"munihub: Airflow home ready; `source {env_file}` to use the airflow CLI on it", file=sys.stderr)
            print(env_file.read_text("utf-8"), end="")
            return 0
        if args.command == "run-dag":
            return run_dag(args.dag_id, args.home)
        return standalone(args.home)
    except ConfigError as exc:
        print(f"munihub: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
