"""Who is using the console: the staff session behind the ``tiepdan_staff`` cookie — the very cookie
and session the web chat issues when an invite is redeemed (bot/channels/web.py), or the one a
one-time login link opens (bot/console/login.py). The web chat's own cookie is never a login here.

Every console page calls ``console_staff`` first; it answers the member of staff and their policy
Actor, or sends the browser to the login page. Scope is then asked of bot/policy.py through
bot/officers.py for each item, never decided here."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from aiohttp import web

from bot.channels.web import STAFF_COOKIE
from bot.officers import actor_for, is_staff
from bot.policy import Actor
from bot.staff_sessions import current_session
from storage.models import User

LOGIN_PATH = "/console/login"
# Keys on ``request`` that later code of the same request reads (the layout's logout form, the actions).
STAFF_KEY: web.RequestKey["ConsoleStaff"] = web.RequestKey("console_staff", object)


@dataclass(frozen=True)
class ConsoleStaff:
    user: User
    actor: Actor
    session_id: int
    csrf: str


def session_token(runtime, request: web.Request) -> str | None:
    return request.cookies.get(runtime.web_security.cookie_name(request, STAFF_COOKIE))


def csrf_token(runtime, token: str) -> str:
    """Per session: a MAC of the session's secret under the server's key. Another site can neither
    read the cookie nor the page, so it cannot put this into a forged form."""
    digest = hashlib.sha256(f"console-csrf:{token}".encode()).hexdigest()
    return runtime.web_security.sign(digest).rpartition(".")[2]


def csrf_valid(request: web.Request, given: str | None) -> bool:
    staff: ConsoleStaff | None = request.get(STAFF_KEY)
    return bool(staff and given and hmac.compare_digest(given.encode(), staff.csrf.encode()))


async def console_staff(runtime, request: web.Request) -> tuple[User, Actor]:
    """The logged-in member of staff and their Actor, or ``HTTPFound`` to the login page (no cookie,
    an ended or expired session, or a person who is no longer staff)."""
    staff = await console_session(runtime, request)
    if staff is None:
        raise web.HTTPFound(LOGIN_PATH)
    return staff.user, staff.actor


async def console_session(runtime, request: web.Request) -> ConsoleStaff | None:
    if STAFF_KEY in request:
        return request[STAFF_KEY]
    await runtime.web_chat.load_signing_key()
    token = session_token(runtime, request)
    if not token:
        return None
    async with runtime.uows() as uow:
        session = await current_session(uow, token, runtime.web_chat.policy)
        user = await uow.session.get(User, session.user_id) if session is not None else None
        actor = await actor_for(uow, user) if user is not None and is_staff(user) else None
        await uow.commit()  # a renewal, or an expired session's end
    if actor is None:
        return None
    staff = ConsoleStaff(user, actor, session.id, csrf_token(runtime, token))
    request[STAFF_KEY] = staff
    return staff
