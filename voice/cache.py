"""A content-addressed clip cache on disk with a size cap and least-recently-used eviction.

A clip is keyed by (engine and output settings, voice, prosody, normalised text), so a script line that
repeats, in one room or across rooms, is synthesised once. Concurrent requests for the same key share one
synthesis.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

from voice.base import TTS, SpeechRequest
from voice.errors import TransientTTSError
from voice.types import AUDIO_FORMATS, AudioFormat, Clip, Cue, VoiceInfo

_SUFFIX = ".clip"
log = logging.getLogger(__name__)


def _encode(clip: Clip) -> bytes:
    header = {
        "format": clip.format,
        "sample_rate": clip.sample_rate,
        "duration": clip.duration,
        "cues": [[c.start, c.end, c.text] for c in clip.cues],
        "engine": clip.engine,
        "voice": clip.voice,
        "pauses": list(clip.pauses),
        "mouth": clip.mouth,
        "audio_bytes": len(clip.audio),
    }
    return json.dumps(header, ensure_ascii=False).encode("utf-8") + b"\n" + clip.audio


def _decode(blob: bytes) -> Clip | None:
    head, sep, audio = blob.partition(b"\n")
    if not sep:
        return None
    try:
        meta: dict[str, Any] = json.loads(head)
        fmt = meta["format"]
        if fmt not in AUDIO_FORMATS or meta["audio_bytes"] != len(audio):
            return None
        audio_format: AudioFormat = fmt
        return Clip(
            audio=audio,
            format=audio_format,
            sample_rate=int(meta["sample_rate"]),
            duration=float(meta["duration"]),
            cues=tuple(Cue(float(s), float(e), str(t)) for s, e, t in meta["cues"]),
            engine=str(meta["engine"]),
            voice=str(meta["voice"]),
            # Pause points are optional in an entry: one stored without them loads with none.
            pauses=tuple(float(t) for t in meta.get("pauses", ())),
            mouth=str(meta.get("mouth", "")),
        )
    except (ValueError, KeyError, TypeError):
        return None


class ClipCache:
    """Clips on disk under ``directory``, at most ``max_bytes`` in all; the least recently used go first.

    The directory is scanned lazily on first use; recency survives restarts through file modification
    times. Disk work runs in a thread so the event loop is not blocked.
    """

    def __init__(self, directory: Path, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self._index: OrderedDict[str, int] | None = None
        self._lock = asyncio.Lock()
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    @staticmethod
    def key(*parts: str) -> str:
        return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}{_SUFFIX}"

    @property
    def total_bytes(self) -> int:
        return sum(self._index.values()) if self._index else 0

    def __len__(self) -> int:
        return len(self._index) if self._index else 0

    def _scan(self) -> OrderedDict[str, int]:
        entries: list[tuple[float, str, int]] = []
        if self.directory.is_dir():
            for path in self.directory.glob(f"*/*{_SUFFIX}"):
                try:
                    st = path.stat()
                except OSError:
                    continue
                entries.append((st.st_mtime, path.stem, st.st_size))
        entries.sort()
        return OrderedDict((key, size) for _, key, size in entries)

    async def _ensure_index(self) -> OrderedDict[str, int]:
        if self._index is None:
            async with self._lock:
                if self._index is None:
                    self._index = await asyncio.to_thread(self._scan)
        return self._index

    def _read(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            blob = path.read_bytes()
            os.utime(path)
        except OSError:
            return None
        return blob

    async def get(self, key: str) -> Clip | None:
        index = await self._ensure_index()
        if key not in index:
            self.misses += 1
            return None
        blob = await asyncio.to_thread(self._read, key)
        clip = _decode(blob) if blob is not None else None
        if clip is None:
            index.pop(key, None)
            await asyncio.to_thread(self._path(key).unlink, missing_ok=True)
            self.misses += 1
            return None
        index.move_to_end(key)
        self.hits += 1
        return clip

    def _write(self, key: str, blob: bytes, evict: list[str]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(blob)
        os.replace(tmp, path)
        for old in evict:
            self._path(old).unlink(missing_ok=True)

    async def put(self, key: str, clip: Clip) -> None:
        """Store ``clip``; evict least recently used clips until the cache fits its cap."""
        blob = _encode(clip)
        if len(blob) > self.max_bytes:
            return
        index = await self._ensure_index()
        index.pop(key, None)
        index[key] = len(blob)
        total = sum(index.values())
        evict: list[str] = []
        for old in list(index):
            if total <= self.max_bytes or old == key:
                break
            total -= index.pop(old)
            evict.append(old)
        self.evictions += len(evict)
        await asyncio.to_thread(self._write, key, blob, evict)


class CachedTTS(TTS):
    """Wraps one engine with a `ClipCache`: a repeated line costs a disk read.

    Wrap each engine of a fallback chain separately (``FallbackTTS([CachedTTS(edge), CachedTTS(espeak)])``)
    so a cached neural clip is served even while the online engine is down, and a fallback clip is never
    stored under the neural engine's key.

    Args:
        inner: the engine (usually a `MasteredTTS`).
        cache_dir: where clips live (the app passes ``<data_dir>/tts-cache``); ignored if ``cache`` is given.
        max_bytes: the size cap of a cache made here.
        cache: a cache shared with other engines.
    """

    def __init__(
        self,
        inner: TTS,
        cache_dir: Path | None = None,
        max_bytes: int = 256 * 1024 * 1024,
        *,
        cache: ClipCache | None = None,
    ) -> None:
        super().__init__(voices=inner.voices)
        if cache is None:
            if cache_dir is None:
                raise ValueError("CachedTTS needs cache_dir or cache")
            cache = ClipCache(cache_dir, max_bytes)
        self.inner = inner
        self.cache = cache
        self.name = inner.name
        self._in_flight: dict[str, asyncio.Future[Clip]] = {}

    @property
    def cache_tag(self) -> str:
        return self.inner.cache_tag

    def owns_voice(self, voice: str) -> bool:
        return self.inner.owns_voice(voice)

    def resolve_voice(self, request: SpeechRequest) -> str:
        return self.inner.resolve_voice(request)

    def key_for(self, request: SpeechRequest) -> str:
        p = request.prosody
        return ClipCache.key(
            self.inner.cache_tag, self.resolve_voice(request), p.rate, p.volume, p.pitch, request.text
        )

    async def _synthesize(self, request: SpeechRequest) -> Clip:
        key = self.key_for(request)
        clip = await self.cache.get(key)
        if clip is not None:
            return clip
        shared = self._in_flight.get(key)
        if shared is not None:
            return await asyncio.shield(shared)
        future: asyncio.Future[Clip] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            clip = await self.inner.speak(request)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                shared_error: BaseException = TransientTTSError(
                    "the identical request this one joined was cancelled"
                )
            else:
                shared_error = exc
            future.set_exception(shared_error)
            future.exception()  # marks it retrieved when nobody else was waiting
            self._in_flight.pop(key, None)
            raise
        self._in_flight.pop(key, None)
        future.set_result(clip)
        try:
            await self.cache.put(key, clip)
        except OSError as exc:  # a full or read-only disk costs the cache, not the speech
            log.warning("tts cache: could not store a clip in %s: %s", self.cache.directory, exc)
        return clip

    async def list_voices(self) -> list[VoiceInfo]:
        return await self.inner.list_voices()
