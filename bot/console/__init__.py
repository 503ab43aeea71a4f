"""The staff console at /console: the desk officers and leaders work at in the browser, on the same
services (bot/officers.py) and scope policy (bot/policy.py) as the chat.

    /console/login          what to do without a session; /console/login/{token} redeems a one-time link
    /console                inbox (filters, search)          /console/items/{id}   an item and its actions
    /console/register       the reception register (sổ tiếp công dân), its sessions and export
    /console/dashboard, /console/reports                      bot/reports/web.py (engineer B's)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from bot.reports import web as report_pages

if TYPE_CHECKING:
    from bot.app import Runtime

STATIC = Path(__file__).parent / "static"


def routes(runtime: Runtime) -> list[web.AbstractRouteDef]:
    from bot.console.items import ItemPages
    from bot.console.login import LoginPages
    from bot.console.register_pages import RegisterPages

    login, items, register = LoginPages(runtime), ItemPages(runtime), RegisterPages(runtime)
    return [*login.routes(), *items.routes(), *register.routes(), *report_pages.routes(runtime),
            web.static("/console/static", STATIC)]
