"""Tables of the province's organisation, on the one declarative base of storage/models.py (which
imports this module at its end and re-exports its classes): each commune's profile, and the oversight
boards with their observations and invites. Split from storage/models.py."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, utcnow


class CommuneProfile(Base):
    """What the province's deployment knows of one of its communes, from the import: whether it is a
    remote area (vùng sâu, vùng xa, đi lại khó khăn — longer complaint periods, Luật Khiếu nại 2011,
    Điều 9, 28, 33, 37), and, for a commune without units of its own, the province unit that takes its
    items or what its citizens are told to do instead (bot/organisation.py)."""

    __tablename__ = "commune_profiles"
    commune_code: Mapped[int] = mapped_column(Integer, primary_key=True)
    province_code: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    remote_area: Mapped[bool] = mapped_column(Boolean, default=False)
    served_by_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), nullable=True)
    refer_to: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OversightBoard(Base):
    """A people's oversight board: the Ban Thanh tra nhân dân of a commune (Luật Thực hiện dân chủ ở cơ
    sở 2022, Điều 36–40) or the Ban Giám sát đầu tư của cộng đồng of one project (Điều 41–45). Its
    members read and record observations (kiến nghị); they never act on an item."""

    __tablename__ = "oversight_boards"
    __table_args__ = (UniqueConstraint("commune_code", "name", name="uq_oversight_boards_commune_name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # inspection | investment
    commune_code: Mapped[int] = mapped_column(Integer, index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), nullable=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BoardObservation(Base):
    """A board's recorded observation (kiến nghị), which the commune answers by ``due_on``: 15 days
    from receipt for both boards (Luật Thực hiện dân chủ ở cơ sở 2022, Điều 40 khoản 1 điểm c, Điều 45
    khoản 2 điểm c); ``statutory`` False marks a period that is the commune's own target."""

    __tablename__ = "board_observations"
    __table_args__ = (Index("ix_board_observations_open_due", "due_on", postgresql_where=text("answered_at IS NULL"),
                            sqlite_where=text("answered_at IS NULL")),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    board_id: Mapped[int] = mapped_column(ForeignKey("oversight_boards.id"), index=True)
    commune_code: Mapped[int] = mapped_column(Integer, index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"), nullable=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_on: Mapped[date] = mapped_column(Date)
    rule_id: Mapped[str] = mapped_column(String(80))
    citation: Mapped[str] = mapped_column(Text)
    statutory: Mapped[bool] = mapped_column(Boolean, default=True)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(nullable=True)
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)


class BoardInvite(Base):
    """A one-time code that makes whoever redeems it a member of an oversight board, as ``Invite``
    does for a unit. Only a hash of the code is stored; it expires and works once."""

    __tablename__ = "board_invites"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    board_id: Mapped[int] = mapped_column(ForeignKey("oversight_boards.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    used_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
