"""Persons matching and 137 request grouping on the sixth blind set (`bench/blind6_exports.py`):
citizens seen through non-person records (permit owners as deeds write them, fee payers, 137
calls located by coordinates or a landmark) beside the person registry, read through the
contracts a busy engineer writes from the docs, synced and resolved in full in a store of their
own, scored per record against the generator's truth, overall and per phenomenon, with the
quarantined rows of each source counted by reason and each contract's lint problems.

    python bench/bench_blind6.py [--households 500] [--seed 1] [--keep DIR] [--examples 3] [--plain heirs,agent]

Seeds 1 and 2 are for analysis; seed 3 is held out (run it once, tune nothing on it).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_blind  # noqa: E402
import blind6_exports  # noqa: E402
from bench_blind4 import quarantine_reasons  # noqa: E402


def lint(out: Path) -> None:
    from munihub.config import REPO_ROOT
    from munihub.contracts.load import lint_contract

    for path in sorted((out / "contracts").rglob("*.yaml")):
        if path.name == "match_settings.yaml":
            continue
        res = lint_contract(path, schemas_dir=REPO_ROOT / "schemas")
        print(f"  lint {path.relative_to(out / 'contracts')}: valid ODCS {res['valid_odcs']}, runnable {res['runnable']}")
        for p in res["problems"]:
            print(f"      line {p['line']}: {p['layer']}: {p['message'][:200]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="generate and keep the store here (else a temp dir)")
    ap.add_argument("--examples", type=int, default=0)
    ap.add_argument("--plain", default="", help="phenomena the generator leaves out (see blind6_exports.PLAIN)")
    a = ap.parse_args()
    blind6_exports.PLAIN.update(x for x in a.plain.split(",") if x)
    with tempfile.TemporaryDirectory(prefix="blind6-") as tmp:
        out = a.keep or Path(tmp)
        gen = blind6_exports.generate(out, a.households, a.seed)
        lint(out)
        got = bench_blind.drive(out, blind6_exports.CONTRACTS, blind6_exports.CALLS)
        truth = gen["persons"]
        print(f"seed {a.seed}{' plain ' + a.plain if a.plain else ''}: {gen['people']} people, {a.households} households, "
              f"{len(truth)} person records, {len(gen['requests'])} calls; sync+resolve {got['cpu_s']} CPU s")
        for dataset in blind6_exports.CONTRACTS:
            bench_blind.print_source(dataset, got)
            for r, n in quarantine_reasons(dataset, got).most_common(6):
                print(f"      quarantined {n:4d}  {r}")
        bench_blind.report_scores(truth, gen["requests"], gen["calls"], got, a.examples)


if __name__ == "__main__":
    main()
