"""The benchmarks cannot rot: ``python3 -m bench --quick`` runs every benchmark end to end in its
smoke-run size, prints every table, and its figures are sane. Timing targets are not checked here
(the figures of a smoke run on a shared machine say nothing about them); what is checked is what
must hold at any speed: every update handled in its chat's order, every subscriber reached exactly
once, the fake Bot API never letting more than 30 messages through in a second, the same sweep work
at both sizes, a live ``serve`` whose memory was read."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.db import create_engine

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN = os.environ.get("TIEPDAN_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
TITLES = ("Inbound pipeline: throughput", "Inbound pipeline at 200 updates/s offered", "Broadcast: one announcement",
          "Deadline sweep on PostgreSQL", "Memory: tiepdan serve")


async def _postgres_reachable() -> bool:
    engine = create_engine(POSTGRES_ADMIN)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure to reach the server means the same
        return False
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> tuple[str, dict]:
    if not asyncio.run(_postgres_reachable()):
        message = f"PostgreSQL unreachable at {POSTGRES_ADMIN}: the benchmarks need it"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    out = tmp_path_factory.mktemp("bench") / "figures.json"
    finished = subprocess.run([sys.executable, "-m", "bench", "--quick", "--json", str(out)], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-3000:]
    return finished.stdout, json.loads(out.read_text(encoding="utf-8"))["tables"]


def test_every_table_prints_with_its_rows(quick_run):
    stdout, tables = quick_run
    assert stdout.startswith("Machine: ")
    for title in TITLES:
        assert f"### {title}" in stdout
    assert "not run" not in stdout
    for table in tables.values():
        assert table["rows"] and all(len(row) == len(table["columns"]) for row in table["rows"])


def test_pipeline_figures_are_sane(quick_run):
    _, tables = quick_run
    throughput, offered = tables["pipeline"]["figures"], tables["pipeline_offered"]["figures"]
    ceiling = throughput["ceiling"]
    assert ceiling > 100  # a no-op handler dispatches far faster than that anywhere
    for database in ("sqlite", "postgresql"):
        for path in ("dialog", "submission"):
            for feeding in ("one", "burst"):
                figures = throughput[f"{path}_{feeding}_{database}"]
                # Handling a message is slower than doing nothing, and takes some CPU.
                assert 0 < figures["rate"] < ceiling and 0 < figures["ratio"] < 1
                assert figures["cpu_ms"] > 0
            # Fed all at once, production's updates share transactions.
            assert throughput[f"{path}_burst_{database}"]["per_commit"] > 1
        for path in ("dialog", "submission", "citizen"):  # citizen: the whole journey, items checked by the bench
            figures = offered[f"{path}_{database}"]
            assert figures["updates"] >= 40 and figures["achieved"] > 0
            assert 0 < figures["p50_ms"] <= figures["p99_ms"]
            assert figures["out_of_order"] == 0  # one chat's updates are always handled in order
            assert figures["per_commit"] >= 1


def test_broadcast_reaches_everyone_once_within_the_limit(quick_run):
    _, tables = quick_run
    for result in tables["broadcast"]["figures"].values():
        assert result["delivered"] == result["subscribers"] > 0
        assert result["duplicates"] == 0 and result["missing"] == 0 and result["failed_rows"] == 0
        assert 0 < result["busiest_second"] <= 30 and result["rate"] > 0


def test_sweep_does_the_same_work_at_both_sizes(quick_run):
    _, tables = quick_run
    small, large = tables["sweep"]["figures"].values()
    assert small["items"] < large["items"]
    # The same due items: the same messages, the same statements.
    assert large["enqueued"] == small["enqueued"] > 0 and large["statements"] == small["statements"]
    assert all(result["median_s"] > 0 and result["explain"] for result in (small, large))


def test_memory_was_read_from_a_serve_that_handled_the_load(quick_run):
    _, tables = quick_run
    for memory in tables["memory"]["figures"].values():
        assert memory["processed"] == memory["offered"] > 0
        assert memory["replies_delivered"] > 0
        assert 20 < memory["rss_start_mb"] <= memory["peak_mb"] < 2000
