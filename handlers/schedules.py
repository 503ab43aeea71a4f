"""Lịch tiếp công dân — upcoming reception sessions, registering to attend (and cancelling), and
subscribing to the commune's reception announcements."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from bot.domain.communes import commune_label
from bot.domain.dialog import Button
from bot.domain.schedule import upcoming, weekly_days
from handlers.core import FlowContext, register
from storage.models import ReceptionRegistration, ReceptionSession, Subscription, utcnow

TOPIC = "reception"
SHOWN = 6


async def upcoming_occurrences(ctx: FlowContext, commune: int) -> list[tuple[object, ReceptionSession]]:
    zone, now = ctx.settings.zone, datetime.now(timezone.utc)
    found = []
    for session in await ctx.uow.publications.reception_sessions(commune):
        for occurrence in upcoming(session.starts_at, session.ends_at, session.recurrence, now, count=2, zone=zone):
            found.append((occurrence, session))
    found.sort(key=lambda pair: pair[0].starts_at)
    return found[:SHOWN]


def describe(ctx: FlowContext, occurrence, session: ReceptionSession) -> str:
    start, end = occurrence.starts_at, occurrence.ends_at
    when = f"{ctx.text(f'weekday.{start.weekday()}')} {start:%d/%m/%Y}, {start:%H:%M}–{end:%H:%M}"
    days = weekly_days(session.recurrence)
    if days:
        names = ", ".join(ctx.text(f"weekday.{d}") for d in days)
        when += ctx.text("schedule.recurring", rule=ctx.text("recurrence.weekly", days=names))
    if session.moved_from is not None and not days:
        moved = session.moved_from.astimezone(ctx.settings.zone)
        when += ctx.text("schedule.moved_from", date=f"{moved:%d/%m}", start=f"{moved:%H:%M}")
    text = ctx.text("schedule.session", when=when, receiver=session.receiver, place=session.place)
    if session.topics:
        text += ctx.text("schedule.topics", topics=session.topics)
    if session.online_url:
        text += ctx.text("schedule.online", url=session.online_url)
    return text


class ScheduleFlow:
    name = "schedule"

    async def prompt(self, ctx: FlowContext) -> None:
        commune = ctx.user.commune_code
        entries = await upcoming_occurrences(ctx, commune)
        registrations = await self._registrations(ctx)
        registered = {(r.session_id, _epoch(r.occurs_at)) for r in registrations}
        lines = [ctx.text("schedule.title", commune=commune_label(commune))]
        rows = []
        for occurrence, session in entries:
            lines.append(describe(ctx, occurrence, session))
            key = (session.id, _epoch(occurrence.starts_at))
            if key not in registered:
                rows.append([Button(ctx.text("schedule.register", date=f"{occurrence.starts_at:%d/%m}"),
                                    f"reg:{session.id}:{key[1]}")])
        if not entries:
            lines.append(ctx.text("schedule.none"))
        for registration in registrations:
            when = registration.occurs_at.astimezone(ctx.settings.zone)
            lines.append(ctx.text("schedule.registered", date=f"{when:%d/%m/%Y %H:%M}"))
            rows.append([Button(ctx.text("schedule.unregister", date=f"{when:%d/%m}"), f"unreg:{registration.id}")])
        subscribed = await self._subscription(ctx) is not None
        rows.append([ctx.button("schedule.unsubscribe" if subscribed else "schedule.subscribe", "schedule:toggle")])
        rows.append(ctx.back_to_menu_row())
        ctx.send("\n\n".join(lines), buttons=rows)

    async def handle(self, ctx: FlowContext) -> None:
        choice = ctx.incoming.button or ""
        if choice.startswith("reg:"):
            await self._register(ctx, *map(int, choice[4:].split(":")))
        elif choice.startswith("unreg:"):
            await self._unregister(ctx, int(choice[6:]))
        elif choice == "schedule:toggle":
            await self._toggle(ctx)
        else:
            await ctx.goto("menu", "main")
            return
        await self.prompt(ctx)

    async def _registrations(self, ctx: FlowContext) -> list[ReceptionRegistration]:
        rows = await ctx.uow.session.execute(
            select(ReceptionRegistration).where(ReceptionRegistration.user_id == ctx.user.id,
                                                ReceptionRegistration.cancelled_at.is_(None),
                                                # still listed while the session is under way
                                                ReceptionRegistration.occurs_at >= utcnow() - timedelta(hours=12))
            .order_by(ReceptionRegistration.occurs_at))
        return list(rows.scalars())

    async def _register(self, ctx: FlowContext, session_id: int, epoch: int) -> None:
        offered = {(s.id, _epoch(o.starts_at)): o for o, s in await upcoming_occurrences(ctx, ctx.user.commune_code)}
        occurrence = offered.get((session_id, epoch))
        if occurrence is None:
            ctx.say("schedule.gone")
            return
        occurs_at = occurrence.starts_at.astimezone(timezone.utc)
        existing = (await ctx.uow.session.execute(select(ReceptionRegistration).where(
            ReceptionRegistration.session_id == session_id, ReceptionRegistration.occurs_at == occurs_at,
            ReceptionRegistration.user_id == ctx.user.id))).scalar_one_or_none()
        if existing is None:
            ctx.uow.session.add(ReceptionRegistration(session_id=session_id, occurs_at=occurs_at, user_id=ctx.user.id))
        else:
            existing.cancelled_at = None
        ctx.say("schedule.registered_ok", date=f"{occurrence.starts_at:%d/%m/%Y %H:%M}")

    async def _unregister(self, ctx: FlowContext, registration_id: int) -> None:
        registration = await ctx.uow.session.get(ReceptionRegistration, registration_id)
        if registration is not None and registration.user_id == ctx.user.id and registration.cancelled_at is None:
            registration.cancelled_at = utcnow()
            ctx.say("schedule.unregistered")

    async def _subscription(self, ctx: FlowContext) -> Subscription | None:
        return (await ctx.uow.session.execute(select(Subscription).where(
            Subscription.user_id == ctx.user.id, Subscription.topic == TOPIC,
            Subscription.commune_code == ctx.user.commune_code))).scalar_one_or_none()

    async def _toggle(self, ctx: FlowContext) -> None:
        subscription = await self._subscription(ctx)
        if subscription is None:
            ctx.uow.session.add(Subscription(user_id=ctx.user.id, topic=TOPIC, commune_code=ctx.user.commune_code))
            ctx.say("schedule.subscribed")
        else:
            await ctx.uow.session.delete(subscription)
            ctx.say("schedule.unsubscribed")


def _epoch(value: datetime) -> int:
    return int(value.timestamp())


register(ScheduleFlow())
