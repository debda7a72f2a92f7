from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.voice.fakes import FakeEdgeService
from voice.audio import (
    MasterSpec,
    clip_from,
    encode,
    format_for_path,
    join_clips,
    master,
    probe_duration,
    to_pcm,
    transcode,
)
from voice.edge import EdgeTTS
from voice.errors import AudioError
from voice.espeak import EspeakTTS
from voice.loudness import integrated_loudness, normalize_loudness
from voice.mastering import MasteredTTS
from voice.pauses import FRAME_S, find_pauses
from voice.types import Clip, Cue
from voice.wav import Pcm, build_wav, parse_wav, resample, rms_dbfs

COMMAS = "这款纯棉T恤采用新疆长绒棉，柔软透气，不起球不变形，春夏秋三季都能穿，今天直播间到手价一百五十九元。"

pytestmark = pytest.mark.integration


def ffmpeg_loudness(audio: bytes) -> float:
    run = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostats", "-i", "pipe:0", "-af", "ebur128", "-f", "null", "-"],
        input=audio,
        capture_output=True,
        check=True,
    )
    found = re.findall(r"I:\s+(-?[\d.]+) LUFS", run.stderr.decode())
    return float(found[-1])


@pytest.mark.parametrize(("fmt", "rate"), [("mp3", 24000), ("opus", 48000), ("wav", 16000)])
async def test_master_converts_format_and_rate(fmt: str, rate: int) -> None:
    clip = await EspeakTTS().synthesize("欢迎来到直播间。")
    spec = MasterSpec(format=fmt, sample_rate=rate)  # type: ignore[arg-type]
    out = await master(clip, spec)
    assert (out.format, out.sample_rate, out.cues) == (fmt, rate, clip.cues)
    decoded = await probe_duration(out.audio, out.format)
    assert decoded == pytest.approx(clip.duration, abs=0.1)
    if fmt == "opus":
        assert out.audio[:4] == b"OggS"


async def test_both_engines_end_at_the_same_loudness(edge_like_mp3: bytes) -> None:
    spec = MasterSpec(format="mp3", sample_rate=24000, loudness_lufs=-16.0)
    espeak = MasteredTTS(EspeakTTS(), spec)
    edge = MasteredTTS(EdgeTTS(communicate=FakeEdgeService("ok", audio=edge_like_mp3)), spec)
    a = await espeak.synthesize("欢迎来到直播间！今天这款面霜只要199元，库存有限，快来下单吧！")
    b = await edge.synthesize("欢迎来到直播间！")
    raw_edge = ffmpeg_loudness(edge_like_mp3)
    la, lb = ffmpeg_loudness(a.audio), ffmpeg_loudness(b.audio)
    assert raw_edge < -25  # the tone starts far quieter than the target
    assert la == pytest.approx(-16.0, abs=1.0)
    assert lb == pytest.approx(-16.0, abs=1.0)
    assert abs(la - lb) < 1.0


async def test_join_clips_shifts_cues() -> None:
    tts = EspeakTTS()
    one, two = await tts.synthesize("第一句。"), await tts.synthesize("Second sentence.")
    joined = await join_clips([one, two], "wav", gap=0.2)
    assert joined.duration == pytest.approx(one.duration + two.duration + 0.2, abs=0.01)
    assert joined.cues[1].start == pytest.approx(one.duration + 0.2, abs=0.01)
    assert joined.engine == "espeak"


async def test_join_clips_keeps_each_clips_pauses_and_pauses_where_they_meet() -> None:
    tts = EspeakTTS()
    spec = MasterSpec(sample_rate=22050, loudness_lufs=None)
    one = await master(await tts.synthesize("库存不多了，抓紧下单！"), spec)
    two = await master(await tts.synthesize("It suits dry skin, morning and night."), spec)
    assert one.pauses
    assert two.pauses
    joined = await join_clips([one, two], "mp3", gap=0.1)
    meet = one.duration + 0.05
    expected = [*one.pauses, *(p + one.duration + 0.1 for p in two.pauses)]
    own = [p for p in joined.pauses if abs(p - meet) > 0.3]
    assert own == pytest.approx(expected, abs=FRAME_S)
    [at_the_join] = [p for p in joined.pauses if abs(p - meet) <= 0.3]
    assert one.pauses[-1] < at_the_join < one.duration + 0.1 + two.pauses[0]
    assert joined.format == "mp3"
    assert joined.duration == pytest.approx(one.duration + two.duration + 0.1, abs=1e-4)


async def test_mp3_is_encoded_in_process_with_the_exact_duration_and_the_same_loudness() -> None:
    clip = await EspeakTTS().synthesize(COMMAS)
    wav = await master(clip, MasterSpec(format="wav", sample_rate=24000))
    mp3 = await master(clip, MasterSpec(format="mp3", sample_rate=24000, bitrate="64k"))
    assert mp3.audio[:2] == b"\xff\xf3"  # an MPEG-2 layer III frame straight away: LAME, not ffmpeg's ID3 tag
    assert (mp3.format, mp3.sample_rate, mp3.cues) == ("mp3", 24000, clip.cues)
    assert mp3.duration == parse_wav(wav.audio).duration  # the PCM that was encoded
    assert mp3.pauses == wav.pauses != ()
    assert len(mp3.audio) == pytest.approx(mp3.duration * 64000 / 8, rel=0.05)
    decoded = await to_pcm(mp3.audio, "mp3")
    assert decoded.sample_rate == 24000
    # LAME puts 1105 samples of encoder delay in front and pads the end to a whole 576-sample frame.
    assert 0.0 <= decoded.duration - mp3.duration <= (1105 + 576) / 24000
    assert ffmpeg_loudness(mp3.audio) == pytest.approx(ffmpeg_loudness(wav.audio), abs=0.5)
    assert ffmpeg_loudness(mp3.audio) == pytest.approx(-16.0, abs=1.0)


async def test_without_lameenc_ffmpeg_encodes_the_mp3(monkeypatch: pytest.MonkeyPatch) -> None:
    clip = await EspeakTTS().synthesize("欢迎来到直播间！")
    in_process = await master(clip, MasterSpec(format="mp3"))
    monkeypatch.setitem(sys.modules, "lameenc", None)  # the package is not installed
    by_ffmpeg = await master(clip, MasterSpec(format="mp3"))
    assert by_ffmpeg.audio[:3] == b"ID3"
    assert by_ffmpeg.duration == in_process.duration
    decoded = await probe_duration(by_ffmpeg.audio, "mp3")
    assert decoded == pytest.approx(in_process.duration, abs=0.1)


async def test_a_bitrate_lame_cannot_read_is_an_audio_error() -> None:
    with pytest.raises(AudioError, match="bitrate 'fast'"):
        await encode(Pcm(b"\x00\x00" * 2400, 24000), "mp3", bitrate="fast")


async def test_a_clip_already_mastered_keeps_its_audio_and_gets_its_pauses() -> None:
    clip = await EspeakTTS().synthesize(COMMAS)
    spec = MasterSpec(format="wav", sample_rate=clip.sample_rate, loudness_lufs=None)
    same = await master(clip, spec)
    assert same.audio is clip.audio
    assert same.pauses == find_pauses(parse_wav(clip.audio)) != ()


async def test_an_mp3_clip_not_re_encoded_takes_its_pauses_from_its_cues(edge_like_mp3: bytes) -> None:
    cues = (Cue(0.0, 0.6, "欢迎来到直播间！"), Cue(0.9, 1.5, "今天有福利。"))
    clip = Clip(edge_like_mp3, "mp3", 24000, 1.5, cues, "edge", "zh-CN-XiaoxiaoNeural")
    same = await master(clip, MasterSpec(format="mp3", sample_rate=24000, loudness_lufs=None))
    assert same.audio is clip.audio
    assert same.pauses == (0.75,)


async def test_transcode_round_trip_keeps_speech() -> None:
    clip = await EspeakTTS().synthesize("hello there")
    mp3 = await transcode(clip.audio, "wav", "mp3")
    back = parse_wav(await transcode(mp3, "mp3", "wav", sample_rate=22050))
    assert rms_dbfs(back) > -35


def test_wav_with_placeholder_sizes_is_read_to_the_end() -> None:
    wav = bytearray(build_wav(Pcm(b"\x01\x00" * 100, 22050)))
    wav[4:8] = b"\xff\xff\xff\x7f"
    wav[40:44] = b"\x00\xf0\xff\x7f"  # what espeak-ng writes to a pipe
    assert parse_wav(bytes(wav)).frames == 100


def test_format_for_path() -> None:
    assert format_for_path("out.MP3") == "mp3"
    assert format_for_path("a.ogg") == "opus"
    with pytest.raises(ValueError, match=r"\.wav, \.mp3"):
        format_for_path("out.flac")


async def test_in_process_loudness_agrees_with_ffmpeg(edge_like_mp3: bytes) -> None:
    clip = await EspeakTTS().synthesize("欢迎来到直播间！今天这款面霜只要199元，库存有限，快来下单吧！")
    ours = integrated_loudness(parse_wav(clip.audio))
    assert ours == pytest.approx(ffmpeg_loudness(clip.audio), abs=0.7)
    tone = await to_pcm(edge_like_mp3, "mp3")
    assert integrated_loudness(tone) == pytest.approx(ffmpeg_loudness(edge_like_mp3), abs=0.7)
    louder = normalize_loudness(parse_wav(clip.audio), -16.0, peak_ceiling_db=0.0)
    assert integrated_loudness(louder) == pytest.approx(-16.0, abs=0.3)


@pytest.mark.unit
def test_resample_keeps_length_pitch_and_level() -> None:
    import numpy as np

    t = np.arange(22050) / 22050
    tone = (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2")
    pcm = Pcm(tone.tobytes(), 22050)
    out = resample(pcm, 24000)
    assert (out.sample_rate, out.frames) == (24000, 24000)
    y = np.frombuffer(out.data, dtype="<i2").astype(float)
    crossings = int(np.sum((y[:-1] < 0) & (y[1:] >= 0)))
    assert 438 <= crossings <= 441
    assert rms_dbfs(out) == pytest.approx(rms_dbfs(pcm), abs=0.2)
    assert resample(pcm, 22050) is pcm


def tone_bursts(rate: int, bursts: list[tuple[float, float]], seconds: float) -> Pcm:
    """Silence with a 440 Hz tone over each (start, end) of ``bursts``."""
    import numpy as np

    samples = np.zeros(round(seconds * rate))
    for start, end in bursts:
        a, b = round(start * rate), round(end * rate)
        samples[a:b] = 8000 * np.sin(2 * np.pi * 440 * np.arange(b - a) / rate)
    return Pcm(samples.astype("<i2").tobytes(), rate)


def onset(pcm: Pcm) -> float:
    """Seconds to the first sample louder than a tenth of full scale."""
    import numpy as np

    samples = np.abs(np.frombuffer(pcm.data, "<i2"))
    return float(np.flatnonzero(samples > 3000)[0]) / pcm.sample_rate


async def test_clip_from_a_pause_keeps_the_rest_sample_for_sample_with_cues_and_pauses_shifted() -> None:
    pcm = tone_bursts(24000, [(0.1, 1.0), (1.3, 2.0), (2.4, 2.9)], 3.0)
    cue = Cue(0.0, 3.0, "第一句话，第二句话，第三句话。")
    clip = Clip(build_wav(pcm), "wav", 24000, pcm.duration, (cue,), "test", "v", pauses=(1.15, 2.2))
    rest = await clip_from(clip, 1.15)
    assert rest.duration == pytest.approx(3.0 - 1.15, abs=1 / 24000)
    assert parse_wav(rest.audio).data == pcm.data[round(1.15 * 24000) * 2 :]
    assert rest.pauses == (1.05,)
    # The cue holds as many pauses as clause breaks: its text starts at the clause the pause begins.
    assert rest.cues == (Cue(0.0, 1.85, "第二句话，第三句话。"),)
    assert (await clip_from(clip, 2.2)).cues == (Cue(0.0, 0.8, "第三句话。"),)
    # When the pauses cannot be matched to the clause breaks the cue keeps its whole text.
    unmatched = Clip(
        build_wav(pcm), "wav", 24000, 3.0, (Cue(0.0, 3.0, "没有逗号的一句话"),), pauses=(1.15, 2.2)
    )
    assert (await clip_from(unmatched, 2.2)).cues == (Cue(0.0, 0.8, "没有逗号的一句话"),)


async def test_clip_from_an_mp3_starts_on_the_clips_own_timeline() -> None:
    pcm = tone_bursts(24000, [(0.2, 0.6), (1.0, 1.5)], 2.0)
    mp3 = await encode(pcm, "mp3")
    clip = Clip(mp3, "mp3", 24000, pcm.duration, (Cue(0.0, 0.6, "one"), Cue(1.0, 1.5, "two")), pauses=(0.8,))
    rest = await clip_from(clip, 0.8)
    assert rest.format == "mp3"
    assert rest.duration == pytest.approx(1.2, abs=1e-3)
    assert rest.cues == (Cue(0.2, 0.7, "two"),)
    # Decoded, the second burst starts 0.2 s into the rest (after LAME's 1105 samples of delay), not
    # 46 ms later as it would if the original's delay had been kept.
    decoded = await to_pcm(rest.audio, "mp3")
    assert onset(decoded) - 1105 / 24000 == pytest.approx(0.2, abs=0.005)


@pytest.mark.parametrize("start", [0.0, -1.0, 3.0, 9.0])
async def test_clip_from_outside_the_clip_is_an_audio_error(start: float) -> None:
    pcm = tone_bursts(24000, [(0.1, 1.0)], 3.0)
    clip = Clip(build_wav(pcm), "wav", 24000, 3.0)
    with pytest.raises(AudioError, match="cannot start"):
        await clip_from(clip, start)
