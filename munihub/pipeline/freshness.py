"""Freshness: which sources have not published within their contract's window."""
from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from munihub import store
from munihub.config import Settings, load_settings
from munihub.store import engine_for


def check_freshness(settings: Settings | None = None, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Sources whose last published load is older than their contract's freshness window."""
    from munihub.contracts import load_all

    settings = settings or load_settings()
    engine = engine_for(settings)
    now = now or dt.datetime.now(dt.timezone.utc)
    contracts, _ = load_all(settings.contracts_dir, schemas_dir=settings.schemas_dir)
    stale = []
    with engine.connect() as conn:
        last = dict(conn.execute(sa.select(store.loads.c.source, sa.func.max(store.loads.c.finished_at))
                                 .where(store.loads.c.status == "published").group_by(store.loads.c.source)).all())
    for c in contracts:
        if not c.freshness_seconds:
            continue
        when = last.get(c.id)
        if isinstance(when, str):
            when = dt.datetime.fromisoformat(when)
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        age = (now - when).total_seconds() if when else None
        if age is None or age > c.freshness_seconds:
            stale.append({"source": c.id, "owner": c.owner, "last_published": when.isoformat() if when else None,
                          "age_seconds": age, "freshness_seconds": c.freshness_seconds})
    return stale
