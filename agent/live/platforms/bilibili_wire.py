"""Bilibili live danmaku wire format: packets, their compressed bodies, and the commands inside them.

A packet is a 16-byte big-endian header — total length (4), header length (2, always 16), protocol version (2),
operation (4), sequence (4) — and a body. Versions: 0 plain JSON, 1 a heartbeat reply's 4-byte popularity,
2 a zlib-compressed run of packets, 3 a brotli-compressed run of packets. Operations: 2 heartbeat (client),
3 heartbeat reply (server; body = popularity), 5 command (JSON: ``{"cmd": "DANMU_MSG", …}``), 7 authenticate
(client; JSON with the room id, uid and key), 8 authentication reply (server: ``{"code": 0}``).

`decode` reads a WebSocket message into its packets (unpacking compressed bodies), never raising: a packet
that cannot be read becomes a `Broken` with the reason. `encode` and `compress` build packets (the loopback test
server, and a client's heartbeat and authentication). Turning commands into room items is the connector's.
"""

from __future__ import annotations

import importlib
import json
import struct
import zlib
from dataclasses import dataclass
from typing import Any

__all__ = [
    "HEADER",
    "OP_AUTH",
    "OP_AUTH_REPLY",
    "OP_COMMAND",
    "OP_HEARTBEAT",
    "OP_HEARTBEAT_REPLY",
    "Broken",
    "Packet",
    "compress",
    "decode",
    "encode",
]

HEADER = struct.Struct(">IHHII")
OP_HEARTBEAT, OP_HEARTBEAT_REPLY, OP_COMMAND, OP_AUTH, OP_AUTH_REPLY = 2, 3, 5, 7, 8
VER_JSON, VER_INT, VER_ZLIB, VER_BROTLI = 0, 1, 2, 3
#: The largest packet accepted (the platform's are a few KB; a compressed batch a few hundred KB).
MAX_PACKET = 4 * 1024 * 1024
_MAX_DEPTH = 2


@dataclass(frozen=True, slots=True)
class Packet:
    """One decoded packet: its operation and body (JSON object for commands and auth replies, the
    popularity for a heartbeat reply, else the raw bytes)."""

    operation: int
    body: Any
    sequence: int = 0


@dataclass(frozen=True, slots=True)
class Broken:
    """A packet that could not be read, and why."""

    reason: str


def encode(operation: int, body: Any = b"", *, version: int = VER_JSON, sequence: int = 1) -> bytes:
    """One packet. ``body`` is bytes, or a JSON-serialisable value (encoded as UTF-8 JSON)."""
    data = body if isinstance(body, bytes | bytearray) else json.dumps(body, ensure_ascii=False).encode()
    return HEADER.pack(HEADER.size + len(data), HEADER.size, version, operation, sequence) + bytes(data)


def compress(packets: list[bytes], version: int = VER_ZLIB, *, level: int | None = None) -> bytes:
    """Several packets as one compressed command packet (what the server sends in a busy room); ``level`` is
    brotli's quality (0–11) or zlib's level (0–9), None for the codec's default."""
    joined = b"".join(packets)
    if version == VER_BROTLI:
        body = bytes(_brotli_module().compress(joined, quality=11 if level is None else level))
    else:
        body = zlib.compress(joined, -1 if level is None else level)
    return encode(OP_COMMAND, body, version=version)


def decode(message: bytes, *, _depth: int = 0) -> list[Packet | Broken]:
    """Every packet in one WebSocket message, compressed runs unpacked; unreadable ones as `Broken`."""
    out: list[Packet | Broken] = []
    offset = 0
    while offset < len(message):
        if len(message) - offset < HEADER.size:
            out.append(Broken(f"{len(message) - offset} bytes left, less than a header"))
            break
        length, header, version, operation, sequence = HEADER.unpack_from(message, offset)
        if header != HEADER.size or length < HEADER.size or length > MAX_PACKET:
            out.append(Broken(f"bad header (length {length}, header {header})"))
            break  # the rest cannot be framed
        if offset + length > len(message):
            out.append(Broken(f"packet of {length} bytes cut at {len(message) - offset}"))
            break
        body = message[offset + header : offset + length]
        offset += length
        out.extend(_packet(operation, version, sequence, body, _depth))
    return out


def _packet(operation: int, version: int, sequence: int, body: bytes, depth: int) -> list[Packet | Broken]:
    if version in (VER_ZLIB, VER_BROTLI):
        if depth >= _MAX_DEPTH:
            return [Broken("compressed packet inside a compressed packet too deep")]
        try:
            inner = zlib.decompress(body) if version == VER_ZLIB else _brotli(body)
        except Exception as exc:  # zlib.error, brotli.error, a missing brotli module
            return [Broken(f"cannot decompress a version {version} body: {exc}")]
        return decode(inner, _depth=depth + 1)
    if operation == OP_HEARTBEAT_REPLY:
        if len(body) < 4:
            return [Broken("heartbeat reply without its popularity")]
        return [Packet(operation, struct.unpack(">I", body[:4])[0], sequence)]
    if operation in (OP_COMMAND, OP_AUTH_REPLY, OP_AUTH):
        try:
            value = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            return [Broken(f"operation {operation}: body is not JSON ({exc})")]
        if not isinstance(value, dict):
            return [Broken(f"operation {operation}: body is not a JSON object")]
        return [Packet(operation, value, sequence)]
    return [Packet(operation, bytes(body), sequence)]


def _brotli(body: bytes) -> bytes:
    return bytes(_brotli_module().decompress(body))


def _brotli_module() -> Any:
    """The brotli codec (the `brotli` package); a missing one makes brotli bodies unreadable, reported."""
    return importlib.import_module("brotli")
