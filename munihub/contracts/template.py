"""`contracts new`: a filled-in ODCS v3 template an agency completes, and the TODO markers lint flags.

The template lists every field of the chosen shared schema with `physicalName: TODO`, so
the agency only writes where each value comes from.  It loads as a contract as soon as it
is written; `todo_markers` is what tells the agency (and lint) what is still left to fill.
"""
from __future__ import annotations

import re
from pathlib import Path

from munihub.contracts import todo_markers as contracts_todo_markers
from munihub.contracts import read_yaml
from munihub.contracts.schemas import PERSONAL, default_transform, load_schema, schema_fields
from munihub.errors import ConfigError

# Agency and dataset names become a folder, a file name, an id and env names: keep them plain.
SAFE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
TODO = "TODO"


def _safe(kind: str, value: str) -> str:
    if not isinstance(value, str) or not SAFE_NAME.match(value):
        raise ConfigError(f"{kind} {value!r} is not a safe identifier",
                          hint="use lowercase Latin letters, digits and '_' (starting with a letter), "
                               "e.g. 'registry' or 'citizens'; no paths, dots, quotes or spaces")
    return value


# ---------------------------------------------------------------- shared schema fields

def _logical(spec: dict) -> str:
    if spec.get("format") == "date":
        return "date"
    if spec.get("format") == "date-time":
        return "timestamp"
    return {"integer": "integer", "number": "number", "boolean": "boolean"}.get(spec.get("type"), "string")


# ---------------------------------------------------------------- the template

def _env(agency: str, dataset: str, what: str) -> str:
    return f"{agency}_{dataset}_{what}".upper()


def _server(agency: str, dataset: str, connector: str) -> str:
    head = (f"  - server: {agency}-{dataset}\n"
            "    # نوع سرور از استاندارد ODCS / server type from the standard (api, postgresql, mysql, local, custom)\n")
    if connector == "sql":
        return head + (
            "    type: custom\n"
            "    description: TODO describe the source database (کدام سامانه؟ which subsystem?)\n"
            "    environment: production\n"
            "    customProperties:\n"
            "      - {property: connector, value: sql}\n"
            "      # جدول یا نمای فقط‌خواندنی / the table or read-only view to read\n"
            "      - {property: table, value: TODO}\n"
            "      # ستون زمان آخرین تغییر برای خواندن افزایشی / last-modified column for incremental reads\n"
            "      - {property: watermark, value: TODO}\n"
            "      # ستون کلید یکتا در منبع / unique key column in the source\n"
            "      - {property: key, value: TODO}\n"
            "      # رمزها هرگز اینجا نوشته نمی‌شوند: فقط نام متغیر محیطی / never a secret here, only the\n"
            "      # NAME of the environment variable holding the SQLAlchemy URL with its password\n"
            f"      - {{property: secrets, value: {{url: {_env(agency, dataset, 'DB_URL')}}}}}\n")
    if connector == "rest":
        return head + (
            "    type: api\n"
            f"    location: \"${{{_env(agency, dataset, 'API_URL')}}}\"\n"
            "    description: TODO describe the API (کدام سامانه؟ which subsystem?)\n"
            "    environment: production\n"
            "    customProperties:\n"
            "      - {property: connector, value: rest}\n"
            f"      - {{property: url, value: \"${{{_env(agency, dataset, 'API_URL')}}}\"}}\n"
            "      # مسیر و کلید فهرست رکوردها در پاسخ / path, and where the records list sits in the reply\n"
            "      - {property: path, value: TODO}\n"
            "      - {property: records, value: TODO}\n"
            "      - {property: auth, value: {type: bearer}}\n"
            "      # نام متغیر محیطی توکن، نه خود توکن / the token's environment variable NAME, never the token\n"
            f"      - {{property: secrets, value: {{token: {_env(agency, dataset, 'API_TOKEN')}}}}}\n")
    if connector == "file":
        return head + (
            "    type: local\n"
            f"    path: \"${{{_env(agency, dataset, 'DIR')}}}\"\n"
            "    format: csv\n"
            "    description: TODO describe the export folder (پوشهٔ خروجی سامانه / the drop folder)\n"
            "    environment: production\n"
            "    customProperties:\n"
            "      - {property: connector, value: file}\n"
            "      # الگوی نام فایل‌ها / file name pattern, e.g. export_*.csv\n"
            "      - {property: pattern, value: TODO}\n")
    return head + (
        "    type: custom\n"
        "    description: TODO describe the source\n"
        "    environment: production\n"
        "    customProperties:\n"
        f"      - {{property: connector, value: {connector}}}\n"
        "      # پارامترهای این نوع رابط را از docs/connectors ببینید / see the connector guide for its parameters\n"
        "      - {property: TODO, value: TODO}\n")


def render_template(agency: str, dataset: str, schema: str, connector: str, schemas_dir: Path) -> str:
    """The YAML text of a new contract for `agency.dataset` reading `schema` records via `connector`."""
    _safe("agency", agency), _safe("dataset", dataset), _safe("connector", connector)
    shared = load_schema(_safe("shared schema", schema), schemas_dir)
    fields = schema_fields(schema, schemas_dir)
    required = set(shared.get("required") or [])
    key = next((n for n, _ in fields if n in required), fields[0][0] if fields else "id")
    props = []
    for name, spec in fields:
        title = str(spec.get("title") or name).replace("\n", " ")
        lines = [f"      # {title}",
                 f"      - name: {name}",
                 "        physicalName: TODO",
                 f"        logicalType: {_logical(spec)}",
                 f"        transformLogic: {default_transform(name, spec)}",
                 f"        classification: {'personal' if name in PERSONAL else 'internal'}"]
        if name == key:
            lines += ["        # کلید اصلی: مطمئن شوید در منبع یکتاست / primary key: check it is unique in the source",
                      "        primaryKey: true", "        primaryKeyPosition: 1"]
        if name in required or name == key:
            lines.append("        required: true")
        props.append("\n".join(lines))
    return f"""# قرارداد دادهٔ {agency}.{dataset} — قالب ساخته‌شده با `munihub contracts new`
# Data contract for {agency}.{dataset}, made by `munihub contracts new`.
# هر TODO را پر کنید و سپس `munihub contracts lint` و `munihub contracts test` را اجرا کنید.
# Fill in every TODO, then run `munihub contracts lint` and `munihub contracts test {agency}.{dataset}`.
# فیلدی که در سامانهٔ شما نیست را حذف کنید / delete a field your system does not have.
apiVersion: v3.1.0
kind: DataContract
id: {agency}.{dataset}
name: {dataset}
# نسخه: تغییر شکننده = نسخهٔ اصلی / version: breaking change = major bump (see docs/contracts-guide.md)
version: 0.1.0
status: draft
domain: {agency}
tenant: mashhad
description:
  purpose: TODO توضیح فارسی داده / what this dataset is, in Persian and English
  usage: TODO who uses it in the hub
team:
  name: {agency}
  members:
    # مسئول داده در سازمان / the agency's data steward
    - username: TODO
      name: TODO
      role: owner
servers:
{_server(agency, dataset, connector)}schema:
  - name: {dataset}
    physicalName: {dataset}
    physicalType: table
    description: TODO one row per … (هر سطر یعنی …)
    customProperties:
      # طرح مشترک که رکوردها به آن نگاشت می‌شوند / the shared schema records are mapped onto
      - {{property: sharedSchema, value: {schema}}}
    quality:
      # بار خالی نگه داشته می‌شود / an empty load is held
      - {{metric: rowCount, mustBeGreaterThan: 0, severity: error}}
    # name = فیلد طرح مشترک (تغییر ندهید) / shared-schema field (do not change)
    # physicalName = نام ستون یا فیلد در سامانهٔ شما / your column or field name
    # transformLogic = تبدیل (national_id, mobile, date, person_name, text, …)
    # customProperties valueMap = نگاشت کدهای شما به کدهای طرح مشترک / your codes → shared codes
    properties:
{chr(10).join(props)}
slaProperties:
  # حداکثر عمر داده / the oldest the data may be before it counts as stale
  - {{property: freshness, value: 1, unit: d}}
customProperties:
  # زمان‌بندی (cron یا @daily) / schedule (cron or preset)
  - {{property: schedule, value: "@daily"}}
  - {{property: retries, value: 2}}
  - {{property: pool, value: {agency}}}
"""


def new_contract(agency: str, dataset: str, schema: str, connector: str, contracts_dir: Path,
                 schemas_dir: Path, known_connectors: set[str] | None = None) -> Path:
    """Write `contracts/<agency>/<dataset>.yaml` from the template; never overwrite a file."""
    text = render_template(agency, dataset, schema, connector, schemas_dir)
    if known_connectors is not None and connector not in known_connectors:
        raise ConfigError(f"unknown connector kind {connector!r}",
                          hint=f"known: {', '.join(sorted(known_connectors))}")
    path = Path(contracts_dir) / agency / f"{dataset}.yaml"
    if path.exists():
        raise ConfigError("contract already exists; not overwriting it", where=str(path),
                          hint="edit it, or choose another --dataset")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "x", encoding="utf-8") as fh:  # 'x': a file created meanwhile is not clobbered
        fh.write(text)
    return path


def todo_markers(path: Path) -> list[str]:
    """Every value still saying TODO, as 'file:line: ...' lines (comments do not count)."""
    data, lines = read_yaml(Path(path))
    return contracts_todo_markers(data, lines, Path(path))
