"""Tra cứu — a citizen's own items: the list, one item's timeline and next deadline, look-up by
tracking code, and withdrawal (rút đơn) with confirmation. A citizen only ever sees their own items."""

from __future__ import annotations

from bot.domain.dialog import Button
from bot.domain.tracking import normalize_tracking_code
from bot.domain.workflow import IllegalTransition, ItemStatus, is_open
from bot.petitions import categories_for, local_date, withdraw
from bot.texts import has
from handlers.core import FlowContext, register

PAGE = 5


class TrackFlow:
    name = "track"

    async def prompt(self, ctx: FlowContext) -> None:
        step = ctx.conversation.step
        if step == "detail":
            await self._detail(ctx)
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
        elif ctx.incoming.text:
            await self._lookup(ctx, ctx.incoming.text)
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
        if len(items) > (page + 1) * PAGE:
            rows.append([ctx.button("track.more", "track:more")])
        rows.append(ctx.back_to_menu_row())
        ctx.send(ctx.text("track.title", count=len(items)) + "\n" + ctx.text("track.lookup_hint"), buttons=rows)

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
        deadlines = await ctx.uow.items.open_deadlines(item.id)
        if deadlines:
            nearest = deadlines[0]
            text += ctx.text("track.next_deadline", phase=ctx.text(f"phase.{nearest.phase}"),
                             date=nearest.due_on.strftime("%d/%m/%Y"), citation=nearest.citation)
        text += ctx.text("track.timeline")
        for event in (await ctx.uow.items.events(item.id))[-10:]:
            what = ctx.text(f"event.{event.action}") if has(f"event.{event.action}") else event.action
            if event.note:
                what += f": {event.note}"
            text += ctx.text("track.event", at=local_date(event.at, zone), what=what)
        rows = []
        if is_open(ItemStatus(item.status)):
            rows.append([ctx.button("track.withdraw", "track:withdraw")])
        rows += [[ctx.button("track.back", "track:list")], ctx.back_to_menu_row()]
        ctx.send(text[:4000], buttons=rows)

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


register(TrackFlow())
