"""Headline figures per source for the terminal (`munihub status`): the report's headline,
with the last load that ran checks beside the last load (a quiet re-run reads nothing, runs
no check, and would otherwise hide yesterday's held load)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from munihub.config import Settings
from munihub.errors import ConfigError


def embedded_store_path(settings: Settings) -> Path | None:
    """The SQLite file of an embedded store, None for a server URL or an in-memory store."""
    url = settings.store_url
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[-1]
    return Path(path) if path and path != ":memory:" else None


def require_home(settings: Settings) -> None:
    """ConfigError saying where it looked when the embedded store does not exist yet.

    Opening a SQLite store creates it: `status` in the wrong folder would make an empty
    ./.munihub and report every source "never run" instead of saying no home is there.
    """
    path = embedded_store_path(settings)
    if path is not None and not path.exists():
        raise ConfigError(
            f"no munihub home here: looked for the store at {path} "
            f"(MUNIHUB_HOME is {settings.home}; unset, it is ./.munihub of the current folder)",
            where="environment",
            hint="point the CLI at an existing home: after `make demo`, run `. var/demo/hub.env` in the "
                 "repository (it sets MUNIHUB_HOME and the rest), or export MUNIHUB_HOME / MUNIHUB_STORE_URL; "
                 "`munihub sync` or `munihub run` creates a new home")


def _last_checked(engine: sa.Engine) -> dict[str, dict[str, Any]]:
    """Per source, the newest load whose dataset checks ran (it read rows), with its verdict."""
    from munihub import store
    t = store.loads
    rank = sa.func.row_number().over(partition_by=t.c.source,
                                     order_by=(t.c.started_at.desc(), t.c.load_id.desc())).label("rank")
    inner = sa.select(t.c.source, t.c.status, t.c.finished_at, t.c.checks, rank) \
        .where(t.c.checks.is_not(None), t.c.rows_in > 0).subquery()
    out = {}
    with engine.connect() as conn:
        for row in conn.execute(sa.select(inner).where(inner.c.rank == 1)).mappings():
            checks = row["checks"] or []
            failed = sum(c.get("status") in {"failed", "error"} for c in checks)
            warned = sum(c.get("status") == "warning" for c in checks)
            verdict = f"{failed} failed" if failed else f"{warned} warning(s)" if warned else "all passed"
            out[row["source"]] = {"checked": f"{row['status']} {str(row['finished_at'] or '')[:19]} ({verdict})",
                                  "checks_failed": failed, "checks_warned": warned}
    return out


def source_status(settings: Settings) -> list[dict[str, Any]]:
    """Last load of every source (and every contract never run) with its counts and freshness,
    and the last load that ran checks; ConfigError if there is no home to read."""
    from munihub.contracts import load_all
    from munihub.store import engine_for
    from munihub.report.build import headline

    require_home(settings)
    contracts, _ = load_all(settings.contracts_dir, schemas_dir=settings.schemas_dir)
    engine = engine_for(settings)
    rows = headline(engine, contracts)
    checked = _last_checked(engine)
    for row in rows:
        row["finished_at"] = str(row.get("finished_at") or "")[:19]
        row.update(checked.get(row["source"], {"checked": "-", "checks_failed": 0, "checks_warned": 0}))
    return rows
