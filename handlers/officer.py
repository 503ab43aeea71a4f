"""Cán bộ — the officer's inbox and actions, and a leader's access to a denouncer's identity.

/officer CODE redeems an invite; /inbox opens the open items of the officer's scope (their unit, an
admin's commune), nearest deadline first. Every screen and action asks the scope policy on the server
(bot/policy.py); a denouncer's name, address and contact never appear on an officer's screen (Luật Tố
cáo 2018, Điều 47): only a leader of the item's unit or an admin of its commune can reveal them, with a
reason, and that access is an audit event.
"""

from __future__ import annotations

from bot import policy
from bot.domain.communes import commune_label
from bot.domain.provinces import province_of
from bot.domain.deadlines import ExtensionNotAllowed, SuspensionNotAllowed
from bot.domain.dialog import Button
from bot.domain.kinds import ItemKind
from bot.domain.workflow import Action, IllegalTransition, ItemStatus, allowed_actions
from bot.media import photos_for
from bot.organisation import province_units
from bot.officers import (
    NotAllowed,
    accept,
    actor_for,
    answer,
    assign,
    extend,
    extend_intake,
    forward,
    handled_item,
    inbox,
    is_staff,
    redeem_invite,
    resume,
    reveal_identity,
    suspend,
    unit_officers,
)
from bot.petitions import categories_for, local_date, move
from bot.policy import Permission
from bot.publishing import publishing_commune
from bot.residents import OutsideCommune, checked_in_person, verify_in_person
from bot.templates import templates_for
from bot.texts import has
from handlers import officer_publish
from handlers.core import FLOWS, FlowContext, register
from handlers.wording import deadline_lines
from handlers.oversight import oversees
from storage.models import utcnow

OFFICER_ACTIONS = (Action.accept, Action.start, Action.request_info, Action.answer, Action.extend, Action.refuse,
                   Action.forward, Action.close, Action.extend_intake, Action.suspend, Action.resume)
NEEDS_TEXT = {Action.refuse, Action.request_info, Action.answer, Action.extend, Action.extend_intake, Action.suspend,
              Action.resume}
MAX_ATTACHMENTS = 5  # photos with an answer, as many as a citizen may send with a petition
VIEWS = ("open", "new", "mine", "overdue")
PUBLISHING_STEPS = officer_publish.STEPS
# The items whose photos this chat was sent (kept across flows: the officer goes to the menu and back).
PHOTOS_SEEN = "_photos_seen"


def _permission(action: Action) -> Permission:
    return Permission.forward if action is Action.forward else Permission.handle


class OfficerFlow:
    name = "officer"

    async def redeem(self, ctx: FlowContext, code: str) -> None:
        unit = await redeem_invite(ctx.uow, ctx.user, code) if code else None
        if unit is None:
            ctx.say("officer.bad_code")
            return
        ctx.say("officer.welcome", role=ctx.text(f"role.{ctx.user.role}"), unit=unit.name)
        await ctx.goto("officer", "inbox", view="open")

    async def open_inbox(self, ctx: FlowContext) -> None:
        if not is_staff(ctx.user):
            ctx.say("officer.not_staff")
            return
        await ctx.goto("officer", "inbox", view="open")

    async def open_item(self, ctx: FlowContext, item_id: int) -> None:
        if not is_staff(ctx.user):
            ctx.say("officer.not_staff")
            return
        await ctx.goto("officer", "item", item_id=item_id)

    async def prompt(self, ctx: FlowContext) -> None:
        if not is_staff(ctx.user):
            ctx.say("officer.not_staff")
            await ctx.goto("menu", "main")
            return
        try:
            await self._show(ctx)
        except NotAllowed:
            ctx.say("officer.not_allowed")
            ctx.conversation.step, ctx.conversation.data = "inbox", {"view": "open"}
            await self._inbox(ctx)

    async def _show(self, ctx: FlowContext) -> None:
        step, data = ctx.conversation.step, ctx.conversation.data
        commune_code = await publishing_commune(ctx.uow, ctx.user) if step in PUBLISHING_STEPS else None
        if step == "item":
            await self._item(ctx)
        elif step == "text":
            item = await handled_item(ctx.uow, ctx.user, data["item_id"], _permission(Action(data["action"])))
            choices = await templates_for(ctx.uow.session, item.commune_code, data["action"], item.kind, item.category)
            data["templates"] = list(choices)  # a tap sends exactly the text that was shown
            ctx.say(f"officer.ask.{data['action']}", buttons=[
                *([Button("📋 " + text[:40] + ("…" if len(text) > 40 else ""), f"otpl:{n}")]
                  for n, text in enumerate(choices)),
                [ctx.button("officer.back", "oback")]])
        elif step == "extend_kind":
            await handled_item(ctx.uow, ctx.user, data["item_id"], Permission.handle)
            ctx.say("officer.extend_kind", buttons=[[ctx.button("officer.complex", "oext:complex")],
                                                    [ctx.button("officer.especially", "oext:especially")],
                                                    [ctx.button("officer.back", "oback")]])
        elif step == "forward_target":
            await self._forward_targets(ctx)
        elif step == "assign":
            item = await handled_item(ctx.uow, ctx.user, data["item_id"], Permission.assign)
            officers = await unit_officers(ctx.uow, item.unit_id)  # its own unit's staff, whoever assigns
            ctx.say("officer.assign_to", buttons=[*([Button(o.display_name or f"#{o.id}", f"oassign:{o.id}")]
                                                    for o in officers), [ctx.button("officer.back", "oback")]])
        elif step == "reveal":
            await handled_item(ctx.uow, ctx.user, data["item_id"], Permission.reveal)
            ctx.say("officer.ask.reveal", buttons=[[ctx.button("officer.back", "oback")]])
        elif step in PUBLISHING_STEPS:
            await officer_publish.show(ctx, commune_code)  # previews before anything is sent
        else:
            await self._inbox(ctx)

    async def handle(self, ctx: FlowContext) -> None:
        if not is_staff(ctx.user):
            await self.prompt(ctx)
            return
        choice, data, step = ctx.incoming.button or "", ctx.conversation.data, ctx.conversation.step
        try:
            if choice.startswith("oview:"):
                await ctx.goto("officer", "inbox", view=choice[6:] if choice[6:] in VIEWS else "open")
            elif choice.startswith("oi:"):
                await ctx.goto("officer", "item", item_id=int(choice[3:]))
            elif choice == "ophotos" and step == "item":
                await self.prompt(ctx)  # the item again, its photos with it
            elif choice == "oback":
                await ctx.goto("officer", "item", item_id=data["item_id"])
            elif choice == "oinbox":
                await ctx.goto("officer", "inbox", view=data.get("view", "open"))
            elif choice.startswith("oa:"):
                await self._start_action(ctx, Action(choice[3:]))
            elif choice.startswith("oext:") and step == "extend_kind":
                data["especially"] = choice == "oext:especially"
                await ctx.goto("officer", "text", action=Action.extend.value, item_id=data["item_id"],
                               especially=data["especially"])
            elif choice.startswith("ofwd:") and step == "forward_target":
                target = choice[5:]
                await ctx.goto("officer", "text", action=Action.forward.value, item_id=data["item_id"],
                               target=None if target == "out" else int(target))
            elif choice == "oassign":
                await ctx.goto("officer", "assign", item_id=data["item_id"])
            elif choice.startswith("oassign:"):
                await self._assign(ctx, int(choice[8:]))
            elif choice == "oresident":
                await self._verify_resident(ctx)
            elif choice == "oreveal":
                await ctx.goto("officer", "reveal", item_id=data["item_id"])
            elif choice == "ovhome" or choice.startswith("ovobs:"):
                await FLOWS["oversight"].enter(ctx, choice)
            elif (choice.startswith("opub") or step in PUBLISHING_STEPS) and await officer_publish.handle(ctx):
                pass  # publishing, with its previews (handlers/officer_publish.py)
            elif choice.startswith("otpl:") and step == "text":
                await handled_item(ctx.uow, ctx.user, data["item_id"], _permission(Action(data["action"])))
                choices = data.get("templates", [])
                index = int(choice[5:]) if choice[5:].isdigit() else -1
                if 0 <= index < len(choices):
                    await self._apply(ctx, Action(data["action"]), choices[index])
                else:
                    await self.prompt(ctx)
            elif step == "text" and ctx.incoming.photos and data["action"] == Action.answer.value:
                # The decision or reply may come with attachments (a photo of the signed decision,
                # of the repaired road); a caption is taken as the answer itself.
                await handled_item(ctx.uow, ctx.user, data["item_id"], Permission.handle)
                attachments = data.setdefault("attachments", [])
                room = MAX_ATTACHMENTS - len(attachments)
                attachments.extend(photo.ref for photo in ctx.incoming.photos[:max(room, 0)])
                if ctx.incoming.text:
                    await self._apply(ctx, Action.answer, ctx.incoming.text.strip()[:3000])
                else:
                    ctx.say("officer.attachment_added", count=len(attachments), limit=MAX_ATTACHMENTS)
            elif step == "text" and ctx.incoming.text:
                await self._apply(ctx, Action(data["action"]), ctx.incoming.text.strip()[:3000])
            elif step == "reveal" and ctx.incoming.text:
                await self._reveal(ctx, ctx.incoming.text.strip()[:500])
            else:
                await self.prompt(ctx)
        except NotAllowed:
            ctx.say("officer.not_allowed")
            await ctx.goto("officer", "inbox", view="open")

    # -- screens -------------------------------------------------------------------------------------
    async def _inbox(self, ctx: FlowContext) -> None:
        view = ctx.conversation.data.get("view", "open")
        today = utcnow().astimezone(ctx.settings.zone).date()
        entries = await inbox(ctx.uow, ctx.user, view, today, limit=20)
        rows = [[Button(("⏰ " if e.next_due and e.next_due < today else "") + ctx.text(
            "officer.entry", code=e.item.tracking_code, kind=ctx.text(f"kind.{e.item.kind}"),
            due=e.next_due.strftime("%d/%m") if e.next_due else "—"), f"oi:{e.item.id}")] for e in entries]
        rows.append([ctx.button(f"officer.view.{v}", f"oview:{v}") for v in VIEWS if v != view][:3])
        actor = await actor_for(ctx.uow, ctx.user)
        if policy.may_publish(actor, actor.commune_code):
            rows.append([ctx.button("publish.menu", "opub")])
        if oversees(actor):
            rows.append([ctx.button("oversight.menu", "ovhome")])
        rows.append(ctx.back_to_menu_row())
        key = "officer.inbox" if entries else "officer.inbox_empty"
        ctx.say(key, view=ctx.text(f"officer.view.{view}"), count=len(entries), buttons=rows)

    async def _item(self, ctx: FlowContext) -> None:
        item = await handled_item(ctx.uow, ctx.user, ctx.conversation.data["item_id"])
        actor = await actor_for(ctx.uow, ctx.user)
        zone = ctx.settings.zone
        labels = {c.key: c.label(ctx.lang) for c in await categories_for(ctx.uow, item.commune_code)}
        lines = [ctx.text("officer.item", code=item.tracking_code, kind=ctx.text(f"kind.{item.kind}"),
                          category=labels.get(item.category, item.category), status=self._status(ctx, item.status),
                          received=local_date(item.received_at, zone), description=item.description[:2000])]
        # Photos go with the item the first time this chat opens it; a refresh says where they are.
        seen = ctx.conversation.data.setdefault(PHOTOS_SEEN, [])
        photos = photos_for(ctx.incoming.channel, item.photos)[0] if ctx.incoming.channel == item.channel else []
        again = ctx.incoming.button == "ophotos"
        if photos and item.id in seen and not again:
            lines.append(ctx.text("conv.officer_photos_above", count=len(photos)))
            photos = []
        elif photos:
            ctx.conversation.data[PHOTOS_SEEN] = [*[i for i in seen if i != item.id], item.id][-20:]
        if item.photos:
            lines.append(ctx.text("officer.photos", count=len(item.photos), links=" ".join(
                f"/media/{p[4:]}" for p in item.photos if p.startswith("web:"))))
        if item.latitude is not None:
            lines.append(ctx.text("officer.location", lat=f"{item.latitude:.5f}", lon=f"{item.longitude:.5f}"))
        if item.address:
            lines.append(ctx.text("officer.address", address=item.address))
        lines.append(await self._sender(ctx, actor, item))
        if deadlines := deadline_lines(ctx, await ctx.uow.items.open_deadlines(item.id), officer=True):
            lines.append(deadlines)
        for event in (await ctx.uow.items.events(item.id))[-8:]:
            action = next((ctx.text(key) for key in (f"officer.event_name.{event.action}", f"event.{event.action}")
                           if has(key)), event.action)
            lines.append(ctx.text("officer.event", at=local_date(event.at, zone), action=action,
                                  note=(": " + event.note[:200]) if event.note and event.action != "reveal_identity"
                                  else ""))
        # Only what the policy lets this person do: none of it for a board or the province's readers.
        actions = [a for a in allowed_actions(ItemStatus(item.status), ItemKind(item.kind))
                   if a in OFFICER_ACTIONS and policy.may_act(actor, _permission(a), item)]
        rows = [[ctx.button(f"officer.action.{a.value}", f"oa:{a.value}")] for a in actions]
        if policy.may_act(actor, Permission.assign, item):
            rows.append([ctx.button("officer.assign", "oassign")])
        if policy.may_act(actor, Permission.handle, item):
            rows += await self._resident_row(ctx, item)
        if policy.may_reveal(actor, item):
            rows.append([ctx.button("officer.reveal", "oreveal")])
        if policy.may_observe(actor, item.commune_code):
            rows.append([ctx.button("oversight.observe_item", f"ovobs:{item.id}")])
        if item.id in ctx.conversation.data.get(PHOTOS_SEEN, []) and not photos:
            rows.append([ctx.button("conv.officer_photos_again", "ophotos")])
        rows += [[ctx.button("officer.to_inbox", "oinbox")]]
        ctx.send("\n".join(lines), buttons=rows, photos=photos)

    @staticmethod
    def _status(ctx: FlowContext, status: str) -> str:
        """A status in officer words ("waiting for the citizen"), where the citizen's says "you"."""
        key = f"conv.officer_status.{status}"
        return ctx.text(key) if has(key) else ctx.text(f"status.{status}")

    async def _sender(self, ctx: FlowContext, actor: policy.Actor, item) -> str:
        if ItemKind(item.kind).identity_secret:
            return ctx.text("officer.identity_protected")
        if not item.anonymous and not policy.may_see_contact(actor, item):
            return ctx.text("oversight.contact_withheld")
        contact = await ctx.uow.items.contact(item.id) if policy.may_see_contact(actor, item) else None
        if contact is None:
            return ctx.text("officer.anonymous")
        return ctx.text("officer.sender", name=contact.full_name, address=contact.address, phone=contact.phone)

    async def _forward_targets(self, ctx: FlowContext) -> None:
        item = await handled_item(ctx.uow, ctx.user, ctx.conversation.data["item_id"], Permission.forward)
        # The commune's other units, then the province's (above a commune that is not competent).
        units = [u for u in [*await ctx.uow.units.for_commune(item.commune_code),
                             *await province_units(ctx.uow, province_of(item.commune_code))] if u.id != item.unit_id]
        ctx.say("officer.forward_to", buttons=[*([Button(u.name, f"ofwd:{u.id}")] for u in units),
                                               [ctx.button("officer.outside", "ofwd:out")],
                                               [ctx.button("officer.back", "oback")]])

    # -- actions -------------------------------------------------------------------------------------
    async def _start_action(self, ctx: FlowContext, action: Action) -> None:
        item = await handled_item(ctx.uow, ctx.user, ctx.conversation.data["item_id"], _permission(action))
        if action is Action.forward:
            await ctx.goto("officer", "forward_target", item_id=item.id)
        elif action is Action.extend and item.kind == ItemKind.denunciation.value and item.especially_complex:
            # Found especially complex at the first extension: the finding drives the second (Đ.30 k3).
            await ctx.goto("officer", "text", action=action.value, item_id=item.id, especially=True)
        elif action is Action.extend and item.kind == ItemKind.denunciation.value:
            await ctx.goto("officer", "extend_kind", item_id=item.id)
        elif action in NEEDS_TEXT:
            await ctx.goto("officer", "text", action=action.value, item_id=item.id)
        else:
            await self._apply(ctx, action, None)

    async def _apply(self, ctx: FlowContext, action: Action, text: str | None) -> None:
        data = ctx.conversation.data
        item = await handled_item(ctx.uow, ctx.user, data["item_id"], _permission(action))
        try:
            if action is Action.accept:
                await accept(ctx.uow, ctx.user, item, ctx.settings.zone)
            elif action is Action.answer:
                await answer(ctx.uow, ctx.user, item, text, attachments=data.get("attachments", []))
            elif action is Action.extend:
                due = await extend(ctx.uow, ctx.user, item, text, especially_complex=data.get("especially", False),
                                   zone=ctx.settings.zone)
                ctx.say("officer.extended", date=due.strftime("%d/%m/%Y"))
            elif action is Action.extend_intake:
                due = await extend_intake(ctx.uow, ctx.user, item, text, zone=ctx.settings.zone)
                ctx.say("officer.intake_extended", date=due.strftime("%d/%m/%Y"))
            elif action is Action.suspend:
                since = await suspend(ctx.uow, ctx.user, item, text, zone=ctx.settings.zone)
                ctx.say("officer.suspended", date=since.strftime("%d/%m/%Y"))
            elif action is Action.resume:
                due, days = await resume(ctx.uow, ctx.user, item, text, zone=ctx.settings.zone)
                ctx.say("officer.resumed", date=due.strftime("%d/%m/%Y"), days=days)
            elif action is Action.forward:
                await forward(ctx.uow, ctx.user, item, text, data.get("target"))
            else:
                await move(ctx.uow, item, action, actor_id=ctx.user.id, note=text)
        except ExtensionNotAllowed as refused:
            ctx.say(f"officer.extension_refused.{refused.reason}", **refused.values)
        except SuspensionNotAllowed as refused:
            ctx.say(f"officer.suspension_refused.{refused.reason}", **refused.values)
        except IllegalTransition:
            ctx.say("officer.not_possible_now", status=self._status(ctx, item.status))
        else:
            ctx.say("officer.done", action=ctx.text(f"officer.action.{action.value}"), code=item.tracking_code)
        if action is Action.forward and data.get("target"):
            await ctx.goto("officer", "inbox", view="open")
        else:
            await ctx.goto("officer", "item", item_id=item.id)

    async def _assign(self, ctx: FlowContext, officer_id: int) -> None:
        item = await handled_item(ctx.uow, ctx.user, ctx.conversation.data["item_id"], Permission.assign)
        await assign(ctx.uow, ctx.user, item, officer_id)
        ctx.say("officer.assigned")
        await ctx.goto("officer", "item", item_id=item.id)

    async def _resident_row(self, ctx: FlowContext, item) -> list[list[Button]]:
        """«Verified resident (checked in person)» for the person who filed the item, until done."""
        if (item.citizen_id is None or item.anonymous or item.kind == ItemKind.denunciation.value
                or await checked_in_person(ctx.uow.session, item.citizen_id, item.commune_code)):
            return []
        return [[ctx.button("officer.resident_verify", "oresident")]]

    async def _verify_resident(self, ctx: FlowContext) -> None:
        """The officer checked the filer's papers at reception; the check is an audit event on the item."""
        try:
            item, _ = await verify_in_person(ctx.uow, ctx.user, ctx.conversation.data["item_id"])
        except OutsideCommune:
            ctx.say("officer.resident_outside")
        else:
            ctx.say("officer.resident_verified", code=item.tracking_code, commune=commune_label(item.commune_code))
        await ctx.goto("officer", "item", item_id=ctx.conversation.data["item_id"])

    async def _reveal(self, ctx: FlowContext, reason: str) -> None:
        item = await handled_item(ctx.uow, ctx.user, ctx.conversation.data["item_id"], Permission.reveal)
        if len(reason) < 10:
            ctx.say("submit.description_short", minimum=10)
            return
        contact = await reveal_identity(ctx.uow, ctx.user, item, reason)
        if contact is None:
            ctx.say("officer.anonymous")
        else:
            ctx.say("officer.sender", name=contact.full_name, address=contact.address, phone=contact.phone)
        await ctx.goto("officer", "item", item_id=item.id)


register(OfficerFlow())
