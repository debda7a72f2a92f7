"""Pause points: synthetic tone bursts with known silences (unit) and real espeak-ng speech (integration)."""

from __future__ import annotations

import numpy as np
import pytest

from voice.audio import MasterSpec, master
from voice.espeak import EspeakTTS
from voice.pauses import FRAME_S, find_pauses, pauses_from_cues
from voice.types import Cue
from voice.wav import Pcm, parse_wav

RATE = 16000


def bursts(
    spans: list[tuple[float, float]],
    length: float,
    *,
    amplitude: float = 8000.0,
    floor: float = 0.0,
    rate: int = RATE,
) -> Pcm:
    """``length`` seconds: a 440 Hz tone during each (start, end) span, else noise of RMS ``floor``."""
    t = np.arange(round(length * rate)) / rate
    x = np.random.default_rng(7).normal(0.0, floor, t.size) if floor else np.zeros(t.size)
    for start, end in spans:
        on = (t >= start) & (t < end)
        x[on] = amplitude * np.sin(2 * np.pi * 440 * t[on])
    return Pcm(np.clip(np.round(x), -32768, 32767).astype("<i2").tobytes(), rate)


# Speech from 0.2 to 3.2 s in a 3.7 s clip, with a 300 ms pause (middle 1.15 s), a 40 ms closure that is
# no pause, and a 117 ms pause off the frame grid (middle 2.5585 s).
SPEECH = [(0.2, 1.0), (1.3, 2.0), (2.04, 2.5), (2.617, 3.2)]
LENGTH = 3.7
EXPECTED = (1.15, 2.5585)


def assert_pauses(found: tuple[float, ...], expected: tuple[float, ...]) -> None:
    assert len(found) == len(expected), found
    for got, want in zip(found, expected, strict=True):
        assert got == pytest.approx(want, abs=FRAME_S)


@pytest.mark.unit
def test_a_pause_is_the_middle_of_each_long_enough_silence_inside_the_speech() -> None:
    found = find_pauses(bursts(SPEECH, LENGTH))
    assert_pauses(found, EXPECTED)
    assert list(found) == sorted(found)


@pytest.mark.unit
@pytest.mark.parametrize("amplitude", [30.0, 1000.0, 30000.0])
def test_quiet_and_loud_clips_give_the_same_pauses(amplitude: float) -> None:
    assert_pauses(find_pauses(bursts(SPEECH, LENGTH, amplitude=amplitude)), EXPECTED)


@pytest.mark.unit
def test_silence_is_judged_against_the_clips_own_level() -> None:
    # Background noise 50 dB under the speech is silence; a sound 30 dB under it is not.
    assert_pauses(
        find_pauses(bursts(SPEECH, LENGTH, amplitude=20000.0, floor=20000.0 * 10**-2.5 / 2**0.5)), EXPECTED
    )
    soft = bursts([*SPEECH, (1.0, 1.3)], LENGTH)
    x = np.frombuffer(soft.data, dtype="<i2").astype(np.float64)
    x[round(1.0 * RATE) : round(1.3 * RATE)] *= 10 ** (-30 / 20)
    assert_pauses(find_pauses(Pcm(x.astype("<i2").tobytes(), RATE)), (EXPECTED[1],))


@pytest.mark.unit
def test_leading_and_trailing_silence_are_not_pauses() -> None:
    assert find_pauses(bursts([(0.5, 1.5)], 3.0)) == ()
    assert find_pauses(bursts([], 1.0)) == ()
    assert find_pauses(Pcm(b"", RATE)) == ()


@pytest.mark.unit
def test_the_shortest_pause_can_be_chosen() -> None:
    assert_pauses(find_pauses(bursts(SPEECH, LENGTH), min_gap=0.03), (1.15, 2.02, 2.5585))
    assert_pauses(find_pauses(bursts(SPEECH, LENGTH), min_gap=0.2), (1.15,))


@pytest.mark.unit
def test_stereo_is_mixed_to_one_channel() -> None:
    mono = np.frombuffer(bursts(SPEECH, LENGTH, rate=24000).data, dtype="<i2")
    stereo = Pcm(np.repeat(mono, 2).astype("<i2").tobytes(), 24000, channels=2)
    assert_pauses(find_pauses(stereo), EXPECTED)


@pytest.mark.unit
def test_pauses_from_cues_are_the_middles_of_long_enough_gaps_between_cues() -> None:
    cues = (Cue(0.0, 1.0, "a"), Cue(1.0, 2.0, "b"), Cue(2.05, 3.0, "c"), Cue(3.2, 4.0, "d"))
    assert pauses_from_cues(cues) == (3.1,)
    assert pauses_from_cues(cues, min_gap=0.05) == (2.025, 3.1)
    assert pauses_from_cues(()) == ()


def assert_between_speech(pcm: Pcm, pauses: tuple[float, ...]) -> None:
    """Each pause is in silence, with speech both before and after it."""
    x = np.frombuffer(pcm.data, dtype="<i2").astype(np.float64)
    hop = pcm.sample_rate // 100
    energy = np.mean(x[: x.size // hop * hop].reshape(-1, hop) ** 2, axis=1)
    speech = energy > np.percentile(energy, 95) * 10**-3  # within 30 dB of the speech level
    first, last = np.flatnonzero(speech)[[0, -1]]
    for p in pauses:
        frame = int(p / 0.01)
        assert first < frame < last, f"pause at {p} s lies outside the speech"
        assert not speech[frame - 2 : frame + 3].any(), f"pause at {p} s is not in silence"


@pytest.mark.integration
@pytest.mark.parametrize(
    "text",
    [
        "这款纯棉T恤采用新疆长绒棉，柔软透气，不起球不变形，春夏秋三季都能穿，今天直播间到手价一百五十九元。",
        "This cotton tee is made from long-staple cotton, soft and breathable, and you can wear it "
        "three seasons a year, today just fifteen ninety nine.",
    ],
)
async def test_a_comma_sentence_pauses_between_its_clauses(text: str) -> None:
    clip = await master(await EspeakTTS().synthesize(text), MasterSpec())
    commas = text.count("，") + text.count(",")
    # One pause per comma; a word boundary before a stop consonant may add one. Closures inside and
    # between syllables (10-50 ms) must not count, or there would be dozens.
    assert commas <= len(clip.pauses) <= commas + 2, clip.pauses
    assert all(b - a > 0.5 for a, b in zip(clip.pauses, clip.pauses[1:], strict=False))
    assert_between_speech(parse_wav(clip.audio), clip.pauses)


@pytest.mark.integration
@pytest.mark.parametrize(
    "text", ["欢迎来到直播间。", "今天直播间到手价一百五十九元。", "Welcome to the stream."]
)
async def test_a_short_clause_has_no_pause(text: str) -> None:
    clip = await master(await EspeakTTS().synthesize(text), MasterSpec())
    assert clip.pauses == ()
