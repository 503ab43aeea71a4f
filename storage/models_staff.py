"""Tables of staff access, on the one declarative base of storage/models.py (which imports this module
at its end and re-exports its classes): one-time invites that make a chat an officer's, staff sessions
of the web (chat and console) and the audit of what staff did there. Split from storage/models.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, utcnow


class Invite(Base):
    """A one-time code that makes whoever redeems it an officer or leader of a unit. Only a hash of
    the code is stored; it expires and works once."""

    __tablename__ = "invites"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    used_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)


class StaffSession(Base):
    """A member of staff logged in on the web. The cookie carries a random id; only its hash is kept.
    Issued when an invite or login code is redeemed, renewed while used, ended by logout, by expiry
    (idle or absolute) or by ``tiepdan admin revoke``. Never the citizen's chat cookie."""

    __tablename__ = "staff_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()  # absolute end; the idle limit counts from last_seen_at
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(20), nullable=True)  # logout, idle, expired, revoked


class StaffEvent(Base):
    """Audit trail of what happens to staff accounts and sessions (login, logout, expiry, revocation,
    refusals), beside ``ItemEvent`` which records what staff do to items. No secrets, no chat ids."""

    __tablename__ = "staff_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True, index=True)
    action: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
