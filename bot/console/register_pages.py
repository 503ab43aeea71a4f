"""The reception register in the console: the book (by period), recording a walk-in, a letter or a
phone call, the export in the columns of Mẫu số 03/TCD, and reception meetings with their minutes.
Services are bot/register.py's; this module reads forms and answers pages. Published minutes (redacted)
are public at /minutes/{id}; nothing else here is."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from html import escape
from urllib.parse import quote

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from bot.console.auth import STAFF_KEY, console_staff, csrf_valid
from bot.console.layout import NO_STORE, render, render_page
from bot.console.register_export import FORMATS, to_csv, to_xlsx
from bot.domain.ids import record_id
from bot.domain.kinds import ItemKind
from bot.officers import NotAllowed
from bot.organisation import NoUnit
from bot.petitions import categories_for
from bot.policy import Permission
from bot.register import (
    FORMS, Invalid, Visit, entry_for, meeting_entries, meeting_for, may_keep_register, publish_minutes,
    published_sessions, record_meeting,
    record_visit, register_rows,
)
from bot.staff_sessions import record
from bot.console.views import phase_label
from bot.texts import t
from bot.web_security import typed_fields
from handlers.wording import in_reading_order, statutory
from storage.models import ReceptionSession
from storage.models_desk import ReceptionMeeting

log = logging.getLogger(__name__)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
KINDS = (ItemKind.feedback, ItemKind.complaint_first, ItemKind.denunciation)


def _day(text: str | None, default: date | None = None) -> date | None:
    try:
        return date.fromisoformat(text) if text else default
    except ValueError:
        return None


def _lines(text: str, limit: int = 500) -> list[str]:
    return [" ".join(line.split())[:200] for line in (text or "").splitlines() if line.strip()][:limit]


def _language(user) -> str:
    return user.language if getattr(user, "language", None) in ("vi", "en") else "vi"


class RegisterPages:
    def __init__(self, runtime):
        self.runtime = runtime
        self.security = runtime.web_security

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/console/register", self.book), web.get("/console/register/new", self.new),
                web.post("/console/register", self.create), web.get("/console/register/export", self.export),
                web.get("/console/register/entries/{id}", self.receipt),
                web.get("/console/register/meetings/new", self.new_meeting),
                web.post("/console/register/meetings", self.create_meeting),
                web.get("/console/register/meetings/{id}", self.meeting),
                web.post("/console/register/meetings/{id}/publish", self.publish),
                web.get("/minutes/{id}", self.public_minutes)]

    @property
    def zone(self):
        return self.runtime.settings.zone

    def _today(self) -> date:
        return datetime.now(self.zone).date()

    def _page(self, request, language: str, title: str, body: str, *, status: int = 200) -> web.Response:
        return render_page(request, title=title, body_html=body, language=language, active="register", status=status)

    def _error(self, request, language: str, status: int, key: str, **values) -> web.Response:
        body = f'<section class="card"><p class="error" role="alert">{escape(t(language, key, **values))}</p></section>'
        return self._page(request, language, t(language, "desk.error.title"), body, status=status)

    async def _posted(self, request, language: str):
        """The form, or the page refusing it: another origin, or no valid CSRF token of this session."""
        refusal = self.security.origin_refusal(request, content_types=FORM_TYPES)
        if refusal is not None:
            return None, self._error(request, language, *refusal)
        form = typed_fields(await request.post())
        if not csrf_valid(request, form.get("csrf")):
            return None, self._error(request, language, 403, "desk.error.csrf")
        return form, None

    def _period(self, request) -> tuple[date, date] | None:
        today = self._today()
        first = _day(request.query.get("from"), today.replace(day=1))
        last = _day(request.query.get("to"), today)
        if first is None or last is None or last < first or (last - first).days > 3660:
            return None
        return first, last

    # -- the book ---------------------------------------------------------------------------------------
    async def book(self, request: web.Request) -> web.StreamResponse:
        user, actor = await console_staff(self.runtime, request)
        language = _language(user)
        period = self._period(request)
        if period is None:
            return self._error(request, language, 400, "desk.register.bad_period")
        async with self.runtime.uows() as uow:
            rows = await register_rows(uow, user, *period)
            meetings = (await uow.session.execute(
                select(ReceptionMeeting).where(ReceptionMeeting.commune_code == actor.commune_code)
                .order_by(ReceptionMeeting.held_on.desc()).limit(20))).scalars().all() \
                if actor.commune_code is not None else []
        body = render("register.html", language, rows=rows, first=period[0], last=period[1], meetings=meetings,
                      may_record=actor.holds(Permission.handle),
                      may_meet=may_keep_register(actor, actor.commune_code))
        return self._page(request, language, t(language, "desk.register.title"), body)

    async def export(self, request: web.Request) -> web.StreamResponse:
        user, actor = await console_staff(self.runtime, request)
        language = _language(user)
        period, fmt = self._period(request), request.query.get("format", "xlsx")
        if period is None or fmt not in FORMATS:
            return self._error(request, language, 400, "desk.register.bad_period")
        async with self.runtime.uows() as uow:
            rows = await register_rows(uow, user, *period)
            record(uow, user.id, "register_exported", rows=len(rows), format=fmt)  # personal data left the system
            await uow.commit()
        title = t(language, "desk.register.file_title", first=period[0].strftime("%d/%m/%Y"),
                  last=period[1].strftime("%d/%m/%Y"))
        data = to_csv(rows, language) if fmt == "csv" else to_xlsx(rows, language, title)
        name = f"so-tiep-cong-dan-{period[0].isoformat()}-{period[1].isoformat()}.{fmt}"
        return web.Response(body=data, headers={**NO_STORE, "Content-Type": FORMATS[fmt],
                                                "Content-Disposition": f"attachment; filename=\"{name}\"; "
                                                                       f"filename*=UTF-8''{quote(name)}"})

    # -- recording a visit --------------------------------------------------------------------------------
    async def new(self, request: web.Request, *, problem: str = "", values=None, status: int = 200):
        user, actor = await console_staff(self.runtime, request)
        language = _language(user)
        if actor.commune_code is None or not actor.holds(Permission.handle):
            return self._error(request, language, 403, "desk.register.not_allowed")
        async with self.runtime.uows() as uow:
            categories = await categories_for(uow, actor.commune_code)
            meetings = (await uow.session.execute(
                select(ReceptionMeeting).where(ReceptionMeeting.commune_code == actor.commune_code,
                                               ReceptionMeeting.held_on >= self._today() - timedelta(days=60))
                .order_by(ReceptionMeeting.held_on.desc()))).scalars().all()
        body = render("register_new.html", language, csrf=request[STAFF_KEY].csrf, forms=FORMS, kinds=KINDS,
                      categories=[(c.key, c.label(language)) for c in categories], meetings=meetings,
                      today=self._today().isoformat(), problem=problem, v=values or {})
        return self._page(request, language, t(language, "desk.register.new_title"), body, status=status)

    async def create(self, request: web.Request) -> web.StreamResponse:
        user, actor = await console_staff(self.runtime, request)
        language = _language(user)
        form, refused = await self._posted(request, language)
        if refused is not None:
            return refused
        values = {k: v for k, v in form.items() if k != "csrf"}
        try:
            visit = self._visit(values)
            async with self.runtime.uows() as uow:
                entry, _, _ = await record_visit(uow, user, actor.commune_code, visit, self.zone)
                await uow.commit()
        except Invalid as invalid:
            return await self.new(request, problem=t(language, invalid.key, **invalid.values), values=values,
                                  status=400)
        except NoUnit:
            return await self.new(request, problem=t(language, "desk.register.no_unit"), values=values, status=409)
        except NotAllowed:
            return self._error(request, language, 403, "desk.register.not_allowed")
        except SQLAlchemyError:
            log.warning("console: a register entry could not be saved")
            return self._error(request, language, 503, "error.temporary")
        return _see_other(f"/console/register/entries/{entry.id}")

    async def receipt(self, request: web.Request) -> web.StreamResponse:
        """What was recorded, the item's code and its deadlines with their articles: what the officer
        tells the citizen (or writes on the receipt, Mẫu số 02/TCD)."""
        user, actor = await console_staff(self.runtime, request)
        language = _language(user)
        entry_id = record_id(request.match_info["id"])
        try:
            async with self.runtime.uows() as uow:
                if entry_id is None:
                    raise NotAllowed(0)
                entry, item, sees_item = await entry_for(uow, user, entry_id)
                deadlines = await uow.items.open_deadlines(item.id) if item is not None else []
        except NotAllowed:
            return self._error(request, language, 404, "desk.error.not_found")
        body = render("receipt.html", language, entry=entry, item=item, sees_item=sees_item,
                      deadlines=[{"phase": phase_label(language, d.phase), "due": d.due_on.strftime("%d/%m/%Y"),
                                  "legal": statutory(d), "citation": d.citation} for d in in_reading_order(deadlines)])
        return self._page(request, language, t(language, "desk.register.receipt_title"), body)

    @staticmethod
    def _visit(values: dict) -> Visit:
        try:
            kind = ItemKind(values.get("kind", ""))
        except ValueError:
            raise Invalid("desk.register.bad_kind") from None
        if kind not in KINDS:
            raise Invalid("desk.register.bad_kind")
        received_on = _day(values.get("received_on"))
        if received_on is None:
            raise Invalid("desk.register.bad_date")
        return Visit(
            form=values.get("form", ""), received_on=received_on, kind=kind, category=values.get("category", "")[:50],
            summary=values.get("summary", "").strip()[:5000], person_name=" ".join(values.get("person_name", "").split())[:200],
            person_address=values.get("person_address", "").strip()[:500], phone=values.get("phone", "").strip()[:50],
            id_document=values.get("id_document", "").strip()[:50],
            representative=" ".join(values.get("representative", "").split())[:300],
            co_complainants=_lines(values.get("co_complainants", ""), 60), consent_noted=values.get("consent") == "1",
            settled_by=values.get("settled_by", "").strip()[:300], within_competence=values.get("competent", "1") == "1",
            guidance=values.get("guidance", "").strip()[:2000], note=values.get("note", "").strip()[:2000],
            meeting_id=record_id(values.get("meeting")),
            address=values.get("address", "").strip()[:500])

    # -- meetings ------------------------------------------------------------------------------------------
    async def new_meeting(self, request: web.Request, *, problem: str = "", status: int = 200):
        user, actor = await console_staff(self.runtime, request)
        language = _language(user)
        if not may_keep_register(actor, actor.commune_code):
            return self._error(request, language, 403, "desk.register.not_allowed")
        async with self.runtime.uows() as uow:
            sessions = await published_sessions(uow, actor.commune_code)
        zone = self.runtime.settings.zone
        choices = [(s.id, f"{s.receiver} — {s.starts_at.astimezone(zone):%d/%m/%Y %H:%M}"
                          + (" ↻" if s.recurrence else "")) for s in sessions]
        body = render("meeting_new.html", language, csrf=request[STAFF_KEY].csrf, today=self._today().isoformat(),
                      problem=problem, sessions=choices)
        return self._page(request, language, t(language, "desk.meeting.new_title"), body, status=status)

    async def create_meeting(self, request: web.Request) -> web.StreamResponse:
        user, actor = await console_staff(self.runtime, request)
        language = _language(user)
        form, refused = await self._posted(request, language)
        if refused is not None:
            return refused
        held_on = _day(form.get("held_on"))
        if held_on is None or held_on > self._today():
            return await self.new_meeting(request, problem=t(language, "desk.register.bad_date"), status=400)
        session_id = record_id(form.get("session"))
        attendance = []
        for line in _lines(form.get("attendance", "")):
            name, _, organisation = line.partition(" - ") if " - " in line else line.partition(" — ")
            attendance.append({"name": name.strip(), "organisation": organisation.strip()})
        try:
            async with self.runtime.uows() as uow:
                meeting = await record_meeting(uow, user, title=form.get("title", ""), held_on=held_on,
                                               chaired_by=form.get("chaired_by", ""), attendance=attendance,
                                               minutes=form.get("minutes", ""), session_id=session_id)
                await uow.commit()
        except Invalid as invalid:
            return await self.new_meeting(request, problem=t(language, invalid.key, **invalid.values), status=400)
        except NotAllowed:
            return self._error(request, language, 403, "desk.register.not_allowed")
        return _see_other(f"/console/register/meetings/{meeting.id}")

    async def meeting(self, request: web.Request) -> web.StreamResponse:
        user, actor = await console_staff(self.runtime, request)
        language = _language(user)
        meeting_id = record_id(request.match_info["id"])
        try:
            async with self.runtime.uows() as uow:
                if meeting_id is None:
                    raise NotAllowed(0)
                meeting = await meeting_for(uow, user, meeting_id)
                entries = await meeting_entries(uow, meeting.id)
                session = await uow.session.get(ReceptionSession, meeting.session_id) if meeting.session_id else None
        except NotAllowed:
            async with self.runtime.uows() as uow:
                record(uow, user.id, "console_refused", path=request.path[:100], method="GET")
                await uow.commit()
            return self._error(request, language, 404, "desk.error.not_found")
        body = render("meeting.html", language, m=meeting, entries=entries, csrf=request[STAFF_KEY].csrf,
                      session=session,
                      may_publish=may_keep_register(actor, meeting.commune_code))
        return self._page(request, language, meeting.title, body)

    async def publish(self, request: web.Request) -> web.StreamResponse:
        user, actor = await console_staff(self.runtime, request)
        language = _language(user)
        form, refused = await self._posted(request, language)
        if refused is not None:
            return refused
        meeting_id = record_id(request.match_info["id"])
        try:
            async with self.runtime.uows() as uow:
                if meeting_id is None:
                    raise NotAllowed(0)
                meeting = await publish_minutes(uow, user, meeting_id)
                await uow.commit()
        except NotAllowed:
            return self._error(request, language, 404, "desk.error.not_found")
        return _see_other(f"/console/register/meetings/{meeting.id}")

    async def public_minutes(self, request: web.Request) -> web.StreamResponse:
        """Anyone may read published minutes: the redacted text, the date and how many came."""
        language = self.runtime.settings.default_language.value
        meeting_id = record_id(request.match_info["id"])
        meeting = None
        if meeting_id is not None:
            async with self.runtime.uows() as uow:
                meeting = await uow.session.get(ReceptionMeeting, meeting_id)
        if meeting is None or meeting.published_at is None:
            raise web.HTTPNotFound()
        body = render("minutes_public.html", language, m=meeting)
        response = render_page(request, title=meeting.title, body_html=body, language=language)
        response.headers["Cache-Control"] = "public, max-age=300"
        return response


def _see_other(location: str) -> web.Response:
    """After a post, the page to show next (303: the browser gets it, and a reload does not post again)."""
    return web.Response(status=303, headers={"Location": location})
