"""A page of records projected column by column, and pseudonyms computed a column at a time.

A page's records nearly always share their fields, so the grant is decided once per field, a
field's pseudonyms are made in one loop over the page, and each record is rebuilt in one step
from its kept values, instead of walking every record field by field.  The answer is the one
`munihub.gateway.grants.projector` gives record by record, which still serves the pages whose
records differ in shape (a field missing in one, a nested object that is null in another).
"""
from __future__ import annotations

import functools
import hashlib
from operator import itemgetter
from typing import Any, Callable

from munihub.masking import mask_value

__all__ = ["pseudonym_column", "page_projector", "MEMO_SIZE"]

MEMO_SIZE = 2048  # recent pseudonyms kept per column: between 2048 and 4096 values


@functools.lru_cache(maxsize=128)
def pseudonym_column(key: bytes | None, agency_id: str, field: str) -> Callable[[Any], list]:
    """`values -> [pseudonym(v, agency_id=..., field=..., key=...) or None for None]`, for one column.

    HMAC-SHA256 as RFC 2104 builds it, with the keyed pads and the `agency|field|` prefix hashed
    once per column: each value then costs two hash-state copies instead of an HMAC set-up
    (OpenSSL 3 makes that set-up the dearest part of a short message's HMAC).

    One function per (key, agency, field) per worker (at most 128 kept), remembering
    the pseudonyms of its recent string values in two generations of MEMO_SIZE (the older one
    is dropped when the newer fills, and a value found there moves to the newer): a district
    or a birth date repeats down a page, and a page is often read again soon (several clients
    walking one dataset, a retried request).  The newer generation is looked up for the whole
    column in one C loop; only the values it misses take a turn of Python.  The memo belongs
    to the key, so another key (a rotated one) never sees the pseudonyms made with this one;
    races between threads can only lose entries, never mix them, as every stored pseudonym is
    the value's own.
    """
    if key is None:
        return lambda values: [None if v is None else mask_value(v) for v in values]
    block = key if len(key) <= 64 else hashlib.sha256(key).digest()
    block = block.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block) + f"{agency_id}|{field}|".encode("utf-8"))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
    memo: list[dict[str, str]] = [{}, {}]  # newer, older

    def column(values, inner_copy=inner.copy, outer_copy=outer.copy) -> list:  # the hot loop
        newer, older = memo
        try:  # only str keys are ever stored, and no other value equals a str
            out = list(map(newer.get, values))
        except TypeError:  # an unhashable value (a list): every value takes the loop below
            out = [None] * len(values)
        i = -1
        while True:
            try:
                i = out.index(None, i + 1)
            except ValueError:
                return out
            value = values[i]
            if value is None:
                out[i] = None
                continue
            text = value.__class__ is str  # only str: True == 1 as a dict key, but not as a pseudonym
            if text:
                found = older.get(value)
                if found is not None:
                    out[i] = newer[value] = found
                    continue
            h = inner_copy()
            h.update((value if text else str(value)).encode("utf-8"))
            o = outer_copy()
            o.update(h.digest())
            made = "ps_" + o.hexdigest()[:32]
            if text:
                if len(newer) >= MEMO_SIZE:
                    older, newer = newer, {}
                    memo[:] = newer, older
                newer[value] = made
            out[i] = made
    return column


def _shape(records: list) -> tuple[tuple[str, ...], list[tuple]] | None:
    """(field names, values column by column) when every record is a dict with the same fields
    (the first record's order), else None."""
    first = records[0]
    if first.__class__ is not dict or not first:
        return None
    names = tuple(first)
    width = len(names)
    if any(r.__class__ is not dict or len(r) != width for r in records):
        return None
    try:  # every name present and the same count: the same fields
        values = list(map(itemgetter(*names), records))
    except KeyError:
        return None
    return names, (list(zip(*values)) if width > 1 else [tuple(values)])


def page_projector(view, one_by_one: Callable[[Any], Any]) -> Callable[[list], list]:
    """`records -> projected records` for `view` (a `grants.View`): the same records as
    `[one_by_one(r) for r in records]`, where `one_by_one` is `grants.projector(view)`, which
    also serves the pages whose records do not share one shape."""
    plans: dict[str, Any] = {}  # path -> "drop", "clear" or a pseudonym column

    def decide(path: str):
        what = plans.get(path)
        if what is None:
            what = view.decide(path)
            if what == "pseudonym":
                what = pseudonym_column(view.key, view.agency_id, path)
            plans[path] = what
        return what

    def columns(records: list, prefix: str) -> list | None:
        shaped = _shape(records)
        if shaped is None:
            return None
        names, values = shaped
        kept_names, kept = [], []
        for name, column in zip(names, values):
            what = decide(prefix + name)
            if what == "drop":
                continue
            if any(issubclass(t, dict) for t in set(map(type, column))):
                # Nested: projected by its own fields (None unless every value is an object of
                # one shape), and kept unless nothing of it is left; as the objects share their
                # fields, either every projected one is empty or none is.
                inner = columns(list(column), prefix + name + ".")
                if inner is None:
                    return None
                if inner[0]:
                    kept_names.append(name)
                    kept.append(inner)
            else:
                kept_names.append(name)
                kept.append(column if what == "clear" else what(column))
        if not kept:
            return [{} for _ in records]
        return [dict(zip(kept_names, row)) for row in zip(*kept)]

    def project(records: list) -> list:
        if not records:
            return []
        done = columns(records, "")
        return done if done is not None else list(map(one_by_one, records))
    return project
