"""Staff sessions on the web, and the end of a person's staff role.

A web chat identity is whoever holds its cookie; that is enough for a citizen, never for staff. A
member of staff on the web holds a session of their own: a random token issued by the server when
an invite is redeemed (never one the client proposes), kept only as a hash, ended by logout, by
``TIEPDAN_STAFF_SESSION_IDLE_MINUTES`` without use or ``TIEPDAN_STAFF_SESSION_HOURS`` after login
(OWASP ASVS 4.0 §3.3, level 2), and by ``tiepdan admin revoke``, which also ends the staff role on
every channel. Each of these is a ``StaffEvent``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from bot.domain.roles import STAFF_ROLES
from storage.models import BoardInvite, ChannelIdentity, Invite, StaffEvent, StaffSession, Unit, User, utcnow

# Renewing on every request would write a row per message; a minute's precision is plenty for a
# 30-minute idle limit.
RENEW_AFTER = timedelta(minutes=1)


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta = timedelta(minutes=30)
    lifetime: timedelta = timedelta(hours=12)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def record(uow, user_id: int | None, action: str, **data) -> None:
    uow.session.add(StaffEvent(user_id=user_id, action=action, data=data))


async def open_session(uow, user: User, policy: SessionPolicy, *, via: str, address: str | None = None) -> str:
    """A new session for ``user``; the token goes to the browser once and is never stored."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    uow.session.add(StaffSession(token_hash=_hash(token), user_id=user.id, created_at=now, last_seen_at=now,
                                 expires_at=now + policy.lifetime))
    record(uow, user.id, "login", via=via, address=address)
    return token


async def current_session(uow, token: str | None, policy: SessionPolicy) -> StaffSession | None:
    """The live session behind ``token``, renewed; None if unknown, ended or expired (an expired one
    is ended here, with its reason recorded)."""
    if not token or len(token) > 100:
        return None
    row = (await uow.session.execute(select(StaffSession).where(StaffSession.token_hash == _hash(token)))
           ).scalar_one_or_none()
    if row is None or row.ended_at is not None:
        return None
    now = utcnow()
    reason = "expired" if now >= row.expires_at else "idle" if now - row.last_seen_at >= policy.idle else None
    if reason is not None:
        row.ended_at, row.end_reason = now, reason
        record(uow, row.user_id, "session_ended", reason=reason)
        return None
    if now - row.last_seen_at >= RENEW_AFTER:
        row.last_seen_at = now
    return row


async def end_session(uow, token: str | None) -> int | None:
    """Logout: the session ends now; returns its user's id, or None when there was none to end."""
    if not token or len(token) > 100:
        return None
    row = (await uow.session.execute(select(StaffSession).where(
        StaffSession.token_hash == _hash(token), StaffSession.ended_at.is_(None)))).scalar_one_or_none()
    if row is None:
        return None
    row.ended_at, row.end_reason = utcnow(), "logout"
    record(uow, row.user_id, "logout")
    return row.user_id


def redeemed_since(since: datetime, user_id: int):
    """The invite ``user_id`` redeemed at or after ``since`` (the request that just logged them in): to a
    unit, or to an oversight board."""
    return (select(Invite.id).where(Invite.used_by == user_id, Invite.used_at >= since)
            .union_all(select(BoardInvite.id).where(BoardInvite.used_by == user_id, BoardInvite.used_at >= since))
            .limit(1))


class UnknownPerson(LookupError):
    pass


async def revoke(uow, user_id: int, *, by: str) -> int:
    """End ``user_id``'s staff role (on every channel) and all their sessions; returns how many
    sessions were ended. A citizen stays a citizen: their items and chats are untouched."""
    user = await uow.session.get(User, user_id)
    if user is None:
        raise UnknownPerson(user_id)
    now = utcnow()
    ended = (await uow.session.execute(
        update(StaffSession).where(StaffSession.user_id == user_id, StaffSession.ended_at.is_(None))
        .values(ended_at=now, end_reason="revoked").returning(StaffSession.id))).all()
    record(uow, user_id, "revoked", by=by, role=user.role, unit_id=user.unit_id, sessions=len(ended))
    user.role, user.unit_id = "citizen", None
    return len(ended)


@dataclass
class StaffMember:
    user_id: int
    role: str
    unit: str | None
    commune_code: int | None
    name: str | None
    channels: list[str]
    live_sessions: int


async def staff_members(uow) -> list[StaffMember]:
    """Everyone with a staff role, for ``tiepdan admin staff`` (who to revoke)."""
    people = (await uow.session.execute(
        select(User, Unit.name).outerjoin(Unit, Unit.id == User.unit_id)
        .where(User.role.in_(STAFF_ROLES)).order_by(User.id))).all()
    ids = [user.id for user, _ in people]
    channels: dict[int, list[str]] = {}
    for user_id, channel in (await uow.session.execute(
            select(ChannelIdentity.user_id, ChannelIdentity.channel).where(ChannelIdentity.user_id.in_(ids)))).all():
        channels.setdefault(user_id, []).append(channel)
    now = utcnow()
    live: dict[int, int] = {}
    for row in (await uow.session.execute(select(StaffSession).where(
            StaffSession.user_id.in_(ids), StaffSession.ended_at.is_(None), StaffSession.expires_at > now))).scalars():
        live[row.user_id] = live.get(row.user_id, 0) + 1
    return [StaffMember(user.id, user.role, unit, user.commune_code, user.display_name,
                        sorted(channels.get(user.id, [])), live.get(user.id, 0)) for user, unit in people]
