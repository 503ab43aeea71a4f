"""Tables of the public area, on the one declarative base of storage/models.py (which imports this
module at its end, so Base.metadata holds every table).

Besides the tables, one session hook (``_note_public_changes``) that every writer passes through,
whoever it is (the importer, the chat's leader, the console): a flush that touches what a commune
publishes bumps that commune's row of ``public_changes`` (the public pages' cache asks it, one
primary-key read, instead of re-reading everything), and a reception session whose time, place,
receiver or status changes gets a higher ``sequence`` (RFC 5545 SEQUENCE: a subscribed calendar
replaces its copy of the event, bot/public/ical.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String, Text, UniqueConstraint, event, inspect, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.models import (
    Base,
    Consultation,
    Disclosure,
    Project,
    ProjectUpdate,
    ReceptionSession,
    UTCDateTime,  # noqa: F401
    utcnow,
)


class PublicChange(Base):
    """The last change to what a commune publishes: ``version`` goes up with every one."""

    __tablename__ = "public_changes"
    commune_code: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Announcement(Base):
    """An announcement (thông báo) a leader sent to the commune's subscribers, kept so the public
    pages and the RSS/Atom feeds list it. ``key`` is the publication's own key (one per message), so
    publishing the same message again keeps one row."""

    __tablename__ = "announcements"
    __table_args__ = (UniqueConstraint("commune_code", "key", name="uq_announcements_commune_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    commune_code: Mapped[int] = mapped_column(Integer, index=True)
    key: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Open311Key(Base):
    """A key another system posts Open311 service requests with, for one commune. Only a SHA-256 of
    the key is kept; it is shown once, when ``tiepdan admin open311-key`` issues it."""

    __tablename__ = "open311_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    commune_code: Mapped[int] = mapped_column(Integer, index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class PublicFile(Base):
    """A document of a disclosure or a photo of a project, imported with it (bot/public/files.py) and
    served at /c/<commune>/files/<id>/<filename> with its own type. Kept in the database, like the web
    chat's photos, so no file lives only on one server's disk."""

    __tablename__ = "public_files"
    __table_args__ = (UniqueConstraint("owner", "owner_id", "filename", name="uq_public_files_owner_filename"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    commune_code: Mapped[int] = mapped_column(Integer, index=True)
    owner: Mapped[str] = mapped_column(String(20))  # disclosure | project
    owner_id: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# Weak references to what is told the communes whose publications a commit changed (the public pages'
# caches in this process).
PUBLIC_CHANGE_LISTENERS: list = []
PUBLISHED = (ReceptionSession, Disclosure, Project, Consultation, Announcement, PublicFile)
# What a calendar shows of a session: a change to any of them is a new SEQUENCE.
SESSION_FIELDS = ("starts_at", "ends_at", "place", "receiver", "recurrence", "status", "online_url", "topics")


@event.listens_for(Session, "before_flush")
def _note_public_changes(session: Session, flush_context, instances) -> None:
    communes: set[int] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, PUBLISHED):
            if obj in session.dirty and not session.is_modified(obj, include_collections=False):
                continue
            communes.add(obj.commune_code)
        elif isinstance(obj, ProjectUpdate):
            project = session.get(Project, obj.project_id) if obj.project_id is not None else None
            if project is not None:
                communes.add(project.commune_code)
        if isinstance(obj, ReceptionSession) and obj in session.dirty:
            state = inspect(obj)
            if any(state.attrs[name].history.has_changes() for name in SESSION_FIELDS):
                obj.sequence = (obj.sequence or 0) + 1
                obj.updated_at = utcnow()
    communes.discard(None)
    if communes:
        bump_versions(session, sorted(communes))
        session.info.setdefault("public_changed", set()).update(communes)


@event.listens_for(Session, "after_commit")
def _tell_public_caches(session: Session) -> None:
    changed = session.info.pop("public_changed", None)
    if changed:
        for reference in list(PUBLIC_CHANGE_LISTENERS):
            listener = reference()
            if listener is None:
                PUBLIC_CHANGE_LISTENERS.remove(reference)
            else:
                listener(changed)


@event.listens_for(Session, "after_soft_rollback")
def _forget_public_changes(session: Session, previous_transaction) -> None:
    session.info.pop("public_changed", None)


def bump_versions(session: Session, communes: list[int]) -> None:
    """One more version for each commune, its row made on first use (two processes making it at once:
    the loser's insert does nothing and its update then finds the row)."""
    connection, now, table = session.connection(), utcnow(), PublicChange.__table__
    dialect = connection.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    for code in communes:
        bump = update(table).where(table.c.commune_code == code).values(version=table.c.version + 1, changed_at=now)
        if connection.execute(bump).rowcount:
            continue
        made = connection.execute(insert(table).values(commune_code=code, version=1, changed_at=now)
                                  .on_conflict_do_nothing(index_elements=["commune_code"]))
        if not made.rowcount:
            connection.execute(bump)
