"""Who may read what: agencies, their hashed tokens, grants per dataset and field, and masking.

Deny by default: an agency sees a dataset only through a grant row, and a field only if
the grant lists it (or `*`).  Personal fields are returned in clear only when the grant
names them explicitly; under `*` they are pseudonymized with a keyed hash (HMAC-SHA256,
key from `MUNIHUB_PSEUDONYM_KEY`, per agency so two agencies cannot join their copies), or
masked when no key is configured.  Every grant change is audited in the same transaction.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import os
import re
import secrets
from typing import Any

import sqlalchemy as sa

from munihub.store import audit
from munihub import store
from munihub.errors import AccessDenied, ConfigError, MunihubError
from munihub.masking import mask_value
from munihub.gateway.pages import pseudonym_column

# Golden-record fields that are personal whatever the contracts say.
ENTITY_PERSONAL = frozenset({"national_id", "mobile", "address", "birth_date", "postal_code", "phone", "email"})
AGENCY_ID = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,99}$")
FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
PSEUDONYM_ENV = "MUNIHUB_PSEUDONYM_KEY"


@dataclasses.dataclass(frozen=True)
class Agency:
    agency_id: str
    name: str
    page_cap: int | None
    rate_per_minute: int | None


@dataclasses.dataclass(frozen=True)
class Grant:
    dataset: str
    fields: tuple[str, ...]
    can_push: bool = False


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# Bumped by every agency, token or grant change made in this process, so a gateway in the
# same process drops its cached access at once; other processes wait out their cache bound.
_changes = [0]


def changes() -> int:
    """How many access changes this process has made (a cache filled before the last is stale)."""
    return _changes[0]


def _changed() -> None:
    _changes[0] += 1


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- administration

def add_agency(engine: sa.Engine, agency_id: str, name: str, *, page_cap: int | None = None,
               rate_per_minute: int | None = None, actor: str = "admin") -> str:
    """Register an agency and return its first token (shown once; only its hash is kept)."""
    if not AGENCY_ID.match(agency_id or ""):
        raise ConfigError(f"agency id {agency_id!r} refused",
                          hint="use lower-case letters, digits, '_' and '-', at most 100")
    with engine.begin() as conn:
        if conn.execute(sa.select(store.agencies.c.agency_id)
                        .where(store.agencies.c.agency_id == agency_id)).first():
            raise MunihubError(f"agency {agency_id} already exists",
                               hint="use `munihub agencies token` for a new token")
        conn.execute(store.agencies.insert().values(agency_id=agency_id, name=name, page_cap=page_cap,
                                                    rate_per_minute=rate_per_minute, created_at=utc_now()))
        token = _issue(conn, agency_id)
        audit.append(conn, actor, "agency.add", agency_id, "ok",
                     {"name": name, "page_cap": page_cap, "rate_per_minute": rate_per_minute})
    _changed()
    return token


def issue_token(engine: sa.Engine, agency_id: str, *, actor: str = "admin") -> str:
    """A new token for an existing agency (its other tokens stay valid until revoked)."""
    with engine.begin() as conn:
        _require_agency(conn, agency_id)
        token = _issue(conn, agency_id)
        audit.append(conn, actor, "token.issue", agency_id, "ok", {"token_hash": hash_token(token)[:12]})
    _changed()
    return token


def _issue(conn: sa.Connection, agency_id: str) -> str:
    token = secrets.token_urlsafe(32)
    conn.execute(store.agency_tokens.insert().values(token_hash=hash_token(token), agency_id=agency_id,
                                                     created_at=utc_now()))
    return token


def _require_agency(conn: sa.Connection, agency_id: str) -> None:
    if not conn.execute(sa.select(store.agencies.c.agency_id)
                        .where(store.agencies.c.agency_id == agency_id)).first():
        raise MunihubError(f"no agency {agency_id!r}", hint="see `munihub agencies list`")


def grant(engine: sa.Engine, agency_id: str, dataset: str, fields: list[str], *, can_push: bool = False,
          actor: str = "admin") -> Grant:
    """Grant (or replace the grant of) `fields` of `dataset` to an agency."""
    fields = [f.strip() for f in fields if f.strip()] or ["*"]
    bad = [f for f in fields if f != "*" and not FIELD_NAME.match(f)]
    if bad:
        raise ConfigError(f"field names {bad} refused", hint="use shared-schema names like national_id or address.city")
    t = store.grants
    with engine.begin() as conn:
        _require_agency(conn, agency_id)
        conn.execute(t.delete().where(t.c.agency_id == agency_id, t.c.dataset == dataset))
        conn.execute(t.insert().values(agency_id=agency_id, dataset=dataset, fields=fields, can_push=can_push,
                                       granted_by=actor, granted_at=utc_now()))
        audit.append(conn, actor, "grant", f"{agency_id}:{dataset}", "ok", {"fields": fields, "push": can_push})
    _changed()
    return Grant(dataset, tuple(fields), can_push)


def revoke(engine: sa.Engine, agency_id: str, dataset: str | None = None, *, actor: str = "admin") -> int:
    """Revoke one grant, or (no dataset) every token of the agency; returns how many went."""
    with engine.begin() as conn:
        _require_agency(conn, agency_id)
        if dataset:
            t = store.grants
            n = conn.execute(t.delete().where(t.c.agency_id == agency_id, t.c.dataset == dataset)).rowcount
            audit.append(conn, actor, "revoke", f"{agency_id}:{dataset}", "ok" if n else "absent", {})
        else:
            t = store.agency_tokens
            n = conn.execute(t.update().where(t.c.agency_id == agency_id, t.c.revoked_at.is_(None))
                             .values(revoked_at=utc_now())).rowcount
            audit.append(conn, actor, "token.revoke", agency_id, "ok", {"tokens": n})
    _changed()
    return n


def list_agencies(engine: sa.Engine) -> list[dict[str, Any]]:
    """Every agency with its live token count and grants, for `agencies list`."""
    a, tk, g = store.agencies, store.agency_tokens, store.grants
    with engine.connect() as conn:
        live = dict(conn.execute(sa.select(tk.c.agency_id, sa.func.count()).where(tk.c.revoked_at.is_(None))
                                 .group_by(tk.c.agency_id)).all())
        grants_by: dict[str, list[str]] = {}
        for row in conn.execute(sa.select(g).order_by(g.c.agency_id, g.c.dataset)).mappings():
            push = " +push" if row["can_push"] else ""
            grants_by.setdefault(row["agency_id"], []).append(f"{row['dataset']}[{','.join(row['fields'])}]{push}")
        return [{**dict(r), "tokens": live.get(r["agency_id"], 0), "grants": " ".join(grants_by.get(r["agency_id"], []))}
                for r in conn.execute(sa.select(a).order_by(a.c.agency_id)).mappings()]


# ---------------------------------------------------------------- request time

def authenticate(conn: sa.Connection, token: str | None) -> Agency:
    """The agency owning a live token; AccessDenied if it is missing, unknown or revoked."""
    if not token:
        raise AccessDenied("no bearer token", hint="send Authorization: Bearer <token>")
    a, tk = store.agencies, store.agency_tokens
    row = conn.execute(sa.select(a.c.agency_id, a.c.name, a.c.page_cap, a.c.rate_per_minute)
                       .join(tk, tk.c.agency_id == a.c.agency_id)
                       .where(tk.c.token_hash == hash_token(token), tk.c.revoked_at.is_(None))).first()
    if row is None:
        raise AccessDenied("unknown or revoked token", hint="ask the hub's operators for a token")
    return Agency(*row)


def authorize(conn: sa.Connection, token: str | None) -> tuple[Agency, dict[str, Grant]]:
    """The agency owning a live token and its grants, in one statement; AccessDenied if none.

    The row is found by the token's hash (an index lookup), then that hash is compared again
    in constant time, so no answer depends on how much of a guessed hash matched.
    """
    if not token:
        raise AccessDenied("no bearer token", hint="send Authorization: Bearer <token>")
    a, tk, g = store.agencies, store.agency_tokens, store.grants
    digest = hash_token(token)
    rows = conn.execute(sa.select(a.c.agency_id, a.c.name, a.c.page_cap, a.c.rate_per_minute, tk.c.token_hash,
                                  g.c.dataset, g.c.fields, g.c.can_push)
                        .join(tk, tk.c.agency_id == a.c.agency_id)
                        .outerjoin(g, g.c.agency_id == a.c.agency_id)
                        .where(tk.c.token_hash == digest, tk.c.revoked_at.is_(None))).all()
    if not rows or not hmac.compare_digest(rows[0].token_hash, digest):
        raise AccessDenied("unknown or revoked token", hint="ask the hub's operators for a token")
    return (Agency(*rows[0][:4]),
            {r.dataset: Grant(r.dataset, tuple(r.fields), bool(r.can_push)) for r in rows if r.dataset is not None})


def grants_of(conn: sa.Connection, agency_id: str) -> dict[str, Grant]:
    g = store.grants
    rows = conn.execute(sa.select(g.c.dataset, g.c.fields, g.c.can_push).where(g.c.agency_id == agency_id))
    return {r.dataset: Grant(r.dataset, tuple(r.fields), bool(r.can_push)) for r in rows}


# ---------------------------------------------------------------- field projection

def _covers(names: tuple[str, ...] | list[str], path: str) -> bool:
    """True if `path` or one of its parents (address covers address.city) is named."""
    return any(path == n or path.startswith(n + ".") for n in names)


def pseudonym(value: Any, *, agency_id: str, field: str, key: bytes | None) -> str:
    """A stable stand-in: HMAC(key, agency|field|value); masked digits when there is no key."""
    if key is None:
        return mask_value(value)
    return "ps_" + hmac.digest(key, f"{agency_id}|{field}|{value}".encode("utf-8"), "sha256")[:16].hex()


def pseudonymizer(key: bytes | None, agency_id: str, field: str):
    """`value -> pseudonym(value, agency_id=..., field=..., key=...)` for one column, several times
    faster: a value at a time through `munihub.gateway.pages.pseudonym_column` (keyed pads hashed
    once, recent values remembered)."""
    if key is None:
        return mask_value
    column = pseudonym_column(key, agency_id, field)
    return lambda value: column((value,))[0]


def pseudonym_key(env: dict[str, str] | None = None) -> bytes | None:
    raw = (os.environ if env is None else env).get(PSEUDONYM_ENV)
    return raw.encode("utf-8") if raw else None


@dataclasses.dataclass(frozen=True)
class View:
    """How one agency sees one dataset: which fields, which in clear, which pseudonymized."""

    agency_id: str
    grant: Grant
    is_personal: Any            # path -> bool
    key: bytes | None
    wanted: tuple[str, ...] = ()  # the caller's ?fields= narrowing, already checked

    def visible(self, path: str) -> bool:
        return "*" in self.grant.fields or _covers(self.grant.fields, path) or \
            any(n.startswith(path + ".") for n in self.grant.fields)

    def clear(self, path: str) -> bool:
        """Visible in clear: not personal, or personal and named explicitly in the grant."""
        return not self.is_personal(path) or _covers(self.grant.fields, path)

    def check_fields(self, names: list[str]) -> None:
        for name in names:
            if not FIELD_NAME.match(name):
                raise ValueError(f"field name {name!r} is not a field path")
            if not self.visible(name):
                raise AccessDenied(f"field {name} of {self.grant.dataset} is not granted to {self.agency_id}")

    def check_filter(self, name: str) -> None:
        """Filtering on a pseudonymized field would reveal it: it needs an explicit grant."""
        self.check_fields([name])
        if not self.clear(name):
            raise AccessDenied(f"filtering on personal field {name} of {self.grant.dataset} needs an "
                               "explicit grant of that field")

    def project(self, record: Any) -> Any:
        """A copy of `record` with only granted fields; personal ones pseudonymized unless granted."""
        return projector(self)(record)

    def decide(self, path: str) -> str:
        """What happens to the field at `path`: drop, clear, pseudonym (nested objects: nest)."""
        if not self.visible(path) or (self.wanted and not (_covers(self.wanted, path) or
                                                           any(w.startswith(path + ".") for w in self.wanted))):
            return "drop"
        return "clear" if self.clear(path) else "pseudonym"


def projector(view: View):
    """`record -> projected record` for one view, deciding each field path once (per column,
    not per value): a page of rows with the same fields pays the grant checks once."""
    plans: dict[str, dict[str, Any]] = {}  # prefix -> name -> "drop", "clear" or a pseudonymizer

    def project(record: Any, prefix: str = "") -> Any:
        if not isinstance(record, dict):
            return record
        plan = plans.get(prefix)
        if plan is None:
            plan = plans[prefix] = {}
        out: dict[str, Any] = {}
        for name, value in record.items():
            what = plan.get(name)
            if what is None:
                what = view.decide(prefix + name)
                if what == "pseudonym":
                    what = pseudonymizer(view.key, view.agency_id, prefix + name)
                plan[name] = what
            if what == "drop":
                continue
            if isinstance(value, dict):
                inner = project(value, prefix + name + ".")
                if inner:
                    out[name] = inner
            elif value is None or what == "clear":
                out[name] = value
            else:
                out[name] = what(value)
        return out
    return project


def contract_personal(contract) -> Any:
    """path -> personal, from a contract's field classifications (a parent counts if any child does)."""
    personal = {f.name for f in contract.fields if f.personal}
    return lambda path: _covers(tuple(personal), path) or any(p.startswith(path + ".") for p in personal)


def entity_personal(path: str) -> bool:
    return path.split(".", 1)[0] in ENTITY_PERSONAL


def everything_personal(path: str) -> bool:
    """Used when a dataset has no readable contract: nothing is shown in clear unless granted."""
    return True
