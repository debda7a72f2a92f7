"""The OpenAI-compatible endpoint, driven by the official `openai` client against a real uvicorn server."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
import uvicorn

from api.app import create_app
from api.services import Services
from api.settings import Settings

pytestmark = pytest.mark.integration

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "demo"
SAMPLE_FILES = [SAMPLES / "products.jsonl", *sorted((SAMPLES / "policies").glob("*.md"))]


STAFF_KEY = ""


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("openai") / "var"
    settings = Settings(
        data_dir=data_dir, embedder="hash", chat_burst_ip=10_000, chat_burst_conversation=10_000
    )
    services = Services(settings)
    assert services.ingest(SAMPLE_FILES, "demo").applied
    global STAFF_KEY
    STAFF_KEY = services.keys.create("agent", "demo", name="openai-test").secret
    services.close()

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the server failed to start"
        assert time.monotonic() < deadline, "the server did not start within 30 s"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def client(base_url: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0, timeout=30) as oa:
        yield oa


def test_models_lists_anchor_and_the_default_merchant(client: openai.OpenAI) -> None:
    ids = [model.id for model in client.models.list()]
    assert ids == ["anchor", "demo"]


def test_non_streaming_completion(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="anchor",
        messages=[
            {"role": "system", "content": "ignored"},
            {"role": "user", "content": "ZH-EL-001 多少钱"},
        ],
    )
    assert completion.id.startswith("chatcmpl-")
    assert completion.object == "chat.completion"
    assert completion.model == "anchor"
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert "399" in (choice.message.content or "")
    assert completion.usage is not None
    assert (
        completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    assert completion.usage.completion_tokens > 0
    extra = completion.model_extra or {}
    assert extra["anchor"]["route"] == "product_question"
    assert extra["anchor"]["focus_sku"] == "ZH-EL-001"


def test_streaming_completion(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="demo",
        messages=[{"role": "user", "content": "Auralis AirBuds 2 price?"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    with_choices = [c for c in chunks if c.choices]
    assert with_choices[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in with_choices)
    assert "59" in text
    assert with_choices[-1].choices[0].finish_reason == "stop"
    final_extra = with_choices[-1].model_extra or {}
    assert final_extra["anchor"]["answer"] == text
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0


def test_user_field_keeps_one_conversation(client: openai.OpenAI, base_url: str) -> None:
    user = f"shopper-{uuid.uuid4().hex[:8]}"
    first = client.chat.completions.create(
        model="anchor", user=user, messages=[{"role": "user", "content": "我要退款，收到的耳机是坏的"}]
    )
    assert (first.model_extra or {})["anchor"]["escalated"] is True
    second = client.chat.completions.create(
        model="anchor", user=user, messages=[{"role": "user", "content": "有人吗"}]
    )
    assert (second.model_extra or {})["anchor"]["silent"] is True
    path = f"{base_url}/v1/merchants/demo/conversations/{user}/messages"
    assert httpx.get(path).status_code == 403  # the transcript is not the public's
    log = httpx.get(path, headers={"Authorization": f"Bearer {STAFF_KEY}"}).json()
    assert log["state"] == "human"
    assert log["messages"][-1]["text"] == "有人吗"


def test_bad_requests_raise_clear_openai_errors(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError, match="not a merchant id"):
        client.chat.completions.create(model="-bad model", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.UnprocessableEntityError, match="no 'user' message"):
        client.chat.completions.create(model="anchor", messages=[{"role": "system", "content": "hi"}])
    with pytest.raises(openai.UnprocessableEntityError, match="text is empty"):
        client.chat.completions.create(model="anchor", messages=[{"role": "user", "content": "  "}])


def test_ten_megabyte_body_is_413_over_a_real_socket(base_url: str) -> None:
    huge = b'{"text": "' + b"a" * (10 * 1024 * 1024) + b'"}'
    start = time.perf_counter()
    try:
        response = httpx.post(
            f"{base_url}/v1/merchants/demo/conversations/big/messages",
            content=huge,
            headers={"content-type": "application/json"},
            timeout=30,
        )
    except httpx.WriteError:
        pytest.fail("the server closed the connection instead of answering 413")
    assert response.status_code == 413
    assert "the limit is 65536 bytes" in response.json()["error"]["message"]
    assert time.perf_counter() - start < 10
