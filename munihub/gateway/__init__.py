"""The data-exchange gateway: agencies, tokens and field grants (`grants`, with keyed
pseudonyms for personal fields an agency is not granted), and the HTTP API over them
(`api`, FastAPI), every request written to the hash-chained audit log."""
from __future__ import annotations

__all__: list[str] = []  # import `munihub.gateway.grants` or `munihub.gateway.api` (FastAPI) by name
