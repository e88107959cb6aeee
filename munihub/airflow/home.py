"""Prepare and drive an embedded Airflow home (SQLite metadata) for the demo, `make airflow` and tests.

    python -m munihub.airflow.home setup --home DIR        # env file, `airflow db migrate`, pools
    python -m munihub.airflow.home env --home DIR          # print the exports (eval "$(...)")
    python -m munihub.airflow.home run-dag DAG_ID... --home DIR   # one run each (dag.test)
    python -m munihub.airflow.home standalone --home DIR   # the UI on 127.0.0.1:8080

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

from munihub.config import REPO_ROOT
from munihub.errors import ConfigError

DAGS_FOLDER = REPO_ROOT / "dags"
ENV_FILE = "airflow.env"
PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"
POOL_SLOTS = 2  # syncs at once against one source system; municipal databases are small


def default_home() -> Path:
    return Path(os.environ.get("MUNIHUB_HOME") or ".munihub") / "airflow"


def parallelism(cpus: int | None = None) -> int:
    """LocalExecutor task slots: one running task per core (at least 2), on any metadata database.

    More slots than cores only share the cores out thinner: a flooding source's task would
    then slow every running task instead of holding its one slot (tests/faults/test_load_isolation.py).
    """
    return max(2, cpus or os.cpu_count() or 2)


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
        "AIRFLOW__CORE__PARALLELISM": str(parallelism()),
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "2",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": base.get("AIRFLOW__API__PORT", "8080"),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        # graphviz-free, quiet CLI output; tasks log to files under the home
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
    }


def full_env(home: Path) -> dict[str, str]:
    """This process's environment (MUNIHUB_* included) plus the home's Airflow settings.

    The interpreter's bin folder goes first on PATH: `airflow standalone` starts its
    components as `airflow ...` found on PATH, which must be this virtualenv's.
    """
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {**os.environ, **airflow_env(home), "PATH": path}


def write_env_file(home: Path) -> Path:
    """`export VAR=value` lines to source in a shell before running `airflow` by hand."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / ENV_FILE
    lines = [f"export {k}='{v}'" for k, v in sorted(airflow_env(home).items())]
    path.write_text("# written by python -m munihub.airflow.home setup\n" + "\n".join(lines) + "\n", "utf-8")
    return path


def contract_pools() -> dict[str, dict]:
    """One pool per source system named by the contracts (contract.pool), in `pools import` format."""
    from munihub.config import load_settings
    from munihub.contracts import load_all

    settings = load_settings()
    contracts, _ = load_all(settings.contracts_dir, schemas_dir=settings.schemas_dir)
    slots = int(os.environ.get("MUNIHUB_POOL_SLOTS") or POOL_SLOTS)
    return {pool: {"slots": slots, "description": f"munihub syncs against source system {pool!r}"}
            for pool in sorted({c.pool for c in contracts})}


def _write_inputs(home: Path) -> tuple[Path, Path]:
    """The env file and the pools file the Airflow-side preparation reads."""
    env_file = write_env_file(home)
    pools_file = home / "pools.json"
    pools_file.write_text(json.dumps(contract_pools(), indent=2), "utf-8")
    return env_file, pools_file


def setup(home: Path, quiet: bool = False) -> Path:
    """Env file, migrated metadata database and the contracts' pools; safe to run again.

    Migration and pools run in one Airflow process (what `airflow db migrate` and
    `airflow pools import` do), so the ~5 s Airflow start-up is paid once.
    """
    home = Path(home).resolve()
    env_file, pools_file = _write_inputs(home)
    cmd = [sys.executable, "-m", "munihub.airflow.home", "_prepare", str(pools_file)]
    out = subprocess.DEVNULL if quiet else None
    rc = subprocess.run(cmd, env=full_env(home), stdout=out).returncode
    if rc != 0:
        raise ConfigError(f"preparing Airflow's metadata database failed (exit {rc})", where=str(home),
                          hint="see the output above; `airflow db migrate` with the env file gives the details")
    return env_file


def _prepare(pools_file: Path) -> int:
    """Inside the Airflow environment: migrate the metadata DB, create or update the pools."""
    from airflow.models.pool import Pool
    from airflow.utils import db

    db.upgradedb()
    for name, pool in json.loads(Path(pools_file).read_text("utf-8")).items():
        Pool.create_or_update_pool(name, pool["slots"], pool["description"], include_deferred=False)
    (Path(pools_file).parent / ".ready").write_text(time.strftime("%Y-%m-%dT%H:%M:%S"), "utf-8")
    return 0


def run_dags(dag_ids: list[str], home: Path) -> int:
    """One run of each DAG with Airflow's own test runner (no scheduler), in order; 0 if all succeeded.

    All runs share one Airflow process, so the in-process execution API (~10 s to start) is
    paid once, not per DAG as with one `airflow dags test` per DAG.  A home that was never
    set up is prepared in the same process.
    """
    home = Path(home).resolve()
    cmd = [sys.executable, "-m", "munihub.airflow.home", "_test-in-process", *dag_ids]
    if not (home / ".ready").exists():
        _, pools_file = _write_inputs(home)
        cmd += ["--prepare", str(pools_file)]
    return subprocess.run(cmd, env=full_env(home)).returncode


def _test_in_process(dag_ids: list[str], prepare: Path | None = None) -> int:
    """Inside the Airflow environment: parse dags/ once, then `dag.test()` each DAG, print outcomes."""
    if prepare:
        _prepare(prepare)
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.state import DagRunState

    bag = DagBag(str(DAGS_FOLDER))
    failed = []
    for dag_id in dag_ids:
        started = time.monotonic()
        dag = bag.dags.get(dag_id)
        if dag is None:
            errors = "; ".join(f"{f}: {e}" for f, e in bag.import_errors.items())
            print(f"munihub: no DAG {dag_id!r} in {DAGS_FOLDER}{' (' + errors + ')' if errors else ''}; "
                  f"known: {', '.join(sorted(bag.dags))}", file=sys.stderr)
            failed.append(dag_id)
            continue
        run = dag.test()
        state = getattr(run, "state", None)
        print(f"munihub: {dag_id}: {state} in {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
        if state != DagRunState.SUCCESS:
            failed.append(dag_id)
    if failed:
        print(f"munihub: failed DAG runs: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def read_login(home: Path) -> dict[str, str]:
    """The generated admin login of the simple auth manager ({user: password})."""
    path = Path(home) / PASSWORDS_FILE
    return json.loads(path.read_text("utf-8")) if path.is_file() else {}


def _answers(url: str) -> bool:
    import urllib.request
    try:
        with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=2) as resp:  # noqa: S310 - 127.0.0.1
            return resp.status == 200
    except OSError:
        return False


def standalone(home: Path, wait_seconds: float = 120.0) -> int:
    """`airflow standalone` on 127.0.0.1 in its own process group; Ctrl-C stops the whole group."""
    home = Path(home).resolve()
    if not (home / ".ready").exists():
        setup(home)
    env = full_env(home)
    proc = subprocess.Popen([sys.executable, "-c", "from munihub.airflow.home import run_standalone; run_standalone()"],
                            env=env, start_new_session=True)
    url = f"http://127.0.0.1:{env['AIRFLOW__API__PORT']}"

    def interrupted(*_):
        raise KeyboardInterrupt  # stop in the main flow, not inside a signal handler that may interrupt wait()

    signal.signal(signal.SIGTERM, interrupted)
    try:
        deadline = time.monotonic() + wait_seconds
        while not (read_login(home) and _answers(url)) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(1)
        for user, password in read_login(home).items():
            print(f"\nmunihub: Airflow UI at {url}  login: {user} / {password}\n", flush=True)
        return proc.wait()
    except KeyboardInterrupt:
        stop_group(proc)
        return 130


# Airflow's log servers (scheduler: 8793, triggerer: 8794) listen on every interface, and
# their host is not a setting.  On one machine the API server reads task logs straight from
# the log folder, so the embedded home runs without them and nothing listens beyond 127.0.0.1.
LOG_SERVING_COMPONENTS = ("scheduler", "triggerer")


def without_log_server(command: list[str]) -> list[str]:
    """A standalone component's `airflow` arguments, with `--skip-serve-logs` where it applies."""
    if command and command[0] in LOG_SERVING_COMPONENTS and "--skip-serve-logs" not in command:
        return [*command, "--skip-serve-logs"]
    return list(command)


def run_standalone() -> None:
    """`airflow standalone`, its scheduler and triggerer started without their log servers."""
    from airflow.cli.commands import standalone_command as sc

    original = sc.SubCommand.__init__

    def init(self, parent, name, command, env):
        original(self, parent, name, without_log_server(command), env)

    sc.SubCommand.__init__ = init
    sc.StandaloneCommand().run()


def stop_group(proc: subprocess.Popen, grace: float = 30.0) -> None:
    """SIGTERM the process group `proc` leads, then SIGKILL whatever is left after `grace` seconds."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m munihub.airflow.home",
                                description="Prepare and drive an embedded Airflow home for munihub")
    sub = p.add_subparsers(dest="command", required=True)
    for name, text in (("setup", "write the env file, migrate the metadata DB, create the pools"),
                       ("env", "print the shell exports for this home"),
                       ("standalone", "start Airflow's UI, scheduler and workers on 127.0.0.1")):
        sp = sub.add_parser(name, help=text, description=text)
        sp.add_argument("--home", type=Path, default=default_home(), help="Airflow home (default $MUNIHUB_HOME/airflow)")
    rp = sub.add_parser("run-dag", help="run DAGs once each with Airflow's test runner (dag.test)",
                        description="run each DAG once, in order, in one Airflow process; exit 1 if any failed")
    rp.add_argument("dag_ids", nargs="+", metavar="DAG_ID")
    pp = sub.add_parser("_prepare")  # internal: migrate + pools inside the Airflow environment
    pp.add_argument("pools_file", type=Path)
    tp = sub.add_parser("_test-in-process")  # internal: runs inside the prepared Airflow environment
    tp.add_argument("dag_ids", nargs="+")
    tp.add_argument("--prepare", type=Path)
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
            return run_dags(args.dag_ids, args.home)
        if args.command == "_prepare":
            return _prepare(args.pools_file)
        if args.command == "_test-in-process":
            return _test_in_process(args.dag_ids, args.prepare)
        return standalone(args.home)
    except ConfigError as exc:
        print(f"munihub: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
