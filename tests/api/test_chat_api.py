"""The shopper chat API on the real app and the sample catalog: answers, SSE, hand-off, bad input,
rate limits, metrics and the answer log line."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from api.logging import FIELDS_ATTR, JsonFormatter, configure_logging, log_answer
from api.settings import Settings

pytestmark = pytest.mark.integration

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "demo"
SAMPLE_FILES = [SAMPLES / "products.jsonl", *sorted((SAMPLES / "policies").glob("*.md"))]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    data_dir = tmp_path_factory.mktemp("chat") / "var"
    settings = Settings(
        data_dir=data_dir, embedder="hash", chat_burst_ip=10_000, chat_burst_conversation=10_000
    )
    app = create_app(settings)
    with TestClient(app) as test_client:
        report = app.state.services.ingest(SAMPLE_FILES, "demo")
        assert report.applied
        yield test_client


def new_id() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


def url(conversation: str, merchant: str = "demo", suffix: str = "") -> str:
    return f"/v1/merchants/{merchant}/conversations/{conversation}/messages{suffix}"


def parse_sse(body: str) -> list[tuple[str, Any]]:
    events = []
    for block in body.split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def error_of(response: Any) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


def test_json_answer_for_a_named_product(client: TestClient) -> None:
    conversation = new_id()
    response = client.post(url(conversation), json={"text": "ZH-EL-001 多少钱"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["conversation_id"] == conversation
    message = body["message"]
    assert message["route"] == "product_question"
    assert message["refused"] is False
    assert message["escalated"] is False
    assert {"sku": "ZH-EL-001", "field": "price"} in message["citations"]
    assert "399" in message["answer"]
    assert message["focus_sku"] == "ZH-EL-001"
    assert message["timings_ms"]["total"] > 0


def test_focus_is_remembered_within_the_conversation(client: TestClient) -> None:
    conversation = new_id()
    client.post(url(conversation), json={"text": "ZH-AP-001 多少钱"})
    follow_up = client.post(url(conversation), json={"text": "有XL吗"}).json()["message"]
    assert follow_up["focus_sku"] == "ZH-AP-001"
    assert follow_up["focus_method"] == "memory"


def test_stream_sends_deltas_then_done(client: TestClient) -> None:
    response = client.post(url(new_id(), suffix="/stream"), json={"text": "Auralis AirBuds 2 price?"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "done"
    assert "delta" in kinds
    assert "error" not in kinds
    done = events[-1][1]
    assert done["route"] == "product_question"
    assert done["focus_sku"] == "EN-EL-001"
    streamed = ""
    for kind, data in events[:-1]:
        streamed = streamed + data["text"] if kind == "delta" else data["text"]
    assert streamed == done["answer"]


def test_stream_rejects_bad_input_before_streaming(client: TestClient) -> None:
    response = client.post(url(new_id(), suffix="/stream"), json={"text": "   "})
    assert response.status_code == 422
    assert error_of(response)["message"].startswith("text is empty")


def test_after_sales_escalates_then_bot_stays_silent(client: TestClient) -> None:
    conversation = new_id()
    first = client.post(url(conversation), json={"text": "我要退款，订单号 202405061234567 的耳机坏了"})
    message = first.json()["message"]
    assert message["route"] == "after_sales"
    assert message["escalated"] is True
    assert message["ticket_id"]
    assert message["answer"]

    token = first.json()["conversation_token"]
    assert token
    again = client.post(url(conversation), json={"text": "还在吗？"}).json()
    later = again["message"]
    assert again["conversation_token"] is None  # given once, to the request that started it
    assert later["silent"] is True
    assert later["answer"] == ""
    assert later["ticket_id"] == message["ticket_id"]

    denied = client.get(url(conversation))
    assert denied.status_code == 403
    assert "X-Conversation-Token" in error_of(denied)["message"]
    assert client.get(url(conversation), headers={"X-Conversation-Token": token + "x"}).status_code == 403
    client.headers["X-Conversation-Token"] = token
    log = client.get(url(conversation)).json()
    assert log["conversation_id"] == conversation
    assert log["state"] == "human"
    roles_texts = [(m["role"], m["text"]) for m in log["messages"]]
    assert roles_texts[-1] == ("customer", "还在吗？")
    assert ("bot", message["answer"]) in roles_texts
    ids = [m["id"] for m in log["messages"]]
    assert ids == sorted(ids)

    newer = client.get(url(conversation), params={"after": ids[-2]}).json()["messages"]
    del client.headers["X-Conversation-Token"]
    assert [m["text"] for m in newer] == ["还在吗？"]


def test_unknown_merchant_is_404_and_nothing_is_stored(client: TestClient) -> None:
    conversation = new_id()
    response = client.post(url(conversation, merchant="no-such-shop"), json={"text": "蓝牙耳机多少钱"})
    assert response.status_code == 404
    assert "no-such-shop" in error_of(response)["message"]
    services = client.app.state.services  # type: ignore[attr-defined]
    assert services.conversations.get("no-such-shop", conversation) is None
    assert not services.store.has_merchant("no-such-shop")


def test_invalid_merchant_is_404_and_invalid_conversation_422(client: TestClient) -> None:
    bad_merchant = client.post(url("c1", merchant="-bad"), json={"text": "hi"})
    assert bad_merchant.status_code == 404
    assert "merchant id" in error_of(bad_merchant)["message"]

    bad_conversation = client.post(url("has space"), json={"text": "hi"})
    assert bad_conversation.status_code == 422
    assert "1-64 letters, digits" in error_of(bad_conversation)["message"]

    too_long = client.post(url("x" * 65), json={"text": "hi"})
    assert too_long.status_code == 422


def test_unknown_conversation_messages_is_404(client: TestClient) -> None:
    response = client.get(url(new_id()))
    assert response.status_code == 404
    assert "not found" in error_of(response)["message"]


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b"", 400, "request body is empty"),
        (b'{"text": ', 400, "not valid JSON"),
        (b"{bad json}", 400, "not valid JSON"),
        (b'{"text": "\xff\xfe caf\xe9"}', 400, "not valid UTF-8"),
        (b"[1, 2]", 422, "valid dictionary"),
        (b'{"txt": "hello"}', 422, "body.text"),
        (b'{"text": 42}', 422, "body.text"),
        (b'{"text": "hi", "channel": "tv"}', 422, "body.channel"),
        (json.dumps({"text": ""}).encode(), 422, "text is empty"),
        (json.dumps({"text": " \n\t\u3000 "}).encode(), 422, "text is empty"),
        (json.dumps({"text": "a" * 2001}).encode(), 413, "the limit is 2000"),
    ],
    ids=[
        "empty-body",
        "truncated-json",
        "bad-json",
        "bad-utf8",
        "not-object",
        "missing-text",
        "number-text",
        "bad-channel",
        "empty-text",
        "whitespace-text",
        "too-long-text",
    ],
)
def test_bad_input_gets_status_and_clear_message(
    client: TestClient, body: bytes, status: int, needle: str
) -> None:
    response = client.post(url(new_id()), content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    assert needle in error_of(response)["message"]


def test_ten_megabyte_body_is_413_without_reading_it(client: TestClient) -> None:
    huge = json.dumps({"text": "买" * (10 * 1024 * 1024 // 3)}).encode()
    response = client.post(url(new_id()), content=huge, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert "the limit is 65536 bytes" in error_of(response)["message"]


def test_chunked_body_over_the_limit_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"text": "'
        for _ in range(200):
            yield b"a" * 1024
        yield b'"}'

    response = client.post(url(new_id()), content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert "larger than the limit of 65536 bytes" in error_of(response)["message"]


def test_emoji_only_message_is_answered(client: TestClient) -> None:
    response = client.post(url(new_id()), json={"text": "😀😀👍"})
    assert response.status_code == 200
    message = response.json()["message"]
    assert message["answer"]
    assert message["escalated"] is False


def test_html_is_only_text(client: TestClient) -> None:
    conversation = new_id()
    html = '<script>alert("x")</script><b>ZH-EL-001</b> 多少钱'
    response = client.post(url(conversation), json={"text": html})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert "<script>" not in response.json()["message"]["answer"]
    token = response.json()["conversation_token"]
    stored = client.get(url(conversation), headers={"X-Conversation-Token": token}).json()["messages"]
    assert stored[0]["text"] == html


def test_metrics_count_answers_stages_and_requests(client: TestClient) -> None:
    client.post(url(new_id()), json={"text": "ZH-EL-002 多少钱"})
    client.post(url(new_id()), json={"text": "我要投诉，快递一直没到"})
    text = client.get("/metrics").text
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    answers = {labels: v for (name, labels), v in samples.items() if name == "anchor_answers_total"}
    assert answers[(("channel", "chat"), ("route", "product_question"))] >= 1
    assert answers[(("channel", "chat"), ("route", "after_sales"))] >= 1
    assert samples[("anchor_answers_escalated_total", (("channel", "chat"),))] >= 1
    assert samples[("anchor_answer_latency_seconds_count", (("channel", "chat"),))] >= 2
    stages = {
        dict(labels)["stage"] for (name, labels) in samples if name.endswith("stage_latency_seconds_count")
    }
    assert {"normalise", "route", "memory"} <= stages
    template = "/v1/merchants/{merchant}/conversations/{conversation_id}/messages"
    ok = (("method", "POST"), ("route", template), ("status", "200"))
    assert samples[("anchor_http_requests_total", ok)] >= 2
    assert not any("t-" in str(labels) for (_, labels) in samples)  # raw paths never become labels


def test_each_app_has_its_own_metrics(client: TestClient, settings: Settings) -> None:
    with TestClient(create_app(settings, warm_up=False)) as other:
        fresh = other.get("/metrics").text
    assert "anchor_answers_total{" not in fresh
    assert "anchor_answers_total{" in client.get("/metrics").text


def test_one_log_line_per_answer_without_the_text(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    conversation = new_id()
    secret = "我的电话13812345678 ZH-EL-001 多少钱"
    with caplog.at_level(logging.INFO, logger="anchor.answers"):
        client.post(url(conversation), json={"text": secret, "channel": "live"})
    records = [r for r in caplog.records if r.name == "anchor.answers"]
    assert len(records) == 1
    fields = getattr(records[0], FIELDS_ATTR)
    assert fields["merchant"] == "demo"
    assert fields["conversation"] == conversation
    assert fields["channel"] == "live"
    assert fields["route"] == "product_question"
    assert fields["refused"] is False
    assert fields["escalated"] is False
    assert fields["latency_ms"] > 0
    line = JsonFormatter().format(records[0])
    assert json.loads(line)["conversation"] == conversation
    assert "13812345678" not in line
    assert "多少钱" not in line


# -- rate limits: an app with small limits ------------------------------------------------------------
@pytest.fixture
def limited(settings: Settings) -> Iterator[TestClient]:
    small = settings.model_copy(
        update={
            "chat_rate_per_minute_ip": 2,
            "chat_burst_ip": 4,
            "chat_rate_per_minute_conversation": 1,
            "chat_burst_conversation": 2,
        }
    )
    with TestClient(create_app(small, warm_up=False)) as test_client:
        yield test_client


def test_flooding_a_conversation_gets_429_with_retry_after(limited: TestClient) -> None:
    statuses = [limited.post(url("flood"), json={"text": "你好"}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    refused = limited.post(url("flood"), json={"text": "你好"})
    assert refused.status_code == 429
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    error = error_of(refused)
    assert error["code"] == "rate_limited"
    assert "this conversation" in error["message"]
    assert f"retry in {retry_after} s" in error["message"]


def test_flooding_from_one_address_gets_429_across_conversations(limited: TestClient) -> None:
    responses = [limited.post(url(f"c{i}"), json={"text": "你好"}) for i in range(6)]
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 429, 429]
    refused = limited.post(url("c9"), json={"text": "你好"})
    assert "this address" in error_of(refused)["message"]
    assert int(refused.headers["Retry-After"]) >= 1
    metrics = limited.get("/metrics").text
    assert 'anchor_rate_limited_total{scope="ip"} 3.0' in metrics
    # Reading a conversation (the page polls) is not limited by the chat buckets.
    token = responses[0].json()["conversation_token"]
    assert limited.get(url("c0"), headers={"X-Conversation-Token": token}).status_code == 200


def test_configure_logging_writes_json_lines() -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    try:
        configure_logging("INFO", stream=stream)
        log_answer(
            merchant="demo",
            conversation_id="c-1",
            channel="chat",
            endpoint="chat",
            route="greeting",
            refused=False,
            escalated=False,
            silent=False,
            ticket_id=None,
            writer="default",
            latency_ms=12.345,
            message_chars=2,
        )
        logging.getLogger("uvicorn.error").warning("started")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["event"] == "answer"
    assert lines[0]["logger"] == "anchor.answers"
    assert lines[0]["latency_ms"] == 12.3
    assert lines[0]["level"] == "info"
    assert lines[1]["logger"] == "uvicorn.error"
    assert lines[1]["msg"] == "started"


def test_openapi_documents_the_chat_body_without_dangling_refs(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    chat = spec["paths"]["/v1/merchants/{merchant}/conversations/{conversation_id}/messages"]["post"]
    schema = chat["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["text"]
    assert schema["properties"]["channel"]["enum"] == ["chat", "live"]
    completions = json.dumps(spec["paths"]["/v1/chat/completions"]["post"]["requestBody"])
    assert "#/$defs/" not in completions
    assert '"role"' in completions


# -- text validated at the edge, integers bounded (issue 13) ------------------------------------------
LONE_SURROGATE = b'{"text": "\\ud800 X3 Pro"}'


@pytest.mark.parametrize(
    "path",
    [
        "/v1/merchants/demo/conversations/c-sur/messages",
        "/v1/merchants/demo/conversations/c-sur/messages/stream",
    ],
)
def test_a_lone_surrogate_is_refused_naming_the_field(client: TestClient, path: str) -> None:
    response = client.post(path, content=LONE_SURROGATE, headers={"content-type": "application/json"})
    assert response.status_code == 422
    error = error_of(response)
    assert error["problems"][0]["where"] == "body.text"
    # The connection stays usable and an emoji written as a surrogate pair is fine.
    ok = client.post(
        "/v1/merchants/demo/conversations/c-sur2/messages",
        content=b'{"text": "\\ud83d\\ude00 X3 Pro\\u591a\\u5c11\\u94b1"}',
        headers={"content-type": "application/json"},
    )
    assert ok.status_code == 200


def test_openai_compatible_chat_refuses_a_lone_surrogate(client: TestClient) -> None:
    body = b'{"model": "live-anchor", "messages": [{"role": "user", "content": "\\udfff refund"}]}'
    response = client.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert error_of(response)["problems"][0]["where"] == "body.messages.0.content"


@pytest.mark.parametrize("value", [str(2**63), str(10**30)])
def test_huge_integers_in_queries_are_422_not_500(client: TestClient, value: str) -> None:
    response = client.get(f"/v1/merchants/demo/conversations/c-big/messages?after={value}")
    assert response.status_code == 422
    assert "after" in error_of(response)["message"]
