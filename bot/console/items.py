"""The inbox and an item's page, with every officer action the chat offers.

Each request asks the services of bot/officers.py and bot/petitions.py, which ask the one policy
(bot/policy.py): a page shows only what the reader may see and the actions they may take, and an
action is checked again when it is posted, whatever the form said. An item outside the reader's scope,
or no such item, is the same 404 page, and the attempt is a StaffEvent. Writes are POSTed forms with
the origin check and the session's CSRF token; each redirects back (303) with what happened."""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import datetime
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot import policy
from bot.categories import DEFAULT_CATEGORIES
from bot.channels.web import image_type
from bot.console.auth import STAFF_KEY, console_staff, csrf_valid
from bot.console.layout import render, render_page
from bot.console.queries import ASSIGNED, KINDS, STATUSES, Filters, search
from bot.console.views import item_view
from bot.domain.deadlines import ExtensionNotAllowed, SuspensionNotAllowed
from bot.domain.ids import record_id
from bot.domain.workflow import Action, IllegalTransition
from bot.officers import (
    NotAllowed, accept, actor_for, answer, assign, extend, extend_intake, forward, handled_item, resume,
    reveal_identity, suspend,
)
from bot.petitions import categories_for, move
from bot.staff_sessions import record
from bot.texts import has, t
from bot.web_security import typed_fields
from handlers.officer import MAX_ATTACHMENTS, NEEDS_TEXT, OFFICER_ACTIONS, _permission as permission_for
from storage.models import Attachment

log = logging.getLogger(__name__)
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
MAX_TEXT = 3000


class Refused(Exception):
    def __init__(self, status: int, key: str, **values):
        super().__init__(key)
        self.status, self.key, self.values = status, key, values


class ItemPages:
    def __init__(self, runtime):
        self.runtime = runtime
        self.security = runtime.web_security

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/console", self.inbox), web.get("/console/", self.inbox),
                web.get("/console/items/{id}", self.item), web.post("/console/items/{id}", self.act)]

    @property
    def zone(self):
        return self.runtime.settings.zone

    def _today(self):
        return datetime.now(self.zone).date()

    # -- pages ----------------------------------------------------------------------------------------
    async def inbox(self, request: web.Request) -> web.StreamResponse:
        user, actor = await console_staff(self.runtime, request)
        language = _language(user)
        filters = Filters.of(request.query)
        today = self._today()
        async with self.runtime.uows() as uow:
            rows = await search(uow, user, filters, today)
            commune = actor.commune_code or (rows[0].item.commune_code if rows else None)
            categories = await categories_for(uow, commune) if commune else list(DEFAULT_CATEGORIES)
            scope = policy.inbox_scope(actor)
            units = await uow.units.for_commune(scope.commune_code) if scope.commune_code is not None else []
        labels = {c.key: c.label(language) for c in categories}
        body = render("inbox.html", language, rows=rows, filters=filters, today=today, kinds=KINDS,
                      statuses=STATUSES, assigned=ASSIGNED, categories=categories, labels=labels, units=units,
                      reachable=policy.is_staff(actor))
        return render_page(request, title=t(language, "desk.inbox.title"), body_html=body, language=language,
                           active="inbox")

    async def item(self, request: web.Request) -> web.StreamResponse:
        user, actor = await console_staff(self.runtime, request)
        notice = request.query.get("done", "")
        notice = notice if notice.startswith("desk.done.") and has(notice) else ""
        return await self._item_page(request, user, actor, _item_id(request), notice=notice)

    async def _item_page(self, request, user, actor, item_id: int | None, *, notice: str = "", problem: str = "",
                         status: int = 200, revealed: str = "") -> web.Response:
        language = _language(user)
        try:
            async with self.runtime.uows() as uow:
                if item_id is None:
                    raise NotAllowed(0)
                item = await handled_item(uow, user, item_id)
                view = await item_view(uow, actor, item, language, self.zone, self._today())
        except NotAllowed:
            return await self._not_found(request, user, language)
        body = render("item.html", language, v=view, csrf=request[STAFF_KEY].csrf, max_attachments=MAX_ATTACHMENTS,
                      notice=notice, problem=problem, revealed=revealed)
        return render_page(request, title=t(language, "desk.item.title", code=item.tracking_code), body_html=body,
                           language=language, active="inbox", status=status)

    async def _not_found(self, request, user, language: str) -> web.Response:
        """The same page for an item of another scope as for no item: ids reveal nothing; audited."""
        async with self.runtime.uows() as uow:
            record(uow, user.id, "console_refused", path=request.path[:100], method=request.method)
            await uow.commit()
        body = render("error.html", language, key="desk.error.not_found")
        return render_page(request, title=t(language, "desk.error.title"), body_html=body, language=language,
                           status=404)

    # -- actions --------------------------------------------------------------------------------------
    async def act(self, request: web.Request) -> web.StreamResponse:
        user, actor = await console_staff(self.runtime, request)
        language = _language(user)
        refusal = self.security.origin_refusal(request, content_types=FORMS)
        if refusal is not None:
            return self._refused(request, language, refusal[0], refusal[1])
        try:
            form = await self._form(request)
        except Refused as refused:
            return self._refused(request, language, refused.status, refused.key, **refused.values)
        if not csrf_valid(request, form.get("csrf") if isinstance(form.get("csrf"), str) else None):
            return self._refused(request, language, 403, "desk.error.csrf")
        item_id = _item_id(request)
        action = form.get("action", "")
        try:
            async with self.runtime.uows() as uow:
                if item_id is None:
                    raise NotAllowed(0)
                outcome = await self._apply(uow, user, item_id, action, form)
                await uow.commit()
        except NotAllowed:
            return await self._not_found(request, user, language)
        except Refused as refused:  # the page again, saying what to fix; nothing was saved
            return await self._item_page(request, user, actor, item_id, status=refused.status,
                                         problem=t(language, refused.key, **refused.values))
        except SQLAlchemyError:
            log.warning("console: an action could not be saved")
            return self._refused(request, language, 503, "error.temporary")
        if isinstance(outcome, tuple):  # a revealed identity: shown on this answer only, never in a URL
            contact = outcome[1]
            revealed = t(language, "officer.anonymous") if contact is None else t(
                language, "officer.sender", name=contact.full_name, address=contact.address, phone=contact.phone)
            return await self._item_page(request, user, actor, item_id, notice="desk.done.reveal", revealed=revealed)
        if outcome == "gone":  # forwarded to a unit outside the reader's scope
            return _see_other("/console?" + urlencode({"done": "desk.done.forward"}))
        return self._back(item_id, done=f"desk.done.{action}")

    async def _form(self, request: web.Request) -> dict:
        """The posted fields; uploaded photos checked (size, type) and returned as bytes."""
        limit = self.runtime.settings.max_photo_bytes
        try:
            async with asyncio.timeout(self.runtime.settings.body_timeout_seconds):
                posted = await request.post()
        except TimeoutError:
            raise Refused(408, "error.too_slow") from None
        except (ValueError, web.HTTPRequestEntityTooLarge):
            raise Refused(413, "error.photo_too_large", limit=limit // (1024 * 1024)) from None
        form: dict = dict(typed_fields(posted).items())  # the last of a field sent twice, as before
        form["photos"] = []  # only files: a text field of that name is no photo
        for value in posted.getall("photos", ()):
            if hasattr(value, "file"):
                data = value.file.read(limit + 1)
                if not data:
                    continue  # an empty file input
                if len(data) > limit:
                    raise Refused(413, "error.photo_too_large", limit=limit // (1024 * 1024))
                content_type = image_type(data)
                if content_type is None:
                    raise Refused(415, "error.photo_type")
                form["photos"].append((data, content_type))
        if len(form["photos"]) > MAX_ATTACHMENTS:
            raise Refused(400, "desk.problem.too_many_photos", limit=MAX_ATTACHMENTS)
        return form

    async def _apply(self, uow, user, item_id: int, name: str, form: dict) -> str | None:
        """One action through the chat's own services; Refused for what the officer must fix."""
        text = " ".join(form.get("text", "").split("\r\n")).strip()[:MAX_TEXT] if form.get("text") else ""
        zone = self.zone
        if name == "reveal":  # a leader, with a reason, as an audit event (Luật Tố cáo 2018, Điều 47)
            item = await handled_item(uow, user, item_id, policy.Permission.reveal)
            if len(text) < 10:
                raise Refused(400, "desk.problem.reason_needed", minimum=10)
            return "revealed", await reveal_identity(uow, user, item, text)
        if name == "assign":
            item = await handled_item(uow, user, item_id, policy.Permission.assign)
            assignee = record_id(form.get("assignee", ""))
            if assignee is None:
                raise Refused(400, "desk.problem.assignee")
            await assign(uow, user, item, assignee)
            return None
        try:
            action = Action(name)
        except ValueError:
            raise Refused(400, "desk.problem.unknown_action") from None
        if action not in OFFICER_ACTIONS:
            raise Refused(400, "desk.problem.unknown_action")
        item = await handled_item(uow, user, item_id, permission_for(action))
        if action in NEEDS_TEXT and len(text) < 5:
            raise Refused(400, "desk.problem.text_needed")
        try:
            if action is Action.accept:
                await accept(uow, user, item, zone)
            elif action is Action.answer:
                keys = []
                for data, content_type in form["photos"]:
                    key = secrets.token_urlsafe(24)
                    # The console's uploads carry their uploader's user id (bot/channels/web_media.py).
                    uow.session.add(Attachment(key=key, content_type=content_type, data=data, size=len(data),
                                               channel="console", chat_id=str(user.id)))
                    keys.append(f"web:{key}")
                await answer(uow, user, item, text, attachments=keys)
            elif action is Action.extend:
                await extend(uow, user, item, text, especially_complex=form.get("especially") == "1", zone=zone)
            elif action is Action.extend_intake:
                await extend_intake(uow, user, item, text, zone=zone)
            elif action is Action.suspend:
                await suspend(uow, user, item, text, zone=zone)
            elif action is Action.resume:
                await resume(uow, user, item, text, zone=zone)
            elif action is Action.forward:
                target = form.get("target", "out")
                unit_id = record_id(target)
                if target != "out" and unit_id is None:
                    raise Refused(400, "desk.problem.target")
                if len(text) < 5:
                    raise Refused(400, "desk.problem.text_needed")
                await forward(uow, user, item, text, unit_id)
                if unit_id is not None and not policy.may_see_item(await actor_for(uow, user), item):
                    return "gone"
            else:
                await move(uow, item, action, actor_id=user.id, note=text or None)
        except ExtensionNotAllowed as refused:  # the chat's own wording, with its dates and articles
            raise Refused(409, f"officer.extension_refused.{refused.reason}", **refused.values) from None
        except SuspensionNotAllowed as refused:
            raise Refused(409, f"officer.suspension_refused.{refused.reason}", **refused.values) from None
        except IllegalTransition:
            raise Refused(409, "desk.problem.not_now") from None
        return None

    # -- answers --------------------------------------------------------------------------------------
    @staticmethod
    def _back(item_id: int | None, **query) -> web.StreamResponse:
        return _see_other(f"/console/items/{item_id}?" + urlencode(query))

    def _refused(self, request, language: str, status: int, key: str, **values) -> web.Response:
        body = render("error.html", language, key=key) if not values else \
            f'<p class="error" role="alert">{_escape(t(language, key, **values))}</p>'
        return render_page(request, title=t(language, "desk.error.title"), body_html=body, language=language,
                           status=status)


def _item_id(request: web.Request) -> int | None:
    return record_id(request.match_info["id"])


def _language(user) -> str:
    return user.language if getattr(user, "language", None) in ("vi", "en") else "vi"


def _escape(text: str) -> str:
    from html import escape

    return escape(text)


def _see_other(location: str) -> web.Response:
    """After a post, the page to show next (303: the browser gets it, and a reload does not post again)."""
    return web.Response(status=303, headers={"Location": location})
