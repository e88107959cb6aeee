"""Labelled English person records of the kind Splink's scale tests use, with a true cluster id.

    .venv/bin/python bench/english_persons.py --records 1000000 --out persons.parquet

Written for the benches independently of the matcher (nothing here imports munihub).  Each
person gets 1–8 records (mean ≈ 3.2); every copy is noisy on its own:

- first name: typos (one edit or a transposition), nicknames (William/Bill, Elizabeth/Liz),
  an initial only, missing; first and last name swapped by a clerk;
- surname: typos, a married or hyphenated surname, missing;
- dob: one mistyped digit, day and month swapped, missing;
- ssn (`123-45-6789`): one mistyped digit, two adjacent digits swapped, often missing (a gap);
- postcode (UK style `SW12 8QT`): typos, missing, and moves (a copy from an older address);
- street address: abbreviations (Street/St, Road/Rd), a flat prefix, no house number, typos.

Hard negatives are built in: households (surname, street address and postcode shared by
2–4 people) and twins (household members with the same dob).  Names are drawn with a
Zipf-like skew, so common names (John Smith) collide as in real registers.

Columns: `unique_id` (int), `cluster` (int, the true person), `first_name`, `surname`,
`dob` (`YYYY-MM-DD`), `ssn`, `postcode`, `address` (street address), `city`; a missing
value is null (empty in CSV).
"""
from __future__ import annotations

import argparse
import bisect
import itertools
import random
from pathlib import Path

FIRST_M = ("james john robert michael william david richard joseph thomas charles christopher daniel matthew "
           "anthony mark donald steven paul andrew joshua kenneth kevin brian george timothy ronald edward "
           "jason jeffrey ryan jacob gary nicholas eric jonathan stephen larry justin scott brandon benjamin "
           "samuel gregory alexander frank patrick raymond jack dennis jerry tyler aaron jose adam nathan "
           "henry douglas zachary peter kyle ethan walter noah jeremy christian keith roger terry gerald "
           "harold sean austin carl arthur lawrence dylan jesse jordan bryan billy joe bruce gabriel logan "
           "albert willie alan juan wayne elijah randy roy vincent ralph eugene russell bobby mason philip "
           "louis oliver harry alfie charlie freddie archie leo oscar theo arthur isaac rory hugo").split()
FIRST_F = ("mary patricia jennifer linda elizabeth barbara susan jessica sarah karen lisa nancy betty "
           "margaret sandra ashley kimberly emily donna michelle carol amanda dorothy melissa deborah "
           "stephanie rebecca sharon laura cynthia kathleen amy angela shirley anna brenda pamela emma "
           "nicole helen samantha katherine christine debra rachel carolyn janet catherine maria heather "
           "diane ruth julie olivia joyce virginia victoria kelly lauren christina joan evelyn judith "
           "megan andrea cheryl hannah jacqueline martha gloria teresa ann sara madison frances kathryn "
           "janice jean abigail alice judy sophia grace denise amber doris marilyn danielle beverly "
           "isabella theresa diana natalie brittany charlotte marie kayla alexis lori amelia isla ava "
           "mia poppy ella lily evie florence freya rosie ellie").split()
SURNAMES = ("smith jones williams taylor brown davies evans wilson thomas johnson roberts robinson thompson "
            "wright walker white edwards hughes green hall lewis harris clarke patel jackson wood turner "
            "martin cooper hill ward morris moore clark lee king baker harrison morgan allen james scott "
            "phillips watson davis parker price bennett young griffiths mitchell kelly cook carter "
            "richardson bailey collins bell shaw murphy miller cox richards khan marshall anderson simpson "
            "ellis adams singh begum wilkinson foster chapman powell webb rogers gray mason ali hunt "
            "hussain campbell matthews owen palmer holmes mills barnes knight lloyd butler russell barker "
            "fisher stevens jenkins murray dixon harvey graham pearson ahmed fletcher walsh kaur gibson "
            "howard andrews stewart elliott reynolds saunders payne fox ford pearce day brooks west "
            "lawrence cole atkinson bradley spencer gill dawson ball burton o'brien watts rose booth perry "
            "ryan grant wells armstrong francis rees hayes hart hudson newman barrett webster hunter "
            "gregory carr lowe page marsh riley dunn woods parsons berry stone reid holland hawkins "
            "harding porter robertson newton oliver reed kennedy williamson bird gardner shah dean lane "
            "cooke bates henderson parry burgess bishop walton burns nicholson shepherd ross cross long "
            "freeman warren nicholls hamilton byrne sutton mcdonald yates hodgson robson curtis hopkins "
            "o'connor harper coleman watkins moss mccarthy chambers o'neill griffin sharp hardy wheeler "
            "potter osborne johnston gordon doyle wallace george jordan hutchinson rowe burke may pritchard "
            "gilbert willis higgins read miles stevenson stephenson hammond arnold buckley walters hewitt "
            "barber nelson slater austin sullivan whitehead mann frost lambert stephens blake akhtar lynch "
            "goodwin barton woodward thomson cunningham quinn barnett baxter bibi clayton nash greenwood "
            "jennings holt kemp poole gallagher bond stokes tucker davidson fowler heath norman middleton "
            "lawson banks french stanley jarvis gibbs ferguson hayward carroll douglas dickinson todd "
            "barlow peters lucas knowles hartley miah simmons morton alexander field morley hale").split()
NICKNAMES = {"william": ["bill", "will", "billy"], "robert": ["bob", "rob", "bobby"], "richard": ["dick", "rick"],
             "james": ["jim", "jimmy"], "john": ["jack", "johnny"], "michael": ["mike", "mick"],
             "thomas": ["tom", "tommy"], "charles": ["charlie", "chuck"], "christopher": ["chris"],
             "daniel": ["dan", "danny"], "matthew": ["matt"], "anthony": ["tony"], "joseph": ["joe"],
             "edward": ["ed", "ted", "eddie"], "benjamin": ["ben"], "samuel": ["sam"], "alexander": ["alex"],
             "nicholas": ["nick"], "jonathan": ["jon"], "stephen": ["steve"], "steven": ["steve"],
             "andrew": ["andy", "drew"], "peter": ["pete"], "timothy": ["tim"], "kenneth": ["ken"],
             "gregory": ["greg"], "patrick": ["pat"], "elizabeth": ["liz", "beth", "betty"],
             "margaret": ["maggie", "peggy"], "katherine": ["kate", "kathy"], "catherine": ["cathy", "kate"],
             "jennifer": ["jenny", "jen"], "patricia": ["pat", "trish"], "rebecca": ["becky"],
             "victoria": ["vicky"], "samantha": ["sam"], "deborah": ["debbie"], "susan": ["sue"],
             "christine": ["chris"], "jessica": ["jess"], "abigail": ["abby"], "alexis": ["alex"],
             "kimberly": ["kim"], "pamela": ["pam"], "jacqueline": ["jackie"], "frances": ["fran"]}
STREETS = ("high church station main park victoria green manor kings queens mill school north south "
           "london york chapel grange west east new windsor albert alexandra springfield richmond "
           "highfield stanley mount cedar oak elm beech willow orchard meadow grove").split()
SUFFIX = {"street": "st", "road": "rd", "lane": "ln", "avenue": "ave", "close": "cl", "drive": "dr",
          "crescent": "cres", "gardens": "gdns", "way": "way", "terrace": "tce"}
CITIES = ("london birmingham manchester leeds glasgow sheffield bradford liverpool edinburgh bristol "
          "cardiff leicester coventry nottingham newcastle belfast brighton hull plymouth derby").split()
LETTERS = "ABCDEFGHJKLMNPRSTUWXYZ"


def _zipf(names: list[str], s: float = 0.9) -> tuple[list[str], list[float]]:
    weights = [1 / (i + 1) ** s for i in range(len(names))]
    return names, list(itertools.accumulate(weights))


def _pick(rng: random.Random, table: tuple[list[str], list[float]]) -> str:
    names, cum = table
    return names[bisect.bisect_left(cum, rng.random() * cum[-1])]


def typo(rng: random.Random, s: str) -> str:
    """One keying error: substitute, insert, delete or swap two adjacent characters."""
    if len(s) < 2:
        return s
    i = rng.randrange(len(s) - 1)
    op = rng.randrange(4)
    c = rng.choice("abcdefghijklmnopqrstuvwxyz" if s[i].isalpha() else "0123456789")
    if op == 0:
        return s[:i] + c + s[i + 1:]
    if op == 1:
        return s[:i] + c + s[i:]
    if op == 2:
        return s[:i] + s[i + 1:]
    return s[:i] + s[i + 1] + s[i] + s[i + 2:]


def _ssn(rng: random.Random) -> str:
    return f"{rng.randint(1, 899):03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def _postcode(rng: random.Random, area: int) -> str:
    return f"{LETTERS[area % 22]}{LETTERS[area // 22 % 22]}{area // 484 + 1} {rng.randint(1, 9)}{rng.choice(LETTERS)}{rng.choice(LETTERS)}"


def _home(rng: random.Random, n_areas: int) -> dict:
    suffix = rng.choice(list(SUFFIX))
    return {"house": rng.randint(1, 240), "street": rng.choice(STREETS), "suffix": suffix,
            "postcode": _postcode(rng, rng.randrange(n_areas)), "city": rng.choice(CITIES)}


def _dob(rng: random.Random) -> str:
    return f"{rng.randint(1930, 2008)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def people(n_people: int, seed: int):
    """Yield true persons (dicts); households of 2–4 share surname, address and postcode."""
    rng = random.Random(seed)
    males, females, sur = _zipf(FIRST_M), _zipf(FIRST_F), _zipf(SURNAMES, 0.7)
    n_areas = max(50, n_people // 40)  # about 40 people per postcode district
    made = 0
    while made < n_people:
        home, surname = _home(rng, n_areas), _pick(rng, sur)
        size = 1 if rng.random() < 0.55 else rng.choice((2, 2, 3, 4))
        twin_dob = _dob(rng) if size > 1 and rng.random() < 0.03 else None
        for k in range(min(size, n_people - made)):
            female = rng.random() < 0.5
            yield {"first_name": _pick(rng, females if female else males), "surname": surname,
                   "female": female, "dob": twin_dob if twin_dob and k < 2 else _dob(rng),
                   "ssn": _ssn(rng), "home": home, "old_home": _home(rng, n_areas)}
            made += 1


def _address(rng: random.Random, home: dict) -> str | None:
    if rng.random() < 0.06:
        return None
    suffix = SUFFIX[home["suffix"]] if rng.random() < 0.3 else home["suffix"]
    street = f"{home['street']} {suffix}"
    if rng.random() < 0.05:
        street = typo(rng, street)
    text = street if rng.random() < 0.05 else f"{home['house']} {street}"
    if rng.random() < 0.08:
        text = f"flat {rng.randint(1, 12)}, {text}"
    return text


def copy_of(rng: random.Random, p: dict) -> dict:
    """One noisy record of person `p`."""
    first, last = p["first_name"], p["surname"]
    r = rng.random()
    if r < 0.08 and first in NICKNAMES:
        first = rng.choice(NICKNAMES[first])
    elif r < 0.18:
        first = typo(rng, first)
    elif r < 0.20:
        first = first[0]
    r = rng.random()
    if r < 0.08:
        last = typo(rng, last)
    elif r < 0.11 and p["female"]:
        last = _pick(rng, _zipf(SURNAMES, 0.7)) if rng.random() < 0.6 else f"{last}-{rng.choice(SURNAMES)}"
    if rng.random() < 0.02:
        first, last = last, first
    first = None if rng.random() < 0.02 else first
    last = None if rng.random() < 0.02 else last
    dob = p["dob"]
    r = rng.random()
    if r < 0.05:
        dob = None
    elif r < 0.10:
        i = rng.choice((2, 3, 5, 6, 8, 9))
        dob = dob[:i] + str(rng.randint(0, 9)) + dob[i + 1:]
    elif r < 0.12 and int(dob[8:]) <= 12:
        dob = f"{dob[:4]}-{dob[8:]}-{dob[5:7]}"
    ssn = p["ssn"]
    r = rng.random()
    if r < 0.25:
        ssn = None
    elif r < 0.31:
        i = rng.choice([j for j in range(11) if ssn[j] != "-"])
        ssn = ssn[:i] + str(rng.randint(0, 9)) + ssn[i + 1:]
    elif r < 0.33:
        ssn = ssn[:7] + ssn[8] + ssn[7] + ssn[9:]
    home = p["old_home"] if rng.random() < 0.12 else p["home"]
    postcode = home["postcode"]
    r = rng.random()
    if r < 0.05:
        postcode = None
    elif r < 0.08:
        postcode = typo(rng, postcode)
    return {"first_name": first, "surname": last, "dob": dob, "ssn": ssn, "postcode": postcode,
            "address": _address(rng, home), "city": home["city"] if rng.random() > 0.1 else None}


COPIES = (1, 1, 1, 2, 2, 2, 3, 3, 4, 5, 6, 8)  # records per person, drawn evenly: mean 3.2


def records(n_records: int, seed: int = 1) -> list[dict]:
    """About `n_records` records (exactly that many), shuffled, with `unique_id` and `cluster`."""
    rng = random.Random(seed + 1)
    out: list[dict] = []
    for cluster, p in enumerate(people(n_records, seed)):  # more people than needed: stop early
        for _ in range(rng.choice(COPIES)):
            out.append({"cluster": cluster, **copy_of(rng, p)})
        if len(out) >= n_records:
            break
    out = out[:n_records]
    rng.shuffle(out)
    for i, r in enumerate(out):
        r["unique_id"] = i
    return out


COLUMNS = ("unique_id", "cluster", "first_name", "surname", "dob", "ssn", "postcode", "address", "city")


def write(rows: list[dict], path: Path) -> None:
    """CSV or Parquet by the file's suffix."""
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq
        table = pa.table({c: [r[c] for r in rows] for c in COLUMNS})
        pq.write_table(table, path)
        return
    import csv
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, COLUMNS)
        w.writeheader()
        w.writerows(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True, help="a .parquet or .csv file")
    args = ap.parse_args()
    rows = records(args.records, args.seed)
    write(rows, args.out)
    print(f"{len(rows)} records of {len({r['cluster'] for r in rows})} people -> {args.out}")


if __name__ == "__main__":
    main()
