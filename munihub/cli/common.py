"""What every command group shares: the command registry, settings, tables, subgroups."""
from __future__ import annotations

import argparse
from collections.abc import Callable

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
