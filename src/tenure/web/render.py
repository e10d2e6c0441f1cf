"""Templates in the reader's language: one Jinja2 environment whose gettext reads the
locale of the request being rendered."""

from __future__ import annotations

import contextvars
import datetime as dt
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from tenure import i18n

from .security import csrf_token, ensure_csrf_cookie

TEMPLATES = Path(__file__).parent / "templates"
_locale: contextvars.ContextVar[str] = contextvars.ContextVar("web_locale", default=i18n.DEFAULT)


def current_locale() -> str:
    """The locale of the page being rendered (English outside a render)."""
    return _locale.get()


def translate(message: str, **params: Any) -> str:
    """`message` (with only the parameters it names) in the current page's locale."""
    return i18n.gettext(_locale.get(), message, **params)


def _gettext(message: str, **params: Any) -> str:
    return i18n.gettext(_locale.get(), message, **params)


def _ngettext(singular: str, plural: str, n: int) -> str:
    """Unformatted: Jinja's new-style gettext fills in `num` and the other variables."""
    return i18n.translations(_locale.get()).ngettext(singular, plural, n)


def _when(epoch: int | float | None) -> str:
    """A time a person reads: UTC, to the minute, unambiguous in every language."""
    if epoch is None:
        return "—"
    return dt.datetime.fromtimestamp(int(epoch), dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


# What a change of language carries over of the page's query: what names the thing on
# screen, never a token or a statement someone pasted.
KEPT_QUERY = frozenset({"imei", "device_id", "device", "nonce", "q", "case_id", "state",
                        "next", "done", "stream", "action", "actor"})

ENV = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                  extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
ENV.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
ENV.filters["when"] = _when


def locale_of(request: Request) -> str:
    """`?lang=` (a link a person clicked) wins over the `lang` cookie it sets, which wins
    over Accept-Language."""
    chosen = i18n.supported(request.query_params.get("lang")) or i18n.supported(
        request.cookies.get("tenure_lang"))
    return chosen or i18n.negotiate(request.headers.get("accept-language"))


def page(request: Request, template: str, status: int = 200,
         headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
    """Render `template` for this request: locale, direction, CSRF token and the signed-in
    person (if any) are always in the context. Pages are never cached: they show one
    person's data."""
    locale = locale_of(request)
    token = _locale.set(locale)
    try:
        html = ENV.get_template(template).render(
            request=request, locale=locale, dir=i18n.direction(locale),
            languages=i18n.NAMES, csrf=csrf_token(request), kept_query=KEPT_QUERY,
            **context)
    finally:
        _locale.reset(token)
    response = HTMLResponse(html, status_code=status,
                            headers={"Cache-Control": "no-store", **(headers or {})})
    ensure_csrf_cookie(request, response)
    if request.query_params.get("lang") and i18n.supported(request.query_params.get("lang")):
        response.set_cookie("tenure_lang", locale, max_age=365 * 86400, httponly=True,
                            samesite="lax", secure=request.url.scheme == "https")
    return response
