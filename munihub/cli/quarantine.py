"""`munihub quarantine replay|dismiss`: stewards act on rejected records."""
from __future__ import annotations

import getpass
import json

from munihub.cli import _settings, command, subgroup


def add_commands(sub) -> None:
    grp = subgroup(sub, "quarantine", "rejected records and why")
    rp = grp.add_parser("replay", help="re-run open quarantined records after a contract or mapping fix")
    rp.add_argument("source", help="dataset id (agency.dataset)")
    rp.add_argument("ids", nargs="*", type=int, help="only these quarantine ids (default: every open one)")
    dp = grp.add_parser("dismiss", help="close quarantined records that will never be fixed, saying why")
    dp.add_argument("ids", nargs="+", type=int, help="quarantine ids")
    dp.add_argument("--why", required=True, help="the reason, kept with the record")
    dp.add_argument("--by", default=None, help="who decides (default: the login name)")


@command("quarantine.replay")
def cmd_replay(args) -> int:
    from munihub.quarantine import replay
    print(json.dumps(replay(_settings(), args.source, args.ids or None, actor=getpass.getuser()),
                     ensure_ascii=False, indent=2))
    return 0


@command("quarantine.dismiss")
def cmd_dismiss(args) -> int:
    from munihub.quarantine import dismiss
    n = dismiss(_settings(), args.ids, args.by or getpass.getuser(), args.why)
    print(f"dismissed {n} record(s)")
    return 0
