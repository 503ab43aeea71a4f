"""The public pages of a commune (/c/<commune>/…), rendered on the server with Jinja2: one base
layout, no JavaScript, one small stylesheet, so a cheap phone on a slow link shows them at once.

Each handler reads what the commune published (bot/public/data.py) and renders it in the page's
language (``?lang=en``; Vietnamese otherwise); the result is cached per commune, page and language
until the commune publishes something (bot/public/cache.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import undefer

from bot.domain import deeplinks
from bot.domain.communes import Commune
from bot.domain.schedule import weekly_days
from bot.importer.sections import DISCLOSURE_CATEGORIES
from bot.petitions import categories_for
from bot.public import cache, data, files
from bot.public.communes import resolve, slug
from bot.public.open311 import EMOJI, category_name
from bot.texts import t
from storage.models_public import PublicFile

if TYPE_CHECKING:
    from bot.app import Runtime

HERE = Path(__file__).parent
HTML = "text/html; charset=utf-8"
PAGES = ("schedule", "disclosures", "projects", "consultations", "announcements", "figures")
# What the chat opens at from each page (the home page and the announcements: the commune's menu).
PAGE_PLACES = {"schedule": "schedule", "disclosures": "disclosures", "projects": "projects",
               "consultations": "consultations", "figures": "statistics"}

_env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html", "xml"]),
                   trim_blocks=True, lstrip_blocks=True)


def language_of(request: web.Request) -> str:
    return "en" if request.query.get("lang") == "en" else "vi"


def money(language: str, amount: int | None) -> str:
    if amount is None:
        return t(language, "public.projects.unknown")
    return t(language, "public.money", amount=f"{amount:,}".replace(",", "." if language == "vi" else ","))


def day(value) -> str:
    return value.strftime("%d/%m/%Y") if value else "…"


class Pages:
    def __init__(self, runtime: Runtime, page_cache: cache.PageCache):
        self.runtime, self.cache = runtime, page_cache
        self.zone = runtime.settings.zone

    def routes(self) -> list[web.AbstractRouteDef]:
        return [web.get("/c/{commune}", self.home), web.get("/c/{commune}/", self.home),
                web.get("/c/{commune}/schedule", self.schedule),
                web.get("/c/{commune}/disclosures", self.disclosures),
                web.get("/c/{commune}/projects", self.projects),
                web.get("/c/{commune}/projects/{project:[0-9]{1,9}}", self.project),
                web.get("/c/{commune}/consultations", self.consultations),
                web.get("/c/{commune}/announcements", self.announcements),
                web.get("/c/{commune}/figures", self.figures),
                web.get("/c/{commune}/files/{file:[0-9]{1,9}}/{name}", self.file)]

    # -- the frame every page shares ---------------------------------------------------------------
    async def serve(self, request: web.Request, page: str, build: Callable[[object, Commune, str], Awaitable[dict]],
                    *extra_key, activity: bool = False) -> web.Response:
        commune = resolve(request.match_info["commune"])
        language = language_of(request)
        if commune is None:
            return not_found(request, language)
        version = self.cache.version(commune.code)
        if version is None or activity:
            async with self.runtime.uows() as uow:
                version, _ = await data.version(uow, commune.code)
                self.cache.remember(commune.code, version)
                if activity:  # figures move with every item and answer, which publish nothing
                    version = (version, await data.activity(uow, commune.code))
        key = ("page", commune.code, page, language, *extra_key)

        async def render() -> tuple[bytes, str]:
            async with self.runtime.uows() as uow:
                context = await build(uow, commune, language)
            if context is None:
                raise web.HTTPNotFound()
            return self.render(f"{page}.html", commune, language, page, request, **context), HTML

        try:
            rendered = await self.cache.get(key, version, render)
        except web.HTTPNotFound:
            return not_found(request, language)
        return cache.respond(request, rendered)

    def render(self, template: str, commune: Commune, language: str, page: str, request: web.Request,
               **context) -> bytes:
        settings = self.runtime.settings
        base = f"/c/{slug(commune.code)}"
        query = "?lang=en" if language == "en" else ""
        path = request.path.split("/c/", 1)[1].split("/", 1)
        rest = ("/" + path[1] if len(path) > 1 else "").rstrip("/")
        # Only what the page is keyed by: anything else a visitor adds must not be cached for all.
        extra = {k: v for k, v in context.items() if k == "category" and v}
        other = "" if language == "en" else "lang=en"
        other_query = "&".join([*(f"{quote(k)}={quote(v)}" for k, v in extra.items()), *([other] if other else [])])
        # "Chat about this": the chat opens at what the page shows (bot/domain/deeplinks.py). Zalo's
        # official account link carries no such parameter: it opens the chat.
        target = context.pop("chat_about", None) or ((PAGE_PLACES[page],) if page in PAGE_PLACES else ())
        start = deeplinks.encode(commune.code, *target)
        chats = [("web", f"/?start={start}")]
        if settings.public_telegram_username:
            chats.append(("telegram", f"https://t.me/{settings.public_telegram_username}?start={start}"))
        if settings.public_zalo_url:
            chats.append(("zalo", settings.public_zalo_url))
        html = _env.get_template(template).render(
            lang=language, T=lambda key, **values: t(language, key, **values), commune=commune, page=page,
            pages=PAGES, base=base, q=query, canonical=f"{base}{rest}{query}",
            other_language_url=f"{base}{rest}" + (f"?{other_query}" if other_query else ""),
            chats=chats, chat_about=lambda place, record_id=None: "/?start=" + deeplinks.encode(
                commune.code, place, record_id), day=day, money=lambda amount: money(language, amount), **context)
        return html.encode("utf-8")

    # -- the pages ----------------------------------------------------------------------------------
    async def home(self, request: web.Request) -> web.Response:
        async def build(uow, commune, language):
            now = datetime.now(timezone.utc)
            slots = data.schedule(await data.sessions(uow, commune.code), now, self.zone)
            disclosures = await data.disclosures(uow, commune.code)
            announcements = await data.announcements(uow, commune.code, limit=3)
            return {"slots": [self._slot(slot, language) for slot in slots[:3]], "disclosures": disclosures[:3],
                    "announcements": [self._announcement(a) for a in announcements],
                    "projects": [project for project, _ in await data.projects(uow, commune.code)][:3]}
        return await self.serve(request, "home", build)

    async def schedule(self, request: web.Request) -> web.Response:
        async def build(uow, commune, language):
            now = datetime.now(timezone.utc)
            slots = data.schedule(await data.sessions(uow, commune.code), now, self.zone)
            return {"slots": [self._slot(slot, language) for slot in slots]}
        return await self.serve(request, "schedule", build)

    async def disclosures(self, request: web.Request) -> web.Response:
        wanted = request.query.get("category", "")
        category = wanted if wanted in DISCLOSURE_CATEGORIES else ""

        async def build(uow, commune, language):
            today = datetime.now(self.zone).date()
            everything = await data.disclosures(uow, commune.code)
            counts = {c: sum(1 for d in everything if d.category == c) for c in DISCLOSURE_CATEGORIES}
            shown = [d for d in everything if not category or d.category == category]
            documents = await files.listed(uow, "disclosure", [d.id for d in shown])
            return {"category": category, "counts": counts, "total": len(everything),
                    "items": [{"d": d, "published": d.published_at.astimezone(self.zone).date(),
                               "on_board": d.board_until is not None and d.board_until >= today,
                               "files": documents[d.id]}
                              for d in shown]}
        return await self.serve(request, "disclosures", build, category)

    async def projects(self, request: web.Request) -> web.Response:
        async def build(uow, commune, language):
            return {"projects": await data.projects(uow, commune.code)}
        return await self.serve(request, "projects", build)

    async def project(self, request: web.Request) -> web.Response:
        wanted = int(request.match_info["project"])

        async def build(uow, commune, language):
            for project, updates in await data.projects(uow, commune.code):
                if project.id == wanted:
                    photos = (await files.listed(uow, "project", [project.id]))[project.id]
                    return {"project": project, "updates": updates, "photos": photos,
                            "chat_about": ("project", project.id)}
            return None
        return await self.serve(request, "project", build, wanted)

    async def file(self, request: web.Request) -> web.Response:
        """A disclosure's document or a project's photo, with its own type; the URL names the file,
        so a saved copy keeps its name. Its bytes never change under one id (a new import makes a new
        row), so it may be kept a day."""
        commune = resolve(request.match_info["commune"])
        language = language_of(request)
        async with self.runtime.uows() as uow:
            row = await uow.session.get(PublicFile, int(request.match_info["file"]), options=[undefer(PublicFile.data)])
        if (row is None or commune is None or row.commune_code != commune.code
                or row.filename != request.match_info["name"]):
            return not_found(request, language)
        page = cache.Rendered(row.data, row.content_type, f'"{row.sha256[:32]}"',
                              row.created_at.replace(microsecond=0), 0, 0)
        response = cache.respond(request, page, max_age=86400)
        disposition = "inline" if row.content_type.startswith("image/") or row.content_type == "application/pdf" \
            else "attachment"
        response.headers["Content-Disposition"] = f'{disposition}; filename="{row.filename}"'
        return response

    async def consultations(self, request: web.Request) -> web.Response:
        async def build(uow, commune, language):
            now = datetime.now(timezone.utc)
            return {"consultations": [self._consultation(view) for view in
                                      await data.consultations(uow, commune.code, now)]}
        return await self.serve(request, "consultations", build)

    async def announcements(self, request: web.Request) -> web.Response:
        async def build(uow, commune, language):
            return {"announcements": [self._announcement(a) for a in await data.announcements(uow, commune.code)]}
        return await self.serve(request, "announcements", build)

    async def figures(self, request: web.Request) -> web.Response:
        async def build(uow, commune, language):
            report = await data.figures(uow, commune.code, self.zone)
            labels = {category.key: category_name(category, language)
                      for category in await categories_for(uow, commune.code)}
            categories = sorted(report.by_category.items(), key=lambda pair: -pair[1].received)
            top = max((figures.received for _, figures in categories), default=0)
            return {"report": report, "kinds": sorted(report.by_kind.items()), "categories": categories,
                    "top": top, "today": datetime.now(self.zone).date(),
                    "category_label": lambda key: labels.get(key, key),
                    "kind_label": lambda key: EMOJI.sub("", t(language, f"kind.{key}")).strip()}
        return await self.serve(request, "figures", build, activity=True)

    # -- shaping records for the templates ----------------------------------------------------------
    def _slot(self, slot: data.Slot, language: str) -> dict:
        start = slot.occurrence.starts_at.astimezone(self.zone)
        end = slot.occurrence.ends_at.astimezone(self.zone)
        session = slot.session
        days = weekly_days(session.recurrence)
        moved = session.moved_from.astimezone(self.zone) if session.moved_from and not days else None
        return {"when": t(language, "public.schedule.when", weekday=t(language, f"weekday.{start.weekday()}"),
                          date=f"{start:%d/%m/%Y}", start=f"{start:%H:%M}", end=f"{end:%H:%M}"),
                "datetime": start.isoformat(), "session": session, "cancelled": slot.cancelled,
                "weekly": ", ".join(t(language, f"weekday.{d}") for d in days),
                "moved": t(language, "public.schedule.moved", date=f"{moved:%d/%m/%Y}", start=f"{moved:%H:%M}")
                if moved else None}

    def _announcement(self, announcement) -> dict:
        return {"text": announcement.text, "date": announcement.published_at.astimezone(self.zone).date(),
                "id": announcement.id}

    def _consultation(self, view: data.ConsultationView) -> dict:
        consultation = view.consultation
        tallies = []
        if view.results is not None:
            for key, tally in (("public.consultations.official", view.results.official),
                               ("public.consultations.unverified", view.results.unverified)):
                rows = [(option, tally.counts.get(option, 0),
                         round(100 * tally.counts.get(option, 0) / tally.total) if tally.total else 0)
                        for option in consultation.options]
                tallies.append((key, tally.total, rows))
        return {"c": consultation, "open": view.open, "tallies": tallies,
                "opens": consultation.opens_at.astimezone(self.zone).date(),
                "closes": consultation.closes_at.astimezone(self.zone).date(),
                # When it really closed (earlier than published, with the leader's reason: issue 18).
                "closed": (consultation.closed_at or consultation.closes_at).astimezone(self.zone).date(),
                "reason": consultation.close_reason}


def not_found(request: web.Request, language: str) -> web.Response:
    html = _env.get_template("not_found.html").render(lang=language, T=lambda key, **v: t(language, key, **v))
    return web.Response(text=html, status=404, content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "public, max-age=60"})
