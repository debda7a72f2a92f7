"""Speech: TTS engines, fallback chain, cache, text normalisation and subtitles.

Typical use (the app passes ``<data_dir>/tts-cache``)::

    tts = build_tts("auto", cache_dir=data_dir / "tts-cache")
    async for clip in tts.stream("欢迎来到直播间！今天这款面霜只要¥199。", voices=room_voices):
        play(clip.audio, clip.cues)
"""

from voice.audio import (
    MasterSpec,
    clip_from,
    format_for_path,
    join_clips,
    master,
    probe_duration,
    transcode,
)
from voice.base import TTS, SpeechRequest
from voice.breaker import BreakerState, CircuitBreaker
from voice.cache import CachedTTS, ClipCache
from voice.chain import ENGINE_CHOICES, EngineChoice, build_tts
from voice.edge import EdgeOptions, EdgeTTS
from voice.errors import AllEnginesFailed, AudioError, NothingToSay, TransientTTSError, TTSError, TTSTimeout
from voice.espeak import EspeakOptions, EspeakTTS
from voice.fallback import FallbackOptions, FallbackTTS
from voice.language import detect_language
from voice.mastering import MasteredTTS
from voice.normalize import has_speech, normalize
from voice.sentences import split_sentences
from voice.subtitles import to_srt, to_vtt
from voice.types import AUDIO_FORMATS, AudioFormat, Clip, Cue, Prosody, VoiceInfo
from voice.voicemap import VoiceMap

__all__ = [
    "AUDIO_FORMATS",
    "ENGINE_CHOICES",
    "TTS",
    "AllEnginesFailed",
    "AudioError",
    "AudioFormat",
    "BreakerState",
    "CachedTTS",
    "CircuitBreaker",
    "Clip",
    "ClipCache",
    "Cue",
    "EdgeOptions",
    "EdgeTTS",
    "EngineChoice",
    "EspeakOptions",
    "EspeakTTS",
    "FallbackOptions",
    "FallbackTTS",
    "MasterSpec",
    "MasteredTTS",
    "NothingToSay",
    "Prosody",
    "SpeechRequest",
    "TTSError",
    "TTSTimeout",
    "TransientTTSError",
    "VoiceInfo",
    "VoiceMap",
    "build_tts",
    "clip_from",
    "detect_language",
    "format_for_path",
    "has_speech",
    "join_clips",
    "master",
    "normalize",
    "probe_duration",
    "split_sentences",
    "to_srt",
    "to_vtt",
    "transcode",
]
