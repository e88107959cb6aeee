"""Persons matching and 137 request grouping on the blind set (`bench/blind_exports.py`): five
agencies' exports read through the contracts each agency writes from the docs, synced and
resolved in full in a store of their own, scored per record against the generator's truth,
overall and per phenomenon, with the biggest losses shown by their raw exported values.

    python bench/bench_blind.py [--households 800] [--seed 1] [--keep DIR] [--examples 3]

Seeds 1 and 2 are for analysis; seed 3 is held out (run it once, tune nothing on it).
A record the store does not hold (quarantined, no person mention) stays in the score as a
singleton, so what the readers lose counts against recall as what the matcher loses does.
"""
from __future__ import annotations

import argparse
import collections
import itertools
import json
import re
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import blind_exports  # noqa: E402


def drive(out: Path, datasets=None, calls: str = "rc137.calls") -> dict:
    """Sync every export with its contract (`datasets`: this set's), resolve in full; what the
    store then holds (`calls`: the 137 source whose request groups are read)."""
    import sqlalchemy as sa

    from munihub import pipeline, store
    from munihub.config import REPO_ROOT, Settings, load_settings
    from munihub.errors import MunihubError
    from munihub.resolve.run import resolve_all

    contracts = out / "contracts"
    match = load_settings({"MUNIHUB_MATCH_SETTINGS": str(contracts / "match_settings.yaml"),
                           "MUNIHUB_HOME": str(out / "home")}).match_settings
    settings = Settings(home=out / "home", store_url=f"sqlite:///{out / 'store.db'}", contracts_dir=contracts,
                        schemas_dir=REPO_ROOT / "schemas", match_settings=match)
    errors = {}
    started = time.process_time()
    for dataset in datasets or blind_exports.CONTRACTS:
        try:
            pipeline.sync_source(dataset, settings)
        except MunihubError as exc:
            errors[dataset] = str(exc).splitlines()[0][:300]
    engine = store.engine_for(settings)
    resolve_all(engine, settings, full=True, match_settings=settings.match_settings)
    got = {"errors": errors, "cpu_s": round(time.process_time() - started, 1)}
    with engine.connect() as conn:
        got["loads"] = {x["source"]: (x["rows_in"], x["rows_quarantined"]) for x in conn.execute(sa.select(store.loads)).mappings()}
        got.update(read_back(conn))
        m = store.entity_members
        got["groups"] = {k: e for k, e in conn.execute(sa.select(m.c.source_key, m.c.entity_id).where(
            m.c.source == calls, m.c.entity_type != "person"))}
        for k, values in got["aside"].items():
            got["aside"][k] = [f"{f}={v!r} ({rule})" for f, v, rule in values]
    return got


def read_back(conn) -> dict:
    """What the store holds after a run, keyed by `source|key`: person members (entity, rule),
    values set aside (field, value, rule), quarantined rows (position, reasons), person
    features by ref, published records."""
    import sqlalchemy as sa

    from munihub import store

    m, a, q, f, r = store.entity_members, store.set_aside, store.quarantine, store.match_features, store.source_rows
    got = {"members": {f"{s}|{k}": (e, rule) for s, k, e, rule in conn.execute(
        sa.select(m.c.source, m.c.source_key, m.c.entity_id, m.c.rule).where(m.c.entity_type == "person"))}}
    got["aside"] = collections.defaultdict(list)
    for s, k, field, v, rule in conn.execute(sa.select(a.c.source, a.c.source_key, a.c.field, a.c.value, a.c.rule)):
        got["aside"][f"{s}|{k}"].append((field, v, rule))
    got["quarantined"] = {f"{s}|{k}": (pos, reasons) for s, k, pos, reasons in conn.execute(
        sa.select(q.c.source, q.c.source_key, q.c.position, q.c.reasons))}
    got["features"] = {ref: feats for ref, feats in conn.execute(
        sa.select(f.c.ref, f.c.features).where(f.c.entity_type == "person"))}
    got["published"] = {f"{s}|{k}": rec for s, k, rec in conn.execute(sa.select(r.c.source, r.c.source_key, r.c.record))}
    return got


# ---------------------------------------------------------------- scores

def pairwise(predicted: dict, true: dict, only: set | None = None) -> dict:
    """Pairwise P/R/F1; with `only`, the pairs touching at least one of those records."""
    def pairs(assign):
        groups = collections.defaultdict(list)
        for r, c in assign.items():
            groups[c].append(r)
        return {(a, b) for rows in groups.values() for a, b in itertools.combinations(sorted(rows), 2)
                if only is None or a in only or b in only}
    p, t = pairs(predicted), pairs(true)
    tp = len(p & t)
    prec = tp / len(p) if p else 1.0
    rec = tp / len(t) if t else 1.0
    return {"P": prec, "R": rec, "F1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0,
            "true_pairs": len(t), "lost": len(t - p), "false": len(p - t)}


def bcubed(predicted: dict, true: dict, only: set | None = None) -> dict:
    pc, tc = collections.defaultdict(set), collections.defaultdict(set)
    for r in predicted:
        pc[predicted[r]].add(r)
        tc[true[r]].add(r)
    rows = [r for r in predicted if only is None or r in only]
    if not rows:
        return {"P": 1.0, "R": 1.0, "F1": 1.0}
    P = sum(len(pc[predicted[r]] & tc[true[r]]) / len(pc[predicted[r]]) for r in rows) / len(rows)
    R = sum(len(pc[predicted[r]] & tc[true[r]]) / len(tc[true[r]]) for r in rows) / len(rows)
    return {"P": P, "R": R, "F1": 2 * P * R / (P + R)}


def scored(predicted: dict, true: dict, labels: dict) -> dict:
    out = {"all": (pairwise(predicted, true), bcubed(predicted, true), len(predicted))}
    by = collections.defaultdict(set)
    for r, lbs in labels.items():
        for lb in lbs or ["(none)"]:
            by[lb].add(r)
    for lb, rows in sorted(by.items()):
        out[lb] = (pairwise(predicted, true, rows), bcubed(predicted, true, rows), len(rows))
    return out


def person_assignments(truth: list[tuple], got: dict) -> tuple[dict, dict, dict, dict]:
    members = got["members"]
    # a row kept for matching alone (an earlier copy of its key, or a row quarantined for a
    # value its contract requires) is its key's copy: `source|key#copy-<hash>#person`
    copies = collections.defaultdict(list)
    for ref in sorted(members):
        if "#copy-" in ref:
            copies[ref.split("#copy-")[0]].append(ref)
    predicted, true, labels, refs = {}, {}, {}, {}
    for i, (source, rid, pid, lbs, _) in enumerate(truth):
        ref = f"{source}|{rid}"
        ref = f"{ref}#person" if f"{ref}#person" in members else \
            copies[ref][0] if ref not in members and copies.get(ref) else ref
        predicted[i] = members[ref][0] if ref in members else f"lost:{i}"
        true[i], labels[i], refs[i] = pid, list(lbs) + [f"source:{source}"], ref
    return predicted, true, labels, refs


def where_lost(i: int, ref: str, got: dict) -> str:
    """Why a record is not where its person is, as far as the store tells."""
    base = ref.split("#")[0]
    if base in got["quarantined"]:
        return f"quarantined {got['quarantined'][base][1]}"
    if ref not in got["members"]:
        return "no person mention"
    aside = got["aside"].get(base)
    return f"set aside {aside}" if aside else ""


def feats(ref: str, got: dict) -> dict:
    f = got["features"].get(ref) or {}
    keep = ("national_id", "national_id_set_aside", "first_key", "last_key", "full_key", "birth_date", "mobile",
            "phone", "place", "postal_code", "father_key", "gender", "thread")
    return {k: f[k] for k in keep if f.get(k)}


EVIDENCE = (("nid", "national_id"), ("mobile", "mobile"), ("landline", "phone"), ("birth", "birth_date"),
            ("first", "first_key"), ("last", "last_key"), ("father", "father_key"), ("place", "place"),
            ("postal", "postal_code"), ("thread", "thread"))


def evidence(a: dict, b: dict) -> str:
    agree = [n for n, k in EVIDENCE if a.get(k) and a.get(k) == b.get(k)]
    differ = [n for n, k in EVIDENCE if a.get(k) and b.get(k) and a.get(k) != b.get(k)]
    return f"agree {'+'.join(agree) or 'nothing'}" + (f"; differ {'+'.join(differ)}" if differ else "")


def pairs_apart(together: dict, apart: dict) -> list[tuple]:
    """The pairs of records one assignment puts together and the other apart: the lost true
    pairs (`together` the truth, `apart` the prediction), or the false ones (the other way)."""
    groups = collections.defaultdict(list)
    for r in apart:
        groups[together[r]].append(r)
    return [(a, b) for rows in groups.values() for a, b in itertools.combinations(rows, 2) if apart[a] != apart[b]]


def report_losses(truth, predicted, true, labels, refs, got, examples: int) -> None:
    """The phenomena that lose the most true pairs, with raw example pairs; then false pairs."""
    lost = pairs_apart(true, predicted)
    per = collections.Counter()
    seen = collections.defaultdict(list)
    for a, b in lost:
        for lb in set(labels[a]) | set(labels[b]):
            if not lb.startswith("source:"):
                per[lb] += 1
                seen[lb].append((a, b))
        pair = " ~ ".join(sorted(truth[x][0] for x in (a, b)))
        per[f"pair:{pair}"] += 1
    print(f"\nlost true person pairs: {len(lost)}; by label (a pair counts for each label of either record):")
    for lb, n in per.most_common(40):
        print(f"  {n:6d}  {lb}")
    why = collections.Counter()
    for a, b in lost:
        for x in (a, b):
            w = where_lost(x, refs[x], got)
            why[w.split(" ")[0] + (" " + w.split("(")[-1][:40] if w.startswith("set aside") else "") if w else "held, matcher"] += 1
    print("record-side state in lost pairs:", why.most_common(12))
    ev = collections.Counter()
    for a, b in lost:
        fa, fb = feats(refs[a], got), feats(refs[b], got)
        pair = "~".join(sorted(truth[x][0].split(".")[0] for x in (a, b)))
        ev[f"{pair}: {evidence(fa, fb)}"] += 1
    print("lost pairs by sources and what the two records' features agree / differ on:")
    for k, n in ev.most_common(25):
        print(f"  {n:6d}  {k}")
    rng = __import__("random").Random(0)
    for lb, _ in [x for x in per.most_common(40) if not x[0].startswith("pair:")][:12]:
        print(f"\n== {lb}: examples")
        for a, b in rng.sample(seen[lb], min(examples, len(seen[lb]))):
            for x in (a, b):
                print(f"   {truth[x][0]}|{truth[x][1]} {truth[x][2]} {labels[x][:-1]} -> {predicted[x]}"
                      f" {got['members'].get(refs[x], ('', ''))[1] or ''}")
                print(f"      raw {json.dumps(truth[x][4], ensure_ascii=False, default=str)}")
                print(f"      features {json.dumps(feats(refs[x], got), ensure_ascii=False)}  {where_lost(x, refs[x], got)}")
    # false pairs
    false = pairs_apart(predicted, true)
    fper = collections.Counter(lb for a, b in false for lb in set(labels[a]) | set(labels[b]) if not lb.startswith("source:"))
    print(f"\nfalse person pairs: {len(false)}; by label: {fper.most_common(15)}")
    for a, b in rng.sample(false, min(examples * 3, len(false))):
        for x in (a, b):
            print(f"   {truth[x][0]}|{truth[x][1]} {truth[x][2]} {labels[x][:-1]} rule={got['members'].get(refs[x], ('', ''))[1]}")
            print(f"      raw {json.dumps(truth[x][4], ensure_ascii=False, default=str)}")
        print()


def request_losses(requests, calls, pred, true, labels, examples: int) -> None:
    lost = pairs_apart(true, pred)
    per = collections.Counter(lb for a, b in lost for lb in set(labels[a]) | set(labels[b]))
    print(f"\nlost true request pairs: {len(lost)}; by label: {per.most_common(15)}")
    rng = __import__("random").Random(0)
    for a, b in rng.sample(lost, min(examples * 2, len(lost))):
        for x in (a, b):
            print(f"   {labels[x]} {json.dumps(calls[x], ensure_ascii=False)}")
        print()
    false = pairs_apart(pred, true)
    fper = collections.Counter(lb for a, b in false for lb in set(labels[a]) | set(labels[b]))
    print(f"false request pairs: {len(false)}; by label: {fper.most_common(10)}")
    for a, b in rng.sample(false, min(examples, len(false))):
        for x in (a, b):
            print(f"   {labels[x]} {json.dumps(calls[x], ensure_ascii=False)}")
        print()


def report_scores(truth: list[tuple], requests: list[tuple], calls: dict, got: dict, examples: int) -> None:
    """Print persons and requests scored against the truth (overall and per label), then, with
    `examples`, the lost and false pairs by label with raw values (every blind bench's report)."""
    predicted, true, labels, refs = person_assignments(truth, got)
    print("\npersons:")
    for name, row in scored(predicted, true, labels).items():
        print(fmt(name, row))
    rpred = {c: got["groups"].get(c, f"lost:{c}") for c, _, _ in requests}
    rtrue = {c: g for c, g, _ in requests}
    rlabels = {c: lb for c, _, lb in requests}
    print(f"\nrequests: {sum(c in got['groups'] for c in rtrue)}/{len(rtrue)} grouped")
    for name, row in scored(rpred, rtrue, rlabels).items():
        print(fmt(name, row))
    if examples:
        report_losses(truth, predicted, true, labels, refs, got, examples)
        request_losses(requests, calls, rpred, rtrue, rlabels, examples)


def quarantine_reasons(dataset: str, got: dict) -> collections.Counter:
    """Each quarantined row's reasons counted by rule, field and message with its values
    masked (one masked national id per row would otherwise make every reason its own)."""
    out = collections.Counter()
    for k, (_, reasons) in got["quarantined"].items():
        if k.startswith(dataset + "|"):
            for r in reasons if isinstance(reasons, list) else [reasons]:
                r = r if isinstance(r, dict) else {"message": str(r)}
                message = re.sub(r"[*\d]+", "#", str(r.get("message", "")))[:100]
                out[f"{r.get('rule', '')} {r.get('pointer', '')}: {message}"] += 1
    return out


def print_lint(out: Path) -> None:
    """Each generated contract's lint verdict and problems (match settings are no contract)."""
    from munihub.config import REPO_ROOT
    from munihub.contracts.load import lint_contract

    for path in sorted((out / "contracts").rglob("*.yaml")):
        if path.name == "match_settings.yaml":
            continue
        res = lint_contract(path, schemas_dir=REPO_ROOT / "schemas")
        print(f"  lint {path.relative_to(out / 'contracts')}: valid ODCS {res['valid_odcs']}, runnable {res['runnable']}")
        for p in res["problems"]:
            print(f"      line {p['line']}: {p['layer']}: {p['message'][:200]}")


def run_set(exports, doc: str, households: int, lint: bool = False) -> None:
    """The main of a blind bench whose generator module `exports` has `generate(out,
    households, seed)`, `CONTRACTS`, `CALLS` and `PLAIN`: generate, (lint,) sync and resolve,
    print each source and the scores.  A set whose `generate` returns a `cleanup` (a database,
    a local API) has it run once the store is read, whatever happens."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--households", type=int, default=households)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="generate and keep the store here (else a temp dir)")
    ap.add_argument("--examples", type=int, default=0)
    ap.add_argument("--plain", default="", help=f"phenomena the generator leaves out (see {exports.__name__}.PLAIN)")
    a = ap.parse_args()
    exports.PLAIN.update(x for x in a.plain.split(",") if x)
    with tempfile.TemporaryDirectory(prefix=exports.__name__.replace("_exports", "") + "-") as tmp:
        out = a.keep or Path(tmp)
        gen = exports.generate(out, a.households, a.seed)
        if lint:
            print_lint(out)
        try:
            got = drive(out, exports.CONTRACTS, exports.CALLS)
        finally:
            if "cleanup" in gen:
                gen["cleanup"]()
        truth = gen["persons"]
        print(f"seed {a.seed}{' plain ' + a.plain if a.plain else ''}: {gen['people']} people, {a.households} households, "
              f"{len(truth)} person records, {len(gen['requests'])} calls; sync+resolve {got['cpu_s']} CPU s")
        for dataset in exports.CONTRACTS:
            print_source(dataset, got)
            for r, n in quarantine_reasons(dataset, got).most_common(6):
                print(f"      quarantined {n:4d}  {r}")
        report_scores(truth, gen["requests"], gen["calls"], got, a.examples)


def fmt(name, row):
    pw, b3, n = row
    return (f"  {name:28s} n={n:5d}  pairwise P {pw['P']:.4f} R {pw['R']:.4f} F1 {pw['F1']:.4f} "
            f"(lost {pw['lost']}/{pw['true_pairs']}, false {pw['false']})  B3 P {b3['P']:.4f} R {b3['R']:.4f} F1 {b3['F1']:.4f}")


def print_source(dataset: str, got: dict) -> None:
    """One source's rows in, quarantined and values set aside (by field and rule), and its error."""
    rows_in, quarantined = got["loads"].get(dataset, (0, 0))
    aside = collections.Counter(v.split("=")[0] + " " + v.rsplit("(", 1)[-1].rstrip(")")
                                for k, vs in got["aside"].items() if k.startswith(dataset + "|") for v in vs)
    print(f"  {dataset:20s} rows in {rows_in:5d}  quarantined {quarantined:4d}  set aside {sum(aside.values()):4d} {dict(aside.most_common(6))}"
          + (f"  ERROR {got['errors'][dataset]}" if dataset in got["errors"] else ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=800)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="generate and keep the store here (else a temp dir)")
    ap.add_argument("--examples", type=int, default=3)
    ap.add_argument("--plain", default="", help="phenomena the generator leaves out (see blind_exports.PLAIN)")
    a = ap.parse_args()
    blind_exports.PLAIN.update(x for x in a.plain.split(",") if x)
    with tempfile.TemporaryDirectory(prefix="blind-") as tmp:
        out = a.keep or Path(tmp)
        gen = blind_exports.generate(out, a.households, a.seed)
        got = drive(out)
        print(f"seed {a.seed}{' plain ' + a.plain if a.plain else ''}: {gen['people']} people, {a.households} households, {len(gen['persons'])} person records, "
              f"{len(gen['requests'])} calls; sync+resolve {got['cpu_s']} CPU s")
        for dataset in blind_exports.CONTRACTS:
            print_source(dataset, got)
        calls = {c: raw for s, c, _, _, raw in gen["persons"] if s == "rc137.calls"}
        report_scores(gen["persons"], gen["requests"], calls, got, a.examples)


if __name__ == "__main__":
    main()
