"""The data-exchange gateway: a FastAPI app over the store, deny by default, every request audited.

Handlers stay thin: grants and projection live in `munihub.gateway.grants`, the per-worker
access cache and rate limits in `munihub.gateway.access`, encoding and the audit middleware in
`munihub.gateway.respond`, the hash-chained log in `munihub.store.audit`.  Every request's audit
entry is committed (together with those of concurrent requests) before its response leaves; if
it cannot be, the caller gets 503 and no data.  A request costs, once its token is cached, one
statement (its page), plus its share of an audit batch.  On PostgreSQL both are awaited on the
event loop (`munihub.gateway.reads.AsyncPages`, `munihub.store.audit.AsyncGroupCommit`), so an
unfiltered page involves no worker thread.
"""

import contextlib
import dataclasses
import functools
import hashlib
import logging
import os
import re

import sqlalchemy as sa

from munihub.store import audit
from munihub.gateway import grants
from munihub.gateway.access import AccessCache, RateLimiter, rate_limiter  # noqa: F401 - RateLimiter re-exported
from munihub.gateway.reads import RequestConnection, async_pages, connection_dependency, read_engine, rows_statement
from munihub.gateway.cursors import cursor_cipher, decode_cursor, encode_cursor
from munihub.gateway.respond import AuditMiddleware, page_response
from munihub import store
from munihub.config import Settings, load_settings
from munihub.errors import AccessDenied, MunihubError, PermanentSourceError, SecurityError

log = logging.getLogger("munihub.gateway.api")
FILTER = re.compile(r"^filter\[(.+)\]$")
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,99}$")


@dataclasses.dataclass(frozen=True)
class GatewayConfig:
    """Gateway limits; defaults apply to agencies without their own override.

    `auth_ttl`: seconds a worker keeps a token's agency and grants (a revocation made by another
    process takes effect within it; 0 looks them up on every request).  `redis_url`: shared
    rate-limit buckets for every worker (without it each worker limits on its own).
    """

    page_cap: int = 500
    rate_per_minute: int = 1200
    max_push_bytes: int = 10 * 1024 * 1024
    pseudonym_key: bytes | None = None
    auth_ttl: float = 5.0
    redis_url: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "GatewayConfig":
        env = dict(os.environ if env is None else env)
        ints = {k: int(env[f"MUNIHUB_GATEWAY_{k.upper()}"]) for k in ("page_cap", "rate_per_minute", "max_push_bytes")
                if env.get(f"MUNIHUB_GATEWAY_{k.upper()}")}
        ttl = {"auth_ttl": float(env["MUNIHUB_GATEWAY_AUTH_TTL"])} if env.get("MUNIHUB_GATEWAY_AUTH_TTL") else {}
        return cls(**ints, **ttl, pseudonym_key=grants.pseudonym_key(env),
                   redis_url=env.get("MUNIHUB_GATEWAY_REDIS_URL") or None)


# ---------------------------------------------------------------- the app

def create_app(settings: Settings | None = None, config: GatewayConfig | None = None):
    """The gateway app for the store in `settings` (default: the environment)."""
    from fastapi import Depends, FastAPI, HTTPException, Query, Request
    from fastapi.responses import JSONResponse
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
    from starlette.concurrency import run_in_threadpool

    from munihub.contracts import contract_for
    from munihub.store import engine_for

    settings = settings or load_settings()
    config = config or GatewayConfig.from_env()
    engine = engine_for(settings)   # writes: push deliveries and the audit log
    reads = read_engine(settings)   # page queries
    pages = async_pages(reads)      # on PostgreSQL, unfiltered row pages awaited on the event loop
    writer = audit.group_commit(engine)
    access = AccessCache(config.auth_ttl)
    limiter = rate_limiter(config.redis_url)
    cipher = cursor_cipher(config.pseudonym_key)
    bearer = HTTPBearer(auto_error=False, description="the agency token from `munihub agencies add`")

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        await writer.aclose()  # entries still waiting are written before the worker exits
        if pages is not None:
            pages.close()

    app = FastAPI(title="munihub data-exchange gateway", version="1", lifespan=lifespan,
                  description="Granted datasets and golden records for city agencies. Deny by default; "
                              "every request is audited.")
    app.add_middleware(AuditMiddleware, writer=writer)
    app.state.reads, app.state.pages, app.state.audit_writer = reads, pages, writer  # for probes and tests

    @functools.lru_cache(maxsize=256)
    def contract(dataset: str):
        try:
            return contract_for(dataset, settings)
        except MunihubError:
            return None

    @functools.lru_cache(maxsize=256)
    def personal_of(dataset: str):
        """One function per dataset (not one per request), so equal views are equal and cacheable."""
        c = contract(dataset)
        return grants.contract_personal(c) if c else grants.everything_personal

    # Projections and key pseudonymizers per view: the field decisions and keyed pads are worked
    # out once per worker for an agency's view, not on every page.
    projector = functools.lru_cache(maxsize=1024)(grants.projector)
    key_pseudonymizer = functools.lru_cache(maxsize=1024)(
        lambda key, agency_id: grants.pseudonymizer(key, agency_id, "source_key"))

    # ------------------------------------------------------------ dependencies

    request_connection = connection_dependency(reads)

    def _authorize(token: str | None, db: RequestConnection):
        generation = grants.changes()  # read first: a change made during the lookup leaves it stale
        found = grants.authorize(db.get(), token)
        access.put(token, found, generation)
        return found

    async def caller(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(bearer),
                     db: RequestConnection = Depends(request_connection, scope="function")):
        request.state.db = db
        token = creds.credentials if creds else None
        found = access.get(token)
        if found is None:
            try:
                found = await run_in_threadpool(_authorize, token, db)
            except AccessDenied as err:
                raise HTTPException(401, str(err), headers={"WWW-Authenticate": "Bearer"})
        agency = found[0]
        request.state.audit["agency"] = agency.agency_id
        wait = await limiter.take(agency.agency_id, agency.rate_per_minute or config.rate_per_minute)
        if wait:
            raise HTTPException(429, f"rate limit of agency {agency.agency_id} reached",
                                headers={"Retry-After": str(max(1, round(wait)))})
        return found

    def view(request: Request, who, dataset: str, fields: str | None) -> grants.View:
        agency, held = who
        request.state.audit["dataset"] = dataset
        grant = held.get(dataset)
        if grant is None:
            raise HTTPException(403, f"agency {agency.agency_id} has no grant on {dataset}")
        if dataset.startswith("entity:"):
            personal = grants.entity_personal
        else:
            personal = personal_of(dataset)
        v = grants.View(agency.agency_id, grant, personal, config.pseudonym_key)
        wanted = [f.strip() for f in (fields or "").split(",") if f.strip()]
        try:
            v.check_fields(wanted)
        except ValueError as err:
            raise HTTPException(422, str(err))
        except AccessDenied as err:
            raise HTTPException(403, str(err))
        return dataclasses.replace(v, wanted=tuple(wanted))

    def page_limit(who, limit: int) -> int:
        cap = who[0].page_cap or config.page_cap
        if limit > cap:
            raise HTTPException(422, f"limit {limit} is over the page cap of {cap} rows for agency "
                                     f"{who[0].agency_id}; page with the cursor instead")
        return limit

    def after(scope: str, cursor: str | None) -> str | None:
        if not cursor:
            return None
        try:
            return decode_cursor(cipher, scope, cursor)
        except ValueError as err:
            raise HTTPException(422, str(err))

    def keyset_page(request: Request, q, column, scope: str, cursor: str | None, limit: int):
        """One page of `q` ordered by `column` after the caller's cursor: (rows, next cursor or None)."""
        start = after(scope, cursor)
        if start is not None:
            q = q.where(column > start)
        rows = request.state.db.get().execute(q.order_by(column).limit(limit + 1)).all()
        more, rows = len(rows) > limit, rows[:limit]
        request.state.audit["rows"] = len(rows)
        return rows, encode_cursor(cipher, scope, getattr(rows[-1], column.name)) if more else None

    def key_in_clear(v: grants.View, dataset: str) -> bool:
        c = contract(dataset)
        if c is not None and c.record_id:  # the source's own id: clear unless it is a personal value
            return not any(f.personal and (f.source in c.record_id or set(f.sources) & set(c.record_id))
                           for f in c.fields)
        return bool(c is not None and c.key and all(v.visible(k) and v.clear(k) for k in c.key))

    def key_of(v: grants.View, dataset: str, key: str) -> str:
        if key_in_clear(v, dataset):
            return key
        return grants.pseudonym(key, agency_id=v.agency_id, field="source_key", key=v.key)

    Who = Depends(caller)
    Limit = Query(100, ge=1, description="rows per page, at most the agency's page cap (default 500)")
    Fields = Query(None, description="comma-separated field names to return (within the grant)")

    # ------------------------------------------------------------ routes

    @app.get("/healthz", tags=["ops"])
    def healthz():
        with reads.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return {"status": "ok"}

    @app.get("/v1/datasets", tags=["datasets"])
    def datasets(request: Request, who=Who):
        held = who[1]
        request.state.audit["rows"] = len(held)
        return {"datasets": [{"dataset": g.dataset, "fields": list(g.fields), "push": g.can_push,
                              "kind": "entity" if g.dataset.startswith("entity:") else "source"}
                             for g in sorted(held.values(), key=lambda g: g.dataset)]}

    @app.get("/v1/datasets/{dataset_id}/rows", tags=["datasets"])
    async def dataset_rows(request: Request, dataset_id: str, cursor: str | None = None, limit: int = Limit,
                           fields: str | None = Fields, who=Who):
        """Published rows in source-key order. Filter with `filter[field]=value` (exact match)."""
        v = view(request, who, dataset_id, fields)
        limit = page_limit(who, limit)
        t = store.source_rows
        q = sa.select(t.c.source_key, t.c.record, t.c.load_id, t.c.updated_at).where(t.c.source == dataset_id)
        filtered = False
        for name, value in request.query_params.multi_items():
            m = FILTER.match(name)
            if not m:
                continue
            try:
                v.check_filter(m.group(1))
            except ValueError as err:
                raise HTTPException(422, str(err))
            except AccessDenied as err:
                raise HTTPException(403, str(err))
            path = tuple(m.group(1).split("."))
            q = q.where(sa.cast(t.c.record[path if len(path) > 1 else path[0]].as_string(), sa.String) == value)
            filtered = True
        scope = f"rows|{dataset_id}|{v.agency_id}"
        start = after(scope, cursor)
        if pages is not None and not filtered:
            rows = await pages.fetch(rows_statement(reads.dialect, start is not None),
                                     {"source": dataset_id, "start": start, "n": limit + 1})
        else:
            if start is not None:
                q = q.where(t.c.source_key > start)
            q = q.order_by(t.c.source_key).limit(limit + 1)
            rows = await run_in_threadpool(lambda: request.state.db.get().execute(q).all())
        more, rows = len(rows) > limit, rows[:limit]
        request.state.audit["rows"] = len(rows)
        next_cursor = encode_cursor(cipher, scope, rows[-1][0]) if more else None
        # Projected and encoded on the event loop: about a millisecond for a page of 100 rows.
        project = projector(v)
        key = (lambda k: k) if key_in_clear(v, dataset_id) else key_pseudonymizer(v.key, v.agency_id)
        return page_response({"dataset": dataset_id}, "rows",
                             [{"key": key(source_key), "load_id": load_id, "updated_at": _iso(updated_at),
                               "record": project(record)} for source_key, record, load_id, updated_at in rows],
                             {"next_cursor": next_cursor})

    @app.get("/v1/datasets/{dataset_id}/quality", tags=["datasets"])
    def dataset_quality(request: Request, dataset_id: str, who=Who):
        view(request, who, dataset_id, None)
        t = store.loads
        conn = request.state.db.get()
        last = conn.execute(sa.select(t).where(t.c.source == dataset_id)
                            .order_by(t.c.started_at.desc()).limit(1)).mappings().first()
        if last is None:
            raise HTTPException(404, f"no load of {dataset_id} yet")
        keep = ("load_id", "status", "started_at", "finished_at", "rows_in", "rows_new", "rows_changed",
                "rows_unchanged", "rows_quarantined", "checks", "contract_version")
        return {"dataset": dataset_id, **{k: last[k] for k in keep}}

    @app.get("/v1/entities/{entity_type}", tags=["entities"])
    def entity_list(request: Request, entity_type: str, cursor: str | None = None, limit: int = Limit,
                    fields: str | None = Fields, who=Who):
        v = view(request, who, f"entity:{entity_type}", fields)
        limit = page_limit(who, limit)
        t = store.entities
        q = sa.select(t.c.entity_id, t.c.golden, t.c.member_count, t.c.updated_at).where(t.c.entity_type == entity_type)
        rows, next_cursor = keyset_page(request, q, t.c.entity_id, f"entities|{entity_type}|{v.agency_id}",
                                        cursor, limit)
        project = projector(v)
        return page_response({"entity_type": entity_type}, "entities",
                             [{"entity_id": r.entity_id, "members": r.member_count, "updated_at": _iso(r.updated_at),
                               "golden": project(r.golden)} for r in rows],
                             {"next_cursor": next_cursor})

    def _entity(request, who, entity_type, entity_id, fields=None):
        v = view(request, who, f"entity:{entity_type}", fields)
        t = store.entities
        conn = request.state.db.get()
        ent = conn.execute(sa.select(t).where(t.c.entity_id == entity_id, t.c.entity_type == entity_type)
                           ).mappings().first()
        if ent is None:
            raise HTTPException(404, f"no {entity_type} entity {entity_id}")
        request.state.audit.update(rows=1, entity=entity_id)
        return v, ent

    @app.get("/v1/entities/{entity_type}/{entity_id}", tags=["entities"])
    def entity_get(request: Request, entity_type: str, entity_id: str, fields: str | None = Fields, who=Who):
        v, ent = _entity(request, who, entity_type, entity_id, fields)
        return {"entity_id": ent["entity_id"], "entity_type": entity_type, "members": ent["member_count"],
                "updated_at": ent["updated_at"], "golden": v.project(ent["golden"])}

    @app.get("/v1/entities/{entity_type}/{entity_id}/lineage", tags=["entities"])
    def entity_lineage(request: Request, entity_type: str, entity_id: str, who=Who):
        """Which source rows and loads each golden value came from (keys pseudonymized unless granted)."""
        v, ent = _entity(request, who, entity_type, entity_id)
        m, ld = store.entity_members, store.loads
        conn = request.state.db.get()
        members = conn.execute(sa.select(m.c.source, m.c.source_key, m.c.rule, m.c.score, m.c.load_id)
                               .where(m.c.entity_id == entity_id).order_by(m.c.source, m.c.source_key)).all()
        load_ids = {x.load_id for x in members if x.load_id} | \
            {x.get("load_id") for x in (ent["lineage"] or {}).values() if isinstance(x, dict) and x.get("load_id")}
        loads = conn.execute(sa.select(ld.c.load_id, ld.c.source, ld.c.status, ld.c.finished_at)
                             .where(ld.c.load_id.in_(sorted(load_ids)))).mappings().all()
        held = who[1]

        def ref(source: str, key: str) -> str:
            g = held.get(source)
            if g is None:
                return grants.pseudonym(f"{source}|{key}", agency_id=v.agency_id, field="ref", key=v.key)
            sv = grants.View(v.agency_id, g, personal_of(source), v.key)
            return f"{source}|{key_of(sv, source, key)}"

        values = {}
        for name, item in (ent["lineage"] or {}).items():
            if not v.visible(name) or not isinstance(item, dict):
                continue
            src, _, key = str(item.get("ref", "")).partition("|")
            values[name] = {"ref": ref(src, key), "load_id": item.get("load_id"), "rule": item.get("rule"),
                            "value": v.project({name: item.get("value")}).get(name)}
        return {"entity_id": entity_id, "entity_type": entity_type, "fields": values,
                "members": [{"ref": ref(x.source, x.source_key), "source": x.source, "rule": x.rule,
                             "score": x.score, "load_id": x.load_id} for x in members],
                "loads": [dict(x) for x in loads]}

    @app.post("/v1/datasets/{dataset_id}/deliveries", status_code=202, tags=["push"])
    async def push(request: Request, dataset_id: str, who=Who):
        """Deliver a JSON array (or JSON Lines) of records; header `Idempotency-Key` is required."""
        key = request.headers.get("idempotency-key", "")
        if not IDEMPOTENCY_KEY.match(key):
            raise HTTPException(422, "header Idempotency-Key is required: letters, digits, '_' or '-', max 100")
        grant = who[1].get(dataset_id)
        request.state.audit["dataset"] = dataset_id
        if grant is None or not grant.can_push:
            raise HTTPException(403, f"agency {who[0].agency_id} may not push to {dataset_id}")
        c = contract(dataset_id)
        if c is None or c.connector != "push":
            raise HTTPException(404, f"{dataset_id} does not take pushed deliveries")
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > config.max_push_bytes:
            raise HTTPException(413, f"body of {declared} bytes is over the limit of {config.max_push_bytes}")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > config.max_push_bytes:
                raise HTTPException(413, f"body is over the limit of {config.max_push_bytes} bytes")
        status, result = await run_in_threadpool(_deliver, who[0].agency_id, c, key, bytes(body))
        request.state.audit.update(rows=result.get("bytes"), delivery=result["delivery_id"])
        return JSONResponse(result, status_code=status)

    def _deliver(agency_id: str, c, key: str, body: bytes) -> tuple[int, dict]:
        from munihub.contracts import expand_params
        from munihub.ingest.connector import load_connector_class

        t = store.push_deliveries
        digest = hashlib.sha256(body).hexdigest()
        where = (t.c.dataset == c.id, t.c.agency_id == agency_id, t.c.idempotency_key == key)
        with engine.begin() as conn:
            seen = conn.execute(sa.select(t).where(*where)).mappings().first()
            if seen is not None:
                if seen["body_hash"] != digest:
                    raise HTTPException(409, f"Idempotency-Key {key} was used for a different body")
                return 200, {"delivery_id": seen["delivery_id"], "dataset": c.id, "bytes": seen["bytes"]}
            delivery_id = f"{agency_id}.{key}"
            conn.execute(t.insert().values(dataset=c.id, agency_id=agency_id, idempotency_key=key, body_hash=digest,
                                           delivery_id=delivery_id, bytes=len(body), received_at=grants.utc_now()))
            audit.append(conn, agency_id, "push.deliver", c.id, "ok", {"delivery_id": delivery_id, "bytes": len(body)})
            try:  # written last: if the ledger row or audit entry failed, nothing reached the inbox
                load_connector_class("push").deliver(expand_params(c)["inbox"], delivery_id, body, max_bytes=config.max_push_bytes)
            except SecurityError as err:
                raise HTTPException(422, str(err))
            except PermanentSourceError as err:
                raise HTTPException(409 if "already received" in str(err) else 422, str(err))
        return 202, {"delivery_id": delivery_id, "dataset": c.id, "bytes": len(body)}

    # Issue 20: indicators as grantable resources, with these same grants, audit and paging.
    from munihub.gateway.indicators import routes as indicator_routes
    app.include_router(indicator_routes(engine, settings, caller, page_limit,
                                        lambda scope, last: encode_cursor(cipher, scope, last), after))

    return app


@functools.lru_cache(maxsize=1024)
def _iso(value):
    """A timestamp spelled as FastAPI's encoder spelled it (isoformat), so answers keep their form
    (cached: the rows of one load share their stamp)."""
    return value.isoformat() if value is not None else None


def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Run the gateway with uvicorn; with several workers, set MUNIHUB_GATEWAY_REDIS_URL so they share
    rate limits (otherwise each worker process counts on its own)."""
    import uvicorn
    if workers > 1:
        uvicorn.run("munihub.gateway.api:create_app", factory=True, host=host, port=port, workers=workers)
    else:
        uvicorn.run(create_app(), host=host, port=port)
