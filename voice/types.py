"""Values that travel on the speech hot path: prosody, subtitle cues, audio clips, voice descriptions."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

AudioFormat = Literal["wav", "mp3", "opus"]
AUDIO_FORMATS: tuple[AudioFormat, ...] = ("wav", "mp3", "opus")

_PERCENT = re.compile(r"^[+-]\d{1,3}%$")
_HERTZ = re.compile(r"^[+-]\d{1,3}Hz$")


@dataclass(frozen=True, slots=True)
class Prosody:
    """How to speak: edge-tts style relative values ("+10%", "-5%", "+2Hz").

    Raises:
        ValueError: a value is not in the "+N%" / "+NHz" form.
    """

    rate: str = "+0%"
    volume: str = "+0%"
    pitch: str = "+0Hz"

    def __post_init__(self) -> None:
        if not _PERCENT.match(self.rate):
            raise ValueError(f"prosody rate {self.rate!r} is not like '+10%' or '-5%'")
        if not _PERCENT.match(self.volume):
            raise ValueError(f"prosody volume {self.volume!r} is not like '+10%' or '-5%'")
        if not _HERTZ.match(self.pitch):
            raise ValueError(f"prosody pitch {self.pitch!r} is not like '+5Hz' or '-5Hz'")

    @property
    def rate_factor(self) -> float:
        """The rate as a multiplier (``"+20%"`` → 1.2)."""
        return 1.0 + int(self.rate[:-1]) / 100.0

    @property
    def volume_factor(self) -> float:
        """The volume as a multiplier (``"-50%"`` → 0.5)."""
        return max(0.0, 1.0 + int(self.volume[:-1]) / 100.0)

    @property
    def pitch_hz(self) -> int:
        """The pitch shift in hertz (``"+5Hz"`` → 5)."""
        return int(self.pitch[:-2])


NEUTRAL = Prosody()


@dataclass(frozen=True, slots=True)
class Cue:
    """One subtitle cue: seconds from the start of its clip, and the words spoken."""

    start: float
    end: float
    text: str

    def shifted(self, seconds: float) -> Cue:
        return Cue(self.start + seconds, self.end + seconds, self.text)


@dataclass(frozen=True, slots=True)
class Clip:
    """Synthesised speech: encoded audio plus what is needed to play and subtitle it.

    Attributes:
        audio: the encoded bytes (a complete WAV, MP3 or Ogg Opus file).
        format: the encoding of ``audio``.
        sample_rate: samples per second of the audio.
        duration: seconds of speech.
        cues: subtitle cues, times relative to the start of this clip.
        engine: the engine that spoke ("edge", "espeak").
        voice: the engine's voice that spoke.
        pauses: where playback can stop without cutting a word: instants in seconds from the start of this
            clip, each in the middle of a silent gap inside the speech (never in the leading or trailing
            silence), ascending. Found by `voice.pauses` when the clip is mastered; empty when unknown.
        mouth: the host figure's mouth level per frame (`voice.mouth`, 25 a second, "0" closed … "4" wide
            open), from the mastered audio; empty when unknown.
    """

    audio: bytes = field(repr=False)
    format: AudioFormat
    sample_rate: int
    duration: float
    cues: tuple[Cue, ...] = ()
    engine: str = ""
    voice: str = ""
    pauses: tuple[float, ...] = ()
    mouth: str = ""

    @property
    def text(self) -> str:
        """The text the cues carry, joined."""
        return " ".join(c.text for c in self.cues)


@dataclass(frozen=True, slots=True)
class VoiceInfo:
    """A voice an engine offers."""

    engine: str
    name: str
    language: str
    gender: str = ""
    description: str = ""
