"""munihub vs Splink on one labelled English person file: wall time, peak memory, pairwise P/R/F1.

    .venv/bin/python bench/bench_vs_splink.py --records 1000000          # generated, cached
    .venv/bin/python bench/bench_vs_splink.py --input persons.parquet     # your own file

The file (CSV or Parquet) has the columns `bench/person_file.py` documents (`unique_id`,
`cluster` = the true person, `first_name`, `surname`, `dob`, `ssn`, `postcode`, `address`,
`city`); without `--input` it is made by `bench/english_persons.py` (the kind of data
Splink's scale tests use) and cached in the temp folder.  Each tool runs in its own process
and writes one cluster id per record; this script scores both the same way (pairwise
precision, recall and F1 over all pairs inside the predicted clusters against the true ones).

- `splink`: Splink 4 on DuckDB, in its own virtualenv (`.bench-venvs/splink`, made from PyPI
  on first use: never a dependency of the hub).  A standard setup after Splink's tutorial:
  name comparisons with term-frequency adjustments, date-of-birth, postcode, a
  Damerau-Levenshtein SSN, a Jaro-Winkler address; the prior from deterministic rules
  (recall 0.7), u from 1e6 random pairs (its default), m by two EM sessions (blocked on the
  SSN, and on first name + surname + dob); predictions at match
  probability 0.9, clustered at 0.9.
- `munihub`: the file's rows as person records (`person_file.match_records`: the person
  schema's fields), the match settings of `bench/english_match_settings.yaml` (what a user
  puts in `MUNIHUB_MATCH_SETTINGS`), then what a full `resolve_type` computes: features and
  blocking, a model trained on the data, candidate scoring on every core
  (`munihub.resolve.vectorized`), clustering and stable ids.  Store reads/writes and golden
  records are not timed (nor is Splink's reading of the file into DuckDB, which is).

Peak memory is sampled every 0.2 s as the sum of the proportional set size (PSS) of the tool's
process and its children, so pages forked workers share count once.  The last line is
`summary: munihub T s (CPU C s) M MB F1 f | splink … | munihub/splink wall R, CPU R`; on a
shared machine compare the CPU seconds (DuckDB's threads and munihub's workers included).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SPLINK_PINS = ["splink==4.0.17", "pyarrow"]

sys.path.insert(0, str(HERE))
from venvs import tool_python  # noqa: E402


def cpu_seconds() -> float:
    """CPU seconds of this process (every thread: DuckDB's too) and of its finished children
    (munihub's forked workers): on a shared machine the honest measure of the work done."""
    import resource

    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


# ----------------------------------------------------------------------------- Splink (own venv)
def run_splink(path: str, out: str, threshold: float) -> dict:
    """Splink 4 on DuckDB; runs in Splink's virtualenv (nothing from munihub imported)."""
    import duckdb
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    t0, c0 = time.perf_counter(), cpu_seconds()
    con = duckdb.connect()
    reader = "read_parquet" if path.endswith(".parquet") else "read_csv_auto"
    con.execute(f"CREATE TABLE persons AS SELECT unique_id, first_name, surname, dob, ssn, postcode, "
                f"address, city FROM {reader}(?)", [path])
    df = con.table("persons")
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.DamerauLevenshteinAtThresholds("ssn", [1, 2]),
            cl.PostcodeComparison("postcode"),
            cl.JaroWinklerAtThresholds("address", [0.9, 0.8]),
            cl.ExactMatch("city").configure(term_frequency_adjustments=True),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("ssn"),
            block_on("surname", "dob"),
            block_on("first_name", "dob"),
            block_on("dob", "postcode"),
            block_on("first_name", "postcode"),
            block_on("first_name", "address"),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    stages, mark = {}, [time.perf_counter()]

    def lap(name: str) -> None:
        now = time.perf_counter()
        stages[name] = round(now - mark[0], 1)
        mark[0] = now

    linker = Linker(df, settings, DuckDBAPI(connection=con))
    lap("read+setup")
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "surname", "dob"), block_on("ssn")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)  # its default
    lap("prior+u")
    # two EM sessions whose blocks stay small at a million records (blocking EM on first
    # name + surname, as the small tutorials do, made 2,105 of Splink's 2,139 s at 1M):
    # pairs sharing an SSN give m of everything else, pairs sharing name and dob the SSN's
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("ssn"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("first_name", "surname", "dob"))
    lap("EM")
    pairs = linker.inference.predict(threshold_match_probability=threshold)
    lap("predict")
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pairs, threshold)
    lap("cluster")
    n_pairs = con.execute(f"SELECT count(*) FROM {pairs.physical_name}").fetchone()[0]
    con.execute(f"COPY (SELECT unique_id, cluster_id FROM {clusters.physical_name}) TO '{out}' (FORMAT parquet)")
    return {"seconds": time.perf_counter() - t0, "cpu": cpu_seconds() - c0, "pairs": n_pairs, "stages": stages}


# ----------------------------------------------------------------------------- munihub
def run_munihub(path: str, out: str, threshold: float) -> dict:
    """munihub's matcher on the file (runs in the hub's virtualenv)."""
    import gc

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    sys.path.insert(0, str(HERE))
    from person_file import read_records, settings

    from munihub.resolve import components, match, vectorized
    from munihub.resolve.conflicts import conflict_of

    t0, c0 = time.perf_counter(), cpu_seconds()
    gc.disable()  # as resolve_all does
    conf_all = settings(HERE / "english_match_settings.yaml")
    records = read_records(Path(path))
    marks = {"read": time.perf_counter() - t0}
    slot = vectorized.build_index(records, "person", conf_all)
    del records
    marks["features+blocks"] = time.perf_counter() - t0 - sum(marks.values())
    conf = match.settings_for("person", conf_all)
    scored, _model = vectorized.score_index(slot, conf, None, free_blocks=True)
    marks["scoring"] = time.perf_counter() - t0 - sum(marks.values())
    label = components.cluster_scored(scored, conf["match"], (), conflict_of(slot["features"], conf))
    ids, cluster = components.cluster_ids(scored["refs"], label, {}, "person")
    marks["cluster+ids"] = time.perf_counter() - t0 - sum(marks.values())
    seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    # one row per record, in sorted-ref order, made in arrays (the refs are `persons|<id>`)
    refs = pa.array(scored["refs"], type=pa.string())
    unique_id = pc.cast(pc.utf8_slice_codeunits(refs, len("persons|")), pa.int64())
    pq.write_table(pa.table({"unique_id": unique_id,
                             "cluster_id": pa.array(ids, type=pa.string()).take(pa.array(cluster))}), out)
    strong = int((scored["probability"] >= conf["match"]).sum())
    return {"seconds": seconds, "cpu": cpu, "pairs": strong, "review": len(scored["probability"]) - strong,
            "stages": {k: round(v, 1) for k, v in marks.items()}}


# ----------------------------------------------------------------------------- the bench
def _tree_pss_mb(pid: int) -> float:
    """PSS of `pid` and every descendant, in MB (0 for a process gone meanwhile)."""
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text()
                kids.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
            except OSError:
                continue
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += kids.get(p, [])
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def _run(tool: str, python: str, path: Path, out: Path, threshold: float) -> dict:
    cmd = [python, __file__, "--run", tool, "--input", str(path), "--out", str(out), "--threshold", str(threshold)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            peak[0] = max(peak[0], _tree_pss_mb(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    done.set()
    sampler.join()
    if proc.returncode:
        raise SystemExit(f"{tool} failed:\n{stderr[-3000:]}")
    return {**json.loads(stdout.strip().splitlines()[-1]), "wall_s": wall, "peak_mb": peak[0]}


def pairwise(truth: dict, predicted: dict) -> tuple[float, float, float]:
    """Pairwise precision, recall, F1 of a clustering (id -> cluster) against the truth."""
    from collections import Counter
    from math import comb

    both = sum(comb(n, 2) for n in Counter((predicted[k], t) for k, t in truth.items()).values())
    pred = sum(comb(n, 2) for n in Counter(predicted[k] for k in truth).values())
    true = sum(comb(n, 2) for n in Counter(truth.values()).values())
    p, r = both / max(pred, 1), both / max(true, 1)
    return p, r, 2 * p * r / max(p + r, 1e-12)


def _splink_python() -> str:
    return tool_python("splink", SPLINK_PINS)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", type=Path, help="a labelled person file (CSV/Parquet); default: generated")
    ap.add_argument("--records", type=int, default=1_000_000, help="size of the generated file")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--skip", nargs="*", default=[], choices=["splink", "munihub"])
    ap.add_argument("--threshold", type=float, default=0.9, help="Splink's match probability threshold")
    ap.add_argument("--run", choices=["splink", "munihub"], help=argparse.SUPPRESS)  # one tool, in its process
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.run:
        fn = run_splink if args.run == "splink" else run_munihub
        print(json.dumps(fn(str(args.input), args.out, args.threshold)))
        return

    import pyarrow.parquet as pq

    sys.path.insert(0, str(HERE))
    from english_persons import records, write
    from person_file import read_rows

    path = args.input
    if path is None:
        path = Path(tempfile.gettempdir()) / f"munihub-bench-english-{args.records}-{args.seed}.parquet"
        if not path.exists():
            write(records(args.records, args.seed), path)
    truth = {r["unique_id"]: r["cluster"] for r in read_rows(path)}
    print(f"{path.name}: {len(truth)} records, {len(set(truth.values()))} people; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    work = Path(tempfile.mkdtemp(prefix="munihub-bench-splink-"))
    results = {}
    for tool in ("munihub", "splink"):
        if tool in args.skip:
            continue
        python = _splink_python() if tool == "splink" else sys.executable
        res = _run(tool, python, path, work / f"{tool}.parquet", args.threshold)
        table = pq.read_table(work / f"{tool}.parquet").to_pydict()
        res["p"], res["r"], res["f1"] = pairwise(truth, dict(zip(table["unique_id"], table["cluster_id"])))
        results[tool] = res
        print(f"{tool}: {res['seconds']:.1f} s inside ({res['wall_s']:.1f} s with start-up and reading), "
              f"CPU {res['cpu']:.1f} s, "
              f"peak {res['peak_mb']:.0f} MB, pairwise P {res['p']:.4f} R {res['r']:.4f} F1 {res['f1']:.4f}, "
              f"{res['pairs']} pairs >= match" + (f", {res['review']} to review" if "review" in res else "")
              + (f"; stages {res['stages']}" if "stages" in res else "")
              + f"; load average {os.getloadavg()[0]:.1f}", flush=True)
    line = " | ".join(f"{t} {r['wall_s']:.1f} s (CPU {r['cpu']:.1f} s) {r['peak_mb']:.0f} MB F1 {r['f1']:.4f}"
                      for t, r in results.items())
    if len(results) == 2:
        m, s = results["munihub"], results["splink"]
        line += (f" | munihub/splink wall {m['wall_s'] / s['wall_s']:.2f}, CPU {m['cpu'] / s['cpu']:.2f}")
    print(f"summary: {line}")


if __name__ == "__main__":
    main()
