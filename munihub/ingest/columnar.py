"""Map and validate a batch a column at a time: each distinct value read and judged once.

A batch of 5,000 records from a city system holds a few dozen first names, two genders and
a handful of districts; read record by record, every one of them was normalized, validated
and encoded again (64 % of a full sync).  Here each field's column is read in one pass and
each distinct text value goes once through the contract's transform, the compiled check of
its shared-schema node (`value_checks`) and the JSON encoder; a record is then only a join
of its fields' JSON fragments, hashed as `store.record_hash` would hash its dict.

Only the plain case takes this path: a record whose every field was read, judged valid and
stays where the contract puts it.  Any other record (a value that failed a transform or its
schema, an empty required field, a landline filed away from a mobile column, a key missing,
a value that is not plain JSON) goes back through `stage.check_record`, the one place that
writes reasons and sets values aside, so quarantine and set-aside are exactly what they were.
`tests/test_columnar.py` holds both paths to the same staged rows.
"""
from __future__ import annotations

import hashlib
import math
import operator
from collections.abc import Callable
from itertools import repeat
from json.encoder import encode_basestring  # json.dumps(s, ensure_ascii=False) for one str, in C
from typing import Any

from munihub import persian
from munihub.contracts import Contract, Field
from munihub.ingest.connector import Rows
from munihub.ingest import value_checks
from munihub.ingest.mapping import KEY_SEPARATOR, NULL_WORDS, UNMAPPED, _empty, _get, _is_phone, _lookup, phone_field
from munihub.persian.transforms import COLUMN_PROVES, SEVERAL_PHONES_FROM, column_reader, phones_read, reader

SLOW = object()      # this value sends its record through stage.check_record
_FRAGMENTS = {tuple}  # the types of a column whose every value was read: (fragment, value) pairs
_FRAGMENT = operator.itemgetter(0)
_VALUE = operator.itemgetter(1)
_HEXDIGEST = operator.methodcaller("hexdigest")
CACHE_LIMIT = 4_096  # distinct values kept per field across batches (a column of unique ids: one batch)
UNCACHED_BATCHES = 8  # batches read without the cache after one whose values were 90 % new


def _plain_json(value: Any) -> str | None:
    """The JSON text json.dumps(ensure_ascii=False) writes for a plain value; None for a value
    the store's JSON columns would not take as it is (NUL, lone surrogates, NaN, huge ints)."""
    cls = value.__class__
    if cls is str:
        if "\x00" in value:
            return None
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return None
        return encode_basestring(value)
    if cls is bool:
        return "true" if value else "false"
    if cls is int:
        return str(value) if -2 ** 63 <= value < 2 ** 63 else None
    if cls is float:
        return float.__repr__(value) if math.isfinite(value) else None
    return None


def _utf8(text: str) -> bool:
    """Whether `text` encodes to UTF-8 (no lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _FieldReader:
    """One contract field read a column at a time; `results(records)` gives per record None
    (no value), SLOW, or (`"name":value` JSON fragment, value)."""

    def __init__(self, f: Field, check: Callable[[Any], bool], column_check: Callable[[list], bool] | None = None,
                 proven_check: Callable[[list], bool] | None = None):
        self.f, self.check = f, check
        # the check asked of a whole column of text at once (`value_checks.text_column_check`), and
        # the same without the format a column reader's values are known to have (`COLUMN_PROVES`)
        self.column_check = column_check or (lambda values: all(map(check, values)))
        self.proven_check = proven_check or self.column_check
        self.key_json = encode_basestring(f.name.rpartition(".")[2])
        self.read = reader(f.transform) if (f.transform or "").split(":")[0] else None
        self.read_column = column_reader(f.transform) if self.read is not None else None
        self.phone = bool(f.transform) and _is_phone(f.transform) and not f.must_read
        self.absent = SLOW if f.required else None
        self.cache: dict[str, Any] = {}
        self.uncached = 0  # batches still to read without the cache
        # where phone_field files a mobile (+989…) and any other number read for this field:
        # both here, one, or neither (every phone value then goes value by value)
        self.phone_kinds = (phone_field(f.name, "+989") == f.name, phone_field(f.name, "") == f.name)

    def column(self, records: list) -> list:
        f = self.f
        if f.sources:
            out = []
            for raw in records:
                parts = [_get(raw, s)[1] for s in f.sources]
                out.append(" ".join(str(p) for p in parts if not _empty(p)) or None)
            return out
        if f.source is None:
            return [None] * len(records)
        if ("." in f.source or "[" in f.source) and not (records.__class__ is Rows and f.source in records.columns):
            return [_get(raw, f.source)[1] for raw in records]
        name = f.source
        if records.__class__ is Rows:  # the connector's column itself, no record made
            found = records.columns.get(name)
            return found if found is not None else [None] * len(records)
        return [raw.get(name) for raw in records]

    def outcome(self, value: Any) -> Any:
        if value is None or _empty(value):
            return self.absent
        f = self.f
        if f.value_map:
            value = _lookup(f, value)
            if value is UNMAPPED:
                return SLOW  # its reason is `mapping.map_field`'s
        if self.phone and value.__class__ is str and len(value) >= SEVERAL_PHONES_FROM \
                and len(phones_read(f.transform, value)) > 1:
            return SLOW  # a second number, which `mapping.map_record` files
        if self.read is not None:
            try:
                value = self.read(value)
            except (ValueError, TypeError, ArithmeticError):
                return SLOW
        if value is None:
            return self.absent
        if self.phone and phone_field(f.name, value) != f.name:
            return SLOW
        if value.__class__ is str and value.isascii() and "\x00" not in value:
            text = encode_basestring(value)  # the common case of _plain_json, without its call
        else:
            text = _plain_json(value)
        if text is None or not self.check(value):
            return SLOW
        return self.key_json + ":" + text, value

    def outcomes(self, values: list) -> list:
        """`[self.outcome(v) for v in values]`, a column at a time when every value is text
        that reads, stays text and passes (a column of ids, phones or addresses: one call of
        the transform and one of the check per value, the rest in C); any other column value
        by value, so each outcome is exactly `outcome`'s."""
        f = self.f
        if f.value_map or set(map(type, values)) != {str} or not all(map(str.strip, values)) \
                or not NULL_WORDS.isdisjoint(map(str.strip, values)):
            return [self.outcome(value) for value in values]  # a blank value is absent, a map looked up
        read, column_check = values, self.column_check
        if self.read_column is not None:  # ids, mobiles, postal codes as registries write them: no call per value
            read = self.read_column(values)
            column_check = self.proven_check
        if self.phone and read is None and max(map(len, values)) >= SEVERAL_PHONES_FROM:
            return [self.outcome(value) for value in values]  # a value may hold a second number
        if read is None or (self.read is not None and self.read_column is None):
            column_check = self.column_check
            try:
                read = list(map(self.read, values))
            except (ValueError, TypeError, ArithmeticError):
                return [self.outcome(value) for value in values]
        if set(map(type, read)) != {str}:
            return [self.outcome(value) for value in values]  # absent (None) or not text
        if self.phone:
            mobile, other = self.phone_kinds
            if not (mobile and other):
                mobiles = sum(map(operator.methodcaller("startswith", "+989"), read))
                if mobiles != (len(read) if mobile else 0) or not (mobile or other):
                    return [self.outcome(value) for value in values]  # filed elsewhere: value by value
        joined = "".join(read)
        if "\x00" in joined or not (joined.isascii() or _utf8(joined)) or not column_check(read):
            return [self.outcome(value) for value in values]
        return list(zip(map((self.key_json + ":").__add__, map(encode_basestring, read)), read))

    def results(self, records: list) -> list:
        values = self.column(records)
        if self.uncached:  # a column of distinct values (ids, phones, addresses): a cache only costs
            self.uncached -= 1
            return self.outcomes(values)
        cache, outcome = self.cache, self.outcome
        if len(cache) > CACHE_LIMIT:
            cache.clear()
        out = []
        append = out.append
        before = len(cache)
        for value in values:
            if value.__class__ is str:  # only text is cached: 1, 1.0 and True are equal keys
                found = cache.get(value)
                if found is None:  # not seen yet (a value read as absent is kept as False)
                    found = cache[value] = outcome(value)
                    if found is None:
                        found = cache[value] = False
                append(found if found is not False else None)
            else:
                append(outcome(value))
        if len(values) >= 1000 and len(cache) - before > 0.9 * len(values):
            self.uncached = UNCACHED_BATCHES  # then looked at again, in case the values start repeating
        return out


class ColumnPlan:
    """A contract's fields laid out for column-at-a-time staging (see `plan_for`)."""

    def __init__(self, contract: Contract, fields: list[_FieldReader], shapes: dict[tuple, Callable]):
        self.contract, self.fields, self.shapes = contract, fields, shapes
        tops: dict[str, list[int]] = {}
        for i, r in enumerate(fields):
            tops.setdefault(r.f.name.split(".")[0], []).append(i)
        # groups in the order map_record first puts each top-level key (the stored text), and sorted
        # by key at each level (the hashed text, as json.dumps(sort_keys=True) writes it)
        self.stored = [self._group(top, idx) for top, idx in tops.items()]
        self.hashed = [self._group(top, sorted(idx, key=lambda i: fields[i].f.name))
                       for top, idx in sorted(tops.items())]
        self.tops = [(top, idx) for top, idx in tops.items()]
        self._forms: dict[int, tuple] = {}
        if contract.record_id:
            self.key_fields = None
            self.id_cache: dict[str, str] = {}
        else:
            by_name = {r.f.name: i for i, r in enumerate(fields)}
            self.key_fields = [by_name[k] for k in contract.key]

    def _group(self, top: str, idx: list[int]):
        if len(idx) == 1 and "." not in self.fields[idx[0]].f.name:
            return idx[0]
        return encode_basestring(top), idx

    def _form(self, mask: int):
        """For records missing the fields in `mask` (bit j: field j absent): whether their key
        set passes the schema, and the %-templates and getters writing their stored and hashed
        JSON from the fields' fragments (built once per set of present fields, a handful a load)."""
        found = self._forms.get(mask)
        if found is None:
            present = [not (mask >> j) & 1 for j in range(len(self.fields))]
            ok = self.shapes[()]({top for top, idx in self.tops if any(present[i] for i in idx)})
            for top, idx in self.tops:
                subs = {self.fields[i].f.name.split(".")[1] for i in idx if present[i] and "." in self.fields[i].f.name}
                if subs:
                    ok = ok and self.shapes[(top,)](subs)
            found = self._forms[mask] = (ok, _template(self.hashed, present), _template(self.stored, present))
        return found

    def _record_ids(self, records: list) -> list:
        names, cache, out = self.contract.record_id, self.id_cache, []
        if len(cache) > CACHE_LIMIT:
            cache.clear()
        for raw in records:
            parts = []
            for name in names:
                found, value = _get(raw, name)
                if not found or _empty(value):
                    parts = None
                    break
                text = str(value)
                part = cache.get(text)
                if part is None:
                    part = cache[text] = persian.to_latin_digits(text).strip()
                parts.append(part)
            out.append(KEY_SEPARATOR.join(parts) if parts is not None else None)
        return out

    def stage_batch(self, records: list, keep_order: bool = True) -> list[tuple[str, str, str, int] | None]:
        """Per record (source key, record JSON as stored, record hash, absent fields), or None
        for a record `stage.check_record` must map and judge itself.  Without `keep_order` the
        stored JSON is the hashed text, keys sorted (for jsonb, which keeps no order: one join
        less), and in a batch whose every record has every field the JSON and hash come as
        UTF-8 bytes (`stage` COPYs them as they are).  Absent fields are a mask over
        `self.fields` (bit j: field j not in the record, so null to the dataset checks, which
        staging counts: `stage.NullTally`)."""
        plain = records.__class__ is Rows or all(raw.__class__ is dict for raw in records)
        if not plain:
            records = [raw if raw.__class__ is dict else {} for raw in records]
        columns = [r.results(records) for r in self.fields]
        ids = self._record_ids(records) if self.key_fields is None else None
        n = len(records)
        skip = set() if plain else {i for i, raw in enumerate(records) if raw == {}}
        masks = [0] * n
        frags = []
        for j, col in enumerate(columns):
            if set(map(type, col)) == _FRAGMENTS:  # every value read (one C pass, not two scans and a loop)
                frags.append(list(map(_FRAGMENT, col)))
                continue
            if SLOW in col:
                skip.update(i for i, r in enumerate(col) if r is SLOW)
            if None in col:
                bit = 1 << j
                for i in [i for i, r in enumerate(col) if r is None]:
                    masks[i] |= bit
            frags.append([r[0] if r.__class__ is tuple else r for r in col])
        if self.key_fields is None:
            keys = ids
        elif len(self.key_fields) == 1:
            col = columns[self.key_fields[0]]
            keys = list(map(_VALUE, col)) if set(map(type, col)) == _FRAGMENTS else None
            if keys is None or set(map(type, keys)) != {str}:  # (a key read as text: str() of it is itself)
                keys = [str(p[1]) if p.__class__ is tuple else None for p in col]
        else:
            keys = [None if None in parts or SLOW in parts else KEY_SEPARATOR.join(str(p[1]) for p in parts)
                    for parts in zip(*(columns[j] for j in self.key_fields))]
        sha256, form = hashlib.sha256, self._form
        if not skip and not any(masks) and None not in keys:
            # the common batch: every record has every field and a key, one template for all
            ok, (hashed, _, hashed_order), (stored, _, stored_order) = form(0)
            if ok:
                # A column of texts, each one C-level format of its fragments zipped in template
                # order, then hashed through chained maps: no Python-level call per record
                texts = _formatted(hashed, hashed_order, frags, n)
                if keep_order:
                    digests = list(map(_HEXDIGEST, map(sha256, map(str.encode, texts))))
                    return list(zip(keys, _formatted(stored, stored_order, frags, n), digests, repeat(0, n)))
                # Stored as hashed, so the bytes hashed are the bytes staged (PostgreSQL's binary
                # COPY, `store.staged_copy_binary`): the texts are encoded once, not again for COPY
                encoded = list(map(str.encode, texts))
                digests = list(map(str.encode, map(_HEXDIGEST, map(sha256, encoded))))
                return list(zip(keys, encoded, digests, repeat(0, n)))
        out: list[tuple[str, str, str] | None] = []
        for i, row in enumerate(zip(*frags)):
            key = keys[i]
            if key is None or i in skip:
                out.append(None)
                continue
            ok, (hashed, get_hashed, _), (stored, get_stored, _) = form(masks[i])
            if not ok:
                out.append(None)
                continue
            text = hashed % get_hashed(row)
            digest = sha256(text.encode("utf-8")).hexdigest()
            out.append((key, stored % get_stored(row) if keep_order else text, digest, masks[i]))
        return out


def _formatted(template: str, order: list[int], frags: list[list], n: int) -> list[str]:
    """`template % row` for each of the `n` rows of the fragment columns `frags`, taken in
    `order`, without a row tuple made and then picked from."""
    if not order:
        return [template % ()] * n
    return list(map(template.__mod__, zip(*[frags[j] for j in order])))


def _template(groups: list, present: list[bool]) -> tuple[str, Callable, list[int]]:
    """A record's JSON as a %-template over its present fields' fragments, the getter
    handing them in template order, and that order (field indices): the per-record work is
    then one C-level format."""
    parts, order = [], []
    for g in groups:
        if g.__class__ is int:
            if present[g]:
                parts.append("%s")
                order.append(g)
        else:
            inner = [j for j in g[1] if present[j]]
            if inner:
                parts.append(g[0].replace("%", "%%") + ":{" + ",".join(["%s"] * len(inner)) + "}")
                order += inner
    template = "{" + ",".join(parts) + "}"
    if len(order) == 1:
        only = order[0]
        return template, lambda row: (row[only],), order
    return template, (operator.itemgetter(*order) if order else lambda row: ()), order


def plan_for(contract: Contract, errors_of: Callable) -> ColumnPlan | None:
    """The column plan of `contract` when `errors_of` is a compiled shared schema's `errors`
    (`validate.errors_of`) that compiles into value checks; None means record by record."""
    from munihub.ingest.validate import RecordValidator

    validator = getattr(errors_of, "__self__", None)
    if not isinstance(validator, RecordValidator) or not contract.fields:
        return None
    names = [f.name for f in contract.fields]
    paths = [tuple(n.split(".")) for n in names]
    if len(set(names)) != len(names) or any(len(p) > 2 or "" in p for p in paths):
        return None
    tops = {p[0] for p in paths if len(p) == 2}
    if any(len(p) == 1 and p[0] in tops for p in paths):
        return None  # a field that is both a value and an object: map_record decides, record by record
    if not contract.record_id and not set(contract.key) <= set(names):
        return None
    found = value_checks.field_nodes(validator.schema, paths, validator.folder)
    if found is None:
        return None
    nodes, shapes, known = found
    checks = {p: value_checks.compile_node(node, known) for p, node in nodes.items()}
    if None in checks.values():
        return None
    readers = []
    for f, p in zip(contract.fields, paths):
        proven = COLUMN_PROVES.get((f.transform or "").partition(":")[0])
        readers.append(_FieldReader(f, checks[p], value_checks.text_column_check(nodes[p], known),
                                    value_checks.text_column_check(nodes[p], known, proven) if proven else None))
    return ColumnPlan(contract, readers, shapes)
