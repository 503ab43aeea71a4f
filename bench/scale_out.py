"""Scale-out: steps a second through nginx with 1, 2 and 3 ``tiepdan serve`` processes on one PostgreSQL.

    python3 -m bench.scale_out [--clients 48] [--seconds 8] [--no-pinned]

Closed-loop web-chat clients (each a cookie of its own, like a browser tab) send a message, wait for
the answer, send the next, through a real nginx (deploy/nginx/tiepdan-proxy.conf, as
tests/test_scale_out.py runs it) to N serve processes; every message is a whole pipeline step (flood
check, group commit, replies in the outbox, the page's rows read back). Figures are answered messages
a second, as ratios to one process in the same run. A second set pins the serve processes and nginx
to one core (``taskset``) and the load generator to the other, PostgreSQL (the machine's shared
server) free on both: with the application held to one core, more processes can only share it,
which tells whether this machine's cores are the limit.

The helpers (``Nginx``, ``Serve``) are also the scale-out tests' cluster: nginx as a child process
(``nginx -p <dir> -c <conf> -g 'daemon off;'``), not the system service, with a generated main
configuration around ``deploy/nginx/tiepdan-proxy.conf`` included verbatim (TLS is the only part
left out), and ``python -m bot.cli serve`` processes on free ports.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.common import DatabaseUnavailable, Table, database, percentile, run_alone

ROOT = Path(__file__).resolve().parent.parent
PROXY_RULES = ROOT / "deploy" / "nginx" / "tiepdan-proxy.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Nginx:
    """nginx in front of ``ports``, listening on ``self.port``."""

    def __init__(self, folder: Path, ports: list[int], prefix: tuple[str, ...] = ()):
        self.folder, self.ports, self.port, self.prefix = folder, ports, free_port(), prefix
        self.process: asyncio.subprocess.Process | None = None

    def config(self) -> str:
        # As root (a CI container) nginx's workers would switch to "nobody", who cannot read the
        # test's folder; as anyone else nginx runs as that user and "user" is ignored.
        user = "user root;\n" if os.geteuid() == 0 else ""
        temp = "".join(f"    {kind}_temp_path {self.folder}/{kind};\n"
                       for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        servers = "".join(f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=2s;\n" for port in self.ports)
        return (f"{user}worker_processes 1;\npid {self.folder}/nginx.pid;\nerror_log {self.folder}/error.log warn;\n"
                f"events {{ worker_connections 2048; }}\n"
                f"http {{\n    access_log off;\n{temp}"
                f"    upstream tiepdan {{\n{servers}        keepalive 32;\n    }}\n"
                f"    server {{\n        listen 127.0.0.1:{self.port};\n        include {PROXY_RULES};\n    }}\n}}\n")

    async def start(self) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        conf = self.folder / "nginx.conf"
        conf.write_text(self.config())
        check = await asyncio.create_subprocess_exec(NGINX, "-t", "-q", "-p", str(self.folder), "-c", str(conf),
                                                     stderr=asyncio.subprocess.PIPE)
        _, errors = await check.communicate()
        assert check.returncode == 0, errors.decode()
        self.process = await asyncio.create_subprocess_exec(
            *self.prefix, NGINX, "-p", str(self.folder), "-c", str(conf), "-g", "daemon off;",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        await until_answers(f"{self.url}/healthz", 30)
        return self.url

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: open long polls are finished
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except asyncio.TimeoutError:
                self.process.kill()
                await self.process.wait()


async def until_answers(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            assert time.monotonic() < deadline, f"{url} did not answer"
            await asyncio.sleep(0.1)


class Serve:
    """One ``python -m bot.cli serve`` on its own web and metrics ports; its logs in ``folder``."""

    def __init__(self, env: dict, folder: Path, flags: tuple[str, ...] = (), prefix: tuple[str, ...] = ()):
        self.port, self.metrics_port = free_port(), free_port()
        self.env = {**env, "TIEPDAN_WEB_PORT": str(self.port), "TIEPDAN_METRICS_PORT": str(self.metrics_port)}
        self.folder, self.flags, self.prefix = folder, flags, prefix  # prefix: e.g. taskset -c 1
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self, seconds: float = 60) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        with open(self.folder / f"serve-{self.starts}.log", "wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                *self.prefix, sys.executable, "-m", "bot.cli", "serve", *self.flags, cwd=ROOT, env=self.env,
                stdout=asyncio.subprocess.PIPE, stderr=log)
        line = await asyncio.wait_for(self.process.stdout.readline(), seconds)
        assert line.startswith(b"tiepdan: web chat at"), (line, self.logs()[-3000:])

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.alive:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except asyncio.TimeoutError:
                self.process.kill()
                await self.process.wait()

    def logs(self) -> str:
        return "".join((self.folder / f"serve-{n}.log").read_text(errors="replace")
                       for n in range(1, self.starts + 1) if (self.folder / f"serve-{n}.log").exists())


def serve_env(db_url: str, **extra: str) -> dict:
    """What every serve process of a test shares; tests talk far faster than people type."""
    return {**os.environ, "TIEPDAN_DATABASE_URL": db_url, "TIEPDAN_TRUST_PROXY": "127.0.0.1",
            "TIEPDAN_FLOOD_BURST": "100000", "TIEPDAN_FLOOD_RATE": "10000",
            "TIEPDAN_FLOOD_ADDRESS_BURST": "1000000", "TIEPDAN_FLOOD_ADDRESS_RATE": "100000",
            "TIEPDAN_TELEGRAM_PER_CHAT_RATE": "1000",
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost", **extra}


# -- the benchmark -----------------------------------------------------------------------------------

PROCESS_COUNTS = (1, 2, 3)


@dataclass
class Options:
    clients: int = 48
    seconds: float = 8.0
    warmup: float = 2.0
    pinned: bool = True

    @classmethod
    def quick(cls) -> "Options":
        return cls(clients=12, seconds=2.0, warmup=0.5, pinned=False)


async def _client(front: str, stop: asyncio.Event, started: asyncio.Event, counted: list[int],
                  latencies: list[float]) -> None:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        cursor = 0
        words = ["/start", "/help", "/menu", "/help"]
        n = 0
        while not stop.is_set():
            body = {"id": uuid.uuid4().hex, "after": cursor, "text": words[min(n, 1 + n % 3)]}
            began = time.perf_counter()
            async with session.post(f"{front}/api/chat/send", json=body, headers={"Origin": front}) as response:
                page = await response.json()
            if response.status == 200:
                cursor = page["cursor"]
                n += 1
                if started.is_set():
                    counted[0] += 1
                    latencies.append(time.perf_counter() - began)


async def _measure(url: str, processes: int, options: Options, folder: Path, pinned: bool) -> dict:
    app_cores = ("taskset", "-c", "1") if pinned else ()
    env = serve_env(url, TIEPDAN_METRICS_PORT="0")
    servers = [Serve(env, folder / f"serve-{n}", flags=("--no-scheduler",), prefix=app_cores)
               for n in range(processes)]
    nginx = Nginx(folder / "nginx", [s.port for s in servers], prefix=app_cores)
    if pinned:
        os.sched_setaffinity(0, {0})  # the load generator on the other core
    try:
        for server in servers:
            await server.start()
        front = await nginx.start()
        stop, started, counted, latencies = asyncio.Event(), asyncio.Event(), [0], []
        clients = [asyncio.create_task(_client(front, stop, started, counted, latencies))
                   for _ in range(options.clients)]
        await asyncio.sleep(options.warmup)
        started.set()
        began = time.perf_counter()
        await asyncio.sleep(options.seconds)
        elapsed = time.perf_counter() - began
        stop.set()
        await asyncio.gather(*clients, return_exceptions=True)
        return {"steps_per_second": counted[0] / elapsed, "p50_ms": percentile(latencies, 50) * 1000,
                "p99_ms": percentile(latencies, 99) * 1000}
    finally:
        if pinned:
            os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
        await nginx.stop()
        for server in servers:
            await server.stop()


async def run(options: Options) -> list[Table]:
    table = Table("scale_out", "Scale-out: web-chat steps a second through nginx, 1-3 serve processes (PostgreSQL)",
                  ["processes", "cores for tiepdan", "steps/s", "× one process", "p50 ms", "p99 ms"])
    if not os.path.exists(NGINX):
        table.notes.append("nginx is not installed: nothing measured.")
        return [table]
    pinned_too = options.pinned and (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
    with tempfile.TemporaryDirectory() as folder:
        for pinned in ((False, True) if pinned_too else (False,)):
            baseline = None
            for processes in PROCESS_COUNTS:
                try:
                    async with database("postgresql", folder) as url:
                        figures = await _measure(url, processes, options, Path(folder) / f"{processes}-{pinned}",
                                                 pinned)
                except DatabaseUnavailable as exc:
                    table.notes.append(str(exc))
                    return [table]
                baseline = baseline or figures["steps_per_second"]
                cores = "1 (taskset), PostgreSQL on both" if pinned else f"all {os.cpu_count()}, shared"
                table.add(processes, cores, figures["steps_per_second"], figures["steps_per_second"] / baseline,
                          figures["p50_ms"], figures["p99_ms"])
                table.figures[f"{processes}{'_pinned' if pinned else ''}"] = figures
    table.notes.append(f"{options.clients} closed-loop clients, {options.seconds:.0f} s each after "
                       f"{options.warmup:.0f} s of warm-up; the load generator, nginx, the serve processes "
                       "and PostgreSQL share this machine's cores.")
    return [table]


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python3 -m bench.scale_out", description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=Options.clients)
    parser.add_argument("--seconds", type=float, default=Options.seconds)
    parser.add_argument("--no-pinned", action="store_true", help="skip the rows with tiepdan held to one core")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    options = Options.quick() if args.quick else Options(clients=args.clients, seconds=args.seconds,
                                                         pinned=not args.no_pinned)
    return options, args


def main(argv: list[str] | None = None) -> None:
    run_alone(_parse, run, argv)


if __name__ == "__main__":
    main()
