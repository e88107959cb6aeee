"""A ninth labelled set, written blind (README, docs/, schemas/, contracts/ only): deliveries
over time, in the file forms agencies really send.

Sources, each a drop folder read by the `file` connector:
- `welfare.members` (person): Excel's "Unicode Text" export, UTF-16 LE with a BOM, tab-separated;
- `water.bills` (payment): a CSV with Persian digits in every number column and «٬» thousands;
- `rc137.calls` (service_request): a JSON-lines 137 export;
- `parks.volunteers` (person): an old binary Excel `.xls` (the docs name only xlsx): a probe of
  the message, its rows are not scored.

Three deliveries: day 1 every file in full; day 2 the same file names again, corrected (a
national id fixed, a mobile changed and its old number re-assigned to a newcomer, a name's
spelling fixed, rows deleted, new rows, 137 statuses updated and follow-ups arriving); day 3 a
new file beside the old one holding only new and changed rows. The truth is per day: the
records that exist that day, each with its person, and each call with its request.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

FA = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
MALE = ["محمد", "علی", "حسین", "رضا", "مهدی", "حسن", "امیر", "سعید", "مجید", "جواد", "محمدرضا", "علیرضا",
        "مصطفی", "احمد", "ابوالفضل", "یوسف", "کاظم", "هادی", "وحید", "سجاد"]
FEMALE = ["فاطمه", "زهرا", "مریم", "معصومه", "زینب", "سمیه", "لیلا", "نرگس", "الهام", "مهسا", "سارا",
          "راضیه", "طاهره", "اعظم", "مژگان", "فرزانه", "نسرین", "شیوا", "هدی", "ریحانه"]
LAST = ["رضایی", "محمدی", "حسینی", "احمدی", "کریمی", "موسوی", "جعفری", "قاسمی", "صادقی", "رحیمی",
        "هاشمی", "نوری", "عباسی", "طاهری", "یزدانی", "شریفی", "فرهادی", "کاظمی", "سلطانی", "توکلی",
        "قربانی", "اکبری", "مرادی", "زارعی", "باقری", "نیکنام", "جلالی", "رستمی", "حیدری", "غفاری"]
# a clerk's misspelling, fixed in a later delivery
TYPO = {"رضایی": "رضائی", "محمدی": "محمدى", "حسینی": "حسينی", "کریمی": "کرمی", "موسوی": "موسومی",
        "جعفری": "جعفرى", "قاسمی": "قاسمي", "صادقی": "صادفی", "رحیمی": "رحیمى", "هاشمی": "هاشمى"}
STREETS = ["بلوار وکیل‌آباد", "خیابان احمدآباد", "بلوار سجاد", "خیابان امام رضا", "بلوار فردوسی",
           "خیابان کوهسنگی", "بلوار معلم", "خیابان دانشگاه", "بلوار هاشمیه", "خیابان سناباد"]
CATS = ["پسماند", "روشنایی معابر", "آسفالت", "فضای سبز", "سد معبر"]
PROBLEM = {"پسماند": "سطل زباله پر شده و جمع‌آوری نشده", "روشنایی معابر": "چراغ کوچه خاموش است",
           "آسفالت": "چاله بزرگ در آسفالت کوچه", "فضای سبز": "درخت خشک شده نیاز به هرس دارد",
           "سد معبر": "مصالح ساختمانی پیاده‌رو را بسته"}
DATASETS = ["welfare.members", "water.bills", "rc137.calls", "parks.volunteers"]
# the welfare contract's encoding: `auto` as the docs suggest; `--fixed` names UTF-16
ENCODING = {"welfare": "auto"}
SCORED = ["welfare.members", "water.bills", "rc137.calls"]


def nid_check(nine: str) -> str:
    s = sum(int(d) * (10 - i) for i, d in enumerate(nine)) % 11
    return nine + str(s if s < 2 else 11 - s)


def bad_nid(nid: str, rng) -> str:
    """One digit changed so the check digit fails (a typing slip)."""
    while True:
        i = rng.randrange(9)
        x = nid[:i] + str((int(nid[i]) + rng.randrange(1, 10)) % 10) + nid[i + 1:]
        if nid_check(x[:9]) != x:
            return x


def people(rng, households: int) -> tuple[list[dict], list[dict]]:
    persons, homes, used = [], [], set()

    def new_nid():
        while True:
            n = nid_check("0" + "".join(str(rng.randrange(10)) for _ in range(8)))
            if n not in used and len(set(n)) > 2:
                used.add(n)
                return n

    def new_mobile():
        while True:
            m = "0915" + "".join(str(rng.randrange(10)) for _ in range(7))
            if m not in used:
                used.add(m)
                return m

    for h in range(households):
        last = rng.choice(LAST)
        home = {"id": h, "street": rng.choice(STREETS), "alley": rng.randrange(1, 60), "plaque": rng.randrange(1, 300),
                "district": rng.randrange(1, 13), "postal": "91" + "".join(rng.choice("13456789") for _ in range(3))
                + "".join(str(rng.randrange(10)) for _ in range(5)),
                "subscription": str(rng.randrange(10**6, 10**7))}
        homes.append(home)
        father_of_head = rng.choice(MALE)
        head = {"pid": len(persons), "home": h, "first": rng.choice(MALE), "last": last, "father": father_of_head,
                "gender": "مرد", "birth": (rng.randrange(1330, 1375), rng.randrange(1, 13), rng.randrange(1, 30)),
                "nid": new_nid(), "mobile": new_mobile(), "role": "head", "labels": []}
        persons.append(head)
        if rng.random() < 0.8:
            persons.append({"pid": len(persons), "home": h, "first": rng.choice(FEMALE), "last": rng.choice(LAST),
                            "father": rng.choice(MALE), "gender": "زن", "role": "spouse", "labels": [],
                            "birth": (head["birth"][0] + rng.randrange(-3, 8), rng.randrange(1, 13), rng.randrange(1, 30)),
                            "nid": new_nid(), "mobile": new_mobile() if rng.random() < 0.85 else None})
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            g = rng.random() < 0.5
            persons.append({"pid": len(persons), "home": h, "first": rng.choice(MALE if g else FEMALE), "last": last,
                            "father": head["first"], "gender": "مرد" if g else "زن", "role": "child", "labels": [],
                            "birth": (head["birth"][0] + rng.randrange(20, 35), rng.randrange(1, 13), rng.randrange(1, 30)),
                            "nid": new_nid(), "mobile": new_mobile() if rng.random() < 0.6 else None})
    # namesakes: another home's person given the same first and last name
    for p in rng.sample(persons, len(persons) // 25):
        q = rng.choice(persons)
        if q["home"] != p["home"] and q["gender"] == p["gender"]:
            q["first"], q["last"] = p["first"], p["last"]
            q["labels"].append("namesake")
            p["labels"].append("namesake")
    persons[0]["_new_mobile"] = new_mobile  # for day 2's changed mobiles
    return persons, homes


def jalali(d, fa=False) -> str:
    s = f"{d[0]}/{d[1]:02d}/{d[2]:02d}"
    return s.translate(FA) if fa else s


def address(home) -> str:
    return f"مشهد، {home['street']}، {home['street'].split()[-1]} {home['alley']}، پلاک {home['plaque']}"


def welfare_row(p, homes, case_no, nid=None, last=None, mobile="same") -> dict:
    home = homes[p["home"]]
    return {"شماره پرونده": case_no, "کد ملی": p["nid"] if nid is None else nid, "نام": p["first"],
            "نام خانوادگی": last or p["last"], "نام پدر": p["father"], "جنسیت": p["gender"],
            "تاریخ تولد": jalali(p["birth"]), "تلفن همراه": (p["mobile"] if mobile == "same" else mobile) or "",
            "کد پستی": home["postal"], "نشانی": address(home)}


def bill_row(p, homes, bill_id, month, amount, mobile="same") -> dict:
    home = homes[p["home"]]
    m = p["mobile"] if mobile == "same" else mobile
    return {"شناسه قبض": str(bill_id).translate(FA), "شماره اشتراک": home["subscription"].translate(FA),
            "نام مشترک": f"{p['first']} {p['last']}", "کد ملی": p["nid"].translate(FA) if p.get("_bill_nid", True) else "",
            "تلفن همراه": (m or "").translate(FA), "مبلغ (ریال)": f"{amount:,}".replace(",", "٬").translate(FA),
            "تاریخ پرداخت": f"۱۴۰۳/{month:02d}/{(bill_id % 27) + 1:02d}".translate(FA), "نشانی": address(home)}


def call_row(code, p, homes, cat, day, status, desc=None, refers="", with_nid=None) -> dict:
    home = homes[p["home"]]
    return {"tracking_code": code, "caller": f"{p['first']} {p['last']}", "mobile": p["mobile"] or "",
            "national_id": p["nid"] if with_nid else "", "category": cat,
            "description": desc or PROBLEM[cat], "district": f"منطقه {home['district']}",
            "address": address(home), "status": status,
            "filed_at": f"1403/{7 + day // 30:02d}/{day % 30 + 1:02d} {9 + code % 9}:{code % 60:02d}",
            "refers_to": refers}


def generate(out: Path, seed: int = 1, households: int = 400) -> dict:
    """Write `out/day{1,2,3}/<dataset>/<file>` and the contracts; return the truth per day."""
    rng = random.Random(seed)
    persons, homes = people(rng, households)
    new_mobile = persons[0].pop("_new_mobile")
    # ------------------------------------------------ day 1: full exports
    welfare, bills, calls = {}, {}, {}           # key -> (row, pid, labels)
    case = 50000
    for p in persons:
        if rng.random() < 0.7:
            case += rng.randrange(1, 4)
            welfare[str(case)] = [welfare_row(p, homes, str(case)), p["pid"], list(p["labels"])]
    # a landline typed in the mobile column, in every delivery: set aside each time it is read?
    for k in rng.sample(list(welfare), 20):
        welfare[k][0]["تلفن همراه"] = "3" + "".join(str(rng.randrange(10)) for _ in range(7))
        welfare[k][2].append("landline_in_mobile")
    heads = [p for p in persons if p["role"] == "head"]
    bill_id = 7000100
    payers = {}
    for h in heads:
        # the subscriber is the head, or the spouse in one home of five
        mates = [q for q in persons if q["home"] == h["home"] and q["role"] == "spouse"]
        payer = mates[0] if mates and rng.random() < 0.2 else h
        payers[h["home"]] = payer
        for month in (5, 6, 7):
            if rng.random() < 0.75:
                bill_id += rng.randrange(1, 9)
                bills[str(bill_id)] = [bill_row(payer, homes, bill_id, month, rng.randrange(200, 4000) * 1000), payer["pid"],
                                       list(payer["labels"])]
    code = 1403000100
    groups = {}
    callers = [p for p in persons if p["mobile"] and p["role"] != "child"]
    open_calls, seen = [], set()
    for day in range(0, 25):
        for _ in range(rng.randrange(6, 12)):
            p = rng.choice(callers)
            cat = rng.choice(CATS)
            # the same caller, category and home within the window is one request (docs/resolution.md)
            if (p["home"], cat) in seen:
                continue
            seen.add((p["home"], cat))
            code += rng.randrange(1, 30)
            calls[str(code)] = [call_row(code, p, homes, cat, day, "ثبت شده", with_nid=rng.random() < 0.4), p["pid"], []]
            groups[str(code)] = (str(code), ["first"])
            open_calls.append((code, p, cat, day))
    days = {1: {"welfare": {k: list(v) for k, v in welfare.items()}, "bills": dict(bills), "calls": dict(calls)}}

    # ------------------------------------------------ day 1 traps, fixed on day 2
    wk = list(welfare)
    rng.shuffle(wk)
    fixes = {"nid_typo": wk[:25], "nid_other": wk[25:40], "name_typo": wk[40:70], "deleted": wk[70:90],
             "mobile_changed": wk[90:120]}
    by_pid = {p["pid"]: p for p in persons}
    for k in fixes["nid_typo"]:
        row, pid, lb = welfare[k]
        days[1]["welfare"][k] = [dict(row, **{"کد ملی": bad_nid(row["کد ملی"], rng)}), pid, lb + ["fix:nid_typo"]]
    for k in fixes["nid_other"]:
        row, pid, lb = welfare[k]
        # a household member's id typed on this row (a valid id, another person's)
        mates = [q for q in persons if q["home"] == by_pid[pid]["home"] and q["pid"] != pid]
        if mates:
            days[1]["welfare"][k] = [dict(row, **{"کد ملی": rng.choice(mates)["nid"]}), pid, lb + ["fix:nid_other"]]
    for k in fixes["name_typo"]:
        row, pid, lb = welfare[k]
        last = row["نام خانوادگی"]
        if last in TYPO:
            days[1]["welfare"][k] = [dict(row, **{"نام خانوادگی": TYPO[last]}), pid, lb + ["fix:name_typo"]]
    for k in fixes["deleted"]:
        days[1]["welfare"][k][2] = days[1]["welfare"][k][2] + ["deleted_day2"]

    # ------------------------------------------------ day 2: same files, corrected
    w2 = {k: [row, pid, [x for x in lb]] for k, (row, pid, lb) in welfare.items() if k not in fixes["deleted"]}
    for k in fixes["nid_typo"] + fixes["nid_other"] + fixes["name_typo"]:
        if k in w2:
            w2[k][2] = days[1]["welfare"][k][2]
    # a mobile changed: the person's new number on the corrected row; the old number re-assigned
    # by the operator to a newcomer who calls 137 and pays a bill under it
    reassigned = []
    for k in fixes["mobile_changed"]:
        row, pid, lb = w2[k]
        p = by_pid[pid]
        if not p["mobile"]:
            continue
        old, p["mobile"] = p["mobile"], new_mobile()
        w2[k] = [dict(row, **{"تلفن همراه": p["mobile"]}), pid, lb + ["mobile:changed"]]
        reassigned.append((old, p))
    newcomers = []
    for old, prev in reassigned:
        g = rng.random() < 0.5
        home = rng.randrange(len(homes))
        q = {"pid": len(persons), "home": home, "first": rng.choice(MALE if g else FEMALE), "last": rng.choice(LAST),
             "father": rng.choice(MALE), "gender": "مرد" if g else "زن", "role": "newcomer", "labels": ["mobile:reassigned"],
             "birth": (rng.randrange(1350, 1382), rng.randrange(1, 13), rng.randrange(1, 30)),
             "nid": nid_check("1" + "".join(str(rng.randrange(10)) for _ in range(8))), "mobile": old}
        persons.append(q)
        by_pid[q["pid"]] = q
        newcomers.append((q, prev))
    # new rows in the welfare file (new members, some of them newcomers)
    for p in rng.sample(persons, 30) + [q for q, _ in newcomers[: len(newcomers) // 2]]:
        case += rng.randrange(1, 4)
        w2[str(case)] = [welfare_row(p, homes, str(case)), p["pid"], list(p["labels"]) + ["new_day2"]]
    b2 = dict(bills)
    for h in heads:
        if rng.random() < 0.75:
            payer = payers[h["home"]]
            bill_id += rng.randrange(1, 9)
            b2[str(bill_id)] = [bill_row(payer, homes, bill_id, 8, rng.randrange(200, 4000) * 1000), payer["pid"],
                                list(payer["labels"]) + ["new_day2"]]
    c2 = {k: list(v) for k, v in calls.items()}
    # statuses move on; follow-ups arrive citing the code (in refers_to or the description)
    for code_, p, cat, day in rng.sample(open_calls, len(open_calls) // 2):
        row = dict(c2[str(code_)][0], status=rng.choice(["در حال بررسی", "ارجاع شده", "انجام شده"]))
        c2[str(code_)] = [row, p["pid"], []]
    for code_, p, cat, day in rng.sample(open_calls, len(open_calls) // 5):
        code += rng.randrange(1, 30)
        how = rng.choice(["refers", "desc", "none"])
        desc = f"پیگیری درخواست شماره {str(code_).translate(FA)} هنوز رسیدگی نشده" if how == "desc" else \
            f"پیگیری: {PROBLEM[cat]} هنوز انجام نشده"
        c2[str(code)] = [call_row(code, p, homes, cat, day + rng.randrange(3, 9), "ثبت شده", desc=desc,
                                  refers=str(code_) if how == "refers" else ""), p["pid"], []]
        groups[str(code)] = (str(code_), [f"followup:{how}"])
    # the newcomers call about their own homes under the re-assigned number
    for q, prev in newcomers:
        code += rng.randrange(1, 30)
        cat = rng.choice([c for c in CATS if (q["home"], c) not in seen] or CATS)
        seen.add((q["home"], cat))
        c2[str(code)] = [call_row(code, q, homes, cat, 27, "ثبت شده"), q["pid"], ["mobile:reassigned"]]
        groups[str(code)] = (str(code), ["first", "reassigned_caller"])
    days[2] = {"welfare": w2, "bills": b2, "calls": c2}

    # ------------------------------------------------ day 3: an increment beside the old files
    w3_new, c3_new = {}, {}
    for k in rng.sample([k for k in w2 if "mobile:changed" not in w2[k][2]], 15):
        row, pid, lb = w2[k]
        p = by_pid[pid]
        if p["mobile"]:
            p["mobile"] = new_mobile()
            w3_new[k] = [dict(row, **{"تلفن همراه": p["mobile"]}), pid, lb + ["mobile:changed_day3"]]
    for q, prev in newcomers[len(newcomers) // 2:]:
        case += rng.randrange(1, 4)
        w3_new[str(case)] = [welfare_row(q, homes, str(case)), q["pid"], list(q["labels"]) + ["new_day3"]]
    for k in [k for k, v in c2.items() if v[0]["status"] != "ثبت شده"][:40]:
        row = dict(c2[k][0], status="بسته شده", closed_at=row_close(c2[k][0]["filed_at"]))
        c3_new[k] = [row, c2[k][1], []]
    for code_, p, cat, day in rng.sample(open_calls, len(open_calls) // 8):
        code += rng.randrange(1, 30)
        c3_new[str(code)] = [call_row(code, p, homes, cat, 28, "ثبت شده", refers=str(code_)), p["pid"], []]
        groups[str(code)] = (str(code_), ["followup:day3"])
    days[3] = {"welfare": {**w2, **w3_new}, "bills": b2, "calls": {**c2, **c3_new},
               "files": {"welfare": w3_new, "calls": c3_new}}
    write_files(out, days)
    write_contracts(out / "contracts")
    return truth(days, groups, by_pid)


def row_close(filed: str) -> str:
    return filed.split()[0][:-2] + "29 16:00"


# ---------------------------------------------------------------- files

def write_files(out: Path, days: dict) -> None:
    for d in (1, 2, 3):
        base = out / f"day{d}"
        if d < 3:
            write_utf16_tsv(base / "welfare" / "members.txt", [v[0] for v in days[d]["welfare"].values()])
            write_csv(base / "water" / "bills.csv", [v[0] for v in days[d]["bills"].values()])
            write_jsonl(base / "rc137" / "calls.jsonl", [v[0] for v in days[d]["calls"].values()])
        else:
            write_utf16_tsv(base / "welfare" / "members_1403-09-01.txt", [v[0] for v in days[3]["files"]["welfare"].values()])
            write_jsonl(base / "rc137" / "calls_1403-09-01.jsonl", [v[0] for v in days[3]["files"]["calls"].values()])
    # an old binary Excel (BIFF in an OLE2 compound file): the magic and a stub, as a
    # ministry's 2003-era tool writes; the docs name xlsx only
    parks = out / "day1" / "parks" / "volunteers.xls"
    parks.parent.mkdir(parents=True, exist_ok=True)
    parks.write_bytes(bytes.fromhex("D0CF11E0A1B11AE1") + b"\x00" * 504 + b"\x09\x08\x10\x00\x00\x06\x05\x00" + b"\x00" * 1000)


def write_utf16_tsv(path: Path, rows: list[dict]) -> None:
    """Excel's Save As "Unicode Text": UTF-16 LE with a BOM, tabs, CRLF."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = list(rows[0])
    lines = ["\t".join(cols)] + ["\t".join(str(r.get(c, "")) for c in cols) for r in rows]
    path.write_bytes(b"\xff\xfe" + ("\r\n".join(lines) + "\r\n").encode("utf-16-le"))


def write_csv(path: Path, rows: list[dict]) -> None:
    import csv
    import io
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\r\n")
    w.writeheader()
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8-sig")


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


# ---------------------------------------------------------------- truth

def truth(days: dict, groups: dict, by_pid: dict) -> dict:
    """Per day: persons [(source, key, pid, labels, raw)], requests [(key, group, labels)],
    calls {key: raw}, and the keys deleted by then."""
    out = {}
    for d in (1, 2, 3):
        t = []
        for src, name in (("welfare.members", "welfare"), ("water.bills", "bills"), ("rc137.calls", "calls")):
            for k, (row, pid, lb) in days[d][name].items():
                t.append((src, k, pid, sorted(set(lb) | set(by_pid[pid]["labels"])), row))
        calls = {k: v[0] for k, v in days[d]["calls"].items()}
        reqs = []
        for k in calls:
            g, lb = groups[k]
            while groups[g][0] != g:
                g = groups[g][0]
            reqs.append((k, g, lb))
        deleted = sorted(set(days[1]["welfare"]) - set(days[d]["welfare"])) if d > 1 else []
        out[d] = {"persons": t, "requests": reqs, "calls": calls, "deleted": deleted}
    return out


# ---------------------------------------------------------------- contracts (as a busy engineer writes them)

HEAD = """apiVersion: v3.1.0
kind: DataContract
id: {id}
name: {name}
version: 1.0.0
status: active
servers:
  - server: drop
    type: local
    path: "{path}"
    format: {fmt}
    customProperties:
      - {{property: connector, value: file}}
      - {{property: path, value: "{path}"}}
      - {{property: pattern, value: "{pattern}"}}
      - {{property: format, value: {fmt}}}
      - {{property: encoding, value: {enc}}}
schema:
  - name: {name}
    physicalName: {name}
    physicalType: file
    customProperties:
      - {{property: sharedSchema, value: {shared}}}
      - {{property: recordId, value: "{rid}"}}
    properties:
"""


def prop(name, phys, logical="string", reader=None, extra=""):
    r = f", transformLogic: \"{reader}\"" if reader else ""
    return f"      - {{name: {name}, physicalName: \"{phys}\", logicalType: {logical}{r}{extra}}}\n"


def write_contracts(folder: Path) -> None:
    drops = folder.parent / "drops"
    specs = {
        "welfare/members.yaml": (dict(id="welfare.members", name="members", path=drops / "welfare", pattern="members*.txt",
                                      fmt="tsv", shared="person", rid="شماره پرونده", enc=ENCODING["welfare"]),
                                 [prop("national_id", "کد ملی", reader="national_id"), prop("first_name", "نام", reader="person_name"),
                                  prop("last_name", "نام خانوادگی", reader="person_name"),
                                  prop("father_name", "نام پدر", reader="person_name"), prop("gender", "جنسیت", reader="gender"),
                                  prop("birth_date", "تاریخ تولد", "date", "date"), prop("mobile", "تلفن همراه", reader="mobile"),
                                  prop("postal_code", "کد پستی", reader="postal_code"), prop("address.detail", "نشانی", reader="text")]),
        "water/bills.yaml": (dict(id="water.bills", name="bills", path=drops / "water", pattern="bills*.csv", fmt="csv",
                                  shared="payment", rid="شناسه قبض", enc="auto"),
                             [prop("payment_id", "شناسه قبض", reader="text", extra=", primaryKey: true, required: true"),
                              prop("reference", "شماره اشتراک", reader="text"),
                              prop("payer_name", "نام مشترک", reader="person_name"), prop("national_id", "کد ملی", reader="national_id"),
                              prop("mobile", "تلفن همراه", reader="mobile"),
                              prop("amount_rial", "مبلغ (ریال)", "number", "number", ", required: true"),
                              prop("paid_on", "تاریخ پرداخت", "date", "date"), prop("address.detail", "نشانی", reader="text")]),
        "rc137/calls.yaml": (dict(id="rc137.calls", name="calls", path=drops / "rc137", pattern="calls*.jsonl", fmt="jsonl",
                                  shared="service_request", rid="tracking_code", enc="auto"),
                             [prop("tracking_code", "tracking_code", reader="text", extra=", primaryKey: true, required: true"),
                              prop("citizen_name", "caller", reader="person_name"), prop("mobile", "mobile", reader="mobile"),
                              prop("national_id", "national_id", reader="national_id"), prop("category", "category", reader="text"),
                              prop("description", "description", reader="text"), prop("district", "district", reader="district"),
                              prop("address", "address", reader="text"), prop("status", "status", reader="text"),
                              prop("filed_at", "filed_at", "timestamp", "datetime", ", required: true"),
                              prop("closed_at", "closed_at", "timestamp", "datetime"), prop("refers_to", "refers_to", reader="text")]),
        "parks/volunteers.yaml": (dict(id="parks.volunteers", name="volunteers", path=drops / "parks", pattern="*.xls",
                                       fmt="auto", shared="person", rid="ردیف", enc="auto"),
                                  [prop("national_id", "کد ملی", reader="national_id"), prop("full_name", "نام و نام خانوادگی", reader="person_name"),
                                   prop("mobile", "همراه", reader="mobile")]),
    }
    for rel, (head, props) in specs.items():
        f = folder / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(HEAD.format(**head) + "".join(props), encoding="utf-8")
