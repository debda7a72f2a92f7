"""`MasteredTTS`: an engine's clips in one format, sample rate and loudness, whichever engine spoke."""

from __future__ import annotations

from voice.audio import MasterSpec, master
from voice.base import TTS, SpeechRequest
from voice.types import Clip, VoiceInfo


class MasteredTTS(TTS):
    """Wraps an engine and passes each clip through ffmpeg (`voice.audio.master`).

    Put it between the engine and the cache, so the cache holds finished audio.
    """

    def __init__(self, inner: TTS, spec: MasterSpec | None = None) -> None:
        super().__init__(voices=inner.voices)
        self.inner = inner
        self.spec = spec or MasterSpec()
        self.name = inner.name

    @property
    def cache_tag(self) -> str:
        return f"{self.inner.cache_tag}>{self.spec.tag}"

    def owns_voice(self, voice: str) -> bool:
        return self.inner.owns_voice(voice)

    def resolve_voice(self, request: SpeechRequest) -> str:
        return self.inner.resolve_voice(request)

    async def _synthesize(self, request: SpeechRequest) -> Clip:
        return await master(await self.inner.speak(request), self.spec)

    async def list_voices(self) -> list[VoiceInfo]:
        return await self.inner.list_voices()
