"""The host's mouth follows the voice: the track computed from a clip's audio against its loudness."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from voice.audio import MasterSpec, clip_from, master, timeline_pcm
from voice.espeak import EspeakTTS
from voice.mouth import MOUTH_FPS, MOUTH_LEVELS, mouth_at, mouth_slice, mouth_track
from voice.wav import Pcm, parse_wav

pytestmark = pytest.mark.integration

SPEECH = "欢迎来到直播间，今天这款加绒卫衣到手价一百二十九元，喜欢的宝宝拍一号链接。"


def frame_rms(pcm: Pcm, fps: int = MOUTH_FPS) -> np.ndarray:
    samples = np.frombuffer(pcm.data, dtype="<i2").astype(np.float64)
    hop = pcm.sample_rate / fps
    frames = math.ceil(samples.size / hop)
    return np.array(
        [np.sqrt(np.mean(samples[round(i * hop) : round((i + 1) * hop)] ** 2) + 1e-9) for i in range(frames)]
    )


async def test_the_mouth_opens_with_the_sound_and_closes_in_silence() -> None:
    clip = await EspeakTTS().synthesize(SPEECH)
    pcm = parse_wav(clip.audio)
    track = mouth_track(pcm)
    assert len(track) == math.ceil(pcm.duration * MOUTH_FPS)
    levels = np.array([int(c) for c in track])
    assert set(levels) <= set(range(MOUTH_LEVELS))
    envelope = frame_rms(pcm)
    loudness = 20 * np.log10(envelope)
    # Openness follows the amplitude envelope frame by frame (Pearson r over the whole sentence).
    r = float(np.corrcoef(levels, envelope)[0, 1])
    assert r > 0.75, r
    # Closed in silence (the frames quieter than 40 dB below the speech), open while speaking.
    top = np.percentile(loudness, 95)
    assert (levels[loudness < top - 40] == 0).mean() > 0.9  # (a frame after a word may still close)
    assert (levels[loudness > top - 6] >= 3).mean() > 0.8
    # It moves: a talking mouth closes part-way between syllables many times a sentence, not once.
    closings = sum(1 for a, b in itertools.pairwise(track) if int(b) <= int(a) - 2)
    assert closings >= 0.5 * pcm.duration * 2, track  # at least one a second


def test_silence_and_nothing_keep_the_mouth_closed() -> None:
    silent = Pcm(bytes(2 * 24000), 24000, 1)
    assert mouth_track(silent) == "0" * MOUTH_FPS
    assert mouth_track(Pcm(b"", 24000, 1)) == ""
    assert mouth_at("0123", 0.0) == 0
    assert mouth_at("0123", 0.125) == 3
    assert mouth_at("0123", 5.0) == 0
    assert mouth_at("", 1.0) == 0
    assert mouth_slice("0123401234", 0.2) == "01234"


async def test_mastered_clips_carry_the_track_and_a_resumed_rest_keeps_its_part() -> None:
    clip = await master(await EspeakTTS().synthesize(SPEECH), MasterSpec(format="mp3", sample_rate=24000))
    assert len(clip.mouth) == pytest.approx(clip.duration * MOUTH_FPS, abs=2)
    # The track describes the audio that is played (the MP3 as decoded on the clip's timeline).
    decoded = await timeline_pcm(clip.audio, clip.format, clip.duration)
    again = mouth_track(decoded)
    same = sum(a == b for a, b in zip(clip.mouth, again, strict=False)) / len(again)
    assert same > 0.9
    start = clip.pauses[len(clip.pauses) // 2]
    rest = await clip_from(clip, start)
    assert rest.mouth == mouth_slice(clip.mouth, start)
