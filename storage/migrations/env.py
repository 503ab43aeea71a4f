"""Alembic environment.

``storage.migrate.upgrade`` hands in a live connection (``config.attributes["connection"]``); the
``alembic`` command line opens its own async engine from ``sqlalchemy.url`` or TIEPDAN_DATABASE_URL.
"""

import asyncio
import os

from alembic import context

from storage.db import create_engine
from storage.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return os.environ.get("TIEPDAN_DATABASE_URL") or config.get_main_option("sqlalchemy.url") or \
        "sqlite+aiosqlite:///./tiepdan.db"


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_own_engine() -> None:
    engine = create_engine(_url())
    async with engine.begin() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif config.attributes.get("connection") is not None:
    _run(config.attributes["connection"])
else:
    asyncio.run(_run_own_engine())
