"""Generate an N-subsystem municipality: N data contracts and their live sources, mixed kinds.

    python -m munihub.testing.municipality --out DIR --sources 100 --rows 10000 [--pg-url URL]

Subsystem i is a `sql` table in SQLite, a `sql` table in PostgreSQL (only with --pg-url), a
paginated REST API (`munihub.testing.municipality_server`), or a CSV or JSON Lines drop folder (`file`),
in turn.  Every source holds `rows` noisy Persian copies of people from one population
(`munihub.testing.synthetic`), so consolidation has real matching to do; one row in 100 is bad on
purpose.  `updated_at` spreads over 2024, so date-range backfills select known rows.

DIR gets `contracts/<agency>/persons.yaml`, `data/`, `manifest.json` and `municipality.env`
(the ${VAR}s the contracts use; REST URLs are added by whoever starts the servers).
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
import sqlite3
from pathlib import Path
from typing import Any

from munihub.testing import synthetic as syn
from munihub.errors import ConfigError

KINDS = ("sqlite", "rest", "csv", "jsonl", "postgresql")
SYSTEMS = ("parking", "library", "sports", "cemetery", "taxi", "bus", "waste", "parks", "culture",
           "fire", "health", "housing", "water", "metro", "market", "bazaar", "school", "pension")
COLUMNS = ("id", "code_melli", "fname", "lname", "father", "jensiat", "birth", "mobile", "code_posti",
           "mantaghe", "address", "updated_at")
DIR_ENV, PG_ENV = "MUNIHUB_MUNI_DIR", "MUNIHUB_MUNI_PG_URL"
YEAR_START = dt.datetime(2024, 1, 1)
BAD_EVERY = 100


def agency_of(i: int) -> str:
    return f"s{i:03d}_{SYSTEMS[i % len(SYSTEMS)]}"


def kind_of(i: int, with_pg: bool) -> str:
    kinds = KINDS if with_pg else KINDS[:-1]
    return kinds[i % len(kinds)]


def url_env(agency: str) -> str:
    """The environment variable holding a REST source's base URL (ports are picked at start)."""
    return f"MUNIHUB_MUNI_API_{agency.upper()}"


def stamp(j: int, rows: int, rng: random.Random) -> str:
    """Row j's `updated_at`: rows spread evenly over 2024 in order, as sortable text."""
    day = YEAR_START + dt.timedelta(days=j * 365 // max(rows, 1))
    return (day + dt.timedelta(seconds=rng.randrange(86400))).strftime("%Y-%m-%d %H:%M:%S")


def person_rows(people: list[syn.Person], rows: int, seed: int) -> list[dict[str, Any]]:
    """`rows` source rows (physical column names) about distinct people sampled from `people`."""
    rng = random.Random(seed)
    out = []
    for j, person in enumerate(rng.sample(people, min(rows, len(people)))):
        rec, _ = syn.noisy_copy(person, rng, 0.5)
        if j % BAD_EVERY == BAD_EVERY - 1:
            rec = syn.spoil(rec, syn.BAD_KINDS[(j // BAD_EVERY) % len(syn.BAD_KINDS)], rng)
        out.append({"id": j + 1, "code_melli": rec["national_id"], "fname": rec["first_name"],
                    "lname": rec["last_name"], "father": rec["father_name"], "jensiat": rec["gender"],
                    "birth": rec["birth_date"], "mobile": rec["mobile"], "code_posti": rec["postal_code"],
                    "mantaghe": rec["district"], "address": f"{rec['street'] or ''}، پلاک {rec['plate']}",
                    "updated_at": stamp(j, rows, rng)})
    return out


# ---------------------------------------------------------------- writing sources

_CREATE = ("CREATE TABLE {t} (id INTEGER PRIMARY KEY, code_melli TEXT, fname TEXT, lname TEXT, father TEXT, "
           "jensiat TEXT, birth TEXT, mobile TEXT, code_posti TEXT, mantaghe TEXT, address TEXT, "
           "updated_at TEXT NOT NULL)")


def write_sqlite(path: Path, rows: list[dict]) -> None:
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    con.execute(_CREATE.format(t="persons"))
    con.execute("CREATE INDEX persons_wm ON persons (updated_at, id)")
    con.executemany(f"INSERT INTO persons VALUES ({','.join('?' * len(COLUMNS))})",
                    [tuple(r[c] for c in COLUMNS) for r in rows])
    con.commit()
    con.close()


def write_postgres(pg_url: str, table: str, rows: list[dict]) -> None:
    """A fresh table in the PostgreSQL database at `pg_url` (psycopg2, COPY-speed execute_values)."""
    import psycopg2
    from psycopg2.extras import execute_values
    import sqlalchemy as sa

    url = sa.engine.make_url(pg_url)
    con = psycopg2.connect(host=url.host, port=url.port or 5432, user=url.username, password=url.password,
                           dbname=url.database)
    try:
        with con, con.cursor() as cur:
            cur.execute(f'DROP TABLE IF EXISTS "{table}"')
            cur.execute(_CREATE.format(t=f'"{table}"'))
            cur.execute(f'CREATE INDEX "{table}_wm" ON "{table}" (updated_at, id)')
            execute_values(cur, f'INSERT INTO "{table}" VALUES %s', [tuple(r[c] for c in COLUMNS) for r in rows],
                           page_size=2000)
    finally:
        con.close()


def write_drop(folder: Path, name: str, kind: str, rows: list[dict]) -> Path:
    """One export file in a drop folder: CSV (UTF-8 with BOM, as Excel writes it) or JSON Lines."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.{kind}"
    if kind == "csv":
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows({k: "" if v is None else v for k, v in r.items()} for r in rows)
    else:
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


# ---------------------------------------------------------------- contracts

def _server(kind: str, agency: str) -> str:
    if kind in ("sqlite", "postgresql"):
        url = f"sqlite:///${{{DIR_ENV}}}/data/{agency}.db" if kind == "sqlite" else f"${{{PG_ENV}}}"
        table = "persons" if kind == "sqlite" else f"muni_{agency}"
        return f"""  - server: {agency}-db
    type: custom
    customProperties:
      - {{property: connector, value: sql}}
      - {{property: url, value: "{url}"}}
      - {{property: table, value: {table}}}
      - {{property: watermark, value: updated_at}}
      - {{property: key, value: id}}
"""
    if kind == "rest":
        return f"""  - server: {agency}-api
    type: api
    location: "${{{url_env(agency)}}}"
    customProperties:
      - {{property: connector, value: rest}}
      - {{property: url, value: "${{{url_env(agency)}}}"}}
      - {{property: path, value: /records}}
      - {{property: records, value: data}}
      - {{property: pagination, value: {{type: page, page_param: page, size_param: size, page_size: 1000}}}}
      - {{property: incremental, value: {{param: updated_since, field: updated_at}}}}
      - {{property: retries, value: 1}}
      - {{property: backoff_max, value: 0.5}}
      - {{property: timeout, value: 10}}
"""
    return f"""  - server: {agency}-drop
    type: local
    path: "${{{DIR_ENV}}}/data/{agency}"
    format: {kind}
    customProperties:
      - {{property: connector, value: file}}
      - {{property: pattern, value: "*.{kind}"}}
"""


def contract_text(i: int, kind: str, retries: int, retry_delay: int) -> str:
    """The ODCS v3 contract of subsystem i (shared schema `person`, key national id)."""
    agency = agency_of(i)
    prop = "      - {{name: {n}, physicalName: {p}, logicalType: string, transformLogic: {t}, classification: {c}{r}}}\n"
    props = "".join(prop.format(n=n, p=p, t=t, c=c, r=", required: true" if req else "") for n, p, t, c, req in (
        ("first_name", "fname", "person_name", "internal", True), ("last_name", "lname", "person_name", "internal", True),
        ("father_name", "father", "person_name", "internal", False), ("gender", "jensiat", "gender", "internal", False),
        ("birth_date", "birth", "date", "personal", False), ("mobile", "mobile", "mobile", "personal", False),
        ("postal_code", "code_posti", "postal_code", "personal", False),
        ("address.district", "mantaghe", "text", "internal", False), ("address.detail", "address", "text", "personal", False)))
    return f"""apiVersion: v3.1.0
kind: DataContract
id: {agency}.persons
name: persons
version: 1.0.0
status: active
domain: {SYSTEMS[i % len(SYSTEMS)]}
tenant: mashhad
description:
  purpose: >-
    مشترکان سامانه {i} شهرداری مشهد. People known to municipal subsystem {i} ({SYSTEMS[i % len(SYSTEMS)]}, {kind}).
team:
  name: {agency}
  members:
    - {{username: {agency}-steward, role: owner}}
servers:
{_server(kind, agency)}schema:
  - name: persons
    physicalName: persons
    physicalType: table
    customProperties:
      - {{property: sharedSchema, value: person}}
    quality:
      - {{metric: rowCount, mustBeGreaterThan: 0, severity: error}}
    properties:
      - {{name: national_id, physicalName: code_melli, logicalType: string, transformLogic: national_id, primaryKey: true, primaryKeyPosition: 1, required: true, classification: personal}}
{props}slaProperties:
  - {{property: freshness, value: 1, unit: d}}
customProperties:
  - {{property: schedule, value: "@daily"}}
  - {{property: retries, value: {retries}}}
  - {{property: retryDelaySeconds, value: {retry_delay}}}
  - {{property: timeoutSeconds, value: 900}}
  - {{property: pool, value: {agency}}}
  - {{property: incremental, value: updated_at}}
"""


# ---------------------------------------------------------------- the whole city

def generate(out: str | Path, sources: int = 100, rows: int = 10_000, pg_url: str | None = None,
             seed: int = 7, retries: int = 1, retry_delay: int = 1, *, copies: float = 5.0) -> dict[str, Any]:
    """Write `sources` subsystems with `rows` rows each plus their contracts; the manifest.

    The citizens are a pool of `sources * rows / copies` people (at least `rows`), so a
    citizen is in about `copies` subsystems: "the same citizen appears in five systems"."""
    if sources < 1 or rows < 1:
        raise ConfigError(f"--sources {sources} and --rows {rows} must be at least 1", where="municipality")
    out = Path(out).resolve()
    (out / "data").mkdir(parents=True, exist_ok=True)
    if copies <= 0:
        raise ConfigError(f"--copies {copies} must be above 0", where="municipality")
    # Pairwise matching costs grow with the square of a citizen's copies: a pool of 2x the
    # rows put every citizen in half of 100 subsystems (1,225 pairs per blocking key).
    people = syn.make_people(max(int(sources * rows / copies), rows, 100), seed)
    manifest: dict[str, Any] = {"seed": seed, "rows": rows, "sources": []}
    for i in range(1, sources + 1):
        agency, kind = agency_of(i), kind_of(i, bool(pg_url))
        data = person_rows(people, rows, seed * 1000 + i)
        entry = {"id": f"{agency}.persons", "agency": agency, "kind": kind, "rows": len(data)}
        if kind == "sqlite":
            write_sqlite(out / "data" / f"{agency}.db", data)
            entry["data"] = f"data/{agency}.db"
        elif kind == "postgresql":
            write_postgres(pg_url, f"muni_{agency}", data)
            entry["table"] = f"muni_{agency}"
        elif kind == "rest":
            (out / "data" / f"{agency}.json").write_text(json.dumps(data, ensure_ascii=False), "utf-8")
            entry.update(data=f"data/{agency}.json", url_env=url_env(agency))
        else:
            write_drop(out / "data" / agency, "export_0001", kind, data)
            entry["data"] = f"data/{agency}"
        folder = out / "contracts" / agency
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "persons.yaml").write_text(contract_text(i, kind, retries, retry_delay), "utf-8")
        manifest["sources"].append(entry)
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), "utf-8")
    env_lines = [f"{DIR_ENV}={out}"] + ([f"{PG_ENV}={pg_url}"] if pg_url else [])
    (out / "municipality.env").write_text("\n".join(env_lines) + "\n", "utf-8")
    return manifest


def environment(out: str | Path, pg_url: str | None = None) -> dict[str, str]:
    """The variables the contracts expand (without the REST URLs, which depend on the servers)."""
    env = {DIR_ENV: str(Path(out).resolve()), "MUNIHUB_CONTRACTS": str(Path(out).resolve() / "contracts"),
           "MUNIHUB_ALLOW_HOSTS": "127.0.0.1,localhost"}
    if pg_url:
        env[PG_ENV] = pg_url
    return env


def change_rows(out: str | Path, fraction: float = 0.01, seed: int = 11, pg_url: str | None = None) -> int:
    """Change `fraction` of every source's rows (new mobile district text, later `updated_at`).

    SQL rows are updated in place, REST files rewritten; drop folders get a new export file with
    the changed rows, as a real subsystem would drop a delta.  Returns the rows changed.
    """
    out = Path(out)
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    when = dt.datetime(2025, 1, 2, 3, 4, 5).strftime("%Y-%m-%d %H:%M:%S")
    total = 0
    for entry in manifest["sources"]:
        rng = random.Random(f"{seed}:{entry['id']}")
        picked = sorted(rng.sample(range(1, entry["rows"] + 1), max(1, int(entry["rows"] * fraction))))
        total += len(picked)
        new_text = lambda j: f"منطقه {1 + (j * 7) % 13}، تغییر نشانی {j}"  # noqa: E731
        if entry["kind"] == "sqlite":
            con = sqlite3.connect(out / entry["data"])
            con.executemany("UPDATE persons SET address = ?, updated_at = ? WHERE id = ?",
                            [(new_text(j), when, j) for j in picked])
            con.commit()
            con.close()
        elif entry["kind"] == "postgresql":
            import sqlalchemy as sa
            eng = sa.create_engine(pg_url)
            with eng.begin() as conn:
                conn.execute(sa.text(f'UPDATE "{entry["table"]}" SET address = :a, updated_at = :w WHERE id = :j'),
                             [{"a": new_text(j), "w": when, "j": j} for j in picked])
            eng.dispose()
        elif entry["kind"] == "rest":
            path = out / entry["data"]
            rows = json.loads(path.read_text("utf-8"))
            wanted = set(picked)
            for r in rows:
                if r["id"] in wanted:
                    r.update(address=new_text(r["id"]), updated_at=when)
            path.write_text(json.dumps(rows, ensure_ascii=False), "utf-8")
        else:
            folder = out / entry["data"]
            kind = entry["kind"]
            rows = _read_drop(folder / f"export_0001.{kind}", kind)
            changed = [{**r, "address": new_text(int(r["id"])), "updated_at": when}
                       for r in rows if int(r["id"]) in set(picked)]
            write_drop(folder, f"export_{len(list(folder.glob('*.' + kind))) + 1:04d}", kind, changed)
    return total


def _read_drop(path: Path, kind: str) -> list[dict]:
    if kind == "csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            return list(csv.DictReader(fh))
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m munihub.testing.municipality",
                                description="Generate an N-subsystem municipality: contracts and live sources")
    p.add_argument("--out", required=True, type=Path, help="folder to write")
    p.add_argument("--sources", type=int, default=100, help="number of subsystems (default 100)")
    p.add_argument("--rows", type=int, default=10_000, help="rows per subsystem (default 10000)")
    p.add_argument("--pg-url", default=None, help="SQLAlchemy URL of a PostgreSQL database for the `sql` "
                                                  "PostgreSQL subsystems (none: those become SQLite)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--retries", type=int, default=1, help="task retries written into each contract")
    p.add_argument("--retry-delay", type=int, default=1, help="seconds between retries")
    p.add_argument("--copies", type=float, default=5.0,
                   help="subsystems a citizen appears in, on average (default 5)")
    args = p.parse_args(argv)
    try:
        manifest = generate(args.out, args.sources, args.rows, args.pg_url, args.seed, args.retries,
                            args.retry_delay, copies=args.copies)
    except ConfigError as exc:
        print(f"munihub: {exc}")
        return 1
    kinds: dict[str, int] = {}
    for s in manifest["sources"]:
        kinds[s["kind"]] = kinds.get(s["kind"], 0) + 1
    print(f"wrote {len(manifest['sources'])} subsystems x {args.rows} rows to {args.out.resolve()}: "
          + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    print(f"serve the REST ones with `python -m munihub.testing.municipality_server {args.out}`; "
          f"set MUNIHUB_CONTRACTS={args.out.resolve() / 'contracts'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
