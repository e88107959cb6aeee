"""The `munihub` command line: parse, call one core function, render.

Library errors become one line on stderr (exit 1), never a traceback.  Every command and
subcommand has help; a test keeps it that way.
"""
from __future__ import annotations

import argparse
import sys
import time

from munihub.cli.common import COMMANDS, Progress, add_format, command, current_settings, render, summary, table
from munihub.errors import MunihubError


# ---------------------------------------------------------------- commands

@command("run")
def cmd_run(args) -> int:
    from munihub.pipeline.run_all import run_all
    summary = run_all(current_settings(), only=args.only or None, progress=lambda m: print(m, file=sys.stderr))
    print(table(summary["sources"], ["source", "status", "read", "published", "new", "changed",
                                     "quarantined", "error"]))
    print()
    print(table(summary["entities"], ["entity_type", "records", "entities", "review"]))
    if summary.get("report"):
        print(f"\nquality report: {summary['report']}")
    return 0 if all(s["status"] == "published" for s in summary["sources"]) else 1


SYNC_COLUMNS = ["source", "load_id", "rows_in", "rows_new", "rows_changed", "rows_unchanged", "rows_quarantined"]
# set_aside: values still waiting for a steward (`munihub quarantine values`), per field beside
STATUS_COLUMNS = ["source", "status", "rows_in", "published", "quarantined", "set_aside", "set_aside_fields",
                  "finished_at", "stale", "checked"]


@command("sync")
def cmd_sync(args) -> int:
    from munihub.pipeline.sync import sync_source
    started = time.monotonic()
    result = sync_source(args.contract, current_settings(), progress=Progress(f"sync {args.contract}"))
    print(render([result], SYNC_COLUMNS, args.format))
    aside = result.get("values_set_aside") or {}
    moved = [f"{result[k]} {k.removeprefix('rows_')}" for k in ("rows_rekeyed", "rows_retired") if result.get(k)]
    summary(f"synced {result['source']}: {result['rows_in']} read, {result['rows_new']} new, "
            f"{result['rows_changed']} changed, {result['rows_quarantined']} quarantined"
            + (f", {sum(aside.values())} value(s) set aside ("
               + ", ".join(f"{f} {n}" for f, n in sorted(aside.items())) + "; `munihub quarantine values`)"
               if aside else "")
            + (f", {' and '.join(moved)} row(s) of the former record identity" if moved else "")
            + f" in {time.monotonic() - started:.1f} s")
    if result.get("rows_overwritten"):
        summary(result["overwritten"])
    if result["rows_quarantined"]:
        from munihub.ingest.quarantine import first_problem
        summary(f"quarantined, e.g. {first_problem(current_settings(), result['load_id'])} "
                f"(all of them: `munihub quarantine list --source {result['source']}`)")
    return 0


@command("consolidate")
def cmd_consolidate(args) -> int:
    from munihub.pipeline.consolidate import consolidate
    started = time.monotonic()
    result = consolidate(current_settings())
    rows = [{"entity_type": k, **v} for k, v in sorted(result.get("types", {}).items())]
    print(render(rows, ["entity_type", "records", "entities", "review"], args.format))
    records, entities = sum(r.get("records", 0) for r in rows), sum(r.get("entities", 0) for r in rows)
    summary(f"consolidated {records} records into {entities} entities "
            f"({sum(r.get('review', 0) for r in rows)} pairs to review) in {time.monotonic() - started:.1f} s; "
            f"report: {result.get('report') or '(not written)'}")
    return 0


@command("status")
def cmd_status(args) -> int:
    from munihub.report.status import source_status
    rows = source_status(current_settings())
    print(render(rows, STATUS_COLUMNS, args.format))
    by = {}
    for r in rows:
        by[r["status"]] = by.get(r["status"], 0) + 1
    failing = [r["source"] for r in rows if r.get("checks_failed")]
    summary(f"{len(rows)} sources: " + ", ".join(f"{n} {s}" for s, n in sorted(by.items()))
            + (f"; last checks failed for {', '.join(failing)}" if failing else ""))
    return 0


@command("report")
def cmd_report(args) -> int:
    from munihub.contracts import load_all
    from munihub.store import engine_for
    from munihub.report.build import write_report
    settings = current_settings()
    contracts, _ = load_all(settings.contracts_dir, schemas_dir=settings.schemas_dir)
    print(write_report(engine_for(settings), settings.reports, contracts=contracts))
    return 0


@command("db.upgrade")
def cmd_db_upgrade(args) -> int:
    from munihub.store.migrations import current_revision
    from munihub.store import engine_for
    print(f"store at revision {current_revision(engine_for(current_settings()))}")
    return 0


# ---------------------------------------------------------------- parser

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="munihub", description="Integration hub for city subsystems: pull, check, "
                                "publish and merge municipal data. Settings come from MUNIHUB_* environment variables.")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")
    run = sub.add_parser("run", help="sync every contract's source, then consolidate and write the report")
    run.add_argument("--only", nargs="*", metavar="DATASET", help="sync only these dataset ids")
    s = sub.add_parser("sync", help="extract, check and publish one source")
    s.add_argument("contract", help="contract file or dataset id (agency.dataset)")
    add_format(s)
    add_format(sub.add_parser("consolidate", help="resolve entities, build golden records and write the report"))
    add_format(sub.add_parser("status", help="headline figures per source: last load, counts, freshness, "
                                             "and the last load that ran checks"))
    sub.add_parser("report", help="regenerate the stewards' HTML report and print where it is")

    d = sub.add_parser("db", help="the consolidated store").add_subparsers(dest="sub", metavar="SUB")
    d.add_parser("upgrade", help="apply pending migrations to MUNIHUB_STORE_URL")
    _extend(p)
    return p


# Command groups that live beside their stage register themselves here: each module has
# `add_commands(sub)` adding subparsers and `@command(...)` handlers.
EXTENSIONS = ["munihub.cli.contracts", "munihub.cli.sources", "munihub.cli.quarantine", "munihub.cli.resolve",
              "munihub.cli.gateway", "munihub.cli.backfill", "munihub.cli.indicators", "munihub.cli.users"]


def _extend(parser: argparse.ArgumentParser) -> None:
    import importlib

    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name in EXTENSIONS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.add_commands(sub)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    name = args.cmd if not getattr(args, "sub", None) else f"{args.cmd}.{args.sub}"
    if name not in COMMANDS:
        parser.parse_args([*(argv if argv is not None else sys.argv[1:]), "--help"])
        return 2
    try:
        return COMMANDS[name](args)
    except MunihubError as err:
        from munihub.secrets import redact
        print(f"munihub: error: {redact(str(err))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("munihub: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    # Run the imported module's main: command groups register into `munihub.cli.main`, not `__main__`.
    from munihub.cli.main import main as _main
    sys.exit(_main())
