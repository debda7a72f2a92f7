"""Speech commands: `anchor say` and `anchor voices`."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from api.cli.app import app
from api.settings import Settings
from voice import (
    ENGINE_CHOICES,
    EdgeOptions,
    EdgeTTS,
    EspeakTTS,
    MasterSpec,
    NothingToSay,
    Prosody,
    TTSError,
    VoiceInfo,
    build_tts,
    format_for_path,
    to_srt,
    to_vtt,
)
from voice.chain import EngineChoice

console = Console()
err_console = Console(stderr=True)

_OFFLINE_PREFIXES = ("cmn", "yue", "en", "ja", "ko")


def _fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


@app.command("say")
def say(
    text: Annotated[
        str, typer.Argument(help="What to say, Chinese or English; prices and units are read out.")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Audio file: .mp3, .wav, .opus or .ogg")],
    voice: Annotated[
        str | None, typer.Option("--voice", "-v", help="A voice (zh-CN-YunxiNeural, en-us) or a language")
    ] = None,
    engine: Annotated[
        str,
        typer.Option("--engine", "-e", help="edge (online), espeak (offline) or auto (edge, else espeak)"),
    ] = "auto",
    lang: Annotated[
        str | None, typer.Option("--lang", "-l", help="zh or en; default: detected from the text")
    ] = None,
    srt: Annotated[Path | None, typer.Option("--srt", help="Also write SRT subtitles here")] = None,
    vtt: Annotated[Path | None, typer.Option("--vtt", help="Also write WebVTT subtitles here")] = None,
    rate: Annotated[str, typer.Option("--rate", help="Speaking rate, e.g. +10% or -20%")] = "+0%",
    volume: Annotated[str, typer.Option("--volume", help="Volume, e.g. +0% or -10%")] = "+0%",
    pitch: Annotated[str, typer.Option("--pitch", help="Pitch, e.g. +0Hz or -5Hz")] = "+0Hz",
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not use the clip cache")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a sentence")] = False,
) -> None:
    """Speak TEXT into an audio file (and subtitles).

    Example: anchor say "今天只要¥199" -o hi.mp3 --srt hi.srt
    """
    if engine not in ENGINE_CHOICES:
        raise _fail(f"--engine {engine!r} is not one of {', '.join(ENGINE_CHOICES)}", 2)
    chosen: EngineChoice = "edge" if engine == "edge" else "espeak" if engine == "espeak" else "auto"
    try:
        fmt = format_for_path(output.name)
        prosody = Prosody(rate=rate, volume=volume, pitch=pitch)
    except ValueError as exc:
        raise _fail(str(exc), 2) from exc
    settings = Settings()
    spec = MasterSpec(format=fmt, sample_rate=48000 if fmt == "opus" else 24000)
    tts = build_tts(chosen, cache_dir=None if no_cache else settings.data_dir / "tts-cache", master=spec)
    try:
        clip = asyncio.run(tts.synthesize(text, voice or lang, prosody))
    except NothingToSay as exc:
        raise _fail(f"{exc}: give some words to say", 2) from exc
    except TTSError as exc:
        raise _fail(str(exc)) from exc
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(clip.audio)
        if srt is not None:
            srt.write_text(to_srt(clip.cues), encoding="utf-8")
        if vtt is not None:
            vtt.write_text(to_vtt(clip.cues), encoding="utf-8")
    except OSError as exc:
        raise _fail(f"cannot write {exc.filename}: {exc.strerror}") from exc
    skipped = [f"{name}: {why}" for name, why in tts.last_failures]
    if as_json:
        result = {
            "engine": clip.engine,
            "voice": clip.voice,
            "format": clip.format,
            "sample_rate": clip.sample_rate,
            "duration": round(clip.duration, 3),
            "output": str(output),
            "cues": [asdict(c) for c in clip.cues],
            "fallback_reasons": skipped,
        }
        typer.echo(json.dumps(result, ensure_ascii=False))
        return
    for reason in skipped:
        err_console.print(f"[yellow]fell back:[/] {reason}")
    console.print(
        f"{clip.engine} spoke with voice {clip.voice}: {clip.duration:.1f} s of {clip.format} → {output}"
    )


async def _gather_voices(
    show_all: bool, online_timeout: float
) -> tuple[list[VoiceInfo], list[VoiceInfo], str]:
    offline: list[VoiceInfo] = []
    offline_error = ""
    try:
        offline = await EspeakTTS().list_voices()
    except TTSError as exc:
        offline_error = str(exc)
    if not show_all:
        offline = [v for v in offline if v.name.split("-")[0] in _OFFLINE_PREFIXES]
    online: list[VoiceInfo] = []
    error = offline_error
    try:
        online = await EdgeTTS(EdgeOptions(list_timeout=online_timeout)).list_voices()
    except TTSError as exc:
        error = (error + "; " if error else "") + str(exc)
    return offline, online, error


@app.command("voices")
def voices(
    show_all: Annotated[
        bool, typer.Option("--all", help="All espeak-ng languages, not only zh/en/ja/ko")
    ] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for the online list")] = 5.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables")] = False,
) -> None:
    """List voices: offline (espeak-ng) always, online (edge-tts) when Microsoft's service answers."""
    offline, online, error = asyncio.run(_gather_voices(show_all, timeout))
    if as_json:
        payload: dict[str, Any] = {
            "offline": [asdict(v) for v in offline],
            "online": [asdict(v) for v in online] if online else None,
            "online_error": error or None,
        }
        typer.echo(json.dumps(payload, ensure_ascii=False))
        return
    for title, rows in (("offline (espeak-ng)", offline), ("online (edge-tts)", online)):
        if not rows:
            continue
        table = Table(title=f"{title}: {len(rows)} voices")
        for column in ("voice", "language", "gender", "description"):
            table.add_column(column)
        for v in rows:
            table.add_row(v.name, v.language, v.gender, v.description)
        console.print(table)
    if error:
        err_console.print(f"[yellow]online voices unavailable:[/] {error} (offline voices still work)")
