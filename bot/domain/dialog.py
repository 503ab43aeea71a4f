"""Channel-neutral messages: what a channel adapter hands to the flows and what flows answer.

An adapter turns a Telegram update, a Zalo event or a web-chat request into one ``Incoming`` and
renders each ``Reply`` in its platform's form. Flows never see platform objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.domain.typed import NUL, without_nul


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Photo:
    """A photo as the channel knows it: an opaque reference (Telegram file_id, URL, stored blob key)."""

    ref: str
    caption: str | None = None


@dataclass(frozen=True)
class Incoming:
    """One thing a person did in a chat.

    ``update_key`` identifies the delivery on its channel (Telegram update_id, Zalo msg_id, web-chat
    client message id) so a redelivery is recognised and ignored.
    """

    channel: str
    chat_id: str
    user_id: str
    update_key: str
    text: str | None = None
    button: str | None = None
    photos: tuple[Photo, ...] = ()
    location: Location | None = None
    unsupported: str | None = None  # e.g. "sticker", "voice": something the bot cannot take
    display_name: str | None = None
    platform_language: str | None = None
    # A phone number the platform vouches is the sender's own (a Telegram contact whose user_id is the
    # sender's, the Zalo OA's user_submit_info); never a number someone typed.
    verified_phone: str | None = None

    def __post_init__(self) -> None:
        # Whatever the channel, what a person sent is stored without NUL bytes (bot/domain/typed.py).
        for name in _TEXT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, str) and NUL in value:
                object.__setattr__(self, name, without_nul(value))
        if any(photo.caption and NUL in photo.caption for photo in self.photos):
            object.__setattr__(self, "photos", tuple(Photo(photo.ref, photo.caption and without_nul(photo.caption))
                                                     for photo in self.photos))

    @property
    def command(self) -> str | None:
        """``/start`` → ``"start"``; ``/start@tiepdan_bot arg`` → ``"start"``; otherwise None."""
        if not self.text or not self.text.startswith("/"):
            return None
        # "/ " or "/\n" is not a command: the name must follow the slash
        word = self.text[1:].split(maxsplit=1)[0] if len(self.text) > 1 and not self.text[1].isspace() else ""
        return word.split("@", 1)[0].lower() or None

    @property
    def command_argument(self) -> str:
        if not self.command:
            return ""
        parts = self.text.split(maxsplit=1)
        return parts[1].strip() if len(parts) > 1 else ""


_TEXT_FIELDS = ("chat_id", "user_id", "update_key", "text", "button", "unsupported", "display_name",
                "platform_language", "verified_phone")


@dataclass(frozen=True)
class Button:
    label: str
    value: str  # at most 64 bytes: it travels as Telegram callback data


@dataclass(frozen=True)
class Reply:
    """One outgoing message: text, optional rows of buttons, optional media references.

    ``phone_request``: the label of a control that shares the person's own phone number, on a channel
    that has one (Telegram's request_contact keyboard, the Zalo OA's user-info card); channels without
    one show the text alone, which then says how else to do it."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    photos: tuple[str, ...] = ()
    phone_request: str | None = None
    # Not a message: takes the buttons off the earlier reply written with this outbox dedupe key
    # (handlers/keyboards.py); ``clears_message`` is that reply's platform message id, found at sending.
    clears: str | None = None
    clears_message: str | None = None

    def to_payload(self) -> dict[str, Any]:
        payload = {
            "text": self.text,
            "buttons": [[{"label": b.label, "value": b.value} for b in row] for row in self.buttons],
            "photos": list(self.photos),
        }
        if self.phone_request is not None:
            payload["phone_request"] = self.phone_request
        if self.clears is not None:
            payload["clears"] = self.clears
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> "Reply":
        return cls(
            text=payload["text"],
            buttons=tuple(
                tuple(Button(b["label"], b["value"]) for b in row) for row in payload.get("buttons", [])
            ),
            photos=tuple(payload.get("photos", [])),
            phone_request=payload.get("phone_request"),
            clears=payload.get("clears"),
            clears_message=payload.get("clears_message"),
        )

    def button_values(self) -> list[str]:
        return [b.value for row in self.buttons for b in row]


@dataclass
class Conversation:
    """Where one chat is in its dialog; persisted per (channel, chat) after every step."""

    flow: str = "start"
    step: str = "new"
    data: dict[str, Any] = field(default_factory=dict)
    expected_buttons: list[str] = field(default_factory=list)
