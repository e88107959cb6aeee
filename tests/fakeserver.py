"""A real threaded HTTP server on 127.0.0.1 for connector tests, benches and the demo.

    with serve({"/items": paginated(rows, "page")}) as server:
        RestConnector({"url": server.url + "/items", ...})
        assert len(server.hits) == 3

Routes map a path to a handler `Request -> Reply`; the builders below cover the behaviours
connectors must survive (pagination styles, 429/500, drip, truncation, auth, redirects).
Nothing here knows about any particular municipal service.
"""
from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit


@dataclasses.dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    base_url: str


@dataclasses.dataclass
class Reply:
    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    drip: float = 0.0  # seconds between single bytes of the body (0: send at once)


Handler = Callable[[Request], Reply]


def json_reply(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
    return Reply(status, body, {"Content-Type": "application/json; charset=utf-8", **(headers or {})})


class FakeServer:
    """A ThreadingHTTPServer in a daemon thread; `hits` records every request received."""

    def __init__(self, routes: dict[str, Handler]):
        self.routes = dict(routes)
        self.hits: list[Request] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.httpd = _QuietServer(("127.0.0.1", 0), _make_handler(self))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True,
                                        name=f"fakeserver:{self.port}")

    def start(self) -> "FakeServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def hits_on(self, path: str) -> list[Request]:
        with self._lock:
            return [h for h in self.hits if h.path == path]

    def __enter__(self) -> "FakeServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        import sys
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)  # a client hanging up is not news


@contextlib.contextmanager
def serve(routes: dict[str, Handler]) -> Iterator[FakeServer]:
    """Run a FakeServer for the duration of the block; `.url` is its base URL."""
    server = FakeServer(routes).start()
    try:
        yield server
    finally:
        server.stop()


def _make_handler(server: FakeServer):
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as separate writes

        def log_message(self, *args):  # keep test output clean
            pass

        def _dispatch(self):
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            req = Request(self.command, parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)),
                          {k.lower(): v for k, v in self.headers.items()},
                          self.rfile.read(length) if length else b"", server.url)
            with server._lock:
                server.hits.append(req)
            handler = server.routes.get(parts.path)
            try:
                reply = handler(req) if handler else json_reply({"error": "not found"}, 404)
            except Exception as exc:  # a broken handler is a 500, as in a real service
                reply = json_reply({"error": repr(exc)}, 500)
            self._send(reply)

        def _send(self, reply: Reply):
            body = reply.body.encode("utf-8") if isinstance(reply.body, str) else reply.body
            try:
                self.send_response(reply.status)
                headers = {"Content-Length": str(len(body)), **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if not reply.drip:
                    self.wfile.write(body)
                    return
                for i in range(len(body)):
                    if server._stopping.wait(reply.drip):
                        return
                    self.wfile.write(body[i:i + 1])
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _dispatch

    return _Handler


# -- route builders ----------------------------------------------------------------------

def paginated(records: list[dict[str, Any]], style: str, *, items_key: str = "items",
              default_size: int = 10, since_param: str = "updated_since",
              since_field: str = "updated_at") -> Handler:
    """A list endpoint paged as `page`, `offset`, `cursor`, `link` (Link header) or `next_url`.

    Records are served sorted by `since_field` then `id`, filtered with `>= since_param`.
    Query names: page/page_size, offset/limit, cursor (+ limit), and `limit` for links.
    """
    ordered = sorted(records, key=lambda r: (str(r.get(since_field, "")), str(r.get("id", ""))))

    def handler(req: Request) -> Reply:
        rows = ordered
        if req.query.get(since_param):
            rows = [r for r in rows if str(r.get(since_field, "")) >= req.query[since_param]]
        if style == "page":
            size = int(req.query.get("page_size", default_size))
            start = (int(req.query.get("page", 1)) - 1) * size
        elif style == "offset":
            size = int(req.query.get("limit", default_size))
            start = int(req.query.get("offset", 0))
        else:
            size = int(req.query.get("limit", default_size))
            start = int(req.query.get("cursor") or req.query.get("from") or 0)
        chunk = rows[start:start + size]
        more = start + size < len(rows)
        body: dict[str, Any] = {"data": {items_key: chunk}, "meta": {"total": len(rows)}}
        headers: dict[str, str] = {}
        if more and style == "cursor":
            body["meta"]["next_cursor"] = str(start + size)
        if more and style in ("link", "next_url"):
            query = {k: v for k, v in req.query.items() if k not in ("from",)}
            query["from"] = str(start + size)
            nxt = f"{req.path}?{urlencode(query)}"
            if style == "link":
                headers["Link"] = f'<{req.base_url}{nxt}>; rel="next"'
            else:
                body["links"] = {"next": nxt}
        return json_reply(body, headers=headers)

    return handler


def xml_list(records: list[dict[str, Any]], record_tag: str = "record", root: str = "records") -> Handler:
    """All records as `<root><record_tag><field>value</field>…</record_tag>…</root>`."""
    from xml.sax.saxutils import escape

    parts = [f"<{root}>"]
    for rec in records:
        fields = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in rec.items())
        parts.append(f"<{record_tag}>{fields}</{record_tag}>")
    parts.append(f"</{root}>")
    body = ('<?xml version="1.0" encoding="utf-8"?>' + "".join(parts)).encode("utf-8")
    return lambda req: Reply(200, body, {"Content-Type": "application/xml; charset=utf-8"})


def failing_first(handler: Handler, times: int, status: int = 500,
                  headers: dict[str, str] | None = None) -> Handler:
    """Answer `status` to the first `times` requests, then delegate to `handler`."""
    count = {"n": 0}
    lock = threading.Lock()

    def wrapped(req: Request) -> Reply:
        with lock:
            count["n"] += 1
            fail = count["n"] <= times
        return json_reply({"error": f"simulated {status}"}, status, headers) if fail else handler(req)

    return wrapped


def failing_every(handler: Handler, nth: int, status: int = 503) -> Handler:
    """Answer `status` to every `nth` request (a flaky service), else delegate."""
    count = {"n": 0}
    lock = threading.Lock()

    def wrapped(req: Request) -> Reply:
        with lock:
            count["n"] += 1
            fail = count["n"] % nth == 0
        return json_reply({"error": "flaky"}, status, {"Retry-After": "0"}) if fail else handler(req)

    return wrapped


def status(code: int, headers: dict[str, str] | None = None) -> Handler:
    return lambda req: json_reply({"error": f"status {code}"}, code, headers)


def drip(body: bytes, interval: float) -> Handler:
    """Send headers at once, then one byte every `interval` seconds."""
    return lambda req: Reply(200, body, {"Content-Type": "application/json"}, drip=interval)


def raw(body: bytes, content_type: str = "application/json") -> Handler:
    """Exactly these bytes (truncated JSON, a huge body, broken XML)."""
    return lambda req: Reply(200, body, {"Content-Type": content_type})


def redirect(location: str, code: int = 302) -> Handler:
    return lambda req: Reply(code, b"", {"Location": location})


def requires(handler: Handler, *, bearer: str | None = None, basic: tuple[str, str] | None = None,
             header: tuple[str, str] | None = None, query: tuple[str, str] | None = None) -> Handler:
    """401 unless the request carries the given credential; then delegate."""
    def wrapped(req: Request) -> Reply:
        auth = req.headers.get("authorization", "")
        ok = True
        if bearer is not None:
            ok &= auth == f"Bearer {bearer}"
        if basic is not None:
            ok &= auth == "Basic " + base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()
        if header is not None:
            ok &= req.headers.get(header[0].lower()) == header[1]
        if query is not None:
            ok &= req.query.get(query[0]) == query[1]
        return handler(req) if ok else json_reply({"error": "unauthorized"}, 401)
    return wrapped


def oauth2_token(client_id: str, client_secret: str, token: str, expires_in: int = 3600) -> Handler:
    """A client-credentials token endpoint: form POST in, `access_token` out."""
    def handler(req: Request) -> Reply:
        form = dict(parse_qsl(req.body.decode("utf-8")))
        if (req.method != "POST" or form.get("grant_type") != "client_credentials"
                or form.get("client_id") != client_id or form.get("client_secret") != client_secret):
            return json_reply({"error": "invalid_client"}, 401)
        return json_reply({"access_token": token, "token_type": "Bearer", "expires_in": expires_in})
    return handler


def slow(handler: Handler, seconds: float) -> Handler:
    """Wait before answering (for timeouts on the response head)."""
    def wrapped(req: Request) -> Reply:
        time.sleep(seconds)
        return handler(req)
    return wrapped
