"""`munihub backfill CONTRACT --start --end`: re-read one source for a date range and publish it."""
from __future__ import annotations

import json

from munihub.cli.common import current_settings, command


def add_commands(sub) -> None:
    bp = sub.add_parser("backfill", help="re-read one source for a date range [start, end) and publish it",
                        description="Re-read one source for [start, end) through stage, checks and publish; "
                                    "the source's cursor is not moved and a repeat publishes nothing new")
    bp.add_argument("contract", help="dataset id (agency.dataset) or contract file")
    bp.add_argument("--start", required=True, help="first day (YYYY-MM-DD) or ISO date-time, inclusive")
    bp.add_argument("--end", required=True, help="day or ISO date-time after the range, exclusive")


@command("backfill")
def cmd_backfill(args) -> int:
    from munihub.pipeline.backfill import backfill
    print(json.dumps(backfill(args.contract, args.start, args.end, current_settings()), ensure_ascii=False, indent=2))
    return 0
