"""The managers' dashboards: one page per indicator family, figures only, never a person.

Figures come from `munihub.indicators.read` (small counts already suppressed, trend, on
track); this module checks a page's filters against the cells that exist, picks a chart for
each indicator (`charts`), lays the table of the same figures beside it and gives the CSV of
the rows behind it.  A suppressed cell reads «پنهان» in the chart, the table and the CSV
(an empty value with suppressed=True), never its number.
"""

import logging
import threading
from pathlib import Path
from typing import Any, Mapping

import sqlalchemy as sa

from munihub.indicators import read
from munihub.indicators.define import Definition
from munihub.report.render import e, fa
from munihub.workbench import charts
from munihub.workbench.charts import SUPPRESSED_FA, figure, period_fa
from munihub.workbench.html import link, table, when
from munihub.workbench.views import BadInput

log = logging.getLogger("munihub.workbench")

FAMILIES = {
    "137": ("سامانهٔ ۱۳۷", "درخواست‌های شهروندان به تفکیک منطقه، موضوع و ماه (هر درخواست یک بار، پیگیری‌ها "
                           "درون درخواست)، نرخ پیگیری و تکرار، زمان رسیدگی و درخواست‌های باز پس از مهلت."),
    "inter_agency": ("کار بین‌دستگاهی", "درخواست‌هایی که دستگاه‌ها از هم دارند، زمان پاسخ و سهم پس از مهلت."),
    "plan": ("برنامهٔ عملیاتی", "هر شاخص برنامه در برابر هدفش، روند آن از دورهٔ پیش و این‌که در مسیر هست یا نه."),
    "systems": ("خود سامانه‌ها", "نرخ رکورد تکراری در هر سامانه، هم‌پوشانی سامانه‌ها و رکوردهایی که هیچ سامانهٔ "
                                 "دیگری تأیید نمی‌کند: جاهایی که سامانه‌ها کار هم را دوباره انجام می‌دهند."),
}
DIM_FA = {"district": "منطقه", "category": "موضوع", "agency": "دستگاه", "agency_pair": "دو دستگاه",
          "from_agency": "دستگاه فرستنده", "to_agency": "دستگاه گیرنده", "source": "سامانه",
          "source_pair": "دو سامانه", "indicator": "شاخص", "status": "وضعیت", "entity_type": "نوع موجودیت"}
PAGE_KEYS = {*read.FILTERS, "note", "kind"}
BAR_CELLS = 25  # a snapshot chart shows this many cells at most
TABLE_CELLS = 100  # and its table this many; the CSV has all
WATCH_SECONDS = 5.0  # how often the workbench asks whether the indicators were computed again


def family_or_refuse(family: str) -> str:
    if family not in FAMILIES:
        names = "، ".join(f"«{k}»" for k in FAMILIES)
        raise BadInput(f"no dashboard {family!r}", f"داشبوردی به نام «{family}» نیست؛ داشبوردها: {names}.")
    return family


def checked_filters(query: Mapping[str, str], choices: dict[str, list[str]]) -> dict[str, str]:
    """The page's filters, each one of the values its cells have; BadInput in Persian otherwise."""
    unknown = sorted(k for k in query if k not in PAGE_KEYS)
    if unknown:
        raise BadInput(f"unknown filter {unknown[0]!r}", f"پالایهٔ «{unknown[0]}» شناخته نیست؛ پالایه‌ها: منطقه "
                       "(district)، موضوع (category) و دستگاه (agency).")
    out = {}
    for key in read.FILTERS:
        value = (query.get(key) or "").strip()
        if not value:
            continue
        if value not in choices.get(key, []):
            raise BadInput(f"bad {key} {value[:100]!r}", f"«{value[:100]}» در فهرست {DIM_FA[key]}‌های این داشبورد "
                           "نیست؛ از فهرست پالایه انتخاب کنید.")
        out[key] = value
    return out


def figures_version(engine: sa.Engine) -> Any:
    """Changes whenever indicators are computed (a run is recorded): what a kept page is made of."""
    from munihub import store
    t = store.indicator_runs
    with engine.connect() as conn:
        return tuple(conn.execute(sa.select(sa.func.max(t.c.run_id), sa.func.count())).one())


def last_computed(engine: sa.Engine) -> Any:
    from munihub import store
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.max(store.indicator_runs.c.computed_at))).scalar()


def index_body(base: str, definitions: list[Definition], computed_at: Any) -> str:
    items = []
    for family, (name, about) in FAMILIES.items():
        n = sum(d.family == family for d in definitions)
        items.append(f'<div class="card dash">{link(base, "/dashboards/" + family, f"<b>{e(name)}</b>")}'
                     f'<p>{e(about)}</p><p class="muted">{fa(n)} شاخص</p></div>')
    when_text = (f"آخرین محاسبه {when(computed_at)}" if computed_at else
                 "هنوز شاخصی محاسبه نشده است (munihub indicators compute یا اجرای یکپارچه‌سازی).")
    return (f'<h1>داشبوردهای مدیران</h1><p class="muted">{when_text}. رقم خانه‌هایی که کمتر از حد '
            'شهروند را می‌شمارند پنهان است.</p>' f'<div class="cards">{"".join(items)}</div>')


# ---------------------------------------------------------------- one family's page

def _label(dims: dict) -> str:
    return " · ".join(charts.fa_label(v) for v in dims.values() if v not in (None, "")) or "همه"


def _visible_total(s: dict) -> float:
    return sum(v for v in s["values"] if v is not None)


def _series(item: dict) -> list[dict]:
    return [{**s, "label": _label(s["dims"])} for s in item["chart"]["series"]]


def _on_track_fa(value: bool | None) -> str:
    return {True: '<span class="ok">در مسیر</span>', False: '<span class="bad">دور از هدف</span>'}.get(value, "—")


def _cell(value, unit: str, suppressed: bool) -> str:
    cls = ' class="suppressed"' if suppressed else ""
    return f"<td{cls}>{e(figure(value, unit, suppressed=suppressed))}</td>"


def _time_table(periods: list[str], series: list[dict], unit: str) -> str:
    head = ["دوره", *[e(s["label"]) for s in series]]
    rows = [f'<tr><td>{e(period_fa(p))}</td>'
            + "".join(_cell(s["values"][i], unit, s["suppressed"][i]) for s in series) + "</tr>"
            for i, p in enumerate(periods)]
    return table(head, rows)


def _target_table(periods: list[str], s: dict, unit: str) -> str:
    rows, before = [], None
    for i, p in enumerate(periods):
        v, sup = s["values"][i], s["suppressed"][i]
        change = v - before if v is not None and before is not None else None
        rows.append(f'<tr><td>{e(period_fa(p))}</td>{_cell(v, unit, sup)}<td>{e(figure(s["targets"][i], unit))}</td>'
                    f'<td>{e(figure(change, unit)) if change is not None else "—"}</td>'
                    f'<td>{_on_track_fa(s["on_track"][i])}</td></tr>')
        before = None if sup else v
    return table(["دوره", "مقدار", "هدف", "تغییر از دورهٔ پیش", "وضعیت"], rows)


def _snapshot_table(rows: list[dict], unit: str, dims: list[str]) -> str:
    out = []
    for r in rows:
        sup = r["suppressed"]
        out.append("<tr>" + "".join(f'<td dir="auto">{e(charts.fa_label(r["dims"].get(d)))}</td>' for d in dims)
                   + _cell(r["value"], unit, sup)
                   + f'<td>{e(figure(r["previous"], unit))}</td><td>{e(figure(r["change"], unit))}</td>'
                   + f'<td>{e(figure(r["target"], unit))}</td><td>{_on_track_fa(r["on_track"])}</td></tr>')
    return table([*(DIM_FA.get(d, d) for d in dims), "مقدار", "دورهٔ پیش", "تغییر", "هدف", "وضعیت"], out)


def indicator_section(base: str, defn: Definition, item: dict, filters: dict, chart_id: str) -> str:
    """One indicator: title, chart, the table of the chart's figures, the CSV of all its rows."""
    unit = item["unit"]
    periods, series = item["chart"]["periods"], _series(item)
    note = ""
    if not item["rows"]:
        body = '<p class="muted">برای این پالایه رقمی نیست.</p>'
    elif defn.time is None:  # a snapshot (as of each computation): the latest period's cells
        latest = periods[-1]
        rows = sorted((r for r in item["rows"] if r["period"] == latest),
                      key=lambda r: (r["suppressed"], -(r["value"] or 0), r["cell"]))
        shown = rows[:BAR_CELLS]
        if len(rows) > len(shown):
            note = (f"نمودار {fa(len(shown))} و جدول {fa(min(len(rows), TABLE_CELLS))} خانهٔ بزرگ‌تر را نشان "
                    f"می‌دهند؛ همهٔ {fa(len(rows))} خانه در CSV است.")
        body = (f'<p class="muted">وضعیت در {e(period_fa(latest))}</p>'
                + charts.bars([_label(r["dims"]) for r in shown], [r["value"] for r in shown],
                              [r["suppressed"] for r in shown], chart_id=chart_id, title=item["title"], unit=unit)
                + _snapshot_table(rows[:TABLE_CELLS], unit, item["dimensions"]))
    elif defn.target and "field" in defn.target and len(series) > 1:  # a target per cell (the plan): a chart each
        parts = []
        for j, s in enumerate(series):
            parts.append(f'<div><h4>{e(s["label"])}</h4>'
                         + charts.columns(periods, [s], chart_id=f"{chart_id}-{j}", unit=unit, width=520, height=200,
                                          title=f'{item["title"]}: {s["label"]}')
                         + _target_table(periods, s, unit) + "</div>")
        body = f'<div class="multiples">{"".join(parts)}</div>'
    elif len(series) == 1:
        s = series[0]
        body = charts.columns(periods, series, chart_id=chart_id, title=item["title"], unit=unit)
        body += _target_table(periods, s, unit) if defn.target else _time_table(periods, series, unit)
    else:
        plotted = sorted(series, key=lambda s: (-_visible_total(s), s["label"]))[:charts.MAX_SERIES]
        if len(series) > len(plotted):
            note = (f"نمودار {fa(len(plotted))} ردیف بزرگ‌تر از {fa(len(series))} ردیف را نشان می‌دهد؛ برای بقیه "
                    "پالایه بگذارید یا CSV را بگیرید.")
        body = (charts.lines(periods, plotted, chart_id=chart_id, title=item["title"], unit=unit,
                             target=(defn.target or {}).get("value"))
                + charts.legend([s["label"] for s in plotted]) + _time_table(periods, plotted, unit))
    csv = link(base, f"/dashboards/{defn.family}/{defn.id}.csv", "دریافت CSV رقم‌ها", **filters)
    target = ""
    if defn.target and "value" in defn.target:
        arrow = "کمتر بهتر" if defn.target.get("direction") == "down" else "بیشتر بهتر"
        target = f'هدف {e(figure(defn.target["value"], unit))} ({arrow})'
    about = " · ".join(x for x in (e(unit), target, f'<bdi dir="ltr">{e(defn.id)}</bdi>') if x)
    about = f'<p class="muted">{about}</p>'
    ignored = [DIM_FA[k] for k in filters if not _filters(k, item["dimensions"])]
    if ignored:
        note = (f"این شاخص به تفکیک {'، '.join(ignored)} نیست؛ این پالایه بر آن اثری ندارد. " + note).strip()
    return (f'<section class="indicator" id="{e(defn.id)}"><h2>{e(item["title"])}</h2>{about}'
            + (f'<p class="muted">{note}</p>' if note else "") + body
            + f'<p class="no-print csv">{csv}</p></section>')


def _filters(key: str, dimensions: list[str]) -> bool:
    """Whether a page filter applies to an indicator with these dimensions (read.family_page's rule)."""
    if key == "agency":
        return bool({"agency", "from_agency", "to_agency", "agency_pair"} & set(dimensions))
    return key in dimensions


def _select(name: str, options: list[str], current: str | None) -> str:
    opts = "".join(f'<option value="{e(o)}"{" selected" if o == current else ""}>{e(charts.fa_label(o))}</option>'
                   for o in options)
    return (f'<label>{DIM_FA[name]} <select name="{name}"><option value="">همه</option>{opts}</select></label>')


def family_body(base: str, family: str, definitions: list[Definition], page: list[dict],
                choices: dict[str, list[str]], filters: dict[str, str], k: int | None) -> str:
    name, about = FAMILIES[family]
    selects = "".join(_select(key, choices[key], filters.get(key)) for key in read.FILTERS if choices.get(key))
    form = (f'<form class="inline filters no-print" method="get" action="{e(base)}/dashboards/{family}">{selects}'
            '<button type="submit">پالایش</button>'
            f'{link(base, "/dashboards/" + family, "برداشتن پالایه‌ها") if filters else ""}</form>' if selects else "")
    applied = "، ".join(f"{DIM_FA[key]}: {charts.fa_label(value)}" for key, value in filters.items())
    by_id = {d.id: d for d in definitions}
    sections = [indicator_section(base, by_id[item["id"]], item, filters, f"c{i}") for i, item in enumerate(page)]
    if not any(item["rows"] for item in page) and not filters:
        sections.insert(0, '<div class="msg bad">هنوز رقمی برای این خانواده محاسبه نشده است؛ '
                           '<bdi dir="ltr">munihub indicators compute</bdi> را اجرا کنید.</div>')
    suppressed = (f"خانه‌هایی که کمتر از {fa(k)} شهروند را می‌شمارند «{SUPPRESSED_FA}» (هاشورخورده) نشان داده "
                  "می‌شوند، بی رقم." if k else "")
    nav = " · ".join(link(base, "/dashboards/" + f, e(n)) if f != family else f"<b>{e(n)}</b>"
                     for f, (n, _) in FAMILIES.items())
    return (f'<p class="no-print">{link(base, "/dashboards", "داشبوردها")} · {nav}</p>'
            f'<h1>داشبورد {e(name)}</h1><p>{e(about)}</p>'
            f'<p class="muted">{e(suppressed)}</p>'
            '<p class="muted no-print">برای چاپ، فرمان چاپ مرورگر را بزنید؛ نسخهٔ چاپی بی فهرست، پالایه و پیوند است.</p>'
            f'{form}' + (f'<p class="applied">پالایه: {e(applied)}</p>' if applied else "") + "".join(sections))


# ---------------------------------------------------------------- routes

def install(app, engine: sa.Engine, settings, base: str, *, render, who, record) -> None:
    """Add the dashboard routes to the workbench `app` (its guard keeps a manager to them).

    This module has no `from __future__ import annotations`: FastAPI reads the routes'
    `Request` annotations, which are local to this function, as objects."""
    from fastapi import Request
    from fastapi.responses import Response

    from munihub.workbench.figures import KeptPages, watch
    definitions, kept_pages = kept_definitions(settings), KeptPages()
    watching, watch_lock = [], threading.Lock()
    app.state.dashboard_pages = kept_pages  # what is kept (and when it was made) can be looked at

    def dashboard_page(family: str, query, snapshots: int | None = None, only: str | None = None):
        defs = definitions()
        choices = read.filter_choices(engine, defs, family)
        filters = checked_filters(query, choices)
        shown = [d for d in defs if only is None or d.id == only]  # a CSV reads its own indicator only
        return defs, choices, read.family_page(engine, shown, family, where=filters, snapshots=snapshots), filters

    def version_of(family: str, figures: Any = None) -> tuple:
        """What a kept page is made of: the computation of the figures and the family's definitions."""
        figures = figures_version(engine) if figures is None else figures
        return figures, tuple(d.hash for d in definitions() if d.family == family)

    def page_maker(family: str, query: dict):
        def make() -> tuple[str, Any]:
            # an indicator kept as of each computation shows its latest month beside the one
            # before; its CSV has every month
            computed_at = last_computed(engine)
            defs, choices, page, filters = dashboard_page(family, query, snapshots=2)
            k = next((d.k for d in defs if d.family == family and d.k), None)
            return family_body(base, family, defs, page, choices, filters, k), computed_at
        return make

    def csv_maker(family: str, name: str, query: dict):
        def make() -> tuple[str, dict]:
            _defs, _choices, page, filters = dashboard_page(family, query, only=name)
            item = next((x for x in page if x["id"] == name), None)
            if item is None:
                raise BadInput(f"no indicator {name!r} in {family}", f"شاخص «{name}» در این داشبورد نیست.")
            return read.to_csv(item["rows"]), filters
        return make

    def start_watching() -> None:
        """Once a dashboard is asked for: from then on every computation of the indicators gets
        its unfiltered pages and CSVs made behind, before a manager asks (see figures.watch)."""
        with watch_lock:  # two first requests at once start one watch
            if not watching:
                watching.append(watch(kept_pages, lambda: figures_version(engine), rebuild, WATCH_SECONDS))

    def rebuild(pages: KeptPages, figures: Any) -> None:
        """Every family's unfiltered page, then every indicator's whole CSV (pages are asked more)."""
        versions = {family: version_of(family, figures) for family in FAMILIES}
        for family in FAMILIES:
            pages.refresh(("page", family, ()), versions[family], page_maker(family, {}))
        for d in definitions():
            if d.family in versions:
                pages.refresh(("csv", d.family, d.id, ()), versions[d.family], csv_maker(d.family, d.id, {}))

    @app.get("/dashboards")
    def dashboards_index(request: Request):
        start_watching()
        return render(request, "داشبوردها", index_body(base, definitions(), last_computed(engine)))

    @app.get("/dashboards/{family}")
    def dashboard(request: Request, family: str):
        family = family_or_refuse(family)
        start_watching()
        query = dict(request.query_params)
        # a page being made again after a computation: the previous computation's page for the
        # same filters at once, saying so (see docs/workbench.md); never another filter's page
        (body, computed_at), current = kept_pages.get(("page", family, tuple(sorted(query.items()))),
                                                      version_of(family), page_maker(family, query), stale=True)
        note = None if current else (
            f"این رقم‌ها از محاسبهٔ {when(computed_at)} است؛ رقم‌های محاسبهٔ تازهٔ شاخص‌ها در حال آماده شدن "
            "است، چند ثانیهٔ دیگر صفحه را دوباره باز کنید.")
        return render(request, f"داشبورد {FAMILIES[family][0]}", body, note=note)

    @app.get("/dashboards/{family}/{name}.csv")
    def dashboard_csv(request: Request, family: str, name: str):
        family = family_or_refuse(family)
        start_watching()
        query = dict(request.query_params)
        # a CSV has no room for a note: it is always the current computation's (it waits for it)
        (text, filters), _ = kept_pages.get(("csv", family, name, tuple(sorted(query.items()))),
                                            version_of(family), csv_maker(family, name, query))
        person = who(request)
        record(person.username, "workbench.download.indicator", name, "ok", {"filters": filters})
        # with a byte-order mark: Excel, where most managers open a CSV, reads Persian only then
        return Response("\ufeff" + text, media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"',
                                 "Cache-Control": "no-store"})


def kept_definitions(settings):
    """The indicator definitions, read again only when a file under the folder changed."""
    from munihub.indicators.define import discover, load_all
    kept: dict = {"stamp": None, "good": []}
    lock = threading.Lock()

    def get() -> list:
        folder = Path(settings.indicators)
        paths = discover(folder) if folder.is_dir() else []
        stamp = tuple((str(p), p.stat().st_mtime_ns) for p in paths)
        with lock:
            if kept["stamp"] != stamp:
                good, bad = load_all(folder) if paths else ([], [])
                for err in bad:  # `munihub indicators lint` names them; the pages show the good ones
                    log.warning("indicator definition not shown on the dashboards: %s", err)
                kept.update(stamp=stamp, good=good)
            return kept["good"]
    return get


__all__ = ["FAMILIES", "checked_filters", "family_or_refuse", "index_body", "family_body", "indicator_section",
           "last_computed", "figures_version", "install", "kept_definitions"]
