"""Deliveries that arrive together share a transaction (handlers/pipeline.py, GroupCommit), on both
databases: each still gets its own answer, one chat's messages keep their order, a failure costs
nobody else their message, and python-telegram-bot hands over updates of different chats at once
without holding more than its bound in memory."""

from __future__ import annotations

import asyncio
import itertools
import logging
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event, select

import bot.petitions
import handlers.pipeline as pipeline
from bot.channels.telegram import ChatOrderedUpdates, UpdateQueue
from bot.domain.dialog import Incoming
from handlers.core import FLOWS
from handlers.pipeline import Outcome, group_commit_for, handle_incoming
from storage.demo import DEMO_COMMUNE
from storage.models import ChannelIdentity, ConversationState, Item, OutboxMessage, ProcessedUpdate, User
from tests.webchat import Browser, file_feedback, reach_menu, rows

CHANNEL = "web"


def said(chat: str, key: str, **fields) -> Incoming:
    return Incoming(CHANNEL, chat, chat, f"{chat}:{key}", **fields)


async def replies_to(runtime, chat: str) -> list[str]:
    return [row.payload["text"] for row in await rows(runtime, OutboxMessage, OutboxMessage.chat_id == chat)]


async def conversation(runtime, chat: str) -> tuple[str, str] | None:
    found = await rows(runtime, ConversationState, ConversationState.chat_id == chat)
    return (found[0].flow, found[0].step) if found else None


async def test_deliveries_arriving_together_share_a_commit_and_each_gets_its_own_answer(runtime):
    commits = group_commit_for(runtime.uows)
    groups_before = commits.groups
    chats = [f"together-{n}" for n in range(20)]
    results = await asyncio.gather(*(handle_incoming(said(chat, "1", text="/start"), runtime.uows, runtime.settings)
                                     for chat in chats))
    assert [result.outcome for result in results] == [Outcome.handled] * 20
    assert commits.groups - groups_before <= 2  # not twenty transactions
    for chat, result in zip(chats, results):
        assert await conversation(runtime, chat) == ("start", "language")
        texts = await replies_to(runtime, chat)
        assert texts == [reply.text for reply in result.replies] and "Xin chào" in texts[0]
    assert len(await rows(runtime, ProcessedUpdate)) >= 20


async def test_one_chats_messages_go_in_later_groups_in_the_order_they_came(runtime, monkeypatch):
    groups: list[list[str]] = []
    real = pipeline._process_group

    async def recorded(group, uows):
        groups.append([waiting.incoming.chat_id for waiting in group])
        return await real(group, uows)

    monkeypatch.setattr(pipeline, "_process_group", recorded)
    steps = [said("ordered", "1", text="/start"), said("ordered", "2", button="lang:vi"),
             said("ordered", "3", text="hoan kiem")]
    others = [said(f"other-{n}", "1", text="/start") for n in range(5)]
    # The chat's three arrive at once, mixed with other chats: each must see the state the one before left.
    results = await asyncio.gather(*(handle_incoming(incoming, runtime.uows, runtime.settings)
                                     for incoming in [steps[0], *others[:2], steps[1], *others[2:], steps[2]]))
    assert all(result.outcome is Outcome.handled for result in results)
    assert all(group.count("ordered") <= 1 for group in groups) and len(groups) >= 3
    assert await conversation(runtime, "ordered") == ("start", "commune_pick")
    [*_, last] = await rows(runtime, OutboxMessage, OutboxMessage.chat_id == "ordered")
    assert "Phường Hoàn Kiếm" in str(last.payload["buttons"])  # the search ran on the chosen language


async def test_the_same_delivery_twice_in_a_burst_is_handled_once(runtime):
    twice = said("twice", "1", text="/start")
    first, second = await asyncio.gather(handle_incoming(twice, runtime.uows, runtime.settings),
                                         handle_incoming(twice, runtime.uows, runtime.settings))
    assert sorted([first.outcome, second.outcome]) == sorted([Outcome.handled, Outcome.duplicate])
    assert len(await replies_to(runtime, "twice")) == len((first.replies or second.replies))


async def test_a_flow_that_breaks_inside_a_group_costs_the_others_nothing(runtime, monkeypatch):
    start = FLOWS["start"]
    real_begin = start.begin

    async def begin(ctx):
        if ctx.incoming.chat_id == "broken":
            raise RuntimeError("a bug in a flow")
        await real_begin(ctx)

    monkeypatch.setattr(start, "begin", begin)
    chats = ["fine-1", "broken", "fine-2", "fine-3"]
    results = await asyncio.gather(*(handle_incoming(said(chat, "1", text="/start"), runtime.uows, runtime.settings)
                                     for chat in chats))
    assert all(result.outcome is Outcome.handled for result in results)
    for chat in ("fine-1", "fine-2", "fine-3"):
        assert await conversation(runtime, chat) == ("start", "language")
        assert "Xin chào" in (await replies_to(runtime, chat))[0]
    assert "Xin lỗi" in (await replies_to(runtime, "broken"))[0]  # an apology, not silence
    assert await conversation(runtime, "broken") is None        # and no half-made state
    keys = {row.update_key for row in await rows(runtime, ProcessedUpdate)}
    assert {f"{chat}:1" for chat in chats} <= keys             # every delivery recorded once


async def test_two_groups_run_at_once_on_postgresql_and_never_share_a_chat(runtime, monkeypatch, caplog):
    """PostgreSQL: a second group runs while the first waits for the server (``PARALLEL_GROUPS``);
    SQLite: one at a time. Either way a chat with a delivery in a running group is in no other group
    until that one ends, so each chat's three steps still see the state the one before left."""
    caplog.set_level(logging.INFO, logger="handlers.pipeline")
    commits = group_commit_for(runtime.uows)
    running: list[set[str]] = []
    shared: list[set[str]] = []  # chats found in two running groups (an assert here would be a group failure)
    most = 0
    real = pipeline._process_group

    async def watched(group, uows):
        nonlocal most
        chats = {waiting.incoming.chat_id for waiting in group}
        shared.extend(chats & other for other in running if chats & other)
        running.append(chats)
        most = max(most, len(running))
        try:
            return await real(group, uows)
        finally:
            running.remove(chats)

    monkeypatch.setattr(pipeline, "_process_group", watched)
    chats = [f"parallel-{n}" for n in range(90)]  # more than a group's 64, fewer than two groups' worth
    steps = [("1", {"text": "/start"}), ("2", {"button": "lang:vi"}), ("3", {"text": "hoan kiem"})]

    # Every chat's three steps arrive at once, in their order, one round of steps after the other.
    results = await asyncio.gather(*(handle_incoming(said(chat, key, **fields), runtime.uows, runtime.settings)
                                     for key, fields in steps for chat in chats))
    assert [result.outcome for result in results] == [Outcome.handled] * 3 * len(chats)
    expected = 2 if runtime.engine.dialect.name == "postgresql" else 1
    assert commits.parallel == expected and most == expected and shared == []
    assert "running each alone" not in caplog.text  # no group failed on the other's rows
    states = {row.chat_id: (row.flow, row.step) for row in await rows(runtime, ConversationState)
              if row.chat_id.startswith("parallel-")}
    assert states == {chat: ("start", "commune_pick") for chat in chats}


async def test_a_deadlock_between_two_groups_is_settled_by_running_each_delivery_alone(runtime, monkeypatch):
    """PostgreSQL breaks a deadlock by failing one of the transactions; that group's deliveries are
    run again one by one, and every one of them is answered."""
    import asyncpg
    from sqlalchemy.exc import DBAPIError

    real = pipeline._process_group
    failed = []

    async def deadlocked_once(group, uows):
        if len(group) > 1 and not failed:
            failed.append(len(group))
            raise DBAPIError("UPDATE conversations ...", {}, asyncpg.exceptions.DeadlockDetectedError("deadlock detected"))
        return await real(group, uows)

    monkeypatch.setattr(pipeline, "_process_group", deadlocked_once)
    chats = [f"deadlock-{n}" for n in range(6)]
    results = await asyncio.gather(*(handle_incoming(said(chat, "1", text="/start"), runtime.uows, runtime.settings)
                                     for chat in chats))
    assert failed and all(result.outcome is Outcome.handled for result in results)
    for chat in chats:
        assert await conversation(runtime, chat) == ("start", "language")


async def test_a_lost_database_fails_the_whole_group_at_once_and_nothing_is_recorded(runtime, monkeypatch):
    calls = []

    async def unreachable(group, uows):
        calls.append(len(group))
        raise ConnectionRefusedError("database down")

    monkeypatch.setattr(pipeline, "_process_group", unreachable)
    outcomes = await asyncio.gather(*(handle_incoming(said(f"down-{n}", "1", text="/start"), runtime.uows,
                                                      runtime.settings) for n in range(6)),
                                    return_exceptions=True)
    assert all(isinstance(outcome, ConnectionRefusedError) for outcome in outcomes)  # the adapters ask to retry
    assert sum(calls) == 6 and len(calls) < 6  # tried together, not retried one by one against a dead server
    monkeypatch.undo()
    again = await handle_incoming(said("down-0", "1", text="/start"), runtime.uows, runtime.settings)
    assert again.outcome is Outcome.handled  # the retry is a first delivery: nothing was half-recorded


async def test_a_tracking_code_drawn_twice_is_drawn_again(runtime, monkeypatch):
    async with TestClient(TestServer(runtime.web_app)) as client:
        first, second = Browser(client), Browser(client)
        second.client = client
        await reach_menu(first)
        receipt = await file_feedback(first)
        [taken] = [item.tracking_code for item in await rows(runtime, Item)]
        assert taken in receipt[0]["text"]
        drawn = iter([taken, taken, "TD-12345-6789A"])  # the same code twice: refused twice, then a new one
        monkeypatch.setattr(bot.petitions, "new_tracking_code", lambda: next(drawn))
        client.session.cookie_jar.clear()  # another citizen's browser
        await reach_menu(second)
        receipt = await file_feedback(second)
    assert "TD-12345-6789A" in receipt[0]["text"]
    assert sorted(item.tracking_code for item in await rows(runtime, Item)) == sorted([taken, "TD-12345-6789A"])


async def test_the_update_queue_holds_at_most_its_limit_until_updates_are_handled():
    queue = UpdateQueue(2)
    await queue.put("a")
    await queue.put("b")
    third = asyncio.ensure_future(queue.put("c"))
    await asyncio.sleep(0.01)
    assert not third.done()  # the poller waits: Telegram keeps the rest
    assert await queue.get() == "a"
    await asyncio.sleep(0.01)
    assert not third.done()  # taken out is not handled yet
    queue.task_done()
    await asyncio.wait_for(third, 1)
    with pytest.raises(asyncio.QueueFull):
        queue.put_nowait("d")


async def test_updates_of_one_chat_wait_for_each_other_and_other_chats_do_not():
    from telegram import Update

    from tests.telegram_fake import text_update

    processor = ChatOrderedUpdates(8)
    order: list[tuple[int, str]] = []
    release = asyncio.Event()

    async def handle(chat: int, text: str, wait: bool) -> None:
        order.append((chat, f"start {text}"))
        if wait:
            await release.wait()
        order.append((chat, f"end {text}"))

    def update(chat: int, text: str) -> Update:
        return Update.de_json(text_update(len(order) + chat, chat, text), None)

    tasks = [asyncio.ensure_future(processor.process_update(update(1, "a"), handle(1, "a", True))),
             asyncio.ensure_future(processor.process_update(update(1, "b"), handle(1, "b", False))),
             asyncio.ensure_future(processor.process_update(update(2, "c"), handle(2, "c", False)))]
    await asyncio.sleep(0.01)
    assert (2, "end c") in order and (1, "start b") not in order  # chat 2 went by, chat 1's second waits
    release.set()
    await asyncio.gather(*tasks)
    assert [step for chat, step in order if chat == 1] == ["start a", "end a", "start b", "end b"]


_KEYS = itertools.count()
TO_SUMMARY = ["/start", "lang:vi", "hoan kiem", f"commune:{DEMO_COMMUNE}", "menu:submit", "kind:feedback",
              "category:infrastructure", None, "photos:done", "location:skip", "consent:anonymous"]


async def at_summary(runtime, chat: str, description: str) -> None:
    """Drive ``chat`` through the submit flow to the summary of an anonymous feedback."""
    for number, press in enumerate(TO_SUMMARY):
        key = f"{chat}:summary:{next(_KEYS)}"
        incoming = (Incoming(CHANNEL, chat, chat, key, text=description) if press is None else
                    Incoming(CHANNEL, chat, chat, key, text=press) if press.startswith("/") or " " in press else
                    Incoming(CHANNEL, chat, chat, key, button=press))
        assert (await handle_incoming(incoming, runtime.uows, runtime.settings)).outcome is Outcome.handled
    assert await conversation(runtime, chat) == ("submit", "summary")


def statements(runtime) -> list[str]:
    """Every statement the runtime's engine runs from now on (until the engine is disposed)."""
    seen: list[str] = []

    def record(connection, cursor, statement, parameters, context, executemany):
        seen.append(" ".join(statement.split()))

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", record)
    return seen


async def test_confirmations_committed_together_check_for_duplicates_and_queue_their_messages_at_once(
        runtime, monkeypatch):
    """A group of confirmations reads every citizen's recent items with one statement (not one each),
    still finds the one that repeats an item filed minutes ago, and writes all replies and the
    officers' new-item notices with one insert."""
    sizes: list[int] = []
    real = pipeline._process_group

    async def recorded(group, uows):
        sizes.append(len(group))
        return await real(group, uows)

    async with runtime.uows() as uow:  # the demo's officers, reachable on Telegram
        for officer in (await uow.session.execute(select(User).where(User.role == "officer"))).scalars():
            uow.session.add(ChannelIdentity(channel="telegram", external_id=f"officer-{officer.id}",
                                            user_id=officer.id, last_chat_id=f"officer-{officer.id}"))
        await uow.commit()
    chats = [f"confirm-{n}" for n in range(5)]
    await at_summary(runtime, chats[0], "Cống thoát nước ngõ 5 bị tắc")
    await handle_incoming(said(chats[0], "first-send", button="submit:send"), runtime.uows, runtime.settings)
    [earlier] = await rows(runtime, Item)
    await at_summary(runtime, chats[0], "Cống thoát nước ngõ 5 bị tắc")  # the very same text again
    for n, chat in enumerate(chats[1:], 1):
        await at_summary(runtime, chat, f"Đèn đường số {n} ngõ Hàng Bạc bị hỏng")
    monkeypatch.setattr(pipeline, "_process_group", recorded)
    seen = statements(runtime)
    results = await asyncio.gather(*(handle_incoming(said(chat, "send", button="submit:send"), runtime.uows,
                                                     runtime.settings) for chat in chats))
    assert all(result.outcome is Outcome.handled for result in results)
    assert await conversation(runtime, chats[0]) == ("submit", "duplicate")
    assert earlier.tracking_code in results[0].replies[0].text
    filed = {item.chat_id: item for item in await rows(runtime, Item)}
    assert set(filed) == set(chats) and filed[chats[0]].id == earlier.id  # the repeat was not filed again
    for chat, result in zip(chats[1:], results[1:]):
        assert await conversation(runtime, chat) == ("menu", "main")
        assert filed[chat].tracking_code in result.replies[0].text
    notices = await rows(runtime, OutboxMessage, OutboxMessage.dedupe_key.like("new-item:%"))
    assert {notice.payload["buttons"][0][0]["value"] for notice in notices} >= {
        f"g:oi:{filed[chat].id}" for chat in chats[1:]}
    assert sum(sizes) == len(chats) and max(sizes) > 1
    together = sum(1 for size in sizes if size > 1)
    # Every citizen of the group at once: IN on SQLite, = ANY(an array) on PostgreSQL.
    bulk_reads = [s for s in seen if s.startswith("SELECT items.citizen_id") and (" IN " in s or "= ANY (" in s)]
    single_reads = [s for s in seen if s.startswith("SELECT items.tracking_code") and "citizen_id" in s]
    assert len(bulk_reads) == together and len(single_reads) == len(sizes) - together
    outbox_writes = [s for s in seen if s.startswith("INSERT INTO outbox")]
    assert len(outbox_writes) == len(sizes)  # replies and notices of a group in one statement


async def test_the_duplicate_check_read_ahead_answers_each_citizen_once(runtime):
    """What ``prime_recent`` read answers a citizen's first check only; a second one reads again
    and so sees what was stored meanwhile."""
    await at_summary(runtime, "primed", "Rác thải ở chợ chưa được thu gom")
    await handle_incoming(said("primed", "send", button="submit:send"), runtime.uows, runtime.settings)
    [item] = await rows(runtime, Item)
    since = item.received_at - timedelta(minutes=1)
    async with runtime.uows() as uow:
        await uow.items.prime_recent([item.citizen_id, 999_999], since)
        seen = statements(runtime)
        assert await uow.items.recent_by_text(item.citizen_id, item.description, since) == item.tracking_code
        assert await uow.items.recent_by_text(999_999, item.description, since) is None
        assert [s for s in seen if "FROM items" in s] == []  # both answered from what was read ahead
        assert await uow.items.recent_by_text(item.citizen_id, "another text", since) is None
        assert len([s for s in seen if "FROM items" in s]) == 1  # the second check of the same citizen read again
