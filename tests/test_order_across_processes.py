"""One chat's deliveries handled one after another when they land on different serve processes.

Two Runtimes on one PostgreSQL database stand for two processes behind nginx: each has its own
engine, connection pool and group commit, so nothing but the database connects them. Process A
takes update 10 of a chat (a press on "submit" at the menu) and is held inside its step; process B
gets update 11 of the same chat (the kind of submission, a button that only the step after 10 shows).
B must wait for A's commit and then see the state A wrote: without the per-chat lock it reads the
menu state and answers "that button is no longer valid".
"""

from __future__ import annotations

import asyncio
import itertools

import pytest
from sqlalchemy import func, select, text

from bot.app import Runtime
from bot.domain.dialog import Incoming
from bot.texts import t
from handlers.pipeline import FLOWS, handle_incoming
from storage.models import OutboxMessage
from storage.models_scale import ChatSequence

CHAT = "5550001"
update_ids = itertools.count(1000)


def pressed(value: str, update: int | None = None) -> Incoming:
    return Incoming("telegram", CHAT, CHAT, str(update or next(update_ids)), button=value)


def typed(words: str, update: int | None = None) -> Incoming:
    return Incoming("telegram", CHAT, CHAT, str(update or next(update_ids)), text=words)


async def at_the_menu(runtime: Runtime) -> None:
    for incoming in (typed("/start"), pressed("lang:vi"), typed("hoan kiem"), pressed("commune:70")):
        await handle_incoming(incoming, runtime.uows, runtime.settings)


def late(runtime: Runtime) -> float:
    return runtime.metrics.registry.get_sample_value(
        "tiepdan_updates_handled_total", {"channel": "telegram", "outcome": "late"}) or 0.0


@pytest.fixture
async def second(settings, runtime):
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("several serve processes share a database only on PostgreSQL")
    other = Runtime(settings, run_scheduler=False)
    await other.start(migrate=False)
    yield other
    await other.stop()


async def _waiting_for_a_chat_lock(runtime: Runtime, other: asyncio.Task, seconds: float = 15.0) -> bool:
    """Whether a transaction waits for an advisory lock (polled), or False once ``other`` finished."""
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline and not other.done():
        async with runtime.engine.connect() as connection:
            waiting = (await connection.execute(text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"))).scalar_one()
        if waiting:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_a_chats_next_delivery_on_another_process_waits_for_the_one_before(runtime, second, monkeypatch):
    await at_the_menu(runtime)
    menu = FLOWS["menu"]
    inside, release = asyncio.Event(), asyncio.Event()
    original = menu.handle

    async def held(ctx):
        if ctx.incoming.update_key == "50010":
            inside.set()
            await release.wait()  # A is inside update 10's step, its transaction open
        await original(ctx)

    monkeypatch.setattr(menu, "handle", held)
    first = asyncio.create_task(handle_incoming(pressed("menu:submit", 50_010), runtime.uows, runtime.settings))
    await asyncio.wait_for(inside.wait(), 15)
    then = asyncio.create_task(handle_incoming(pressed("kind:feedback", 50_011), second.uows, second.settings))
    waited = await _waiting_for_a_chat_lock(runtime, then)
    release.set()
    ten, eleven = await asyncio.gather(first, then)

    assert waited, "process B handled the chat's update 11 while A was still inside update 10"
    assert "kind:feedback" in ten.replies[-1].button_values()
    assert [r.text for r in eleven.replies] == [t("vi", "submit.category")]  # not "expired button"
    async with runtime.uows() as uow:
        rows = [row for row in (await uow.session.execute(select(OutboxMessage).where(
            OutboxMessage.chat_id == CHAT).order_by(OutboxMessage.id))).scalars() if row.payload["text"]]
    # Written in that order too: 11's question after 10's.
    assert [row.payload["text"] for row in rows[-2:]] == [ten.replies[-1].text, t("vi", "submit.category")]


async def test_many_deliveries_of_one_chat_spread_over_two_processes_keep_the_conversation_whole(runtime, second):
    """A chat's presses alternate between the processes, each sent as soon as the previous one was
    answered (as Telegram and the web page do), while other chats keep both processes busy."""
    await at_the_menu(runtime)
    steps = [pressed("menu:submit"), pressed("kind:feedback"), pressed("category:infrastructure"),
             typed("Đèn đường hỏng trước số 4 phố Hàng Bạc từ ba hôm nay."), pressed("photos:done"),
             pressed("location:skip"), pressed("consent:anonymous")]

    async def others(process: Runtime, base: int) -> None:
        for n in range(40):
            chat = str(base + n % 8)
            await handle_incoming(Incoming("telegram", chat, chat, str(next(update_ids)), text="/help"),
                                  process.uows, process.settings)

    noise = [asyncio.create_task(others(runtime, 6_000_000)), asyncio.create_task(others(second, 6_100_000))]
    answers = []
    for index, incoming in enumerate(steps):
        process = (runtime, second)[index % 2]
        answers.append(await handle_incoming(incoming, process.uows, process.settings))
    await asyncio.gather(*noise)
    expired = t("vi", "error.expired_button")
    assert not [a for a in answers if any(r.text == expired for r in a.replies)]
    assert answers[-1].replies[-1].buttons[0][0].value == "submit:send"  # the summary, ready to send
    assert late(runtime) == late(second) == 0


async def test_an_older_update_after_a_newer_one_is_handled_and_counted_late(runtime, second):
    await at_the_menu(runtime)
    newer, older = next(update_ids) + 5, None
    older = newer - 1
    first = await handle_incoming(typed("/help", newer), runtime.uows, runtime.settings)
    again = await handle_incoming(typed("/help", older), second.uows, second.settings)
    assert first.replies and again.replies  # handled, not dropped
    assert (late(runtime), late(second)) == (0, 1)
    async with runtime.uows() as uow:
        row = await uow.session.get(ChatSequence, ("telegram", CHAT))
    assert row.last_sequence == newer


async def test_on_sqlite_a_single_process_writes_no_sequences(runtime):
    if runtime.engine.dialect.name != "sqlite":
        pytest.skip("the SQLite case")
    await at_the_menu(runtime)
    async with runtime.uows() as uow:
        assert (await uow.session.execute(select(func.count()).select_from(ChatSequence))).scalar_one() == 0
