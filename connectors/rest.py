"""The `rest` connector kind: a paginated JSON or XML HTTP API, read page by page.

The next page is fetched while the current one is processed (a reader thread, at most
`prefetch` pages ahead, default 1, through one reused connection and the source's rate
limit), so a sync waits on the network and on its own work at once instead of in turn.

Pagination (`page`, `offset`, `cursor`, `link`, `next_url`) is a small state dict stored in
the cursor, so a run interrupted mid-way resumes at the page and record it stopped at.
Incremental sources pass `since` as a query param (see `http_watermark`).  Transport rules
(SSRF guard, retries, timeouts, size cap, redaction) live in `http_fetch`.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from connectors.http_auth import Authenticator, Redactor, auth_param_names, validate_auth
from connectors.http_body import dig, parse_json, parse_xml_records, records_at
from connectors.http_fetch import HttpClient, HttpResponse, HttpSettings
from connectors.http_watermark import Watermark
from munihub.ingest.connector import Batch, Connector
from munihub.ingest.overlap import prefetch
from munihub.errors import ConfigError, PermanentSourceError

PAGINATION_TYPES = ("none", "page", "offset", "cursor", "link", "next_url")


class RestConnector(Connector):
    """Reads records from an HTTP API; at most `prefetch` + 2 pages in memory at a time."""

    kind = "rest"
    params_schema = {
        "type": "object",
        "required": ["url"],
        "properties": {
            "url": {"type": "string"}, "path": {"type": "string"},
            "records": {"type": "string"}, "format": {"enum": ["json", "xml"]},
            "record_tag": {"type": "string"},
            "pagination": {"type": "object", "properties": {"type": {"enum": list(PAGINATION_TYPES)}}},
            "incremental": {"type": "object", "required": ["param", "field"]},
            "auth": {"type": "object"}, "headers": {"type": "object"}, "query": {"type": "object"},
            "timeout": {"type": ["object", "number"]}, "retries": {"type": "integer"},
            "backoff_base": {"type": "number"}, "backoff_max": {"type": "number"},
            "rate_limit_per_second": {"type": "number"}, "max_response_bytes": {"type": "integer"},
            "prefetch": {"type": "integer", "minimum": 0, "maximum": 8},
            "allow_hosts": {"type": "array", "items": {"type": "string"}},
        },
    }

    def __init__(self, params, *, source="?", secrets=None, batch_size=1000):
        super().__init__(params, source=source, secrets=secrets, batch_size=batch_size)
        p = self.params
        if not p.get("url"):
            raise ConfigError("rest connector needs a `url`", where=f"source {source}")
        self.paging = dict(p.get("pagination") or {"type": "none"})
        if self.paging.get("type", "none") not in PAGINATION_TYPES:
            raise ConfigError(f"unknown pagination type {self.paging.get('type')!r}",
                              where=f"source {source}", hint=f"use one of {', '.join(PAGINATION_TYPES)}")
        self.format = p.get("format", "json")
        if self.format == "xml" and not p.get("record_tag"):
            raise ConfigError("format xml needs `record_tag`", where=f"source {source}")
        self.incremental = dict(p.get("incremental") or {})
        auth = dict(p.get("auth") or {})
        validate_auth(auth, self.secrets, source)
        self._auth_params = auth_param_names(auth)
        self.redactor = Redactor(self.secrets, self._auth_params)
        self.client = HttpClient(HttpSettings.from_params(p), source=source, redactor=self.redactor)
        self.auth = Authenticator(auth, self.secrets, self.redactor, self._fetch_token)
        self.base_url = urljoin(str(p["url"]).rstrip("/") + "/", str(p.get("path", "")).lstrip("/")) \
            if p.get("path") else str(p["url"])

    # -- reading -----------------------------------------------------------------------
    def read_batches(self, cursor: dict[str, Any] | None) -> Iterator[Batch]:
        mark = (Watermark(self.incremental["field"], cursor, self.incremental.get("key"))
                if self.incremental else None)
        skip = int((cursor or {}).get("skip", 0))
        last_cursor = cursor
        pages = self._pages((cursor or {}).get("page") or self._first_state(), mark)
        for state, label, records, next_state in prefetched(pages, int(self.params.get("prefetch", 1))):
            admitted = [(i, r) for i, r in enumerate(records) if i >= skip and (mark is None or mark.admit(r))]
            for start in range(0, len(admitted), max(1, self.batch_size)):
                chunk = admitted[start:start + self.batch_size]
                done = chunk[-1][0] + 1
                at_end = done >= len(records)
                last_cursor = self._cursor(mark, state if not at_end else next_state,
                                           0 if at_end else done)
                yield Batch([r for _, r in chunk], last_cursor, where=label,
                            positions=[f"{label} #{i + 1}" for i, _ in chunk])
            skip = 0
        if mark is not None and last_cursor != mark.final():
            yield Batch([], mark.final(), where=f"source {self.source}: end of run")

    def _pages(self, state: dict[str, Any] | None, mark: Watermark | None) -> Iterator[tuple]:
        """(state, label, records, next state) of each page in turn, from `state` on."""
        while state is not None:
            response, label = self._fetch_page(state, mark)
            records, body = self._records(response)
            next_state = self._next_state(state, records, body, response)
            yield state, label, records, next_state
            state = next_state

    def check(self) -> None:
        """Fetch the first page only (auth, guard and parsing all exercised)."""
        response, _ = self._fetch_page(self._first_state(), None)
        self._records(response)

    def close(self) -> None:
        self.client.session.close()

    # -- one page ------------------------------------------------------------------------
    def _fetch_page(self, state: dict[str, Any], mark: Watermark | None) -> tuple[HttpResponse, str]:
        headers = {"Accept": "application/xml" if self.format == "xml" else "application/json"}
        headers.update({str(k): str(v) for k, v in (self.params.get("headers") or {}).items()})
        query: dict[str, str] = {}
        url = state.get("url")
        if url is None:  # links carry the whole query; otherwise we build it
            url = self.base_url
            query.update({str(k): str(v) for k, v in (self.params.get("query") or {}).items()})
            if mark is not None and mark.since is not None:
                query[str(self.incremental["param"])] = str(mark.since)
            query.update(self._state_query(state))
        self.auth.apply(headers, query)
        response = self.client.request(url, params=query, headers=headers,
                                       on_unauthorized=self.auth.expire)
        return response, self._label(state)

    def _records(self, response: HttpResponse) -> tuple[list[dict[str, Any]], Any]:
        shown = self.redactor.url(response.url)
        if self.format == "xml":
            return parse_xml_records(response.body, self.params["record_tag"],
                                     shown=shown, source=self.source), None
        body = parse_json(response.body, shown=shown, source=self.source)
        return records_at(body, self.params.get("records"), shown=shown, source=self.source), body

    # -- pagination state ---------------------------------------------------------------
    def _first_state(self) -> dict[str, Any]:
        kind = self.paging.get("type", "none")
        if kind == "page":
            return {"page": int(self.paging.get("start", 1))}
        if kind == "offset":
            return {"offset": int(self.paging.get("start", 0))}
        if kind == "cursor":
            return {"cursor": self.paging.get("start")}
        return {"url": None}

    def _state_query(self, state: dict[str, Any]) -> dict[str, str]:
        kind = self.paging.get("type", "none")
        size = str(self.paging.get("page_size", 100))
        query: dict[str, str] = {}
        if kind == "page":
            query[self.paging.get("page_param", "page")] = str(state["page"])
            query[self.paging.get("size_param", "page_size")] = size
        elif kind == "offset":
            query[self.paging.get("page_param", "offset")] = str(state["offset"])
            query[self.paging.get("size_param", "limit")] = size
        elif kind == "cursor":
            if state.get("cursor") not in (None, ""):
                query[self.paging.get("cursor_param", "cursor")] = str(state["cursor"])
            if self.paging.get("size_param"):
                query[self.paging["size_param"]] = size
        elif kind in ("link", "next_url") and self.paging.get("size_param"):
            query[self.paging["size_param"]] = size
        return query

    def _next_state(self, state, records, body, response: HttpResponse) -> dict[str, Any] | None:
        kind = self.paging.get("type", "none")
        size = int(self.paging.get("page_size", 100))
        if kind == "none" or not records:
            return None
        if kind == "page":
            return {"page": state["page"] + 1} if len(records) >= size else None
        if kind == "offset":
            return {"offset": state["offset"] + len(records)} if len(records) >= size else None
        if kind == "cursor":
            token = dig(body, self.paging.get("cursor_path", "next_cursor"))
            nxt = None if token in (None, "") else {"cursor": token}
        elif kind == "link":
            link = response.links.get("next", {}).get("url")
            nxt = {"url": self._clean_url(urljoin(response.url, link))} if link else None
        else:  # next_url
            link = dig(body, self.paging.get("next_path", "next"))
            nxt = {"url": self._clean_url(urljoin(response.url, str(link)))} if link else None
        if nxt is not None and nxt == state:
            raise PermanentSourceError(f"{self.redactor.url(response.url)}: pagination did not advance "
                                       f"({self._label(state)} points to itself)", where=f"source {self.source}",
                                       hint="check pagination.cursor_path / next_path")
        return nxt

    def _cursor(self, mark: Watermark | None, state, skip: int) -> dict[str, Any] | None:
        if mark is None:
            return None
        if state is None:
            return mark.final()
        return {**mark.running(), "page": state, "skip": skip}

    def _clean_url(self, url: str) -> str:
        """A next-page URL without our credential params: it is stored in the cursor."""
        if not self._auth_params:
            return url
        parts = urlsplit(url)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                 if k not in self._auth_params]
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))

    def _label(self, state: dict[str, Any]) -> str:
        if "page" in state:
            return f"page {state['page']}"
        if "offset" in state:
            return f"offset {state['offset']}"
        if "cursor" in state:
            return f"cursor {state['cursor'] or '(first)'}"
        return self.redactor.url(state["url"]) if state.get("url") else self.redactor.url(self.base_url)

    def _fetch_token(self, token_url: str, form: dict[str, str]) -> dict[str, Any]:
        response = self.client.request(token_url, method="POST", data=form,
                                       headers={"Accept": "application/json"})
        return parse_json(response.body, shown=self.redactor.url(token_url), source=self.source)


def prefetched(items: Iterator, ahead: int) -> Iterator:
    """`items`, produced by a reader thread (`munihub.ingest.overlap.prefetch`) up to `ahead`
    items before the consumer asks.

    The reader's exception is raised in the consumer, in order; when the consumer stops early
    (a failed load, a closed generator) the reader stops at its next item.  `ahead=0` reads
    in the consumer's thread, as before.
    """
    if ahead <= 0:
        yield from items
        return
    # `ahead` pages waiting plus the one being fetched; a page request still under way when
    # the consumer stops is waited for 30 s at most (its own timeouts and retries may be longer)
    yield from prefetch(items, depth=ahead + 1, name="rest-prefetch", join_timeout=30)

