"""Authorising the Official Account: OAuth v4 with PKCE, end to end.

``tiepdan zalo authorize`` prints the permission URL; an administrator of the OA opens it, logs in
to Zalo and allows the app; Zalo redirects the browser to ``/zalo/oauth/callback?code=…&state=…``;
the callback checks the state, exchanges the code and stores the token pair in ``zalo_tokens``
through the token store (bot/channels/zalo_api.py). A running channel that was waiting for an
authorisation finds the pair within seconds (it looks every ``AUTH_RECHECK``).

Shapes (developers.zalo.me official-account/bat-dau/xac-thuc-va-uy-quyen-cho-ung-dung-new, as public
integrations use them): ``GET https://oauth.zaloapp.com/v4/oa/permission?app_id=&redirect_uri=
&code_challenge=&state=`` where code_challenge = BASE64URL(SHA-256(code_verifier)) without padding;
``POST https://oauth.zaloapp.com/v4/oa/access_token``, header ``secret_key`` (the app secret), form
``code, app_id, grant_type=authorization_code, code_verifier``.

Why server-side: the verifier must never travel with the URL. It is stored with a hash of the state
(the state itself is not stored, so a database read does not let anyone finish someone's flow), lives
``STATE_LIFETIME``, and is used once: a replayed or forged callback gets a plain refusal page.
"""

from __future__ import annotations

import base64
import hashlib
import html
import logging
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import delete, select

from bot.channels.zalo_api import ZaloAuthError, ZaloUnavailable, seed_digest
from bot.texts import t
from storage.models import ZaloToken, utcnow
from storage.models_zalo import ZaloOAuthState

log = logging.getLogger(__name__)

PERMISSION_PATH = "/v4/oa/permission"
CALLBACK_PATH = "/zalo/oauth/callback"
STATE_LIFETIME = timedelta(minutes=15)


def challenge_of(verifier: str) -> str:
    """The PKCE S256 challenge of ``verifier`` (RFC 7636 §4.2)."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def redirect_uri(settings) -> str:
    if not settings.zalo_oa_public_url:
        raise ValueError("TIEPDAN_ZALO_OA_PUBLIC_URL is not set: Zalo must know where to send the administrator back")
    return settings.zalo_oa_public_url + CALLBACK_PATH


async def begin(uows, settings, *, now: datetime | None = None) -> str:
    """A new authorisation: its verifier stored under the state's hash; returns the permission URL."""
    now = now or utcnow()
    verifier = secrets.token_urlsafe(64)  # 86 characters of the unreserved set: within 43–128
    state = secrets.token_urlsafe(24)
    uri = redirect_uri(settings)
    async with uows() as uow:
        await uow.session.execute(delete(ZaloOAuthState).where(ZaloOAuthState.expires_at < now))
        uow.session.add(ZaloOAuthState(state_hash=_state_hash(state), app_id=settings.zalo_oa_app_id,
                                       code_verifier=verifier, redirect_uri=uri, created_at=now,
                                       expires_at=now + STATE_LIFETIME))
        await uow.commit()
    query = urlencode({"app_id": settings.zalo_oa_app_id, "redirect_uri": uri,
                       "code_challenge": challenge_of(verifier), "state": state})
    return f"{settings.zalo_oa_oauth_url}{PERMISSION_PATH}?{query}"


class AuthorizationRefused(Exception):
    """The callback cannot complete: ``key`` names the text that says why."""

    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


async def _take_state(uows, state: str, now: datetime) -> ZaloOAuthState:
    """The pending authorisation of ``state``, marked used in the same transaction (single use)."""
    async with uows() as uow:
        query = select(ZaloOAuthState).where(ZaloOAuthState.state_hash == _state_hash(state))
        if uow.dialect == "postgresql":
            query = query.with_for_update()
        row = (await uow.session.execute(query)).scalar_one_or_none()
        if row is None or row.used_at is not None:
            raise AuthorizationRefused("zalo.oauth.unknown_state")
        if row.expires_at <= now:
            raise AuthorizationRefused("zalo.oauth.expired")
        row.used_at = now
        await uow.commit()
        return row


async def complete(uows, client, settings, state: str, code: str, *, now: datetime | None = None) -> None:
    """Check the state, exchange the code with its verifier, store the pair. Raises AuthorizationRefused."""
    now = now or utcnow()
    pending = await _take_state(uows, state, now)
    try:
        answer = await client.exchange_code(code, pending.code_verifier)
    except ZaloAuthError as exc:
        raise AuthorizationRefused("zalo.oauth.refused") from exc
    except ZaloUnavailable as exc:
        raise AuthorizationRefused("zalo.oauth.unreachable") from exc
    await store_pair(uows, settings, answer, now)
    client.tokens.forget()
    log.info("zalo oa: authorised; a new token pair is stored")


async def store_pair(uows, settings, answer: dict, now: datetime) -> None:
    """Store an authorisation's pair as the OA's current one. ``seeded_from`` is set to the configured
    refresh token's digest, so a restart does not put the configured (older) token back."""
    configured = settings.zalo_oa_refresh_token or answer["refresh_token"]
    expires_at = now + timedelta(seconds=int(answer.get("expires_in") or 0)) if answer.get("expires_in") else None
    async with uows() as uow:
        query = select(ZaloToken).where(ZaloToken.app_id == settings.zalo_oa_app_id)
        if uow.dialect == "postgresql":
            query = query.with_for_update()
        row = (await uow.session.execute(query)).scalar_one_or_none()
        if row is None:
            row = ZaloToken(app_id=settings.zalo_oa_app_id)
            uow.session.add(row)
        row.access_token, row.refresh_token = answer["access_token"], answer["refresh_token"]
        row.expires_at = expires_at
        row.seeded_from, row.updated_at = seed_digest(configured), utcnow()
        await uow.commit()


def page(language: str, key: str, status: int) -> web.Response:
    """A short page for the administrator's browser, in both languages, without any token."""
    other = "en" if language == "vi" else "vi"
    body = (f"<!doctype html><meta charset=utf-8><title>tiepdan</title>"
            f"<p>{html.escape(t(language, key))}</p><p lang={other}>{html.escape(t(other, key))}</p>")
    return web.Response(status=status, text=body, content_type="text/html",
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


async def callback(request: web.Request, uows, client, settings) -> web.Response:
    language = settings.default_language.value
    state, code = request.query.get("state", ""), request.query.get("code", "")
    if not state or len(state) > 200:
        return page(language, "zalo.oauth.unknown_state", 400)
    if not code or len(code) > 2000:
        # Zalo sends the administrator back without a code when they did not allow the app.
        return page(language, "zalo.oauth.denied", 400)
    try:
        await complete(uows, client, settings, state, code)
    except AuthorizationRefused as refused:
        log.warning("zalo oa: authorisation callback refused (%s)", refused.key)
        return page(language, refused.key, 400 if refused.key != "zalo.oauth.unreachable" else 502)
    return page(language, "zalo.oauth.done", 200)
