"""Forged button ids and an officer's invite as the very first message (both databases)."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.officers import create_invite
from bot.texts import t
from storage.models import Unit, User
from tests.webchat import Browser, rows


@pytest.mark.parametrize("value", ["g:item:²", "g:item:" + "9" * 25, "g:oi:٣", "g:oi:2147483648", "g:item:-1",
                                   "g:item:"])
async def test_a_forged_id_is_an_old_button_in_the_users_language(runtime, value):
    """Before: "²" passed isdigit() and failed int(); 25 digits overflowed SQLite, and on PostgreSQL
    were reported as a database outage, in the default language."""
    async with TestClient(TestServer(runtime.web_app)) as client:
        tab = Browser(client)
        await tab.send("/start")
        await tab.send(button="lang:en")
        replies = await tab.send(button=value)  # status 200: no outage, no apology for a crash
        assert replies[0]["text"] == t("en", "error.expired_button")


async def test_an_invite_as_the_first_message_is_redeemed(runtime):
    """Before: the greeting swallowed it, and the officer had to find the code again."""
    [unit] = await rows(runtime, Unit, Unit.name == "Văn phòng HĐND và UBND phường")
    code = await create_invite(runtime.uows, unit.id, "officer")
    async with TestClient(TestServer(runtime.web_app)) as client:
        tab = Browser(client)
        replies = await tab.send(f"/officer {code}")
        assert replies[0]["text"] == t("vi", "officer.welcome", role=t("vi", "role.officer"), unit=unit.name)
    assert len(await rows(runtime, User, User.unit_id == unit.id, User.role == "officer")) >= 1
