"""The console's one page frame: a navigation bar (Inbox, Register, Dashboard, Reports, Logout) and a
main area holding the fragment a page rendered. Server-rendered; works without script, on a phone
(one column under 40 rem), and by keyboard (a skip link, visible focus, access keys on the nav)."""

from __future__ import annotations

from aiohttp import web

from bot.console.auth import STAFF_KEY
from bot.texts import has, t

NO_STORE = {"Cache-Control": "private, no-store"}
NAV = (("inbox", "/console", "i"), ("register", "/console/register", "r"),
       ("dashboard", "/console/dashboard", "d"), ("reports", "/console/reports", "p"))
_environment = None


def environment():
    """Jinja2 is loaded with the first console page, not at the bot's start (the chat never needs it)."""
    global _environment
    if _environment is None:
        from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

        _environment = Environment(loader=PackageLoader("bot.console", "templates"),
                                   autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                                   trim_blocks=True, lstrip_blocks=True)
    return _environment


def render(name: str, language: str, **values) -> str:
    """A template of bot/console/templates, with ``t`` bound to the reader's language."""
    return environment().get_template(name).render(t=lambda key, **v: t(language, key, **v), has=has,
                                                   language=language, **values)


def render_page(request: web.Request, *, title: str, body_html: str, language: str, active: str = "",
                status: int = 200) -> web.Response:
    """``body_html`` (already escaped: a rendered template) inside the console's frame; never cached."""
    staff = request.get(STAFF_KEY)
    html = render("base.html", language, title=title, body_html=body_html, active=active, nav=NAV,
                  staff=staff, csrf=staff.csrf if staff is not None else "")
    return web.Response(text=html, content_type="text/html", charset="utf-8", status=status, headers=NO_STORE)
