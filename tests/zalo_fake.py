"""A local fake of Zalo: the Official Account Open API (send a consultation message) and the OAuth v4
token endpoint, on 127.0.0.1, checking requests the way Zalo does, and the webhook deliveries Zalo
makes to us, signed as Zalo signs them.

What it checks, and answers as Zalo would (HTTP 200 with ``error != 0``):
- ``POST /v3.0/oa/message/cs``: the ``access_token`` header names a token it issued that has not
  expired by *its* clock (-216 otherwise); a JSON body ``{"recipient": {"user_id"}, "message"}``; the
  message is plain text of 1–2000 characters, text with 1–5 ``oa.query.*`` buttons, one image by
  URL, or a ``request_user_info`` card (-201 otherwise); the user interacted within 7 days (-230) and
  still follows the OA (-213). Scripted failures (``fail_next``) come first.
- ``POST /v4/oa/access_token``: header ``secret_key`` is the app secret; form ``app_id``,
  ``grant_type=refresh_token`` and the one refresh token currently valid. It rotates both tokens;
  a refresh token works once. The error codes of refused refreshes are this fake's own choice
  (Zalo's exact codes for them are not documented where we looked).

- ``POST /message/template`` (ZNS): header ``access_token`` (-124 otherwise); phone ``84…`` (-108),
  a numeric template id (-109), non-empty string template data (-111); scripted codes (``zns_script``)
  and phones without Zalo (``zns_phones``, -118); a tracking id already accepted is answered with its
  first msg id and not sent again.
- ``GET /v4/oa/permission``: the administrator allowed the app; redirects to ``redirect_uri`` with a
  one-time code remembered with its ``code_challenge``. ``POST /v4/oa/access_token`` with
  ``grant_type=authorization_code`` checks BASE64URL(SHA-256(code_verifier)) against it (-14020).
- ``GET /cdn/<name>``: the photos of ``cdn`` (status, type, bytes), as Zalo's CDN serves them.
- Webhook deliveries are signed by ``zalo_mac`` here — written from Zalo's documentation, not with the
  project's ``signature()`` — with ``signing_secret`` (the OA secret key unless a test says otherwise).

Time is the fake's own clock (``now``), which tests move with ``advance``: token expiry and the
7-day window follow it, so a test can be "eight days later" without waiting or patching our clock.
It starts at the real time, as Zalo's servers would, because events are stamped with it and tiepdan
refuses events older than a few minutes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import secrets
from collections import deque
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
from aiohttp import web


APP_ID = "1234567890123456789"
APP_SECRET = "app-secret-Zk3q"
OA_SECRET = "oa-secret-Wm9x"
OA_ID = "5790001112223334445"
TOKEN_LIFETIME = 90000  # seconds, as Zalo's OAuth answers ("expires_in": "90000")
WINDOW = timedelta(days=7)
QUERY_BUTTONS = ("oa.query.show", "oa.query.hide")


def zalo_mac(body: bytes, timestamp: str, secret: str) -> str:
    """The signature as Zalo's webhook documentation and chatwoot's integration compute it, written out
    here on its own (not the project's ``signature()``): hex SHA-256 of app id, raw body, timestamp,
    secret, concatenated in that order."""
    return hashlib.sha256(f"{APP_ID}".encode() + body + timestamp.encode() + secret.encode()).hexdigest()


class FakeZalo:
    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc).replace(microsecond=0)
        self.signing_secret = OA_SECRET  # what signs the webhook deliveries (the OA secret key, as Zalo does)
        # ZNS: (phone, template id, data, tracking id) accepted; tracking id → msg id (a repeat is not resent)
        self.templates: list[tuple[str, str, dict, str]] = []
        self.template_calls = 0
        self._tracked: dict[str, str] = {}
        self.zns_script: deque[int] = deque()
        self.zns_phones: set[str] | None = None  # None: every phone has Zalo
        # OAuth v4 authorisation codes issued by the permission page: code → (code_challenge, redirect_uri)
        self._codes: dict[str, tuple[str, str]] = {}
        self.exchanges: list[dict] = []
        # A CDN: path → (status, content type, body)
        self.cdn: dict[str, tuple[int, str, bytes]] = {}
        self.cdn_calls = 0
        self.oauth_down = 0  # the next this many OAuth calls are answered 502, as by a proxy of Zalo's that is down
        self.url = ""
        self.webhook_url = ""
        self.refresh_delay = 0.05  # seconds an OAuth refresh takes: long enough for senders to race
        self.refresh_calls = 0
        self.refused_refreshes: list[dict] = []
        self.sent: list[tuple[str, dict]] = []         # (user id, message) Zalo accepted
        self.refusals: list[tuple[str, dict, int]] = []  # (user id, message, error) Zalo refused
        self.send_calls = 0
        self._access: dict[str, datetime] = {}
        self.refresh_token = ""
        self._retired: set[str] = set()
        self._last_interaction: dict[str, datetime] = {}
        self._unfollowed: set[str] = set()
        self._script: deque[tuple[int, str]] = deque()
        self._msg_ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None

    # -- life -------------------------------------------------------------------------------------------
    async def start(self) -> "FakeZalo":
        app = web.Application()
        app.add_routes([web.post("/v3.0/oa/message/cs", self._send), web.post("/v4/oa/access_token", self._oauth),
                        web.post("/message/template", self._template), web.get("/v4/oa/permission", self._permission),
                        web.get("/cdn/{name}", self._cdn)])
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self._client = aiohttp.ClientSession()
        return self

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- time and tokens --------------------------------------------------------------------------------
    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)

    def issue(self, lifetime: int = TOKEN_LIFETIME) -> tuple[str, str]:
        """A new access/refresh pair, as the OA's authorisation gives it; older refresh tokens retire."""
        access = "AT-" + secrets.token_urlsafe(12)
        self._access[access] = self.now + timedelta(seconds=lifetime)
        if self.refresh_token:
            self._retired.add(self.refresh_token)
        self.refresh_token = "RT-" + secrets.token_urlsafe(12)
        return access, self.refresh_token

    def valid(self, access_token: str) -> bool:
        expires = self._access.get(access_token)
        return expires is not None and expires > self.now

    # -- scripting --------------------------------------------------------------------------------------
    def fail_next(self, error: int, message: str = "scripted failure", times: int = 1) -> None:
        self._script.extend([(error, message)] * times)

    # -- reading what was sent --------------------------------------------------------------------------
    def messages(self, user: str) -> list[dict]:
        return [message for to, message in self.sent if to == user]

    # -- webhook deliveries -----------------------------------------------------------------------------
    async def deliver(self, event: dict, *, mac: str | None = None, raw: bytes | None = None) -> int:
        """POST ``event`` to our webhook as Zalo does, signed unless ``mac`` says otherwise. Returns the
        HTTP status. A delivered user event counts as an interaction at the fake's current time."""
        body = raw if raw is not None else json.dumps(event, ensure_ascii=False).encode()
        if mac is None:
            mac = "mac=" + zalo_mac(body, str(event.get("timestamp", "")), self.signing_secret)
        headers = {"Content-Type": "application/json"}
        if mac:
            headers["X-ZEvent-Signature"] = mac
        async with self._client.post(self.webhook_url, data=body, headers=headers) as response:
            status = response.status
        user = _user(event)
        if status == 200 and user:
            name = event.get("event_name")
            if name == "unfollow":
                self._unfollowed.add(user)
            elif name.startswith("user_") or name == "follow":
                self._last_interaction[user] = self.now
                if name == "follow":
                    self._unfollowed.discard(user)
        return status

    def event(self, name: str, user: str, **fields) -> dict:
        """An event as Zalo posts it: ids are strings, the timestamp is milliseconds as a string."""
        stamp = str(int(self.now.timestamp() * 1000) + next(self._msg_ids))
        base: dict[str, Any] = {"app_id": APP_ID, "user_id_by_app": f"9{user}", "event_name": name, "timestamp": stamp}
        if name in ("follow", "unfollow"):
            return {**base, "oa_id": OA_ID, "follower": {"id": user}, "source": "oa_profile", **fields}
        if name == "user_click_chatnow":
            return {**base, "oa_id": OA_ID, "user_id": user, **fields}
        return {**base, "sender": {"id": user}, "recipient": {"id": OA_ID}, **fields}

    def message_id(self) -> str:
        return f"mid{next(self._msg_ids):08d}{secrets.token_hex(4)}"

    def text_event(self, user: str, text: str, msg_id: str | None = None) -> dict:
        return self.event("user_send_text", user, message={"msg_id": msg_id or self.message_id(), "text": text})

    def image_event(self, user: str, url: str, caption: str = "") -> dict:
        return self.event("user_send_image", user, message={"msg_id": self.message_id(), "text": caption, "attachments": [
            {"type": "image", "payload": {"url": url, "thumbnail": url + "?thumb=1"}}]})

    def location_event(self, user: str, latitude: float, longitude: float) -> dict:
        return self.event("user_send_location", user, message={"msg_id": self.message_id(), "text": "", "attachments": [
            {"type": "location", "payload": {"coordinates": {"latitude": str(latitude), "longitude": str(longitude)}}}]})

    def file_event(self, user: str, name: str, url: str) -> dict:
        return self.event("user_send_file", user, message={"msg_id": self.message_id(), "attachments": [
            {"type": "file", "payload": {"url": url, "name": name, "size": "20480", "checksum": "c0ffee"}}]})

    def media_event(self, name: str, user: str) -> dict:
        """A sticker, voice, video, GIF, link or contact card (``user_send_sticker`` and so on), with
        the attachment Zalo puts in such events."""
        kind = name.removeprefix("user_send_")
        payloads = {"sticker": {"id": "b7d8a5f9", "url": "https://zalo-api.zadn.vn/sticker/b7d8a5f9.png"},
                    "audio": {"url": "https://voice-talk.zdn.vn/v/1.aac"},
                    "video": {"url": "https://video.zdn.vn/v/1.mp4", "thumbnail": "https://video.zdn.vn/v/1.jpg"},
                    "gif": {"url": "https://gif.zdn.vn/g/1.gif", "thumbnail": "https://gif.zdn.vn/g/1.jpg"},
                    "link": {"url": "https://vnexpress.net/o-ga-hang-bac", "description": "Ổ gà phố Hàng Bạc",
                             "thumbnail": "https://vnexpress.net/t.jpg"},
                    "business_card": {"description": "Nguyễn Văn Minh", "phone": "0912345678",
                                      "thumbnail": "https://s120.zdn.vn/a.jpg"}}
        return self.event(name, user, message={"msg_id": self.message_id(), "text": "", "attachments": [
            {"type": kind, "payload": payloads[kind]}]})

    def submit_info_event(self, user: str, **info) -> dict:
        return self.event("user_submit_info", user, info=info)

    # -- the OA Open API --------------------------------------------------------------------------------
    async def _send(self, request: web.Request) -> web.Response:
        self.send_calls += 1
        token = request.headers.get("access_token", "")
        if not self.valid(token):
            return _error(-216, "Access token is invalid")
        if request.content_type != "application/json":
            return _error(-201, "body must be JSON")
        try:
            body = json.loads(await request.text())
        except ValueError:
            return _error(-201, "body must be JSON")
        recipient = body.get("recipient") if isinstance(body, dict) else None
        message = body.get("message") if isinstance(body, dict) else None
        user = recipient.get("user_id") if isinstance(recipient, dict) else None
        if not isinstance(user, str) or not user or not isinstance(message, dict):
            return _error(-201, "recipient.user_id and message are required")
        if self._script:
            code, text = self._script.popleft()
            self.refusals.append((user, message, code))
            return _error(code, text)
        problem = _message_problem(message)
        if problem:
            self.refusals.append((user, message, -201))
            return _error(-201, problem)
        if user in self._unfollowed:
            self.refusals.append((user, message, -213))
            return _error(-213, "User has not followed OA")
        last = self._last_interaction.get(user)
        if last is None or self.now - last > WINDOW:
            self.refusals.append((user, message, -230))
            return _error(-230, "User has not interacted with the OA in the past 7 days")
        self.sent.append((user, message))
        return web.json_response({"error": 0, "message": "Success",
                                  "data": {"message_id": secrets.token_hex(10), "user_id": user}})

    # -- OAuth v4 ---------------------------------------------------------------------------------------
    async def _oauth(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") == "authorization_code":
            return self._exchange(request, form)
        self.refresh_calls += 1
        await asyncio.sleep(self.refresh_delay)
        if self.oauth_down:
            self.oauth_down -= 1
            return web.Response(status=502, text="Bad Gateway")
        if request.headers.get("secret_key") != APP_SECRET:
            return self._refuse(-14002, "Invalid secret key", form)
        if form.get("app_id") != APP_ID or form.get("grant_type") != "refresh_token":
            return self._refuse(-14001, "Invalid parameter", form)
        if form.get("refresh_token") != self.refresh_token:
            return self._refuse(-14014, "Invalid refresh token", form)
        access, refresh = self.issue()
        return web.json_response({"access_token": access, "refresh_token": refresh, "expires_in": str(TOKEN_LIFETIME)})

    async def _permission(self, request: web.Request) -> web.Response:
        """The OA administrator allowed the app: Zalo redirects their browser with a code (one use)."""
        query = request.query
        if query.get("app_id") != APP_ID or not query.get("code_challenge") or not query.get("redirect_uri"):
            return web.Response(status=400, text="invalid request")
        code = "AC-" + secrets.token_urlsafe(16)
        self._codes[code] = (query["code_challenge"], query["redirect_uri"])
        sep = "&" if "?" in query["redirect_uri"] else "?"
        raise web.HTTPFound(f"{query['redirect_uri']}{sep}code={code}&oa_id={OA_ID}&state={query.get('state', '')}")

    def _exchange(self, request: web.Request, form) -> web.Response:
        """OAuth v4 authorization_code with PKCE: the verifier must hash to the page's challenge."""
        self.exchanges.append(dict(form))
        if request.headers.get("secret_key") != APP_SECRET:
            return self._refuse(-14002, "Invalid secret key", form)
        issued = self._codes.pop(form.get("code", ""), None)
        if form.get("app_id") != APP_ID or issued is None:
            return self._refuse(-14019, "Invalid authorization code", form)
        verifier = form.get("code_verifier", "")
        expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        if not 43 <= len(verifier) <= 128 or expected != issued[0]:
            return self._refuse(-14020, "Invalid code verifier", form)
        access, refresh = self.issue()
        return web.json_response({"access_token": access, "refresh_token": refresh, "expires_in": str(TOKEN_LIFETIME)})

    # -- ZNS ----------------------------------------------------------------------------------------------
    async def _template(self, request: web.Request) -> web.Response:
        """``POST /message/template``: header access_token, JSON {phone, template_id, template_data,
        tracking_id}; answers {error, message, data: {msg_id, sent_time, quota}}. A tracking id already
        accepted is answered with its first msg id and not sent again (see bot/channels/zalo_notices.py)."""
        self.template_calls += 1
        if not self.valid(request.headers.get("access_token", "")):
            return _error(-124, "Access token is invalid")
        try:
            body = json.loads(await request.text())
        except ValueError:
            return _error(-112, "body must be JSON")
        phone, template, data, tracking = (body.get(k) for k in ("phone", "template_id", "template_data", "tracking_id"))
        if not isinstance(phone, str) or not phone.startswith("84") or not phone.isdigit():
            return _error(-108, "Phone number invalid")
        if not isinstance(template, str) or not template.isdigit():
            return _error(-109, "Template ID invalid")
        if not isinstance(data, dict) or not data or not all(isinstance(v, str) for v in data.values()):
            return _error(-111, "Template data empty")
        if self.zns_script:
            return _error(self.zns_script.popleft(), "scripted failure")
        if self.zns_phones is not None and phone not in self.zns_phones:
            return _error(-118, "Zalo account not existed")
        if isinstance(tracking, str) and tracking in self._tracked:
            msg_id = self._tracked[tracking]
        else:
            msg_id = secrets.token_hex(8)
            self.templates.append((phone, template, data, tracking))
            if isinstance(tracking, str):
                self._tracked[tracking] = msg_id
        return web.json_response({"error": 0, "message": "Success", "data": {
            "msg_id": msg_id, "sent_time": str(int(self.now.timestamp() * 1000)),
            "quota": {"dailyQuota": "500", "remainingQuota": str(500 - len(self.templates))}}})

    # -- CDN ----------------------------------------------------------------------------------------------
    async def _cdn(self, request: web.Request) -> web.Response:
        self.cdn_calls += 1
        status, content_type, body = self.cdn.get(request.match_info["name"], (404, "text/plain", b"not found"))
        return web.Response(status=status, body=body, content_type=content_type)

    def _refuse(self, code: int, name: str, form) -> web.Response:
        self.refused_refreshes.append({"error": code, "refresh_token": form.get("refresh_token")})
        return web.json_response({"error": code, "error_name": name, "error_reason": name,
                                  "error_description": name})


def _error(code: int, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message})


def _user(event: dict) -> str | None:
    for holder in ("sender", "follower"):
        if isinstance(event.get(holder), dict):
            return event[holder].get("id")
    return event.get("user_id")


def _message_problem(message: dict) -> str | None:
    """Why Zalo would refuse this message's shape (None: it is fine)."""
    text = message.get("text")
    attachment = message.get("attachment")
    if text is not None and (not isinstance(text, str) or not text.strip() or len(text) > 2000):
        return "text must be 1-2000 characters"
    if attachment is None:
        return None if text is not None else "message needs text or an attachment"
    if not isinstance(attachment, dict) or attachment.get("type") != "template":
        return "attachment.type must be template"
    payload = attachment.get("payload")
    if not isinstance(payload, dict):
        return "attachment.payload is required"
    kind = payload.get("template_type")
    if kind is None:
        buttons = payload.get("buttons")
        if text is None:
            return "buttons need a text"
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 5:
            return "1-5 buttons"
        for button in buttons:
            if button.get("type") not in QUERY_BUTTONS or not isinstance(button.get("payload"), str):
                return "a query button needs a string payload"
            if not isinstance(button.get("title"), str) or not 1 <= len(button["title"]) <= 100:
                return "button title must be 1-100 characters"
        return None
    elements = payload.get("elements")
    if not isinstance(elements, list) or len(elements) != 1 or not isinstance(elements[0], dict):
        return "one element"
    element = elements[0]
    if kind == "media":
        url = element.get("url")
        return None if element.get("media_type") == "image" and isinstance(url, str) and url.startswith("http") \
            else "an image needs media_type image and a url"
    if kind == "request_user_info":
        ok = (isinstance(element.get("title"), str) and 0 < len(element["title"]) <= 100
              and isinstance(element.get("subtitle"), str) and len(element["subtitle"]) <= 500
              and isinstance(element.get("image_url"), str) and element["image_url"].startswith("http"))
        return None if ok else "request_user_info needs title, subtitle and image_url"
    return f"template_type {kind} is not supported here"
