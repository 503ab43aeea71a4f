"""Web chat: the commune's page at ``/`` and its small JSON API.

Every browser gets an anonymous chat identity in an HttpOnly cookie, signed by the server so that
only ids it issued are accepted. The messages a browser sees are the outbox rows of its chat, read
in order by id, so a reload shows the conversation so far and a notification written by an officer
later arrives through the same long-poll. A chat whose person is staff also needs that person's
staff session (bot/staff_sessions.py): the chat cookie alone is never an officer's login.

    POST /api/chat/send       {"id": client message id, "text": "..."} or {"id": ..., "button": "..."}
                              or {"id": ..., "location": {"latitude": .., "longitude": ..}}
                              optional "after": last message id seen → {"messages": [...], "cursor": n}
    POST /api/chat/photo      multipart: "photo" (JPEG, PNG or WebP), "id", optional "after"
                              a button may name its message: {"id": .., "button": "..", "message": id}; a
                              message the person has answered since is refused (409), not acted on
    GET  /api/chat/messages?after=N&wait=25   long-poll for messages after N
    GET  /api/chat/history?before=N&limit=40  a page of older messages (the newest without ``before``);
                              both sides of the chat and whether each menu is still live (web_history.py)
    POST /api/staff/logout    ends this browser's staff session
    GET  /media/<key>         a stored photo, for those allowed to see it (bot/channels/web_media.py)

Writes are refused unless they come from this site's own page (bot/web_security.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from aiohttp import web
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.channels import web_history, web_page
from bot.channels.web_history import StalePress, UnknownPress
from bot.channels.web_media import MediaAccess
from bot.channels.web_wakeup import PostgresWakeups, WebChatHub, WebChatSender
from bot.domain.dialog import Incoming, Location, Photo
from bot.officers import is_staff
from bot.staff_sessions import SessionPolicy, current_session, end_session, open_session, redeemed_since
from bot.texts import LANGUAGES, t
from bot.web_security import JSON, MULTIPART, browser_language
from bot.web_server import BodyTooSlow, read_body
from handlers.flood import FloodGate, Verdict, turned_away
from handlers.pipeline import handle_incoming
from storage.app_secrets import shared_secret
from storage.models import Attachment, StaffSession, User, utcnow

log = logging.getLogger(__name__)

CHANNEL = "web"
COOKIE = "tiepdan_chat"
STAFF_COOKIE = "tiepdan_staff"
CHAT_COOKIE_AGE = 365 * 24 * 3600  # a citizen's chat is theirs for a year; staff sessions are short
SIGNING_KEY = "web_chat_signing_key"
STATIC = Path(__file__).parent / "static"
MAX_BODY = 64 * 1024
MAX_WAIT_SECONDS = 25
# Open long-polls one chat (its tabs) and one address (a household or office behind one NAT) may hold.
MAX_WAITS_PER_CHAT = 4
# The steps at which a photo is part of the conversation (an officer's answer too: ``_expects_photo``).
PHOTO_STEPS = {("submit", "description"), ("submit", "photos"), ("submit", "location"), ("track", "add_info")}
MAX_WAITS_PER_ADDRESS = 64
MAX_CURSOR = 2 ** 31 - 1  # outbox ids are 32-bit on PostgreSQL; a larger cursor simply means "nothing newer"
# Recognised by their first bytes, whatever the browser claims.
IMAGE_SIGNATURES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"RIFF", "image/webp"))


def image_type(data: bytes) -> str | None:
    for signature, content_type in IMAGE_SIGNATURES:
        if data.startswith(signature) and (content_type != "image/webp" or data[8:12] == b"WEBP"):
            return content_type
    return None


def _error(language: str, status: int, key: str, **values) -> web.Response:
    return web.json_response({"error": t(language, key, **values)}, status=status)


def _plain_id(value: str) -> bool:
    return 16 <= len(value) <= 64 and value.replace("-", "").replace("_", "").isalnum() and value.isascii()


@dataclass
class Visitor:
    """Who is behind a web request: the chat, its person (None before their first message) and, for
    staff, their live session."""

    chat_id: str
    new: bool  # the browser had no valid chat cookie: one is issued with the answer
    user: User | None = None
    staff_session: StaffSession | None = None

    @property
    def language(self) -> str | None:
        return self.user.language if self.user is not None else None

    @property
    def staff_without_session(self) -> bool:
        return self.user is not None and is_staff(self.user) and self.staff_session is None


class WebChat:
    def __init__(self, runtime):
        self.runtime = runtime
        self.security = runtime.web_security
        self.hub = WebChatHub()
        url = make_url(runtime.settings.database_url)
        self.wakeups = (PostgresWakeups(self.hub, url.set(drivername="postgresql").render_as_string(hide_password=False))
                        if url.get_backend_name() == "postgresql" else None)
        self.sender = WebChatSender(self.hub, self.wakeups)
        # Long-polls queue for the database here rather than in the pool, whose wait times out: a
        # thousand browsers reconnecting at once (a restart) wait their turn instead of getting 503,
        # and leave connections free for messages being sent.
        pool = runtime.engine.pool
        self._poll_reads = asyncio.Semaphore(max(1, pool.size() - 2) if hasattr(pool, "size") else 4)
        settings = runtime.settings
        self.policy = SessionPolicy(idle=timedelta(minutes=settings.staff_session_idle_minutes),
                                    lifetime=timedelta(hours=settings.staff_session_hours))
        self.media_access = MediaAccess(self)
        # Per client address, beside the flood limit per person (handlers/flood.py), which a browser
        # that drops its cookie would otherwise escape.
        self.address_gate = FloodGate(settings.flood_address_burst, settings.flood_address_rate)

    def _over_address_limit(self, request: web.Request) -> bool:
        return self.address_gate.admit(("web", self.security.client_address(request))) is not Verdict.admit

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/", self.page),
            web.post("/api/chat/send", self.send),
            web.get("/api/chat/messages", self.messages),
            web.get("/api/chat/history", self.history),
            web.post("/api/chat/photo", self.photo),
            web.post("/api/staff/logout", self.logout),
            web.get("/media/{key}", self.media_access.media),
            web.static("/static", STATIC),
        ]

    async def start(self) -> None:
        await self.load_signing_key()  # signed links to photos may be sent before any request
        if self.wakeups is not None:
            await self.wakeups.start()

    async def stop(self) -> None:
        if self.wakeups is not None:
            await self.wakeups.stop()

    async def load_signing_key(self) -> None:
        """The key every serve process shares (made by migration 0013); read once."""
        if not self.security.ready:
            async with self.runtime.uows() as uow:
                key = await shared_secret(uow.session, SIGNING_KEY)
                await uow.commit()
            self.security.use_key(key)

    def chat_id_of(self, request: web.Request) -> str | None:
        """The chat of a browser whose cookie this server issued; None for none or a forged one."""
        signed = request.cookies.get(self.security.cookie_name(request, COOKIE), "")
        value = self.security.unsign(signed) if 0 < len(signed) <= 120 else None
        return value if value is not None and _plain_id(value) else None

    async def visitor(self, request: web.Request, *, create: bool = True) -> Visitor | None:
        await self.load_signing_key()
        chat_id = self.chat_id_of(request)
        if chat_id is None:
            return Visitor(secrets.token_urlsafe(18), new=True) if create else None
        async with self.runtime.uows() as uow:
            user = await uow.users.by_channel_identity(CHANNEL, chat_id)
            session = None
            if user is not None and is_staff(user):
                token = request.cookies.get(self.security.cookie_name(request, STAFF_COOKIE))
                session = await current_session(uow, token, self.policy)
                if session is not None and session.user_id != user.id:
                    session = None
                await uow.commit()  # a renewal, or an expired session's end
        return Visitor(chat_id, new=False, user=user, staff_session=session)

    def _shown_in(self, visitor: Visitor | None) -> str:
        """The language of the page's own texts: the one chosen in the chat; before that, the commune's
        (as the chat's greeting is: phones in Vietnam often announce English whatever their owner reads)."""
        return (visitor and visitor.language) or self.runtime.settings.default_language.value

    def _with_cookie(self, response: web.StreamResponse, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        if visitor.new:
            self.security.set_cookie(response, request, COOKIE, self.security.sign(visitor.chat_id),
                                     max_age=CHAT_COOKIE_AGE, samesite="Lax")
        return response

    async def page(self, request: web.Request) -> web.StreamResponse:
        """The page, in the language of its chat (``_shown_in``)."""
        try:
            visitor = await self.visitor(request)
        except (SQLAlchemyError, OSError):
            visitor = None  # the page still loads; its first message gets the cookie
        language = self._shown_in(visitor)
        response = web.Response(text=web_page.render(language), content_type="text/html",
                                headers={"Cache-Control": "no-store", "Content-Language": language})
        return self._with_cookie(response, request, visitor) if visitor is not None else response

    async def send(self, request: web.Request) -> web.StreamResponse:
        refusal = self.security.origin_refusal(request, content_types=(JSON,))
        if refusal is not None:  # and no cookie is issued: another site cannot reset a citizen's chat
            return _error(browser_language(request), *refusal)
        if self._over_address_limit(request):
            return _error(browser_language(request), 429, "flood.slow_down")
        try:
            raw = await read_body(request, MAX_BODY, self.runtime.settings.body_timeout_seconds)
        except BodyTooSlow:
            return _error(browser_language(request), 408, "error.too_slow")
        try:
            visitor = await self.visitor(request)
        except (SQLAlchemyError, OSError):
            log.warning("web chat: database unavailable")
            return _error(browser_language(request), 503, "error.temporary")
        language = visitor.language or browser_language(request)
        if raw is None:
            return _error(language, 413, "error.request_too_large")
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            body = None
        incoming = _incoming(body, visitor.chat_id)
        if incoming is None:
            return _error(language, 400, "error.bad_request")
        after = body.get("after")
        after = after if isinstance(after, int) and not isinstance(after, bool) else 0
        command = (incoming.text or "").strip().lower()
        if command == "/logout":
            return await self._logout(request, language, visitor, after)
        login = command.startswith("/officer")
        if visitor.staff_without_session and not login:
            return _error(language, 401, "staff.session_needed")
        pressed = body.get("message")
        started = utcnow()
        try:
            if incoming.button is not None and isinstance(pressed, int) and not isinstance(pressed, bool):
                async with self.runtime.uows() as uow:
                    web_history.pressed_labels[incoming.update_key] = await web_history.check_press(
                        uow, visitor.chat_id, min(max(pressed, 0), MAX_CURSOR), incoming.button, incoming.update_key)
            result = await handle_incoming(incoming, self.runtime.uows, self.runtime.settings)
            rows = await self._rows(visitor.chat_id, after)
            response = self._with_cookie(self._page_of(rows, after, _chosen_language(incoming) or self._shown_in(visitor),
                                                       said=body["id"]), request, visitor)
            if login and result.user_id is not None:
                await self._log_in_if_redeemed(request, response, result.user_id, started)
        except StalePress:
            return _error(language, 409, "webpage.stale_button")
        except UnknownPress:
            return _error(language, 400, "error.bad_request")
        except (SQLAlchemyError, OSError):
            log.warning("web chat: database unavailable")
            return _error(browser_language(request), 503, "error.temporary")
        finally:
            web_history.pressed_labels.pop(incoming.update_key, None)
        return response

    async def _log_in_if_redeemed(self, request, response, user_id: int, since) -> None:
        """An invite redeemed by this very request: the browser gets a new staff session (a token
        of the server's making, whatever cookies it sent)."""
        async with self.runtime.uows() as uow:
            if (await uow.session.execute(redeemed_since(since, user_id))).first() is None:
                return
            user = await uow.session.get(User, user_id)
            if user is None or not is_staff(user):
                return
            token = await open_session(uow, user, self.policy, via="invite",
                                       address=self.security.client_address(request))
            await uow.commit()
        self.security.set_cookie(response, request, STAFF_COOKIE, token, max_age=None, samesite="Strict")

    async def _logout(self, request, language: str, visitor: Visitor, after: int) -> web.StreamResponse:
        token = request.cookies.get(self.security.cookie_name(request, STAFF_COOKIE))
        try:
            async with self.runtime.uows() as uow:
                ended = await end_session(uow, token)
                await uow.commit()
        except (SQLAlchemyError, OSError):
            return _error(language, 503, "error.temporary")
        response = web.json_response({"messages": [], "cursor": after,
                                      "notice": t(language, "staff.logged_out" if ended else "staff.no_session")})
        self.security.clear_cookie(response, request, STAFF_COOKIE, samesite="Strict")
        return self._with_cookie(response, request, visitor)

    async def logout(self, request: web.Request) -> web.StreamResponse:
        refusal = self.security.origin_refusal(request, content_types=(JSON,))
        if refusal is not None:
            return _error(browser_language(request), *refusal)
        try:
            visitor = await self.visitor(request)
        except (SQLAlchemyError, OSError):
            return _error(browser_language(request), 503, "error.temporary")
        return await self._logout(request, visitor.language or browser_language(request), visitor, 0)

    async def photo(self, request: web.Request) -> web.StreamResponse:
        refusal = self.security.origin_refusal(request, content_types=(MULTIPART,))
        if refusal is not None:
            return _error(browser_language(request), *refusal)
        if self._over_address_limit(request):
            return _error(browser_language(request), 429, "flood.slow_down")
        limit = self.runtime.settings.max_photo_bytes
        try:
            visitor = await self.visitor(request)
        except (SQLAlchemyError, OSError):
            return _error(browser_language(request), 503, "error.temporary")
        language = visitor.language or browser_language(request)
        if visitor.staff_without_session:
            return _error(language, 401, "staff.session_needed")
        chat_id = visitor.chat_id
        if request.content_length is not None and request.content_length > limit + 64 * 1024:
            return _error(language, 413, "error.photo_too_large", limit=limit // (1024 * 1024))
        try:
            async with asyncio.timeout(self.runtime.settings.body_timeout_seconds):
                form = await request.post()
        except TimeoutError:
            return _error(language, 408, "error.too_slow")
        except (ValueError, web.HTTPRequestEntityTooLarge):
            return _error(language, 413, "error.photo_too_large", limit=limit // (1024 * 1024))
        upload, message_id = form.get("photo"), form.get("id")
        if not hasattr(upload, "file") or not isinstance(message_id, str) or not 1 <= len(message_id) <= 64:
            return _error(language, 400, "error.bad_request")
        data = upload.file.read(limit + 1)
        if len(data) > limit:
            return _error(language, 413, "error.photo_too_large", limit=limit // (1024 * 1024))
        content_type = image_type(data)
        if content_type is None:
            return _error(language, 415, "error.photo_type")
        after = form.get("after", "0")
        after = int(after) if isinstance(after, str) and after.isascii() and after.isdigit() and len(after) < 19 else 0
        key = secrets.token_urlsafe(24)
        incoming = Incoming(CHANNEL, chat_id, chat_id, f"{chat_id}:{message_id}", photos=(Photo(f"web:{key}"),))
        try:
            if not await self._expects_photo(chat_id):  # nothing stored for a step that takes no photo
                return _error(language, 409, "error.photo_not_now")
            # A flood of uploads is turned away before anything is stored, not after 5 MB each.
            if not await turned_away(incoming, self.runtime.uows, self.runtime.settings):
                async with self.runtime.uows() as uow:
                    uow.session.add(Attachment(key=key, content_type=content_type, data=data, size=len(data),
                                               channel=CHANNEL, chat_id=chat_id))
                    await uow.commit()
                await handle_incoming(incoming, self.runtime.uows, self.runtime.settings, flood_checked=True)
            rows = await self._rows(chat_id, after)
        except (SQLAlchemyError, OSError):
            log.warning("web chat: could not store a photo")
            return _error(language, 503, "error.temporary")
        return self._with_cookie(self._page_of(rows, after, self._shown_in(visitor), said=message_id), request, visitor)

    async def _expects_photo(self, chat_id: str) -> bool:
        async with self.runtime.uows() as uow:
            state = await uow.conversations.load(CHANNEL, chat_id, lock=False)
        if state is None:
            return False
        step = (state.flow, state.step)
        return step in PHOTO_STEPS or (step == ("officer", "text") and state.data.get("action") == "answer")

    async def messages(self, request: web.Request) -> web.StreamResponse:
        try:
            async with self._poll_reads:
                visitor = await self.visitor(request, create=False)
        except (SQLAlchemyError, OSError):
            return _error(browser_language(request), 503, "error.temporary")
        if visitor is None:
            # A new browser has no history yet; give it its identity so its next poll can wait.
            fresh = Visitor(secrets.token_urlsafe(18), new=True)
            return self._with_cookie(web.json_response({"messages": [], "cursor": 0}), request, fresh)
        language = visitor.language or browser_language(request)
        if visitor.staff_without_session:
            return _error(language, 401, "staff.session_needed")
        chat_id = visitor.chat_id
        try:
            after = max(0, int(request.query.get("after", "0")))
            wait = min(MAX_WAIT_SECONDS, max(0.0, float(request.query.get("wait", "0"))))
        except ValueError:
            return _error(language, 400, "error.bad_request")
        address = self.security.client_address(request)
        if wait and (self.hub.open_by_chat.get(chat_id, 0) >= MAX_WAITS_PER_CHAT
                     or self.hub.open_by_address.get(address, 0) >= MAX_WAITS_PER_ADDRESS):
            return _error(language, 429, "error.too_many_tabs")
        try:
            with self.hub.holding(chat_id, address):
                deadline = asyncio.get_running_loop().time() + wait
                while True:
                    delivered = self.hub.arm(chat_id)
                    async with self._poll_reads:
                        rows = await self._rows(chat_id, after)
                    remaining = deadline - asyncio.get_running_loop().time()
                    if rows or remaining <= 0.05:  # a timer may fire a little early: no re-read for that
                        break
                    await self.hub.wait(delivered, remaining)  # set by a delivery (web_wakeup.py)
        except (SQLAlchemyError, OSError):
            return _error(browser_language(request), 503, "error.temporary")
        return self._page_of(rows, after, None)  # its language may have changed during the wait

    async def history(self, request: web.Request) -> web.StreamResponse:
        """A page of the chat's history, both sides, oldest first: the newest page, or the one before
        ``before`` (the page asks as its reader scrolls up)."""
        try:
            visitor = await self.visitor(request, create=False)
        except (SQLAlchemyError, OSError):
            return _error(browser_language(request), 503, "error.temporary")
        if visitor is None:
            fresh = Visitor(secrets.token_urlsafe(18), new=True)
            return self._with_cookie(web.json_response({"messages": [], "more": False, "cursor": 0,
                                                        "lang": self._shown_in(fresh)}), request, fresh)
        language = visitor.language or browser_language(request)
        if visitor.staff_without_session:
            return _error(language, 401, "staff.session_needed")
        try:
            before = request.query.get("before")
            before = min(max(0, int(before)), MAX_CURSOR) if before is not None else None  # a 32-bit column
            limit = min(web_history.MAX_PAGE, max(1, int(request.query.get("limit", web_history.PAGE))))
        except ValueError:
            return _error(language, 400, "error.bad_request")
        try:
            async with self.runtime.uows() as uow:
                messages, more = await web_history.page(uow, visitor.chat_id, before, limit)
        except (SQLAlchemyError, OSError):
            return _error(language, 503, "error.temporary")
        return web.json_response({"messages": messages, "more": more, "lang": self._shown_in(visitor),
                                  "cursor": messages[-1]["id"] if messages else 0})

    async def _rows(self, chat_id: str, after: int) -> list[dict]:
        async with self.runtime.uows() as uow:
            rows = await uow.outbox.for_chat(CHANNEL, chat_id, min(after, MAX_CURSOR))
            return web_history.mark_live([web_history.message(row) for row in rows])

    @staticmethod
    def _page_of(messages: list[dict], after: int, language: str | None, *, said: str | None = None) -> web.Response:
        """``said``: the page's id of the line this request carried. The page shows that line already, so
        the answer gives only its id (``said``), and the messages it caused. ``language``: of the page's
        own texts, when known."""
        own = [m for m in messages if said is not None and m.get("from") == "me" and m.get("ref") == said]
        page = {"messages": [m for m in messages if m not in own], "cursor": messages[-1]["id"] if messages else after}
        if language is not None:
            page["lang"] = language
        if own:
            page["said"] = own[0]["id"]
        return web.json_response(page)


def _chosen_language(incoming: Incoming) -> str | None:
    """The language a press of the language picker sets (handlers/start.py), for the page's own texts."""
    choice = (incoming.button or "").removeprefix("lang:")
    return choice if incoming.button != choice and choice in LANGUAGES else None


def _storable(value) -> bool:
    """A string a database can keep: JSON may carry lone surrogates ("\\ud800"), which UTF-8 cannot."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _incoming(body, chat_id: str) -> Incoming | None:
    if not isinstance(body, dict):
        return None
    message_id = body.get("id")
    if not isinstance(message_id, str) or not (1 <= len(message_id) <= 64) or not _storable(message_id):
        return None
    text, button, location = body.get("text"), body.get("button"), body.get("location")
    if isinstance(location, dict):
        latitude, longitude = location.get("latitude"), location.get("longitude")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (latitude, longitude)):
            return None
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            return None
        return Incoming(CHANNEL, chat_id, chat_id, f"{chat_id}:{message_id}",
                        location=Location(float(latitude), float(longitude)))
    if button is not None:
        if not isinstance(button, str) or not _storable(button) or len(button.encode()) > 64:
            return None
        return Incoming(CHANNEL, chat_id, chat_id, f"{chat_id}:{message_id}", button=button)
    if isinstance(text, str) and _storable(text):
        return Incoming(CHANNEL, chat_id, chat_id, f"{chat_id}:{message_id}", text=text)
    return None
