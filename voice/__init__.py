"""Speech: TTS engines, fallback chain, cache, text normalisation and subtitles."""
