"""Persons matching and 137 request grouping on an outsider's held-out-style set, read through
contracts alone, per phenomenon, beside a previous commit in the same run.

Data: `bench/outsider_exports.py` (five agencies' exports in five shapes: a UTF-8-with-BOM CSV,
a Windows-1256 CSV as Excel saves it, 137 JSON lines with request groups, an .xlsx sheet, a
nested JSON document), written apart from the matcher and from `munihub.testing.exports`.
Each export gets the contract its agency would write from its column list (`CONTRACTS` below:
the encoding and sheet it names, its own record id, one-field names through `person_name`,
phones through `mobile:51` / `phone:51`), the hotline's follow-up options as its agency writes
them from docs/resolution.md (`MATCH_SETTINGS`, read as `MUNIHUB_MATCH_SETTINGS` is), then
`pipeline.sync_source` for every dataset and a full resolution, in a process and store of its
own per version.

Reported per version: rows in / quarantined / values set aside per source, records with a
person mention, persons pairwise and B-cubed P/R/F1 overall and per label, and the same for
the 137 calls' request groups.  A record the store does not hold (quarantined, or lost to a
record id another record re-used and not kept as an earlier copy) stays in the score as a
singleton; a 137 status log's rows of one tracking code are one record, scored once, by the
row the store publishes (the last).  Seeds: 5 and 6 to analyse; 7 is held out.

    .venv/bin/python bench/bench_outsider.py [--households 1000] [--seed 7] [--against cf4865c]
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
TREE = HERE.parent
sys.path.insert(0, str(HERE))

import bench_mentions  # noqa: E402  a sibling script: its version runner and `git archive` extraction
import outsider_exports  # noqa: E402


def _p(name, column, transform="text", **extra):
    prop = {"name": name, "physicalName": column, "logicalType": "string", "transformLogic": transform}
    prop.update(extra)
    return prop


# dataset -> (folder, server properties, shared schema, record id, properties)
CONTRACTS = {
    "tax.taxpayers": ("taxpayers", {"format": "csv", "encoding": "utf-8", "pattern": "*.csv"}, "person",
                      "شماره پرونده", [
        _p("national_id", "کد ملی", "national_id", primaryKey=True),
        _p("full_name", "نام و نام خانوادگی", "person_name"),
        _p("father_name", "نام پدر", "person_name"),
        _p("birth_date", "تاریخ تولد", "date"),
        _p("mobile", "تلفن همراه", "mobile:51"),
        _p("phone", "تلفن ثابت", "phone:51"),
        _p("address.detail", "نشانی"),
        _p("postal_code", "کد پستی", "postal_code")]),
    "permits.cases": ("cases", {"format": "csv", "encoding": "windows-1256", "pattern": "*.csv"}, "permit",
                      "شماره پرونده", [
        _p("permit_no", "شماره پرونده", primaryKey=True, required=True),
        _p("owner_name", "نام مالک", "person_name"),
        _p("national_id", "کد ملی مالک", "national_id"),
        _p("mobile", "تلفن", "mobile:51"),
        _p("address.detail", "نشانی ملک"),
        _p("district", "منطقه"),
        _p("issued_on", "تاریخ صدور", "date"),
        _p("floors", "تعداد طبقات", "integer")]),
    # `caller_title` is the form's «آقای»/«خانم» field; `status_at` (a status log's time) stays
    # unmapped: the shared service_request schema has no place for it.  A status log's rows of
    # one tracking code are one request: the hub publishes the last row, the latest.
    "rc137.calls": ("calls", {"format": "jsonl", "pattern": "*.jsonl"}, "service_request", "tracking", [
        _p("tracking_code", "tracking", primaryKey=True, required=True),
        _p("citizen_name", "caller_name", "person_name"),
        _p("citizen_title", "caller_title", "title"),
        _p("mobile", "caller_phone", "mobile:51"),
        _p("national_id", "caller_nid", "national_id"),
        _p("category", "subject"),
        _p("district", "region"),
        _p("address", "location"),
        _p("description", "description"),
        _p("status", "status"),
        _p("filed_at", "registered", "datetime", required=True)]),
    "water.bills": ("bills", {"format": "xlsx", "sheet": "مشترکین", "pattern": "*.xlsx"}, "payment", "شناسه قبض", [
        _p("payment_id", "شناسه قبض", primaryKey=True, required=True),
        _p("payer_name", "نام مشترک", "person_name"),
        _p("national_id", "کد ملی", "national_id"),
        _p("mobile", "شماره تماس", "mobile:51"),
        _p("address.detail", "نشانی"),
        _p("address.postal_code", "کد پستی", "postal_code"),
        _p("amount_rial", "مبلغ (ریال)", "integer", required=True)]),
    "welfare.clients": ("clients", {"format": "json", "records": "result.items", "pattern": "*.json"}, "person",
                        "client_id", [
        _p("national_id", "nid", "national_id", primaryKey=True),
        _p("title", "first_name", "title"),
        _p("first_name", "first_name", "person_name"),
        _p("last_name", "last_name", "person_name"),
        _p("father_name", "father", "person_name"),
        _p("birth_date", "birth", "date"),
        _p("gender", "sex", "gender"),
        _p("mobile", "cell", "mobile:51"),
        _p("address.detail", "addr")]),
}


# The hotline's follow-up settings as its agency writes them from docs/resolution.md: the
# documented options, the generic categories and the duplicate status its operators use.
MATCH_SETTINGS = {"service_request": {"followup": {
    "window_days": 30, "generic_categories": ["پیگیری درخواست", "پیگیری", "پیگیری مجدد"],
    "quoted_codes": True, "duplicate_statuses": ["تکراری"]}}}


# The registries an agency may key by the citizen's national id alone (`--key-by-national-id`)
KEYED_BY_NATIONAL_ID = ("tax.taxpayers", "welfare.clients")


def write_contracts(out: Path, data: Path, *, payer_address: bool = True, bare: bool = False,
                    key_by_national_id: bool = False) -> None:
    """Each export's contract; without `payer_address` the bills' address and postal code are
    left out, as an agency leaves them when its hub's payment schema has no place for them.
    `bare`: contracts as an agency writes them by hand, naming no transformLogic, and no match
    settings (every reader and follow-up option is the hub's default).  `key_by_national_id`:
    the tax and welfare registries name no recordId, so their rows are keyed by the national
    id, their primaryKey (a citizen's two files share one key; a row without an id has none)."""
    for dataset, (folder, server, shared, record_id, props) in CONTRACTS.items():
        if not payer_address and shared == "payment":
            props = [p for p in props if not p["name"].startswith("address.")]
        if bare:
            props = [{k: v for k, v in p.items() if k != "transformLogic"} for p in props]
        agency, name = dataset.split(".")
        params = {"connector": "file", **server}
        contract = {
            "apiVersion": "v3.1.0", "kind": "DataContract", "id": dataset, "name": name, "version": "1.0.0",
            "status": "active",
            "servers": [{"server": f"{name}-drop", "type": "local", "path": (data / folder).as_posix(),
                         "format": server["format"], "customProperties": [{"property": k, "value": v} for k, v in params.items()]}],
            "schema": [{"name": name, "physicalName": name, "customProperties": [
                {"property": "sharedSchema", "value": shared}] + (
                [] if key_by_national_id and dataset in KEYED_BY_NATIONAL_ID else
                [{"property": "recordId", "value": record_id}]),
                "properties": props}],
            "customProperties": [{"property": "retries", "value": 0}]}
        (out / agency).mkdir(parents=True, exist_ok=True)
        (out / agency / f"{name}.yaml").write_text(yaml.safe_dump(contract, allow_unicode=True, sort_keys=False), "utf-8")
    if not bare:
        (out / "match_settings.yaml").write_text(yaml.safe_dump(MATCH_SETTINGS, allow_unicode=True), "utf-8")


# ---------------------------------------------------------------- run by each version

def drive(folder: Path) -> dict:
    """Sync every export and resolve in full with the munihub on sys.path; what the store holds."""
    import sqlalchemy as sa

    from munihub import pipeline, store
    from munihub.config import REPO_ROOT, Settings
    from munihub.errors import MunihubError
    from munihub.resolve.run import resolve_all

    from munihub.config import load_settings

    own = folder.parent / f"{folder.name}-contracts"  # a version's own contracts, if it needs them
    contracts_dir = own if own.is_dir() else folder.parent / "contracts"
    errors = {}
    given = contracts_dir / "match_settings.yaml"  # (none with --bare: the hub's defaults)
    try:  # read as the hub reads MUNIHUB_MATCH_SETTINGS, so a version refusing it says so
        match = load_settings({**({"MUNIHUB_MATCH_SETTINGS": str(given)} if given.is_file() else {}),
                               "MUNIHUB_HOME": str(folder / "home")}).match_settings
    except MunihubError as exc:
        match, errors["match settings"] = None, str(exc).splitlines()[0][:300]
    settings = Settings(home=folder / "home", store_url=f"sqlite:///{folder / 'store.db'}",
                        contracts_dir=contracts_dir, schemas_dir=REPO_ROOT / "schemas", match_settings=match)
    started = time.perf_counter()
    for dataset in CONTRACTS:
        try:
            pipeline.sync_source(dataset, settings)
        except MunihubError as exc:  # a contract the hub refuses: its records are all lost
            errors[dataset] = str(exc).splitlines()[0][:300]
    synced = time.perf_counter() - started
    engine = store.engine_for(settings)
    resolve_all(engine, settings, full=True, match_settings=settings.match_settings)  # as `munihub resolve` does
    members: dict[str, str] = {}
    with engine.connect() as conn:
        rows = list(conn.execute(sa.select(store.loads)).mappings())
        loads = {x["source"]: {"rows_in": x["rows_in"], "quarantined": x["rows_quarantined"]} for x in rows}
        warned = [f"{x['source']}: {c.get('message')}" for x in rows for c in x.get("checks") or []
                  if c.get("status") in {"warning", "failed"}]
        m = store.entity_members
        for s, k, e in conn.execute(sa.select(m.c.source, m.c.source_key, m.c.entity_id)
                                    .where(m.c.entity_type == "person")):
            members[f"{s}|{k}"] = e
        groups = {k: e for k, e in conn.execute(sa.select(m.c.source_key, m.c.entity_id).where(
            m.c.source == "rc137.calls", m.c.entity_type != "person"))}
        a = store.set_aside
        aside = collections.Counter(f"{s}.{f}:{r}" for s, f, r in conn.execute(sa.select(a.c.source, a.c.field, a.c.rule)))
        f = store.match_features
        features = {r: feats for r, feats in conn.execute(sa.select(f.c.ref, f.c.features)
                                                           .where(f.c.entity_type == "person"))}
        copies = []  # the earlier copies of re-used record ids a version keeps for matching (issue 16)
        if "earlier_copies" in sa.inspect(conn).get_table_names():
            from munihub.resolve.records import earlier_ref
            e = store.earlier_copies
            copies = [(s, k, p, earlier_ref(s, k, h))
                      for s, k, p, h in conn.execute(sa.select(e.c.source, e.c.source_key, e.c.position, e.c.record_hash))]
        q = store.quarantine
        reasons = collections.Counter()
        for s, rs in conn.execute(sa.select(q.c.source, q.c.reasons)):
            for r in (rs if isinstance(rs, list) else [rs]):
                reasons[f"{s}: {r.get('field')} {r.get('rule')}" if isinstance(r, dict) else f"{s}: {r}"] += 1
    return {"synced_s": round(synced, 2), "total_s": round(time.perf_counter() - started, 2), "members": members,
            "groups": groups,
            "loads": loads, "errors": errors, "features": features, "copies": copies, "warnings": warned, "set_aside": dict(aside), "quarantine_reasons": dict(reasons.most_common(20))}


# ---------------------------------------------------------------- scores

def earlier_copies(truth: list[tuple], copies: list[tuple], order: dict[str, list[int]] | None = None
                   ) -> dict[int, str]:
    """Truth row -> the ref of the kept earlier copy it is (a version that keeps them).  A
    copy's position names its line or record number in the export; the number is the row's
    place among its dataset's rows in the export (`order`, else the truth's order, which the
    exports keep but for keyed registries) plus an offset (a header line, counting from 1),
    taken as the one that puts the most copies on a row of their own key.  A row without a
    key (`''`) is the copy kept under the hub's keyless key at its place."""
    import re

    from munihub.ingest.mapping import KEYLESS

    rows: dict[str, list[int]] = collections.defaultdict(list)
    for i, (dataset, *_) in enumerate(truth):
        rows[dataset].append(i)
    rows.update(order or {})
    out: dict[int, str] = {}
    for dataset in rows:
        placed = [(int(m.group(1)), "" if key == KEYLESS else key, ref) for d, key, position, ref in copies
                  if d == dataset for m in [re.search(r"(?:line|record) (\d+)", position or "")] if m]
        last = {truth[i][1]: i for i in rows[dataset]}  # a key's published row is no copy (adjacent rows
        best: dict[int, str] = {}                       # of one national id fit two offsets)
        for offset in range(3):
            found = {rows[dataset][n - offset]: ref for n, key, ref in placed
                     if 0 <= n - offset < len(rows[dataset]) and truth[rows[dataset][n - offset]][1] == key
                     and (key == "" or last[key] != rows[dataset][n - offset])}
            best = found if len(found) > len(best) else best
        out.update(best)
    return out


def keyed_by_national_id(truth: list[tuple], data: Path, contracts: Path
                         ) -> tuple[list[tuple], dict[str, list[int]], dict[int, int]]:
    """For `--key-by-national-id`: the truth with each keyed registry's record id replaced by
    the key the hub gives its row (the national id as the hub reads it, or as written when it
    fails its check: `stage.check_record`; `''` when empty), those registries' truth rows in
    the order of their export (the taxpayers' rows are shuffled), and the earlier rows of a
    key whose mapped record is the published (last) row's own, which the hub holds as that
    row (no copy of the same content is kept); read with this tree's contracts and mapping.
    A record id re-used within a registry names its rows in order."""
    import csv

    from munihub.contracts.load import load_contract
    from types import SimpleNamespace

    from munihub.ingest.stage import check_record
    from munihub.ingest.validate import errors_of
    from munihub.store import record_hash

    files = {"tax.taxpayers": ("taxpayers/taxpayers.csv", "شماره پرونده"),
             "welfare.clients": ("clients/clients.json", "client_id")}
    out, order, same = list(truth), {}, {}
    for dataset in KEYED_BY_NATIONAL_ID:
        path, id_column = files[dataset]
        agency, name = dataset.split(".")
        contract = load_contract(contracts / agency / f"{name}.yaml", schemas_dir=TREE / "schemas")
        check = errors_of(contract, SimpleNamespace(schemas_dir=TREE / "schemas"))
        if path.endswith(".csv"):
            with open(data / path, encoding="utf-8-sig", newline="") as fh:
                raws = list(csv.DictReader(fh))
        else:
            raws = json.loads((data / path).read_text("utf-8"))["result"]["items"]
        waiting = collections.defaultdict(collections.deque)  # record id -> its truth rows, in order
        for i, (d, rid, *_) in enumerate(truth):
            if d == dataset:
                waiting[rid].append(i)
        order[dataset], hashes = [], {}
        for raw in raws:
            i = waiting[str(raw[id_column])].popleft()
            record, key, _, _ = check_record(contract, raw, check)  # as staging maps it
            out[i] = (dataset, key or "", *truth[i][2:])
            order[dataset].append(i)
            hashes[i] = record_hash(record)
        last = {out[i][1]: i for i in order[dataset] if out[i][1]}
        same.update({i: last[out[i][1]] for i in order[dataset]
                     if out[i][1] and last[out[i][1]] != i and hashes[i] == hashes[last[out[i][1]]]})
    return out, order, same


def score(truth: list[tuple], result: dict, order: dict[str, list[int]] | None = None,
          same: dict[int, int] | None = None) -> dict:
    """Persons scored per record of the exports: a record's person is its own row (a person
    source) or its "#person" mention; a record whose record id (key) a later row of its file
    took is the earlier copy the store kept for matching, if it kept one (`earlier_copies`),
    and so is a row without a key; one the store lacks is a singleton.  `order`: datasets'
    truth rows in their export's order, where it is not the truth's; `same`: earlier rows of a
    key held as its published row, their content the same (both `keyed_by_national_id`)."""
    from munihub.resolve.evaluate import bcubed_scores, pairwise_scores, scores_by_label

    members = result["members"]
    holder = {f"{dataset}|{rid}": i for i, (dataset, rid, _, _) in enumerate(truth)}  # the last copy is kept
    for dataset, rows in (order or {}).items():
        holder.update({f"{dataset}|{truth[i][1]}": i for i in rows})
    copies = earlier_copies(truth, result.get("copies") or [], order)
    predicted, true, labels = {}, {}, {}
    mentions = collections.Counter()
    for i, (dataset, rid, pid, labelled) in enumerate(truth):
        ref = f"{dataset}|{rid}"
        held = (holder[ref] == i or i in (same or {})) and rid != ""
        ref = f"{ref}#person" if f"{ref}#person" in members else ref
        entity = members.get(ref) if held else members.get(copies.get(i))
        row = f"{i}"
        predicted[row] = entity or f"lost:{i}"
        true[row], labels[row] = pid, labelled + (f"source:{dataset}",)
        mentions[dataset, entity is not None] += 1
    out = {"pairwise": pairwise_scores(predicted, true), "bcubed": bcubed_scores(predicted, true),
           "by_label": scores_by_label(predicted, true, labels),
           "mentions": {d: f"{mentions[d, True]}/{mentions[d, True] + mentions[d, False]}" for d in CONTRACTS}}
    for k in ("loads", "errors", "set_aside", "quarantine_reasons", "synced_s", "total_s"):
        out[k] = result[k]
    out["warnings"] = result.get("warnings", [])
    return out


def score_requests(requests: list[tuple], result: dict) -> dict:
    """137 request groups scored per call: a call's predicted request is the group the store
    put it in; a call the store does not group (quarantined, or no group kept) is a singleton."""
    from munihub.resolve.evaluate import bcubed_scores, pairwise_scores, scores_by_label

    groups = result.get("groups") or {}
    predicted, true, labels = {}, {}, {}
    for i, (_, code, request, labelled) in enumerate(requests):
        predicted[code], true[code], labels[code] = groups.get(code) or f"lost:{i}", request, labelled
    return {"pairwise": pairwise_scores(predicted, true), "bcubed": bcubed_scores(predicted, true),
            "by_label": scores_by_label(predicted, true, labels), "grouped": f"{sum(c in groups for c in true)}/{len(true)}"}


EVIDENCE = (("nid", "national_id"), ("mobile", "mobile"), ("landline", "phone"), ("birth", "birth_date"),
            ("first", "first_key"), ("last", "last_key"), ("father", "father_key"), ("place", "place"),
            ("postal", "postal_code"))


def _evidence(a: dict, b: dict) -> str:
    """What two mentions' features agree on, and what they both carry but differ in."""
    agree = [n for n, k in EVIDENCE if a.get(k) and a.get(k) == b.get(k)]
    differ = [n for n, k in EVIDENCE if a.get(k) and b.get(k) and a.get(k) != b.get(k)]
    return f"agree {'+'.join(agree) or 'nothing'}" + (f"; differ {'+'.join(differ)}" if differ else "")


def losses(truth: list[tuple], result: dict, top: int = 10) -> dict:
    """Where matching loses: true pairs the store keeps apart and false pairs it joins, among
    records it holds, counted by the evidence the two mentions share, with an example each."""
    import itertools

    members, feats = result["members"], result.get("features") or {}
    last = {f"{dataset}|{rid}": pid for dataset, rid, pid, _ in truth}  # a repeated key's last copy is kept
    held = []
    for key, pid in last.items():
        ref = f"{key}#person" if f"{key}#person" in members else key
        if ref in members:
            held.append((ref, pid))
    out = {}
    for what, group, same in (("missed", 1, 0), ("false", 0, 1)):
        groups = collections.defaultdict(list)
        for ref, pid in held:
            groups[pid if group else members[ref]].append((ref, pid))
        kinds, sources, example = collections.Counter(), collections.Counter(), {}
        for rows in groups.values():
            for (a, pa), (b, pb) in itertools.combinations(rows, 2):
                if (members[a] == members[b]) == bool(same) and (pa == pb) != bool(same):
                    kind = _evidence(feats.get(a, {}), feats.get(b, {}))
                    kinds[kind] += 1
                    sources[" ~ ".join(sorted(r.split("|")[0] for r in (a, b)))] += 1
                    example.setdefault(kind, (a, feats.get(a), b, feats.get(b)))
        out[what] = {"pairs": sum(kinds.values()), "by_evidence": kinds.most_common(top),
                     "by_sources": sources.most_common(top), "examples": {k: example[k] for k, _ in kinds.most_common(top)}}
    return out


def request_losses(requests: list[tuple], calls: list[dict], result: dict, top: int = 10) -> dict:
    """Where request grouping loses: true pairs of calls the store keeps apart and false pairs
    it joins, counted by what the two calls, as exported, share (caller's phone, name, district,
    category or a generic one, a quoted code) and how far apart they were filed."""
    import itertools

    groups, by_code = result.get("groups") or {}, {c["tracking"]: c for c in calls}
    truth = {code: req for _, code, req, _ in requests}
    labels = {code: lb for _, code, _, lb in requests}
    generic = set(outsider_exports.GENERIC)
    digits = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")

    def phone(call: dict) -> str:  # the number's last eight digits, whatever the form
        return "".join(ch for ch in str(call.get("caller_phone") or "").translate(digits) if ch.isdigit())[-8:]

    def kind(a: dict, b: dict) -> str:
        same = (["phone"] if phone(a) and phone(a) == phone(b) else []) + \
            [n for n, k in (("name", "caller_name"), ("district", "region"), ("place text", "location"))
             if a.get(k) and a.get(k) == b.get(k)]
        cats = "category" if a["subject"] == b["subject"] else \
            "generic" if generic & {a["subject"], b["subject"]} else "other category"
        quoted = any(x["tracking"] in y["description"].translate(digits) for x, y in ((a, b), (b, a)))
        days = abs(_day(a["registered"]) - _day(b["registered"]))
        return (f"same {'+'.join(same) or 'nothing'}; {cats}" + ("; quoted" if quoted else "") +
                f"; {'≤7' if days <= 7 else '≤30' if days <= 30 else '>30'} days")

    out = {}
    for what, by_truth in (("missed", True), ("false", False)):
        sets = collections.defaultdict(list)
        for code in truth:
            sets[truth[code] if by_truth else groups.get(code, code)].append(code)
        kinds, trap, example = collections.Counter(), collections.Counter(), {}
        for codes in sets.values():
            for a, b in itertools.combinations(codes, 2):
                joined, same = groups.get(a) == groups.get(b) and a in groups, truth[a] == truth[b]
                if (by_truth and not joined) or (not by_truth and not same):
                    k = kind(by_code[a], by_code[b])
                    kinds[k] += 1
                    trap.update(set(labels[a]) | set(labels[b]))
                    example.setdefault(k, (by_code[a], by_code[b]))
        out[what] = {"pairs": sum(kinds.values()), "by_kind": kinds.most_common(top),
                     "labels": trap.most_common(top), "examples": {k: example[k] for k, _ in kinds.most_common(top)}}
    return out


def thread_losses(truth: list[tuple], calls: list[dict], result: dict) -> dict:
    """How good a shared 137 thread is as person evidence, by the link between two calls
    whose mentions share one: `quoted code` (one quotes the other's code, or both one code),
    `number` (the same phone's last eight digits or national id), else `place` (joined by
    place, category and window, or only through other calls of the group); and by what each
    caller gives (`full` name, `surname` with a title, `nameless`).  Per class: the pairs of
    one citizen and of two, and how many of each the store put in one person."""
    import itertools
    import re

    members, feats = result["members"], result.get("features") or {}
    pid = {f"rc137.calls|{rid}#person": p for dataset, rid, p, _ in truth if dataset == "rc137.calls"}
    by_code = {c["tracking"]: c for c in calls}
    digits = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")

    def number(call: dict, key: str) -> str:
        return "".join(ch for ch in str(call.get(key) or "").translate(digits) if ch.isdigit())[-8:]

    def quoted(call: dict) -> set:
        return set(re.findall(r"\d{11}", call["description"].translate(digits))) - {call["tracking"]}

    def named(f: dict) -> str:
        return "full" if f.get("first_key") and f.get("last_key") else "surname" if f.get("last_key") else "nameless"

    threads = collections.defaultdict(list)
    for ref, f in feats.items():
        if ref in pid and f.get("thread"):
            threads[f["thread"]].append(ref)
    out = collections.defaultdict(collections.Counter)
    for refs in threads.values():
        for a, b in itertools.combinations(sorted(refs), 2):
            ca, cb = (by_code[r.split("|")[1].removesuffix("#person")] for r in (a, b))
            link = "quoted code" if ca["tracking"] in quoted(cb) or cb["tracking"] in quoted(ca) or \
                quoted(ca) & quoted(cb) else "number" if any(
                    number(ca, k) and number(ca, k) == number(cb, k) for k in ("caller_phone", "caller_nid")) else "place"
            kind = f"{link}; {'+'.join(sorted((named(feats[a]), named(feats[b]))))}"
            same, joined = pid[a] == pid[b], a in members and members.get(a) == members.get(b)
            out[kind]["one citizen" if same else "two"] += 1
            out[kind]["one citizen, joined" if same and joined else "two, joined" if joined else "apart"] += 1
    return dict(sorted(out.items()))


def namesake_losses(truth: list[tuple], result: dict) -> dict:
    """How good a whole name (first name and surname) is as person evidence here: the pairs of
    held records giving the same one, by what else they share or differ in (`_evidence`), of
    one citizen and of two, and how many of each the store put in one person; and the expected
    namesakes of each whole name, parts x share(first) x share(last) over the store's person
    parts: a pair that agrees on the name alone is one citizen about 1 / (1 + that) of the time,
    so a rule joining such pairs at 0.99 needs names far rarer than these sets hold."""
    import itertools
    import statistics

    members, feats = result["members"], result.get("features") or {}
    last = {f"{dataset}|{rid}": pid for dataset, rid, pid, _ in truth}
    named = collections.defaultdict(list)
    for key, pid in last.items():
        ref = f"{key}#person" if f"{key}#person" in members else key
        f = feats.get(ref) or {}
        if ref in members and f.get("first_key") and f.get("last_key"):
            named[f["first_key"], f["last_key"]].append((ref, pid))
    out = collections.defaultdict(collections.Counter)
    for rows in named.values():
        for (a, pa), (b, pb) in itertools.combinations(rows, 2):
            kind = _evidence(feats[a], feats[b])
            joined = members[a] == members[b]
            out[kind]["one citizen" if pa == pb else "two"] += 1
            out[kind]["one citizen, joined" if pa == pb and joined else "two, joined" if joined else "apart"] += 1
    parts = collections.defaultdict(set)
    for name, rows in named.items():
        parts[name] |= {members[r] for r, _ in rows}
    firsts, lasts = collections.Counter(), collections.Counter()
    by_part = collections.defaultdict(set)
    for name, ps in parts.items():
        for p in ps:
            by_part[p].add(name)
    for names in by_part.values():
        firsts.update({f for f, _ in names})
        lasts.update({s for _, s in names})
    n = len(by_part) or 1
    expected = sorted(firsts[f] * lasts[s] / n for f, s in parts)
    top = sorted(out.items(), key=lambda kv: -(kv[1]["one citizen"] + kv[1]["two"]))
    return {"classes": dict(top), "expected": (expected[0], statistics.median(expected), expected[-1]) if expected else None}


def _day(registered: str) -> int:
    """Days of a call's Jalali `registered` stamp (any digits, `/` or `-`), for gaps only."""
    digits = str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789")
    y, m, d = (int(x) for x in registered.translate(digits).split()[0].replace("-", "/").split("/"))
    return y * 365 + (m - 1) * 31 - max(0, m - 7) + d


def report(results: dict[str, dict]) -> None:
    names = list(results)
    print(f"{'':36}" + "".join(f"{n:>28}" for n in names))
    row = lambda label, f: print(f"{label:36}" + "".join(f"{f(results[n]):>28}" for n in names))  # noqa: E731
    fmt = "{precision:.3f}/{recall:.3f}/{f1:.3f}".format
    for src in CONTRACTS:
        row(f"{src} in/quar/mentions", lambda r, s=src: "{}/{}/{}".format(
            r["loads"].get(s, {}).get("rows_in", "-"), r["loads"].get(s, {}).get("quarantined", "-"), r["mentions"][s]))
    row("sync s / with resolution", lambda r: f"{r['synced_s']:.1f} / {r['total_s']:.1f}")
    for kind in ("pairwise", "bcubed"):
        row(f"persons {kind} P/R/F1", lambda r, k=kind: fmt(**r[k]))
    if all("requests" in results[n] for n in names):
        row("137 calls grouped", lambda r: r["requests"]["grouped"])
        for kind in ("pairwise", "bcubed"):
            row(f"requests {kind} P/R/F1", lambda r, k=kind: fmt(**r["requests"][k]))

    def by_label(title, part):
        print(f"{title} by label, pairwise P/R/F1 · B-cubed R (records):")
        for label in part(results[names[-1]]):
            row(f"  {label}", lambda r, lb=label: "{} {:.3f} ({})".format(
                fmt(**part(r)[lb]["pairwise"]), part(r)[lb]["bcubed"]["recall"], part(r)[lb]["records"])
                if lb in part(r) else "-")
    by_label("persons", lambda r: r["by_label"])
    if all("requests" in results[n] for n in names):
        by_label("requests", lambda r: r["requests"]["by_label"])
    for n in names:
        r = results[n]
        print(f"{n}: refused {r['errors'] or 'none'}")
        print(f"{n}: set aside {dict(sorted(r['set_aside'].items(), key=lambda kv: -kv[1])) or 'none'}")
        for reason, count in r["quarantine_reasons"].items():
            print(f"{n}: quarantined {count}× {reason}")
        for warning in r["warnings"]:
            print(f"{n}: check warned: {warning[:300]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--against", default="cf4865c", help="a previous version (git revision; `none`: this tree only)")
    ap.add_argument("--keep", type=Path, help="build the exports and contracts here and keep them")
    ap.add_argument("--json", type=Path, help="also write the scores here")
    ap.add_argument("--losses", type=int, default=0, metavar="N",
                    help="also print this tree's N biggest classes of missed and false pairs (persons, then "
                         "requests), with an example each")
    ap.add_argument("--bare", action="store_true",
                    help="contracts naming no transformLogic and no match settings, as an agency may write them")
    ap.add_argument("--key-by-national-id", action="store_true",
                    help="the tax and welfare contracts name no recordId: their rows are keyed by the national id")
    ap.add_argument("--drive", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.drive:
        print(json.dumps(drive(args.drive), ensure_ascii=False))
        return
    with tempfile.TemporaryDirectory(prefix="bench-outsider-") as tmp:
        work = args.keep or Path(tmp)
        requests: list[tuple] = []
        truth = outsider_exports.generate(work / "data", args.households, args.seed, requests)
        calls = [json.loads(x) for x in (work / "data" / "calls" / "calls.jsonl").read_text("utf-8").splitlines()]
        write_contracts(work / "contracts", work / "data", bare=args.bare, key_by_national_id=args.key_by_national_id)
        order = same = None
        if args.key_by_national_id:
            truth, order, same = keyed_by_national_id(truth, work / "data", work / "contracts")
        print(f"{len(truth):,} records of {len({t[2] for t in truth}):,} citizens, {len(requests):,} 137 calls "
              f"in {len({r[2] for r in requests}):,} requests ({args.households:,} households, seed {args.seed})")
        results = {}
        if args.against != "none":
            old = bench_mentions.extract(args.against, work / "previous-tree")
            if not json.loads((old / "schemas" / "payment.schema.json").read_text("utf-8"))["properties"].get("address"):
                write_contracts(work / "previous-contracts", work / "data", payer_address=False, bare=args.bare,
                                key_by_national_id=args.key_by_national_id)
            previous = bench_mentions.run_version(old, work / "previous", Path(__file__).resolve())
            results[f"previous ({args.against})"] = {**score(truth, previous, order, same), "requests": score_requests(requests, previous)}
        current = bench_mentions.run_version(TREE, work / "current", Path(__file__).resolve())
        results["this tree"] = {**score(truth, current, order, same), "requests": score_requests(requests, current)}
    report(results)
    if args.losses:
        for what, found in losses(truth, current, args.losses).items():
            print(f"{what} pairs among held records: {found['pairs']:,}; by sources {found['by_sources']}")
            for kind, count in found["by_evidence"]:
                a, fa, b, fb = found["examples"][kind]
                print(f"  {count:5,} {kind}\n        e.g. {a} {json.dumps(fa, ensure_ascii=False)}\n"
                      f"             {b} {json.dumps(fb, ensure_ascii=False)}")
        for what, found in request_losses(requests, calls, current, args.losses).items():
            print(f"{what} request pairs: {found['pairs']:,}; labels most involved {found['labels']}")
            for kind, count in found["by_kind"]:
                a, b = found["examples"][kind]
                print(f"  {count:5,} {kind}\n        e.g. {json.dumps(a, ensure_ascii=False)}\n"
                      f"             {json.dumps(b, ensure_ascii=False)}")
        found = namesake_losses(truth, current)
        print("records giving one whole name, by what else they share: pairs of one citizen (joined) / of two (joined)")
        for kind, n in list(found["classes"].items())[:args.losses]:
            print(f"  {kind:44} {n['one citizen']:5,} ({n['one citizen, joined']:5,}) / {n['two']:5,} ({n['two, joined']:4,})")
        if found["expected"]:
            print("expected namesakes of a whole name (parts x share(first) x share(last)): min {:.3f}, median {:.3f}, "
                  "max {:.3f}".format(*found["expected"]))
        print("137 calls sharing a thread, by link and names: pairs of one citizen (joined) / of two (joined)")
        for kind, n in thread_losses(truth, calls, current).items():
            print(f"  {kind:36} {n['one citizen']:5,} ({n['one citizen, joined']:5,}) / {n['two']:4,} ({n['two, joined']:4,})")
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str), "utf-8")


if __name__ == "__main__":
    main()
