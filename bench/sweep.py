"""Deadline sweep on PostgreSQL: one run of ``scheduler.sweep.sweep`` over 10,000 and over 1,000,000 open items,
the same number of them due.

Items and deadlines are seeded with ``INSERT … SELECT generate_series`` (not the ORM), then the tables
are vacuumed and analysed as autovacuum would. The first ``due`` items have a deadline inside the
reminder horizon (3 days ahead, 1 day, the day itself, 1 and 3 days overdue); every other item's
deadline is 10 to 59 days away. Statuses are spread over the open ones (10 % received, 20 % accepted,
60 % in progress, 10 % waiting for the citizen). The sweep runs at 08:00 local time, so the morning
digest and the reception notices are part of it. Each size is swept ``repeats`` times, the outbox
emptied in between so every run does the same work; the table gives the median.

Target: the 1,000,000 sweep at most 2 × the 10,000 one (its cost follows the due items). When it
misses, the table names the slowest statement and prints its EXPLAIN (ANALYZE, BUFFERS).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import datetime, time as clock_time

from sqlalchemy import event, insert, select, text

from bench.common import DatabaseUnavailable, Table, database, run_alone
from bot.app import Runtime
from bot.settings import Settings
from scheduler.sweep import sweep
from storage.demo import DEMO_COMMUNE, seed_demo
from storage.models import ChannelIdentity, Unit, User

TARGET_RATIO = 2.0
SWEEP_AT = clock_time(8, 0)  # local: after the 07:00 digest and the 06:00 reception notices
# The morning digest counts received items per unit; this lets PostgreSQL count them from a small
# index alone instead of visiting every received item's row.

SEED_ITEMS = """
INSERT INTO items (tracking_code, kind, category, commune_code, unit_id, channel, status, description, photos,
                   anonymous, remote_area, complex_case, extensions, received_at, version)
SELECT 'BX' || lpad(g::text, 9, '0'), 'feedback',
       (ARRAY['land', 'environment', 'infrastructure', 'public_order'])[1 + g % 4], CAST(:commune AS integer),
       (CAST(:units AS integer[]))[1 + g % cardinality(CAST(:units AS integer[]))], 'telegram',
       CASE WHEN g % 10 = 0 THEN 'received' WHEN g % 10 < 3 THEN 'accepted'
            WHEN g % 10 < 9 THEN 'in_progress' ELSE 'waiting_info' END,
       'Phản ánh số ' || g, '[]', false, false, false, 0, now() - (g % 40) * interval '1 day', 1
FROM generate_series(1, CAST(:count AS integer)) AS g
"""
SEED_DEADLINES = """
INSERT INTO item_deadlines (item_id, phase, due_on, rule_id, citation, created_at)
SELECT id, 'resolution',
       CASE WHEN n <= :due THEN CAST(:today AS date) + (ARRAY[-3, -1, 0, 1, 3])[1 + CAST(n % 5 AS integer)]
            ELSE CAST(:today AS date) + CAST(10 + n % 50 AS integer) END,
       'feedback.resolution', 'Mục tiêu xử lý phản ánh, kiến nghị (15 ngày)', now()
FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM items) AS numbered
"""


@dataclass
class Options:
    sizes: tuple[int, ...] = (10_000, 1_000_000)
    due: int = 500
    repeats: int = 3

    @classmethod
    def quick(cls) -> "Options":
        return cls(sizes=(500, 5_000), due=50, repeats=1)


@dataclass
class Statement:
    seconds: float
    sql: str
    parameters: object


async def seed(runtime: Runtime, count: int, due: int, today) -> float:
    """The demo ward (units, a leader, officers reachable on Telegram) and ``count`` open items."""
    started = time.monotonic()
    await seed_demo(runtime.uows, runtime.settings)
    async with runtime.engine.begin() as connection:
        staff = (await connection.execute(select(User.id).where(User.role.in_(("officer", "leader"))))).scalars().all()
        await connection.execute(insert(ChannelIdentity.__table__), [
            {"channel": "telegram", "external_id": str(800_000 + uid), "user_id": uid,
             "last_chat_id": str(800_000 + uid)} for uid in staff])
        units = (await connection.execute(select(Unit.id).where(Unit.commune_code == DEMO_COMMUNE)
                                          .order_by(Unit.id))).scalars().all()
        await connection.execute(text(SEED_ITEMS), {"commune": DEMO_COMMUNE, "units": list(units), "count": count})
        await connection.execute(text(SEED_DEADLINES), {"due": due, "today": today})
    async with runtime.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM ANALYZE items, item_deadlines, outbox, users, channel_identities"))
    return time.monotonic() - started


async def timed_sweeps(runtime: Runtime, now: datetime, repeats: int) -> tuple[list[float], int, list[Statement]]:
    """Sweep ``repeats`` times (the outbox emptied before each); the statements of the last run."""
    statements: list[Statement] = []
    started: dict[int, float] = {}

    def before(conn, cursor, sql, parameters, context, executemany):
        started[id(cursor)] = time.perf_counter()

    def after(conn, cursor, sql, parameters, context, executemany):
        statements.append(Statement(time.perf_counter() - started.pop(id(cursor), time.perf_counter()), sql,
                                    parameters))

    seconds, enqueued = [], 0
    for _ in range(repeats):
        async with runtime.engine.begin() as connection:
            await connection.execute(text("DELETE FROM outbox"))
        statements.clear()
        event.listen(runtime.engine.sync_engine, "before_cursor_execute", before)
        event.listen(runtime.engine.sync_engine, "after_cursor_execute", after)
        try:
            start = time.perf_counter()
            report = await sweep(runtime.uows, now=now, zone=runtime.settings.zone)
            seconds.append(time.perf_counter() - start)
        finally:
            event.remove(runtime.engine.sync_engine, "before_cursor_execute", before)
            event.remove(runtime.engine.sync_engine, "after_cursor_execute", after)
        if report.skipped:
            raise RuntimeError("the sweep was skipped: another process holds its lock")
        enqueued = report.enqueued
    return seconds, enqueued, statements


async def explain(runtime: Runtime, statement: Statement) -> list[str]:
    async with runtime.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        rows = await raw.driver_connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {statement.sql}",
                                                 *(statement.parameters or ()))
    return [row[0] for row in rows]


async def _sweeps(runtime: Runtime, now: datetime, options: Options) -> dict:
    seconds, enqueued, statements = await timed_sweeps(runtime, now, options.repeats)
    slowest = sorted(statements, key=lambda s: s.seconds, reverse=True)
    return {"sweeps_s": seconds, "median_s": statistics.median(seconds), "enqueued": enqueued,
            "statements": len(statements), "sql_s": sum(s.seconds for s in statements),
            "slowest": [(s.seconds, " ".join(s.sql.split())[:160]) for s in slowest[:3]],
            "explain": await explain(runtime, slowest[0]) if slowest else []}


async def measure_size(url: str, count: int, options: Options) -> list[dict]:
    """The sweeps at ``count`` open items."""
    settings = Settings(database_url=url, _env_file=None)
    runtime = Runtime(settings, run_scheduler=False)
    try:
        now = datetime.combine(datetime.now(settings.zone).date(), SWEEP_AT, settings.zone)
        seed_seconds = await seed(runtime, count, options.due, now.date())
        results = [{"items": count, "seed_s": seed_seconds, **await _sweeps(runtime, now, options)}]
        return results
    finally:
        await runtime.engine.dispose()


async def run(options: Options) -> list[Table]:
    table = Table("sweep", "Deadline sweep on PostgreSQL: one run, the same due items among more open items",
                  ["open items", "due items", "seeding s", "sweep ms (median)", "runs ms", "messages", "statements",
                   "in SQL ms", "× smallest", "target"])
    results: list[dict] = []
    with tempfile.TemporaryDirectory() as folder:
        for count in options.sizes:
            try:
                async with database("postgresql", folder) as url:
                    results += await measure_size(url, count, options)
            except DatabaseUnavailable as exc:
                table.add(count, options.due, f"not run: {exc}")
                return [table]
    baseline = results[0]
    for result in results:
        result["ratio"] = ratio = result["median_s"] / baseline["median_s"]
        label = f"{result['items']:,}"
        verdict = ("baseline" if result is baseline else
                   f"≤ {TARGET_RATIO}: {'met' if ratio <= TARGET_RATIO else 'missed'}")
        table.add(label, options.due, result["seed_s"], result["median_s"] * 1000,
                  " / ".join(f"{s * 1000:.0f}" for s in result["sweeps_s"]), result["enqueued"],
                  result["statements"], result["sql_s"] * 1000, ratio, verdict)
        table.figures[label] = result
        seconds, sql = result["slowest"][0] if result["slowest"] else (0.0, "")
        table.notes.append(f"Slowest statement at {label} items: {seconds * 1000:.1f} ms — {sql}")
    for result in results:
        if result is not baseline and result["ratio"] > TARGET_RATIO:
            table.notes += ["", f"EXPLAIN (ANALYZE, BUFFERS) of it at {result['items']:,} items:", "", "```",
                            *result["explain"], "```"]
    return [table]


def parse(argv: list[str] | None = None) -> tuple[Options, argparse.Namespace]:
    parser = argparse.ArgumentParser(prog="python3 -m bench.sweep", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="500 and 5,000 items, 50 due, one sweep each")
    parser.add_argument("--sizes", type=lambda v: tuple(int(x) for x in v.split(",")),
                        help="open items per run, comma-separated (default 10000,1000000)")
    parser.add_argument("--due", type=int, help="items with a deadline due (default 500)")
    parser.add_argument("--repeats", type=int, help="sweeps per size (default 3)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    options = Options.quick() if args.quick else Options()
    changes = {name: getattr(args, name) for name in ("sizes", "due", "repeats") if getattr(args, name)}
    return replace(options, **changes), args


def main(argv: list[str] | None = None) -> None:
    run_alone(parse, run, argv)


if __name__ == "__main__":
    main()
