"""Product images from URLs, downloaded once at catalog import and kept on disk for the live card.

A catalog row may name its image by URL. The room's card (page and broadcast programme) must not depend on
a merchant's CDN while on air, so `ImageStore.fetch_all` downloads each new URL at import: over HTTP(S)
only, with a timeout, at most `max_bytes`, and only when the body is a PNG, JPEG, WebP or GIF that decodes
(the type is read from its first bytes, not trusted from the server) and is at most `max_side` pixels a
side. Each image is stored under the SHA-256 of its URL (`path_for`), written atomically; a URL already
stored is not fetched again. A URL that fails is reported with its reason and the import goes on.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ImageFetchReport", "ImageStore", "image_kind", "is_image_url"]

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)
MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}


def is_image_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def image_kind(head: bytes) -> str | None:
    """ "png", "jpeg", "gif" or "webp" from a file's first bytes; None for anything else."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


@dataclass
class ImageFetchReport:
    """What `ImageStore.fetch_all` did: URLs fetched now, already stored, and failed with the reason."""

    fetched: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "fetched": len(self.fetched),
            "cached": len(self.cached),
            "failed": [{"url": url, "reason": reason} for url, reason in self.failed],
        }


class ImageStore:
    """Downloaded product images under ``folder`` (the data dir's ``images``).

    Args:
        folder: where images are kept.
        max_bytes: the largest image accepted.
        timeout_s: connect and read timeout of one download.
        max_side: the largest width or height accepted.
        max_parallel: downloads at once.
    """

    def __init__(
        self,
        folder: Path,
        *,
        max_bytes: int = 5 * 1024 * 1024,
        timeout_s: float = 5.0,
        max_side: int = 6000,
        max_parallel: int = 4,
    ) -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.max_side = max_side
        self.max_parallel = max_parallel

    @staticmethod
    def key(url: str) -> str:
        return hashlib.sha256(url.encode("utf-8")).hexdigest()[:40]

    def path_for(self, url: str) -> Path:
        """Where ``url``'s image is (or would be) stored."""
        return self.folder / self.key(url)

    def local(self, url: str) -> Path | None:
        """The stored file of ``url``, None when it was never fetched (or failed)."""
        path = self.path_for(url)
        return path if path.is_file() else None

    def fetch_all(self, urls: Iterable[str]) -> ImageFetchReport:
        """Download every URL not stored yet (in parallel); never raises for a bad URL."""
        report = ImageFetchReport()
        wanted = list(dict.fromkeys(u for u in urls if is_image_url(u)))
        todo = []
        for url in wanted:
            if self.local(url) is not None:
                report.cached.append(url)
            else:
                todo.append(url)
        if not todo:
            return report
        self.folder.mkdir(parents=True, exist_ok=True)
        import httpx

        with (
            httpx.Client(timeout=self.timeout_s, follow_redirects=True, max_redirects=3) as client,
            ThreadPoolExecutor(max_workers=max(1, self.max_parallel)) as pool,
        ):
            for url, problem in zip(todo, pool.map(lambda u: self._fetch(client, u), todo), strict=True):
                if problem is None:
                    report.fetched.append(url)
                else:
                    report.failed.append((url, problem))
        return report

    def _fetch(self, client: Any, url: str) -> str | None:
        """Download one image; the reason it was refused, or None when stored."""
        import httpx

        try:
            with client.stream("GET", url) as response:
                if response.status_code != 200:
                    return f"HTTP {response.status_code}"
                declared = response.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
                    return f"{int(declared)} bytes, more than the {self.max_bytes} allowed"
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > self.max_bytes:
                        return f"more than the {self.max_bytes} bytes allowed"
        except httpx.TimeoutException:
            return f"no answer within {self.timeout_s:g} s"
        except httpx.HTTPError as exc:
            return f"cannot be downloaded ({type(exc).__name__}: {exc})"
        kind = image_kind(bytes(body[:16]))
        if kind is None:
            return "not a PNG, JPEG, WebP or GIF image"
        problem = self._check_decodes(bytes(body))
        if problem is not None:
            return problem
        target = self.path_for(url)
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".fetch-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(body)
            os.replace(temporary, target)
        except OSError as exc:
            Path(temporary).unlink(missing_ok=True)
            return f"cannot be stored ({exc})"
        return None

    def _check_decodes(self, data: bytes) -> str | None:
        from PIL import Image

        try:
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if max(width, height) > self.max_side:
                    return f"{width}x{height} pixels, more than {self.max_side} a side"
                image.verify()
        except Exception as exc:  # Pillow raises many kinds for a broken file
            return f"not a readable image ({type(exc).__name__})"
        return None
