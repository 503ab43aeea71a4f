"""A leader publishes from the chat: an announcement, a project's progress, the end of a consultation.

Nothing leaves before a preview: the text exactly as people will receive it, who receives it and how
many, then «Gửi». A message sent to every subscriber cannot be taken back, so a typo or a wrong
audience is caught before, not after. Closing a consultation before the end it was published with
needs a reason, which is kept and shown with the result (Luật Thực hiện dân chủ ở cơ sở 2022: the
commune publishes how and until when it consults; an early end is a change people are owed an
explanation for). Part of the officer flow (handlers/officer.py), which routes these steps here.
"""

from __future__ import annotations

from datetime import datetime, timezone

from bot.consultations import results, results_text
from bot.domain.communes import commune_label
from bot.domain.dialog import Button
from bot.officers import NotAllowed
from bot.publishing import (
    announce,
    audience_count,
    close_consultation,
    open_consultations,
    project_to_update,
    project_update,
    voter_count,
)
from handlers.core import FlowContext
from storage.models import Consultation, utcnow

STEPS = ("publish", "announce_text", "announce_preview", "project_progress", "project_note", "project_pick",
         "project_preview", "consult_pick", "close_reason", "close_preview")
TEXT_STEPS = ("announce_text", "project_progress", "project_note", "close_reason")


def _when(ctx: FlowContext, moment) -> str:
    return f"{moment.astimezone(ctx.settings.zone):%H:%M %d/%m/%Y}"


def _preview_buttons(ctx: FlowContext, send_key: str) -> list:
    return [[ctx.button(send_key, "opub:send")], [ctx.button("conv.publish.rewrite", "opub:rewrite")],
            [ctx.button("conv.publish.cancel", "opub")]]


async def show(ctx: FlowContext, commune_code: int) -> None:
    """The publishing step the conversation is at."""
    step, data = ctx.conversation.step, ctx.conversation.data
    back = [ctx.button("officer.to_inbox", "oinbox")]
    if step == "publish":
        ctx.say("publish.title", buttons=[[ctx.button("publish.announce", "opub:announce")],
                                          [ctx.button("publish.project", "opub:project")],
                                          [ctx.button("publish.close", "opub:close")], back])
    elif step in ("announce_text", "project_progress", "project_note"):
        ctx.say(f"publish.ask.{step}", buttons=[back])
    elif step == "announce_preview":
        count = await audience_count(ctx.uow, commune_code, None)
        ctx.say("conv.publish.preview_announce", body=ctx.text("publish.announcement", text=data["text"]),
                commune=commune_label(commune_code), count=count,
                buttons=_preview_buttons(ctx, "conv.publish.send"))
    elif step == "project_pick":
        projects = await ctx.uow.publications.projects(commune_code)
        ctx.say("publish.pick_project", buttons=[*([Button(f"{p.name} — {p.progress_percent}%", f"oproj:{p.id}")]
                                                   for p in projects), back])
    elif step == "project_preview":
        project = await project_to_update(ctx.uow, ctx.user, data["project_id"])
        count = await audience_count(ctx.uow, project.commune_code, f"project:{project.id}")
        ctx.say("conv.publish.preview_project", count=count, body=ctx.text(
            "publish.project_update", name=project.name, progress=data["progress"], note=data["text"]),
                buttons=_preview_buttons(ctx, "conv.publish.send"))
    elif step == "consult_pick":
        open_now = await open_consultations(ctx.uow, commune_code)
        ctx.say("publish.pick_consultation", buttons=[*([Button(c.title[:60], f"oclose:{c.id}")] for c in open_now),
                                                      back])
    elif step == "close_reason":
        consultation = await _consultation(ctx, commune_code)
        ctx.say("conv.close.ask_reason", title=consultation.title, closes=_when(ctx, consultation.closes_at),
                buttons=[[ctx.button("conv.publish.cancel", "opub")]])
    elif step == "close_preview":
        consultation = await _consultation(ctx, commune_code)
        early = ctx.text("conv.close.early", closes=_when(ctx, consultation.closes_at), reason=data["reason"]) \
            if data.get("reason") else ""
        ctx.say("conv.close.preview", title=consultation.title, now=_when(ctx, utcnow()), early=early,
                count=await voter_count(ctx.uow, consultation.id),
                buttons=[[ctx.button("conv.close.confirm", "opub:send")], [ctx.button("conv.publish.cancel", "opub")]])


async def _consultation(ctx: FlowContext, commune_code: int) -> Consultation:
    consultation = await ctx.uow.session.get(Consultation, ctx.conversation.data.get("consultation_id", 0))
    if consultation is None or consultation.commune_code != commune_code:
        raise NotAllowed(ctx.user.id)
    return consultation


async def handle(ctx: FlowContext) -> bool:
    """Take a leader's answer at a publishing step; False when it is not one of these."""
    choice, step, data = ctx.incoming.button or "", ctx.conversation.step, ctx.conversation.data
    if choice == "opub":
        if step in ("announce_preview", "project_preview", "close_reason", "close_preview"):
            ctx.say("conv.publish.cancelled")
        await ctx.goto("officer", "publish")
    elif choice == "opub:announce":
        await ctx.goto("officer", "announce_text")
    elif choice == "opub:project":
        await ctx.goto("officer", "project_pick")
    elif choice == "opub:close":
        await ctx.goto("officer", "consult_pick")
    elif choice.startswith("oproj:"):
        project = await project_to_update(ctx.uow, ctx.user, int(choice[6:]))
        await ctx.goto("officer", "project_progress", project_id=project.id)
    elif choice.startswith("oclose:"):
        await _choose_consultation(ctx, int(choice[7:]))
    elif choice == "opub:rewrite" and step == "announce_preview":
        await ctx.goto("officer", "announce_text")
    elif choice == "opub:rewrite" and step == "project_preview":
        await ctx.goto("officer", "project_progress", project_id=data["project_id"])
    elif choice == "opub:send" and step in ("announce_preview", "project_preview", "close_preview"):
        await _send(ctx, step)
    elif step in TEXT_STEPS and ctx.incoming.text and not choice:
        await _typed(ctx, step, ctx.incoming.text.strip())
    else:
        return False
    return True


async def _choose_consultation(ctx: FlowContext, consultation_id: int) -> None:
    consultation = await ctx.uow.session.get(Consultation, consultation_id)
    if consultation is None or consultation.status != "open":
        await ctx.goto("officer", "consult_pick")
        return
    early = utcnow() < _aware(consultation.closes_at)
    await ctx.goto("officer", "close_reason" if early else "close_preview", consultation_id=consultation.id)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)  # SQLite hands back naive UTC


async def _typed(ctx: FlowContext, step: str, text: str) -> None:
    data = ctx.conversation.data
    if step == "announce_text":
        # The preview's «Gửi» publishes under this message's key: a redelivery cannot repeat it.
        await ctx.goto("officer", "announce_preview", text=text[:3000], key=ctx.incoming.update_key)
    elif step == "project_progress":
        if not text.isdigit() or not 0 <= int(text) <= 100:
            ctx.say("publish.bad_progress")
            return
        await ctx.goto("officer", "project_note", project_id=data["project_id"], progress=int(text))
    elif step == "project_note":
        await ctx.goto("officer", "project_preview", project_id=data["project_id"], progress=data["progress"],
                       text=text[:1000], key=ctx.incoming.update_key)
    elif len(text) < 10:  # close_reason
        ctx.say("submit.description_short", minimum=10)
    else:
        await ctx.goto("officer", "close_preview", consultation_id=data["consultation_id"], reason=text[:500])


async def _send(ctx: FlowContext, step: str) -> None:
    data = ctx.conversation.data
    if step == "announce_preview":
        count = await announce(ctx.uow, ctx.user, data["text"], data["key"])
        ctx.say("publish.announced", count=count)
    elif step == "project_preview":
        today = utcnow().astimezone(ctx.settings.zone).date()
        count = await project_update(ctx.uow, ctx.user, data["project_id"], data["progress"], data["text"], today,
                                     data["key"])
        ctx.say("publish.project_done", count=count)
    else:
        consultation = await close_consultation(ctx.uow, ctx.user, data["consultation_id"], reason=data.get("reason"),
                                                zone=ctx.settings.zone)
        ctx.say("publish.closed", title=consultation.title)
        ctx.send(results_text(ctx.lang, consultation, await results(ctx.uow.session, consultation),
                              zone=ctx.settings.zone))
    await ctx.goto("officer", "publish")
