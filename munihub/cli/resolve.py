"""`munihub resolve|review|entity|export`: run and judge entity resolution, act on review pairs, export."""
from __future__ import annotations

import getpass
import json

from munihub.cli.common import command, current_settings, subgroup, table


def _engine():
    from munihub.store import engine_for
    return engine_for(current_settings())


def add_commands(sub) -> None:
    grp = subgroup(sub, "resolve", "entity resolution: match what changed, or rebuild everything")
    parser = sub.choices["resolve"]
    parser.add_argument("--full", action="store_true",
                        help="re-match every record instead of only those published since the last run "
                             "(ids stay the same)")
    parser.add_argument("--retrain", action="store_true",
                        help="with a full run, fit new Fellegi-Sunter models instead of the stored ones")
    ev = grp.add_parser("evaluate", help="score the stored clusters against a truth CSV "
                                         "(pairwise and B-cubed P/R/F1, duplicate reduction)")
    ev.add_argument("--truth", required=True, metavar="FILE",
                    help="CSV with source, source_key, true_id (the demo's truth/*.csv work too)")
    ev.add_argument("--by", metavar="COLUMN",
                    help="also score per value of this label column of the truth file (e.g. phenomena; "
                         "';'-separated labels count for each)")
    xp = grp.add_parser("explain", help="why two records scored what they did: the rule and the weight "
                                        "(log2 m/u) each comparison gave the pair, values masked")
    xp.add_argument("left", help="a ref, source|source_key (a mention: source|source_key#person)")
    xp.add_argument("right", help="the other ref")
    xp.add_argument("--json", action="store_true", help="print the explanation as JSON")

    dist = grp.add_parser("distribution", help="the match-weight histogram of the stored records re-scored with "
                                               "the stored model, and its m/u/weight per comparison level")
    dist.add_argument("--type", dest="entity_type", default="person", help="entity type (default person)")
    dist.add_argument("--json", action="store_true", help="print it as JSON")

    e = subgroup(sub, "entity", "resolved entities")
    es = e.add_parser("show", help="a golden record with the lineage of every value")
    es.add_argument("id", help="entity id, e.g. P-1a2b3c4d5e6f")

    rv = subgroup(sub, "review", "pairs the matcher was unsure about: list and decide")
    rl = rv.add_parser("list", help="open review pairs, both records masked, most probable first")
    rl.add_argument("--type", dest="entity_type", help="only this entity type (e.g. person)")
    rl.add_argument("-n", type=int, default=50, help="how many (default 50)")
    rd = rv.add_parser("decide", help="decide a pair: `decide ID VERDICT` (id from `review list`) "
                                      "or `decide LEFT RIGHT VERDICT`; applied on the next run")
    rd.add_argument("items", nargs="+", metavar="PAIR",
                    help="a review id, or two refs (source|source_key), then match or no-match")
    rd.add_argument("--why", required=True, help="the reason, kept with the decision")
    rd.add_argument("--by", default=None, help="who decides (default: the login name)")

    ex = subgroup(sub, "export", "resolved entities as files for other systems")
    for kind, what in (("entities", "one row per entity with its golden record (JSON)"),
                       ("clusters", "source, source_key, entity_id for every resolved source row")):
        p = ex.add_parser(kind, help=what)
        p.add_argument("--format", choices=["csv", "parquet"], default="csv", help="file format (default csv)")
        p.add_argument("--out", required=True, metavar="FILE", help="where to write")
        p.add_argument("--mask", action="store_true", help="mask national ids and mobiles")


@command("resolve")
def cmd_resolve(args) -> int:
    from munihub.resolve.run import resolve_all
    settings = current_settings()
    summary = resolve_all(_engine(), settings, full=args.full, retrain=args.retrain,
                          match_settings=settings.match_settings)  # as `consolidate` does
    print(table([{"entity_type": k, **v} for k, v in summary["types"].items()],
                ["entity_type", "records", "entities", "review"]))
    what = "record(s) matched" if summary["mode"] == "full" else "new or changed record(s) matched"
    print(f"\n{summary['mode']} run: {summary['changed_records']} {what}")
    return 0


@command("resolve.evaluate")
def cmd_evaluate(args) -> int:
    from munihub.resolve.evaluate import evaluate_store
    result = evaluate_store(_engine(), args.truth, by=args.by)
    rows = [{"measure": name, "precision": f"{s['precision']:.4f}", "recall": f"{s['recall']:.4f}",
             "f1": f"{s['f1']:.4f}"} for name, s in (("pairwise", result["pairwise"]),
                                                     ("b-cubed", result["bcubed"]))]
    print(table(rows, ["measure", "precision", "recall", "f1"]))
    red = result["reduction"]
    print(f"\n{result['scored']} records scored ({result['not_in_store']} in the truth file but not "
          f"in the store); {red['records']} records -> {red['entities']} entities "
          f"({red['reduction']:.1%} fewer; truth has {result['true_entities']})")
    if args.by:
        print(f"\nby {args.by} (pairwise: pairs touching a record with the label; b-cubed: its records)")
        print(table([{"label": label, "records": s["records"],
                      **{f"{kind}_{m}": f"{s[kind][m]:.4f}" for kind in ("pairwise", "bcubed")
                         for m in ("precision", "recall", "f1")}}
                     for label, s in result["by_label"].items()],
                    ["label", "records"] + [f"{k}_{m}" for k in ("pairwise", "bcubed")
                                            for m in ("precision", "recall", "f1")]))
    return 0


@command("resolve.explain")
def cmd_explain(args) -> int:
    from munihub.masking import mask_record
    from munihub.resolve.explain import explain_refs
    settings = current_settings()
    out = explain_refs(_engine(), args.left, args.right, settings.match_settings)
    for row in out["comparisons"]:  # features are ids, numbers and name keys: shown masked
        row["left"], row["right"] = (mask_record(row[k], row["comparison"]) for k in ("left", "right"))
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2, default=str))
        return 0
    print(f"{out['entity_type']} {out['left']} ({out['entities'][0]}) vs {out['right']} ({out['entities'][1]}), "
          f"{out['model']} model; rule: {out['rule']}")
    rows = [{"comparison": "prior", "weight": f"{out['prior_weight']:+.2f}"}] + [
        {**r, "m": "" if r["m"] is None else f"{r['m']:.4f}", "u": "" if r["u"] is None else f"{r['u']:.4f}",
         "weight": f"{r['weight']:+.2f}"} for r in out["comparisons"]]
    print(table(rows, ["comparison", "left", "right", "level", "m", "u", "weight"]))
    for m in out["memberships"]:  # a membership the pair scores did not make says what did
        if m["why"]:
            print(f"{m['ref']} is in {m['entity']} by {m['rule']}: {m['why']}")
    capped = f", capped by {', '.join(out['capped_by'])}" if out["capped_by"] else ""
    print(f"\nmatch weight {out['match_weight']:+.2f} -> Fellegi-Sunter {out['fellegi_sunter']:.6f}{capped}; "
          f"probability {out['probability']:.6f} (match >= {out['thresholds']['match']}, "
          f"review >= {out['thresholds']['review']})")
    return 0


@command("resolve.distribution")
def cmd_distribution(args) -> int:
    from munihub.resolve.explain import score_distribution
    out = score_distribution(_engine(), args.entity_type, current_settings().match_settings)
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    top = max((b["pairs"] for b in out["bins"]), default=1)
    rows = [{"match weight": f"[{b['from']:+.0f}, {b['to']:+.0f})", "pairs": b["pairs"],
             "": "#" * max(1, round(40 * b["pairs"] / top)) +
                 ("  <- match" if b["from"] <= out["match_weight"] < b["to"] else "") +
                 ("  <- review" if b["from"] <= out["review_weight"] < b["to"] else "")}
            for b in out["bins"]]
    print(f"{out['entity_type']}: {out['records']} records, {out['model']} model, prior {out['prior']:.3g}; "
          f"pairs at or above review (match weight {out['review_weight']:+.2f}; match {out['match_weight']:+.2f})")
    print(table(rows, ["match weight", "pairs", ""]))
    print()
    print(table([{**r, "m": f"{r['m']:.4f}", "u": f"{r['u']:.4f}", "weight": f"{r['weight']:+.2f}"}
                 for r in out["parameters"]], ["comparison", "level", "m", "u", "weight"]))
    return 0


@command("review.list")
def cmd_review_list(args) -> int:
    from munihub.resolve.review import list_open

    def brief(rec: dict) -> str:
        keys = ("national_id", "first_name", "last_name", "full_name", "father_name", "birth_date", "mobile")
        return " ".join(str(rec[k]) for k in keys if rec.get(k)) or json.dumps(rec, ensure_ascii=False)[:80]

    pairs = list_open(_engine(), entity_type=args.entity_type, limit=args.n)
    print(table([{**p, "left": brief(p["left"]), "right": brief(p["right"])} for p in pairs],
                ["id", "entity_type", "probability", "left_ref", "left", "right_ref", "right"]))
    return 0


@command("review.decide")
def cmd_review_decide(args) -> int:
    from munihub.errors import MunihubError
    from munihub.resolve.review import decide, decide_queued
    *pair, verdict = args.items
    by = args.by or getpass.getuser()
    if len(pair) == 1 and pair[0].isdigit():
        result = decide_queued(_engine(), int(pair[0]), verdict, by=by, why=args.why)
    elif len(pair) == 2:
        result = decide(_engine(), pair[0], pair[1], verdict, by=by, why=args.why)
    else:
        raise MunihubError(f"cannot read the pair {' '.join(args.items)!r}", where="review decide",
                           hint="give `ID match|no-match` or `LEFT RIGHT match|no-match`")
    print(f"{result['decision']} recorded by {result['decided_by']}; applied on the next "
          f"`munihub resolve` or `munihub consolidate`")
    return 0


def _export(kind: str, args) -> int:
    from munihub.resolve.export import export
    result = export(_engine(), kind, args.format, args.out, mask=args.mask)
    print(f"wrote {result['rows']} {kind} row(s) to {result['path']}")
    return 0


@command("export.entities")
def cmd_export_entities(args) -> int:
    return _export("entities", args)


@command("export.clusters")
def cmd_export_clusters(args) -> int:
    return _export("clusters", args)


@command("entity.show")
def cmd_entity_show(args) -> int:
    from munihub.masking import mask_record, mask_text
    from munihub.resolve.entities import show_entity
    ent = show_entity(current_settings(), args.id)
    # One masking rule for every view (issue 19): values, refs and member keys may hold ids.
    ent["golden"] = mask_record(ent["golden"])
    ent["lineage"] = {field: {**where, "value": mask_record(where.get("value"), field),
                              "ref": mask_text(str(where.get("ref") or "")),
                              **({"refs": [mask_text(r) for r in where["refs"]]} if "refs" in where else {})}
                      for field, where in (ent["lineage"] or {}).items()}
    ent["members"] = [{**m, "source_key": mask_text(str(m["source_key"]))} for m in ent["members"]]
    print(json.dumps(ent, ensure_ascii=False, indent=2, default=str))
    return 0
