"""Persons matching and 137 request grouping on the tenth blind set (`bench/blind8_exports.py`):
contractors' systems in English (Latin-script «Finglish» names, Gregorian dates in several
formats, +98 phones, national ids as numbers) beside the Persian registry of the same people,
synced and resolved in full in a store of their own, scored per record against the generator's
truth, overall and per phenomenon (cross-script pairs; households and namesakes as traps).

    python bench/bench_blind8.py [--households 400] [--seed 1] [--keep DIR] [--examples 3]

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
import blind8_exports  # noqa: E402
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
    ap.add_argument("--households", type=int, default=400)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="generate and keep the store here (else a temp dir)")
    ap.add_argument("--examples", type=int, default=0)
    ap.add_argument("--plain", default="", help="phenomena the generator leaves out (see blind8_exports.PLAIN)")
    a = ap.parse_args()
    blind8_exports.PLAIN.update(x for x in a.plain.split(",") if x)
    with tempfile.TemporaryDirectory(prefix="blind8-") as tmp:
        out = a.keep or Path(tmp)
        gen = blind8_exports.generate(out, a.households, a.seed)
        lint(out)
        got = bench_blind.drive(out, blind8_exports.CONTRACTS, blind8_exports.CALLS)
        truth = gen["persons"]
        print(f"seed {a.seed}{' plain ' + a.plain if a.plain else ''}: {gen['people']} people, {a.households} households, "
              f"{len(truth)} person records, {len(gen['requests'])} calls; sync+resolve {got['cpu_s']} CPU s")
        for dataset in blind8_exports.CONTRACTS:
            bench_blind.print_source(dataset, got)
            for r, n in quarantine_reasons(dataset, got).most_common(6):
                print(f"      quarantined {n:4d}  {r}")
        bench_blind.report_scores(truth, gen["requests"], gen["calls"], got, a.examples)


if __name__ == "__main__":
    main()
