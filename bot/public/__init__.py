"""The public pages and open data at /c/<commune>/… (schedule, disclosures, projects, consultations,
figures, iCalendar, RSS/Atom) and Open311 GeoReport v2: read-only adapters on the same services."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from bot.app import Runtime


def routes(runtime: Runtime) -> list[web.AbstractRouteDef]:
    return []
