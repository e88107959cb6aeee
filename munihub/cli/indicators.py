"""`munihub indicators list|lint|compute|show|export`: definitions, computing them in the store,
and the figures as managers see them (small counts suppressed) or as CSV/Parquet files."""
from __future__ import annotations

import json
import sys

from munihub.cli.common import command, current_settings, subgroup, table


def add_commands(sub) -> None:
    g = subgroup(sub, "indicators", "indicators for city managers: definitions, computing, figures")
    g.add_parser("list", help="the indicator definitions, by family")
    g.add_parser("lint", help="check every definition; every problem with file:line")
    c = g.add_parser("compute", help="compute indicators in the store (only the periods that changed)")
    c.add_argument("ids", nargs="*", metavar="ID", help="indicator ids (default: all)")
    c.add_argument("--full", action="store_true", help="recompute every period from scratch")
    s = g.add_parser("show", help="an indicator's figures (small counts suppressed)")
    s.add_argument("id", help="indicator id, e.g. 137.requests")
    s.add_argument("--period", action="append", help="only this Jalali period (repeatable)")
    s.add_argument("--where", action="append", default=[], metavar="DIM=VALUE",
                   help="only cells with this dimension value, e.g. district=منطقه 3")
    s.add_argument("--json", action="store_true", help="print JSON instead of a table")
    e = g.add_parser("export", help="write an indicator's figures to a .csv or .parquet file")
    e.add_argument("id", help="indicator id")
    e.add_argument("path", help="output file: .csv or .parquet")


def _definitions(settings):
    from munihub.indicators import load_all
    return load_all(settings.indicators)


@command("indicators.list")
def cmd_list(args) -> int:
    good, bad = _definitions(current_settings())
    print(table([{"id": d.id, "family": d.family, "source": d.source, "measure": d.measure["kind"],
                  "dimensions": ", ".join(d.dimensions), "title": d.title} for d in good],
                ["id", "family", "source", "measure", "dimensions", "title"]))
    for err in bad:
        print(f"munihub: {err}", file=sys.stderr)
    return 1 if bad else 0


@command("indicators.lint")
def cmd_lint(args) -> int:
    settings = current_settings()
    good, bad = _definitions(settings)
    for err in bad:
        print(err, file=sys.stderr)
    print(f"{len(good)} indicator(s) valid, {len(bad)} with problems ({settings.indicators})")
    return 1 if bad else 0


def _selected(settings, ids):
    from munihub.indicators import find
    if ids:
        return [find(i, settings.indicators) for i in ids]
    good, bad = _definitions(settings)
    if bad:
        raise bad[0]
    return good


@command("indicators.compute")
def cmd_compute(args) -> int:
    from munihub.indicators import refresh
    from munihub.store import engine_for
    settings = current_settings()
    out = refresh(engine_for(settings), _selected(settings, args.ids), full=args.full)
    print(table(out, ["indicator", "mode", "periods", "cells", "seconds"]))
    return 0


def _figures(args):
    from munihub.indicators import find, values
    from munihub.store import engine_for
    settings = current_settings()
    defn = find(args.id, settings.indicators)
    where = dict(w.split("=", 1) for w in getattr(args, "where", []) if "=" in w)
    return defn, values(engine_for(settings), defn, periods=getattr(args, "period", None), where=where)


@command("indicators.show")
def cmd_show(args) -> int:
    from munihub.indicators.read import dimension_column, flat
    defn, rows = _figures(args)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
        return 0
    print(f"{defn.id}: {defn.title}" + (f" ({defn.unit})" if defn.unit else ""))
    cols = ["period", *map(dimension_column, defn.cells), "value", "target", "on_track", "change", "suppressed"]
    print(table([{**r, "value": _num(r["value"]), "change": _num(r["change"])} for r in flat(rows)], cols))
    return 0


def _num(value):
    return None if value is None else round(value, 3)


@command("indicators.export")
def cmd_export(args) -> int:
    from munihub.indicators import export
    _, rows = _figures(args)
    print(export(rows, args.path))
    return 0
