"""A bounded schemathesis pass (fixed seed, 5 examples per operation and phase) against a real `anchor serve`
on loopback, anonymous and with a merchant key: no 5xx, and every status, content type and body as the
OpenAPI schema declares it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.test_serve_client_address import _serve

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BIN = Path(sys.executable).parent
SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "demo"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def _run(base: str, *headers: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    args = [str(BIN / "schemathesis"), "run", f"{base}/openapi.json", "-n", "5", "--seed", "1", "-c", CHECKS]
    for header in headers:
        args += ["-H", header]
    return subprocess.run(args, capture_output=True, text=True, timeout=600, cwd=cwd, check=False)


@pytest.mark.skipif(shutil.which(str(BIN / "schemathesis")) is None, reason="schemathesis is not installed")
def test_no_server_error_and_no_schema_mismatch(tmp_path: Path) -> None:
    env = {**os.environ, "ANCHOR_DATA_DIR": str(tmp_path / "var"), "ANCHOR_EMBEDDER": "hash"}
    files = [str(SAMPLES / "products.jsonl"), *map(str, sorted((SAMPLES / "policies").glob("*.md")))]
    subprocess.run(
        [str(BIN / "anchor"), "ingest", *files, "-m", "demo"], env=env, check=True, capture_output=True
    )
    created = subprocess.run(
        [str(BIN / "anchor"), "keys", "create", "--role", "merchant", "--merchant", "demo", "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    key = json.loads(created.stdout)["key"]
    limits = {
        "ANCHOR_CHAT_BURST_IP": "100000",
        "ANCHOR_CHAT_BURST_CONVERSATION": "100000",
        "ANCHOR_ROOM_CHAT_BURST_IP": "100000",
    }
    total = 0
    for base in _serve(tmp_path, **limits):
        for headers in ((), (f"Authorization: Bearer {key}",)):
            result = _run(base, *headers, cwd=tmp_path)
            summary = result.stdout[-3000:]
            assert result.returncode == 0, summary
            counts = re.search(r"(\d+) generated, (\d+) passed", summary)
            assert counts is not None, summary
            generated, passed = int(counts.group(1)), int(counts.group(2))
            assert generated == passed, summary
            total += generated
    assert total >= 1500  # the floor: at least 1,500 cases without a 5xx or a mismatch
