from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from voice.wav import parse_wav, rms_dbfs

pytestmark = pytest.mark.integration

runner = CliRunner()


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ANCHOR_DATA_DIR", str(tmp_path / "var"))
    return tmp_path / "var"


def test_say_offline_writes_audio_and_subtitles(tmp_path: Path, data_dir: Path) -> None:
    out, srt, vtt = tmp_path / "hi.wav", tmp_path / "hi.srt", tmp_path / "hi.vtt"
    result = runner.invoke(
        app,
        [
            "say",
            "欢迎来到直播间！今天只要¥199。",
            "--engine",
            "espeak",
            "-o",
            str(out),
            "--srt",
            str(srt),
            "--vtt",
            str(vtt),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "espeak spoke with voice cmn-latn-pinyin" in result.output
    pcm = parse_wav(out.read_bytes())
    assert pcm.sample_rate == 24000
    assert rms_dbfs(pcm) > -35
    assert srt.read_text(encoding="utf-8").count("-->") == 2
    assert "今天只要¥199。" in vtt.read_text(encoding="utf-8")  # subtitles show the line as written
    assert list((data_dir / "tts-cache").glob("*/*.clip"))


def test_say_json_and_mp3(tmp_path: Path) -> None:
    out = tmp_path / "hi.mp3"
    result = runner.invoke(
        app, ["say", "Only $19.99 today", "-e", "espeak", "--lang", "en", "-o", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert (info["engine"], info["voice"], info["format"]) == ("espeak", "en-us", "mp3")
    head = out.read_bytes()[:3]
    assert head == b"ID3" or head[:2] in (b"\xff\xfb", b"\xff\xf3")  # an ID3 tag or an MP3 frame


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["say", "hello", "-o", "x.flac"], "cannot tell the audio format"),
        (["say", "hello", "-o", "x.mp3", "--engine", "google"], "--engine"),
        (["say", "😀😀", "-o", "x.mp3", "-e", "espeak"], "nothing speakable"),
        (["say", "hello", "-o", "x.mp3", "--rate", "fast"], "prosody rate"),
    ],
)
def test_say_rejects_bad_input_with_exit_2(args: list[str], words: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert words in result.output


def test_voices_lists_offline_and_explains_online(tmp_path: Path) -> None:
    result = runner.invoke(app, ["voices", "--json", "--timeout", "3"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output.strip().splitlines()[-1])
    names = {v["name"] for v in payload["offline"]}
    assert {"cmn-latn-pinyin", "en-us"} <= names
    assert payload["online"] or payload["online_error"]
