"""The stewards' workbench: a server-rendered Persian web app over the store (FastAPI).

Deny by default: one app-wide dependency (`guard`) runs before every route, lets only the
sign-in page and the static files through without a session, refuses every form post
whose CSRF token is not the session's, and keeps a manager to the dashboards (figures, never a
record or a person).  Viewers see; only stewards replay, dismiss, decide
and consolidate, and each of those goes into the hash-chained audit log with who and why.
A bad id or filter gets a Persian message; an unexpected failure a Persian page, never a
traceback.
"""

import logging
import secrets
from pathlib import Path
from typing import Any

from munihub.config import Settings, load_settings
from munihub.errors import AccessDenied, MunihubError
from munihub.store import audit
from munihub.workbench import html as h
from munihub.workbench import people, views
from munihub.workbench.figures import KeptFigures
from munihub.workbench.refusals import Refused as _Refused, SignInFirst as _SignInFirst, install_error_pages
from munihub.workbench.pages import (entity_body, overview_body, pair_body, quarantine_body, quarantine_item_body,
                                     review_body, search_body, signin_body, source_body, values_body)

log = logging.getLogger("munihub.workbench")
STATIC = Path(__file__).resolve().parent / "static"
COOKIE, PRE_COOKIE = "munihub_wb", "munihub_wb_pre"
PUBLIC = ("/signin", "/static/")
MANAGER_PATHS = ("/dashboards", "/signout")  # all a manager may open (and "/", which leads there)
FIGURES_SECONDS = 30


def create_app(settings: "Settings | None" = None, *, prefix: str = "/workbench", secure_cookies: bool | None = None):
    """The workbench app; `prefix` is where it is mounted (links are built from it).

    Behind TLS set MUNIHUB_WORKBENCH_SECURE_COOKIES=1 (or pass `secure_cookies=True`) so the
    browser sends the session cookie over HTTPS only."""
    import os
    if secure_cookies is None:
        secure_cookies = os.environ.get("MUNIHUB_WORKBENCH_SECURE_COOKIES", "") in ("1", "true", "yes")
    from fastapi import Depends, FastAPI, Request
    from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from munihub.store import engine_for

    settings = settings or load_settings()
    engine = engine_for(settings)
    base = prefix.rstrip("/")

    def record(actor: str, action: str, target: str | None, outcome: str, detail: dict[str, Any]) -> None:
        with engine.begin() as conn:
            audit.append(conn, actor, action, target, outcome, detail)

    async def guard(request: Request) -> None:
        path = request.url.path[len(request.scope.get("root_path", "")):] or "/"
        request.state.person = None
        if path.startswith(PUBLIC):
            return
        person = await run_in_threadpool(people.person_of, engine, request.cookies.get(COOKIE))
        if person is None:
            if request.method != "GET":
                await run_in_threadpool(record, "anonymous", "workbench.refused", path, "denied",
                                        {"method": request.method, "why": "no session"})
            raise _SignInFirst()
        request.state.person = person
        if not person.sees_records and not (path == "/" or path.startswith(MANAGER_PATHS)):
            # a manager sees figures only: every record, quarantine and person page is refused
            await run_in_threadpool(record, person.username, "workbench.refused", path, "denied",
                                    {"method": request.method, "why": "manager: dashboards only"})
            raise _Refused("نقش شما «مدیر» است: داشبوردهای شاخص‌ها را می‌بینید، نه رکوردها و اشخاص را.")
        if request.method not in ("GET", "HEAD"):
            form = await request.form()
            if not people.same_token(form.get("csrf"), person.csrf):
                await run_in_threadpool(record, person.username, "workbench.refused", path, "denied",
                                        {"method": request.method, "why": "csrf token missing or wrong"})
                raise _Refused("این فرم از صفحه‌های میزکار نیامده است (نشانهٔ CSRF نادرست)؛ صفحه را دوباره باز کنید.")

    app = FastAPI(title="munihub workbench", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(guard)])

    def who(request: Request) -> people.Person:
        return request.state.person

    def render(request: Request, title: str, body: str, *, status: int = 200, note: str | None = None,
               kind: str = "ok") -> HTMLResponse:
        if note is None:  # a message carried over a redirect after an action
            note, kind = request.query_params.get("note"), request.query_params.get("kind", "ok")
        return HTMLResponse(h.page(base, title, body, getattr(request.state, "person", None), note=note,
                                   note_kind="bad" if kind == "bad" else "ok"), status_code=status,
                            headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY",
                                     "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                                                                "img-src 'self' data:; form-action 'self'"})

    def back(path: str, note: str, kind: str = "ok") -> RedirectResponse:
        from urllib.parse import urlencode
        sep = "&" if "?" in path else "?"
        return RedirectResponse(f"{base}{path}{sep}{urlencode({'note': note, 'kind': kind})}", status_code=303)

    def steward(request: Request, action: str, target: str | None) -> people.Person:
        person = who(request)
        if not person.may_act:
            record(person.username, action, target, "denied", {"why": "viewer"})
            raise _Refused("نقش شما «بیننده» است؛ فقط کارشناس داده می‌تواند این کار را انجام دهد.")
        return person

    install_error_pages(app, render, base)

    # ------------------------------------------------------------ sign-in

    @app.get("/static/{name:path}")
    def static(name: str):
        path = (STATIC / name).resolve()
        if STATIC not in path.parents or not path.is_file():
            raise StarletteHTTPException(404)
        return FileResponse(path, headers={"Cache-Control": "max-age=86400"})

    @app.get("/signin")
    def signin_page(request: Request):
        pre = secrets.token_urlsafe(24)  # double-submit token: a forged sign-in post has no cookie
        response = render(request, "ورود", signin_body(base, pre))
        response.set_cookie(PRE_COOKIE, pre, httponly=True, samesite="strict", secure=secure_cookies,
                            path=base or "/")
        return response

    @app.post("/signin")
    async def signin(request: Request):
        form = await request.form()
        pre = request.cookies.get(PRE_COOKIE)
        if not pre or not people.same_token(form.get("csrf"), pre):
            await run_in_threadpool(record, "anonymous", "workbench.signin", None, "denied", {"why": "csrf"})
            raise _Refused("فرم ورود از این صفحه نیامده است؛ صفحهٔ ورود را دوباره باز کنید.")
        client = request.client.host if request.client else ""
        try:
            token, person = await run_in_threadpool(people.sign_in, engine, str(form.get("username", "")),
                                                    str(form.get("password", "")), client=client)
        except AccessDenied:
            fresh = secrets.token_urlsafe(24)
            response = render(request, "ورود", signin_body(base, fresh), status=401,
                              note="نام کاربری یا گذرواژه نادرست است.", kind="bad")
            response.set_cookie(PRE_COOKIE, fresh, httponly=True, samesite="strict", secure=secure_cookies,
                                path=base or "/")
            return response
        response = RedirectResponse(f"{base}/", status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=secure_cookies,
                            path=base or "/", max_age=people.SESSION_HOURS * 3600)
        response.delete_cookie(PRE_COOKIE, path=base or "/")
        return response

    @app.post("/signout")
    def signout(request: Request):
        people.sign_out(engine, request.cookies.get(COOKIE, ""), who(request))
        response = RedirectResponse(f"{base}/signin", status_code=303)
        response.delete_cookie(COOKIE, path=base or "/")
        return response

    # ------------------------------------------------------------ overview and checks

    def contracts():
        from munihub.contracts import load_all
        found, _problems = load_all(settings.contracts_dir, schemas_dir=settings.schemas_dir)
        return found

    def gathered() -> dict:
        from munihub.report.build import gather
        return gather(engine, contracts())

    kept = KeptFigures(gathered, FIGURES_SECONDS)  # the report's figures, kept (see figures.py)
    figures, changed = kept.get, kept.clear

    @app.get("/")
    def overview(request: Request):
        if not who(request).sees_records:
            return RedirectResponse(f"{base}/dashboards", status_code=303)
        return render(request, "نمای کلی", overview_body(base, figures(), who(request)))

    @app.get("/sources/{source}")
    def source_page(request: Request, source: str):
        data = figures()
        found = next((s for s in data["sources"] if s["source"] == source), None)
        if found is None:
            raise views.BadInput(f"no source {source}", f"منبعی به نام «{source}» نیست.")
        examples = views.failing_examples(engine, source, found["checks"]["items"])
        return render(request, f"منبع {source}", source_body(base, found, data, who(request), examples))

    # ------------------------------------------------------------ quarantine

    @app.get("/quarantine")
    def quarantine_page(request: Request):
        p = request.query_params
        person = who(request)
        found = views.list_quarantine(engine, source=p.get("source"), field=p.get("field"), rule=p.get("rule"),
                                      since=p.get("since"), until=p.get("until"), status=p.get("status") or "open")
        return render(request, "قرنطینه", quarantine_body(base, found, views.quarantine_filters(engine), dict(p), person))

    @app.get("/quarantine/{qid}")
    def quarantine_item(request: Request, qid: str):
        from munihub.ingest.quarantine import show_quarantine
        person = who(request)
        number = views.positive_int(qid, "رکورد قرنطینه")
        try:
            item = show_quarantine(settings, number, names=not person.may_act)
        except MunihubError:
            raise views.BadInput(f"no quarantine {qid}", f"رکوردی با شمارهٔ {views.fa_digits(number)} در قرنطینه نیست.")
        record(person.username, "workbench.view.quarantine", str(number), "ok", {})
        return render(request, f"قرنطینه {number}", quarantine_item_body(base, item, person))

    @app.post("/quarantine/replay")
    async def replay(request: Request):
        form = await request.form()
        source = views._token(str(form.get("source", "")), "منبع")
        if not source:
            raise views.BadInput("no source", "منبعی برای بازپخش انتخاب نشده است.")
        ids = [views.positive_int(x, "رکورد قرنطینه") for x in form.getlist("ids") if str(x).strip()]
        why = str(form.get("why", "")).strip()
        person = steward(request, "workbench.quarantine.replay", source)
        if not why:
            raise views.BadInput("no reason", "برای بازپخش دلیلی بنویسید؛ در گزارش ممیزی می‌ماند.")

        def run():
            from munihub.pipeline.replay import replay as replay_records
            try:
                result = replay_records(settings, source, ids or None, actor=person.username)
            except MunihubError as err:
                record(person.username, "workbench.quarantine.replay", source, "failed",
                       {"why": why, "ids": ids, "error": str(err)[:300]})
                raise
            record(person.username, "workbench.quarantine.replay", source, "ok", {"why": why, "ids": ids, **result})
            changed()
            return result
        result = await run_in_threadpool(run)
        note = (f"{h.fa(result['replayed'])} رکورد بازپخش شد: {h.fa(result['published'])} منتشر شد، "
                f"{h.fa(result['still_quarantined'])} هنوز در قرنطینه است.")
        return back(f"/quarantine?source={source}&status=all", note)

    async def dismissal(request: Request, action: str, close, words: dict[str, str], to: str):
        """Close the selected open entries (quarantined records, values set aside) with a
        steward's reason, kept in the audit log; `words` are the Persian names the messages use."""
        form = await request.form()
        ids = [views.positive_int(x, words["label"]) for x in form.getlist("ids") if str(x).strip()]
        if not ids:
            raise views.BadInput("no ids", f"{words['one']} برای کنار گذاشتن انتخاب نشده است.")
        why = str(form.get("why", "")).strip()
        person = steward(request, action, ",".join(map(str, ids)))
        if not why:
            raise views.BadInput("no reason", "برای کنار گذاشتن دلیلی بنویسید؛ در گزارش ممیزی می‌ماند.")

        def run():
            try:
                n = close(settings, ids, person.username, why)
            except MunihubError as err:
                raise views.BadInput(str(err), f"این {words['some']} باز نیستند یا وجود ندارند.") from err
            record(person.username, action, ",".join(map(str, ids)), "ok", {"why": why})
            changed()
            return n
        n = await run_in_threadpool(run)
        return back(to, f"{h.fa(n)} {words['done']}")

    @app.post("/quarantine/dismiss")
    async def dismiss(request: Request):
        from munihub.ingest.quarantine import dismiss as dismiss_records
        return await dismissal(request, "workbench.quarantine.dismiss", dismiss_records,
                               {"label": "رکورد قرنطینه", "one": "رکوردی", "some": "رکورد(ها)",
                                "done": "رکورد کنار گذاشته شد."}, "/quarantine")

    # ------------------------------------------------------------ values set aside

    @app.get("/values")
    def values_page(request: Request):
        from munihub.ingest.quarantine import count_set_aside, list_set_aside
        p = request.query_params
        person = who(request)
        source, field = views._token(p.get("source"), "منبع"), views._token(p.get("field"), "فیلد")
        counts = count_set_aside(settings, source=source)
        rows = list_set_aside(settings, source=source, field=field, limit=views.PAGE, names=not person.may_act)
        return render(request, "مقدارهای کنار گذاشته", values_body(base, counts, rows, dict(p), person))

    @app.post("/values/replay")
    async def replay_values(request: Request):
        form = await request.form()
        source = views._token(str(form.get("source", "")), "منبع")
        if not source:
            raise views.BadInput("no source", "منبعی برای بازخوانی انتخاب نشده است.")
        why = str(form.get("why", "")).strip()
        person = steward(request, "workbench.values.replay", source)
        if not why:
            raise views.BadInput("no reason", "برای بازخوانی دلیلی بنویسید؛ در گزارش ممیزی می‌ماند.")

        def run():
            from munihub.pipeline.replay import replay_set_aside
            try:
                result = replay_set_aside(settings, source, actor=person.username)
            except MunihubError as err:
                record(person.username, "workbench.values.replay", source, "failed",
                       {"why": why, "error": str(err)[:300]})
                raise
            record(person.username, "workbench.values.replay", source, "ok", {"why": why, **result})
            changed()
            return result
        result = await run_in_threadpool(run)
        return back(f"/values?source={source}", f"{h.fa(result['replayed'])} مقدار دوباره خوانده شد و در رکوردش نشست؛ "
                                                 f"{h.fa(result['still_set_aside'])} هنوز کنار گذاشته است.")

    @app.post("/values/dismiss")
    async def dismiss_values(request: Request):
        from munihub.ingest.quarantine import dismiss_set_aside
        return await dismissal(request, "workbench.values.dismiss", dismiss_set_aside,
                               {"label": "مقدار کنار گذاشته", "one": "مقداری", "some": "مقدار(ها)",
                                "done": "مقدار کنار گذاشته بسته شد."}, "/values")

    # ------------------------------------------------------------ review

    @app.get("/review")
    def review_page(request: Request):
        from munihub.resolve.review import list_open
        etype = views._token(request.query_params.get("type"), "نوع موجودیت")
        person = who(request)
        pairs = list_open(engine, entity_type=etype, limit=views.PAGE)
        if not person.may_act:
            from munihub.masking import mask_record
            for p in pairs:
                p["left"], p["right"] = mask_record(p["left"], names=True), mask_record(p["right"], names=True)
        return render(request, "بازبینی جفت‌ها", review_body(base, pairs, person))

    @app.get("/review/{rid}")
    def pair_page(request: Request, rid: str):
        person = who(request)
        pair = views.review_pair(engine, views.positive_int(rid, "جفت"), names=not person.may_act)
        record(person.username, "workbench.view.review", str(pair["id"]), "ok", {})
        return render(request, f"جفت {pair['id']}", pair_body(base, pair, person))

    @app.post("/review/{rid}/decide")
    async def decide(request: Request, rid: str):
        from munihub.resolve.review import decide_queued
        form = await request.form()
        number = views.positive_int(rid, "جفت")
        verdict, why = str(form.get("verdict", "")), str(form.get("why", "")).strip()
        if verdict not in ("match", "no-match"):
            raise views.BadInput("bad verdict", "تصمیم باید «یکی است» یا «یکی نیست» باشد.")
        person = steward(request, "workbench.review.decide", str(number))
        if not why:
            raise views.BadInput("no reason", "برای تصمیم دلیلی بنویسید؛ در گزارش ممیزی می‌ماند.")

        def run():
            try:
                result = decide_queued(engine, number, verdict, by=person.username, why=why)
            except MunihubError as err:
                raise views.BadInput(str(err), f"جفت {views.fa_digits(number)} را نمی‌توان تصمیم گرفت.") from err
            record(person.username, "workbench.review.decide", str(number), "ok", {"why": why, "verdict": verdict})
            changed()
            return result
        await run_in_threadpool(run)
        return back(f"/review/{number}", "تصمیم ثبت شد؛ در اجرای بعدی یکپارچه‌سازی اعمال می‌شود و هرگز نادیده گرفته نمی‌شود.")

    @app.post("/consolidate")
    async def consolidate(request: Request):
        form = await request.form()
        why = str(form.get("why", "")).strip()
        person = steward(request, "workbench.consolidate", None)
        if not why:
            raise views.BadInput("no reason", "برای اجرای یکپارچه‌سازی دلیلی بنویسید.")

        def run():
            from munihub.pipeline.consolidate import consolidate as run_consolidation
            result = run_consolidation(settings)
            record(person.username, "workbench.consolidate", None, "ok",
                   {"why": why, "types": result.get("types"), "seconds": result.get("seconds")})
            changed()
            return result
        await run_in_threadpool(run)
        return back("/review", "یکپارچه‌سازی اجرا شد و موجودیت‌ها به‌روز شدند.")

    # ------------------------------------------------------------ entities

    @app.get("/entities")
    def entities_page(request: Request):
        from munihub.masking import mask_text
        person = who(request)
        text = request.query_params.get("q", "")
        found = views.search_entities(engine, text, names=not person.may_act) if text.strip() else None
        if found is not None:
            from munihub.persian.letters import to_latin_digits
            record(person.username, "workbench.search.entity", None, "ok",
                   {"kind": found["kind"], "query": mask_text(to_latin_digits(text))[:100],
                    "found": len(found["entities"])})
        return render(request, "جست‌وجوی موجودیت", search_body(base, text, found))

    @app.get("/entities/{entity_id}")
    def entity_view(request: Request, entity_id: str):
        person = who(request)
        ent = views.entity_page(engine, settings, entity_id, names=not person.may_act)
        record(person.username, "workbench.view.entity", entity_id, "ok", {})
        return render(request, f"موجودیت {entity_id}", entity_body(base, ent, person))

    def member_refs(entity_id: str) -> list[str]:
        """The entity's member refs in the order its page lists them (never sent to the page:
        a source key can be a national id, so forms name a member by its position)."""
        from munihub.resolve.entities import show_entity
        if not views.ENTITY_ID.fullmatch(entity_id or ""):
            raise views.BadInput("bad entity id", f"«{entity_id}» شناسهٔ موجودیت نیست (نمونه: P-1a2b3c4d5e6f).")
        try:
            ent = show_entity(settings, entity_id)
        except MunihubError:
            raise views.BadInput(f"no entity {entity_id}", f"موجودیتی با شناسهٔ «{entity_id}» پیدا نشد.")
        return [f"{m['source']}|{m['source_key']}" for m in ent["members"]]

    @app.post("/entities/{entity_id}/merge")
    async def merge(request: Request, entity_id: str):
        """Merge with another entity: a steward's "match" between one member of each."""
        from munihub.resolve.review import decide as decide_pair
        form = await request.form()
        other, why = str(form.get("other", "")).strip(), str(form.get("why", "")).strip()
        person = steward(request, "workbench.entity.merge", entity_id)
        if not why:
            raise views.BadInput("no reason", "برای یکی کردن دلیلی بنویسید؛ در گزارش ممیزی می‌ماند.")
        if other == entity_id:
            raise views.BadInput("same entity", "یک موجودیت را نمی‌توان با خودش یکی کرد.")

        def run():
            left, right = member_refs(entity_id)[0], member_refs(other)[0]
            decide_pair(engine, left, right, "match", by=person.username, why=why)
            record(person.username, "workbench.entity.merge", entity_id, "ok", {"why": why, "other": other})
            changed()
        await run_in_threadpool(run)
        return back(f"/entities/{entity_id}", "تصمیم «یکی است» ثبت شد؛ با اجرای یکپارچه‌سازی دو موجودیت یکی می‌شوند.")

    @app.post("/entities/{entity_id}/split")
    async def split(request: Request, entity_id: str):
        """Split a member out: a steward's "no-match" between it and every other member."""
        from munihub.resolve.review import decide as decide_pair
        form = await request.form()
        why = str(form.get("why", "")).strip()
        index = views.positive_int(form.get("member"), "عضو")
        person = steward(request, "workbench.entity.split", entity_id)
        if not why:
            raise views.BadInput("no reason", "برای جدا کردن دلیلی بنویسید؛ در گزارش ممیزی می‌ماند.")

        def run():
            refs = member_refs(entity_id)
            if index > len(refs) or len(refs) < 2:
                raise views.BadInput("no such member", f"این موجودیت عضو شمارهٔ {views.fa_digits(index)} ندارد یا تنها یک عضو دارد.")
            out = refs[index - 1]
            for ref in refs[:100]:
                if ref != out:
                    decide_pair(engine, out, ref, "no-match", by=person.username, why=why)
            record(person.username, "workbench.entity.split", entity_id, "ok", {"why": why, "member": index})
            changed()
        await run_in_threadpool(run)
        return back(f"/entities/{entity_id}", "تصمیم «یکی نیست» ثبت شد؛ با اجرای یکپارچه‌سازی این عضو جدا می‌شود.")

    # ------------------------------------------------------------ dashboards (managers)

    from munihub.workbench.dashboards import install as install_dashboards
    install_dashboards(app, engine, settings, base, render=render, who=who, record=record)

    return app
