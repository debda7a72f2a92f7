"""Audio: transcode between WAV, MP3 and Ogg Opus, resample, EBU R128 loudness, pause points, join.

Both engines' clips pass through `master` so a room sounds the same whichever engine spoke: one format,
one sample rate, one integrated loudness (EBU R128, default -16 LUFS, peak -1.5 dB; measured in-process
by `voice.loudness`; `transcode` can also run ffmpeg's ``loudnorm``). Levelling, resampling, the pause
points (`voice.pauses`) and MP3 encoding (LAME through ``lameenc``) run in-process; ffmpeg decodes MP3
and Opus, encodes Opus, and encodes MP3 when ``lameenc`` is not installed.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, replace
from typing import Any

from voice.errors import AudioError
from voice.loudness import normalize_loudness
from voice.mouth import mouth_slice, mouth_track
from voice.pauses import find_pauses, pauses_from_cues
from voice.process import run_tool
from voice.types import AUDIO_FORMATS, AudioFormat, Clip, Cue
from voice.wav import Pcm, build_wav, join_pcm, parse_wav, resample

_DEMUXER: dict[str, str] = {"wav": "wav", "mp3": "mp3", "opus": "ogg"}
_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
# LAME's own default algorithm quality, the one ffmpeg's libmp3lame encoder uses.
_LAME_QUALITY = 3


@dataclass(frozen=True, slots=True)
class MasterSpec:
    """The format every clip leaves the speech layer in.

    Attributes:
        format: "wav", "mp3" or "opus" (Ogg Opus). WAV is the default (the CLI and chat): the offline
            engine's clips then need no encoder at all. Rooms send MP3 (``room_audio_format``), a fifth of
            the bytes, encoded in-process by LAME.
        sample_rate: output samples per second (Opus allows 8/12/16/24/48 kHz).
        loudness_lufs: EBU R128 integrated loudness target; None leaves levels alone.
        true_peak: true-peak ceiling in dBTP for ``loudnorm``.
        bitrate: encoder bitrate for MP3 and Opus.
        timeout: seconds ffmpeg may take for one clip.
    """

    format: AudioFormat = "wav"
    sample_rate: int = 24000
    loudness_lufs: float | None = -16.0
    true_peak: float = -1.5
    bitrate: str = "64k"
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.format not in AUDIO_FORMATS:
            raise ValueError(f"audio format {self.format!r} is not one of {', '.join(AUDIO_FORMATS)}")
        if self.format == "opus" and self.sample_rate not in _OPUS_RATES:
            raise ValueError(f"Opus cannot run at {self.sample_rate} Hz; use one of {_OPUS_RATES}")
        if self.sample_rate < 8000:
            raise ValueError(f"sample rate {self.sample_rate} Hz is too low")

    @property
    def tag(self) -> str:
        """A short identity for cache keys: "mp3@24000/-16.0LUFS/64k/m1" (m1: clips carry a mouth track)."""
        return f"{self.format}@{self.sample_rate}/{self.loudness_lufs}LUFS/{self.bitrate}/m1"


def format_for_path(name: str) -> AudioFormat:
    """The audio format an output file name asks for ("out.mp3" → "mp3", ".ogg"/".opus" → "opus").

    Raises:
        ValueError: the extension is not .wav, .mp3, .opus or .ogg.
    """
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    found: dict[str, AudioFormat] = {"wav": "wav", "mp3": "mp3", "opus": "opus", "ogg": "opus"}
    if ext not in found:
        raise ValueError(f"cannot tell the audio format of {name!r}: use .wav, .mp3, .opus or .ogg")
    return found[ext]


async def transcode(
    audio: bytes,
    source: AudioFormat,
    target: AudioFormat,
    *,
    sample_rate: int | None = None,
    loudness_lufs: float | None = None,
    true_peak: float = -1.5,
    bitrate: str = "64k",
    timeout: float = 10.0,
) -> bytes:
    """Decode ``audio`` and encode it as ``target``, optionally resampled and loudness-normalised.

    Raises:
        AudioError: ffmpeg is missing or rejected the audio.
        TTSTimeout: ffmpeg took longer than ``timeout``.
    """
    argv = [
        "ffmpeg",
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-f",
        _DEMUXER[source],
        "-i",
        "pipe:0",
    ]
    filters = []
    if loudness_lufs is not None:
        filters.append(f"loudnorm=I={loudness_lufs}:TP={true_peak}:LRA=11")
    if filters:
        argv += ["-af", ",".join(filters)]
    # loudnorm works at 192 kHz internally, so a rate is always set when it runs.
    rate = sample_rate or (48000 if target == "opus" else None)
    if rate is None and loudness_lufs is not None:
        rate = (await to_pcm(audio, source, timeout=timeout)).sample_rate
    argv += ["-ac", "1"]
    if rate:
        argv += ["-ar", str(rate)]
    if target == "wav":
        argv += ["-c:a", "pcm_s16le", "-f", "wav"]
    elif target == "mp3":
        argv += ["-c:a", "libmp3lame", "-b:a", bitrate, "-f", "mp3"]
    else:
        argv += ["-c:a", "libopus", "-b:a", bitrate, "-f", "ogg"]
    out = await run_tool([*argv, "pipe:1"], audio, timeout=timeout, error=AudioError)
    if not out:
        raise AudioError(f"ffmpeg produced no {target} audio")
    return build_wav(parse_wav(out)) if target == "wav" else out


async def to_pcm(
    audio: bytes, source: AudioFormat, *, sample_rate: int | None = None, timeout: float = 10.0
) -> Pcm:
    """Decode any supported audio to 16-bit mono PCM (WAV input at its own rate needs no ffmpeg)."""
    if source == "wav":
        pcm = parse_wav(audio)
        if pcm.channels == 1 and (sample_rate is None or sample_rate == pcm.sample_rate):
            return pcm
    argv = [
        "ffmpeg",
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-f",
        _DEMUXER[source],
        "-i",
        "pipe:0",
    ]
    argv += [
        "-ac",
        "1",
        *(["-ar", str(sample_rate)] if sample_rate else []),
        "-c:a",
        "pcm_s16le",
        "-f",
        "wav",
    ]
    return parse_wav(await run_tool([*argv, "pipe:1"], audio, timeout=timeout, error=AudioError))


async def probe_duration(audio: bytes, source: AudioFormat, *, timeout: float = 10.0) -> float:
    """Seconds of audio, by decoding it (exact for every format, unlike container headers)."""
    return (await to_pcm(audio, source, timeout=timeout)).duration


def _lameenc() -> Any | None:
    """The ``lameenc`` module, or None when it is not installed (ffmpeg then encodes MP3)."""
    try:
        import lameenc
    except ImportError:
        return None
    return lameenc


def _kbps(bitrate: str) -> int:
    text = bitrate.strip().lower()
    try:
        return int(float(text[:-1])) if text.endswith("k") else int(text) // 1000
    except ValueError as exc:
        raise AudioError(f"MP3 bitrate {bitrate!r} is not like '64k' or '64000'") from exc


def _lame_mp3(lameenc: Any, pcm: Pcm, kbps: int) -> bytes:
    """Constant-bitrate mono MP3 at ``pcm``'s rate. Like ffmpeg's, it starts with LAME's 1105 samples of
    encoder delay and carries no gapless tag, so a decoder plays the speech that much later."""
    encoder = lameenc.Encoder()
    try:
        encoder.set_channels(1)
        encoder.set_in_sample_rate(pcm.sample_rate)
        encoder.set_out_sample_rate(pcm.sample_rate)
        encoder.set_bit_rate(kbps)
        encoder.set_quality(_LAME_QUALITY)
        return bytes(encoder.encode(pcm.data) + encoder.flush())
    except RuntimeError as exc:
        raise AudioError(f"LAME cannot encode {pcm.sample_rate} Hz audio at {kbps} kbit/s: {exc}") from exc


async def encode(pcm: Pcm, target: AudioFormat, *, bitrate: str = "64k", timeout: float = 10.0) -> bytes:
    """16-bit mono ``pcm`` as a complete ``target`` file at its own sample rate.

    WAV is built in-process; MP3 is encoded in-process by LAME (``lameenc``, in a thread: about 10 ms per
    second of speech, where an ffmpeg process takes 150-250 ms for a sentence); Opus, and MP3 when
    ``lameenc`` is missing, go through ffmpeg.

    Raises:
        AudioError: the encoder rejected the audio or the bitrate.
        TTSTimeout: ffmpeg took longer than ``timeout``.
    """
    if target == "wav":
        return build_wav(pcm)
    lameenc = _lameenc() if target == "mp3" else None
    if lameenc is not None:
        return await asyncio.to_thread(_lame_mp3, lameenc, pcm, _kbps(bitrate))
    return await transcode(
        build_wav(pcm), "wav", target, sample_rate=pcm.sample_rate, bitrate=bitrate, timeout=timeout
    )


def _level_rate_and_pauses(pcm: Pcm, spec: MasterSpec) -> tuple[Pcm, tuple[float, ...], str]:
    if spec.loudness_lufs is not None:
        pcm = normalize_loudness(pcm, spec.loudness_lufs, spec.true_peak)
    pcm = resample(pcm, spec.sample_rate)
    return pcm, find_pauses(pcm), mouth_track(pcm)


def _pauses_and_mouth(pcm: Pcm) -> tuple[tuple[float, ...], str]:
    return find_pauses(pcm), mouth_track(pcm)


async def master(clip: Clip, spec: MasterSpec) -> Clip:
    """``clip`` in the spec's format, sample rate and loudness, with its pause points; cues carried over.

    Loudness is measured and corrected, the audio resampled and its pauses found in-process on the PCM
    that is encoded (`voice.loudness`, `voice.wav.resample`, `voice.pauses`), so the duration is exact:
    WAV from WAV needs no ffmpeg at all, MP3 only a decode when the source is not WAV. A clip already in
    the spec's format and rate, with no loudness target, is not re-encoded: a WAV one gets its pauses from
    its PCM, any other from the gaps between its cues (unless it brings pauses of its own).
    """
    if clip.format == spec.format and clip.sample_rate == spec.sample_rate and spec.loudness_lufs is None:
        if clip.format == "wav":
            pauses, mouth = await asyncio.to_thread(_pauses_and_mouth, parse_wav(clip.audio))
            return replace(clip, pauses=pauses, mouth=mouth)
        if clip.pauses and clip.mouth:
            return clip
        pcm = await timeline_pcm(clip.audio, clip.format, clip.duration, timeout=spec.timeout)
        mouth = await asyncio.to_thread(mouth_track, pcm)
        return replace(clip, pauses=clip.pauses or pauses_from_cues(clip.cues), mouth=mouth)
    pcm = await to_pcm(clip.audio, clip.format, timeout=spec.timeout)
    # The numpy work (tens of milliseconds) runs in a thread so the event loop keeps serving rooms.
    pcm, pauses, mouth = await asyncio.to_thread(_level_rate_and_pauses, pcm, spec)
    audio = await encode(pcm, spec.format, bitrate=spec.bitrate, timeout=spec.timeout)
    return replace(
        clip,
        audio=audio,
        format=spec.format,
        sample_rate=spec.sample_rate,
        duration=pcm.duration,
        pauses=pauses,
        mouth=mouth,
    )


async def join_clips(clips: list[Clip], target: AudioFormat = "wav", *, gap: float = 0.0) -> Clip:
    """One clip of ``clips`` in order, cues shifted to their place, at the first clip's sample rate.

    Its pauses are found on the joined audio: each clip's own pauses, shifted to their place, and the
    silence where one clip meets the next.

    Raises:
        AudioError: no clips, or ffmpeg rejected one.
    """
    if not clips:
        raise AudioError("no clips to join")
    rate = clips[0].sample_rate
    # Each on its own timeline (an MP3's encoder delay left out), so cues land where they were spoken.
    pcms = [await timeline_pcm(c.audio, c.format, c.duration, sample_rate=rate) for c in clips]
    cues: list[Cue] = []
    offset = 0.0
    for clip, pcm in zip(clips, pcms, strict=True):
        cues.extend(cue.shifted(offset) for cue in clip.cues)
        offset += pcm.duration + gap
    joined = join_pcm(pcms, gap)
    pauses, mouth = await asyncio.to_thread(_pauses_and_mouth, joined)
    audio = await encode(joined, target)
    first = clips[0]
    engines = sorted({c.engine for c in clips})
    return Clip(
        audio,
        target,
        rate,
        joined.duration,
        tuple(cues),
        "+".join(engines),
        first.voice,
        pauses=pauses,
        mouth=mouth,
    )


# A separator between clauses: a pause in speech usually falls at one of these.
_CLAUSE_END = re.compile(r"[，,、；;：:。！？!?…]+\s*|[.]\s+")
# LAME's encoder delay plus the decoder's: an untagged MP3 decodes this many samples late.
_MP3_DELAY_SAMPLES = 576 + 529


def _rest_of_cue(cue: Cue, pauses: tuple[float, ...], start: float) -> Cue:
    """``cue`` from ``start`` (a pause inside it) on, in the clip's time.

    Its text is cut too when it can be told where: if the cue holds as many pauses as clause breaks, the
    k-th pause is taken to be the k-th break (espeak-ng and edge-tts pause at commas); otherwise the cue
    keeps its whole text.
    """
    inside = [p for p in pauses if cue.start < p < cue.end]
    breaks = [m.end() for m in _CLAUSE_END.finditer(cue.text) if m.end() < len(cue.text.rstrip())]
    text = cue.text
    said = sum(1 for p in inside if p <= start + 1e-6)
    if said and len(inside) == len(breaks):
        text = cue.text[breaks[said - 1] :]
    return Cue(start, cue.end, text)


async def timeline_pcm(
    audio: bytes,
    source: AudioFormat,
    duration: float,
    *,
    sample_rate: int | None = None,
    timeout: float = 10.0,
) -> Pcm:
    """Decode a clip to 16-bit mono PCM on its own timeline: ``duration`` seconds long, its instant t
    (a cue, a pause, a cut) at t seconds.

    An MP3 piped out of LAME carries no gapless tag, so a decoder returns 1105 samples of encoder and
    decoder delay before the speech and up to two frames of padding after it (64 ms at 24 kHz); both are
    left out here. Without that, every MP3 clip would last 64 ms longer than the room says, and a player
    that queues clips back to back (the broadcaster) would fall that much further behind per sentence.
    Other formats are cut or padded with silence to ``duration``. ``sample_rate``: resample to it.

    Raises:
        AudioError, TTSTimeout: as `to_pcm`.
    """
    pcm = await to_pcm(audio, source, timeout=timeout)
    rate, width = pcm.sample_rate, 2 * pcm.channels
    total = len(pcm.data) // width
    wanted = round(duration * rate)
    head = min(total - wanted, _MP3_DELAY_SAMPLES) if source == "mp3" and total > wanted else 0
    data = pcm.data[head * width : (head + wanted) * width]
    data += bytes(wanted * width - len(data))
    pcm = Pcm(data, rate, pcm.channels)
    return resample(pcm, sample_rate) if sample_rate is not None and sample_rate != rate else pcm


def _ms(cue: Cue) -> Cue:
    return Cue(round(cue.start, 3), round(cue.end, 3), cue.text)


async def clip_from(clip: Clip, start: float, *, bitrate: str = "64k", timeout: float = 10.0) -> Clip:
    """The rest of ``clip`` from ``start`` seconds on, in its own format and rate: what a live room says
    when it resumes a sentence it cut at a pause.

    Cues and pauses before ``start`` are dropped and the rest shifted to the new start; a cue running
    across ``start`` keeps the words after it when that can be told (`_rest_of_cue`). An MP3 is decoded
    on the clip's own timeline (LAME's encoder and decoder delay, 1105 samples, is left out), so
    ``start`` means the same instant as in the clip's pauses and a `cut` event.

    Raises:
        AudioError: ``start`` is not inside the clip, or the audio cannot be decoded or encoded.
        TTSTimeout: ffmpeg took longer than ``timeout``.
    """
    if not 0.0 < start < clip.duration:
        raise AudioError(f"cannot start a {clip.duration:.3f} s clip at {start:.3f} s")
    pcm = await timeline_pcm(clip.audio, clip.format, clip.duration, timeout=timeout)
    width = 2 * pcm.channels
    rest = Pcm(pcm.data[round(start * pcm.sample_rate) * width :], pcm.sample_rate, pcm.channels)
    audio = await encode(rest, clip.format, bitrate=bitrate, timeout=timeout)
    cues = tuple(
        _ms((_rest_of_cue(c, clip.pauses, start) if c.start < start else c).shifted(-start))
        for c in clip.cues
        if c.end > start + 1e-6
    )
    pauses = tuple(round(p - start, 3) for p in clip.pauses if p > start + 1e-6)
    mouth = mouth_slice(clip.mouth, start) if clip.mouth else ""
    return replace(clip, audio=audio, duration=rest.duration, cues=cues, pauses=pauses, mouth=mouth)
