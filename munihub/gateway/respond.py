"""Answers leave only after their audit entry is committed; pages are encoded fast, large ones streamed.

`AuditMiddleware` is plain ASGI: it holds a response's first message until the request's
audit entry (written by `munihub.store.audit.GroupCommit` or, on PostgreSQL, `AsyncGroupCommit`,
in a batch shared with the requests around it) has committed, and answers 503 with no data instead when it cannot be written.  Because
the body is sent only after that, a streamed page is audited before its first byte leaves.
"""
from __future__ import annotations

import logging
from typing import Any

import msgspec

from munihub.errors import MunihubError

log = logging.getLogger("munihub.gateway.respond")
__all__ = ["AuditMiddleware", "json_response", "page_response", "STREAM_ROWS"]
_encode = msgspec.json.Encoder().encode
STREAM_ROWS = 200  # pages with more rows than this are streamed in chunks of this many
_REFUSED = b'{"detail":"the audit log cannot be written; request refused"}'
_FAILED = b'{"detail":"internal error"}'


class AuditMiddleware:
    """One audit entry per HTTP request (refusals and failures too), durable before the answer."""

    def __init__(self, app, writer):
        self.app, self.writer = app, writer

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        note: dict[str, Any] = {}
        scope.setdefault("state", {})["audit"] = note  # handlers add to it through request.state.audit
        state = {"started": False, "refused": False}

        async def audited_send(message):
            if message["type"] == "http.response.start":
                state["started"] = True
                if not await self._write(scope, note, message["status"]):
                    state["refused"] = True
                    return await _send_json(send, 503, _REFUSED)
            elif state["refused"]:
                return  # the body of a refused answer never leaves
            await send(message)

        try:
            await self.app(scope, receive, audited_send)
        except Exception:  # noqa: BLE001 - audited as a 500, answered plainly
            log.exception("gateway request failed: %s %s", scope["method"], scope["path"])
            if not state["started"]:
                ok = await self._write(scope, note, 500)
                await _send_json(send, 500 if ok else 503, _FAILED if ok else _REFUSED)

    async def _write(self, scope, note: dict[str, Any], status: int) -> bool:
        route = scope.get("route")
        query = scope.get("query_string", b"").decode("latin-1")
        detail = {"method": scope["method"], "path": scope["path"][:300], "query": query[:300], "status": status,
                  **{k: v for k, v in note.items() if k != "agency"}}
        try:
            await self.writer.write(note.get("agency") or "anonymous", f"api.{scope['method'].lower()}",
                                    getattr(route, "path", "(no route)"), str(status), detail)
        except MunihubError as err:
            log.error("audit write failed, request refused: %s", err)
            return False
        return True


async def _send_json(send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def json_response(content: Any, status_code: int = 200):
    """`content` encoded by msgspec (several times faster than FastAPI's encoder for a page)."""
    from fastapi import Response
    return Response(_encode(content), status_code=status_code, media_type="application/json")


def page_response(head: dict[str, Any], name: str, items: list[Any], tail: dict[str, Any]):
    """`{**head, name: items, **tail}` as JSON; pages over STREAM_ROWS items go out in chunks."""
    from fastapi.responses import StreamingResponse
    if len(items) <= STREAM_ROWS:
        return json_response({**head, name: items, **tail})
    opening = _encode(head)[:-1] + (b"," if head else b"") + _encode(name) + b":["
    closing = b"]," + _encode(tail)[1:] if tail else b"]}"

    async def chunks() -> Any:  # encoded on the event loop: a chunk takes well under a millisecond
        yield opening
        for start in range(0, len(items), STREAM_ROWS):
            part = _encode(items[start:start + STREAM_ROWS])[1:-1]
            yield (b"," + part) if start else part
        yield closing
    return StreamingResponse(chunks(), media_type="application/json")


