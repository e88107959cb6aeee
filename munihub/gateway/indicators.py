"""Indicators through the gateway: each indicator a grantable resource (`indicator:<id>` in the
grants table), read with the same bearer tokens, audit and cursor paging as datasets.

Agencies see figures as managers do: cells counting fewer than k citizens are suppressed, and
no cell is a person.  `routes` is included by `munihub.gateway.api.create_app`.
"""
# No `from __future__ import annotations`: FastAPI reads the handlers' annotations at runtime and
# Request is imported inside `routes` (fastapi stays optional), as in munihub.gateway.api.
import re
from typing import Callable

import sqlalchemy as sa

from munihub.config import Settings

PREFIX = "indicator:"
FILTER = re.compile(r"^filter\[(.+)\]$")


def routes(engine: sa.Engine, settings: Settings, caller: Callable, page_limit: Callable,
           seal: Callable[[str, str], str], unseal: Callable[[str, str | None], str | None]):
    """The `/v1/indicators` routes; `caller`, `page_limit`, `seal` and `unseal` are the app's own
    authentication, page cap and sealed cursors, so indicators page and deny like datasets."""
    from fastapi import APIRouter, Depends, HTTPException, Query, Request

    from munihub.errors import MunihubError
    from munihub.indicators import find, load_all, values

    router = APIRouter(tags=["indicators"])
    Who = Depends(caller)

    def definition(request: Request, who, indicator_id: str):
        agency, held = who
        request.state.audit["dataset"] = PREFIX + indicator_id
        if PREFIX + indicator_id not in held:
            raise HTTPException(403, f"agency {agency.agency_id} has no grant on indicator {indicator_id}")
        try:
            return find(indicator_id, settings.indicators)
        except MunihubError:
            raise HTTPException(404, f"no indicator {indicator_id}")

    @router.get("/v1/indicators")
    def indicator_list(request: Request, who=Who):
        """The indicators granted to the calling agency."""
        held = who[1]
        good, _ = load_all(settings.indicators)
        mine = [d for d in good if PREFIX + d.id in held]
        request.state.audit["rows"] = len(mine)
        return {"indicators": [{"id": d.id, "title": d.title, "family": d.family, "unit": d.unit,
                                "dimensions": list(d.dimensions), "measure": d.measure["kind"]} for d in mine]}

    @router.get("/v1/indicators/{indicator_id}")
    def indicator_values(request: Request, indicator_id: str, period: str | None = None,
                         cursor: str | None = None, limit: int = Query(100, ge=1), who=Who):
        """Figures in period then cell order; `period` keeps one Jalali period, `filter[dim]=value`
        the cells with that district, category, agency …; page with `cursor`."""
        defn = definition(request, who, indicator_id)
        limit = page_limit(who, limit)
        where = {m.group(1): v for k, v in request.query_params.multi_items() if (m := FILTER.match(k))}
        unknown = sorted(set(where) - set(defn.cells))
        if unknown:
            raise HTTPException(422, f"indicator {indicator_id} has no dimension {', '.join(unknown)}; "
                                     f"its dimensions: {', '.join(defn.cells) or 'none'}")
        scope = f"indicators|{indicator_id}|{who[0].agency_id}|{period or ''}|{sorted(where.items())}"
        start = unseal(scope, cursor)
        rows = values(engine, defn, periods=[period] if period else None, where=where, suppress=True)
        keyed = [(f"{r['period']}\x1f{r['cell']}", r) for r in rows]
        if start is not None:
            keyed = [(k, r) for k, r in keyed if k > start]
        page, more = keyed[:limit], len(keyed) > limit
        request.state.audit["rows"] = len(page)
        return {"indicator": defn.id, "title": defn.title, "unit": defn.unit,
                "figures": [{k: r[k] for k in ("period", "dims", "value", "target", "on_track", "previous",
                                               "change", "suppressed")} for _, r in page],
                "next_cursor": seal(scope, page[-1][0]) if more else None}

    return router
