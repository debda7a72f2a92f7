"""Language → voice per engine, with defaults and per-merchant / per-room overrides."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from voice.language import detect_language

_DEFAULTS: dict[str, dict[str, str]] = {
    "zh": {"edge": "zh-CN-XiaoxiaoNeural", "espeak": "cmn-latn-pinyin"},
    "en": {"edge": "en-US-AriaNeural", "espeak": "en-us"},
    "ja": {"edge": "ja-JP-NanamiNeural", "espeak": "ja"},
    "ko": {"edge": "ko-KR-SunHiNeural", "espeak": "ko"},
    "yue": {"edge": "zh-HK-HiuMaanNeural", "espeak": "yue"},
}

_EDGE_VOICE = re.compile(r"^([a-z]{2,3})-([A-Z]{2}|[A-Za-z]{4}-[A-Z]{2})-\w+Neural$")


def _freeze(table: Mapping[str, Mapping[str, str]]) -> Mapping[str, Mapping[str, str]]:
    return MappingProxyType({lang: MappingProxyType(dict(v)) for lang, v in table.items()})


@dataclass(frozen=True)
class VoiceMap:
    """Which voice each engine uses for each language.

    ``VoiceMap.default().with_overrides(merchant).with_overrides(room)`` layers a merchant's and then a
    room's choices over the defaults; a layer only names what it changes::

        VoiceMap.default().with_overrides({"zh": {"edge": "zh-CN-YunxiNeural"}})

    Attributes:
        table: language → engine → voice.
        fallback_language: used when a text's language has no entry.
    """

    table: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: _freeze(_DEFAULTS))
    fallback_language: str = "en"

    @classmethod
    def default(cls) -> VoiceMap:
        return cls()

    def with_overrides(self, overrides: Mapping[str, Mapping[str, str]] | None) -> VoiceMap:
        """A new map with ``overrides`` (language → engine → voice) layered over this one."""
        if not overrides:
            return self
        merged = {lang: dict(v) for lang, v in self.table.items()}
        for lang, per_engine in overrides.items():
            merged.setdefault(lang, {}).update(per_engine)
        return VoiceMap(_freeze(merged), self.fallback_language)

    def voice_for(self, engine: str, language: str) -> str:
        """The voice ``engine`` uses for ``language``.

        Raises:
            KeyError: neither the language nor the fallback language has a voice for this engine.
        """
        for lang in (language, language.split("-")[0], self.fallback_language):
            voice = self.table.get(lang, {}).get(engine)
            if voice:
                return voice
        raise KeyError(f"no {engine} voice for language {language!r}")

    def language_of_voice(self, voice: str) -> str | None:
        """The language a voice speaks, from this map or from its name ("zh-CN-YunxiNeural" → "zh")."""
        for lang, per_engine in self.table.items():
            if voice in per_engine.values():
                return lang
        m = _EDGE_VOICE.match(voice)
        if m and voice.startswith("zh-HK"):
            return "yue"
        code = m.group(1) if m else voice.split("-")[0].lower()
        code = {"cmn": "zh"}.get(code, code)
        return code if code in self.table else None

    def resolve(self, engine: str, voice: str | None, text: str, owns: bool) -> str:
        """The concrete voice ``engine`` should use.

        Args:
            engine: the engine asking ("edge", "espeak").
            voice: what the caller asked for: None (choose by the text's language), a language code
                ("zh", "en"), or a concrete voice of this or another engine.
            text: the text to speak, used when ``voice`` is None.
            owns: whether ``voice`` is a voice of this engine (the engine knows its own naming).
        """
        if voice is None:
            return self.voice_for(engine, detect_language(text, self.fallback_language))
        if voice in self.table:
            return self.voice_for(engine, voice)
        if owns:
            return voice
        lang = self.language_of_voice(voice) or detect_language(text, self.fallback_language)
        return self.voice_for(engine, lang)


def is_edge_voice(voice: str) -> bool:
    """True for an edge-tts neural voice name ("zh-CN-XiaoxiaoNeural")."""
    return bool(_EDGE_VOICE.match(voice))
