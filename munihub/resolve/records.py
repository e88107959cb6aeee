"""Published source rows as match records: the shape `munihub.resolve.match` and `munihub.resolve.golden`
take (`ref`, `source`, `entity_type`, `fields`, `trust`, `updated_at`, `load_id`), plus the
person a non-person row names (its *mention*, so a payer becomes a person record too), and the
persons the earlier copies of a re-used record id name (`store.earlier_copies`, never a row)."""
from __future__ import annotations

import datetime as dt
import sys
from collections import Counter, defaultdict
from typing import Any, Iterable

import sqlalchemy as sa

from munihub import store
from munihub.config import Settings

MENTION = "#person"
# Fields of non-person records that name the citizen behind them.
PERSON_NAME_FIELDS = ("citizen_name", "owner_name", "payer_name", "full_name")
# Identifying fields a mention carries over as they are (a nested address is kept whole).
# A national id the contract set aside for its wrong check digit (`set_aside`): kept for
# matching only, under its own name, so it never passes for a valid id (exact rule, golden
# record: `golden.MATCH_ONLY`); a one-digit typo beside agreeing names is strong evidence.
SET_ASIDE_ID = "national_id_set_aside"
# A landline of eight digits that a phone or mobile field gave without its city code, set
# aside because the contract named none («۳۸۴۱۲۳۴۵» beside «۰۵۱۳۸۴۱۲۳۴۵» elsewhere): kept for
# matching only (`match`'s `landline` key compares landlines by their last eight digits),
# never a golden value, since the city it belongs to is a guess.
PHONE_LOCAL = "phone_local"
# A foreign national's twelve-digit number (FIDA, the residence card's) in a national id
# column, set aside there as no national id: the same number is the same resident, so it is
# compared for matching only (exactly: family members' numbers run in sequence), never golden.
FOREIGN_ID = "foreign_id"
# Where a row held in quarantine for a required value keeps the values its readers refused
# (`ingest.mapping.REFUSED`, the same name: ingest and resolve import nothing of each other).
REFUSED = "#refused"
CARRIED = ("national_id", SET_ASIDE_ID, FOREIGN_ID, "mobile", "phone", PHONE_LOCAL, "birth_date", "postal_code",
           "father_name", "gender", "email")


# The date a mention's row was made (a 137 call's filing date), ISO `YYYY-MM-DD`: matching
# never compares it (`match._PERSON`: a feature only), nor does a golden record show it.
MENTIONED_ON = "mentioned_on"


def _day(value) -> str | None:
    """The ISO day of a published date or date-time (`2024-03-05T10:12:00` -> `2024-03-05`),
    else None (a value of another shape is no date to reckon an age from)."""
    day = _iso(value)[:10] if value else ""
    return day if len(day) == 10 and day[4] == day[7] == "-" and day.replace("-", "").isdigit() else None


def _iso(value) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value or "")


def person_mention(record: dict) -> dict | None:
    """The citizen named inside a non-person record, as person fields with every identifying
    field the record has: name parts read from its one-field name (`parse_name`, with
    `name_confidence` when the order was a guess), national id, mobile, landline, birth date,
    postal code, address and district.  None only when nobody is named: no name (or a
    placeholder such as «ناشناس»), no national id, no phone and no earlier tracking code
    quoted (a 137 call that quotes one is its caller's follow-up: `thread_mentions`)."""
    from munihub.persian import contacts_in, national_id_in_text, parse_name, title_gender

    person: dict[str, Any] = {f: record[f] for f in CARRIED if record.get(f)}
    name = next((record[f] for f in PERSON_NAME_FIELDS if record.get(f)), None)
    parsed = parse_name(name) if isinstance(name, str) else None
    if parsed is not None and parsed.by_agent:
        # «A به وکالت از B»: the record is B's, but A came to the counter and left her own
        # phone; as B's it would join B to A's calls (same surname, A's mobile)
        for field in ("mobile", "phone", PHONE_LOCAL):
            person.pop(field, None)
    if parsed is not None and not parsed.placeholder:
        for field, value in (("first_name", parsed.first), ("last_name", parsed.last), ("full_name", parsed.full),
                             ("father_name", parsed.father), ("title", parsed.title)):
            if value and field not in person:
                person[field] = value
        if parsed.seyyed:
            person["seyyed"] = True
        if parsed.unsure and parsed.first and parsed.last:
            person["name_confidence"] = parsed.confidence  # the parts may be the other way round
    if parsed is not None and parsed.numbers:
        for field, value in contacts_in(parsed.numbers).items():
            person.setdefault(field, value)
    if "national_id" not in person and isinstance(record.get("description"), str):
        # an operator noting the caller's id in the call's text («…؛ کد ملی ۰۰۹۴…»)
        noted = national_id_in_text(record["description"])
        if noted:
            person["national_id"] = noted
    thread = request_thread(record)
    quotes = thread is not None and thread != str(record.get("tracking_code") or "").strip().casefold()
    if not any(person.get(f) for f in ("national_id", SET_ASIDE_ID, FOREIGN_ID, "mobile", "phone", PHONE_LOCAL,
                                       "first_name", "last_name")) \
            and not quotes:
        # an address or a date alone names nobody; a nameless call quoting the code of an
        # earlier one is mostly that caller's follow-up (its thread says whose: thread_mentions)
        return None
    title = (parsed.title if parsed is not None else None) or record.get("citizen_title")
    if title and "gender" not in person:  # (a form may ask the title apart: `citizen_title`)
        gender = title_gender(title)
        if gender:
            person["gender"] = gender  # «خانم احمدی» is not the registry's «علی احمدی»
    if thread:
        person["request_thread"] = thread
    on = _day(record.get("filed_at"))
    if on:  # the call's own date: who at the caller's home was old enough to call (`partial`)
        person[MENTIONED_ON] = on
    address = _address(record)
    if address:
        person["address"] = address
        if address.get("postal_code") and "postal_code" not in person:
            person["postal_code"] = address["postal_code"]
    return person


# Titles that say whom they address (not دکتر, مهندس): the gender the person schema uses.
def request_thread(record: dict, shapes: set | None = None) -> str | None:
    """The request a 137 call belongs to: the earlier tracking code it cites (`refers_to`, or
    quoted in its description: `codes.quoted_codes`, a number of the shape of the source's
    codes, `shapes`, else of its own code's, and no phone, date or number of its own caller;
    the smallest if several), else its own code.  A follow-up and the call it cites then share
    a thread, and their callers are mostly one citizen.  None for a record with no tracking
    code."""
    from munihub.resolve.codes import quoted_codes

    own = str(record.get("tracking_code") or "").strip()
    if not own:
        return None
    cited = [str(record["refers_to"]).strip()] if record.get("refers_to") else []
    cited += quoted_codes(record.get("description"), own, shapes,
                          tuple(record.get(f) for f in ("mobile", "phone", "national_id")))
    cited = sorted({c for c in cited if c and c != own})
    return (cited[0] if cited else own).casefold()


def code_shapes(requests: list[dict]) -> set:
    """The shapes of the tracking codes the requests have (`codes.code_shape`)."""
    from munihub.resolve.codes import code_shape

    return {code_shape(c) for r in requests
            if (c := str(r.get("fields", r).get("tracking_code") or "").strip())}


def _address(record: dict) -> dict[str, Any]:
    """The record's address as the person schema's address object (a free-text address becomes
    its `detail`; a separate district field joins it)."""
    raw = record.get("address")
    address = dict(raw) if isinstance(raw, dict) else ({"detail": raw} if raw else {})
    if record.get("district") and not address.get("district"):
        address["district"] = record["district"]
    return {k: v for k, v in address.items() if v not in (None, "")}


def trust_of(settings: Settings | None) -> dict[str, int]:
    if settings is None:
        return {}
    from munihub.contracts import load_all
    contracts, _ = load_all(settings.contracts_dir, schemas_dir=settings.schemas_dir)
    out = {}
    for c in contracts:
        top = {p.get("property"): p.get("value") for p in c.raw.get("customProperties") or []}
        try:
            out[c.id] = int(top.get("trust", 1))
        except (TypeError, ValueError):
            out[c.id] = 1
    return out


def match_records(source: str, key: str, etype: str, record: dict | None, load_id, updated,
                  trust: dict[str, int], record_hash: str | None = None,
                  raw: bytes | None = None) -> list[dict]:
    """One source row as match records: itself, plus its person mention if it names one.
    `record_hash` is the row's stored content hash (the same `store.record_hash`), if known.
    With `raw` (the record's JSON) the base record keeps that instead of `fields` (see
    `with_fields`): a million decoded records would not fit the memory a full run may use."""
    source, load_id = sys.intern(source), sys.intern(load_id) if load_id else load_id
    base = {"source": source, "updated_at": sys.intern(_iso(updated)), "trust": trust.get(source, 1),
            "load_id": load_id}
    if raw is not None:
        first = {**base, "ref": f"{source}|{key}", "entity_type": etype, "raw": raw}
        record = _decode(raw) if etype != "person" else None  # only for its person mention
    else:
        first = {**base, "ref": f"{source}|{key}", "entity_type": etype, "fields": with_name_parts(record)}
    if record_hash:
        first["record_hash"] = record_hash
    out = [first]
    if etype != "person":
        mention = person_mention(record)
        if mention:
            out.append({**base, "ref": f"{source}|{key}{MENTION}", "entity_type": "person",
                        "fields": mention, "trust": 0})
    return out


def earlier_ref(source: str, key: str, record_hash: str) -> str:
    """The ref of a kept earlier copy's person (`store.earlier_copies`): its key, the start of
    its content hash (a copy is named by its content, so a re-read keeps the name however its
    rows moved) and the mention suffix, which every reader of members takes for a citizen
    named by a row rather than a row of its own (indicators count no copy as a record)."""
    return f"{source}|{key}{COPY}{record_hash[:COPY_HASH]}{MENTION}"


COPY, COPY_HASH = "#copy-", 12


def earlier_records(source: str, key: str, etype: str, record: dict, record_hash: str, load_id,
                    updated) -> list[dict]:
    """A kept earlier copy as match records: only the citizen it names (a person source's
    record itself), never a record of its own type (the key's published row is that).  Its
    trust is a mention's: a copy the source has overwritten never outweighs a published row
    in a golden record."""
    if REFUSED in record:  # a held row's refused values (`stage.held_record`)
        found = {}
        for r in record[REFUSED]:
            found.update(match_only(r.get("field"), r.get("rule"), r.get("value")))
        record = {**{k: v for k, v in record.items() if k != REFUSED}, **found}
    fields = with_name_parts(record) if etype == "person" else person_mention(record)
    if not fields:
        return []
    return [{"source": sys.intern(source), "updated_at": _iso(updated), "trust": 0,
             "load_id": sys.intern(load_id) if load_id else load_id,
             "ref": earlier_ref(source, key, record_hash), "entity_type": "person", "fields": fields,
             "record_hash": record_hash}]


def _earlier(conn, since=None, entity_type: str | None = None, unresolved: bool = False,
             mistyped: dict | None = None, refs: Iterable[str] | None = None) -> Iterable[dict]:
    """Match records of the kept earlier copies (`earlier_records`), filtered as
    `load_match_records` filters rows, or those of the given refs; a copy whose national id
    or landline was set aside carries it (`mistyped`: `set_aside_ids`, by position)."""
    e, f = store.earlier_copies, store.match_features
    query = sa.select(e.c.source, e.c.source_key, e.c.entity_type, e.c.record, e.c.record_hash, e.c.load_id,
                      e.c.updated_at, e.c.position).order_by(e.c.source, e.c.source_key, e.c.record_hash)
    if refs is not None:
        wanted = set(refs)
        keys = {tuple(r.removesuffix(MENTION).rpartition(COPY)[0].split("|", 1)) for r in wanted}
        clauses = list(store.key_clauses(e, keys))
        if not clauses:
            return
        queries = [query.where(c) for c in clauses]
    else:
        wanted = None
        if since is not None:
            query = query.where(e.c.updated_at >= since)
        if entity_type is not None:
            query = query.where(e.c.entity_type == entity_type)
        if unresolved:  # a copy's ref names its content: resolved once, it never changes
            ref = (e.c.source + "|" + e.c.source_key + COPY + sa.func.substr(e.c.record_hash, 1, COPY_HASH)
                   + MENTION)
            query = query.where(~sa.exists().where(f.c.ref == ref))
        queries = [query]
    for q in queries:
        for row in conn.execute(q):
            typo = (mistyped.get((row[0], row[1], row[5])) or {}).get(row[7]) if mistyped else None
            record = row[3] if typo is None else {**row[3], **typo}
            for rec in earlier_records(*row[:3], record, *row[4:7]):
                if wanted is None or rec["ref"] in wanted:
                    yield rec


def _decode(raw: bytes | str) -> Any:
    import msgspec

    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:  # what msgspec refuses (NaN, ...) the standard parser reads
        import json
        return json.loads(raw)


def with_fields(rec: dict) -> dict:
    """A match record with its `fields` decoded, if it holds them as raw JSON."""
    return rec if "fields" in rec else {**rec, "fields": with_name_parts(_decode(rec["raw"]))}


def with_name_parts(record: dict | None) -> dict | None:
    """A person record that has only a one-field `full_name` gets the parts `parse_name` reads
    from it (first, last, father, title), so matching compares parts as it does for others."""
    if not isinstance(record, dict) or not isinstance(record.get("full_name"), str) or \
            "first_name" in record or "last_name" in record:
        return record
    from munihub.persian import contacts_in, parse_name

    parsed = parse_name(record["full_name"])
    if parsed is None or parsed.placeholder:
        return record
    parts = {f: v for f, v in (("first_name", parsed.first), ("last_name", parsed.last),
                               ("father_name", parsed.father), ("title", parsed.title)) if v and f not in record}
    parts.update({f: v for f, v in contacts_in(parsed.numbers).items() if not record.get(f)})
    return {**record, **parts} if parts else record


def load_match_records(engine: sa.Engine, settings: Settings | None = None, *,
                       since: dt.datetime | None = None, entity_type: str | None = None,
                       trust: dict | None = None, unresolved: bool = False,
                       raw: bool = False) -> dict[str, list[dict]]:
    """Published source rows as match records, grouped by entity type (person mentions
    included); `since` keeps rows updated at or after it, `entity_type` rows of one type,
    `unresolved` rows whose content hash differs from the one resolution stored (or none);
    `raw` keeps each record as its JSON text (`with_fields` decodes it)."""
    trust = trust_of(settings) if trust is None else trust
    t, f = store.source_rows, store.match_features
    record = sa.cast(t.c.record, sa.Text) if raw else t.c.record
    query = sa.select(t.c.source, t.c.source_key, t.c.entity_type, record, t.c.load_id,
                      t.c.updated_at, t.c.record_hash).order_by(t.c.source, t.c.source_key)
    if since is not None:
        query = query.where(t.c.updated_at >= since)
    if unresolved:
        # Done in SQL: the rows at the mark can be a whole million-row load, and reading them
        # back only to find their hashes unchanged would cost what a full run costs.
        query = query.select_from(t.outerjoin(f, f.c.ref == t.c.source + "|" + t.c.source_key)).where(
            sa.or_(f.c.ref.is_(None), f.c.record_hash != t.c.record_hash))
    if entity_type is not None:
        query = query.where(t.c.entity_type == entity_type)
    groups: dict[str, list[dict]] = defaultdict(list)
    with engine.connect() as conn:
        mistyped = set_aside_ids(conn)
        copied = _copy_positions(conn, mistyped)
        for row in conn.execute(query):
            at = (row[0], row[1], row[4])
            typo = _published_typo(mistyped.get(at), copied, at) if mistyped else None
            if raw:
                text = row[3] if typo is None else _with_set_aside(row[3], typo)
                recs = match_records(*row[:3], None, *row[4:6], trust, row[6], raw=text.encode("utf-8"))
            else:
                record = row[3] if typo is None else {**row[3], **typo}
                recs = match_records(*row[:3], record, *row[4:6], trust, row[6])
            for rec in recs:
                groups[rec["entity_type"]].append(rec)
        # the earlier copies of re-used record ids: the citizens only they name (issue 16)
        groups["person"].extend(_earlier(conn, since, entity_type, unresolved, mistyped))
    if not groups["person"]:
        del groups["person"]
    return groups


def set_aside_ids(conn) -> dict[tuple[str, str, str], dict[str | None, dict[str, str]]]:
    """Values set aside at publish that still say who a row is, and still open, by (source,
    source key, load), then by the row's position in the load, as the match-only fields they
    become: a national id that failed its check digit (`SET_ASIDE_ID`: ten Latin digits, zeros
    lost in a spreadsheet padded back), a foreign national's twelve-digit number in a national
    id column (`FOREIGN_ID`) and a landline of eight digits given without its city code
    (`PHONE_LOCAL`).  A value of an older load than the row's is no longer the row's (the
    key includes the load); a load that repeated a key set values aside for each of its rows,
    the published one's and its kept earlier copies' (`_published_typo`)."""
    t = store.set_aside
    out: dict[tuple[str, str, str], dict[str | None, dict[str, str]]] = {}
    query = sa.select(t.c.source, t.c.source_key, t.c.load_id, t.c.position, t.c.field, t.c.value).where(
        t.c.status == "open", sa.or_(
            sa.and_(t.c.field == "national_id", t.c.rule == "transform:national_id"),
            t.c.rule.in_(("transform:phone", "transform:mobile"))))
    for source, key, load_id, position, field, value in conn.execute(query):
        found = match_only(field, "transform:national_id" if field == "national_id" else "transform:phone", value)
        if found:
            out.setdefault((source, key, load_id), {}).setdefault(position, {}).update(found)
    return out


def match_only(field: str | None, rule: str | None, value: Any) -> dict[str, str]:
    """The match-only field a value refused by its reader becomes, if any (`set_aside_ids`):
    a national id failing its check digit, a foreign national's twelve-digit number, a
    landline of eight digits without its city code."""
    from munihub.persian import to_latin_digits
    from munihub.persian.ids import national_id_problem

    digits = "".join(c for c in to_latin_digits(str(value or "")) if c.isdigit())
    if field == "national_id" and rule == "transform:national_id":
        if len(digits) == 12:
            return {FOREIGN_ID: digits}
        digits = digits.zfill(10) if len(digits) in (8, 9) else digits
        if national_id_problem(digits) == "check":  # a typo, not a wrong length or 0000000000
            return {SET_ASIDE_ID: digits}
    elif rule in ("transform:phone", "transform:mobile") and len(digits) == 8 and digits[0] not in "09":
        return {PHONE_LOCAL: digits}  # a local landline, nothing else
    return {}


def _copy_positions(conn, mistyped: dict) -> set[tuple]:
    """(source, key, load, position) of the kept earlier copies among `mistyped`'s keys: their
    set-aside ids are theirs, not the published row's."""
    if not mistyped:
        return set()
    e = store.earlier_copies
    return {tuple(r) for r in conn.execute(sa.select(e.c.source, e.c.source_key, e.c.load_id, e.c.position))
            if tuple(r[:3]) in mistyped}


def _published_typo(by_position: dict | None, copied: set[tuple], key: tuple) -> dict | None:
    """The set-aside values of the published row of `key` (source, key, load): its load's at a
    position no kept copy holds (a re-used key's earlier owner's mistyped id is not the last
    owner's)."""
    if not by_position:
        return None
    own = [v for p, v in by_position.items() if (*key, p) not in copied]
    return own[-1] if own else None


def _with_set_aside(text: str, values: dict) -> str:
    import json

    return json.dumps({**_decode(text), **values}, ensure_ascii=False)


def rows_for_refs(conn, refs: Iterable[str], trust: dict) -> dict[str, dict]:
    """Match records of the given refs, read back from source_rows and the kept earlier
    copies (for golden records)."""
    t = store.source_rows
    wanted = set(refs)
    copies = {r for r in wanted if COPY in r and r.endswith(MENTION)}
    keys = {tuple(r.removesuffix(MENTION).split("|", 1)) for r in wanted - copies}
    out = {rec["ref"]: rec for rec in _earlier(conn, refs=copies)} if copies else {}
    for where in store.key_clauses(t, keys):
        rows = conn.execute(sa.select(t.c.source, t.c.source_key, t.c.entity_type, t.c.record,
                                      t.c.load_id, t.c.updated_at).where(where))
        for row in rows:
            for rec in match_records(*row, trust):
                if rec["ref"] in wanted:
                    out[rec["ref"]] = rec
    return out


def request_cites(requests: list[dict]) -> dict[str, str | None]:
    """ref -> the code each request cites, else its own (`request_thread`), numbers read as
    codes by the shapes of all these requests' codes (`code_shapes`)."""
    shapes = code_shapes(requests)
    return {req["ref"]: request_thread(req.get("fields", req), shapes) for req in requests}


def request_threads(requests: list[dict], options: dict | None = None,
                    cites: dict[str, str | None] | None = None) -> dict[str, str]:
    """Map each request ref to its thread: its follow-up group (`followups.group_followups`: a
    chain A <- B <- C, or calls joined by place, category and window without a quoted code),
    merged with every request citing the same earlier code even when that request is not in
    the data (`request_thread`).  The callers of one thread are mostly one citizen, so person
    mentions carry it as evidence (`thread_mentions`).  The key is the smallest group key of
    the merged groups: stable and independent of input order.  `cites`: `request_cites` of
    these requests, if the caller has it already."""
    from munihub.resolve.followups import FOLLOWUP_DEFAULTS, group_followups

    # a follow-up joined only as the one request open at its place (`sole_request`: a spouse,
    # a son) is the home's, not its caller's: it lends its caller no thread
    groups = group_followups(requests, options={**(options or FOLLOWUP_DEFAULTS), "sole_request": False})
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        parent.setdefault(key, key)
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    cites = request_cites(requests) if cites is None else cites
    for req in requests:
        cited = cites[req["ref"]]
        a, b = find(groups[req["ref"]]), find("\uffffcode:" + cited) if cited else None
        if b is not None and a != b:  # the smaller key stays the root (group keys sort first)
            parent[max(a, b)] = min(a, b)
    return {ref: find(key) for ref, key in groups.items()}


def thread_mentions(requests: list[dict], mentions: Iterable[dict], options: dict | None = None) -> list[dict]:
    """Give the person mentions of 137 calls their request's whole thread (`request_threads`)
    as `request_thread`, in place of the code the call cites: a follow-up that quotes no
    code, or the third call of a chain, then still shares it with the first.  A call joined to its group only by place, category and window (no code
    cited either way) lends the thread only to a mention that names someone (a name, a mobile
    or a national id): a nameless caller on the home's landline is anyone in that home (a twin
    reports the pothole his brother did).  `requests` are the service requests (raw or
    decoded); returns the mentions whose thread changed."""
    decoded = [with_fields(r) for r in requests]
    cites = request_cites(decoded)  # the code each call cites, else its own: read once for both
    threads = request_threads(decoded, options, cites)
    threaded = Counter(cites.values())  # a code two calls share: one cites the other, or both one
    changed = []
    for rec in mentions:
        ref = rec["ref"].removesuffix(MENTION)
        thread = threads.get(ref) if rec["ref"].endswith(MENTION) else None
        if thread is None:
            continue
        fields = rec["fields"]
        if (cites[ref] is None or threaded[cites[ref]] < 2) and not any(fields.get(f) for f in ("first_name", "last_name", "mobile", "national_id")):
            thread = None  # nobody personal, and no code ties the call to the others
        if fields.get("request_thread") != thread:
            if thread is None:
                fields.pop("request_thread", None)
            else:
                fields["request_thread"] = thread
            changed.append(rec)
    return changed
