"""Memory: peak RSS of a real ``tiepdan serve`` with 100,000 users under the pipeline load.

The database is fresh: migrated, the demo ward, and 100,000 citizens on Telegram (user, identity
and a conversation at the main menu, seeded with one ``INSERT … SELECT`` each). ``tiepdan serve``
then runs as a subprocess with Telegram in polling mode against ``bench/fake_bot_api.py`` (in a
process of its own, enforcing Telegram's limits). The load goes through the production path: the
fake serves ``getUpdates`` from a queue this benchmark fills at 200 updates a second, each from a
random one of the 100,000 users (/menu, /help, the help button, the reception schedule button), and
serve's dispatcher delivers the replies back to the fake.

Why Telegram polling and not the web chat API: it is the path the pipeline benchmark measures
(python-telegram-bot's updater, the channel, the pipeline, the outbox, the rate limiter and the sender)
in one real process, and feeding it costs the load generator one small HTTP request per batch —
the web chat would need an HTTP request and a long-poll per message from this process, which would
compete with serve for the machine's two cores.

Peak RSS is ``VmHWM`` from /proc/<pid>/status, read at the end (and ``VmRSS`` sampled along the way).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from sqlalchemy import func, select, text

from bench.common import DatabaseUnavailable, Table, database, run_alone
from bench.fake_bot_api import FakeBotAPIProcess
from bot.settings import Settings
from storage.db import create_engine, session_factory
from storage.demo import DEMO_COMMUNE, seed_demo
from storage.models import ProcessedUpdate
from storage.uow import UnitOfWorkFactory
from tests.telegram_fake import button_update, text_update

TOKEN = "123:ABC"
TARGET_MB = 150
FIRST_USER = 1_000_000
FIRST_CHAT = 40_000_000
MENU_BUTTONS = ["menu:submit", "menu:track", "menu:schedule", "menu:disclosures", "menu:projects",
                "menu:consultations", "menu:statistics", "menu:settings", "g:help"]
LABELS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


@dataclass
class Options:
    users: int = 100_000
    rate: float = 200.0
    seconds: float = 60.0
    databases: tuple[str, ...] = ("sqlite", "postgresql")

    @classmethod
    def quick(cls) -> "Options":
        return cls(users=2_000, rate=50.0, seconds=2.0, databases=("sqlite",))


def _numbers(dialect: str) -> str:
    """A row source of n = 1 .. :count."""
    if dialect == "postgresql":
        return "generate_series(1, CAST(:count AS integer)) AS g(n)"
    return "numbers"


SEED = {
    "users": "INSERT INTO users (id, language, commune_code, role, created_at) "
             "SELECT :first_user + n, 'vi', :commune, 'citizen', :now FROM {numbers}",
    "channel_identities": "INSERT INTO channel_identities (id, channel, external_id, user_id, last_chat_id, "
                          "last_seen_at) SELECT :first_user + n, 'telegram', CAST(:first_chat + n AS VARCHAR(20)), "
                          ":first_user + n, CAST(:first_chat + n AS VARCHAR(20)), :now FROM {numbers}",
    "conversations": "INSERT INTO conversations (id, channel, chat_id, user_id, flow, step, data, expected_buttons, "
                     "updated_at) SELECT :first_user + n, 'telegram', CAST(:first_chat + n AS VARCHAR(20)), "
                     ":first_user + n, 'menu', 'main', {empty}, {buttons}, :now FROM {numbers}",
}


async def seed(url: str, users: int) -> float:
    """The demo ward and ``users`` citizens at the main menu, by INSERT … SELECT (ids above the demo's)."""
    started = time.monotonic()
    engine = create_engine(url)
    try:
        await seed_demo(UnitOfWorkFactory(session_factory(engine)), Settings(database_url=url, _env_file=None))
        dialect = engine.dialect.name
        now = datetime.now(timezone.utc)
        params = {"count": users, "first_user": FIRST_USER, "first_chat": FIRST_CHAT, "commune": DEMO_COMMUNE,
                  "buttons": json.dumps(MENU_BUTTONS),
                  # SQLite keeps naive UTC text, as UTCDateTime writes it; PostgreSQL a timestamptz.
                  "now": now if dialect == "postgresql" else now.replace(tzinfo=None).isoformat(" ")}
        prefix = ("" if dialect == "postgresql" else
                  "WITH RECURSIVE numbers(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM numbers WHERE n < :count) ")
        json_of = "CAST({} AS json)" if dialect == "postgresql" else "{}"
        async with engine.begin() as connection:
            for table, statement in SEED.items():
                sql = statement.format(numbers=_numbers(dialect), empty=json_of.format("'{}'"),
                                       buttons=json_of.format(":buttons"))
                used = {k: v for k, v in params.items() if f":{k}" in sql or k == "count"}
                await connection.execute(text(prefix + sql), used)
                if dialect == "postgresql":
                    await connection.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    finally:
        await engine.dispose()
    return time.monotonic() - started


def load(count: int, users: int, first_update: int, rng: random.Random) -> list[dict]:
    """``count`` updates, each from a random seeded user: what people at the main menu send."""
    made = []
    for n in range(count):
        chat = FIRST_CHAT + 1 + rng.randrange(users)
        update_id = first_update + n
        kind = n % 4
        if kind == 0:
            made.append(text_update(update_id, chat, "/menu"))
        elif kind == 1:
            made.append(text_update(update_id, chat, "/help"))
        elif kind == 2:
            made.append(button_update(update_id, chat, "g:help"))
        else:
            made.append(button_update(update_id, chat, "menu:schedule"))
    return made


def memory_of(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in kB."""
    found = {}
    with open(f"/proc/{pid}/status", encoding="utf-8") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, value = line.split(":", 1)
                found[name] = int(value.split()[0])
    return found


def threads_of(pid: int) -> int:
    """Threads of a process: each aiosqlite connection is one (and may hold a malloc arena)."""
    return len(os.listdir(f"/proc/{pid}/task"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve_command() -> list[str]:
    script = os.path.join(os.path.dirname(sys.executable), "tiepdan")
    return [script, "serve"] if os.path.exists(script) else [sys.executable, "-m", "bot.cli", "serve"]


async def processed(url: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return (await connection.execute(select(func.count()).select_from(ProcessedUpdate))).scalar_one()
    finally:
        await engine.dispose()


async def measure(url: str, options: Options) -> dict:
    seed_seconds = await seed(url, options.users)
    fake = FakeBotAPIProcess()
    base_url = await fake.start()
    env = {**os.environ, "TIEPDAN_DATABASE_URL": url, "TIEPDAN_TELEGRAM_TOKEN": TOKEN,
           "TIEPDAN_TELEGRAM_BASE_URL": base_url, "TIEPDAN_TELEGRAM_MODE": "polling",
           "TIEPDAN_WEB_HOST": "127.0.0.1", "TIEPDAN_WEB_PORT": str(_free_port())}
    workdir = tempfile.mkdtemp(prefix="tiepdan-bench-")  # no stray .env is read
    serve = await asyncio.create_subprocess_exec(*_serve_command(), cwd=workdir, env=env,
                                                 stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    try:
        line = await asyncio.wait_for(serve.stdout.readline(), timeout=120)
        if b"tiepdan: web chat at" not in line:
            raise RuntimeError(f"tiepdan serve did not start: {line!r}")
        await asyncio.sleep(1.0)  # polling under way
        at_start = memory_of(serve.pid)
        before = await processed(url)
        total = max(1, int(options.rate * options.seconds))
        updates = load(total, options.users, 1, random.Random(20261123))
        samples, sent, batch, backlog, threads = [], 0, max(1, int(options.rate / 20)), 0, threads_of(serve.pid)
        started = last_count = time.monotonic()
        while sent < total:  # open loop: batches every 1/20 s on schedule
            due = min(total, int((time.monotonic() - started) * options.rate) + batch)
            if due > sent:
                await fake.deliver(updates[sent:due])
                sent = due
            samples.append(memory_of(serve.pid)["VmRSS"])
            threads = max(threads, threads_of(serve.pid))
            if time.monotonic() - last_count >= 1.0:  # updates taken from the fake but not yet handled
                last_count = time.monotonic()
                backlog = max(backlog, sent - (await processed(url) - before))
            await asyncio.sleep(0.05)
        offered_seconds = time.monotonic() - started
        deadline = time.monotonic() + max(60.0, options.seconds * 2)
        while time.monotonic() < deadline:  # let serve finish what it was given
            done = await processed(url) - before
            backlog = max(backlog, sent - done)
            if done >= total:
                break
            samples.append(memory_of(serve.pid)["VmRSS"])
            threads = max(threads, threads_of(serve.pid))
            await asyncio.sleep(0.5)
        done = await processed(url) - before
        elapsed = time.monotonic() - started
        final = memory_of(serve.pid)
        stats = await fake.stats()
    finally:
        if serve.returncode is None:
            serve.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(serve.wait(), timeout=30)
            except asyncio.TimeoutError:
                serve.kill()
                await serve.wait()
        await fake.stop()
    return {"users": options.users, "seed_s": seed_seconds, "offered": total, "offered_s": offered_seconds,
            "processed": done, "elapsed_s": elapsed, "replies_delivered": len(stats["delivered"]),
            "largest_backlog": backlog,
            "rejected_429": sum(stats["refused"].values()), "rss_start_mb": at_start["VmRSS"] / 1024,
            "rss_end_mb": final["VmRSS"] / 1024, "rss_max_sampled_mb": max(samples, default=0) / 1024,
            "peak_mb": final["VmHWM"] / 1024, "peak_at_start_mb": at_start["VmHWM"] / 1024, "threads_max": threads}


async def run(options: Options) -> list[Table]:
    table = Table(
        "memory", f"Memory: tiepdan serve with {options.users:,} users, {options.rate:.0f} updates/s offered "
                  f"for {options.seconds:.0f} s (Telegram polling against the fake Bot API)",
        ["database", "users", "updates offered", "processed", "processed/s", "largest backlog", "replies delivered",
         "RSS at start MB", "RSS at end MB", "peak RSS (VmHWM) MB", "target"])
    for kind in options.databases:
        with tempfile.TemporaryDirectory() as folder:
            try:
                async with database(kind, folder) as url:
                    result = await measure(url, options)
            except DatabaseUnavailable as exc:
                table.add(LABELS[kind], f"not run: {exc}")
                continue
        table.add(LABELS[kind], result["users"], result["offered"], result["processed"],
                  result["processed"] / result["elapsed_s"], result["largest_backlog"], result["replies_delivered"],
                  result["rss_start_mb"], result["rss_end_mb"], result["peak_mb"],
                  f"< {TARGET_MB} MB: {'met' if result['peak_mb'] < TARGET_MB else 'missed'}")
        table.figures[kind] = result
    table.notes = ["«processed»: deliveries recorded by serve (processed_updates) by the end, load and catching up "
                   "included. «largest backlog»: updates offered but not yet handled "
                   "(queued at the fake or fetched by serve, which holds at most "
                   f"4 × {Settings.model_fields['telegram_concurrent_updates'].default} fetched and not yet handled). "
                   "Replies leave at "
                   "Telegram's 30/s, so most are still in the outbox when the run ends, as in production."]
    return [table]


def parse(argv: list[str] | None = None) -> tuple[Options, argparse.Namespace]:
    parser = argparse.ArgumentParser(prog="python3 -m bench.memory", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 users, 50 updates/s for 2 s")
    parser.add_argument("--users", type=int, help="seeded users (default 100000)")
    parser.add_argument("--rate", type=float, help="updates offered a second (default 200)")
    parser.add_argument("--seconds", type=float, help="length of the load (default 60)")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), action="append",
                        help="only this database (repeatable; default both)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    options = Options.quick() if args.quick else Options()
    changes = {name: getattr(args, name) for name in ("users", "rate", "seconds") if getattr(args, name)}
    if args.db:
        changes["databases"] = tuple(args.db)
    return replace(options, **changes), args


def main(argv: list[str] | None = None) -> None:
    run_alone(parse, run, argv)


if __name__ == "__main__":
    main()
