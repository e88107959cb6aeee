"""The incremental watermark shared by the REST and SOAP kinds.

Sources are asked for records with `field >= since` (inclusive), so a record stamped with
exactly `since` after the last run is never lost; the records already seen at that instant
are remembered by fingerprint and skipped, so the final cursor reads nothing new.  A record
changed without its stamp moving gets a new fingerprint and is read again (the pipeline
dedupes by key + hash).  Assumes the source returns records in ascending `field` order.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from connectors.http_body import dig


def fingerprint(record: dict[str, Any], key: str | None = None) -> str:
    """A short stable id for a record: its `key` field, or a hash of its content."""
    if key:
        return str(dig(record, key))
    text = json.dumps(record, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def _greater(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a > b
    return str(a) > str(b)


class Watermark:
    """Tracks `since` (what this run asked for) and the highest `field` value seen so far."""

    def __init__(self, field: str, cursor: dict[str, Any] | None, key: str | None = None):
        cursor = cursor or {}
        self.field = field
        self.key = key
        self.since = cursor.get("since")
        self.seen = set(cursor.get("seen") or [])
        self.max = cursor.get("max", self.since)
        self.max_seen = set(cursor.get("max_seen") or (self.seen if self.max == self.since else []))

    def admit(self, record: dict[str, Any]) -> bool:
        """False if this record was already delivered at the `since` boundary."""
        value = dig(record, self.field)
        if value is None:
            return True  # no stamp: always pass on; validation will flag it if required
        mark = fingerprint(record, self.key)
        if self.since is not None and value == self.since and mark in self.seen:
            return False
        if self.max is None or _greater(value, self.max):
            self.max, self.max_seen = value, {mark}
        elif value == self.max:
            self.max_seen.add(mark)
        return True

    def running(self) -> dict[str, Any]:
        """Cursor fields for the middle of a run: keep asking from the same `since`."""
        return {"since": self.since, "seen": sorted(self.seen),
                "max": self.max, "max_seen": sorted(self.max_seen)}

    def final(self) -> dict[str, Any]:
        """Cursor for the next run: ask from the highest value seen, skipping its records."""
        return {"since": self.max, "seen": sorted(self.max_seen)}
