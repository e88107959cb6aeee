"""SSRF guard: refuse URLs that would make the hub reach into its own network.

A connector's URL comes from a contract anyone may propose, so before every request (and
every redirect hop) the host is resolved and loopback, private, link-local (cloud metadata
at 169.254.169.254), unspecified, multicast and reserved addresses are refused, as are
numeric host spellings (`2130706433`, `0x7f000001`, `0177.0.0.1`) that hide them.  Hosts
named in `allow_hosts` or `MUNIHUB_ALLOW_HOSTS` are let through (tests, the demo, an
intranet service a steward vouches for).  Known gap: a DNS answer may change between this
check and the connection (rebinding); pin hosts with `allow_hosts` where that matters.
"""
from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from munihub.errors import SecurityError

ALLOWED_SCHEMES = ("http", "https")
ENV_ALLOW_HOSTS = "MUNIHUB_ALLOW_HOSTS"

# A host made only of digits, hex and dots is an IP literal in *some* spelling; only the
# canonical dotted-quad is accepted, because resolvers disagree on the others.
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*\.?$", re.I)


def allowed_hosts(extra: Iterable[str] | None = None) -> set[str]:
    """The host names let through: the `allow_hosts` param plus `MUNIHUB_ALLOW_HOSTS`."""
    hosts = {h.strip().lower() for h in (extra or []) if h and h.strip()}
    env = os.environ.get(ENV_ALLOW_HOSTS, "")
    hosts |= {h.strip().lower() for h in env.split(",") if h.strip()}
    return hosts


def check_url(url: str, *, allow_hosts: Iterable[str] | None = None, source: str = "?") -> str:
    """Return `url` if the hub may fetch it; raise SecurityError naming the reason otherwise."""
    where = f"source {source}"
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise SecurityError(f"malformed URL {redact_userinfo(url)!r}: {exc}", where=where) from exc
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise SecurityError(f"URL scheme {scheme or '(none)'!r} refused in {redact_userinfo(url)!r}",
                            where=where, hint="only http and https may be fetched")
    if not host:
        raise SecurityError(f"URL {redact_userinfo(url)!r} has no host", where=where)
    if host in allowed_hosts(allow_hosts):
        return url
    _refuse_odd_numeric(host, url, where)
    for address in _resolve(host, parts.port or (443 if scheme == "https" else 80), where):
        reason = forbidden_reason(address)
        if reason:
            raise SecurityError(
                f"host {host!r} resolves to {reason} address {address}, refused",
                where=where,
                hint=f"if this service is trusted, add {host!r} to allow_hosts or {ENV_ALLOW_HOSTS}")
    return url


def forbidden_reason(address: str) -> str | None:
    """Why an IP address may not be fetched ('loopback', 'private', …), or None if it may."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for reason in ("loopback", "link_local", "private", "unspecified", "multicast", "reserved"):
        if getattr(ip, f"is_{reason}"):
            return reason.replace("_", "-")
    return None


def redact_userinfo(url: str) -> str:
    """`url` without a `user:password@` part, for messages."""
    return re.sub(r"//[^/@]*@", "//***@", url, count=1)


def _refuse_odd_numeric(host: str, url: str, where: str) -> None:
    if host.startswith("[") or ":" in host:
        return  # IPv6 literal: checked by address below
    if not _NUMERIC_HOST.match(host):
        return
    try:
        canonical = str(ipaddress.IPv4Address(host))
    except ValueError:
        canonical = None
    if canonical != host:
        raise SecurityError(f"numeric host {host!r} in {redact_userinfo(url)!r} refused",
                            where=where, hint="write IP addresses as a dotted quad, or use a host name")


def _resolve(host: str, port: int, where: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        # Not a security problem: let the request fail as a normal connection error.
        from munihub.errors import TransientSourceError
        raise TransientSourceError(f"cannot resolve host {host!r}: {exc}", where=where,
                                   hint="check the URL and DNS; the run will be retried") from exc
    return sorted({info[4][0] for info in infos})
