"""A paginated REST source into a PostgreSQL store: munihub `sync` vs dlt's `rest_api`.

    .venv/bin/python bench/bench_rest_vs_dlt.py                  # 100k records, pages of 1000
    .venv/bin/python bench/bench_rest_vs_dlt.py --records 20000 --page-size 500

One local JSON API (`munihub.testing.municipality_server`, the server behind the demo's 137
hotline, in its own process so that neither client pays for it) serves N 137-style requests,
oldest change first, with a `next` link on every page.  Each path reads every page and merges
the records by tracking code into its own PostgreSQL database, in its own process (its peak
memory is that process's VmHWM):

- `dlt`: dlt's declarative `rest_api` source (json_link paginator, merge on the key);
- `munihub`: `pipeline.sync_source` on a contract for the API (extract with its page prefetch,
  map, validate, stage, dataset checks, publish).

dlt runs in the virtualenv `bench_sync_vs_dlt.py` makes (`.bench-venvs/dlt`): never a
dependency of the hub.  The last line is `rest: munihub/dlt ratio R, munihub peak MB M`
(R > 1: munihub is faster).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import textwrap
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sync_vs_dlt import PEAK, ROOT, _create_db, _dlt_python, _drop_db, _run  # noqa: E402

CONTRACT = """\
apiVersion: v3.1.0
kind: DataContract
id: bench.requests
name: requests
version: 1.0.0
status: active
team: {name: bench, members: [{username: bench, role: owner}]}
servers:
  - server: bench-api
    type: api
    location: "${BENCH_API_URL}"
    customProperties:
      - {property: connector, value: rest}
      - {property: url, value: "${BENCH_API_URL}"}
      - {property: path, value: /records}
      - {property: records, value: data}
      - {property: pagination, value: {type: page, page_param: page, size_param: size, page_size: %(page_size)d}}
      - {property: incremental, value: {param: updated_since, field: updated_at}}
      - {property: prefetch, value: 2}
schema:
  - name: requests
    physicalName: requests
    physicalType: topic
    customProperties:
      - {property: sharedSchema, value: service_request}
    quality:
      - {metric: rowCount, mustBeGreaterThan: 0, severity: error}
    properties:
      - {name: tracking_code, physicalName: tracking_code, logicalType: string, transformLogic: text,
         primaryKey: true, primaryKeyPosition: 1, required: true,
         quality: [{metric: duplicateValues, mustBe: 0, severity: error}]}
      - {name: citizen_name, physicalName: citizen_name, logicalType: string, transformLogic: person_name,
         classification: personal}
      - {name: mobile, physicalName: mobile, logicalType: string, transformLogic: "mobile:51", classification: personal}
      - {name: category, physicalName: category, logicalType: string, transformLogic: text, required: true}
      - {name: description, physicalName: description, logicalType: string, transformLogic: text}
      - {name: district, physicalName: district, logicalType: string, transformLogic: text}
      - {name: address, physicalName: address, logicalType: string, transformLogic: text, classification: personal}
      - {name: status, physicalName: status, logicalType: string, transformLogic: text}
      - {name: filed_at, physicalName: filed_at, logicalType: timestamp, transformLogic: datetime, required: true}
customProperties:
  - {property: incremental, value: updated_at}
"""

SERVER_CHILD = textwrap.dedent("""
    import sys, time
    from munihub.testing.municipality_server import serve
    print(serve(sys.argv[1]), flush=True)
    while True:
        time.sleep(3600)
""")

DLT_CHILD = textwrap.dedent("""
    import json, sys, dlt
    from dlt.sources.rest_api import rest_api_source
    url, dst, work, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    source = rest_api_source({{
        "client": {{"base_url": url, "paginator": {{"type": "json_link", "next_url_path": "next"}}}},
        "resources": [{{"name": "requests", "primary_key": "tracking_code", "write_disposition": "merge",
                        "endpoint": {{"path": "records", "params": {{"size": size}}, "data_selector": "data"}}}}],
    }})
    pipe = dlt.pipeline(pipeline_name="bench_rest", pipelines_dir=work,
                        destination=dlt.destinations.postgres(dst), dataset_name="dlt_rest")
    pipe.run(source)
    rows = pipe.last_trace.last_normalize_info.row_counts.get("requests", 0)
    print(json.dumps({{"rows": rows, "peak_mb": {peak}}}))
""").format(peak=PEAK)

MUNIHUB_CHILD = textwrap.dedent("""
    import json
    from munihub import pipeline
    r = pipeline.sync_source("bench.requests")
    print(json.dumps({{"rows": r["rows_in"], "published": r["rows_new"] + r["rows_changed"],
                       "quarantined": r.get("rows_quarantined"), "peak_mb": {peak}}}))
""").format(peak=PEAK)

FIRST = ["علی", "محمد", "فاطمه", "زهرا", "حسین", "مریم", "رضا", "سارا", "مهدی", "نرگس", "محمدرضا", "امیرحسین"]
LAST = ["احمدی", "محمدی", "حسینی", "رضایی", "کریمی", "موسوی", "جعفری", "صادقی", "رحیمی", "نوری", "رضوی‌نژاد"]
CATEGORIES = ["پسماند", "روشنایی معابر", "آسفالت", "فضای سبز", "سد معبر", "حمل و نقل"]
STATUSES = ["ثبت شده", "در حال بررسی", "ارجاع شده", "انجام شده", "بسته شده"]


def records(count: int, seed: int = 7) -> list[dict]:
    """137-style requests as the hotline's API writes them (Persian text, mixed digit forms)."""
    rnd = random.Random(seed)
    rows = []
    for i in range(count):
        mobile = f"0915{rnd.randrange(10_000_000):07d}"
        rows.append({
            "tracking_code": f"137-{i:08d}",
            "citizen_name": f"{rnd.choice(['', 'آقای ', 'خانم '])}{rnd.choice(FIRST)} {rnd.choice(LAST)}",
            "mobile": mobile if i % 3 else mobile.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")),
            "category": rnd.choice(CATEGORIES),
            "description": "چراغ‌های کوچه " + str(i % 97) + " خاموش است و پیگیری قبلی نتیجه نداشت",
            "district": f"منطقه {i % 13 + 1}",
            "address": f"مشهد، خیابان امام رضا، کوچه {i % 97}، پلاک {i % 300}",
            "status": rnd.choice(STATUSES),
            "filed_at": f"2024-{i % 12 + 1:02d}-{i % 28 + 1:02d}T08:{i % 60:02d}:00",
            "updated_at": f"2024-05-01T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}.{i:09d}",
        })
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--page-size", type=int, default=1000)
    ap.add_argument("--skip", nargs="*", default=[], choices=["dlt", "munihub"])
    args = ap.parse_args()

    tag = uuid.uuid4().hex[:8]
    names = {k: f"munihub_bench_rest_{k}_{tag}" for k in ("dlt", "hub")}
    urls = {k: _create_db(n) for k, n in names.items()}
    work = Path(tempfile.mkdtemp(prefix="munihub-bench-rest-"))
    data = work / "requests.json"
    data.write_text(json.dumps(records(args.records), ensure_ascii=False), encoding="utf-8")
    server = subprocess.Popen([sys.executable, "-c", SERVER_CHILD, str(data)], stdout=subprocess.PIPE, text=True,
                              cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        api = server.stdout.readline().strip()
        if not api.startswith("http://127.0.0.1:"):
            raise SystemExit(f"the JSON API did not start (got {api!r})")
        (work / "contracts").mkdir()
        (work / "contracts" / "requests.yaml").write_text(CONTRACT % {"page_size": args.page_size},
                                                          encoding="utf-8")
        dsn = urls["dlt"].replace("postgresql+psycopg2://", "postgresql://")
        # dlt's postgres destination insists on a password; the local server trusts loopback,
        # so any placeholder works and none is a secret.
        dlt_dst = dsn.replace("postgres@", "postgres:trust@")
        hub_env = {"MUNIHUB_HOME": str(work / "home"), "MUNIHUB_STORE_URL": urls["hub"],
                   "MUNIHUB_CONTRACTS": str(work / "contracts"), "BENCH_API_URL": api,
                   "MUNIHUB_ALLOW_HOSTS": "127.0.0.1", "PYTHONPATH": str(ROOT)}
        paths = {
            "dlt": lambda: ([_dlt_python(), "-c", DLT_CHILD, api, dlt_dst, str(work / "dlt"), str(args.page_size)],
                            None),
            "munihub": lambda: ([sys.executable, "-c", MUNIHUB_CHILD], hub_env),
        }
        results = {}
        for name, build in paths.items():
            if name in args.skip:
                continue
            cmd, env = build()
            r = _run(cmd, env)
            if r["rows"] != args.records:
                raise SystemExit(f"{name} read {r['rows']} records, not {args.records}: {r}")
            results[name] = r
            print(f"{name:8} {r['wall_s']:8.2f} s  {args.records / r['wall_s']:10,.0f} records/s  "
                  f"peak {r['peak_mb']:6} MB  ({r})", file=sys.stderr)
        print(json.dumps(results, indent=2))
        if "dlt" in results and "munihub" in results:
            print(f"rest: munihub/dlt ratio {results['dlt']['wall_s'] / results['munihub']['wall_s']:.2f}, "
                  f"munihub peak MB {results['munihub']['peak_mb']}")
    finally:
        server.terminate()
        server.wait()
        for name in names.values():
            _drop_db(name)


if __name__ == "__main__":
    main()
