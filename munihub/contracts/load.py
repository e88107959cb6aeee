"""Agency data contracts (Open Data Contract Standard v3): load, check, compile to plain data.

A contract file is checked against the standard's own JSON Schema (shipped by the
`open-data-contract-standard` package) and then against munihub's conventions
(docs/ARCHITECTURE.md).  Every problem is collected and reported at once, each with
file:line.  YAML is parsed with the safe loader only: tags such as `!!python/object` are
refused, never executed.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from munihub.config import REPO_ROOT
from munihub.errors import ConfigError, ContractError

# The safe loaders refuse tags such as !!python/object: nothing in a contract is ever executed.
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SECRET_WORDS = re.compile(r"(password|passwd|secret|token|api[_-]?key|client[_-]?secret|credential)", re.I)
URL_WITH_PASSWORD = re.compile(r"://[^/\s:@]+:[^/\s@]+@")
# Identifiers reach SQL and file paths: letters, digits, underscore, dot, dash only.
SAFE_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
ENV_REF = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")
CLASSIFICATIONS = {"public", "internal", "personal", "restricted", "confidential"}
SEVERITIES = {"info", "warning", "error"}


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

    @property
    def personal(self) -> bool:
        return self.classification in {"personal", "restricted", "confidential"}

    @property
    def must_read(self) -> bool:
        """Whether a value this field cannot read sends the whole record to quarantine; any
        other field's bad value is set aside and the record published without it."""
        return self.essential or self.required or self.primary_key


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
        out[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            stack.extend((value, path + (key.value,)) for key, value in node.value)
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


# ---------------------------------------------------------------- the standard's schema

@functools.lru_cache(maxsize=1)
def _odcs_schema() -> dict:
    text = resources.files("open_data_contract_standard").joinpath("schema.json").read_text("utf-8")
    return json.loads(text)


@functools.lru_cache(maxsize=1)
def odcs_validator():
    """Validator for the ODCS JSON Schema shipped by the open-data-contract-standard package."""
    import jsonschema

    schema = _odcs_schema()
    return jsonschema.validators.validator_for(schema)(schema)


@functools.lru_cache(maxsize=1)
def _odcs_fast():
    """A compiled validator for the common case (a valid contract); None if unavailable."""
    try:
        import jsonschema_rs
    except ImportError:
        return None
    return jsonschema_rs.validator_for(_odcs_schema())


def odcs_errors(data: dict):
    """The standard's complaints about `data`: the compiled validator answers 'valid' fast, and
    the reference validator explains when it is not (its messages and paths are the clearer)."""
    fast = _odcs_fast()
    if fast is not None and fast.is_valid(data):
        return []
    return sorted(odcs_validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))


def _safe_source(name: str) -> bool:
    """A source field name that can reach a SQL select list without quoting tricks."""
    return name.isprintable() and not re.search(r"[;'\"`\\\x00]|--", name)


def _custom(items: list | None) -> dict[str, Any]:
    return {c.get("property"): c.get("value") for c in items or [] if isinstance(c, dict)}


def _freshness_seconds(sla: list | None) -> int | None:
    units = {"s": 1, "sec": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "minute": 60,
             "minutes": 60, "h": 3600, "hour": 3600, "hours": 3600, "d": 86400, "day": 86400,
             "days": 86400, "w": 604800, "week": 604800, "weeks": 604800}
    for item in sla or []:
        if item.get("property") in {"freshness", "latency"}:
            unit = str(item.get("unit") or "d").lower()
            return int(float(item["value"]) * units.get(unit, 86400))
    return None


def _check_secrets(value: Any, path: tuple, problems: list, lines: dict, file: Path) -> None:
    if isinstance(value, dict):
        prop = value.get("property")
        if isinstance(prop, str) and prop != "secrets" and SECRET_WORDS.search(prop) \
                and isinstance(value.get("value"), (str, int)):
            problems.append(f"{file}:{_line_of(lines, path)}: custom property '{prop}' looks like a secret "
                            "written into the contract; name an environment variable under 'secrets' instead")
        for k, v in value.items():
            if k == "secrets" or (prop == "secrets" and k == "value"):
                continue  # maps params to environment variable NAMES; checked in load_contract
            if SECRET_WORDS.search(str(k)) and not str(k).lower().endswith("url") \
                    and isinstance(v, (str, int)) and k != "secrets":  # token_url is an address
                problems.append(f"{file}:{_line_of(lines, path)}: '{k}' looks like a secret written into "
                                "the contract; name an environment variable under 'secrets' instead")
            _check_secrets(v, path + (k,), problems, lines, file)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_secrets(v, path + (i,), problems, lines, file)
    elif isinstance(value, str) and URL_WITH_PASSWORD.search(value):
        problems.append(f"{file}:{_line_of(lines, path)}: a URL carries a password; put it in an "
                        "environment variable named under 'secrets'")


TODO = "TODO"


def todo_markers(data: dict, lines: dict[tuple, int], path: Path) -> list[str]:
    """Every value a template left saying TODO, as 'file:line: …' (comments do not count)."""
    found: list[tuple] = []

    def walk(value, at: tuple) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if isinstance(k, str) and TODO in k:
                    found.append(at)
                walk(v, at + (k,))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, at + (i,))
        elif isinstance(value, str) and TODO in value:
            found.append(at)

    walk(data, ())
    return [f"{path}:{_line_of(lines, at)}: TODO at {'/'.join(map(str, at))}: fill it in "
            "(پر کردن این مقدار مانده است)" for at in found]


def load_contract(path: str | Path, *, schemas_dir: Path | None = None) -> Contract:
    """Load and check one contract file; raise ContractError listing every problem with file:line."""
    path = Path(path)
    data, lines = read_yaml(path)
    problems: list[str] = []

    def at(p) -> str:
        return f"{path}:{_line_of(lines, p)}"

    for err in odcs_errors(data):
        loc = "/".join(map(str, err.absolute_path)) or "(top)"
        problems.append(f"{at(err.absolute_path)}: ODCS: {loc}: {err.message[:300]}")
    _check_secrets(data, (), problems, lines, path)
    problems.extend(todo_markers(data, lines, path))  # a template is not a contract until filled in

    dataset_id = str(data.get("id") or "")
    agency, _, dataset = dataset_id.partition(".")
    if not (agency and dataset and all(SAFE_IDENTIFIER.match(p) for p in (agency, dataset))):
        problems.append(f"{at(('id',))}: id {dataset_id!r} must be '<agency>.<dataset>' "
                        "in letters, digits, '_' or '-'")

    servers = data.get("servers") or []
    server = servers[0] if servers and isinstance(servers[0], dict) else {}
    if not server:
        problems.append(f"{at(('servers',))}: a contract needs one server saying where the data lives")
    server_custom = _custom(server.get("customProperties"))
    connector = server_custom.pop("connector", None) or {
        "api": "rest", "postgresql": "sql", "postgres": "sql", "mysql": "sql", "local": "file",
    }.get(server.get("type", ""))
    if not connector:
        problems.append(f"{at(('servers', 0))}: say which connector reads this server "
                        "(customProperties: connector)")
    secrets = server_custom.pop("secrets", None) or {}
    if not isinstance(secrets, dict) or not all(
            isinstance(v, str) and re.fullmatch(r"[A-Z_][A-Z0-9_]*", v) for v in secrets.values()):
        problems.append(f"{at(('servers', 0, 'customProperties'))}: 'secrets' maps parameter names "
                        "to ENVIRONMENT_VARIABLE names, not to values")
        secrets = {}
    airflow_conn = server_custom.pop("airflowConnection", None)
    params = {k: v for k, v in server.items()
              if k not in {"server", "type", "description", "environment", "roles", "customProperties", "id"}}
    params.update(server_custom)

    objects = data.get("schema") or []
    obj = objects[0] if objects and isinstance(objects[0], dict) else {}
    if not obj:
        problems.append(f"{at(('schema',))}: a contract needs one schema object")
    obj_custom = _custom(obj.get("customProperties"))
    entity_type = str(obj_custom.get("sharedSchema") or "")
    sdir = schemas_dir or Path(os.environ.get("MUNIHUB_SCHEMAS") or REPO_ROOT / "schemas")
    if not entity_type:
        problems.append(f"{at(('schema', 0))}: name the shared schema (customProperties: sharedSchema)")
    elif not (sdir / f"{entity_type}.schema.json").is_file():
        known = sorted(p.name.split(".")[0] for p in sdir.glob("*.schema.json"))
        problems.append(f"{at(('schema', 0, 'customProperties'))}: unknown shared schema {entity_type!r}; "
                        f"known: {', '.join(known)}")
    physical = obj.get("physicalName")
    if physical and not SAFE_IDENTIFIER.match(str(physical)):
        problems.append(f"{at(('schema', 0, 'physicalName'))}: physicalName {physical!r} has characters "
                        "that are not allowed in an identifier")

    record_id = obj_custom.get("recordId")
    record_id = [record_id] if isinstance(record_id, str) else record_id
    if record_id is not None and not (isinstance(record_id, list) and record_id and all(
            isinstance(r, str) and r.strip() and _safe_source(r) for r in record_id)):
        where = next((("schema", 0, "customProperties", i, "value")
                      for i, c in enumerate(obj.get("customProperties") or [])
                      if isinstance(c, dict) and c.get("property") == "recordId"), ("schema", 0))
        problems.append(f"{at(where)}: recordId must name the source field "
                        "(or a list of fields) holding the source's own record id, e.g. `id`")
        record_id = None
    record_id = tuple(record_id or ())

    fields = []
    for i, prop in enumerate(obj.get("properties") or []):
        if not isinstance(prop, dict):
            continue
        ppath = ("schema", 0, "properties", i)
        name, source = str(prop.get("name") or ""), prop.get("physicalName")
        if not re.fullmatch(r"[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*", name):
            problems.append(f"{at(ppath)}: property name {name!r} must be a shared-schema field "
                            "(snake_case, dots for nesting)")
        for src in [source, *(prop.get("transformSourceObjects") or [])]:
            if src is not None and not _safe_source(str(src)):
                problems.append(f"{at(ppath)}: source field {src!r} has characters not allowed in an identifier")
        classification = str(prop.get("classification") or "internal").lower()
        if classification not in CLASSIFICATIONS:
            problems.append(f"{at(ppath + ('classification',))}: classification {classification!r} is not "
                            f"one of {sorted(CLASSIFICATIONS)}")
        for j, rule in enumerate(prop.get("quality") or []):
            if str(rule.get("severity", "error")) not in SEVERITIES:
                problems.append(f"{at(ppath + ('quality', j))}: severity must be info, warning or error")
        prop_custom = _custom(prop.get("customProperties"))
        value_map = prop_custom.get("valueMap") or {}
        if not isinstance(value_map, dict):
            problems.append(f"{at(ppath + ('customProperties',))}: valueMap must map source values to codes")
            value_map = {}
        fields.append(Field(
            name=name, source=str(source) if source is not None else None,
            transform=prop.get("transformLogic"), required=bool(prop.get("required")),
            primary_key=bool(prop.get("primaryKey")), key_position=int(prop.get("primaryKeyPosition", -1)),
            classification=classification, logical_type=prop.get("logicalType"),
            quality=tuple({**q, "field": name} for q in prop.get("quality") or []),
            sources=tuple(str(s) for s in prop.get("transformSourceObjects") or []),
            value_map=tuple((str(k), v) for k, v in value_map.items()),
            essential=prop_custom.get("essential") is True))
    if fields and not record_id and not any(f.primary_key for f in fields):
        problems.append(f"{at(('schema', 0, 'properties'))}: no property is marked primaryKey: true; "
                        "the hub needs a key to upsert and to trace lineage (or name the source's record id: "
                        "customProperties recordId)")
    from munihub.persian.transforms import transform_problem
    for i, f in enumerate(fields):
        problem = transform_problem(f.transform) if f.transform else None
        if problem:
            problems.append(f"{at(('schema', 0, 'properties', i, 'transformLogic'))}: {problem}")

    top = _custom(data.get("customProperties"))
    numbers = {}
    for key, default in (("retries", 2), ("retryDelaySeconds", 60), ("timeoutSeconds", 3600)):
        try:
            numbers[key] = int(top.get(key, default))
        except (TypeError, ValueError):
            problems.append(f"{at(('customProperties',))}: {key} must be a whole number")
            numbers[key] = default
    try:
        freshness = _freshness_seconds(data.get("slaProperties"))
    except (TypeError, ValueError, KeyError):
        problems.append(f"{at(('slaProperties',))}: freshness needs a numeric value and a unit")
        freshness = None

    if problems:
        raise ContractError(f"{len(problems)} problem(s) in contract", where=str(path),
                            hint="fix them and run `munihub contracts lint` again", problems=problems)

    team = data.get("team")
    members = team.get("members") if isinstance(team, dict) else team
    owner = next((m.get("username") or m.get("name") for m in members or [] if isinstance(m, dict)), "") \
        if isinstance(members, list) else ""
    desc = data.get("description") or {}
    return Contract(
        path=path, id=dataset_id, agency=agency, dataset=dataset, name=str(data.get("name") or dataset),
        version=str(data.get("version")), status=str(data.get("status") or "active"),
        entity_type=entity_type, connector=connector, params=params, secrets=dict(secrets),
        airflow_connection=airflow_conn, fields=tuple(fields),
        quality=tuple(obj.get("quality") or []), freshness_seconds=freshness,
        schedule=top.get("schedule"), retries=numbers["retries"],
        retry_delay_seconds=numbers["retryDelaySeconds"], timeout_seconds=numbers["timeoutSeconds"],
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
            data, _ = read_yaml(path)
        except ContractError:
            continue
        if data.get("id") == ref:
            return path
    raise ConfigError(f"no contract {ref!r}", where=str(contracts_dir),
                      hint="give a contract file or a dataset id; `munihub contracts list` shows them")
