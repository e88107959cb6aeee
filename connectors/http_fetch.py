"""One guarded, bounded, retried HTTP request: the transport under the REST connector.

Every hop is checked by the SSRF guard (redirects are followed by hand, at most 5), the
body is read streamed with a byte cap and a total deadline (a server dripping one byte at
a time ends in a timeout, not a hang), and 429/5xx/timeouts/refused connections are
retried with full-jitter exponential backoff that honours `Retry-After`.  Other 4xx are
permanent at once.  Messages name the source and the URL with credentials redacted.
"""
from __future__ import annotations

import dataclasses
import email.utils
import random
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from connectors.http_auth import Redactor
from connectors.http_guard import check_url
from munihub.errors import PermanentSourceError, SecurityError, TransientSourceError
from munihub.ingest.connector import redact_logger

MAX_REDIRECTS = 5
_CHUNK = 64 * 1024

# urllib3 logs each request line (query string included) at DEBUG: never with a secret in it.
redact_logger("urllib3.connectionpool")


@dataclasses.dataclass
class HttpSettings:
    """Limits for one connector's requests (seconds and bytes)."""

    connect: float = 10.0
    read: float = 30.0
    total: float = 120.0
    retries: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_bytes: int = 50 * 1024 * 1024
    rate_limit_per_second: float | None = None
    allow_hosts: tuple[str, ...] = ()

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "HttpSettings":
        timeout = params.get("timeout") or {}
        if isinstance(timeout, (int, float)):
            timeout = {"connect": timeout, "read": timeout, "total": timeout}
        default = cls()
        return cls(
            connect=float(timeout.get("connect", default.connect)),
            read=float(timeout.get("read", default.read)),
            total=float(timeout.get("total", default.total)),
            retries=int(params.get("retries", default.retries)),
            backoff_base=float(params.get("backoff_base", default.backoff_base)),
            backoff_max=float(params.get("backoff_max", default.backoff_max)),
            max_bytes=int(params.get("max_response_bytes", default.max_bytes)),
            rate_limit_per_second=(float(params["rate_limit_per_second"])
                                   if params.get("rate_limit_per_second") else None),
            allow_hosts=tuple(params.get("allow_hosts") or ()),
        )


@dataclasses.dataclass
class HttpResponse:
    """A fully read, successful response."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str
    links: dict[str, dict[str, str]]


class _Retry(Exception):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class HttpClient:
    """Makes requests for one source under one `HttpSettings`; counts what it did."""

    def __init__(self, settings: HttpSettings, *, source: str, redactor: Redactor,
                 session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.settings = settings
        self.source = source
        self.redactor = redactor
        self.session = session or requests.Session()
        self.session.trust_env = False  # no proxies or .netrc credentials from the machine
        self._sleep = sleep
        self._last_request = 0.0
        self.requests_made = 0
        self.retries_made = 0

    def request(self, url: str, *, method: str = "GET", params: Mapping[str, str] | None = None,
                headers: Mapping[str, str] | None = None, data: Any = None,
                on_unauthorized: Callable[[], bool] | None = None) -> HttpResponse:
        """Fetch `url` with retries; raise Transient/PermanentSourceError or SecurityError."""
        where = f"source {self.source}"
        attempts = self.settings.retries + 1
        refreshed = False
        for attempt in range(attempts):
            try:
                return self._once(url, method, params, headers, data)
            except _Retry as exc:
                if attempt + 1 >= attempts:
                    raise TransientSourceError(
                        f"{exc} (gave up after {attempts} attempts)", where=where,
                        hint="the source is down or overloaded; the run will be retried later") from None
                self.retries_made += 1
                self._sleep(self._delay(attempt, exc.retry_after))
            except PermanentSourceError as exc:
                # An OAuth2 token may simply have expired: fetch a new one, once.
                if (getattr(exc, "status", None) == 401 and on_unauthorized and not refreshed
                        and on_unauthorized()):
                    refreshed = True
                    continue
                raise
        raise AssertionError("unreachable")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            # Honour the server, but never wait longer than backoff_max in one go.
            return max(0.0, min(retry_after, self.settings.backoff_max))
        cap = min(self.settings.backoff_max, self.settings.backoff_base * (2 ** attempt))
        return random.uniform(0, cap)  # full jitter: spreads retries of many workers

    def _throttle(self) -> None:
        rate = self.settings.rate_limit_per_second
        if rate:
            wait = self._last_request + 1.0 / rate - time.monotonic()
            if wait > 0:
                self._sleep(wait)
        self._last_request = time.monotonic()

    def _once(self, url, method, params, headers, data) -> HttpResponse:
        where = f"source {self.source}"
        deadline = time.monotonic() + self.settings.total
        headers = dict(headers or {})
        first_host = urlsplit(url).hostname
        for _hop in range(MAX_REDIRECTS + 1):
            check_url(url, allow_hosts=self.settings.allow_hosts, source=self.source)
            shown = self.redactor.url(_with_query(url, params))
            self._throttle()
            self.requests_made += 1
            try:
                resp = self.session.request(
                    method, url, params=params, headers=headers, data=data, stream=True,
                    allow_redirects=False, timeout=(self.settings.connect,
                                                    min(self.settings.read, self.settings.total)))
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise _Retry(f"{method} {shown}: {self.redactor.text(_short(exc))}") from None
            except requests.RequestException as exc:
                raise PermanentSourceError(f"{method} {shown}: {self.redactor.text(_short(exc))}",
                                           where=where) from None
            except UnicodeError:
                # http.client only sends Latin-1 headers; the value is likely a secret, never echo it.
                raise PermanentSourceError(f"{method} {shown}: a header value is not Latin-1 text",
                                           where=where, hint="check the token/api_key secret and `headers`") from None
            with resp:
                if resp.is_redirect and resp.headers.get("Location"):
                    url = urljoin(resp.url, resp.headers["Location"])
                    params = None  # the Location is complete; do not re-append our query
                    if urlsplit(url).hostname != first_host:
                        headers.pop("Authorization", None)  # never hand credentials to another host
                    if resp.status_code == 303 or (resp.status_code in (301, 302) and method == "POST"):
                        method, data = "GET", None
                    continue
                if not 200 <= resp.status_code < 300:
                    _drain(resp)
                _raise_for_status(resp, method, shown, where)
                body = self._read_body(resp, deadline, method, shown, where)
                return HttpResponse(resp.status_code, resp.headers, body, resp.url,
                                    dict(resp.links))
        raise SecurityError(f"{method} {self.redactor.url(url)}: more than {MAX_REDIRECTS} redirects",
                            where=where, hint="point the connector at the final URL")

    def _read_body(self, resp, deadline, method, shown, where) -> bytes:
        declared = resp.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.settings.max_bytes:
            raise _too_large(method, shown, where, self.settings.max_bytes)
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                if time.monotonic() > deadline:
                    raise _Retry(f"{method} {shown}: body not complete within the total timeout "
                                 f"of {self.settings.total:g} s ({size} bytes read)")
                chunk = resp.raw.read1(_CHUNK, decode_content=True)  # returns after one recv
                if not chunk:
                    break
                size += len(chunk)
                if size > self.settings.max_bytes:
                    raise _too_large(method, shown, where, self.settings.max_bytes)
                chunks.append(chunk)
        except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
            raise _Retry(f"{method} {shown}: body read failed after {size} bytes: "
                         f"{self.redactor.text(_short(exc))}") from None
        return b"".join(chunks)


def _raise_for_status(resp, method, shown, where) -> None:
    code = resp.status_code
    if 200 <= code < 300:
        return
    if code == 429 or code >= 500:
        raise _Retry(f"{method} {shown}: HTTP {code}", parse_retry_after(resp.headers.get("Retry-After")))
    hints = {401: "check the credentials in the source's secrets",
             403: "the credentials lack permission for this resource",
             404: "check url and path in the contract"}
    err = PermanentSourceError(f"{method} {shown}: HTTP {code} {resp.reason or ''}".rstrip(),
                               where=where, hint=hints.get(code, "the request was refused; fix it and re-run"))
    err.status = code
    raise err


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _drain(resp) -> None:
    """Read a small error body so the kept-alive connection can serve the retry."""
    try:
        resp.raw.read(64 * 1024, decode_content=False)
    except Exception:  # noqa: BLE001 - only an optimisation; the connection is then dropped
        pass


def _too_large(method, shown, where, limit) -> PermanentSourceError:
    return PermanentSourceError(f"{method} {shown}: response larger than {limit} bytes, aborted",
                                where=where, hint="ask for smaller pages or raise max_response_bytes")


def _with_query(url: str, params: Mapping[str, str] | None) -> str:
    if not params:
        return url
    req = requests.PreparedRequest()
    req.prepare_url(url, params)
    return req.url or url


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 300 else text[:300] + "…"
