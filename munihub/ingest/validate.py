"""Validate shared-schema records and explain every failure as a `Reason` (pointer, rule, English, Persian).

Two engines give the same (pointer, rule) pairs: the fast path (`jsonschema_rs`, used in
loads) and the reference path (`jsonschema`, the yardstick in tests).  The fast path asks
`is_valid` first and collects errors only for the few bad records.  Messages are rendered
from the schema, not from engine text, so both engines word them alike, and they never
carry a whole value: format failures show it masked to its last four characters.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from munihub.contracts import formats, schemas
from munihub.contracts.schemas import json_type
from munihub.errors import ConfigError
from munihub.ingest import engines
from munihub.ingest.engines import Pair

ENGINES = ("fast", "reference")


@dataclasses.dataclass(frozen=True)
class Reason:
    """Why one record (or one of its fields) failed its shared schema."""

    pointer: str      # JSON pointer into the record: "/mobile", "/address/postal_code", "" = whole record
    rule: str         # "required", "type", "enum", "maxLength", "format:ir-mobile", …
    message: str      # English, for logs and operators
    message_fa: str   # Persian, for data stewards

    @property
    def field(self) -> str:
        """The field as a dotted shared-schema name (`address.city`), as contracts name it."""
        return ".".join(t.replace("~1", "/").replace("~0", "~") for t in self.pointer.split("/")[1:])

    def to_dict(self) -> dict[str, str]:
        return {"pointer": self.pointer, "rule": self.rule, "message": self.message,
                "message_fa": self.message_fa, "field": self.field}


class RecordValidator:
    """A compiled shared schema: `.errors(record)` lists reasons, `.is_valid(record)` answers fast."""

    def __init__(self, schema: dict, engine: str, folder: str):
        self.schema, self.engine, self.folder = schema, engine, folder
        self.name = str(schema.get("$id", "")).removeprefix(schemas.URN_PREFIX) or "record"
        self._rendered: dict[tuple, Reason] = {}
        self._nodes = _schema_nodes(schema, schemas.load_all(folder))
        # the fast engine is compiled for both: it is the one judge of whether every $ref resolves offline
        fast = engines.compile_fast(schema, folder)
        self._fast = fast if engine == "fast" else None
        self._prefilter = engines.compile_prefilter(schema, folder) if engine == "fast" else None

    @functools.cached_property
    def _reference(self):
        # Compiled on first need (a record the fast engine cannot read, or the "reference"
        # engine): importing jsonschema costs ~0.06 s of CPU, which a sync of plain JSON
        # records never needs.
        return engines.compile_reference(self.schema, self.folder)

    def is_valid(self, record: Any) -> bool:
        if self._prefilter is not None:
            try:
                return self._prefilter.is_valid(record)
            except (ValueError, TypeError, OverflowError):
                pass  # not plain JSON (a date object, an int key): the reference engine judges it
        return self._reference.is_valid(record)

    def errors(self, record: Any) -> list[Reason]:
        """Every reason `record` fails the schema, sorted by pointer; [] when it is valid."""
        if self.is_valid(record):
            return []
        return self.explain_invalid(record)

    def explain(self, record: Any) -> list[Reason]:
        """Reasons for a record already known (or suspected) to be invalid."""
        pairs: Iterable[Pair] | None = None
        if self._fast is not None:
            try:
                pairs = list(engines.fast_pairs(self._fast, record))
            except (ValueError, TypeError, OverflowError):
                pairs = None
        if pairs is None:
            pairs = engines.reference_pairs(self._reference, record)
        unique = sorted(set(pairs), key=lambda p: (_pointer(p[0]), p[1]))
        return [self._reason(path, rule, record) for path, rule in unique]

    def explain_invalid(self, record: Any) -> list[Reason]:
        """Reasons for a record judged invalid: never none, so no caller mistakes it for valid."""
        return self.explain(record) or [self._reason((), "schema", record)]

    def _reason(self, path: tuple, rule: str, record: Any) -> Reason:
        if rule.startswith("format:"):  # the message shows the (masked) value: not cacheable
            return _render(path, rule, record, self._nodes, self.name)
        # Other messages depend only on where, which rule, and (for `type`) the value's type;
        # a bad load repeats the same few, so render each once.
        key = (path, rule, _json_type(_value_at(record, path)) if rule == "type" else None)
        found = self._rendered.get(key)
        if found is None:
            if len(self._rendered) > 4096:
                self._rendered.clear()
            found = self._rendered[key] = _render(path, rule, record, self._nodes, self.name)
        return found


_CACHE: dict[tuple[str, str, str, str], RecordValidator] = {}


def compile_validator(schema: dict | str, *, engine: str = "fast",
                      schemas_dir: str | Path | None = None) -> RecordValidator:
    """A validator for `schema` (a dict, or a shared-schema name), cached by schema id and content."""
    if engine not in ENGINES:
        raise ConfigError(f"unknown validation engine {engine!r}", hint=f"use one of {', '.join(ENGINES)}")
    folder = str(schemas.resolve_schemas_dir(schemas_dir))
    if isinstance(schema, str):
        schema = schemas.load_schema(schema, folder)
    digest = hashlib.sha1(json.dumps(schema, sort_keys=True, default=str).encode()).hexdigest()
    key = (engine, str(schema.get("$id", "")), digest, folder)
    found = _CACHE.get(key)
    if found is None:
        found = _CACHE[key] = RecordValidator(schema, engine, folder)
    return found


@functools.lru_cache(maxsize=64)
def _shared_validator(entity_type: str, schemas_dir: str) -> RecordValidator:
    return compile_validator(entity_type, schemas_dir=schemas_dir)


def errors_of(contract, settings):
    """The record validator for the contract's shared schema, as a function record -> reasons."""
    return _shared_validator(contract.entity_type, str(settings.schemas_dir)).errors


def validate_batch(validator: RecordValidator, records: Iterable[Any]) -> list[list[Reason]]:
    """Reasons per record, in order; the hot path of a load (valid records cost one `is_valid`)."""
    is_valid, explain = validator.is_valid, validator.explain_invalid
    return [[] if is_valid(r) else explain(r) for r in records]


# ---------------------------------------------------------------- messages

def _pointer(path: tuple) -> str:
    return "".join("/" + str(t).replace("~", "~0").replace("/", "~1") for t in path)


def _schema_nodes(schema: dict, known: dict[str, dict], path: tuple = (), depth: int = 0) -> dict[tuple, dict]:
    """Subschema at each record path (with `$ref`s followed), for titles and limits in messages."""
    node = dict(schema)
    ref = node.pop("$ref", None)
    if isinstance(ref, str) and ref.startswith(schemas.URN_PREFIX) and depth < 8:
        target = known.get(ref[len(schemas.URN_PREFIX):].partition("#")[0], {})
        node = {**target, **node}  # the referring site's title wins over the target's
    out = {path: node}
    for name, sub in (node.get("properties") or {}).items():
        if isinstance(sub, dict):
            out.update(_schema_nodes(sub, known, path + (name,), depth + 1))
    return out


def _value_at(record: Any, path: tuple) -> Any:
    for token in path:
        if isinstance(record, dict) and token in record:
            record = record[token]
        elif isinstance(record, list) and isinstance(token, int) and token < len(record):
            record = record[token]
        else:
            return None
    return record


TYPE_FA = {"string": "متن", "integer": "عدد صحیح", "number": "عدد", "object": "شیء",
           "boolean": "بله/خیر", "array": "فهرست", "null": "تهی"}


def _json_type(value: Any) -> str:
    return json_type(value) or type(value).__name__


def _format_messages(fmt: str, value: Any, field: str, label: str) -> tuple[str, str]:
    shown = formats.mask(value)
    if fmt == "ir-national-id":
        problem = formats.national_id_problem(value) if isinstance(value, str) else "length"
        return {
            "length": (f"{field}: national id {shown} must be exactly 10 digits",
                       f"کد ملی {shown} نامعتبر است (باید ۱۰ رقم باشد)"),
            "repeated": (f"{field}: national id {shown} is one digit repeated",
                         f"کد ملی {shown} نامعتبر است (ارقام یکسان)"),
        }.get(problem, (f"{field}: national id {shown} fails its check digit",
                        f"کد ملی {shown} نامعتبر است (رقم کنترل)"))
    table = {
        "ir-mobile": ("mobile {v} is not +989 followed by 9 digits",
                      "شماره همراه {v} نامعتبر است (شکل درست: ‎+989XXXXXXXXX)"),
        "ir-postal-code": ("postal code {v} is not 10 digits (not all the same)",
                           "کد پستی {v} نامعتبر است (باید ۱۰ رقم باشد)"),
        "ir-phone": ("phone {v} is not digits with an optional + and separators",
                     "شماره تلفن {v} نامعتبر است"),
        "date": ("{v} is not a real date written YYYY-MM-DD",
                 "تاریخ {l} نامعتبر است؛ باید روزی واقعی به شکل YYYY-MM-DD باشد ({v})"),
        "date-time": ("{v} is not a real time written YYYY-MM-DDTHH:MM:SS",
                      "زمان {l} نامعتبر است؛ باید به شکل YYYY-MM-DDTHH:MM:SS باشد ({v})"),
        "jalali-date": ("{v} is not a real Jalali date written YYYY/MM/DD",
                        "تاریخ شمسی {l} نامعتبر است؛ چنین روزی در تقویم نیست ({v})"),
        "jalali-period": ("{v} is not a Jalali period like 1403, 1403-08 or 1403-Q2",
                          "دوره {l} نامعتبر است؛ شکل درست: 1403، 1403-08 یا 1403-Q2 ({v})"),
        "email": ("{v} is not an email address", "رایانامه {v} نامعتبر است"),
    }
    en, fa = table.get(fmt, ("{v} is not a valid " + fmt, "مقدار {l} با قالب " + fmt + " سازگار نیست ({v})"))
    return f"{field}: " + en.format(v=shown), fa.format(v=shown, l=label)


def _render(path: tuple, rule: str, record: Any, nodes: dict[tuple, dict], schema_name: str) -> Reason:
    node = nodes.get(path, {})
    field = ".".join(str(t) for t in path) or "(record)"
    label = f"«{node['title']}»" if node.get("title") else f"«{field}»"
    value = _value_at(record, path)
    keyword = rule.partition(":")[0]
    limit = node.get(keyword)
    if rule == "required":
        en, fa = f"required field {field} is missing", f"فیلد الزامی {label} خالی است"
    elif rule == "additionalProperties":
        en = f"{field} is not a field of the shared schema {schema_name}; check the contract's property names"
        fa = f"فیلد «{field}» در طرح مشترک {schema_name} تعریف نشده است"
    elif rule == "type":
        wanted = limit if isinstance(limit, list) else [limit]
        en = f"{field} must be {' or '.join(map(str, wanted))}, not {_json_type(value)}"
        fa = f"مقدار {label} باید {' یا '.join(TYPE_FA.get(str(w), str(w)) for w in wanted)} باشد"
    elif rule == "enum":
        titles = node.get("x-enum-titles") or {}
        allowed = [a if isinstance(a, str) else json.dumps(a, ensure_ascii=False) for a in limit or []]
        en = f"{field} must be one of {', '.join(allowed)}"
        fa = f"مقدار {label} مجاز نیست؛ یکی از این‌ها باشد: " + "، ".join(  # a list or object is no title key
            f"{titles.get(a, a)} ({a})" if isinstance(titles, dict) and a in titles else a for a in allowed)
    elif rule in ("maxLength", "minLength"):
        more = rule == "maxLength"
        en = f"{field} is {'longer' if more else 'shorter'} than {limit} characters"
        fa = (f"{label} بیش از {limit} نویسه است" if more else
              f"{label} خالی است" if limit == 1 else f"{label} کمتر از {limit} نویسه است")
    elif rule in ("minimum", "exclusiveMinimum"):
        en, fa = f"{field} is below the minimum {limit}", f"مقدار {label} کمتر از کمینه {limit} است"
    elif rule in ("maximum", "exclusiveMaximum"):
        en, fa = f"{field} is above the maximum {limit}", f"مقدار {label} بیشتر از بیشینه {limit} است"
    elif rule == "minProperties":
        en, fa = "the record has no fields", "رکورد خالی است؛ هیچ فیلدی پر نشده"
    elif keyword == "format":
        en, fa = _format_messages(rule.partition(":")[2], value, field, label)
    else:
        en, fa = f"{field} fails the rule {rule}", f"مقدار {label} با قاعده {rule} سازگار نیست"
    return Reason(_pointer(path), rule, en, fa)
