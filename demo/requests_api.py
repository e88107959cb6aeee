"""The demo's "137" citizen-requests system: a small JSON API on 127.0.0.1.

`GET /requests?page=N&size=M&updated_since=ISO` answers `{"data": [...], "next": URL|null,
"page": N, "total": T}`, oldest change first, keeping requests whose `updated_at >= updated_since`
(the REST connector's inclusive watermark); every call but `/health` needs `Authorization: Bearer
<token>`, the token coming from MUNIHUB_DEMO_137_TOKEN.  The server is the generated city's
(`munihub.testing.municipality_server.serve_pages`).
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import threading
from pathlib import Path

from munihub.errors import ConfigError
from munihub.testing.municipality_server import serve_pages, shutdown

TOKEN_ENV = "MUNIHUB_DEMO_137_TOKEN"
MAX_PAGE_SIZE = 500
__all__ = ["serve", "shutdown", "load_requests", "main"]


def load_requests(path: str | Path) -> list[dict]:
    """Requests from a JSON file (a list or {"data": [...]}) or a SQLite file (table `requests`)."""
    path = Path(path)
    if path.suffix in {".db", ".sqlite"}:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        con.row_factory = sqlite3.Row
        try:
            return [dict(row) for row in con.execute("SELECT * FROM requests")]
        finally:
            con.close()
    data = json.loads(path.read_text(encoding="utf-8"))
    return data["data"] if isinstance(data, dict) else data


def serve(db_or_json_path: str | Path, host: str = "127.0.0.1", port: int = 0,
          token: str | None = None) -> str:
    """Start the API in a background thread and return its base URL (stop it with `shutdown`)."""
    token = token or os.environ.get(TOKEN_ENV)
    if not token:
        raise ConfigError(f"no token for the 137 demo API", where=str(db_or_json_path),
                          hint=f"set {TOKEN_ENV} (see demo.env written by `python -m demo.build`)")
    records = sorted(load_requests(db_or_json_path),
                     key=lambda r: (str(r.get("updated_at") or ""), str(r.get("tracking_code"))))
    return serve_pages(lambda: records, path="/requests", token=token, default_size=100,
                       max_page_size=MAX_PAGE_SIZE, host=host, port=port, name="demo-137")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the demo 137 requests on 127.0.0.1")
    parser.add_argument("data", help="requests.json (or .db) written by `python -m demo.build`")
    parser.add_argument("--port", type=int, default=8137)
    args = parser.parse_args(argv)
    try:
        url = serve(args.data, port=args.port)
    except (ConfigError, OSError) as exc:
        raise SystemExit(f"error: {exc}") from None
    print(f"137 API at {url}/requests  (export MUNIHUB_DEMO_137_URL={url}); Ctrl-C stops")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        shutdown(url)


if __name__ == "__main__":
    main()
