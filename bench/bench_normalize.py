"""Normalization throughput on one core, on noisy copies of synthetic Mashhad identities.

Names carry the noise real registers have (Arabic ي/ك, ZWNJ/space/none in compounds, titles,
typos); ids, mobiles, postal codes and dates come with Persian digits, lost leading zeros,
+98/0098 prefixes and Jalali dates.  Prints values per second for each function.  Date and
name caches are cleared first and distinct values are counted; name_key is timed uncached,
on distinct names (cold cache) and on all names (warm), so the cache's share is visible.
parse_name (one-field names in the forms exports write) is timed cold (every cache empty),
on distinct names with its word caches warm, and on the whole stream (names repeat).

    .venv/bin/python bench/bench_normalize.py [--records 100000] [--seed 7] [--against REV]

`--against REV` also times parse_name as it was at git revision REV (its module loaded beside
this one, caches of its own), alternating the two `--rounds` times: the ratio of one run on a
shared machine is what to read, not either figure alone.  It then times nothing else.
"""
from __future__ import annotations

import argparse
import random
import time

from munihub.persian import dates as normalize_dates, names as normalize_names, person_names
from munihub.persian import (NormalizeError, match_key, name_key, normalize_text, parse_date, parse_gender,
                             parse_mobile, parse_national_id, parse_postal_code, split_title)
from munihub.testing.synthetic import make_people, noisy_copy


def records(n: int, seed: int) -> list[dict]:
    """`n` noisy records drawn from n/4 people (so each person shows up in a few spellings)."""
    people = make_people(max(n // 4, 1), seed)
    rng = random.Random(seed)
    return [noisy_copy(people[i % len(people)], rng)[0] for i in range(n)]


def one_field_names(recs: list[dict], seed: int) -> list[str]:
    """The records' names as one field, the way hotline and payment exports write them."""
    rng = random.Random(seed)
    forms = ("{f} {l}", "{l}، {f}", "{l} - {f}", "آقای {f} {l}", "{f} {l} فرزند {p}", "خانم {l}", "{l} {f}")
    return [rng.choice(forms).format(f=r["first_name"], l=r["last_name"], p=r["father_name"] or "علی")
            for r in recs]


def rate(label: str, fn, values: list) -> None:
    failed = 0
    start = time.perf_counter()
    for v in values:
        try:
            fn(v)
        except NormalizeError:
            failed += 1
    took = time.perf_counter() - start
    print(f"{label:<22} {len(values) / took:>12,.0f} /s   {len(values):>8,} values  "
          f"{len(set(map(str, values))):>8,} distinct  {failed:>6,} rejected  {took:6.2f} s")


def _caches(module):
    return [module._cached, module._key, module._first_score, module._last_score,
            *([module._word] if hasattr(module, "_word") else [])]


def _module_at(rev: str):
    """munihub.persian.person_names as it was at git revision `rev`, imported under another name."""
    import importlib.util
    import subprocess
    import sys
    from pathlib import Path

    text = subprocess.run(["git", "show", f"{rev}:munihub/persian/person_names.py"], capture_output=True, text=True,
                          check=True, cwd=Path(__file__).resolve().parents[1]).stdout
    spec = importlib.util.spec_from_loader(f"person_names_{rev}", loader=None)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    exec(compile(text, f"{rev}:person_names.py", "exec"), module.__dict__)
    return module


def against(rev: str, one_field: list[str], rounds: int) -> None:
    """parse_name at `rev` and now, alternating; best of `rounds` per kind (names per CPU second
    of this process), and the ratio."""
    distinct = list(dict.fromkeys(one_field))
    best: dict[tuple[str, str], float] = {}
    for _ in range(rounds):
        for label, module in ((rev, _module_at(rev)), ("this tree", person_names)):
            for kind, values, clear in (("cold", distinct, _caches(module)), ("distinct", distinct, [module._cached]),
                                        ("stream", one_field, [module._cached])):
                for cache in clear:
                    cache.cache_clear()
                start = time.process_time()  # CPU time: on a shared machine, waiting is not parsing
                for v in values:
                    module.parse_name(v)
                speed = len(values) / (time.process_time() - start)
                best[label, kind] = max(best.get((label, kind), 0.0), speed)
    for kind in ("cold", "distinct", "stream"):
        old, new = best[rev, kind], best["this tree", kind]
        print(f"parse_name, {kind:<9} {rev}: {old:>10,.0f} /s   this tree: {new:>10,.0f} /s   x{new / old:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--against", help="git revision whose parse_name to time beside this tree's")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    t0 = time.perf_counter()
    recs = records(args.records, args.seed)
    print(f"generated {len(recs):,} noisy records in {time.perf_counter() - t0:.1f} s")
    if args.against:
        return against(args.against, one_field_names(recs, args.seed), args.rounds)
    names = [f"{r['first_name']} {r['last_name']}" for r in recs]
    distinct_names = list(dict.fromkeys(names))
    rate("normalize_text(name)", normalize_text, names)
    rate("match_key(name)", match_key, names)
    rate("split_title(name)", split_title, names)
    rate("name_key, uncached", normalize_names._name_key, names)
    normalize_names._cached_name_key.cache_clear()
    rate("name_key, cold cache", name_key, distinct_names)
    rate("name_key, warm cache", name_key, names)
    one_field = one_field_names(recs, args.seed)
    person_names._cached.cache_clear()
    person_names._key.cache_clear()
    person_names._first_score.cache_clear()
    person_names._last_score.cache_clear()
    distinct_one = list(dict.fromkeys(one_field))
    rate("parse_name, cold", person_names.parse_name, distinct_one)
    person_names._cached.cache_clear()  # word caches stay warm, as after the first few thousand records
    rate("parse_name, distinct", person_names.parse_name, distinct_one)
    person_names._cached.cache_clear()
    rate("parse_name, stream", person_names.parse_name, one_field)
    print("first names alone (the match features):")
    rate("name_key(first_name)", name_key, [r["first_name"] for r in recs])
    rate("normalize_text(street)", normalize_text, [r["street"] or "" for r in recs])
    rate("parse_national_id", parse_national_id, [r["national_id"] for r in recs])
    rate("parse_mobile", parse_mobile, [r["mobile"] for r in recs if r["mobile"]])
    rate("parse_postal_code", parse_postal_code, [r["postal_code"] for r in recs if r["postal_code"]])
    normalize_dates.jalali_to_iso.cache_clear()
    normalize_dates._parse_text.cache_clear()
    rate("parse_date", parse_date, [r["birth_date"] for r in recs if r["birth_date"]])
    rate("parse_gender", parse_gender, [r["gender"] for r in recs])


if __name__ == "__main__":
    main()
