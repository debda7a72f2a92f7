"""The host figure: a 2D sprite that blinks, breathes and moves its mouth with the voice.

A host is a set of same-sized RGBA layers: ``body`` (everything but eyes and mouth), ``eyes_open``,
``eyes_closed`` and 4–6 mouth shapes ``mouth_0`` (closed) … ``mouth_N`` (wide open). A frame is the body with
one eyes layer and one mouth layer over it. The mouth level comes from the clip's mouth track
(`voice.mouth`, sent with every clip), mapped onto the set's mouth count, so the room page and the broadcast
programme open the same mouth on the same frame.

`default_host()` draws our own host with Pillow (no external art): a presenter in a red blazer, drawn at
twice the size and scaled down for smooth edges. A merchant supplies their own set as a folder of PNG files
named after the layers (`load_host_layers`), checked on load: every problem is reported at once, naming the
file. Idle motion (a slow breath) and blinking are functions of the media time (`idle_offset`,
`eyes_closed_at`), so page and programme agree on them too.
"""

from __future__ import annotations

import functools
import io
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from voice.mouth import MOUTH_LEVELS

__all__ = [
    "HOST_LAYER_NAMES",
    "HostError",
    "HostLayers",
    "HostLibrary",
    "default_host",
    "eyes_closed_at",
    "idle_offset",
    "load_host_layers",
    "mouth_index",
]

#: The base layers every set has; mouths are ``mouth_0`` … ``mouth_{n-1}`` with 4 ≤ n ≤ 6.
HOST_LAYER_NAMES = ("body", "eyes_open", "eyes_closed")
MIN_MOUTHS, MAX_MOUTHS = 4, 6
MAX_SIDE = 2048
MAX_FILE_BYTES = 8 * 1024 * 1024
#: Default design size of the drawn host (width, height).
DEFAULT_SIZE = (360, 480)


class HostError(ValueError):
    """A host layer set that cannot be used; ``problems`` lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("the host layers cannot be used: " + "; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, eq=False)  # compared and hashed by identity (frames are cached per set)
class HostLayers:
    """A host's layers, all RGBA and the same size."""

    body: Image.Image
    eyes_open: Image.Image
    eyes_closed: Image.Image
    mouths: tuple[Image.Image, ...]

    @property
    def size(self) -> tuple[int, int]:
        return self.body.size

    def layer(self, name: str) -> Image.Image:
        """A layer by its file name (``body``, ``eyes_open``, ``eyes_closed``, ``mouth_<i>``)."""
        if name.startswith("mouth_") and name[6:].isdigit() and int(name[6:]) < len(self.mouths):
            return self.mouths[int(name[6:])]
        if name in HOST_LAYER_NAMES:
            image: Image.Image = getattr(self, name)
            return image
        raise KeyError(name)

    def mouth_box(self) -> tuple[int, int, int, int]:
        """Where the mouth shapes draw, in layer pixels (left, top, right, bottom): the union of their
        visible parts."""
        boxes = [box for m in self.mouths if (box := m.getchannel("A").getbbox()) is not None]
        if not boxes:
            return (0, 0, 0, 0)
        return (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )

    def names(self) -> list[str]:
        return [*HOST_LAYER_NAMES, *(f"mouth_{i}" for i in range(len(self.mouths)))]

    @functools.lru_cache(maxsize=32)  # noqa: B019  (a handful of layer sets per process, kept for good)
    def frame(self, mouth: int, blink: bool, scale: float = 1.0) -> Image.Image:
        """The composed figure with mouth shape ``mouth`` (an index into `mouths`), eyes shut when
        ``blink``, scaled by ``scale``."""
        image = self.body.copy()
        image.alpha_composite(self.eyes_closed if blink else self.eyes_open)
        image.alpha_composite(self.mouths[max(0, min(mouth, len(self.mouths) - 1))])
        if scale != 1.0:
            w, h = image.size
            image = image.resize(
                (max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS
            )
        return image


def mouth_index(level: int, mouths: int) -> int:
    """A mouth-track level (0 … `MOUTH_LEVELS` - 1) as one of ``mouths`` shapes (0 closed … mouths-1)."""
    if level <= 0:
        return 0
    return max(1, min(mouths - 1, round(level * (mouths - 1) / (MOUTH_LEVELS - 1))))


def eyes_closed_at(t: float) -> bool:
    """Whether the host blinks at media time ``t``: a 0.12 s blink about every 4 s, irregularly spaced
    (two interleaved periods), the same on every page and in the programme."""
    return (t % 4.3) < 0.12 or (t % 11.7) < 0.12


def idle_offset(t: float, height: int) -> int:
    """The figure's vertical offset at media time ``t``: a slow breath of about 0.6% of its height."""
    return round(math.sin(t * 2 * math.pi / 3.8) * height * 0.006)


# -- loading a merchant's set ---------------------------------------------------------------------------
def load_host_layers(folder: Path) -> HostLayers:
    """A merchant's layer set from ``folder``: body.png, eyes_open.png, eyes_closed.png, mouth_0.png …

    Raises:
        HostError: with every problem (a missing or unreadable file, a size that differs, too few or too
            many mouths, a file too large) named.
    """
    problems: list[str] = []
    if not folder.is_dir():
        raise HostError([f"{folder} is not a folder"])
    mouth_files = sorted(
        (p for p in folder.glob("mouth_*.png") if p.stem[6:].isdigit()), key=lambda p: int(p.stem[6:])
    )
    numbers = [int(p.stem[6:]) for p in mouth_files]
    if numbers != list(range(len(numbers))):
        problems.append(
            f"mouth files must be numbered mouth_0.png … mouth_{len(numbers) - 1}.png without gaps"
        )
    if not MIN_MOUTHS <= len(mouth_files) <= MAX_MOUTHS:
        problems.append(f"{len(mouth_files)} mouth shapes found; a host needs {MIN_MOUTHS} to {MAX_MOUTHS}")
    images: dict[str, Image.Image] = {}
    for name in (*HOST_LAYER_NAMES, *(p.stem for p in mouth_files)):
        path = folder / f"{name}.png"
        if not path.is_file():
            problems.append(f"{path.name} is missing")
            continue
        if path.stat().st_size > MAX_FILE_BYTES:
            problems.append(f"{path.name} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
            continue
        try:
            with Image.open(path) as opened:
                if max(opened.size) > MAX_SIDE:
                    problems.append(
                        f"{path.name} is {opened.size[0]}x{opened.size[1]}; at most {MAX_SIDE} a side"
                    )
                    continue
                images[name] = opened.convert("RGBA")
        except (OSError, ValueError) as exc:
            problems.append(f"{path.name} is not a readable PNG ({exc})")
    sizes = {name: image.size for name, image in images.items()}
    if "body" in sizes:
        for name, size in sizes.items():
            if size != sizes["body"]:
                problems.append(
                    f"{name}.png is {size[0]}x{size[1]} but body.png is {sizes['body'][0]}x{sizes['body'][1]}"
                )
    if problems:
        raise HostError(problems)
    return HostLayers(
        body=images["body"],
        eyes_open=images["eyes_open"],
        eyes_closed=images["eyes_closed"],
        mouths=tuple(images[p.stem] for p in mouth_files),
    )


# -- a merchant's named sets ------------------------------------------------------------------------------
class HostLibrary:
    """Named layer sets per merchant under ``<root>/<merchant>/<name>/`` (the data dir's ``hosts``).

    `import_set` checks a folder and copies its layer files in (a plan names the set, never a path on the
    server); `get` loads a set (cached), `default_host()` when the name is None.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._cache: dict[tuple[str, str], HostLayers] = {}
        self._png: dict[tuple[str, str | None, str], bytes] = {}

    def folder(self, merchant: str, name: str) -> Path:
        return self.root / merchant / name

    def names(self, merchant: str) -> list[str]:
        base = self.root / merchant
        return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []

    def import_set(self, merchant: str, name: str, source: Path) -> HostLayers:
        """Check ``source`` and copy its layers in as ``name`` (replacing a set of that name).

        Raises:
            HostError: the folder is not a usable set (nothing is copied).
        """
        layers = load_host_layers(source)
        target = self.folder(merchant, name)
        staging = target.with_name(f".{name}.importing")
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(parents=True)
        for layer in layers.names():
            layers.layer(layer).save(staging / f"{layer}.png")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
        self._cache.pop((merchant, name), None)
        self._png = {k: v for k, v in self._png.items() if k[:2] != (merchant, name)}
        return layers

    def get(self, merchant: str, name: str | None) -> HostLayers:
        """The set ``name`` of ``merchant`` (our default host for None).

        Raises:
            HostError: no such set, or its files are no longer usable.
        """
        if name is None:
            return default_host()
        key = (merchant, name)
        if key not in self._cache:
            folder = self.folder(merchant, name)
            if not folder.is_dir():
                raise HostError(
                    [f"merchant {merchant!r} has no host layer set {name!r} ({self._hint(merchant)})"]
                )
            self._cache[key] = load_host_layers(folder)
        return self._cache[key]

    def png(self, merchant: str, name: str | None, layer: str) -> bytes:
        """One layer of a set as PNG bytes (cached), for the room page.

        Raises:
            HostError: no such set; KeyError: no such layer in it.
        """
        key = (merchant, name, layer)
        if key not in self._png:
            buffer = io.BytesIO()
            self.get(merchant, name).layer(layer).save(buffer, format="PNG", optimize=True)
            self._png[key] = buffer.getvalue()
        return self._png[key]

    def problems(self, merchant: str, name: str) -> list[str]:
        """What keeps the set from being used; empty when it loads."""
        try:
            self.get(merchant, name)
        except HostError as exc:
            return exc.problems
        return []

    def _hint(self, merchant: str) -> str:
        known = self.names(merchant)
        listed = f"sets: {', '.join(known)}" if known else "no sets imported yet"
        return f"{listed}; import one with `anchor host import NAME FOLDER --merchant {merchant}`"


# -- the default host, drawn here ------------------------------------------------------------------------
_SKIN = (246, 214, 192, 255)
_SKIN_SHADE = (228, 186, 162, 255)
_HAIR = (44, 32, 38, 255)
_BLAZER = (196, 40, 62, 255)
_BLAZER_DARK = (150, 26, 46, 255)
_SHIRT = (250, 248, 244, 255)
_LIP = (196, 86, 96, 255)
_MOUTH_IN = (92, 30, 40, 255)
_TEETH = (252, 252, 250, 255)
_TONGUE = (214, 110, 120, 255)
_EYE = (40, 30, 36, 255)
_K = 2  # drawn at twice the size, then scaled down


@functools.lru_cache(maxsize=2)
def default_host(size: tuple[int, int] = DEFAULT_SIZE) -> HostLayers:
    """Our own host, drawn with Pillow: waist-up, facing the viewer, five mouth shapes."""
    w, h = size[0] * _K, size[1] * _K
    cx = w / 2
    head_w, head_h = w * 0.38, h * 0.36
    head_top = h * 0.13
    face = (cx - head_w / 2, head_top, cx + head_w / 2, head_top + head_h)
    eye_y = head_top + head_h * 0.52
    eye_dx = head_w * 0.2
    mouth_y = head_top + head_h * 0.8

    def canvas() -> tuple[Image.Image, ImageDraw.ImageDraw]:
        image = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        return image, ImageDraw.Draw(image)

    body, draw = canvas()
    # Hair behind the head, shoulders and blazer, neck, head, fringe, ears, brows, nose, blush.
    draw.ellipse(
        (face[0] - w * 0.05, head_top - h * 0.03, face[2] + w * 0.05, head_top + head_h * 1.25), fill=_HAIR
    )
    shoulders = h * 0.55
    draw.rounded_rectangle((w * 0.1, shoulders, w * 0.9, h * 1.2), radius=w * 0.16, fill=_BLAZER)
    draw.polygon([(cx - w * 0.12, shoulders), (cx + w * 0.12, shoulders), (cx, h * 0.86)], fill=_SHIRT)
    draw.polygon(
        [(cx - w * 0.12, shoulders), (cx - w * 0.02, h * 0.9), (cx - w * 0.2, h * 0.78)], fill=_BLAZER_DARK
    )
    draw.polygon(
        [(cx + w * 0.12, shoulders), (cx + w * 0.02, h * 0.9), (cx + w * 0.2, h * 0.78)], fill=_BLAZER_DARK
    )
    draw.rectangle(
        (cx - w * 0.06, head_top + head_h * 0.85, cx + w * 0.06, shoulders + h * 0.02), fill=_SKIN_SHADE
    )
    for side in (-1, 1):
        ear_x = cx + side * head_w / 2
        draw.ellipse(
            (ear_x - w * 0.025, eye_y - h * 0.02, ear_x + w * 0.025, eye_y + h * 0.04), fill=_SKIN_SHADE
        )
    draw.ellipse(face, fill=_SKIN)
    draw.chord(
        (face[0] - w * 0.01, head_top - h * 0.02, face[2] + w * 0.01, head_top + head_h * 0.62),
        180,
        360,
        fill=_HAIR,
    )
    for side in (-1, 1):
        bx = cx + side * eye_dx
        draw.line(
            (bx - w * 0.04, eye_y - h * 0.05, bx + w * 0.04, eye_y - h * 0.055),
            fill=_HAIR,
            width=round(w * 0.012),
        )
        draw.ellipse(
            (bx - w * 0.045, eye_y + h * 0.035, bx + w * 0.045, eye_y + h * 0.06), fill=(244, 196, 186, 255)
        )
    draw.line(
        (cx, eye_y + h * 0.01, cx - w * 0.012, eye_y + h * 0.055, cx + w * 0.008, eye_y + h * 0.06),
        fill=_SKIN_SHADE,
        width=round(w * 0.008),
    )

    eyes_open, draw = canvas()
    for side in (-1, 1):
        ex = cx + side * eye_dx
        draw.ellipse(
            (ex - w * 0.035, eye_y - h * 0.022, ex + w * 0.035, eye_y + h * 0.022), fill=(255, 255, 255, 255)
        )
        draw.ellipse((ex - w * 0.022, eye_y - h * 0.021, ex + w * 0.022, eye_y + h * 0.021), fill=_EYE)
        draw.ellipse(
            (ex - w * 0.004, eye_y - h * 0.014, ex + w * 0.01, eye_y - h * 0.003), fill=(255, 255, 255, 255)
        )
        draw.arc(
            (ex - w * 0.038, eye_y - h * 0.028, ex + w * 0.038, eye_y + h * 0.02),
            200,
            340,
            fill=_EYE,
            width=round(w * 0.008),
        )

    eyes_closed, draw = canvas()
    for side in (-1, 1):
        ex = cx + side * eye_dx
        draw.arc(
            (ex - w * 0.035, eye_y - h * 0.02, ex + w * 0.035, eye_y + h * 0.012),
            20,
            160,
            fill=_EYE,
            width=round(w * 0.009),
        )

    mouths: list[Image.Image] = []
    mouth_w = head_w * 0.26
    for level in range(MOUTH_LEVELS):
        image, draw = canvas()
        if level == 0:
            draw.arc(
                (cx - mouth_w / 2, mouth_y - h * 0.015, cx + mouth_w / 2, mouth_y + h * 0.008),
                20,
                160,
                fill=_LIP,
                width=round(w * 0.01),
            )
        else:
            opening = h * (0.008 + 0.011 * level)
            width = mouth_w * (0.78 + 0.06 * level)
            box = (cx - width / 2, mouth_y - opening / 2, cx + width / 2, mouth_y + opening / 2)
            draw.ellipse(box, fill=_MOUTH_IN, outline=_LIP, width=round(w * 0.007))
            if level >= 2:
                draw.chord(
                    (box[0] + width * 0.12, box[1] + 2, box[2] - width * 0.12, box[1] + opening * 0.55),
                    180,
                    360,
                    fill=_TEETH,
                )
                draw.chord(
                    (box[0] + width * 0.25, box[3] - opening * 0.45, box[2] - width * 0.25, box[3] - 2),
                    0,
                    180,
                    fill=_TONGUE,
                )
        mouths.append(image)

    def shrink(image: Image.Image) -> Image.Image:
        return image.resize(size, Image.Resampling.LANCZOS)

    return HostLayers(
        body=shrink(body),
        eyes_open=shrink(eyes_open),
        eyes_closed=shrink(eyes_closed),
        mouths=tuple(shrink(m) for m in mouths),
    )
