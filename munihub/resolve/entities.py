"""Entities: read golden records with the lineage of every value."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from munihub import store
from munihub.config import Settings
from munihub.errors import MunihubError


def show_entity(settings: Settings, entity_id: str) -> dict[str, Any]:
    """The golden record, where each value came from, and every member source row."""
    from munihub.store import engine_for

    with engine_for(settings).connect() as conn:
        ent = conn.execute(sa.select(store.entities).where(store.entities.c.entity_id == entity_id)).mappings().first()
        if ent is None:
            raise MunihubError(f"no entity {entity_id!r}", hint="ids look like P-1a2b3c4d5e6f; see the report")
        m = store.entity_members
        members = conn.execute(sa.select(m.c.source, m.c.source_key, m.c.rule, m.c.load_id)
                               .where(m.c.entity_id == entity_id).order_by(m.c.source, m.c.source_key)).mappings().all()
    return {"entity_id": ent["entity_id"], "entity_type": ent["entity_type"], "golden": ent["golden"],
            "lineage": ent["lineage"], "members": [dict(x) for x in members]}
