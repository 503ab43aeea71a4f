"""Tables of the desk area (the staff console and the reception register), on the one declarative base
of storage/models.py (which imports this module at its end, so Base.metadata holds every table)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, utcnow


class ConsoleLogin(Base):
    """A one-time link into the console, asked for with /console in a chat where the person is known
    staff. Only a hash of its token is kept; it works once (one conditional UPDATE) and for minutes."""

    __tablename__ = "console_logins"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))  # where it was asked for, for the audit
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ReceptionMeeting(Base):
    """One held occurrence of a reception session (the chairman's periodic reception, a recurring
    dialogue): who attended, and its minutes. ``public_minutes`` is what may be published: the minutes
    with personal data taken out, set when published."""

    __tablename__ = "reception_meetings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("reception_sessions.id"), nullable=True, index=True)
    commune_code: Mapped[int] = mapped_column(Integer, index=True)
    title: Mapped[str] = mapped_column(String(300))
    held_on: Mapped[date] = mapped_column(Date)
    chaired_by: Mapped[str] = mapped_column(String(200))
    attendance: Mapped[list[Any]] = mapped_column(default=list)  # [{"name": ..., "organisation": ...}]
    minutes: Mapped[str] = mapped_column(Text, default="")
    public_minutes: Mapped[str | None] = mapped_column(Text, nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(nullable=True)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReceptionEntry(Base):
    """A row of the reception register (Sổ tiếp công dân, Mẫu số 03/TCD of Nghị định 154/2026/NĐ-CP):
    a walk-in, a letter or a phone call an officer recorded for a citizen, with the item it was filed
    as. For a denunciation the person's identity is kept only on the item's contact (revealed through
    the audited reveal), never here."""

    __tablename__ = "reception_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    commune_code: Mapped[int] = mapped_column(Integer, index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"), nullable=True, index=True)
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("reception_meetings.id"), nullable=True, index=True)
    form: Mapped[str] = mapped_column(String(20))  # walk_in, letter, phone
    received_on: Mapped[date] = mapped_column(Date, index=True)
    person_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    person_address: Mapped[str | None] = mapped_column(Text, nullable=True)
    id_document: Mapped[str | None] = mapped_column(String(50), nullable=True)  # CCCD/hộ chiếu, column 4
    representative: Mapped[str | None] = mapped_column(String(300), nullable=True)  # người đại diện
    co_complainants: Mapped[list[Any]] = mapped_column(default=list)  # names of those with the same content
    people: Mapped[int] = mapped_column(Integer, default=1)  # column 7
    consent_noted: Mapped[bool] = mapped_column(Boolean, default=False)
    summary: Mapped[str] = mapped_column(Text)
    settled_by: Mapped[str | None] = mapped_column(String(300), nullable=True)  # column 8
    within_competence: Mapped[bool] = mapped_column(Boolean, default=True)  # column 9
    guidance: Mapped[str | None] = mapped_column(Text, nullable=True)  # column 10
    note: Mapped[str | None] = mapped_column(Text, nullable=True)  # column 13
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
