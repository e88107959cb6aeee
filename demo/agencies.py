"""The demo's organisational subsystems: agency directory (xlsx), urban projects (JSON Lines),
inter-agency requests and indicators (small JSON files).  Each carries a few bad records."""
from __future__ import annotations

import json
import random
from pathlib import Path

# (code, name, parent, kind, phone) — the phone column is deliberately in mixed forms.
AGENCIES = [
    ("MM", "شهرداری مشهد", None, "municipality", "051-38020000"),
    ("MM-FIN", "معاونت مالی و اقتصادی", "MM", "organization", "05138021100"),
    ("MM-URB", "معاونت شهرسازی و معماری", "MM", "organization", "۰۵۱۳۸۰۲۲۲۰۰"),
    ("MM-SRV", "معاونت خدمات شهری", "MM", "organization", "+98 51 3802 3300"),
    ("MM-HR", "اداره کل منابع انسانی", "MM", "organization", "05138024400"),
    ("MM-137", "سامانه مدیریت شهری ۱۳۷", "MM-SRV", "organization", "051-3802-0137"),
    ("MM-WST", "سازمان مدیریت پسماند", "MM-SRV", "organization", "05137610000"),
    ("MM-PRK", "سازمان پارک‌ها و فضای سبز", "MM-SRV", "organization", "05137680000"),
    ("MM-TRN", "سازمان حمل و نقل و ترافیک", "MM", "organization", "05137270000"),
    ("MM-BUS", "سازمان اتوبوسرانی", "MM-TRN", "organization", "05132250000"),
    ("MM-CIV", "سازمان عمران شهرداری", "MM", "organization", "05138410000"),
] + [(f"MM-D{i:02d}", f"شهرداری منطقه {i}", "MM", "district", f"0513{i:02d}00000") for i in range(1, 14)] + [
    ("MM-SMN", "شهرداری منطقه ثامن", "MM", "district", "05132220000"),
    ("MM-BAD", "", "MM", "district", "0"),          # bad: no name (required), phone too short
]
PROJECT_KINDS = ["احداث پل", "بهسازی معابر", "احداث پارک", "توسعه قطار شهری", "ساخت فرهنگسرا",
                 "جمع‌آوری آب‌های سطحی", "نوسازی بافت فرسوده", "احداث پارکینگ طبقاتی"]
PROJECT_STATUS = ["در حال اجرا", "متوقف", "تکمیل شده", "در حال مناقصه"]


def build_agencies(out: Path) -> int:
    """Agency directory: `agencies/agencies.xlsx`, sheet `sazman`, English-ish headers."""
    from openpyxl import Workbook   # lazy: only the demo builder writes xlsx

    folder = out / "agencies"
    folder.mkdir(exist_ok=True)
    book = Workbook()
    sheet = book.active
    sheet.title = "sazman"
    sheet.append(["Code", "Name", "ParentCode", "Kind", "Phone", "Address"])
    for code, name, parent, kind, phone in AGENCIES:
        sheet.append([code, name, parent, kind, phone, "مشهد، میدان شهدا" if parent is None else None])
    book.save(folder / "agencies.xlsx")
    return len(AGENCIES)


def _jalali(rng: random.Random, year: int) -> str:
    return f"{year}/{rng.randint(1, 12):02d}/{rng.randint(1, 29):02d}"


def _jalali_after(day: str, days: int) -> str:
    """The Jalali date `days` after `day` (1403/07/14)."""
    import datetime as dt

    import jdatetime
    y, m, d = map(int, day.split("/"))
    later = jdatetime.date(y, m, d) + dt.timedelta(days=days)
    return f"{later.year}/{later.month:02d}/{later.day:02d}"


def build_projects(out: Path, rng: random.Random, n: int = 60) -> int:
    """Urban projects: JSON Lines drop `projects/*.jsonl`, nested objects, one file per year."""
    folder = out / "projects"
    folder.mkdir(exist_ok=True)
    agencies = [a[0] for a in AGENCIES if a[1] and a[0] not in {"MM"}]
    files: dict[int, list[str]] = {1402: [], 1403: []}
    for i in range(1, n + 1):
        year = 1402 + i % 2
        budget = rng.randrange(10, 5000) * 1_000_000_000
        progress = rng.randrange(0, 101)
        rec = {
            "code": f"PRJ-{year}-{i:03d}",
            "onvan": f"{rng.choice(PROJECT_KINDS)} {rng.choice(['شمال', 'جنوب', 'شرق', 'غرب', 'مرکز'])} شهر",
            "agency": {"code": rng.choice(agencies)},
            "mantaghe": f"منطقه {rng.randint(1, 13)}",
            "budget": {"approved_rial": budget, "spent_rial": int(budget * progress / 100 * rng.uniform(0.8, 1.2))},
            "progress": str(progress) if rng.random() < 0.5 else progress,   # text or number, as entered
            "status": "تکمیل شده" if progress == 100 else rng.choice(PROJECT_STATUS[:2] + PROJECT_STATUS[3:]),
            "dates": {"start": _jalali(rng, year), "end": _jalali(rng, year + rng.randint(1, 3))},
            "updated_at": f"2024-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}T{rng.randrange(24):02d}:00:00",
        }
        if i == 7:
            rec["dates"]["start"] = "1403/07/31"          # bad: no such day
        elif i == 13:
            rec["code"] = None                           # bad: missing key
        elif i == 21:
            rec["budget"]["approved_rial"] = "نامشخص"     # bad: not a number
        files[year].append(json.dumps(rec, ensure_ascii=False))
    for year, lines in files.items():
        (folder / f"projects_{year}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return n


def build_inter_agency(out: Path, rng: random.Random, n: int = 30) -> int:
    """Inter-agency requests: `coordination/requests.json`, a JSON list, some referring to others."""
    folder = out / "coordination"
    folder.mkdir(exist_ok=True)
    codes = [a[0] for a in AGENCIES if a[1]]
    subjects = ["استعلام پایان کار", "هماهنگی حفاری", "درخواست اکیپ رفع سد معبر", "تامین اعتبار پروژه",
                "اصلاح طرح تفصیلی", "استعلام بدهی عوارض"]
    rows = []
    for i in range(1, n + 1):
        frm, to = rng.sample(codes, 2)
        rows.append({"shomare": f"IA-1403-{i:04d}", "az": frm, "be": to, "mozoo": rng.choice(subjects),
                     "vaziat": rng.choice(["open", "in_progress", "answered", "closed"]), "tarikh": _jalali(rng, 1403),
                     "mohlat": _jalali(rng, 1403), "atf": f"IA-1403-{rng.randint(1, i - 1):04d}"
                     if i > 3 and rng.random() < 0.2 else None})
    for i, row in enumerate(rows):  # answered and closed ones say when (no draw: the rest stays as seeded)
        if row["vaziat"] in ("answered", "closed"):
            row["payan"] = _jalali_after(row["tarikh"], 2 + (i * 7) % 25)
    rows[5]["tarikh"] = "1402/12/30"     # bad: 1402 is not a leap year, Esfand has 29 days
    rows[9]["tarikh"] = "1403/08/32"     # bad: no such day
    (folder / "requests.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    return n


def build_indicators(out: Path, rng: random.Random) -> int:
    """Performance indicators: `indicators/indicators.json`, a JSON list."""
    folder = out / "indicators"
    folder.mkdir(exist_ok=True)
    defs = [("IND-WST-01", "درصد پسماند تفکیک‌شده", "MM-WST", "درصد"),
            ("IND-PRK-01", "سرانه فضای سبز", "MM-PRK", "متر مربع"),
            ("IND-137-01", "میانگین زمان رسیدگی ۱۳۷", "MM-137", "روز"),
            ("IND-BUS-01", "تعداد سفر روزانه اتوبوس", "MM-BUS", "سفر")]
    items = [{"code": c, "title": t, "agency": a, "period": f"1403-Q{q}",
              "target": round(rng.uniform(10, 100), 1), "measured": round(rng.uniform(5, 110), 1), "unit": u}
             for c, t, a, u in defs for q in (1, 2, 3)]
    items[4]["measured"] = "—"              # bad: not a number
    (folder / "indicators.json").write_text(json.dumps(items, ensure_ascii=False, indent=1), "utf-8")
    return len(items)
