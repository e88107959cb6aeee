"""How long Airflow takes to parse dags/ when the city has N contracts (target: < 2 s for 100).

    .venv/bin/python bench/bench_dag_parse.py [--contracts 100] [--repeat 3]

Copies one demo contract N times under new ids (agency_k/dataset_k, 10 agencies) into a
temporary folder, then times Airflow's DagBag over dags/ (the dag-processor's view), a
worker's parse for one DAG (get_parsing_context), and munihub's contract loading alone.
Airflow's own import is not counted: the dag-processor pays it once.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def template() -> str:
    """A loadable demo contract (the first under contracts/ that loads), as text."""
    from munihub.contracts import discover_contracts, load_contract

    for path in discover_contracts(ROOT / "contracts"):
        try:
            load_contract(path)
        except Exception:  # noqa: BLE001 - any contract that loads will do
            continue
        return path.read_text("utf-8")
    raise SystemExit("bench: no loadable contract under contracts/ to copy")


def write_contracts(folder: Path, n: int) -> None:
    text = template()
    for k in range(n):
        agency, dataset = f"agency{k % 10}", f"dataset{k}"
        body = re.sub(r"(?m)^id: .*$", f"id: {agency}.{dataset}", text, count=1)
        path = folder / agency / f"{dataset}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, "utf-8")


def timed(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--contracts", type=int, default=100)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="munihub-bench-"))
    os.environ.update({
        "AIRFLOW_HOME": str(work / "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{work / 'airflow.db'}",
        "MUNIHUB_CONTRACTS": str(work / "contracts"),
    })
    write_contracts(work / "contracts", args.contracts)

    import logging
    logging.disable(logging.INFO)
    from airflow.dag_processing.dagbag import DagBag

    from munihub.contracts import load_all

    load_s, (good, bad) = timed(lambda: load_all(work / "contracts"), args.repeat)
    full_s, bag = timed(lambda: DagBag(str(ROOT / "dags")), args.repeat)
    assert not bag.import_errors, bag.import_errors
    os.environ["_AIRFLOW_PARSING_CONTEXT_DAG_ID"] = "sync__agency3__dataset13"
    one_s, one = timed(lambda: DagBag(str(ROOT / "dags")), args.repeat)
    del os.environ["_AIRFLOW_PARSING_CONTEXT_DAG_ID"]
    # Airflow's own share: the same parse with the contracts already loaded
    import munihub.contracts
    real = munihub.contracts.load_all
    munihub.contracts.load_all = lambda *a, **k: (list(good), list(bad))
    dags_s, _ = timed(lambda: DagBag(str(ROOT / "dags")), args.repeat)
    munihub.contracts.load_all = real
    print(f"contracts: {args.contracts} ({len(good)} loaded, {len(bad)} broken), median of {args.repeat}")
    print(f"munihub load_all (parse + ODCS schema check): {load_s:.3f} s")
    print(f"DagBag over dags/ (dag-processor): {full_s:.3f} s -> {len(bag.dags)} DAGs, "
          f"{sum(len(d.tasks) for d in bag.dags.values())} tasks  [target < 2 s]")
    print(f"  of which building the DAGs (contracts preloaded): {dags_s:.3f} s")
    print(f"DagBag for one DAG (worker, parsing context): {one_s:.3f} s -> {sorted(one.dags)}")
    return 0 if full_s < 2 else 1


if __name__ == "__main__":
    sys.exit(main())
