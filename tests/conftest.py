"""Fixtures shared by every ring of tests.

``db_url`` runs a test on SQLite and on PostgreSQL. PostgreSQL tests use a throwaway database on
TIEPDAN_TEST_POSTGRES (default: postgres@127.0.0.1:5432), created and migrated once per run and
emptied before each test. When PostgreSQL cannot be reached the tests fail under CI=true and are
skipped with a loud reason elsewhere.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.settings import Settings
from storage.db import create_engine
from storage.migrate import upgrade
from storage.models import Base

POSTGRES_ADMIN = os.environ.get("TIEPDAN_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def _admin(statement: str) -> None:
    engine = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_database():
    name = f"tiepdan_test_{uuid.uuid4().hex[:10]}"
    base = POSTGRES_ADMIN.rsplit("/", 1)[0]
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server means the same
        message = f"PostgreSQL unreachable at {POSTGRES_ADMIN}: {type(exc).__name__}: {exc}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    url = f"{base}/{name}"
    asyncio.run(_migrate(url))
    yield url
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _empty_postgres(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path, sqlite_template) -> str:
    """A migrated, empty database: a copy of the SQLite template, or the emptied PostgreSQL one."""
    if request.param == "sqlite":
        path = tmp_path / "tiepdan.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    url = request.getfixturevalue("postgres_database")
    asyncio.run(_empty_postgres(url))
    return url


@pytest.fixture
def settings(db_url) -> Settings:
    # Tests talk far faster than a person types; the flood limit has its own tests (test_bad_input.py).
    return Settings(database_url=db_url, flood_burst=100_000, flood_rate=10_000, flood_address_burst=1_000_000,
                    flood_address_rate=100_000, _env_file=None)


@pytest.fixture
async def runtime(settings):
    """A running tiepdan (no scheduler) with the demo ward seeded."""
    from bot.app import Runtime
    from storage.demo import seed_demo

    runtime = Runtime(settings, run_scheduler=False)
    await runtime.start(migrate=False)
    await seed_demo(runtime.uows, settings)
    yield runtime
    await runtime.stop()


@pytest.fixture
async def citizen(runtime):
    """A web chat tab that has chosen Vietnamese and Phường Hoàn Kiếm and sits at the main menu."""
    from aiohttp.test_utils import TestClient, TestServer

    from tests.webchat import Browser, reach_menu

    async with TestClient(TestServer(runtime.web_app)) as client:
        tab = Browser(client)
        await reach_menu(tab)
        yield tab
