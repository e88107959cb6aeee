"""The hub's layer of lint: can munihub run this (valid ODCS) contract?

The standard allows a contract with no server or with property names of any kind; the hub
needs a server it has a connector for, a shared schema (`customProperties: sharedSchema`)
whose fields the property names are, a key, known transforms and value maps that land on
the shared field's allowed values.  Each problem is a `Problem` at the line of its key,
worded as what the hub needs, so nobody mistakes it for a breach of the standard.
"""
from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, Callable, Mapping

from munihub.contracts.odcs import Problem

LAYER = "munihub"
SECRET_WORDS = re.compile(r"(password|passwd|secret|token|api[_-]?key|client[_-]?secret|credential)", re.I)
URL_WITH_PASSWORD = re.compile(r"://[^/\s:@]+:[^/\s@]+@")
# Identifiers reach SQL and file paths: letters, digits, underscore, dot, dash only.
SAFE_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
FIELD_NAME = re.compile(r"[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*")
CLASSIFICATIONS = {"public", "internal", "personal", "restricted", "confidential"}
SEVERITIES = {"info", "warning", "error"}
SERVER_CONNECTORS = {"api": "rest", "postgresql": "sql", "postgres": "sql", "mysql": "sql", "local": "file"}
SERVER_KEYS = {"server", "type", "description", "environment", "roles", "customProperties", "id"}
TODO = "TODO"


def custom(items: list | None) -> dict[str, Any]:
    return {c.get("property"): c.get("value") for c in items or [] if isinstance(c, dict)}


def server_parts(data: dict) -> tuple[dict, str | None, dict, Any, str | None]:
    """(server, connector kind, non-secret params, secrets map, Airflow connection) of servers[0]."""
    servers = data.get("servers") or []
    server = servers[0] if servers and isinstance(servers[0], dict) else {}
    extra = custom(server.get("customProperties"))
    connector = extra.pop("connector", None) or SERVER_CONNECTORS.get(str(server.get("type", "")))
    secrets = extra.pop("secrets", None) or {}
    airflow = extra.pop("airflowConnection", None)
    params = {k: v for k, v in server.items() if k not in SERVER_KEYS}
    params.update(extra)
    return server, connector, params, secrets, airflow


def first_object(data: dict) -> dict:
    objects = data.get("schema") or []
    return objects[0] if objects and isinstance(objects[0], dict) else {}


def _secrets_in(value: Any, path: tuple, found: list[tuple[tuple, str]]) -> None:
    if isinstance(value, dict):
        prop = value.get("property")
        if isinstance(prop, str) and prop != "secrets" and SECRET_WORDS.search(prop) \
                and isinstance(value.get("value"), (str, int)):
            found.append((path + ("property",), f"custom property '{prop}' looks like a secret written into the "
                                                "contract; name an environment variable under 'secrets' instead"))
        for k, v in value.items():
            if k == "secrets" or (prop == "secrets" and k == "value"):
                continue  # maps params to environment variable NAMES; checked below
            if SECRET_WORDS.search(str(k)) and not str(k).lower().endswith("url") and isinstance(v, (str, int)):
                found.append((path + (k,), f"'{k}' looks like a secret written into the contract; name an "
                                           "environment variable under 'secrets' instead"))
            _secrets_in(v, path + (k,), found)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _secrets_in(v, path + (i,), found)
    elif isinstance(value, str) and URL_WITH_PASSWORD.search(value):
        found.append((path, "a URL carries a password; put it in an environment variable named under 'secrets'"))


def todo_paths(data: dict) -> list[tuple]:
    """Key paths of every value (or key) a template left saying TODO."""
    found: list[tuple] = []

    def walk(value, at: tuple) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if isinstance(k, str) and TODO in k:
                    found.append(at + (k,))
                walk(v, at + (k,))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, at + (i,))
        elif isinstance(value, str) and TODO in value:
            found.append(at)
    walk(data, ())
    return found


def shared_fields(entity: str, schemas_dir: Path) -> dict[str, dict] | None:
    """The shared schema's fields by dotted name (nested objects and `$ref`s followed); None if unreadable."""
    from munihub.contracts import schemas
    from munihub.errors import ConfigError
    try:
        known = schemas.load_all(schemas_dir)
    except ConfigError:
        return None
    out: dict[str, dict] = {}

    def walk(node: dict, prefix: str, depth: int) -> None:
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(schemas.URN_PREFIX) and depth < 8:
            node = {**known.get(ref[len(schemas.URN_PREFIX):].partition("#")[0], {}), **node}
        for name, sub in (node.get("properties") or {}).items():
            if isinstance(sub, dict):
                out[prefix + name] = sub
                walk(sub, prefix + name + ".", depth + 1)
    if entity not in known:
        return None
    walk(known[entity], "", 0)
    return out


def runnable_problems(data: dict, line_of: Callable[[tuple], int], *, schemas_dir: Path,
                      transforms: Mapping[str, Any], connectors: Mapping[str, dict] | None = None) -> list[Problem]:
    """What stops munihub from running `data`, each once at the line of its key.

    `transforms` are the known transform names; `connectors` maps connector kinds to their
    parameter schemas (None: kinds are not checked, as when no connector is installed).
    """
    out: list[Problem] = []

    def add(path: tuple, message: str) -> None:
        out.append(Problem(tuple(path), line_of(tuple(path)), LAYER, message))

    for path, message in _secret_findings(data):
        add(path, message)
    for path in todo_paths(data):
        add(path, f"TODO at {'/'.join(map(str, path))}: fill it in (پر کردن این مقدار مانده است)")
    dataset_id = str(data.get("id") or "")
    agency, _, dataset = dataset_id.partition(".")
    if not (agency and dataset and all(SAFE_IDENTIFIER.match(p) for p in (agency, dataset))):
        add(("id",), f"the hub needs id '<agency>.<dataset>' in letters, digits, '_' or '-', not {dataset_id!r}")
    _check_server(data, connectors, add)
    _check_object(data, schemas_dir, transforms, add)
    _check_custom_spellings(data, connectors, add)
    top = custom(data.get("customProperties"))
    for key in ("retries", "retryDelaySeconds", "timeoutSeconds"):
        if key in top and not re.fullmatch(r"\d+", str(top[key])):
            add(("customProperties",), f"{key} must be a whole number, not {top[key]!r}")
    schedule = top.get("schedule")
    if schedule is not None and not _schedule_ok(schedule):
        add(("customProperties",), f"schedule {schedule!r} is neither a preset nor a cron expression: write "
                                   f"{'@' + str(schedule).strip().lower()!r} or five cron fields such as '0 2 * * *'"
            if str(schedule).strip().lower() in PRESETS else
            f"schedule {schedule!r} is neither a preset (@hourly, @daily, @weekly, @monthly) nor a cron "
            "expression such as '0 2 * * *'")
    for i, item in enumerate(data.get("slaProperties") or []):
        if isinstance(item, dict) and item.get("property") in {"freshness", "latency"}:
            try:
                float(item["value"])
            except (KeyError, TypeError, ValueError):
                add(("slaProperties", i, "value"), "freshness needs a numeric value and a unit")
            if str(item.get("unit") or "d").lower() not in FRESHNESS_UNITS:  # was read as days, silently
                add(("slaProperties", i, "unit"), f"freshness unit {item.get('unit')!r} is not one of "
                                                  "s, m, h, d, w (seconds … weeks)")
    return out


# Freshness units as written (Persian too); lint refuses any other (`runnable`): an unknown one
# was read as days, so `unit: ساعت` (hours) allowed a source to go 24 times staler.
FRESHNESS_UNITS = {"s": 1, "sec": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "minute": 60,
                   "minutes": 60, "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
                   "d": 86400, "day": 86400, "days": 86400, "w": 604800, "week": 604800, "weeks": 604800,
                   "ثانیه": 1, "دقیقه": 60, "ساعت": 3600, "روز": 86400, "هفته": 604800}


PRESETS = {"once", "continuous", "hourly", "daily", "weekly", "monthly", "quarterly", "yearly", "annually"}
_CRON_FIELD = re.compile(r"[0-9*?/,\-A-Za-z#LW]+")


def _schedule_ok(schedule) -> bool:
    """An Airflow schedule: a preset (`@daily`) or a cron expression (5, 6 or 7 fields, as Airflow
    validates it: `daily` made the DAG invalid)."""
    text = str(schedule).strip()
    if text.startswith("@"):
        return text[1:].lower() in PRESETS
    fields = text.split()
    return len(fields) in (5, 6, 7) and all(_CRON_FIELD.fullmatch(f) for f in fields)


# The custom properties the hub reads, by where they are written.  ODCS allows any other, so an
# unknown one is not refused; one that is a known name spelt otherwise (`value_map`, `ValueMap`,
# `RecordID`) was ignored without a word: a valueMap that never mapped, a recordId never used.
CUSTOM_READ = {
    "top": {"schedule", "retries", "retryDelaySeconds", "timeoutSeconds", "pool", "incremental", "trust",
            "maxQuarantinePercent", "quarantineSeverity", "freshnessSeverity"},
    "object": {"sharedSchema", "recordId", "renamedFrom"},
    "property": {"valueMap", "essential", "renamedFrom"},
    "server": {"connector", "secrets", "airflowConnection"},
}


def _spelling(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name).lower()


def _check_custom_spellings(data: dict, connectors: Mapping[str, dict] | None, add) -> None:
    """A custom property named as the hub's own but spelt otherwise, at the line of its name."""
    servers = data.get("servers") if isinstance(data.get("servers"), list) else []
    server = servers[0] if servers and isinstance(servers[0], dict) else {}
    kind = custom(server.get("customProperties")).get("connector")
    params = set(((connectors or {}).get(kind) or {}).get("properties") or {})
    obj = first_object(data)
    places = [(("customProperties",), data.get("customProperties"), CUSTOM_READ["top"]),
              (("servers", 0, "customProperties"), server.get("customProperties"), CUSTOM_READ["server"] | params),
              (("schema", 0, "customProperties"), obj.get("customProperties"), CUSTOM_READ["object"])]
    places += [(("schema", 0, "properties", i, "customProperties"), prop.get("customProperties"), CUSTOM_READ["property"])
               for i, prop in enumerate(obj.get("properties") or []) if isinstance(prop, dict)]
    for at, items, known in places:
        by_spelling = {_spelling(k): k for k in known}
        for j, item in enumerate(items if isinstance(items, list) else []):
            name = item.get("property") if isinstance(item, dict) else None
            if isinstance(name, str) and name not in known and _spelling(name) in by_spelling:
                add(at + (j, "property"), f"custom property {name!r} is read by the hub only as "
                                          f"{by_spelling[_spelling(name)]!r}: spelt otherwise it is ignored")


def _secret_findings(data: dict) -> list[tuple[tuple, str]]:
    found: list[tuple[tuple, str]] = []
    _secrets_in(data, (), found)
    return found


def _check_server(data: dict, connectors: Mapping[str, dict] | None, add) -> None:
    server, connector, params, secrets, _ = server_parts(data)
    if not server:
        add(("servers",) if "servers" in data else (), "the hub needs a server saying where the data lives "
                                                        "(servers: - server, type, customProperties: connector)")
        return
    if not connector:
        add(("servers", 0), "say which connector reads this server (customProperties: connector)")
    elif connectors is not None and connector not in connectors:
        add(("servers", 0, "customProperties"), f"unknown connector {connector!r}; installed: "
                                                f"{', '.join(sorted(connectors)) or 'none'}")
    elif connectors is not None:
        _check_params(connectors[connector], params, secrets, connector, add)
    encoding = params.get("encoding")
    if isinstance(encoding, str) and encoding.lower() != "auto" and "${" not in encoding:
        import codecs
        try:
            codecs.lookup(encoding)
        except LookupError:  # «ANSI», as Notepad names it: known only when the sync starts
            where = ("servers", 0, "encoding") if "encoding" in server else ("servers", 0, "customProperties")
            add(where, f"unknown encoding {encoding!r}: write `auto` (UTF-8, else Windows-1256, file by file), "
                       "`utf-8`, or `windows-1256` (what Windows calls «ANSI» for a Persian file)")
    if not isinstance(secrets, dict) or not all(
            isinstance(v, str) and re.fullmatch(r"[A-Z_][A-Z0-9_]*", v) for v in secrets.values()):
        add(("servers", 0, "customProperties"), "'secrets' maps parameter names to ENVIRONMENT_VARIABLE names, "
                                                "not to values")


def _check_params(schema: dict, params: dict, secrets, kind: str, add) -> None:
    """Server parameters against the connector's own parameter schema (secrets count as given)."""
    import jsonschema
    given = {**params, **{k: "${secret}" for k in (secrets if isinstance(secrets, dict) else {})}}
    for err in jsonschema.Draft202012Validator(schema).iter_errors(given):
        where = ("servers", 0, "customProperties")
        alternatives = [b["required"][0] for b in err.validator_value if set(b) == {"required"}] \
            if err.validator == "oneOf" else []
        if alternatives:  # the sql connector's table or query: it failed at the sync, after lint passed
            add(where, f"connector {kind}: give exactly one of {', '.join(alternatives)} "
                       f"(as {{property: {alternatives[0]}, value: …}})")
            continue
        if err.validator == "required" and not err.absolute_path:
            missing = next((k for k in err.validator_value if k not in given), "?")
            add(where, f"connector {kind} needs parameter {missing!r}: add {{property: {missing}, value: …}} to the "
                       "server's customProperties")
            continue
        add(where, f"connector {kind}: {'/'.join(map(str, err.absolute_path)) or 'parameters'}: {err.message}")


def _check_object(data: dict, schemas_dir: Path, transforms: Mapping[str, Any], add) -> None:
    obj = first_object(data)
    if not obj:
        add(("schema",) if "schema" in data else (), "the hub needs one schema object naming its shared schema")
        return
    others = data.get("schema")[1:] if isinstance(data.get("schema"), list) else []
    for i, other in enumerate(others, start=1):  # never read: its records were silently not synced
        named = other.get("name") if isinstance(other, dict) else None
        add(("schema", i), f"the hub reads one schema object per contract, the first ({obj.get('name')!r}); "
                           f"put {named or 'this one'!r} in a contract of its own")
    entity = str(custom(obj.get("customProperties")).get("sharedSchema") or "")
    fields = None
    if not entity:
        add(("schema", 0, "customProperties") if "customProperties" in obj else ("schema", 0, "name"),
            "name the shared schema this object maps to (customProperties: sharedSchema)")
    elif not (Path(schemas_dir) / f"{entity}.schema.json").is_file():
        known = sorted(p.name.split(".")[0] for p in Path(schemas_dir).glob("*.schema.json"))
        add(("schema", 0, "customProperties"), f"unknown shared schema {entity!r}; known: {', '.join(known)}")
    else:
        fields = shared_fields(entity, Path(schemas_dir))
    physical = obj.get("physicalName")
    if physical and not SAFE_IDENTIFIER.match(str(physical)):
        add(("schema", 0, "physicalName"), f"physicalName {physical!r} has characters that are not allowed "
                                           "in an identifier")
    props = [p for p in obj.get("properties") or [] if isinstance(p, dict)]
    for i, prop in enumerate(obj.get("properties") or []):
        if isinstance(prop, dict):
            _check_property(("schema", 0, "properties", i), prop, entity, fields, transforms, add)
    _check_twice(obj.get("properties") or [], fields, add)
    record_id = custom(obj.get("customProperties")).get("recordId")
    if record_id is not None and record_id_problem(record_id):
        at = next((("schema", 0, "customProperties", i, "value") for i, c in enumerate(obj.get("customProperties") or [])
                   if isinstance(c, dict) and c.get("property") == "recordId"), ("schema", 0))
        add(at, record_id_problem(record_id))
    if props and record_id is None and not any(p.get("primaryKey") for p in props):
        add(("schema", 0, "properties"), "no property is marked primaryKey: true; the hub needs a key to "
                                         "upsert and to trace lineage (or name the source's record id: "
                                         "customProperties recordId)")


def _check_twice(props: list, fields: dict | None, add) -> None:
    """A shared field two properties name: the second value written over the first in every
    record, silently.  Phone fields may take several columns (a number beyond the first is set
    aside as a second one, `mapping.map_record`)."""
    from munihub.persian.transforms import PHONE_TRANSFORMS
    from munihub.contracts.schemas import FORMAT_TRANSFORMS
    seen: dict[str, int] = {}
    for i, prop in enumerate(props):
        if not isinstance(prop, dict) or not isinstance(prop.get("name"), str):
            continue
        name = prop["name"]
        reader = str(prop.get("transformLogic") or FORMAT_TRANSFORMS.get((fields or {}).get(name, {}).get("format"), ""))
        if name in seen and reader.partition(":")[0] not in PHONE_TRANSFORMS:
            add(("schema", 0, "properties", i, "name"),
                f"{name!r} is named by two properties (the other is properties[{seen[name]}]): a field takes one "
                "source field, the second would write over the first; join several with transformSourceObjects")
        seen.setdefault(name, i)


# Invisible marks Persian column names carry: the half-space (ZWNJ) of «نام‌خانوادگی», the
# joiner, the direction marks an editor adds.  Python calls them unprintable; a quoted SQL
# identifier and a header read them like any letter.
_NAME_MARKS = str.maketrans("", "", "\u200c\u200d\u200e\u200f")


def safe_source(name: str) -> bool:
    """A source field name that can reach a SQL select list without quoting tricks."""
    return name.translate(_NAME_MARKS).isprintable() and not re.search(r"[;'\"`\\\x00]|--", name)


def record_id_fields(value: Any) -> tuple:
    """The source fields a `recordId` names: one field may be written as text or as a list."""
    return (value,) if isinstance(value, str) else tuple(value or ())


def record_id_problem(value: Any) -> str | None:
    """Why a `recordId` custom property cannot name the source's own record id, or None."""
    names = [value] if isinstance(value, str) else value
    if isinstance(names, list) and names and all(isinstance(n, str) and n.strip() and safe_source(n) for n in names):
        return None
    return ("recordId must name the source field (or a list of fields) holding the source's own record id, e.g. "
            "`id`, as text without quotes, semicolons, backslashes or control characters")


def _field_named(name: str, fields: dict | None) -> str | None:
    """The shared field a property name that is not one most likely means: `birthDate` or
    `Birth Date` written snake_case, or a Persian name, «نام پدر», that is a field's title (the
    column's header written where the field goes); None when nothing is close."""
    if not fields:
        return None
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())
    snake = re.sub(r"[\s\-]+", "_", snake).lower()
    if snake in fields:
        return snake
    from munihub.persian.letters import match_key
    titles = {match_key(str(spec.get("title"))): field for field, spec in fields.items() if spec.get("title")}
    if match_key(name) in titles:
        return titles[match_key(name)]
    hint = difflib.get_close_matches(snake, list(fields), n=1)
    return hint[0] if hint else None


def _check_property(ppath: tuple, prop: dict, entity: str, fields: dict | None, transforms, add) -> None:
    name, source = str(prop.get("name") or ""), prop.get("physicalName")
    if not FIELD_NAME.fullmatch(name):
        near = _field_named(name, fields)
        add(ppath + ("name",), f"property name {name!r} must be a shared-schema field (snake_case, dots for nesting)"
            + (f"; did you mean {near!r}?" if near else "")
            + ("" if name.isascii() else " (the source's own column name goes in physicalName)"))
    elif fields is not None and name not in fields:
        hint = difflib.get_close_matches(name, list(fields), n=1)
        add(ppath + ("name",), f"{name!r} is not a field of shared schema {entity!r}" +
            (f"; did you mean {hint[0]!r}?" if hint else f"; its fields: {', '.join(sorted(fields))}"))
    joined = prop.get("transformSourceObjects")
    if source is not None and isinstance(joined, list) and joined and str(source) not in map(str, joined):
        # the standard's own example lists tables there; the hub reads those names as the
        # columns joined into this field, instead of physicalName: read as empty, silently
        add(ppath + ("transformSourceObjects",),
            f"transformSourceObjects names the source fields joined into {name!r}, read instead of its physicalName "
            f"{source!r}, which it does not list: list every column to join (physicalName among them), or "
            "drop transformSourceObjects")
    for src in [source, *(prop.get("transformSourceObjects") or [])]:
        if src is not None and not safe_source(str(src)):
            add(ppath + ("physicalName",), f"source field {src!r} has characters not allowed in an identifier")
    classification = str(prop.get("classification") or "internal").lower()
    if classification not in CLASSIFICATIONS:
        add(ppath + ("classification",), f"classification {classification!r} is not one of {sorted(CLASSIFICATIONS)}")
    for j, rule in enumerate(prop.get("quality") or []):
        if isinstance(rule, dict) and str(rule.get("severity", "error")) not in SEVERITIES:
            add(ppath + ("quality", j, "severity"), "severity must be info, warning or error")
    transform = prop.get("transformLogic")
    if transform and str(transform).split(":")[0] not in transforms:
        add(ppath + ("transformLogic",), f"unknown transform {transform!r}; known: {', '.join(sorted(transforms))}")
    elif transform:  # a known name with a parameter it does not take or cannot use (`phone:5x`)
        from munihub.persian.transforms import transform_problem
        problem = transform_problem(str(transform))
        if problem:
            add(ppath + ("transformLogic",), problem)
    extra = custom(prop.get("customProperties"))
    if extra.get("essential") not in (None, True, False):  # "true" in quotes was read as not essential
        add(ppath + ("customProperties",), f"essential must be true or false, without quotes, not "
                                           f"{extra['essential']!r}")
    value_map = extra.get("valueMap")
    if value_map is not None and not isinstance(value_map, dict):
        add(ppath + ("customProperties",), "valueMap must map source values to codes, one key each: "
                                           "{value: {مرد: male, زن: female}} (numeric codes quoted: {'1': male})")
    elif value_map and fields is not None and isinstance((fields.get(name) or {}).get("enum"), list):
        allowed = fields[name]["enum"]
        wrong = sorted({str(v) for v in value_map.values() if v not in allowed})
        if wrong:
            add(ppath + ("customProperties",), f"valueMap of {name!r} maps to {', '.join(map(repr, wrong))}, not "
                                               f"allowed by shared schema {entity!r}: {', '.join(map(repr, allowed))}")
