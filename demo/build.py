"""Build the demo municipality (Mashhad): six subsystems of different kinds from one population.

`python -m demo.build --out DIR --seed 7 --people 300` writes a SQLite registry, the 137
requests (served by `demo.requests_api`), a CSV permit drop (cp1256 and UTF-8 with BOM), a
SQLite payments database, a JSON Lines project drop, an xlsx agency directory and small
JSON files, plus truth tables under `truth/` and `demo.env` for the contracts' variables.
The same people recur across systems, spelled differently; a few records per source are
bad on purpose (bad check digit, impossible Jalali date, missing required field).
"""
from __future__ import annotations

import argparse
import json
import random
import secrets
import sqlite3
from pathlib import Path

from demo import agencies
from munihub.testing import synthetic as syn

BAD_JALALI = "1403/07/31"   # Mehr has 30 days


def _when(rng: random.Random, month: int = 9) -> str:
    """A legacy 'updated_at' text in 2024 (sortable, the systems' watermark)."""
    return f"2024-{month:02d}-{rng.randrange(1, 29):02d} {rng.randrange(24):02d}:{rng.randrange(60):02d}:00"


def _copies(people, rng, noise, source, key_of, truth, bad=6):
    """(noisy copy, bad kind or "") for each of `people`, with truth rows; about `bad` of them spoiled."""
    out = []
    bad_every = max(7, len(people) // bad) if bad else 0
    for i, person in enumerate(people):
        rec, kinds = syn.noisy_copy(person, rng, noise)
        spoilt = ""
        if bad_every and i % bad_every == bad_every - 1:
            spoilt = syn.BAD_KINDS[(i // bad_every) % len(syn.BAD_KINDS)]
            rec = syn.spoil(rec, spoilt, rng)
        out.append((rec, spoilt))
        row = syn.person_truth(source, key_of(i, rec, person), person, kinds)
        row["bad"] = spoilt
        truth.append(row)
    return out


def build_registry(out: Path, people, rng, truth) -> int:
    """Citizen registry: SQLite `registry.db`, table `citizens`, `updated_at` watermark."""
    recs = _copies(people, rng, 0.6, "registry.citizens", lambda i, r, p: str(i + 1),  # the row id (recordId)
                   truth)
    recs = [r for r, _ in recs]
    con = sqlite3.connect(out / "registry.db")
    con.execute("DROP TABLE IF EXISTS citizens")
    con.execute("""CREATE TABLE citizens (id INTEGER PRIMARY KEY, code_melli TEXT, fname TEXT, lname TEXT,
                   father TEXT, jensiat TEXT, birth_jalali TEXT, mobile TEXT, code_posti TEXT,
                   mantaghe TEXT, address TEXT, updated_at TEXT NOT NULL)""")
    con.executemany(
        "INSERT INTO citizens VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        [(i + 1, r["national_id"], r["first_name"], r["last_name"], r["father_name"], r["gender"],
          r["birth_date"], r["mobile"], r["postal_code"], r["district"],
          f"{r['street'] or ''}، پلاک {r['plate']}", _when(rng, 1 + i * 9 // len(recs)))
         for i, r in enumerate(recs)])
    con.commit()
    con.close()
    return len(recs)


def build_requests(out: Path, people, seed, truth_rows) -> int:
    """137 requests as JSON, served by demo.requests_api; includes follow-ups and bad records."""
    reqs, truth = syn.make_requests(people, seed, cases=max(20, len(people) // 2))
    rng = random.Random(seed)
    for i, code in ((3, "bad_check_digit"), (11, "missing_required"), (17, "bad_date")):
        if i < len(reqs):
            r = reqs[i]
            if code == "bad_check_digit":
                r["national_id"] = syn.spoil({"national_id": r["national_id"] or "0923456789"}, code, rng)["national_id"]
            elif code == "missing_required":
                r["filed_at"] = None
            else:
                r["filed_at"] = BAD_JALALI + " 10:00"
            truth[i]["bad"] = code
    # At the top of the run folder: demo/run.py serves DIR/requests.json.
    (out / "requests.json").write_text(json.dumps({"data": reqs}, ensure_ascii=False, indent=1), "utf-8")
    truth_rows.extend(truth)
    return len(reqs)


PERMIT_COLUMNS = ["ParvaneNo", "CodeMelli", "MalekName", "Mobile", "PelakSabti", "Address", "Mantaghe",
                  "NoeParvane", "Metraj", "Tabaghat", "Vaziat", "TarikhSodur", "TarikhEngheza"]
PERMIT_KINDS = ["احداث", "تمدید", "تغییر کاربری", "اضافه اشکوب", "تخریب و نوسازی"]
PERMIT_STATUS = ["صادر شده", "در انتظار", "باطل شده", "منقضی"]


def build_permits(out: Path, people, rng, truth) -> int:
    """Building permits: a CSV drop folder, 1402 file in cp1256, 1403 file in UTF-8 with BOM."""
    import csv
    folder = out / "permits"
    folder.mkdir(exist_ok=True)
    recs = _copies(people, rng, 1.0, "urbanplanning.permits", lambda i, r, p: f"PR-{1402 + i % 2}-{i + 1:05d}",
                   truth)
    by_year: dict[int, list] = {1402: [], 1403: []}
    for i, (r, bad) in enumerate(recs):
        year = 1402 + i % 2
        month, day = rng.randint(1, 12), rng.randint(1, 29)
        issued = f"{year}/{month:02d}/{day:02d}" if rng.random() < 0.7 else f"{year}-{month}-{day}"
        if bad == "bad_jalali_date":
            issued = BAD_JALALI     # permits carry the impossible date on their issue date
        number = None if bad == "missing_required" else f"PR-{year}-{i + 1:05d}"
        by_year[year].append([
            number, r["national_id"] or "",
            f"{r['first_name']} {r['last_name']}", r["mobile"], f"{rng.randrange(100, 9999)}/{rng.randrange(1, 300)}",
            f"{r['street'] or ''}، پلاک {r['plate']}", r["district"], rng.choice(PERMIT_KINDS),
            rng.randrange(80, 2000), rng.randint(1, 12), rng.choice(PERMIT_STATUS), issued,
            f"{year + 2}/{month:02d}/{day:02d}"])
    # cp1256 has no Persian yeh (ی) nor Persian digits: the legacy file carries Arabic ي and Latin digits.
    legacy = str.maketrans({"ی": "ي", **{chr(0x6F0 + d): str(d) for d in range(10)},
                            **{chr(0x660 + d): str(d) for d in range(10)}})
    for year, encoding in ((1402, "cp1256"), (1403, "utf-8-sig")):
        with (folder / f"permits_{year}.csv").open("w", encoding=encoding, newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(PERMIT_COLUMNS)
            for row in by_year[year]:
                cells = ["" if v is None else str(v) for v in row]
                writer.writerow([c.translate(legacy) for c in cells] if encoding == "cp1256" else cells)
    return len(recs)


PAYMENT_KINDS = ["عوارض نوسازی", "عوارض پروانه ساختمانی", "پسماند", "جریمه کمیسیون ماده ۱۰۰"]


def build_payments(out: Path, people, rng, truth) -> int:
    """Payments: SQLite `payments.db`, table `pardakht`, `last_modified` watermark."""
    recs = _copies(people, rng, 1.0, "finance.payments", lambda i, r, p: f"PAY{100000 + i}", truth)
    rows = []
    for i, (r, bad) in enumerate(recs):
        paid = BAD_JALALI if bad == "bad_jalali_date" else f"1403/{rng.randint(1, 12):02d}/{rng.randint(1, 29):02d}"
        amount = None if bad == "missing_required" else rng.randrange(50, 50_000) * 10_000
        rows.append((f"PAY{100000 + i}", r["national_id"], f"{r['first_name']} {r['last_name']}", r["mobile"],
                     amount, rng.choice(PAYMENT_KINDS), f"{rng.randrange(10**11, 10**12)}", paid,
                     rng.choice(["موفق", "موفق", "موفق", "ناموفق", "برگشتی"]),
                     f"PR-{1402 + i % 2}-{i + 1:05d}" if rng.random() < 0.3 else None, _when(rng, 10)))
    con = sqlite3.connect(out / "payments.db")
    con.execute("DROP TABLE IF EXISTS pardakht")
    con.execute("""CREATE TABLE pardakht (shenase TEXT PRIMARY KEY, code_melli TEXT, name_pardakht_konande TEXT,
                   mobile TEXT, mablagh_rial INTEGER, noe TEXT, shomare_peygiri TEXT, tarikh TEXT,
                   vaziat TEXT, shomare_parvane TEXT, last_modified TEXT NOT NULL)""")
    con.executemany("INSERT INTO pardakht VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
    con.commit()
    con.close()
    return len(rows)


def build(out: str | Path, seed: int = 7, people: int = 300) -> dict:
    """Write every subsystem into `out` and return a manifest (also written as manifest.json)."""
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    population = syn.make_people(people, seed)
    negatives = syn.make_hard_negatives(population, seed, max(6, people // 20))
    everyone = population + negatives
    person_truth: list[dict] = []
    request_truth: list[dict] = []
    counts = {
        "registry.citizens": build_registry(out, everyone, rng, person_truth),
        "rc137.requests": build_requests(out, everyone, seed, request_truth),
        "urbanplanning.permits": build_permits(out, rng.sample(everyone, len(everyone) // 2), rng, person_truth),
        "finance.payments": build_payments(out, rng.sample(everyone, len(everyone) * 2 // 3), rng, person_truth),
        "projects.projects": agencies.build_projects(out, rng),
        "hr.agencies": agencies.build_agencies(out),
        "coordination.requests": agencies.build_inter_agency(out, rng),
        "planning.indicators": agencies.build_indicators(out, rng),
    }
    syn.write_truth_csv(out / "truth" / "persons.csv", person_truth)
    syn.write_truth_csv(out / "truth" / "requests.csv", request_truth)
    syn.write_truth_csv(out / "truth" / "people.csv", [
        {"true_person_id": p.person_id, "national_id": p.national_id, "first_name": p.first_name,
         "last_name": p.last_name, "negative_kind": p.negative_kind or "", "resembles": p.resembles or ""}
        for p in everyone])
    env = out / "demo.env"
    if not env.exists():    # keep the token stable across rebuilds of the same folder
        env.write_text(f"MUNIHUB_DEMO_DIR={out}\nMUNIHUB_DEMO_137_TOKEN={secrets.token_urlsafe(24)}\n", "utf-8")
        env.chmod(0o600)
    manifest = {"seed": seed, "people": people, "hard_negatives": len(negatives), "counts": counts}
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), "utf-8")
    return manifest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build the demo municipality's subsystems")
    parser.add_argument("--out", required=True, help="folder to write (becomes MUNIHUB_DEMO_DIR)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--people", type=int, default=300)
    args = parser.parse_args(argv)
    manifest = build(args.out, args.seed, args.people)
    for dataset, n in manifest["counts"].items():
        print(f"{dataset:24} {n:6} records")
    print(f"wrote {Path(args.out).resolve()}; `set -a; . {args.out}/demo.env` then "
          f"`python -m demo.requests_api {args.out}/requests.json`")


if __name__ == "__main__":
    main()
