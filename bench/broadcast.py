"""Broadcast: an announcement to every subscriber, delivered through a Bot API that enforces Telegram's limits.

A leader's announcement is written to the outbox the way the bot does it (``bot.publishing.announce``:
one transaction, one row per subscriber with its dedupe key). Then a real tiepdan runtime
(``Runtime.start``: the OutboxDispatcher, the TelegramSender through python-telegram-bot with
the rate limiter ``build_application`` configures, polling on) delivers it to
``bench/fake_bot_api.py``, which allows 30 messages in any one-second window and one message a
second per chat, and answers anything more with 429 and ``retry_after``.

Reported: the sustained delivery rate against the 30/s limit, the 429s the fake had to answer,
duplicates (a chat given the announcement twice) and missing subscribers.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from dataclasses import dataclass, replace
from unittest import mock

from sqlalchemy import func, insert, select
from telegram.ext import AIORateLimiter

import bot.channels.pacing as pacing
import bot.channels.telegram as telegram_channel

from bench.common import DatabaseUnavailable, Table, database, run_alone
from bench.fake_bot_api import FakeBotAPIProcess
from bot.app import Runtime
from bot.publishing import announce
from bot.settings import Settings
from storage.demo import DEMO_COMMUNE, seed_demo
from storage.models import ChannelIdentity, OutboxMessage, Subscription, User

TOKEN = "123:ABC"
LIMIT = 30                 # messages a second, overall (Telegram's broadcast limit)
TARGET_RATE = 0.95         # × LIMIT
FIRST_CHAT = 30_000_000
ANNOUNCEMENT = "Thông báo: tạm ngừng cấp nước khu vực phố Hàng Bạc từ 8h đến 11h sáng thứ Bảy."
LABELS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
# How the overall limit is paced. «production» is build_application's limiter (bot.channels.telegram.
# rate_limiter: bot.channels.pacing's sliding window, at most 30 messages counted in any second).
# «ptb-default» is python-telegram-bot's AIORateLimiter(): a bucket holding 30, so its first second
# carries up to 59.
LIMITERS = {
    "production": (f"rate_limiter(): SlidingWindowLimiter(per_window=30, window=1.0, margin={pacing.MARGIN})",
                   telegram_channel.rate_limiter),
    "ptb-default": ("AIORateLimiter()", AIORateLimiter),
}


@dataclass
class Options:
    subscribers: int = 10_000
    database: str = "postgresql"
    limiters: tuple[str, ...] = ("production", "ptb-default")

    @classmethod
    def quick(cls) -> "Options":
        return cls(subscribers=60, limiters=("production",))


async def seed_subscribers(runtime: Runtime, count: int) -> list[int]:
    """``count`` citizens of the demo ward on Telegram, each subscribed to its reception schedule."""
    chats = list(range(FIRST_CHAT, FIRST_CHAT + count))
    users = User.__table__
    async with runtime.engine.begin() as connection:
        citizens = [{"language": "en" if chat % 10 == 0 else "vi", "commune_code": DEMO_COMMUNE, "role": "citizen"}
                    for chat in chats]
        user_ids = (await connection.execute(
            insert(users).returning(users.c.id, sort_by_parameter_order=True), citizens)).scalars().all()
        await connection.execute(insert(ChannelIdentity.__table__), [
            {"channel": "telegram", "external_id": str(chat), "user_id": uid, "last_chat_id": str(chat)}
            for chat, uid in zip(chats, user_ids)])
        await connection.execute(insert(Subscription.__table__), [
            {"user_id": uid, "topic": "reception", "commune_code": DEMO_COMMUNE} for uid in user_ids])
    return chats


async def pending_announcements(runtime: Runtime) -> tuple[int, int]:
    """(rows still to send, rows failed) of the announcement."""
    async with runtime.uows() as uow:
        rows = await uow.session.execute(
            select(OutboxMessage.status, func.count()).where(OutboxMessage.dedupe_key.like("announce:%"))
            .group_by(OutboxMessage.status))
        counts = dict(rows.all())
    return counts.get("pending", 0) + counts.get("sending", 0), counts.get("failed", 0)


async def broadcast(url: str, subscribers: int, limiter: str) -> dict:
    fake = FakeBotAPIProcess(overall_per_second=LIMIT, per_chat_interval=1.0)
    base_url = await fake.start()
    settings = Settings(database_url=url, telegram_token=TOKEN, telegram_base_url=base_url, _env_file=None)
    with mock.patch.object(telegram_channel, "rate_limiter", LIMITERS[limiter][1]):
        runtime = Runtime(settings, run_scheduler=False)
    try:
        await seed_demo(runtime.uows, settings)
        chats = await seed_subscribers(runtime, subscribers)
        started = time.monotonic()
        async with runtime.uows() as uow:
            leader = (await uow.session.execute(
                select(User).where(User.role == "leader", User.commune_code == DEMO_COMMUNE))).scalars().first()
            queued = await announce(uow, leader, ANNOUNCEMENT, publication_key="bench")
            await uow.commit()
        enqueue_seconds = time.monotonic() - started
        if queued != subscribers:
            raise RuntimeError(f"announce queued {queued} messages for {subscribers} subscribers")
        started = time.monotonic()
        await runtime.start(migrate=False)
        deadline = started + subscribers / LIMIT * 3 + 60
        while True:
            await asyncio.sleep(0.5)
            left, failed = await pending_announcements(runtime)
            if not left or time.monotonic() > deadline:
                break
        delivery_seconds = time.monotonic() - started
        stats = await fake.stats()
    finally:
        await runtime.stop()
        await fake.stop()
    wanted = set(chats)
    got = [(at, chat) for at, chat, text in stats["delivered"] if chat in wanted and ANNOUNCEMENT in text]
    span = got[-1][0] - got[0][0] if len(got) > 1 else 0.0
    rate = (len(got) - 1) / span if span else 0.0
    delivered_chats = {chat for _, chat in got}
    return {"subscribers": subscribers, "enqueue_s": enqueue_seconds, "delivery_s": delivery_seconds,
            "delivered": len(got), "rate": rate, "ratio": rate / LIMIT, "rejected_429": sum(stats["refused"].values()),
            "refused": stats["refused"], "duplicates": len(got) - len(delivered_chats),
            "missing": len(wanted - delivered_chats), "failed_rows": failed, "left_rows": left,
            "busiest_second": _busiest_second([at for at, _ in got])}


def _busiest_second(times: list[float]) -> int:
    """The most messages accepted in any one-second window (the fake never lets it pass 30)."""
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


async def run(options: Options) -> list[Table]:
    logging.getLogger("telegram.ext").setLevel(logging.WARNING)
    # Each 429 is also logged with a traceback by AIORateLimiter (max_retries=0); the table counts them.
    logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)
    table = Table(
        "broadcast", f"Broadcast: one announcement to {options.subscribers:,} subscribers through a Bot API "
                     f"enforcing {LIMIT}/s overall and 1/s per chat",
        ["overall pacing", "database", "enqueue s", "delivery s", "sustained msgs/s", "× limit", "busiest second",
         "429s", "duplicates", "missing", "target"])
    for limiter in options.limiters:
        label = f"{limiter}: {LIMITERS[limiter][0]}"
        with tempfile.TemporaryDirectory() as folder:
            try:
                async with database(options.database, folder) as url:
                    result = await broadcast(url, options.subscribers, limiter)
            except DatabaseUnavailable as exc:
                table.add(label, LABELS[options.database], f"not run: {exc}")
                continue
        met = (result["ratio"] >= TARGET_RATE and not result["rejected_429"] and not result["duplicates"]
               and not result["missing"])
        table.add(label, LABELS[options.database], result["enqueue_s"], result["delivery_s"], result["rate"],
                  result["ratio"], result["busiest_second"], result["rejected_429"], result["duplicates"],
                  result["missing"], "met" if met else "missed")
        table.figures[limiter] = result
        if result["rejected_429"]:
            table.notes.append(f"{limiter}: 429s by limit {result['refused']}.")
    table.notes.insert(0, f"Target: sustained rate ≥ {TARGET_RATE} × {LIMIT}/s, zero 429s, zero duplicates, zero "
                          "missing. Sustained = messages accepted ÷ time from the first to the last. «enqueue»: the "
                          "leader's transaction writing every row (bot.publishing.announce). Rows other than "
                          "«production» are not production code: build_application with that limiter instead.")
    return [table]


def parse(argv: list[str] | None = None) -> tuple[Options, argparse.Namespace]:
    parser = argparse.ArgumentParser(prog="python3 -m bench.broadcast", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="60 subscribers, production pacing only")
    parser.add_argument("--subscribers", type=int, help="default 10000 (about six minutes at 30/s)")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), help="default postgresql")
    parser.add_argument("--limiter", choices=tuple(LIMITERS), action="append",
                        help="overall pacing to measure (repeatable; default both)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    options = Options.quick() if args.quick else Options()
    if args.subscribers:
        options = replace(options, subscribers=args.subscribers)
    if args.db:
        options = replace(options, database=args.db)
    if args.limiter:
        options = replace(options, limiters=tuple(args.limiter))
    return options, args


def main(argv: list[str] | None = None) -> None:
    run_alone(parse, run, argv)


if __name__ == "__main__":
    main()
