"""Gửi phản ánh, kiến nghị, khiếu nại, tố cáo — the submission journey.

kind → category → description → photos → location → consent → name → address → phone → summary
→ receipt. Contact details are asked only after consent, and only as each kind requires. At the
summary a citizen can split off a part of another kind: each kind becomes its own item (Luật Tiếp
công dân 2013, Điều 25). Beside a denunciation with its sender's identity, the other parts go without
the contact, and no complaint can be split off (bot/petitions.py, ``split_submission``).
"""

from __future__ import annotations

import re

from bot.domain.communes import commune_label
from bot.domain.dialog import Button
from bot.domain.kinds import ItemKind
from bot.organisation import NoUnit, handling, is_remote, unit_for
from bot.petitions import (Contact, Part, Submission, categories_for, file_submission, filing_limit,
                           kinds_to_split_off, last_contact, protects_denouncer, read_recent_for_duplicates,
                           recent_duplicate, split_submission)
from handlers.core import FlowContext, register
from handlers.wording import deadline_lines

KINDS = (ItemKind.feedback, ItemKind.complaint_first, ItemKind.denunciation)
MAX_PHOTOS = 5
MIN_DESCRIPTION = 10
PHONE = re.compile(r"^(?:\+?84|0)\d{9,10}$")
FIELD_LIMITS = {"name": 200, "address": 300}
# A half-written submission kept in the chat's data (handlers/core.py keeps "_" keys across flows).
DRAFT = "_draft"
# Steps a draft resumes at the summary from: a question about leaving, a split part half-way.
RESUME_AT_SUMMARY = {"duplicate", "part_kind", "part_category", "part_description"}


def draft_label(ctx: FlowContext, data: dict) -> dict[str, str]:
    """How a draft is named to its writer: its kind and the start of what they wrote."""
    text = data.get("description") or data.get("category_label") or ""
    return {"kind": ctx.text(f"kind.{data['kind']}") if data.get("kind") else "",
            "excerpt": text if len(text) <= 120 else text[:120] + "…"}


class SubmitFlow:
    name = "submit"

    async def prompt(self, ctx: FlowContext) -> None:
        step, data = ctx.conversation.step, ctx.conversation.data
        if step == "kind":
            found = await handling(ctx.uow, ctx.user.commune_code)
            if found.unit is None:  # told before filing, never handed a receipt nobody will act on
                await self._not_served(ctx, found.refer_to)
                return
            if found.by_province:
                ctx.say("submit.by_province", unit=found.unit.name, commune=commune_label(ctx.user.commune_code))
            ctx.say("submit.kind", buttons=[*([ctx.button(f"kind.{k.value}", f"kind:{k.value}")] for k in KINDS),
                                            ctx.back_to_menu_row()])
        elif step == "category":
            categories = await categories_for(ctx.uow, ctx.user.commune_code)
            ctx.say("submit.category", buttons=[*([Button(c.label(ctx.lang), f"category:{c.key}")] for c in categories),
                                                ctx.back_to_menu_row()])
        elif step == "description":
            ctx.say("submit.description", buttons=[ctx.back_to_menu_row()])
        elif step == "photos":
            ctx.say("submit.photos", limit=MAX_PHOTOS, buttons=[
                [ctx.button("submit.photos_done" if data.get("photos") else "submit.skip", "photos:done")],
                [ctx.button("submit.cancel", "submit:cancel")]])
        elif step == "location":
            ctx.say("submit.location", buttons=[[ctx.button("submit.skip", "location:skip")],
                                                [ctx.button("submit.cancel", "submit:cancel")]])
        elif step == "consent":
            await self._ask_consent(ctx)
        elif step == "complaint_anonymous":
            ctx.say("submit.complaint_needs_identity", buttons=[[ctx.button("submit.as_feedback", "consent:as_feedback")],
                                                                [ctx.button("submit.cancel", "submit:cancel")]])
        elif step in ("name", "address", "phone"):
            ctx.say(f"submit.{step}", buttons=[[ctx.button("submit.cancel", "submit:cancel")]])
        elif step == "summary":
            self._summary(ctx)
        elif step == "part_kind":
            self._part_kinds(ctx)
        elif step == "part_category":
            categories = await categories_for(ctx.uow, ctx.user.commune_code)
            ctx.say("submit.category", buttons=[*([Button(c.label(ctx.lang), f"pcat:{c.key}")] for c in categories),
                                                [ctx.button("submit.back_to_summary", "submit:summary")]])
        elif step == "part_description":
            ctx.say("submit.part_description", buttons=[[ctx.button("submit.back_to_summary", "submit:summary")]])
        elif step == "leave":
            ctx.say("conv.leave_draft", **draft_label(ctx, data), buttons=[
                [ctx.button("conv.draft_continue", "draft:continue")], [ctx.button("conv.draft_keep", "draft:keep")],
                [ctx.button("conv.draft_discard", "draft:discard")]])
        elif step == "reuse_contact":
            name, address, phone = data["previous"]
            ctx.say("conv.reuse_contact", name=name, address=address, phone=phone, buttons=[
                [ctx.button("conv.reuse_yes", "contact:reuse")], [ctx.button("conv.reuse_no", "contact:new")],
                [ctx.button("submit.cancel", "submit:cancel")]])
        elif step == "duplicate":
            ctx.say("submit.duplicate", code=data["duplicate_of"], buttons=[
                [ctx.button("submit.duplicate_yes", "submit:force")], [ctx.button("submit.cancel", "submit:cancel")]])

    async def prepare(self, contexts: list[FlowContext]) -> None:
        """Several confirmations in one group: their duplicate checks read with one statement."""
        confirming = [ctx.user.id for ctx in contexts
                      if ctx.conversation.step == "summary" and ctx.incoming.button == "submit:send"]
        if len(confirming) > 1:
            await read_recent_for_duplicates(contexts[0].uow, confirming)

    async def handle(self, ctx: FlowContext) -> None:
        step, data, incoming = ctx.conversation.step, ctx.conversation.data, ctx.incoming
        choice = incoming.button
        if choice == "submit:cancel":
            self._forget(ctx)
            ctx.say("cancelled")
            await ctx.goto("menu", "main")
        elif step == "leave" and choice and choice.startswith("draft:"):
            await self._leave(ctx, choice[6:])
        elif step == "reuse_contact" and choice == "contact:reuse":
            data["name"], data["address"], data["phone"] = data.pop("previous")
            await ctx.goto("submit", "summary")
        elif step == "reuse_contact" and choice == "contact:new":
            data.pop("previous", None)
            await ctx.goto("submit", "name")
        elif step == "kind" and choice and choice.startswith("kind:"):
            await ctx.goto("submit", "category", kind=choice[5:])
        elif step == "category" and choice and choice.startswith("category:"):
            chosen = {c.key: c for c in await categories_for(ctx.uow, ctx.user.commune_code)}.get(choice[9:])
            if chosen is None:
                await self.prompt(ctx)
                return
            data.update(category=chosen.key, category_label=chosen.label(ctx.lang))
            # A description typed at the menu (handlers/menu.py) is already there: on to the photos.
            await ctx.goto("submit", "photos" if data.get("description") else "description")
        elif step == "description" and incoming.photos:
            # Telegram users often report with a captioned photo: keep the photo, use the caption.
            data.setdefault("photos", []).extend(p.ref for p in incoming.photos[:MAX_PHOTOS])
            caption = (incoming.text or "").strip()
            if len(caption) >= MIN_DESCRIPTION:
                await self._description(ctx, caption)
            else:
                ctx.say("submit.photo_then_text")
        elif step == "description" and incoming.text:
            await self._description(ctx, incoming.text.strip())
        elif step == "photos":
            await self._photos(ctx)
        elif step == "location":
            await self._location(ctx)
        elif step in ("consent", "complaint_anonymous") and choice and choice.startswith("consent:"):
            await self._consent(ctx, choice[8:])
        elif step in ("name", "address", "phone") and incoming.text:
            await self._contact_field(ctx, step, incoming.text.strip())
        elif step == "summary" and choice == "submit:send":
            await self._send(ctx, force=False)
        elif step == "summary" and choice == "submit:edit":
            await ctx.goto("submit", "description")
        elif step == "summary" and choice == "submit:split":
            await ctx.goto("submit", "part_kind")
        elif choice == "submit:summary":
            await ctx.goto("submit", "summary")
        elif step == "part_kind" and choice and choice.startswith("part:") \
                and choice[5:] in {kind.value for kind in self._splittable(data)}:
            data["part"] = {"kind": choice[5:]}
            await ctx.goto("submit", "part_category")
        elif step == "part_category" and choice and choice.startswith("pcat:"):
            chosen = {c.key: c for c in await categories_for(ctx.uow, ctx.user.commune_code)}.get(choice[5:])
            if chosen is None:
                await self.prompt(ctx)
                return
            data["part"].update(category=chosen.key, category_label=chosen.label(ctx.lang))
            await ctx.goto("submit", "part_description")
        elif step == "part_description" and incoming.text:
            text = incoming.text.strip()
            if len(text) < MIN_DESCRIPTION:
                ctx.say("submit.description_short", minimum=MIN_DESCRIPTION)
                return
            data.setdefault("parts", []).append({**data.pop("part"), "description": text})
            await ctx.goto("submit", "summary")
        elif step == "duplicate" and choice == "submit:force":
            await self._send(ctx, force=True)
        else:
            ctx.say("error.use_buttons")
            await self.prompt(ctx)

    async def _description(self, ctx: FlowContext, text: str) -> None:
        if len(text) < MIN_DESCRIPTION:
            ctx.say("submit.description_short", minimum=MIN_DESCRIPTION)
            return
        ctx.conversation.data["description"] = text
        if ctx.conversation.data.get("consent") is not None:  # editing from the summary
            await ctx.goto("submit", "summary")
        else:
            await ctx.goto("submit", "photos")

    async def _photos(self, ctx: FlowContext) -> None:
        data = ctx.conversation.data
        photos = data.setdefault("photos", [])
        if ctx.incoming.location is not None:
            data["latitude"], data["longitude"] = ctx.incoming.location.latitude, ctx.incoming.location.longitude
            ctx.say("submit.location_added")
            await self.prompt(ctx)
        elif ctx.incoming.photos:
            caption = (ctx.incoming.text or "").strip()
            if caption:
                data["description"] = f"{data['description']}\n{caption}"[:4000]
            for photo in ctx.incoming.photos:
                if len(photos) >= MAX_PHOTOS:
                    ctx.say("submit.photo_limit", limit=MAX_PHOTOS)
                    break
                photos.append(photo.ref)
            ctx.say("submit.photo_added", count=len(photos), limit=MAX_PHOTOS,
                    buttons=[[ctx.button("submit.photos_done", "photos:done")],
                             [ctx.button("submit.cancel", "submit:cancel")]])
            if len(photos) >= MAX_PHOTOS:
                await self._after_photos(ctx)
        elif ctx.incoming.button == "photos:done":
            await self._after_photos(ctx)
        else:
            await self.prompt(ctx)

    async def _after_photos(self, ctx: FlowContext) -> None:
        if ctx.conversation.data.get("latitude") is not None:
            await ctx.goto("submit", "consent")  # the place was already shared as a pin
        else:
            await ctx.goto("submit", "location")

    async def _location(self, ctx: FlowContext) -> None:
        data, incoming = ctx.conversation.data, ctx.incoming
        if incoming.photos:
            # A late photo of an album, or one sent after «Xong»: keep it, and ask for the place again.
            photos = data.setdefault("photos", [])
            room = MAX_PHOTOS - len(photos)
            photos.extend(p.ref for p in incoming.photos[:room])
            ctx.say("submit.photo_added" if room > 0 else "submit.photo_limit", count=len(photos), limit=MAX_PHOTOS)
            await self.prompt(ctx)
            return
        if incoming.location is not None:
            data["latitude"], data["longitude"] = incoming.location.latitude, incoming.location.longitude
            ctx.say("submit.location_added")
        elif incoming.text and not incoming.button:
            if len(incoming.text) > FIELD_LIMITS["address"]:
                ctx.say("submit.field_too_long", limit=FIELD_LIMITS["address"])
                return
            data["place"] = incoming.text.strip()
        elif incoming.button != "location:skip":
            await self.prompt(ctx)
            return
        await ctx.goto("submit", "consent")

    async def _ask_consent(self, ctx: FlowContext) -> None:
        kind = ctx.conversation.data["kind"]
        if kind == ItemKind.denunciation.value:
            ctx.say("submit.denunciation_protected")
            purpose, decline = "denunciation", ctx.button("submit.consent.no_denunciation", "consent:anonymous")
        elif kind == ItemKind.feedback.value:
            purpose, decline = "feedback", ctx.button("submit.consent.no_feedback", "consent:anonymous")
        else:
            purpose, decline = "complaint", ctx.button("submit.consent.no", "consent:no")
        ctx.say("submit.consent", purpose=ctx.text(f"submit.consent.purpose.{purpose}"),
                buttons=[[ctx.button("submit.consent.yes", "consent:yes")], [decline],
                         [ctx.button("submit.cancel", "submit:cancel")]])

    async def _consent(self, ctx: FlowContext, answer: str) -> None:
        data = ctx.conversation.data
        if answer == "yes":
            data["consent"] = True
            previous = await last_contact(ctx.uow, ctx.user.id)
            if previous is not None:  # a returning citizen is offered what they gave last time
                await ctx.goto("submit", "reuse_contact", previous=list(previous))
            else:
                await ctx.goto("submit", "name")
        elif answer == "anonymous":
            data["consent"] = False
            if data["kind"] == ItemKind.denunciation.value:
                ctx.say("submit.anonymous_denunciation")
            await ctx.goto("submit", "summary")
        elif answer == "no":
            await ctx.goto("submit", "complaint_anonymous")
        elif answer == "as_feedback":
            data.update(kind=ItemKind.feedback.value, consent=False)
            await ctx.goto("submit", "summary")

    async def _contact_field(self, ctx: FlowContext, step: str, text: str) -> None:
        data = ctx.conversation.data
        if step == "phone":
            phone = re.sub(r"[\s.\-()]", "", text)
            if not PHONE.match(phone):
                ctx.say("submit.phone_invalid")
                return
            data["phone"] = phone
            await ctx.goto("submit", "summary")
            return
        if len(text) > FIELD_LIMITS[step]:
            ctx.say("submit.field_too_long", limit=FIELD_LIMITS[step])
            return
        data[step] = text
        await ctx.goto("submit", "address" if step == "name" else "phone")

    @staticmethod
    def _kinds(data: dict) -> list[ItemKind]:
        return [ItemKind(data["kind"]), *(ItemKind(part["kind"]) for part in data.get("parts", []))]

    def _splittable(self, data: dict) -> tuple[ItemKind, ...]:
        return kinds_to_split_off(self._kinds(data), bool(data.get("consent")))

    def _part_kinds(self, ctx: FlowContext) -> None:
        data = ctx.conversation.data
        kinds = self._splittable(data)
        text = ctx.text("submit.part_kind")
        if data.get("consent"):  # why a kind is missing: it must be sent on its own
            for missing, why in ((ItemKind.complaint_first, "submit.complaint_apart"),
                                 (ItemKind.denunciation, "submit.denunciation_apart")):
                if missing not in kinds:
                    text += "\n\n" + ctx.text(why)
        ctx.send(text, buttons=[*([ctx.button(f"kind.{k.value}", f"part:{k.value}")] for k in kinds),
                                [ctx.button("submit.back_to_summary", "submit:summary")]])

    def _summary(self, ctx: FlowContext) -> None:
        data = ctx.conversation.data
        location = (ctx.text("submit.location_pin") if data.get("latitude") is not None
                    else data.get("place") or ctx.text("submit.location_none"))
        kinds = self._kinds(data)
        protected = protects_denouncer(kinds, bool(data.get("consent")))
        named = data.get("consent") and (kinds[0].identity_secret or not protected)
        sender = data["name"] if named else ctx.text("submit.sender_anonymous")
        text = ctx.text("submit.summary", kind=ctx.text(f"kind.{self._final_kind(data).value}"),
                        category=data["category_label"], commune=commune_label(ctx.user.commune_code),
                        description=data["description"][:1500], photos=len(data.get("photos", [])),
                        location=location, sender=sender)
        for number, part in enumerate(data.get("parts", []), start=1):
            text += ctx.text("submit.part_line", number=number,
                             kind=ctx.text(f"kind.{self._final_kind({**data, **part}).value}"),
                             category=part["category_label"], description=part["description"][:300])
        if protected and not all(kind.identity_secret for kind in kinds):
            text += "\n\n" + ctx.text("submit.split_goes_anonymous")
        ctx.send(text, buttons=[[ctx.button("submit.confirm", "submit:send")],
                                       [ctx.button("submit.edit", "submit:edit")],
                                       [ctx.button("submit.split", "submit:split")],
                                       [ctx.button("submit.cancel", "submit:cancel")]])

    @staticmethod
    def _final_kind(data: dict) -> ItemKind:
        kind = ItemKind(data["kind"])
        return ItemKind.information if kind is ItemKind.denunciation and not data.get("consent") else kind

    async def _send(self, ctx: FlowContext, *, force: bool) -> None:
        data = ctx.conversation.data
        if not force:
            earlier = await recent_duplicate(ctx.uow, ctx.user.id, data["description"])
            if earlier is not None:
                await ctx.goto("submit", "duplicate", duplicate_of=earlier)
                return
        contact = Contact(data["name"], data["address"], data["phone"]) if data.get("consent") else None
        commune = ctx.user.commune_code
        # Remote-area status is the commune's, from the province's import (Luật Khiếu nại 2011, Điều 9, 28).
        whole = Submission(kind=ItemKind(data["kind"]), category=data["category"], commune_code=commune,
                           description=data["description"], photos=list(data.get("photos", [])),
                           latitude=data.get("latitude"), longitude=data.get("longitude"), address=data.get("place"),
                           contact=contact, remote_area=await is_remote(ctx.uow, commune))
        parts = [Part(ItemKind(part["kind"]), part["category"], part["description"]) for part in data.get("parts", [])]
        submissions = split_submission(whole, parts)
        try:  # every part has a unit before any is filed: no item without one
            for submission in submissions:
                await unit_for(ctx.uow, submission.commune_code, submission.category)
        except NoUnit as nobody:
            await self._not_served(ctx, nobody.refer_to)
            return
        for submission in submissions:
            item, deadlines = await file_submission(ctx.uow, ctx.user.id, ctx.incoming.channel, ctx.incoming.chat_id,
                                                    submission, ctx.settings.zone)
            unit = await ctx.uow.units.get(item.unit_id) if item.unit_id else None
            lines = deadline_lines(ctx, deadlines) or ctx.text("submit.no_deadlines")
            # A first complaint's receipt tells the 90 days to complain (Luật Khiếu nại 2011, Điều 9).
            if (limit := filing_limit(ItemKind(item.kind), item.received_at.astimezone(ctx.settings.zone).date())):
                lines += "\n" + ctx.text("submit.filing_limit", days=limit.amount, citation=limit.citation)
            ctx.say("submit.receipt", code=item.tracking_code, deadlines=lines,
                    unit=unit.name if unit else commune_label(ctx.user.commune_code))
        self._forget(ctx)
        await ctx.goto("menu", "main")

    # -- drafts ------------------------------------------------------------------------------------

    @staticmethod
    def worth_keeping(ctx: FlowContext) -> bool:
        """Whether the submission under way holds anything the citizen wrote or chose beyond its kind."""
        data = ctx.conversation.data
        return ctx.conversation.flow == "submit" and bool(data.get("description") or data.get("category"))

    def leaving(self, ctx: FlowContext) -> None:
        """The conversation leaves the submission (a notification's button, /privacy, a search...):
        what was written is kept as a draft the menu offers back, never silently dropped."""
        if not self.worth_keeping(ctx):
            return
        data, step = ctx.conversation.data, ctx.conversation.step
        if step == "leave":
            step = data.get("return_to", "summary")
        if step in RESUME_AT_SUMMARY:
            step = "summary" if data.get("consent") is not None else "description"
        if step == "reuse_contact":
            step = "consent"
        scratch = {k: v for k, v in data.items() if not k.startswith("_") and k not in ("return_to", "part", "previous")}
        data[DRAFT] = {"step": step, "data": scratch}

    @staticmethod
    def discard(ctx: FlowContext) -> None:
        """/cancel during a submission: what was written goes, as with the «Huỷ» button."""
        SubmitFlow._forget(ctx)

    @staticmethod
    def _forget(ctx: FlowContext) -> None:
        """Sent or cancelled: nothing of the submission is left to keep as a draft."""
        data = ctx.conversation.data
        for key in [k for k in data if not k.startswith("_") or k == DRAFT]:
            del data[key]

    async def _leave(self, ctx: FlowContext, answer: str) -> None:
        data = ctx.conversation.data
        if answer == "continue":
            await ctx.goto("submit", data.pop("return_to", "summary"))
        elif answer == "keep":
            ctx.say("conv.draft_kept")
            await ctx.goto("menu", "main")  # leaving() keeps it
        else:
            self._forget(ctx)
            ctx.say("conv.draft_discarded")
            await ctx.goto("menu", "main")


    async def _not_served(self, ctx: FlowContext, refer_to: str | None) -> None:
        self._forget(ctx)
        ctx.say("start.not_served", commune=commune_label(ctx.user.commune_code),
                refer=refer_to or ctx.text("start.not_served_default"))
        await ctx.goto("menu", "main")


register(SubmitFlow())
