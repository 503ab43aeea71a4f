"""Tra cứu — a citizen's own items: the list, one item's timeline and next deadline, look-up by
tracking code, and withdrawal (rút đơn) with confirmation. A citizen only ever sees their own items.

A first complaint shows the citizen's own clocks: the 90 days to complain, once they say when they
learned of the decision (Luật Khiếu nại 2011, Điều 9), and the 30 days to take it to a second complaint
after its decision or after its period ran out without one (Điều 33 khoản 1)."""

from __future__ import annotations

import re
from datetime import date

from bot.domain.deadlines import complaint_filing_window_ends
from bot.domain.dialog import Button
from bot.domain.tracking import normalize_tracking_code
from bot.domain.kinds import ItemKind
from bot.domain.workflow import Action, IllegalTransition, ItemStatus, is_open
from bot.petitions import (
    FilingWindowClosed,
    categories_for,
    file_second_complaint,
    filing_limit,
    latest_answer,
    local_date,
    provide_information,
    rate,
    record_learned_on,
    second_complaint_window,
    unresolved_since,
    withdraw,
)
from bot.texts import has
from handlers.core import FlowContext, register
from handlers.wording import deadline_lines, in_reading_order
from scheduler.outbox import NOTICE_HELD, NOTICE_RELEASED
from storage.models import utcnow

PAGE = 5


class TrackFlow:
    name = "track"

    async def prompt(self, ctx: FlowContext) -> None:
        step = ctx.conversation.step
        if step == "detail":
            await self._detail(ctx)
        elif step == "add_info":
            if ctx.conversation.data.get("sent"):
                ctx.say("conv.add_info_received", count=ctx.conversation.data["sent"],
                        buttons=[[ctx.button("conv.add_info_done", "track:info_done")]])
            else:
                ctx.say("conv.add_info_prompt", buttons=[[ctx.button("conv.add_info_done", "track:info_done")],
                                                         [ctx.button("submit.cancel", "track:detail")]])
        elif step == "rate_comment":
            ctx.say("track.rate_comment", buttons=[[ctx.button("submit.skip", "rate:skip")]])
        elif step == "second_reason":
            answered = await latest_answer(ctx.uow, ctx.conversation.data.get("item_id", 0)) is not None
            ctx.say("track.second_reason" if answered else "track.second_reason_unresolved",
                    buttons=[[ctx.button("submit.cancel", "track:detail")]])
        elif step == "learned_on":
            ctx.say("track.learned_prompt", buttons=[[ctx.button("submit.cancel", "track:detail")]])
        elif step == "withdraw_confirm":
            item = await self._own_item(ctx, ctx.conversation.data["item_id"])
            ctx.say("track.withdraw_confirm", code=item.tracking_code, buttons=[
                [ctx.button("track.withdraw_yes", "track:withdraw_yes")],
                [ctx.button("track.withdraw_no", "track:detail")]])
        else:
            await self._list(ctx)

    async def handle(self, ctx: FlowContext) -> None:
        choice, data = ctx.incoming.button, ctx.conversation.data
        if choice and choice.startswith("item:"):
            await ctx.goto("track", "detail", item_id=int(choice[5:]), page=data.get("page", 0))
        elif choice == "track:more":
            await ctx.goto("track", "list", page=data.get("page", 0) + 1)
        elif choice == "track:list":
            await ctx.goto("track", "list", page=0)
        elif choice == "track:detail":
            await ctx.goto("track", "detail", item_id=data["item_id"])
        elif choice == "track:withdraw":
            await ctx.goto("track", "withdraw_confirm", item_id=data["item_id"])
        elif choice == "track:withdraw_yes":
            await self._withdraw(ctx)
        elif choice == "track:add_info":
            await ctx.goto("track", "add_info", item_id=data["item_id"], sent=0)
        elif choice == "track:info_done":
            if data.get("sent"):
                ctx.say("conv.add_info_finished", count=data["sent"])
            await ctx.goto("track", "detail", item_id=data["item_id"])
        elif choice == "rate:yes":
            await self._rate(ctx, satisfied=True, comment=None)
        elif choice == "rate:no":
            await ctx.goto("track", "rate_comment", item_id=data["item_id"])
        elif choice == "rate:skip":
            await self._rate(ctx, satisfied=False, comment=None)
        elif choice == "track:second":
            await ctx.goto("track", "second_reason", item_id=data["item_id"])
        elif choice == "track:learned":
            await ctx.goto("track", "learned_on", item_id=data["item_id"])
        elif ctx.conversation.step == "add_info" and (ctx.incoming.text or ctx.incoming.photos):
            await self._add_info(ctx)
        elif ctx.conversation.step == "rate_comment" and ctx.incoming.text:
            await self._rate(ctx, satisfied=False, comment=ctx.incoming.text.strip()[:1000])
        elif ctx.conversation.step == "second_reason" and ctx.incoming.text:
            await self._second_complaint(ctx, ctx.incoming.text.strip())
        elif ctx.conversation.step == "learned_on" and ctx.incoming.text:
            await self._learned_on(ctx, ctx.incoming.text.strip())
        elif ctx.incoming.text and (ctx.conversation.step == "list" or normalize_tracking_code(ctx.incoming.text)):
            await self._lookup(ctx, ctx.incoming.text)
        elif ctx.incoming.text:
            # A sentence at an item's page is not a tracking code: say so, and show where they are.
            typed = ctx.incoming.text.strip()
            ctx.say("conv.not_a_code", text=typed if len(typed) <= 80 else typed[:80] + "…")
            await self.prompt(ctx)
        else:
            await self.prompt(ctx)

    async def _list(self, ctx: FlowContext) -> None:
        items = await ctx.uow.items.for_citizen(ctx.user.id)
        if not items:
            ctx.say("track.none", buttons=[ctx.back_to_menu_row()])
            return
        page = ctx.conversation.data.get("page", 0)
        shown = items[page * PAGE:(page + 1) * PAGE]
        rows = [[Button(ctx.text("track.entry", code=i.tracking_code, kind=ctx.text(f"kind.{i.kind}"),
                                 status=ctx.text(f"status.{i.status}")), f"item:{i.id}")] for i in shown]
        lines = []
        for item in shown:
            line = ctx.text("track.line", code=item.tracking_code, status=ctx.text(f"status.{item.status}"))
            deadlines = in_reading_order(await ctx.uow.items.open_deadlines(item.id))
            if deadlines:
                line += ctx.text("track.line_due", date=deadlines[0].due_on.strftime("%d/%m/%Y"))
            answer = await latest_answer(ctx.uow, item.id)
            if answer is not None and answer.note:
                line += ctx.text("track.line_answer", answer=answer.note[:160])
            lines.append(line)
        if len(items) > (page + 1) * PAGE:
            rows.append([ctx.button("track.more", "track:more")])
        rows.append(ctx.back_to_menu_row())
        ctx.send("\n".join([ctx.text("track.title", count=len(items)), *lines, "", ctx.text("track.lookup_hint")]),
                 buttons=rows)

    async def _own_item(self, ctx: FlowContext, item_id: int):
        item = await ctx.uow.items.get(item_id)
        return item if item is not None and item.citizen_id == ctx.user.id else None

    async def _detail(self, ctx: FlowContext) -> None:
        item = await self._own_item(ctx, ctx.conversation.data.get("item_id", 0))
        if item is None:
            ctx.say("track.not_found")
            await ctx.goto("track", "list", page=0)
            return
        zone = ctx.settings.zone
        labels = {c.key: c.label(ctx.lang) for c in await categories_for(ctx.uow, item.commune_code)}
        text = ctx.text("track.detail", code=item.tracking_code, kind=ctx.text(f"kind.{item.kind}"),
                        category=labels.get(item.category, item.category), status=ctx.text(f"status.{item.status}"),
                        received=local_date(item.received_at, zone), description=item.description[:1500])
        deadlines = in_reading_order(await ctx.uow.items.open_deadlines(item.id))
        if deadlines:
            nearest = deadlines[0]  # the law's nearest before any of the commune's own targets
            text += ctx.text("track.next_deadline", phase=ctx.text(f"phase.{nearest.phase}"),
                             date=nearest.due_on.strftime("%d/%m/%Y"), citation=nearest.citation)
        answer = await latest_answer(ctx.uow, item.id)
        if answer is not None and answer.note:
            text += ctx.text("track.answer", date=local_date(answer.at, zone), answer=answer.note[:1500])
        shown_answer = answer.id if answer is not None and answer.note else None
        text += ctx.text("track.timeline")
        for event in (await ctx.uow.items.events(item.id))[-10:]:
            what = ctx.text(f"event.{event.action}") if has(f"event.{event.action}") else event.action
            if event.action in (NOTICE_HELD, NOTICE_RELEASED):
                # A notification the platform would not deliver (Zalo's 7-day window, an unfollow).
                reason = (event.data or {}).get("reason", "")
                what = ctx.text(f"zalo.{event.action}", reason=ctx.text(
                    f"zalo.held.{reason}" if has(f"zalo.held.{reason}") else "zalo.held.other"))
            if event.note and event.id != shown_answer:  # the answer reads once, in full, above
                what += f": {event.note}"
            text += ctx.text("track.event", at=local_date(event.at, zone), what=what)
        rows = []
        status = ItemStatus(item.status)
        if status is ItemStatus.waiting_info:
            rows.append([ctx.button("track.add_info", "track:add_info")])
        if status is ItemStatus.answered and item.satisfied is None:
            rows.append([ctx.button("track.rate_yes", "rate:yes"), ctx.button("track.rate_no", "rate:no")])
        if status is ItemStatus.answered and item.satisfied is False and item.kind == ItemKind.complaint_first.value:
            window = await second_complaint_window(ctx.uow, item, zone)
            text += ctx.text("track.second_offer", date=window.due_on.strftime("%d/%m/%Y"), citation=window.rule.citation)
            rows.append([ctx.button("track.second", "track:second")])
        elif (ended := await unresolved_since(ctx.uow, item, zone)) is not None:
            window = await second_complaint_window(ctx.uow, item, zone)
            if _today(ctx) <= window.due_on:
                text += ctx.text("track.second_offer_unresolved", ended=ended.strftime("%d/%m/%Y"),
                                 date=window.due_on.strftime("%d/%m/%Y"), citation=window.citation)
                rows.append([ctx.button("track.second", "track:second")])
        if status is ItemStatus.received and (limit := filing_limit(ItemKind(item.kind), _today(ctx))) is not None:
            text += self._filing_limit(ctx, item, limit)
            rows.append([ctx.button("track.learned", "track:learned")])
        if is_open(status):
            rows.append([ctx.button("track.withdraw", "track:withdraw")])
        rows += [[ctx.button("track.back", "track:list")], ctx.back_to_menu_row()]
        ctx.send(text, buttons=rows)

    async def _lookup(self, ctx: FlowContext, typed: str) -> None:
        code = normalize_tracking_code(typed)
        item = await ctx.uow.items.by_tracking_code(code) if code else None
        if item is None or item.citizen_id != ctx.user.id:
            ctx.say("track.not_found")
            await self._list(ctx)
            return
        await ctx.goto("track", "detail", item_id=item.id)

    async def _withdraw(self, ctx: FlowContext) -> None:
        item = await self._own_item(ctx, ctx.conversation.data.get("item_id", 0))
        if item is None:
            await ctx.goto("track", "list", page=0)
            return
        try:
            await withdraw(ctx.uow, item, ctx.user.id)
        except IllegalTransition:
            ctx.say("track.cannot_withdraw", code=item.tracking_code, status=ctx.text(f"status.{item.status}"))
        else:
            ctx.say("track.withdrawn", code=item.tracking_code)
        await ctx.goto("track", "detail", item_id=item.id)

    async def _add_info(self, ctx: FlowContext) -> None:
        """One message (text, photos or both) of the information asked for: passed on at once, and the
        step stays until «Done», so the next sentence is information too, never read as a code."""
        data = ctx.conversation.data
        item = await self._own_item(ctx, data.get("item_id", 0))
        text = (ctx.incoming.text or "").strip()
        try:
            if item is None:
                raise IllegalTransition(ItemStatus.closed, Action.info_provided)
            await provide_information(ctx.uow, item, ctx.user.id, text, [p.ref for p in ctx.incoming.photos])
        except IllegalTransition:
            ctx.say("track.not_waiting")
            await ctx.goto("track", "detail", item_id=data.get("item_id", 0))
            return
        data["sent"] = data.get("sent", 0) + 1
        await self.prompt(ctx)

    async def _rate(self, ctx: FlowContext, *, satisfied: bool, comment: str | None) -> None:
        item = await self._own_item(ctx, ctx.conversation.data.get("item_id", 0))
        if item is None or item.status != ItemStatus.answered.value or item.satisfied is not None:
            await ctx.goto("track", "list", page=0)
            return
        await rate(ctx.uow, item, ctx.user.id, satisfied, comment)
        ctx.say("track.rated_yes" if satisfied else "track.rated_no")
        if not satisfied and item.kind == ItemKind.feedback.value:
            ctx.say("track.reopened")
        await ctx.goto("track", "detail", item_id=item.id)

    @staticmethod
    def _filing_limit(ctx: FlowContext, item, limit) -> str:
        if item.learned_on is None:
            return ctx.text("track.filing_limit", days=limit.amount, citation=limit.citation)
        window = complaint_filing_window_ends(ItemKind(item.kind), item.learned_on, remote_area=item.remote_area)
        return ctx.text("track.filing_limit_known", learned=item.learned_on.strftime("%d/%m/%Y"),
                        date=window.due_on.strftime("%d/%m/%Y"), citation=window.citation)

    async def _learned_on(self, ctx: FlowContext, typed: str) -> None:
        """When the complainant received or learned of the decision: a date not after the complaint."""
        item = await self._own_item(ctx, ctx.conversation.data.get("item_id", 0))
        if item is None or item.status != ItemStatus.received.value:
            await ctx.goto("track", "list", page=0)
            return
        filed_on = item.received_at.astimezone(ctx.settings.zone).date()
        learned_on = _typed_date(typed)
        if learned_on is None or learned_on > filed_on:
            ctx.say("track.learned_bad")
            return
        window = await record_learned_on(ctx.uow, item, ctx.user.id, learned_on, ctx.settings.zone)
        ctx.say("track.learned_late" if filed_on > window.due_on else "track.learned_in_time",
                date=window.due_on.strftime("%d/%m/%Y"), citation=window.citation,
                filed=filed_on.strftime("%d/%m/%Y"))
        await ctx.goto("track", "detail", item_id=item.id)

    async def _second_complaint(self, ctx: FlowContext, reason: str) -> None:
        item = await self._own_item(ctx, ctx.conversation.data.get("item_id", 0))
        if item is None:
            await ctx.goto("track", "list", page=0)
            return
        if len(reason) < 10:
            ctx.say("submit.description_short", minimum=10)
            return
        try:
            second, deadlines = await file_second_complaint(ctx.uow, item, ctx.user.id, reason, ctx.settings.zone)
        except FilingWindowClosed as closed:
            ctx.say("track.window_closed", date=closed.ended_on.strftime("%d/%m/%Y"))
            await ctx.goto("track", "detail", item_id=item.id)
            return
        except IllegalTransition:
            await ctx.goto("track", "detail", item_id=item.id)
            return
        lines = deadline_lines(ctx, deadlines)
        ctx.say("track.second_filed", code=second.tracking_code, first=item.tracking_code, deadlines=lines)
        await ctx.goto("track", "detail", item_id=second.id)


# 15/10/2026, 15-10-2026, 15.10.2026 (day first, as Vietnamese write it) or 2026-10-15
_DAY_FIRST = re.compile(r"(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")


def _typed_date(typed: str) -> date | None:
    if found := _ISO.fullmatch(typed.strip()):
        year, month, day = found.groups()
    elif found := _DAY_FIRST.fullmatch(typed.strip()):
        day, month, year = found.groups()
    else:
        return None
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def _today(ctx: FlowContext) -> date:
    return utcnow().astimezone(ctx.settings.zone).date()


register(TrackFlow())
