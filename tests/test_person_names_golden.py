"""parse_name gives, name for name, what it gave before it was made faster (issue 15).

Thousands of one-field names are generated from the shipped name lists in every form the
parser reads (titles anywhere, either order, separators, «فرزند», seyyed joined/spaced, only a
title and a surname, placeholders, Arabic letters, half-spaces, noise) and compared with
`golden/parse_name.jsonl`, written by the parser before its speed-up.  A change of results
on purpose rewrites the file: `python tests/test_person_names_golden.py --write`.
"""
from __future__ import annotations

import json
import random
import sys
from importlib import resources
from pathlib import Path

from munihub.persian import person_names

GOLDEN = Path(__file__).parent / "golden" / "parse_name.jsonl"
COUNT = 3000


def _words(name: str) -> list[str]:
    text = resources.files("munihub.persian").joinpath("data", name).read_text("utf-8")
    return [w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#")]


def generated_names(count: int = COUNT, seed: int = 1515) -> list[str]:
    """Names in the forms exports write, drawn from the shipped lists plus unknown words."""
    rng = random.Random(seed)
    firsts, lasts = _words("first_names.txt"), _words("surnames.txt")
    unknown = ["بهرامیان", "گلستانه", "نیکو", "کاظمیان‌پور", "تهرانچی", "شاهرخ", "ولی", "زاده", "پور محمدی"]
    titles = ["آقای", "خانم", "حاج آقا", "حاجیه خانم", "مهندس", "دکتر", "جناب آقای", "سرکار خانم", "حاج",
              "آقا", "مرحوم", "استاد", "mr"]
    seps = ["، ", " - ", ",", " / ", "- ", " ؛ ", "|"]
    placeholders = ["ناشناس", "شهروند", "بدون نام", "نامشخص", "تماس گیرنده", "--", "؟", "xxx", "شهروند گرامی"]

    def first():
        f = rng.choice(firsts + unknown[:3])
        return f if rng.random() > 0.15 else f"{f} {rng.choice(firsts)}"

    def last():
        return rng.choice(lasts + unknown)

    def noisy(s: str) -> str:
        r = rng.random()
        if r < 0.1:
            return s.replace("ی", "ي").replace("ک", "ك")
        if r < 0.15:
            return s.replace("\u200c", " ")
        if r < 0.18:
            return "  " + s + " "
        return s

    out = []
    for _ in range(count):
        f, l, t = first(), last(), rng.choice(titles)
        form = rng.randrange(14)
        name = [f"{f} {l}", f"{l} {f}", f"{l}{rng.choice(seps)}{f}", f"{t} {f} {l}", f"{l}{rng.choice(seps)}{t} {f}",
                f"{f} {l} فرزند {rng.choice(firsts)}", f"{t} {l}", f"سید{f} {l}", f"سید {f} {l}",
                f"سیده {f} {l} فرزند سید {rng.choice(firsts)}", rng.choice(placeholders), f"{l} {t} {f}",
                f"{f}", f"{t} {rng.choice(placeholders)}"][form]
        out.append(noisy(name))
    return out


def _result(name: str) -> list | None:
    p = person_names.parse_name(name)
    # first, last, father, title, seyyed, confidence, placeholder (the generated names hold no
    # number, so `numbers`, added later, is always empty and left out of the file)
    return None if p is None else list(p)[:7]


def test_generated_names_parse_as_before_the_speed_up():
    expected = [json.loads(line) for line in GOLDEN.read_text(encoding="utf-8").splitlines()]
    names = generated_names()
    assert [e[0] for e in expected] == names  # the generator itself is unchanged
    differ = [(n, got, e[1]) for n, e in zip(names, expected) if (got := _result(n)) != e[1]]
    assert not differ, f"{len(differ)} of {len(names)} names parse differently, e.g. {differ[:3]}"


if __name__ == "__main__" and "--write" in sys.argv:
    GOLDEN.write_text("".join(json.dumps([n, _result(n)], ensure_ascii=False) + "\n" for n in generated_names()),
                      encoding="utf-8")
