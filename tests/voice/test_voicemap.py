from __future__ import annotations

import pytest

from voice.language import detect_language
from voice.voicemap import VoiceMap

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("今天只要199元", "zh"),
        ("iPhone 15 只要 5999 元", "zh"),
        ("Only 19 dollars", "en"),
        ("こんにちは", "ja"),
        ("안녕하세요", "ko"),
        ("12345", "en"),
    ],
)
def test_detect_language(text: str, lang: str) -> None:
    assert detect_language(text) == lang


def test_defaults_per_engine() -> None:
    vm = VoiceMap.default()
    assert vm.voice_for("edge", "zh") == "zh-CN-XiaoxiaoNeural"
    assert vm.voice_for("edge", "en") == "en-US-AriaNeural"
    assert vm.voice_for("espeak", "zh") == "cmn-latn-pinyin"
    assert vm.voice_for("espeak", "en") == "en-us"
    assert vm.voice_for("espeak", "zh-CN") == "cmn-latn-pinyin"
    assert vm.voice_for("espeak", "xx") == "en-us"  # unknown language: the fallback language


def test_merchant_then_room_overrides_layer() -> None:
    merchant = VoiceMap.default().with_overrides({"zh": {"edge": "zh-CN-YunxiNeural"}})
    room = merchant.with_overrides({"en": {"edge": "en-US-GuyNeural"}})
    assert room.voice_for("edge", "zh") == "zh-CN-YunxiNeural"
    assert room.voice_for("edge", "en") == "en-US-GuyNeural"
    assert room.voice_for("espeak", "zh") == "cmn-latn-pinyin"
    assert VoiceMap.default().voice_for("edge", "zh") == "zh-CN-XiaoxiaoNeural"  # the default is untouched


def test_resolve_translates_another_engines_voice() -> None:
    vm = VoiceMap.default()
    assert vm.resolve("espeak", None, "欢迎", owns=False) == "cmn-latn-pinyin"
    assert vm.resolve("espeak", "en", "欢迎", owns=False) == "en-us"
    assert vm.resolve("espeak", "zh-CN-YunxiNeural", "hello", owns=False) == "cmn-latn-pinyin"
    assert vm.resolve("edge", "en-us", "你好", owns=False) == "en-US-AriaNeural"
    assert vm.resolve("edge", "zh-CN-YunxiNeural", "hello", owns=True) == "zh-CN-YunxiNeural"
