"""Composition root: builds the database, dispatcher, channels and web app from settings."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bot import console, public
from bot.channels.web import WebChat
from bot.channels.zalo_bot import ZaloBotChannel
from bot.metrics import Metrics, MetricsServer, database_collector
from bot.domain.calendar import DEFAULT_CALENDAR
from bot.settings import Settings
from bot.web_security import WebSecurity, refuse_nul, security_headers
from bot.web_server import BoundedSite, connection_cap, raise_file_limit
from handlers.pipeline import group_commit_for
from scheduler.jobs import build_scheduler
from scheduler.sweep import EscalationLadder
from scheduler.outbox import OutboxDispatcher
from storage.db import create_engine, session_factory
from storage.migrate import upgrade, upgrade_in_child
from storage.uow import UnitOfWorkFactory

if TYPE_CHECKING:  # python-telegram-bot (about 7 MB with httpx) is imported only when Telegram is on
    from telegram.request import BaseRequest

log = logging.getLogger(__name__)
HEALTH_TIMEOUT = 2.0  # seconds a health check waits for the database


class Runtime:
    """Everything a running tiepdan holds. ``start()`` migrates and starts; ``stop()`` undoes it.

    Roles (``tiepdan serve --no-scheduler/--no-dispatcher/--web-only``): any number of processes may
    share one PostgreSQL database, each serving the web app and the webhooks. ``run_scheduler`` runs
    the sweep (its advisory lock lets one process at a time do it); ``run_dispatcher`` sends the outbox
    (claims with SKIP LOCKED); ``poll`` lets this process poll Telegram when it is elected to
    (bot/leader.py: one process at a time). A process that does not dispatch tells the others, through
    NOTIFY, that a commit wrote outbox rows."""

    def __init__(self, settings: Settings, *, telegram_request: BaseRequest | None = None,
                 telegram_get_updates_request: BaseRequest | None = None, run_scheduler: bool = True,
                 run_dispatcher: bool = True, poll: bool = True):
        self.settings = settings
        self.run_dispatcher, self.poll = run_dispatcher, poll
        # Every deadline and the sweep count working days on this one calendar (bot/domain/calendar.py).
        DEFAULT_CALENDAR.adjust(**settings.calendar_changes)
        self.engine = create_engine(settings.database_url)
        url = self.engine.url
        # asyncpg's own connections (LISTEN, the polling leader's lock) take a plain postgresql:// DSN.
        self.postgres_dsn = (url.set(drivername="postgresql").render_as_string(hide_password=False)
                             if url.get_backend_name() == "postgresql" else None)
        self.metrics = Metrics()
        self.metrics_collector = database_collector(self)
        self.uows = UnitOfWorkFactory(session_factory(self.engine), on_commit=self._wake_dispatcher)
        group_commit_for(self.uows).metrics = self.metrics
        self.web_security = WebSecurity(trust_proxy=settings.trust_proxy, allowed_origins=settings.origins)
        self.web_chat = WebChat(self)
        self.telegram = None
        if settings.telegram_token:
            from bot.channels.telegram import TelegramChannel

            self.telegram = TelegramChannel(self, request=telegram_request,
                                            get_updates_request=telegram_get_updates_request)
        self.zalo_bot = ZaloBotChannel(self) if settings.zalo_bot_token else None
        self.zalo = None
        if settings.zalo_oa_enabled:
            from bot.channels.zalo_oa import ZaloOAChannel

            self.zalo = ZaloOAChannel(self)
        senders = {"web": self.web_chat.sender}
        if self.zalo is not None:
            senders["zalo"] = self.zalo.sender
        if self.telegram is not None:
            senders["telegram"] = self.telegram.sender
        if self.zalo_bot is not None:
            senders["zalobot"] = self.zalo_bot.sender
        self.dispatcher = OutboxDispatcher(self.uows, senders, max_attempts=settings.outbox_max_attempts)
        self.dispatcher.metrics = self.metrics
        if self.web_chat.wakeups is not None and run_dispatcher:
            self.web_chat.wakeups.on_outbox = self.dispatcher.wake  # a web-only process's commits
        self.scheduler = (build_scheduler(self.uows, settings.timezone, settings.sweep_interval_seconds,
                                          retention_anonymous_days=settings.retention_anonymous_days,
                                          retention_upload_hours=settings.retention_upload_hours,
                                          digest_hour=settings.digest_hour,
                                          ladder=EscalationLadder(settings.escalate_commune_after_working_days,
                                                                  settings.escalate_province_after_working_days),
                                          metrics=self.metrics)
                          if run_scheduler else None)
        self.web_app = self._build_web_app()

    def _wake_dispatcher(self) -> None:
        if self.run_dispatcher:
            self.dispatcher.wake()
        elif self.web_chat.wakeups is not None:
            self.web_chat.wakeups.wake_dispatchers()

    def _build_web_app(self) -> web.Application:
        # Photos are the largest thing a citizen uploads; the JSON API enforces its own smaller limit.
        app = web.Application(client_max_size=self.settings.max_photo_bytes + 64 * 1024, middlewares=[refuse_nul])
        app.add_routes(self.web_chat.routes())
        app.add_routes([web.get("/healthz", self._health)])
        app.add_routes(console.routes(self))
        app.add_routes(public.routes(self))
        app.on_response_prepare.append(security_headers(self.web_security))
        if self.zalo is not None:
            app.add_routes(self.zalo.routes())
        if self.telegram is not None:
            app.add_routes(self.telegram.routes())
        if self.zalo_bot is not None:
            app.add_routes(self.zalo_bot.routes())
        return app

    def _platform_channels(self) -> dict[str, object]:
        """The channels that talk to a platform, by the name their settings carry."""
        channels = {"telegram": self.telegram, "zalo_oa": self.zalo, "zalo_bot": self.zalo_bot}
        return {name: channel for name, channel in channels.items() if channel is not None}

    async def _health(self, request: web.Request) -> web.Response:
        """For a load balancer or a monitor: the database, and each platform channel (``ok``,
        ``starting``, or ``degraded`` while it cannot reach its platform). 503 only when the database
        is down: a degraded channel leaves the web chat and the other channels serving, so it makes
        the status "degraded" with a 200. Nothing personal, no error text from a driver or platform."""
        database = await self._database_health()
        channels = {name: channel.connection.state for name, channel in self._platform_channels().items()}
        healthy = database == "ok" and all(state == "ok" for state in channels.values())
        return web.json_response({"status": "ok" if healthy else "degraded", "database": database,
                                  "channels": channels},
                                 status=200 if database == "ok" else 503, headers={"Cache-Control": "no-store"})

    async def _database_health(self) -> str:
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT):
                async with self.engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError, TimeoutError):
            return "down"
        return "ok"

    async def start(self, *, migrate: bool = True) -> None:
        """Start everything. A platform that cannot be reached does not stop the start: its channel
        is degraded and keeps trying in the background (bot/channels/connection.py), each channel
        waiting at most a few seconds here, all at once."""
        if migrate:
            await upgrade(self.engine)
        await self.web_chat.start()
        if self.run_dispatcher:
            self.dispatcher.start()  # a degraded channel's messages wait as pending rows, attempts unused
        await asyncio.gather(*(channel.start() for channel in self._platform_channels().values()))
        if self.scheduler is not None:
            self.scheduler.start()

    async def stop(self) -> None:
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self.telegram is not None:
            await self.telegram.stop()
        if self.zalo_bot is not None:
            await self.zalo_bot.stop()
        await self.dispatcher.stop()
        await self.web_chat.stop()
        if self.zalo is not None:
            await self.zalo.stop()
        await self.engine.dispose()


def settle_heap() -> None:
    """Once started: what start-up allocated (modules, settings, the commune index, compiled
    statements, python-telegram-bot's objects) lives as long as the process, so it is collected
    once and then frozen out of the cyclic garbage collector's sight (``gc.freeze``). A full
    collection walked all of it every time: 110-220 ms at once under load, which held every
    message waiting behind it (bench/pipeline.py, the submissions at 200 a second)."""
    gc.collect()
    gc.freeze()


async def serve(settings: Settings, *, demo: bool = False, run_scheduler: bool = True, run_dispatcher: bool = True,
                poll: bool = True) -> None:
    """Migrate, start everything, and run until SIGINT or SIGTERM.

    The migration runs in a child process (``storage.migrate.upgrade_in_child``), started first so
    that it overlaps with building the runtime: Alembic and what a migration allocates (about 9 MB)
    then never join this long-running process. If it fails, ``MigrationFailed`` (one line) stops
    the start-up before anything is started."""
    migration = asyncio.create_task(upgrade_in_child(settings.database_url))
    await asyncio.sleep(0)  # let the child start now, not after the runtime is built
    try:
        runtime = Runtime(settings, run_scheduler=run_scheduler, run_dispatcher=run_dispatcher, poll=poll)
    except BaseException:
        migration.cancel()  # kills the child
        await asyncio.gather(migration, return_exceptions=True)
        raise
    try:
        revision = await migration
    except BaseException:
        await runtime.engine.dispose()
        raise
    log.info("database at revision %s", revision)
    if demo:
        from storage.demo import seed_demo

        created = await seed_demo(runtime.uows, settings)
        log.info("demo data %s", "seeded" if created else "already present")
    await runtime.start(migrate=False)
    settle_heap()
    # Open long-polls must not hold a shutdown for aiohttp's default minute.
    runner = web.AppRunner(runtime.web_app, access_log=None, shutdown_timeout=2.0,
                           keepalive_timeout=settings.keepalive_seconds)
    await runner.setup()
    file_limit = raise_file_limit()
    site = BoundedSite(runner, settings.web_host, settings.web_port,
                       max_connections=connection_cap(settings.max_connections, file_limit))
    await site.start()
    log.info("web: at most %d connections (open-file limit %d)", site.max_connections, file_limit)
    metrics = MetricsServer(runtime, settings.metrics_host, settings.metrics_port) if settings.metrics_port else None
    if metrics is not None and await metrics.start():
        log.info("metrics at http://%s:%d/metrics", settings.metrics_host, metrics.port)
    roles = [name for name, on in (("sweep", run_scheduler), ("dispatch", run_dispatcher), ("poll", poll)) if on]
    log.info("roles: web%s", "".join(f", {role}" for role in roles))
    print(f"tiepdan: web chat at http://{settings.web_host}:{settings.web_port}/"
          + (" — Telegram " + settings.telegram_mode.value if runtime.telegram else " — Telegram off (no token)")
          + (" — Zalo Bot " + settings.zalo_bot_mode if runtime.zalo_bot else ""),
          flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        if metrics is not None:
            await metrics.stop()
        await runtime.stop()
