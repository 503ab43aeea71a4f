"""Setting the Zalo OA up as a commune does, against the local fake of Zalo, on SQLite and PostgreSQL:
authorising it with OAuth v4 and PKCE (``tiepdan zalo authorize`` and the callback, through a real
HTTP client following Zalo's redirect), the webhook signature's secret, both shapes of
``user_submit_info``, and copies of the photos citizens send."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import aiohttp
from sqlalchemy import update

from bot.channels import zalo_oauth
from bot.cli import main
from storage.models import Attachment, Item, ItemContact, ZaloToken, utcnow
from storage.models_zalo import ZaloOAuthState
from tests import test_zalo_oa
from tests.test_telegram_journeys import COMPLAINT, DESCRIPTION
from tests.test_zalo_oa import APP_ID, APP_SECRET, LAN, OA_SECRET
from tests.test_zalo_oa_journeys import ASK_ADDRESS, ASK_PHONE, describe
from tests.zalo_fake import zalo_mac

fake, open_process, zalo, lan = test_zalo_oa.fake, test_zalo_oa.open_process, test_zalo_oa.zalo, test_zalo_oa.lan

DONE = "Đã kết nối Zalo Official Account với tiepdan. Bạn có thể đóng trang này."
USED = "Liên kết cấp quyền không hợp lệ hoặc đã được dùng."


# -- OAuth v4 with PKCE ----------------------------------------------------------------------------------------

async def unauthorised(open_process):
    """A process configured with the app but no tokens yet, reachable at its own public URL."""
    process = await open_process(open_process.settings.model_copy(
        update={"zalo_oa_access_token": None, "zalo_oa_refresh_token": None}))
    object.__setattr__(process.runtime.settings, "zalo_oa_public_url",
                       str(process.server.make_url("/")).rstrip("/"))
    return process


async def test_authorize_then_the_callback_stores_the_pair_and_a_replayed_callback_is_refused(fake, open_process):
    process = await unauthorised(open_process)
    assert await process.rows(ZaloToken) == []
    settings = process.runtime.settings
    url = await zalo_oauth.begin(process.runtime.uows, settings)
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{fake.url}/v4/oa/permission"
    assert set(query) == {"app_id", "redirect_uri", "code_challenge", "state"}  # the verifier never travels
    assert query["redirect_uri"] == settings.zalo_oa_public_url + "/zalo/oauth/callback"
    [pending] = await process.rows(ZaloOAuthState)
    assert pending.state_hash != query["state"] and query["state"] not in pending.state_hash

    async with aiohttp.ClientSession() as browser:  # the administrator allows the app; Zalo redirects back
        async with browser.get(url) as page:
            assert page.status == 200 and DONE in await page.text()
            callback = str(page.url)
            assert "token" not in (await page.text()).lower()
        async with browser.get(callback) as again:  # the same callback once more (a replay)
            assert again.status == 400 and USED in await again.text()
    # The fake checked BASE64URL(SHA-256(verifier)) against the challenge it was given.
    [exchange] = fake.exchanges
    digest = base64.urlsafe_b64encode(hashlib.sha256(exchange["code_verifier"].encode()).digest()).rstrip(b"=")
    assert digest.decode() == query["code_challenge"] and exchange["grant_type"] == "authorization_code"
    [row] = await process.rows(ZaloToken)
    assert row.refresh_token == fake.refresh_token and row.expires_at > utcnow() + timedelta(hours=24)
    # The channel, which had no token, now sends with the stored one.
    await process.channel.client.tokens.usable()
    assert await fake.deliver(fake.event("follow", LAN)) == 200
    await process.channel.client.send(LAN, {"text": "Xin chào"})
    assert fake.messages(LAN)[-1] == {"text": "Xin chào"}


async def test_a_forged_expired_or_denied_callback_stores_nothing(fake, open_process):
    process = await unauthorised(open_process)
    uows, settings = process.runtime.uows, process.runtime.settings
    callback = settings.zalo_oa_public_url + zalo_oauth.CALLBACK_PATH
    async with aiohttp.ClientSession() as browser:
        async with browser.get(callback, params={"state": "guessed", "code": "AC-x"}) as page:
            assert page.status == 400 and USED in await page.text()
        async with browser.get(callback, params={"state": "guessed"}) as page:  # the administrator said no
            assert page.status == 400 and "chưa được cấp" in await page.text()
        # Started 20 minutes ago: expired.
        old = await zalo_oauth.begin(uows, settings, now=utcnow() - timedelta(minutes=20))
        async with browser.get(old) as page:
            assert page.status == 400 and "đã hết hạn" in await page.text()
        # A verifier that does not match the challenge (someone swapped it): Zalo refuses the code.
        url = await zalo_oauth.begin(uows, settings)
        await process.execute(update(ZaloOAuthState).where(ZaloOAuthState.used_at.is_(None))
                              .values(code_verifier="x" * 86))
        async with browser.get(url) as page:
            assert page.status == 400 and "không chấp nhận" in await page.text()
    assert await process.rows(ZaloToken) == []
    assert [refusal["error"] for refusal in fake.refused_refreshes] == [-14020]


def test_tiepdan_zalo_authorize_prints_the_link_and_says_what_is_missing(db_url, monkeypatch, capsys):
    for name, value in {"DATABASE_URL": db_url, "ZALO_OA_APP_ID": APP_ID, "ZALO_OA_SECRET_KEY": OA_SECRET,
                        "ZALO_OA_APP_SECRET": APP_SECRET}.items():
        monkeypatch.setenv(f"TIEPDAN_{name}", value)
    assert main(["zalo", "authorize"]) == 2
    assert "TIEPDAN_ZALO_OA_PUBLIC_URL is not set" in capsys.readouterr().err
    monkeypatch.setenv("TIEPDAN_ZALO_OA_PUBLIC_URL", "https://tiepdan.hoankiem.example.vn")
    assert main(["zalo", "authorize"]) == 0
    out = capsys.readouterr().out
    link = out.strip().splitlines()[-1]
    assert link.startswith("https://oauth.zaloapp.com/v4/oa/permission?app_id=" + APP_ID)
    assert "redirect_uri=https%3A%2F%2Ftiepdan.hoankiem.example.vn%2Fzalo%2Foauth%2Fcallback" in link
    assert "15 minutes" in out


# -- the webhook signature's secret -------------------------------------------------------------------------------

async def test_the_signature_is_checked_with_the_secret_the_setting_names(fake, open_process):
    """The fake signs with its own formula (tests/zalo_fake.py ``zalo_mac``), not the project's."""
    process = await open_process()
    event = fake.event("follow", LAN)
    body = json.dumps(event).encode()
    assert await fake.deliver(event, raw=body, mac="mac=" + zalo_mac(body, event["timestamp"], OA_SECRET)) == 200
    assert await fake.deliver(event, raw=body, mac="mac=" + zalo_mac(body, event["timestamp"], APP_SECRET)) == 401

    other = await open_process(open_process.settings.model_copy(update={"zalo_oa_signature_secret": "app_secret"}))
    fake.webhook_url = other.webhook_url
    event = fake.event("follow", LAN)
    body = json.dumps(event).encode()
    assert await fake.deliver(event, raw=body, mac="mac=" + zalo_mac(body, event["timestamp"], OA_SECRET)) == 401
    assert await fake.deliver(event, raw=body, mac="mac=" + zalo_mac(body, event["timestamp"], APP_SECRET)) == 200


# -- user_submit_info, both shapes --------------------------------------------------------------------------------

async def to_contact_step(lan) -> None:
    await describe(lan, "complaint_first", "land", COMPLAINT)
    await lan.press("photos:done")
    await lan.press("location:skip")
    await lan.press("consent:yes")


async def test_the_newer_submit_info_shape_fills_the_address_and_the_phone_too(fake, lan):
    await to_contact_step(lan)
    shared = await lan.deliver(fake.submit_info_event(
        LAN, name="Nguyễn Thị Lan", phone_number="0912345678",
        full_address={"address": "Số 3 Hàng Bạc, tổ 5", "ward": "Phường Hoàn Kiếm", "district": "",
                      "city": "Hà Nội"}))
    assert [m["text"] for m in shared][:2] == [ASK_ADDRESS, ASK_PHONE]
    await lan.press("submit:send")
    [contact] = await lan.process.rows(ItemContact)
    assert (contact.full_name, contact.address, contact.phone) == (
        "Nguyễn Thị Lan", "Số 3 Hàng Bạc, tổ 5, Phường Hoàn Kiếm, Hà Nội", "0912345678")


def test_both_submit_info_shapes_read_the_same():
    from bot.channels.zalo_oa_inbound import contact_fields

    older = contact_fields({"name": "Lan", "phone": "84912345678", "address": "Số 3 Hàng Bạc", "ward": "Hoàn Kiếm",
                            "district": "", "city": "Hà Nội"})
    newer = contact_fields({"name": "Lan", "phone": "84912345678",
                            "full_address": {"address": "Số 3 Hàng Bạc", "ward": "Hoàn Kiếm", "province": "Hà Nội"}})
    assert older == newer == {"name": "Lan", "address": "Số 3 Hàng Bạc, Hoàn Kiếm, Hà Nội", "phone": "84912345678"}
    assert contact_fields({"name": "Lan", "full_address": "Số 3 Hàng Bạc, Hà Nội"})["address"] == "Số 3 Hàng Bạc, Hà Nội"
    assert contact_fields({"full_address": {"ward": 5}, "phone": ["x"]}) == {"name": "", "address": "5", "phone": ""}


# -- photos are copied on receipt ---------------------------------------------------------------------------------

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x01" * 4000
PNG = b"\x89PNG\r\n\x1a\n" + b"\x02" * 3000


async def test_photos_are_copied_with_their_link_kept_and_a_bad_one_keeps_only_its_link(fake, lan):
    fake.cdn.update({"ho-ga.jpg": (200, "image/jpeg", JPEG), "via-he.png": (200, "application/octet-stream", PNG),
                     "trang.jpg": (200, "image/jpeg", b"<html>not a photo</html>"),
                     "lon.jpg": (200, "image/jpeg", b"\xff\xd8\xff" + b"\x00" * 6_000_000),
                     "loi.jpg": (503, "text/plain", b"busy")})
    await describe(lan, "feedback", "infrastructure", DESCRIPTION)
    urls = {name: f"{fake.url}/cdn/{name}" for name in fake.cdn}
    for name in ("ho-ga.jpg", "via-he.png", "trang.jpg", "lon.jpg", "loi.jpg"):
        calls = fake.cdn_calls
        await lan.deliver(fake.image_event(LAN, urls[name]))
        # The unavailable CDN is tried again once; the others are fetched once.
        assert fake.cdn_calls - calls == (2 if name == "loi.jpg" else 1)
    await lan.press("photos:done")
    await lan.press("location:skip")
    await lan.press("consent:anonymous")
    await lan.press("submit:send")
    [item] = await lan.process.rows(Item)
    copies = {a.source_url: a for a in await lan.process.rows(Attachment)}
    assert set(copies) == {urls["ho-ga.jpg"], urls["via-he.png"]}
    assert (copies[urls["ho-ga.jpg"]].data, copies[urls["ho-ga.jpg"]].content_type) == (JPEG, "image/jpeg")
    assert copies[urls["via-he.png"]].content_type == "image/png"  # by its bytes, not by what the CDN said
    assert item.photos == [f"web:{copies[urls['ho-ga.jpg']].key}", f"web:{copies[urls['via-he.png']].key}",
                           urls["trang.jpg"], urls["lon.jpg"], urls["loi.jpg"]]


async def test_a_link_off_zalos_hosts_is_not_fetched_and_a_copy_goes_back_to_zalo_as_a_signed_link(fake, lan):
    await describe(lan, "feedback", "infrastructure", DESCRIPTION)
    # A forged event could name any address, one inside our network too: here the fake's own server by a
    # name that is not on the list of Zalo's hosts (127.0.0.1 in these tests).
    fake.cdn["noi-bo.jpg"] = (200, "image/jpeg", JPEG)
    inside = fake.url.replace("127.0.0.1", "localhost") + "/cdn/noi-bo.jpg"
    await lan.deliver(fake.image_event(LAN, inside))
    assert fake.cdn_calls == 0 and await lan.process.rows(Attachment) == []
    sender = lan.process.channel.sender
    link = sender.photo_url("web:abc123")
    assert link.startswith("https://tiepdan.example.vn/media/abc123?exp=") and "&sig=" in link
    assert sender.photo_url("AgACAgIAAx0") is None  # a Telegram file id: nothing Zalo could fetch


async def test_a_message_written_in_a_group_chat_is_ignored(fake, lan):
    before = len(fake.messages(LAN))
    event = fake.text_event(LAN, "Tôi muốn phản ánh ổ gà")
    event["group_info"] = {"group_id": "g-123", "group_name": "Tổ dân phố 5"}
    assert await fake.deliver(event) == 200
    await lan.process.settle()
    assert len(fake.messages(LAN)) == before
    assert await lan.say("g:menu")  # the same words one to one are answered
