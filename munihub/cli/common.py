"""What every command group shares: the command registry, settings, output formats, subgroups."""
from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from collections.abc import Callable

COMMANDS: dict[str, Callable] = {}
FORMATS = ("table", "json", "csv")


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


def add_format(parser: argparse.ArgumentParser) -> None:
    """`--format table|json|csv`, as sqlite-utils does: a table for people, JSON or CSV for scripts."""
    parser.add_argument("--format", choices=FORMATS, default="table",
                        help="output: an aligned table (default), JSON (every field) or CSV (the table's columns)")


def render(rows: list[dict], columns: list[str], fmt: str = "table") -> str:
    """Rows in one of FORMATS: JSON keeps every field, the table and CSV show `columns`."""
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2, default=str)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue().rstrip("\n")
    return table(rows, columns)


def summary(text: str) -> None:
    """The closing one-line summary, on stderr: stdout stays the data, parseable as JSON or CSV."""
    print(f"munihub: {text}", file=sys.stderr, flush=True)


class Progress:
    """Rows read, rate and elapsed time on stderr, at most once a second (long syncs only show it).

    Time left is shown only when the total is known; a source's row count is not known ahead."""

    def __init__(self, what: str, total: int | None = None, every: float = 1.0, stream=None):
        self.what, self.total, self.every = what, total, every
        self.stream = stream or sys.stderr
        self.started = self.shown = time.monotonic()

    def __call__(self, done: int, quarantined: int = 0) -> None:
        now = time.monotonic()
        if now - self.shown < self.every:
            return
        self.shown = now
        elapsed = now - self.started
        rate = done / elapsed if elapsed else 0.0
        left = f", about {(self.total - done) / rate:.0f} s left" if self.total and rate else ""
        print(f"munihub: {self.what}: {done:,} rows read ({quarantined:,} quarantined), "
              f"{rate:,.0f} rows/s, {elapsed:.0f} s{left}", file=self.stream, flush=True)


def current_settings():
    """The settings from the environment, checked (every problem at once)."""
    from munihub.config import load_settings
    return load_settings()


def subgroup(sub, name: str, help: str):
    """The subcommand group `name` (e.g. `contracts`), created if no module made it yet."""
    parser = sub.choices.get(name) or sub.add_parser(name, help=help)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(dest="sub", metavar="SUB")
