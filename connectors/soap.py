"""The `soap` connector kind: one operation of a SOAP service, paged, read with zeep.

Every URL zeep touches (WSDL, imported schemas, the endpoint) passes the SSRF guard; a
remote WSDL may not pull local files.  SOAP faults and 4xx are permanent; refused
connections, timeouts, 429 and 5xx without a fault are retried, then transient.  Paging and
the incremental watermark work as in the `rest` kind (see `http_watermark`).
"""
from __future__ import annotations

import datetime as dt
import decimal
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from connectors.http_auth import Redactor
from connectors.http_body import dig
from connectors.http_guard import check_url
from connectors.http_watermark import Watermark
from munihub.ingest.connector import Batch, Connector
from munihub.errors import ConfigError, PermanentSourceError, SecurityError, TransientSourceError


def _zeep():
    try:
        import zeep
        import zeep.helpers
        import zeep.transports
    except ImportError as exc:  # heavy dependency at the edge
        raise ConfigError("the soap connector needs zeep", hint="pip install 'munihub[soap]'") from exc
    return zeep


def _guarded_transport(zeep, *, allow_hosts, source, local_root: Path | None, timeout, session):
    class GuardedTransport(zeep.transports.Transport):
        """A zeep transport that checks every URL and reads local files only beside a local WSDL."""

        def load(self, url):
            scheme = urlsplit(str(url)).scheme.lower()
            if scheme in ("http", "https"):
                check_url(url, allow_hosts=allow_hosts, source=source)
                return super().load(url)
            path = Path(str(url)[7:] if scheme == "file" else str(url)).resolve()
            if local_root is None or not path.is_relative_to(local_root):
                raise SecurityError(f"WSDL import of local file {url!r} refused", where=f"source {source}",
                                    hint="a WSDL may only import files from its own folder")
            return path.read_bytes()

        def get(self, address, params, headers):
            check_url(address, allow_hosts=allow_hosts, source=source)
            return super().get(address, params, headers)

        def post(self, address, message, headers):
            check_url(address, allow_hosts=allow_hosts, source=source)
            response = super().post(address, message, headers)
            if response.status_code >= 400 and not response.content.lstrip().startswith(b"<"):
                # Not a SOAP fault (an HTML/JSON error page): report the status, not a parse error.
                raise zeep.exceptions.TransportError(f"HTTP {response.status_code}",
                                                     status_code=response.status_code)
            return response

    return GuardedTransport(timeout=timeout, operation_timeout=timeout, session=session)


class SoapConnector(Connector):
    """Calls `operation` with `arguments` (plus paging/since) and yields the records in the reply."""

    kind = "soap"
    params_schema = {
        "type": "object", "required": ["wsdl", "operation"],
        "properties": {
            "wsdl": {"type": "string"}, "operation": {"type": "string"}, "endpoint": {"type": "string"},
            "arguments": {"type": "object"}, "records": {"type": "string"},
            "paging": {"type": "object"}, "incremental": {"type": "object"},
            "timeout": {"type": "number"}, "retries": {"type": "integer"},
            "allow_hosts": {"type": "array", "items": {"type": "string"}},
        },
    }

    def __init__(self, params, *, source="?", secrets=None, batch_size=1000):
        super().__init__(params, source=source, secrets=secrets, batch_size=batch_size)
        p = self.params
        missing = [k for k in ("wsdl", "operation") if not p.get(k)]
        if missing:
            raise ConfigError(f"soap connector needs {', '.join(missing)}", where=f"source {source}")
        self.paging = dict(p.get("paging") or {})
        self.incremental = dict(p.get("incremental") or {})
        self.redactor = Redactor(self.secrets)
        self.retries = int(p.get("retries", 3))
        self.backoff_base = float(p.get("backoff_base", 0.5))
        self.backoff_max = float(p.get("backoff_max", 30.0))
        self._client = None
        self._service = None

    # -- zeep setup (lazy: check/discover/read all start here) -----------------------------
    def _service_proxy(self):
        if self._service is not None:
            return self._service
        zeep = _zeep()
        wsdl = str(self.params["wsdl"])
        remote = urlsplit(wsdl).scheme.lower() in ("http", "https")
        local_root = None if remote else Path(wsdl).resolve().parent
        session = requests.Session()
        session.trust_env = False
        if self.secrets.get("username"):
            session.auth = (self.secrets["username"], self.secrets.get("password", ""))
        transport = _guarded_transport(zeep, allow_hosts=self.params.get("allow_hosts"), source=self.source,
                                       local_root=local_root, timeout=float(self.params.get("timeout", 30)),
                                       session=session)
        settings = zeep.Settings(strict=True,  # recover mode would drop broken records silently
                                   forbid_dtd=True, forbid_entities=True, forbid_external=True)
        self._client = self._call(lambda: zeep.Client(wsdl, transport=transport, settings=settings),
                                  f"loading WSDL {self.redactor.url(wsdl) if remote else wsdl}")
        if self.params.get("endpoint"):
            binding = next(iter(self._client.wsdl.bindings))
            self._service = self._client.create_service(binding, str(self.params["endpoint"]))
        else:
            self._service = self._client.service
        return self._service

    def close(self) -> None:
        if self._client is not None:
            self._client.transport.session.close()

    # -- reading ------------------------------------------------------------------------
    def read_batches(self, cursor: dict[str, Any] | None) -> Iterator[Batch]:
        service = self._service_proxy()
        operation = str(self.params["operation"])
        mark = (Watermark(self.incremental["field"], cursor, self.incremental.get("key"))
                if self.incremental else None)
        page = (cursor or {}).get("page") or ({"page": int(self.paging.get("start", 1))} if self.paging else None)
        skip = int((cursor or {}).get("skip", 0))
        last = cursor
        while True:
            args = dict(self.params.get("arguments") or {})
            if mark is not None and mark.since is not None:
                args[self.incremental.get("argument", "since")] = mark.since
            size = int(self.paging.get("page_size", 100))
            if page is not None:
                args[self.paging.get("page_argument", "page")] = page["page"]
                if self.paging.get("size_argument"):
                    args[self.paging["size_argument"]] = size
            label = f"{operation} page {page['page']}" if page else operation
            reply = self._call(lambda: getattr(service, operation)(**args), label)
            records = self._records(reply, label)
            more = page is not None and len(records) >= size and len(records) > 0
            nxt = {"page": page["page"] + 1} if more else None
            admitted = [(i, r) for i, r in enumerate(records) if i >= skip and (mark is None or mark.admit(r))]
            for start in range(0, len(admitted), max(1, self.batch_size)):
                chunk = admitted[start:start + self.batch_size]
                done = chunk[-1][0] + 1
                at_end = done >= len(records)
                last = self._cursor(mark, nxt if at_end else page, 0 if at_end else done)
                yield Batch([r for _, r in chunk], last, where=label,
                            positions=[f"{label} #{i + 1}" for i, _ in chunk])
            skip = 0
            if nxt is None:
                break
            page = nxt
        if mark is not None and last != mark.final():
            yield Batch([], mark.final(), where=f"{operation}: end of run")

    def check(self) -> None:
        """Load the WSDL and make sure the operation exists (no call is made)."""
        service = self._service_proxy()
        operation = str(self.params["operation"])
        try:
            getattr(service, operation)
        except AttributeError:
            raise ConfigError(f"SOAP operation {operation!r} not in the WSDL", where=f"source {self.source}",
                              hint="check `operation` against the service's WSDL") from None

    def _cursor(self, mark, page, skip):
        if mark is None:
            return None
        if page is None:
            return mark.final()
        return {**mark.running(), "page": page, "skip": skip}

    def _records(self, reply: Any, label: str) -> list[dict[str, Any]]:
        zeep = _zeep()
        data = _json_safe(zeep.helpers.serialize_object(reply, target_cls=dict))
        found = dig(data, self.params.get("records")) if self.params.get("records") else data
        if found is None:
            return []  # an empty sequence serializes as None
        if isinstance(found, dict):
            found = [found]
        if not isinstance(found, list) or not all(isinstance(r, dict) for r in found):
            raise PermanentSourceError(f"{label}: {self.params.get('records') or 'the reply'} is not a "
                                       "list of records", where=f"source {self.source}",
                                       hint="set `records` to the path of the repeated element")
        return found

    def _call(self, fn, label: str):
        """Run one zeep call, retrying transport trouble with full-jitter backoff."""
        zeep = _zeep()
        where = f"source {self.source}"
        for attempt in range(self.retries + 1):
            try:
                return fn()
            except zeep.exceptions.Fault as exc:
                raise PermanentSourceError(f"{label}: SOAP fault {self.redactor.text(str(exc.code))}: "
                                           f"{self.redactor.text(str(exc.message))}", where=where,
                                           hint="the service refused the request; check arguments") from None
            except zeep.exceptions.TransportError as exc:
                if not (exc.status_code == 429 or exc.status_code >= 500):
                    raise PermanentSourceError(f"{label}: HTTP {exc.status_code}", where=where) from None
                problem = f"{label}: HTTP {exc.status_code}"
            except (requests.ConnectionError, requests.Timeout) as exc:
                problem = f"{label}: {self.redactor.text(str(exc))[:300]}"
            except zeep.exceptions.XMLSyntaxError as exc:
                raise PermanentSourceError(f"{label}: malformed XML: {exc}", where=where) from None
            except zeep.exceptions.Error as exc:
                raise PermanentSourceError(f"{label}: {self.redactor.text(str(exc))}", where=where) from None
            if attempt < self.retries:
                time.sleep(random.uniform(0, min(self.backoff_max, self.backoff_base * 2 ** attempt)))
        raise TransientSourceError(f"{problem} (gave up after {self.retries + 1} attempts)", where=where,
                                   hint="the service is down or overloaded; the run will be retried later")


def _json_safe(value: Any) -> Any:
    """zeep gives datetimes and Decimals; records and cursors must be plain JSON."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value
