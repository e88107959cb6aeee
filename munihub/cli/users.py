"""`munihub users add|list`: people who sign in to the stewards' workbench (thin over munihub.workbench)."""
from __future__ import annotations

import getpass
import os
import sys

from munihub.cli.common import command, current_settings, subgroup, table


def add_commands(sub) -> None:
    grp = subgroup(sub, "users", "people who sign in to the stewards' workbench (steward, viewer, manager)")
    add = grp.add_parser("add", help="add a user, or set a user's role and password again (ends their sessions)")
    add.add_argument("username", help="sign-in name: lower-case letters, digits, '.', '_' or '-'")
    add.add_argument("--role", choices=["steward", "viewer", "manager"], required=True,
                     help="steward: sees, replays, dismisses, decides; viewer: only sees (names masked); "
                          "manager: sees the indicator dashboards only, no record or person")
    add.add_argument("--name", help="name shown in the workbench (default: the user name)")
    add.add_argument("--password-env", metavar="VAR",
                     help="read the password from this environment variable instead of asking (for scripts)")
    add.add_argument("--by", default=None, help="who adds the user, for the audit log (default: login name)")
    grp.add_parser("list", help="users with their role and live sessions (never a password)")


@command("users.add")
def cmd_users_add(args) -> int:
    from munihub.errors import ConfigError
    from munihub.store import engine_for
    from munihub.workbench import add_user

    if args.password_env:
        password = os.environ.get(args.password_env)
        if not password:
            raise ConfigError(f"environment variable {args.password_env} is empty or not set",
                              where="users add", hint="export it, or leave out --password-env to be asked")
    else:
        password = getpass.getpass(f"password for {args.username}: ")
        if password != getpass.getpass("again: "):
            raise ConfigError("the two passwords differ", where="users add", hint="run the command again")
    result = add_user(engine_for(current_settings()), args.username, password, args.role,
                      display_name=args.name, actor=args.by or getpass.getuser())
    verb = "updated (their sessions ended)" if result["replaced"] else "added"
    print(f"user {result['username']} ({result['role']}) {verb}", file=sys.stderr)
    return 0


@command("users.list")
def cmd_users_list(args) -> int:
    from munihub.store import engine_for
    from munihub.workbench import list_users

    print(table(list_users(engine_for(current_settings())), ["username", "display_name", "role", "active", "sessions"]))
    return 0
