"""Unit of work: one transaction per incoming message or job. Repositories never commit; this does.

    async with uow_factory() as uow:
        ...
        await uow.commit()

Leaving the block without ``commit()`` rolls back; objects loaded inside stay readable.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.repositories import (
    ConversationRepository,
    InboundRepository,
    ItemRepository,
    PublicationRepository,
    UnitRepository,
    UserRepository,
)
from storage.repositories_outbox import OutboxRepository


class UnitOfWork:
    def __init__(self, sessions: async_sessionmaker, on_commit: Callable[[], None] | None = None):
        self._sessions = sessions
        self._on_commit = on_commit
        self.session: AsyncSession | None = None
        self.enqueued = 0
        self._before_commit: dict[Callable[..., Awaitable[None]], list[Any]] = {}

    async def __aenter__(self) -> "UnitOfWork":
        self.session = self._sessions()
        self.dialect = self.session.bind.dialect.name
        self.users = UserRepository(self.session)
        self.conversations = ConversationRepository(self.session)
        self.inbound = InboundRepository(self.session)
        self.outbox = OutboxRepository(self.session, self)
        self.items = ItemRepository(self.session)
        self.units = UnitRepository(self.session)
        self.publications = PublicationRepository(self.session)
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        # close() rolls back whatever was not committed and detaches the loaded objects without
        # expiring them, so what a read-only unit of work returns stays readable afterwards.
        await self.session.close()

    def before_commit(self, hook: Callable[["UnitOfWork", list[Any]], Awaitable[None]]) -> list[Any]:
        """A list to collect things in during the transaction; at commit, after everything pending is
        flushed (new rows have their ids), ``hook(uow, collected)`` runs once for all of them. Hooks
        run in the order they were first asked for; what a hook collects for a later one joins that
        one's list (the officers' notices of new items join the step's replies in the outbox's one
        write), and a hook asked for again after it ran runs again."""
        return self._before_commit.setdefault(hook, [])

    async def commit(self) -> None:
        while self._before_commit:
            await self.session.flush()
            hook = next(iter(self._before_commit))
            await hook(self, self._before_commit.pop(hook))
        await self.session.commit()
        if self.enqueued and self._on_commit:
            # Wake the outbox dispatcher so a reply leaves in milliseconds, not at the next poll.
            self._on_commit()
        self.enqueued = 0

    async def rollback(self) -> None:
        await self.session.rollback()
        self.enqueued = 0
        self._before_commit = {}


class UnitOfWorkFactory:
    def __init__(self, sessions: async_sessionmaker, on_commit: Callable[[], None] | None = None):
        self.sessions = sessions
        self.on_commit = on_commit

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.on_commit)
