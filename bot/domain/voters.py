"""Who is counted in a consultation, and as whom.

A consultation is of the commune's residents: "mọi công dân cư trú trên địa bàn" take part (Luật Thực
hiện dân chủ ở cơ sở 2022, Điều 29 khoản 1), and people voting online are identified (Nghị định
59/2023/NĐ-CP, Điều 5 khoản 2 điểm c). A chat identity alone identifies nobody: a new web cookie is a new
"person". So the official tally counts verified residents only, one vote a person:

- a person whose own phone number their platform vouched for (Telegram's shared contact of the sender
  themself, the Zalo OA's user_submit_info): counted under that number, so the same person on Telegram
  and on Zalo is one voter;
- a person an officer of the commune checked in person: counted as that user of that commune.

Everyone else's vote is kept, in a separately shown tally that is not the official result.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

VERIFIED = "verified"
UNVERIFIED = "unverified"
HOME_REGION = "VN"


def e164(raw: str) -> str | None:
    """A phone number as a platform sends it, in E.164 (``+84912345678``); None when it is no number.
    Telegram and Zalo send international numbers without the "+" (``84912345678``); a number starting
    with 0 is Vietnamese (``0912345678``)."""
    digits = "".join(c for c in raw if c.isdigit())
    if not digits:
        return None
    text = digits if digits.startswith("0") else "+" + digits
    try:
        number = phonenumbers.parse(text, HOME_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True)
class Standing:
    """How one user's vote in one commune's consultation counts: its tally, and the person it stands
    for (None for an unverified vote, which stands for nobody in particular)."""

    tally: str
    voter_key: str | None

    @property
    def verified(self) -> bool:
        return self.tally == VERIFIED


UNVERIFIED_STANDING = Standing(UNVERIFIED, None)


def standing(user_id: int, commune_code: int, *, phone_digest: str | None,
             checked_in_commune: int | None) -> Standing:
    """``phone_digest``: the keyed hash of the user's platform-verified number, if any;
    ``checked_in_commune``: the commune whose officer checked the user in person, if any."""
    if phone_digest is not None:
        return Standing(VERIFIED, f"p:{phone_digest}")
    if checked_in_commune is not None and checked_in_commune == commune_code:
        return Standing(VERIFIED, f"u:{user_id}")
    return UNVERIFIED_STANDING
