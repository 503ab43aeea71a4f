"""Tables of the webchat area, on the one declarative base of storage/models.py (which imports this
module at its end, so Base.metadata holds every table).

None so far: the web chat's history (both sides) lives in the outbox rows of each chat
(bot/channels/web_history.py, migration 0022)."""

from __future__ import annotations

from storage.models import Base, UTCDateTime, utcnow  # noqa: F401
