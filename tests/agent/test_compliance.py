"""The compliance checker: rule families in both languages, false-positive traps, spans, allowed claims,
and `enforce` always producing text that passes `check`."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.compliance import check, enforce, packaged_base, split_sentences
from agent.compliance.checker import RULE_IDS
from agent.compliance.wordbase import CATEGORIES, Entry

pytestmark = pytest.mark.unit

# (text, rule id, offending word as it appears in the text)
POSITIVE: list[tuple[str, str, str]] = [
    # absolute.superlative, zh
    ("这款面霜效果最好", "absolute.superlative", "最好"),
    ("今天全网最低价", "absolute.superlative", "全网最低价"),
    ("史上最低价，冲", "absolute.superlative", "史上最低价"),
    ("这是最低价了", "absolute.superlative", "最低价"),
    ("我们家最便宜", "absolute.superlative", "最便宜"),
    ("同价位最强的一款", "absolute.superlative", "同价位最"),
    ("这个最有效", "absolute.superlative", "最有效"),
    ("顶级面料", "absolute.superlative", "顶级"),
    ("极致体验", "absolute.superlative", "极致"),
    ("国家级工艺", "absolute.superlative", "国家级"),
    ("世界级品质", "absolute.superlative", "世界级"),
    ("万能清洁剂", "absolute.superlative", "万能"),
    ("我们的王牌产品", "absolute.superlative", "王牌"),
    ("夏天首选", "absolute.superlative", "首选"),
    ("最好用的面霜", "absolute.superlative", "最好用"),
    ("性价比最高的一款", "absolute.superlative", "性价比最高"),
    ("這是最好的", "absolute.superlative", "最好"),  # traditional script
    # absolute.superlative, en
    ("This is the best serum.", "absolute.superlative", "the best"),
    ("Best price in town", "absolute.superlative", "Best"),
    ("The cheapest phone here", "absolute.superlative", "The cheapest"),
    ("lowest price ever!", "absolute.superlative", "lowest price ever"),
    ("The world's best blender", "absolute.superlative", "world's best"),
    ("Unbeatable quality", "absolute.superlative", "Unbeatable"),
    ("a top-rated kettle", "absolute.superlative", "top-rated"),
    ("our best seller", "absolute.superlative", "best seller"),
    ("best ever deal", "absolute.superlative", "best ever"),
    ("ＢＥＳＴ quality", "absolute.superlative", "ＢＥＳＴ"),  # full-width
    # absolute.ranking
    ("销量第一的面霜", "absolute.ranking", "销量第一"),
    ("全网第一", "absolute.ranking", "全网第一"),
    ("排名第一", "absolute.ranking", "排名第一"),
    ("行业第一品牌", "absolute.ranking", "行业第一"),
    ("国货第一品牌", "absolute.ranking", "第一品牌"),
    ("我们是第一！", "absolute.ranking", "第一"),
    ("NO.1爆款", "absolute.ranking", "NO.1"),
    ("ＮＯ．１爆款", "absolute.ranking", "ＮＯ．１"),
    ("We are the #1 brand", "absolute.ranking", "#1"),
    ("number one choice", "absolute.ranking", "number one"),
    # absolute.unique
    ("全网唯一", "absolute.unique", "全网唯一"),
    ("独一无二的设计", "absolute.unique", "独一无二"),
    ("绝无仅有的价格", "absolute.unique", "绝无仅有"),
    ("the only serum that works", "absolute.unique", "the only"),
    # absolute.guarantee
    ("100%正品", "absolute.guarantee", "100%"),
    ("１００％好评", "absolute.guarantee", "１００％"),
    ("100%有效", "absolute.guarantee", "100%有效"),
    ("绝对好用", "absolute.guarantee", "绝对"),
    ("永久不褪色", "absolute.guarantee", "永久"),
    ("零风险", "absolute.guarantee", "零风险"),
    ("Results guaranteed", "absolute.guarantee", "guaranteed"),
    ("a risk-free purchase", "absolute.guarantee", "risk-free"),
    # endorsement.official
    ("国家机关推荐", "endorsement.official", "国家机关推荐"),
    ("央视推荐品牌", "endorsement.official", "央视推荐"),
    ("特供酒", "endorsement.official", "特供"),
    ("国宴同款", "endorsement.official", "国宴"),
    ("免检产品", "endorsement.official", "免检"),
    ("政府专供", "endorsement.official", "专供"),
    ("FDA approved formula", "endorsement.official", "FDA approved"),
    ("doctor recommended", "endorsement.official", "doctor recommended"),
    # medical.claim
    ("可以治疗失眠", "medical.claim", "治疗"),
    ("根治脚气", "medical.claim", "根治"),
    ("药到病除", "medical.claim", "药到病除"),
    ("消炎止痛", "medical.claim", "消炎"),
    ("抗癌食品", "medical.claim", "抗癌"),
    ("这款茶能减肥", "medical.claim", "减肥"),
    ("医用级材料", "medical.claim", "医用级"),
    ("无副作用", "medical.claim", "无副作用"),
    ("立即见效", "medical.claim", "立即见效"),
    ("祛斑精华", "medical.claim", "祛斑"),
    ("包治百病", "medical.claim", "包治"),
    ("特效去痘", "medical.claim", "特效"),
    ("简直是神药", "medical.claim", "神药"),
    ("It cures acne", "medical.claim", "cures"),
    ("heals dry skin", "medical.claim", "heals"),
    ("Clinically proven formula", "medical.claim", "Clinically proven"),
    ("no side effects at all", "medical.claim", "no side effects"),
    ("100% effective", "medical.claim", "100% effective"),
    ("a miracle cream", "medical.claim", "miracle"),
    # superstition
    ("戴上旺财", "superstition", "旺财"),
    ("辟邪手串", "superstition", "辟邪"),
    ("这个能招财", "superstition", "招财"),
    ("帮你转运", "superstition", "转运"),
    ("brings good luck", "superstition", "brings good luck"),
    # scarcity.false
    ("仅此一次", "scarcity.false", "仅此一次"),
    ("价格秒杀全网", "scarcity.false", "秒杀全网"),
    ("点击领奖", "scarcity.false", "点击领奖"),
    ("全民免单", "scarcity.false", "全民免单"),
    ("仅限今天", "scarcity.false", "仅限今天"),
    ("Today only!", "scarcity.false", "Today only"),
    ("last chance ever", "scarcity.false", "last chance ever"),
    # investment.return
    ("这款黄金会升值", "investment.return", "升值"),
    ("投资回报高", "investment.return", "投资回报"),
    ("稳赚", "investment.return", "稳赚"),
    ("guaranteed returns on this watch", "investment.return", "guaranteed returns"),
    ("it will appreciate over time", "investment.return", "will appreciate"),
]

# Ordinary words and factual statements that must not be flagged.
NEGATIVE: list[str] = [
    "最近很火",
    "最后一件了",
    "最后一天发货",
    "每人最多买2件",
    "最少买一件",
    "48小时内最快发货",
    "最快明天到",
    "第一次来直播间的宝宝",
    "第一步先洗脸",
    "今天第一款产品",
    "直播间第一个下单的送赠品",
    "第一时间给您发货",
    "唯一的区别是颜色",
    "安全第一",
    "1号链接",
    "3号链接多少钱",
    "100%棉",
    "100%纯棉",
    "面料：100%桑蚕丝",
    "含棉量100%",
    "棉100%",
    "100% cotton T-shirt",
    "最好手洗，不要暴晒",
    "您最好拍大一码",
    "最好用温水洗",
    "最新款到货了",
    "快递到转运中心了",
    "招财猫摆件",
    "电商专供款",
    "减肥期间也能吃",
    "增值税发票",
    "Best before 2025-06-01",
    "best-before date on the lid",
    "We will do our best",
    "Best regards",
    "It's best to hand wash it",
    "The only difference is the colour",
    "the only one left in XL",
    "link #1 is the jacket",
    "size no. 1 is small",
    "cured ham",
    "self-healing screen film",
    "healthy snacks",
    "a secure checkout",
    "绝对值",
]


def _rules_hit(text: str) -> list[tuple[str, str]]:
    return [(f.rule, f.word) for f in check(text).findings]


@pytest.mark.parametrize(("text", "rule", "word"), POSITIVE)
def test_positive_examples_are_flagged(text: str, rule: str, word: str) -> None:
    report = check(text)
    assert not report.ok
    assert (rule, word) in _rules_hit(text)
    for finding in report.findings:
        assert text[finding.start : finding.end] == finding.word
        assert finding.reason


@pytest.mark.parametrize("text", NEGATIVE)
def test_negative_examples_are_clean(text: str) -> None:
    assert check(text).findings == ()
    assert check(text).ok


def test_every_family_has_zh_and_en_examples() -> None:
    families_zh = {rule for text, rule, _ in POSITIVE if re.search(r"[\u4e00-\u9fff]", text)}
    families_en = {rule for text, rule, _ in POSITIVE if not re.search(r"[\u4e00-\u9fff]", text)}
    # The families of the context patterns (words/patterns.yaml); the word lists have their own corpora.
    families = {
        "absolute.superlative",
        "absolute.ranking",
        "absolute.unique",
        "absolute.guarantee",
        "endorsement.official",
        "medical.claim",
        "superstition",
        "scarcity.false",
        "investment.return",
    }
    assert families_zh == families
    assert families_en == families


def test_spans_point_into_the_original_text() -> None:
    text = "宝宝们，這款是全网最低价，效果最好！"
    findings = check(text).findings
    assert [(f.word, f.start, f.end) for f in findings] == [("全网最低价", 7, 12), ("最好", 15, 17)]


def test_span_of_fullwidth_and_zero_width_text() -> None:
    text = "今天 ＮＯ．１ 和 最\u200b好"
    findings = check(text).findings
    assert [(f.start, f.end) for f in findings] == [(3, 7), (10, 13)]
    assert findings[1].word == "最\u200b好"


def test_english_matching_is_case_insensitive_with_word_boundaries() -> None:
    assert _rules_hit("BEST deal") == [("absolute.superlative", "BEST")]
    assert check("bestow a gift").ok
    assert check("manicure set").ok
    assert check("the cheapest").findings[0].suggestion == "very affordable"


def test_suggestions_keep_case_and_language() -> None:
    assert check("Best price").findings[0].suggestion == "Great"
    assert check("我们是NO.1").findings[0].suggestion == "很受欢迎"
    assert check("We are number one").findings[0].suggestion == "popular"
    assert check("最便宜").findings[0].suggestion == "很便宜"


def test_reasons_follow_the_rule_language() -> None:
    (zh,) = check("最便宜").findings
    (en,) = check("cheapest").findings
    assert "最便宜" in zh.reason
    assert "广告法" in zh.reason
    assert "cheapest" in en.reason
    assert "superlative" in en.reason


def test_drop_rules_have_no_suggestion() -> None:
    (finding,) = check("可以治疗失眠").findings
    assert finding.action == "drop_sentence"
    assert finding.suggestion is None
    assert finding.severity == "high"


def test_allowed_claims_are_not_flagged() -> None:
    assert not check("医用级口罩").ok
    assert check("医用级口罩", allowed=["医用级"]).ok
    assert check("Clinically proven formula", allowed=["clinically proven"]).ok
    assert check("Our Number One Series jeans").ok
    assert check("the ACME Number One kettle", allowed=["ACME Number One"]).ok
    # An allowed claim covers only itself: other findings in the same text stay.
    report = check("医用级口罩，全网最低价", allowed=["医用级"])
    assert [f.word for f in report.findings] == ["全网最低价"]


def test_allowed_composition_does_not_cover_other_percent_claims() -> None:
    report = check("100%纯棉，100%正品", allowed=["100%纯棉"])
    assert [(f.word, f.start) for f in report.findings] == [("100%", 7)]


def test_word_base_is_well_formed() -> None:
    base = packaged_base()
    assert len(base.entries) >= 60
    for entry in base.entries:
        assert entry.category in CATEGORIES
        assert entry.category in RULE_IDS
        assert entry.rule
        assert entry.origin
        if entry.pattern is not None:
            re.compile(entry.pattern)
        if entry.action == "rewrite":
            assert entry.rewrite is not None or entry.rewrite_en is not None
        else:
            assert entry.rewrite is None
            assert entry.rewrite_en is None


def _rewrites() -> list[Entry]:
    return [e for e in packaged_base().entries if e.action == "rewrite"]


@pytest.mark.parametrize("entry", _rewrites(), ids=lambda e: e.id[:40])
def test_plain_rewrites_are_themselves_compliant(entry: Entry) -> None:
    for template in (entry.rewrite, entry.rewrite_en):
        if template and "\\g<" not in template:
            assert check(template).ok, template


# --- enforce -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("这款面霜是全网最低价，效果最好！", "这款面霜是优惠价，效果很好！"),
        ("我们家销量第一的面霜", "我们家很受欢迎的面霜"),
        ("顶级面料，穿着最舒服。", "高品质面料，穿着很舒服。"),
        ("绝对好用", "好用"),
        ("This is the best serum.", "This is a great serum."),
        ("It's the best.", "It's great."),
        ("Lowest price ever!", "A great price!"),
        ("our best seller is back", "our popular item is back"),
        ("We are the #1 brand", "We are the popular brand"),
        ("100%正品，100%纯棉", "正品，100%纯棉"),
    ],
)
def test_enforce_rewrites_words(text: str, expected: str) -> None:
    result = enforce(text)
    assert result.text == expected
    assert result.dropped_sentences == ()
    assert result.findings == check(text).findings
    assert check(result.text).ok


@pytest.mark.parametrize(
    ("text", "expected", "dropped"),
    [
        ("本品可以治疗失眠。颜色很好看。", "颜色很好看。", ("本品可以治疗失眠。",)),
        ("戴上能招财辟邪！现在下单包邮。", "现在下单包邮。", ("戴上能招财辟邪！",)),
        ("这款黄金会升值，值得收藏。规格是10克。", "规格是10克。", ("这款黄金会升值，值得收藏。",)),
        ("国家机关推荐！", "", ("国家机关推荐！",)),
        ("限时特价，仅此一次！赶紧上车", "赶紧上车", ("限时特价，仅此一次！",)),
        ("It cures acne. Ships today.", "Ships today.", ("It cures acne.",)),
        ("Satisfaction guaranteed! Free shipping.", "Free shipping.", ("Satisfaction guaranteed!",)),
        ("我们是第一！欢迎来到直播间", "欢迎来到直播间", ("我们是第一！",)),
    ],
)
def test_enforce_drops_sentences_it_cannot_fix(text: str, expected: str, dropped: tuple[str, ...]) -> None:
    result = enforce(text)
    assert result.text == expected
    assert result.dropped_sentences == dropped
    assert check(result.text).ok


def test_enforce_leaves_clean_text_untouched() -> None:
    text = "最好手洗。  第一次下单送小样！100%纯棉"
    result = enforce(text)
    assert result.text == text
    assert result.findings == ()
    assert result.dropped_sentences == ()


def test_enforce_respects_allowed_claims() -> None:
    result = enforce("医用级口罩，三层防护。", allowed=["医用级"])
    assert result.text == "医用级口罩，三层防护。"
    assert enforce("医用级口罩，三层防护。").text == ""


def test_split_sentences_covers_the_text() -> None:
    text = "第一句。第二句！Third one. 3.5折 $19.99 还有\n最后一句"
    spans = split_sentences(text)
    assert "".join(text[a:b] for a, b in spans) == text
    assert [text[a:b].strip() for a, b in spans] == [
        "第一句。",
        "第二句！",
        "Third one.",
        "3.5折 $19.99 还有",
        "最后一句",
    ]


# --- properties ----------------------------------------------------------------------------------

RULE_WORDS = [
    "最好", "最", "好", "全网最低价", "最低价", "第一", "第一次", "销量第一", "唯一", "顶级", "极致", "国家级",
    "绝对", "100%", "100%棉", "万能", "NO.1", "No. 1", "#1", "特供", "国宴", "治疗", "减肥", "医用级", "无副作用",
    "旺财", "招财", "转运", "仅此一次", "秒杀全网", "升值", "投资回报", "best", "the best", "cheapest", "guaranteed",
    "cures", "clinically proven", "miracle", "today only", "risk-free", "number one", "top-rated", "the only",
    "lowest price ever", "最便宜", "王牌", "独一无二", "永久", "零风险", "包治", "神药", "全网", "史上", "第",
    "一", "绝", "对", "价", "最低", "性价比最高", "best seller", "before",
]  # fmt: skip
FILLER = ["这款", "宝宝们", "面霜", "效果", "很好", "价格", "the", "serum", "is", "a", "of", "and", "XL", "199元",
          "链接", "3号", "今天", " ", "", "很", "的"]  # fmt: skip
PUNCT = ["，", "。", "！", "？", ", ", ". ", "! ", "\n", "；", "…", "、", "."]

_pieces = st.sampled_from(RULE_WORDS + FILLER + PUNCT)
_mixed_text = st.lists(_pieces, max_size=25).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mixed_text)
def test_enforce_output_always_passes_check(text: str) -> None:
    result = enforce(text)
    assert check(result.text).ok
    assert len(result.findings) == len(check(text).findings)


@settings(max_examples=150, deadline=None)
@given(
    _mixed_text,
    st.lists(st.sampled_from(["医用级", "100%", "best", "第一", "clinically proven"]), max_size=2),
)
def test_enforce_with_allowed_claims_passes_check(text: str, allowed: list[str]) -> None:
    assert check(enforce(text, allowed=allowed).text, allowed=allowed).ok


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_check_and_enforce_never_raise_on_arbitrary_text(text: str) -> None:
    report = check(text)
    for finding in report.findings:
        assert 0 <= finding.start < finding.end <= len(text)
    assert check(enforce(text).text).ok
