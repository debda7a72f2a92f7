"""The one settings object. Env prefix ``ANCHOR_``, optional ``anchor.toml``; built once and passed in.

Nothing reads the environment at import time: call `Settings()` (or `load_settings`) where the
application or the CLI starts, and hand the object (or values taken from it) to what needs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from knowledge.models import ImportLimits

if TYPE_CHECKING:
    from agent.live.sources import PlatformCredentials


class Settings(BaseSettings):
    """Everything configurable, with the embedded, offline defaults."""

    model_config = SettingsConfigDict(
        env_prefix="ANCHOR_",
        toml_file="anchor.toml",
        extra="ignore",
    )

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Path("./var")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite in the data directory."
    )
    redis_url: str | None = None
    default_merchant: str = "demo"

    # Retrieval
    embedder: str = Field(
        default="use-multilingual",
        description="'use-multilingual' (packaged default), 'hash' (tests), or "
        "'sentence-transformers:<name or path>'.",
    )
    embed_batch_size: int = 64
    #: The intent model (`anchor router train --out`); default: the packaged one. A merchant's own model
    #: (`anchor router train --merchant M`, base data + their corrections) lives in the data directory
    #: (``models/intents-M.npz``) and is used for that merchant's messages.
    intent_model: Path | None = None

    # Import limits
    max_file_bytes: int = 50 * 1024 * 1024
    max_rows: int = 200_000
    max_title_chars: int = 300
    max_field_chars: int = 2_000
    max_description_chars: int = 20_000

    # Conversations and hand-off
    conversation_ttl_seconds: int = 1800
    reopen_tickets_on_message: bool = True
    max_message_chars: int = 2000

    # Shopper chat API and OpenAI-compatible endpoint (api/routes/chat.py, api/ratelimit.py)
    chat_rate_per_minute_ip: float = 60
    chat_burst_ip: int = 20
    chat_rate_per_minute_conversation: float = 20
    chat_burst_conversation: int = 8
    chat_rate_max_keys: int = 100_000
    chat_max_body_bytes: int = 64 * 1024
    #: Take the client address from X-Forwarded-For (only behind a trusted reverse proxy).
    trust_forwarded_for: bool = False
    #: Reverse proxies whose X-Forwarded-For `anchor serve` believes (comma-separated IPs or CIDRs, "*" for any);
    #: empty (the default): the address is the TCP peer's, whatever headers a client sends.
    trusted_proxies: str = ""
    #: Key prefix of the Redis-backed rate limits (with ``redis_url``); deployments sharing a Redis stay apart.
    rate_limit_prefix: str = "anchor:rl:"
    #: Who may frame the shopper widget and the room page (the OBS overlay): a CSP frame-ancestors source
    #: list, e.g. "https://shop.example.com"; "*" (the default) lets any site embed them.
    embed_origins: str = "*"
    # Live rooms API (api/routes/rooms.py, api/room_feed.py): WebSocket viewers and chat ingest limits
    room_max_viewers: int = 5000
    room_backlog_events: int = 32
    room_viewer_queue: int = 64
    room_chat_rate_per_minute_ip: float = 120
    room_chat_burst_ip: int = 30
    room_ws_chat_per_minute: float = 12
    room_ws_chat_burst: int = 3
    #: Speech for rooms started by the API: "auto" (edge-tts, espeak-ng behind it), "edge" or "espeak".
    room_tts_engine: Literal["auto", "edge", "espeak"] = "auto"
    #: Audio format of a room's clips, sent to every viewer: "mp3" (64 kbit/s, about a fifth of WAV's
    #: bytes, encoded in-process) or "wav".
    room_audio_format: Literal["wav", "mp3"] = "mp3"
    # Logs (api/logging.py): JSON lines by default
    log_level: str = "INFO"
    log_json: bool = True
    #: How `anchor serve` / `anchor demo` write logs: "auto" (readable text on a terminal, JSON lines otherwise),
    #: "json" or "text". When it is not set, an explicit ANCHOR_LOG_JSON still decides.
    log_format: Literal["auto", "json", "text"] = "auto"
    #: Access lines: "quiet" (none for chat posts and static files that succeed) or "all".
    log_access: Literal["quiet", "all"] = "quiet"

    # Answer writer (agent/writers): "default" = deterministic templates; "llm" = a chat model over any
    # OpenAI-compatible endpoint, shown only the evidence, falling back to the templates on timeout,
    # error or a failed guard. The API key stays a SecretStr until the client is built; never logged.
    writer: Literal["default", "llm"] = "default"
    llm_base_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_api_key: SecretStr | None = None
    llm_timeout_seconds: float = 8.0
    llm_first_token_timeout_seconds: float = 4.0
    llm_temperature: float = 0.2
    llm_max_tokens: int = 300

    # Live platforms (docs/connectors.md). Read from the environment or anchor.toml, never from a room plan;
    # SecretStr until the connector is built, never logged.
    #: Bilibili's login cookie SESSDATA: without it the platform masks nicknames and user ids.
    bilibili_sessdata: SecretStr | None = None
    #: Bilibili's buvid3 cookie (None: one is requested from the platform per connection).
    bilibili_buvid3: SecretStr | None = None
    #: The Bilibili account's uid (None: read from the account with SESSDATA).
    bilibili_uid: int | None = None
    #: An Euler Stream API key for TikTokLive's signing service.
    tiktok_sign_api_key: SecretStr | None = None
    #: TikTok's sessionid cookie (optional; see docs/connectors.md before setting it).
    tiktok_session_id: SecretStr | None = None
    #: The tt-target-idc cookie of the sessionid's account (e.g. "useast2a").
    tiktok_target_idc: str | None = None

    # Service
    host: str = "127.0.0.1"
    port: int = 8000
    secret_key: SecretStr = SecretStr("change-me")

    def requested_log_format(self) -> Literal["auto", "json", "text"]:
        """`log_format`, or what an explicitly set `log_json` asks for when `log_format` is not set."""
        if "log_format" not in self.model_fields_set and "log_json" in self.model_fields_set:
            return "json" if self.log_json else "text"
        return self.log_format

    def platform_credentials(self) -> PlatformCredentials:
        """The live platforms' credentials as the connectors take them."""
        from agent.live.sources import PlatformCredentials

        def reveal(value: SecretStr | None) -> str | None:
            return value.get_secret_value() if value is not None else None

        return PlatformCredentials(
            bilibili_sessdata=reveal(self.bilibili_sessdata),
            bilibili_buvid3=reveal(self.bilibili_buvid3),
            bilibili_uid=self.bilibili_uid,
            tiktok_sign_api_key=reveal(self.tiktok_sign_api_key),
            tiktok_session_id=reveal(self.tiktok_session_id),
            tiktok_target_idc=self.tiktok_target_idc,
        )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'anchor.db').resolve()}"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    def import_limits(self) -> ImportLimits:
        return ImportLimits(
            max_file_bytes=self.max_file_bytes,
            max_rows=self.max_rows,
            max_title_chars=self.max_title_chars,
            max_field_chars=self.max_field_chars,
            max_description_chars=self.max_description_chars,
        )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls), file_secret_settings)
