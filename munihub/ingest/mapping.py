"""Map a raw source record onto the shared schema, as the contract's properties say.

Each contract property names a source field (`physicalName`), a shared-schema field
(`name`, dots for nesting) and optionally a transform (`transformLogic`).  A value that a
transform cannot read becomes a reason (JSON pointer, rule, English and Persian message).
If the field is essential (`Field.must_read`: the key, required, or marked essential) the
record goes to quarantine with its raw payload; otherwise the value is *set aside* (kept
with its reason for stewards) and the record goes on without it.  Nothing is dropped.
A phone is filed by what it is: a mobile under `mobile`, a landline under `phone`.
"""
from __future__ import annotations

import functools
from typing import Any

from munihub.contracts import Contract, Field
from munihub.ingest.connector import Rows
from munihub import persian
from munihub.persian.transforms import NUMBER_TRANSFORMS, PHONE_TRANSFORMS, SEVERAL_PHONES_FROM, phones_read, reader

KEY_SEPARATOR = "|"


PERSIAN_FIELD = {"national_id": "کد ملی", "mobile": "شماره همراه", "postal_code": "کد پستی",
                 "date": "تاریخ", "datetime": "زمان", "integer": "عدد صحیح", "number": "عدد",
                 "gender": "جنسیت", "boolean": "بله/خیر"}


def _get(raw: dict, path: str) -> tuple[bool, Any]:
    """(found, value) of a physicalName in a source record: dots go into nested objects and a
    number (or `[n]`) into a list, `caller.phones.0.number` or `caller.phones[0].number`."""
    if raw.__class__ is dict and path in raw:  # a column whose name has a dot: «ش.ملی», «تاریخ (ه.ش)»
        return True, raw[path]
    value: Any = raw
    for part in _parts(path):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return False, None
    return True, value


@functools.lru_cache(maxsize=1024)
def _parts(path: str) -> tuple[str, ...]:
    return tuple(path.replace("[", ".").replace("]", "").split(".")) if "[" in path else tuple(path.split("."))


def _put(record: dict, path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        record = record.setdefault(part, {})
    record[parts[-1]] = value


# What a database tool writes for a missing value in a text export: SQL Server's «NULL», a
# dataframe's «NaN».  No field holds them as a value; read as one they became a 137 call's
# `refers_to` «NULL» (a tracking code every such call quoted), a district named «NULL».
NULL_WORDS = frozenset({"NULL", "null", "Null", "NaN", "nan"})


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and (not value.strip() or value.strip() in NULL_WORDS))


def _reason(f: Field, rule: str, message: str, message_fa: str) -> dict[str, str]:
    return {"pointer": "/" + f.name.replace(".", "/"), "rule": rule, "message": message,
            "message_fa": message_fa, "field": f.name, "source_field": f.source or ""}


def _lookup(f: Field, value: Any) -> Any:
    """A source code translated by the contract's valueMap; a value that is already one of the
    codes it maps to passes as it is, and any other is `UNMAPPED` (`map_field` sets it aside
    with its reason: a new code must be seen, never passed on unmapped or guessed)."""
    table, targets = _value_table(f.value_map)
    key = persian.match_key(str(value))
    if key in table:
        return table[key]
    return value if key in targets else UNMAPPED


UNMAPPED = object()  # `_lookup`'s answer for a code its valueMap does not name


@functools.lru_cache(maxsize=256)
def _value_table(value_map: tuple) -> tuple[dict, frozenset]:
    return ({persian.match_key(str(k)): v for k, v in value_map},
            frozenset(persian.match_key(str(v)) for _, v in value_map))


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
        code, value = value, _lookup(f, value)
        if value is UNMAPPED:
            known = ", ".join(str(k) for k, _ in f.value_map[:8]) + (", …" if len(f.value_map) > 8 else "")
            return None, _reason(f, "valueMap", f"{f.name}: code {code!r} is not in the contract's valueMap "
                                 f"(it names {known}); add it there",
                                 f"کد «{code}» در valueMap قرارداد برای فیلد «{f.name}» نیست")
    transform = (f.transform or "").split(":")[0]
    if not transform:
        return value, None
    try:
        return reader(f.transform)(value), None
    except (ValueError, TypeError, ArithmeticError) as exc:
        if transform in NUMBER_TRANSFORMS and persian.no_number(value):
            return None, None  # «ندارد», «-», «0000000000»: nobody's number, absent (not set aside)
        msg = getattr(exc, "message", None) or str(exc) or exc.__class__.__name__
        fa = getattr(exc, "message_fa", None) or \
            f"مقدار فیلد «{f.name}» به‌عنوان {PERSIAN_FIELD.get(transform, transform)} خوانا نیست"
        return None, _reason(f, f"transform:{transform}", f"{f.name}: {msg}", fa)


@functools.lru_cache(maxsize=256)
def _is_phone(transform: str) -> bool:
    return transform.partition(":")[0] in PHONE_TRANSFORMS


def raw_value(f: Field, raw: dict) -> Any:
    """The value a field reads as the source wrote it (several source fields: a dict of them)."""
    if f.sources:
        return {s: _get(raw, s)[1] for s in f.sources}
    return _get(raw, f.source)[1] if f.source is not None else None


def set_aside(f: Field, reason: dict, raw: dict) -> dict:
    """A value kept out of its record: the reason plus the raw value, for stewards to replay."""
    return {**reason, "value": raw_value(f, raw)}


def phone_field(name: str, value: str) -> str:
    """Where a read phone belongs: a mobile (+989…) under `mobile`, anything else under
    `phone` (the landline), beside the contract's own field (`address.mobile` → `address.phone`)."""
    parent, _, _ = name.rpartition(".")
    target = "mobile" if value.startswith("+989") else "phone"
    return f"{parent}.{target}" if parent else target


def _numbers(f: Field, raw: dict, value: str) -> list[str]:
    """The number a phone field read, then any other it holds («۰۹۱۵… - ۰۵۱۳۸…»): the reader
    gave its mobile, and the landline beside it is filed under `phone` (a second number of the
    same kind is set aside as `phone:second`, so nothing the field held is lost)."""
    written = raw_value(f, raw)
    if written.__class__ is not str or len(written) < SEVERAL_PHONES_FROM:
        return [value]
    return [value, *(n for n in phones_read(f.transform, written) if n != value)]


def map_record(contract: Contract, raw: dict) -> tuple[dict, list[dict], list[dict]]:
    """(shared-schema record, reasons to quarantine it, values set aside); a record with no
    reasons is published, without its set-aside values."""
    record: dict[str, Any] = {}
    reasons: list[dict] = []
    aside: list[dict] = []
    moved: list[tuple[Field, str, str]] = []
    for f in contract.fields:
        value, reason = map_field(f, raw)
        if reason:
            if f.must_read:
                reasons.append(reason)
            else:
                aside.append(set_aside(f, reason, raw))
        elif value is not None:
            if f.transform and _is_phone(f.transform) and not f.must_read:
                for number in _numbers(f, raw, value):
                    # a field another phone column already filled (two columns named `mobile`)
                    # is filed as moved: a second number set aside, never written over
                    if number == value and phone_field(f.name, value) == f.name and not _get(record, f.name)[0]:
                        _put(record, f.name, value)
                    else:  # filed after the fields the contract maps there
                        moved.append((f, phone_field(f.name, number), number))
            else:
                _put(record, f.name, value)
        if f.required and value is None and not reason:  # the contract's promise, on top of the schema's
            reasons.append(_reason(f, "required", f"{f.name}: required by the contract but empty "
                                   f"(source field {f.source or '+'.join(f.sources)})",
                                   f"فیلد الزامی «{f.name}» خالی است"))
    if "latitude" in record and "longitude" in record:
        _unswap(record, getattr(contract, "entity_type", None))
    for f, target, value in moved:
        found, there = _get(record, target)
        if not found:
            _put(record, target, value)
        elif there != value:
            kind, kind_fa = ("a mobile", "همراه") if target.endswith("mobile") else ("a landline", "تلفن ثابت")
            aside.append(set_aside(f, _reason(
                f, "phone:second", f"{f.name}: holds {kind} but the record already has another in {target}",
                f"«{f.name}» شمارهٔ {kind_fa} دارد ولی رکورد در «{target}» شمارهٔ دیگری دارد"), raw))
    return record, reasons, aside


@functools.lru_cache(maxsize=16)
def _coordinate_bounds(entity_type: str | None) -> tuple[float, float, float, float] | None:
    """(latitude min, max, longitude min, max) the shared schema allows (Iran's), or None."""
    from munihub.contracts.schemas import schema_fields
    from munihub.errors import ConfigError

    if not entity_type:
        return None
    try:
        spec = dict(schema_fields(entity_type))
    except ConfigError:
        return None
    lat, lon = spec.get("latitude") or {}, spec.get("longitude") or {}
    bounds = (lat.get("minimum"), lat.get("maximum"), lon.get("minimum"), lon.get("maximum"))
    return bounds if None not in bounds else None


def _unswap(record: dict, entity_type: str | None) -> None:
    """Latitude and longitude written in each other's columns («عرض 59.48، طول 36.34», a
    common slip of a 137 form), read back in place: the two ranges of Iran do not overlap, so
    a pair that fits only the other way round is swapped, not both set aside (the call kept
    its place; found by bench_blind6).  Anything else is left for the schema to judge."""
    lat, lon, bounds = record["latitude"], record["longitude"], _coordinate_bounds(entity_type)
    if bounds is None or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lat, lon)):
        return
    lat_min, lat_max, lon_min, lon_max = bounds
    if not (lat_min <= lat <= lat_max and lon_min <= lon <= lon_max) and \
            lat_min <= lon <= lat_max and lon_min <= lat <= lon_max:
        record["latitude"], record["longitude"] = lon, lat


# The key a registry row without one is kept under for person matching alone (a contract
# keyed by its primary key, a national id say, and a row whose key is empty: a child, a
# foreign national, a clerk's omission): `publish._keep_held`.  No key a source writes
# starts with '#': a row's key is its values, and `earlier_ref` names each such copy by its
# content hash.
KEYLESS = "#keyless"
# Where such a held citizen's record keeps the values its readers refused ([{field, rule,
# value}], as written): matching reads them as it reads a published row's set-aside values
# (`resolve.records`); no schema field starts with '#'.
REFUSED = "#refused"


def source_key(contract: Contract, record: dict, raw: dict | None = None) -> str | None:
    """The record's key in its source, joined by '|' (None if a part is missing): the source's
    own record id (`recordId` fields of the raw record, digits made Latin) when the contract
    names one, else the primary-key fields of the shared-schema record."""
    if contract.record_id:
        return key_of(contract.record_id, raw, from_source=True)
    key = key_of(contract.key, record, from_source=False)
    if key is None and raw is not None:  # a key value its reader refused: the row keyed as written
        key = _key_as_written(contract, record, raw)
    return key


def _key_as_written(contract: Contract, record: dict, raw: dict) -> str | None:
    """The primary key with each part its reader refused (`Field.must_read`: set aside) taken
    as the source wrote it, digits made Latin; None if a part is empty."""
    parts = []
    for name in contract.key:
        found, value = _get(record, name)
        if found and not _empty(value):
            parts.append(str(value))
            continue
        f = contract.field(name)
        written = raw_value(f, raw) if f is not None and f.transform and not f.sources else None
        if _empty(written) or isinstance(written, (dict, list)):
            return None
        parts.append(persian.to_latin_digits(str(written)).strip())
    return KEY_SEPARATOR.join(parts)


def key_of(fields, values: dict | None, *, from_source: bool) -> str | None:
    """The '|'-joined key `fields` give `values` (None if a part is missing): source fields
    (`from_source`, a record id) are read as the source wrote them, digits made Latin."""
    parts = []
    for name in fields:
        found, value = _get(values or {}, name)
        if not found or _empty(value):
            return None
        parts.append(persian.to_latin_digits(str(value)).strip() if from_source else str(value))
    return KEY_SEPARATOR.join(parts)


def source_names(contract: Contract, present: set[str] = frozenset()) -> set[str]:
    """The top-level source fields the contract reads (a dotted name's first part, unless the
    source has a column of that whole name: `present`, a header's «ش.ملی»)."""
    names = set(contract.record_id or ())
    for f in contract.fields:
        names.update(f.sources or ((f.source,) if f.source else ()))
    keys = {persian.match_key(c) for c in present if "." in c}  # «ش.ملي» in a Windows-1256 header
    return {n if n in present or ("." in n and persian.match_key(n) in keys) else _parts(n)[0] for n in names if n}


def _columns_of(records: list) -> set[str]:
    """The column names the batch's records have (every record's, as a sparse JSON source's
    records each carry some)."""
    if records.__class__ is Rows:  # every record has every column
        return {k for k in records.columns if isinstance(k, str)} if len(records) else set()
    present: set[str] = set()
    for raw in records:
        if isinstance(raw, dict):
            present.update(k for k in raw if isinstance(k, str))
    return present


def column_renames(wanted: set[str], records: list) -> dict[str, str]:
    """Source columns spelled otherwise than the contract names them -> the contract's name.

    An export written in Windows-1256 has the Arabic «ي»/«ك» in its header where the agency's
    contract has «ی»/«ک»; Excel puts a half-space or two spaces where the contract has one, a
    CSV saved "UTF-8" keeps its byte-order mark on the first column.  Without this, such a
    column reads as absent in every record, and nothing says so.  A column is renamed only
    when the contract's exact name is missing and exactly one column has the same
    `persian.match_key` (letters, digits and case folded, spaces, half-spaces and marks dropped)."""
    present = _columns_of(records)
    missing = wanted - present
    if not missing:
        return {}
    by_key: dict[str, list[str]] = {}
    for column in present - wanted:
        by_key.setdefault(persian.match_key(column), []).append(column)
    renames = {}
    for name in missing:
        found = by_key.get(persian.match_key(name), [])
        if len(found) == 1 and persian.match_key(name):
            renames[found[0]] = name
    return renames


def absent_columns(wanted: set[str], records: list, titled=None) -> str | None:
    """What a batch lacks of the columns the contract reads, said with the nearest column
    the source has (a physicalName spelt otherwise, or a column named as the shared field's
    Persian title when `titled` {source name: title}, or a function giving it only when
    a column is missing, gives one), or None when every one is there."""
    import difflib

    present = _columns_of(records)
    missing = sorted(wanted - present)
    if not missing:
        return None
    titled = titled() if callable(titled) else titled
    by_key = {persian.match_key(c): c for c in present}
    parts = []
    for name in missing:
        title = (titled or {}).get(name)
        near = difflib.get_close_matches(name, sorted(present), n=1, cutoff=0.6) or \
            ([c for c in [by_key.get(persian.match_key(title))] if c] if title else [])
        parts.append(f"{name!r}" + (f" (the source has {near[0]!r})" if near else ""))
    return (f"column(s) {', '.join(parts)} named by the contract are in none of the first {len(records)} "
            f"record(s) and read as empty; check the properties' physicalName")


def _titles(contract: Contract) -> dict[str, str]:
    """Source name -> the Persian title of the shared field it is read into («کد ملی» for
    national_id): a contract that wrote the field's name, `national_id`, as the physicalName of a
    Persian export is told which column the source has for it."""
    from munihub.contracts.schemas import schema_fields
    from munihub.errors import ConfigError
    try:
        titles = {field: str(spec.get("title") or "") for field, spec in schema_fields(contract.entity_type)}
    except ConfigError:
        return {}
    return {f.source: titles[f.name] for f in contract.fields if f.source and titles.get(f.name)}


def absent_paths(contract: Contract, records: list) -> str | None:
    """What a batch lacks of the nested fields the contract reads (`caller.phones.number`
    where `phones` is a list, which needs its index: `caller.phones.0.number`), when their
    top-level column is there; None when each is found in some record."""
    present = _columns_of(records)
    paths = sorted({s for f in contract.fields for s in (f.sources or ((f.source,) if f.source else ()))
                    if s and ("." in s or "[" in s) and s not in present})
    rows = [raw for raw in records if isinstance(raw, dict)] if records.__class__ is not Rows else []
    missing = [p for p in paths if rows and not any(_get(raw, p)[0] for raw in rows)]
    if not missing:
        return None
    return (f"nested field(s) {', '.join(map(repr, missing))} named by the contract are in none of the first "
            f"{len(rows)} record(s) and read as empty; check the properties' physicalName (a list needs "
            f"its index: a.0.b)")


def named_as_contract(contract: Contract, batches):
    """`batches` with their records' columns named as the contract spells them (`column_renames`,
    decided on the first batch that has records; a source keeps its header for a whole read)."""
    import dataclasses
    import logging

    renames = None
    log = logging.getLogger(__name__)
    for batch in batches:
        if renames is None and batch.records:
            wanted = source_names(contract, _columns_of(batch.records))
            renames = column_renames(wanted, batch.records)
            if renames:
                log.info("%s: columns read under the contract's spelling: %s", contract.id,
                         ", ".join(f"{k!r} as {v!r}" for k, v in sorted(renames.items())))
            absent = absent_columns(wanted - set(renames.values()), batch.records, lambda: _titles(contract)) \
                or absent_paths(contract, batch.records)
            if absent:  # a misspelt physicalName would otherwise read as empty in every record, silently
                log.warning("%s: %s: %s", contract.id, batch.where, absent)
        if renames and batch.records.__class__ is Rows:  # the columns renamed, no record made
            batch = dataclasses.replace(batch, records=Rows(
                {renames.get(k, k): v for k, v in batch.records.columns.items()}, len(batch.records)))
        elif renames:
            batch = dataclasses.replace(batch, records=[
                {renames.get(k, k): v for k, v in raw.items()} if isinstance(raw, dict) else raw
                for raw in batch.records])
        yield batch
