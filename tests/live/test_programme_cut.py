"""A director's ``cut`` on the headless programme: the cut speech ends at the cut, the answer follows on.

Sample-exact checks on `Programme`, and the same through `Broadcaster.feed` with real WAV-encoded events
(no ffmpeg is started: feeding only fills the programme).
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from agent.live.broadcast import Broadcaster, HlsSink
from agent.live.events import AudioRef, Cue, OutputEvent
from agent.live.programme import Programme, Speech
from voice.wav import Pcm, build_wav

pytestmark = pytest.mark.unit

RATE = 24000
FADE = 600  # 25 ms at 24 kHz: the fade is between 20 and 30 ms
A_LEVEL = 12000
B_LEVEL = -8000
ROOM = "room-cut"


def _level(seconds: float, level: int) -> bytes:
    return np.full(round(seconds * RATE), level, dtype="<i2").tobytes()


def _read(prog: Programme, seconds: float, chunk: int = 1000) -> np.ndarray:
    """``seconds`` of the programme's audio, read in pump-sized chunks that do not line up with the cut."""
    total = round(seconds * RATE)
    parts = [prog.read_audio(min(chunk, total - done)) for done in range(0, total, chunk)]
    return np.frombuffer(b"".join(parts), dtype="<i2")


def _queued(prog: Programme) -> None:
    prog.queue_speech(Speech(_level(3.0, A_LEVEL), "sentence A", seq=7))
    prog.queue_speech(Speech(_level(1.0, B_LEVEL), "answer B", seq=9))


def _assert_fades_out_from(audio: np.ndarray, level: int) -> None:
    """``audio`` ramps from ``level`` down to (almost) nothing, one step at a time, without a jump."""
    assert len(audio) == FADE
    magnitude = np.abs(audio.astype(np.int64))
    assert magnitude[0] == abs(level)
    assert np.all(np.diff(magnitude) <= 0)
    assert np.max(-np.diff(magnitude)) <= abs(level) / FADE + 1
    assert magnitude[-1] <= abs(level) * 0.01
    assert np.all(np.sign(audio) == np.sign(level))


@pytest.mark.parametrize("played_before_cut", [0.0, 0.5, 1.2 - FADE / RATE])
def test_cut_keeps_the_first_seconds_with_a_fade_and_the_answer_follows(played_before_cut: float) -> None:
    prog = Programme(RATE)
    _queued(prog)
    before = _read(prog, played_before_cut)
    assert prog.cut(7, 1.2)
    audio = np.concatenate([before, _read(prog, 3.0)])
    stop = round(1.2 * RATE)
    assert np.all(audio[: stop - FADE] == A_LEVEL)
    _assert_fades_out_from(audio[stop - FADE : stop], A_LEVEL)
    assert np.all(audio[stop : stop + RATE] == B_LEVEL)  # the answer starts on the very next sample
    assert np.all(audio[stop + RATE :] == 0)
    assert prog.spoken == 2
    assert prog.position == pytest.approx(played_before_cut + 3.0)


def test_cut_already_played_past_fades_from_where_it_is() -> None:
    prog = Programme(RATE)
    _queued(prog)
    played = _read(prog, 1.5)
    assert np.all(played == A_LEVEL)
    assert prog.cut(7, 1.2)
    assert prog.backlog_seconds == pytest.approx((FADE + RATE) / RATE)
    audio = _read(prog, 2.0)
    _assert_fades_out_from(audio[:FADE], A_LEVEL)  # nothing of A is replayed: it fades out at once
    assert np.all(audio[FADE : FADE + RATE] == B_LEVEL)
    assert np.all(audio[FADE + RATE :] == 0)


def test_cut_a_few_samples_before_the_cut_point_still_fades_in_full() -> None:
    prog = Programme(RATE)
    _queued(prog)
    stop = round(1.2 * RATE)
    before = _read(prog, (stop - 100) / RATE)  # too close to the cut for a whole fade before it
    assert prog.cut(7, 1.2)
    audio = np.concatenate([before, _read(prog, 2.0)])
    end = stop - 100 + FADE
    assert np.all(audio[: stop - 100] == A_LEVEL)
    _assert_fades_out_from(audio[stop - 100 : end], A_LEVEL)
    assert np.all(audio[end : end + RATE] == B_LEVEL)


def test_cut_of_unknown_or_finished_speech_changes_nothing() -> None:
    prog = Programme(RATE)
    _queued(prog)
    assert not prog.cut(8, 0.5)  # never queued
    first = _read(prog, 3.5)
    assert not prog.cut(7, 1.2)  # A has ended: B is playing
    audio = np.concatenate([first, _read(prog, 1.0)])
    assert np.all(audio[: 3 * RATE] == A_LEVEL)
    assert np.all(audio[3 * RATE : 4 * RATE] == B_LEVEL)
    assert np.all(audio[4 * RATE :] == 0)


def test_cut_at_the_start_drops_a_waiting_speech() -> None:
    prog = Programme(RATE)
    _queued(prog)
    assert prog.cut(7, 0.0)
    audio = _read(prog, 1.5)
    assert np.all(audio[:RATE] == B_LEVEL)
    assert np.all(audio[RATE:] == 0)
    assert prog.spoken == 1


def test_cut_subtitle_ends_at_the_cut() -> None:
    prog = Programme(RATE, linger_s=0.6)
    cues = (Cue(0.0, 1.0, "first part"), Cue(1.0, 3.0, "second part"))
    prog.queue_speech(Speech(_level(3.0, A_LEVEL), "first part second part", cues, seq=7))
    _read(prog, 0.4)
    assert prog.cut(7, 1.2)
    _read(prog, 2.0)
    assert prog.on_air(0.5).subtitle == "first part"
    assert prog.on_air(1.1).subtitle == "second part"
    assert prog.on_air(1.2).subtitle is None  # no linger after a cut
    assert prog.on_air(2.5).subtitle is None  # the dropped rest of A never shows


def test_cut_subtitle_gives_way_to_the_answer() -> None:
    prog = Programme(RATE)
    _queued(prog)
    assert prog.cut(7, 1.2)
    _read(prog, 3.0)
    assert prog.on_air(1.19).subtitle == "sentence A"
    assert prog.on_air(1.2).subtitle == "answer B"
    assert prog.on_air(2.75).subtitle == "answer B"  # the answer, not cut, lingers as usual
    assert prog.on_air(2.85).subtitle is None


# ---- through the broadcaster's event feed -----------------------------------------------------


def _wav_event(seq: int, kind: str, seconds: float, level: int, text: str) -> OutputEvent:
    wav = build_wav(Pcm(_level(seconds, level), RATE, 1, 2))
    audio = AudioRef(wav, "wav", RATE, seconds, (Cue(0.0, seconds, text),))
    return OutputEvent(ROOM, seq, kind, {"text": text}, audio)  # type: ignore[arg-type]


def _cut_event(seq: int, of: object, at: object) -> OutputEvent:
    data = {
        "of": of,
        "at": at,
        "reason": "answer",
        "position": {"loop": 0, "item": 0, "segment": 0, "sentence": 3},
    }
    return OutputEvent(ROOM, seq, "cut", data)


async def test_broadcaster_feed_applies_a_cut_to_the_say_it_names(tmp_path, caplog) -> None:
    caster = Broadcaster(HlsSink(tmp_path / "hls"), sample_rate=RATE)
    caplog.set_level(logging.DEBUG, logger="agent.live")
    await caster.feed(_wav_event(4, "say", 3.0, A_LEVEL, "sentence A"))
    await caster.feed(_cut_event(5, 4, 1.2))
    await caster.feed(_wav_event(6, "answer", 1.0, B_LEVEL, "answer B"))
    await caster.feed(_cut_event(7, 99, 0.5))  # nothing of that seq: ignored quietly
    audio = _read(caster.programme, 3.0)
    stop = round(1.2 * RATE)
    assert np.all(audio[: stop - FADE] == A_LEVEL)
    _assert_fades_out_from(audio[stop - FADE : stop], A_LEVEL)
    assert np.all(audio[stop : stop + RATE] == B_LEVEL)
    assert np.all(audio[stop + RATE :] == 0)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_broadcaster_feed_survives_a_malformed_cut(tmp_path, caplog) -> None:
    caster = Broadcaster(HlsSink(tmp_path / "hls"), sample_rate=RATE)
    await caster.feed(_wav_event(4, "say", 0.5, A_LEVEL, "sentence A"))
    await caster.feed(_cut_event(5, "four", 0.2))
    await caster.feed(OutputEvent(ROOM, 6, "cut", {"at": 0.2}))
    audio = _read(caster.programme, 1.0)
    assert np.all(audio[: RATE // 2] == A_LEVEL)  # played whole
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 2
    assert all("cut event" in w and "of/at" in w for w in warnings)
