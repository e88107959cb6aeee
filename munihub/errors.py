"""One root exception for the whole hub.

Every error says what failed, where (source, record, field, file:line) and what to do
about it; `retryable` tells the scheduler whether trying again can help (a 503 can, a
refused password cannot).  The CLI prints `str(err)` as one line, never a traceback.
"""
from __future__ import annotations


class MunihubError(Exception):
    """Root of every error the hub raises on purpose."""

    retryable = False

    def __init__(self, what: str, *, where: str | None = None, hint: str | None = None):
        self.what = what
        self.where = where
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        text = f"{self.where}: {self.what}" if self.where else self.what
        if self.hint:
            text += f" ({self.hint})"
        return text


class ConfigError(MunihubError):
    """Settings or environment are wrong; fix the configuration and re-run."""


class ContractError(MunihubError):
    """A data contract is invalid.  `problems` holds every problem found, not just the first."""

    def __init__(self, what: str, *, where: str | None = None, hint: str | None = None,
                 problems: list[str] | None = None):
        self.problems = list(problems or [])
        super().__init__(what, where=where, hint=hint)

    def __str__(self) -> str:
        head = super().__str__()
        if self.problems:
            return head + "\n" + "\n".join(f"  - {p}" for p in self.problems)
        return head


class SourceError(MunihubError):
    """Reading a subsystem failed.  Permanent unless a subclass says otherwise."""


class TransientSourceError(SourceError):
    """The source may answer if asked again later (timeouts, 429, 5xx, refused connections)."""

    retryable = True


class PermanentSourceError(SourceError):
    """Asking again will not help (bad credentials, 404, malformed data, forbidden address)."""


class SecurityError(PermanentSourceError):
    """A request or path was refused because it would leave the allowed area (SSRF, traversal)."""


class QualityGateError(MunihubError):
    """A load failed an error-severity dataset check and was held; the store is unchanged."""


class ConcurrentRunError(MunihubError):
    """Another run of the same source is publishing, or already published this interval."""


class StoreError(MunihubError):
    """The consolidated store could not be read or written."""


class AccessDenied(MunihubError):
    """The gateway refused a request (no grant, bad token)."""
