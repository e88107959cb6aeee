"""The stewards' workbench through its HTTP face (FastAPI TestClient over a real SQLite store).

A hub with one real source (the citizens SQLite subsystem of test_pipeline, its contract
requiring a mobile so one good citizen is quarantined until the contract is fixed), two
records of one person the matcher is unsure about, a steward and a viewer.  Every guarantee
of issue 19 is tried here: deny by default, CSRF on every post, roles, audit with who and
why, Persian messages for bad input, one masking rule on every page and CLI view.
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from munihub import pipeline, store
from munihub.config import REPO_ROOT, Settings
from test_pipeline import DATA, ROWS, citizens_source, national_id

ALI = {"first_name": "علی", "last_name": "رحیمی", "birth_date": "1990-01-01", "father_name": "حسن",
       "mobile": "+989121112233", "gender": "male"}
# the same whole name on another mobile, nothing else: unsure (another father or gender would
# be a conflict, never a pair to review); a surname no row of the registry has
OTHER = {"first_name": "علی", "last_name": "رحیمی", "mobile": "+989127654321"}
PASSWORD = "a long passphrase 19"
# A citizen without a mobile, whom the contract's wrong `required` quarantines.
MARYAM = (7, national_id("556677889"), "مریم", "کاظمی", "1370/01/01", None, "2024-01-03 09:00:00")
SECRETS = [r[1] for r in ROWS] + [MARYAM[1], "09151234567", "9151234567", "9157654321", "9121112233", "9127654321"]
T0 = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)


def make_hub(tmp: Path, monkeypatch, store_url: str | None = None) -> Settings:
    """A synced and consolidated hub: quarantined citizens, an open review pair, two users."""
    from munihub.pipeline.consolidate import consolidate
    from munihub.workbench import add_user

    import sqlite3

    src = citizens_source(tmp / "src.db")
    with sqlite3.connect(src) as db:
        db.execute("INSERT INTO citizens VALUES (?,?,?,?,?,?,?)", MARYAM)
    contracts = tmp / "contracts" / "testreg"
    contracts.mkdir(parents=True)
    text = (DATA / "citizens.yaml").read_text(encoding="utf-8")
    # The contract wrongly requires a mobile: Maryam (no mobile) is quarantined until fixed.
    text = text.replace("        transformLogic: mobile\n", "        transformLogic: mobile\n        required: true\n")
    (contracts / "citizens.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("MUNIHUB_TEST_SRC", str(src))
    store_url = store_url or f"sqlite:///{tmp / 'store.db'}"
    monkeypatch.setenv("MUNIHUB_STORE_URL", store_url)
    monkeypatch.setenv("MUNIHUB_HOME", str(tmp / "home"))
    monkeypatch.setenv("MUNIHUB_CONTRACTS", str(tmp / "contracts"))
    store.forget_engines()
    settings = Settings(home=tmp / "home", store_url=store_url,
                        contracts_dir=tmp / "contracts", schemas_dir=REPO_ROOT / "schemas")
    pipeline.sync_source("testreg.citizens", settings)
    engine = store.engine_for(settings)
    with engine.begin() as conn:
        for source, rec in (("clinic.patients", ALI), ("library.members", OTHER)):
            conn.execute(store.source_rows.insert().values(
                source=source, source_key="K1", entity_type="person", record=rec,
                record_hash=store.record_hash(rec), first_load_id="L1", load_id="L1", updated_at=T0))
    consolidate(settings)
    add_user(engine, "sara", PASSWORD, "steward", display_name="سارا محمدی", actor="test")
    add_user(engine, "vida", PASSWORD, "viewer", display_name="ویدا", actor="test")
    return settings


def fix_contract(settings: Settings) -> None:
    """The steward's fix: a citizen's mobile is optional after all."""
    path = settings.contracts_dir / "testreg" / "citizens.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("        transformLogic: mobile\n        required: true\n",
                                 "        transformLogic: mobile\n"), encoding="utf-8")


@pytest.fixture
def hub(tmp_path, monkeypatch):
    settings = make_hub(tmp_path, monkeypatch)
    yield settings
    store.forget_engines()


def client(settings, user: str | None = "sara"):
    from fastapi.testclient import TestClient

    from munihub.workbench import create_app
    c = TestClient(create_app(settings, prefix=""), follow_redirects=False)
    if user:
        pre = csrf_of(c.get("/signin").text)
        r = c.post("/signin", data={"csrf": pre, "username": user, "password": PASSWORD})
        assert r.status_code == 303 and r.headers["location"] == "/", r.text[-500:]
    return c


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def open_quarantine(settings) -> list[dict]:
    with store.engine_for(settings).connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(store.quarantine).where(store.quarantine.c.status == "open")
                                              .order_by(store.quarantine.c.id)).mappings()]


def audit_rows(settings, action: str) -> list[dict]:
    with store.engine_for(settings).connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(store.audit_log).where(
            store.audit_log.c.action == action).order_by(store.audit_log.c.seq)).mappings()]


def assert_masked(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret} shown in clear"


def ali_pair(settings) -> int:
    with store.engine_for(settings).connect() as conn:
        return conn.execute(sa.select(store.review_queue.c.id).where(store.review_queue.c.status == "open")).scalar_one()


# ---------------------------------------------------------------- sign-in, deny by default, CSRF

def test_every_route_refuses_a_signed_out_browser(hub):
    from munihub.workbench import create_app
    app = create_app(hub, prefix="")
    c = client(hub, None)
    checked = 0
    for route in app.routes:
        path = re.sub(r"\{[^}]+\}", "1", getattr(route, "path", ""))
        if not path or path.startswith(("/signin", "/static")):
            continue
        for method in getattr(route, "methods", ()) - {"HEAD"}:
            r = c.request(method, path, data={"why": "x", "source": "testreg.citizens", "ids": "1"})
            if method == "GET":
                assert r.status_code == 303 and r.headers["location"] == "/signin", path
            else:
                assert r.status_code == 401, (method, path)
            assert "ورود" in r.text or r.status_code == 303
            checked += 1
    assert checked >= 12
    assert len(open_quarantine(hub)) == 4  # nothing was replayed or dismissed
    assert audit_rows(hub, "workbench.refused")  # refused posts are audited


def test_passwords_are_kept_as_scrypt_hashes_and_wrong_ones_are_refused_and_audited(hub):
    with store.engine_for(hub).connect() as conn:
        stored = conn.execute(sa.select(store.workbench_users.c.password_hash)).scalars().all()
    assert all(h.startswith("scrypt$16384$8$1$") and PASSWORD not in h for h in stored)
    c = client(hub, None)
    pre = csrf_of(c.get("/signin").text)
    r = c.post("/signin", data={"csrf": pre, "username": "sara", "password": "wrong password!"})
    assert r.status_code == 401 and "نادرست" in r.text and "munihub_wb" not in r.cookies
    assert [a["outcome"] for a in audit_rows(hub, "workbench.signin")] == ["ok", "ok", "denied"][-1:] or \
        audit_rows(hub, "workbench.signin")[-1]["outcome"] == "denied"
    # a sign-in post without the page's token (a login-CSRF) is refused
    r = client(hub, None).post("/signin", data={"username": "sara", "password": PASSWORD})
    assert r.status_code == 403


def test_a_form_post_without_the_sessions_csrf_token_is_refused(hub):
    c = client(hub)
    qid = open_quarantine(hub)[0]["id"]
    for data in ({"ids": qid, "why": "forged"}, {"ids": qid, "why": "forged", "csrf": "not-the-token"}):
        r = c.post("/quarantine/dismiss", data=data)
        assert r.status_code == 403 and "CSRF" in r.text
    assert len(open_quarantine(hub)) == 4
    refused = audit_rows(hub, "workbench.refused")
    assert refused[-1]["actor"] == "sara" and "csrf" in refused[-1]["detail"]["why"]
    # the real token works
    token = csrf_of(c.get(f"/quarantine/{qid}").text)
    assert c.post("/quarantine/dismiss", data={"ids": qid, "why": "vendor test row", "csrf": token}).status_code == 303


def test_signing_out_ends_the_session(hub):
    c = client(hub)
    token = csrf_of(c.get("/").text)
    assert c.post("/signout", data={"csrf": token}).status_code == 303
    assert c.get("/").status_code == 303


# ---------------------------------------------------------------- quarantine

def test_quarantine_filters_reasons_in_persian_and_masked_payload(hub):
    c = client(hub)
    page = c.get("/quarantine").text
    assert page.count('href="/quarantine/') == 4
    assert "کد ملی" in page or "تاریخ" in page  # reasons in Persian
    assert_masked(page)
    # every row lacks the mobile the contract requires; one has a bad date, one a bad id
    assert c.get("/quarantine", params={"rule": "required"}).text.count('href="/quarantine/') == 4
    assert c.get("/quarantine", params={"rule": "transform:date"}).text.count('href="/quarantine/') == 1
    field_page = c.get("/quarantine", params={"field": "/national_id", "source": "testreg.citizens"}).text
    assert field_page.count('href="/quarantine/') == 1 and "رقم کنترل" in field_page
    # the source page links each reason to the list filtered by it (field names, as the report counts them)
    source = c.get("/sources/testreg.citizens").text
    link = re.search(r'href="(/quarantine\?[^"]*rule=transform%3Adate[^"]*)"', source).group(1)
    assert c.get(link.replace("&amp;", "&")).text.count('href="/quarantine/') == 1
    today = dt.date.today().isoformat()
    assert c.get("/quarantine", params={"since": today}).text.count('href="/quarantine/') == 4
    assert c.get("/quarantine", params={"until": "1390/01/01"}).text.count('href="/quarantine/') == 0
    for q in open_quarantine(hub):
        item = c.get(f"/quarantine/{q['id']}").text
        assert_masked(item)
        assert "بازپخش این رکورد" in item and "کنار گذاشتن" in item


@pytest.mark.parametrize("path, says", [
    ("/quarantine/abc", "شمارهٔ رکورد قرنطینه نیست"),
    ("/quarantine/999999", "در قرنطینه نیست"),
    ("/quarantine?since=1403/13/45", "تاریخ نیست"),
    ("/quarantine?rule=<script>", "پذیرفته نیست"),
    ("/quarantine?status=lost", "شناخته نیست"),
    ("/review/0", "شمارهٔ جفت نیست"),
    ("/review/424242", "جفتی با شمارهٔ"),
    ("/entities/P-nope", "پیدا نشد"),
    ("/entities/P'1", "شناسهٔ موجودیت نیست"),
    ("/entities?q=1234567890", "کد ملی معتبر نیست"),
    ("/sources/nowhere.at_all", "منبعی به نام"),
    ("/no/such/page", "وجود ندارد"),
])
def test_wrong_input_gets_a_persian_message_never_a_traceback(hub, path, says):
    r = client(hub).get(path)
    assert 400 <= r.status_code < 500
    assert says in r.text, r.text[-800:]
    assert "Traceback" not in r.text and "Error" not in r.text.split("</style>")[-1]


def test_replay_after_a_contract_fix_publishes_and_is_audited_with_who_and_why(hub):
    c = client(hub)
    required = next(q for q in open_quarantine(hub) if q["raw"]["id"] == MARYAM[0])
    fix_contract(hub)
    token = csrf_of(c.get(f"/quarantine/{required['id']}").text)
    r = c.post("/quarantine/replay", data={"source": "testreg.citizens", "ids": required["id"],
                                           "why": "mobile is optional for citizens", "csrf": token})
    assert r.status_code == 303, r.text.split("<main>")[-1]
    page = c.get(r.headers["location"]).text
    assert "۱ رکورد بازپخش شد: ۱ منتشر شد" in page
    assert required["id"] not in [q["id"] for q in open_quarantine(hub)]
    with store.engine_for(hub).connect() as conn:
        keys = set(conn.execute(sa.select(store.source_rows.c.source_key)
                                .where(store.source_rows.c.source == "testreg.citizens")).scalars())
    assert MARYAM[1] in keys
    entry = audit_rows(hub, "workbench.quarantine.replay")[-1]
    assert (entry["actor"], entry["outcome"], entry["detail"]["why"]) == ("sara", "ok", "mobile is optional for citizens")
    assert store.audit.verify(store.engine_for(hub)) == []


def test_dismiss_needs_a_reason_and_records_it(hub):
    c = client(hub)
    qid = open_quarantine(hub)[0]["id"]
    token = csrf_of(c.get(f"/quarantine/{qid}").text)
    r = c.post("/quarantine/dismiss", data={"ids": qid, "why": " ", "csrf": token})
    assert r.status_code == 400 and "دلیلی بنویسید" in r.text
    r = c.post("/quarantine/dismiss", data={"ids": qid, "why": "test row of the vendor", "csrf": token})
    assert r.status_code == 303 and "۱ رکورد کنار گذاشته شد" in c.get(r.headers["location"]).text
    assert qid not in [q["id"] for q in open_quarantine(hub)]
    assert audit_rows(hub, "workbench.quarantine.dismiss")[-1]["detail"]["why"] == "test row of the vendor"
    r = c.post("/quarantine/dismiss", data={"ids": qid, "why": "again", "csrf": token})
    assert r.status_code == 400 and "این رکورد(ها) باز نیستند" in r.text  # already closed: nothing twice
    r = c.post("/quarantine/dismiss", data={"why": "none chosen", "csrf": token})
    assert r.status_code == 400 and "رکوردی برای کنار گذاشتن انتخاب نشده است" in r.text


# ---------------------------------------------------------------- roles

def test_a_viewer_sees_masked_names_and_cannot_act(hub):
    c = client(hub, "vida")
    qid = open_quarantine(hub)[0]["id"]
    page = c.get(f"/quarantine/{qid}").text
    assert "بازپخش این رکورد" not in page and 'name="why"' not in page
    pair = ali_pair(hub)
    pair_page = c.get(f"/review/{pair}").text
    assert "یکی است</button>" not in pair_page and "رحیمی" not in pair_page and "ر***" in pair_page
    token = csrf_of(pair_page)  # the viewer's own valid token: the role, not CSRF, refuses
    for path, data in (("/quarantine/replay", {"source": "testreg.citizens"}), ("/quarantine/dismiss", {"ids": qid}),
                       (f"/review/{pair}/decide", {"verdict": "match"}), ("/consolidate", {})):
        r = c.post(path, data={**data, "why": "I want to", "csrf": token})
        assert r.status_code == 403 and "بیننده" in r.text, path
    assert len(open_quarantine(hub)) == 4 and ali_pair(hub) == pair
    assert {a["actor"] for a in audit_rows(hub, "workbench.review.decide")} == {"vida"}
    assert all(a["outcome"] == "denied" for a in audit_rows(hub, "workbench.review.decide"))


# ---------------------------------------------------------------- review and entities

def test_review_pair_side_by_side_with_weights_then_decide_and_consolidate(hub):
    c = client(hub)
    pair = ali_pair(hub)
    page = c.get(f"/review/{pair}").text
    assert page.count('class="diff"') >= 3  # father name, mobile, gender differ
    assert "father_key" in page and re.search(r"[+-]\d+\.\d\d", page)  # weights per comparison
    assert_masked(page)
    with store.engine_for(hub).connect() as conn:
        before = len(set(conn.execute(sa.select(store.entity_members.c.entity_id).where(
            store.entity_members.c.source.in_(["clinic.patients", "library.members"]))).scalars()))
    assert before == 2
    token = csrf_of(page)
    r = c.post(f"/review/{pair}/decide", data={"verdict": "match", "why": "same person, clerk typo", "csrf": token})
    assert r.status_code == 303
    assert c.post("/consolidate", data={"why": "apply decision", "csrf": token}).status_code == 303
    with store.engine_for(hub).connect() as conn:
        ents = set(conn.execute(sa.select(store.entity_members.c.entity_id).where(
            store.entity_members.c.source.in_(["clinic.patients", "library.members"]))).scalars())
    assert len(ents) == 1
    ent_page = c.get(f"/entities/{ents.pop()}").text
    assert "same person, clerk typo" in ent_page and "clinic.patients" in ent_page and "library.members" in ent_page
    assert "sara" in ent_page and "یکی است" in ent_page
    assert audit_rows(hub, "workbench.review.decide")[-1]["detail"] == {"why": "same person, clerk typo",
                                                                       "verdict": "match"}


def _entities_of(settings, sources: list[str]) -> set[str]:
    with store.engine_for(settings).connect() as conn:
        return set(conn.execute(sa.select(store.entity_members.c.entity_id).where(
            store.entity_members.c.source.in_(sources))).scalars())


def test_merge_then_split_entities_by_steward_decisions(hub):
    c = client(hub)
    sources = ["clinic.patients", "library.members"]
    left, right = sorted(_entities_of(hub, sources))
    page = c.get(f"/entities/{left}").text
    token = csrf_of(page)
    assert "یکی کردن" in page and 'name="member"' not in page  # one member: nothing to split
    r = c.post(f"/entities/{left}/merge", data={"other": right, "why": "same citizen", "csrf": token})
    assert r.status_code == 303
    assert c.post("/consolidate", data={"why": "apply", "csrf": token}).status_code == 303
    (merged,) = _entities_of(hub, sources)
    page = c.get(f"/entities/{merged}").text
    assert page.count('name="member"') == 2
    assert_masked(page)
    r = c.post(f"/entities/{merged}/split", data={"member": "2", "why": "different fathers", "csrf": token})
    assert r.status_code == 303
    c.post("/consolidate", data={"why": "apply", "csrf": token})
    assert len(_entities_of(hub, sources)) == 2
    r = c.post(f"/entities/{merged}/split", data={"member": "۹", "why": "x", "csrf": token})
    assert r.status_code == 400 and ("عضو شمارهٔ ۹" in r.text or "پیدا نشد" in r.text)
    assert [a["action"] for a in audit_rows(hub, "workbench.entity.split")] == ["workbench.entity.split"]


def test_entity_search_by_persian_digits_mobile_name_and_source_record(hub):
    c = client(hub)
    nid = ROWS[0][1]
    persian = nid.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    page = c.get("/entities", params={"q": persian}).text
    assert "بر پایهٔ کد ملی: ۱ موجودیت" in page
    assert_masked(page)
    ent = re.search(r'href="/entities/([^"]+)"', page).group(1)
    assert f"/entities/{ent}" in c.get("/entities", params={"q": "۰۹۱۵ ۱۲۳ ۴۵۶۷"}).text
    assert f"/entities/{ent}" in c.get("/entities", params={"q": f"testreg.citizens|{nid}"}).text
    # Arabic yeh/kaf and a half-space in what is typed still find the normalized name
    by_name = c.get("/entities", params={"q": "محمد\u200cرضا احمدي"}).text
    assert f"/entities/{ent}" in by_name, by_name[-1500:]
    detail = c.get(f"/entities/{ent}").text
    assert "رکورد طلایی" in detail and "testreg.citizens" in detail
    assert_masked(detail)
    searched = audit_rows(hub, "workbench.search.entity")
    assert searched and all(nid not in str(a["detail"]) for a in searched)  # the audit log masks the query too


# ---------------------------------------------------------------- overview and checks

def test_overview_keeps_the_last_checks_after_a_quiet_run_and_explains_them(hub):
    c = client(hub)
    pipeline.sync_source("testreg.citizens", hub)  # reads nothing new: a quiet run
    with store.engine_for(hub).connect() as conn:
        last = conn.execute(sa.select(store.loads.c.rows_in, store.loads.c.checks)
                            .order_by(store.loads.c.started_at.desc()).limit(1)).first()
    assert last.rows_in == 0 and not last.checks
    page = c.get("/").text
    assert "testreg.citizens" in page and "/quarantine?source=testreg.citizens" in page
    source = c.get("/sources/testreg.citizens").text
    assert "rowCount" in source and "nullValues" in source  # the checks of the load that read rows
    assert "قول پیمان" in source and "اندازه‌گیری شد" in source and "Data Docs" not in source
    assert_masked(page + source)


def test_font_is_shipped_with_its_licence_and_pages_use_no_outside_address(hub):
    c = client(hub)
    page = c.get("/").text
    fonts = re.findall(r"url\(([^)]+\.woff2)\)", page)
    assert fonts and all(f.startswith("/static/fonts/") for f in fonts)
    r = c.get(fonts[0])
    assert r.status_code == 200 and r.content[:4] == b"wOF2"
    assert "SIL Open Font License" in c.get("/static/fonts/OFL.txt").text
    assert not re.search(r"""(src|href)=["']?(https?:)?//|url\((https?:)?//|@import""", page)
    assert c.get("/static/../app.py").status_code == 404


# ---------------------------------------------------------------- CLI

def test_users_cli_adds_and_lists_without_showing_passwords(hub, monkeypatch, capsys):
    from munihub.cli.main import main
    monkeypatch.setenv("WB_PASS", "another long passphrase")
    assert main(["users", "add", "reza", "--role", "viewer", "--password-env", "WB_PASS", "--by", "admin"]) == 0
    assert main(["users", "list"]) == 0
    out = capsys.readouterr().out
    assert "reza" in out and "viewer" in out and "passphrase" not in out and "scrypt" not in out
    assert main(["users", "add", "x", "--role", "steward", "--password-env", "WB_PASS"]) == 1
    assert "not usable" in capsys.readouterr().err
    monkeypatch.setenv("WB_PASS", "short")
    assert main(["users", "add", "reza", "--role", "viewer", "--password-env", "WB_PASS"]) == 1
    assert audit_rows(hub, "workbench.user.add")[-1]["actor"] == "admin"


def test_cli_quarantine_show_and_entity_show_follow_the_one_masking_rule(hub, capsys):
    from munihub.cli.main import main
    for q in open_quarantine(hub):
        assert main(["quarantine", "show", str(q["id"])]) == 0
    with store.engine_for(hub).connect() as conn:
        ent = conn.execute(sa.select(store.entity_members.c.entity_id)
                           .where(store.entity_members.c.source == "testreg.citizens")).scalars().first()
    assert main(["entity", "show", ent]) == 0
    out = capsys.readouterr().out
    assert "*******" in out
    assert_masked(out)


def test_migration_0007_creates_the_workbench_tables(tmp_path):
    from munihub.store import migrations
    engine = store.open_store(f"sqlite:///{tmp_path / 's.db'}", migrate=False)
    migrations.upgrade(engine, "0006")
    assert not {"workbench_users", "workbench_sessions"} & set(sa.inspect(engine).get_table_names())
    migrations.upgrade(engine, "0007")
    assert migrations.current_revision(engine) == "0007"
    assert {"workbench_users", "workbench_sessions"} <= set(sa.inspect(engine).get_table_names())


# ---------------------------------------------------------------- the one masking rule

@pytest.mark.parametrize("names", [False, True])
def test_the_masking_rule_ids_mobiles_landlines_always_names_by_role_dates_and_codes_in_clear(names):
    from munihub.masking import mask_record
    record = {"national_id": "0012345679", "mobile": "+989151234567", "phone": "05138123456",
              "first_name": "علی", "father_name": "حسن", "birth_date": "1990-01-01",
              "filed_at": "2024-01-03 09:00:00", "amount_rial": 125000000, "tracking_code": "137-1403-000123",
              "permit_no": "P-14031234", "agency_name": "شهرداری منطقه ۳", "note": "تماس 09151234567 در ۱۴۰۳/۰۸/۱۴"}
    out = mask_record(record, names=names)
    assert out["national_id"] == "*******679" and out["mobile"].endswith("4567") and "5123" not in out["mobile"]
    assert out["phone"] == "********456"
    assert (out["first_name"], out["father_name"]) == (("ع***", "ح***") if names else ("علی", "حسن"))
    for clear in ("birth_date", "filed_at", "amount_rial", "tracking_code", "permit_no", "agency_name"):
        assert out[clear] == record[clear], clear
    assert out["note"] == "تماس *******4567 در ۱۴۰۳/۰۸/۱۴"


def test_a_record_read_again_closes_its_open_entries(hub):
    """One bad row is one open entry: re-sent still bad, or re-sent fixed, its old entry closes."""
    import sqlite3
    src = Path(str(hub.contracts_dir)).parent / "src.db"
    before = {q["raw"]["id"]: q["id"] for q in open_quarantine(hub)}
    with sqlite3.connect(src) as db:  # the source sends citizens 5 and 6 again, still bad, and 1 changed
        db.execute("UPDATE citizens SET fname = 'بدتر', updated_at = '2024-02-01 00:00:00' WHERE id = 5")
        db.execute("UPDATE citizens SET birth = '1403/07/30', updated_at = '2024-02-01 00:00:00' WHERE id = 6")
        db.execute("UPDATE citizens SET fname = 'محمد رضا', updated_at = '2024-02-01 00:00:00' WHERE id = 1")
    pipeline.sync_source("testreg.citizens", hub)
    after = open_quarantine(hub)
    assert sorted(q["raw"]["id"] for q in after) == [4, 5, 6, 7]  # each bad row once
    now = {q["raw"]["id"]: q["id"] for q in after}
    assert now[4] == before[4] and now[5] != before[5] and now[6] != before[6]
    # and a fixed contract: the next read of 6 (now only lacking its mobile) publishes it, closing its entry
    fix_contract(hub)
    with sqlite3.connect(src) as db:
        db.execute("UPDATE citizens SET updated_at = '2024-02-02 00:00:00' WHERE id = 6")
    pipeline.sync_source("testreg.citizens", hub)
    assert sorted(q["raw"]["id"] for q in open_quarantine(hub)) == [4, 5, 7]
    with store.engine_for(hub).connect() as conn:
        closed = conn.execute(sa.select(store.quarantine.c.status, store.quarantine.c.note).where(
            store.quarantine.c.status == "superseded")).all()
    assert closed and all(note.startswith("read again in load") for _, note in closed)


def test_serve_mounts_the_workbench_beside_the_gateway(hub):
    from fastapi.testclient import TestClient

    from munihub.cli.gateway import served_app
    c = TestClient(served_app(), follow_redirects=False)
    assert c.get("/healthz").status_code == 200  # the gateway, unchanged, at /
    assert c.get("/v1/datasets").status_code == 401  # still deny by default
    r = c.get("/workbench/")
    assert r.status_code == 303 and r.headers["location"] == "/workbench/signin"
    assert 'action="/workbench/signin"' in c.get("/workbench/signin").text


@pytest.mark.postgres
def test_every_page_filter_and_search_on_postgresql(tmp_path, monkeypatch, pg_url):
    """The JSON filters, date bounds and feature lookups on the production engine."""
    hub = make_hub(tmp_path, monkeypatch, pg_url)
    try:
        c = client(hub)
        qid = open_quarantine(hub)[0]["id"]
        for path, params in (("/", {}), ("/sources/testreg.citizens", {}), ("/quarantine", {"rule": "transform:date"}),
                             ("/quarantine", {"field": "/national_id", "since": dt.date.today().isoformat(),
                                              "until": "۱۵۰۰/۰۱/۰۱"}),
                             (f"/quarantine/{qid}", {}), ("/review", {}), (f"/review/{ali_pair(hub)}", {}),
                             ("/entities", {"q": ROWS[0][1].translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))}),
                             ("/entities", {"q": "محمدرضا احمدی"}), ("/entities", {"q": "09151234567"})):
            r = c.get(path, params=params)
            assert r.status_code == 200, (path, r.text.split("<main>")[-1][:500])
            assert_masked(r.text.split("</form>")[-1])  # the search box keeps what the steward typed
        assert c.get("/quarantine", params={"rule": "transform:date"}).text.count('href="/quarantine/') == 1
        assert c.get("/quarantine", params={"until": "1390/01/01"}).text.count('href="/quarantine/') == 0
        assert "بر پایهٔ کد ملی: ۱ موجودیت" in c.get("/entities", params={"q": ROWS[0][1]}).text
        assert "بر پایهٔ نام: ۱ موجودیت" in c.get("/entities", params={"q": "محمدرضا احمدی"}).text
    finally:
        store.forget_engines()


def test_checks_explained_show_the_published_rows_a_check_counts(hub):
    import sqlite3
    from test_pipeline import national_id
    src = Path(str(hub.contracts_dir)).parent / "src.db"
    nameless = national_id("667788990")
    with sqlite3.connect(src) as db:  # one of three new citizens has no last name: 33 % <= 50 %, published
        db.executemany("INSERT INTO citizens VALUES (?,?,?,?,?,?,?)", [
            (8, nameless, "رضا", None, "1360/01/01", "09121234567", "2024-03-01 00:00:00"),
            (9, national_id("778899001"), "نگار", "صالحی", "1361/01/01", "09121234568", "2024-03-01 00:00:00"),
            (10, national_id("889900112"), "امید", "نوری", "1362/01/01", "09121234569", "2024-03-01 00:00:00")])
    pipeline.sync_source("testreg.citizens", hub)
    page = client(hub).get("/sources/testreg.citizens").text
    assert "ردیف‌های منتشرشده" in page and "*******" + nameless[-3:] in page
    assert nameless not in page


def test_overview_and_source_page_count_the_values_set_aside(hub):
    with store.engine_for(hub).begin() as conn:  # the last load set two mobiles aside
        last = conn.execute(sa.select(store.loads.c.load_id).order_by(store.loads.c.started_at.desc()).limit(1)).scalar()
        conn.execute(store.loads.update().where(store.loads.c.load_id == last).values(values_set_aside={"mobile": 2}))
        conn.execute(store.set_aside.insert(), [  # the overview counts those still open, of every load
            {"source": "testreg.citizens", "load_id": last, "source_key": f"k{i}", "field": "mobile", "value": "12",
             "rule": "transform:mobile", "reason": {"message": "not a phone"}, "status": "open"} for i in (1, 2)])
    c = client(hub)
    page = c.get("/").text
    assert "مقدار کنار گذاشته" in page
    row = re.search(r'<tr><td><a href="/sources/testreg\.citizens">.*?</tr>', page, re.S).group(0)
    assert '<td><a href="/values?source=testreg.citizens">۲</a></td>' in row
    source = c.get("/sources/testreg.citizens").text
    assert "mobile" in source and "۲ مقدار کنار گذاشته" in source


def test_values_set_aside_are_counted_listed_replayed_and_dismissed(hub):
    import sqlite3
    import os
    fix_contract(hub)
    with sqlite3.connect(os.environ["MUNIHUB_TEST_SRC"]) as db:  # a local landline, and a number that is nothing
        db.execute("INSERT INTO citizens VALUES (?,?,?,?,?,?,?)",
                   (8, national_id("667788990"), "نرگس", "کاظمی", "1370/01/01", "38001234", "2024-01-05 09:00:00"))
        db.execute("INSERT INTO citizens VALUES (?,?,?,?,?,?,?)",
                   (9, national_id("778899001"), "رضا", "کاظمی", "1371/01/01", "0912", "2024-01-05 09:00:00"))
    pipeline.sync_source("testreg.citizens", hub)
    c = client(hub)
    overview = c.get("/").text
    assert 'href="/values?source=testreg.citizens">۲</a>' in overview and 'href="/values"' in overview
    page = c.get("/values?source=testreg.citizens").text
    assert re.search(r"testreg\.citizens.*?mobile.*?transform:mobile.*?<td>۲</td>", page, re.S)
    assert "*****234" in page and "38001234" not in page and "کد شهر ندارد" in page  # masked, a Persian reason
    assert "بازخوانی مقدارهای باز این منبع" in page
    assert_masked(page)
    with store.engine_for(hub).connect() as conn:
        ids = dict(conn.execute(sa.select(store.set_aside.c.source_key, store.set_aside.c.id)).all())
    nothing = ids[national_id("778899001")]

    viewer = c = client(hub, "vida")
    assert "بازخوانی" not in viewer.get("/values?source=testreg.citizens").text
    token = csrf_of(viewer.get("/values").text)
    assert viewer.post("/values/dismiss", data={"ids": nothing, "why": "x", "csrf": token}).status_code == 403

    c = client(hub)
    token = csrf_of(c.get("/values").text)
    assert c.post("/values/dismiss", data={"ids": nothing, "why": " ", "csrf": token}).status_code == 400
    r = c.post("/values/dismiss", data={"ids": nothing, "why": "the clerk typed a fragment", "csrf": token})
    assert r.status_code == 303 and "۱ مقدار کنار گذاشته بسته شد" in c.get(r.headers["location"]).text
    r = c.post("/values/dismiss", data={"ids": nothing, "why": "again", "csrf": token})
    assert r.status_code == 400 and "این مقدار(ها) باز نیستند" in r.text
    assert audit_rows(hub, "workbench.values.dismiss")[-1]["detail"]["why"] == "the clerk typed a fragment"

    path = hub.contracts_dir / "testreg" / "citizens.yaml"  # the fix: this registry is Mashhad's
    path.write_text(path.read_text(encoding="utf-8").replace("transformLogic: mobile\n", "transformLogic: 'mobile:51'\n"),
                    encoding="utf-8")
    r = c.post("/values/replay", data={"source": "testreg.citizens", "why": "Mashhad's area code", "csrf": token})
    assert r.status_code == 303, r.text[-400:]
    assert "۱ مقدار دوباره خوانده شد" in c.get(r.headers["location"]).text
    with store.engine_for(hub).connect() as conn:
        record = conn.execute(sa.select(store.source_rows.c.record).where(
            store.source_rows.c.source_key == national_id("667788990"))).scalar_one()
        left = conn.execute(sa.select(sa.func.count()).select_from(store.set_aside)
                            .where(store.set_aside.c.status == "open")).scalar()
    assert record["phone"] == "+985138001234" and left == 0
    assert audit_rows(hub, "workbench.values.replay")[-1]["actor"] == "sara"
