"""Word lists and patterns the router matches against prepared (NFKC, lower-cased) chat text.

Data only: the decisions live in `agent.routing.after_sales` and `agent.router`. Every pattern is one
regular expression joined from a list of alternatives so a reader can add a phrase in one place.
Chinese and English alternatives sit side by side; messages mix them ("我的order还没到").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# An English word boundary that also holds next to Chinese characters ("tk怎么", "my order是").
_WB_L = r"(?<![a-z])"
_WB_R = r"(?![a-z])"


def alt(*parts: str) -> re.Pattern[str]:
    """Compile alternatives into one pattern."""
    return re.compile("|".join(f"(?:{p})" for p in parts))


def words(*parts: str) -> str:
    """English alternatives wrapped in latin word boundaries, as one pattern string."""
    return _WB_L + "(?:" + "|".join(parts) + ")" + _WB_R


def any_match(pattern: re.Pattern[str], texts: Iterable[str]) -> bool:
    """True when the pattern occurs in any of the texts."""
    return any(pattern.search(t) for t in texts)


# ---------------------------------------------------------------------------------------------------------
# After-sales, per category. "problem": something already went wrong (after-sales unless hypothetical);
# "action": a request to do something (after-sales unless asked as a pre-sale policy question);
# "topic": a subject that pre-sale questions share (shipping, invoices), after-sales only with concrete cues.

REFUND_ACTION = alt(
    r"退款",
    r"退钱",
    r"退给我",
    r"钱.{0,6}退",
    r"返还",
    words(r"refunds?", r"refunded", r"money back", r"reimburse\w*"),
)
REFUND_PROBLEM = alt(r"仅退款", r"不退钱", words(r"refund (was |got )?(denied|rejected|refused)"))

RETURN_ACTION = alt(
    r"退货",
    r"(?<!被)退回",
    r"寄回",
    r"退了吧",
    r"(想|要|申请|能|可以|怎么|我要)退(?![款钱给换])",
    r"退掉",
    words(
        r"return(ing)? (it|this|these|them|my|the|that|an?)",
        r"returns?",
        r"send (it |them |this )?back",
        r"sent (it |them |\w+ )*back",
        r"return label",
    ),
)
RETURN_PROBLEM = alt(r"拒收了", r"已经寄回", r"寄回去了", r"退回去了")

EXCHANGE_ACTION = alt(
    r"换货",
    r"换(个|一个|一件|一双|一条|一只|一下|成|大|小|码|颜色|色|尺码|号|新的?|同款)",
    r"换.{0,3}码",
    r"能换吗",
    r"可以换吗",
    r"给我换",
    words(r"exchang\w*", r"swap\w*", r"replace\w*", r"replacement"),
)

DAMAGED_PROBLEM = alt(
    r"碎了?",
    r"裂了?",
    r"破了",
    r"破损",
    r"坏了",
    r"坏的",
    r"压坏",
    r"摔坏",
    r"发错",
    r"错发",
    r"少发",
    r"漏发",
    r"少了(一|个|件|两|\d)",
    r"缺(了|少)",
    r"只收到",
    r"只发了",
    r"(赠品|配件|小样|盖子|充电线|充电器|说明书|零件).{0,6}(没|少|缺|不见)",
    r"盒.{0,3}没有",
    r"(?<!有)没有.{0,4}(充电线|充电器|配件|赠品|盖子)",
    r"漏液",
    r"漏了",
    r"划痕",
    r"(有|个|一)个?洞",
    r"破洞",
    r"开线",
    r"开胶",
    r"脱胶",
    r"掉漆",
    r"(不转|不亮|不响|没反应|不出水|不制冷|不加热)了?",
    r"烂了",
    r"坏点",
    r"二手",
    r"使用痕迹",
    r"鼓包",
    r"过期了?",
    r"发霉",
    r"开不了机",
    r"不能用了",
    r"断了",
    r"掉色了",
    r"起球了",
    r"磨脚",
    r"过敏",
    r"空包裹?",
    r"空盒",
    r"不是(一个|同一个|我买的|我要的|我拍的)",
    r"货不对板",
    r"和(下单|拍)的.{0,4}不(一样|是)",
    words(
        r"broken",
        r"broke",
        r"cracked",
        r"shattered",
        r"damaged",
        r"defective",
        r"faulty",
        r"crushed",
        r"ripped",
        r"torn",
        r"dented",
        r"scratched",
        r"leak(ed|ing|s)",
        r"missing",
        r"expired",
        r"stopped working",
        r"(does ?n[o']?t|did ?n[o']?t|won'?t|not) work(ing)?",
        r"wrong (item|size|colou?r|product|one|thing|model)",
        r"instead of",
        r"fell apart",
        r"dead on arrival",
        r"empty (box|package|parcel)",
    ),
)

DELIVERY_PROBLEM = alt(
    r"还没(到|收到|发货|发|送到|送|寄)",
    r"没收到",
    r"没到",
    r"(怎么|咋)还没",
    r"(不|没)更新",
    r"没动",
    r"(停在|停了|卡在)",
    r"丢件",
    r"丢了",
    r"显示(已)?签收",
    r"被退回",
    r"(物流|快递|包裹|订单).{0,6}异常",
    r"(送|派送).{0,6}(没|不)(到|送)",
    r"到哪(了|里了|儿了)",
    r"在哪了",
    r"第.天了",
    r"几天了.{0,6}(没|还)",
    r"查(一下|下)?(物流|快递)",
    r"催(一下|下)?(发货|快递|物流)?",
    r"说好.{0,8}(发货|到)",
    r"不发货",
    words(
        r"(has|have|had|did|does) ?n[o']?t (arrive|arrived|come|came|shipped|been shipped|been delivered)",
        r"(haven'?t|hasn'?t|never|not) (received|got|gotten|arrived|delivered)",
        r"where('?s| is| are)? (is )?my (order|package|parcel|stuff|item|items|delivery|shipment)",
        r"where my (order|package|parcel|stuff)",
        r"delivered to (the |a )?wrong",
        r"tracking (says|shows|has|hasn'?t|not|isn'?t|still)",
        r"stuck",
        r"in transit",
        r"lost (package|parcel|order|shipment)",
        r"not (yet )?delivered",
        r"delivered but",
        r"delayed",
        r"still (not|no|waiting|hasn'?t)",
    ),
)
DELIVERY_TOPIC = alt(
    r"发货",
    r"快递",
    r"物流",
    r"包裹",
    r"什么时候.{0,2}(发|到)",
    r"多久.{0,2}(发|到)",
    r"签收",
    r"到哪",
    words(r"ship\w*", r"arriv\w*", r"deliver\w*", r"tracking", r"package", r"parcel"),
)

ORDER_CHANGE_PROBLEM = alt(
    r"拍错",
    r"写错",
    r"填错",
    r"拍多了",
    r"拍少了",
    words(r"wrong (phone|address|number|name)", r"ordered the wrong", r"by mistake"),
)
ORDER_CHANGE_ACTION = alt(
    r"取消",
    r"不要了",
    r"改(一下|下)?(地址|收货|电话|手机|名字|颜色|尺码|数量|成|个)",
    r"修改(订单|地址|收货)",
    r"合并发货",
    r"地址改",
    words(
        r"(?<!noise )(?<!noise-)(?<!noise)cancel\w*",
        r"change (my|the) (delivery |shipping )?address",
        r"change (the |my )?(size|colou?r|address|quantity)",
        r"update (the |my )?(delivery |shipping )?address",
        r"modify (my |the )?order",
    ),
)

INVOICE_PROBLEM = alt(
    r"发票.{0,4}(开错|错了|重开)",
    r"(开错|重开).{0,4}(发票|票)",
    r"还没.{0,6}发票",
    r"抬头",
    r"税号",
    words(r"(haven'?t|not|never) (received|got) (the |my |an? )?(invoice|receipt)", r"reissue"),
)
INVOICE_TOPIC = alt(
    r"发票",
    r"开票",
    r"专票",
    r"普票",
    words(r"invoices?", r"receipts?", r"vat"),
)

PAYMENT_PROBLEM = alt(
    r"(付款|支付|付)(.{0,4})(失败|不了|不成功|不上|不出去)",
    r"(钱|款)付了.{0,8}(没|不)",
    r"付了钱.{0,6}(没|不)",
    r"付不了",
    r"支付不了",
    r"扣.{0,3}(两|2|二)次",
    r"重复扣",
    r"多扣",
    r"钱扣了",
    r"被扣(了)?钱",
    r"扣了钱",
    r"未付款",
    r"没生成订单",
    r"交易关闭",
    r"(优惠)?券用不了",
    r"付款.{0,6}没减",
    words(
        r"payment (failed|fails|failing|declined|error|keeps failing|won'?t go through)",
        r"(did ?n[o']?t|won'?t|not) go(ing)? through",
        r"charged .{0,20}(twice|two times|double|2 times)",
        r"double[- ]?charged",
        r"card (was |got |is )?declined",
        r"says unpaid",
        r"order says unpaid",
        r"coupon (did ?n[o']?t|won'?t|not) (apply|work)",
        r"(can'?t|cannot|unable to) pay",
    ),
)

COMPLAINT = alt(
    r"投诉",
    r"差评",
    r"12315",
    r"消协",
    r"消费者协会",
    r"工商",
    r"市场监管",
    r"举报",
    r"骗子",
    r"骗人",
    r"骗钱",
    r"黑店",
    r"假货",
    r"虚假宣传",
    r"曝光",
    r"律师",
    r"起诉",
    r"法院",
    r"报警",
    r"维权",
    r"(找|叫)(你们)?(的)?(领导|经理|老板)",
    r"客服.{0,6}(态度|不回|不理|没人理|太差|垃圾)",
    r"态度(太|很|真)?差",
    r"大家别买",
    words(
        r"complain\w*",
        r"scam\w*",
        r"fraud\w*",
        r"report(ed|ing)? (you|this|your)",
        r"bbb",
        r"better business bureau",
        r"lawyer",
        r"attorney",
        r"sue",
        r"legal action",
        r"chargeback",
        r"manager",
        r"supervisor",
        r"fake (product|item|goods)",
        r"do not buy",
        r"don'?t buy",
        r"rip ?off",
        r"customer service (is|was) (terrible|awful|rude|useless|horrible)",
    ),
)

# A generic after-sales subject with no specific category ("售后", "我的订单有问题").
GENERIC_AFTER_SALES = alt(
    r"订单.{0,4}(有问题|出问题|异常)",
    r"售后(处理|问题|客服)",
    words(r"problem with my order", r"issue with my order"),
)

# ---------------------------------------------------------------------------------------------------------
# Cues that separate a concrete post-sale situation from a hypothetical pre-sale question.

CONCRETE = alt(
    r"我.{0,4}(买|拍|下单|订|下)的",
    r"(买|拍)的(东西|衣服|裤子|鞋|货|那|这)",
    r"(上周|昨天|前天|上次|刚才|上个月|今天|之前)(买|拍|下单|订)",
    r"我的(订单|快递|包裹|货|东西|退款|发票|电子发票|单|钱|order|物流|衣服)",
    r"我那个",
    r"(我|都|已经|已)(收到|拿到)",
    r"刚(收到|到|下的单|下单|拍|买)",
    r"收到(了|的|货)",
    r"到手",
    r"已经(下单|付款|付了|签收|寄|申请|退|拍)",
    r"已付款",
    r"我(买|拍|订)了",
    r"申请了",
    r"帮我",
    r"给我",
    r"麻烦",
    r"我要",
    r"我想(退|换|要退|取消|改)",
    r"订单号",
    r"单号",
    r"拆开",
    r"(才|刚|就)(穿|用|戴|洗)了?",
    r"(问|催)了.{0,3}(几|好多|很多|多)次",
    r"第[二三四五六七八九十几\d]+次",
    r"用了.{0,3}(天|次)",
    words(
        r"my (order|package|parcel|purchase|item|items|refund|invoice|shipment|card|money|account|stuff|delivery|"
        r"receipt|return|payment|box|jacket|shoes|dress|shirt|size)",
        r"i (bought|ordered|received|paid|purchased|got|returned|sent|requested|put)",
        r"i'?ve (ordered|bought|paid|been|sent|asked|requested)",
        r"(already|just) (got|received|paid|ordered|bought)",
        r"received",
        r"arrived",
        r"came (with|in|broken)",
        r"got my",
        r"you (sent|charged|guys)",
        r"please",
        r"i want",
        r"i need",
        r"i'?d like",
        r"need to",
        r"order #?\s?[a-z]?\d",
    ),
)

# A conditional or policy framing: "如果/万一/不合适…", "if", "policy", "do you…". Overrides even a problem
# word ("坏了包换吗") when no concrete cue is present.
CONDITIONAL = alt(
    r"如果",
    r"要是",
    r"万一",
    r"假如",
    r"的话",
    r"以后",
    r"之后",
    r"(下单|买|拍)后",
    r"不合适",
    r"不喜欢",
    r"不满意(?!了)",
    r"质量问题怎么办",
    r"包换",
    r"包退",
    r"保修",
    r"质保",
    r"无理由",
    r"运费险",
    r"政策",
    r"有没有售后",
    r"有售后",
    r"支持",
    r"(运费|邮费).{0,4}(谁出|谁付|谁承担|谁负责)",
    r"谁出(运费|邮费)",
    words(
        r"if",
        r"who pays",
        r"in case",
        r"later",
        r"polic(y|ies)",
        r"do you",
        r"does (it|this)",
        r"is there",
        r"are there",
        r"is it possible",
        r"how (do|does) (returns?|refunds?|exchanges?) work",
        r"allowed",
        r"warranty",
        r"guarantee",
    ),
)

# A Chinese yes/no question ("能退吗", "包不包邮"). "么" after 什/怎/这/那/多 is part of another word.
ZH_YES_NO = alt(
    r"吗",
    r"(?<![什怎这那多要])么",
    r"嘛",
    r"能不能",
    r"可不可以",
    r"能否",
    r"支不支持",
    r"包不包",
    r"有没有",
    r"会不会",
    r"是不是",
    r"行不行",
    r"可以不",
)

# A message that opens with what the customer bought or received ("我买的吹风机…", "收到的…", "my order…")
# is after-sales in a shop chat even when no problem word is known.
STRONG_POSSESSION = alt(
    r"^(我|我们)?(上次|昨天|前天|刚才|刚|之前|上周|上个月)?(买|拍|收到|下单|订)的",
    r"^我的(订单|快递|包裹|货|order)",
    r"^(my|the) (order|package|parcel|delivery|shipment|item|purchase) ",
)
