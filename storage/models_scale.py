"""Tables of the scale area, on the one declarative base of storage/models.py (which imports this
module at its end, so Base.metadata holds every table)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, UTCDateTime, utcnow  # noqa: F401


class ChatSequence(Base):
    """The newest delivery handled in a chat, for channels whose delivery ids only grow (Telegram's
    ``update_id``): an older one handled after it was handled late (handlers/chat_order.py). Written
    on PostgreSQL only, where several processes may take one chat's deliveries."""

    __tablename__ = "chat_sequences"

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_sequence: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
