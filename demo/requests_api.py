"""The demo's "137" citizen-requests system: a small JSON API on 127.0.0.1.

Standard library only (`http.server`), so the demo needs no extra dependency.
`GET /requests?page=N&size=M&updated_since=ISO` answers `{"data": [...], "next": URL|null,
"page": N, "total": T}`, oldest change first, keeping requests whose `updated_at >= updated_since`
(the REST connector's inclusive watermark, as in `munihub.municipality_server`); every call but
`/health` needs `Authorization: Bearer <token>`, the token coming from MUNIHUB_DEMO_137_TOKEN.
"""
from __future__ import annotations

import argparse
import hmac
import json
import os
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from munihub.errors import ConfigError

TOKEN_ENV = "MUNIHUB_DEMO_137_TOKEN"
MAX_PAGE_SIZE = 500
_SERVERS: dict[str, ThreadingHTTPServer] = {}


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


def _handler(records: list[dict], token: str):
    class Handler(BaseHTTPRequestHandler):
        server_version = "demo137/1"

        def log_message(self, *args):  # quiet: the tests and the demo print their own progress
            pass

        def _send(self, status: int, body: dict) -> None:
            raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self):  # noqa: N802 - http.server's naming
            url = urlsplit(self.path)
            if url.path == "/health":
                return self._send(200, {"status": "ok", "records": len(records)})
            if url.path.rstrip("/") != "/requests":
                return self._send(404, {"error": f"no such path {url.path}; try /requests"})
            given = self.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return self._send(401, {"error": "missing or wrong bearer token"})
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            try:
                page = int(query.get("page", 1))
                size = int(query.get("size", 100))
            except ValueError:
                return self._send(400, {"error": "page and size must be whole numbers"})
            if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
                return self._send(400, {"error": f"page >= 1 and 1 <= size <= {MAX_PAGE_SIZE}"})
            since = query.get("updated_since")
            # Inclusive: a request stamped with exactly `since` but not yet read (filed in the same
            # second as the last one read) must come back; the connector skips those it already has.
            rows = [r for r in records if not since or str(r.get("updated_at") or "") >= since]
            chunk = rows[(page - 1) * size: page * size]
            nxt = None
            if page * size < len(rows):
                params = {"page": page + 1, "size": size, **({"updated_since": since} if since else {})}
                host, port = self.server.server_address[:2]
                nxt = f"http://{host}:{port}/requests?{urlencode(params)}"
            return self._send(200, {"data": chunk, "next": nxt, "page": page, "total": len(rows)})

    return Handler


def serve(db_or_json_path: str | Path, host: str = "127.0.0.1", port: int = 0,
          token: str | None = None) -> str:
    """Start the API in a background thread and return its base URL (stop it with `shutdown`)."""
    token = token or os.environ.get(TOKEN_ENV)
    if not token:
        raise ConfigError(f"no token for the 137 demo API", where=str(db_or_json_path),
                          hint=f"set {TOKEN_ENV} (see demo.env written by `python -m demo.build`)")
    records = sorted(load_requests(db_or_json_path),
                     key=lambda r: (str(r.get("updated_at") or ""), str(r.get("tracking_code"))))
    server = ThreadingHTTPServer((host, port), _handler(records, token))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="demo-137", daemon=True).start()
    url = f"http://{host}:{server.server_port}"
    _SERVERS[url] = server
    return url


def shutdown(url: str) -> None:
    """Stop a server started by `serve`."""
    server = _SERVERS.pop(url, None)
    if server is not None:
        server.shutdown()
        server.server_close()


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
