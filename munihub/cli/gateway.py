"""`munihub agencies|audit|serve`: who may call the gateway, the audit chain, and running it."""
from __future__ import annotations

import getpass
import sys

from munihub.cli.common import current_settings, command, subgroup, table


def _engine():
    from munihub.store import engine_for
    return engine_for(current_settings())


def add_commands(sub) -> None:
    ag = subgroup(sub, "agencies", "agencies that call the data-exchange gateway: add, grant, revoke, list")
    add = ag.add_parser("add", help="register an agency and print its token (shown once, only its hash is kept)")
    add.add_argument("agency", help="agency id: lower-case letters, digits, '_' or '-' (e.g. police)")
    add.add_argument("--name", help="display name (default: the id)")
    add.add_argument("--page-cap", type=int, help="most rows per page for this agency (default 500)")
    add.add_argument("--rate", type=int, metavar="PER_MINUTE", help="requests per minute (default 1200)")
    tok = ag.add_parser("token", help="issue another token for an agency (to rotate: issue, switch, revoke)")
    tok.add_argument("agency", help="agency id")
    gr = ag.add_parser("grant", help="grant fields of a dataset (agency.dataset, or entity:<type>); replaces "
                                     "an earlier grant of the same dataset")
    gr.add_argument("agency", help="agency id")
    gr.add_argument("dataset", help="dataset id (registry.citizens) or entity:<type> (entity:person)")
    gr.add_argument("--fields", default="*", help="comma-separated field names, or * (default); personal "
                                                  "fields come in clear only when named here")
    gr.add_argument("--push", action="store_true", help="also allow pushing deliveries to this dataset")
    rv = ag.add_parser("revoke", help="revoke a grant (with DATASET) or every token of the agency (without)")
    rv.add_argument("agency", help="agency id")
    rv.add_argument("dataset", nargs="?", help="dataset id or entity:<type>; omit to revoke all tokens")
    ag.add_parser("list", help="agencies with their live tokens and grants")
    for p in (add, tok, gr, rv):
        p.add_argument("--by", default=None, help="who makes the change, for the audit log (default: login name)")

    au = subgroup(sub, "audit", "the hash-chained audit log")
    au.add_parser("verify", help="walk the chain and report every edited, deleted or reordered entry (exit 1)")

    sv = sub.add_parser("serve", help="run the data-exchange gateway (HTTP API) and, under /workbench, "
                                      "the stewards' workbench, with uvicorn")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sv.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    sv.add_argument("--workers", type=int, default=1,
                    help="worker processes, one per core in production (default 1); rate limits are shared "
                         "only with MUNIHUB_GATEWAY_REDIS_URL set (see docs/gateway.md)")
    sv.add_argument("--access-log", action="store_true",
                    help="log every request through uvicorn too (off by default: the audit log already "
                         "records each one, and the log line costs every request CPU)")


def _by(args) -> str:
    return args.by or getpass.getuser()


@command("agencies.add")
def cmd_add(args) -> int:
    from munihub.gateway.grants import add_agency
    token = add_agency(_engine(), args.agency, args.name or args.agency, page_cap=args.page_cap,
                       rate_per_minute=args.rate, actor=_by(args))
    print(f"agency {args.agency} added; its token (shown only now, keep it secret):", file=sys.stderr)
    print(token)
    return 0


@command("agencies.token")
def cmd_token(args) -> int:
    from munihub.gateway.grants import issue_token
    print(f"new token for {args.agency} (shown only now):", file=sys.stderr)
    print(issue_token(_engine(), args.agency, actor=_by(args)))
    return 0


@command("agencies.grant")
def cmd_grant(args) -> int:
    from munihub.gateway.grants import grant
    g = grant(_engine(), args.agency, args.dataset, args.fields.split(","), can_push=args.push, actor=_by(args))
    print(f"{args.agency} may read {g.dataset}: {', '.join(g.fields)}" + (" (and push)" if g.can_push else ""))
    return 0


@command("agencies.revoke")
def cmd_revoke(args) -> int:
    from munihub.gateway.grants import revoke
    n = revoke(_engine(), args.agency, args.dataset, actor=_by(args))
    what = f"grant on {args.dataset}" if args.dataset else "token(s)"
    print(f"{args.agency}: {n} {what} revoked" if n else f"{args.agency}: no {what} to revoke")
    return 0


@command("agencies.list")
def cmd_list(args) -> int:
    from munihub.gateway.grants import list_agencies
    print(table(list_agencies(_engine()), ["agency_id", "name", "tokens", "page_cap", "rate_per_minute", "grants"]))
    return 0


@command("audit.verify")
def cmd_verify(args) -> int:
    from munihub.store.audit import head, verify
    engine = _engine()
    problems = verify(engine)
    for p in problems:
        print(p)
    last = head(engine)
    if problems:
        print(f"audit log: {len(problems)} problem(s) in {last['seq']} entries", file=sys.stderr)
        return 1
    print(f"audit log intact: {last['seq']} entries, head {last['hash']} "
          "(keep this hash elsewhere to detect a truncated tail)")
    return 0


# ---- issue 19: the stewards' workbench is served beside the gateway, in the same process.
# The two faces stay independent of each other; only the CLI (above both) puts them together.
def served_app():
    """The gateway at / and the workbench at /workbench, one ASGI app (a uvicorn factory)."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from munihub.gateway.api import create_app as gateway_app
    from munihub.workbench import create_app as workbench_app

    settings = current_settings()
    return Starlette(routes=[Mount("/workbench", app=workbench_app(settings, prefix="/workbench")),
                             Mount("", app=gateway_app(settings))])


@command("serve")
def cmd_serve(args) -> int:
    import uvicorn
    logs = {"access_log": bool(getattr(args, "access_log", False))}
    if args.workers > 1:  # rate limits are per worker process
        uvicorn.run("munihub.cli.gateway:served_app", factory=True, host=args.host, port=args.port,
                    workers=args.workers, **logs)
    else:
        uvicorn.run(served_app(), host=args.host, port=args.port, **logs)
    return 0
