"""Extract: read a source's batches since its cursor through the contract's connector.

Any exception a connector lets escape is turned into a SourceError that names the source,
so one misbehaving subsystem never produces an anonymous traceback.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from munihub.ingest.connector import Batch, Connector, open_connector
from munihub.contracts import Contract, expand_params
from munihub.errors import MunihubError, SourceError, TransientSourceError
from munihub.secrets import redact, resolve_secrets


def connect(contract: Contract, *, batch_size: int | None = None) -> Connector:
    """The connector for `contract`, with ${VAR} params filled in and secrets from the environment."""
    params = expand_params(contract)
    if batch_size and "batch_size" not in params:
        params["batch_size"] = batch_size
    return open_connector(contract.connector, params, source=contract.id,
                          secrets=resolve_secrets(contract))


def read_batches(conn: Connector, cursor: dict[str, Any] | None) -> Iterator[Batch]:
    """The connector's batches, with unexpected failures classified and named by source."""
    try:
        yield from conn.read_batches(cursor)
    except MunihubError:
        raise
    except (ConnectionError, TimeoutError) as exc:
        raise TransientSourceError(redact(f"{exc.__class__.__name__}: {exc}"), where=conn.source,
                                   hint="the source may be down; the run will be retried") from exc
    except Exception as exc:  # noqa: BLE001 - a plugin's bug must still name its source
        raise SourceError(redact(f"connector {conn.kind!r} failed: {exc.__class__.__name__}: {exc}"),
                          where=conn.source, hint="this is a bug in the connector or a source it cannot read") from exc
