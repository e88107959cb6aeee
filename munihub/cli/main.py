"""The `munihub` command line: parse, call one core function, render.

Library errors become one line on stderr (exit 1), never a traceback.  Every command and
subcommand has help; a test keeps it that way.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from munihub.errors import MunihubError

COMMANDS: dict[str, Callable] = {}


def command(name: str):
    def register(fn):
        COMMANDS[name] = fn
        return fn
    return register


def table(rows: list[dict], columns: list[str]) -> str:
    """A plain-text table; wide Persian text is fine because columns pad by characters."""
    if not rows:
        return "(none)"
    cells = [[str(r.get(c, "")) if r.get(c) is not None else "" for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths)).rstrip()  # noqa: E731
    return "\n".join([line(columns), line(["-" * w for w in widths]), *map(line, cells)])


def _settings():
    from munihub.config import load_settings
    return load_settings()


# ---------------------------------------------------------------- commands

@command("run")
def cmd_run(args) -> int:
    from munihub.runner import run_all
    summary = run_all(_settings(), only=args.only or None, progress=lambda m: print(m, file=sys.stderr))
    print(table(summary["sources"], ["source", "status", "read", "published", "new", "changed",
                                     "quarantined", "error"]))
    print()
    print(table(summary["entities"], ["entity_type", "records", "entities", "review"]))
    if summary.get("report"):
        print(f"\nquality report: {summary['report']}")
    return 0 if all(s["status"] == "published" for s in summary["sources"]) else 1


@command("sync")
def cmd_sync(args) -> int:
    from munihub.pipeline import sync_source
    print(json.dumps(sync_source(args.contract, _settings()), ensure_ascii=False, indent=2))
    return 0


@command("consolidate")
def cmd_consolidate(args) -> int:
    from munihub.pipeline import consolidate
    print(json.dumps(consolidate(_settings()), ensure_ascii=False, indent=2))
    return 0


@command("status")
def cmd_status(args) -> int:
    from munihub.status import source_status
    print(table(source_status(_settings()), ["source", "status", "rows_in", "published", "quarantined",
                                             "finished_at", "stale"]))
    return 0


@command("report")
def cmd_report(args) -> int:
    from munihub.contracts import load_all
    from munihub.pipeline import engine_for
    from munihub.report import write_report
    settings = _settings()
    contracts, _ = load_all(settings.contracts_dir, schemas_dir=settings.schemas_dir)
    print(write_report(engine_for(settings), settings.reports, contracts=contracts))
    return 0


@command("contracts.list")
def cmd_contracts_list(args) -> int:
    from munihub.contracts import load_all
    settings = _settings()
    good, bad = load_all(settings.contracts_dir, schemas_dir=settings.schemas_dir)
    print(table([{"id": c.id, "version": c.version, "connector": c.connector, "schema": c.entity_type,
                  "schedule": c.schedule, "owner": c.owner} for c in good],
                ["id", "version", "connector", "schema", "schedule", "owner"]))
    for err in bad:
        print(f"broken: {err}", file=sys.stderr)
    return 1 if bad else 0


@command("contracts.lint")
def cmd_contracts_lint(args) -> int:
    from pathlib import Path

    from munihub.contracts import discover_contracts, load_contract
    settings = _settings()
    paths = [Path(p) for p in args.paths] or discover_contracts(settings.contracts_dir)
    failed = 0
    for path in paths:
        try:
            load_contract(path, schemas_dir=settings.schemas_dir)
            print(f"ok      {path}")
        except MunihubError as err:
            failed += 1
            print(f"broken  {err}")
    return 1 if failed else 0


@command("connectors.list")
def cmd_connectors_list(args) -> int:
    from munihub.connector import connector_kinds
    print(table([{"kind": k, "class": ep.value} for k, ep in sorted(connector_kinds().items())], ["kind", "class"]))
    return 0


@command("source.check")
def cmd_source_check(args) -> int:
    from munihub.extract import connect
    from munihub.pipeline import contract_for
    contract = contract_for(args.contract, _settings())
    with connect(contract) as conn:
        conn.check()
    print(f"{contract.id}: reachable ({contract.connector})")
    return 0


@command("source.preview")
def cmd_source_preview(args) -> int:
    from munihub.preview import preview
    rows = preview(args.contract, _settings(), limit=args.n)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    print(table(rows, columns))
    return 0


@command("quarantine.list")
def cmd_quarantine_list(args) -> int:
    from munihub.quarantine import list_quarantine
    print(table(list_quarantine(_settings(), source=args.source, limit=args.n),
                ["id", "source", "position", "status", "reasons"]))
    return 0


@command("quarantine.show")
def cmd_quarantine_show(args) -> int:
    from munihub.quarantine import show_quarantine
    print(json.dumps(show_quarantine(_settings(), args.id), ensure_ascii=False, indent=2, default=str))
    return 0


@command("entity.show")
def cmd_entity_show(args) -> int:
    from munihub.entities import show_entity
    print(json.dumps(show_entity(_settings(), args.id), ensure_ascii=False, indent=2, default=str))
    return 0


@command("db.upgrade")
def cmd_db_upgrade(args) -> int:
    from munihub.migrations import current_revision
    from munihub.pipeline import engine_for
    print(f"store at revision {current_revision(engine_for(_settings()))}")
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
    sub.add_parser("consolidate", help="resolve entities, build golden records and write the report")
    sub.add_parser("status", help="headline figures per source: last load, counts, freshness")
    sub.add_parser("report", help="regenerate the stewards' HTML report and print where it is")

    c = sub.add_parser("contracts", help="agency data contracts: list, lint").add_subparsers(dest="sub", metavar="SUB")
    c.add_parser("list", help="every contract with version, connector and schedule")
    lint = c.add_parser("lint", help="check contracts against ODCS and munihub's rules, every problem at once")
    lint.add_argument("paths", nargs="*", help="contract files (default: every contract)")

    k = sub.add_parser("connectors", help="connector kinds").add_subparsers(dest="sub", metavar="SUB")
    k.add_parser("list", help="registered connector kinds (entry points)")

    src = sub.add_parser("source", help="probe a contract's source").add_subparsers(dest="sub", metavar="SUB")
    chk = src.add_parser("check", help="cheap connectivity probe of the source")
    chk.add_argument("contract", help="contract file or dataset id")
    prev = src.add_parser("preview", help="first records, mapped and validated, as a table")
    prev.add_argument("contract", help="contract file or dataset id")
    prev.add_argument("-n", type=int, default=20, help="how many records (default 20)")

    q = sub.add_parser("quarantine", help="rejected records and why").add_subparsers(dest="sub", metavar="SUB")
    ql = q.add_parser("list", help="quarantined records, newest first")
    ql.add_argument("--source", help="only this dataset id")
    ql.add_argument("-n", type=int, default=50, help="how many (default 50)")
    qs = q.add_parser("show", help="one quarantined record with its raw payload and reasons")
    qs.add_argument("id", type=int, help="quarantine id from `quarantine list`")

    e = sub.add_parser("entity", help="resolved entities").add_subparsers(dest="sub", metavar="SUB")
    es = e.add_parser("show", help="a golden record with the lineage of every value")
    es.add_argument("id", help="entity id, e.g. P-1a2b3c4d5e6f")

    d = sub.add_parser("db", help="the consolidated store").add_subparsers(dest="sub", metavar="SUB")
    d.add_parser("upgrade", help="apply pending migrations to MUNIHUB_STORE_URL")
    _extend(p)
    return p


# Command groups that live beside their stage register themselves here: each module has
# `add_commands(sub)` adding subparsers and `@command(...)` handlers.
EXTENSIONS = ["munihub.cli_contracts", "munihub.cli_resolve", "munihub.cli_gateway", "munihub.cli_quarantine", "munihub.cli_backfill"]


def subgroup(sub, name: str, help: str):
    """The subcommand group `name` (e.g. `contracts`), created if no module made it yet."""
    parser = sub.choices.get(name) or sub.add_parser(name, help=help)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(dest="sub", metavar="SUB")


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
    # Run the imported module's main: command groups register into `munihub.cli`, not `__main__`.
    from munihub.cli import main as _main
    sys.exit(_main())
