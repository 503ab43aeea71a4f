"""Photo references across channels. A photo is stored as its channel knows it: ``web:<key>`` for
one uploaded in the web chat (served at /media/<key>), a Telegram file id, or an https URL (Zalo's
CDN). Each channel can show only some of these; ``photos_for`` gives the ones a channel can show,
in its own form, and how many it cannot."""

from __future__ import annotations


def _is_url(ref: str) -> bool:
    return ref.startswith("https://") or ref.startswith("http://")


def photos_for(channel: str, refs: list[str] | tuple[str, ...]) -> tuple[list[str], int]:
    shown: list[str] = []
    for ref in refs:
        if channel == "web":
            if ref.startswith("web:"):
                shown.append(f"/media/{ref[4:]}")
            elif _is_url(ref):
                shown.append(ref)
        elif channel == "telegram":
            if not ref.startswith("web:"):  # a file id of our own bot, or a URL Telegram fetches
                shown.append(ref)
        elif channel in ("zalobot", "zalo"):
            if ref.startswith("web:") or _is_url(ref):  # their senders turn stored photos into public URLs
                shown.append(ref)
        elif _is_url(ref):  # anything else: only what can be fetched
            shown.append(ref)
    return shown, len(refs) - len(shown)
