"""PCM WAV in memory: parse (including streamed headers with placeholder sizes), build, join, measure."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from voice.errors import AudioError


@dataclass(frozen=True, slots=True)
class Pcm:
    """Raw little-endian PCM samples and their layout."""

    data: bytes
    sample_rate: int
    channels: int = 1
    sample_width: int = 2

    @property
    def frames(self) -> int:
        return len(self.data) // (self.channels * self.sample_width)

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def parse_wav(wav: bytes) -> Pcm:
    """The PCM inside a WAV file.

    Accepts the placeholder sizes espeak-ng and ffmpeg write when streaming to a pipe: the data chunk runs
    to the end of the bytes.

    Raises:
        AudioError: not a PCM WAV.
    """
    if len(wav) < 12 or wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
        raise AudioError("not a WAV file (no RIFF/WAVE header)")
    pos = 12
    fmt: tuple[int, int, int, int] | None = None
    while pos + 8 <= len(wav):
        chunk_id = wav[pos : pos + 4]
        size = struct.unpack_from("<I", wav, pos + 4)[0]
        body = pos + 8
        if chunk_id == b"fmt ":
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", wav, body)
            fmt = (tag, channels, rate, bits)
        elif chunk_id == b"data":
            if fmt is None:
                raise AudioError("WAV data chunk before its fmt chunk")
            tag, channels, rate, bits = fmt
            if tag not in (1, 0xFFFE) or bits != 16:
                raise AudioError(f"unsupported WAV encoding (format tag {tag}, {bits} bits); need 16-bit PCM")
            end = min(len(wav), body + size)
            frame = channels * 2
            data = wav[body:end]
            return Pcm(data[: len(data) - len(data) % frame], rate, channels, 2)
        pos = body + size + (size & 1)
    raise AudioError("WAV file has no data chunk")


def build_wav(pcm: Pcm) -> bytes:
    """A canonical 44-byte-header WAV file holding ``pcm``."""
    block = pcm.channels * pcm.sample_width
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + len(pcm.data),
        b"WAVE",
        b"fmt ",
        16,
        1,
        pcm.channels,
        pcm.sample_rate,
        pcm.sample_rate * block,
        block,
        pcm.sample_width * 8,
        b"data",
        len(pcm.data),
    )
    return header + pcm.data


def join_pcm(parts: list[Pcm], gap: float = 0.0) -> Pcm:
    """Concatenate PCM of one layout, with ``gap`` seconds of silence between parts.

    Raises:
        AudioError: the parts differ in sample rate or layout.
    """
    if not parts:
        raise AudioError("nothing to join")
    first = parts[0]
    for p in parts[1:]:
        if (p.sample_rate, p.channels, p.sample_width) != (
            first.sample_rate,
            first.channels,
            first.sample_width,
        ):
            raise AudioError(
                f"cannot join {p.sample_rate} Hz x{p.channels} audio "
                f"to {first.sample_rate} Hz x{first.channels}"
            )
    silence = b"\x00" * (int(gap * first.sample_rate) * first.channels * first.sample_width)
    return Pcm(silence.join(p.data for p in parts), first.sample_rate, first.channels, first.sample_width)


def rms_dbfs(pcm: Pcm) -> float:
    """Root-mean-square level in dBFS (-inf for silence)."""
    import numpy as np

    if not pcm.data:
        return float("-inf")
    samples = np.frombuffer(pcm.data, dtype="<i2").astype(np.float64) / 32768.0
    rms = float(np.sqrt(np.mean(samples * samples)))
    return 20.0 * float(np.log10(rms)) if rms > 0 else float("-inf")


def resample(pcm: Pcm, rate: int) -> Pcm:
    """``pcm`` at ``rate`` samples per second, band-limited (FFT method), mono 16-bit.

    The signal is zero-padded to ``q * 2^k`` samples, where ``rate / pcm.sample_rate = p / q`` in lowest
    terms, so both transforms have smooth lengths and the new length is exact.
    """
    import math

    import numpy as np

    if rate == pcm.sample_rate:
        return pcm
    if not pcm.data:
        return Pcm(b"", rate, pcm.channels, pcm.sample_width)
    if pcm.channels != 1 or pcm.sample_width != 2:
        raise AudioError("resample needs 16-bit mono PCM")
    g = math.gcd(rate, pcm.sample_rate)
    p, q = rate // g, pcm.sample_rate // g
    x = np.frombuffer(pcm.data, dtype="<i2").astype(np.float64)
    blocks = 1 << max(0, math.ceil(math.log2(max(1, -(-x.size // q)))))
    n, m = q * blocks, p * blocks
    y = np.fft.irfft(np.fft.rfft(x, n), m) * (m / n)
    keep = round(x.size * p / q)
    data = np.clip(np.round(y[:keep]), -32768, 32767).astype("<i2").tobytes()
    return Pcm(data, rate, 1, 2)
