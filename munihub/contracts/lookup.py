"""A contract by dataset id or file, parsed and checked once per content within a process."""
from __future__ import annotations

import functools
import hashlib

from munihub.config import Settings, load_settings
from munihub.contracts.load import Contract, find_contract, load_contract


def contract_for(ref: str, settings: Settings | None = None) -> Contract:
    """The contract `ref` names (dataset id or file), parsed and checked once per content.

    Every stage of a load reads its contract; parsing and checking one costs ~6 ms, so a
    process keeps the result by the file's bytes: an edited contract is read afresh.
    """
    settings = settings or load_settings()
    path = find_contract(ref, settings.contracts_dir)
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return load_contract(path, schemas_dir=settings.schemas_dir)  # let it report the problem
    return _parsed_contract(str(path), digest, settings.schemas_dir)


@functools.lru_cache(maxsize=256)
def _parsed_contract(path: str, digest: str, schemas_dir) -> Contract:
    return load_contract(path, schemas_dir=schemas_dir)
