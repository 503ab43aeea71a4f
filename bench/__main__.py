"""Run every benchmark and print all tables: ``python3 -m bench`` (``--quick`` for a smoke run).

Each benchmark also runs alone: ``python3 -m bench.pipeline``, ``bench.broadcast``, ``bench.busy_chat``,
``bench.longpoll``, ``bench.sweep``, ``bench.memory``, ``bench.public_pages``, ``bench.scale_out``
(``--help`` lists each one's knobs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import datetime, timezone

from bench.common import Table, machine

NAMES = ("pipeline", "broadcast", "busy_chat", "longpoll", "sweep", "memory", "public_pages", "scale_out")


def report(groups: list[list[Table]], json_path: str | None, started: float | None = None) -> None:
    """Print the machine line and every table; write the figures as JSON when asked."""
    tables = [table for group in groups for table in group]
    header = f"Machine: {machine()}. Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"
    if started is not None:
        header += f", {time.monotonic() - started:.0f} s in all"
    print(header + ".\n")
    print("\n\n".join(table.render() for table in tables), flush=True)
    if json_path:
        with open(json_path, "w", encoding="utf-8") as out:
            json.dump({"machine": machine(), "tables": {t.name: t.as_dict() for t in tables}}, out,
                      ensure_ascii=False, indent=1, default=str)


async def run_all(quick: bool, only: list[str]) -> list[list[Table]]:
    from bench import broadcast, busy_chat, longpoll, memory, pipeline, public_pages, scale_out, sweep

    modules = {"pipeline": pipeline, "broadcast": broadcast, "busy_chat": busy_chat, "longpoll": longpoll,
               "sweep": sweep, "memory": memory, "public_pages": public_pages, "scale_out": scale_out}
    groups = []
    for name in only:
        module = modules[name]
        options = module.Options.quick() if quick else module.Options()
        groups.append(await module.run(options))
    return groups


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python3 -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="every benchmark in its smoke-run size")
    parser.add_argument("--only", choices=NAMES, action="append", help="only this benchmark (repeatable)")
    parser.add_argument("--json", help="also write every figure to this file")
    args = parser.parse_args(argv)
    started = time.monotonic()
    groups = asyncio.run(run_all(args.quick, args.only or list(NAMES)))
    report(groups, args.json, started)


if __name__ == "__main__":
    main()
