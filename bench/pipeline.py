"""Inbound pipeline: Telegram updates through the real channel code, against python-telegram-bot's ceiling.

Every message is ``Update.de_json`` and then python-telegram-bot dispatching it to tiepdan's
Telegram channel (``TelegramChannel.on_update`` → ``handle_incoming``), on a bot whose Bot API is
the recording fake of the test suite (no network). The outbox is not drained: this is the inbound
path only. Two kinds of message:

- a **dialog step**: /start, the language button, a commune search, /help — read the conversation,
  record the delivery, write the new state, enqueue the replies, one transaction;
- a **submission commit**: the confirm button of a conversation already at the summary of a
  feedback (seeded by driving one chat through the real flow and copying its state), which writes
  the item, its four deadlines, the audit event, the receipt, the menu and the unit officer's
  notice in one transaction.

The **ceiling** is the same python-telegram-bot application dispatching the same updates to a
handler that does nothing, fed one at a time and all at once; the faster of the two is the ceiling
every ratio is taken against. The machines are shared and their speed drifts: every throughput row
runs a few times, each run between two ceiling measurements and taken against the faster of the
two, and the run with the median ratio is shown; each offered-load row is the run with the median
p99. Three ways of feeding the production application
(``build_application``: updates of different chats at once, one chat's in arrival order, sharing
transactions through ``handlers.pipeline.GroupCommit``):

- *one at a time*: ``process_update`` awaited per update — the latency of a lone message;
- *all at once*: every update queued at once — the throughput production reaches under a burst;
- *offered load*: updates queued at scheduled arrival times (open loop, 200/s by default); latency
  runs from the scheduled arrival to the end of the handler, so a backlog is not hidden by a slow
  producer. Offered are dialog steps, confirmations, and *citizen journeys*: chats taking turns
  through the eleven steps to a feedback's summary and its confirmation (what people filing at
  the same time send).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from sqlalchemy import func, insert, select
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, TypeHandler

from bench.common import DATABASES, DatabaseUnavailable, Table, database, percentile, run_alone
from bot.app import Runtime, settle_heap
from bot.channels.telegram import ChatOrderedUpdates
from bot.settings import Settings
from handlers.pipeline import group_commit_for
from storage.db import create_engine
from storage.demo import DEMO_COMMUNE, seed_demo
from storage.models import ChannelIdentity, ConversationState, Item, User
from tests.telegram_fake import RecordingBotAPI, button_update, text_update

TOKEN = "123:ABC"
LABELS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
TARGET_DIALOG = 0.25          # × ceiling, both databases
TARGET_SUBMISSION = 0.10      # × ceiling, PostgreSQL
TARGET_P99_MS = 25.0          # at the offered rate
DESCRIPTION = "Đèn đường trước nhà số 12 ngõ Hàng Bạc bị hỏng hai tuần nay, buổi tối rất tối."
TO_SUMMARY = ["/start", "lang:vi", "hoan kiem", f"commune:{DEMO_COMMUNE}", "menu:submit", "kind:feedback",
              "category:infrastructure", DESCRIPTION, "photos:done", "location:skip", "consent:anonymous"]
JOURNEY = [*TO_SUMMARY, "submit:send"]


@dataclass
class Options:
    messages: int = 2000          # dialog updates per run (four per chat)
    submissions: int = 1000       # confirm buttons per run (one per chat)
    rate: float = 200.0           # offered updates a second
    seconds: float = 10.0         # length of each offered-load run
    concurrency: int = Settings.model_fields["telegram_concurrent_updates"].default  # production's
    databases: tuple[str, ...] = DATABASES
    repeats: int = 3              # runs of each measured row

    @classmethod
    def quick(cls) -> "Options":
        return cls(messages=40, submissions=20, seconds=0.25, repeats=1)


# --- feeding python-telegram-bot ------------------------------------------------------------------

@dataclass
class Run:
    """What one feeding measured. ``latencies`` in seconds; ``elapsed`` from the first scheduled
    arrival to the last handler finishing."""

    latencies: list[float]
    elapsed: float
    cpu: float = 0.0              # this process's CPU seconds (python-telegram-bot, tiepdan, the driver)
    out_of_order: int = 0
    per_commit: float = 0.0       # deliveries a transaction (the group commit's average)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    @property
    def cpu_ms(self) -> float:
        """CPU milliseconds a message: unlike wall time, barely moved by other work on the machine."""
        return self.cpu / len(self.latencies) * 1000 if self.latencies else 0.0

    def ms(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000


async def one_at_a_time(application: Application, data: list[dict]) -> Run:
    latencies = []
    cpu = time.process_time()
    for raw in data:
        start = time.perf_counter()
        await application.process_update(Update.de_json(raw, application.bot))
        latencies.append(time.perf_counter() - start)
    return Run(latencies, sum(latencies), time.process_time() - cpu)


async def offered(application: Application, data: list[dict], rate: float | None) -> Run:
    """Queue ``data`` at ``rate`` updates a second (all at once when None) to a started application,
    as the webhook does (``de_json``, then the update queue), and wait for every handler to finish."""
    loop = asyncio.get_running_loop()
    done: dict[int, float] = {}
    order: dict[int, list[int]] = defaultdict(list)
    finished = asyncio.Event()

    async def arrived(update: Update, context) -> None:
        order[update.effective_chat.id].append(update.update_id)

    async def handled(update: Update, context) -> None:
        done[update.update_id] = loop.time()
        if len(done) == len(data):
            finished.set()

    first, last = TypeHandler(Update, arrived), TypeHandler(Update, handled)
    application.add_handler(first, group=-1)   # groups run in order: before the channel's handler
    application.add_handler(last, group=1)     # and after it
    scheduled: dict[int, float] = {}
    cpu = time.process_time()
    try:
        start = loop.time() + 0.02
        for index, raw in enumerate(data):
            at = start + index / rate if rate else start
            delay = at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            update = Update.de_json(raw, application.bot)
            scheduled[update.update_id] = at
            await application.update_queue.put(update)  # production's queue: waits while it is full
        await asyncio.wait_for(finished.wait(), timeout=max(60.0, len(data) / 20))
    finally:
        application.remove_handler(first, group=-1)
        application.remove_handler(last, group=1)
    latencies = [done[key] - scheduled[key] for key in scheduled]
    out_of_order = sum(1 for ids in order.values() if ids != sorted(ids))
    return Run(latencies, max(done.values()) - start, time.process_time() - cpu, out_of_order)


# --- what is fed --------------------------------------------------------------------------------

class Feed:
    """Update ids and chat ids never reused within one database (it remembers every delivery)."""

    def __init__(self):
        self.update_ids = itertools.count(1)
        self.chats = itertools.count(10_000_000)

    def new_chats(self, count: int) -> list[int]:
        return [next(self.chats) for _ in range(count)]

    def dialog(self, chats: list[int], *, interleaved: bool) -> list[dict]:
        """Four steps per chat: /start, the Vietnamese button, a commune search, /help. One chat's
        steps follow each other, or (``interleaved``) each round of steps goes through every chat,
        as people typing a few seconds apart."""
        steps = ("/start", "lang:vi", "hoan kiem", "/help")
        pairs = ([(chat, step) for step in steps for chat in chats] if interleaved
                 else [(chat, step) for chat in chats for step in steps])
        made = []
        for chat, step in pairs:
            update_id = next(self.update_ids)
            made.append(button_update(update_id, chat, step) if step.startswith("lang:")
                        else text_update(update_id, chat, step))
        return made

    def journeys(self, chats: list[int]) -> list[dict]:
        """Each chat's whole way to a filed feedback (``JOURNEY``: eleven dialog steps, then the
        confirmation), one round of steps through every chat at a time, as people filing at once."""
        return [self.press(chat, press) for press in JOURNEY for chat in chats]

    def press(self, chat: int, press: str) -> dict:
        """One of ``JOURNEY``'s steps as an update: a command or words typed, or a button's value."""
        update_id = next(self.update_ids)
        return (text_update(update_id, chat, press) if press.startswith("/") or " " in press
                else button_update(update_id, chat, press))

    def confirmations(self, chats: list[int]) -> list[dict]:
        return [button_update(next(self.update_ids), chat, "submit:send") for chat in chats]


class Bench:
    """One database with the demo ward, the officers reachable on Telegram, and a template chat at
    the summary of a feedback."""

    def __init__(self, url: str, kind: str):
        self.url, self.kind = url, kind
        self.settings = Settings(database_url=url, telegram_token=TOKEN, _env_file=None)
        self.feed = Feed()
        self.template_chat: int | None = None

    def runtime(self, concurrency: int | None = None) -> tuple[Runtime, RecordingBotAPI]:
        api = RecordingBotAPI()
        settings = self.settings if concurrency is None else self.settings.model_copy(
            update={"telegram_concurrent_updates": concurrency})
        return Runtime(settings, telegram_request=api, telegram_get_updates_request=api, run_scheduler=False), api

    async def prepare(self) -> None:
        runtime, _ = self.runtime()
        application = runtime.telegram.application
        await application.initialize()
        try:
            await seed_demo(runtime.uows, self.settings)
            async with runtime.engine.begin() as connection:
                officers = (await connection.execute(select(User.id).where(User.role == "officer"))).scalars().all()
                await connection.execute(insert(ChannelIdentity.__table__), [
                    {"channel": "telegram", "external_id": str(900_000 + uid), "user_id": uid,
                     "last_chat_id": str(900_000 + uid), "last_seen_at": _now()} for uid in officers])
            [chat] = self.feed.new_chats(1)
            for press in TO_SUMMARY:
                await application.process_update(Update.de_json(self.feed.press(chat, press), application.bot))
            async with runtime.uows() as uow:
                row = await uow.conversations.load("telegram", str(chat), lock=False)
            if row is None or (row.flow, row.step) != ("submit", "summary"):
                raise RuntimeError(f"template chat did not reach the summary: {row and (row.flow, row.step)}")
            self.template_chat = chat
        finally:
            await application.shutdown()
            await runtime.engine.dispose()

    async def at_summary(self, count: int) -> list[int]:
        """``count`` new citizens of the demo ward, each with a conversation copied from the template."""
        chats = self.feed.new_chats(count)
        runtime, _ = self.runtime()
        try:
            async with runtime.engine.begin() as connection:
                template = (await connection.execute(select(ConversationState.__table__).where(
                    ConversationState.chat_id == str(self.template_chat)))).one()
                users = User.__table__
                citizens = [{"language": "vi", "commune_code": DEMO_COMMUNE, "role": "citizen"} for _ in chats]
                user_ids = (await connection.execute(
                    insert(users).returning(users.c.id, sort_by_parameter_order=True), citizens)).scalars().all()
                await connection.execute(insert(ChannelIdentity.__table__), [
                    {"channel": "telegram", "external_id": str(chat), "user_id": uid, "last_chat_id": str(chat),
                     "last_seen_at": _now()} for chat, uid in zip(chats, user_ids)])
                await connection.execute(insert(ConversationState.__table__), [
                    {"channel": "telegram", "chat_id": str(chat), "user_id": uid, "flow": template.flow,
                     "step": template.step, "data": template.data, "expected_buttons": template.expected_buttons,
                     "updated_at": _now()} for chat, uid in zip(chats, user_ids)])
        finally:
            await runtime.engine.dispose()
        return chats

    async def analyze(self) -> None:
        """PostgreSQL: planner statistics as of now, as autovacuum keeps them on a deployed database.
        This one is minutes old and grows by thousands of rows a run: with statistics of a smaller
        table PostgreSQL looked a group's identities and conversations up by channel alone and
        filtered the rest, and each run was slower than the one before (its own CPU a message 0.095
        → 0.180 ms over five dialog runs; 0.07–0.08 ms in every run with fresh statistics)."""
        if self.kind != "postgresql":
            return
        engine = create_engine(self.url)  # no runtime: nothing but the statement
        try:
            async with engine.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.exec_driver_sql("ANALYZE")
        finally:
            await engine.dispose()

    async def count(self, model, *where) -> int:
        runtime, _ = self.runtime()
        try:
            async with runtime.uows() as uow:
                return (await uow.session.execute(select(func.count()).select_from(model).where(*where))).scalar_one()
        finally:
            await runtime.engine.dispose()


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Errors:
    """Handler errors of a run; a benchmark of a broken path is worthless, so any error stops it."""

    def __init__(self, application: Application):
        self.seen: list[BaseException] = []

        async def record(update, context) -> None:
            self.seen.append(context.error)

        application.add_error_handler(record)

    def check(self, what: str) -> None:
        if self.seen:
            raise RuntimeError(f"{what}: {len(self.seen)} handler errors, first {self.seen[0]!r}")


async def measure(bench: Bench, data: list[dict], how: str, options: Options) -> Run:
    """Feed ``data`` to a fresh runtime's production application: ``one`` (one at a time), ``burst``
    (all at once) or ``offered`` (at the offered rate)."""
    await bench.analyze()
    runtime, _ = bench.runtime(options.concurrency)
    application = runtime.telegram.application
    errors = Errors(application)
    await application.initialize()
    settle_heap()  # as serve does once started
    try:
        # Warm the connection pool and python-telegram-bot: a first connection costs milliseconds.
        warm = [text_update(next(bench.feed.update_ids), chat, "/help") for chat in bench.feed.new_chats(8)]
        if how == "one":
            await one_at_a_time(application, warm)
            return _with_groups(await one_at_a_time(application, data), runtime, before=(0, 0))
        await application.start()
        try:
            await offered(application, warm, None)
            commits = group_commit_for(runtime.uows)
            before = (commits.groups, commits.grouped)
            result = await offered(application, data, options.rate if how == "offered" else None)
            return _with_groups(result, runtime, before)
        finally:
            await application.stop()
    finally:
        errors.check(how)
        await application.shutdown()
        await runtime.engine.dispose()


def _with_groups(run: Run, runtime: Runtime, before: tuple[int, int]) -> Run:
    commits = group_commit_for(runtime.uows)
    groups, grouped = commits.groups - before[0], commits.grouped - before[1]
    return replace(run, per_commit=grouped / groups if groups else 0.0)


async def ceiling(data: list[dict], concurrency: int) -> tuple[Run, Run]:
    """The no-op handler fed one at a time and, through production's processor, all at once."""
    runs = []
    for how in ("one", "burst"):
        api = RecordingBotAPI()
        builder = ApplicationBuilder().token(TOKEN).request(api).get_updates_request(api).updater(None)
        if how == "burst":
            builder = builder.concurrent_updates(ChatOrderedUpdates(concurrency))
        application = builder.build()

        async def nothing(update, context):
            return None

        application.add_handler(TypeHandler(Update, nothing))
        await application.initialize()
        settle_heap()  # the same heap as the measured runs
        try:
            if how == "one":
                await one_at_a_time(application, data[:200])  # warm-up
                runs.append(await one_at_a_time(application, data))
            else:
                await application.start()
                try:
                    await offered(application, data[:200], None)
                    runs.append(await offered(application, data, None))
                finally:
                    await application.stop()
        finally:
            await application.shutdown()
    return runs[0], runs[1]


# --- the benchmark ------------------------------------------------------------------------------

async def run(options: Options) -> list[Table]:
    logging.getLogger("handlers.pipeline").setLevel(logging.WARNING)  # "ignored redelivery" lines
    chats_per_run = max(1, options.messages // 4)
    offered_count = max(4, int(options.rate * options.seconds))
    throughput = Table(
        "pipeline", "Inbound pipeline: throughput against python-telegram-bot's ceiling",
        ["path", "database", "feeding", "msgs/s", "p50 ms", "p99 ms", "CPU ms/msg", "per commit", "× ceiling",
         "target"])
    latency = Table(
        "pipeline_offered",
        f"Inbound pipeline at {options.rate:.0f} updates/s offered (open loop, latency from scheduled arrival)",
        ["path", "database", "updates", "achieved/s", "p50 ms", "p99 ms", "max ms", "per commit",
         "chats out of order", f"p99 < {TARGET_P99_MS:.0f} ms"])
    ceilings = Ceiling(chats_per_run, options.concurrency)
    for kind in options.databases:
        label = LABELS[kind]
        with tempfile.TemporaryDirectory() as folder:
            try:
                async with database(kind, folder) as url:
                    bench = Bench(url, kind)
                    await bench.prepare()
                    await _measure_database(bench, kind, options, ceilings, chats_per_run, offered_count,
                                            throughput, latency)
            except DatabaseUnavailable as exc:
                throughput.add("(all paths)", label, f"not run: {exc}")
                latency.add("(all paths)", label, f"not run: {exc}")
    if not ceilings.runs:
        await ceilings.rate()
    one = _fastest(run_ for run_, _ in ceilings.runs)
    burst = _fastest(run_ for _, run_ in ceilings.runs)
    base = max(one, burst, key=lambda run: run.rate)
    throughput.rows[:0] = [
        ["python-telegram-bot, no-op handler", "—", feeding, run_.rate, run_.ms(50) if run_ is one else "—",
         run_.ms(99) if run_ is one else "—", run_.cpu_ms, "—", run_.rate / base.rate,
         "ceiling" if run_ is base else ""] for run_, feeding in ((one, "one at a time"), (burst, "all at once"))]
    throughput.figures["ceiling"] = base.rate
    throughput.notes = [
        f"Targets: dialog step ≥ {TARGET_DIALOG} × ceiling; submission commit on PostgreSQL ≥ {TARGET_SUBMISSION} "
        "× ceiling, judged on the production application fed all at once. The ceiling is python-telegram-bot "
        "dispatching the same updates to a handler that does nothing, the faster of its two feedings; the machine "
        f"is shared and its speed drifts, so each row ran {options.repeats} times, each run between two ceiling "
        "measurements and taken against the faster of them, and the row shows the run with the median ratio. "
        f"The no-op rows are the fastest of all {len(ceilings.runs)} ceiling measurements. "
        f"Production handles up to {options.concurrency} updates of different chats at once (one chat's in "
        "order); «per commit» = deliveries a transaction held on average."]
    latency.notes = [f"The production application; of {options.repeats} runs, the one with the median p99. "
                     "A *citizen journey* is each chat's eleven dialog steps to a feedback's summary and then its "
                     "confirmation, the chats taking turns (one submission in twelve updates). "
                     "«chats out of order»: chats whose updates were handled in another order than sent."]
    return [throughput, latency]


class Ceiling:
    """The no-op handler's rate, measured again whenever asked; every measurement is kept."""

    def __init__(self, chats: int, concurrency: int):
        self.feed, self.chats, self.concurrency = Feed(), chats, concurrency
        self.runs: list[tuple[Run, Run]] = []

    async def rate(self) -> float:
        """Measure now: the faster feeding's messages a second."""
        pair = await ceiling(self.feed.dialog(self.feed.new_chats(self.chats), interleaved=True), self.concurrency)
        self.runs.append(pair)
        return max(run_.rate for run_ in pair)


async def _measure_database(bench: Bench, kind: str, options: Options, ceilings: Ceiling, chats_per_run: int,
                            offered_count: int, throughput: Table, latency: Table) -> None:
    label = LABELS[kind]
    feed = bench.feed
    for path, target in (("dialog", TARGET_DIALOG), ("submission", TARGET_SUBMISSION if kind == "postgresql" else None)):
        for how, feeding in (("one", "one at a time"), ("burst", "all at once")):
            paired = []
            before = await ceilings.rate()
            for _ in range(options.repeats):
                run_ = await _checked_run(bench, path, how, options, chats_per_run)
                after = await ceilings.rate()
                paired.append((run_.rate / max(before, after), run_))
                before = after
            ratio, result = sorted(paired, key=lambda pair: pair[0])[len(paired) // 2]
            one = how == "one"
            verdict = _verdict(ratio, target) if target is not None and not one else ""
            throughput.add(f"{path} step" if path == "dialog" else "submission commit", label, feeding, result.rate,
                           result.ms(50) if one else "—", result.ms(99) if one else "—", result.cpu_ms,
                           result.per_commit, ratio, verdict)
            throughput.figures[f"{path}_{how}_{kind}"] = {"rate": result.rate, "ratio": ratio,
                                                          "p99_ms": result.ms(99), "cpu_ms": result.cpu_ms,
                                                          "per_commit": result.per_commit}
    for path in ("dialog step", "submission commit", "citizen journey"):
        runs = []
        for _ in range(options.repeats):
            if path == "dialog step":
                data = feed.dialog(feed.new_chats(max(1, offered_count // 4)), interleaved=True)
            elif path == "submission commit":
                data = feed.confirmations(await bench.at_summary(offered_count))
            else:
                chats = feed.new_chats(max(1, offered_count // len(JOURNEY)))
                data = feed.journeys(chats)
                before = await bench.count(Item)
            runs.append(await measure(bench, data, "offered", options))
            if path == "citizen journey" and (filed := await bench.count(Item) - before) != len(chats):
                raise RuntimeError(f"journeys on {label}: {filed} items filed by {len(chats)} chats")
        result = sorted(runs, key=lambda run_: run_.ms(99))[len(runs) // 2]
        latency.add(path, label, len(data), result.rate, result.ms(50), result.ms(99),
                    max(result.latencies) * 1000, result.per_commit, result.out_of_order,
                    result.ms(99) < TARGET_P99_MS)
        latency.figures[f"{path.split()[0]}_{kind}"] = {
            "achieved": result.rate, "p50_ms": result.ms(50), "p99_ms": result.ms(99),
            "out_of_order": result.out_of_order, "updates": len(data), "per_commit": result.per_commit}


async def _checked_run(bench: Bench, path: str, how: str, options: Options, chats_per_run: int) -> Run:
    """One run of ``path`` fed ``how``, and a check that every message did what it should."""
    label, feed = LABELS[bench.kind], bench.feed
    if path == "dialog":
        chats = feed.new_chats(chats_per_run)
        result = await measure(bench, feed.dialog(chats, interleaved=how == "burst"), how, options)
        reached = await bench.count(ConversationState, ConversationState.chat_id.in_([str(c) for c in chats]),
                                    ConversationState.step == "commune_pick")
        if reached != len(chats):
            raise RuntimeError(f"dialog {how} on {label}: {reached} of {len(chats)} chats at the commune choice")
    else:
        before = await bench.count(Item)
        chats = await bench.at_summary(options.submissions)
        result = await measure(bench, feed.confirmations(chats), how, options)
        filed = await bench.count(Item) - before
        if filed != len(chats):
            raise RuntimeError(f"submission {how} on {label}: {filed} items filed for {len(chats)} confirmations")
    return result


def _fastest(runs) -> Run:
    return max(runs, key=lambda run_: run_.rate)


def _verdict(ratio: float, target: float) -> str:
    return f"≥ {target}: {'met' if ratio >= target else 'missed'}"


def parse(argv: list[str] | None = None) -> tuple[Options, argparse.Namespace]:
    parser = argparse.ArgumentParser(prog="python3 -m bench.pipeline", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: few messages, a quarter second of load")
    parser.add_argument("--messages", type=int, help="dialog updates per run (default 2000)")
    parser.add_argument("--submissions", type=int, help="confirmations per run (default 1000)")
    parser.add_argument("--rate", type=float, help="offered updates a second (default 200)")
    parser.add_argument("--seconds", type=float, help="length of each offered-load run (default 10)")
    parser.add_argument("--concurrency", type=int, help="updates of different chats handled at once (default: production's)")
    parser.add_argument("--repeats", type=int, help="runs of each measured row (default 3)")
    parser.add_argument("--db", choices=DATABASES, action="append", help="only this database (repeatable)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    options = Options.quick() if args.quick else Options()
    changes = {name: getattr(args, name) for name in ("messages", "submissions", "rate", "seconds", "concurrency", "repeats")
               if getattr(args, name) is not None}
    if args.db:
        changes["databases"] = tuple(args.db)
    return replace(options, **changes), args


def main(argv: list[str] | None = None) -> None:
    run_alone(parse, run, argv)


if __name__ == "__main__":
    main()
