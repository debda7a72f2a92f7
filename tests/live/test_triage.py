"""Chat triage: filtering, merging near-duplicates, priority, bounds, rate limits and acknowledgements.

Time is a controlled clock; the real router, normaliser and PII detector run.
"""

from __future__ import annotations

import tracemalloc

import pytest

from agent.live.events import RoomEvent, ViewerMessage
from agent.live.plan import AckPolicy
from agent.live.triage import ChatTriage, TriageOptions
from agent.live.triage_text import sanitize_nickname

pytestmark = pytest.mark.unit

LINKS = {1: "ZH-AP-001", 2: "ZH-BE-001", 3: "ZH-EL-001", 4: "ZH-FD-003", 5: "ZH-HM-004", 6: "ZH-BE-005"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make(clock: Clock, **options: object) -> ChatTriage:
    return ChatTriage("room", options=TriageOptions(**options), clock=clock, link_map=LINKS)  # type: ignore[arg-type]


def msg(text: str, nickname: str = "viewer", user_id: str | None = None) -> ViewerMessage:
    return ViewerMessage("room", nickname, text, user_id=user_id)


def assert_counts_add_up(triage: ChatTriage) -> None:
    s = triage.stats()
    assert s["accepted"] + s["dropped_total"] == s["offered"]
    assert s["queued"] + s["merged"] == s["accepted"]
    assert s["queue_messages"] + s["answered_messages"] + sum(s["evicted"].values()) == s["accepted"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("   ", "empty"),
        ("加微信领福利", "ad"),
        ("vx: fuli8888 私我", "ad"),
        ("看我主页 www.haohuo.top", "ad"),
        ("加v送券", "ad"),
        ("主播傻逼", "abuse"),
        ("asdfghjkl", "spam"),
        ("666666", "not_question"),
        ("😂😂😂", "not_question"),
        ("[赞][赞]", "not_question"),
        ("主播晚上好", "not_question"),
        ("扣1", "not_question"),
    ],
)
def test_drops_what_the_host_must_not_answer(clock: Clock, text: str, reason: str) -> None:
    triage = make(clock)
    decision = triage.offer(msg(text))
    assert not decision.accepted
    assert decision.reason == reason
    assert triage.next_question() is None
    assert triage.stats()["dropped"][reason] == 1


def test_questions_are_queued_and_buying_intent_counted(clock: Clock) -> None:
    triage = make(clock)
    assert triage.offer(msg("3号链接多少钱", "a")).outcome == "queued"
    assert triage.offer(msg("防晒和隔离哪个好", "b")).route == "comparison"
    for name in ("c", "d", "e"):
        triage.offer(msg("扣1", name))
    stats = triage.stats()
    assert stats["queue"] == 2
    assert stats["intent_to_buy"] == 3
    assert stats["intent_to_buy_last_minute"] == 3
    clock.advance(61)
    assert triage.stats()["intent_to_buy_last_minute"] == 0


def test_near_identical_questions_are_merged_and_answered_once(clock: Clock) -> None:
    triage = make(clock)
    first = triage.offer(msg("3号链接多少钱", "小王"))
    clock.advance(2)
    second = triage.offer(msg("主播3号多少钱啊？", "小李"))
    clock.advance(2)
    third = triage.offer(msg("3号链接多少钱！！", "小张"))
    other = triage.offer(msg("3号有白色吗", "小赵"))
    assert (first.outcome, second.outcome, third.outcome) == ("queued", "merged", "merged")
    assert second.reason == "duplicate_merged"
    assert third.group_size == 3
    assert other.outcome == "queued"
    group = triage.next_question()
    assert group is not None
    assert group.count == 3
    assert group.grouped
    assert group.nicknames() == ["小王", "小李", "小张"]
    assert group.link == 3
    assert group.sku_hint == LINKS[3]
    assert group.text == "3号链接多少钱"
    assert group.waited_s == pytest.approx(4.0)
    remaining = triage.next_question()
    assert remaining is not None
    assert remaining.count == 1
    # The same question right after it was answered is not queued again.
    assert triage.offer(msg("3号多少钱", "小孙")).reason == "recently_answered"
    assert_counts_add_up(triage)


def test_different_links_or_sizes_are_not_merged(clock: Clock) -> None:
    triage = make(clock)
    assert triage.offer(msg("2号多少钱", "a")).outcome == "queued"
    assert triage.offer(msg("3号多少钱", "b")).outcome == "queued"
    assert triage.offer(msg("2号有M码吗", "c")).outcome == "queued"
    assert triage.offer(msg("2号有L码吗", "d")).outcome == "queued"
    assert len(triage) == 4


def test_merge_window_is_honoured(clock: Clock) -> None:
    triage = make(clock, dedupe_window_s=30.0, max_age_s=120.0)
    triage.offer(msg("1号链接多少钱", "a"))
    clock.advance(31)
    assert triage.offer(msg("1号链接多少钱", "b")).outcome == "queued"


def test_product_on_screen_first_then_popular_then_freshest(clock: Clock) -> None:
    triage = make(clock)
    triage.current_sku = LINKS[2]
    triage.offer(msg("5号保温多久", "a"))
    clock.advance(1)
    triage.offer(msg("4号芒果干甜吗", "b"))
    triage.offer(msg("4号芒果干甜吗？", "c"))
    clock.advance(1)
    triage.offer(msg("有XL吗", "d"))  # bare: about the product on screen (link 2)
    clock.advance(1)
    triage.offer(msg("6号显白吗", "e"))
    order = []
    while (group := triage.next_question()) is not None:
        order.append((group.text, group.count, group.sku_hint))
    # Among equals the freshest goes first: in a busy room an old question answered late helps nobody.
    assert order == [
        ("有XL吗", 1, LINKS[2]),
        ("4号芒果干甜吗", 2, LINKS[4]),
        ("6号显白吗", 1, LINKS[6]),
        ("5号保温多久", 1, LINKS[5]),
    ]


def test_screen_priority_follows_the_director(clock: Clock) -> None:
    triage = make(clock)
    triage.offer(msg("1号多少钱", "a"))
    triage.offer(msg("6号多少钱", "b"))
    triage.current_sku = LINKS[6]
    first = triage.next_question()
    assert first is not None
    assert first.link == 6


def test_stale_questions_are_dropped_at_pop_time(clock: Clock) -> None:
    triage = make(clock, max_age_s=60.0)
    triage.offer(msg("1号多少钱", "a"))
    clock.advance(30)
    triage.offer(msg("2号多少钱", "b"))
    clock.advance(31)
    group = triage.next_question()
    assert group is not None
    assert group.link == 2
    assert triage.next_question() is None
    assert triage.stats()["evicted"]["stale"] == 1
    assert_counts_add_up(triage)


def test_groups_waiting_too_long_are_taken_for_the_screen_best_first(clock: Clock) -> None:
    triage = make(clock)
    triage.offer(msg("1号多少钱", "a"))
    triage.offer(msg("我的订单2024123456789还没发货", "c", user_id="u-c"))
    clock.advance(4)
    triage.offer(msg("2号多少钱", "b"))
    triage.offer(msg("2号什么价", "d"))
    assert triage.take_waiting(5.0, 8) == []  # nothing has waited 5 s yet
    clock.advance(2)
    taken = triage.take_waiting(5.0, 8)
    # Only the group that waited 6 s; after-sales is never taken for the screen (it is handed off).
    assert [g.link for g in taken] == [1]
    assert taken[0].waited_s == pytest.approx(6.0)
    clock.advance(4)
    assert [(g.link, g.count) for g in triage.take_waiting(5.0, 8)] == [(2, 2)]
    assert [g.after_sales for g in triage.take_after_sales()] == [True]
    assert len(triage) == 0
    assert_counts_add_up(triage)


def test_decisions_name_the_reason_and_never_repeat_dropped_text(clock: Clock) -> None:
    triage = make(clock, max_age_s=30.0)
    triage.offer(msg("加我微信 vx123456 低价代购", "spammer"))
    triage.offer(msg("666", "fan"))
    triage.offer(msg("1号有什么颜色 我电话13812345678", "e"))
    clock.advance(31)
    triage.offer(msg("2号多少钱", "f"))  # queueing runs the stale sweep
    decisions = triage.drain_decisions()
    dropped = [d for d in decisions if d["decision"] == "dropped"]
    assert [d["reason"] for d in dropped] == ["ad", "not_question"]
    assert all("text" not in d for d in dropped)
    (evicted,) = [d for d in decisions if d["decision"] == "evicted"]
    assert evicted["reason"] == "stale"
    assert evicted["askers"] == 1
    assert "13812345678" not in evicted["text"]
    assert "颜色" in evicted["text"]
    assert triage.drain_decisions() == []  # drained once


def test_bounded_queue_drops_the_lowest_priority(clock: Clock) -> None:
    triage = make(clock, max_queue=3, viewer_max_questions=10)
    triage.current_sku = LINKS[1]
    triage.offer(msg("2号多少钱", "a"))
    clock.advance(1)
    triage.offer(msg("3号多少钱", "b"))
    triage.offer(msg("3号多少钱呀", "c"))
    clock.advance(1)
    triage.offer(msg("4号多少钱", "d"))
    clock.advance(1)
    # Full: the oldest off-screen single question (link 2) makes room for a newer one.
    assert triage.offer(msg("5号多少钱", "e")).outcome == "queued"
    # Full: a question about the product on screen evicts the oldest single question (link 4).
    assert triage.offer(msg("1号多少钱", "f")).outcome == "queued"
    assert triage.stats()["evicted"]["queue_full"] == 2
    # Full of higher priorities (on screen, asked twice, newer): a new single question is dropped.
    clock.advance(1)
    triage.offer(msg("5号多少钱呀", "g"))
    assert triage.offer(msg("6号多少钱", "h")).reason == "queue_full"
    links = []
    while (group := triage.next_question()) is not None:
        links.append(group.link)
    assert links == [1, 5, 3]  # on screen, then the most askers, the freshest first
    assert_counts_add_up(triage)


def test_per_viewer_rate_limit(clock: Clock) -> None:
    triage = make(clock, viewer_max_questions=3, viewer_window_s=30.0)
    texts = ["1号多少钱", "2号多少钱", "3号多少钱", "4号多少钱"]
    decisions = [triage.offer(msg(t, "急性子", user_id="u1")) for t in texts]
    assert [d.outcome for d in decisions] == ["queued", "queued", "queued", "dropped"]
    assert decisions[-1].reason == "rate_limited"
    # Another viewer with the same nickname but a different user id is not limited.
    assert triage.offer(msg("4号多少钱", "急性子", user_id="u2")).accepted
    clock.advance(30)
    assert triage.offer(msg("5号多少钱", "急性子", user_id="u1")).accepted


def test_a_viewer_repeating_a_question_is_spam(clock: Clock) -> None:
    triage = make(clock)
    triage.offer(msg("1号多少钱", "a", "u1"))
    assert triage.offer(msg("1号多少钱？", "a", "u1")).reason == "spam"
    group = triage.next_question()
    assert group is not None
    assert group.count == 1


def test_after_sales_is_not_merged_and_keeps_pii_for_the_pipeline_only(clock: Clock) -> None:
    triage = make(clock)
    text = "我的订单号202405180012345678还没收到货，电话13812345678"
    assert triage.offer(msg(text, "老陈", "u9")).route == "after_sales"
    assert triage.offer(msg("订单202405180012345699还没收到货", "老李", "u8")).outcome == "queued"
    group = triage.next_question()
    assert group is not None
    assert group.after_sales
    assert group.count == 1
    assert group.user_id == "u9"
    assert "202405180012345678" in group.text  # for the ticket
    for shown in (group.public_text, group.messages[0].text):
        assert "202405180012345678" not in shown
        assert "13812345678" not in shown
        assert "[订单号]" in shown
        assert "[手机号]" in shown


def test_nicknames_are_sanitised(clock: Clock) -> None:
    triage = make(clock)
    triage.offer(msg("1号多少钱", "<script>alert(1)</script>\u202e" + "长" * 200))
    group = triage.next_question()
    assert group is not None
    name = group.messages[0].nickname
    assert "<" not in name
    assert "\u202e" not in name
    assert len(name) <= 16
    assert sanitize_nickname("\x00\x07") == "观众"
    assert sanitize_nickname("&lt;b&gt;小王&lt;/b&gt;") == "小王"


def test_long_messages_are_cut_before_reading(clock: Clock) -> None:
    triage = make(clock, max_text_chars=50)
    decision = triage.offer(msg("1号多少钱" + "啊呀" * 5000, "a"))
    assert decision.accepted
    group = triage.next_question()
    assert group is not None
    assert len(group.text) <= 50


def distinct_question(i: int) -> str:
    """A question unlike any other: six pseudo-random Han characters and 吗."""
    return "".join(chr(0x4E00 + (i * 7919 + k * 104729) % 20000) for k in range(6)) + "吗？"


@pytest.mark.slow
def test_flood_of_10000_messages_stays_bounded(clock: Clock) -> None:
    triage = make(clock, max_queue=50, max_group_messages=20, max_tracked_viewers=500)
    questions = [f"{n}号多少钱" for n in range(1, 7)] + [f"{n}号有XL吗" for n in range(1, 7)]
    noise = ["扣1", "666", "加微信领福利", "哈哈哈", "主播好", "😂"]
    for i in range(10_000):
        clock.advance(0.0005)
        if i % 3 == 0:
            text = noise[(i // 3) % len(noise)]
        elif i % 7 == 0:
            text = distinct_question(i)  # distinct questions fill the queue
        else:
            text = questions[i % len(questions)]
        if i == 6_000:  # every bound is reached by now: from here on, memory must stay flat
            tracemalloc.start()
        if i == 8_000:
            at_8000, _ = tracemalloc.get_traced_memory()
        triage.offer(msg(text, f"v{i}", f"u{i}"))
    at_10000, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    stats = triage.stats()
    assert stats["offered"] == 10_000
    assert stats["queue"] <= 50
    assert stats["tracked_viewers"] <= 500
    assert stats["merged"] > 5_000  # the repeated questions were counted, not queued
    assert stats["intent_to_buy"] > 0
    assert all(len(g.messages) <= 20 for g in triage._groups.values())
    assert at_10000 - at_8000 < 50_000  # bytes: turnover, not growth
    assert_counts_add_up(triage)
    top = triage.next_question()
    while top is not None and top.after_sales:  # after-sales (some noise reads as it) is served first
        top = triage.next_question()
    assert top is not None
    assert top.count > 100
    assert len(top.messages) == 20


def test_acks_are_rate_limited_and_batched(clock: Clock) -> None:
    policy = AckPolicy(welcome=True, thanks=True, min_interval_s=20.0, max_per_minute=2)
    triage = make(clock, ack=policy)
    first = triage.offer_event(RoomEvent("room", "enter", "小王"))
    assert first is not None
    assert first.text == "欢迎小王进入直播间！"
    clock.advance(1)
    assert triage.offer_event(RoomEvent("room", "enter", "小李")) is None
    assert triage.offer_event(RoomEvent("room", "enter", "小张")) is None
    assert triage.offer_event(RoomEvent("room", "like", "小赵", count=5)) is None
    clock.advance(20)
    batched = triage.next_ack()
    assert batched is not None
    assert batched.text == "欢迎小李、小张进入直播间！"
    assert batched.count == 2
    clock.advance(20)
    assert triage.offer_event(RoomEvent("room", "follow", "小孙")) is None  # 2 per minute used up
    clock.advance(20)
    thanks = triage.next_ack()
    assert thanks is not None
    assert thanks.kind == "thanks"
    assert thanks.text == "谢谢小孙的关注！"
    stats = triage.stats()
    assert stats["events"]["like"] == 5
    assert stats["acks"] == 3


def test_acks_name_many_briefly_and_skip_bad_nicknames(clock: Clock) -> None:
    triage = make(clock, ack=AckPolicy(min_interval_s=10.0, max_per_minute=6))
    triage.offer_event(RoomEvent("room", "gift", "小王", detail="小心心"))
    for name in ("甲", "乙", "丙", "丁", "加微信abc12345", "13812345678"):
        triage.offer_event(RoomEvent("room", "enter", name))
    clock.advance(10)
    line = triage.next_ack()
    assert line is not None
    assert line.text == "欢迎甲、乙、丙等6位朋友进入直播间！"
    assert "微信" not in line.text
    assert "138" not in line.text


def test_acks_follow_the_policy_switches_and_expire(clock: Clock) -> None:
    triage = make(clock, ack=AckPolicy(welcome=False, thanks=True, min_interval_s=0.0, max_per_minute=10))
    assert triage.offer_event(RoomEvent("room", "enter", "小王")) is None
    gift = triage.offer_event(RoomEvent("room", "gift", "小李", detail="玫瑰"))
    assert gift is not None
    assert gift.text == "谢谢小李送的玫瑰！"
    english = make(clock, language="en", ack=AckPolicy(min_interval_s=30.0), ack_ttl_s=30.0)
    english.offer_event(RoomEvent("room", "enter", "Anna"))
    english.offer_event(RoomEvent("room", "enter", "Ben"))
    clock.advance(31)
    assert english.next_ack() is None  # Ben waited too long
    line = english.offer_event(RoomEvent("room", "share", "Cleo"))
    assert line is not None
    assert line.text == "Thanks for sharing, Cleo!"


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="max_queue"):
        TriageOptions(max_queue=0)
    with pytest.raises(ValueError, match="dedupe_threshold"):
        TriageOptions(dedupe_threshold=0.0)


def test_several_thanks_say_what_everyone_did(clock: Clock) -> None:
    triage = make(clock, ack=AckPolicy(min_interval_s=10.0, max_per_minute=6))
    triage.offer_event(RoomEvent("room", "enter", "路人"))  # the first line goes at once
    for name in ("小米", "阿花", "大壮", "老王"):
        triage.offer_event(RoomEvent("room", "follow", name))
    clock.advance(10)
    follows = triage.next_ack()
    assert follows is not None
    assert follows.text == "谢谢小米、阿花、大壮等4位朋友的关注！"
    triage.offer_event(RoomEvent("room", "follow", "小赵"))
    triage.offer_event(RoomEvent("room", "gift", "小钱", detail="小心心"))
    clock.advance(10)
    mixed = triage.next_ack()
    assert mixed is not None
    assert mixed.text == "谢谢小赵、小钱的支持！"
