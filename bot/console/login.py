"""Getting into the console without a new invite: a one-time login link.

A member of staff writes /console in a chat where the platform vouches for them (Telegram, Zalo, or a
web chat whose staff session is live) and is sent a link that opens a staff session in any browser:

    /console (chat) ──▶ create_login_link: random token, only its SHA-256 kept, ~10 minutes
    GET  /console/login/{token}   a page with one button (a link previewer's GET must not spend it)
    POST /console/login/{token}   redeem_login_link: one conditional UPDATE … RETURNING (exactly one
                                  of two racing browsers wins on PostgreSQL), then open_session
                                  (audited), the ``tiepdan_staff`` cookie (SameSite=Strict), → /console

A refused link (unknown, used, expired, or its person no longer staff) is an audited StaffEvent.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from html import escape

from aiohttp import web
from sqlalchemy import select, update

from bot.channels.web import STAFF_COOKIE
from bot.console.auth import STAFF_KEY, console_session, csrf_valid, session_token
from bot.console.layout import render, render_page
from bot.officers import is_staff
from bot.staff_sessions import end_session, open_session, record
from bot.texts import t
from storage.models import User, utcnow
from storage.models_desk import ConsoleLogin

MULTIPART_OR_FORM = ("application/x-www-form-urlencoded", "multipart/form-data")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _plain_token(token: str) -> bool:
    return 20 <= len(token) <= 64 and all(c.isalnum() or c in "-_" for c in token)


async def create_login_link(uow, user: User, *, channel: str, minutes: int) -> str:
    """A new one-time token for ``user`` (staff); returned once, stored only as a hash."""
    token, now = secrets.token_urlsafe(24), utcnow()
    uow.session.add(ConsoleLogin(token_hash=_hash(token), user_id=user.id, channel=channel, created_at=now,
                                 expires_at=now + timedelta(minutes=minutes)))
    record(uow, user.id, "console_link_issued", channel=channel)
    return token


async def redeem_login_link(uow, token: str) -> User | None:
    """The member of staff the link was for, claimed now; None (and an audit event) when the token is
    unknown, already used, expired, or its person is no longer staff."""
    now = utcnow()
    claimed = (await uow.session.execute(
        update(ConsoleLogin)
        .where(ConsoleLogin.token_hash == _hash(token), ConsoleLogin.used_at.is_(None), ConsoleLogin.expires_at > now)
        .values(used_at=now).returning(ConsoleLogin.user_id)
        .execution_options(synchronize_session=False))).one_or_none()
    if claimed is None:
        row = (await uow.session.execute(select(ConsoleLogin).where(ConsoleLogin.token_hash == _hash(token)))
               ).scalar_one_or_none()
        reason = "unknown" if row is None else "used" if row.used_at is not None else "expired"
        record(uow, row.user_id if row is not None else None, "console_link_refused", reason=reason)
        return None
    user = await uow.session.get(User, claimed.user_id)
    if user is None or not is_staff(user):
        record(uow, claimed.user_id, "console_link_refused", reason="not_staff")
        return None
    return user


def link_for(settings, token: str) -> str:
    base = settings.console_url or f"http://{settings.web_host}:{settings.web_port}"
    return f"{base}/console/login/{token}"


async def send_login_link(ctx) -> None:
    """/console in a chat: a link for a member of staff, a plain refusal for anyone else."""
    if not is_staff(ctx.user):
        ctx.say("desk.login.not_staff")
        return
    minutes = ctx.settings.console_login_minutes
    token = await create_login_link(ctx.uow, ctx.user, channel=ctx.incoming.channel, minutes=minutes)
    ctx.say("desk.login.link", url=link_for(ctx.settings, token), minutes=minutes)


class LoginPages:
    def __init__(self, runtime):
        self.runtime = runtime
        self.security = runtime.web_security

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/console/login", self.login), web.get("/console/login/{token}", self.confirm),
                web.post("/console/login/{token}", self.redeem), web.post("/console/logout", self.logout)]

    def _language(self, request: web.Request) -> str:
        staff = request.get(STAFF_KEY)
        if staff is not None and staff.user.language in ("vi", "en"):
            return staff.user.language
        return self.runtime.settings.default_language.value

    def _page(self, request, key: str, body: str, *, status: int = 200) -> web.Response:
        language = self._language(request)
        return render_page(request, title=t(language, key), body_html=body, language=language, status=status)

    async def login(self, request: web.Request) -> web.StreamResponse:
        """What a person without a session reads: how to get a link (or a session) — never a password box."""
        if await console_session(self.runtime, request) is not None:
            raise web.HTTPFound("/console")
        language = self._language(request)
        return self._page(request, "desk.login.title", render("login.html", language, state="how"))

    async def confirm(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        language = self._language(request)
        if not _plain_token(token):
            return self._page(request, "desk.login.title", render("login.html", language, state="refused"), status=400)
        return self._page(request, "desk.login.title", render("login.html", language, state="confirm",
                                                              action=f"/console/login/{token}"))

    async def redeem(self, request: web.Request) -> web.StreamResponse:
        language = self._language(request)
        refusal = self.security.origin_refusal(request, content_types=MULTIPART_OR_FORM)
        if refusal is not None:
            status, key = refusal
            return self._page(request, "desk.login.title", f'<p class="error" role="alert">{escape(t(language, key))}</p>',
                              status=status)
        token = request.match_info["token"]
        async with self.runtime.uows() as uow:
            user = await redeem_login_link(uow, token) if _plain_token(token) else None
            session = None
            if user is not None:
                session = await open_session(uow, user, self.runtime.web_chat.policy, via="console_link",
                                             address=None)
            await uow.commit()
        if session is None:
            return self._page(request, "desk.login.title", render("login.html", language, state="refused"),
                              status=403)
        response = web.Response(status=303, headers={"Location": "/console"})
        self.security.set_cookie(response, request, STAFF_COOKIE, session, max_age=None, samesite="Strict")
        return response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        refusal = self.security.origin_refusal(request, content_types=MULTIPART_OR_FORM)
        staff = await console_session(self.runtime, request)
        if refusal is not None or staff is None:
            raise web.HTTPSeeOther("/console/login")
        form = await request.post()
        if not csrf_valid(request, form.get("csrf")):
            return self._page(request, "desk.error.title", render("error.html", self._language(request),
                                                                  key="desk.error.csrf"), status=403)
        async with self.runtime.uows() as uow:
            await end_session(uow, session_token(self.runtime, request))
            await uow.commit()
        request.pop(STAFF_KEY, None)
        response = web.Response(status=303, headers={"Location": "/console/login"})
        self.security.clear_cookie(response, request, STAFF_COOKIE, samesite="Strict")
        return response
