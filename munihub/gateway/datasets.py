"""The dataset routes: the caller's grants, a dataset's published rows page by page, and its
latest load.

The rows route is the gateway's hot path.  It is declared to FastAPI (so it is in the OpenAPI
document with its parameters), but `serve_rows_directly` hands its requests to a plain ASGI
handler that runs the same checks (`munihub.gateway.gate`: token, rate limit, grant, page cap,
cursor) and the same `rows_page`, without FastAPI's dependency solving and parameter models
(about a tenth of a page's CPU in a worker).  Errors are raised as FastAPI raises them
(HTTPException, RequestValidationError for a bad `limit`), so the answers are the same.
"""
# No `from __future__ import annotations`: FastAPI reads the handlers' annotations at runtime.
import functools
import re

import sqlalchemy as sa

from munihub import store
from munihub.errors import AccessDenied
from munihub.gateway import gate as g, shaped
from munihub.gateway.pages import pseudonym_column
from munihub.gateway.reads import RequestConnection, decode_records, rows_statement
from munihub.gateway.respond import page_response

FILTER = re.compile(r"^filter\[(.+)\]$")
ROWS = "/v1/datasets/{dataset_id}/rows"


async def rows_page(gate: g.Gate, request, who, dataset_id: str, cursor, limit: int, fields):
    """One page of `dataset_id`'s rows as the caller may see them, after its cursor."""
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    v = g.view(gate, request, who, dataset_id, fields)
    limit = g.page_limit(gate, who, limit)
    filters = []
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
        filters.append((tuple(m.group(1).split(".")), value))
    scope = f"rows|{dataset_id}|{v.agency_id}"
    start = g.after(gate, scope, cursor)
    if gate.pages is not None and not filters:
        known = gate.shapes.get(dataset_id)
        plan = gate.plan(known, v) if known is not None else None
        if plan is not None:  # records of a shape seen before: decoded into its type (`shaped`)
            return await shaped_page(gate, request, v, dataset_id, scope, start, limit, plan)
        # the statement is compiled once (building one costs more)
        rows = await gate.pages.fetch(rows_statement(gate.reads.dialect, start is not None),
                                      {"source": dataset_id, "start": start, "n": limit + 1})
        decode = learning(gate, dataset_id)
    else:
        t = store.source_rows
        q = sa.select(t.c.source_key, t.c.record, t.c.load_id, t.c.updated_at).where(t.c.source == dataset_id)
        for path, value in filters:
            q = q.where(sa.cast(t.c.record[path if len(path) > 1 else path[0]].as_string(), sa.String) == value)
        if start is not None:
            q = q.where(t.c.source_key > start)
        q = q.order_by(t.c.source_key).limit(limit + 1)
        rows = await run_in_threadpool(lambda: request.state.db.get().execute(q).all())
        decode = list
    # Projected column by column and encoded on the event loop (a fraction of a millisecond for 100 rows).
    next_cursor, keys, records, load_ids, stamps = _columns(gate, request, v, dataset_id, scope, rows, limit)
    return page_response({"dataset": dataset_id}, "rows",
                         [{"key": key, "load_id": load_id, "updated_at": stamp, "record": record}
                          for key, load_id, stamp, record in zip(keys, load_ids, map(g.iso, stamps),
                                                                 gate.page_projector(v)(decode(records)))],
                         {"next_cursor": next_cursor})


def _columns(gate: g.Gate, request, v, dataset_id: str, scope: str, rows, limit: int):
    """The cursor to the next page (one row more than `limit` was fetched to know there is one)
    and the page's columns: keys (pseudonymised unless the view shows them in clear), records,
    load ids and stamps; the audit entry counts the rows."""
    more, rows = len(rows) > limit, rows[:limit]
    request.state.audit["rows"] = len(rows)
    next_cursor = g.seal(gate, scope, rows[-1][0]) if more else None
    keys, records, load_ids, stamps = zip(*rows) if rows else ((), (), (), ())
    if not gate.keys_in_clear(v, dataset_id):
        keys = pseudonym_column(v.key, v.agency_id, "source_key")(keys)
    return next_cursor, keys, records, load_ids, stamps


def learning(gate: g.Gate, dataset_id: str):
    """`decode_records` that also keeps the shape the page's records share, for the next pages."""
    def decode(texts):
        records = decode_records(texts)
        found = shaped.shape_of_page(records)
        if found is not None:
            gate.shapes[dataset_id] = found
        return records
    return decode


async def shaped_page(gate: g.Gate, request, v, dataset_id: str, scope: str, start, limit: int, plan):
    """One page through `plan` (`munihub.gateway.shaped`): the same answer as the ordinary path."""
    rows = await gate.pages.fetch(rows_statement(gate.reads.dialect, start is not None, stamps_as_text=True),
                                  {"source": dataset_id, "start": start, "n": limit + 1})
    next_cursor, keys, texts, load_ids, stamps = _columns(gate, request, v, dataset_id, scope, rows, limit)
    records, odd = shaped.project(plan, texts, gate.projector(v))
    if len(odd) * 2 > len(texts):  # most records changed shape (a new contract version): learn the new one
        found = shaped.shape_of_page(decode_records(odd))
        if found is not None:
            gate.shapes[dataset_id] = found
    return page_response({"dataset": dataset_id}, "rows",
                         list(map(shaped.Row, keys, load_ids, map(shaped.stamp_iso, stamps), records)),
                         {"next_cursor": next_cursor})


def routes(gate: g.Gate, caller):
    """`/v1/datasets`, its rows and quality; `caller` is the app's authentication dependency."""
    from fastapi import APIRouter, Depends, HTTPException, Query, Request

    router = APIRouter(tags=["datasets"])
    Who = Depends(caller)

    @router.get("/v1/datasets")
    def datasets(request: Request, who=Who):
        held = who[1]
        request.state.audit["rows"] = len(held)
        return {"datasets": [{"dataset": x.dataset, "fields": list(x.fields), "push": x.can_push,
                              "kind": "entity" if x.dataset.startswith("entity:") else "source"}
                             for x in sorted(held.values(), key=lambda x: x.dataset)]}

    @router.get(ROWS)
    async def dataset_rows(request: Request, dataset_id: str, cursor: str | None = None,
                           limit: int = Query(100, ge=1, description="rows per page, at most the agency's "
                                                                     "page cap (default 500)"),
                           fields: str | None = Query(None, description="comma-separated field names to "
                                                                        "return (within the grant)"),
                           who=Who):
        """Published rows in source-key order. Filter with `filter[field]=value` (exact match)."""
        return await rows_page(gate, request, who, dataset_id, cursor, limit, fields)

    @router.get("/v1/datasets/{dataset_id}/quality")
    def dataset_quality(request: Request, dataset_id: str, who=Who):
        g.view(gate, request, who, dataset_id, None)
        t = store.loads
        conn = request.state.db.get()
        last = conn.execute(sa.select(t).where(t.c.source == dataset_id)
                            .order_by(t.c.started_at.desc()).limit(1)).mappings().first()
        if last is None:
            raise HTTPException(404, f"no load of {dataset_id} yet")
        keep = ("load_id", "status", "started_at", "finished_at", "rows_in", "rows_new", "rows_changed",
                "rows_unchanged", "rows_quarantined", "checks", "contract_version")
        return {"dataset": dataset_id, **{k: last[k] for k in keep}}

    return router


@functools.lru_cache(maxsize=1)
def limit_validator():
    from typing import Annotated

    from pydantic import Field, TypeAdapter
    return TypeAdapter(Annotated[int, Field(ge=1)])


def _limit(raw: str | None) -> int:
    """`limit` validated as FastAPI validates `Query(100, ge=1)` (by pydantic, the same way), with
    the same 422 answer when it is not valid."""
    from fastapi.exceptions import RequestValidationError
    from pydantic import ValidationError
    if raw is None:
        return 100
    try:
        return limit_validator().validate_python(raw)
    except ValidationError as err:
        raise RequestValidationError([{**e, "loc": ("query", "limit")} for e in err.errors(include_url=False)])


def serve_rows_directly(app, gate: g.Gate, writer) -> None:
    """Route the rows requests of `app` to a plain ASGI handler (see the module docstring); the
    FastAPI route stays for the OpenAPI document.

    A GET of the rows path skips Starlette's middleware stack and router too (about 5 % of a
    page's CPU in a worker): it is matched first, by the route's own pattern, and goes through
    `AuditMiddleware` (`writer`: the app's audit writer) to the handler, whose refusals are
    answered by the app's own exception handlers, as ExceptionMiddleware would answer them.
    Any other request, or a GET the route would not match, takes the app's whole stack."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.routing import APIRoute
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.routing import Match

    from munihub.gateway.respond import AuditMiddleware

    async def rows(scope, receive, send):
        request = Request(scope, receive)
        db = RequestConnection(gate.reads)
        try:
            who = await g.identify(gate, request, g.bearer_token(request), db)
            query = request.query_params
            response = await rows_page(gate, request, who, scope["path_params"]["dataset_id"], query.get("cursor"),
                                       _limit(query.get("limit")), query.get("fields"))
        finally:
            db.close()  # before the answer waits on its audit entry, as the FastAPI dependency does
        await response(scope, receive, send)

    async def answered(scope, receive, send):
        try:
            await rows(scope, receive, send)
        except (HTTPException, RequestValidationError) as err:
            handler = app.exception_handlers[HTTPException if isinstance(err, HTTPException) else RequestValidationError]
            await (await handler(Request(scope, receive), err))(scope, receive, send)

    index, route = next((i, r) for i, r in enumerate(app.routes) if isinstance(r, APIRoute) and r.path == ROWS)
    route.app = rows
    sample = {"type": "http", "method": "GET", "path": ROWS.replace("{dataset_id}", "x"), "root_path": ""}
    if any(r.matches(sample)[0] is Match.FULL for r in app.routes[:index]):
        return  # a route declared before would win the path: leave the matching to the router
    audited = AuditMiddleware(answered, writer)
    build = app.build_middleware_stack

    def build_with_rows_first():
        stack = build()

        async def rows_first(scope, receive, send):
            if scope["type"] == "http" and scope["method"] == "GET":
                match, child = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child)
                    scope["route"] = route
                    return await audited(scope, receive, send)
            await stack(scope, receive, send)
        return rows_first
    app.build_middleware_stack = build_with_rows_first
