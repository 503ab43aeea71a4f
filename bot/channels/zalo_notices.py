"""Zalo template notices (ZNS): the fallback for a notice the 7-day window holds, the charged band,
and what both cost each commune.

Why: a receipt promises news in the chat, but the first legal deadlines are 11–17 days away and Zalo
lets an OA write to a citizen only within 7 days of their last message. A notice held for that
reason (scheduler/outbox.py holds it, ``window_closed``) would wait until the citizen happens to
write. If the commune's import file configures a template Zalo approved for that notice type
(``zalo_templates``: accepted, refused, info_requested, extended, decided), the notice goes out as a
template message to the phone number the citizen gave with consent (ItemContact), outside quiet
hours, and the held message itself stays for the chat: the template says "there is news on file
<code>, open the chat", and the citizen's next message releases the full text.

Template data carries the tracking code, the date and the status — never a name, an address or a
phone number (an officer reads the item's timeline; a denouncer's identity must not reach it).

Exactly once: the send is claimed first by a row keyed by its tracking id (the outbox message's
dedupe key, unique), committed before Zalo is called; the same tracking id goes to Zalo. A process
that dies between Zalo's answer and our commit leaves the claim ``sending``; after ``LEASE`` another
run resends with the same tracking id. Zalo documents ``tracking_id`` as the sender's reconciliation
key; whether it refuses a repeated one is not documented (README "Deploying on Zalo").

The charged band: OA messages sent 48 hours to 7 days after the citizen last wrote are billed by
Zalo. Each such message is counted per commune (``zalo_charged_messages``); a commune may choose,
per notice type (``in_charged_band: template``), to hold such a notice and send its template instead.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Callable

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.channels.zalo_api import ZaloAPIError, ZaloAuthError, ZaloRateLimited, ZaloUnavailable
from bot.texts import t
from storage.models import ChannelIdentity, Item, ItemContact, ItemEvent, OutboxMessage, User, utcnow
from storage.models_zalo import ZaloChargedMessage, ZaloNoticeTemplate, ZaloTemplateNotice

log = logging.getLogger(__name__)

CHANNEL = "zalo"
# The item moves whose notice may go as a template, by the notice type the import file names.
NOTICE_OF_ACTION = {"accept": "accepted", "refuse": "refused", "request_info": "info_requested",
                    "extend": "extended", "answer": "decided"}
NOTICE_TYPES = ("accepted", "refused", "info_requested", "extended", "decided")
CHARGED_AFTER = timedelta(hours=48)
WINDOW = timedelta(days=7)
LEASE = timedelta(minutes=2)  # a claim still unanswered this long: its process died; send again
MAX_ATTEMPTS = 5
HELD_FOR = ("window_closed", "charged_band")  # outbox hold reasons a template may answer
# ZNS error codes (zalo.cloud/zns/guidelines/handle-error-code): -100 unknown (try again later), -115
# out of quota (the commune's ZNS balance: try again in an hour), -133 outside Zalo's sending hours.
LATER = {-100: timedelta(minutes=10), -115: timedelta(hours=1), -133: timedelta(hours=1)}
SENT_EVENT, FAILED_EVENT = "notice_template_sent", "notice_template_failed"


def phone_for_zalo(number: str | None) -> str | None:
    """A Vietnamese mobile number as ZNS takes it (84 and 9 digits); None when it is not one."""
    digits = re.sub(r"[\s.\-()]", "", number or "")
    if digits.startswith("+"):
        digits = digits[1:]
    if digits.startswith("0"):
        digits = "84" + digits[1:]
    return digits if re.fullmatch(r"84[35789]\d{8}", digits) else None


def quiet(settings, moment: datetime) -> bool:
    """Whether ``moment`` falls in the commune's quiet hours (local time), when no template leaves."""
    hour = moment.astimezone(settings.zone).hour
    start, end = settings.zalo_zns_quiet_from, settings.zalo_zns_quiet_until
    if start == end:
        return False
    return start <= hour < end if start < end else hour >= start or hour < end


@dataclass
class Notice:
    """What a held outbox message needs to go as a template."""
    outbox_id: int
    tracking_id: str
    item: Item
    event: ItemEvent
    notice: str
    template: ZaloNoticeTemplate
    phone: str


async def notice_for(uow, dedupe_key: str, item_id: int | None) -> tuple[str, Item, ItemEvent] | None:
    """The notice type of an outbox message about an item (its dedupe key is ``notify:<event id>``)."""
    if item_id is None or not dedupe_key.startswith("notify:") or not dedupe_key[7:].isdigit():
        return None
    event = await uow.session.get(ItemEvent, int(dedupe_key[7:]))
    notice = NOTICE_OF_ACTION.get(event.action) if event is not None else None
    item = await uow.session.get(Item, item_id) if notice else None
    return (notice, item, event) if item is not None else None


async def _template(uow, commune: int, notice: str) -> ZaloNoticeTemplate | None:
    return (await uow.session.execute(select(ZaloNoticeTemplate).where(
        ZaloNoticeTemplate.commune_code == commune, ZaloNoticeTemplate.notice == notice))).scalar_one_or_none()


async def _phone(uow, item_id: int) -> str | None:
    contact = await uow.session.get(ItemContact, item_id)
    return phone_for_zalo(contact.phone if contact is not None else None)


async def prefers_template(uow, chat_id: str, item_id: int) -> bool:
    """Whether the notice being sent to ``chat_id`` about ``item_id`` (the outbox row claimed now) is
    one its commune sends as a template rather than a charged OA message."""
    key = (await uow.session.execute(select(OutboxMessage.dedupe_key).where(
        OutboxMessage.channel == CHANNEL, OutboxMessage.chat_id == chat_id, OutboxMessage.item_id == item_id,
        OutboxMessage.status == "sending").order_by(OutboxMessage.id).limit(1))).scalar_one_or_none()
    found = await notice_for(uow, key, item_id) if key else None
    if found is None:
        return False
    notice, item, _ = found
    template = await _template(uow, item.commune_code, notice)
    return template is not None and template.in_charged_band and await _phone(uow, item.id) is not None


async def count_charged(uows, chat_id: str, messages: int, settings, now: datetime) -> None:
    """Record ``messages`` OA messages Zalo bills, for the commune of the citizen of ``chat_id``."""
    async with uows() as uow:
        commune = (await uow.session.execute(select(User.commune_code).join(
            ChannelIdentity, ChannelIdentity.user_id == User.id).where(
            ChannelIdentity.channel == CHANNEL, ChannelIdentity.external_id == chat_id))).scalars().first()
        if commune is None:
            return  # a citizen who never chose a commune: nothing to bill it to
        day = now.astimezone(settings.zone).date()
        uow.session.add_all([ZaloChargedMessage(commune_code=commune, sent_at=now, sent_on=day)
                             for _ in range(messages)])
        await uow.commit()


class TemplateNotices:
    """Sends the template notices that held notices are due, a few at a time, on each ``run_once``."""

    def __init__(self, client, uows, settings, *, clock: Callable[[], datetime] = utcnow):
        self.client, self.uows, self.settings, self.clock = client, uows, settings, clock

    async def run_once(self, limit: int = 50) -> int:
        """Send what is due now; returns how many Zalo accepted. Nothing leaves in quiet hours."""
        now = self.clock()
        if quiet(self.settings, now):
            return 0
        accepted = 0
        for outbox_id in await self._due(now, limit):
            notice = await self._claim(outbox_id, now)
            if notice is not None:
                accepted += await self._send(notice)
        return accepted

    async def _due(self, now: datetime, limit: int) -> list[int]:
        reasons = or_(*(OutboxMessage.last_error.like(f"{reason}%") for reason in HELD_FOR))
        async with self.uows() as uow:
            rows = await uow.session.execute(
                select(OutboxMessage.id).outerjoin(ZaloTemplateNotice,
                                                   ZaloTemplateNotice.tracking_id == OutboxMessage.dedupe_key)
                .where(OutboxMessage.channel == CHANNEL, OutboxMessage.status == "held",
                       OutboxMessage.item_id.is_not(None), OutboxMessage.dedupe_key.like("notify:%"), reasons,
                       or_(ZaloTemplateNotice.id.is_(None),
                           and_(ZaloTemplateNotice.status.in_(("sending", "retry")),
                                ZaloTemplateNotice.next_attempt_at <= now)))
                .order_by(OutboxMessage.id).limit(limit))
            return list(rows.scalars())

    async def _claim(self, outbox_id: int, now: datetime) -> Notice | None:
        """The notice, claimed by this process for ``LEASE`` (None: nothing to send, or another has it).
        A notice that cannot go as a template is recorded ``skipped`` once, so it is not looked at again."""
        async with self.uows() as uow:
            row = await uow.session.get(OutboxMessage, outbox_id)
            if row is None or row.status != "held":
                return None
            found = await notice_for(uow, row.dedupe_key, row.item_id)
            template = await _template(uow, found[1].commune_code, found[0]) if found else None
            phone = await _phone(uow, row.item_id) if template else None
            existing = (await uow.session.execute(select(ZaloTemplateNotice).where(
                ZaloTemplateNotice.tracking_id == row.dedupe_key))).scalar_one_or_none()
            if existing is None:
                existing = ZaloTemplateNotice(
                    tracking_id=row.dedupe_key, outbox_id=row.id, item_id=row.item_id,
                    commune_code=found[1].commune_code if found else 0, notice_type=found[0] if found else "none",
                    template_id=template.template_id if template else "", attempts=0)
                uow.session.add(existing)
            elif (await uow.session.execute(update(ZaloTemplateNotice).where(
                    ZaloTemplateNotice.id == existing.id, ZaloTemplateNotice.status == existing.status,
                    ZaloTemplateNotice.next_attempt_at <= now).values(attempts=existing.attempts))).rowcount != 1:
                return None  # another process claimed it meanwhile
            if template is None or phone is None:
                existing.status = "skipped"
            else:
                existing.status, existing.attempts = "sending", existing.attempts + 1
                existing.next_attempt_at = now + LEASE
            try:
                await uow.commit()
            except IntegrityError:
                return None  # claimed by another process at the same moment
            if existing.status == "skipped":
                return None
            notice, item, event = found
            return Notice(row.id, row.dedupe_key, item, event, notice, template, phone)

    def _data(self, notice: Notice) -> dict[str, str]:
        """Template parameters: the tracking code, the date and the status only — no identity."""
        template = notice.template
        data = {template.code_param: notice.item.tracking_code}
        if template.date_param:
            data[template.date_param] = notice.event.at.astimezone(self.settings.zone).strftime("%d/%m/%Y")
        if template.status_param and notice.event.to_status:
            data[template.status_param] = t("vi", f"status.{notice.event.to_status}")
        return data

    async def _send(self, notice: Notice) -> int:
        try:
            answer = await self.client.send_template(self.settings.zalo_zns_url, notice.phone,
                                                     notice.template.template_id, self._data(notice),
                                                     notice.tracking_id)
        except ZaloAPIError as exc:
            later = LATER.get(exc.code)
            await self._outcome(notice, "retry" if later else "failed", error=exc.code, after=later)
            return 0
        except (ZaloUnavailable, ZaloRateLimited, ZaloAuthError) as exc:
            log.warning("zalo zns: not sent now (%s)", type(exc).__name__)
            await self._outcome(notice, "retry", after=timedelta(minutes=2))
            return 0
        await self._outcome(notice, "sent", msg_id=str(answer.get("msg_id") or "") or None)
        return 1

    async def _outcome(self, notice: Notice, status: str, *, error: int | None = None,
                       after: timedelta | None = None, msg_id: str | None = None) -> None:
        now = self.clock()
        async with self.uows() as uow:
            row = (await uow.session.execute(select(ZaloTemplateNotice).where(
                ZaloTemplateNotice.tracking_id == notice.tracking_id))).scalar_one()
            if status == "retry" and row.attempts >= MAX_ATTEMPTS:
                status = "failed"
            row.status, row.error_code = status, error
            if status == "retry":
                row.next_attempt_at = now + (after or LEASE)
            elif status == "sent":
                row.msg_id, row.sent_at = msg_id, now
                row.sent_on = now.astimezone(self.settings.zone).date()
                row.cost_vnd = notice.template.price_vnd
            if status in ("sent", "failed"):
                data = {"notice": notice.notice, "template": notice.template.template_id}
                if error is not None:
                    data["error"] = error
                uow.items.record(ItemEvent(item_id=notice.item.id, action=SENT_EVENT if status == "sent"
                                           else FAILED_EVENT, data=data))
            await uow.commit()
        log.info("zalo zns: %s notice %s (%s)", status, notice.notice, error if error is not None else "ok")


# -- reporting ---------------------------------------------------------------------------------------

async def template_notice_costs(uow, commune_codes: list[int] | None, start: date,
                                end: date) -> dict[int, tuple[int, int]]:
    """Commune code → (template notices sent, their cost in VND) from ``start`` to ``end``, local
    dates inclusive; ``commune_codes`` None means every commune. Only notices Zalo accepted count
    (a refused one is not billed); a commune with none is absent from the result. ``sent_on`` is
    stamped with the commune's local date at send, so no time-zone arithmetic happens here."""
    query = (select(ZaloTemplateNotice.commune_code, func.count(),
                    func.coalesce(func.sum(ZaloTemplateNotice.cost_vnd), 0))
             .where(ZaloTemplateNotice.status == "sent", ZaloTemplateNotice.sent_on >= start,
                    ZaloTemplateNotice.sent_on <= end)
             .group_by(ZaloTemplateNotice.commune_code))
    if commune_codes is not None:
        if not commune_codes:
            return {}
        query = query.where(ZaloTemplateNotice.commune_code.in_(commune_codes))
    rows = (await uow.session.execute(query)).all()
    return {int(code): (int(count), int(cost)) for code, count, cost in rows}


async def charged_message_counts(uow, commune_codes: list[int] | None, start: date, end: date) -> dict[int, int]:
    """Commune code → OA messages Zalo billed (sent 48 hours to 7 days after the citizen last wrote)
    from ``start`` to ``end``, local dates inclusive."""
    query = (select(ZaloChargedMessage.commune_code, func.count())
             .where(ZaloChargedMessage.sent_on >= start, ZaloChargedMessage.sent_on <= end)
             .group_by(ZaloChargedMessage.commune_code))
    if commune_codes is not None:
        if not commune_codes:
            return {}
        query = query.where(ZaloChargedMessage.commune_code.in_(commune_codes))
    return {int(code): int(count) for code, count in (await uow.session.execute(query)).all()}
