"""The OpenAPI schema tells the truth about bodies, statuses and content types (issue 13, item 5 in part)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from api.settings import Settings

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data_dir: Path = tmp_path_factory.mktemp("openapi")
    spec: dict[str, Any] = create_app(Settings(data_dir=data_dir, embedder="hash"), warm_up=False).openapi()
    return spec


@pytest.mark.parametrize(
    "path",
    [
        "/v1/merchants/{merchant}/conversations/{conversation_id}/messages",
        "/v1/merchants/{merchant}/rooms",
        "/v1/merchants/{merchant}/rooms/{room_id}/commands",
        "/v1/rooms/{room_id}/chat",
    ],
)
def test_bodies_are_described_so_clients_and_fuzzers_can_build_them(
    schema: dict[str, Any], path: str
) -> None:
    operation = schema["paths"][path]["post"]
    assert "requestBody" in operation
    assert "422" in operation["responses"]


def test_reading_a_transcript_declares_its_refusals(schema: dict[str, Any]) -> None:
    operation = schema["paths"]["/v1/merchants/{merchant}/conversations/{conversation_id}/messages"]["get"]
    assert {"403", "404"} <= set(operation["responses"])


def test_metrics_are_declared_as_text(schema: dict[str, Any]) -> None:
    assert "text/plain" in schema["paths"]["/metrics"]["get"]["responses"]["200"]["content"]


def test_405_names_every_method_the_path_serves(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    with TestClient(create_app(Settings(data_dir=tmp_path, embedder="hash"), warm_up=False)) as client:
        response = client.delete("/v1/merchants/demo/conversations/c1/messages")
        assert response.status_code == 405
        assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
