"""The Zalo Official Account Open API v3 and OAuth v4, as tiepdan uses them: one HTTP client, the
token store, and the shapes of the messages we send.

What the platform expects (developers.zalo.me: official-account/tin-nhan/tin-tu-van/gui-tin-tu-van,
official-account/bat-dau/xac-thuc-va-uy-quyen-cho-ung-dung-new; cross-checked against public
integrations because the official pages are not in our reference corpus):

- Send a consultation message ("tin tư vấn"): ``POST https://openapi.zalo.me/v3.0/oa/message/cs``,
  header ``access_token``, JSON ``{"recipient": {"user_id": ...}, "message": {...}}``. Zalo answers
  HTTP 200 either way: ``{"error": 0, "message": "Success", "data": {"message_id": ...}}``, or
  ``error`` < 0 with a ``message`` — that is a failure with its code, not a success.
- ``message``: ``{"text": ...}`` (at most 2000 characters); text with buttons
  ``{"text": ..., "attachment": {"type": "template", "payload": {"buttons": [{"type": "oa.query.hide",
  "title": ..., "payload": "..."}]}}}`` (at most 5 buttons; a tap on ``oa.query.hide`` sends the
  payload back as a ``user_send_text`` event without showing it in the chat); an image
  ``{"attachment": {"type": "template", "payload": {"template_type": "media", "elements":
  [{"media_type": "image", "url": ...}]}}}``; a contact request ``template_type: "request_user_info"``
  with one element ``{"title", "subtitle", "image_url"}``, answered by a ``user_submit_info`` event.
- Error codes we act on: -216 access token invalid and -220 expired (refresh once, retry once);
  -230 user has not interacted in the past 7 days and -232 no interaction or it expired (the
  messaging window: hold); -213 user does not follow the OA (hold); -227 user banned or inactive and
  -244 user restricted these messages (hold as blocked); -32 the app reached its rate limit, -211 out
  of quota, -218 the user's receiving limit (retry later without spending an attempt); -201 invalid
  parameter, -210 parameter over its limit, -233 message type not supported, -100 attachment expired
  (refused, never retried). Anything else is retried with back-off.
- OAuth v4 refresh: ``POST https://oauth.zaloapp.com/v4/oa/access_token``, header ``secret_key``
  (the app's secret key), form ``app_id``, ``grant_type=refresh_token``, ``refresh_token``; answer
  ``{"access_token", "refresh_token", "expires_in": "90000"}`` (seconds, as a string: 25 hours). A
  refresh token works once and lives about 3 months; every refresh returns the next one, so the new
  pair must be stored before anything else can refresh — one refresh at a time across processes.

- Template notices (ZNS, zalo.cloud/zns): ``POST https://business.openapi.zalo.me/message/template``,
  header ``access_token`` (the OA's), JSON ``{"phone": "84…", "template_id", "template_data": {...},
  "tracking_id"}``; answer ``{"error": 0, "message", "data": {"msg_id", "sent_time", "quota"}}``;
  -124 is ZNS's invalid access token (refresh once, retry once). What the other codes mean for a
  notice: bot/channels/zalo_notices.py.
- OAuth v4 authorisation (bot/channels/zalo_oauth.py): the same token endpoint with
  ``grant_type=authorization_code``, ``code`` and the PKCE ``code_verifier``.

Unclear in what we could find: the exact title limit of a button (we cut at 100 characters), the
error code OAuth returns for a reused refresh token (we treat any answer without an access token as
a refusal), and whether an old access token keeps working after a refresh (we assume not: a refused
token is refreshed only if no other process has replaced it already).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import select

from storage.models import ZaloToken, utcnow

log = logging.getLogger(__name__)

SEND_PATH = "/v3.0/oa/message/cs"
OAUTH_PATH = "/v4/oa/access_token"
TEXT_LIMIT = 2000
MAX_BUTTONS = 5
BUTTON_TITLE_LIMIT = 100
TOKEN_ERRORS = (-216, -220)
ZNS_PATH = "/message/template"
ZNS_TOKEN_ERRORS = (-124, -216, -220)  # ZNS says -124 for an invalid access token
RATE_LIMITED = -32
RATE_LIMIT_PAUSE = 60.0  # seconds every send waits after Zalo says the app is over its rate limit
REFRESH_MARGIN = timedelta(minutes=5)  # refresh an access token this long before it expires
TIMEOUT = aiohttp.ClientTimeout(total=10)


class ZaloAPIError(Exception):
    """Zalo answered with ``error != 0``."""

    def __init__(self, code: int, message: str):
        super().__init__(f"zalo error {code}: {message}")
        self.code = code
        self.message = message


class ZaloUnavailable(Exception):
    """No usable answer: a network failure, a timeout, a 5xx, or a body that is not Zalo's JSON."""


class ZaloRateLimited(Exception):
    def __init__(self, reason: str, after: float):
        super().__init__(reason)
        self.after = after


class ZaloAuthError(Exception):
    """OAuth would not refresh the token (the refresh token expired, was used, or the app secret is
    wrong): an administrator must authorise the OA again and configure the new pair."""


# -- message shapes ------------------------------------------------------------------------------------

def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split at paragraph or line breaks where possible so no part exceeds ``limit`` characters."""
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n\n", 0, limit)
        if cut <= limit // 2:
            cut = text.rfind("\n", 0, limit)
        if cut <= limit // 2:
            cut = limit
        parts.append(text[:cut].rstrip("\n"))
        text = text[cut:].lstrip("\n")
    parts.append(text)
    return [part for part in parts if part.strip()] or parts[:1]


def text_message(text: str) -> dict[str, Any]:
    return {"text": text}


def buttons_message(text: str, buttons: list[tuple[str, str]]) -> dict[str, Any]:
    """Text with up to five buttons; a tap sends ``payload`` back, hidden from the chat."""
    return {"text": text, "attachment": {"type": "template", "payload": {"buttons": [
        {"type": "oa.query.hide", "title": title[:BUTTON_TITLE_LIMIT], "payload": payload}
        for title, payload in buttons]}}}


def image_message(url: str) -> dict[str, Any]:
    return {"attachment": {"type": "template", "payload": {
        "template_type": "media", "elements": [{"media_type": "image", "url": url}]}}}


def contact_request(title: str, subtitle: str, image_url: str) -> dict[str, Any]:
    """Zalo's card that lets the user share the name, phone and address their account holds."""
    return {"attachment": {"type": "template", "payload": {"template_type": "request_user_info", "elements": [
        {"title": title[:100], "subtitle": subtitle[:500], "image_url": image_url}]}}}


# -- tokens --------------------------------------------------------------------------------------------

def seed_digest(refresh_token: str) -> str:
    return hashlib.sha256(refresh_token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenPair:
    access_token: str | None
    expires_at: datetime | None


class TokenStore:
    """The OA's access token, refreshed before it expires and when Zalo refuses it.

    The pair lives in ``zalo_tokens``. A refresh happens inside a transaction that holds the row —
    SELECT ... FOR UPDATE on PostgreSQL; on SQLite every transaction starts with BEGIN IMMEDIATE
    (storage/db.py), which already serialises writers — and reads the row again once it holds it: if
    another sender or process refreshed meanwhile, its token is used and OAuth is not called. Inside
    one process an asyncio.Lock keeps concurrent senders from even queueing on the database.

    A refresh token OAuth refused is remembered: until another pair is stored (the OA authorised
    again and the new pair configured, by this process or another), asking for a token raises
    ``ZaloAuthError`` at once instead of calling OAuth with it again for every message.
    """

    def __init__(self, uows, app_id: str, refresh: Callable[[str], Awaitable[dict]], *,
                 clock: Callable[[], datetime] = utcnow):
        self.uows = uows
        self.app_id = app_id
        self._refresh = refresh
        self.clock = clock
        self._lock = asyncio.Lock()
        self._current: TokenPair | None = None
        self._refused: str | None = None  # the refresh token OAuth refused

    async def seed(self, access_token: str | None, refresh_token: str) -> None:
        """Store the configured pair unless the database already holds its successors. A different
        configured refresh token (the OA was authorised again) replaces what is stored."""
        digest = seed_digest(refresh_token)
        async with self.uows() as uow:
            row = await self._row(uow)
            if row is None:
                uow.session.add(ZaloToken(app_id=self.app_id, access_token=access_token, refresh_token=refresh_token,
                                          expires_at=None, seeded_from=digest, updated_at=utcnow()))
            elif row.seeded_from != digest:
                row.access_token, row.refresh_token, row.expires_at = access_token, refresh_token, None
                row.seeded_from, row.updated_at = digest, utcnow()
            else:
                return
            await uow.commit()
        self._current = None

    def forget(self) -> None:
        """A new pair was stored (an authorisation): read it from the database next time."""
        self._current, self._refused = None, None

    async def access_token(self) -> str:
        current = self._current
        if current is not None and current.access_token and not self._due(current.expires_at):
            return current.access_token
        return await self._refresh_if(lambda row: not row.access_token or self._due(row.expires_at))

    async def usable(self) -> None:
        """Raise unless a token can be had now: ``ZaloAuthError`` while the stored pair is the one
        OAuth refused, ``ZaloUnavailable`` if a token must be refreshed and OAuth cannot be reached."""
        await self.access_token()

    async def keep_fresh(self, ahead: timedelta) -> None:
        """Refresh now if the token expires within ``ahead`` (or its expiry is unknown): a quiet OA
        otherwise lets its refresh token lapse after about three months and must be authorised again."""
        await self._refresh_if(lambda row: not row.access_token or row.expires_at is None
                               or row.expires_at - ahead <= self.clock())

    async def refused(self, token: str) -> str:
        """Zalo refused ``token``: a fresh one, refreshing only if nobody has replaced it yet."""
        return await self._refresh_if(
            lambda row: not row.access_token or row.access_token == token or self._due(row.expires_at))

    def _due(self, expires_at: datetime | None) -> bool:
        # An unknown expiry (a configured token) is used until Zalo refuses it.
        return expires_at is not None and expires_at - REFRESH_MARGIN <= self.clock()

    async def _row(self, uow) -> ZaloToken | None:
        query = select(ZaloToken).where(ZaloToken.app_id == self.app_id)
        if uow.dialect == "postgresql":
            query = query.with_for_update()
        return (await uow.session.execute(query)).scalar_one_or_none()

    async def _refresh_if(self, stale: Callable[[ZaloToken], bool]) -> str:
        async with self._lock:
            async with self.uows() as uow:
                row = await self._row(uow)  # holds the row until commit: no other refresh meanwhile
                if row is None:
                    raise ZaloAuthError("no Zalo OA tokens stored")
                if row.refresh_token == self._refused:
                    raise ZaloAuthError("zalo oauth refused the stored refresh token; authorise the OA again")
                if not stale(row):
                    self._current = TokenPair(row.access_token, row.expires_at)
                    return row.access_token
                try:
                    answer = await self._refresh(row.refresh_token)
                except ZaloAuthError:
                    self._refused, self._current = row.refresh_token, None
                    raise
                row.access_token, row.refresh_token = answer["access_token"], answer["refresh_token"]
                row.expires_at = self.clock() + timedelta(seconds=int(answer["expires_in"]))
                row.updated_at = utcnow()
                try:
                    await uow.commit()
                except Exception:
                    # Zalo has already retired the old refresh token: without this pair nobody can refresh.
                    log.critical("zalo oa: a refreshed token pair could not be stored; authorise the OA again")
                    raise
                self._current = TokenPair(row.access_token, row.expires_at)
                log.info("zalo oa: access token refreshed, valid until %s", row.expires_at.isoformat())
                return row.access_token


# -- the client ----------------------------------------------------------------------------------------

class ZaloOAClient:
    """Sends messages as the OA, within the app's request rate, with a valid access token."""

    def __init__(self, uows, *, app_id: str, app_secret: str, api_url: str, oauth_url: str,
                 requests_per_second: float, clock: Callable[[], datetime] = utcnow):
        self.app_id = app_id
        self._app_secret = app_secret
        self.api_url = api_url.rstrip("/")
        self.oauth_url = oauth_url.rstrip("/")
        self.tokens = TokenStore(uows, app_id, self._oauth_refresh, clock=clock)
        self._session: aiohttp.ClientSession | None = None
        self._rate = requests_per_second
        self._allowance = requests_per_second
        self._stamp: float | None = None
        self._pacing = asyncio.Lock()
        self._paused_until = 0.0

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, user_id: str, message: dict[str, Any]) -> str | None:
        """Send one message; returns Zalo's message id. Raises ZaloAPIError, ZaloRateLimited,
        ZaloUnavailable or ZaloAuthError."""
        token = await self.tokens.access_token()
        answer = await self._post_message(token, user_id, message)
        if answer["error"] in TOKEN_ERRORS:
            log.info("zalo oa: access token refused (%s), refreshing", answer["error"])
            answer = await self._post_message(await self.tokens.refused(token), user_id, message)
        if answer["error"] != 0:
            raise ZaloAPIError(answer["error"], str(answer.get("message", "")))
        data = answer.get("data")
        return str(data.get("message_id")) if isinstance(data, dict) and data.get("message_id") else None

    async def _post_message(self, token: str, user_id: str, message: dict[str, Any]) -> dict:
        await self._wait_for_quota()
        try:
            async with self._http().post(f"{self.api_url}{SEND_PATH}", headers={"access_token": token},
                                         json={"recipient": {"user_id": user_id}, "message": message}) as response:
                if response.status == 429:
                    after = _seconds(response.headers.get("Retry-After"), RATE_LIMIT_PAUSE)
                    self._pause(after)
                    raise ZaloRateLimited("zalo: HTTP 429", after)
                if response.status >= 300:
                    raise ZaloUnavailable(f"zalo: HTTP {response.status}")
                answer = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ZaloUnavailable(f"zalo: {type(exc).__name__}") from exc
        if not isinstance(answer, dict) or not isinstance(answer.get("error"), int):
            raise ZaloUnavailable("zalo: an answer without an error code")
        if answer["error"] == RATE_LIMITED:
            self._pause(RATE_LIMIT_PAUSE)
            raise ZaloRateLimited(f"zalo error {RATE_LIMITED}: {answer.get('message', '')}", RATE_LIMIT_PAUSE)
        return answer

    async def _oauth_refresh(self, refresh_token: str) -> dict:
        form = {"app_id": self.app_id, "grant_type": "refresh_token", "refresh_token": refresh_token}
        return await self._oauth_call(form, "refresh the token")

    async def _oauth_call(self, form: dict[str, str], what: str) -> dict:
        try:
            async with self._http().post(f"{self.oauth_url}{OAUTH_PATH}", data=form,
                                         headers={"secret_key": self._app_secret}) as response:
                if response.status >= 500:
                    raise ZaloUnavailable(f"zalo oauth: HTTP {response.status}")
                answer = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ZaloUnavailable(f"zalo oauth: {type(exc).__name__}") from exc
        if not isinstance(answer, dict) or not answer.get("access_token") or not answer.get("refresh_token"):
            code = answer.get("error") if isinstance(answer, dict) else None
            log.error("zalo oa: OAuth refused to %s (error %s); authorise the OA again", what, code)
            raise ZaloAuthError(f"zalo oauth refused to {what} (error {code})")
        try:
            int(answer.get("expires_in", 0))
        except (TypeError, ValueError) as exc:
            raise ZaloUnavailable("zalo oauth: expires_in is not a number") from exc
        return answer

    async def send_template(self, zns_url: str, phone: str, template_id: str, data: dict[str, str],
                            tracking_id: str) -> dict:
        """Send a template notice (ZNS) to ``phone`` (84…); returns Zalo's ``data`` ({msg_id, sent_time,
        quota}). The same tracking id is sent again on a retry after a crash. Raises ZaloAPIError,
        ZaloRateLimited, ZaloUnavailable or ZaloAuthError."""
        body = {"phone": phone, "template_id": template_id, "template_data": data, "tracking_id": tracking_id}
        token = await self.tokens.access_token()
        answer = await self._post_template(zns_url, token, body)
        if answer["error"] in ZNS_TOKEN_ERRORS:
            log.info("zalo zns: access token refused (%s), refreshing", answer["error"])
            answer = await self._post_template(zns_url, await self.tokens.refused(token), body)
        if answer["error"] != 0:
            raise ZaloAPIError(answer["error"], str(answer.get("message", "")))
        return answer.get("data") if isinstance(answer.get("data"), dict) else {}

    async def _post_template(self, zns_url: str, token: str, body: dict) -> dict:
        await self._wait_for_quota()
        try:
            async with self._http().post(f"{zns_url.rstrip('/')}{ZNS_PATH}", headers={"access_token": token},
                                         json=body) as response:
                if response.status == 429:
                    raise ZaloRateLimited("zalo zns: HTTP 429", _seconds(response.headers.get("Retry-After"),
                                                                         RATE_LIMIT_PAUSE))
                if response.status >= 300:
                    raise ZaloUnavailable(f"zalo zns: HTTP {response.status}")
                answer = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ZaloUnavailable(f"zalo zns: {type(exc).__name__}") from exc
        if not isinstance(answer, dict) or not isinstance(answer.get("error"), int):
            raise ZaloUnavailable("zalo zns: an answer without an error code")
        return answer

    async def exchange_code(self, code: str, code_verifier: str) -> dict:
        """OAuth v4 with PKCE: the authorisation code and its verifier for the OA's first token pair
        (``{"access_token", "refresh_token", "expires_in"}``). Raises ZaloAuthError when refused."""
        form = {"app_id": self.app_id, "grant_type": "authorization_code", "code": code,
                "code_verifier": code_verifier}
        return await self._oauth_call(form, "exchange the authorisation code")

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise ZaloUnavailable("zalo: the client is not started")
        return self._session

    def _pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, asyncio.get_running_loop().time() + seconds)

    async def _wait_for_quota(self) -> None:
        """A token bucket over every call of this process: ``requests_per_second`` after a burst of
        as many; while Zalo has said the app is over its limit, calls fail fast instead."""
        async with self._pacing:
            loop = asyncio.get_running_loop()
            now = loop.time()
            if now < self._paused_until:
                raise ZaloRateLimited("zalo: pausing after a rate-limit answer", self._paused_until - now)
            if self._stamp is not None:
                self._allowance = min(self._rate, self._allowance + (now - self._stamp) * self._rate)
            self._stamp = now
            if self._allowance < 1.0:
                delay = (1.0 - self._allowance) / self._rate
                await asyncio.sleep(delay)
                self._stamp, self._allowance = now + delay, 1.0
            self._allowance -= 1.0


def _seconds(value: str | None, default: float) -> float:
    try:
        return max(1.0, float(value)) if value else default
    except ValueError:
        return default
