"""CLI for agency contract tooling: `contracts diff | check | new | test | catalog`.

Each handler parses, calls one core function, renders (a table or `--format json`).
Lint says two verdicts apart: valid ODCS v3.x, and runnable by munihub.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from munihub.cli.common import command, current_settings, subgroup, table


def _json(data) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@command("contracts.diff")
def cmd_diff(args) -> int:
    from munihub.contracts.diff import bump_verdict, diff_contracts
    from munihub.contracts import read_yaml
    old, _ = read_yaml(Path(args.old))
    new, _ = read_yaml(Path(args.new))
    changes = diff_contracts(old, new)
    verdict = bump_verdict(old, new, changes)
    if args.format == "json":
        _json({"changes": [c.to_dict() for c in changes], **verdict})
    else:
        order = {"breaking": 0, "non-breaking": 1, "info": 2}
        print(table([c.to_dict() for c in sorted(changes, key=lambda c: order[c.level])],
                    ["level", "path", "change", "kind"]) if changes else "no change")
        counts = verdict["counts"]
        print(f"\n{counts['breaking']} breaking, {counts['non-breaking']} non-breaking, {counts['info']} info; "
              f"required bump: {verdict['required'] or 'none'}; version {verdict['old_version']} → "
              f"{verdict['new_version']} ({verdict['actual'] or 'unchanged'}): "
              f"{'enough' if verdict['sufficient'] else 'NOT enough'}")
    return 0 if verdict["sufficient"] else 1


@command("contracts.check")
def cmd_check(args) -> int:
    from munihub.contracts.gate import check_against
    results = check_against(args.against, Path(args.contracts) if args.contracts else current_settings().contracts_dir)
    failing = [r for r in results if r["status"] in {"violation", "broken"}]
    if args.format == "json":
        _json({"against": args.against, "ok": not failing, "files": results})
        return 1 if failing else 0
    print(table(results, ["file", "status", "required", "actual", "message"]) if results
          else f"no contract changed since {args.against}")
    for r in failing:
        for c in r["changes"]:
            if c["breaking"]:
                print(f"{r['file']}: {c['level']}: {c['path']}: {c['change']} ({c['kind']})", file=sys.stderr)
        if not r["changes"]:
            print(f"{r['file']}: {r['message']}", file=sys.stderr)
    if failing:
        print(f"{len(failing)} contract(s) changed in a breaking way without a major version bump "
              "(see docs/contracts-guide.md, section 6 'Evolve a contract')", file=sys.stderr)
    return 1 if failing else 0


@command("contracts.new")
def cmd_new(args) -> int:
    from munihub.ingest.connector import connector_kinds
    from munihub.contracts.template import new_contract, todo_markers
    settings = current_settings()
    path = new_contract(args.agency, args.dataset, args.schema, args.connector, settings.contracts_dir,
                        settings.schemas_dir, known_connectors=set(connector_kinds()))
    print(f"wrote {path}")
    print(f"{len(todo_markers(path))} TODO marker(s) to fill in; then run "
          f"`munihub contracts lint {path}` and `munihub contracts test {args.agency}.{args.dataset}`")
    return 0


@command("contracts.test")
def cmd_test(args) -> int:
    from munihub.pipeline.contract_test import test_contract
    from munihub.contracts import contract_for
    settings = current_settings()
    report = test_contract(contract_for(args.contract, settings), settings, limit=args.n)
    if args.format == "json":
        _json(report)
    else:
        print(f"{report['dataset']} {report['version']}: read {report['read']} record(s)"
              f"{' (sample)' if report['partial'] else ''}, {report['valid']} valid, {report['invalid']} invalid"
              + "".join(f", {n} {field} value(s) set aside" for field, n in sorted(report["set_aside"].items())))
        print(table(report["checks"], ["name", "status", "severity", "observed", "expected", "message"]))
        print("\n" + ", ".join(f"{k}: {v}" for k, v in sorted(report["counts"].items())))
    return 0 if report["ok"] else 1


@command("contracts.catalog")
def cmd_catalog(args) -> int:
    from munihub.report.catalog import write_catalog
    print(write_catalog(current_settings(), Path(args.out) if args.out else None))
    return 0


def add_commands(sub) -> None:
    grp = subgroup(sub, "contracts", "agency data contracts")
    grp.add_parser("list", help="every contract with version, connector and schedule")
    lint = grp.add_parser("lint", help="is each contract valid ODCS v3.x, and runnable by munihub? every problem "
                                       "at once, at its line")
    lint.add_argument("paths", nargs="*", help="contract files (default: every contract)")
    lint.add_argument("--format", choices=["table", "json"], default="table", help="output format (default table)")
    d = grp.add_parser("diff", help="every change between two versions of a contract, breaking or not, "
                                    "and whether the version bump is enough (exit 1 if not)")
    d.add_argument("old", help="the earlier contract file")
    d.add_argument("new", help="the later contract file")
    d.add_argument("--format", choices=["table", "json"], default="table", help="output format (default table)")
    c = grp.add_parser("check", help="compare every contract changed since a git ref; exit 1 on a breaking "
                                     "change without a major bump (for CI)")
    c.add_argument("--against", required=True, metavar="GIT_REF", help="branch, tag or commit, e.g. origin/main")
    c.add_argument("--contracts", help="contracts folder (default: MUNIHUB_CONTRACTS)")
    c.add_argument("--format", choices=["table", "json"], default="table", help="output format (default table)")
    n = grp.add_parser("new", help="write a template contract for an agency's dataset, fields pre-listed")
    n.add_argument("--agency", required=True, help="agency name, e.g. registry (lowercase letters, digits, _)")
    n.add_argument("--dataset", required=True, help="dataset name, e.g. citizens")
    n.add_argument("--schema", required=True, help="shared schema, e.g. person (see schemas/)")
    n.add_argument("--connector", default="sql", help="connector kind (default sql; `connectors list` shows all)")
    t = grp.add_parser("test", help="run a contract against its live source: schema, quality checks and "
                                    "freshness on up to N records; the store is not touched")
    t.add_argument("contract", help="contract file or dataset id (agency.dataset)")
    t.add_argument("-n", type=int, default=1000, help="how many records to read (default 1000)")
    t.add_argument("--format", choices=["table", "json"], default="table", help="output format (default table)")
    g = grp.add_parser("catalog", help="write the static HTML data catalog (Persian, RTL)")
    g.add_argument("--out", metavar="DIR", help="output folder (default $MUNIHUB_HOME/catalog)")


@command("contracts.list")
def cmd_contracts_list(args) -> int:
    from munihub.contracts import load_all
    settings = current_settings()
    good, bad = load_all(settings.contracts_dir, schemas_dir=settings.schemas_dir)
    print(table([{"id": c.id, "version": c.version, "connector": c.connector, "schema": c.entity_type,
                  "schedule": c.schedule, "owner": c.owner} for c in good],
                ["id", "version", "connector", "schema", "schedule", "owner"]))
    for err in bad:
        print(f"broken: {err}", file=sys.stderr)
    return 1 if bad else 0


def _connector_params() -> dict[str, dict]:
    """Each installed connector kind's parameter schema (a kind that fails to import accepts any)."""
    from munihub.ingest.connector import connector_kinds
    out = {}
    for kind, entry in connector_kinds().items():
        try:
            out[kind] = dict(getattr(entry.load(), "params_schema", None) or {"type": "object"})
        except Exception:  # noqa: BLE001 - a broken plugin must not hide the contracts' own problems
            out[kind] = {"type": "object"}
    return out


def render_lint(result: dict) -> str:
    """Two verdicts said plainly, then each problem at file:line with the layer whose rule it breaks."""
    if result["valid_odcs"]:
        head = f"valid {result['standard']}; " + ("runnable by munihub" if result["runnable"]
                                                  else "NOT runnable by munihub yet")
    else:
        head = f"NOT valid {result['standard']}"
    lines = [f"{result['file']}: {head}"]
    for p in result["problems"]:
        where = f"{result['file']}:{p['line']}" if p["line"] else result["file"]
        lines.append(f"  {where}: {p['layer']}: {p['message']}")
    return "\n".join(lines)


@command("contracts.lint")
def cmd_contracts_lint(args) -> int:
    from munihub.contracts import discover_contracts, lint_contract
    settings = current_settings()
    paths = [Path(p) for p in args.paths] or discover_contracts(settings.contracts_dir)
    connectors = _connector_params()
    results = [lint_contract(p, schemas_dir=settings.schemas_dir, connectors=connectors) for p in paths]
    if getattr(args, "format", "table") == "json":
        _json(results)
    else:
        for r in results:
            print(render_lint(r))
    return 0 if all(r["runnable"] for r in results) else 1
