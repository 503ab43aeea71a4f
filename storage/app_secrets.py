"""Secrets every serve process must share, kept in the database (``app_secrets``).

Migration 0013 makes the web chat's signing key; should the row be missing (a restored dump without
it, an emptied test database), the first process to ask makes a new one and every other process
reads that same one: the insert yields to a row another process wrote first. Inside the caller's
transaction: the caller commits."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.models import AppSecret


async def shared_secret(session, name: str) -> str:
    value = (await session.execute(select(AppSecret.value).where(AppSecret.name == name))).scalar_one_or_none()
    if value is not None:
        return value
    insert = postgres_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    await session.execute(insert(AppSecret).values(name=name, value=secrets.token_urlsafe(32))
                          .on_conflict_do_nothing(index_elements=["name"]))
    return (await session.execute(select(AppSecret.value).where(AppSecret.name == name))).scalar_one()
