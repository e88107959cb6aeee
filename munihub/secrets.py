"""Secrets for a source: only from the environment (or an Airflow connection exported into it).

A contract names environment variables under `secrets`; their values never pass through
YAML, logs, reports or the audit log.  `redact` scrubs known secret values out of any text
before it is shown or stored.
"""
from __future__ import annotations

import base64
import logging
import os
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from munihub.errors import ConfigError

if TYPE_CHECKING:  # a type only: secrets sit below contracts and must not import them
    from munihub.contracts import Contract

_KNOWN: set[str] = set()  # every secret value resolved in this process, for redaction


def resolve_secrets(contract: Contract, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Param name -> secret value for `contract`; a ConfigError listing every unset variable."""
    env = os.environ if env is None else env
    missing = [var for var in contract.secrets.values() if not env.get(var)]
    if missing:
        raise ConfigError(f"secret environment variable(s) not set: {', '.join(sorted(missing))}",
                          where=contract.id,
                          hint="export them, or set them from an Airflow connection")
    values = {param: env[var] for param, var in contract.secrets.items()}
    _KNOWN.update(v for v in values.values() if len(v) >= 4)
    return values


def _forms(secret: str) -> Iterable[str]:
    yield secret
    yield urllib.parse.quote(secret, safe="")
    yield urllib.parse.quote_plus(secret)
    yield base64.b64encode(secret.encode()).decode()


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """`text` with every known secret (raw, URL-encoded, base64) replaced by ***."""
    for secret in sorted(set(_KNOWN) | set(extra), key=len, reverse=True):
        for form in _forms(secret):
            if form and form in text:
                text = text.replace(form, "***")
    return text


class RedactingFilter(logging.Filter):
    """Scrubs known secrets from records of a logger we do not control (e.g. urllib3's request
    lines at DEBUG, which carry query strings and so any API key sent as a query parameter)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = redact(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, ()
        return True


def redact_logger(name: str) -> None:
    """Attach the redacting filter to logger `name` once."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
