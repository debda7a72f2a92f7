"""The `TTS` interface: normalise and validate once here, let each engine implement `_synthesize`."""

from __future__ import annotations

import asyncio
import re
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncGenerator
from dataclasses import dataclass, replace

from voice.errors import NothingToSay
from voice.normalize import has_speech, normalize, strip_unspeakable
from voice.sentences import split_first_phrase, split_sentences
from voice.types import NEUTRAL, Clip, Prosody, VoiceInfo
from voice.voicemap import VoiceMap

_SPACE_RUNS = re.compile(r"\s+")
#: Sentences of display text are cut like the engines cut spoken ones (espeak-ng: 120 characters).
_DISPLAY_SENTENCE_CHARS = 120


@dataclass(frozen=True, slots=True)
class SpeechRequest:
    """One piece of normalised text to speak, as it travels through wrappers to an engine.

    Attributes:
        text: normalised, non-empty text.
        voice: what the caller asked for: None, a language code ("zh") or a concrete voice.
        prosody: rate, volume, pitch.
        voices: the caller's voice map (a room's or merchant's); None uses the engine's own.
        first_audio_by: a `time.monotonic()` instant by which an online engine must have started
            producing audio; the fallback chain sets it so a hanging engine hands over in time.
    """

    text: str
    voice: str | None = None
    prosody: Prosody = NEUTRAL
    voices: VoiceMap | None = None
    first_audio_by: float | None = None


class TTS(ABC):
    """Text to speech.

    Callers use `synthesize` (one clip for the whole text) or `stream` (a clip per sentence, the next
    one synthesised while the current one plays). Engines implement `_synthesize`; wrappers (fallback,
    cache, mastering) call `speak` on what they wrap, so normalisation happens once.

    Attributes:
        name: the engine name a clip records ("edge", "espeak"); wrappers report their inner engine's.
        voices: the default voice map when a request brings none.
    """

    name: str = "tts"

    def __init__(self, *, voices: VoiceMap | None = None) -> None:
        self.voices = voices or VoiceMap.default()

    @property
    def cache_tag(self) -> str:
        """What distinguishes this engine's audio in a cache key (engine plus output settings)."""
        return self.name

    def owns_voice(self, voice: str) -> bool:
        """Whether ``voice`` is one of this engine's voice names (not a language or another engine's)."""
        return False

    def resolve_voice(self, request: SpeechRequest) -> str:
        """The concrete voice this engine uses for ``request``."""
        voices = request.voices or self.voices
        owns = request.voice is not None and self.owns_voice(request.voice)
        return voices.resolve(self.name, request.voice, request.text, owns)

    def prepare(
        self,
        text: str,
        voice: str | None = None,
        prosody: Prosody | None = None,
        *,
        voices: VoiceMap | None = None,
    ) -> SpeechRequest:
        """Normalise ``text`` into a request.

        Raises:
            NothingToSay: nothing speakable is left (only emoji, URLs or punctuation).
        """
        vm = voices or self.voices
        lang = None
        if voice is not None:
            lang = voice if voice in vm.table else vm.language_of_voice(voice)
        spoken = normalize(text, lang)
        if not has_speech(spoken):
            shown = text if len(text) <= 40 else text[:39] + "…"
            raise NothingToSay(f"nothing speakable in {shown!r}")
        return SpeechRequest(spoken, voice, prosody or NEUTRAL, voices)

    async def synthesize(
        self,
        text: str,
        voice: str | None = None,
        prosody: Prosody | None = None,
        *,
        voices: VoiceMap | None = None,
    ) -> Clip:
        """Speak ``text`` as one clip.

        Args:
            text: raw text; it is normalised here (prices, units, emoji…).
            voice: None (by the text's language), a language code ("zh", "en") or a concrete voice.
            prosody: rate, volume and pitch; neutral if None.
            voices: a room's or merchant's voice map for this call.

        Raises:
            NothingToSay: the text has nothing speakable.
            TTSError: the engine failed; the message says which and why.
        """
        clip = await self.speak(self.prepare(text, voice, prosody, voices=voices))
        return with_display_cues(clip, text)

    async def speak(self, request: SpeechRequest) -> Clip:
        """Speak an already normalised request (what wrappers call on what they wrap)."""
        return await self._synthesize(request)

    async def stream(
        self,
        text: str,
        voice: str | None = None,
        prosody: Prosody | None = None,
        *,
        voices: VoiceMap | None = None,
        lookahead: int = 1,
        max_sentence_chars: int = 120,
        first_phrase_chars: int = 16,
    ) -> AsyncGenerator[Clip, None]:
        """Speak ``text`` sentence by sentence: the first clip comes as soon as the first sentence is done.

        While the caller plays a clip, the next ``lookahead`` sentences are being synthesised. A first
        sentence longer than ``first_phrase_chars`` is cut at its first comma so the first audio starts
        sooner (0 keeps it whole). Closing the iterator early cancels the work in flight.
        """
        vm = voices or self.voices
        lang = None
        if voice is not None:
            lang = voice if voice in vm.table else vm.language_of_voice(voice)
        sentences = split_sentences(normalize(text, lang), max_sentence_chars)
        if first_phrase_chars > 0:
            sentences = split_first_phrase(sentences, first_phrase_chars)
        requests = deque(
            SpeechRequest(s, voice, prosody or NEUTRAL, voices) for s in sentences if has_speech(s)
        )
        if not requests:
            return
        pending: deque[asyncio.Task[Clip]] = deque([asyncio.ensure_future(self.speak(requests.popleft()))])
        try:
            while pending:
                clip = await pending.popleft()
                while requests and len(pending) < max(1, lookahead):
                    pending.append(asyncio.ensure_future(self.speak(requests.popleft())))
                yield clip
        finally:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def list_voices(self) -> list[VoiceInfo]:
        """The voices this engine offers (engines that cannot list return an empty list)."""
        return []

    @abstractmethod
    async def _synthesize(self, request: SpeechRequest) -> Clip:
        """Produce the clip for a normalised request."""


def with_display_cues(clip: Clip, text: str) -> Clip:
    """``clip`` with its cues showing ``text`` as written ("棉80%", "XXL", "40g") instead of the words the
    engine was given ("棉百分之80", "double extra large"): the text's sentences take the cues' places one
    for one when they are as many (per-sentence cues, as espeak-ng and the fallback chain give); otherwise
    (word cues) the spoken words stay."""
    shown = split_sentences(_SPACE_RUNS.sub(" ", strip_unspeakable(text)).strip(), _DISPLAY_SENTENCE_CHARS)
    if not clip.cues or len(shown) != len(clip.cues):
        return clip
    cues = tuple(replace(cue, text=sentence) for cue, sentence in zip(clip.cues, shown, strict=True))
    return replace(clip, cues=cues)
