"""Tables of the desk area, on the one declarative base of storage/models.py (which imports this
module at its end, so Base.metadata holds every table)."""

from __future__ import annotations

from storage.models import Base, UTCDateTime, utcnow  # noqa: F401
