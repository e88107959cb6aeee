"""Persons matching and 137 request grouping on the fifth blind set (`bench/blind5_exports.py`):
an HR/payroll MariaDB table, a permit portal's paginated JSON API on 127.0.0.1, a sports
centre's semicolon CSV and another 137 CSV export, read through the imperfect contracts a busy
engineer writes from the docs (`bench/blind5_contracts/`), synced and resolved in full in a store
of their own, scored per record against the generator's truth, overall and per phenomenon,
with the quarantined rows of each source counted by reason.

    python bench/bench_blind5.py [--households 500] [--seed 1] [--keep DIR] [--examples 3] [--plain two_digit]

Seeds 1 and 2 are for analysis; seed 3 is held out (run it once, tune nothing on it).
Needs MariaDB on 127.0.0.1:3306 (root, no password): the set's database
`munihub_blind5_<seed>_<pid>` is dropped at the end, whatever happens.
Scoring and loss reports are bench_blind's; a record the store does not hold stays a singleton.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_blind  # noqa: E402
import blind5_exports  # noqa: E402
from bench_blind4 import quarantine_reasons  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="generate and keep the store here (else a temp dir)")
    ap.add_argument("--examples", type=int, default=0)
    ap.add_argument("--plain", default="", help="phenomena the generator leaves out (see blind5_exports.PLAIN)")
    a = ap.parse_args()
    blind5_exports.PLAIN.update(x for x in a.plain.split(",") if x)
    with tempfile.TemporaryDirectory(prefix="blind5-") as tmp:
        out = a.keep or Path(tmp)
        gen = blind5_exports.generate(out, a.households, a.seed)
        try:
            got = bench_blind.drive(out, blind5_exports.CONTRACTS, blind5_exports.CALLS)
        finally:
            gen["cleanup"]()
        truth = gen["persons"]
        print(f"seed {a.seed}{' plain ' + a.plain if a.plain else ''}: {gen['people']} people, {a.households} households, {len(truth)} person records, "
              f"{len(gen['requests'])} calls; sync+resolve {got['cpu_s']} CPU s")
        for dataset in blind5_exports.CONTRACTS:
            bench_blind.print_source(dataset, got)
            for r, n in quarantine_reasons(dataset, got).most_common(6):
                print(f"      quarantined {n:4d}  {r}")
        bench_blind.report_scores(truth, gen["requests"], gen["calls"], got, a.examples)


if __name__ == "__main__":
    main()
