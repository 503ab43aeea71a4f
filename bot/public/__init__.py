"""The public pages and open data at /c/<commune>/… (schedule, disclosures, projects, consultations,
figures, iCalendar, RSS/Atom) and Open311 GeoReport v2: read-only adapters on the same services.

Feeds share the pages' cache (bot/public/cache.py); the identifier every feed's UIDs and ids carry is
derived from this database's own secret, so it is the same in every process and never repeats across
deployments."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import select

from bot.public import cache, data, feeds, ical
from bot.public.communes import resolve, slug
from bot.public.open311 import Open311
from bot.public.pages import HERE, Pages, language_of, not_found
from storage.models import AppSecret

if TYPE_CHECKING:
    from bot.app import Runtime

STYLESHEET = (HERE / "static" / "public.css").read_bytes()


class Feeds:
    def __init__(self, runtime: Runtime, page_cache: cache.PageCache):
        self.runtime, self.cache = runtime, page_cache
        self._install: str | None = None
        self._stylesheet = cache.static_page(STYLESHEET, "text/css; charset=utf-8")

    def routes(self) -> list[web.AbstractRouteDef]:
        return [web.get("/c/assets/public.css", self.stylesheet),
                web.get("/c/{commune}/schedule.ics", self.calendar),
                web.get("/c/{commune}/feed.rss", self.rss),
                web.get("/c/{commune}/feed.atom", self.atom)]

    async def stylesheet(self, request: web.Request) -> web.Response:
        return cache.respond(request, self._stylesheet, max_age=3600)

    async def install(self, uow) -> str:
        if self._install is None:
            secret = (await uow.session.execute(select(AppSecret.value).where(
                AppSecret.name == "web_chat_signing_key"))).scalar_one_or_none() or "tiepdan"
            self._install = hashlib.sha256(("public-id:" + secret).encode()).hexdigest()[:12]
        return self._install

    async def _serve(self, request: web.Request, kind: str, content_type: str, build) -> web.Response:
        commune = resolve(request.match_info["commune"])
        language = language_of(request)
        if commune is None:
            return not_found(request, language)
        origin = self.runtime.web_security.own_origin(request)
        version = self.cache.version(commune.code)
        if version is None:
            async with self.runtime.uows() as uow:
                version, _ = await data.version(uow, commune.code)
            self.cache.remember(commune.code, version)

        async def render() -> tuple[bytes, str]:
            async with self.runtime.uows() as uow:
                return await build(uow, commune, language, origin, await self.install(uow)), content_type

        page = await self.cache.get(("feed", kind, commune.code, language, origin), version, render)
        return cache.respond(request, page, max_age=300)

    async def calendar(self, request: web.Request) -> web.Response:
        async def build(uow, commune, language, origin, install):
            query = "?lang=en" if language == "en" else ""
            return ical.calendar(commune, await data.sessions(uow, commune.code), language=language,
                                 zone=self.runtime.settings.zone, install=install,
                                 page_url=f"{origin}/c/{slug(commune.code)}/schedule{query}")
        return await self._serve(request, "ics", "text/calendar; charset=utf-8", build)

    async def _entries(self, uow, commune, language, origin, install):
        query = "?lang=en" if language == "en" else ""
        base = f"/c/{slug(commune.code)}"
        found = feeds.entries(commune, await data.disclosures(uow, commune.code),
                              await data.announcements(uow, commune.code), language=language, origin=origin,
                              base=base, install=install, query=query)
        return found, f"{origin}{base}{query}", query, base

    async def rss(self, request: web.Request) -> web.Response:
        async def build(uow, commune, language, origin, install):
            found, page, query, base = await self._entries(uow, commune, language, origin, install)
            return feeds.rss(commune, found, language=language, page=page, self_url=f"{origin}{base}/feed.rss{query}")
        return await self._serve(request, "rss", "application/rss+xml; charset=utf-8", build)

    async def atom(self, request: web.Request) -> web.Response:
        async def build(uow, commune, language, origin, install):
            found, page, query, base = await self._entries(uow, commune, language, origin, install)
            return feeds.atom(commune, found, language=language, page=page,
                              self_url=f"{origin}{base}/feed.atom{query}", install=install)
        return await self._serve(request, "atom", "application/atom+xml; charset=utf-8", build)


def routes(runtime: Runtime) -> list[web.AbstractRouteDef]:
    page_cache = cache.PageCache()
    runtime.public_cache = page_cache  # the bench and tests read how often pages were rendered
    feeds_routes = Feeds(runtime, page_cache)
    return [*feeds_routes.routes(), *Pages(runtime, page_cache).routes(), *Open311(runtime).routes()]


