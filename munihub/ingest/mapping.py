"""Map a raw source record onto the shared schema, as the contract's properties say.

Each contract property names a source field (`physicalName`), a shared-schema field
(`name`, dots for nesting) and optionally a transform (`transformLogic`).  A value that a
transform cannot read becomes a reason (JSON pointer, rule, English and Persian message)
and the record goes to quarantine with its raw payload; nothing is dropped.
"""
from __future__ import annotations

import functools

from typing import Any

from munihub.contracts import Contract, Field
from munihub import persian
from munihub.persian.transforms import TRANSFORMS

KEY_SEPARATOR = "|"


PERSIAN_FIELD = {"national_id": "کد ملی", "mobile": "شماره همراه", "postal_code": "کد پستی",
                 "date": "تاریخ", "datetime": "زمان", "integer": "عدد صحیح", "number": "عدد",
                 "gender": "جنسیت", "boolean": "بله/خیر"}


def _get(raw: dict, path: str) -> tuple[bool, Any]:
    value: Any = raw
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return False, None
    return True, value


def _put(record: dict, path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        record = record.setdefault(part, {})
    record[parts[-1]] = value


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _reason(f: Field, rule: str, message: str, message_fa: str) -> dict[str, str]:
    return {"pointer": "/" + f.name.replace(".", "/"), "rule": rule, "message": message,
            "message_fa": message_fa, "field": f.name, "source_field": f.source or ""}


def _lookup(f: Field, value: Any) -> Any:
    """A source code translated by the contract's valueMap; an unknown code passes through as
    written, so validation reports it (a new enum value must be seen, not silently mapped)."""
    return _value_table(f.value_map).get(persian.match_key(str(value)), value)


@functools.lru_cache(maxsize=256)
def _value_table(value_map: tuple) -> dict:
    return {persian.match_key(str(k)): v for k, v in value_map}


def map_field(f: Field, raw: dict) -> tuple[Any, dict | None]:
    """The shared-schema value of one field, or a reason why it could not be read."""
    if f.sources:
        parts = [_get(raw, s)[1] for s in f.sources]
        value = " ".join(str(p) for p in parts if not _empty(p)) or None
    elif f.source is None:
        return None, None
    else:
        _, value = _get(raw, f.source)
    if _empty(value):
        return None, None
    if f.value_map:
        value = _lookup(f, value)
    transform = (f.transform or "").split(":")[0]
    if not transform:
        return value, None
    try:
        return TRANSFORMS[transform](value), None
    except (ValueError, TypeError, ArithmeticError) as exc:
        msg = getattr(exc, "message", None) or str(exc) or exc.__class__.__name__
        fa = getattr(exc, "message_fa", None) or \
            f"مقدار فیلد «{f.name}» به‌عنوان {PERSIAN_FIELD.get(transform, transform)} خوانا نیست"
        return None, _reason(f, f"transform:{transform}", f"{f.name}: {msg}", fa)


def map_record(contract: Contract, raw: dict) -> tuple[dict, list[dict]]:
    """Shared-schema record plus the reasons (empty when every field was read)."""
    record: dict[str, Any] = {}
    reasons: list[dict] = []
    for f in contract.fields:
        value, reason = map_field(f, raw)
        if reason:
            reasons.append(reason)
        elif value is not None:
            _put(record, f.name, value)
        elif f.required:  # the contract's promise, on top of the shared schema's own `required`
            reasons.append(_reason(f, "required", f"{f.name}: required by the contract but empty "
                                   f"(source field {f.source or '+'.join(f.sources)})",
                                   f"فیلد الزامی «{f.name}» خالی است"))
    return record, reasons


def source_key(contract: Contract, record: dict) -> str | None:
    """The record's key in its source: primary-key fields joined by '|' (None if one is missing)."""
    parts = []
    for name in contract.key:
        found, value = _get(record, name)
        if not found or _empty(value):
            return None
        parts.append(str(value))
    return KEY_SEPARATOR.join(parts)
