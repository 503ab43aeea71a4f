"""What every web surface shares to stay safe in a browser: where a request really came from,
cookies that another site cannot read, set or reuse, refusing cross-site writes, and the headers
that keep pages from being framed or running script they did not ship.

    request ──▶ refuse_nul ──▶ origin_refusal (writes only) ──▶ handler ──▶ on_response_prepare: security headers

Behind a reverse proxy (``TIEPDAN_TRUST_PROXY``) the scheme, host and client address come from its
``X-Forwarded-*`` headers; otherwise those headers are ignored, since anyone can send them. The
setting lists the proxies' addresses (or networks): a request from any other peer (someone reaching
a serve process's port directly, around nginx) has its ``X-Forwarded-*`` headers ignored. ``true``
keeps the old meaning, any peer, for a port nothing but the proxy can reach.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import time
from urllib.parse import urlsplit

from aiohttp import web
from multidict import MultiDict

from bot.domain.typed import without_nul
from bot.texts import t

# Pages ship their script and styles as files; a data:/blob: image is the chat's own photo preview.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
                           "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                           "frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "geolocation=(self), camera=(), microphone=(), payment=()",
}
HSTS = "max-age=31536000"
JSON = "application/json"
MULTIPART = "multipart/form-data"


def parse_trusted_proxies(value: bool | str) -> bool | tuple:
    """``TIEPDAN_TRUST_PROXY``: True (any peer), False (none), or the proxies' networks."""
    if isinstance(value, bool):
        return value
    words = [part.strip() for part in value.split(",") if part.strip()]
    if not words or (len(words) == 1 and words[0].lower() in ("false", "0", "no", "off")):
        return False
    if len(words) == 1 and words[0].lower() in ("true", "1", "yes", "on"):
        return True
    networks = []
    for word in words:
        try:
            networks.append(ipaddress.ip_network(word, strict=False))
        except ValueError:
            raise ValueError(f"{word!r} is not an address or network, e.g. 127.0.0.1 or 10.0.0.0/24") from None
    return tuple(networks)


class WebSecurity:
    """The settings-dependent half: trusted proxy, extra allowed origins, and the signing key."""

    def __init__(self, *, trust_proxy: bool | str, allowed_origins: tuple[str, ...] = ()):
        self._trusted = parse_trusted_proxies(trust_proxy)
        self.trust_proxy = bool(self._trusted)
        self.allowed_origins = {origin.rstrip("/").lower() for origin in allowed_origins}
        self._key: bytes | None = None

    # -- where a request came from -------------------------------------------------------------

    def from_proxy(self, request: web.Request) -> bool:
        """Whether the peer is a trusted proxy, whose ``X-Forwarded-*`` headers are believed."""
        if isinstance(self._trusted, bool):
            return self._trusted
        try:
            peer = ipaddress.ip_address((request.remote or "").split("%")[0])
        except ValueError:
            return False  # a Unix socket or no peer: not a listed proxy
        if peer.version == 6 and peer.ipv4_mapped is not None:
            peer = peer.ipv4_mapped
        return any(peer in network for network in self._trusted)

    def is_secure(self, request: web.Request) -> bool:
        if self.from_proxy(request) and "X-Forwarded-Proto" in request.headers:
            return request.headers["X-Forwarded-Proto"].split(",")[0].strip().lower() == "https"
        return request.secure

    def own_origin(self, request: web.Request) -> str:
        host = request.host
        if self.from_proxy(request) and "X-Forwarded-Host" in request.headers:
            host = request.headers["X-Forwarded-Host"].split(",")[0].strip()
        scheme = "https" if self.is_secure(request) else "http"
        return _normal_origin(f"{scheme}://{host}")

    def client_address(self, request: web.Request) -> str:
        """The browser's address: the proxy's last hop added it to X-Forwarded-For (the first entries
        are the client's own claim and can be forged)."""
        if self.from_proxy(request) and "X-Forwarded-For" in request.headers:
            return request.headers["X-Forwarded-For"].split(",")[-1].strip()
        return request.remote or ""

    # -- cross-site writes ---------------------------------------------------------------------

    def origin_refusal(self, request: web.Request, *, content_types: tuple[str, ...]) -> tuple[int, str] | None:
        """Why a state-changing request must be refused, as (HTTP status, text key), or None.

        Only the content types a page of ours sends are accepted: a JSON body cannot be sent from
        another site without a CORS preflight, which is never granted. The Origin header (or the
        Referer's origin when a browser left Origin out) must be this site's own, so a page on a
        sibling subdomain — same site for cookies — is refused too. A multipart upload, which a
        plain HTML form on any site can send, must say where it comes from."""
        content_type = request.content_type.lower()
        if content_type not in content_types:
            return 415, "error.content_type"
        claimed = request.headers.get("Origin")
        if claimed is None and "Referer" in request.headers:
            claimed = _normal_origin(request.headers["Referer"])
        if claimed is None:
            return None if content_type == JSON else (403, "error.cross_site")
        claimed = _normal_origin(claimed)
        if claimed == self.own_origin(request) or claimed in self.allowed_origins:
            return None
        return 403, "error.cross_site"

    # -- cookies -------------------------------------------------------------------------------

    def cookie_name(self, request: web.Request, base: str) -> str:
        """``__Host-`` over HTTPS: the browser then accepts the cookie only from this very host, with
        Secure and Path=/ — a sibling subdomain cannot plant or overwrite it."""
        return f"__Host-{base}" if self.is_secure(request) else base

    def set_cookie(self, response: web.StreamResponse, request: web.Request, base: str, value: str, *,
                   max_age: int | None, samesite: str) -> None:
        response.set_cookie(self.cookie_name(request, base), value, max_age=max_age, path="/", httponly=True,
                            samesite=samesite, secure=self.is_secure(request))

    def clear_cookie(self, response: web.StreamResponse, request: web.Request, base: str, *, samesite: str) -> None:
        response.set_cookie(self.cookie_name(request, base), "", max_age=0, path="/", httponly=True,
                            samesite=samesite, secure=self.is_secure(request),
                            expires="Thu, 01 Jan 1970 00:00:00 GMT")

    # -- signatures ----------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._key is not None

    def use_key(self, key: str) -> None:
        self._key = key.encode()

    def _mac(self, message: str) -> str:
        if self._key is None:
            raise RuntimeError("the signing key is not loaded yet")
        digest = hmac.new(self._key, message.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()

    def sign(self, value: str) -> str:
        return f"{value}.{self._mac(value)}"

    def unsign(self, signed: str) -> str | None:
        """The value of a token this server signed; None for one it did not (a client's own choice)."""
        value, _, mac = signed.rpartition(".")
        if not value or not hmac.compare_digest(mac.encode(), self._mac(value).encode()):
            return None
        return value

    def media_query(self, key: str, *, lifetime: int = 7 * 24 * 3600, now: float | None = None) -> str:
        """A link a platform's servers can fetch without a session (the Zalo Bot fetches a photo it
        is asked to send): valid for ``lifetime`` seconds, for this one photo."""
        expires = int((now if now is not None else time.time()) + lifetime)
        return f"exp={expires}&sig={self._mac(f'media:{key}:{expires}')}"

    def media_link_valid(self, key: str, expires: str, signature: str) -> bool:
        if not (expires.isascii() and expires.isdigit() and len(expires) < 12) or int(expires) < time.time():
            return False
        return hmac.compare_digest(signature.encode(), self._mac(f"media:{key}:{expires}").encode())


def _normal_origin(value: str) -> str:
    """scheme://host[:port] in lower case, default ports left out; "null" stays "null"."""
    parts = urlsplit(value.strip())
    if not parts.scheme or not parts.netloc:
        return value.strip().lower()
    host = parts.netloc.rsplit("@", 1)[-1].lower()
    for scheme, port in (("http", ":80"), ("https", ":443")):
        if parts.scheme.lower() == scheme and host.endswith(port):
            host = host[: -len(port)]
    return f"{parts.scheme.lower()}://{host}"


def browser_language(request: web.Request) -> str:
    """The language of a visitor not known yet: English when the browser asks for it first."""
    return "en" if request.headers.get("Accept-Language", "").lower().startswith("en") else "vi"


def typed_fields(posted) -> MultiDict:
    """A posted form's text fields as a person typed them, without NUL bytes (bot/domain/typed.py);
    files are left to the handler that reads them."""
    return MultiDict((name, without_nul(value)) for name, value in posted.items() if isinstance(value, str))


@web.middleware
async def refuse_nul(request: web.Request, handler):
    """A NUL byte in an address or a query string is never a person's input, and PostgreSQL refuses it
    in text: the request is answered 400 here, in the browser's language, before any handler puts it in
    a query (a console filter answered 500, a media key 503 "database down"). A NUL can only arrive
    percent-encoded, so the raw address is searched, without parsing the query of every request."""
    if "%00" in request.raw_path:
        language = browser_language(request)
        if request.path.startswith("/api/"):  # the web chat's page shows an API's {"error": …}
            return web.json_response({"error": t(language, "error.bad_address")}, status=400)
        return web.Response(status=400, text=t(language, "error.bad_address"), content_type="text/plain")
    return await handler(request)


def security_headers(security: WebSecurity):
    """An ``on_response_prepare`` handler: every response, errors and files included, gets the headers."""

    async def add(request: web.Request, response: web.StreamResponse) -> None:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if security.is_secure(request):
            response.headers.setdefault("Strict-Transport-Security", HSTS)

    return add
