"""Run a command-line tool (espeak-ng, ffmpeg) as an asyncio subprocess, bounded in time."""

from __future__ import annotations

import asyncio
import contextlib

from voice.errors import TTSError, TTSTimeout


async def run_tool(
    argv: list[str],
    stdin: bytes,
    *,
    timeout: float,
    error: type[TTSError] = TTSError,
) -> bytes:
    """Run ``argv`` with ``stdin``, return its stdout; the event loop is never blocked.

    The process is killed if the caller is cancelled or ``timeout`` seconds pass.

    Raises:
        error: the tool is missing or exited non-zero (the message carries its last stderr line).
        TTSTimeout: the tool took longer than ``timeout``.
    """
    tool = argv[0]
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except FileNotFoundError as exc:
        raise error(f"{tool} is not installed (apt install {tool})") from exc
    try:
        async with asyncio.timeout(timeout):
            out, err = await proc.communicate(stdin)
    except TimeoutError as exc:
        raise TTSTimeout(f"{tool} took longer than {timeout:g} s") from exc
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(Exception):
                await asyncio.shield(proc.wait())
    if proc.returncode != 0:
        lines = err.decode("utf-8", "replace").strip().splitlines()
        raise error(f"{tool} failed (exit {proc.returncode}): {lines[-1] if lines else 'no message'}")
    return out
