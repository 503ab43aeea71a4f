"""Tables. Timestamps are stored as timezone-aware UTC; dates (deadlines) as calendar dates."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime on every database. PostgreSQL keeps the zone; SQLite stores text without
    one and would hand back a naive value that ``astimezone`` reads as the host's local time."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: UTCDateTime()}


class Unit(Base):
    """A unit of a commune/ward people's committee (văn phòng, địa chính, ...), or of the province's
    (ban tiếp công dân, thanh tra tỉnh): a province unit has no commune and names its province."""

    __tablename__ = "units"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    commune_code: Mapped[int | None] = mapped_column(Integer, index=True, nullable=True)  # NULL: the province's
    name: Mapped[str] = mapped_column(String(200))
    is_fallback: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A province unit: its province; as a fallback it takes the items of the province's communes that
    # have no unit of their own, and it may take second complaints (Luật Khiếu nại 2011, Điều 7).
    province_code: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    takes_second_complaints: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))

    @property
    def at_province(self) -> bool:
        return self.commune_code is None


class User(Base):
    __tablename__ = "users"
    # The sweep and new-item notices look up a unit's staff by role.
    __table_args__ = (Index("ix_users_unit_role", "unit_id", "role"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    language: Mapped[str] = mapped_column(String(5), default="vi")
    commune_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    role: Mapped[str] = mapped_column(String(20), default="citizen")
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), nullable=True)
    display_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    identities: Mapped[list["ChannelIdentity"]] = relationship(back_populates="user")
    # A member of an oversight board (bot/oversight.py): the board is their scope, as a unit is an officer's.
    board_id: Mapped[int | None] = mapped_column(ForeignKey("oversight_boards.id"), nullable=True)


class ChannelIdentity(Base):
    """How a user is known on one channel: (telegram, 12345), (zalo, ...), (web, <cookie id>)."""

    __tablename__ = "channel_identities"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_channel_identities_channel_external"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    last_chat_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    user: Mapped[User] = relationship(back_populates="identities")


class Consent(Base):
    """Consent to process personal data for one purpose (Law 91/2025/QH15 on personal data)."""

    __tablename__ = "consents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(50))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ConversationState(Base):
    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "chat_id", name="uq_conversations_channel_chat"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    flow: Mapped[str] = mapped_column(String(50))
    step: Mapped[str] = mapped_column(String(50))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    expected_buttons: Mapped[list[Any]] = mapped_column(default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RoutingRule(Base):
    """category × commune → unit. A null category or commune matches any; the most specific wins."""

    __tablename__ = "routing_rules"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    commune_code: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    category: Mapped[str | None] = mapped_column(String(50), nullable=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))


class Item(Base):
    """A petition: phản ánh/kiến nghị, khiếu nại (lần 1, lần 2) or tố cáo."""

    __tablename__ = "items"
    # The morning digest counts each unit's items not yet taken up: a partial index keeps that to the
    # received items (an index-only scan) however many items the commune has ever had.
    __table_args__ = (Index("ix_items_received_unit", "unit_id", postgresql_where=text("status = 'received'"),
                            sqlite_where=text("status = 'received'")),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tracking_code: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    category: Mapped[str] = mapped_column(String(50))
    commune_code: Mapped[int] = mapped_column(Integer, index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), nullable=True, index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True, index=True)
    channel: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    description: Mapped[str] = mapped_column(Text)
    photos: Mapped[list[Any]] = mapped_column(default=list)
    latitude: Mapped[float | None] = mapped_column(nullable=True)
    longitude: Mapped[float | None] = mapped_column(nullable=True)
    address: Mapped[str | None] = mapped_column(Text, nullable=True)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    remote_area: Mapped[bool] = mapped_column(Boolean, default=False)
    complex_case: Mapped[bool] = mapped_column(Boolean, default=False)
    extensions: Mapped[int] = mapped_column(Integer, default=0)
    # The finding that drives a denunciation's second extension (Luật Tố cáo 2018, Điều 30 khoản 3).
    especially_complex: Mapped[bool] = mapped_column(Boolean, default=False)
    # A denunciation checked at several places: 10 working days for its intake (Điều 24 khoản 1).
    several_places: Mapped[bool] = mapped_column(Boolean, default=False)
    # Tạm đình chỉ: the day the running suspension began (None while the clock runs), and the days
    # earlier suspensions kept the resolution period standing still.
    suspended_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    paused_days: Mapped[int] = mapped_column(Integer, default=0)
    # The day the complainant says they received or learned of the decision (Luật Khiếu nại 2011, Điều 9).
    learned_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"), nullable=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    satisfied: Mapped[bool | None] = mapped_column(Boolean, nullable=True)  # the citizen's rating of the answer
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}


class ItemContact(Base):
    """The petitioner's identity, kept apart so a denouncer's file can be handed out redacted."""

    __tablename__ = "item_contacts"
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), primary_key=True)
    full_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    address: Mapped[str | None] = mapped_column(Text, nullable=True)
    phone: Mapped[str | None] = mapped_column(String(50), nullable=True)
    email: Mapped[str | None] = mapped_column(String(200), nullable=True)


class ItemDeadline(Base):
    """A legal or target deadline of an item, with its basis; ``done_at`` set when met or cancelled."""

    __tablename__ = "item_deadlines"
    __table_args__ = (Index("ix_item_deadlines_open_due", "due_on", postgresql_where=text("done_at IS NULL"),
                            sqlite_where=text("done_at IS NULL")),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    phase: Mapped[str] = mapped_column(String(30))
    due_on: Mapped[date] = mapped_column(Date)
    rule_id: Mapped[str] = mapped_column(String(80))
    citation: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ItemEvent(Base):
    """Append-only audit trail of an item: every move, who made it, why."""

    __tablename__ = "item_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    action: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ReceptionSession(Base):
    """A citizen-reception session (lịch tiếp công dân), one-off or recurring (RFC 5545 RRULE)."""

    __tablename__ = "reception_sessions"
    __table_args__ = (UniqueConstraint("commune_code", "key", name="uq_reception_sessions_commune_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    commune_code: Mapped[int] = mapped_column(Integer, index=True)
    receiver: Mapped[str] = mapped_column(String(200))
    place: Mapped[str] = mapped_column(String(300))
    topics: Mapped[str | None] = mapped_column(Text, nullable=True)
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    recurrence: Mapped[str | None] = mapped_column(String(200), nullable=True)
    online_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="scheduled")
    published_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # A commune's own name for the session, so a later import can move it (a postponement) instead of
    # adding a second session; and the time it was moved from, shown in the postponement notice.
    key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    moved_from: Mapped[datetime | None] = mapped_column(nullable=True)
    # RFC 5545 SEQUENCE and when it last went up: raised by every change a calendar shows (time, place,
    # receiver, status), whoever makes it (storage/models_public.py), so a subscribed phone follows it.
    sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Disclosure(Base):
    """A public disclosure (công khai) under Law 10/2022/QH15 Đ.11."""

    __tablename__ = "disclosures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    commune_code: Mapped[int] = mapped_column(Integer, index=True)
    category: Mapped[str] = mapped_column(String(50))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    decided_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    board_until: Mapped[date | None] = mapped_column(Date, nullable=True)


class Project(Base):
    """A public investment project with status, progress, budget and a dated timeline."""

    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    commune_code: Mapped[int] = mapped_column(Integer, index=True)
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(30), default="planned")
    progress_percent: Mapped[int] = mapped_column(Integer, default=0)
    budget_vnd: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    starts_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    ends_on: Mapped[date | None] = mapped_column(Date, nullable=True)


class ProjectUpdate(Base):
    __tablename__ = "project_updates"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    on: Mapped[date] = mapped_column(Date)
    progress_percent: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text)


class Consultation(Base):
    """A consultation (lấy ý kiến) of the people under Law 10/2022/QH15; runs at least 20 days."""

    __tablename__ = "consultations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    commune_code: Mapped[int] = mapped_column(Integer, index=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    options: Mapped[list[Any]] = mapped_column(default=list)
    opens_at: Mapped[datetime] = mapped_column()
    closes_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(20), default="open")
    # When a leader actually closed it, and why, if before ``closes_at`` (shown with the result).
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    close_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class ConsultationVote(Base):
    __tablename__ = "consultation_votes"
    __table_args__ = (UniqueConstraint("consultation_id", "user_id", name="uq_consultation_votes_user"),
                      UniqueConstraint("consultation_id", "voter_key", name="uq_consultation_votes_voter"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    option: Mapped[str] = mapped_column(String(100))
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    voted_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The official tally counts verified residents only, one vote a person (bot/domain/voters.py):
    # ``voter_key`` names that person, so their second identity's vote replaces the first.
    tally: Mapped[str] = mapped_column(String(20), default="unverified", server_default="unverified")
    voter_key: Mapped[str | None] = mapped_column(String(80), nullable=True)


class Resident(Base):
    """A citizen known to be a real person of the commune, so their consultation votes are official:
    by a phone number their platform vouched for as their own (only a keyed hash of the E.164 number
    is kept, never the number) or checked in person by an officer of the commune (bot/residents.py)."""

    __tablename__ = "residents"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    phone_digest: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    phone_channel: Mapped[str | None] = mapped_column(String(20), nullable=True)
    phone_verified_at: Mapped[datetime | None] = mapped_column(nullable=True)
    checked_in_commune: Mapped[int | None] = mapped_column(Integer, nullable=True)
    checked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    checked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Subscription(Base):
    """A user's wish to be told of a topic (reception schedule, disclosures, a project) in a commune."""

    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("user_id", "topic", "commune_code", name="uq_subscriptions_user_topic"),
                      Index("ix_subscriptions_topic_commune", "topic", "commune_code"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    topic: Mapped[str] = mapped_column(String(50))
    commune_code: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxMessage(Base):
    """A message to send, written in the transaction that causes it; the dispatcher delivers it once."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "next_attempt_at", postgresql_where=text("status IN ('pending', 'sending')"),
                            sqlite_where=text("status IN ('pending', 'sending')")),
                      Index("ix_outbox_chat", "channel", "chat_id", "id"),
                      # Claiming, chat by chat: the open messages oldest first, replies before broadcast
                      # copies, and each chat's own in order (is there an earlier one?) without its history.
                      Index("ix_outbox_open_queue", "channel", "bulk", "id",
                            postgresql_where=text("status IN ('pending', 'sending')"),
                            sqlite_where=text("status IN ('pending', 'sending')")),
                      Index("ix_outbox_open_chat", "channel", "chat_id", "id",
                            postgresql_where=text("status IN ('pending', 'sending')"),
                            sqlite_where=text("status IN ('pending', 'sending')")),
                      # Held messages wait for the chat's next interaction, which looks them up.
                      Index("ix_outbox_held", "channel", "chat_id", postgresql_where=text("status = 'held'"),
                            sqlite_where=text("status = 'held'")),
                      # Ids are the web chat's read cursor, so they must never be reused (SQLite would
                      # reuse the highest ids after /privacy deletes a chat's history).
                      {"sqlite_autoincrement": True})
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column()
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    parts_sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # of a reply split in parts
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The item a notification is about, so the item's timeline can say when it could not be delivered.
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"), nullable=True, index=True)
    # One of many copies of a publication or a scheduled notice: sent after the replies and notices
    # of people using the bot, so a broadcast never holds back someone's conversation.
    bulk: Mapped[bool] = mapped_column(default=False, server_default=text("false"))


class ResponseTemplate(Base):
    """A one-tap answer an officer can send, per action, kind and category (NULL: any), per commune.
    Imported by a commune; when a commune has none for an action, bot.templates' defaults apply."""

    __tablename__ = "response_templates"
    __table_args__ = (UniqueConstraint("commune_code", "key", name="uq_response_templates_commune_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    commune_code: Mapped[int] = mapped_column(Integer, index=True)
    key: Mapped[str] = mapped_column(String(50))
    action: Mapped[str] = mapped_column(String(30))
    kind: Mapped[str | None] = mapped_column(String(30), nullable=True)
    category: Mapped[str | None] = mapped_column(String(50), nullable=True)  # NULL: any category
    text: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(default=True)


class ProcessedUpdate(Base):
    """Inbound deliveries already handled, so a redelivery is acknowledged and ignored."""

    __tablename__ = "processed_updates"
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    update_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class CommuneCategory(Base):
    """A commune's own petition category; when a commune has none, the defaults in bot.categories apply."""

    __tablename__ = "categories"
    __table_args__ = (UniqueConstraint("commune_code", "key", name="uq_categories_commune_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    commune_code: Mapped[int] = mapped_column(Integer, index=True)
    key: Mapped[str] = mapped_column(String(50))
    label_vi: Mapped[str] = mapped_column(String(100))
    label_en: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ReceptionRegistration(Base):
    """A citizen's registration to attend one occurrence of a reception session."""

    __tablename__ = "reception_registrations"
    __table_args__ = (UniqueConstraint("session_id", "occurs_at", "user_id", name="uq_reception_registrations_user"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("reception_sessions.id"), index=True)
    occurs_at: Mapped[datetime] = mapped_column()
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    topic: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Attachment(Base):
    """A photo uploaded through the web chat, kept in the database so nothing lives only on one disk.
    Items refer to it as ``web:<key>``; the key is random and unguessable."""

    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(50))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A copy of a photo sent through Zalo: the CDN link it was copied from (provenance).
    source_url: Mapped[str | None] = mapped_column(Text, nullable=True)


class AppSecret(Base):
    """Secrets every serve process must share (the key that signs web chat ids), made by the migration."""

    __tablename__ = "app_secrets"
    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


# Later areas keep their tables in modules of their own; importing them here puts every table in
# Base.metadata (the test fixtures empty the database from it).
from storage import (  # noqa: E402,F401
    models_desk,
    models_public,
    models_scale,
    models_webchat,
    models_zalo,
)

# Tables moved out of this module stay importable from it.
from storage.models_org import (  # noqa: E402,F401
    BoardInvite,
    BoardObservation,
    CommuneProfile,
    OversightBoard,
)
from storage.models_staff import Invite, StaffEvent, StaffSession  # noqa: E402,F401
from storage.models_zalo import ZaloToken, ZaloUnfollow  # noqa: E402,F401
