"""Polling leader election (bot/leader.py): one holder of the PostgreSQL advisory lock polls.

These drive ``PollingLeader`` objects directly, each on its own connection as separate processes
would be; tests/test_scale_out.py's polling test does it with real ``serve`` processes and SIGKILL.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.leader import PollingLeader

KEY = 0x74696570_64616EFF  # not the real locks: a test must not take the Telegram lock of another run


class Poller:
    """Records who polls; ``active`` is how many poll at this moment, ``most`` the most there ever were."""

    active = 0
    most = 0

    def __init__(self, name: str, fail: int = 0):
        self.name, self.fail, self.polling, self.elections, self.stops = name, fail, False, 0, 0

    async def lead(self) -> None:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("the platform cannot be reached")
        self.polling = True
        self.elections += 1
        Poller.active += 1
        Poller.most = max(Poller.most, Poller.active)

    async def follow(self) -> None:
        self.polling = False
        self.stops += 1
        Poller.active -= 1


@pytest.fixture
def dsn(settings):
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("one process polls on SQLite; the lock is PostgreSQL's")
    Poller.active = Poller.most = 0
    return settings.database_url.replace("postgresql+asyncpg://", "postgresql://")


async def until(condition, seconds: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "not within the time allowed"
        await asyncio.sleep(0.02)


def leaders(dsn: str, pollers: list[Poller], retry: float = 0.2) -> list[PollingLeader]:
    return [PollingLeader(dsn, KEY, p.name, p.lead, p.follow, retry=retry) for p in pollers]


async def test_of_three_processes_exactly_one_polls(dsn):
    pollers = [Poller(f"p{n}") for n in range(3)]
    group = leaders(dsn, pollers)
    try:
        for leader in group:
            await leader.start()
        await asyncio.sleep(1.0)  # five rounds of retries: nobody else gets in
        assert [p.polling for p in pollers] == [True, False, False]
        assert Poller.most == 1
    finally:
        for leader in group:
            await leader.stop()


async def test_when_the_leaders_session_ends_it_stops_and_another_takes_over(dsn):
    import asyncpg

    pollers = [Poller("a"), Poller("b")]
    first, second = leaders(dsn, pollers)
    admin = await asyncpg.connect(dsn)
    try:
        await first.start()
        await second.start()
        assert pollers[0].polling and not pollers[1].polling
        pid = first._connection.get_server_pid()
        await admin.execute("SELECT pg_terminate_backend($1)", pid)  # the server let go of its lock
        await until(lambda: pollers[0].stops == 1, 5.0)  # it noticed, and stopped polling
        # Then whichever gets the lock first polls (the old leader reconnects and competes too).
        await until(lambda: sum(p.polling for p in pollers) == 1, 10.0)
        await asyncio.sleep(0.5)
        assert sum(p.polling for p in pollers) == 1 and Poller.most == 1
    finally:
        await admin.close()
        await first.stop()
        await second.stop()


async def test_a_leader_that_cannot_start_polling_gives_the_lock_to_another(dsn):
    pollers = [Poller("unreachable", fail=1000), Poller("fine")]
    first, second = leaders(dsn, pollers)
    try:
        await first.start()
        await second.start()
        await until(lambda: pollers[1].polling, 10.0)
        assert pollers[0].elections == 0
    finally:
        await first.stop()
        await second.stop()


async def test_a_stopped_leader_hands_over_within_seconds_and_never_two_at_once(dsn):
    pollers = [Poller(f"p{n}") for n in range(3)]
    group = leaders(dsn, pollers)
    try:
        for leader in group:
            await leader.start()
        for _ in range(2):  # stop whoever leads; another follows; start the stopped one again
            current = next(n for n, p in enumerate(pollers) if p.polling)
            await group[current].stop()
            await until(lambda: sum(p.polling for p in pollers) == 1 and not pollers[current].polling, 10.0)
            group[current] = leaders(dsn, [pollers[current]])[0]
            await group[current].start()
        assert Poller.most == 1
        assert sum(p.elections for p in pollers) == 3
    finally:
        for leader in group:
            await leader.stop()
