"""The compliance rules table: data, not code branches.

Each `Rule` is a regular expression matched against the folded text (NFKC half-width, simplified Chinese,
lower case; see `agent.textnorm.fold`), the exception contexts that make a match acceptable, and what to do
with a match: rewrite it (the rewrite is a `re.Match.expand` template, so ``"很\\g<adj>"`` keeps the
matched adjective) or drop the whole sentence. English patterns get letter/digit boundaries on both sides.

Families (the part of the id before the dot): ``absolute`` (superlatives, rankings, uniqueness,
guarantees), ``endorsement``, ``medical``, ``superstition``, ``scarcity``, ``investment``.
docs/compliance.md explains every family for merchants; keep the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["high", "medium", "low"]
Action = Literal["rewrite", "drop_sentence"]
RuleLanguage = Literal["zh", "en", "any"]


@dataclass(frozen=True, slots=True)
class Rule:
    """One forbidden expression and how to handle it."""

    id: str
    language: RuleLanguage
    pattern: str
    action: Action
    rewrite_zh: str | None
    rewrite_en: str | None
    exceptions: tuple[str, ...]
    severity: Severity
    reason_zh: str
    reason_en: str


# Reasons per rule id; "{word}" is the matched text.
REASONS: dict[str, tuple[str, str]] = {
    "absolute.superlative": (
        "“{word}”是绝对化用语（《广告法》第九条），请改为具体、可证明的描述",
        "'{word}' is an unsubstantiated superlative; consumer-protection law requires proof",
    ),
    "absolute.ranking": (
        "“{word}”是排名类绝对化用语（《广告法》第九条），无权威出处不得使用",
        "'{word}' is a ranking claim ('#1') that needs an independent, cited source",
    ),
    "absolute.unique": (
        "“{word}”宣称唯一或无可比拟，属于绝对化用语（《广告法》第九条）",
        "'{word}' claims uniqueness or superiority that cannot be substantiated",
    ),
    "absolute.guarantee": (
        "“{word}”是绝对化保证（《广告法》第九条），不得对效果作保证性承诺",
        "'{word}' is an absolute guarantee of results; do not promise outcomes",
    ),
    "endorsement.official": (
        "“{word}”借用国家机关或官方名义背书（《广告法》第九条），禁止使用",
        "'{word}' claims an official or professional endorsement the shop cannot show",
    ),
    "medical.claim": (
        "“{word}”是疾病治疗或医疗用语，非医疗商品禁止使用（《广告法》第十七条）",
        "'{word}' is a medical or therapeutic claim, forbidden for non-medical goods",
    ),
    "superstition": (
        "“{word}”含有封建迷信内容（《广告法》第九条）",
        "'{word}' is a superstitious claim (luck, wealth, warding off evil)",
    ),
    "scarcity.false": (
        "“{word}”是虚假稀缺或诱导性用语（《网络直播营销管理办法》），不得使用",
        "'{word}' is false scarcity or an inducement; do not pressure buyers",
    ),
    "investment.return": (
        "“{word}”暗示投资收益或升值（《广告法》第二十五条），禁止作保证性承诺",
        "'{word}' promises an investment return or appreciation",
    ),
}

_DROP: Action = "drop_sentence"
_REWRITE: Action = "rewrite"


def _rule(
    rule_id: str,
    language: RuleLanguage,
    pattern: str,
    rewrite: str | None = None,
    *,
    rewrite_en: str | None = None,
    exceptions: tuple[str, ...] = (),
    severity: Severity = "medium",
) -> Rule:
    """Build a rule; ``rewrite=None`` (and no `rewrite_en`) means the sentence is dropped."""
    if language == "en":
        pattern = rf"(?<![a-z0-9])(?:{pattern})(?![a-z0-9])"
        rewrite_en = rewrite if rewrite_en is None else rewrite_en
        rewrite_zh = rewrite
    else:
        rewrite_zh = rewrite
        rewrite_en = rewrite if rewrite_en is None else rewrite_en
    action: Action = _DROP if rewrite_zh is None and rewrite_en is None else _REWRITE
    reason_zh, reason_en = REASONS[rule_id]
    return Rule(
        id=rule_id,
        language=language,
        pattern=pattern,
        action=action,
        rewrite_zh=rewrite_zh,
        rewrite_en=rewrite_en,
        exceptions=exceptions,
        severity=severity,
        reason_zh=reason_zh,
        reason_en=reason_en,
    )


def _drop(
    rule_id: str,
    language: RuleLanguage,
    pattern: str,
    *,
    exceptions: tuple[str, ...] = (),
    severity: Severity = "high",
) -> Rule:
    return _rule(rule_id, language, pattern, None, exceptions=exceptions, severity=severity)


SUP = "absolute.superlative"
RANK = "absolute.ranking"
UNIQUE = "absolute.unique"
GUARANTEE = "absolute.guarantee"
ENDORSE = "endorsement.official"
MEDICAL = "medical.claim"
SUPERSTITION = "superstition"
SCARCITY = "scarcity.false"
INVEST = "investment.return"

# 最 + adjective where "很 + adjective" reads naturally.
_VERY_ADJ = (
    "好吃|好看|好用|好穿|好喝|好闻|好|便宜|实惠|划算|优惠|超值|强|火|牛|舒适|舒服|时尚|耐用|美|漂亮|香|"
    "靠谱|值|受欢迎|全|棒|赞|甜|嫩|软|轻薄|轻|薄|暖|亮|白|稳|保暖|透气|显瘦|百搭|结实|方便|省心|好评"
)
# 最 + adjective where the bare adjective reads naturally.
_BARE_ADJ = (
    "先进|高级|高端|专业|正宗|流行|畅销|热销|优秀|优质|完美|健康|环保|安全|纯正|新鲜|时髦|潮|经典|大牌"
)
# After 最好: advice, not a claim ("最好手洗", "您最好拍大一码").
_ADVICE_AFTER_BEST = (
    "不要|别|不(?!过)|先|手洗|干洗|机洗|选|拍|提前|还是|能|可以|在|选择|直接|尽快|趁|放|冷藏|避免|咨询|"
    "联系|备注|留言|询问|参考|根据|按照|按|量一下|测|去|让|给|找|问|搭配|一起|买大|买小|大一|小一|是|"
    "用(?=[温冷清热手专软中])"
)
# Words after 第一 that make it an ordinal ("第一次", "第一款", "第一时间").
_ORDINAL_TAIL = (
    "次|步|天|个|件|款|位|批|轮|时间|眼|期|号|条|季|章|节|单|波|份|排|行|页|句|场|集|口|层|段|名|套|组|种|"
    "点|部分|阶段|颗|根|双|盒|瓶|袋|包|张|把|杯|周|月|年|回|遍|印象|反应|感觉|站|课|关|手|家|代|版|届|声|"
    "道|首|支|台|辆|罐|箱|任|发|只|顶|串|阶|级|类|项|线|环节|部|本|人|棒|笔|批次|点钟|[零一二三四五六七八九十百千万0-9]"
)
# Fibres and materials whose composition "100%" is a factual (and legally required) label.
_MATERIAL = (
    "棉|cotton|羊毛|wool|羊绒|cashmere|真丝|桑蚕丝|丝|silk|涤纶|polyester|锦纶|nylon|氨纶|spandex|亚麻|"
    "linen|麻|莫代尔|modal|天丝|lyocell|tencel|粘纤|粘胶|viscose|腈纶|acrylic|聚酯纤维|牛皮|羊皮|皮革|leather|"
    "鹅绒|鸭绒|羽绒|down|果汁|原浆|juice|可可|黄金|纯银|银|铜|不锈钢|stainless|竹纤维|bamboo|merino|"
    "羊驼毛|alpaca|纤维|fiber|fibre|纯羊毛"
)
_MATERIAL_PREFIX = (
    r"(?:纯|新疆|长绒|精梳|天然|进口|澳洲|新西兰|桑蚕|有机|再生|organic\s+|recycled\s+|pure\s+)*"
)
_PERCENT = r"(?:100\s?%|百分之百|百分百)"
# 第一 / 第1 as a place in a ranking (第一名, 第一位, 第一), not as an ordinal (第一个, 第12).
_FIRST_PLACE = rf"第(?:一|1(?![0-9]))(?:名|位|(?!{_ORDINAL_TAIL}))"

RULES: tuple[Rule, ...] = (
    # --- absolute.superlative (zh) --------------------------------------------------------------
    _rule(SUP, "zh", r"(?:全网|史上|历史|全年|全平台|年度|今年)最低价", "优惠价"),
    _rule(SUP, "zh", r"最低的?价格", "优惠的价格"),
    _rule(SUP, "zh", r"最低价", "优惠价"),
    _rule(SUP, "zh", r"最低折扣", "优惠折扣"),
    _rule(SUP, "zh", r"(?:价格|价钱|售价)最低", "价格很优惠"),
    _rule(SUP, "zh", r"(?:全网|史上|历史|全平台|全国)最低", "很优惠"),
    _rule(SUP, "zh", r"最低(?=的?(?:价|折))", "很优惠"),
    _rule(SUP, "zh", r"性价比最高", "性价比很高"),
    _rule(SUP, "zh", r"最(?:高|具)性价比", "很有性价比"),
    _rule(
        SUP,
        "zh",
        r"(?:全网|全国|全球|全平台|全行业|世界上?|史上|行业内?|同行|同类产品?|同价位|市面上|国内|业内|宇宙)"
        r"最(?![近后多少初终新])",
        "很",
    ),
    _rule(
        SUP, "zh", rf"最(?P<adj>{_VERY_ADJ})", r"很\g<adj>", exceptions=(rf"最好(?:{_ADVICE_AFTER_BEST})",)
    ),
    _rule(SUP, "zh", rf"最(?P<adj>{_BARE_ADJ})", r"\g<adj>"),
    _rule(
        SUP,
        "zh",
        r"最佳",
        "理想",
        exceptions=(r"最佳(?:赏味期|食用期|饮用期|使用期|赏味|食用时间|饮用时间|保存温度|食用温度)",),
    ),
    _rule(SUP, "zh", r"最优(?!惠)", "优秀"),
    _rule(SUP, "zh", r"最有效", "很实用"),
    _rule(SUP, "zh", r"最高(?=品质|标准|水平|规格|配置|等级|品级|工艺)", "高"),
    _rule(SUP, "zh", r"最大(?=的?(?:品牌|厂家|工厂|商家|供应商|生产商|源头))", "知名"),
    _rule(SUP, "zh", r"最?顶级", "高品质", exceptions=(r"顶级域名",)),
    _rule(SUP, "zh", r"最?顶尖", "出色"),
    _rule(SUP, "zh", r"极致", "出色"),
    _rule(SUP, "zh", r"(?:国家|世界|宇宙|殿堂|神)级", "优质"),
    _rule(SUP, "zh", r"王牌", "主打"),
    _rule(SUP, "zh", r"首选", "好选择", exceptions=(r"首选项",)),
    _rule(SUP, "zh", r"(?:遥遥|全球|行业|世界|国际|绝对)领先", "出色"),
    _rule(SUP, "zh", r"(?:领导|领袖|领军)品牌", "知名品牌"),
    _rule(
        SUP,
        "zh",
        r"万能",
        "多用途",
        exceptions=(r"万能(?:胶|表|充|钥匙|插座|插头|转换|遥控|轮|角度|扳手|螺丝刀|贴|线|接口|支架)",),
    ),
    _rule(SUP, "zh", r"无敌|无可匹敌|无人能及|无人能比|无与伦比", "出色"),
    # --- absolute.superlative (en) --------------------------------------------------------------
    _rule(
        SUP,
        "en",
        r"(?:the\s+)?best\s+in\s+the\s+(?:world|market|industry|country|business|universe|town)",
        "excellent",
    ),
    _rule(SUP, "en", r"best[\s-]?sellers", "popular items"),
    _rule(SUP, "en", r"best[\s-]?seller", "popular item"),
    _rule(SUP, "en", r"best[\s-]?selling", "popular"),
    _rule(SUP, "en", r"world['’]?s\s+best|best[\s-]in[\s-]class", "excellent"),
    _rule(SUP, "en", r"the\s+best\s+(?P<noun>[a-z]+)\s+ever", r"a great \g<noun>"),
    _rule(SUP, "en", r"(?:the\s+)?best[\s-](?:ever|of\s+all\s+time)", "excellent"),
    _rule(
        SUP,
        "en",
        r"(?:the\s+)?lowest\s+prices(?:\s+(?:ever|online|anywhere|in\s+town|on\s+the\s+market))?",
        "great prices",
    ),
    _rule(
        SUP,
        "en",
        r"(?:the\s+)?lowest\s+price(?:\s+(?:ever|online|anywhere|in\s+town|on\s+the\s+market))?",
        "a great price",
    ),
    _rule(SUP, "en", r"all[\s-]time\s+low", "a great price"),
    _rule(SUP, "en", r"the\s+cheapest(?=\s+[a-z])", "an affordable"),
    _rule(SUP, "en", r"the\s+cheapest", "very affordable"),
    _rule(SUP, "en", r"cheapest", "affordable"),
    _rule(
        SUP,
        "en",
        r"the\s+best(?=\s+(?!of\b)[a-z])",
        "a great",
        exceptions=(r"(?:the|your)\s+best\s+(?:way|time|place|thing|bet|option|part)\b",),
    ),
    _rule(SUP, "en", r"the\s+best", "great", exceptions=(r"the\s+best[\s-]+(?:before|by)\b",)),
    _rule(
        SUP,
        "en",
        r"best",
        "great",
        exceptions=(
            r"best[\s-]+(?:before|by|if\s+used)\b",
            r"best\s+(?:regards|wishes)|all\s+the\s+best",
            r"(?:do|doing|did|does|try|trying|tried)\s+(?:my|our|your|his|her|their)\s+(?:very\s+)?best",
            r"best\s+to\b|at\s+best|best\s+friends?|besties?|best\s+man\b",
            r"(?:the|your)\s+best\s+(?:way|time|place|thing|bet|option|part)\b",
        ),
    ),
    _rule(SUP, "en", r"unbeatable|unmatched|unrivall?ed|second\s+to\s+none|unparalleled", "great"),
    _rule(SUP, "en", r"(?:top|highest)[\s-]rated", "popular"),
    _rule(SUP, "en", r"strongest|most\s+powerful", "very strong"),
    _rule(SUP, "en", r"most\s+effective", "very practical"),
    # --- absolute.ranking -----------------------------------------------------------------------
    _rule(
        RANK,
        "zh",
        r"(?:全网|全国|全球|世界|中国|国内|亚洲|行业|同行|同类|销量|销售额|品类|类目|口碑|好评|人气|天下|业内|"
        rf"全平台|平台|品牌|市场|全品类|直播间)(?:排名|排行榜?)?{_FIRST_PLACE}",
        "很受欢迎",
    ),
    _rule(
        RANK,
        "zh",
        rf"(?:排名|排行榜?|排|位居|位列|荣登|稳居|勇夺|夺得|拿下|坐稳|稳坐){_FIRST_PLACE}",
        "很受欢迎",
    ),
    _rule(RANK, "zh", r"第一大?品牌|第一名牌", "知名品牌"),
    _drop(
        RANK,
        "zh",
        rf"第一(?!{_ORDINAL_TAIL})",
        exceptions=(r"(?:安全|质量|健康|顾客|客户|用户|服务|信誉|诚信|友谊|比赛|学习|身体)第一",),
        severity="medium",
    ),
    _rule(
        RANK,
        "any",
        r"(?<![a-z0-9])(?:no\.?\s?1|#\s?1|number\s+one|top\s?1|top\s+one)(?![0-9])",
        "很受欢迎",
        rewrite_en="popular",
        exceptions=(
            r"(?:link|item|product|option|size|style|colou?r|page|step|order|lot|slot|room|bag|cart)\s*"
            r"(?:#|no\.?|number)\s*1",
            r"(?:no\.?\s?1|#\s?1)\s*(?:号|链接|link)",
            r"number\s+one\s+(?:series|model|edition|collection|line|version)\b",
        ),
    ),
    # --- absolute.unique ------------------------------------------------------------------------
    _rule(
        UNIQUE,
        "zh",
        r"(?:全网|全国|全球|世界|市面上|行业)?唯一",
        "独特",
        exceptions=(
            r"唯一(?:的|一个|一点|一处)?(?:区别|不同|差别|缺点|不足|要求|条件|办法|方式|渠道|途径|问题|遗憾|"
            r"变化|联系方式|客服|官方|标识|码|编码|编号|一次)",
        ),
    ),
    _rule(UNIQUE, "zh", r"独一无二", "独特"),
    _rule(UNIQUE, "zh", r"绝无仅有|空前绝后|史无前例", "难得"),
    _rule(
        UNIQUE,
        "en",
        r"the\s+only(?=\s+[a-z])",
        "a unique",
        exceptions=(
            r"the\s+only\s+(?:difference|thing|way|downside|catch|requirement|condition|option|size|colou?rs?|"
            r"problem|issue|time|question|one\s+left|ones\s+left|pieces?\s+left|change|place)\b",
        ),
    ),
    # --- absolute.guarantee ---------------------------------------------------------------------
    _drop(
        GUARANTEE,
        "zh",
        rf"{_PERCENT}\s*(?:有效|见效|治愈|治好|好转|管用|保证|满意)|保证(?:有效|见效|治好|瘦|变白|美白|长高|赚钱|升值)",
    ),
    _drop(GUARANTEE, "zh", r"零风险|无风险|稳赚不赔"),
    _rule(
        GUARANTEE,
        "any",
        _PERCENT,
        "",
        exceptions=(
            rf"{_PERCENT}\s*{_MATERIAL_PREFIX}\s*(?:{_MATERIAL})",
            rf"(?:{_MATERIAL})(?:含量)?\s*[:：]?\s*{_PERCENT}",
            rf"(?:含(?:{_MATERIAL})量|成分|面料|材质|composition|material)\s*[:：]?\s*{_PERCENT}",
        ),
    ),
    _rule(GUARANTEE, "zh", r"绝对", "", exceptions=(r"绝对(?:值|温度|零度|湿度|路径|地址|定位)",)),
    _rule(GUARANTEE, "zh", r"永久", "长期"),
    _drop(GUARANTEE, "en", r"guarantee[ds]?|risk[\s-]free|money[\s-]back"),
    _drop(GUARANTEE, "en", r"100\s?%\s+(?:guaranteed|satisfaction)"),
    # --- endorsement.official -------------------------------------------------------------------
    _drop(
        ENDORSE,
        "zh",
        r"(?:国家机关|国家领导人?|领导人|政府|部委|卫健委|卫生部|国务院|央视|中央电视台|cctv|人民日报|新华社|"
        r"军队|部队|解放军)[^\s,，。!！?？;；]{0,6}?(?:推荐|指定|认可|专用|选用|采购|御用|上榜|合作)",
    ),
    _drop(ENDORSE, "zh", r"特供|特贡|国宴|免检|人民大会堂|驰名商标|国家(?:推荐|指定)|领导(?:人)?同款"),
    _drop(
        ENDORSE,
        "zh",
        r"专供",
        exceptions=(
            r"(?:电商|线上|网络|天猫|京东|抖音|快手|淘宝|拼多多|直播间?|门店|商超|渠道|出口|外贸)专供",
        ),
    ),
    _drop(
        ENDORSE,
        "en",
        r"government[\s-](?:endorsed|approved|recommended)|endorsed\s+by\s+the\s+government|"
        r"official\s+supplier\s+(?:to|of)\s+the\s+(?:government|state)|fda[\s-]approved|"
        r"doctors?[\s-]recommended|recommended\s+by\s+doctors|(?:state|presidential)\s+banquet",
    ),
    # --- medical.claim --------------------------------------------------------------------------
    _drop(
        MEDICAL,
        "zh",
        r"治疗|根治|药到病除|消炎|抗炎|抗癌|防癌|治癌|抗肿瘤|医用级|医疗级|无副作用|零副作用|没有副作用|"
        r"不会有副作用|立即见效|立竿见影|马上见效|当天见效|一次见效|祛斑|包治|特效药|神药|灵丹妙药|治愈|痊愈|"
        r"疗效|药效|医治|排毒|降血压|降血糖|降血脂|降三高|降压|降糖|增强免疫力|提高免疫力|专治|主治|可治|能治",
    ),
    _drop(MEDICAL, "zh", r"减肥", exceptions=(r"减肥(?:期间|期|的时候|中)",)),
    _drop(
        MEDICAL,
        "zh",
        r"特效",
        exceptions=(r"特效(?:妆|化妆|视频|镜头|场景|画面|道具|滤镜|师|制作)|视频特效|特效$",),
    ),
    _drop(MEDICAL, "zh", r"预防\S{0,4}?(?:病|癌|感冒|肿瘤|炎)"),
    _drop(
        MEDICAL,
        "en",
        r"cur(?:e|es|ing)|clinically[\s-](?:proven|tested|shown)|no\s+side[\s-]effects?|"
        r"(?:100\s?%|fully)\s+effective|miracles?|miraculous|instant\s+results?|medical[\s-]grade|"
        r"anti[\s-]?cancer|(?:prevents?|fights?|kills?)\s+cancer|burns?\s+fat|fat[\s-]burning|weight[\s-]loss|"
        r"lose\s+weight|boosts?\s+(?:your\s+)?immun(?:e\s+system|ity)|"
        r"treats?\s+(?:acne|eczema|psoriasis|disease|illness|infections?|inflammation|cancer|diabetes|pain|"
        r"insomnia|hair\s+loss)",
    ),
    _drop(MEDICAL, "en", r"heal(?:s|ing|ed)?", exceptions=(r"self[\s-]healing",)),
    # --- superstition ---------------------------------------------------------------------------
    _drop(SUPERSTITION, "zh", r"旺财", exceptions=(r"(?:小狗|狗狗|狗子|叫|名叫)旺财",)),
    _drop(SUPERSTITION, "zh", r"招财", exceptions=(r"招财猫",)),
    _drop(SUPERSTITION, "zh", r"转运", exceptions=(r"转运(?:中心|站|仓|场|途中|中|公司)",)),
    _drop(
        SUPERSTITION,
        "zh",
        r"辟邪|驱邪|开光|风水|镇宅|改运|旺运|聚财|保平安|化煞|挡煞|带来好运|旺桃花|招桃花|转好运|好运连连",
    ),
    _drop(
        SUPERSTITION,
        "en",
        r"brings?\s+(?:you\s+)?(?:good\s+)?(?:luck|fortune|wealth)|wards?\s+off\s+(?:evil|bad\s+luck|spirits)|"
        r"lucky\s+charm|attracts?\s+(?:wealth|money|fortune)|feng\s+shui",
    ),
    # --- scarcity.false -------------------------------------------------------------------------
    _drop(
        SCARCITY,
        "zh",
        r"仅此一次|秒杀全网|点击领奖|全民免单|全场免单|(?:仅|只)(?:限|有)今天|今天过后(?:恢复原价|涨价|就没有了?)|"
        r"最后(?:一次|的)?机会|错过(?:再等|不再|就没有|就没了)|再不买就(?:没了|没有了|涨价)|马上涨价|"
        r"明天(?:就)?涨价|恭喜(?:您|你)?中奖",
        severity="medium",
    ),
    _drop(
        SCARCITY,
        "en",
        r"today\s+only|only\s+today|last\s+chance\s+ever|never\s+again|once[\s-]in[\s-]a[\s-]lifetime|"
        r"you(?:['’]ve|\s+have)\s+won|click\s+(?:here\s+)?to\s+(?:claim|win)|free\s+for\s+everyone|"
        r"never\s+be\s+this\s+(?:cheap|low)|prices?\s+(?:goes|go|going)\s+up\s+tomorrow",
        severity="medium",
    ),
    # --- investment.return ----------------------------------------------------------------------
    _drop(
        INVEST,
        "zh",
        r"升值|保值|投资回报|回报率|稳赚|只涨不跌|收益率|理财|投资价值|躺赚|回本|保本|"
        r"(?:收益|价格|价值|身价)翻倍|翻倍(?:收益|回报|升值)",
    ),
    _drop(INVEST, "zh", r"增值", exceptions=(r"增值(?:税|服务|业务)",)),
    _drop(
        INVEST,
        "en",
        r"(?:guaranteed|high|great|huge)\s+returns?|return\s+on\s+investment|roi|"
        r"(?:will|sure\s+to|going\s+to|bound\s+to)\s+(?:appreciate|increase\s+in\s+value|go\s+up\s+in\s+value)|"
        r"investment[\s-](?:grade|value|piece)|value\s+will\s+(?:go\s+up|rise|increase)",
    ),
)

__all__ = ["REASONS", "RULES", "Action", "Rule", "RuleLanguage", "Severity"]
