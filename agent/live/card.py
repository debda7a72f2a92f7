"""The product card a headless broadcast shows: one Pillow image per (card, subtitle) state.

`render_card(card, subtitle, size)` is a pure function of the `product` event's data (title, price,
currency, list_price, link, stock_state, image) and the subtitle line. The layout scales with the image
height (designed at 1280×720); `card_layout(size)` names its regions so callers and tests can find them.

Chinese needs a CJK font: Debian's fonts-noto-cjk (`NotoSansCJK-Regular.ttc`), WenQuanYi or any font
fontconfig lists for ``lang=zh``; without one a latin font is used (Chinese then renders as boxes) and a
warning is logged; with no usable font at all `CardFontError` says what to install.
"""

from __future__ import annotations

import functools
import logging
import re
import shutil
import subprocess
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont, ImageOps

log = logging.getLogger(__name__)

Box = tuple[int, int, int, int]  # left, top, right, bottom
Font = ImageFont.FreeTypeFont

_CJK_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-{weight}.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-{weight}.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-{weight}.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)
_LATIN_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans{bold}.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-{weight}.ttf",
)
_CURRENCY = {"CNY": "¥", "RMB": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "HKD": "HK$"}
_STOCK = {
    "zh": {
        "in_stock": "现货",
        "low": "库存紧张",
        "low_stock": "库存紧张",
        "sold_out": "已售罄",
        "out_of_stock": "已售罄",
    },
    "en": {
        "in_stock": "In stock",
        "low": "Low stock",
        "low_stock": "Low stock",
        "sold_out": "Sold out",
        "out_of_stock": "Sold out",
    },
}

BACKGROUND_TOP = (24, 26, 38)
BACKGROUND_BOTTOM = (58, 28, 48)
ACCENT = (255, 72, 84)
TEXT = (245, 245, 248)
MUTED = (170, 170, 182)
NOTE = (255, 214, 102)


class CardFontError(RuntimeError):
    """No font can draw the card."""


@dataclass(frozen=True, slots=True)
class FontFace:
    """A font file and the face inside it (collections such as .ttc hold several)."""

    path: Path
    index: int = 0
    cjk: bool = True


@dataclass(frozen=True, slots=True)
class CardFonts:
    """The regular and bold faces the card draws with."""

    regular: FontFace
    bold: FontFace

    def font(self, size: int, *, bold: bool = False) -> Font:
        face = self.bold if bold else self.regular
        return _load_font(face.path, face.index, size)


@dataclass(frozen=True, slots=True)
class CardLayout:
    """Regions of the card at one image size."""

    size: tuple[int, int]
    scale: float
    badge: Box
    image: Box
    title: Box
    price: Box
    stock: Box
    note: Box
    subtitle: Box


@functools.lru_cache(maxsize=64)
def _load_font(path: Path, index: int, size: int) -> Font:
    return ImageFont.truetype(str(path), size, index=index)


def _sc_index(path: Path) -> int:
    """The Simplified Chinese face of a CJK collection (Noto's .ttc puts JP first), else 0."""
    if path.suffix.lower() != ".ttc":
        return 0
    for index in range(16):
        try:
            family = ImageFont.truetype(str(path), 12, index=index).getname()[0] or ""
        except OSError:
            break
        if family.endswith(" SC"):
            return index
    return 0


def _fc_list_zh() -> list[Path]:
    if shutil.which("fc-list") is None:
        return []
    try:
        out = subprocess.run(
            ["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=5, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    paths = [Path(line.split(":", 1)[0].strip()) for line in out.splitlines() if line.strip()]
    # Sans faces first, regular before bold.
    return sorted(paths, key=lambda p: ("Serif" in p.name, "Bold" in p.name, p.name))


@functools.lru_cache(maxsize=1)
def find_fonts() -> CardFonts:
    """The fonts for the card: a CJK face when the machine has one, else a latin one.

    Raises:
        CardFontError: no usable font file (install fonts-noto-cjk: ``apt install fonts-noto-cjk``).
    """
    for pattern in _CJK_CANDIDATES:
        regular = Path(pattern.format(weight="Regular"))
        if regular.is_file():
            bold = Path(pattern.format(weight="Bold"))
            bold = bold if bold.is_file() else regular
            return CardFonts(FontFace(regular, _sc_index(regular)), FontFace(bold, _sc_index(bold)))
    listed = _fc_list_zh()
    if listed:
        face = FontFace(listed[0], _sc_index(listed[0]))
        return CardFonts(face, face)
    for pattern in _LATIN_CANDIDATES:
        regular = Path(pattern.format(bold="", weight="Regular"))
        if regular.is_file():
            bold = Path(pattern.format(bold="-Bold", weight="Bold"))
            log.warning(
                "no CJK font found (apt install fonts-noto-cjk); Chinese text on the card will not render"
            )
            return CardFonts(
                FontFace(regular, 0, cjk=False), FontFace(bold if bold.is_file() else regular, 0, cjk=False)
            )
    raise CardFontError(
        "no font for the product card: install fonts-noto-cjk (apt install fonts-noto-cjk) "
        "or fonts-dejavu-core"
    )


def card_layout(size: tuple[int, int] = (1280, 720), reserve: tuple[int, int] = (0, 0)) -> CardLayout:
    """The card's regions at ``size`` (designed at 1280×720, scaled by height, widths follow the image),
    keeping ``reserve`` pixels free at the left and right edges above the subtitle band (the host)."""
    w, h = size
    if w < 160 or h < 90:
        raise ValueError(f"card size {w}x{h} is too small (at least 160x90)")
    s = h / 720
    pad = round(40 * s)
    left = reserve[0]
    right = w - reserve[1]
    image_side = min(round(400 * s), max(1, (right - left) // 3))
    top = round(110 * s)
    right_x = left + pad + image_side + pad
    sub_top = h - round(130 * s)
    return CardLayout(
        size=size,
        scale=s,
        badge=(left + pad, round(30 * s), left + pad + round(260 * s), round(90 * s)),
        image=(left + pad, top, left + pad + image_side, top + image_side),
        title=(right_x, top, right - pad, top + round(190 * s)),
        price=(right_x, top + round(210 * s), right - pad, top + round(300 * s)),
        stock=(right_x, top + round(320 * s), right - pad, top + round(370 * s)),
        note=(left + pad, sub_top - round(60 * s), right - pad, sub_top - round(8 * s)),
        subtitle=(0, sub_top, w, h),
    )


def _tokens(text: str) -> list[str]:
    """Break points for wrapping: latin words and digit runs stay whole, every other character stands alone."""
    out: list[str] = []
    word = ""
    for ch in text:
        if ch.isascii() and (ch.isalnum() or ch in "-_.,%/'&+#"):
            word += ch
            continue
        if word:
            out.append(word)
            word = ""
        out.append(ch)
    if word:
        out.append(word)
    return out


def _ellipsize(line: str, font: Font, width: int) -> str:
    while line and font.getlength(line + "…") > width:
        line = line[:-1]
    return line.rstrip() + "…"


def wrap_text(text: str, font: Font, width: int, max_lines: int) -> list[str]:
    """``text`` in at most ``max_lines`` lines of at most ``width`` pixels; the last ends in "…" if cut."""
    lines: list[str] = []
    line = ""
    for token in _tokens(" ".join(text.split())):
        if font.getlength(line + token) <= width:
            line += token
            continue
        if line.strip():
            lines.append(line.rstrip())
        line = token.lstrip()
        while font.getlength(line) > width and len(line) > 1:  # a word wider than the line
            cut = len(line) - 1
            while cut > 1 and font.getlength(line[:cut]) > width:
                cut -= 1
            lines.append(line[:cut])
            line = line[cut:]
    if line.strip():
        lines.append(line.rstrip())
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], _ellipsize(lines[max_lines - 1], font, width)]
    return lines


#: Symbols the card's fonts draw although Unicode files them with emoji (category So).
_DRAWN_SYMBOLS = frozenset("℃℉°©®™№←→↑↓★☆♥✓✔")


def drawable(text: str) -> str:
    """``text`` without what the card's fonts cannot draw (emoji, their modifiers and joiners), so
    "Lily🌸" shows as "Lily" rather than with an empty box; spaces left behind are collapsed."""
    kept = []
    for ch in text:
        code = ord(ch)
        if ch in _DRAWN_SYMBOLS:
            kept.append(ch)
        elif (
            unicodedata.category(ch) in ("So", "Cs", "Co", "Me")
            or code in (0xFE0E, 0xFE0F, 0x200D)
            or 0x1F3FB <= code <= 0x1F3FF
        ):
            continue
        else:
            kept.append(ch)
    return re.sub(r"\s{2,}", " ", "".join(kept)).strip()


_AMOUNT = re.compile(r"\d[\d,]*(?:\.\d+)?")


def format_price(value: Any) -> str | None:
    """``199`` for 199.00, ``199.9`` for 199.90; None when there is no usable price. Money as text
    ("¥1,299.00", "US$12.5", as the ``product`` event carries it) is read for its amount."""
    if value is None or isinstance(value, bool) or value == "":
        return None
    if isinstance(value, str):
        found = _AMOUNT.search(value)
        if found is None or "-" in value[: found.start()]:
            return None
        value = found.group().replace(",", "")
    try:
        number = Decimal(str(value))
        if not number.is_finite() or number < 0:
            return None
        number = number.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return None
    text = f"{number:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _gradient(size: tuple[int, int]) -> Image.Image:
    ramp = Image.linear_gradient("L").resize(size)
    return ImageOps.colorize(ramp, BACKGROUND_TOP, BACKGROUND_BOTTOM).convert("RGB")


@functools.lru_cache(maxsize=4)
def _background(size: tuple[int, int]) -> Image.Image:
    return _gradient(size)


def _draw_lines(draw: ImageDraw.ImageDraw, box: Box, lines: list[str], font: Font, fill: Any) -> None:
    left, top, _, _ = box
    step = round(font.size * 1.3)
    for i, line in enumerate(lines):
        draw.text((left, top + i * step), line, font=font, fill=fill)


def _product_image(path: str, side: int) -> Image.Image | None:
    """The product photo when ``image`` is a readable local file; URLs are not fetched here."""
    file = Path(path)
    if "://" in path or not file.is_file():
        return None
    try:
        with Image.open(file) as img:
            return ImageOps.fit(img.convert("RGB"), (side, side))
    except (OSError, ValueError):
        return None


def render_card(
    card: dict[str, Any],
    subtitle: str | None,
    size: tuple[int, int] = (1280, 720),
    *,
    note: str | None = None,
    fonts: CardFonts | None = None,
    reserve: tuple[int, int] = (0, 0),
    room_title: str | None = None,
) -> Image.Image:
    """Draw the product card.

    Args:
        card: the `product` event's data: ``title``, ``price``, ``currency``, ``list_price``, ``link``,
            ``stock_state``, ``image`` (a local file path), ``sku``, optional ``language`` ("zh"/"en").
            An empty dict draws the bare background (before the first product).
        subtitle: the line being spoken, shown at the bottom; None or "" shows no band.
        size: width and height in pixels.
        note: a smaller line above the subtitle (the question being answered).
        fonts: the fonts to use (default `find_fonts()`).
        reserve: pixels kept free at the left and right above the subtitle band (where the host stands).
        room_title: the room's title, drawn small at the top right.

    Returns:
        An RGB image of ``size``.
    """
    fonts = fonts or find_fonts()
    layout = card_layout(size, reserve)
    s = layout.scale
    img = _background(size).copy()
    draw = ImageDraw.Draw(img)
    english = card.get("language") == "en"

    link = card.get("link")
    if isinstance(link, int) and not isinstance(link, bool):
        left, top, _, bottom = layout.badge
        badge_font = fonts.font(round(34 * s), bold=True)
        label = f"Link {link}" if english else f"{link}号链接"
        width = round(badge_font.getlength(label)) + round(36 * s)
        draw.rounded_rectangle((left, top, left + width, bottom), radius=round(14 * s), fill=ACCENT)
        draw.text((left + width / 2, (top + bottom) / 2), label, font=badge_font, fill=TEXT, anchor="mm")

    if room_title and room_title.strip():
        room_font = fonts.font(round(28 * s))
        _, top, right, bottom = layout.badge[0], layout.badge[1], size[0] - round(40 * s), layout.badge[3]
        shown = wrap_text(drawable(room_title), room_font, round(size[0] * 0.45), 1)
        if shown:
            draw.text((right, (top + bottom) / 2), shown[0], font=room_font, fill=MUTED, anchor="rm")

    # The short spoken name ("暖禾加绒卫衣") when the room sends one, the listing title otherwise.
    title = drawable(str(card.get("name") or card.get("title") or ""))
    if card:
        box = layout.image
        photo = _product_image(str(card.get("image") or ""), box[2] - box[0])
        if photo is not None:
            img.paste(photo, box[:2])
        else:
            draw.rounded_rectangle(box, radius=round(24 * s), fill=(44, 46, 62))
            initial = (title or str(card.get("sku") or "?"))[:1]
            draw.text(
                ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2),
                initial,
                font=fonts.font(round(160 * s), bold=True),
                fill=MUTED,
                anchor="mm",
            )

    if title:
        title_font = fonts.font(round(52 * s), bold=True)
        box = layout.title
        _draw_lines(draw, box, wrap_text(title, title_font, box[2] - box[0], 2), title_font, TEXT)

    price = format_price(card.get("price"))
    if price is not None:
        currency = str(card.get("currency") or "CNY").upper()
        symbol = _CURRENCY.get(currency, currency + " ")
        left, top, _, bottom = layout.price
        price_font = fonts.font(round(76 * s), bold=True)
        text = f"{symbol}{price}"
        draw.text((left, bottom), text, font=price_font, fill=ACCENT, anchor="ls")
        list_price = format_price(card.get("list_price"))
        if list_price is not None and Decimal(list_price) > Decimal(price):
            old_font = fonts.font(round(38 * s))
            x = left + price_font.getlength(text) + round(28 * s)
            old = f"{symbol}{list_price}"
            draw.text((x, bottom), old, font=old_font, fill=MUTED, anchor="ls")
            y = bottom - round(old_font.size * 0.35)
            draw.line((x, y, x + old_font.getlength(old), y), fill=MUTED, width=max(2, round(3 * s)))

    stock = str(card.get("stock_state") or "").strip()
    if stock:
        label = _STOCK["en" if english else "zh"].get(stock, stock)
        left, top, _, bottom = layout.stock
        stock_font = fonts.font(round(30 * s))
        colour = ACCENT if stock in ("low", "low_stock", "sold_out", "out_of_stock") else (120, 220, 150)
        draw.text((left, (top + bottom) / 2), label, font=stock_font, fill=colour, anchor="lm")

    note = drawable(note or "")
    if note:
        note_font = fonts.font(round(30 * s))
        box = layout.note
        note_lines = wrap_text(note, note_font, box[2] - box[0], 1)
        draw.text(
            (box[0], box[3]), note_lines[0] if note_lines else "", font=note_font, fill=NOTE, anchor="ls"
        )

    subtitle = drawable(subtitle or "")
    if subtitle:
        box = layout.subtitle
        band = Image.new("RGB", (box[2] - box[0], box[3] - box[1]), (0, 0, 0))
        img.paste(Image.blend(img.crop(box), band, 0.6), box[:2])
        sub_font = fonts.font(round(40 * s))
        lines = wrap_text(subtitle, sub_font, box[2] - box[0] - round(80 * s), 2)
        step = round(sub_font.size * 1.3)
        y0 = (box[1] + box[3]) / 2 - step * (len(lines) - 1) / 2
        for i, line in enumerate(lines):
            draw.text(((box[0] + box[2]) / 2, y0 + i * step), line, font=sub_font, fill=TEXT, anchor="mm")
    return img
