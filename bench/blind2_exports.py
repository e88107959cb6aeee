"""A second outsider's blind set: how agencies deliver data, not only what it says.

Six agencies, each delivering the way its system does, with contracts written from the docs
alone (README, docs/, schemas/, the example contracts):

- `hr.employees`      PostgreSQL table (person): BIGINT national id and mobile (lost zeros),
                      CHAR(n) names padded with spaces, a Jalali birth date in a DATE column,
                      gender SMALLINT 1/2, NULL vs '' address, SERIAL id as recordId.
- `finance.levies`    MariaDB table (payment): payer as written by a cashier (companies,
                      «ورثه مرحوم …», two payers, «فرزند …»), BIGINT code (11-digit legal ids),
                      Jalali CHAR(10) date, Gregorian DATETIME, some names double-encoded UTF-8.
- `welfare.clients`   SQLite file (person): INTEGER national id, gender 0/1, Jalali text dates
                      written every way, Afghan clients without a national id.
- `rc137.calls`       HTTP JSON API, page-numbered, nested caller/location objects.
- `urban.permits`     .xlsx (permit): merged title row, date row, header on row 3, blank rows,
                      numbers as numbers, Excel dates or serial numbers, a second sheet.
- `sport.members`     CSV with `;` and a trailing empty column (person).

`generate(out, people, seed)` writes the sources (DBs under `munihub_blind2_<seed>_<pid>`), the
contracts under `out/contracts`, and `out/truth.csv` (source, source_key, true_id, labels)
usable by `munihub resolve evaluate --truth truth.csv --by labels`.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import os
import random
import sqlite3
from pathlib import Path

import jdatetime

MALE = ["علی", "محمد", "حسین", "رضا", "مهدی", "حسن", "امیر", "مصطفی", "جواد", "سعید", "محمدرضا",
        "ابوالفضل", "عباس", "قاسم", "غلامرضا", "هادی", "مجید", "کاظم", "یوسف", "اکبر"]
FEMALE = ["فاطمه", "زهرا", "مریم", "معصومه", "زینب", "سمیه", "لیلا", "نرگس", "الهام", "طاهره",
          "سکینه", "فرشته", "مهناز", "راضیه", "ملیحه", "اعظم", "صدیقه", "رقیه"]
LAST = ["رضایی", "محمدی", "حسینی", "احمدی", "کریمی", "موسوی", "قاسمی", "رحیمی", "صادقی", "جعفری",
        "نوری", "عباسی", "یزدانی", "طباطبایی", "قوچانی", "سبزواری", "نیشابوری", "کاشانی",
        "عبدالهی", "میرزایی", "خراسانی", "شریفی", "اکبری", "زارعی", "فرهادی", "باقری", "توکلی"]
AFGHAN_MALE = ["گل‌محمد", "عبدالغفور", "نورآقا", "شیرآقا", "عبدالرحیم", "محمدنبی", "سید‌آقا", "جمعه‌خان"]
AFGHAN_FEMALE = ["گل‌بی‌بی", "شکریه", "نازیه", "بی‌بی‌گل", "زرمینه"]
AFGHAN_LAST = ["احمدزی", "حسین‌زاده", "هزاره", "رحیمی", "نوری", "محمدی", "قربانی"]
STREETS = ["بلوار وکیل‌آباد", "خیابان امام رضا", "بلوار سجاد", "خیابان احمدآباد", "بلوار فردوسی",
           "خیابان کوهسنگی", "بلوار هاشمیه", "بلوار پیروزی", "خیابان طبرسی", "بلوار توس"]
COMPANIES = ["شرکت ساختمانی توس بنا", "شرکت پارس سازه شرق", "تعاونی مسکن فرهنگیان", "شرکت آرمان بتن خراسان"]
FA = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
DB = "munihub_blind2_{seed}_" + str(os.getpid())  # one per process: two runs of a seed side by side


def nid_check(nine: str) -> str:
    s = sum(int(d) * (10 - i) for i, d in enumerate(nine)) % 11
    return nine + str(s if s < 2 else 11 - s)


def make_people(rng: random.Random, n: int) -> list[dict]:
    people, used = [], set()
    for pid in range(n):
        afghan = rng.random() < 0.08
        female = rng.random() < 0.5
        if afghan:
            first = rng.choice(AFGHAN_FEMALE if female else AFGHAN_MALE)
            last = rng.choice(AFGHAN_LAST)
            nid = None
        else:
            first = rng.choice(FEMALE if female else MALE)
            last = rng.choice(LAST)
            while True:  # Mashhad-issued codes start 092/093/094: the zero a BIGINT loses
                nid = nid_check(rng.choice(["092", "093", "094", "075", "163", "107"]) + f"{rng.randrange(10**6):06d}")
                if nid not in used and len(set(nid)) > 1:
                    used.add(nid)
                    break
        g = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(365 * 55))
        people.append({
            "pid": f"P{pid:05d}", "first": first, "last": last, "female": female, "afghan": afghan,
            "father": rng.choice(AFGHAN_MALE if afghan else MALE), "nid": nid, "birth": g,
            "jbirth": jdatetime.date.fromgregorian(date=g),
            "mobile": "09" + rng.choice(["15", "15", "12", "35", "01", "05"]) + f"{rng.randrange(10**7):07d}",
            "street": rng.choice(STREETS), "alley": rng.randrange(1, 60), "plate": rng.randrange(1, 200),
        })
    return people


def jal(j: jdatetime.date, style: str) -> str:
    y, m, d = j.year, j.month, j.day
    return {"dash": f"{y:04d}-{m:02d}-{d:02d}", "slash": f"{y}/{m:02d}/{d:02d}", "short": f"{y}/{m}/{d}",
            "yy": f"{y % 100}/{m}/{d}", "fa": f"{y}/{m:02d}/{d:02d}".translate(FA),
            "compact": f"{y}{m:02d}{d:02d}"}[style]


def address(p: dict, rng: random.Random) -> str:
    return rng.choice([f"مشهد، {p['street']}، کوچه {p['alley']}، پلاک {p['plate']}",
                       f"{p['street']} {p['alley']} پ {p['plate']}",
                       f"{p['street'].split(' ', 1)[1]}، نبش کوچه {p['alley']}"])


class Truth:
    def __init__(self):
        self.rows: list[tuple] = []

    def add(self, source, key, pid, labels):
        self.rows.append((source, str(key), pid, ";".join(sorted(set(labels)))))


# ----------------------------------------------------------------------- sources

def hr_employees(people, rng, truth, seed):
    import psycopg2
    staff = rng.sample(people, len(people) // 5)
    con = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="test")
    con.autocommit = True
    con.cursor().execute(f"DROP DATABASE IF EXISTS {DB.format(seed=seed)}")
    con.cursor().execute(f"CREATE DATABASE {DB.format(seed=seed)}")
    con.close()
    con = psycopg2.connect(host="127.0.0.1", user="postgres", dbname=DB.format(seed=seed))
    cur = con.cursor()
    cur.execute("""CREATE TABLE employees (emp_id SERIAL PRIMARY KEY, personnel_no CHAR(8),
        national_code BIGINT, fname CHAR(30), lname CHAR(40), father CHAR(30), birth_date DATE,
        sex SMALLINT, mobile BIGINT, home_address VARCHAR(200), hired_at TIMESTAMP,
        updated_at TIMESTAMP NOT NULL)""")
    for i, p in enumerate(staff):
        labels = ["bigint_nid", "char_padded", "jalali_in_date_column", "sex_1_2", "bigint_mobile"]
        if p["nid"] is None:
            labels.append("foreign_no_nid")
        elif p["nid"].startswith("0"):
            labels.append("nid_lost_zero")
        addr = address(p, rng) if rng.random() < 0.6 else rng.choice([None, ""])
        birth = jal(p["jbirth"], "dash")
        try:  # a DATE column cannot hold 1362-02-30 or 1362-06-31: the HR system stored NULL
            dt.date.fromisoformat(birth)
        except ValueError:
            birth = None
            labels.append("jalali_day_not_in_gregorian_month")
        cur.execute("INSERT INTO employees (personnel_no, national_code, fname, lname, father, birth_date, sex, mobile,"
                    " home_address, hired_at, updated_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING emp_id",
                    (f"{7000 + i}", int(p["nid"]) if p["nid"] else None, p["first"], p["last"], p["father"],
                     birth, 2 if p["female"] else 1, int(p["mobile"]), addr,
                     dt.datetime(2010, 1, 1) + dt.timedelta(days=rng.randrange(5000)), dt.datetime(2026, 11, 1)))
        truth.add("hr.employees", cur.fetchone()[0], p["pid"], labels)
    con.commit()
    con.close()


def payer_text(p, rng, labels):
    name = f"{p['first']} {p['last']}"
    r = rng.random()
    if r < 0.08:
        labels.append("heirs_of_late")
        return f"ورثه مرحوم {name}"
    if r < 0.14:
        labels.append("two_payers")
        other = rng.choice(MALE + FEMALE)
        return f"{name} و {other} {p['last']}"
    if r < 0.20:
        labels.append("child_of")
        return f"فرزند {p['father']} {name}" if rng.random() < 0.5 else f"{name} فرزند {p['father']}"
    if r < 0.26:
        labels.append("name_with_title")
        return ("آقای " if not p["female"] else "خانم ") + name
    return name


def finance_levies(people, rng, truth, seed):
    import pymysql
    db = DB.format(seed=seed)
    con = pymysql.connect(host="127.0.0.1", user="root", charset="utf8mb4", autocommit=True)
    cur = con.cursor()
    cur.execute(f"DROP DATABASE IF EXISTS {db}")
    cur.execute(f"CREATE DATABASE {db} CHARACTER SET utf8mb4")
    cur.execute(f"USE {db}")
    cur.execute("""CREATE TABLE levies (id INT AUTO_INCREMENT PRIMARY KEY, payer VARCHAR(120),
        code_melli BIGINT NULL, mobile BIGINT NULL, amount DECIMAL(14,0), levy_type VARCHAR(40),
        tarikh CHAR(10), paid_at DATETIME, status TINYINT, ref_no VARCHAR(20), modified DATETIME NOT NULL)""")
    payers = rng.sample(people, len(people) // 3)
    for p in payers + rng.sample(payers, len(payers) // 3):
        labels = ["bigint_nid", "bigint_mobile", "jalali_char10"]
        text = payer_text(p, rng, labels)
        if rng.random() < 0.1:
            labels.append("double_encoded_utf8")
            text = text.encode("utf-8").decode("latin-1")
        nid = int(p["nid"]) if p["nid"] and rng.random() < 0.8 else None
        if p["nid"] is None:
            labels.append("foreign_no_nid")
        elif nid is None:
            labels.append("nid_null")
        elif p["nid"].startswith("0"):
            labels.append("nid_lost_zero")
        mob = int(p["mobile"]) if rng.random() < 0.7 else None
        g = dt.datetime(2023, 3, 21) + dt.timedelta(minutes=rng.randrange(60 * 24 * 900))
        cur.execute("INSERT INTO levies (payer, code_melli, mobile, amount, levy_type, tarikh, paid_at, status, ref_no,"
                    " modified) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                    (text, nid, mob, rng.randrange(10, 900) * 10000, rng.choice(["عوارض نوسازی", "پسماند", "جریمه"]),
                     jal(jdatetime.date.fromgregorian(date=g.date()), "slash"), g, rng.choice([1, 1, 1, 0]),
                     f"{rng.randrange(10**9)}", dt.datetime(2026, 11, 1)))
        truth.add("finance.levies", cur.lastrowid, p["pid"], labels)
    for c in COMPANIES:  # companies pay too: an 11-digit national id of a legal entity
        cur.execute("INSERT INTO levies (payer, code_melli, mobile, amount, levy_type, tarikh, paid_at, status, ref_no,"
                    " modified) VALUES (%s,%s,NULL,%s,'عوارض نوسازی','1403/02/11','2024-04-30 10:00:00',1,'1',%s)",
                    (c, int("10" + f"{rng.randrange(10**9):09d}"), 5000000, dt.datetime(2026, 11, 1)))
        truth.add("finance.levies", cur.lastrowid, f"C-{c}", ["company_payer"])
    con.close()


def welfare_clients(people, rng, truth, path):
    clients = rng.sample(people, len(people) // 4) + [p for p in people if p["afghan"] and rng.random() < 0.6]
    con = sqlite3.connect(path)
    con.execute("""CREATE TABLE clients (id INTEGER PRIMARY KEY AUTOINCREMENT, case_no TEXT,
        national_id INTEGER, full_name TEXT, father_name TEXT, gender INTEGER, birth TEXT,
        phone INTEGER, address TEXT, nationality TEXT, foreign_no TEXT)""")
    seen = set()
    for p in clients:
        if p["pid"] in seen:
            continue
        seen.add(p["pid"])
        labels = ["int_nid", "gender_0_1"]
        style = rng.choice(["slash", "short", "yy", "fa", "compact"])
        labels.append(f"birth_{style}")
        name = f"{p['first']} {p['last']}"
        if rng.random() < 0.1:
            labels.append("late_prefix")
            name = "مرحوم " + name
        nid = int(p["nid"]) if p["nid"] else None
        if p["afghan"]:
            labels.append("afghan_no_nid")
            name = f"{p['first']} ولد {p['father']}" if rng.random() < 0.4 else name
            if "ولد" in name:
                labels.append("walad_father")
        elif p["nid"].startswith("0"):
            labels.append("nid_lost_zero")
        cur = con.execute("INSERT INTO clients (case_no, national_id, full_name, father_name, gender, birth, phone,"
                          " address, nationality, foreign_no) VALUES (?,?,?,?,?,?,?,?,?,?)",
                          (f"W-{rng.randrange(10**6)}", nid, name, p["father"], 0 if p["female"] else 1,
                           jal(p["jbirth"], style), int(p["mobile"]), address(p, rng),
                           "افغانستان" if p["afghan"] else "ایران",
                           f"{rng.randrange(10**11):011d}" if p["afghan"] else None))
        truth.add("welfare.clients", cur.lastrowid, p["pid"], labels)
    con.commit()
    con.close()


def rc137_calls(people, rng, truth, path):
    callers = rng.sample(people, len(people) // 3)
    items = []
    for i, p in enumerate(callers):
        labels = ["nested_json"]
        c = {"fullName": f"{p['first']} {p['last']}", "mobile": p["mobile"]}
        r = rng.random()
        if r < 0.3:
            c["fullName"] = ("آقای " if not p["female"] else "خانم ") + p["last"]
            labels.append("title_surname_only")
        if rng.random() < 0.4 and p["nid"]:
            c["nationalCode"] = p["nid"]
            if rng.random() < 0.4:  # a JSON number, as a backend with a numeric column sends it
                c["nationalCode"] = int(p["nid"])
                labels.append("json_number_nid")
        if rng.random() < 0.2:
            c["mobile"] = "+98" + p["mobile"][1:]
            labels.append("mobile_plus98")
        elif rng.random() < 0.25:  # the app's newer version: a list of typed phones
            del c["mobile"]
            c["phones"] = [{"type": "mobile", "number": p["mobile"]}]
            labels.append("phones_array")
        g = dt.datetime(2026, 1, 1) + dt.timedelta(minutes=rng.randrange(60 * 24 * 300))
        created = g.isoformat() + "+03:30"
        if rng.random() < 0.3:  # the API's older endpoint: a Jalali date-time string
            j = jdatetime.datetime.fromgregorian(datetime=g)
            created = f"{j.year}/{j.month:02d}/{j.day:02d} {j.hour:02d}:{j.minute:02d}"
            labels.append("jalali_datetime")
        items.append({"id": 50000 + i, "trackingCode": f"137-{900000 + i}", "caller": c,
                      "location": {"address": address(p, rng), "district": rng.randrange(1, 14),
                                   "geo": {"lat": 36.3 + rng.random() / 10, "lng": 59.5 + rng.random() / 10}},
                      "category": rng.choice(["پسماند", "روشنایی معابر", "آسفالت", "فضای سبز"]),
                      "createdAt": created, "status": "ثبت شده"})
        truth.add("rc137.calls", f"137-{900000 + i}", p["pid"], labels)
    Path(path).write_text(json.dumps(items, ensure_ascii=False))


def urban_permits(people, rng, truth, path):
    import openpyxl
    owners = rng.sample(people, len(people) // 4)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "پروانه‌ها"
    ws["A1"] = "فهرست پروانه‌های ساختمانی صادره - منطقه ۹"
    ws.merge_cells("A1:H1")
    ws["A2"] = "تاریخ تهیه: ۱۴۰۵/۰۹/۱۰"
    ws.merge_cells("A2:H2")
    ws.append(["ردیف", "شماره پروانه", "نام مالک", "کد ملی", "تلفن همراه", "تاریخ صدور", "متراژ", "تعداد طبقات"])
    row = 0
    for i, p in enumerate(owners):
        labels = ["xlsx"]
        name = f"{p['first']} {p['last']}"
        if rng.random() < 0.1:
            labels.append("two_owners")
            name = f"{name} و {rng.choice(FEMALE)} {rng.choice(LAST)}"
        if rng.random() < 0.1:
            labels.append("father_in_name")
            name = f"{name} فرزند {p['father']}"
        nid = int(p["nid"]) if p["nid"] else None
        if p["nid"] and p["nid"].startswith("0"):
            labels.append("nid_number_cell_lost_zero")
        if p["nid"] is None:
            labels.append("foreign_no_nid")
        g = dt.date(2018, 1, 1) + dt.timedelta(days=rng.randrange(2800))
        kind = rng.choice(["excel_date", "serial", "jalali_text"])
        labels.append(f"issued_{kind}")
        issued = {"excel_date": dt.datetime.combine(g, dt.time()), "serial": (g - dt.date(1899, 12, 30)).days,
                  "jalali_text": jal(jdatetime.date.fromgregorian(date=g), "slash")}[kind]
        r = rng.random()
        mob = int(p["mobile"]) if r < 0.6 else float(p["mobile"]) if r < 0.7 else p["mobile"]
        if isinstance(mob, int):
            labels.append("mobile_number_cell")
        elif isinstance(mob, float):
            labels.append("mobile_float_cell")
        if nid and rng.random() < 0.1:  # typed as text by a clerk: Persian digits, dashes
            nid = f"{p['nid'][:3]}-{p['nid'][3:9]}-{p['nid'][9]}".translate(FA)
            labels = [x for x in labels if x != "nid_number_cell_lost_zero"] + ["nid_text_fa_dashes"]
        row += 1
        ws.append([row, f"9-{14000 + i}", name, nid, mob, issued, round(rng.uniform(80, 900), 1), rng.randrange(1, 8)])
        if kind == "excel_date":
            ws.cell(ws.max_row, 6).number_format = "yyyy-mm-dd"
        if rng.random() < 0.05:
            ws.append([])
        truth.add("urban.permits", f"9-{14000 + i}", p["pid"], labels)
    ws.append([])
    ws.append(["جمع کل", None, None, None, None, None, f"=SUM(G4:G{ws.max_row})", None])
    help_ws = wb.create_sheet("راهنما")
    help_ws.append(["ستون", "توضیح"])
    help_ws.append(["کد ملی", "ده رقم"])
    wb.save(path)


def sport_members(people, rng, truth, path):
    members = rng.sample(people, len(people) // 5)
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter=";")
        w.writerow(["کد عضویت", "نام", "نام خانوادگی", "کد ملی", "تاریخ تولد", "جنسیت", "موبایل", ""])
        for i, p in enumerate(members):
            labels = ["csv_semicolon"]
            mob = p["mobile"]
            if rng.random() < 0.3:
                mob = mob[1:]
                labels.append("mobile_no_zero")
            nid = p["nid"] or ""
            if nid and rng.random() < 0.3:
                nid = nid.lstrip("0")
                labels.append("nid_lost_zero")
            if not nid:
                labels.append("foreign_no_nid")
            w.writerow([f"S{3000 + i}", p["first"], p["last"], nid, jal(p["jbirth"], "slash"),
                        "زن" if p["female"] else "مرد", mob, ""])
            truth.add("sport.members", f"S{3000 + i}", p["pid"], labels)


# ----------------------------------------------------------------------- contracts
# Written from docs/contracts-guide.md and the example contracts only.

HEAD = """apiVersion: v3.1.0
kind: DataContract
id: {id}
name: {name}
version: 1.0.0
status: active
team:
  name: {agency}
  members:
    - {{username: {agency}-steward, name: steward, role: owner}}
servers:
  - server: src
    type: custom
    customProperties:
{server}
schema:
  - name: {name}
    physicalName: {physical}
    physicalType: table
    customProperties:
      - {{property: sharedSchema, value: {shared}}}
      - {{property: recordId, value: [{record_id}]}}
    properties:
{props}
"""


def typed(prop: str) -> str:
    """ODCS needs a logicalType on every property (lint says so; the guide's table does not)."""
    kind = ("timestamp" if "transformLogic: datetime" in prop else "date" if "transformLogic: 'date" in prop
            or "transformLogic: date" in prop else "integer" if "transformLogic: integer" in prop
            else "number" if "transformLogic: number" in prop else "string")
    return prop[:-1] + f", logicalType: {kind}}}"


def contract(dataset, shared, record_id, physical, server: list[str], props: list[str]) -> str:
    agency, name = dataset.split(".")
    props = [typed(p) for p in props]
    return HEAD.format(id=dataset, name=name, agency=agency, shared=shared, record_id=record_id, physical=physical,
                       server="\n".join("      - " + s for s in server), props="\n".join("      - " + p for p in props))


def contracts(out: Path, seed: int, api_url: str) -> dict[str, str]:
    db = DB.format(seed=seed)
    c = {
        "hr.employees": contract("hr.employees", "person", "emp_id", "employees", [
            "{property: connector, value: sql}",
            f"{{property: url, value: 'postgresql+psycopg2://postgres@127.0.0.1:5432/{db}'}}",
            "{property: table, value: employees}", "{property: key, value: emp_id}"], [
            "{name: national_id, physicalName: national_code, transformLogic: national_id, primaryKey: true, primaryKeyPosition: 1}",
            "{name: first_name, physicalName: fname}", "{name: last_name, physicalName: lname}",
            "{name: father_name, physicalName: father}", "{name: birth_date, physicalName: birth_date, transformLogic: date}",
            "{name: gender, physicalName: sex, customProperties: [{property: valueMap, value: {'1': male, '2': female}}]}",
            "{name: mobile, physicalName: mobile, transformLogic: mobile}",
            "{name: address.detail, physicalName: home_address}"]),
        "finance.levies": contract("finance.levies", "payment", "id", "levies", [
            "{property: connector, value: sql}",
            f"{{property: url, value: 'mysql+pymysql://root@127.0.0.1:3306/{db}?charset=utf8mb4'}}",
            "{property: table, value: levies}", "{property: key, value: id}"], [
            "{name: payment_id, physicalName: id, primaryKey: true, primaryKeyPosition: 1, required: true}",
            "{name: payer_name, physicalName: payer, transformLogic: person_name}",
            "{name: national_id, physicalName: code_melli, transformLogic: national_id}",
            "{name: mobile, physicalName: mobile, transformLogic: mobile}",
            "{name: amount_rial, physicalName: amount, transformLogic: integer, required: true}",
            "{name: kind, physicalName: levy_type}", "{name: paid_on, physicalName: tarikh, transformLogic: date}",
            "{name: status, physicalName: status, customProperties: [{property: valueMap, value: {'1': paid, '0': failed}}]}",
            "{name: reference, physicalName: ref_no}"]),
        "welfare.clients": contract("welfare.clients", "person", "id", "clients", [
            "{property: connector, value: sql}", f"{{property: url, value: 'sqlite:///{out / 'welfare.db'}'}}",
            "{property: table, value: clients}", "{property: key, value: id}"], [
            "{name: national_id, physicalName: national_id, transformLogic: national_id, primaryKey: true, primaryKeyPosition: 1}",
            "{name: full_name, physicalName: full_name, transformLogic: person_name}",
            "{name: father_name, physicalName: father_name}",
            "{name: gender, physicalName: gender, customProperties: [{property: valueMap, value: {'0': female, '1': male}}]}",
            "{name: birth_date, physicalName: birth, transformLogic: 'date:13'}",
            "{name: mobile, physicalName: phone, transformLogic: mobile}",
            "{name: address.detail, physicalName: address}"]),
        "rc137.calls": contract("rc137.calls", "service_request", "trackingCode", "calls", [
            "{property: connector, value: rest}", f"{{property: url, value: '{api_url}'}}",
            "{property: path, value: /calls}", "{property: records, value: data}",
            "{property: allow_hosts, value: [127.0.0.1]}",
            "{property: pagination, value: {type: page, page_param: page, size_param: size, page_size: 50}}"], [
            "{name: tracking_code, physicalName: trackingCode, primaryKey: true, primaryKeyPosition: 1, required: true}",
            "{name: citizen_name, physicalName: caller.fullName, transformLogic: person_name}",
            "{name: national_id, physicalName: caller.nationalCode, transformLogic: national_id}",
            "{name: mobile, physicalName: caller.mobile, transformLogic: mobile}",
            "{name: phone, physicalName: caller.phones.0.number, transformLogic: phone}",
            "{name: address, physicalName: location.address}", "{name: district, physicalName: location.district}",
            "{name: latitude, physicalName: location.geo.lat, transformLogic: number}",
            "{name: longitude, physicalName: location.geo.lng, transformLogic: number}",
            "{name: category, physicalName: category}", "{name: status, physicalName: status}",
            "{name: filed_at, physicalName: createdAt, transformLogic: datetime, required: true}"]),
        "urban.permits": contract("urban.permits", "permit", "شماره پروانه", "permits", [
            "{property: connector, value: file}", f"{{property: path, value: '{out / 'permits'}'}}",
            "{property: pattern, value: '*.xlsx'}", "{property: format, value: xlsx}",
            "{property: sheet, value: پروانه‌ها}"], [
            "{name: permit_no, physicalName: شماره پروانه, primaryKey: true, primaryKeyPosition: 1, required: true}",
            "{name: owner_name, physicalName: نام مالک, transformLogic: person_name}",
            "{name: national_id, physicalName: کد ملی, transformLogic: national_id}",
            "{name: mobile, physicalName: تلفن همراه, transformLogic: mobile}",
            "{name: issued_on, physicalName: تاریخ صدور, transformLogic: date}",
            "{name: area_m2, physicalName: متراژ, transformLogic: number}",
            "{name: floors, physicalName: تعداد طبقات, transformLogic: integer}"]),
        "sport.members": contract("sport.members", "person", "کد عضویت", "members", [
            "{property: connector, value: file}", f"{{property: path, value: '{out / 'sport'}'}}",
            "{property: pattern, value: '*.csv'}", "{property: format, value: csv}", "{property: delimiter, value: ';'}"], [
            "{name: national_id, physicalName: کد ملی, transformLogic: national_id, primaryKey: true, primaryKeyPosition: 1}",
            "{name: first_name, physicalName: نام}", "{name: last_name, physicalName: نام خانوادگی}",
            "{name: birth_date, physicalName: تاریخ تولد, transformLogic: date}",
            "{name: gender, physicalName: جنسیت, customProperties: [{property: valueMap, value: {زن: female, مرد: male}}]}",
            "{name: mobile, physicalName: موبایل, transformLogic: mobile}"]),
    }
    for dataset, text in c.items():
        agency, name = dataset.split(".")
        (out / "contracts" / agency).mkdir(parents=True, exist_ok=True)
        (out / "contracts" / agency / f"{name}.yaml").write_text(text, encoding="utf-8")
    return c


CONTRACTS = ["hr.employees", "finance.levies", "welfare.clients", "rc137.calls", "urban.permits", "sport.members"]


def generate(out: Path, people: int, seed: int, api_url: str) -> dict:
    """Write every source, contract and truth.csv under `out`; the calls JSON for the API to serve."""
    rng = random.Random(seed)
    pop = make_people(rng, people)
    truth = Truth()
    for d in ("permits", "sport"):
        (out / d).mkdir(parents=True, exist_ok=True)
    hr_employees(pop, rng, truth, seed)
    finance_levies(pop, rng, truth, seed)
    welfare_clients(pop, rng, truth, out / "welfare.db")
    rc137_calls(pop, rng, truth, out / "calls.json")
    urban_permits(pop, rng, truth, out / "permits" / "permits_1405.xlsx")
    sport_members(pop, rng, truth, out / "sport" / "members.csv")
    contracts(out, seed, api_url)
    with open(out / "truth.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["source", "source_key", "true_person_id", "labels"])
        w.writerows(truth.rows)
    return {"people": len(pop), "truth": truth.rows}


def drop(seed: int) -> None:
    import psycopg2
    import pymysql
    con = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="test")
    con.autocommit = True
    con.cursor().execute(f"DROP DATABASE IF EXISTS {DB.format(seed=seed)}")
    con.close()
    con = pymysql.connect(host="127.0.0.1", user="root", autocommit=True)
    con.cursor().execute(f"DROP DATABASE IF EXISTS {DB.format(seed=seed)}")
    con.close()
