"""`EspeakTTS`: offline speech with Debian's espeak-ng (Mandarin ``cmn-latn-pinyin``, English ``en-us``)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from voice.base import TTS, SpeechRequest
from voice.errors import TTSError
from voice.process import run_tool
from voice.sentences import split_sentences
from voice.types import Clip, Cue, Prosody, VoiceInfo
from voice.voicemap import VoiceMap, is_edge_voice
from voice.wav import Pcm, build_wav, join_pcm, parse_wav, resample


@dataclass(frozen=True, slots=True)
class EspeakOptions:
    """Settings of the offline engine.

    Attributes:
        binary: the espeak-ng executable.
        timeout: seconds one sentence may take.
        max_parallel: sentences synthesised at once (each is a process).
        words_per_minute: espeak's speed at prosody rate "+0%" (English and other voices).
        zh_words_per_minute: the speed of the Chinese voices: 245 gives 5.4–5.6 Mandarin characters a
            second with punctuation pauses (measured with cmn-latn-pinyin; 175 gives 3.6), the pace of a
            live host.
        latin_voice: the voice that says Latin-script words inside Chinese text (brands, colours, sizes:
            "Auralis AirBuds", "White", "XL"); None leaves them to the Chinese voice (which reads them
            as pinyin).
        sentence_gap: seconds of silence between sentences of one clip.
        max_sentence_chars: longer sentences are cut at a comma for their own cue.
    """

    binary: str = "espeak-ng"
    timeout: float = 10.0
    max_parallel: int = 2
    words_per_minute: int = 175
    zh_words_per_minute: int = 245
    latin_voice: str | None = "en-us"
    sentence_gap: float = 0.0
    max_sentence_chars: int = 120


#: A run of Latin-script words: letters (with an apostrophe or hyphen inside), single spaces between.
_LATIN = re.compile(r"[A-Za-z]+(?:['’\-][A-Za-z]+)*(?: [A-Za-z]+(?:['’\-][A-Za-z]+)*)*")
#: Capitals read letter by letter (sizes, initialisms): "XL", "XXL", "ANC", "USB".
_INITIALISM = re.compile(r"\b[A-Z]{1,5}\b")


def _chinese(voice: str) -> bool:
    return voice.startswith(("cmn", "yue", "zh", "hak"))


def _script_runs(text: str) -> list[tuple[str, bool]]:
    """``text`` as consecutive runs, each (text, is Latin script)."""
    runs: list[tuple[str, bool]] = []
    at = 0
    for m in _LATIN.finditer(text):
        if m.start() > at:
            runs.append((text[at : m.start()], False))
        runs.append((m.group(0), True))
        at = m.end()
    if at < len(text):
        runs.append((text[at:], False))
    return runs


def _spelled(words: str) -> str:
    """Initialisms spelt out for the English voice ("XXL" → "X X L"); other words as they are."""
    return _INITIALISM.sub(lambda m: " ".join(m.group(0)), words)


def _prosody_args(prosody: Prosody, wpm: int) -> list[str]:
    speed = min(450, max(80, round(wpm * prosody.rate_factor)))
    amplitude = min(200, max(0, round(100 * prosody.volume_factor)))
    pitch = min(99, max(0, 50 + prosody.pitch_hz))
    return ["-s", str(speed), "-a", str(amplitude), "-p", str(pitch)]


class EspeakTTS(TTS):
    """espeak-ng through an asyncio subprocess: 16-bit mono WAV at 22.05 kHz, one cue per sentence.

    Each sentence is synthesised on its own so its cue times come from its measured duration.
    """

    name = "espeak"

    def __init__(self, options: EspeakOptions | None = None, *, voices: VoiceMap | None = None) -> None:
        super().__init__(voices=voices)
        self.options = options or EspeakOptions()
        self._slots: asyncio.Semaphore | None = None

    def owns_voice(self, voice: str) -> bool:
        return not is_edge_voice(voice) and voice not in self.voices.table

    async def _sentence(self, text: str, voice: str, prosody: Prosody) -> Pcm:
        """One sentence; in a Chinese voice its Latin-script words are said by `latin_voice`."""
        latin = self.options.latin_voice
        if latin is None or not _chinese(voice) or not _LATIN.search(text):
            return await self._run(text, voice, prosody)
        parts = [p for p in _script_runs(text) if p[0].strip()]
        if len(parts) == 1 and not parts[0][1]:
            return await self._run(text, voice, prosody)
        pcms = [
            await self._run(_spelled(part) if is_latin else part, latin if is_latin else voice, prosody)
            for part, is_latin in parts
        ]
        rates = {p.sample_rate for p in pcms}
        if len(rates) > 1:  # voices of one espeak-ng share its rate; if not, resample to the first
            pcms = [resample(p, pcms[0].sample_rate) for p in pcms]
        return join_pcm(pcms, 0.0)

    async def _run(self, text: str, voice: str, prosody: Prosody) -> Pcm:
        if self._slots is None:
            self._slots = asyncio.Semaphore(max(1, self.options.max_parallel))
        wpm = self.options.zh_words_per_minute if _chinese(voice) else self.options.words_per_minute
        argv = [self.options.binary, "-v", voice, *_prosody_args(prosody, wpm)]
        argv += ["-b", "1", "--stdout"]
        async with self._slots:
            out = await run_tool(argv, text.encode("utf-8") + b"\n", timeout=self.options.timeout)
        try:
            pcm = parse_wav(out)
        except TTSError as exc:
            raise TTSError(f"espeak-ng voice {voice!r} produced no usable audio: {exc}") from exc
        if not pcm.frames:
            raise TTSError(f"espeak-ng voice {voice!r} produced no audio (is the voice installed?)")
        return pcm

    async def _synthesize(self, request: SpeechRequest) -> Clip:
        voice = self.resolve_voice(request)
        sentences = split_sentences(request.text, self.options.max_sentence_chars) or [request.text]
        pcms = await asyncio.gather(*(self._sentence(s, voice, request.prosody) for s in sentences))
        gap = self.options.sentence_gap
        cues: list[Cue] = []
        t = 0.0
        for sentence, pcm in zip(sentences, pcms, strict=True):
            cues.append(Cue(round(t, 3), round(t + pcm.duration, 3), sentence))
            t += pcm.duration + gap
        joined = join_pcm(list(pcms), gap)
        return Clip(
            audio=build_wav(joined),
            format="wav",
            sample_rate=joined.sample_rate,
            duration=joined.duration,
            cues=tuple(cues),
            engine=self.name,
            voice=voice,
        )

    async def list_voices(self) -> list[VoiceInfo]:
        """Installed espeak-ng voices (``espeak-ng --voices``)."""
        out = await run_tool([self.options.binary, "--voices"], b"", timeout=self.options.timeout)
        found: list[VoiceInfo] = []
        for line in out.decode("utf-8", "replace").splitlines()[1:]:
            cols = line.split()
            if len(cols) < 4:
                continue
            gender = cols[2].split("/")[-1]
            found.append(
                VoiceInfo(
                    engine=self.name,
                    name=cols[1],
                    language=cols[1],
                    gender={"M": "Male", "F": "Female"}.get(gender, ""),
                    description=cols[3].replace("_", " "),
                )
            )
        return found
