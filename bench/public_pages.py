"""Public pages: requests a second of the schedule page against a static file served by the same
aiohttp process (``python3 -m bench.public_pages``).

One ``tiepdan`` web app (the demo ward seeded) on a real TCP port; ``clients`` keep-alive connections
ask as fast as they are answered for ``seconds`` each: first the web chat's static script
(aiohttp's own file handler: the floor any page can reach), then /c/<commune>/schedule (a database
read of the publication version, then the page from the in-process cache), then the same page with
If-None-Match (304, no body), then the page with its cache emptied before each request (every request
renders: what the cache saves). The figures are ratios to the static file, measured in the same run."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from bench.common import DATABASES, DatabaseUnavailable, Table, database, run_alone

SCHEDULE = "/c/phuong-hoan-kiem/schedule"
STATIC = "/static/chat.js"


@dataclass
class Options:
    clients: int = 16
    seconds: float = 5.0
    databases: tuple[str, ...] = DATABASES

    @classmethod
    def quick(cls) -> "Options":
        return cls(clients=4, seconds=0.5, databases=("sqlite",))


async def _hammer(url: str, clients: int, seconds: float, headers: dict | None = None,
                  before=None) -> tuple[float, int]:
    """Requests a second over ``clients`` connections, and the status every answer had."""
    done, statuses = 0, set()
    stop = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def client():
            nonlocal done
            while time.perf_counter() < stop:
                if before is not None:
                    before()
                async with session.get(url, headers=headers) as response:
                    await response.read()
                    statuses.add(response.status)
                done += 1
        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    assert len(statuses) == 1, statuses
    return done / elapsed, statuses.pop()


async def _measure(kind: str, options: Options, folder: str) -> dict[str, tuple[float, int]]:
    from bot.app import Runtime
    from bot.settings import Settings
    from storage.demo import seed_demo

    async with database(kind, folder) as url:
        settings = Settings(database_url=url, metrics_port=0, _env_file=None)
        runtime = Runtime(settings, run_scheduler=False)
        await runtime.start(migrate=False)
        await seed_demo(runtime.uows, settings)
        runner = web.AppRunner(runtime.web_app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as session:
                async with session.get(base + SCHEDULE) as response:
                    etag = response.headers["ETag"]
            cache = runtime.public_cache
            results = {
                "static": await _hammer(base + STATIC, options.clients, options.seconds),
                "page": await _hammer(base + SCHEDULE, options.clients, options.seconds),
                "304": await _hammer(base + SCHEDULE, options.clients, options.seconds, {"If-None-Match": etag}),
                "uncached": await _hammer(base + SCHEDULE, options.clients, options.seconds,
                                          before=cache._entries.clear),
            }
        finally:
            await runner.cleanup()
            await runtime.stop()
    return results


async def run(options: Options) -> list[Table]:
    table = Table("public_pages", "Public schedule page vs a static file, same aiohttp process",
                  ["database", "static file req/s", "schedule page", "page, 304", "page, no cache"])
    with tempfile.TemporaryDirectory() as folder:
        for kind in options.databases:
            try:
                results = await _measure(kind, options, folder)
            except DatabaseUnavailable as exc:
                table.add(kind, str(exc), "", "", "")
                continue
            static = results["static"][0]
            table.add(kind, static, *(f"{results[name][0] / static:.2f}×" for name in ("page", "304", "uncached")))
            table.figures[kind] = {name: {"per_second": rate, "status": status}
                                   for name, (rate, status) in results.items()}
    table.notes.append(f"{options.clients} keep-alive clients, {options.seconds:g} s each, client and server in one "
                       "process on one core; ratios are requests a second against the static file (aiohttp's "
                       "file handler for /static/chat.js). 'no cache' empties the page cache before every request.")
    return [table]


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python3 -m bench.public_pages", description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=Options.clients)
    parser.add_argument("--seconds", type=float, default=Options.seconds)
    parser.add_argument("--database", choices=DATABASES, action="append")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    return Options(args.clients, args.seconds, tuple(args.database or DATABASES)), args


if __name__ == "__main__":
    run_alone(_parse, run, None)
