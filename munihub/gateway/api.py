"""The data-exchange gateway: a FastAPI app over the store, deny by default, every request audited.

This module wires the app; the routes live by concern: `datasets` (grants, rows, quality; the
rows read is the hot path, served by a plain ASGI handler), `entities` (golden records and
lineage), `push` (deliveries), `indicators`.  What every request goes through (token and
grants cached per worker, rate limit, the grant's view, page cap, sealed cursor) is in `gate`;
grants and projection in `grants`; encoding and the audit middleware in `respond`; the
hash-chained log in `munihub.store.audit`.  Every request's audit entry is committed (together
with those of concurrent requests) before its response leaves; if it cannot be, the caller
gets 503 and no data.  A request costs, once its token is cached, one statement (its page),
plus its share of an audit batch.  On PostgreSQL both are awaited on the event loop
(`munihub.gateway.reads.AsyncPages`, `munihub.store.audit.AsyncGroupCommit`), so an
unfiltered page involves no worker thread.
"""

import contextlib
import dataclasses
import gc
import logging
import os

import sqlalchemy as sa

from munihub.store import audit
from munihub.gateway import grants
from munihub.gateway.access import AccessCache, RateLimiter, rate_limiter  # noqa: F401 - RateLimiter re-exported
from munihub.gateway.reads import async_pages, connection_dependency, read_engine
from munihub.gateway.cursors import cursor_cipher
from munihub.gateway.respond import AuditMiddleware
from munihub.config import Settings, load_settings

log = logging.getLogger("munihub.gateway.api")


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
    from fastapi import FastAPI

    from munihub.gateway import datasets, entities, gate as g, indicators, push
    from munihub.store import engine_for

    settings = settings or load_settings()
    config = config or GatewayConfig.from_env()
    engine = engine_for(settings)   # writes: push deliveries and the audit log
    reads = read_engine(settings)   # page queries
    gate = g.Gate(settings, config, engine, reads, pages=async_pages(reads), access=AccessCache(config.auth_ttl),
                  limiter=rate_limiter(config.redis_url), cipher=cursor_cipher(config.pseudonym_key))
    writer = audit.group_commit(engine)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        await warm_up(gate, writer)
        settle_heap()
        yield
        await writer.aclose()  # entries still waiting are written before the worker exits
        if gate.pages is not None:
            gate.pages.close()

    app = FastAPI(title="munihub data-exchange gateway", version="1", lifespan=lifespan,
                  description="Granted datasets and golden records for city agencies. Deny by default; "
                              "every request is audited.")
    app.add_middleware(AuditMiddleware, writer=writer)
    app.state.reads, app.state.pages, app.state.audit_writer = reads, gate.pages, writer  # for probes and tests
    caller = g.caller_dependency(gate, connection_dependency(reads))

    @app.get("/healthz", tags=["ops"])
    def healthz():
        with reads.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return {"status": "ok"}

    app.include_router(datasets.routes(gate, caller))
    app.include_router(entities.routes(gate, caller))
    app.include_router(push.routes(gate, caller))
    # Issue 20: indicators as grantable resources, with these same grants, audit and paging.
    app.include_router(indicators.routes(engine, settings, caller, lambda who, limit: g.page_limit(gate, who, limit),
                                         lambda scope, last: g.seal(gate, scope, last),
                                         lambda scope, cursor: g.after(gate, scope, cursor)))
    datasets.serve_rows_directly(app, gate, writer)
    return app


# ---------------------------------------------------------------- before the first request

async def warm_up(gate, writer) -> None:
    """Do, before the worker takes requests, what its first requests would otherwise do on the
    event loop while every other request of the worker waits: read the contract of every dataset
    that has a grant (with the shared schemas, about 0.15-0.3 s the first time in a process),
    build the `limit` validator, and open a read connection, a page connection and an audit
    writer's connection (on PostgreSQL; each worker's first requests were the slowest of a
    run).  A failure here is only logged: the first requests then do the same work (and report
    the problem)."""
    from munihub import store
    from munihub.gateway import datasets
    try:
        with gate.reads.connect() as conn:
            granted = conn.execute(sa.select(store.grants.c.dataset).distinct()).scalars().all()
        for dataset in granted:
            if not dataset.startswith("entity:"):
                gate.personal_of(dataset)
        datasets.limit_validator()
        if gate.pages is not None:
            await gate.pages.warm()
        if isinstance(writer, audit.AsyncGroupCommit):
            await writer.warm()
    except Exception as err:  # noqa: BLE001 - an optimisation; the requests report real problems
        log.warning("gateway warm-up incomplete (%s: %s); the first requests will do it",
                    err.__class__.__name__, str(err).splitlines()[0] if str(err) else "")


_heap_settled = [False]


def settle_heap() -> None:
    """Once per process, after start-up: collect, then move every object alive now (modules,
    the app, its caches: some hundreds of thousands) out of the garbage collector's reach
    (`gc.freeze`).  Without this a full collection walks them all, 45-55 ms with the loop
    stopped, once every few thousand requests of a worker: the slowest requests of a run.
    Garbage made later is still collected."""
    if not _heap_settled[0]:
        _heap_settled[0] = True
        gc.collect()
        gc.freeze()


def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1, access_log: bool = False) -> None:
    """Run the gateway with uvicorn; with several workers, set MUNIHUB_GATEWAY_REDIS_URL so they share
    rate limits (otherwise each worker process counts on its own).  uvicorn's access log is off
    unless asked for: the audit log records every request already."""
    import uvicorn
    if workers > 1:
        uvicorn.run("munihub.gateway.api:create_app", factory=True, host=host, port=port, workers=workers,
                    access_log=access_log)
    else:
        uvicorn.run(create_app(), host=host, port=port, access_log=access_log)
