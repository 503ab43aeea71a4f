"""A one-time invite works once, even when many people redeem the same code at the same moment, on
SQLite and PostgreSQL: exactly one becomes staff, every other attempt is refused and changes nothing."""

from __future__ import annotations

import asyncio

from sqlalchemy import insert, select

from bot.officers import create_invite, redeem_invite
from storage.models import Invite, Unit, User
from tests.webchat import rows

OFFICE = "Văn phòng HĐND và UBND phường"
ATTEMPTS = 50
ROUNDS = 3


async def _people(runtime, count: int) -> list[int]:
    async with runtime.uows() as uow:
        first = (await uow.session.execute(select(User.id).order_by(User.id.desc()))).scalars().first() or 0
        ids = list(range(first + 1, first + 1 + count))
        await uow.session.execute(insert(User), [{"id": i, "language": "vi", "commune_code": 70, "role": "citizen"}
                                                 for i in ids])
        await uow.commit()
    return ids


async def _redeem(runtime, user_id: int, code: str) -> Unit | None:
    """One person's /officer CODE: their own unit of work, committed as the chat would commit it."""
    async with runtime.uows() as uow:
        user = await uow.session.get(User, user_id)
        unit = await redeem_invite(uow, user, code)
        await uow.commit()
        return unit


async def test_one_invite_redeemed_by_many_at_once_makes_exactly_one_officer(runtime):
    [office] = await rows(runtime, Unit, Unit.name == OFFICE)
    for _ in range(ROUNDS):
        code = await create_invite(runtime.uows, office.id, "leader")
        people = await _people(runtime, ATTEMPTS)
        results = await asyncio.gather(*(_redeem(runtime, person, code) for person in people))

        winners = [person for person, unit in zip(people, results) if unit is not None]
        assert len(winners) == 1, f"{len(winners)} of {ATTEMPTS} redemptions of one code succeeded"
        assert results[people.index(winners[0])].id == office.id
        staff = await rows(runtime, User, User.id.in_(people), User.role != "citizen")
        assert [(u.id, u.role, u.unit_id) for u in staff] == [(winners[0], "leader", office.id)]
        [invite] = [i for i in await rows(runtime, Invite) if i.used_by in people]
        assert invite.used_by == winners[0] and invite.used_at is not None
