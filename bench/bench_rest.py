"""Pages per second of the rest connector against the local fake server.

Runs the same paginated read (PAGES pages of PAGE_SIZE Persian records) twice: a healthy
server, and one answering 503 to every 5th request (Retry-After: 0, so the figure measures
the retry machinery, not sleeping).  Traffic goes to 127.0.0.1 only.

    .venv/bin/python bench/bench_rest.py [pages] [page_size]
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from connectors.rest import RestConnector  # noqa: E402
from fakeserver import failing_every, paginated, serve  # noqa: E402


def rows(count: int) -> list[dict]:
    return [{"id": i, "full_name": "سید محمدحسین رضوی‌نژاد", "district": f"منطقه {i % 13 + 1}",
             "mobile": f"0915{i:07d}", "updated_at": f"2024-05-{i % 28 + 1:02d}T08:00:00"}
            for i in range(count)]


def run(label: str, handler, pages: int, page_size: int) -> None:
    with serve({"/items": handler}) as server:
        conn = RestConnector({"url": server.url + "/items", "records": "data.items",
                              "pagination": {"type": "page", "page_size": page_size},
                              "incremental": {"param": "updated_since", "field": "updated_at"},
                              "retries": 5, "backoff_base": 0.0, "backoff_max": 0.0},
                             source="bench.rest", batch_size=page_size)
        started = time.perf_counter()
        count = sum(len(b.records) for b in conn.read_batches(None))
        elapsed = time.perf_counter() - started
        conn.close()
    got_pages = conn.client.requests_made - conn.client.retries_made
    print(f"{label:<28} {count:>7} records  {got_pages:>4} pages  {conn.client.retries_made:>4} retries  "
          f"{elapsed:6.2f} s  {got_pages / elapsed:7.1f} pages/s  {count / elapsed:9.0f} records/s")


def main() -> None:
    pages = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    page_size = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    os.environ["MUNIHUB_ALLOW_HOSTS"] = "127.0.0.1"
    data = rows(pages * page_size - 1)  # last page short, so the read ends without an extra call
    print(f"rest connector, {pages} pages x {page_size} records, page pagination, 127.0.0.1")
    run("healthy", paginated(data, "page", default_size=page_size), pages, page_size)
    run("every 5th request 503", failing_every(paginated(data, "page", default_size=page_size), 5),
        pages, page_size)


if __name__ == "__main__":
    main()
