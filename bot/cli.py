"""The ``tiepdan`` command: serve, db upgrade, demo-data."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from bot.domain.roles import STAFF_ROLES
from bot.settings import SettingsError, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tiepdan", description="Citizen-feedback chatbot for communes and wards")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the web chat (and Telegram when a token is set)")
    serve.add_argument("--demo", action="store_true", help="seed a demo ward with units, schedule, disclosures")
    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply all migrations")
    commands.add_parser("demo-data", help="seed the demo ward into the database")
    admin = commands.add_parser("admin", help="administration: officer invites, imports")
    admin_commands = admin.add_subparsers(dest="admin_command", required=True)
    invite = admin_commands.add_parser("invite", help="create a one-time code an officer redeems with /officer CODE")
    invite.add_argument("--unit", required=True, type=int, help="unit id (see the units table)")
    invite.add_argument("--role", choices=STAFF_ROLES, default="officer")
    invite.add_argument("--days", type=int, default=7, help="days until the code expires")
    importer = admin_commands.add_parser("import", help="import units, officers, routing, schedules, disclosures, "
                                                        "projects, consultations from a YAML or CSV file")
    importer.add_argument("file")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # The server logs its work; one-shot commands print only their result and problems.
    level = logging.INFO if args.command == "serve" else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its request lines would carry the bot token
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)  # one line per sweep otherwise
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"tiepdan: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        from bot.app import serve
        from storage.migrate import MigrationFailed

        try:
            asyncio.run(serve(settings, demo=args.demo))
        except MigrationFailed as exc:
            print(f"tiepdan: the database could not be migrated, not starting: {exc}", file=sys.stderr)
            return 1
    elif args.command == "db":
        asyncio.run(_upgrade(settings))
    elif args.command == "demo-data":
        asyncio.run(_demo(settings))
    elif args.command == "admin":
        return asyncio.run(_admin(settings, args))
    return 0


async def _upgrade(settings) -> None:
    from storage.db import create_engine
    from storage.migrate import current_revision, upgrade

    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        print(f"tiepdan: database at revision {await current_revision(engine)}")
    finally:
        await engine.dispose()


async def _demo(settings) -> None:
    from storage.db import create_engine, session_factory
    from storage.demo import seed_demo
    from storage.migrate import upgrade
    from storage.uow import UnitOfWorkFactory

    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        created = await seed_demo(UnitOfWorkFactory(session_factory(engine)), settings)
        print("tiepdan: demo data seeded" if created else "tiepdan: demo data already present")
    finally:
        await engine.dispose()


async def _admin(settings, args) -> int:
    from storage.db import create_engine, session_factory
    from storage.migrate import upgrade
    from storage.uow import UnitOfWorkFactory

    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        uows = UnitOfWorkFactory(session_factory(engine))
        if args.admin_command == "invite":
            from bot.officers import UnknownUnit, create_invite

            try:
                code = await create_invite(uows, args.unit, args.role, days=args.days)
            except UnknownUnit:
                print(f"tiepdan: there is no unit {args.unit}", file=sys.stderr)
                return 2
            print(f"tiepdan: invite code {code} ({args.role}, unit {args.unit}, valid {args.days} days): "
                  f"the officer sends /officer {code} to the bot")
            return 0
        from bot.importer import ImportError_, import_file

        try:
            summary = await import_file(uows, args.file, zone=settings.zone)
        except ImportError_ as exc:
            print(f"tiepdan: {exc}", file=sys.stderr)
            return 2
        print(f"tiepdan: imported {summary}")
        return 0
    finally:
        await engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
