"""Turning a response body into records: JSON or XML, with errors that say where.

A malformed or truncated body is permanent (asking again returns the same bytes) and the
message names the URL and the byte offset, so a steward can fetch it and look.
"""
from __future__ import annotations

import json
from typing import Any

from munihub.errors import PermanentSourceError


def dig(obj: Any, path: str | None) -> Any:
    """The value at a dotted path (`data.items`, `meta.next`); None if any step is missing."""
    if not path:
        return obj
    for step in str(path).split("."):
        if isinstance(obj, dict):
            obj = obj.get(step)
        elif isinstance(obj, list) and step.lstrip("-").isdigit():
            index = int(step)
            obj = obj[index] if -len(obj) <= index < len(obj) else None
        else:
            return None
    return obj


def parse_json(body: bytes, *, shown: str, source: str) -> Any:
    """Parse UTF-8 JSON; PermanentSourceError naming `shown` (the redacted URL) and the byte."""
    where = f"source {source}"
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PermanentSourceError(f"{shown}: body is not UTF-8 at byte {exc.start}", where=where,
                                   hint="the source must send JSON in UTF-8") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        byte = len(text[:exc.pos].encode("utf-8"))
        cut = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")
        what = "truncated" if cut else "malformed"
        raise PermanentSourceError(
            f"{shown}: {what} JSON at byte {byte} of {len(body)} (line {exc.lineno} column "
            f"{exc.colno}): {exc.msg}", where=where,
            hint="the source sent broken JSON; report it to the subsystem's owner") from None
    except (RecursionError, ValueError) as exc:  # nesting too deep, or an integer over Python's digit limit
        raise PermanentSourceError(f"{shown}: JSON the hub refuses to read ({exc.__class__.__name__}: "
                                   f"{str(exc)[:120]})", where=where,
                                   hint="the body is nested absurdly deep or holds an absurdly long number") from None


def records_at(body: Any, path: str | None, *, shown: str, source: str) -> list[dict[str, Any]]:
    """The list of records at `path` in a parsed body; every item must be an object."""
    found = dig(body, path)
    if found is None and path:
        raise PermanentSourceError(f"{shown}: no {path!r} in the response", where=f"source {source}",
                                   hint="check the `records` param against a real response")
    if not isinstance(found, list):
        raise PermanentSourceError(
            f"{shown}: {path or 'the body'!s} is a {type(found).__name__}, not a list of records",
            where=f"source {source}", hint="set `records` to the path of the list, e.g. data.items")
    for index, item in enumerate(found):
        if not isinstance(item, dict):
            raise PermanentSourceError(f"{shown}: record #{index + 1} is a {type(item).__name__}, "
                                       "not an object", where=f"source {source}")
    return found


def parse_xml_records(body: bytes, record_tag: str, *, shown: str, source: str) -> list[dict[str, Any]]:
    """Every `<record_tag>` element as a dict (attributes and child elements by local name).

    Parsed with defusedxml: entity expansion and external entities are refused.
    """
    import defusedxml.ElementTree as SafeET
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException

    where = f"source {source}"
    try:
        root = SafeET.fromstring(body)
    except ParseError as exc:
        line, column = exc.position
        byte = _byte_of(body, line, column)
        what = "truncated" if byte >= len(body.rstrip()) else "malformed"
        raise PermanentSourceError(f"{shown}: {what} XML at byte {byte} of {len(body)} "
                                   f"(line {line} column {column + 1})", where=where,
                                   hint="the source sent broken XML; report it to the subsystem's owner") from None
    except DefusedXmlException as exc:
        raise PermanentSourceError(f"{shown}: XML refused: {exc}", where=where) from None
    return [element_to_dict(el) for el in root.iter() if _local(el.tag) == record_tag]


def element_to_dict(element) -> dict[str, Any]:
    """Attributes and children of an element; leaf children become text, repeats a list."""
    out: dict[str, Any] = {_local(k): v for k, v in element.attrib.items()}
    for child in element:
        value: Any = element_to_dict(child) if len(child) or child.attrib else (child.text or "").strip()
        name = _local(child.tag)
        if name in out:
            out[name] = out[name] if isinstance(out[name], list) else [out[name]]
            out[name].append(value)
        else:
            out[name] = value
    return out


def _local(tag: Any) -> str:
    tag = str(tag)
    return tag.rsplit("}", 1)[-1]


def _byte_of(body: bytes, line: int, column: int) -> int:
    lines = body.split(b"\n")
    before = sum(len(part) + 1 for part in lines[: max(0, line - 1)])
    current = lines[line - 1] if 0 < line <= len(lines) else b""
    # expat counts columns in characters; convert the prefix back to bytes.
    prefix = current.decode("utf-8", "replace")[:column].encode("utf-8")
    return min(len(body), before + len(prefix))
