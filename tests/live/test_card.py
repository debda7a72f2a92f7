"""The product card image and the programme timeline behind a headless broadcast."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from agent.live.card import Box, card_layout, find_fonts, format_price, render_card, wrap_text
from agent.live.events import Cue
from agent.live.programme import Programme, Speech
from agent.live.sinks import EncoderOptions, HlsSink, RtmpSink, ffmpeg_command

pytestmark = pytest.mark.unit

SIZE = (1280, 720)
CARD = {
    "sku": "CREAM-50",
    "title": "云朵柔肤保湿面霜 50ml",
    "price": 199,
    "currency": "CNY",
    "list_price": "299.00",
    "link": 1,
    "stock_state": "low",
}


def _region(img: Image.Image, box: Box) -> np.ndarray:
    return np.asarray(img.crop(box), dtype=np.int16)


def _differs(a: Image.Image, b: Image.Image, box: Box) -> int:
    """Pixels in ``box`` that differ noticeably between two renders."""
    return int((np.abs(_region(a, box) - _region(b, box)).max(axis=2) > 40).sum())


def test_chinese_title_draws_glyphs_in_the_title_area() -> None:
    assert find_fonts().regular.cjk, "fonts-noto-cjk is expected on this machine"
    layout = card_layout(SIZE)
    with_title = render_card(CARD, None, SIZE)
    without = render_card({**CARD, "title": ""}, None, SIZE)
    assert with_title.size == SIZE
    assert with_title.mode == "RGB"
    assert _differs(with_title, without, layout.title) > 2000
    # A CJK font draws distinct glyphs: two different titles give different pixels.
    other = render_card({**CARD, "title": "纯棉短袖T恤"}, None, SIZE)
    assert _differs(with_title, other, layout.title) > 1000


def test_long_title_is_wrapped_to_two_lines_and_ellipsised() -> None:
    font = find_fonts().font(52, bold=True)
    title = "云朵柔肤保湿面霜敏感肌可用温和不刺激补水保湿一整天" * 3
    lines = wrap_text(title, font, 700, 2)
    assert len(lines) == 2
    assert lines[-1].endswith("…")
    assert all(font.getlength(line) <= 700 for line in lines)
    assert "".join(lines).rstrip("…") == title[: len("".join(lines)) - 1]
    # The card stays inside its title box: nothing drawn between the title and the price.
    layout = card_layout(SIZE)
    long_card = render_card({**CARD, "title": title}, None, SIZE)
    bare = render_card({**CARD, "title": ""}, None, SIZE)
    gap = (layout.title[0], layout.title[3], layout.title[2], layout.price[1])
    assert _differs(long_card, bare, gap) == 0
    assert _differs(long_card, bare, layout.title) > 2000


def test_latin_words_are_not_split_across_lines() -> None:
    font = find_fonts().font(40)
    lines = wrap_text("Cloud soft moisturising cream for sensitive skin", font, 300, 5)
    assert len(lines) > 1
    words = " ".join(lines).split()
    assert words == ["Cloud", "soft", "moisturising", "cream", "for", "sensitive", "skin"]


def test_no_price_draws_no_price_line() -> None:
    layout = card_layout(SIZE)
    priced = render_card(CARD, None, SIZE)
    unpriced = render_card({**CARD, "price": None, "list_price": None}, None, SIZE)
    background = render_card({}, None, SIZE)
    assert _differs(priced, background, layout.price) > 1000
    assert _differs(unpriced, background, layout.price) == 0


def test_money_as_the_room_sends_it_is_drawn_with_its_amount() -> None:
    # The product event carries money as text ("¥129"); the card reads the amount, not only numbers.
    assert format_price("¥129") == "129"
    assert format_price("¥1,299.00") == "1299"
    assert format_price("US$12.50") == "12.5"
    assert format_price("-¥5") is None
    assert format_price("价格待定") is None
    layout = card_layout(SIZE)
    as_text = render_card({**CARD, "price": "¥199", "list_price": "¥299"}, None, SIZE)
    as_number = render_card(CARD, None, SIZE)
    assert _differs(as_text, as_number, layout.price) == 0


def test_the_host_keeps_its_side_free_and_the_room_title_shows() -> None:
    layout = card_layout(SIZE, (0, 400))
    assert layout.title[2] <= SIZE[0] - 400
    assert layout.price[2] <= SIZE[0] - 400
    assert layout.subtitle == (0, SIZE[1] - 130, SIZE[0], SIZE[1])  # the band still spans the frame
    long_title = {**CARD, "title": "云朵柔肤保湿面霜 五十毫升 敏感肌可用 温和不刺激 送同款小样"}
    reserved = render_card(long_title, None, SIZE, reserve=(0, 400))
    right = (SIZE[0] - 400, 0, SIZE[0], layout.subtitle[1])
    top_right = (SIZE[0] - 400, 0, SIZE[0], 100)
    bare = render_card({}, None, SIZE)
    below_title = (SIZE[0] - 400, 100, SIZE[0], layout.subtitle[1])
    assert _differs(reserved, bare, below_title) == 0  # nothing drawn where the host stands
    titled = render_card(long_title, None, SIZE, reserve=(0, 400), room_title="暖禾官方直播间")
    assert _differs(titled, reserved, top_right) > 200
    assert _differs(titled, reserved, right) == _differs(titled, reserved, top_right)


def test_list_price_is_shown_only_when_higher() -> None:
    layout = card_layout(SIZE)
    higher = render_card(CARD, None, SIZE)
    same = render_card({**CARD, "list_price": 199}, None, SIZE)
    assert _differs(higher, same, layout.price) > 300


def test_subtitle_band_appears_only_with_a_subtitle() -> None:
    layout = card_layout(SIZE)
    plain = render_card(CARD, None, SIZE)
    subtitled = render_card(CARD, "今天这款面霜只要一百九十九元", SIZE)
    empty = render_card(CARD, "   ", SIZE)
    assert _differs(plain, subtitled, layout.subtitle) > 1000
    assert _differs(plain, empty, layout.subtitle) == 0


def test_link_badge_and_english_label() -> None:
    layout = card_layout(SIZE)
    zh = render_card(CARD, None, SIZE)
    en = render_card({**CARD, "language": "en"}, None, SIZE)
    none = render_card({**CARD, "link": None}, None, SIZE)
    assert _differs(zh, none, layout.badge) > 1000
    assert _differs(zh, en, layout.badge) > 200


def test_card_scales_to_other_sizes_and_rejects_tiny_ones() -> None:
    small = render_card(CARD, "字幕", (640, 360))
    assert small.size == (640, 360)
    with pytest.raises(ValueError, match="too small"):
        card_layout((100, 50))


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (199, "199"),
        ("199.00", "199"),
        (199.9, "199.9"),
        ("12.345", "12.35"),
        (None, None),
        ("abc", None),
        (-1, None),
        ("NaN", None),
        ("inf", None),
    ],
)
def test_format_price(value: object, shown: str | None) -> None:
    assert format_price(value) == shown


# ---- the programme timeline -------------------------------------------------------------------

RATE = 1000  # samples per second, to keep the arithmetic readable


def _tone(seconds: float, level: int = 1000) -> bytes:
    return np.full(round(seconds * RATE), level, dtype="<i2").tobytes()


def test_programme_plays_speech_in_order_with_silence_between() -> None:
    prog = Programme(RATE, linger_s=0.0)
    assert prog.read_audio(100) == bytes(200)  # nothing queued: silence
    prog.queue_speech(Speech(_tone(0.3, 1), "one"))
    prog.queue_speech(Speech(_tone(0.2, 2), "two"))
    audio = np.frombuffer(prog.read_audio(700), dtype="<i2")
    assert audio.tolist() == [1] * 300 + [2] * 200 + [0] * 200
    assert prog.spoken == 2
    assert prog.position == pytest.approx(0.8)


def test_programme_subtitles_and_cards_follow_media_time() -> None:
    prog = Programme(RATE, linger_s=0.1)
    prog.queue_card({"title": "A"})
    cues = (Cue(0.0, 0.5, "first half"), Cue(0.5, 1.0, "second half"))
    prog.queue_speech(Speech(_tone(1.0), "first half second half", cues))
    prog.queue_card({"title": "B"})
    prog.queue_speech(Speech(_tone(0.5), "no cues", note="@小米：多少钱"))
    prog.read_audio(500)  # 0.0–0.5 s: the card goes up with the first speech
    early = prog.on_air(0.2)
    assert (early.card["title"], early.subtitle, early.note) == ("A", "first half", None)
    prog.read_audio(1500)  # the rest, then silence from 1.5 s
    assert prog.on_air(0.7).subtitle == "second half"
    later = prog.on_air(1.2)
    assert (later.card["title"], later.subtitle, later.note) == ("B", "no cues", "@小米：多少钱")
    assert later.key != early.key
    assert prog.on_air(1.55).subtitle == "no cues"  # lingers 0.1 s
    assert prog.on_air(1.7).subtitle is None
    assert prog.on_air(1.7).card["title"] == "B"


def test_programme_backlog_drops_the_oldest_waiting_speech() -> None:
    prog = Programme(RATE, max_backlog_s=1.0)
    for name in ("a", "b", "c"):
        prog.queue_speech(Speech(_tone(0.5), name))
    assert prog.dropped == 1
    assert prog.backlog_seconds == pytest.approx(1.0)
    prog.read_audio(1000)
    assert prog.on_air(0.1).subtitle == "b"


def test_programme_restart_keeps_what_is_on_air() -> None:
    prog = Programme(RATE, linger_s=0.0)
    prog.queue_card({"title": "A"})
    prog.queue_speech(Speech(_tone(1.0), "long line"))
    prog.read_audio(400)
    prog.restart_clock()
    assert prog.position == 0
    assert prog.on_air(0.0).card["title"] == "A"
    assert prog.on_air(0.0).subtitle == "long line"
    rest = np.frombuffer(prog.read_audio(800), dtype="<i2")
    assert int((rest != 0).sum()) == 600  # the unplayed 0.6 s continues after the restart
    assert prog.on_air(0.7).subtitle is None


# ---- sinks and the ffmpeg command -------------------------------------------------------------


def test_sinks_validate_and_hide_the_stream_key(tmp_path) -> None:
    with pytest.raises(ValueError, match="rtmp://"):
        RtmpSink("http://example.com/live")
    sink = RtmpSink("rtmp://ingest.example.com/live/SECRET-KEY")
    assert "SECRET" not in sink.target
    hls = HlsSink(tmp_path / "out")
    argv = ffmpeg_command(
        hls, audio_fd=5, size=(640, 360), fps=2, sample_rate=24000, encoder=EncoderOptions()
    )
    assert argv[argv.index("-video_size") + 1] == "640x360"
    assert "pipe:5" in argv
    assert argv[argv.index("-g") + 1] == "4"  # a keyframe every two seconds
    assert argv[-1] == str(tmp_path / "out" / "index.m3u8")
    restarted = ffmpeg_command(
        hls, audio_fd=5, size=(640, 360), fps=2, sample_rate=24000, encoder=EncoderOptions(), restart=True
    )
    assert "append_list" in restarted[restarted.index("-hls_flags") + 1]
    with pytest.raises(ValueError):
        HlsSink(tmp_path, segment_seconds=0)


def test_the_programme_says_how_open_the_hosts_mouth_is_at_each_frame() -> None:
    rate = 1000
    programme = Programme(rate, linger_s=0.5)
    # 0.2 s of speech whose track opens the mouth in its second and third frames (25 a second).
    programme.queue_speech(Speech(bytes(2 * 200), "好", mouth="03400"))
    programme.read_audio(400)
    assert [programme.on_air(t / 25).mouth for t in range(5)] == [0, 3, 4, 0, 0]
    assert programme.on_air(0.3).mouth == 0  # the subtitle lingers after the speech; the mouth is shut
    assert programme.on_air(0.3).subtitle == "好"


def test_emoji_the_fonts_cannot_draw_are_dropped_cleanly() -> None:
    from agent.live.card import drawable

    assert drawable("Lily🌸") == "Lily"
    assert drawable("👍🏻 好看 ❤️ 28℃") == "好看 28℃"
    with_emoji = render_card(CARD, "今天有好货🎉", SIZE, note="@Lily🌸：有优惠吗")
    plain = render_card(CARD, "今天有好货", SIZE, note="@Lily：有优惠吗")
    assert np.array_equal(np.asarray(with_emoji), np.asarray(plain))
