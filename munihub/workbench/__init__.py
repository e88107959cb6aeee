"""The stewards' workbench: a Persian, right-to-left web app where stewards see, search, decide and fix.

Served by `munihub serve` beside the gateway API (under `/workbench`), server-rendered, with
the Vazirmatn font shipped in `static/`.  `people` keeps users (steward, viewer, manager),
scrypt password hashes and sessions with CSRF tokens; `views` reads the store (masked by the
one rule in `munihub.masking`), `figures` keeps the report's and the dashboards' pages; `pages`
and `html` render, `dashboards` and `charts` make the managers' indicator pages (figures only,
inline SVG); `refusals` turns refusals and failures into Persian pages; `app` wires routes,
deny by default (a manager reaches the dashboards only).
"""
from __future__ import annotations

from munihub.workbench.app import create_app
from munihub.workbench.people import ROLES, add_user, list_users

__all__ = ["create_app", "add_user", "list_users", "ROLES"]
