"""What is on air at each moment of a headless broadcast: the audio stream and the card and subtitle over it.

`Programme` is a queue of speech and card changes in the order the room published them. The audio side
pulls samples (`read_audio`): speech in order, silence when nothing is queued, so the stream never stalls.
Each speech or card change is stamped with the sample at which it went on air; the video side asks what is
on air at a media time (`on_air`) and gets the card and the subtitle cue playing then. Because both sides
count media time (samples and frames), subtitles follow the audio exactly, whatever the wall clock does.

A speech can be cut (`cut`): the director stopped a script sentence part-way so an answer starts there. The
speech ends at the cut with a short fade (or, if the programme already played past it, a fade from where it
is), its subtitle goes with it, and whatever is queued next follows on the very next sample.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

from agent.live.events import Cue
from voice.mouth import mouth_at

log = logging.getLogger(__name__)

_BYTES_PER_SAMPLE = 2  # s16le mono
_FADE_S = 0.025  # a cut fades out over this long, so the speech does not end on a click


@dataclass(frozen=True, slots=True)
class Speech:
    """One utterance waiting for air: PCM s16le mono at the programme's rate, with its subtitle.

    `seq` is the output event it came from, so a later ``cut`` can name it. `cut` is set once the speech
    has been shortened by one: its subtitle then ends with its audio instead of lingering.
    """

    pcm: bytes = field(repr=False)
    text: str
    cues: tuple[Cue, ...] = ()
    note: str | None = None
    seq: int | None = None
    cut: bool = False
    #: The host's mouth level per frame (`voice.mouth`), "" when unknown (the mouth stays closed).
    mouth: str = ""

    @property
    def samples(self) -> int:
        return len(self.pcm) // _BYTES_PER_SAMPLE


@dataclass(frozen=True, slots=True)
class CardChange:
    """The product card to show from this point of the programme on."""

    card: dict[str, Any]


@dataclass(frozen=True, slots=True)
class OnAir:
    """What the picture shows at one media time. `version` changes whenever the card does."""

    card: dict[str, Any]
    version: int
    subtitle: str | None
    note: str | None
    #: The host's mouth level now (0 closed … `voice.mouth.MOUTH_LEVELS` - 1).
    mouth: int = 0

    @property
    def key(self) -> tuple[int, str | None, str | None]:
        """Equal keys draw the same picture."""
        return (self.version, self.subtitle, self.note)


@dataclass(frozen=True, slots=True)
class _Span:
    start: int  # sample the speech went on air (may be negative after a clock restart)
    speech: Speech


class Programme:
    """The room's output in order, as an endless audio stream with a timeline of cards and subtitles.

    Args:
        sample_rate: samples per second of the audio stream.
        max_backlog_s: queued speech beyond this many seconds drops the oldest waiting utterance (a room
            publishing faster than real time must not grow memory without bound).
        linger_s: a subtitle stays this long after its speech ends, unless the next one starts.
    """

    def __init__(self, sample_rate: int, *, max_backlog_s: float = 120.0, linger_s: float = 0.6) -> None:
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        self.sample_rate = sample_rate
        self.max_backlog_s = max_backlog_s
        self._linger = round(linger_s * sample_rate)
        self._queue: deque[Speech | CardChange] = deque()
        self._current: Speech | None = None
        self._offset = 0  # samples of `_current` already read
        self._sample = 0  # media position of the next sample read
        self._card: dict[str, Any] = {}
        self._version = 0
        self._cards: deque[tuple[int, int, dict[str, Any]]] = deque([(0, 0, {})])
        self._spans: deque[_Span] = deque()
        self.spoken = 0
        self.dropped = 0

    @property
    def backlog_seconds(self) -> float:
        """Seconds of speech queued or still playing."""
        queued = sum(item.samples for item in self._queue if isinstance(item, Speech))
        playing = self._current.samples - self._offset if self._current else 0
        return (queued + playing) / self.sample_rate

    @property
    def position(self) -> float:
        """Media seconds of audio read since the clock (re)started."""
        return self._sample / self.sample_rate

    def queue_card(self, card: dict[str, Any]) -> None:
        self._queue.append(CardChange(dict(card)))

    def queue_speech(self, speech: Speech) -> None:
        self._queue.append(speech)
        while self.backlog_seconds > self.max_backlog_s:
            oldest = next((item for item in self._queue if isinstance(item, Speech)), None)
            if oldest is None or oldest is speech:
                break
            self._queue.remove(oldest)
            self.dropped += 1
            log.warning("broadcast backlog over %.0f s: dropped %r", self.max_backlog_s, oldest.text[:40])

    def cut(self, seq: int, at: float) -> bool:
        """End the speech of event ``seq`` ``at`` seconds into its clip; False if no such speech is here.

        A speech still queued keeps its first ``at`` seconds, fading out over the last `_FADE_S` of them.
        A speech on air that has not reached ``at`` is shortened the same way; one already past it (the
        programme runs a little behind or ahead of the director) fades out from where it is, so nothing is
        said twice. The rest of the speech is dropped and the next queued item follows directly. A speech
        that already ended, or was never queued, is left alone.
        """
        stop = max(0, round(at * self.sample_rate))
        fade = round(_FADE_S * self.sample_rate)
        current = self._current
        if current is not None and current.seq == seq:
            end = min(current.samples, max(stop, self._offset + fade))
            shortened = _shorten(current, end, fade)
            self._current = shortened
            span = self._spans[-1]  # the speech on air is always the newest span
            self._spans[-1] = _Span(span.start, shortened)
            return True
        for index, item in enumerate(self._queue):
            if isinstance(item, Speech) and item.seq == seq:
                if stop == 0:
                    del self._queue[index]
                else:
                    self._queue[index] = _shorten(item, min(item.samples, stop), fade)
                return True
        return False

    def _take_next(self, at: int) -> None:
        """Put queued items on air at sample ``at`` until a speech plays or the queue is empty."""
        while self._queue and self._current is None:
            item = self._queue.popleft()
            if isinstance(item, CardChange):
                self._card = item.card
                self._version += 1
                self._cards.append((at, self._version, item.card))
            else:
                self._current, self._offset = item, 0
                self._spans.append(_Span(at, item))
                self.spoken += 1

    def read_audio(self, samples: int) -> bytes:
        """The next ``samples`` samples of the programme: queued speech in order, silence in between."""
        out = bytearray()
        need = samples
        while need > 0:
            if self._current is None:
                self._take_next(self._sample + len(out) // _BYTES_PER_SAMPLE)
            current = self._current
            if current is None:
                out += bytes(need * _BYTES_PER_SAMPLE)
                break
            start = self._offset * _BYTES_PER_SAMPLE
            chunk = current.pcm[start : start + need * _BYTES_PER_SAMPLE]
            taken = len(chunk) // _BYTES_PER_SAMPLE
            out += chunk[: taken * _BYTES_PER_SAMPLE]
            self._offset += taken
            need -= taken
            if self._offset >= current.samples:
                self._current = None
        self._sample += samples
        return bytes(out)

    def on_air(self, t: float) -> OnAir:
        """The card and subtitle at media time ``t`` seconds (times up to the audio read so far)."""
        pos = round(t * self.sample_rate)
        while len(self._cards) > 1 and self._cards[1][0] <= pos:
            self._cards.popleft()
        _, version, card = self._cards[0]
        while len(self._spans) > 1 and self._spans[1].start <= pos:
            self._spans.popleft()
        subtitle: str | None = None
        note: str | None = None
        mouth = 0
        if self._spans:
            span = self._spans[0]
            end = span.start + span.speech.samples + (0 if span.speech.cut else self._linger)
            if span.start <= pos < end:
                offset = (pos - span.start) / self.sample_rate
                subtitle = _cue_text(span.speech, offset)
                note = span.speech.note
                if pos < span.start + span.speech.samples:
                    mouth = mouth_at(span.speech.mouth, offset)
        return OnAir(card, version, subtitle, note, mouth)

    def restart_clock(self) -> None:
        """Media time starts again at 0 (a new encoder); what is on air stays on air."""
        self._cards = deque([(0, self._version, self._card)])
        self._spans.clear()
        if self._current is not None:
            self._spans.append(_Span(-self._offset, self._current))
        self._sample = 0


def _shorten(speech: Speech, end: int, fade: int) -> Speech:
    """``speech`` ending at sample ``end``, its last ``fade`` samples (at most) ramped down to silence.

    The caller picks ``end`` so that the faded samples have not been read yet. A speech kept to its natural
    end is not faded.
    """
    import numpy as np

    pcm = speech.pcm[: end * _BYTES_PER_SAMPLE]
    if end < speech.samples and fade > 0:
        n = min(fade, end)
        samples = np.frombuffer(pcm, dtype="<i2", offset=(end - n) * _BYTES_PER_SAMPLE).astype(np.float64)
        ramp = np.linspace(1.0, 0.0, n, endpoint=False)
        faded = np.round(samples * ramp).astype("<i2").tobytes()
        pcm = pcm[: (end - n) * _BYTES_PER_SAMPLE] + faded
    return replace(speech, pcm=pcm, cut=True)


def _cue_text(speech: Speech, offset: float) -> str | None:
    """The cue playing ``offset`` seconds into ``speech``: the last one started, else the first."""
    if not speech.cues:
        return speech.text or None
    playing = speech.cues[0]
    for cue in speech.cues:
        if cue.start <= offset:
            playing = cue
        else:
            break
    return playing.text or speech.text or None
