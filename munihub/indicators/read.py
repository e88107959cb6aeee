"""Read computed figures the way managers and agencies see them: small counts suppressed,
each figure beside the previous period's (trend), judged against its target (on track),
rankings cut to their top cells; and the same rows as CSV or Parquet.

Dashboards (the stewards' workbench, manager role) take `chart` (one series per cell over
Jalali periods) and `to_csv` (the figures behind every chart); nothing here returns a
personal field: cells are districts, categories, agencies and sources, never people.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import sqlalchemy as sa

from munihub import store
from munihub.errors import ConfigError
from munihub.indicators.define import Definition, as_json

COLUMNS = ["indicator", "period", "cell", "value", "numerator", "denominator", "rows", "citizens",
           "target", "on_track", "previous", "change", "suppressed"]
PAIR = " → "  # how facts.py names an agency pair
FILTERS = ("district", "category", "agency")  # what a dashboard filters by
HIDDEN = ("value", "numerator", "denominator", "rows", "citizens", "previous", "change", "on_track")


def _on_track(defn: Definition, dims: dict, value, target) -> bool | None:
    if value is None or target is None or not defn.target:
        return None
    direction = defn.target.get("direction", "up")
    for dim_value in dims.values():  # a plan indicator may run the other way (days to resolve: down)
        direction = (defn.target.get("directions") or {}).get(dim_value, direction)
    return value >= target if direction == "up" else value <= target


def values(engine: sa.Engine, defn: Definition, *, periods: list[str] | None = None,
           where: dict[str, str] | None = None, suppress: bool = True, last: int | None = None,
           naming: str | None = None) -> list[dict]:
    """Stored figures of `defn` in period then cell order, with trend and target.

    `where` keeps cells whose dimensions have these values (a dashboard's filters).  With
    `suppress` (what managers and agencies get) a cell counting fewer than k citizens shows
    no number, and neither does the next period's change computed from it.  `last` reads only
    the latest n periods (the trend then starts at the first of them).  `naming` reads only the
    cells whose JSON contains that text somewhere (a superset: the caller still decides)."""
    t = store.indicator_values
    cells, threshold = defn.cells, (defn.k if suppress else None)
    latest = []
    if last:
        latest = [t.c.period.in_(sa.select(t.c.period).where(t.c.indicator_id == defn.id).distinct()
                                 .order_by(t.c.period.desc()).limit(last).scalar_subquery())]
    # dims are read from `cell` (the canonical JSON of the same mapping), once per cell rather
    # than decoded on every row: a big indicator has a cell in dozens of periods
    q = (sa.select(t.c.period, t.c.cell, t.c.value, t.c.numerator, t.c.denominator, t.c.rows,
                   t.c.citizens, t.c.target)
         .where(t.c.indicator_id == defn.id, *latest, *_cell_filters(t.c.cell, where or {}, cells),
                *([_like(t.c.cell, as_json(str(naming))[1:-1])] if naming else []))
         .order_by(t.c.cell, t.c.period))
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    out: list[dict] = []
    previous: dict[str, float | None] = {}
    decoded: dict[str, tuple[dict, dict]] = {}
    for period, cell, value, numerator, denominator, n_rows, citizens, target in rows:
        # periods sort in time order: 1403-07 < 1403-08, 1403-Q1 < 1403-Q2, 1403-W05 < 1403-W06;
        # a cell naming no citizen at all (agencies, projects) has nobody to protect
        hidden = threshold is not None and 0 < (citizens or 0) < threshold
        before = previous.get(cell)
        if cell not in decoded:
            raw = json.loads(cell)
            decoded[cell] = raw, {d: raw.get(d) for d in cells}  # the definition's order (JSON sorts keys)
        raw, dims = decoded[cell]
        # rounded: 0.35 - 0.15 is 0.19999999999999998 in floating point, not a figure anyone measured
        change = round(value - before, 12) if value is not None and before is not None else None
        previous[cell] = None if hidden else value
        if hidden:
            item = {"indicator": defn.id, "period": period, "dims": dims, "cell": cell, "value": None,
                    "numerator": None, "denominator": None, "rows": None, "citizens": None, "target": target,
                    "on_track": None, "previous": None, "suppressed": True, "change": None}
        else:
            item = {"indicator": defn.id, "period": period, "dims": dims, "cell": cell, "value": value,
                    "numerator": numerator, "denominator": denominator, "rows": n_rows, "citizens": citizens,
                    "target": target, "on_track": _on_track(defn, raw, value, target), "previous": before,
                    "suppressed": False, "change": change}
        out.append(item)
    if where:
        out = [r for r in out if all(str(r["dims"].get(k)) == str(v) for k, v in where.items())]
    if periods:
        out = [r for r in out if r["period"] in set(periods)]
    out.sort(key=lambda r: (r["period"], r["cell"]))
    if defn.top:
        out = _top(out, defn.top)
    return out


def _cell_filters(column, where: dict, cells: tuple) -> list:
    """SQL conditions narrowing `where` to the cells whose canonical JSON names the value, so a
    filtered page reads only its rows (the exact comparison in `values` still decides)."""
    out = []
    for key, value in where.items():
        text = str(value)
        if key not in cells or text.strip().lstrip("-").replace(".", "", 1).isdigit():
            continue  # a number may be stored unquoted: left to the exact comparison
        out.append(_like(column, as_json({key: text})[1:-1]))  # "district":"منطقه 7" (quotes make it exact)
    return out


def _like(column, fragment: str):
    """`column` contains `fragment` (LIKE with its wildcards escaped)."""
    fragment = fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.like(f"%{fragment}%", escape="\\")


def _top(rows: list[dict], n: int) -> list[dict]:
    """The n largest (unsuppressed) cells of each period, largest first."""
    by_period: dict[str, list[dict]] = {}
    for r in rows:
        if r["value"] is not None:
            by_period.setdefault(r["period"], []).append(r)
    out = []
    for period in sorted(by_period):
        out += sorted(by_period[period], key=lambda r: (-r["value"], r["cell"]))[:n]
    return out


def chart(rows: list[dict]) -> dict:
    """One series per cell over the periods, for a dashboard chart: {periods, series: [{cell, dims,
    values, suppressed, targets, on_track}]} (a suppressed figure is None and flagged, so a chart
    can say "suppressed" where a missing one says nothing)."""
    periods = sorted({r["period"] for r in rows})
    at = {p: i for i, p in enumerate(periods)}
    series: dict[str, dict] = {}
    for r in rows:
        s = series.get(r["cell"])
        if s is None:
            s = series[r["cell"]] = {"cell": r["cell"], "dims": r["dims"], "values": [None] * len(periods),
                                     "suppressed": [False] * len(periods), "targets": [None] * len(periods),
                                     "on_track": [None] * len(periods)}
        i = at[r["period"]]
        s["values"][i], s["suppressed"][i] = r["value"], r["suppressed"]
        s["targets"][i], s["on_track"][i] = r["target"], r["on_track"]
    return {"periods": periods, "series": [series[k] for k in sorted(series)]}


def _has_agency(dims: dict, agency: str) -> bool:
    """An agency filter keeps a cell naming the agency as agency, sender or receiver, or on
    either side of an agency pair (`A → B`, as facts.py builds it)."""
    if any(dims.get(k) == agency for k in ("agency", "from_agency", "to_agency")):
        return True
    return agency in str(dims.get("agency_pair") or "").split(PAIR)


def filter_choices(engine: sa.Engine, definitions: list[Definition], family: str) -> dict[str, list[str]]:
    """The values a dashboard's filters offer (district, category, agency) for one family: those
    of the stored cells of its indicators, so a filter is checked against what exists."""
    ids = [d.id for d in definitions if d.family == family]
    t = store.indicator_values
    found: dict[str, set] = {k: set() for k in FILTERS}
    if not ids:
        return {k: [] for k in FILTERS}
    with engine.connect() as conn:
        cells = conn.execute(sa.select(t.c.cell).where(t.c.indicator_id.in_(ids)).distinct()).scalars().all()
    for cell in cells:
        dims = json.loads(cell)
        for k in ("district", "category"):
            if dims.get(k) not in (None, ""):
                found[k].add(str(dims[k]))
        for k in ("agency", "from_agency", "to_agency"):
            if dims.get(k) not in (None, ""):
                found["agency"].add(str(dims[k]))
        if dims.get("agency_pair"):
            found["agency"].update(x for x in str(dims["agency_pair"]).split(PAIR) if x)
    return {k: sorted(v) for k, v in found.items()}


def family_page(engine: sa.Engine, definitions: list[Definition], family: str,
                where: dict[str, str] | None = None, *, snapshots: int | None = None) -> list[dict]:
    """What a manager's dashboard page shows for one family (137, inter_agency, plan, systems):
    per indicator its title, unit, target, chart series over Jalali periods and the rows behind
    them (CSV with `to_csv`), small counts suppressed; `where` filters by district, category or
    agency where the indicator has that dimension; `agency` also keeps pairs with the agency on either
    side.  `snapshots` reads an indicator kept as of each computation (no period dimension) for its
    latest n periods only: a page shows the latest beside the one before."""
    page = []
    where = dict(where or {})
    agency = where.pop("agency", None)
    for d in definitions:
        if d.family != family:
            continue
        by_agency = bool(agency and {"agency", "from_agency", "to_agency", "agency_pair"} & set(d.cells))
        # the agency may be on either side of a pair: read only the cells naming it, then decide
        # exactly (a ranking is cut over all the cells first, so it reads them all)
        rows = values(engine, d, where={k: v for k, v in where.items() if k in d.cells},
                      last=snapshots if d.time is None else None,
                      naming=agency if by_agency and not d.top else None)
        if by_agency:
            rows = [r for r in rows if _has_agency(r["dims"], agency)]
        page.append({"id": d.id, "title": d.title, "unit": d.unit, "dimensions": list(d.cells),
                     "target": d.target, "chart": chart(rows), "rows": rows})
    return page


def dimension_column(name: str) -> str:
    """The column a dimension gets in flat figures: its own name, unless that is one of the
    figures' own columns (plan.targets has a dimension `indicator`, the plan's indicator code,
    which must not overwrite the id of the indicator the figures belong to)."""
    return f"{name}_dimension" if name in COLUMNS else name


def flat(rows: list[dict]) -> list[dict]:
    """Rows with their dimensions as columns of their own (for CSV, Parquet, tables)."""
    dims = list(dict.fromkeys(k for r in rows for k in r["dims"]))
    return [{"indicator": r["indicator"], "period": r["period"],
             **{dimension_column(d): r["dims"].get(d) for d in dims},
             **{k: r[k] for k in COLUMNS if k not in {"indicator", "period", "cell"}}} for r in rows]


def to_csv(rows: list[dict]) -> str:
    """The figures as CSV text (UTF-8; dimension columns first)."""
    table = flat(rows)
    buf = io.StringIO()
    if table:
        writer = csv.DictWriter(buf, fieldnames=list(table[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(table)
    return buf.getvalue()


def export(rows: list[dict], path: str | Path) -> Path:
    """Write the figures to `path`: .csv or .parquet (pyarrow)."""
    path = Path(path)
    if path.suffix == ".csv":
        path.write_text(to_csv(rows), encoding="utf-8")
    elif path.suffix == ".parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise ConfigError("Parquet export needs pyarrow", where=str(path),
                              hint="pip install 'munihub[resolve]' (it brings pyarrow) or export .csv") from exc
        table = flat(rows)
        columns = list(table[0]) if table else ["indicator", "period"]
        pq.write_table(pa.table({c: [r.get(c) for r in table] for c in columns}), path)
    else:
        raise ConfigError(f"cannot export to {path.suffix or 'a file without a suffix'}", where=str(path),
                          hint="name a .csv or .parquet file")
    return path
