"""Authentication for HTTP connectors, and keeping secrets out of every message.

`auth` params say *how* (bearer, basic, api_key, oauth2 client credentials); the values
come only from the connector's secrets (`token`, `username`, `password`, `api_key`,
`client_id`, `client_secret`).  `Redactor` replaces every secret value, and any query
parameter whose name looks like a credential, before a URL or text reaches a message.
"""
from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from munihub.errors import ConfigError, PermanentSourceError

AUTH_TYPES = ("none", "bearer", "basic", "api_key", "oauth2")
_QUERY_PAIR = re.compile(r"([?&;]([A-Za-z0-9_.\-]+)=)([^&\s'\")]+)")
_CREDENTIAL_NAMES = re.compile(r"(key|token|secret|password|passwd|signature|sig|auth)", re.I)


class Redactor:
    """Replaces secret values and credential-looking query values with `***`."""

    def __init__(self, secrets: Mapping[str, str], extra_params: tuple[str, ...] = ()):
        self._values = sorted({str(v) for v in secrets.values() if v and len(str(v)) >= 3},
                              key=len, reverse=True)
        self._params = {p.lower() for p in extra_params if p}

    def add(self, value: str | None) -> None:
        """Also hide `value` from now on (an OAuth2 access token fetched at run time)."""
        if value and len(value) >= 3 and value not in self._values:
            self._values.append(value)
            self._values.sort(key=len, reverse=True)

    def url(self, url: str) -> str:
        parts = urlsplit(url)
        query = [(k, "***" if self._hides(k) else v)
                 for k, v in parse_qsl(parts.query, keep_blank_values=True)]
        netloc = parts.netloc.rsplit("@", 1)[-1]
        clean = urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, safe="*"), ""))
        return self.text(clean)

    def text(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, "***")
        # URLs inside library messages ("...with url: /x?access_token=...") hide query secrets too.
        return _QUERY_PAIR.sub(lambda m: m.group(1) + "***" if self._hides(m.group(2)) else m.group(0), text)

    def _hides(self, name: str) -> bool:
        return name.lower() in self._params or bool(_CREDENTIAL_NAMES.search(name))


def auth_param_names(auth: Mapping[str, Any]) -> tuple[str, ...]:
    """Query parameter names that carry a credential under this auth config."""
    if auth.get("type") == "api_key" and auth.get("query_param"):
        return (str(auth["query_param"]),)
    return ()


def validate_auth(auth: Mapping[str, Any], secrets: Mapping[str, str], source: str) -> None:
    """Raise ConfigError listing every missing piece, before any request is made."""
    kind = auth.get("type", "none")
    needs = {"none": [], "bearer": ["token"], "basic": ["username", "password"],
             "api_key": ["api_key"], "oauth2": ["client_id", "client_secret"]}
    if kind not in needs:
        raise ConfigError(f"unknown auth type {kind!r}", where=f"source {source}",
                          hint=f"use one of {', '.join(AUTH_TYPES)}")
    missing = [name for name in needs[kind] if not secrets.get(name)]
    if kind == "oauth2" and not auth.get("token_url"):
        missing.append("auth.token_url (param)")
    if missing:
        raise ConfigError(f"auth type {kind!r} needs {', '.join(missing)}", where=f"source {source}",
                          hint="map each secret to an environment variable in the contract's `secrets`")


class Authenticator:
    """Adds credentials to one request's headers and query; fetches OAuth2 tokens lazily."""

    def __init__(self, auth: Mapping[str, Any], secrets: Mapping[str, str], redactor: Redactor,
                 fetch_token: Callable[[str, dict[str, str]], dict[str, Any]]):
        self.auth = dict(auth)
        self.secrets = secrets
        self.redactor = redactor
        self._fetch_token = fetch_token  # (token_url, form) -> parsed JSON body
        self._access_token: str | None = None

    def apply(self, headers: dict[str, str], query: dict[str, str]) -> None:
        kind = self.auth.get("type", "none")
        if kind == "bearer":
            headers["Authorization"] = f"Bearer {self.secrets['token']}"
        elif kind == "basic":
            pair = f"{self.secrets['username']}:{self.secrets['password']}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        elif kind == "api_key":
            if self.auth.get("query_param"):
                query[str(self.auth["query_param"])] = self.secrets["api_key"]
            else:
                headers[str(self.auth.get("header") or "X-API-Key")] = self.secrets["api_key"]
        elif kind == "oauth2":
            headers["Authorization"] = f"Bearer {self._token()}"

    def expire(self) -> bool:
        """Forget a cached OAuth2 token after a 401; True if a fresh one is worth a retry."""
        if self.auth.get("type") == "oauth2" and self._access_token:
            self._access_token = None
            return True
        return False

    def _token(self) -> str:
        if self._access_token is None:
            form = {"grant_type": "client_credentials", "client_id": self.secrets["client_id"],
                    "client_secret": self.secrets["client_secret"]}
            if self.auth.get("scope"):
                form["scope"] = str(self.auth["scope"])
            body = self._fetch_token(str(self.auth["token_url"]), form)
            token = body.get("access_token") if isinstance(body, dict) else None
            if not token:
                raise PermanentSourceError(
                    f"OAuth2 token endpoint {self.redactor.url(str(self.auth['token_url']))} "
                    "answered without an access_token", hint="check client_id/client_secret and token_url")
            self._access_token = str(token)
            self.redactor.add(self._access_token)
        return self._access_token
