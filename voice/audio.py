"""Audio through ffmpeg: transcode between WAV, MP3 and Ogg Opus, resample, EBU R128 loudness, join.

Both engines' clips pass through `master` so a room sounds the same whichever engine spoke: one format,
one sample rate, one integrated loudness (EBU R128, default -16 LUFS, peak -1.5 dB; measured in-process
by `voice.loudness`; `transcode` can also run ffmpeg's ``loudnorm``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from voice.errors import AudioError
from voice.loudness import normalize_loudness
from voice.process import run_tool
from voice.types import AUDIO_FORMATS, AudioFormat, Clip, Cue
from voice.wav import Pcm, build_wav, join_pcm, parse_wav, resample

_DEMUXER: dict[str, str] = {"wav": "wav", "mp3": "mp3", "opus": "ogg"}
_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


@dataclass(frozen=True, slots=True)
class MasterSpec:
    """The format every clip leaves the speech layer in.

    Attributes:
        format: "wav", "mp3" or "opus" (Ogg Opus). WAV is the default: the offline engine's clips then
            never wait for ffmpeg, which keeps the first audio of an answer early.
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
        """A short identity for cache keys: "mp3@24000/-16.0LUFS"."""
        return f"{self.format}@{self.sample_rate}/{self.loudness_lufs}LUFS/{self.bitrate}"


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


def _level_and_rate(pcm: Pcm, spec: MasterSpec) -> Pcm:
    if spec.loudness_lufs is not None:
        pcm = normalize_loudness(pcm, spec.loudness_lufs, spec.true_peak)
    return resample(pcm, spec.sample_rate) if spec.format == "wav" else pcm


async def master(clip: Clip, spec: MasterSpec) -> Clip:
    """``clip`` in the spec's format, sample rate and loudness; cues and duration carried over.

    Loudness is measured and corrected, and WAV resampled, in-process (`voice.loudness`,
    `voice.wav.resample`): WAV from WAV needs no ffmpeg at all; MP3 and Opus need one encode.
    """
    if clip.format == spec.format and clip.sample_rate == spec.sample_rate and spec.loudness_lufs is None:
        return clip
    pcm = await to_pcm(clip.audio, clip.format, timeout=spec.timeout)
    # The numpy work (tens of milliseconds) runs in a thread so the event loop keeps serving rooms.
    pcm = await asyncio.to_thread(_level_and_rate, pcm, spec)
    if spec.format == "wav":
        audio = build_wav(pcm)
    else:
        wav = build_wav(pcm)
        audio = await transcode(
            wav, "wav", spec.format, sample_rate=spec.sample_rate, bitrate=spec.bitrate, timeout=spec.timeout
        )
    duration = parse_wav(audio).duration if spec.format == "wav" else pcm.duration
    return replace(clip, audio=audio, format=spec.format, sample_rate=spec.sample_rate, duration=duration)


async def join_clips(clips: list[Clip], target: AudioFormat = "wav", *, gap: float = 0.0) -> Clip:
    """One clip of ``clips`` in order, cues shifted to their place, at the first clip's sample rate.

    Raises:
        AudioError: no clips, or ffmpeg rejected one.
    """
    if not clips:
        raise AudioError("no clips to join")
    rate = clips[0].sample_rate
    pcms = [await to_pcm(c.audio, c.format, sample_rate=rate) for c in clips]
    cues: list[Cue] = []
    offset = 0.0
    for clip, pcm in zip(clips, pcms, strict=True):
        cues.extend(cue.shifted(offset) for cue in clip.cues)
        offset += pcm.duration + gap
    joined = join_pcm(pcms, gap)
    wav = build_wav(joined)
    audio = wav if target == "wav" else await transcode(wav, "wav", target, sample_rate=rate)
    first = clips[0]
    engines = sorted({c.engine for c in clips})
    return Clip(audio, target, rate, joined.duration, tuple(cues), "+".join(engines), first.voice)
