"""The staff console at /console: the desk officers and leaders work at in the browser, on the same
services (bot/officers.py) and scope policy (bot/policy.py) as the chat."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from bot.app import Runtime


def routes(runtime: Runtime) -> list[web.AbstractRouteDef]:
    return []
