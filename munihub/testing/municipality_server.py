"""Tiny paginated JSON APIs for a generated municipality's REST subsystems, one server per source.

`GET /records?page=N&size=M&updated_since=TEXT` answers `{"data": [...], "next": URL|null,
"page": N, "total": T}`,
oldest change first, keeping records whose `updated_at >= updated_since` (the REST connector's
inclusive watermark).  Each source has its own server and port, so one can be stopped (a dead
subsystem) while the others keep answering.  The JSON file is re-read when it changes, so a
test or benchmark can edit a source between runs.  `serve_pages` is the server itself, also
behind the demo's 137 API.  Standard library only.

    python -m munihub.testing.municipality_server DIR     # serve every REST source of DIR, print the env
"""
from __future__ import annotations

import argparse
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

MAX_PAGE_SIZE = 5000
_SERVERS: dict[str, ThreadingHTTPServer] = {}


class _Records:
    """The records of one JSON file, sorted by (updated_at, id), reloaded when the file changes."""

    def __init__(self, path: Path) -> None:
        self.path, self.mtime, self.rows = Path(path), None, []
        self.lock = threading.Lock()

    def current(self) -> list[dict]:
        with self.lock:
            mtime = self.path.stat().st_mtime_ns
            if mtime != self.mtime:
                rows = json.loads(self.path.read_text("utf-8"))
                self.rows = sorted(rows, key=lambda r: (str(r.get("updated_at") or ""), r.get("id") or 0))
                self.mtime = mtime
            return self.rows


def _handler(records: Callable[[], list[dict]], path: str, token: str | None, default_size: int,
             max_page_size: int):
    class Handler(BaseHTTPRequestHandler):
        server_version = "munihub-json-api/1"

        def log_message(self, *args):  # quiet: callers report their own progress
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
                return self._send(200, {"status": "ok", "records": len(records())})
            if url.path.rstrip("/") != path:
                return self._send(404, {"error": f"no such path {url.path}; try {path}"})
            if token is not None and not hmac.compare_digest(
                    self.headers.get("Authorization", "").encode(), f"Bearer {token}".encode()):
                return self._send(401, {"error": "missing or wrong bearer token"})
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            try:
                page, size = int(query.get("page", 1)), int(query.get("size", default_size))
            except ValueError:
                return self._send(400, {"error": "page and size must be whole numbers"})
            if page < 1 or not 1 <= size <= max_page_size:
                return self._send(400, {"error": f"page >= 1 and 1 <= size <= {max_page_size}"})
            since = query.get("updated_since")
            rows = records()
            # Inclusive: a record stamped with exactly `since` but not yet read (changed in the same
            # second as the last one read) must come back; the connector skips those it already has.
            if since:
                rows = [r for r in rows if str(r.get("updated_at") or "") >= since]
            nxt = None
            if page * size < len(rows):
                host, port = self.server.server_address[:2]
                params = {"page": page + 1, "size": size, **({"updated_since": since} if since else {})}
                nxt = f"http://{host}:{port}{path}?{urlencode(params)}"
            return self._send(200, {"data": rows[(page - 1) * size: page * size], "next": nxt, "page": page,
                                    "total": len(rows)})

    return Handler


def serve_pages(records: Callable[[], list[dict]], *, path: str, token: str | None = None,
                default_size: int = 500, max_page_size: int = MAX_PAGE_SIZE, host: str = "127.0.0.1",
                port: int = 0, name: str = "json-api") -> str:
    """Serve `records()` (sorted oldest change first) as a paginated JSON API at `path` in a
    background thread, behind a bearer `token` if one is given; its base URL."""
    server = ThreadingHTTPServer((host, port), _handler(records, path, token, default_size, max_page_size))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
    url = f"http://{host}:{server.server_port}"
    _SERVERS[url] = server
    return url


def serve(path: str | Path, port: int = 0) -> str:
    """Serve one source's JSON file on 127.0.0.1 in a background thread; its base URL."""
    return serve_pages(_Records(Path(path)).current, path="/records", port=port, name=f"muni-{Path(path).stem}")


def shutdown(url: str) -> None:
    """Stop the server at `url` (a dead subsystem: connections are refused from now on)."""
    server = _SERVERS.pop(url, None)
    if server is not None:
        server.shutdown()
        server.server_close()


def serve_all(out: str | Path) -> dict[str, str]:
    """Start a server for every REST source in the municipality at `out`; {env var: URL}."""
    manifest = json.loads((Path(out) / "manifest.json").read_text("utf-8"))
    return {s["url_env"]: serve(Path(out) / s["data"]) for s in manifest["sources"] if s["kind"] == "rest"}


def shutdown_all(urls: dict[str, str]) -> None:
    for url in urls.values():
        shutdown(url)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a generated municipality's REST sources on 127.0.0.1")
    parser.add_argument("out", help="folder written by `python -m munihub.testing.municipality`")
    args = parser.parse_args(argv)
    urls = serve_all(args.out)
    for var, url in sorted(urls.items()):
        print(f"export {var}={url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        shutdown_all(urls)


if __name__ == "__main__":
    main()
