"""The speech chain the app and the CLI use: each engine mastered and cached, behind a fallback."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from voice.audio import MasterSpec
from voice.base import TTS
from voice.cache import CachedTTS, ClipCache
from voice.edge import CommunicateFactory, EdgeOptions, EdgeTTS, VoicesLister
from voice.espeak import EspeakOptions, EspeakTTS
from voice.fallback import FallbackOptions, FallbackTTS
from voice.mastering import MasteredTTS
from voice.voicemap import VoiceMap

EngineChoice = Literal["auto", "edge", "espeak"]
ENGINE_CHOICES: tuple[EngineChoice, ...] = ("auto", "edge", "espeak")


def build_tts(
    engine: EngineChoice = "auto",
    *,
    cache_dir: Path | None = None,
    cache_max_bytes: int = 256 * 1024 * 1024,
    master: MasterSpec | None = None,
    voices: VoiceMap | None = None,
    fallback: FallbackOptions | None = None,
    edge: EdgeOptions | None = None,
    espeak: EspeakOptions | None = None,
    communicate: CommunicateFactory | None = None,
    list_voices: VoicesLister | None = None,
) -> FallbackTTS:
    """A ready chain: ``auto`` is edge with espeak-ng behind it; ``edge`` or ``espeak`` alone still get
    timeouts, retries and a breaker.

    Args:
        engine: "auto", "edge" or "espeak".
        cache_dir: the clip cache directory (``<data_dir>/tts-cache``); None disables caching.
        cache_max_bytes: the cache's size cap, shared by all engines.
        master: output format, sample rate and loudness (default WAV, 24 kHz, -16 LUFS); every engine's
            clips leave in it, with their pause points.
        voices: the default voice map (rooms pass their own per call).
        fallback, edge, espeak: engine and chain options.
        communicate, list_voices: replacements for edge-tts's ``Communicate`` and ``list_voices`` (tests).

    Raises:
        ValueError: an unknown engine name.
    """
    if engine not in ENGINE_CHOICES:
        raise ValueError(f"unknown TTS engine {engine!r}: choose {', '.join(ENGINE_CHOICES)}")
    voices = voices or VoiceMap.default()
    spec = master or MasterSpec()
    shared = ClipCache(cache_dir, cache_max_bytes) if cache_dir is not None else None
    engines: list[TTS] = []
    if engine in ("auto", "edge"):
        engines.append(EdgeTTS(edge, voices=voices, communicate=communicate, list_voices=list_voices))
    if engine in ("auto", "espeak"):
        engines.append(EspeakTTS(espeak, voices=voices))
    wrapped: list[TTS] = []
    for e in engines:
        w: TTS = MasteredTTS(e, spec)
        if shared is not None:
            w = CachedTTS(w, cache=shared)
        wrapped.append(w)
    return FallbackTTS(wrapped, fallback, voices=voices)
