from __future__ import annotations

import asyncio
import time

import pytest

from voice.errors import NothingToSay, TTSError
from voice.espeak import EspeakOptions, EspeakTTS
from voice.types import Clip, Prosody
from voice.wav import parse_wav, rms_dbfs

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("text", "voice"),
    [
        ("欢迎来到直播间！今天这款面霜只要¥199。库存有限，快下单！", "cmn-latn-pinyin"),
        ("Welcome to the stream. This cream is just $19.99 today!", "en-us"),
    ],
)
async def test_real_synthesis_in_both_languages(text: str, voice: str) -> None:
    clip = await EspeakTTS().synthesize(text)
    pcm = parse_wav(clip.audio)
    assert (clip.format, clip.engine, clip.voice) == ("wav", "espeak", voice)
    assert clip.sample_rate == pcm.sample_rate == 22050
    assert pcm.channels == 1
    assert clip.duration == pytest.approx(pcm.duration)
    assert clip.duration > 1.5
    assert rms_dbfs(pcm) > -35.0  # speech, not silence
    assert len(clip.cues) >= 2  # one per sentence
    assert clip.cues[0].start == 0.0
    assert all(a.end == pytest.approx(b.start) for a, b in zip(clip.cues, clip.cues[1:], strict=False))
    assert clip.cues[-1].end == pytest.approx(clip.duration, abs=0.002)
    # The subtitles show the text as written (the engine was given "199元", "19 dollars and 99 cents").
    assert "¥199" in clip.text or "$19.99" in clip.text


async def test_rate_changes_duration() -> None:
    tts = EspeakTTS()
    fast = await tts.synthesize("This is a sentence of moderate length.", prosody=Prosody(rate="+50%"))
    slow = await tts.synthesize("This is a sentence of moderate length.", prosody=Prosody(rate="-30%"))
    assert slow.duration > fast.duration * 1.5


async def test_an_unknown_voice_is_a_clear_error() -> None:
    with pytest.raises(TTSError, match=r"espeak-ng failed.*does not exist"):
        await EspeakTTS().synthesize("hello", voice="xx-nosuchvoice")


async def test_a_missing_binary_is_a_clear_error() -> None:
    with pytest.raises(TTSError, match="not installed"):
        await EspeakTTS(EspeakOptions(binary="espeak-ng-missing")).synthesize("hello")


async def test_nothing_to_say() -> None:
    with pytest.raises(NothingToSay):
        await EspeakTTS().synthesize("😀🔥 https://example.com")


async def test_offline_voice_list_has_mandarin_and_english() -> None:
    names = {v.name for v in await EspeakTTS().list_voices()}
    assert {"cmn-latn-pinyin", "en-us"} <= names


async def test_stream_yields_sentence_by_sentence_and_starts_early() -> None:
    tts = EspeakTTS()
    text = "第一句话。第二句话比较长一些，对吧？第三句！"
    start = time.monotonic()
    clips: list[Clip] = []
    first_at = 0.0
    async for clip in tts.stream(text):
        if not clips:
            first_at = time.monotonic() - start
        clips.append(clip)
    assert [c.text for c in clips] == ["第一句话。", "第二句话比较长一些，对吧？", "第三句！"]
    whole = await tts.synthesize(text)
    assert first_at < 0.5
    assert sum(c.duration for c in clips) == pytest.approx(whole.duration, rel=0.05)


async def test_closing_a_stream_early_cancels_work() -> None:
    tts = EspeakTTS()
    stream = tts.stream("一。二。三。四。五。")
    first = await stream.__anext__()
    await stream.aclose()
    assert first.text == "一。"
    await asyncio.sleep(0)


MANDARIN = "欢迎来到直播间，今天给大家带来一款暖禾加绒卫衣。面料是棉百分之八十，里面加了一层绒，穿着很暖和。"


async def test_mandarin_is_spoken_at_a_hosts_pace() -> None:
    clip = await EspeakTTS().synthesize(MANDARIN)
    characters = sum(1 for c in MANDARIN if "\u4e00" <= c <= "\u9fff")
    assert 5.0 <= characters / clip.duration <= 6.2, characters / clip.duration
    slower = await EspeakTTS().synthesize(MANDARIN, prosody=Prosody(rate="-20%"))
    assert slower.duration > clip.duration * 1.15


async def test_latin_words_in_chinese_are_said_by_the_english_voice_and_initialisms_spelt() -> None:
    tts = EspeakTTS()
    mixed = parse_wav((await tts.synthesize("这款AirBuds有XL码", voice="zh")).audio)
    english = parse_wav((await EspeakTTS().synthesize("AirBuds", voice="en-us")).audio)
    spelt = parse_wav((await EspeakTTS().synthesize("X L", voice="en-us")).audio)
    pinyin = parse_wav(
        (await EspeakTTS(EspeakOptions(latin_voice=None)).synthesize("这款AirBuds有XL码", voice="zh")).audio
    )
    # The English voice's own audio for the brand and for the spelt size is inside the sentence's audio.
    assert english.data[2000:6000] in mixed.data
    assert spelt.data[1000:4000] in mixed.data
    assert english.data[2000:6000] not in pinyin.data


async def test_subtitles_show_what_the_script_says_not_what_the_engine_was_given() -> None:
    clip = await EspeakTTS().synthesize("面料是棉80%，尺码有XXL。净含量40g，两色可选！")
    assert [c.text for c in clip.cues] == ["面料是棉80%，尺码有XXL。", "净含量40g，两色可选！"]
    assert clip.cues[0].end == pytest.approx(clip.cues[1].start)
