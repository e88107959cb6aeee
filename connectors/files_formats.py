"""Streaming readers for the file connector: CSV/TSV, JSON Lines, JSON arrays, xlsx and XML.

Each reader is a generator of `(position, record)` pairs holding one record (or one small
buffer) in memory, so a 1 GB file streams.  A malformed file raises `FormatProblem` naming
the position ("permits.csv line 42"); the connector turns it into a PermanentSourceError.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

Record = tuple[str, dict[str, Any]]
DELIMITERS = ",\t;|"
MAX_RECORD_CHARS = 16 * 1024 * 1024   # one JSON line / JSON record / CSV field at most
MAX_XLSX_UNZIPPED = 512 * 1024 * 1024
_WS = re.compile(r"[ \t\r\n]*")


class FormatProblem(ValueError):
    """The file cannot be read as its format; `position` says where ("x.csv line 3")."""

    def __init__(self, position: str, message: str):
        self.position = position
        self.message = message
        super().__init__(f"{position}: {message}")


# -- CSV / TSV ----------------------------------------------------------------------------
def not_in(encoding: str, exc: UnicodeDecodeError) -> str:
    """What a file that does not decode in its encoding needs: the encoding it is in (a Persian
    export saved by Excel or Notepad as «ANSI» is Windows-1256, not the UTF-8 a contract names)."""
    return (f"not valid {encoding}: {exc.reason}; name the file's own encoding in the server's `encoding` "
            "(windows-1256 for a Persian «ANSI» export), or `auto` to tell UTF-8 from Windows-1256 file by file")


def sniff_delimiter(start: str) -> str:
    """The candidate delimiter appearing most in the header line: the first of the file's first
    ten lines with any (a report's title line above it has none) (',' when none does)."""
    for line in start.splitlines()[:10]:
        counts = {d: line.count(d) for d in DELIMITERS}
        best = max(counts, key=counts.get)
        if counts[best]:
            return best
    return ","


def _header(row: list[str], name: str) -> list[str]:
    header = [(h.strip() or f"column_{i + 1}") for i, h in enumerate(row)]
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise FormatProblem(f"{name} line 1", f"duplicate column name(s) {', '.join(dupes)} in the header")
    return header


# A report exported for people often starts with its title and date, one cell each, above
# the header («گزارش مشترکین آب»، «تاریخ تهیه: ۱۴۰۳/۰۸/۱۴»): up to this many such rows
# before the first row of several cells are read as titles, not as the header.
TITLE_ROWS = 5


def _is_filled(v) -> bool:
    return v is not None and (not isinstance(v, str) or bool(v.strip()))


def _filled(row) -> int:
    return sum(map(_is_filled, row))


def _untitled(rows: Iterator[tuple[int, Any]]) -> Iterator[tuple[int, Any]]:
    """Non-blank `(position, row)`s without a report's leading title rows: rows of one filled
    cell before the first row of two or more (the header).  A file of one column has no such
    row: its first rows are given back as they came."""
    held: list[tuple[int, Any]] = []
    for position, row in rows:
        if held is not None:
            if _filled(row) == 1 and len(held) < TITLE_ROWS:
                held.append((position, row))
                continue
            if _filled(row) < 2:  # more single cells than titles: a one-column file
                yield from held
            held = None
        yield position, row
    yield from held or ()


# A report's totals row below (or between) its records: «جمع کل» in its first filled cell and
# sums in the rest.  It is no record: quarantined, it waited for a steward as a row "without
# its key"; it is skipped, and the log says where.
_TOTALS = frozenset({"جمع", "جمعکل", "جمعکلی", "مجموع", "مجموعکل", "total", "totals", "grandtotal", "sum"})
_NOT_LETTER = re.compile(r"[\W_]+")


def _totals_row(row) -> bool:
    first = next(filter(_is_filled, row), None)
    return isinstance(first, str) and len(first) < 20 and \
        _NOT_LETTER.sub("", first).replace("ي", "ی").casefold() in _TOTALS


def _skip_totals(at: str) -> None:
    import logging
    logging.getLogger(__name__).info("%s: a totals row, skipped (not a record)", at)


def csv_records(path: Path, name: str, encoding: str, delimiter: str | None) -> Iterator[Record]:
    """Rows of a delimited text file as dicts keyed by the header row; strict about quotes and widths."""
    csv.field_size_limit(MAX_RECORD_CHARS)
    at = [1]  # the line being read, for messages (the rows pass through `_untitled`)
    with open(path, encoding=encoding, errors="strict", newline="") as fh:
        try:
            if delimiter is None:
                delimiter = sniff_delimiter(fh.read(65536))
                fh.seek(0)
            reader = csv.reader(fh, delimiter=delimiter, strict=True)

            def rows():
                while True:
                    at[0] = reader.line_num + 1
                    row = next(reader, None)
                    if row is None:
                        return
                    if row and not (len(row) == 1 and not row[0].strip()):  # (a blank line is skipped)
                        yield at[0], row
            header = None
            for line, row in _untitled(rows()):
                if header is None:
                    header = _header(row, name)
                    continue
                if _totals_row(row):
                    _skip_totals(f"{name} line {line}")
                    continue
                if len(row) != len(header):
                    raise FormatProblem(f"{name} line {line}", f"expected {len(header)} columns, found {len(row)} "
                                        f"(delimiter {delimiter!r}; an unbalanced quote or a stray delimiter?)")
                yield f"{name} line {line}", dict(zip(header, row))
        except csv.Error as exc:
            raise FormatProblem(f"{name} line {at[0]}", f"malformed CSV: {exc} (an unbalanced quote?)") from None
        except UnicodeDecodeError as exc:
            raise FormatProblem(f"{name} line {at[0]}", not_in(encoding, exc)) from None


# -- JSON Lines and JSON arrays -----------------------------------------------------------
def jsonl_records(path: Path, name: str, encoding: str) -> Iterator[Record]:
    """One JSON object per line; blank lines skipped; a line longer than the cap is refused."""
    lineno = 0
    with open(path, encoding=encoding, errors="strict") as fh:
        try:
            for text in iter(lambda: fh.readline(MAX_RECORD_CHARS + 1), ""):
                lineno += 1
                at = f"{name} line {lineno}"
                if len(text) > MAX_RECORD_CHARS:
                    raise FormatProblem(at, f"line longer than {MAX_RECORD_CHARS} characters")
                if not text.strip():
                    continue
                try:
                    value = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise FormatProblem(f"{at} column {exc.colno}", f"invalid JSON: {exc.msg}") from None
                if not isinstance(value, dict):
                    raise FormatProblem(at, f"expected a JSON object, found {type(value).__name__}")
                yield at, value
        except UnicodeDecodeError as exc:
            raise FormatProblem(f"{name} line {lineno + 1}", not_in(encoding, exc)) from None


class _JsonStream:
    """A text buffer over a file that grows on demand and forgets what was consumed."""

    def __init__(self, fh, name: str):
        self.fh, self.name = fh, name
        self.buf, self.pos, self.line, self.eof = "", 0, 1, False

    def more(self) -> bool:
        if self.eof:
            return False
        chunk = self.fh.read(1 << 20)
        if not chunk:
            self.eof = True
            return False
        if self.pos > (1 << 20):
            self.buf, self.pos = self.buf[self.pos:], 0
        self.buf += chunk
        return True

    def advance(self, to: int) -> None:
        self.line += self.buf.count("\n", self.pos, to)
        self.pos = to

    def peek(self) -> str:
        """The next non-blank character ('' at the end of the file)."""
        while True:
            self.advance(_WS.match(self.buf, self.pos).end())
            if self.pos < len(self.buf) or not self.more():
                return self.buf[self.pos:self.pos + 1]

    def value(self, decoder: json.JSONDecoder) -> Any:
        while True:
            try:
                value, end = decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if len(self.buf) - self.pos < MAX_RECORD_CHARS and self.more():
                    continue  # the record may just be cut by the buffer edge
                line = self.line + self.buf.count("\n", self.pos, exc.pos)
                truncated = exc.pos >= len(self.buf) - 1 or exc.msg.startswith("Unterminated")
                why = "the file ends before the JSON is complete (truncated?)" if truncated \
                    else f"invalid JSON: {exc.msg}"
                raise FormatProblem(f"{self.name} line {line}", why) from None
            self.advance(end)
            return value


MAX_JSON_DOCUMENT = 256 * 1024 * 1024


def json_records_at(path: Path, name: str, encoding: str, records: str) -> Iterator[Record]:
    """The objects of the list at dotted path `records` ("data.items") in one JSON document.

    This loads the document, so it is capped; a large export should be a top-level array or JSON Lines.
    """
    if path.stat().st_size > MAX_JSON_DOCUMENT:
        raise FormatProblem(name, f"over {MAX_JSON_DOCUMENT} bytes: too large to read `records` from one "
                            "document; export a top-level array or JSON Lines")
    try:
        with open(path, encoding=encoding, errors="strict") as fh:
            doc = json.load(fh)
    except json.JSONDecodeError as exc:
        raise FormatProblem(f"{name} line {exc.lineno} column {exc.colno}", f"invalid JSON: {exc.msg}") from None
    except UnicodeDecodeError as exc:
        raise FormatProblem(name, not_in(encoding, exc)) from None
    value: Any = doc
    for part in records.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if not isinstance(value, list):
        raise FormatProblem(name, f"no list of records at {records!r}")
    for index, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            raise FormatProblem(f"{name} record {index}", f"expected a JSON object, found {type(item).__name__}")
        yield f"{name} record {index}", item


def json_records(path: Path, name: str, encoding: str) -> Iterator[Record]:
    """The objects of a top-level JSON array, streamed; a top-level object is one record."""
    decoder = json.JSONDecoder()
    with open(path, encoding=encoding, errors="strict") as fh:
        s = _JsonStream(fh, name)
        try:
            first = s.peek()
            if first == "{":
                yield f"{name} record 1", s.value(decoder)
            elif first == "[":
                s.advance(s.pos + 1)
                index = 0
                while s.peek() != "]" or index:
                    if s.peek() == "":
                        raise FormatProblem(f"{name} line {s.line}", "the file ends inside the array (truncated?)")
                    index += 1
                    at = f"{name} record {index} (line {s.line})"
                    value = s.value(decoder)
                    if not isinstance(value, dict):
                        raise FormatProblem(at, f"expected a JSON object, found {type(value).__name__}")
                    yield at, value
                    sep = s.peek()
                    if sep == ",":
                        s.advance(s.pos + 1)
                    elif sep == "]":
                        break
                    else:
                        raise FormatProblem(f"{name} line {s.line}", "expected ',' or ']' after a record" if sep
                                            else "the file ends inside the array (truncated?)")
                s.advance(s.pos + 1)
            elif first == "":
                return
            else:
                raise FormatProblem(f"{name} line {s.line}", "expected a JSON array of objects or one object")
            if s.peek() != "":
                raise FormatProblem(f"{name} line {s.line}", "unexpected text after the JSON value")
        except UnicodeDecodeError as exc:
            raise FormatProblem(f"{name} line {s.line}", not_in(encoding, exc)) from None


# -- xlsx ---------------------------------------------------------------------------------
def _cell(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53:
        return int(value)
    return value


def check_xlsx_archive(path: Path, name: str, max_unzipped: int) -> None:
    """Refuse a file that is not a zip, or that would expand past `max_unzipped` bytes (zip bomb)."""
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as fh:
            old_excel = fh.read(8) == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the OLE2 signature of .xls
        raise FormatProblem(name, "an Excel 97-2003 workbook (.xls), not xlsx: save it as .xlsx (or CSV UTF-8) "
                                  "and deliver that" if old_excel else "not an xlsx workbook (not a zip archive)")
    try:
        with zipfile.ZipFile(path) as z:
            total = sum(i.file_size for i in z.infolist())
    except zipfile.BadZipFile as exc:
        raise FormatProblem(name, f"damaged xlsx archive: {exc}") from None
    if total > max_unzipped:
        raise FormatProblem(name, f"the workbook expands to {total} bytes, over the cap of {max_unzipped} "
                            "(a zip bomb?); raise `max_unzipped_bytes` if it is genuine")


def xlsx_records(path: Path, name: str, sheet: str | None, max_unzipped: int) -> Iterator[Record]:
    """Rows of one worksheet (the first unless `sheet`), header in the first non-empty row
    after a report's title rows (`_untitled`)."""
    import openpyxl  # heavy: only when a workbook is read
    from openpyxl.utils.exceptions import InvalidFileException

    check_xlsx_archive(path, name, max_unzipped)
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, KeyError, OSError, zipfile.BadZipFile, ValueError) as exc:
        raise FormatProblem(name, f"cannot open the workbook: {exc}") from None
    try:
        if sheet and sheet not in wb.sheetnames:
            raise FormatProblem(name, f"no sheet {sheet!r} (sheets: {', '.join(wb.sheetnames)})")
        ws = wb[sheet] if sheet else wb.worksheets[0]
        header = None
        rows = ((n, row) for n, row in enumerate(ws.iter_rows(values_only=True), start=1) if _filled(row))
        for rowno, row in _untitled(rows):
            if header is None:
                header = _header(["" if v is None else str(v) for v in row], f"{name} row {rowno}")
                continue
            if _totals_row(row):
                _skip_totals(f"{name} row {rowno}")
                continue
            values = [_cell(v) for v in row][:len(header)] + [None] * max(0, len(header) - len(row))
            yield f"{name} row {rowno}", dict(zip(header, values))
    except FormatProblem:
        raise
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds on damaged sheets
        raise FormatProblem(name, f"damaged worksheet: {exc.__class__.__name__}: {exc}") from None
    finally:
        wb.close()


# -- XML ----------------------------------------------------------------------------------
def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def element_record(el) -> Any:
    """An element as plain data: attributes and child elements as keys, repeated children as lists."""
    children = [c for c in el if isinstance(c.tag, str)]
    text = (el.text or "").strip() or None
    if not children and not el.attrib:
        return text
    out: dict[str, Any] = {_local(k): v for k, v in el.attrib.items()}
    repeated: set[str] = set()
    for child in children:
        key, value = _local(child.tag), element_record(child)
        if key not in out:
            out[key] = value
        elif key in repeated:
            out[key].append(value)
        else:
            out[key] = [out[key], value]
            repeated.add(key)
    if text is not None and not children:
        out["text"] = text
    return out


def xml_records(path: Path, name: str, record_tag: str, encoding: str | None) -> Iterator[Record]:
    """Every `record_tag` element, streamed with iterparse; entities and DTDs are never resolved."""
    from lxml import etree

    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    if b"<!ENTITY" in head or b"<!entity" in head:
        line = head[:head.lower().find(b"<!entity")].count(b"\n") + 1
        raise FormatProblem(f"{name} line {line}",
                            "the XML declares entities; refused (XXE / billion-laughs protection)")
    parser_args = dict(events=("end",), tag=f"{{*}}{record_tag}", resolve_entities=False, no_network=True,
                       load_dtd=False, huge_tree=False, remove_comments=True, remove_pis=True)
    if encoding:
        parser_args["encoding"] = encoding
    index = 0
    try:
        for _, el in etree.iterparse(str(path), **parser_args):
            index += 1
            record = element_record(el)
            yield f"{name} record {index} (line {el.sourceline})", \
                record if isinstance(record, dict) else {"text": record}
            el.clear(keep_tail=True)
            parent = el.getparent()
            while parent is not None and el.getprevious() is not None:
                del parent[0]  # forget records already yielded: memory stays flat
    except etree.XMLSyntaxError as exc:
        line, col = (exc.position if exc.position else (exc.lineno or 0, 0))
        raise FormatProblem(f"{name} line {line} column {col}", f"malformed XML: {exc.msg}") from None
