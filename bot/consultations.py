"""Dân bàn — casting a vote in a consultation and counting it in one of two tallies.

A consultation is of the commune's residents (Luật Thực hiện dân chủ ở cơ sở 2022, Điều 29 khoản 1),
so its official result counts verified residents, one vote a person (bot/domain/voters.py); anyone
else may still vote and comment, into a separately shown tally that is not the result. Both tallies
are shown, labelled, once the consultation closes, whose results the commune makes public (Điều 28
khoản 3).

Each vote row carries its tally and, when verified, the person it stands for (``voter_key``), unique
per consultation: the same person's vote from a second channel replaces the first, like a changed vote.
Learning that someone is verified (bot/residents.py) counts their votes in open consultations again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.domain.voters import UNVERIFIED, VERIFIED, Standing, standing
from bot.texts import t
from storage.models import Consultation, ConsultationVote, Resident, User, utcnow


def is_open(consultation: Consultation, now: datetime) -> bool:
    return consultation.status == "open" and consultation.opens_at <= now < consultation.closes_at


async def standing_of(session, user: User, commune_code: int) -> Standing:
    """How ``user``'s vote in a consultation of ``commune_code`` counts."""
    resident = await session.get(Resident, user.id)
    return standing(user.id, commune_code, phone_digest=resident.phone_digest if resident else None,
                    checked_in_commune=resident.checked_in_commune if resident else None)


async def vote_of(session, consultation_id: int, user_id: int) -> ConsultationVote | None:
    return (await session.execute(select(ConsultationVote).where(
        ConsultationVote.consultation_id == consultation_id, ConsultationVote.user_id == user_id))
    ).scalar_one_or_none()


async def _same_person(session, consultation_id: int, voter_key: str, user_id: int) -> ConsultationVote | None:
    """The vote another identity of the same verified person cast in this consultation, if any."""
    return (await session.execute(select(ConsultationVote).where(
        ConsultationVote.consultation_id == consultation_id, ConsultationVote.voter_key == voter_key,
        ConsultationVote.user_id != user_id))).scalar_one_or_none()


async def cast_vote(uow, user: User, consultation: Consultation, option: str) -> bool:
    """Record ``user``'s choice; True when it changes a vote the person had already cast (from this
    identity, or as the same verified person from another one, whose vote this one replaces)."""
    session = uow.session
    counted = await standing_of(session, user, consultation.commune_code)
    mine = await vote_of(session, consultation.id, user.id)
    changed, carried = mine is not None, None
    if counted.voter_key is not None:
        earlier = await _same_person(session, consultation.id, counted.voter_key, user.id)
        if earlier is not None:
            carried = earlier.comment
            await session.delete(earlier)
            await session.flush()  # the person's key is free before this vote takes it
            changed = True
    if mine is None:
        mine = ConsultationVote(consultation_id=consultation.id, user_id=user.id, option=option)
        session.add(mine)
    mine.option, mine.voted_at = option, utcnow()
    mine.tally, mine.voter_key = counted.tally, counted.voter_key
    mine.comment = mine.comment or carried
    await session.flush()
    return changed


async def recount(uow, user: User) -> None:
    """Count ``user``'s votes in open consultations again, after their verification changed. A vote
    that now stands for a person who also voted from another identity: the later of the two stays."""
    session = uow.session
    now = utcnow()
    rows = (await session.execute(
        select(ConsultationVote, Consultation).join(Consultation, Consultation.id == ConsultationVote.consultation_id)
        .where(ConsultationVote.user_id == user.id, Consultation.status == "open")
        .order_by(ConsultationVote.id))).all()
    for vote, consultation in rows:
        if not is_open(consultation, now):
            continue
        counted = await standing_of(session, user, consultation.commune_code)
        if (vote.tally, vote.voter_key) == (counted.tally, counted.voter_key):
            continue
        if counted.voter_key is not None:
            other = await _same_person(session, consultation.id, counted.voter_key, user.id)
            if other is not None and other.voted_at > vote.voted_at:
                await session.delete(vote)
                continue
            if other is not None:
                vote.comment = vote.comment or other.comment
                await session.delete(other)
                await session.flush()
        vote.tally, vote.voter_key = counted.tally, counted.voter_key
    await session.flush()


async def forget_voter(uow, user: User) -> None:
    """A citizen who erased their data is no longer a verified resident: their votes in open
    consultations move to the unverified tally, and no vote keeps the hash of their number."""
    session = uow.session
    now = utcnow()
    rows = (await session.execute(
        select(ConsultationVote, Consultation).join(Consultation, Consultation.id == ConsultationVote.consultation_id)
        .where(ConsultationVote.user_id == user.id, ConsultationVote.voter_key.is_not(None)))).all()
    for vote, consultation in rows:
        if is_open(consultation, now):
            vote.tally = UNVERIFIED
        vote.voter_key = None
    await session.flush()


@dataclass
class Tally:
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class Results:
    official: Tally
    unverified: Tally
    comments: list[str]


async def results(session, consultation: Consultation, comments: int = 5) -> Results:
    rows = (await session.execute(
        select(ConsultationVote.tally, ConsultationVote.option, func.count())
        .where(ConsultationVote.consultation_id == consultation.id)
        .group_by(ConsultationVote.tally, ConsultationVote.option))).all()
    tallies = {VERIFIED: Tally(), UNVERIFIED: Tally()}
    for tally, option, count in rows:
        tallies[tally].counts[option] = count
    # Verified residents' comments first: the unverified ones are as easy to stuff as their votes.
    said = (await session.execute(
        select(ConsultationVote.comment)
        .where(ConsultationVote.consultation_id == consultation.id, ConsultationVote.comment.is_not(None))
        .order_by(ConsultationVote.tally != VERIFIED, ConsultationVote.id).limit(comments))).scalars().all()
    return Results(tallies[VERIFIED], tallies[UNVERIFIED], list(said))


def results_text(language: str, consultation: Consultation, counted: Results, *, zone=None) -> str:
    """Both tallies, each labelled, every option in each; then a few comments. A consultation closed
    before its published end says so first: when, and the leader's reason."""
    lines = []
    if consultation.close_reason and consultation.closed_at is not None:
        zone = zone or DEFAULT_ZONE
        lines.append(t(language, "conv.consult.closed_early", reason=consultation.close_reason,
                       closed=f"{_aware(consultation.closed_at).astimezone(zone):%H:%M %d/%m/%Y}",
                       closes=f"{_aware(consultation.closes_at).astimezone(zone):%H:%M %d/%m/%Y}"))
    for key, tally in (("consult.results_official", counted.official),
                       ("consult.results_unverified", counted.unverified)):
        lines.append(t(language, key, total=tally.total))
        for option in consultation.options:
            count = tally.counts.get(option, 0)
            share = round(100 * count / tally.total) if tally.total else 0
            lines.append(t(language, "consult.result_line", option=option, count=count, share=share))
    if counted.comments:
        lines.append(t(language, "consult.comments") + "\n" + "\n".join(f"“{c[:200]}”" for c in counted.comments))
    return "\n".join(lines)


# The commune's zone when a caller has none at hand (the settings' default).
DEFAULT_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)  # SQLite hands back naive UTC
