"""What every gateway request goes through, whichever route serves it: who is calling (token
and grants, cached per worker), may they call now (rate limit), how they see a dataset (the
view of their grant), how many rows (page cap), and where a page starts (sealed cursor).

`Gate` holds one app's shared state; the functions take it and a Starlette `Request`, and
refuse with `HTTPException` (401, 403, 422, 429).  The FastAPI routes reach `caller` through
dependency injection; the page read (`munihub.gateway.datasets`) calls the same functions
directly, so both kinds of route authenticate, limit, grant and audit with this one code.
"""
# No `from __future__ import annotations`: FastAPI reads `caller`'s annotations at runtime.

import dataclasses
import functools
import logging
import threading
from typing import Any

import sqlalchemy as sa

from munihub.config import Settings
from munihub.errors import AccessDenied, MunihubError
from munihub.gateway import grants, pages, shaped
from munihub.gateway.cursors import decode_cursor, encode_cursor
from munihub.gateway.reads import RequestConnection

log = logging.getLogger("munihub.gateway.gate")
__all__ = ["Gate", "bearer_token", "identify", "caller_dependency", "view", "page_limit", "after", "seal",
           "key_in_clear", "key_of", "iso"]


@dataclasses.dataclass
class Gate:
    """One app's shared state: its settings and limits (a `GatewayConfig`), engines, the access
    cache, rate limiter and cursor cipher, and per-worker caches of contracts and projections."""

    settings: Settings
    config: Any               # munihub.gateway.api.GatewayConfig
    engine: sa.Engine         # writes: push deliveries, the audit log
    reads: sa.Engine          # token lookups, filtered pages, entities
    pages: Any                # AsyncPages on PostgreSQL (unfiltered pages on the event loop), else None
    access: Any               # AccessCache
    limiter: Any              # RateLimiter or RedisRateLimiter
    cipher: Any               # the cursors' AES-GCM

    def __post_init__(self):
        # Per worker and per view, worked out once: contracts, which fields are personal, and
        # the projections of an agency's view, record by record and page by page (not on every page).
        self.contract = functools.lru_cache(maxsize=256)(self._contract)
        self.personal_of = functools.lru_cache(maxsize=256)(self._personal_of)
        self.projector = functools.lru_cache(maxsize=1024)(grants.projector)
        self.page_projector = functools.lru_cache(maxsize=1024)(
            lambda v: pages.page_projector(v, self.projector(v)))
        # Per dataset, the shape its records were last seen to share; per (shape, view), the
        # statement and template that read such pages (`munihub.gateway.shaped`).
        self.shapes: dict[str, shaped.Shape] = {}
        self.plan = functools.lru_cache(maxsize=1024)(shaped.plan)
        # Whether a view shows a dataset's keys in clear: from the (cached) contract and the view.
        self.keys_in_clear = functools.lru_cache(maxsize=1024)(lambda v, dataset: key_in_clear(self, v, dataset))

    def _contract(self, dataset: str):
        from munihub.contracts import contract_for
        try:
            return contract_for(dataset, self.settings)
        except MunihubError:
            return None

    def _personal_of(self, dataset: str):
        """One function per dataset (not one per request), so equal views are equal and cacheable."""
        c = self.contract(dataset)
        return grants.contract_personal(c) if c else grants.everything_personal


def _http_error(status: int, detail: str, headers: dict[str, str] | None = None):
    from starlette.exceptions import HTTPException
    return HTTPException(status, detail, headers=headers)


def bearer_token(request) -> str | None:
    """The credentials of `Authorization: Bearer ...` (any case of the scheme), as FastAPI's
    HTTPBearer reads them; None if absent or of another scheme."""
    scheme, _, credentials = (request.headers.get("authorization") or "").partition(" ")
    credentials = credentials.strip()
    return credentials if scheme.lower() == "bearer" and credentials else None


def _authorize(token: str | None, db: RequestConnection):
    generation = grants.changes()  # read first: a change made during the lookup leaves it stale
    found = grants.authorize(db.get(), token)
    return found, generation


def _renew(gate: Gate, token: str) -> None:
    """Look a cached token up again, on a thread of its own with a read connection of its own."""
    db = RequestConnection(gate.reads)
    try:
        found, generation = _authorize(token, db)
    except AccessDenied:
        gate.access.forget(token)  # revoked meanwhile: refused from the next request on
        return
    except Exception as err:  # noqa: BLE001 - the entry expires at its bound; a request then looks it up
        log.warning("renewing a cached token failed (%s); it expires at its bound", err.__class__.__name__)
        return
    finally:
        db.close()
    gate.access.put(token, found, generation)


async def identify(gate: Gate, request, token: str | None, db: RequestConnection):
    """(Agency, grants) of the caller, or 401; then its rate limit, or 429.  A token not in the
    worker's cache is looked up on `db` (the request's one read connection) in a thread; a cached
    one in the second half of its life is looked up again on another thread while this request
    goes on with the cached grants (`AccessCache.due`), so no request of a token in steady use
    waits for a lookup, and none is answered from a lookup older than the cache bound."""
    from starlette.concurrency import run_in_threadpool
    request.state.db = db
    found = gate.access.get(token)
    if found is not None and gate.access.due(token):
        threading.Thread(target=_renew, args=(gate, token), name="munihub-token-renewal", daemon=True).start()
    if found is None:
        try:
            found, generation = await run_in_threadpool(_authorize, token, db)
        except AccessDenied as err:
            raise _http_error(401, str(err), {"WWW-Authenticate": "Bearer"})
        gate.access.put(token, found, generation)
    agency = found[0]
    request.state.audit["agency"] = agency.agency_id
    wait = await gate.limiter.take(agency.agency_id, agency.rate_per_minute or gate.config.rate_per_minute)
    if wait:
        raise _http_error(429, f"rate limit of agency {agency.agency_id} reached",
                          {"Retry-After": str(max(1, round(wait)))})
    return found


def caller_dependency(gate: Gate, request_connection):
    """`identify` as a FastAPI dependency (the bearer scheme shows in the OpenAPI document)."""
    from fastapi import Depends, Request
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
    bearer = HTTPBearer(auto_error=False, description="the agency token from `munihub agencies add`")

    async def caller(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(bearer),
                     db: RequestConnection = Depends(request_connection, scope="function")):
        return await identify(gate, request, creds.credentials if creds else None, db)
    return caller


def view(gate: Gate, request, who, dataset: str, fields: str | None) -> grants.View:
    """How the caller sees `dataset`: 403 without a grant, 403/422 for a `fields=` outside it."""
    agency, held = who
    request.state.audit["dataset"] = dataset
    grant = held.get(dataset)
    if grant is None:
        raise _http_error(403, f"agency {agency.agency_id} has no grant on {dataset}")
    personal = grants.entity_personal if dataset.startswith("entity:") else gate.personal_of(dataset)
    wanted = tuple(f.strip() for f in (fields or "").split(",") if f.strip())
    v = grants.View(agency.agency_id, grant, personal, gate.config.pseudonym_key, wanted)
    try:
        v.check_fields(list(wanted))  # checked against the grant; the narrowing plays no part in it
    except ValueError as err:
        raise _http_error(422, str(err))
    except AccessDenied as err:
        raise _http_error(403, str(err))
    return v


def page_limit(gate: Gate, who, limit: int) -> int:
    cap = who[0].page_cap or gate.config.page_cap
    if limit > cap:
        raise _http_error(422, f"limit {limit} is over the page cap of {cap} rows for agency "
                               f"{who[0].agency_id}; page with the cursor instead")
    return limit


def after(gate: Gate, scope: str, cursor: str | None) -> str | None:
    """The last key of the previous page, from the caller's sealed cursor (422 if not ours)."""
    if not cursor:
        return None
    try:
        return decode_cursor(gate.cipher, scope, cursor)
    except ValueError as err:
        raise _http_error(422, str(err))


def seal(gate: Gate, scope: str, last: str) -> str:
    return encode_cursor(gate.cipher, scope, last)


def key_in_clear(gate: Gate, v: grants.View, dataset: str) -> bool:
    c = gate.contract(dataset)
    if c is not None and c.record_id:  # the source's own id: clear unless it is a personal value
        return not any(f.personal and (f.source in c.record_id or set(f.sources) & set(c.record_id))
                       for f in c.fields)
    return bool(c is not None and c.key and all(v.visible(k) and v.clear(k) for k in c.key))


def key_of(gate: Gate, v: grants.View, dataset: str, key: str) -> str:
    if key_in_clear(gate, v, dataset):
        return key
    return grants.pseudonym(key, agency_id=v.agency_id, field="source_key", key=v.key)


@functools.lru_cache(maxsize=1024)
def iso(value):
    """A timestamp spelled as FastAPI's encoder spelled it (isoformat), so answers keep their form
    (cached: the rows of one load share their stamp)."""
    return value.isoformat() if value is not None else None
