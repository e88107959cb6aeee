"""Agency data contracts (Open Data Contract Standard v3): load, check, compile to plain data.

A contract file is checked in two layers, said apart: valid ODCS v3.x (the standard's own
JSON Schema, `munihub.contracts.odcs`) and runnable by munihub (server and connector, shared
schema, key, transforms: `munihub.contracts.runnable`).  Every problem is collected and
reported at once, each at file:line of the offending key.  YAML is parsed with the safe loader only: tags such as `!!python/object` are
refused, never executed.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import re
from pathlib import Path
from typing import Any, Mapping

import yaml

from munihub.config import REPO_ROOT
from munihub.contracts.odcs import Problem, odcs_problems, schema_version, standard_version
from munihub.contracts.schemas import field_defaults, fitted
from munihub.contracts.runnable import (FRESHNESS_UNITS, custom, first_object, record_id_fields, runnable_problems,
                                       server_parts, todo_paths)
from munihub.errors import ConfigError, ContractError

ODCS_LABEL = "ODCS"

# The safe loaders refuse tags such as !!python/object: nothing in a contract is ever executed.
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
ENV_REF = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")


@dataclasses.dataclass(frozen=True)
class Field:
    """One property: where it comes from in the source and where it goes in the shared schema."""

    name: str                       # shared-schema field, dots for nesting (address.city)
    source: str | None              # source field (physicalName), dots for nested JSON
    transform: str | None = None    # transform name from munihub.ingest.mapping
    required: bool = False
    primary_key: bool = False
    key_position: int = -1
    classification: str = "internal"
    logical_type: str | None = None
    quality: tuple[dict, ...] = ()
    sources: tuple[str, ...] = ()   # transformSourceObjects: several source fields joined
    value_map: tuple[tuple[str, Any], ...] = ()  # source code -> shared-schema code (customProperties.valueMap)
    essential: bool = False         # customProperties.essential: a bad value quarantines the record
    # Whether the value is part of the published row's key: a primaryKey field when the contract
    # names no recordId.  With a recordId the primaryKey is the shared natural key (a national
    # id): its value does not identify the record, so a mistyped one is set aside like any other.
    keys_record: bool = True

    @property
    def personal(self) -> bool:
        return self.classification in {"personal", "restricted", "confidential"}

    @property
    def must_read(self) -> bool:
        """Whether a value this field cannot read sends the whole record to quarantine; any
        other field's bad value is set aside and the record published without it.  A key field
        with a reader is not one: a national id keying a registry's rows that fails its check
        digit still names its row, which is published keyed by the id as written
        (`mapping.source_key`) with the id set aside for a steward and for matching."""
        return self.essential or self.required or (self.primary_key and self.keys_record and not self.transform)


@dataclasses.dataclass(frozen=True)
class Contract:
    """A loaded, checked contract as plain data; `raw` keeps the document as written."""

    path: Path
    id: str                          # dataset id: <agency>.<dataset>
    agency: str
    dataset: str
    name: str
    version: str
    status: str
    entity_type: str                 # shared schema name
    connector: str                   # connector kind
    params: dict[str, Any]           # non-secret connector params, ${VAR} not yet expanded
    secrets: dict[str, str]          # param name -> environment variable name
    airflow_connection: str | None
    fields: tuple[Field, ...]
    quality: tuple[dict, ...]        # dataset-level rules
    freshness_seconds: int | None
    schedule: str | None
    retries: int
    retry_delay_seconds: int
    timeout_seconds: int
    pool: str
    owner: str
    domain: str
    description: str
    raw: dict = dataclasses.field(repr=False, compare=False, default_factory=dict)
    # The source's own record id (schema customProperties.recordId): source fields, dots for
    # nested JSON.  Published rows are keyed by it, so two records sharing a national id never
    # replace each other; empty means the primaryKey fields serve as the record id.
    record_id: tuple[str, ...] = ()

    @property
    def key(self) -> list[str]:
        keyed = [f for f in self.fields if f.primary_key]
        return [f.name for f in sorted(keyed, key=lambda f: f.key_position)]

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


# ---------------------------------------------------------------- YAML with line numbers

MAX_DEPTH = 64  # a contract is a handful of levels deep; deeper is an attack or an accident


class _UnsafeYaml(ValueError):
    """A YAML construct contracts never need and attackers do (aliases, extreme nesting)."""


def _line_map(root: yaml.Node) -> dict[tuple, int]:
    """JSON path -> 1-based line, so every problem can say file:line.

    Walks the node tree once, iteratively.  A node reached twice is a YAML alias: contracts
    have no use for them and a few nested ones expand exponentially ("billion laughs"), so
    they are refused here, before anything walks the data.
    """
    out: dict[tuple, int] = {}
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, tuple]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if id(node) in seen:
            raise _UnsafeYaml(f"line {node.start_mark.line + 1}: YAML aliases (*name) are not allowed in contracts")
        seen.add(id(node))
        if len(path) > MAX_DEPTH:
            raise _UnsafeYaml(f"line {node.start_mark.line + 1}: nested more than {MAX_DEPTH} levels deep")
        out.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:  # a key's line, not its value's: problems point at the key
                out[path + (key.value,)] = key.start_mark.line + 1
                stack.append((value, path + (key.value,)))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, path + (i,)) for i, item in enumerate(node.value))
    return out


def _line_of(lines: dict[tuple, int], path) -> int:
    path = tuple(path)
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path, 1)


def read_yaml(path: Path) -> tuple[dict, dict[tuple, int]]:
    """Parse a YAML file safely; a ContractError with file:line on any syntax or tag problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractError(f"cannot read contract: {exc}", where=str(path)) from exc
    try:
        # Parse once (the C loader when present) and build the data from the same node tree.
        loader = Loader(text)
        try:
            node = loader.get_single_node()
            lines = _line_map(node) if node is not None else {}
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except _UnsafeYaml as exc:
        raise ContractError(f"unsafe YAML: {exc}", where=str(path)) from exc
    except ValueError as exc:  # a scalar the safe constructor cannot read (e.g. a bad timestamp)
        raise ContractError(f"invalid YAML value: {exc}", where=str(path)) from exc
    except RecursionError as exc:
        raise ContractError("unsafe YAML: nested too deep to read", where=str(path)) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = (exc.problem or str(exc)).strip()
        raise ContractError(f"invalid YAML: {problem}", where=f"{path}:{line}",
                            hint="contracts are plain YAML; tags like !!python/... are never run") from exc
    except yaml.YAMLError as exc:
        raise ContractError(f"invalid YAML: {exc}", where=str(path)) from exc
    if not isinstance(data, dict):
        raise ContractError("a contract must be a YAML mapping", where=f"{path}:1")
    return data, lines


# ---------------------------------------------------------------- the two layers of lint

def _freshness_seconds(sla: list | None) -> int | None:
    for item in sla or []:
        if isinstance(item, dict) and item.get("property") in {"freshness", "latency"}:
            unit = str(item.get("unit") or "d").lower()
            return int(float(item["value"]) * FRESHNESS_UNITS.get(unit, 86400))
    return None


def todo_markers(data: dict, lines: dict[tuple, int], path: Path) -> list[str]:
    """Every value a template left saying TODO, as 'file:line: …' (comments do not count)."""
    return [f"{path}:{_line_of(lines, at)}: TODO at {'/'.join(map(str, at))}: fill it in "
            "(پر کردن این مقدار مانده است)" for at in todo_paths(data)]


def _related(a: tuple, b: tuple) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def check_contract(path: str | Path, *, schemas_dir: Path | None = None,
                   connectors: Mapping[str, dict] | None = None) -> tuple[dict, list[Problem], list[Problem]]:
    """(document, the standard's problems, the hub's problems) for one file.

    The hub's rules are checked on a valid and an invalid ODCS document alike, except where
    the standard already complained (the same key or one above or below it): one cause, one
    message.  A YAML error raises ContractError (nothing else can be checked).
    """
    from munihub.persian.transforms import TRANSFORMS
    path = Path(path)
    data, lines = read_yaml(path)

    def line_of(p) -> int:
        return _line_of(lines, p)
    standard = odcs_problems(data, line_of)
    sdir = schemas_dir or Path(os.environ.get("MUNIHUB_SCHEMAS") or REPO_ROOT / "schemas")
    hub = runnable_problems(data, line_of, schemas_dir=sdir, transforms=TRANSFORMS, connectors=connectors)
    hub = [h for h in hub if not any(_related(h.path, s.path) and s.path for s in standard)]
    return data, standard, hub


def lint_contract(path: str | Path, *, schemas_dir: Path | None = None,
                  connectors: Mapping[str, dict] | None = None) -> dict[str, Any]:
    """Lint as data: which ODCS version, whether valid, whether runnable by munihub, every problem."""
    try:
        data, standard, hub = check_contract(path, schemas_dir=schemas_dir, connectors=connectors)
    except ContractError as exc:
        return {"file": str(path), "standard": f"ODCS {schema_version()}", "valid_odcs": False, "runnable": False,
                "problems": [{"line": None, "layer": "YAML", "path": "", "message": str(exc)}]}
    return {"file": str(path), "standard": f"ODCS {standard_version(data)}", "valid_odcs": not standard,
            "runnable": not standard and not hub, "problems": [p.to_dict() for p in standard + hub]}


def load_contract(path: str | Path, *, schemas_dir: Path | None = None) -> Contract:
    """Load and check one contract file; raise ContractError listing every problem with file:line."""
    path = Path(path)
    data, standard, hub = check_contract(path, schemas_dir=schemas_dir)
    if standard or hub:
        verdict = (f"not valid {ODCS_LABEL} {standard_version(data)}" if standard
                   else f"valid {ODCS_LABEL} {standard_version(data)}, but not runnable by munihub")
        raise ContractError(f"{len(standard) + len(hub)} problem(s) in contract: {verdict}", where=str(path),
                            hint="fix them and run `munihub contracts lint` again",
                            problems=[p.render(path) for p in standard + hub])
    return _build(path, data, schemas_dir)


def _build(path: Path, data: dict, schemas_dir: Path | None = None) -> Contract:
    """A checked document as plain data.  A property without transformLogic gets the reader its
    shared-schema field implies, and one without classification the field's (`field_defaults`)."""
    dataset_id = str(data.get("id") or "")
    agency, _, dataset = dataset_id.partition(".")
    _, connector, params, secrets, airflow_conn = server_parts(data)
    obj = first_object(data)
    obj_custom = custom(obj.get("customProperties"))
    entity_type = str(obj_custom.get("sharedSchema") or "")
    defaults = field_defaults(entity_type, schemas_dir)
    record_id = record_id_fields(obj_custom.get("recordId"))  # checked by runnable.record_id_problem
    fields = []
    for prop in obj.get("properties") or []:
        if not isinstance(prop, dict):
            continue
        name, source = str(prop.get("name") or ""), prop.get("physicalName")
        prop_custom = custom(prop.get("customProperties"))
        value_map = prop_custom.get("valueMap") or {}
        reader, personal = defaults.get(name, (None, False))
        fields.append(Field(
            name=name, source=str(source) if source is not None else None,
            transform=fitted(prop.get("transformLogic"), reader), required=bool(prop.get("required")),
            primary_key=bool(prop.get("primaryKey")), key_position=int(prop.get("primaryKeyPosition", -1)),
            classification=str(prop.get("classification") or ("personal" if personal else "internal")).lower(),
            logical_type=prop.get("logicalType"),
            quality=tuple({**q, "field": name} for q in prop.get("quality") or []),
            sources=tuple(str(s) for s in prop.get("transformSourceObjects") or []),
            value_map=tuple((str(k), v) for k, v in value_map.items()),
            essential=prop_custom.get("essential") is True, keys_record=not record_id))
    top = custom(data.get("customProperties"))
    team = data.get("team")
    members = team.get("members") if isinstance(team, dict) else team
    owner = next((m.get("username") or m.get("name") for m in members or [] if isinstance(m, dict)), "") \
        if isinstance(members, list) else ""
    desc = data.get("description") or {}
    return Contract(
        path=path, id=dataset_id, agency=agency, dataset=dataset, name=str(data.get("name") or dataset),
        version=str(data.get("version")), status=str(data.get("status") or "active"),
        entity_type=entity_type, connector=str(connector),
        params=params, secrets=dict(secrets), airflow_connection=airflow_conn, fields=tuple(fields),
        quality=tuple(obj.get("quality") or []), freshness_seconds=_freshness_seconds(data.get("slaProperties")),
        schedule=top.get("schedule"), retries=int(top.get("retries", 2)),
        retry_delay_seconds=int(top.get("retryDelaySeconds", 60)), timeout_seconds=int(top.get("timeoutSeconds", 3600)),
        pool=str(top.get("pool") or agency), owner=str(owner or agency), domain=str(data.get("domain") or agency),
        description=str(desc.get("purpose") or "") if isinstance(desc, dict) else str(desc), raw=data,
        record_id=record_id)


def expand_params(contract: Contract, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Server params with ${VAR} references filled from the environment (a ConfigError if unset)."""
    env = os.environ if env is None else env
    missing: list[str] = []

    def fill(value):
        if isinstance(value, str):
            def sub(m):
                if m.group(1) not in env:
                    missing.append(m.group(1))
                    return m.group(0)
                return env[m.group(1)]
            return ENV_REF.sub(sub, value)
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    params = fill(contract.params)
    if missing:
        raise ConfigError(f"environment variable(s) {', '.join(sorted(set(missing)))} not set",
                          where=f"{contract.id} ({contract.path})",
                          hint="the contract's server parameters refer to them")
    return params


def discover_contracts(contracts_dir: Path) -> list[Path]:
    """Every contract file under `contracts_dir`, in a stable order."""
    return sorted(p for p in Path(contracts_dir).rglob("*.yaml") if p.is_file()) + \
        sorted(p for p in Path(contracts_dir).rglob("*.yml") if p.is_file())


def load_all(contracts_dir: Path, *, schemas_dir: Path | None = None) -> tuple[list[Contract], list[ContractError]]:
    """Load every contract; a broken one is returned as an error and never hides the others."""
    good, bad, seen = [], [], {}
    for path in discover_contracts(contracts_dir):
        try:
            c = load_contract(path, schemas_dir=schemas_dir)
        except ContractError as exc:
            bad.append(exc)
            continue
        if c.id in seen:
            bad.append(ContractError(f"dataset id {c.id!r} is already used by {seen[c.id]}", where=str(path)))
            continue
        seen[c.id] = path
        good.append(c)
    return good, bad


@functools.lru_cache(maxsize=1024)
def _dataset_id(path: str, mtime_ns: int, size: int) -> Any:
    """The `id` a contract file declares (None if it does not parse), read once per version of
    the file in a process: every stage of a load looks its contract up, and a contract kept
    outside `<agency>/<dataset>.yaml` was found by parsing every file of the folder each time."""
    try:
        data, _ = read_yaml(Path(path))
    except ContractError:
        return None
    return data.get("id") if isinstance(data, dict) else None


def find_contract(ref: str, contracts_dir: Path) -> Path:
    """A contract path from a file path or a dataset id (`registry.citizens`)."""
    p = Path(ref)
    if p.is_file():
        return p
    agency, _, dataset = ref.partition(".")
    for candidate in (Path(contracts_dir) / agency / f"{dataset}.yaml", Path(contracts_dir) / agency / f"{dataset}.yml"):
        if candidate.is_file():
            return candidate
    for path in discover_contracts(contracts_dir):
        try:
            stat = path.stat()
        except OSError:
            continue
        if _dataset_id(str(path), stat.st_mtime_ns, stat.st_size) == ref:
            return path
    raise ConfigError(f"no contract {ref!r}", where=str(contracts_dir),
                      hint="give a contract file or a dataset id; `munihub contracts list` shows them")
