"""Periodic jobs run by APScheduler. Each job reads the database; nothing lives only in memory."""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from storage.models import utcnow
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

# Telegram redelivers an unacknowledged update for at most 24 hours and Zalo retries for minutes;
# a week of memory is plenty to recognise any redelivery.
INBOUND_MEMORY = timedelta(days=7)


async def forget_old_deliveries(uows: UnitOfWorkFactory) -> int:
    async with uows() as uow:
        removed = await uow.inbound.forget_older_than(utcnow() - INBOUND_MEMORY)
        await uow.commit()
    if removed:
        log.info("forgot %d processed inbound deliveries", removed)
    return removed


def build_scheduler(uows: UnitOfWorkFactory, timezone: str) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=timezone)
    scheduler.add_job(forget_old_deliveries, "cron", hour=3, minute=17, args=[uows], id="forget-old-deliveries",
                      coalesce=True, max_instances=1, misfire_grace_time=3600)
    return scheduler
