"""The tenth blind labelled set, written from README, docs/, schemas/ and contracts/ only:
systems run by contractors in English beside the city's Persian registry of the same people.

- `registry.people` (CSV, Persian headers and script): Jalali birth dates, 09… mobiles,
  national ids with their leading zeros, father's name;
- `crm.customers` (CSV, English headers, a parking/e-services contractor's CRM): names in
  Latin script as each clerk spells them («Mohammad Reza Hosseini», «Mohammadreza Hoseini»,
  «Seyed Ali Mousavi» / «Ali Mousavi», «Ali Reza» / «Alireza»), Gregorian birth dates in
  several formats (1984-11-04, 04/11/1984, Nov 4 1984), phones as «+98 915 123 4567», national
  ids kept as numbers (leading zeros lost);
- `hotline.tickets` (CSV, English headers, a contractor running the 137 line): caller in
  Latin script, phone, sometimes the national id, follow-ups of the same problem.

Truth: every record's person; every ticket's request group. Traps: household members (one
surname, one home, one landline-like mobile sometimes shared) and namesakes across
households (the same first and last name, another person).
"""
from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

import jdatetime

CONTRACTS = ["registry.people", "crm.customers", "hotline.tickets"]
CALLS = "hotline.tickets"
PLAIN: set = set()

# Persian first name -> Latin spellings a contractor's clerks write (first is the usual one)
FIRST_M = {
    "محمدرضا": ["Mohammad Reza", "Mohammadreza", "Mohamad Reza", "M. Reza"],
    "علیرضا": ["Alireza", "Ali Reza", "Ali-Reza"],
    "محمد": ["Mohammad", "Mohamad", "Mohammed"],
    "علی": ["Ali"],
    "حسین": ["Hossein", "Hosein", "Hussein"],
    "مهدی": ["Mahdi", "Mehdi"],
    "رضا": ["Reza"],
    "امیرحسین": ["Amir Hossein", "Amirhossein", "Amir Hosein"],
    "ابوالفضل": ["Abolfazl", "Abol Fazl", "Abolfazel"],
    "حمید": ["Hamid"],
    "سعید": ["Saeed", "Saeid", "Said"],
    "جواد": ["Javad"],
    "مصطفی": ["Mostafa", "Mustafa"],
    "یوسف": ["Yousef", "Yusef", "Yosef"],
}
FIRST_F = {
    "فاطمه": ["Fatemeh", "Fatemeh", "Fateme", "Fatima"],
    "فاطمه‌زهرا": ["Fatemeh Zahra", "Fatemehzahra", "Fateme Zahra", "Fatemeh"],
    "زهرا": ["Zahra"],
    "مریم": ["Maryam", "Mariam"],
    "معصومه": ["Masoumeh", "Masoume", "Masumeh"],
    "زینب": ["Zeinab", "Zaynab", "Zainab"],
    "سمانه": ["Samaneh", "Samane"],
    "نرگس": ["Narges"],
    "طاهره": ["Tahereh", "Tahere"],
    "الهام": ["Elham"],
    "کبری": ["Kobra", "Kubra"],
}
LAST = {
    "حسینی": ["Hosseini", "Hoseini", "Husseini"],
    "احمدی": ["Ahmadi"],
    "موسوی": ["Mousavi", "Musavi", "Moosavi"],
    "رضایی": ["Rezaei", "Rezaee", "Rezaie"],
    "محمدی": ["Mohammadi", "Mohamadi"],
    "کریمی": ["Karimi"],
    "حسن‌زاده": ["Hassanzadeh", "Hasanzadeh", "Hassan Zadeh"],
    "قاسمی": ["Ghasemi", "Qasemi"],
    "نوری": ["Nouri", "Noori"],
    "جعفری": ["Jafari", "Jafary", "Jaafari"],
    "صادقی": ["Sadeghi", "Sadeqi"],
    "رحیمی": ["Rahimi"],
    "کاظمی": ["Kazemi"],
    "هاشمی": ["Hashemi"],
    "طاهری": ["Taheri"],
    "یزدانی": ["Yazdani"],
    "خراسانی": ["Khorasani"],
    "شریفی": ["Sharifi"],
    "میرزایی": ["Mirzaei", "Mirzaee"],
    "عباسی": ["Abbasi", "Abasi"],
}
SEYED_LAST = {"حسینی", "موسوی", "هاشمی", "کاظمی"}   # surnames of sayyid families, who add «سید»
CATEGORIES = {"پسماند": "Waste", "روشنایی معابر": "Street lighting", "آسفالت": "Asphalt",
              "فضای سبز": "Green space", "سد معبر": "Sidewalk obstruction"}
STREETS = ["Ahmadabad", "Sajjad", "Vakilabad", "Kuhsangi", "Tabarsi", "Shariati", "Emam Reza", "Koohsangi"]


def national_id(rng: random.Random) -> str:
    """A valid 10-digit Iranian national id (its check digit right); a fifth start with 0."""
    head = ("0" if rng.random() < 0.2 else str(rng.randint(1, 9))) + "".join(str(rng.randint(0, 9)) for _ in range(8))
    s = sum(int(d) * (10 - i) for i, d in enumerate(head)) % 11
    return head + str(s if s < 2 else 11 - s)


def mobile(rng: random.Random) -> str:
    return "09" + rng.choice(["15", "12", "35", "01", "30"]) + "".join(str(rng.randint(0, 9)) for _ in range(7))


def jalali(d: dt.date) -> str:
    j = jdatetime.date.fromgregorian(date=d)
    return f"{j.year}/{j.month:02d}/{j.day:02d}"


def latin_date(d: dt.date, rng: random.Random) -> tuple[str, str]:
    """A Gregorian date in one of the contractor's formats, and its label."""
    k = rng.random()
    if k < 0.4:
        return d.isoformat(), "date_iso"
    if k < 0.75:
        return f"{d.day:02d}/{d.month:02d}/{d.year}", "date_dmy"
    return f"{d.strftime('%b')} {d.day} {d.year}", "date_text"


def intl_phone(m: str, rng: random.Random) -> tuple[str, str]:
    k = rng.random()
    if k < 0.5:
        return f"+98 {m[1:4]} {m[4:7]} {m[7:]}", "phone_intl"
    if k < 0.7:
        return f"0098{m[1:]}", "phone_0098"
    if k < 0.85:
        return m[1:], "phone_no_zero"
    return m, "phone_plain"


def latin_name(p: dict, rng: random.Random, labels: list) -> str:
    fa = FIRST_M if p["gender"] == "M" else FIRST_F
    spellings = fa[p["first"]]
    first = spellings[0] if rng.random() < 0.5 else rng.choice(spellings)
    if first != spellings[0]:
        labels.append("variant_spelling")
    if " " in first or "-" in first or "." in first:
        labels.append("compound_split")
    last = rng.choice(LAST[p["last"]])
    if p["seyed"] and rng.random() < 0.6:
        first = rng.choice(["Seyed", "Seyyed", "Sayed"]) + " " + first
        labels.append("seyed_prefix")
    elif p["seyed"]:
        labels.append("seyed_dropped")
    if rng.random() < 0.15:
        labels.append("upper_case")
        return f"{first} {last}".upper()
    if rng.random() < 0.1:
        labels.append("last_first")
        return f"{last}, {first}"
    return f"{first} {last}"


def people(households: int, rng: random.Random) -> list[dict]:
    out = []
    for h in range(households):
        last = rng.choice(list(LAST))
        seyed = last in SEYED_LAST and rng.random() < 0.6
        street = f"{rng.choice(STREETS)} St, Alley {rng.randint(1, 60)}, No {rng.randint(1, 200)}"
        head_first = rng.choice(list(FIRST_M))
        head_father = rng.choice(list(FIRST_M))
        head_birth = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randint(0, 365 * 35))
        members = [dict(first=head_first, gender="M", father=head_father, birth=head_birth, role="head")]
        if rng.random() < 0.85:
            members.append(dict(first=rng.choice(list(FIRST_F)), gender="F", father=rng.choice(list(FIRST_M)),
                                birth=head_birth + dt.timedelta(days=rng.randint(-2000, 3000)), role="spouse"))
        for _ in range(rng.choice([0, 1, 1, 2, 2, 3])):
            g = rng.choice("MF")
            members.append(dict(first=rng.choice(list(FIRST_M if g == "M" else FIRST_F)), gender=g, father=head_first,
                                birth=head_birth + dt.timedelta(days=rng.randint(365 * 20, 365 * 40)), role="child"))
        for m in members:
            same_last = m["role"] != "spouse"
            m.update(pid=f"P{len(out):05d}", hh=h, last=last if same_last else rng.choice(list(LAST)),
                     seyed=seyed if same_last else False, nid=national_id(rng), mobile=mobile(rng), street=street)
            if m["birth"] > dt.date(2008, 1, 1):
                m["birth"] = dt.date(2008, 1, 1) - dt.timedelta(days=rng.randint(0, 3000))
            m["seyed"] = m["seyed"] and m["last"] in SEYED_LAST
            out.append(m)
    # namesakes: another person (of another home) with the same first, last and father's name
    names = {}
    for p in out:
        names.setdefault((p["first"], p["last"], p["father"]), set()).add(p["hh"])
    for p in out:
        p["namesake"] = len(names[(p["first"], p["last"], p["father"])]) > 1
    # a child whose contractor accounts carry the parent's mobile (the phone the family shares)
    heads = {p["hh"]: p for p in out if p["role"] == "head"}
    for p in out:
        p["shares_mobile"] = p["role"] == "child" and rng.random() < 0.3
        p["home_mobile"] = heads[p["hh"]]["mobile"] if p["shares_mobile"] else p["mobile"]
    return out


def base_labels(p: dict) -> list:
    return (["namesake"] if p["namesake"] else []) + (["parent_mobile"] if p["shares_mobile"] else [])


def generate(out: Path, households: int = 400, seed: int = 1) -> dict:
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    ppl = people(households, rng)
    truth, requests, calls = [], [], {}

    # the registry: most people, once; a few twice (re-registered, another row id)
    rows = []
    for p in ppl:
        if rng.random() < 0.1:
            continue
        for _ in range(2 if rng.random() < 0.03 else 1):
            rid = str(100000 + len(rows))
            first = ("سید " if p["seyed"] else "") + p["first"]
            row = {"شناسه": rid, "کد ملی": p["nid"], "نام": first, "نام خانوادگی": p["last"], "نام پدر": p["father"],
                   "تاریخ تولد": jalali(p["birth"]), "جنسیت": "مرد" if p["gender"] == "M" else "زن",
                   "تلفن همراه": p["mobile"] if rng.random() < 0.85 else "", "نشانی": p["street"]}
            rows.append(row)
            truth.append(("registry.people", rid, p["pid"], base_labels(p) + ["persian"], row))
    write_csv(out / "registry" / "people.csv", rows)

    # the CRM: about half the people, some twice (two accounts)
    rows = []
    for p in ppl:
        if rng.random() > 0.5:
            continue
        for _ in range(2 if rng.random() < 0.08 else 1):
            lbs = base_labels(p) + ["finglish"]
            name = latin_name(p, rng, lbs)
            birth, dl = latin_date(p["birth"], rng) if rng.random() < 0.85 else ("", "no_birth")
            phone, pl = intl_phone(p["home_mobile"], rng)
            nid = p["nid"]
            if rng.random() < 0.2:
                nid, nl = "", "no_nid"
            elif nid.startswith("0"):
                nid, nl = str(int(nid)), "nid_lost_zero"
            else:
                nl = "nid_number"
            rid = f"C-{20000 + len(rows)}"
            row = {"Customer ID": rid, "Full Name": name, "National ID": nid, "Mobile": phone, "Date of Birth": birth,
                   "Gender": p["gender"] if rng.random() < 0.7 else ("Male" if p["gender"] == "M" else "Female"),
                   "Address": p["street"], "Created": f"{rng.randint(2022, 2025)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"}
            rows.append(row)
            truth.append(("crm.customers", rid, p["pid"], lbs + [dl, pl, nl], row))
    write_csv(out / "crm" / "customers.csv", rows)

    # the hotline: callers file a request and follow it up (same category, days later)
    rows = []
    start = dt.datetime(2024, 10, 1, 8, 0)
    for p in rng.sample(ppl, len(ppl) // 3):
        cat = rng.choice(list(CATEGORIES))
        when = start + dt.timedelta(days=rng.randint(0, 60), minutes=rng.randint(0, 600))
        group = f"G{len(requests):05d}"
        first_code = None
        for k in range(rng.choice([1, 1, 2, 2, 3])):
            code = str(1370000000 + rng.randint(0, 9999999))
            lbs = base_labels(p) + ["finglish"]
            name = latin_name(p, rng, lbs)
            phone, pl = intl_phone(p["home_mobile"], rng)
            nid = p["nid"] if rng.random() < 0.3 else ""
            desc = f"{CATEGORIES[cat]} problem at {p['street']}"
            rlb = ["first"] if k == 0 else ["followup"]
            if k and rng.random() < 0.4:
                desc += f", follow-up of ticket {first_code}"
                rlb.append("cited")
            fmt = rng.choice(["%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M", "%b %d %Y %I:%M %p"])
            row = {"Ticket No": code, "Caller Name": name, "Caller Phone": phone, "National ID": nid,
                   "Category": CATEGORIES[cat], "Description": desc, "Address": p["street"],
                   "Filed At": when.strftime(fmt), "Status": rng.choice(["Open", "In progress", "Closed"])}
            rows.append(row)
            first_code = first_code or code
            truth.append(("hotline.tickets", code, p["pid"], lbs + [pl] + (["with_nid"] if nid else []), row))
            requests.append((code, group, rlb + [f"datefmt:{fmt.split()[0]}"]))
            calls[code] = row
            when += dt.timedelta(days=rng.randint(1, 10), hours=rng.randint(0, 5))
    write_csv(out / "hotline" / "tickets.csv", rows)
    write_contracts(out)
    return {"persons": truth, "requests": requests, "calls": calls, "people": len(ppl)}


def write_csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def contract(cid: str, folder: Path, shared: str, record_id: str, props: list[tuple]) -> str:
    domain, name = cid.split(".")
    lines = [f"apiVersion: v3.1.0\nkind: DataContract\nid: {cid}\nname: {name}\nversion: 1.0.0\nstatus: active",
             f"domain: {domain}\ntenant: mashhad\ndescription:\n  purpose: {cid} export delivered as CSV.",
             f"servers:\n  - server: {name}-files\n    type: local\n    path: \"{folder}\"\n    format: csv\n    encoding: auto",
             "    customProperties:\n      - {property: connector, value: file}\n      - {property: pattern, value: \"*.csv\"}",
             f"schema:\n  - name: {name}\n    physicalName: {name}\n    physicalType: file\n    customProperties:",
             f"      - {{property: sharedSchema, value: {shared}}}\n      - {{property: recordId, value: \"{record_id}\"}}",
             "    properties:"]
    for field, col, logic, *req in props:
        lines.append(f"      - {{name: {field}, physicalName: \"{col}\", logicalType: "
                     f"{'timestamp' if logic.startswith('datetime') else 'date' if logic.startswith('date') else 'string'}, "
                     f"transformLogic: \"{logic}\"{', required: true' if req else ''}}}")
    return "\n".join(lines) + "\n"


def write_contracts(out: Path) -> None:
    c = out / "contracts"
    specs = {
        "registry.people": (out / "registry", "person", "شناسه", [
            ("national_id", "کد ملی", "national_id"), ("first_name", "نام", "person_name", 1),
            ("last_name", "نام خانوادگی", "person_name", 1), ("father_name", "نام پدر", "person_name"),
            ("birth_date", "تاریخ تولد", "date"), ("gender", "جنسیت", "gender"), ("mobile", "تلفن همراه", "mobile:51"),
            ("address.detail", "نشانی", "text")]),
        # the contractor's engineer reads the docs: year-last dates are day first here
        "crm.customers": (out / "crm", "person", "Customer ID", [
            ("full_name", "Full Name", "person_name", 1), ("national_id", "National ID", "national_id"),
            ("mobile", "Mobile", "mobile:51"), ("birth_date", "Date of Birth", "date:19,dmy"),
            ("gender", "Gender", "gender"), ("address.detail", "Address", "text")]),
        "hotline.tickets": (out / "hotline", "service_request", "Ticket No", [
            ("tracking_code", "Ticket No", "text", 1), ("citizen_name", "Caller Name", "person_name"),
            ("mobile", "Caller Phone", "mobile:51"), ("national_id", "National ID", "national_id"),
            ("category", "Category", "text", 1), ("description", "Description", "text"),
            ("address", "Address", "text"), ("filed_at", "Filed At", "datetime:dmy", 1), ("status", "Status", "text")]),
    }
    for cid, (folder, shared, rid, props) in specs.items():
        path = c / cid.split(".")[0] / f"{cid.split('.')[1]}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(contract(cid, folder, shared, rid, props), encoding="utf-8")
    (c / "match_settings.yaml").write_text("person: {match: 0.97, review: 0.7}\n", encoding="utf-8")
