"""Pushed deliveries: an agency with a push grant POSTs records to a dataset whose contract uses
the `push` connector; the body lands in that contract's inbox, once per Idempotency-Key.
"""
# No `from __future__ import annotations`: FastAPI reads the handlers' annotations at runtime.
import hashlib
import re

import sqlalchemy as sa

from munihub import store
from munihub.errors import PermanentSourceError, SecurityError
from munihub.gateway import gate as g
from munihub.gateway import grants
from munihub.store import audit

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,99}$")


def routes(gate: g.Gate, caller):
    """`POST /v1/datasets/{id}/deliveries`; `caller` is the app's authentication dependency."""
    from fastapi import APIRouter, Depends, HTTPException, Request
    from fastapi.responses import JSONResponse
    from starlette.concurrency import run_in_threadpool

    router = APIRouter(tags=["push"])
    limit = gate.config.max_push_bytes

    @router.post("/v1/datasets/{dataset_id}/deliveries", status_code=202)
    async def push(request: Request, dataset_id: str, who=Depends(caller)):
        """Deliver a JSON array (or JSON Lines) of records; header `Idempotency-Key` is required."""
        key = request.headers.get("idempotency-key", "")
        if not IDEMPOTENCY_KEY.match(key):
            raise HTTPException(422, "header Idempotency-Key is required: letters, digits, '_' or '-', max 100")
        grant = who[1].get(dataset_id)
        request.state.audit["dataset"] = dataset_id
        if grant is None or not grant.can_push:
            raise HTTPException(403, f"agency {who[0].agency_id} may not push to {dataset_id}")
        c = gate.contract(dataset_id)
        if c is None or c.connector != "push":
            raise HTTPException(404, f"{dataset_id} does not take pushed deliveries")
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise HTTPException(413, f"body of {declared} bytes is over the limit of {limit}")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise HTTPException(413, f"body is over the limit of {limit} bytes")
        status, result = await run_in_threadpool(deliver, gate, who[0].agency_id, c, key, bytes(body))
        request.state.audit.update(rows=result.get("bytes"), delivery=result["delivery_id"])
        return JSONResponse(result, status_code=status)

    return router


def deliver(gate: g.Gate, agency_id: str, c, key: str, body: bytes) -> tuple[int, dict]:
    """Record the delivery (ledger row and audit entry, one transaction), then write it to the
    inbox; the same key and body again answers 200 with the first answer, another body 409."""
    from fastapi import HTTPException

    from munihub.contracts import expand_params
    from munihub.ingest.connector import load_connector_class

    t = store.push_deliveries
    digest = hashlib.sha256(body).hexdigest()
    where = (t.c.dataset == c.id, t.c.agency_id == agency_id, t.c.idempotency_key == key)
    with gate.engine.begin() as conn:
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
            load_connector_class("push").deliver(expand_params(c)["inbox"], delivery_id, body,
                                                 max_bytes=gate.config.max_push_bytes)
        except SecurityError as err:
            raise HTTPException(422, str(err))
        except PermanentSourceError as err:
            raise HTTPException(409 if "already received" in str(err) else 422, str(err))
    return 202, {"delivery_id": delivery_id, "dataset": c.id, "bytes": len(body)}
