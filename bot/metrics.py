"""Prometheus metrics of one running tiepdan, on a port of their own (``TIEPDAN_METRICS_PORT``).

Every Runtime has its own ``CollectorRegistry`` (not prometheus-client's global one: tests build
many runtimes in one process). What is counted as it happens is a counter or histogram update of a
few microseconds at the pipeline, the outbox and the sweep. What is a state of the database (the
outbox's depth and age by channel, held messages) is read when Prometheus scrapes, with one short
query, so nothing is counted twice across processes and a scrape of any process tells the truth.

The endpoint is bound to 127.0.0.1 by default and is never a route of the public web app: counts of
messages by channel are not for the internet, and the reverse proxy (deploy/nginx.conf) does not
forward ``/metrics``. Nothing personal is ever a label: channels, outcomes, statuses only.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)

# A step takes about a millisecond alone and tens in a busy group (bench/pipeline.py); a second is trouble.
STEP_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SWEEP_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
SCRAPE_TIMEOUT = 5.0  # seconds the database may take to answer a scrape's query


class Metrics:
    """The counters and histograms the code updates, and the collector that reads the rest."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.updates = Counter("tiepdan_updates_handled", "Deliveries from people, by channel and outcome "
                               "(handled, duplicate, flooded, failed, late: handled after a newer one of its chat)",
                               ("channel", "outcome"), registry=self.registry)
        self.step_seconds = Histogram("tiepdan_step_seconds", "From a delivery's arrival at the pipeline to its "
                                      "step being committed", ("channel",), buckets=STEP_BUCKETS,
                                      registry=self.registry)
        self.sent = Counter("tiepdan_outbox_sends", "Outbox send attempts by channel and outcome (sent, retry, "
                            "refused, held)", ("channel", "outcome"), registry=self.registry)
        self.sweep_seconds = Histogram("tiepdan_sweep_seconds", "Duration of the deadline sweep (skipped when "
                                       "another process holds its lock)", buckets=SWEEP_BUCKETS,
                                       registry=self.registry)
        self.leader = Gauge("tiepdan_polling_leader", "1 while this process is the one that polls the platform "
                            "(bot/leader.py), 0 otherwise", ("channel",), registry=self.registry)

        self._children: dict[tuple, object] = {}  # labelled children, looked up once (``labels`` is slow)

    def handled(self, channel: str, outcome: str, seconds: float | None = None) -> None:
        """Once per delivery: a dictionary lookup and a lock-protected add or two."""
        counter = self._children.get((channel, outcome))
        if counter is None:
            counter = self._children[(channel, outcome)] = self.updates.labels(channel, outcome)
        counter.inc()
        if seconds is not None:
            histogram = self._children.get(channel)
            if histogram is None:
                histogram = self._children[channel] = self.step_seconds.labels(channel)
            histogram.observe(seconds)

    def send_outcome(self, channel: str, outcome: str) -> None:
        counter = self._children.get(("sent", channel, outcome))
        if counter is None:
            counter = self._children[("sent", channel, outcome)] = self.sent.labels(channel, outcome)
        counter.inc()


class _DatabaseCollector:
    """Read at scrape time: the outbox by channel and status, and the connection pool in use."""

    def __init__(self, runtime: "Runtime"):
        self.runtime = runtime
        self.snapshot: list = []  # the last query's rows, filled by ``refresh`` before ``collect``

    def describe(self):
        return []  # collected lazily; nothing to check at registration

    def collect(self):
        depth = GaugeMetricFamily("tiepdan_outbox_messages", "Outbox rows not yet sent, by channel and status "
                                  "(pending, sending, held)", labels=("channel", "status"))
        age = GaugeMetricFamily("tiepdan_outbox_oldest_seconds", "Age of the oldest pending or sending outbox "
                                "row, by channel", labels=("channel",))
        for channel, status, count, oldest in self.snapshot:
            depth.add_metric((channel, status), count)
        oldest_by_channel: dict[str, float] = {}
        for channel, status, _, oldest in self.snapshot:
            if status != "held" and oldest is not None:
                oldest_by_channel[channel] = max(oldest_by_channel.get(channel, 0.0), oldest)
        for channel, seconds in oldest_by_channel.items():
            age.add_metric((channel,), seconds)
        yield depth
        yield age
        pool = self.runtime.engine.sync_engine.pool
        in_use = GaugeMetricFamily("tiepdan_db_connections_in_use", "Database connections checked out of the pool")
        in_use.add_metric((), getattr(pool, "checkedout", lambda: 0)())
        yield in_use
        size = GaugeMetricFamily("tiepdan_db_pool_size", "Connections the pool keeps (its size, not its overflow)")
        size.add_metric((), getattr(pool, "size", lambda: 0)())
        yield size

    async def refresh(self) -> None:
        from sqlalchemy import func, select

        from storage.models import OutboxMessage, utcnow

        now = utcnow()
        async with self.runtime.uows() as uow:
            rows = (await uow.session.execute(
                select(OutboxMessage.channel, OutboxMessage.status, func.count(), func.min(OutboxMessage.created_at))
                .where(OutboxMessage.status.in_(("pending", "sending", "held")))
                .group_by(OutboxMessage.channel, OutboxMessage.status))).all()
        self.snapshot = [(channel, status, count, (now - _aware(oldest)).total_seconds() if oldest else None)
                         for channel, status, count, oldest in rows]


def _aware(moment):
    from datetime import timezone

    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


class MetricsServer:
    """``GET /metrics`` on ``host:port`` (its own aiohttp runner, not the public app)."""

    def __init__(self, runtime: "Runtime", host: str, port: int):
        self.runtime, self.host, self.port = runtime, host, port
        self._runner: web.AppRunner | None = None

    async def start(self) -> bool:
        """Listen; False (and a warning) when the port is taken: the process serves without metrics
        rather than not at all (a second process on one machine needs its own port)."""
        app = web.Application()
        app.add_routes([web.get("/metrics", self._metrics)])
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            log.warning("metrics: cannot listen on %s:%d (%s); set TIEPDAN_METRICS_PORT per process",
                        self.host, self.port, exc.strerror or type(exc).__name__)
            await self._runner.cleanup()
            self._runner = None
            return False
        if self.port == 0:
            self.port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001 - the port chosen
        return True

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, request: web.Request) -> web.Response:
        await refresh(self.runtime)
        return web.Response(body=generate_latest(self.runtime.metrics.registry),
                            headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})


async def refresh(runtime: "Runtime") -> None:
    """Re-read what the scrape reports from the database; on failure the last figures stay."""
    import asyncio

    collector = runtime.metrics_collector
    started = time.monotonic()
    try:
        async with asyncio.timeout(SCRAPE_TIMEOUT):
            await collector.refresh()
    except Exception as exc:  # noqa: BLE001 - a scrape must answer even with the database down
        log.warning("metrics: could not read the outbox (%s)", type(exc).__name__)
    else:
        log.debug("metrics refreshed in %.3f s", time.monotonic() - started)


def database_collector(runtime: "Runtime") -> _DatabaseCollector:
    collector = _DatabaseCollector(runtime)
    runtime.metrics.registry.register(collector)
    return collector
