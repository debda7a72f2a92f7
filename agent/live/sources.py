"""A room's platform chat source: the plan's ``source`` turned into a running connector.

`open_source(config, room_id, credentials, on_status)` builds the `ResilientConnector` for a Bilibili or TikTok
room with the platform's credentials (from settings, never from the plan). The room manager runs it beside the
director (`RoomManager.start`), feeds what it yields to the room's triage and shows its status.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from agent.live.plan import SourceConfig
from agent.live.resilient import ConnectorStatus, ResilientConnector

__all__ = ["PlatformCredentials", "SourceOpener", "open_source", "source_opener"]


@dataclass(frozen=True)
class PlatformCredentials:
    """Each platform's credentials, read from settings. Secrets never appear in a repr."""

    bilibili_sessdata: str | None = field(default=None, repr=False)
    bilibili_buvid3: str | None = field(default=None, repr=False)
    bilibili_uid: int | None = None
    tiktok_sign_api_key: str | None = field(default=None, repr=False)
    tiktok_session_id: str | None = field(default=None, repr=False)
    tiktok_target_idc: str | None = None

    def configured(self, platform: str) -> bool:
        """Whether the platform has a login (without one the platform's chat still arrives, anonymised)."""
        if platform == "bilibili":
            return bool(self.bilibili_sessdata)
        if platform == "tiktok":
            return bool(self.tiktok_sign_api_key)
        return False


SourceOpener = Callable[[SourceConfig, str, Callable[[ConnectorStatus], None]], ResilientConnector]


def open_source(
    config: SourceConfig,
    room_id: str,
    credentials: PlatformCredentials,
    on_status: Callable[[ConnectorStatus], None] | None = None,
) -> ResilientConnector:
    """The connector for ``config`` (not yet started: iterate its `messages()`)."""
    if config.platform == "bilibili":
        from agent.live.platforms.bilibili import BilibiliCredentials, BilibiliSessions

        sessions = BilibiliSessions(
            config.room,
            room_id,
            credentials=BilibiliCredentials(
                sessdata=credentials.bilibili_sessdata,
                buvid3=credentials.bilibili_buvid3,
                uid=credentials.bilibili_uid,
            ),
        )
        return ResilientConnector("bilibili", config.room, sessions, on_status=on_status)
    from agent.live.platforms.tiktok import TikTokSessions

    tiktok = TikTokSessions(
        config.room,
        room_id,
        sign_api_key=credentials.tiktok_sign_api_key,
        session_id=credentials.tiktok_session_id,
        tt_target_idc=credentials.tiktok_target_idc,
    )
    # TikTokLive drops the server's heartbeat frames: a quiet LIVE proves itself alive only by its viewer-count
    # messages (every ~10-30 s), so its watchdog waits longer.
    return ResilientConnector("tiktok", config.room, tiktok, stale_after_s=90.0, on_status=on_status)


def source_opener(credentials: PlatformCredentials) -> SourceOpener:
    """`open_source` with these credentials: what `RoomFactory.sources` takes."""

    def opener(
        config: SourceConfig, room_id: str, on_status: Callable[[ConnectorStatus], None]
    ) -> ResilientConnector:
        return open_source(config, room_id, credentials, on_status)

    return opener
