"""`munihub connectors list` and `munihub source check|preview`: what can be read, and a first look."""
from __future__ import annotations

from munihub.cli.common import command, current_settings, subgroup, table


def add_commands(sub) -> None:
    k = subgroup(sub, "connectors", "connector kinds")
    k.add_parser("list", help="registered connector kinds (entry points)")
    src = subgroup(sub, "source", "probe a contract's source")
    chk = src.add_parser("check", help="cheap connectivity probe of the source")
    chk.add_argument("contract", help="contract file or dataset id")
    prev = src.add_parser("preview", help="first records, mapped and validated, as a table")
    prev.add_argument("contract", help="contract file or dataset id")
    prev.add_argument("-n", type=int, default=20, help="how many records (default 20)")


@command("connectors.list")
def cmd_connectors_list(args) -> int:
    from munihub.ingest.connector import connector_kinds
    print(table([{"kind": k, "class": ep.value} for k, ep in sorted(connector_kinds().items())], ["kind", "class"]))
    return 0


@command("source.check")
def cmd_source_check(args) -> int:
    from munihub.ingest.extract import connect
    from munihub.contracts import contract_for
    contract = contract_for(args.contract, current_settings())
    with connect(contract) as conn:
        conn.check()
    print(f"{contract.id}: reachable ({contract.connector})")
    return 0


@command("source.preview")
def cmd_source_preview(args) -> int:
    from munihub.pipeline.preview import preview
    rows = preview(args.contract, current_settings(), limit=args.n)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    print(table(rows, columns))
    return 0
