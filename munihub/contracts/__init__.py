"""Contracts: what each agency promised (ODCS v3), and the shared schemas they map to.

Load and check a contract with every problem at once (`load`), look one up by dataset id
(`lookup`), compare two versions (`diff`) and gate a git ref on breaking changes (`gate`),
write a new one (`template`), and read the shared JSON Schemas and Iranian formats
(`schemas`, `formats`).  Nothing here reads a source or writes the store.
"""
from __future__ import annotations

from munihub.contracts.load import (Contract, Field, check_contract, discover_contracts, expand_params, find_contract,
                                    lint_contract, load_all, load_contract, read_yaml, todo_markers)
from munihub.contracts.lookup import contract_for

__all__ = ["Contract", "Field", "load_contract", "load_all", "discover_contracts", "find_contract",
           "expand_params", "read_yaml", "todo_markers", "contract_for", "check_contract", "lint_contract"]
