"""Where a headless broadcast goes, and the ffmpeg command that gets it there.

`RtmpSink` pushes FLV to an ingest URL; `HlsSink` writes a playlist and rolling segments. `ffmpeg_command`
builds the encoder's command line for two live inputs: raw RGB frames on stdin and s16le mono PCM on a
second pipe, encoded as H.264 (libx264, zerolatency, yuv420p, a keyframe every 2 s) and AAC.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class RtmpSink:
    """Push FLV to an RTMP ingest URL (``rtmp://host[:port]/app/stream-key``)."""

    url: str

    def __post_init__(self) -> None:
        if not self.url.startswith(("rtmp://", "rtmps://")):
            raise ValueError(f"RTMP URL must start with rtmp:// or rtmps://, got {self.url!r}")

    @property
    def target(self) -> str:
        # The stream key is a secret: only scheme, host and application are shown.
        return self.url.rsplit("/", 1)[0] + "/…"

    def output_args(self, *, restart: bool) -> list[str]:
        return ["-f", "flv", "-flvflags", "no_duration_filesize", self.url]


@dataclass(frozen=True, slots=True)
class HlsSink:
    """Write an HLS playlist and MPEG-TS segments into ``directory``: a rolling window of ``list_size``
    segments (older ones deleted), or with ``record`` every segment kept and listed (an EVENT playlist: the
    whole show can be watched back from its start)."""

    directory: Path
    segment_seconds: float = 2.0
    list_size: int = 6
    playlist: str = "index.m3u8"
    record: bool = False

    def __post_init__(self) -> None:
        if self.segment_seconds <= 0 or self.list_size < 1:
            raise ValueError("HLS needs segment_seconds > 0 and list_size >= 1")

    @property
    def playlist_path(self) -> Path:
        return self.directory / self.playlist

    @property
    def target(self) -> str:
        return str(self.playlist_path)

    def output_args(self, *, restart: bool) -> list[str]:
        self.directory.mkdir(parents=True, exist_ok=True)
        # After a restart the new encoder appends to the same playlist behind a discontinuity tag.
        flags = [] if self.record else ["delete_segments"]
        if restart:
            flags += ["append_list", "discont_start"]
        window = (
            ["-hls_list_size", "0", "-hls_playlist_type", "event"]
            if self.record
            else [
                "-hls_list_size",
                str(self.list_size),
            ]
        )
        return [
            "-f",
            "hls",
            "-hls_time",
            f"{self.segment_seconds:g}",
            *window,
            *(["-hls_flags", "+".join(flags)] if flags else []),
            "-hls_segment_filename",
            str(self.directory / "segment_%05d.ts"),
            str(self.playlist_path),
        ]


Sink = RtmpSink | HlsSink


@dataclass(frozen=True, slots=True)
class EncoderOptions:
    """Encoding settings. ``output_fps`` repeats frames for platforms that reject very low frame rates."""

    output_fps: int | None = None
    video_bitrate: str = "1500k"
    audio_bitrate: str = "128k"
    audio_output_rate: int = 44100
    preset: str = "veryfast"


def ffmpeg_command(
    sink: Sink,
    *,
    audio_fd: int,
    size: tuple[int, int],
    fps: int,
    sample_rate: int,
    encoder: EncoderOptions,
    ffmpeg: str = "ffmpeg",
    restart: bool = False,
) -> list[str]:
    """The ffmpeg command line: rawvideo rgb24 on stdin, s16le mono on pipe ``audio_fd``, to ``sink``."""
    w, h = size
    out_fps = encoder.output_fps or fps
    gop = max(1, out_fps * 2)  # a keyframe every 2 s: HLS segments and RTMP joins start clean
    rate = encoder.video_bitrate
    # Raw inputs carry their layout on the command line: no probing, so the encoder starts at once.
    probe = "-probesize 32 -analyzeduration 0"
    video_in = (
        f"{probe} -thread_queue_size 64 -f rawvideo -pix_fmt rgb24 -video_size {w}x{h} -framerate {fps}"
    )
    audio_in = f"{probe} -thread_queue_size 512 -f s16le -ar {sample_rate} -ac 1"
    video_out = (
        f"-c:v libx264 -preset {encoder.preset} -tune zerolatency -pix_fmt yuv420p -r {out_fps} -g {gop} "
        f"-keyint_min {gop} -sc_threshold 0 -b:v {rate} -maxrate {rate} -bufsize {rate}"
    )
    audio_out = f"-c:a aac -b:a {encoder.audio_bitrate} -ar {encoder.audio_output_rate} -ac 2"
    return [
        ffmpeg,
        *["-hide_banner", "-nostdin", "-nostats", "-loglevel", "warning"],
        *video_in.split(),
        *["-i", "pipe:0"],
        *audio_in.split(),
        *["-i", f"pipe:{audio_fd}"],
        *["-map", "0:v", "-map", "1:a"],
        *video_out.split(),
        *audio_out.split(),
        *sink.output_args(restart=restart),
    ]
