"""The ``tiepdan`` command: serve, db upgrade, demo-data, admin, report."""

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
    # Several processes on one PostgreSQL (README "Running several processes"): every one serves the web
    # app and the webhooks; these leave out the other roles.
    serve.add_argument("--no-scheduler", action="store_true", help="do not run the deadline sweep and retention")
    serve.add_argument("--no-dispatcher", action="store_true", help="do not send the outbox")
    serve.add_argument("--web-only", action="store_true", help="only the web app and webhooks: no sweep, no "
                                                               "sending, no polling")
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
    revoke = admin_commands.add_parser("revoke", help="end a person's staff role on every channel and all their "
                                                      "web sessions at once")
    revoke.add_argument("--person", required=True, type=int, help="the person's id (see: tiepdan admin staff)")
    admin_commands.add_parser("staff", help="list everyone with a staff role: id, role, unit, channels, live sessions")
    importer = admin_commands.add_parser("import", help="import units, officers, routing, schedules, disclosures, "
                                                        "projects, consultations from a YAML or CSV file")
    importer.add_argument("file")
    open311 = admin_commands.add_parser("open311-key", help="issue an API key another system posts Open311 "
                                                            "feedback with, for one commune (shown once)")
    open311.add_argument("--commune", required=True, help="the commune's code or slug, e.g. 70 or phuong-hoan-kiem")
    open311.add_argument("--name", required=True, help="who the key is for, e.g. 'Cổng dịch vụ công tỉnh'")
    _organisation_commands(admin_commands)
    _report_command(commands)
    _zalo_command(commands)
    return parser


def _zalo_command(commands) -> None:
    """Authorising the Zalo Official Account (bot/channels/zalo_oauth.py)."""
    zalo = commands.add_parser("zalo", help="the Zalo Official Account")
    zalo_commands = zalo.add_subparsers(dest="zalo_command", required=True)
    zalo_commands.add_parser("authorize", help="print the link an OA administrator opens to authorise tiepdan "
                                               "(OAuth v4 with PKCE; the server stores the tokens)")


async def _zalo_authorize(settings) -> int:
    """The permission URL of a new OAuth v4 authorisation, its verifier kept server-side."""
    from bot.channels.zalo_oauth import STATE_LIFETIME, begin, redirect_uri
    from storage.db import create_engine, session_factory
    from storage.migrate import upgrade
    from storage.uow import UnitOfWorkFactory

    if not settings.zalo_oa_enabled:
        print("tiepdan: set TIEPDAN_ZALO_OA_APP_ID, TIEPDAN_ZALO_OA_SECRET_KEY and TIEPDAN_ZALO_OA_APP_SECRET first",
              file=sys.stderr)
        return 2
    try:
        callback = redirect_uri(settings)
    except ValueError as exc:
        print(f"tiepdan: {exc}", file=sys.stderr)
        return 2
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        url = await begin(UnitOfWorkFactory(session_factory(engine)), settings)
    finally:
        await engine.dispose()
    minutes = int(STATE_LIFETIME.total_seconds() // 60)
    print(f"tiepdan: an administrator of the Official Account opens this link within {minutes} minutes, "
          f"logs in to Zalo and allows the app; Zalo then returns to {callback} (where tiepdan serve must be "
          f"running) and the tokens are stored:\n{url}")
    return 0


def _report_command(commands) -> None:
    """Official reports (bot/reports/): the same files the console's leaders download."""
    report = commands.add_parser("report", help="write the report of a commune or of the province for a period "
                                                "(XLSX, PDF with charts, or CSV; counts only, no personal data)")
    report.add_argument("--period", required=True, help="2026 | 2026-H2 | 2026-Q4 | 2026-11 (local dates)")
    where = report.add_mutually_exclusive_group(required=True)
    where.add_argument("--commune", type=int, help="commune code (as in vietnam-provinces)")
    where.add_argument("--province", type=int, help="province code: every commune rolled up, with a total")
    report.add_argument("--format", choices=("xlsx", "pdf", "csv"), default="xlsx")
    report.add_argument("--language", choices=("vi", "en"), default="vi")
    report.add_argument("--output", help="file to write (default: bao-cao-<where>-<period>.<format> here)")


async def _report(settings, args) -> int:
    from bot.domain.communes import commune_by_code
    from bot.domain.provinces import communes_of
    from bot.policy import Level, Scope
    from bot.reports.export import filename, render
    from bot.reports.figures import report_figures
    from bot.reports.period import PeriodError, parse_period
    from storage.db import create_engine, session_factory
    from storage.uow import UnitOfWorkFactory

    try:
        period = parse_period(args.period)
    except PeriodError:
        print(f"tiepdan: {args.period!r} is not a period: write 2026, 2026-H2, 2026-Q4 or 2026-11", file=sys.stderr)
        return 2
    if args.commune is not None and commune_by_code(args.commune) is None:
        print(f"tiepdan: there is no commune {args.commune}", file=sys.stderr)
        return 2
    if args.province is not None and not communes_of(args.province):
        print(f"tiepdan: there is no province {args.province}", file=sys.stderr)
        return 2
    scope = (Scope(Level.commune, commune_code=args.commune) if args.commune is not None
             else Scope(Level.province, province_code=args.province))
    engine = create_engine(settings.database_url)
    try:
        async with UnitOfWorkFactory(session_factory(engine))() as uow:
            figures = await report_figures(uow, scope, period, settings.zone)
    finally:
        await engine.dispose()
    data = await asyncio.to_thread(render, figures, args.format, args.language, settings.zone)
    path = args.output or filename(figures, args.format)
    with open(path, "wb") as out:
        out.write(data)
    print(f"tiepdan: wrote {path} ({figures.title}, {period.key}: {figures.total.received} items received)")
    return 0


def _organisation_commands(admin_commands) -> None:
    """Oversight boards (bot/oversight.py): a member joins with a one-time code, like an officer."""
    board = admin_commands.add_parser("board-invite", help="create a one-time code a member of an oversight board "
                                                           "redeems with /officer CODE")
    board.add_argument("--board", required=True, type=int, help="board id (see the oversight_boards table)")
    board.add_argument("--days", type=int, default=7, help="days until the code expires")


async def _open311_key(uows, args) -> int:
    from bot.public.communes import resolve
    from bot.public.open311 import issue_key

    commune = resolve(args.commune)
    if commune is None:
        print(f"tiepdan: no commune or ward {args.commune!r} (give its code or slug)", file=sys.stderr)
        return 2
    key = await issue_key(uows, commune.code, args.name)
    print(f"tiepdan: Open311 API key for {commune.label} ({args.name}), shown only now: {key}")
    return 0


async def _board_invite(uows, args) -> int:
    from bot.officers import UnknownUnit, create_board_invite

    try:
        code = await create_board_invite(uows, args.board, days=args.days)
    except UnknownUnit:
        print(f"tiepdan: there is no oversight board {args.board}", file=sys.stderr)
        return 2
    print(f"tiepdan: invite code {code} (oversight board {args.board}, valid {args.days} days): "
          f"the member sends /officer {code} to the bot")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # The server logs its work; one-shot commands print only their result and problems.
    level = logging.INFO if args.command == "serve" else logging.WARNING
    from bot.web_server import RepeatedLines

    console = logging.StreamHandler()
    console.addFilter(RepeatedLines())  # a loop of one error must not fill the disk
    # Does nothing where logging is already set up (an embedding program, the test runner).
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=[console])
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its request lines would carry the bot token
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)  # one line per sweep otherwise
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"tiepdan: {exc}", file=sys.stderr)
        return 2
    from bot.domain.calendar import DEFAULT_CALENDAR

    DEFAULT_CALENDAR.adjust(**settings.calendar_changes)  # imports count working days too (bot/importer.py)
    if args.command == "serve":
        from bot.app import serve
        from storage.migrate import MigrationFailed

        try:
            asyncio.run(serve(settings, demo=args.demo, run_scheduler=not (args.no_scheduler or args.web_only),
                              run_dispatcher=not (args.no_dispatcher or args.web_only), poll=not args.web_only))
        except MigrationFailed as exc:
            print(f"tiepdan: the database could not be migrated, not starting: {exc}", file=sys.stderr)
            return 1
    elif args.command == "db":
        asyncio.run(_upgrade(settings))
    elif args.command == "demo-data":
        asyncio.run(_demo(settings))
    elif args.command == "admin":
        return asyncio.run(_admin(settings, args))
    elif args.command == "report":
        return asyncio.run(_report(settings, args))
    elif args.command == "zalo":
        return asyncio.run(_zalo_authorize(settings))
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
            from bot.officers import UnknownUnit, WrongRole, create_invite

            try:
                code = await create_invite(uows, args.unit, args.role, days=args.days)
            except UnknownUnit:
                print(f"tiepdan: there is no unit {args.unit}", file=sys.stderr)
                return 2
            except WrongRole as wrong:
                print(f"tiepdan: {wrong}", file=sys.stderr)
                return 2
            print(f"tiepdan: invite code {code} ({args.role}, unit {args.unit}, valid {args.days} days): "
                  f"the officer sends /officer {code} to the bot")
            return 0
        if args.admin_command == "revoke":
            return await _revoke(uows, args.person)
        if args.admin_command == "staff":
            return await _staff(uows)
        if args.admin_command == "open311-key":
            return await _open311_key(uows, args)
        if args.admin_command == "board-invite":
            return await _board_invite(uows, args)
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


async def _revoke(uows, person: int) -> int:
    from bot.staff_sessions import UnknownPerson, revoke

    async with uows() as uow:
        try:
            ended = await revoke(uow, person, by="cli")
        except UnknownPerson:
            print(f"tiepdan: there is no person {person}", file=sys.stderr)
            return 2
        await uow.commit()
    print(f"tiepdan: person {person} is no longer staff; {ended} web session(s) ended")
    return 0


async def _staff(uows) -> int:
    from bot.staff_sessions import staff_members

    async with uows() as uow:
        members = await staff_members(uow)
    print(f"{'id':>6}  {'role':<8} {'commune':>7}  {'unit':<40} {'channels':<24} sessions")
    for m in members:
        print(f"{m.user_id:>6}  {m.role:<8} {m.commune_code or '':>7}  {(m.unit or '')[:40]:<40} "
              f"{','.join(m.channels):<24} {m.live_sessions}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
