"""`munihub quarantine list|show|replay|dismiss`: rejected records, and stewards acting on them;
`quarantine values|replay-values|dismiss-values`: the same for values set aside from published records."""
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
    vl = grp.add_parser("values", help="values set aside (their records were published without them)")
    vl.add_argument("--source", help="only this dataset id")
    vl.add_argument("--field", help="only this shared-schema field")
    vl.add_argument("--count", action="store_true", help="count open values per source, field and rule")
    vl.add_argument("-n", type=int, default=50, help="how many (default 50)")
    vr = grp.add_parser("replay-values", help="read set-aside values again after a contract fix")
    vr.add_argument("source", help="dataset id (agency.dataset)")
    vr.add_argument("ids", nargs="*", type=int, help="only these ids (default: every open one)")
    vd = grp.add_parser("dismiss-values", help="close set-aside values that will never be fixed, saying why")
    vd.add_argument("ids", nargs="+", type=int, help="ids from `quarantine values`")
    vd.add_argument("--why", required=True, help="the reason, kept with the value")
    vd.add_argument("--by", default=None, help="who decides (default: the login name)")


@command("quarantine.list")
def cmd_quarantine_list(args) -> int:
    from munihub.ingest.quarantine import list_quarantine
    print(table(list_quarantine(current_settings(), source=args.source, limit=args.n),
                ["id", "source", "record", "position", "status", "reasons"]))
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


@command("quarantine.values")
def cmd_values(args) -> int:
    from munihub.ingest.quarantine import count_set_aside, list_set_aside
    settings = current_settings()
    if args.count:
        print(table(count_set_aside(settings, source=args.source), ["source", "field", "rule", "open"]))
    else:
        print(table(list_set_aside(settings, source=args.source, field=args.field, limit=args.n),
                    ["id", "source", "record", "field", "rule", "value", "reason"]))
    return 0


@command("quarantine.replay-values")
def cmd_replay_values(args) -> int:
    from munihub.pipeline.replay import replay_set_aside
    print(json.dumps(replay_set_aside(current_settings(), args.source, args.ids or None, actor=getpass.getuser()),
                     ensure_ascii=False, indent=2))
    return 0


@command("quarantine.dismiss-values")
def cmd_dismiss_values(args) -> int:
    from munihub.ingest.quarantine import dismiss_set_aside
    n = dismiss_set_aside(current_settings(), args.ids, args.by or getpass.getuser(), args.why)
    print(f"dismissed {n} value(s)")
    return 0
