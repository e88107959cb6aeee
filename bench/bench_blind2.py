"""Persons matching on the second outsider's blind set (`bench/blind2_exports.py`): six agencies
delivering through a PostgreSQL and a MariaDB table, a SQLite file, a paged JSON API, an .xlsx
and a `;` CSV, read through contracts written from the docs, synced and resolved in full.

    python bench/bench_blind2.py [--people 600] [--seed 1] [--keep DIR] [--examples 3]

Seeds 1 and 2 are for analysis; seed 3 is held out. A record the store does not hold
(quarantined, no person mention) stays in the score as a singleton, so what the readers lose
counts against recall as what the matcher loses does. The databases are dropped at the end.
"""
from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import blind2_exports  # noqa: E402
from bench_blind import fmt, pairs_apart, read_back, scored  # noqa: E402  (the same scores and store reads)


def serve_calls(items_ref: list) -> tuple[ThreadingHTTPServer, str]:
    """The 137 API: GET /calls?page=N&size=M -> {"data": [...], "meta": {...}}, pages from 1."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            u = urlparse(self.path)
            q = parse_qs(u.query)
            page, size = int(q.get("page", ["1"])[0]), int(q.get("size", ["50"])[0])
            items = items_ref[0] if u.path == "/calls" else None
            if items is None:
                self.send_response(404)
                self.end_headers()
                return
            chunk = items[(page - 1) * size: page * size]
            body = json.dumps({"data": chunk, "meta": {"page": page, "size": size, "total": len(items)}},
                              ensure_ascii=False).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}"


def lint(out: Path) -> dict:
    """`munihub contracts lint` on each generated contract: what a steward would see first."""
    res = {}
    for d in blind2_exports.CONTRACTS:
        a, n = d.split(".")
        p = subprocess.run([str(Path(sys.executable).parent / "munihub"), "contracts", "lint", str(out / "contracts" / a / f"{n}.yaml")],
                           capture_output=True, text=True)
        res[d] = (p.returncode, (p.stdout + p.stderr).strip())
    return res


def drive(out: Path) -> dict:
    import sqlalchemy as sa

    from munihub import pipeline, store
    from munihub.config import REPO_ROOT, Settings
    from munihub.errors import MunihubError
    from munihub.resolve.run import resolve_all

    settings = Settings(home=out / "home", store_url=f"sqlite:///{out / 'store.db'}", contracts_dir=out / "contracts",
                        schemas_dir=REPO_ROOT / "schemas")
    import logging

    class Keep(logging.Handler):  # the warnings `munihub sync` would show the steward
        def emit(self, record):
            if record.levelno >= logging.WARNING:
                got["warnings"].setdefault(current[0], []).append(record.getMessage()[:400])
    got = {"errors": {}, "sync": {}, "warnings": {}}
    current = [""]
    logging.getLogger().addHandler(Keep())
    for dataset in blind2_exports.CONTRACTS:
        current[0] = dataset
        try:
            got["sync"][dataset] = pipeline.sync_source(dataset, settings)
        except MunihubError as exc:
            got["errors"][dataset] = str(exc)[:600]
    engine = store.engine_for(settings)
    resolve_all(engine, settings, full=True)
    with engine.connect() as conn:
        got["loads"] = collections.defaultdict(lambda: [0, 0])
        for x in conn.execute(sa.select(store.loads)).mappings():
            got["loads"][x["source"]][0] += x["rows_in"] or 0
            got["loads"][x["source"]][1] += x["rows_quarantined"] or 0
        got.update(read_back(conn))
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=600)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="generate and keep everything here (else a temp dir)")
    ap.add_argument("--examples", type=int, default=3)
    a = ap.parse_args()
    items: list = [None]
    srv, url = serve_calls(items)
    try:
        with tempfile.TemporaryDirectory(prefix="blind2-") as tmp:
            out = a.keep or Path(tmp)
            out.mkdir(parents=True, exist_ok=True)
            gen = blind2_exports.generate(out, a.people, a.seed, url)
            items[0] = json.loads((out / "calls.json").read_text())
            for d, (rc, text) in lint(out).items():
                if rc:
                    print(f"LINT {d}: {text[:800]}")
            got = drive(out)
            report(gen, got, a.examples, a.seed)
    finally:
        srv.shutdown()
        if not a.keep:
            blind2_exports.drop(a.seed)


def report(gen, got, examples, seed):
    truth = gen["truth"]
    print(f"seed {seed}: {gen['people']} people, {len(truth)} person records")
    for d in blind2_exports.CONTRACTS:
        rows_in, q = got["loads"].get(d, (0, 0))
        aside = collections.Counter(f"{f}: {rule}" for k, vs in got["aside"].items() if k.startswith(d + "|") for f, _, rule in vs)
        qr = collections.Counter(str(r)[:120] for k, (_, r) in got["quarantined"].items() if k.startswith(d + "|"))
        print(f"  {d:16s} rows in {rows_in:5d}  quarantined {q:4d}  values set aside {sum(aside.values()):4d}"
              + (f"  ERROR {got['errors'][d]}" if d in got["errors"] else ""))
        for w in sorted(set(got["warnings"].get(d, [])))[:4]:
            print(f"      warning: {w}")
        for k, n in qr.most_common(4):
            print(f"      quarantine x{n}: {k}")
        for k, n in aside.most_common(6):
            print(f"      set aside  x{n}: {k}")
    members = got["members"]
    predicted, true, labels, refs = {}, {}, {}, {}
    for i, (source, key, pid, lbs) in enumerate(truth):
        ref = f"{source}|{key}"
        ref = f"{ref}#person" if f"{ref}#person" in members else ref
        predicted[i] = members[ref][0] if ref in members else f"lost:{i}"
        true[i], labels[i], refs[i] = pid, [x for x in lbs.split(";") if x] + [f"source:{source}"], ref
    print(f"\npersons: {sum(r in members for r in refs.values())}/{len(refs)} records held as person or mention")
    for name, row in scored(predicted, true, labels).items():
        print(fmt(name, row))
    if examples:
        losses(truth, predicted, true, labels, refs, got, examples)


def losses(truth, predicted, true, labels, refs, got, examples):
    import random
    lost = pairs_apart(true, predicted)
    per = collections.Counter()
    seen = collections.defaultdict(list)
    for a, b in lost:
        for lb in set(labels[a]) | set(labels[b]):
            per[lb] += 1
            seen[lb].append((a, b))
    print(f"\nlost true pairs {len(lost)}: {per.most_common(25)}")
    rng = random.Random(0)

    def show(x):
        ref = refs[x]
        base = ref.split("#")[0]
        state = ("quarantined " + str(got["quarantined"][base][1])) if base in got["quarantined"] else \
            ("NOT A MEMBER" if ref not in got["members"] else "")
        pub = got["published"].get(base)
        print(f"   {ref} {truth[x][2]} {labels[x][:-1]} -> {predicted[x]} {state}")
        print(f"      published {json.dumps(pub, ensure_ascii=False, default=str)[:400]}")
        print(f"      aside {got['aside'].get(base)}  features {json.dumps(got['features'].get(ref), ensure_ascii=False)[:300]}")
    for lb, _ in per.most_common(10):
        print(f"\n== {lb}")
        for a, b in rng.sample(seen[lb], min(examples, len(seen[lb]))):
            show(a)
            show(b)
    false = pairs_apart(predicted, true)
    print(f"\nfalse pairs {len(false)}")
    for a, b in rng.sample(false, min(examples, len(false))):
        show(a)
        show(b)


if __name__ == "__main__":
    main()
