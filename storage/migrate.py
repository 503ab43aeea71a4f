"""Apply Alembic migrations from code (``tiepdan db upgrade`` and ``serve`` call this).

Alembic is imported only when a migration runs: with Mako and its helpers it is about 7 MB of
modules that a running server never needs again. ``serve`` therefore migrates in a short child
process (``python -m storage.migrate``, see ``upgrade_in_child``), so none of it stays in the
long-running process; the one-shot commands call ``upgrade`` in their own process.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"
# The child reads the database URL from here rather than its command line, which other users of
# the machine can see (``ps``); a process's environment is readable only by its owner.
URL_VARIABLE = "TIEPDAN_MIGRATE_URL"
WATCH_VARIABLE = "TIEPDAN_MIGRATE_WATCH_PARENT"  # "1": exit when stdin closes (upgrade_in_child sets it)


class MigrationFailed(Exception):
    """The database could not be brought to the current schema; the message is one line."""


def alembic_config(url: str | None = None):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    from alembic import command

    def _upgrade(connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


async def current_revision(engine: AsyncEngine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as connection:
        return await connection.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if len(text) > 500:
        text = text[:497] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def upgrade_in_child(url: str, *, timeout: float | None = None) -> str | None:
    """Migrate the database at ``url`` to head in a child Python process; returns the revision.

    Raises ``MigrationFailed`` with the child's one-line reason if it fails (or does not finish
    within ``timeout`` seconds). The child holds the read end of a pipe from us and exits as soon
    as it closes, so a migration never outlives a server killed while starting (its transaction is
    rolled back, as it was when the migration ran in the server itself)."""
    # The child imports this very package: its parent folder goes first on the path, and -P keeps
    # the working directory (which may hold something else called "storage") off it.
    root = str(Path(__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH")
    env = {**os.environ, URL_VARIABLE: url, WATCH_VARIABLE: "1",
           "PYTHONPATH": root + (os.pathsep + path if path else "")}
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-P", "-m", "storage.migrate", env=env, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        # Not communicate(): it would close the child's stdin at once.
        out, err, _ = await asyncio.wait_for(
            asyncio.gather(child.stdout.read(), child.stderr.read(), child.wait()), timeout)
    except asyncio.TimeoutError:
        raise MigrationFailed(f"the migration did not finish within {timeout:g} s") from None
    finally:
        if child.returncode is None:  # timed out, or cancelled (serve stopped while starting)
            child.kill()
            await child.wait()
        child.stdin.close()
    lines = [line.rstrip() for line in err.decode(errors="replace").splitlines() if line.strip()]
    if child.returncode != 0:
        last = lines.pop().strip() if lines else ""
        _relay(lines)
        if child.returncode == 1 and last:  # main() below: the error, in one line
            raise MigrationFailed(last)
        raise MigrationFailed(f"the migration process ended with status {child.returncode}"
                              + (f": {last}" if last else ""))
    _relay(lines)
    revision = out.decode(errors="replace").strip()
    return revision or None


def _exit_with_parent() -> None:
    """In the child: end this process when the parent's end of stdin closes (the parent died)."""
    import threading

    def _watch() -> None:
        # The bare descriptor: a daemon thread blocked in sys.stdin's buffered reader holds its lock
        # and makes the interpreter's shutdown fail.
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        os._exit(3)

    threading.Thread(target=_watch, name="parent-watch", daemon=True).start()


def _relay(lines: list[str]) -> None:
    """The child's log lines (Alembic's "Running upgrade …") go where ours go."""
    if lines:
        sys.stderr.write("\n".join(lines) + "\n")
        sys.stderr.flush()


def main() -> int:
    """``python -m storage.migrate``: upgrade the database named by TIEPDAN_MIGRATE_URL to head and
    print its revision; on failure, print one line naming the error to stderr and exit with 1."""
    import logging

    # As ``tiepdan serve`` logs (its parent relays these lines), without Alembic's plugin list.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    url = os.environ.get(URL_VARIABLE)
    if not url:
        print(f"{URL_VARIABLE} is not set", file=sys.stderr)
        return 2
    if os.environ.get(WATCH_VARIABLE) == "1":
        _exit_with_parent()

    async def _run() -> str | None:
        from sqlalchemy import text

        from storage.db import create_engine

        engine = create_engine(url)
        try:
            await upgrade(engine)
            async with engine.connect() as connection:  # not current_revision: it logs the context again
                return (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        finally:
            await engine.dispose()

    try:
        revision = asyncio.run(_run())
    except Exception as exc:  # noqa: BLE001 - whatever it is, the parent reports it in one line
        print(_one_line(exc), file=sys.stderr)
        return 1
    print(revision or "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
