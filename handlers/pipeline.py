"""One path for every channel: an ``Incoming`` in, replies into the outbox, all in one transaction.

    adapter ──Incoming──▶ handle_incoming ──▶ flow step ──▶ outbox rows (same commit)

Bad input never reaches a flow: empty, oversized, unsupported media, unknown commands and buttons
from an old or forged menu get a short answer in the user's language, and the current step is shown
again so the conversation stays usable.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass
from enum import Enum
from weakref import WeakKeyDictionary

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError, SQLAlchemyError

from bot.domain.dialog import Button, Conversation, Incoming, Reply
from bot.domain.ids import record_id
from bot.settings import Settings
from bot.texts import has, t
from handlers.chat_order import late_deliveries, lock_chats
from handlers import consultations, menu, officer, privacy, publications, schedules, start, statistics, submit, track  # noqa: F401  (flows register themselves)
from handlers import keyboards
from handlers.core import FLOWS, FlowContext
from handlers.flood import turned_away
from handlers.numbered import answer_by_number
from scheduler.outbox import release_held
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

class Outcome(str, Enum):
    handled = "handled"
    duplicate = "duplicate"
    flooded = "flooded"  # over the sender's flood limit: acknowledged, not run through a flow


@dataclass
class Result:
    outcome: Outcome
    replies: list[Reply]
    user_id: int | None = None


async def handle_incoming(incoming: Incoming, uows: UnitOfWorkFactory, settings: Settings, *,
                          flood_checked: bool = False) -> Result:
    """Process one delivery. Database errors propagate (the adapter asks the user to retry); any
    other failure inside a flow is answered politely and the conversation stays where it was.
    ``flood_checked``: the adapter already passed the delivery through the flood gate (a web upload
    is checked before its photo is stored)."""
    started = time.perf_counter()
    group_commit = group_commit_for(uows)
    metrics = group_commit.metrics
    if not flood_checked and await turned_away(incoming, uows, settings):
        if metrics is not None:
            metrics.handled(incoming.channel, Outcome.flooded.value)
        return Result(Outcome.flooded, [])
    try:
        result = await group_commit.submit(incoming, settings)
    except Exception:  # the database: the adapter asks the person to retry
        if metrics is not None:
            metrics.handled(incoming.channel, "failed")
        raise
    if metrics is not None:
        metrics.handled(incoming.channel, result.outcome.value, time.perf_counter() - started)
    return result


# Enough to divide a step's statements many times over, few enough that the last delivery of a
# full group still gets its answer in tens of milliseconds.
MAX_GROUP = 64
# Transactions of groups running at once, by database. On PostgreSQL a group spends about a third of
# its time waiting for the server (bench/pipeline.py), which a second group fills with its own
# steps; SQLite writes one transaction at a time (BEGIN IMMEDIATE), so a second would only wait.
PARALLEL_GROUPS = {"postgresql": 2}


class GroupCommit:
    """Deliveries that arrive while a transaction is running are committed together in the next one.

    A lone delivery starts at once, so a quiet bot answers as fast as before. Under load every
    statement of a step (delivery record, identities, conversations, replies) runs once for the whole
    group instead of once per delivery, which is where a step's time went (bench/pipeline.py). A group
    holds at most one delivery of a chat and of a person, in arrival order, and a chat or person with a
    delivery in a running group waits for that group to end, so one chat's messages are still handled
    one after another. On PostgreSQL two groups run at once (``PARALLEL_GROUPS``); their chats and
    people are distinct, so their steps touch distinct rows. If anything in a group fails, the group is
    rolled back and each of its deliveries is run again alone, so one broken flow or conflicting write
    (a deadlock between the two groups included) costs nobody else their message; a database that
    cannot be reached (or stays locked) fails them all at once instead, and each adapter asks its user
    to try again shortly.
    """

    def __init__(self, uows: UnitOfWorkFactory, max_group: int = MAX_GROUP, parallel: int | None = None):
        self.uows = uows
        self.max_group = max_group
        bind = getattr(uows.sessions, "kw", {}).get("bind")
        if parallel is None:
            parallel = PARALLEL_GROUPS.get(bind.dialect.name, 1) if bind is not None else 1
        self.parallel = parallel
        self._waiting: deque[_Waiting] = deque()
        self._workers: set[asyncio.Task] = set()
        self._busy: set[tuple[str, str]] = set()  # chats and people of the groups running now
        self._loop: asyncio.AbstractEventLoop | None = None
        # Several processes may share a PostgreSQL database: each group locks its chats there too
        # (handlers/chat_order.py). SQLite has one process.
        self.across_processes = bind is not None and bind.dialect.name == "postgresql"
        self.metrics = None  # bot/metrics.py's Metrics, set by the Runtime
        self.groups = 0   # groups committed, and the deliveries in them (for tests and benchmarks)
        self.grouped = 0

    async def submit(self, incoming: Incoming, settings: Settings) -> Result:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (tests make one each): nothing of the old one is alive
            self._loop, self._waiting, self._workers, self._busy = loop, deque(), set(), set()
        waiting = _Waiting(incoming, settings, loop.create_future())
        self._waiting.append(waiting)
        self._hire()
        # Shielded: a caller that gives up (a web client gone) does not take the delivery with it.
        return await asyncio.shield(waiting.future)

    def _hire(self) -> None:
        """A worker for waiting deliveries, up to ``parallel``. It takes its group when it first runs,
        so everything that arrived in the meantime can join."""
        # A worker that has returned is done at once (its done callbacks would come a step later).
        self._workers = {worker for worker in self._workers if not worker.done()}
        if self._waiting and len(self._workers) < self.parallel:
            self._workers.add(self._loop.create_task(self._drain()))

    async def _drain(self) -> None:
        while self._waiting:
            group = self._take()
            if not group:  # every waiting delivery's chat is in a running group: its worker goes on
                return
            keys = {key for waiting in group for key in _keys(waiting.incoming)}
            self._busy |= keys
            self._hire()  # deliveries left behind: another group may run beside this one
            try:
                await self._commit(group)
            finally:
                self._busy -= keys

    async def _commit(self, group: list["_Waiting"]) -> None:
        try:
            results = await _process_group(group, self.uows)
        except asyncio.CancelledError:  # the event loop is shutting down: nobody waits forever
            for waiting in group:
                waiting.future.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 - every failure of a group is answered below
            if len(group) == 1 and not isinstance(exc, IntegrityError):
                await self._answer_failure(group[0], exc)
            elif _fails_everyone(exc):
                log.warning("group of %d: database unavailable (%s)", len(group), type(exc).__name__)
                for waiting in group:
                    _settle(waiting.future, exception=exc)
            else:
                log.info("group of %d failed (%s); running each alone", len(group), type(exc).__name__)
                for waiting in group:
                    await self._alone(waiting)
            return
        self.groups += 1
        self.grouped += len(group)
        for waiting, result in zip(group, results):
            _settle(waiting.future, result=result)

    def _take(self) -> list["_Waiting"]:
        """The oldest deliveries of distinct chats and people of one channel, none of them in a running
        group, up to ``max_group``; the rest keep their order for the next group."""
        group: list[_Waiting] = []
        taken: set[tuple[str, str]] = set()
        blocked = set(self._busy)  # a chat whose older delivery is running or waits goes no further
        left: deque[_Waiting] = deque()
        first = None
        for waiting in self._waiting:
            keys = _keys(waiting.incoming)
            if first is None and not keys & blocked:
                first = waiting
            if (first is not None and len(group) < self.max_group and waiting.incoming.channel == first.incoming.channel
                    and waiting.settings is first.settings and not keys & taken and not keys & blocked):
                group.append(waiting)
                taken |= keys
            else:
                left.append(waiting)
                blocked |= keys
        self._waiting = left
        return group

    async def _alone(self, waiting: "_Waiting") -> None:
        for attempt in (1, 2):
            try:
                [result] = await _process_group([waiting], self.uows)
            except IntegrityError as exc:
                # A write that met another's (the same new person from two processes, a tracking code
                # drawn twice): the second run sees the other row, or draws another code.
                if attempt == 1:
                    continue
                await self._answer_failure(waiting, exc)
                return
            except Exception as exc:  # noqa: BLE001 - answered below
                await self._answer_failure(waiting, exc)
                return
            _settle(waiting.future, result=result)
            return

    async def _answer_failure(self, waiting: "_Waiting", exc: Exception) -> None:
        """A delivery that failed alone: a database error goes back to the adapter (which asks the user
        to retry); a bug inside a flow is apologised for, and the conversation stays where it was."""
        if isinstance(exc, (SQLAlchemyError, OSError)):  # asyncpg's refused connection is a bare OSError
            _settle(waiting.future, exception=exc)
            return
        log.error("flow failed channel=%s update=%s", waiting.incoming.channel, waiting.incoming.update_key,
                  exc_info=exc)
        try:
            result = await _apologise(waiting.incoming, self.uows, waiting.settings)
        except Exception as error:  # noqa: BLE001 - the adapter answers a database error
            _settle(waiting.future, exception=error)
            return
        _settle(waiting.future, result=result)


def _keys(incoming: Incoming) -> set[tuple[str, str]]:
    return {("chat", incoming.chat_id), ("user", incoming.user_id)}


@dataclass
class _Waiting:
    incoming: Incoming
    settings: Settings
    future: asyncio.Future


def _settle(future: asyncio.Future, *, result: Result | None = None, exception: BaseException | None = None) -> None:
    if future.done():
        return
    if exception is not None:
        future.set_exception(exception)
    else:
        future.set_result(result)


def _fails_everyone(exc: BaseException) -> bool:
    """A failure that running each delivery alone would only repeat, once per delivery: the database
    cannot be reached, timed out, or is locked (SQLite's busy timeout has already been waited out)."""
    return isinstance(exc, (OSError, TimeoutError, OperationalError, InterfaceError)) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated)


_group_commits: WeakKeyDictionary[UnitOfWorkFactory, GroupCommit] = WeakKeyDictionary()


def group_commit_for(uows: UnitOfWorkFactory) -> GroupCommit:
    """One group commit per running tiepdan (its unit-of-work factory), made on first use."""
    group_commit = _group_commits.get(uows)
    if group_commit is None:
        group_commit = _group_commits[uows] = GroupCommit(uows)
    return group_commit


async def _apologise(incoming: Incoming, uows: UnitOfWorkFactory, settings: Settings) -> Result:
    async with uows() as uow:
        if not await uow.inbound.first_delivery(incoming.channel, incoming.update_key):
            return Result(Outcome.duplicate, [])
        user = await uow.users.get_or_create(incoming.channel, incoming.user_id, incoming.chat_id,
                                             language=settings.default_language.value)
        reply = Reply(t(user.language, "error.internal"), ((Button(t(user.language, "menu.back"), "g:menu"),),))
        await uow.outbox.enqueue(incoming.channel, incoming.chat_id, reply,
                                 dedupe_key=f"reply:{incoming.channel}:{incoming.update_key}:error")
        await uow.commit()
        return Result(Outcome.handled, [reply], user.id)


async def _process_group(group: list[_Waiting], uows: UnitOfWorkFactory) -> list[Result]:
    """Run each delivery of ``group`` (one channel, distinct chats and people) through its flow step
    in one transaction; their results in the same order. Raises whatever any step raised."""
    channel = group[0].incoming.channel
    owner = _group_commits.get(uows)
    across = owner is not None and owner.across_processes
    async with uows() as uow:
        if across:  # first, before anything is written: another process may be in one of these chats
            await lock_chats(uow.session, channel, [w.incoming.chat_id for w in group])
        fresh = await uow.inbound.first_deliveries(channel, [w.incoming.update_key for w in group])
        live = [w for w in group if w.incoming.update_key in fresh]
        for waiting in group:
            if waiting.incoming.update_key not in fresh:
                log.info("ignored redelivery channel=%s update=%s", channel, waiting.incoming.update_key)
        if not live:
            return [Result(Outcome.duplicate, []) for _ in group]
        if across:
            late = await late_deliveries(uow.session, channel, [(w.incoming.chat_id, w.incoming.update_key)
                                                                for w in live])
            if late and owner.metrics is not None:
                for _ in late:
                    owner.metrics.handled(channel, "late")
        users = await uow.users.get_or_create_many(channel, [
            (w.incoming.user_id, w.incoming.chat_id, _first_language(w.incoming, w.settings)) for w in live])
        conversations = await uow.conversations.load_many(channel, [w.incoming.chat_id for w in live])
        results: dict[str, Result] = {}
        saves, replies, steps = [], [], []
        for waiting in live:
            incoming = waiting.incoming
            user = users[incoming.user_id]
            # Messages a platform held until this chat's next interaction (Zalo's 7-day window) leave first.
            await release_held(uow, channel, incoming.chat_id, user.language)
            conversation = conversations.get(incoming.chat_id)
            steps.append((FlowContext(uow=uow, user=user, incoming=incoming, conversation=conversation or Conversation(),
                                      settings=waiting.settings), conversation is None))
        await _prepare([ctx for ctx, is_new in steps if not is_new])
        for ctx, is_new in steps:
            incoming, conversation, user = ctx.incoming, ctx.conversation, ctx.user
            uow.outbox.transcribe(incoming)  # the web chat keeps the person's side too, in this commit
            before = (conversation.flow, conversation.step)
            await _route(ctx, is_new=is_new)
            key = f"reply:{channel}:{incoming.update_key}"
            superseded = keyboards.settle(ctx, before, key)  # the buttons still valid; old ones taken away
            saves.append((incoming.chat_id, user.id, conversation))
            replies += [(channel, incoming.chat_id, reply, f"{key}:{index}") for index, reply in enumerate(ctx.replies)]
            replies += [(channel, incoming.chat_id, reply, clear_key) for reply, clear_key in superseded]
            results[incoming.update_key] = Result(Outcome.handled, ctx.replies, user.id)
        await uow.conversations.save_many(channel, saves)
        await uow.outbox.enqueue_many(replies, at_commit=True)  # with the officers' notices, if any
        await uow.commit()
    return [results.get(w.incoming.update_key) or Result(Outcome.duplicate, []) for w in group]


async def _prepare(contexts: list[FlowContext]) -> None:
    """Let each flow read ahead, with one statement, what several of the group's steps will need
    (``Flow.prepare``, optional): the submit flow's duplicate check, for instance."""
    by_flow: dict[str, list[FlowContext]] = {}
    for ctx in contexts:
        by_flow.setdefault(ctx.conversation.flow, []).append(ctx)
    for name, flow_contexts in by_flow.items():
        prepare = getattr(FLOWS.get(name), "prepare", None)
        if prepare is not None:
            await prepare(flow_contexts)


def _first_language(incoming: Incoming, settings: Settings) -> str:
    """Vietnamese unless configured otherwise; an English-language client starts in English."""
    hint = (incoming.platform_language or "").split("-")[0].lower()
    return "en" if hint == "en" else settings.default_language.value


async def _route(ctx: FlowContext, *, is_new: bool) -> None:
    if not is_new and await answer_by_number(ctx):  # keyboard-less channels: "2" stands for the 2nd button
        return
    incoming = ctx.incoming
    if is_new and incoming.command not in ("start", "officer"):
        # First contact that is not /start (a web visitor typing, a Zalo follower): greet first. An
        # officer's very first message may be their invite: it is redeemed, not swallowed.
        await ctx.goto("start", "language")
        return
    if incoming.verified_phone is not None:  # the person's own number, shared through their platform
        await FLOWS["consultations"].take_phone(ctx)
        return
    if incoming.unsupported:
        kind = f"media.{incoming.unsupported}"
        ctx.say("error.unsupported", what=ctx.text(kind if has(kind) else "media.other"))
        await _reprompt(ctx)
        return
    if incoming.button is not None:
        await _on_button(ctx)
        return
    if incoming.text is not None and not incoming.photos and incoming.location is None:
        if not incoming.text.strip():
            ctx.say("error.empty")
            await _reprompt(ctx)
            return
        if len(incoming.text) > ctx.settings.max_text_length:
            ctx.say("error.too_long", length=len(incoming.text), limit=ctx.settings.max_text_length)
            await _reprompt(ctx)
            return
        if incoming.command is not None:
            await _on_command(ctx, incoming.command)
            return
    await FLOWS[ctx.conversation.flow].handle(ctx)


async def _on_command(ctx: FlowContext, command: str) -> None:
    if command == "start":
        await FLOWS["start"].begin(ctx)
    elif command == "menu":
        await FLOWS["menu"].go_home(ctx)  # a half-written submission: asks first
    elif command == "help":
        await FLOWS["menu"].show_help(ctx)
        await _reprompt(ctx)
    elif command == "officer":
        await FLOWS["officer"].redeem(ctx, ctx.incoming.command_argument)
    elif command == "inbox":
        await FLOWS["officer"].open_inbox(ctx)
    elif command == "console":
        from bot.console.login import send_login_link  # the console's module, loaded when first asked

        await send_login_link(ctx)
    elif command == "privacy":
        await ctx.goto("privacy", "show")
    elif command == "cancel":
        if ctx.conversation.flow == "submit":  # as its «Huỷ» button: nothing is kept as a draft
            FLOWS["submit"].discard(ctx)
        ctx.say("cancelled")
        await ctx.goto("menu", "main")
    else:
        ctx.say("error.unknown_command", command=command[:32])
        await _reprompt(ctx)


async def _on_button(ctx: FlowContext) -> None:
    value = ctx.incoming.button
    if value == "g:menu":
        await FLOWS["menu"].go_home(ctx)  # a half-written submission: asks first
    elif value == "g:help":
        await FLOWS["menu"].show_help(ctx)
        await _reprompt(ctx)
    elif value == "g:start":
        await FLOWS["start"].begin(ctx)
    elif value.startswith("g:oi:") and (item_id := record_id(value[5:])) is not None:
        await FLOWS["officer"].open_item(ctx, item_id)
    elif value.startswith("g:item:") and (item_id := record_id(value[7:])) is not None:
        # From a notification: open that item (the track flow shows only the citizen's own items).
        await ctx.goto("track", "detail", item_id=item_id)
    elif value not in ctx.conversation.expected_buttons:
        ctx.say("error.expired_button")
        await _reprompt(ctx)
    else:
        await FLOWS[ctx.conversation.flow].handle(ctx)


async def _reprompt(ctx: FlowContext) -> None:
    await FLOWS[ctx.conversation.flow].prompt(ctx)

