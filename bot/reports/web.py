"""The console's reports and dashboard: a form that downloads the official report (XLSX, PDF, CSV) and
a leader's dashboard with the same figures and charts and a map of hot spots.

Every request asks the one policy (bot/policy.py, through ``report_scope``) whose figures the signed-in
member of staff may read; the files and pages carry counts only. Figures are read in a unit of work;
charts and files are drawn in a worker thread so the chat's event loop never waits on matplotlib."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, urlencode

from aiohttp import web

from bot.console.auth import console_staff
from bot.console.layout import render_page
from bot.domain.communes import commune_label
from bot.domain.provinces import communes_of
from bot.policy import Level, figures_scope
from bot.reports.export import FORMATS, ScopeRefused, filename, render, report_scope
from bot.reports.figures import report_figures, scope_title
from bot.reports.period import Period, PeriodError, current_quarter, parse_period
from bot.texts import t
from bot.web_security import CONTENT_SECURITY_POLICY

NO_STORE = {"Cache-Control": "private, no-store"}
# Charts and files are CPU work: two at a time, so a burst of downloads cannot take every core the chat needs.
DRAWING_AT_ONCE = 2
_templates = None


STATIC = Path(__file__).parent / "static"


def routes(runtime) -> list[web.AbstractRouteDef]:
    pages = ReportPages(runtime)
    return [web.get("/console/dashboard", pages.dashboard), web.get("/console/reports", pages.form),
            web.get("/console/reports/download", pages.download), web.static("/console/reports/static", STATIC)]


def _template(name: str):
    """Jinja2 is loaded with the first page, not at the bot's start."""
    global _templates
    if _templates is None:
        from jinja2 import Environment, PackageLoader, select_autoescape

        _templates = Environment(loader=PackageLoader("bot.reports", "templates"), autoescape=select_autoescape(["html"]))
    return _templates.get_template(name)


class Refusal(Exception):
    """A request we answer with a page that says why, in the person's language."""

    def __init__(self, status: int, key: str, **values):
        super().__init__(key)
        self.status, self.key, self.values = status, key, values


class ReportPages:
    def __init__(self, runtime):
        self.runtime = runtime
        self.drawing = asyncio.Semaphore(DRAWING_AT_ONCE)

    @property
    def zone(self):
        return self.runtime.settings.zone

    # -- pages ------------------------------------------------------------------------------------
    async def form(self, request: web.Request) -> web.StreamResponse:
        """The period (this quarter unless chosen) and, for the province's readers, a commune; then a link
        per format. Links, not a form per format: a download leaves the page where it is."""
        user, actor = await console_staff(self.runtime, request)
        language = _language(user)
        today = datetime.now(self.zone).date()
        try:
            chosen = request.query.get("period")
            period = self._period(chosen, today) if chosen else current_quarter(today)
            commune = self._commune(request.query.get("commune"))
            scope = self._scope(actor, commune)
        except Refusal as refusal:
            return self._refused(request, language, refusal)
        query = urlencode({"period": period.key, **({"commune": commune} if commune is not None else {})})
        body = _template("reports.html").render(
            t=lambda key, **v: t(language, key, **v), period=period.key, commune=commune, query=query,
            communes=_communes(actor), formats=tuple(FORMATS), definitions=_definitions(language),
            scope_line=t(language, "reports.scope", scope=await self._scope_title(scope)))
        return self._page(request, language, "reports.page_title", body, active="reports")

    async def dashboard(self, request: web.Request) -> web.StreamResponse:
        user, actor = await console_staff(self.runtime, request)
        language = _language(user)
        today = datetime.now(self.zone).date()
        try:
            period = self._period(request.query.get("period") or str(today.year), today)
            commune = self._commune(request.query.get("commune"))
            scope = self._scope(actor, commune)
        except Refusal as refusal:
            return self._refused(request, language, refusal)
        async with self.runtime.uows() as uow:
            figures = await report_figures(uow, scope, period, self.zone)
        settings = self.runtime.settings
        tiles = (settings.map_tiles_url, settings.map_tiles_attribution) if settings.map_tiles_url else None
        async with self.drawing:
            body = await asyncio.to_thread(_dashboard_body, figures, language, self.zone, _communes(actor), commune,
                                           tiles)
        response = self._page(request, language, "reports.dashboard_title", body, active="dashboard")
        if tiles:
            # The one page that shows another origin's images: the tile server's, and only there.
            response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
                "img-src 'self'", f"img-src 'self' {settings.map_tiles_origin}")
        return response

    async def download(self, request: web.Request) -> web.StreamResponse:
        user, actor = await console_staff(self.runtime, request)
        language = _language(user)
        today = datetime.now(self.zone).date()
        try:
            fmt = request.query.get("format", "xlsx")
            if fmt not in FORMATS:
                raise Refusal(400, "reports.bad_format", format=fmt[:20])
            period = self._period(request.query.get("period", ""), today)
            scope = self._scope(actor, self._commune(request.query.get("commune")))
        except Refusal as refusal:
            return self._refused(request, language, refusal)
        async with self.runtime.uows() as uow:
            figures = await report_figures(uow, scope, period, self.zone)
        async with self.drawing:
            data = await asyncio.to_thread(render, figures, fmt, language, self.zone)
        name = filename(figures, fmt)
        return web.Response(body=data, headers={
            **NO_STORE, "Content-Type": FORMATS[fmt].content_type,
            "Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}",
            "X-Content-Type-Options": "nosniff"})

    # -- what was asked -----------------------------------------------------------------------------
    def _period(self, text: str, today) -> Period:
        try:
            period = parse_period(text)
        except PeriodError:
            raise Refusal(400, "reports.bad_period", period=(text or "")[:40]) from None
        if period.first > today:
            raise Refusal(400, "reports.future_period", period=period.key)
        return period

    @staticmethod
    def _commune(text: str | None) -> int | None:
        if not text:
            return None
        if not (text.isascii() and text.isdigit()) or len(text) > 6:
            raise Refusal(403, "reports.bad_commune")
        return int(text)

    @staticmethod
    def _scope(actor, commune: int | None):
        try:
            return report_scope(actor, commune)
        except ScopeRefused:
            key = "reports.bad_commune" if commune is not None and figures_scope(actor).level is not Level.nothing \
                else "reports.not_allowed"
            raise Refusal(403, key) from None

    async def _scope_title(self, scope) -> str:
        async with self.runtime.uows() as uow:
            return await scope_title(uow, scope)

    # -- answers ------------------------------------------------------------------------------------
    def _page(self, request, language: str, title_key: str, body: str, *, active: str, status: int = 200):
        response = render_page(request, title=t(language, title_key), body_html=body, language=language, active=active,
                               status=status)
        response.headers.update(NO_STORE)
        return response

    def _refused(self, request, language: str, refusal: Refusal) -> web.StreamResponse:
        from html import escape

        body = f'<p class="error" role="alert">{escape(t(language, refusal.key, **refusal.values))}</p>'
        return self._page(request, language, "reports.page_title", body, active="reports", status=refusal.status)


def _language(user) -> str:
    return user.language if getattr(user, "language", None) in ("vi", "en") else "vi"


def _communes(actor) -> list[tuple[int, str]]:
    """The communes a province's reader may pick; none for anyone else (their own is implied)."""
    scope = figures_scope(actor)
    if scope.level is not Level.province:
        return []
    return sorted(((code, commune_label(code)) for code in communes_of(scope.province_code)), key=lambda c: c[1])


def _definitions(language: str) -> list[str]:
    from bot.reports.tables import definitions

    return definitions(language)


def _dashboard_body(figures, language: str, zone, communes, commune: int | None,
                    tiles: tuple[str, str] | None = None) -> str:
    """The dashboard's HTML (in a worker thread: it draws the charts)."""
    from bot.reports import charts, hotspots
    from bot.reports.tables import display, header, tables

    total = figures.total
    kpis = [("received", display(total.received, "received", language)),
            ("resolved", display(total.resolved, "resolved", language)),
            ("on_time_rate", display(total.on_time_rate, "on_time_rate", language)),
            ("overdue", display(total.overdue, "overdue", language)),
            ("satisfaction", display(total.satisfaction_rate, "satisfaction_rate", language))]
    if figures.has_reception:
        kpis.append(("sessions", display(figures.reception_total.sessions_held, "sessions_held", language)))
    drawn = [{"key": c.key, "title": c.title, "media_type": c.media_type,
              "encoded": base64.b64encode(c.data).decode("ascii")} for c in charts.draw(figures, language, "svg")]
    shown = []
    for table in tables(figures, language):
        if table.key in ("summary", "kind"):
            continue  # the figures at the top and the charts say it
        rows = table.rows + ([(t(language, "reports.total"), table.total)] if table.total else [])
        shown.append({"key": table.key, "title": table.title, "columns": table.columns,
                      "shown": [(label, [display(v, c, language) for c, v in zip(table.columns, values)])
                                for label, values in rows]})
    found = hotspots.cells(figures.places)
    tile_map = None
    if tiles and found:
        tile_map = {"url": tiles[0], "attribution": tiles[1],
                    "cells": json.dumps([[round(c.south, 5), round(c.west, 5), round(c.north, 5), round(c.east, 5), c.count]
                                         for c in found])}
    query = urlencode({"period": figures.period.key, **({"commune": commune} if commune is not None else {})})
    return _template("dashboard.html").render(
        t=lambda key, **v: t(language, key, **v), period=figures.period, communes=communes, commune=commune,
        header=header(figures, language, zone), kpis=kpis, charts=drawn, tables=shown, formats=tuple(FORMATS),
        hotspots=hotspots.svg(found, t(language, "reports.map.title")), tiles=tile_map, query=query)
