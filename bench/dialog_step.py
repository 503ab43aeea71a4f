"""Inbound dialog step through the real Telegram channel code, against python-telegram-bot's ceiling.

Each message is ``Update.de_json`` + ``Application.process_update`` on a bot whose Bot API is the
recording fake of the test suite (no network). The ceiling is the same application dispatching the
same updates to a handler that does nothing. The dialog step reads the conversation, records the
delivery, writes the new state and enqueues the reply, in one transaction; the outbox is not drained,
so this measures the inbound path only.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid

from sqlalchemy import text
from telegram import Update
from telegram.ext import ApplicationBuilder, TypeHandler

from bot.app import Runtime
from bot.settings import Settings
from storage.db import create_engine
from storage.migrate import upgrade
from tests.telegram_fake import RecordingBotAPI, button_update, text_update

MESSAGES = int(os.environ.get("BENCH_MESSAGES", "600"))
POSTGRES_ADMIN = os.environ.get("TIEPDAN_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def updates(count: int) -> list[dict]:
    """A realistic mix over many chats: /start, a language button, a commune search, /help."""
    made = []
    for n in range(count):
        chat = 10_000 + n // 4
        step = n % 4
        if step == 0:
            made.append(text_update(n + 1, chat, "/start"))
        elif step == 1:
            made.append(button_update(n + 1, chat, "lang:vi"))
        elif step == 2:
            made.append(text_update(n + 1, chat, "hoan kiem"))
        else:
            made.append(text_update(n + 1, chat, "/help"))
    return made


async def timed(application, data: list[dict]) -> list[float]:
    latencies = []
    for item in data:
        start = time.perf_counter()
        await application.process_update(Update.de_json(item, application.bot))
        latencies.append(time.perf_counter() - start)
    return latencies


async def ceiling(data: list[dict]) -> list[float]:
    api = RecordingBotAPI()
    application = ApplicationBuilder().token("123:ABC").request(api).get_updates_request(api).updater(None).build()

    async def nothing(update, context):
        return None

    application.add_handler(TypeHandler(Update, nothing))
    await application.initialize()
    try:
        return await timed(application, data)
    finally:
        await application.shutdown()


async def dialog(url: str, data: list[dict]) -> list[float]:
    settings = Settings(database_url=url, telegram_token="123:ABC", _env_file=None)
    api = RecordingBotAPI()
    runtime = Runtime(settings, telegram_request=api, telegram_get_updates_request=api, run_scheduler=False)
    await upgrade(runtime.engine)
    await runtime.telegram.application.initialize()
    try:
        return await timed(runtime.telegram.application, data)
    finally:
        await runtime.telegram.application.shutdown()
        await runtime.engine.dispose()


async def postgres_database() -> tuple[str | None, str | None]:
    name = f"tiepdan_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - the table says why the row is missing
        return None, f"{type(exc).__name__}"
    finally:
        await engine.dispose()
    return f"{POSTGRES_ADMIN.rsplit('/', 1)[0]}/{name}", name


async def drop(name: str) -> None:
    engine = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await engine.dispose()


def row(name: str, latencies: list[float], base_rate: float) -> str:
    total = sum(latencies)
    rate = len(latencies) / total
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    return f"| {name:<32} | {rate:>9.0f} | {p50:>8.2f} | {p99:>8.2f} | {rate / base_rate:>8.3f} |"


async def main() -> None:
    data = updates(MESSAGES)
    base = await ceiling(data)
    base_rate = len(base) / sum(base)
    lines = [f"Dialog step, {MESSAGES} Telegram updates, one at a time (python {sys.version.split()[0]}, "
             f"{os.cpu_count()} cores)", "",
             "| path                             | msgs/s    | p50 ms   | p99 ms   | × ceiling |",
             "|----------------------------------|-----------|----------|----------|-----------|",
             row("PTB ceiling (no-op handler)", base, base_rate)]
    with tempfile.TemporaryDirectory() as folder:
        lines.append(row("dialog step, SQLite", await dialog(f"sqlite+aiosqlite:///{folder}/bench.db", data),
                         base_rate))
    url, name = await postgres_database()
    if url:
        try:
            lines.append(row("dialog step, PostgreSQL", await dialog(url, data), base_rate))
        finally:
            await drop(name)
    else:
        lines.append(f"| dialog step, PostgreSQL          | not run: {name} |")
    print("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
