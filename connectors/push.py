"""The `push` connector kind: subsystems that cannot be pulled deliver batches to an inbox.

A delivery is a file `<delivery-id>.json` (a JSON array of objects) or `.jsonl` (one object
per line) in `params.inbox`, written by `deliver` (the gateway calls it) atomically and
idempotently.  `read_batches` reads deliveries in name order, each exactly once: the
cursor lists the ids done (`{"done": [...]}`), plus the id and record count of a delivery
read only part-way.  Files are never moved or deleted here, so a failed run loses nothing.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from munihub.ingest.connector import Batch, Connector
from munihub.errors import ConfigError, PermanentSourceError, SecurityError

DELIVERY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
SUFFIXES = (".json", ".jsonl")
DEFAULT_MAX_BYTES = 50 * 1024 * 1024


def deliver(inbox: str | os.PathLike, delivery_id: str, body: bytes,
            max_bytes: int = DEFAULT_MAX_BYTES) -> Path:
    """Store one delivery; the same id with the same body is a no-op, a different body an error.

    The body must be a JSON array of objects or JSON Lines of objects (checked before
    anything is written).  Written to a temp file and hard-linked into place, so readers
    never see half a file and two concurrent deliveries of one id cannot both win.
    """
    if not DELIVERY_ID.match(delivery_id or "") or ".." in delivery_id:
        raise SecurityError(f"delivery id {delivery_id!r} refused",
                            hint="use letters, digits, '.', '_' and '-' (max 128), not starting with a dot")
    if len(body) > max_bytes:
        raise PermanentSourceError(f"delivery {delivery_id}: body of {len(body)} bytes is over the "
                                   f"limit of {max_bytes}", hint="split it into several deliveries")
    suffix = ".jsonl" if _check_body(body, delivery_id) == "jsonl" else ".json"
    folder = Path(inbox)
    folder.mkdir(parents=True, exist_ok=True)
    for existing in (folder / f"{delivery_id}{s}" for s in SUFFIXES):
        if existing.exists():
            return _same_or_conflict(existing, body, delivery_id)
    target = folder / f"{delivery_id}{suffix}"
    fd, tmp = tempfile.mkstemp(prefix=f".{delivery_id}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp, target)  # fails if the id arrived meanwhile: no silent overwrite
        except FileExistsError:
            return _same_or_conflict(target, body, delivery_id)
    finally:
        os.unlink(tmp)
    return target


def _same_or_conflict(existing: Path, body: bytes, delivery_id: str) -> Path:
    if existing.read_bytes() == body:
        return existing
    raise PermanentSourceError(f"delivery {delivery_id} was already received with a different body",
                               where=str(existing), hint="send changed data under a new delivery id")


def _check_body(body: bytes, delivery_id: str) -> str:
    """'json' or 'jsonl'; PermanentSourceError naming the line if it is neither."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PermanentSourceError(f"delivery {delivery_id}: not UTF-8 at byte {exc.start}") from None
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PermanentSourceError(f"delivery {delivery_id}: malformed JSON at line {exc.lineno} "
                                       f"column {exc.colno}: {exc.msg}") from None
        bad = next((i for i, r in enumerate(data) if not isinstance(r, dict)), None)
        if bad is not None:
            raise PermanentSourceError(f"delivery {delivery_id}: item #{bad + 1} is not an object")
        return "json"
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            _json_line(line, f"delivery {delivery_id} line {number}")
    return "jsonl"


def _json_line(line: str, where: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        raise PermanentSourceError(f"malformed JSON at column {exc.colno}: {exc.msg}", where=where,
                                   hint="each line must be one JSON object") from None
    if not isinstance(value, dict):
        raise PermanentSourceError(f"a {type(value).__name__}, not an object", where=where)
    return value


class PushConnector(Connector):
    """Reads the deliveries in `params.inbox` that the cursor has not marked done."""

    kind = "push"
    deliver = staticmethod(deliver)  # the gateway stores pushed bodies through the kind it loads by name
    params_schema = {"type": "object", "required": ["inbox"],
                     "properties": {"inbox": {"type": "string"}}}

    def __init__(self, params, *, source="?", secrets=None, batch_size=1000):
        super().__init__(params, source=source, secrets=secrets, batch_size=batch_size)
        if not self.params.get("inbox"):
            raise ConfigError("push connector needs `inbox` (a folder)", where=f"source {source}")
        self.inbox = Path(self.params["inbox"])

    def pending(self, cursor: dict[str, Any] | None) -> list[Path]:
        """Delivery files not yet done, in name order."""
        done = set((cursor or {}).get("done") or [])
        if not self.inbox.is_dir():
            return []
        files = [p for p in self.inbox.iterdir()
                 if p.suffix in SUFFIXES and not p.name.startswith(".") and p.is_file()]
        return sorted((p for p in files if p.stem not in done), key=lambda p: p.name)

    def read_batches(self, cursor: dict[str, Any] | None) -> Iterator[Batch]:
        done = list((cursor or {}).get("done") or [])
        partial = (cursor or {}).get("partial") or {}
        for path in self.pending(cursor):
            skip = int(partial.get("skip", 0)) if partial.get("id") == path.stem else 0
            records = list(self._records(path))
            if skip >= len(records) and records:
                skip = len(records)
            for start in range(skip, len(records), max(1, self.batch_size)):
                chunk = records[start:start + self.batch_size]
                end = start + len(chunk)
                finished = end >= len(records)
                if finished:
                    done.append(path.stem)
                state = {"done": list(done)}
                if not finished:
                    state["partial"] = {"id": path.stem, "skip": end}
                yield Batch([r for r, _ in chunk], state, where=str(path),
                            positions=[pos for _, pos in chunk])
            if not records or skip >= len(records):
                done.append(path.stem)  # an empty delivery is done too
                yield Batch([], {"done": list(done)}, where=str(path))

    def _records(self, path: Path) -> Iterator[tuple[dict[str, Any], str]]:
        if path.suffix == ".jsonl":
            with path.open(encoding="utf-8-sig") as handle:
                for number, line in enumerate(handle, 1):
                    if line.strip():
                        yield _json_line(line, f"{path}:{number}"), f"{path.name}:{number}"
            return
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise PermanentSourceError(f"malformed delivery: {exc}", where=str(path),
                                       hint="move the file out of the inbox and ask for a re-delivery") from None
        if not isinstance(data, list):
            raise PermanentSourceError("a delivery must be a JSON array of objects", where=str(path))
        for index, rec in enumerate(data):
            if not isinstance(rec, dict):
                raise PermanentSourceError(f"item #{index + 1} is not an object", where=str(path))
            yield rec, f"{path.name} #{index + 1}"
