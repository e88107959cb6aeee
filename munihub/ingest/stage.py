"""Stage: map and validate every record of a load, keeping good rows and quarantining bad ones.

Staged rows wait under their load id until the load passes its checks and is published;
quarantined rows keep the raw payload and every reason.  Every record read ends up in
exactly one of the two, which is what lets the ledger prove rows in = published + quarantined.
A bad value of a field that is not essential is set aside instead (table `set_aside`, written
in the same transaction as its batch) and counted per field in the ledger (`values_set_aside`).
A batch is first mapped and validated a column at a time (`columnar`); only the records that
path leaves (a value to set aside, a reason to quarantine) go through `check_record` one by one.
"""
from __future__ import annotations

import dataclasses
import json
import math
from collections import Counter
from collections.abc import Callable, Iterable
from itertools import repeat
from typing import Any

import sqlalchemy as sa

from munihub import store
from munihub.ingest.connector import Batch
from munihub.contracts import Contract
from munihub.ingest.columnar import plan_for
from munihub.ingest.mapping import KEYLESS, REFUSED, map_record, named_as_contract, raw_value, set_aside, source_key
from munihub.ingest.overlap import WriteBehind, fewer_collections, mapped, prefetch


@dataclasses.dataclass
class StageCounts:
    rows_in: int = 0
    staged: int = 0
    quarantined: int = 0
    cursor: dict[str, Any] | None = None
    set_aside: dict[str, int] = dataclasses.field(default_factory=dict)  # field -> values set aside
    profile: dict[str, Any] | None = None  # what the dataset checks read of the staged rows (`_profile`)


def _text_safe(text: str) -> str:
    """Text every JSON column accepts: PostgreSQL refuses NUL and unpaired surrogates."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _json_safe(raw: Any) -> Any:
    """Raw payloads go into a JSON column; anything exotic is kept as its text, so a hostile
    record is quarantined with its payload instead of failing the whole load."""
    if isinstance(raw, dict):
        return {_text_safe(str(k)): _json_safe(v) for k, v in raw.items()}
    if isinstance(raw, (list, tuple)):
        return [_json_safe(v) for v in raw]
    if isinstance(raw, str):
        return _text_safe(raw)
    if isinstance(raw, float) and not math.isfinite(raw):
        return str(raw)  # inf/NaN are not JSON
    if raw is None or isinstance(raw, (int, float, bool)):
        return raw
    return _text_safe(str(raw))


def _under(pointer: str, pointers) -> bool:
    return any(pointer == p or pointer.startswith(p + "/") for p in pointers)


def _drop(record: dict, pointer: str) -> None:
    parts = pointer.strip("/").split("/")
    for part in parts[:-1]:
        record = record.get(part) if isinstance(record, dict) else None
    if isinstance(record, dict):
        record.pop(parts[-1], None)


def check_record(contract: Contract, raw: dict, errors_of: Callable[[dict], list]
                 ) -> tuple[dict, str | None, list[dict], list[dict]]:
    """Map and validate one raw record: (record, source key, reasons, values set aside); no
    reasons means the record is published (its set-aside values emptied)."""
    if not isinstance(raw, dict):
        return {}, None, [{"pointer": "", "rule": "type", "message": "record is not an object",
                           "message_fa": "رکورد یک شیء نیست", "field": ""}], []
    record, reasons, aside = map_record(contract, raw)
    failed = {r["pointer"] for r in reasons}
    for reason in errors_of(record):  # (most records have none: nothing below runs for them)
        r = reason.to_dict() if hasattr(reason, "to_dict") else dict(reason)
        if _under(r["pointer"], failed):
            continue  # a field whose transform failed is absent: 'required' would only repeat the cause
        held = next((a for a in aside if a["pointer"] == r["pointer"]), None)
        if held is not None and r.get("rule") == "required":
            aside.remove(held)  # the shared schema cannot do without it: the record waits in quarantine
            reasons.append({k: v for k, v in held.items() if k != "value"})
            continue
        f = next((f for f in contract.fields if not f.must_read and
                  _under(r["pointer"], ("/" + f.name.replace(".", "/"),))), None)
        if f is not None and r.get("rule") != "required":
            _drop(record, r["pointer"])
            aside.append(set_aside(f, {**r, "field": f.name, "source_field": f.source or ""}, raw))
        else:
            reasons.append(r)
    key = source_key(contract, record, raw)
    if key is None and not reasons:
        named = list(contract.record_id or contract.key)
        reasons.append({"pointer": "/" + "/".join(contract.key), "rule": "key",
                        "message": f"{'record id' if contract.record_id else 'primary key'} "
                                   f"{'+'.join(named)} is empty",
                        "message_fa": "کلید اصلی رکورد خالی است", "field": ",".join(named)})
    return record, key, reasons, aside


def held_record(contract: Contract, errors_of: Callable[[dict], list], raw: Any,
                stored: list[dict] | None = None) -> tuple[str, dict] | None:
    """(key, mapped record) of a raw record quarantined only for a value its contract requires
    and could not have: an empty key (a registry keyed by national id: a child, a foreign
    national, a clerk's omission; key `mapping.KEYLESS`), or a `required` field empty or
    unreadable (a parent's mobile a school did not take, a birth date the reader refused), mapped
    as `check_record` maps it, without that value; None for any other record.  The publish keeps
    its citizen for person matching alone (`publish._keep_held`) while the row waits in
    quarantine: the row broke the contract, but the person it names is real.  `stored`: the
    reasons the quarantine holds for it, read first, so a row quarantined for anything else is
    not mapped again."""
    required = {f.name for f in contract.fields if f.required}
    if stored is not None and not _only_required(stored, required):
        return None
    record, key, reasons, aside = check_record(contract, raw, errors_of)
    if not record or not _only_required(reasons, required):
        return None
    # the values its reader refused still say who the citizen is (a foreign national's number
    # in the national id column, a landline without its city code): kept as written under
    # REFUSED, for matching to weigh as it weighs a published row's set-aside values
    fields = {f.name: f for f in contract.fields}
    refused = [{"field": a["field"], "rule": a["rule"], "value": a["value"]} for a in aside if a.get("field")]
    refused += [{"field": r["field"], "rule": r["rule"], "value": raw_value(fields[r["field"]], raw)}
                for r in reasons if r.get("field") in fields and str(r.get("rule", "")).startswith("transform:")]
    refused = [r for r in refused if r["value"] not in (None, "")]
    if refused:
        record = {**record, REFUSED: refused}
    return (key if key is not None else KEYLESS), record


def _only_required(reasons: list[dict], required: set[str]) -> bool:
    """Whether `reasons` (one or more) are all an empty key or a required field's."""
    return bool(reasons) and all(r.get("rule") == "key" or r.get("field") in required for r in reasons)


def _profile(contract: Contract) -> dict[str, Any]:
    """An empty load's profile, the figures the dataset checks would otherwise read back from
    staged_rows in one pass over every row's JSON (1.55 s of a 1M-row sync on PostgreSQL):
    rows staged, each contract field's nulls (missing or JSON null in the staged record), and
    for a contract keyed by one field of its own, how many of that field's values are objects
    or lists.  Kept in the ledger with each batch (`loads.staged_profile`, migration 0012) and
    read by `quality_measure.StagedColumns`; `tests/test_staged_profile.py` holds it to the SQL."""
    key = contract.key[0] if len(contract.key) == 1 and not contract.record_id else None
    return {"rows": 0, "nulls": dict.fromkeys((f.name for f in contract.fields), 0), "key": key, "key_objects": 0}


def _at(record: Any, path: list[str]) -> Any:
    """The value at `path` as the stored JSON holds it: None when missing, JSON null, or under
    a value that is not an object (as SQL's `->` reads it); a non-finite float is written as
    null (`store.encode_json`)."""
    for part in path:
        if record.__class__ is not dict:
            return None
        record = record.get(part)
    if record.__class__ is float and not math.isfinite(record):
        return None
    return record


def _count_record(profile: dict, record: dict) -> None:
    """Add one staged record that `check_record` mapped to `profile`."""
    nulls = profile["nulls"]
    for name in nulls:
        if _at(record, name.split(".")) is None:
            nulls[name] += 1
    if profile["key"] is not None and isinstance(_at(record, profile["key"].split(".")), (dict, list, tuple)):
        profile["key_objects"] += 1


def _count_absent(profile: dict, names: list[str], masks: Iterable[int]) -> None:
    """Add the absent fields of records mapped a column at a time (a mask over `names`, the
    column plan's fields; such a record's values are never objects)."""
    nulls = profile["nulls"]
    for mask, n in Counter(masks).items():
        j = 0
        while mask:
            if mask & 1:
                nulls[names[j]] += n
            mask >>= 1
            j += 1


def _aside_row(source: str, load_id: str, position: str, key: str, a: dict) -> dict:
    return {"source": source, "load_id": load_id, "position": position[:500], "source_key": key[:500],
            "field": a["field"][:200], "source_field": str(a.get("source_field") or "")[:500],
            "value": _json_safe(a.get("value")), "rule": str(a.get("rule") or "")[:100],
            "reason": {k: _json_safe(v) for k, v in a.items() if k != "value"}, "status": "open"}


STATISTICS_MIN = 10_000  # staged rows below which staged_rows is not analyzed (see stage_batches)
STAGED_TARGET = 10  # staged_rows' statistics target when it is analyzed (see stage_batches)

_STAGED = ["load_id", "seq", "source_key", "record", "record_hash", "position"]


def _plain_copy(load_id: str, after: int, plain: list, batch: Batch, binary: bool) -> str | bytes | None:
    """A batch whose every record was mapped a column at a time (`columnar`) as staged_rows'
    COPY data, built a column at a time without a tuple per row: in COPY's binary format from
    the bytes `stage_batch` hashed (`binary`, a UTF-8 connection: `rows.staged_copy_binary`),
    else as text (`rows.plain_copy_text`).  None for a batch with a key or position past its
    column's 500 characters, or, as text, a value COPY's text format escapes."""
    keys, texts, digests, _ = zip(*plain)
    n = len(plain)
    positions = batch.first_positions(n)
    if max(map(len, keys)) > 500 or max(map(len, positions)) > 500:
        return None
    encoded = texts[0].__class__ is bytes  # the common batch's (`stage_batch`)
    if binary:
        if not encoded:
            texts, digests = list(map(str.encode, texts)), list(map(str.encode, digests))
        return store.staged_copy_binary(load_id, after + 1, list(map(str.encode, keys)), texts, digests,
                                        list(map(str.encode, positions)))
    if encoded:
        texts, digests = map(bytes.decode, texts), map(bytes.decode, digests)
    return store.plain_copy_text([repeat(load_id, n), map(str, range(after + 1, after + n + 1)), keys, texts, digests,
                                  positions], n)


def _utf8_client(engine: sa.Engine) -> bool:
    """Whether the store's connections speak UTF-8 (COPY's binary format takes text in the
    client's encoding, and `stage_batch`'s bytes are UTF-8)."""
    with engine.connect() as conn:
        return conn.connection.driver_connection.encoding in ("UTF8", "UNICODE")


def _write_batch(engine: sa.Engine, load_id: str, columns: list[str], good: list | str | bytes, bad: list, held: list,
                 after: StageCounts, counts: StageCounts, on_batch: Callable[[StageCounts], None] | None,
                 early=None) -> None:
    """One batch's staged, quarantined and set-aside rows and the ledger's running counts, in one
    transaction; `counts` takes the values of `after` only once it is committed, and `early`
    (`publish_ahead.PublishAhead`) is handed the batch's staged rows then."""
    with engine.begin() as conn:
        store.async_commit(conn)  # staged rows are lost in a server crash anyway (unlogged)
        # Through the store's bulk path (COPY on PostgreSQL): SQLAlchemy's executemany
        # of dicts was the second cost of a full sync (about a quarter of staging's time).
        if isinstance(good, (str, bytes)):  # already COPY data (`_plain_copy`)
            store.copy_text(conn, store.staged_rows, columns, good)
        else:
            store.bulk_copy(conn, store.staged_rows, columns, good)
        if bad:
            conn.execute(store.quarantine.insert(), bad)
        if held:
            conn.execute(store.set_aside.insert(), held)
        conn.execute(store.loads.update().where(store.loads.c.load_id == load_id).values(
            rows_in=after.rows_in, rows_quarantined=after.quarantined, cursor_after=after.cursor,
            values_set_aside=after.set_aside, staged_profile=after.profile))
    before = counts.staged
    vars(counts).update(vars(after))
    if early is not None:
        early.staged(before, after.staged)
    if on_batch:
        on_batch(counts)


def stage_batches(engine: sa.Engine, contract: Contract, load_id: str, batches: Iterable[Batch],
                  errors_of: Callable[[dict], list], on_batch: Callable[[StageCounts], None] | None = None,
                  early=None) -> StageCounts:
    """Write every batch's records to staged_rows or quarantine, one transaction per batch.
    The next batch is read and this one mapped while the last one is written (`overlap`).
    With `early` (`publish_ahead.PublishAhead`, already open), each committed batch is also
    inserted into source_rows in its transaction; not for a load staging former keys."""
    from munihub.ingest.identity import former_identity, key_under

    counts = StageCounts()  # what is committed
    ahead = StageCounts()   # what the batches handed to the writer add up to
    plan = plan_for(contract, errors_of)  # None: every record through check_record
    postgres = engine.dialect.name == "postgresql"
    keep_order = not postgres  # jsonb keeps no key order: store the hashed text
    binary = postgres and _utf8_client(engine)  # stage_batch's UTF-8 bytes go to COPY as they are
    # Rows keyed by a former identity remain (rarely): each record also gets its key under it.
    former = former_identity(engine, contract)
    columns = _STAGED + ["former_key"] if former else _STAGED
    if former and early is not None:
        early.close()  # rows keyed another way remain: the publish moves them first, from staged_rows
        early = None
    ahead.profile = _profile(contract)
    names = [r.f.name for r in plan.fields] if plan is not None else []
    with fewer_collections(), WriteBehind() as writer:
        for batch, plain in mapped(plan, prefetch(named_as_contract(contract, batches)), keep_order):
            good, bad, held = [], [], []
            tally = dict(ahead.set_aside)
            staged = ahead.staged
            profile = {**ahead.profile, "nulls": dict(ahead.profile["nulls"])}
            if plain is None:
                plain = [None] * len(batch.records)
            elif postgres and not former and plain and None not in plain:
                text = _plain_copy(load_id, staged, plain, batch, binary)
                if text is not None:  # the common batch: every record plain, staged as it is
                    masks = [done[3] for done in plain]
                    if any(masks):
                        _count_absent(profile, names, masks)
                    profile["rows"] = staged + len(plain)
                    ahead = StageCounts(rows_in=ahead.rows_in + len(batch.records), staged=staged + len(plain),
                                        quarantined=ahead.quarantined, cursor=batch.cursor, set_aside=tally,
                                        profile=profile)
                    writer.submit(_write_batch, engine, load_id, columns, text, [], [], ahead, counts, on_batch,
                                  early)
                    continue
            records = batch.records  # a record of a connector's `Rows` is made a dict only here, when used
            masks = []
            for i, done in enumerate(plain):
                position = batch.position(i)
                if done is not None:  # mapped, judged and encoded a column at a time (columnar.py)
                    key, text, digest, mask = done
                    if text.__class__ is bytes:  # a plain batch `_plain_copy` refused: as text
                        text, digest = text.decode(), digest.decode()
                    masks.append(mask)
                    staged += 1
                    row = (load_id, staged, key[:500], text, digest, position[:500])
                    if former:  # rare (a change of identity in progress): the record as a dict again
                        before = key_under(former, json.loads(text), records[i])
                        row += (before[:500] if before is not None else None,)
                    good.append(row)
                    continue
                raw = records[i]
                record, key, reasons, aside = check_record(contract, raw, errors_of)
                if reasons:
                    bad.append({"source": contract.id, "load_id": load_id, "position": position[:500],
                                "source_key": key, "raw": _json_safe(raw), "reasons": reasons, "status": "open"})
                    continue
                staged += 1
                row = (load_id, staged, key[:500], store.encode_json(record), store.record_hash(record),
                       position[:500])
                if former:
                    before = key_under(former, record, raw)
                    row += (before[:500] if before is not None else None,)
                good.append(row)
                _count_record(profile, record)
                for a in aside:
                    tally[a["field"]] = tally.get(a["field"], 0) + 1
                    held.append(_aside_row(contract.id, load_id, position, key, a))
            if any(masks):
                _count_absent(profile, names, masks)
            profile["rows"] = staged
            ahead = StageCounts(rows_in=ahead.rows_in + len(batch.records), staged=staged,
                                quarantined=ahead.quarantined + len(bad), cursor=batch.cursor, set_aside=tally,
                                profile=profile)
            writer.submit(_write_batch, engine, load_id, columns, good, bad, held, ahead, counts, on_batch, early)
    # Checks and publish read the staged rows by load.  A few thousand rows are read the same
    # way whatever the planner believes (by the (load_id, seq) key, no join), and staged_rows,
    # vacuumed empty after every large load, would be analyzed at every small one: 8-16 ms of a
    # 1 % incremental sync, for no other plan.
    # Their plans need the load's row count and that its keys are (nearly) all distinct, which a
    # sample of 3,000 rows tells as well as the default 30,000 (a 200k-row load's ANALYZE took
    # 0.37-0.48 s with every non-JSON column at the default target, 0.03-0.04 s so).
    store.keep_statistics(engine, store.staged_rows, counts.staged, minimum=STATISTICS_MIN,
                          columns=["load_id", "seq", "source_key"], target=STAGED_TARGET)
    return counts
