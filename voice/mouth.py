"""Mouth shapes for a speaking host figure, computed once per clip from the audio that is played.

`mouth_track` reads 16-bit PCM and returns one digit per video frame (`MOUTH_FPS` a second): ``0`` the mouth
closed … ``4`` wide open. The level follows the clip's loudness envelope relative to its own speech level
(so a quiet voice opens the mouth as much as a loud one), with a fast attack and a one-frame release, and
stays closed in silence and in the gaps between words. It is sent with the clip, so the room page and the
broadcast programme open the same mouth on the same frame of the same sample.

Engines that give phoneme timing could refine the shapes (round vowels, closed lips on m/b/p); the
envelope is what every engine's audio has, and what is used here.
"""

from __future__ import annotations

from voice.wav import Pcm

__all__ = ["MOUTH_FPS", "MOUTH_LEVELS", "mouth_at", "mouth_slice", "mouth_track"]

#: Frames per second of a mouth track (the programme's frame rate).
MOUTH_FPS = 25
#: Mouth levels: 0 closed … MOUTH_LEVELS - 1 wide open.
MOUTH_LEVELS = 5
#: Frames more than this many dB below the clip's speech level are silence (mouth closed).
_RANGE_DB = 30.0


def mouth_track(pcm: Pcm, *, fps: int = MOUTH_FPS) -> str:
    """One digit per frame of ``pcm`` at ``fps``: its mouth level (see the module)."""
    import numpy as np

    samples = np.frombuffer(pcm.data, dtype="<i2").astype(np.float64)
    if pcm.channels > 1:
        samples = samples[: samples.size - samples.size % pcm.channels].reshape(-1, pcm.channels).mean(axis=1)
    frames = int(np.ceil(samples.size * fps / pcm.sample_rate)) if samples.size else 0
    if frames == 0:
        return ""
    edges = np.minimum(np.round(np.arange(frames + 1) * pcm.sample_rate / fps).astype(np.int64), samples.size)
    squares = np.concatenate(([0.0], np.cumsum(samples**2)))
    counts = np.maximum(edges[1:] - edges[:-1], 1)
    energy = (squares[edges[1:]] - squares[edges[:-1]]) / counts
    db = 10.0 * np.log10(np.maximum(energy, 1e-9))
    loud = db[energy > 0]
    if loud.size == 0:
        return "0" * frames
    top = float(np.percentile(loud, 95))
    if top < 10.0 * np.log10(32.0**2):  # quieter than ±32 of 32767 throughout: nothing is said
        return "0" * frames
    openness = np.clip((db - (top - _RANGE_DB)) / _RANGE_DB, 0.0, 1.0)
    levels = np.minimum(np.floor(openness * MOUTH_LEVELS), MOUTH_LEVELS - 1).astype(np.int64)
    # Fast attack, one-frame release: the mouth opens with the sound and closes over two frames.
    smoothed = levels.copy()
    for i in range(1, frames):
        smoothed[i] = max(levels[i], smoothed[i - 1] - 2)
    return "".join(str(int(v)) for v in smoothed)


def mouth_at(track: str, seconds: float, *, fps: int = MOUTH_FPS) -> int:
    """The mouth level ``seconds`` into a clip with ``track`` (0 outside it)."""
    index = int(seconds * fps + 1e-9)
    if not track or index < 0 or index >= len(track):
        return 0
    return int(track[index])


def mouth_slice(track: str, start: float, *, fps: int = MOUTH_FPS) -> str:
    """The track of the rest of a clip from ``start`` seconds on (a cut sentence resumed there)."""
    return track[max(0, round(start * fps)) :]
