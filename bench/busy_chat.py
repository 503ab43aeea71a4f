"""Busy chat: how fast citizens are answered while one officer's chat has 1,000 notices queued.

Telegram takes about one message a second in a chat, and the dispatcher paces each chat so
(scheduler.outbox.ChatPacer). Issue 14 (item 2): when a claimed batch waited for its slowest chat,
150 new-item notices queued for one officer held a citizen's /start answer for 97 s. The dispatcher
now schedules chat by chat; this measures it.

A real tiepdan runtime (``Runtime.start``: the OutboxDispatcher, the TelegramSender through
python-telegram-bot with the rate limiter ``build_application`` configures, polling) talks to
``bench/fake_bot_api.py`` in a process of its own, which allows 30 messages in any second and one a
second per chat, and answers anything more with 429. Citizens, each in a chat of their own, write
/start at a steady rate (open loop, queued at the fake for polling). A citizen's latency runs from
queueing the update to the fake accepting the answer: both are ``time.monotonic()``, one clock for
every process on Linux. Two runs per database, each on a fresh database and a fresh fake:

- *baseline*: the citizens alone;
- *busy*: first the notices of 1,000 new items for one officer's chat, written as bot.petitions
  writes them (one transaction, its dedupe keys and text), the officer's first ones sent, then the
  same citizens.

Reported: the citizens' p50, p99 and slowest latency, p99 against the baseline's of the same run,
the officer's notices delivered meanwhile (in their order? none twice? most in any one second),
the 429s the fake answered, and the target: p99 under 2 s while the officer's chat is busy.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import tempfile
import time
from dataclasses import dataclass, replace

from bench.broadcast import _busiest_second
from bench.common import DATABASES, DatabaseUnavailable, Table, database, percentile, run_alone
from bench.fake_bot_api import FakeBotAPIProcess
from bot.app import Runtime
from bot.domain.dialog import Button, Reply
from bot.settings import Settings
from bot.texts import t
from storage.demo import seed_demo
from tests.telegram_fake import text_update

TOKEN = "123:ABC"
LIMIT = 30                 # messages a second, overall (the fake enforces Telegram's limits)
TARGET_P99 = 2.0           # seconds, a citizen's answer while the officer's chat is busy
OFFICER_CHAT = 6_660_001
FIRST_CITIZEN = 50_000_000
LABELS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


@dataclass
class Options:
    citizens: int = 100
    rate: float = 5.0          # citizens writing a second
    notices: int = 1_000
    databases: tuple[str, ...] = DATABASES

    @classmethod
    def quick(cls) -> "Options":
        return cls(citizens=10, rate=10.0, notices=100)


def notice(n: int) -> Reply:
    """The new-item notice an officer gets (bot.petitions._tell_units), for item number ``n``."""
    text = t("vi", "officer.new_item", code=f"PA-{n:05d}", kind=t("vi", "kind.feedback"), due="15/12/2026")
    return Reply(text, ((Button(t("vi", "officer.open"), f"g:oi:{n}"),),))


async def queue_notices(runtime: Runtime, count: int) -> None:
    async with runtime.uows() as uow:
        await uow.outbox.enqueue_many([("telegram", str(OFFICER_CHAT), notice(n), f"new-item:{n}:7:telegram")
                                       for n in range(count)])
        await uow.commit()


async def measure(url: str, options: Options, busy: bool) -> dict:
    fake = FakeBotAPIProcess(overall_per_second=LIMIT, per_chat_interval=1.0)
    base_url = await fake.start()
    settings = Settings(database_url=url, telegram_token=TOKEN, telegram_base_url=base_url, _env_file=None)
    runtime = Runtime(settings, run_scheduler=False)
    citizens = list(range(FIRST_CITIZEN, FIRST_CITIZEN + options.citizens))
    asked: dict[int, float] = {}
    try:
        await seed_demo(runtime.uows, settings)
        if busy:
            await queue_notices(runtime, options.notices)
        await runtime.start(migrate=False)
        if busy:  # the officer's first notices have left: from now on the chat is paced
            await _until(fake, lambda stats: any(chat == OFFICER_CHAT for _, chat, _ in stats["delivered"]), 30)
        update_ids = itertools.count(1)
        started = time.monotonic()
        for index, chat in enumerate(citizens):
            await asyncio.sleep(max(0.0, started + index / options.rate - time.monotonic()))
            asked[chat] = time.monotonic()
            await fake.deliver([text_update(next(update_ids), chat, "/start")])
        wanted = set(citizens)
        stats = await _until(fake, lambda stats: wanted <= {chat for _, chat, _ in stats["delivered"]}, 60)
        ended = time.monotonic()
    finally:
        await runtime.stop()
        await fake.stop()
    answered: dict[int, float] = {}
    for at, chat, _ in stats["delivered"]:
        if chat in asked:
            answered.setdefault(chat, at)
    # A citizen still unanswered at the end counts as waiting until then, at least («> N» in the table).
    latencies = sorted((answered[chat] - asked[chat], True) if chat in answered else (ended - asked[chat], False)
                       for chat in citizens)
    to_citizens = [chat for _, chat, _ in stats["delivered"] if chat in asked]
    officer = [(at, text) for at, chat, text in stats["delivered"] if chat == OFFICER_CHAT]
    expected = [notice(n).text for n in range(len(officer))]
    return {"citizens": len(citizens), "answered": len(answered), "p50": percentile(latencies, 50),
            "p99": percentile(latencies, 99), "max": latencies[-1],
            "citizen_duplicates": len(to_citizens) - len(set(to_citizens)),
            "officer_delivered": len(officer), "officer_in_order": [text for _, text in officer] == expected,
            "officer_busiest_second": _busiest_second([at for at, _ in officer]),
            "rejected_429": sum(stats["refused"].values()), "refused": stats["refused"]}


async def _until(fake: FakeBotAPIProcess, done, timeout: float) -> dict:
    """The fake's stats once ``done(stats)`` holds (or ``timeout`` seconds have passed)."""
    deadline = time.monotonic() + timeout
    while True:
        stats = await fake.stats()
        if done(stats) or time.monotonic() > deadline:
            return stats
        await asyncio.sleep(0.05)


def _seconds(latency: tuple[float, bool]) -> float | str:
    seconds, answered = latency
    return seconds if answered else f"> {seconds:.0f}"


async def run(options: Options) -> list[Table]:
    logging.getLogger("telegram.ext").setLevel(logging.WARNING)
    logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)
    table = Table(
        "busy_chat", f"Busy chat: citizens' /start answered while one officer's chat has {options.notices:,} "
                     f"notices queued ({options.citizens} citizens, {options.rate:g} a second)",
        ["run", "database", "answered", "p50 s", "p99 s", "slowest s", "p99 × baseline", "officer notices sent",
         "in order, once", "officer's busiest second", "429s", "target"])
    for kind in options.databases:
        results = {}
        for busy in (False, True):
            label = f"one officer chat with {options.notices:,} notices queued" if busy else "baseline: no busy chat"
            with tempfile.TemporaryDirectory() as folder:
                try:
                    async with database(kind, folder) as url:
                        results[busy] = result = await measure(url, options, busy)
                except DatabaseUnavailable as exc:
                    table.add(label, LABELS[kind], f"not run: {exc}")
                    continue
            baseline = results.get(False)
            ratio = result["p99"][0] / baseline["p99"][0] if baseline and baseline["p99"][0] else 0.0
            once = result["officer_in_order"] and not result["citizen_duplicates"]
            met = result["answered"] == result["citizens"] and result["p99"][0] < TARGET_P99 and once
            table.add(label, LABELS[kind], f"{result['answered']}/{result['citizens']}", _seconds(result["p50"]),
                      _seconds(result["p99"]), _seconds(result["max"]), ratio if busy else 1.0,
                      result["officer_delivered"] if busy else "—",
                      once if busy else not result["citizen_duplicates"], result["officer_busiest_second"] if busy else "—",
                      result["rejected_429"], ("met" if met else "missed") if busy else "—")
            table.figures[f"{kind}:{'busy' if busy else 'baseline'}"] = result
            if result["rejected_429"]:
                table.notes.append(f"{LABELS[kind]}, {'busy' if busy else 'baseline'}: 429s by limit {result['refused']}.")
    table.notes.insert(0, f"Target: with the officer's chat busy, every citizen answered, p99 < {TARGET_P99:g} s, the "
                          "officer's notices in their order and none twice. Latency: from the update queued at the fake "
                          "Bot API to the fake accepting the answer; «> N»: not answered when the run ended, N s later "
                          "(it waits up to 60 s after the last citizen). «officer notices sent»: during the citizens' "
                          "run, at the chat's pace (a burst of 3, then 1 a second); the rest stay queued.")
    return [table]


def parse(argv: list[str] | None = None) -> tuple[Options, argparse.Namespace]:
    parser = argparse.ArgumentParser(prog="python3 -m bench.busy_chat", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 citizens, 100 notices")
    parser.add_argument("--citizens", type=int, help="default 100")
    parser.add_argument("--rate", type=float, help="citizens writing a second (default 5)")
    parser.add_argument("--notices", type=int, help="queued for the officer (default 1000)")
    parser.add_argument("--db", choices=DATABASES, action="append", help="database (repeatable; default both)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    options = Options.quick() if args.quick else Options()
    for name in ("citizens", "rate", "notices"):
        if getattr(args, name):
            options = replace(options, **{name: getattr(args, name)})
    if args.db:
        options = replace(options, databases=tuple(args.db))
    return options, args


def main(argv: list[str] | None = None) -> None:
    run_alone(parse, run, argv)


if __name__ == "__main__":
    main()
