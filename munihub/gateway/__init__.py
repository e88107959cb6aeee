"""The data-exchange gateway: agencies, tokens and field grants (`grants`, with keyed
pseudonyms for personal fields an agency is not granted), and the HTTP API over them
(`api`, FastAPI), every request written to the hash-chained audit log.  The routes:
`datasets`, `entities`, `push`, `indicators`; what each request goes through: `gate` (token,
rate limit, view, page cap, cursor), `access` (the per-worker token cache and rate limits,
shared through Redis when configured), `respond` (the audit middleware, fast encoding,
streamed pages), `cursors` (sealed page cursors), `reads` (the read pool, one connection per
request, and pages awaited on the event loop)."""
from __future__ import annotations

__all__: list[str] = []  # import `munihub.gateway.grants` or `munihub.gateway.api` (FastAPI) by name
