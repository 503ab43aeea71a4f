"""Issue 18, item 13: the officers' morning digest goes out in the commune's morning, at the local hour
the settings give (``digest_hour``), once per officer and local day: not before the hour whatever the
UTC date says, not again after a restart, and still once on a day the process started late. On SQLite
and PostgreSQL, through ``sweep`` and through the scheduler's own job (``run_sweep``)."""

from __future__ import annotations

from datetime import time, timedelta

import time_machine

from bot.app import Runtime
from scheduler.jobs import run_sweep
from scheduler.sweep import sweep
from storage.db import create_engine, session_factory
from storage.uow import UnitOfWorkFactory
from tests.test_sweep import DUE, ZONE, at, item_due, person, texts_to, unit, uows  # noqa: F401 (fixture)


async def _office(uows) -> None:
    office = await unit(uows)
    for chat in ("officer-a", "officer-b"):
        await person(uows, chat, role="officer", unit_id=office)
    await item_due(uows, office, DUE + timedelta(days=2), code="KN-SOON")


async def test_the_digest_waits_for_the_configured_local_hour_not_the_utc_day(uows):
    await _office(uows)
    # 01:59 local on the 12th is 18:59 UTC on the 11th; 08:00 local is 01:00 UTC.
    assert (await sweep(uows, now=at(DUE, 1, 59), zone=ZONE, digest_from=time(8))).digests == 0
    assert (await sweep(uows, now=at(DUE, 7, 59), zone=ZONE, digest_from=time(8))).digests == 0
    assert (await sweep(uows, now=at(DUE, 8), zone=ZONE, digest_from=time(8))).digests == 2
    [digest] = await texts_to(uows, "officer-a", "digest:")
    assert digest.startswith("☀️ Tóm tắt ngày 12/03/2026")


async def test_a_restart_sends_no_second_digest_and_a_late_start_sends_one(settings, uows):
    await _office(uows)
    # The process starts late in the day: the day's digest still goes, once.
    assert (await sweep(uows, now=at(DUE, 21, 30), zone=ZONE)).digests == 2
    # A restart: another process (its own engine and sessions) sweeps the same evening.
    engine = create_engine(settings.database_url)
    try:
        restarted = UnitOfWorkFactory(session_factory(engine))
        assert (await sweep(restarted, now=at(DUE, 21, 31), zone=ZONE)).digests == 0
        assert (await sweep(restarted, now=at(DUE, 23, 59), zone=ZONE)).digests == 0
        # Past local midnight (17:00 UTC) but before the hour: the next day's waits for the morning.
        assert (await sweep(restarted, now=at(DUE + timedelta(days=1), 0, 5), zone=ZONE)).digests == 0
        assert (await sweep(restarted, now=at(DUE + timedelta(days=1), 7), zone=ZONE)).digests == 2
    finally:
        await engine.dispose()
    assert len(await texts_to(uows, "officer-b", "digest:")) == 2


async def test_the_scheduler_job_uses_the_digest_hour_of_the_settings(settings, uows):
    await _office(uows)
    configured = settings.model_copy(update={"digest_hour": 9})
    runtime = Runtime(configured, run_scheduler=True)
    try:
        job = runtime.scheduler.get_job("sweep")
        hour = job.args[-1]
        assert hour == 9
        with time_machine.travel(at(DUE, 8, 30), tick=False):
            assert (await run_sweep(uows, configured.timezone, digest_hour=hour)).digests == 0
        with time_machine.travel(at(DUE, 9, 0), tick=False):
            assert (await run_sweep(uows, configured.timezone, digest_hour=hour)).digests == 2
    finally:
        await runtime.engine.dispose()
