"""The golden-record routes: a type's entities page by page, one entity, and its lineage
(which source rows and loads each value came from), through the caller's `entity:<type>` grant.
"""
# No `from __future__ import annotations`: FastAPI reads the handlers' annotations at runtime.
import sqlalchemy as sa

from munihub import store
from munihub.gateway import gate as g
from munihub.gateway import grants
from munihub.gateway.respond import page_response


def routes(gate: g.Gate, caller):
    """`/v1/entities/...`; `caller` is the app's authentication dependency."""
    from fastapi import APIRouter, Depends, HTTPException, Query, Request

    router = APIRouter(tags=["entities"])
    Who = Depends(caller)
    Limit = Query(100, ge=1, description="rows per page, at most the agency's page cap (default 500)")
    Fields = Query(None, description="comma-separated field names to return (within the grant)")

    @router.get("/v1/entities/{entity_type}")
    def entity_list(request: Request, entity_type: str, cursor: str | None = None, limit: int = Limit,
                    fields: str | None = Fields, who=Who):
        v = g.view(gate, request, who, f"entity:{entity_type}", fields)
        limit = g.page_limit(gate, who, limit)
        t = store.entities
        scope = f"entities|{entity_type}|{v.agency_id}"
        q = sa.select(t.c.entity_id, t.c.golden, t.c.member_count, t.c.updated_at).where(t.c.entity_type == entity_type)
        start = g.after(gate, scope, cursor)
        if start is not None:
            q = q.where(t.c.entity_id > start)
        rows = request.state.db.get().execute(q.order_by(t.c.entity_id).limit(limit + 1)).all()
        more, rows = len(rows) > limit, rows[:limit]
        request.state.audit["rows"] = len(rows)
        project = gate.projector(v)
        return page_response({"entity_type": entity_type}, "entities",
                             [{"entity_id": r.entity_id, "members": r.member_count, "updated_at": g.iso(r.updated_at),
                               "golden": project(r.golden)} for r in rows],
                             {"next_cursor": g.seal(gate, scope, rows[-1].entity_id) if more else None})

    def _entity(request, who, entity_type, entity_id, fields=None):
        v = g.view(gate, request, who, f"entity:{entity_type}", fields)
        t = store.entities
        conn = request.state.db.get()
        ent = conn.execute(sa.select(t).where(t.c.entity_id == entity_id, t.c.entity_type == entity_type)
                           ).mappings().first()
        if ent is None:
            raise HTTPException(404, f"no {entity_type} entity {entity_id}")
        request.state.audit.update(rows=1, entity=entity_id)
        return v, ent

    @router.get("/v1/entities/{entity_type}/{entity_id}")
    def entity_get(request: Request, entity_type: str, entity_id: str, fields: str | None = Fields, who=Who):
        v, ent = _entity(request, who, entity_type, entity_id, fields)
        return {"entity_id": ent["entity_id"], "entity_type": entity_type, "members": ent["member_count"],
                "updated_at": ent["updated_at"], "golden": v.project(ent["golden"])}

    @router.get("/v1/entities/{entity_type}/{entity_id}/lineage")
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
            grant = held.get(source)
            if grant is None:
                return grants.pseudonym(f"{source}|{key}", agency_id=v.agency_id, field="ref", key=v.key)
            sv = grants.View(v.agency_id, grant, gate.personal_of(source), v.key)
            return f"{source}|{g.key_of(gate, sv, source, key)}"

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

    return router
