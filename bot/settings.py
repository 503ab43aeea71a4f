"""Settings from environment variables (prefix ``TIEPDAN_``) and an optional ``.env`` file."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class TelegramMode(str, Enum):
    polling = "polling"
    webhook = "webhook"


class Language(str, Enum):
    vi = "vi"
    en = "en"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TIEPDAN_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = "sqlite+aiosqlite:///./tiepdan.db"
    web_host: str = "127.0.0.1"
    web_port: int = Field(8080, ge=1, le=65535)
    timezone: str = "Asia/Ho_Chi_Minh"
    default_language: Language = Language.vi

    telegram_token: str | None = None
    telegram_base_url: str | None = None
    telegram_mode: TelegramMode = TelegramMode.polling
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: str | None = None
    telegram_per_chat_rate: float = Field(1.0, gt=0, le=1000)
    # Updates of different chats handled at once (one chat's stay in order); they share transactions.
    telegram_concurrent_updates: int = Field(128, ge=1, le=1024)

    # Zalo Official Account (bot/channels/zalo_oa.py): runs only when the app id is set.
    zalo_oa_app_id: str | None = None
    zalo_oa_secret_key: str | None = None  # the OA secret key: webhook signatures
    zalo_oa_app_secret: str | None = None  # the app's secret key: the OAuth header
    zalo_oa_access_token: str | None = None  # initial pair from the OA's authorisation; rotated in the database
    zalo_oa_refresh_token: str | None = None
    zalo_oa_webhook_path: str = "/zalo/webhook"
    zalo_oa_api_url: str = "https://openapi.zalo.me"
    zalo_oa_oauth_url: str = "https://oauth.zaloapp.com"
    zalo_oa_requests_per_second: float = Field(8.0, gt=0, le=1000)
    zalo_oa_info_image_url: str | None = None  # picture on the "share your contact details" card
    # Which secret closes the webhook signature (README "Deploying on Zalo": the sources disagree).
    zalo_oa_signature_secret: Literal["oa_secret_key", "app_secret"] = "oa_secret_key"
    # This server as Zalo reaches it (https://tiepdan.example.vn): the OAuth callback of `tiepdan zalo
    # authorize` is <it>/zalo/oauth/callback, and copied photos are sent to Zalo as signed links under it.
    zalo_oa_public_url: str | None = None
    # Template notices (ZNS, bot/channels/zalo_notices.py) for notices the 7-day window holds.
    zalo_zns_url: str = "https://business.openapi.zalo.me"
    # Hosts whose photo links are copied on receipt (bot/channels/zalo_photos.py), comma-separated.
    zalo_oa_photo_hosts: str = "zdn.vn,zadn.vn,zalo.me,zaloapp.com"
    zalo_zns_quiet_from: int = Field(21, ge=0, le=23)  # local hour when template notices stop for the night
    zalo_zns_quiet_until: int = Field(7, ge=0, le=23)  # local hour when they may go again
    zalo_zns_poll_seconds: float = Field(60.0, gt=0, le=3600)

    # Zalo Bot Platform (bot/channels/zalo_bot.py): runs only when a token is set.
    zalo_bot_token: str | None = None
    zalo_bot_base_url: str = "https://bot-api.zaloplatforms.com"
    zalo_bot_mode: Literal["polling", "webhook"] = "polling"
    zalo_bot_webhook_url: str | None = None
    zalo_bot_webhook_secret: str | None = None

    max_text_length: int = Field(4000, ge=100, le=4096)
    max_photo_bytes: int = Field(5 * 1024 * 1024, ge=10_000, le=20 * 1024 * 1024)
    outbox_max_attempts: int = Field(8, ge=1, le=100)
    sweep_interval_seconds: int = Field(60, ge=1, le=3600)
    # Local hour (``timezone``) from which officers get their morning digest, once a day (scheduler/sweep.py).
    digest_hour: int = Field(7, ge=0, le=23)
    # Per-user flood limit (handlers/flood.py): a burst, then this many messages a second.
    flood_burst: int = Field(20, ge=1, le=100_000)
    flood_rate: float = Field(1.0, gt=0, le=10_000)

    # Web security (bot/web_security.py, bot/staff_sessions.py).
    # Honour X-Forwarded-Proto/-Host/-For only from these proxies: comma-separated addresses or networks
    # (e.g. 127.0.0.1 for an nginx on the same machine); "true" trusts any peer (the old boolean meaning:
    # only when nothing else can reach the port), "" or "false" none (bot/web_security.py).
    trust_proxy: str = ""
    allowed_origins: str = ""  # comma-separated extra origins allowed to post, e.g. https://xa.gov.vn
    staff_session_idle_minutes: int = Field(30, ge=1, le=24 * 60)
    staff_session_hours: int = Field(12, ge=1, le=7 * 24)
    # The staff console (bot/console/): the address its one-time login links (/console in a chat) point
    # at, e.g. https://tiepdan.xa.gov.vn; empty: http://WEB_HOST:WEB_PORT. Links last this many minutes.
    console_url: str = Field("", pattern=r"^(https?://[^\s/?#]+)?$")
    console_login_minutes: int = Field(10, ge=1, le=60)

    # Connections (bot/web_server.py): idle and slow ones closed, their number bounded.
    max_connections: int = Field(4000, ge=16, le=1_000_000)
    keepalive_seconds: float = Field(15.0, gt=0, le=3600)
    body_timeout_seconds: float = Field(20.0, gt=0, le=600)
    # Requests a second from one client address to the web chat (several people may share one).
    flood_address_burst: int = Field(60, ge=1, le=1_000_000)
    flood_address_rate: float = Field(5.0, gt=0, le=100_000)

    # Retention (scheduler/retention.py): what anonymous traffic leaves is deleted after this long.
    retention_anonymous_days: int = Field(30, ge=1, le=3650)
    retention_upload_hours: int = Field(24, ge=1, le=24 * 365)

    # The escalation ladder (scheduler/sweep.py): working days overdue before the commune's chairman,
    # then the province's overseer, is told. The province's own rule, not the law's.
    escalate_commune_after_working_days: int = Field(5, ge=1, le=365)
    escalate_province_after_working_days: int = Field(10, ge=1, le=365)

    # Prometheus metrics (bot/metrics.py) on their own port, never on the public web app; 0 = off.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(9464, ge=0, le=65535)

    # Public pages (bot/public/): where their "chat about this" links lead besides the web chat — the
    # bot's Telegram username (t.me/<it>) and the Official Account's Zalo link (https://zalo.me/<OA id>).
    public_telegram_username: str | None = Field(None, pattern=r"^[A-Za-z][A-Za-z0-9_]{4,31}$")
    public_zalo_url: str | None = Field(None, pattern=r"^https://zalo\.me/[A-Za-z0-9_./-]+$")

    # Zalo OA webhook events older than this (their ``timestamp``) are acknowledged and not processed.
    zalo_oa_event_max_age_seconds: int = Field(300, ge=10, le=7 * 24 * 3600)

    # The dashboard's map (bot/reports/): a tile server's URL template such as
    # https://tile.openstreetmap.org/{z}/{x}/{y}.png turns on an interactive map under the hot spots;
    # empty (the default) keeps the static map, which works offline.
    map_tiles_url: str = ""
    map_tiles_attribution: str = "© OpenStreetMap contributors"

    @field_validator("map_tiles_url")
    @classmethod
    def _tiles(cls, value: str) -> str:
        value = value.strip()
        if value and (not value.startswith(("https://", "http://")) or not all(
                part in value for part in ("{z}", "{x}", "{y}")) or any(c in value for c in " '\"<>;")
                or "{" in value.split("/")[2]):  # a fixed host: the page's security policy names it
            raise ValueError(f"{value!r} is not a tile URL like https://tile.example.vn/{{z}}/{{x}}/{{y}}.png")
        return value

    @property
    def map_tiles_origin(self) -> str | None:
        """The tile server's origin, which the dashboard's Content-Security-Policy lets images come from."""
        if not self.map_tiles_url:
            return None
        from urllib.parse import urlsplit

        parts = urlsplit(self.map_tiles_url)
        return f"{parts.scheme}://{parts.netloc}"

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            value = "postgresql+asyncpg://" + value.split("://", 1)[1]
        if not (value.startswith("sqlite+aiosqlite://") or value.startswith("postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _secret_charset(cls, value: str | None) -> str | None:
        # Telegram accepts 1-256 characters A-Z, a-z, 0-9, _ and -.
        if value is not None and not (1 <= len(value) <= 256 and all(c.isalnum() or c in "_-" for c in value)):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ or -")
        return value

    @field_validator("zalo_bot_base_url")
    @classmethod
    def _zalo_bot_base(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (or http:// for a local server)")
        return value.rstrip("/")

    @field_validator("zalo_bot_webhook_url")
    @classmethod
    def _zalo_bot_https(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError("must be an https:// address (the Zalo Bot Platform calls only HTTPS)")
        return value

    @field_validator("zalo_bot_webhook_secret")
    @classmethod
    def _zalo_bot_secret(cls, value: str | None) -> str | None:
        # setWebhook takes a secret_token of 8-256 characters; it travels back in an HTTP header.
        if value is not None and not (8 <= len(value) <= 256 and all(33 <= ord(c) <= 126 for c in value)):
            raise ValueError("must be 8-256 characters without spaces (letters, digits, punctuation)")
        return value

    @model_validator(mode="after")
    def _zalo_bot_webhook_complete(self) -> "Settings":
        if self.zalo_bot_token and self.zalo_bot_mode == "webhook":
            if not self.zalo_bot_webhook_url:
                raise ValueError("TIEPDAN_ZALO_BOT_WEBHOOK_URL is required when TIEPDAN_ZALO_BOT_MODE=webhook")
            if not self.zalo_bot_webhook_secret:
                raise ValueError("TIEPDAN_ZALO_BOT_WEBHOOK_SECRET is required when TIEPDAN_ZALO_BOT_MODE=webhook")
        return self

    @model_validator(mode="after")
    def _webhook_complete(self) -> "Settings":
        if self.telegram_token and self.telegram_mode is TelegramMode.webhook:
            if not self.telegram_webhook_url:
                raise ValueError("TIEPDAN_TELEGRAM_WEBHOOK_URL is required when TIEPDAN_TELEGRAM_MODE=webhook")
            if not self.telegram_webhook_secret:
                raise ValueError("TIEPDAN_TELEGRAM_WEBHOOK_SECRET is required when TIEPDAN_TELEGRAM_MODE=webhook")
        return self

    @field_validator("zalo_oa_webhook_path")
    @classmethod
    def _zalo_oa_path(cls, value: str) -> str:
        if not value.startswith("/") or any(c.isspace() for c in value):
            raise ValueError("must be a path starting with /, e.g. /zalo/webhook")
        return value

    @field_validator("zalo_oa_api_url", "zalo_oa_oauth_url", "zalo_oa_info_image_url", "zalo_zns_url",
                     "zalo_oa_public_url")
    @classmethod
    def _zalo_oa_urls(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (or http:// for a local server)")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _zalo_oa_complete(self) -> "Settings":
        # The refresh token may come later, from `tiepdan zalo authorize` (stored in the database).
        names = ("zalo_oa_app_id", "zalo_oa_secret_key", "zalo_oa_app_secret")
        given = [name for name in names if getattr(self, name)]
        if given and len(given) < len(names):
            missing = next(name for name in names if not getattr(self, name))
            raise ValueError(f"TIEPDAN_{missing.upper()} is required when TIEPDAN_{given[0].upper()} is set")
        return self

    @property
    def zalo_oa_enabled(self) -> bool:
        return bool(self.zalo_oa_app_id)

    @field_validator("trust_proxy", mode="before")
    @classmethod
    def _trusted_proxies(cls, value) -> str:
        from bot.web_security import parse_trusted_proxies

        value = str(value).lower() if isinstance(value, bool) else value
        parse_trusted_proxies(value)  # raises ValueError naming the part that is not an address
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        for origin in filter(None, (part.strip() for part in value.split(","))):
            if not origin.startswith(("https://", "http://")) or origin.rstrip("/").count("/") != 2:
                raise ValueError(f"{origin!r} is not an origin like https://xa.example.vn")
        return value

    @property
    def origins(self) -> tuple[str, ...]:
        return tuple(filter(None, (part.strip() for part in self.allowed_origins.split(","))))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    # The working calendar (bot/domain/calendar.py) corrects the ``holidays`` package with these lists of
    # ISO dates (comma-separated), so that a change of the Labour Code or a government swap of days is a
    # change of settings: days the package marks off that the law in force does not; Saturdays worked
    # in exchange for a day off; days off the package does not know (that day off, a local closure).
    holidays_remove: str = ""
    working_saturdays: str = ""
    extra_days_off: str = ""

    @field_validator("holidays_remove", "working_saturdays", "extra_days_off")
    @classmethod
    def _calendar_dates(cls, value: str, info) -> str:
        for day in cls._dates(value):
            if info.field_name == "working_saturdays" and day.weekday() != 5:
                raise ValueError(f"{day.isoformat()} is a {day.strftime('%A')}, not a Saturday")
        return value

    @staticmethod
    def _dates(value: str) -> tuple[date, ...]:
        days = []
        for part in filter(None, (part.strip() for part in value.split(","))):
            try:
                days.append(date.fromisoformat(part))
            except ValueError:
                raise ValueError(f"{part!r} is not a date (YYYY-MM-DD)") from None
        return tuple(sorted(set(days)))

    @property
    def calendar_changes(self) -> dict[str, tuple[date, ...]]:
        """The changes for ``WorkingCalendar.adjust``."""
        return {"not_days_off": self._dates(self.holidays_remove), "working_days": self._dates(self.working_saturdays),
                "extra_days_off": self._dates(self.extra_days_off)}


class SettingsError(Exception):
    """A setting has a wrong value; the message is one line naming the variable."""


def load_settings(**overrides) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = error["loc"][0] if error["loc"] else None
        message = error["msg"].removeprefix("Value error, ")
        if field:
            raise SettingsError(f"TIEPDAN_{str(field).upper()}: {message}") from None
        raise SettingsError(message) from None
