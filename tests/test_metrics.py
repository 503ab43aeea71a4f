"""Prometheus metrics: scraped over a real socket from their own localhost port, never from the public app."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, update

from bot.domain.dialog import Reply
from bot.metrics import MetricsServer
from scheduler.jobs import run_sweep
from storage.models import OutboxMessage, utcnow
from tests.webchat import Browser, reach_menu


@pytest.fixture
async def scrape(runtime):
    server = MetricsServer(runtime, "127.0.0.1", 0)
    assert await server.start()

    async def read() -> dict[tuple[str, tuple], float]:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{server.port}/metrics") as response:
                assert response.status == 200
                assert response.headers["Content-Type"].startswith("text/plain")
                body = await response.text()
        return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
                for family in text_string_to_metric_families(body) for sample in family.samples}

    read.server = server
    yield read
    await server.stop()


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_updates_are_counted_by_channel_and_outcome_with_their_step_time(runtime, scrape):
    async with TestClient(TestServer(runtime.web_app)) as client:
        tab = Browser(client)
        await reach_menu(tab)  # four messages
        await tab.send("/help", message_id="same-message")
        await tab.send("/help", message_id="same-message")  # a browser's retry: not handled twice
        # The public web app has no /metrics: counts of citizens' messages are not for the internet.
        assert (await client.get("/metrics")).status == 404
    samples = await scrape()
    assert value(samples, "tiepdan_updates_handled_total", channel="web", outcome="handled") == 5
    assert value(samples, "tiepdan_updates_handled_total", channel="web", outcome="duplicate") == 1
    assert value(samples, "tiepdan_step_seconds_count", channel="web") == 6
    assert 0 < value(samples, "tiepdan_step_seconds_sum", channel="web") < 60
    assert value(samples, "tiepdan_step_seconds_bucket", channel="web", le="+Inf") == 6


async def test_outbox_depth_age_and_held_messages_are_read_at_scrape_time(runtime, scrape):
    async with runtime.uows() as uow:
        for n in range(3):  # no Telegram sender in this runtime: they wait
            await uow.outbox.enqueue("telegram", "4242", Reply(f"Thông báo {n}"), f"metrics-test-{n}")
        await uow.commit()
    async with runtime.uows() as uow:
        await uow.session.execute(update(OutboxMessage).where(OutboxMessage.channel == "telegram")
                                  .values(created_at=utcnow() - timedelta(minutes=5)))
        first = (await uow.session.execute(select(OutboxMessage.id).where(OutboxMessage.channel == "telegram")
                                           .order_by(OutboxMessage.id))).scalars().first()
        await uow.outbox.mark_held(first, "blocked")
        await uow.commit()
    samples = await scrape()
    assert value(samples, "tiepdan_outbox_messages", channel="telegram", status="pending") == 2
    assert value(samples, "tiepdan_outbox_messages", channel="telegram", status="held") == 1
    assert 299 <= value(samples, "tiepdan_outbox_oldest_seconds", channel="telegram") < 400
    assert ("tiepdan_db_connections_in_use", ()) in samples and ("tiepdan_db_pool_size", ()) in samples
    # Once sent, the queue reads empty on the next scrape.
    async with runtime.uows() as uow:
        await uow.session.execute(update(OutboxMessage).values(status="sent"))
        await uow.commit()
    samples = await scrape()
    assert value(samples, "tiepdan_outbox_messages", channel="telegram", status="pending") == 0
    assert ("tiepdan_outbox_oldest_seconds", (("channel", "telegram"),)) not in samples


async def test_web_sends_are_counted_and_the_sweep_is_timed(runtime, scrape):
    async with TestClient(TestServer(runtime.web_app)) as client:
        await reach_menu(Browser(client))
    await runtime.dispatcher.drain()
    await run_sweep(runtime.uows, runtime.settings.timezone, metrics=runtime.metrics)
    samples = await scrape()
    assert value(samples, "tiepdan_outbox_sends_total", channel="web", outcome="sent") >= 4
    assert value(samples, "tiepdan_sweep_seconds_count") == 1


async def test_the_endpoint_listens_on_localhost_only_by_default_and_a_taken_port_is_not_fatal(runtime, scrape):
    from bot.settings import Settings

    assert Settings(_env_file=None).metrics_host == "127.0.0.1"
    assert scrape.server._runner.addresses[0][0] == "127.0.0.1"
    taken = MetricsServer(runtime, "127.0.0.1", scrape.server.port)
    assert await taken.start() is False  # a warning; the process serves on without its metrics
    await taken.stop()
