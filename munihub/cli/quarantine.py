"""`munihub quarantine list|show|replay|dismiss`: rejected records, and stewards acting on them."""
from __future__ import annotations

import getpass
import json

from munihub.cli.common import add_format, command, current_settings, render, subgroup, summary, table


def add_commands(sub) -> None:
    grp = subgroup(sub, "quarantine", "rejected records and why")
    ql = grp.add_parser("list", help="quarantined records, newest first")
    ql.add_argument("--source", help="only this dataset id")
    ql.add_argument("-n", type=int, default=50, help="how many (default 50)")
    qs = grp.add_parser("show", help="one quarantined record with its raw payload and reasons")
    qs.add_argument("id", type=int, help="quarantine id from `quarantine list`")
    rp = grp.add_parser("replay", help="re-run open quarantined records after a contract or mapping fix")
    rp.add_argument("source", help="dataset id (agency.dataset)")
    rp.add_argument("ids", nargs="*", type=int, help="only these quarantine ids (default: every open one)")
    add_format(rp)
    dp = grp.add_parser("dismiss", help="close quarantined records that will never be fixed, saying why")
    dp.add_argument("ids", nargs="+", type=int, help="quarantine ids")
    dp.add_argument("--why", required=True, help="the reason, kept with the record")
    dp.add_argument("--by", default=None, help="who decides (default: the login name)")


@command("quarantine.list")
def cmd_quarantine_list(args) -> int:
    from munihub.ingest.quarantine import list_quarantine
    print(table(list_quarantine(current_settings(), source=args.source, limit=args.n),
                ["id", "source", "position", "status", "reasons"]))
    return 0


@command("quarantine.show")
def cmd_quarantine_show(args) -> int:
    from munihub.ingest.quarantine import show_quarantine
    print(json.dumps(show_quarantine(current_settings(), args.id), ensure_ascii=False, indent=2, default=str))
    return 0


@command("quarantine.replay")
def cmd_replay(args) -> int:
    from munihub.pipeline.replay import replay
    result = replay(current_settings(), args.source, args.ids or None, actor=getpass.getuser())
    print(render([result], ["source", "load_id", "replayed", "published", "still_quarantined"], args.format))
    summary(f"replayed {result['replayed']} record(s) of {result['source']}: {result['published']} published, "
            f"{result['still_quarantined']} still quarantined")
    return 0


@command("quarantine.dismiss")
def cmd_dismiss(args) -> int:
    from munihub.ingest.quarantine import dismiss
    n = dismiss(current_settings(), args.ids, args.by or getpass.getuser(), args.why)
    print(f"dismissed {n} record(s)")
    return 0
