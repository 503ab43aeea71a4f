"""Tables of the zalo area, on the one declarative base of storage/models.py (which imports this
module at its end, so Base.metadata holds every table).

- ``zalo_template_notices``: every template notice (ZNS) sent for a notice held by the 7-day window,
  keyed by its tracking id (the outbox message's dedupe key), so a crash between Zalo's answer and
  our commit never sends it twice, and so each commune's cost can be reported.
- ``zalo_charged_messages``: ordinary OA messages sent 48 hours to 7 days after the citizen last
  wrote, which Zalo bills; one row per outbox message, counted per commune.
- ``zalo_notice_templates``: each commune's approved templates, per notice type (the import file).
- ``zalo_oauth_states``: the PKCE verifier of a pending ``tiepdan zalo authorize``, by a hash of its
  state; short-lived and single use.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, UTCDateTime, utcnow  # noqa: F401


class ZaloTemplateNotice(Base):
    """One template notice (ZNS) for one held outbox message. ``status``: ``sending`` (claimed, the
    call may have reached Zalo), ``retry``, ``sent``, ``failed`` (Zalo refused it for good; the
    message stays held for the chat), ``skipped`` (no template configured for it, or no usable phone).
    ``sent_on`` is the commune's local date, the day reports count it on."""

    __tablename__ = "zalo_template_notices"
    __table_args__ = (Index("ix_zalo_template_notices_commune_day", "commune_code", "sent_on"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tracking_id: Mapped[str] = mapped_column(String(200), unique=True)
    outbox_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    item_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    commune_code: Mapped[int] = mapped_column(Integer)
    notice_type: Mapped[str] = mapped_column(String(40))
    template_id: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20), default="sending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # ``sending``: when the claim lapses (its process died); ``retry``: when to try again.
    next_attempt_at: Mapped[datetime | None] = mapped_column(nullable=True)
    msg_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    error_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cost_vnd: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)
    sent_on: Mapped[date | None] = mapped_column(Date, nullable=True)


class ZaloChargedMessage(Base):
    """One OA message Zalo charges for: sent 48 hours to 7 days after the citizen's last interaction
    (each part of a split reply is a message of its own). ``sent_on``: the commune's local date."""

    __tablename__ = "zalo_charged_messages"
    __table_args__ = (Index("ix_zalo_charged_messages_commune_day", "commune_code", "sent_on"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    commune_code: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_on: Mapped[date] = mapped_column(Date)


class ZaloNoticeTemplate(Base):
    """A template Zalo approved for one notice type of one commune (import file, section
    ``zalo_templates``): which template, what a send costs, the names of its parameters, and whether
    the commune sends it instead of a charged OA message (48 hours to 7 days after the last interaction)."""

    __tablename__ = "zalo_notice_templates"
    __table_args__ = (UniqueConstraint("commune_code", "notice", name="uq_zalo_notice_templates_commune_notice"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    commune_code: Mapped[int] = mapped_column(Integer)
    notice: Mapped[str] = mapped_column(String(30))
    template_id: Mapped[str] = mapped_column(String(50))
    price_vnd: Mapped[int] = mapped_column(Integer, default=0)
    code_param: Mapped[str] = mapped_column(String(50), default="ma_ho_so")
    date_param: Mapped[str | None] = mapped_column(String(50), nullable=True)
    status_param: Mapped[str | None] = mapped_column(String(50), nullable=True)
    in_charged_band: Mapped[bool] = mapped_column(Boolean, default=False)


class ZaloOAuthState(Base):
    """A pending OAuth v4 authorisation: the PKCE code verifier, found by a hash of the state sent to
    Zalo (the state itself is never stored), used at most once before it expires."""

    __tablename__ = "zalo_oauth_states"
    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    app_id: Mapped[str] = mapped_column(String(50))
    code_verifier: Mapped[str] = mapped_column(Text)
    redirect_uri: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ZaloToken(Base):
    """The Zalo Official Account's OAuth pair. Refresh tokens are single-use and rotate, so the new
    pair replaces the old one in the same transaction that holds the row's lock (bot/channels/zalo_api.py).
    ``seeded_from`` is a hash of the configured refresh token: configuring a new one re-seeds the row."""

    __tablename__ = "zalo_tokens"
    app_id: Mapped[str] = mapped_column(String(50), primary_key=True)
    access_token: Mapped[str | None] = mapped_column(Text, nullable=True)
    refresh_token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)  # NULL: unknown, used until refused
    seeded_from: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ZaloUnfollow(Base):
    """A Zalo user who unfollowed the Official Account: messages to them are held, not attempted,
    until they interact again (the row is then deleted)."""

    __tablename__ = "zalo_unfollows"
    user_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    unfollowed_at: Mapped[datetime] = mapped_column(default=utcnow)
