"""Periodic jobs run by APScheduler. Each job reads the database; nothing lives only in memory."""

from __future__ import annotations

import logging
import time
from datetime import time as dt_time
from datetime import timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from scheduler.retention import purge
from scheduler.sweep import DEFAULT_LADDER, DIGEST_FROM, EscalationLadder, SweepReport, sweep
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


async def run_sweep(uows: UnitOfWorkFactory, timezone: str, ladder: EscalationLadder = DEFAULT_LADDER,
                    metrics=None, digest_hour: int = DIGEST_FROM.hour) -> SweepReport:
    """One sweep; its duration goes to the metrics unless another process held the sweep's lock
    (several processes each run this job; one of them sweeps)."""
    started = time.perf_counter()
    report = await sweep(uows, now=utcnow(), zone=ZoneInfo(timezone), ladder=ladder, digest_from=dt_time(digest_hour))
    if metrics is not None and not report.skipped:
        metrics.sweep_seconds.observe(time.perf_counter() - started)
    return report


def build_scheduler(uows: UnitOfWorkFactory, timezone: str, sweep_interval_seconds: int = 60, *,
                    retention_anonymous_days: int = 30, retention_upload_hours: int = 24,
                    ladder: EscalationLadder = DEFAULT_LADDER, metrics=None,
                    digest_hour: int = DIGEST_FROM.hour) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=timezone)
    scheduler.add_job(forget_old_deliveries, "cron", hour=3, minute=17, args=[uows], id="forget-old-deliveries",
                      coalesce=True, max_instances=1, misfire_grace_time=3600)
    scheduler.add_job(purge, "cron", hour=3, minute=41, args=[uows], id="retention",
                      kwargs={"anonymous_days": retention_anonymous_days, "upload_hours": retention_upload_hours},
                      coalesce=True, max_instances=1, misfire_grace_time=3600)
    # The sweep's messages wait for the dispatcher's next poll (a second at most), so its commits
    # wake nothing: a unit of work without the on-commit hook.
    quiet = UnitOfWorkFactory(uows.sessions)
    scheduler.add_job(run_sweep, "interval", seconds=sweep_interval_seconds,
                      args=[quiet, timezone, ladder, metrics, digest_hour], id="sweep",
                      coalesce=True, max_instances=1, misfire_grace_time=sweep_interval_seconds)
    return scheduler
