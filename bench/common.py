"""What every benchmark shares: throwaway databases, percentiles, tables and the machine they ran on.

Figures are ratios against a baseline measured in the same run wherever a baseline exists, because
the machines are shared and noisy. Each benchmark returns ``Table`` values: ``render()`` prints the
markdown the README quotes, ``as_dict()`` is what ``--json`` writes and the smoke test reads.
"""

from __future__ import annotations

import asyncio
import os
import platform
import sys
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

from sqlalchemy import text

from storage.db import create_engine
from storage.migrate import upgrade

POSTGRES_ADMIN = os.environ.get("TIEPDAN_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
DATABASES = ("sqlite", "postgresql")


class DatabaseUnavailable(Exception):
    """PostgreSQL could not be reached; the table says so instead of a figure."""


async def _admin(statement: str) -> None:
    engine = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@asynccontextmanager
async def database(kind: str, folder: str, *, migrate: bool = True) -> AsyncIterator[str]:
    """A fresh, migrated database of ``kind`` (a file in ``folder`` or a throwaway PostgreSQL
    database on TIEPDAN_TEST_POSTGRES), dropped afterwards."""
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{folder}/bench-{uuid.uuid4().hex[:8]}.db"
        name = None
    else:
        name = f"tiepdan_bench_{uuid.uuid4().hex[:10]}"
        try:
            await _admin(f'CREATE DATABASE "{name}"')
        except Exception as exc:  # noqa: BLE001 - any failure to reach the server means the same
            raise DatabaseUnavailable(f"PostgreSQL unreachable: {type(exc).__name__}") from exc
        url = f"{POSTGRES_ADMIN.rsplit('/', 1)[0]}/{name}"
    try:
        if migrate:
            engine = create_engine(url)
            try:
                await upgrade(engine)
            finally:
                await engine.dispose()
        yield url
    finally:
        if name is not None:
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by the nearest-rank method; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100), at least 1
    return ordered[int(rank) - 1]


@dataclass
class Table:
    """One printed table: a title, column names, rows of cells (numbers or text) and notes below it.
    ``figures`` holds the same results by name, for --json and the smoke test."""

    name: str
    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def add(self, *cells: Any) -> None:
        self.rows.append(list(cells))

    def render(self) -> str:
        cells = [[_cell(c) for c in row] for row in self.rows]
        widths = [max([len(name)] + [len(row[i]) for row in cells if i < len(row)])
                  for i, name in enumerate(self.columns)]

        def line(values: list[str]) -> str:
            padded = [v.ljust(widths[i]) if i == 0 else v.rjust(widths[i]) for i, v in enumerate(values)]
            return "| " + " | ".join(padded) + " |"

        out = [f"### {self.title}", "", line(self.columns),
               "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
        out += [line(row + [""] * (len(self.columns) - len(row))) for row in cells]
        if self.notes:
            out += [""] + self.notes
        return "\n".join(out)

    def as_dict(self) -> dict[str, Any]:
        return {"title": self.title, "columns": self.columns, "rows": self.rows, "notes": self.notes,
                "figures": self.figures}


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value >= 1000:
            return f"{value:,.0f}"
        if value >= 100:
            return f"{value:.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.3f}" if value < 1 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def machine() -> str:
    """One line naming the machine: CPU model, cores, memory, Python."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            model = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), model)
    except OSError:
        pass
    memory = ""
    try:
        with open("/proc/meminfo", encoding="utf-8") as info:
            kib = int(next(line.split()[1] for line in info if line.startswith("MemTotal")))
            memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    return (f"{model}, {os.cpu_count()} cores{memory}, {platform.system()} {platform.release()}, "
            f"Python {sys.version.split()[0]}")


def run_alone(parse, run, argv: list[str] | None) -> None:
    """``python3 -m bench.<name>``: parse its options, run it, print (and save) its tables."""
    from bench.__main__ import report

    options, args = parse(argv)
    report([asyncio.run(run(options))], args.json)
