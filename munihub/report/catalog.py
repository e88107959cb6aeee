"""`contracts catalog`: a static HTML catalog of every agency dataset, for people.

One index page (agencies, datasets, owners, versions, shared schema, personal fields,
freshness, schedule, last load) and one page per dataset listing its fields with their
Persian titles from the shared schema.  Persian and right-to-left; inline CSS, no scripts,
no fetched assets; every value goes through `e()` (html.escape) and Latin ids sit in
`<bdi dir="ltr">`.  The store is only read, and only if it already exists.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from munihub.config import Settings
from munihub.contracts import Contract
from munihub.report.render import CSS, STATUS_FA, e

NO_LOAD = "no load yet"
CLASS_FA = {"public": "عمومی", "internal": "داخلی", "personal": "شخصی", "restricted": "محرمانه",
            "confidential": "محرمانه"}


def last_loads(store_url: str) -> dict[str, dict[str, Any]]:
    """The newest load of every source from the store's ledger; {} when there is no store yet."""
    import sqlalchemy as sa

    from munihub import store

    if store_url.startswith("sqlite"):
        path = store_url.split("///", 1)[-1]
        if not path or path == ":memory:" or not Path(path).is_file():
            return {}
    try:
        engine = store.create_engine(store_url)
        try:
            t = store.loads
            newest = sa.select(t.c.source, sa.func.max(t.c.started_at).label("at")).group_by(t.c.source).subquery()
            query = sa.select(t.c.source, t.c.status, t.c.started_at, t.c.finished_at, t.c.rows_in,
                              t.c.rows_quarantined, t.c.contract_version).join(
                newest, sa.and_(t.c.source == newest.c.source, t.c.started_at == newest.c.at))
            with engine.connect() as conn:
                return {r["source"]: dict(r) for r in conn.execute(query).mappings()}
        finally:
            engine.dispose()
    except sa.exc.SQLAlchemyError:
        return {}  # no ledger table yet (never migrated): nothing has loaded


def _id(value: Any) -> str:
    return f'<bdi dir="ltr" class="id">{e(value)}</bdi>'


def _page(title: str, body: str) -> str:
    return (f'<!doctype html>\n<html lang="fa" dir="rtl"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{e(title)}</title><style>{CSS}</style></head><body>\n{body}\n</body></html>\n")


def _hours(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds / 86400:g} روز" if seconds % 86400 == 0 else f"{seconds / 3600:g} ساعت"


def _load_cell(load: dict | None) -> str:
    if not load:
        return f'<span class="muted">{e(NO_LOAD)} (هنوز بارگیری نشده)</span>'
    css = {"published": "ok", "held": "warn", "failed": "bad"}.get(load.get("status"), "muted")
    when = load.get("finished_at") or load.get("started_at")
    return (f'<span class="badge {css}">{e(STATUS_FA.get(load.get("status"), load.get("status")))}</span> '
            f'{_id(load.get("status"))} <span class="muted">{_id(str(when)[:19] if when else "")}</span>')


def render_index(contracts: list[Contract], loads: dict[str, dict], broken: list[str] | None = None) -> str:
    """The catalog's front page, grouped by agency."""
    parts = ['<h1>کاتالوگ داده‌های سازمان‌ها <span class="muted">(data catalog)</span></h1>',
             f"<p>{len(contracts)} مجموعه‌داده از {len({c.agency for c in contracts})} سازمان.</p>"]
    for agency in sorted({c.agency for c in contracts}):
        rows = []
        for c in sorted((c for c in contracts if c.agency == agency), key=lambda c: c.id):
            personal = [f.name for f in c.fields if f.personal]
            rows.append(
                f'<tr><td><a href="datasets/{e(c.id)}.html">{_id(c.id)}</a><br>{e(c.name)}</td>'
                f"<td>{e(c.owner)}</td><td>{_id(c.version)} <span class='muted'>{e(c.status)}</span></td>"
                f"<td>{_id(c.entity_type)}</td>"
                f"<td>{' '.join(_id(p) for p in personal) or '—'}</td>"
                f"<td>{e(_hours(c.freshness_seconds))}</td><td>{_id(c.schedule or '—')}</td>"
                f"<td>{_load_cell(loads.get(c.id))}</td></tr>")
        parts.append(f"<h2>سازمان {_id(agency)}</h2><table><tr><th>مجموعه‌داده</th><th>مسئول</th><th>نسخه</th>"
                     "<th>طرح مشترک</th><th>فیلدهای شخصی</th><th>تازگی</th><th>زمان‌بندی</th>"
                     "<th>آخرین بارگیری</th></tr>" + "".join(rows) + "</table>")
    if broken:
        parts.append("<h2>قراردادهای معیوب <span class='muted'>(broken contracts)</span></h2><ul>" +
                     "".join(f'<li><pre>{e(b)}</pre></li>' for b in broken) + "</ul>")
    return _page("کاتالوگ داده", "\n".join(parts))


def render_dataset(contract: Contract, titles: dict[str, str], load: dict | None) -> str:
    """One dataset's page: what it is, who owns it, and every field with its Persian title."""
    c = contract
    rows = "".join(
        f"<tr><td>{_id(f.name)}</td><td>{e(titles.get(f.name, ''))}</td><td>{_id(f.source or '+'.join(f.sources))}</td>"
        f"<td>{_id(f.logical_type or '')}</td><td>{_id(f.transform or '')}</td>"
        f"<td>{'بله' if f.required else ''}</td><td>{'کلید' if f.primary_key else ''}</td>"
        f"<td class=\"{'warn' if f.personal else ''}\">{e(CLASS_FA.get(f.classification, f.classification))}</td></tr>"
        for f in c.fields)
    body = (f'<nav><a href="../index.html">→ کاتالوگ</a></nav><h1>{e(c.name)} {_id(c.id)}</h1>'
            f"<p>{e(c.description) if c.description else ''}</p>"
            f"<table><tr><th>سازمان</th><td>{_id(c.agency)}</td></tr><tr><th>مسئول</th><td>{e(c.owner)}</td></tr>"
            f"<tr><th>نسخه</th><td>{_id(c.version)} ({e(c.status)})</td></tr>"
            f"<tr><th>طرح مشترک</th><td>{_id(c.entity_type)}</td></tr>"
            f"<tr><th>رابط</th><td>{_id(c.connector)}</td></tr>"
            f"<tr><th>تازگی</th><td>{e(_hours(c.freshness_seconds))}</td></tr>"
            f"<tr><th>زمان‌بندی</th><td>{_id(c.schedule or '—')}</td></tr>"
            f"<tr><th>آخرین بارگیری</th><td>{_load_cell(load)}</td></tr></table>"
            "<h2>فیلدها <span class='muted'>(fields)</span></h2><table><tr><th>فیلد</th><th>عنوان</th>"
            "<th>فیلد منبع</th><th>نوع</th><th>تبدیل</th><th>الزامی</th><th>کلید</th><th>طبقه‌بندی</th></tr>"
            f"{rows}</table>")
    return _page(f"{c.id} — کاتالوگ داده", body)


def _titles(entity_type: str, schemas_dir: Path) -> dict[str, str]:
    from munihub.contracts.schemas import schema_fields
    from munihub.errors import ConfigError
    try:
        return {name: str(spec.get("title") or "") for name, spec in schema_fields(entity_type, schemas_dir)}
    except (ConfigError, OSError, ValueError):
        return {}


def write_catalog(settings: Settings, out_dir: Path | None = None) -> Path:
    """Write index.html and datasets/<id>.html under `out_dir` (default $MUNIHUB_HOME/catalog)."""
    from munihub.contracts import load_all

    out = Path(out_dir) if out_dir else settings.home / "catalog"
    contracts, bad = load_all(settings.contracts_dir, schemas_dir=settings.schemas_dir)
    loads = last_loads(settings.store_url)
    (out / "datasets").mkdir(parents=True, exist_ok=True)
    for c in contracts:  # ids are checked safe identifiers (no '/', no '..'), so fine as file names
        page = render_dataset(c, _titles(c.entity_type, settings.schemas_dir), loads.get(c.id))
        (out / "datasets" / f"{c.id}.html").write_text(page, encoding="utf-8")
    index = out / "index.html"
    index.write_text(render_index(contracts, loads, [str(b) for b in bad]), encoding="utf-8")
    return index
