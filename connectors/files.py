"""The `file` connector kind: a drop folder of CSV/TSV, JSON Lines, JSON, xlsx or XML files.

Each file is read exactly once, recognised by the sha256 of its content (a renamed copy is
skipped).  The cursor is `{"done": {name: sha256}}`, plus `partial` while a file is half read,
so a run resumes at the record after the last published batch.  Files move to `processed/`
only in `finish`, which the pipeline calls after publishing; `fail` moves one to `failed/`.
"""
from __future__ import annotations

import codecs
import dataclasses
import hashlib
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path, PurePath
from typing import Any

from connectors.files_formats import (MAX_XLSX_UNZIPPED, FormatProblem, csv_records, json_records,
                                      json_records_at, jsonl_records, xlsx_records, xml_records)
from munihub.ingest.connector import Batch, Connector
from munihub.errors import ConfigError, PermanentSourceError, SecurityError, TransientSourceError

FORMATS = ("csv", "tsv", "jsonl", "json", "xlsx", "xml")
BY_EXTENSION = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl",
                ".json": "json", ".xlsx": "xlsx", ".xlsm": "xlsx", ".xml": "xml"}
TIDY_DIRS = ("processed", "failed")
IF_NO_FILES = ("warn", "error")
ENCODING_HINT = ("write `auto` (UTF-16 by its byte-order mark, else UTF-8, else Windows-1256, file by file), `utf-8`, "
                 "`utf-16`, or `windows-1256` (what Windows "
                 "calls «ANSI» for a Persian file)")
log = logging.getLogger("munihub.connectors.file")


@dataclasses.dataclass(frozen=True)
class FileScan:
    """What one pass over a file learns: its content hash and whether it is valid UTF-8."""

    sha256: str
    size: int
    mtime_ns: int
    utf8_error_at: int | None   # byte offset of the first invalid UTF-8 sequence, None if valid
    head: bytes = b""           # the first bytes: a UTF-16 byte-order mark, an old Excel file's signature


def scan_file(path: Path, check_utf8: bool = True) -> FileScan:
    """Hash the file in 1 MiB chunks, checking UTF-8 on the way (one read, flat memory)."""
    digest, decoder, offset, bad = hashlib.sha256(), codecs.getincrementaldecoder("utf-8")(), 0, None
    stat = path.stat()
    head = b""
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            head = head or chunk[:8]
            digest.update(chunk)
            if check_utf8 and bad is None:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    bad = offset + exc.start
            offset += len(chunk)
    if check_utf8 and bad is None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            bad = offset
    return FileScan(digest.hexdigest(), stat.st_size, stat.st_mtime_ns, bad, head)


class FileConnector(Connector):
    """Reads the files of a drop folder in name order, each once, streaming records in batches."""

    kind = "file"
    params_schema = {
        "type": "object",
        "required": ["path"],
        "properties": {
            "path": {"type": "string"}, "pattern": {"type": "string"},
            "format": {"enum": ["auto", *FORMATS]}, "encoding": {"type": "string"},
            "delimiter": {"type": "string", "minLength": 1, "maxLength": 1},
            "xml_record": {"type": "string"}, "records": {"type": "string"}, "sheet": {"type": "string"}, "move": {"type": "boolean"},
            "batch_size": {"type": "integer", "minimum": 1}, "max_unzipped_bytes": {"type": "integer"},
            "if_no_files": {"enum": list(IF_NO_FILES)},
        },
    }

    def __init__(self, params, *, source="?", secrets=None, batch_size=1000):
        super().__init__(params, source=source, secrets=secrets, batch_size=batch_size)
        p = self.params
        if not p.get("path"):
            raise ConfigError("file connector needs a `path` (the drop folder)", where=f"source {source}")
        self.folder = Path(str(p["path"]))
        self.pattern = str(p.get("pattern") or "*")
        pure = PurePath(self.pattern)
        if pure.is_absolute() or ".." in pure.parts:
            raise SecurityError(f"pattern {self.pattern!r} reaches outside the drop folder",
                                where=f"source {source}", hint="use a pattern relative to `path`, without '..'")
        self.format = str(p.get("format") or "auto").lower()
        if self.format not in ("auto", *FORMATS):
            raise ConfigError(f"unknown file format {self.format!r}", where=f"source {source}",
                              hint=f"use auto or one of {', '.join(FORMATS)}")
        self.encoding = str(p.get("encoding") or "auto")
        if self.encoding != "auto":
            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise ConfigError(f"unknown encoding {self.encoding!r}", where=f"source {source}",
                                  hint=ENCODING_HINT) from None
        self.delimiter = p.get("delimiter") or None
        self.xml_record = p.get("xml_record")
        self.records = p.get("records")  # JSON: dotted path to the list inside one document
        self.sheet = p.get("sheet")
        self.move = str(p.get("move", False)).lower() in ("true", "1", "yes")
        self.max_unzipped = int(p.get("max_unzipped_bytes", MAX_XLSX_UNZIPPED))
        # A folder where the pattern matches nothing is normal between deliveries for some
        # agencies and a broken export for others: the contract says which (default: warn).
        self.if_no_files = str(p.get("if_no_files") or "warn").lower()
        if self.if_no_files not in IF_NO_FILES:
            raise ConfigError(f"if_no_files is {self.if_no_files!r}", where=f"source {source}",
                              hint="use warn (say so and read nothing) or error (fail the load)")

    # -- the folder ----------------------------------------------------------------------
    def root(self) -> Path:
        try:
            root = self.folder.resolve(strict=True)
        except OSError:
            root = None
        if root is None or not root.is_dir():
            raise PermanentSourceError(f"drop folder {str(self.folder)!r} does not exist", where=f"source {self.source}",
                                       hint="create it or fix `path`")
        return root

    def confined(self, name: str) -> Path:
        """The real path of `name` inside the drop folder; SecurityError if it escapes (.., symlinks)."""
        root = self.root()
        real = (root / name).resolve()
        if not real.is_relative_to(root):
            raise SecurityError(f"{name!r} resolves to {str(real)!r}, outside the drop folder",
                                where=f"source {self.source}", hint="remove the link or file; only files "
                                "inside the drop folder are read")
        return real

    def files(self) -> list[tuple[str, Path]]:
        """(name relative to the folder, real path) of every file to consider, sorted by name."""
        root = self.root()
        found = []
        for path in root.glob(self.pattern):
            rel = path.relative_to(root)
            if rel.parts[0] in TIDY_DIRS or any(part.startswith(".") for part in rel.parts):
                continue  # already tidied, or hidden (a file still being uploaded)
            name = rel.as_posix()
            real = self.confined(name)
            if real.is_file():
                found.append((name, real))
        return sorted(found)

    def matching_files(self) -> list[tuple[str, Path]]:
        """`files()`, saying so when the pattern matches nothing (a warning, or the error the
        contract asked for): an empty folder must not pass as a quiet, successful read."""
        found = self.files()
        if not found:
            message = f"no file in drop folder {str(self.folder)!r} matches pattern {self.pattern!r}"
            if self.if_no_files == "error":
                raise PermanentSourceError(message, where=f"source {self.source}",
                                           hint="deliver the file, fix `path`/`pattern`, or set if_no_files: warn")
            log.warning("source %s: %s; nothing to read (if_no_files: error makes this fail the load)",
                        self.source, message)
        return found

    def format_of(self, name: str) -> str:
        if self.format != "auto":
            return self.format
        fmt = BY_EXTENSION.get(Path(name).suffix.lower())
        if not fmt and Path(name).suffix.lower() == ".xls":
            raise PermanentSourceError(f"{name!r} is an Excel 97-2003 workbook (.xls), which the hub does not read",
                                       where=f"source {self.source}",
                                       hint="open it in Excel and save it as .xlsx (or CSV UTF-8), then deliver that")
        if not fmt:
            raise PermanentSourceError(f"cannot tell the format of {name!r} from its extension",
                                       where=f"source {self.source}", hint=f"set `format` to one of {', '.join(FORMATS)}")
        return fmt

    # -- reading -------------------------------------------------------------------------
    def read_batches(self, cursor: dict[str, Any] | None) -> Iterator[Batch]:
        done = dict((cursor or {}).get("done") or {})
        partial = (cursor or {}).get("partial") or {}
        seen = set(done.values())
        for name, path in self.matching_files():
            fmt = self.format_of(name)
            try:
                scan = scan_file(path, check_utf8=fmt != "xlsx")
            except OSError as exc:  # removed or locked between listing and reading
                raise TransientSourceError(f"cannot read {name!r}: {exc.strerror or exc}",
                                           where=f"source {self.source}", hint="the run will be retried") from None
            if scan.sha256 in seen:
                continue  # read before, perhaps under another name
            skip = int(partial.get("records", 0)) if partial.get("sha256") == scan.sha256 else 0
            encoding, note = self._encoding(fmt, scan)
            where = f"{name}{note}"
            records, positions, count = [], [], 0
            for position, record in self._records(name, path, fmt, encoding):
                count += 1
                if count <= skip:
                    continue
                if len(records) == self.batch_size:  # only now is it sure the file goes on
                    state = {"done": dict(done), "partial": {"file": name, "sha256": scan.sha256, "records": count - 1}}
                    yield Batch(records, cursor=state, where=where, positions=positions)
                    records, positions = [], []
                records.append(record)
                positions.append(position)
            self._unchanged(name, path, scan)
            if name in done:  # same name, new content: keep the old hash so that copy stays skipped
                old = done.pop(name)
                done[f"{name} ({old[:12]})"] = old
            done[name] = scan.sha256
            seen.add(scan.sha256)
            yield Batch(records, cursor={"done": dict(done)}, where=where, positions=positions)

    def _encoding(self, fmt: str, scan: FileScan) -> tuple[str | None, str]:
        """The text encoding to read with, and a note for the Batch when it was a fallback."""
        if fmt == "xlsx":
            return None, ""
        if self.encoding != "auto":
            return self.encoding, ""
        if scan.head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and fmt != "xml":
            # Excel's «Unicode Text» (UTF-16 with its byte-order mark): the mark says so
            return "utf-16", " (read as UTF-16: its byte-order mark)"
        if scan.utf8_error_at is None:
            return (None if fmt == "xml" else "utf-8-sig"), ""
        return ("windows-1256" if fmt == "xml" else "cp1256"), \
            f" (read as Windows-1256: not valid UTF-8 at byte {scan.utf8_error_at})"

    def _records(self, name: str, path: Path, fmt: str, encoding: str | None) -> Iterator[tuple[str, dict]]:
        try:
            if fmt in ("csv", "tsv"):
                delimiter = self.delimiter or ("\t" if fmt == "tsv" else None)
                yield from csv_records(path, name, encoding, delimiter)
            elif fmt == "jsonl":
                yield from jsonl_records(path, name, encoding)
            elif fmt == "json" and self.records:
                yield from json_records_at(path, name, encoding, self.records)
            elif fmt == "json":
                yield from json_records(path, name, encoding)
            elif fmt == "xlsx":
                yield from xlsx_records(path, name, self.sheet, self.max_unzipped)
            else:
                if not self.xml_record:
                    raise ConfigError("format xml needs `xml_record` (the element of one record)",
                                      where=f"source {self.source}")
                yield from xml_records(path, name, self.xml_record, encoding)
        except FormatProblem as exc:
            raise PermanentSourceError(exc.message, where=f"source {self.source}: {exc.position}",
                                       hint="fix or replace the file, or move it into the drop folder's failed/ folder; "
                                            "it was not marked as read") from None
        except OSError as exc:
            raise TransientSourceError(f"cannot read {name!r}: {exc.strerror or exc}",
                                       where=f"source {self.source}") from None

    def _unchanged(self, name: str, path: Path, scan: FileScan) -> None:
        """A file written to while it was read must not be marked done under the old hash."""
        stat = path.stat()
        if (stat.st_size, stat.st_mtime_ns) != (scan.size, scan.mtime_ns):
            raise TransientSourceError(f"{name!r} changed while it was being read", where=f"source {self.source}",
                                       hint="drop files by writing elsewhere then renaming; the run will be retried")

    # -- tidying after publish -----------------------------------------------------------
    def finish(self, cursor: dict[str, Any] | None) -> list[str]:
        """Move the files the published cursor lists as done into processed/ (when `move` is on)."""
        if not self.move or not cursor:
            return []
        moved = []
        for name, digest in (cursor.get("done") or {}).items():
            path = self.confined(name)
            if path.is_file() and scan_file(path, check_utf8=False).sha256 == digest:
                self._move(name, path, "processed")
                moved.append(name)
        return moved

    def fail(self, file_name: str, reason: str) -> Path:
        """Move one file to failed/ with `<name>.reason.txt` beside it saying why."""
        path = self.confined(file_name)
        if not path.is_file():
            raise PermanentSourceError(f"no file {file_name!r} to move to failed/", where=f"source {self.source}")
        target = self._move(file_name, path, "failed")
        target.with_name(target.name + ".reason.txt").write_text(reason.rstrip() + "\n", encoding="utf-8")
        return target

    def _move(self, name: str, path: Path, folder: str) -> Path:
        target = self.root() / folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():  # never overwrite an earlier file of the same name
            stem, n = target, 1
            while target.exists():
                target = stem.with_name(f"{stem.stem}.{n}{stem.suffix}")
                n += 1
        try:
            shutil.move(os.fspath(path), os.fspath(target))
        except OSError as exc:
            raise PermanentSourceError(f"cannot move {name!r} to {folder}/: {exc.strerror or exc}",
                                       where=f"source {self.source}") from None
        return target

    # -- probes --------------------------------------------------------------------------
    def check(self) -> None:
        """The folder exists, is readable, and every matching file stays inside it."""
        root = self.root()
        if not os.access(root, os.R_OK | os.X_OK):
            raise PermanentSourceError(f"drop folder {str(self.folder)!r} is not readable", where=f"source {self.source}")
        for name, _ in self.matching_files():
            self.format_of(name)
