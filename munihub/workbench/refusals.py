"""The workbench's refusals and error pages: Persian, with the right status, never a traceback.

`SignInFirst` (no session: a page view goes to the sign-in page, anything else gets 401) and
`Refused` (CSRF or role: 403) are raised by the app's guard and handlers; `install_error_pages`
turns them, bad input, hub errors, unknown pages and any unexpected failure into pages.
"""
import logging

from munihub.errors import AccessDenied, MunihubError
from munihub.workbench import html as h
from munihub.workbench import views

log = logging.getLogger("munihub.workbench")


class SignInFirst(Exception):
    """No valid session: a page view goes to the sign-in page, anything else is refused."""


class Refused(Exception):
    """A request the person may not make (a forged form, a viewer acting), said in Persian."""

    def __init__(self, message_fa: str, status: int = 403):
        super().__init__(message_fa)
        self.message_fa, self.status = message_fa, status


def install_error_pages(app, render, base: str) -> None:
    """Register a Persian page for every refusal and failure on `app` (`render` frames them)."""
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import RedirectResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(SignInFirst)
    async def _signin_first(request: Request, exc: SignInFirst):
        if request.method in ("GET", "HEAD"):
            return RedirectResponse(f"{base}/signin", status_code=303)
        return render(request, "ورود لازم است", '<h1>ورود لازم است</h1><p>برای این کار ابتدا وارد شوید.</p>'
                      f'<p>{h.link(base, "/signin", "ورود")}</p>', status=401)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused):
        return render(request, "اجازه نیست", f'<h1>اجازه نیست</h1><div class="msg bad">{h.e(exc.message_fa)}</div>',
                      status=exc.status)

    @app.exception_handler(views.BadInput)
    async def _bad_input(request: Request, exc: views.BadInput):
        return render(request, "ورودی نادرست", f'<h1>ورودی نادرست</h1><div class="msg bad">{h.e(exc.message_fa)}</div>'
                      f'<p>{h.link(base, "/", "بازگشت به نمای کلی")}</p>', status=400)

    @app.exception_handler(AccessDenied)
    async def _denied(request: Request, exc: AccessDenied):
        return render(request, "اجازه نیست", '<h1>اجازه نیست</h1><div class="msg bad">این کار برای شما مجاز نیست.</div>',
                      status=403)

    @app.exception_handler(MunihubError)
    async def _hub_error(request: Request, exc: MunihubError):
        from munihub.secrets import redact
        return render(request, "انجام نشد", '<h1>انجام نشد</h1><div class="msg bad">هاب این کار را انجام نداد: '
                      f'<bdi dir="ltr">{h.e(redact(str(exc))[:500])}</bdi></div>', status=409)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        text = {404: "این صفحه وجود ندارد.", 405: "این نشانی چنین درخواستی نمی‌پذیرد."}.get(
            exc.status_code, "درخواست پذیرفته نشد.")
        return render(request, "یافت نشد", f'<h1>{h.e(text)}</h1><p>{h.link(base, "/", "بازگشت به نمای کلی")}</p>',
                      status=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        log.warning("invalid request %s: %s", request.url.path, exc.errors())
        return render(request, "ورودی نادرست", '<h1>ورودی نادرست</h1><div class="msg bad">بخشی از فرم پر نشده یا '
                      'نادرست است.</div>', status=400)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception):
        log.exception("workbench request failed: %s %s", request.method, request.url.path)
        return render(request, "خطای داخلی", '<h1>خطای داخلی</h1><div class="msg bad">کار انجام نشد و چیزی '
                      'تغییر نکرد. اگر تکرار شد به راهبر سامانه خبر دهید.</div>', status=500)
