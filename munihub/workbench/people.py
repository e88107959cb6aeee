"""People who sign in to the workbench: users with a role, scrypt-hashed passwords, sessions.

A password is kept only as `scrypt$n$r$p$salt$hash` (stdlib `hashlib.scrypt`, a memory-hard
KDF); a session cookie only as its sha256, beside the CSRF token its form posts must carry.
Adding a user and every sign-in (failed ones too) go into the hash-chained audit log.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from munihub import store
from munihub.errors import AccessDenied, MunihubError
from munihub.store import audit

# steward: sees records, decides, fixes; viewer: sees records (names masked); manager: sees the
# indicator dashboards only, never a record, a quarantined payload or a person
ROLES = ("steward", "viewer", "manager")
USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{1,59}$")
SESSION_HOURS = 8
MIN_PASSWORD = 10
# scrypt cost: 2**14 x 8 x 1 takes ~16 MiB and ~50 ms; enough to make guessing expensive.
_N, _R, _P = 2 ** 14, 8, 1
# A hash of a password nobody has, checked when the user is unknown, so a wrong name and a
# wrong password take the same time.
_DUMMY = None


@dataclass(frozen=True)
class Person:
    """A signed-in person as the pages see them."""

    username: str
    display_name: str
    role: str
    csrf: str = ""

    @property
    def may_act(self) -> bool:
        """Stewards replay, dismiss and decide; viewers only look."""
        return self.role == "steward"

    @property
    def sees_records(self) -> bool:
        """Stewards and viewers open records and entities; managers see figures only."""
        return self.role in ("steward", "viewer")


def hash_password(password: str, *, n: int = _N, r: int = _R, p: int = _P) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                             maxmem=64 * 1024 * 1024, dklen=len(digest) // 2)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _aware(value) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def add_user(engine: sa.Engine, username: str, password: str, role: str, *, display_name: str | None = None,
             actor: str) -> dict[str, Any]:
    """Create a user (or replace the password and role of an existing one), audited."""
    if not USERNAME.match(username or ""):
        raise MunihubError(f"user name {username!r} is not usable", where="users add",
                           hint="2-60 lower-case letters, digits, '.', '_' or '-', starting with a letter")
    if role not in ROLES:
        raise MunihubError(f"unknown role {role!r}", where="users add", hint=f"use one of: {', '.join(ROLES)}")
    if len(password or "") < MIN_PASSWORD:
        raise MunihubError(f"the password is shorter than {MIN_PASSWORD} characters", where="users add",
                           hint="choose a longer passphrase")
    u = store.workbench_users
    row = {"display_name": display_name or username, "role": role, "password_hash": hash_password(password),
           "active": True}
    with engine.begin() as conn:
        exists = conn.execute(sa.select(u.c.username).where(u.c.username == username)).first()
        if exists:
            conn.execute(u.update().where(u.c.username == username).values(**row))
            conn.execute(store.workbench_sessions.delete().where(store.workbench_sessions.c.username == username))
        else:
            conn.execute(u.insert().values(username=username, created_at=_now(), **row))
        audit.append(conn, actor, "workbench.user.set" if exists else "workbench.user.add", username, "ok",
                     {"role": role})
    return {"username": username, "role": role, "display_name": row["display_name"], "replaced": bool(exists)}


def list_users(engine: sa.Engine) -> list[dict[str, Any]]:
    u, s = store.workbench_users, store.workbench_sessions
    with engine.connect() as conn:
        live = dict(conn.execute(sa.select(s.c.username, sa.func.count()).where(s.c.expires_at > _now())
                                 .group_by(s.c.username)).all())
        rows = conn.execute(sa.select(u.c.username, u.c.display_name, u.c.role, u.c.active, u.c.created_at)
                            .order_by(u.c.username)).mappings().all()
    return [{**dict(r), "sessions": live.get(r["username"], 0)} for r in rows]


def sign_in(engine: sa.Engine, username: str, password: str, *, client: str = "") -> tuple[str, Person]:
    """A new session token (for the cookie) and the person; AccessDenied, audited, if refused."""
    global _DUMMY
    u = store.workbench_users
    with engine.connect() as conn:
        row = conn.execute(sa.select(u).where(u.c.username == (username or "").strip())).mappings().first()
    if _DUMMY is None:
        _DUMMY = hash_password(secrets.token_hex(8))
    ok = check_password(password or "", row["password_hash"] if row else _DUMMY) and bool(row and row["active"])
    if not ok:
        with engine.begin() as conn:
            audit.append(conn, (username or "")[:100] or "anonymous", "workbench.signin", None, "denied",
                         {"client": client})
        raise AccessDenied("wrong user name or password", where="workbench sign-in")
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = _now()
    with engine.begin() as conn:
        conn.execute(store.workbench_sessions.delete().where(store.workbench_sessions.c.expires_at < now))
        conn.execute(store.workbench_sessions.insert().values(
            token_hash=hashlib.sha256(token.encode()).hexdigest(), username=row["username"], csrf=csrf,
            created_at=now, expires_at=now + dt.timedelta(hours=SESSION_HOURS)))
        audit.append(conn, row["username"], "workbench.signin", None, "ok", {"client": client})
    return token, Person(row["username"], row["display_name"], row["role"], csrf)


def person_of(engine: sa.Engine, token: str | None) -> Person | None:
    """The person a session cookie belongs to, or None (unknown, expired, or user disabled)."""
    if not token:
        return None
    s, u = store.workbench_sessions, store.workbench_users
    with engine.connect() as conn:
        row = conn.execute(sa.select(u.c.username, u.c.display_name, u.c.role, u.c.active, s.c.csrf, s.c.expires_at)
                           .join(u, u.c.username == s.c.username)
                           .where(s.c.token_hash == hashlib.sha256(token.encode()).hexdigest())).first()
    if row is None or not row.active or _aware(row.expires_at) <= _now():
        return None
    return Person(row.username, row.display_name, row.role, row.csrf)


def sign_out(engine: sa.Engine, token: str, person: Person) -> None:
    with engine.begin() as conn:
        conn.execute(store.workbench_sessions.delete().where(
            store.workbench_sessions.c.token_hash == hashlib.sha256(token.encode()).hexdigest()))
        audit.append(conn, person.username, "workbench.signout", None, "ok", {})


def same_token(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a posted CSRF token with the session's."""
    return bool(given) and bool(expected) and hmac.compare_digest(str(given), expected)


def require_steward(person: Person) -> None:
    if not person.may_act:
        raise AccessDenied(f"{person.username} is a viewer; only stewards may do this", where="workbench")
