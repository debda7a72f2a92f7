"""A small bilingual glossary of common shopping words, for matching across Chinese and English.

A Chinese question about an English listing ("破壁机有红色吗" → "Blender … Red") shares no token with it;
the glossary adds the other language's words for the product types, colours, materials and features a
shopper names, so lexical search and the brand + type lookup can still meet. It is general domain
vocabulary, not a list of any catalog's products.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from knowledge.tokenize import is_cjk, normalize, tokenize

# Each line: Chinese forms | English forms (comma-separated). Order does not matter.
_ENTRIES = """
耳机,蓝牙耳机,无线耳机,耳塞 | earbuds,earphones,headphones,headset
头戴式耳机 | headphones,over-ear
音箱,音响,蓝牙音箱 | speaker
充电宝,移动电源 | power bank,powerbank,portable charger
充电器,充电头 | charger,charging adapter
数据线,充电线 | cable,charging cable
手机壳,保护壳 | phone case
手机 | phone,smartphone
平板 | tablet
笔记本电脑,电脑 | laptop,computer
键盘 | keyboard
鼠标 | mouse
显示器 | monitor
相机 | camera
手表,智能手表 | watch,smartwatch
手环 | fitness band,tracker
破壁机,料理机,搅拌机,榨汁机 | blender,juicer
电水壶,烧水壶,热水壶 | kettle
电饭煲 | rice cooker
空气炸锅 | air fryer
咖啡机 | coffee maker,coffee machine
吸尘器 | vacuum,vacuum cleaner
扫地机器人 | robot vacuum
风扇,电风扇 | fan
台灯 | lamp
吹风机,电吹风 | hair dryer
剃须刀 | shaver,razor
电动牙刷,牙刷 | toothbrush
锅,炒锅,平底锅 | pan,wok,pot
刀具,菜刀 | knife
杯,杯子,水杯,保温杯 | cup,mug,bottle,tumbler
枕头 | pillow
被子 | quilt,duvet,comforter
毯子 | blanket
毛巾 | towel
床垫 | mattress
卫衣,连帽衫 | hoodie,sweatshirt
t恤,短袖 | t-shirt,tee
衬衫 | shirt
外套,夹克 | jacket,coat
羽绒服 | down jacket,puffer
毛衣,针织衫 | sweater,knit
裤子,长裤 | pants,trousers
牛仔裤 | jeans
短裤 | shorts
连衣裙,裙子,半身裙 | dress,skirt
运动鞋,跑鞋,鞋 | sneakers,running shoes,shoes
靴子 | boots
袜子 | socks
帽子 | hat,cap
围巾 | scarf
背包,双肩包,包包 | bag,backpack
钱包 | wallet
墨镜,太阳镜 | sunglasses
防晒,防晒霜,防晒乳 | sunscreen,sunblock,spf
面霜,乳霜 | cream,moisturizer
精华,精华液 | serum,essence
爽肤水,化妆水 | toner
洁面,洗面奶 | cleanser,face wash
面膜 | mask,face mask
口红,唇膏 | lipstick,lip balm
粉底,粉底液 | foundation
洗发水 | shampoo
护发素 | conditioner
沐浴露 | body wash,shower gel
身体乳 | body lotion
香水 | perfume,fragrance
茶,茶叶 | tea
咖啡 | coffee
零食 | snacks
坚果 | nuts
蜂蜜 | honey
奶粉 | formula,milk powder
纸尿裤,尿不湿 | diapers
玩具 | toy,toys
猫粮 | cat food
狗粮 | dog food
瑜伽垫 | yoga mat
哑铃 | dumbbell
红色 | red
蓝色 | blue
黑色 | black
白色 | white
粉色,粉红 | pink
绿色 | green
灰色 | grey,gray
黄色 | yellow
紫色 | purple
棕色,咖啡色 | brown
米色,米白 | beige
银色 | silver
金色 | gold
颜色 | color,colour
尺码,尺寸,码数 | size
大码 | plus size
容量 | capacity
重量,多重,多少克,多少斤 | weight,weigh,weighs,how heavy
材质,面料,成分,材料,什么做的 | material,fabric,made of,made from
纯棉,棉质 | cotton
羊毛 | wool
真皮,皮革 | leather
不锈钢 | stainless steel
防水 | waterproof,water resistant,water-resistant
降噪 | noise cancelling,noise canceling,anc
无线 | wireless
蓝牙 | bluetooth
续航,电池 | battery,battery life
快充 | fast charging,fast charge
充电 | charging,charge
静音 | quiet,silent
便携 | portable
敏感肌,敏感肌肤,敏感 | sensitive skin,sensitive
油皮,油性皮肤 | oily skin
干皮,干性皮肤 | dry skin
保湿,补水 | moisturizing,hydrating
美白 | brightening
无香,无香精 | fragrance-free,unscented
孕妇 | pregnant,pregnancy
儿童,小孩,宝宝 | kids,children,baby
男士,男款 | men,mens
女士,女款 | women,womens
保修 | warranty
发货 | shipping,ship
包邮 | free shipping
退货 | return,returns
退款 | refund
换货 | exchange
尺码表 | size chart
机洗 | machine wash
拉链,拉链款,全拉链 | zip,zipper,full-zip
连帽,带帽 | hooded,hood
加绒,抓绒,摇粒绒 | fleece,fleece-lined
圆领 | crew neck,crewneck
v领 | v-neck
立领 | stand collar
修身 | slim fit,slim
宽松,oversize | oversized,loose fit,relaxed fit
弹力 | stretch
亚麻 | linen
真丝 | silk
雪纺 | chiffon
碎花,印花 | floral,print
条纹 | striped,stripes
格子 | plaid
口袋 | pocket,pockets
高腰 | high-waisted,high rise
长袖 | long sleeve
短袖 | short sleeve
透气 | breathable
轻薄,轻便 | lightweight,light
加厚 | thick,heavyweight
保暖 | warm,insulated
防风 | windproof
雨衣,冲锋衣 | rain jacket,raincoat
可收纳 | packable
美码 | us size
欧码 | eu size
跑步鞋 | running shoes
雾面,哑光 | matte
滋润 | nourishing
持久,不脱色 | long-lasting,long-wear
维生素c,维c | vitamin c
玻尿酸,透明质酸 | hyaluronic acid
氨基酸 | amino acid
物理防晒 | mineral sunscreen,mineral
泡沫 | foaming,foam
修护 | repair,barrier repair
眉笔 | brow pencil,eyebrow pencil
辣,香辣,麻辣 | spicy
甜 | sweet
原味,无盐 | unsalted,original
口味 | flavor,flavour
烘焙 | roast
中度烘焙 | medium roast
深度烘焙 | dark roast
咖啡豆 | coffee beans,whole bean
挂耳咖啡 | drip coffee
方便面,泡面,拉面 | instant noodles,ramen
非油炸 | non-fried
有机 | organic
无糖 | sugar-free
咖啡因 | caffeine,caffeinated
绿茶 | green tea
红茶 | black tea
果干 | dried fruit
牛肉干 | beef jerky
燕麦,麦片 | oats,granola
可折叠,折叠 | foldable,collapsible,folding
可叠加,叠放 | stackable
盖子,盖 | lid,lids
轮子 | wheels
记忆棉 | memory foam
乳胶 | latex
枕套 | pillowcase,pillow cover
可水洗,可机洗 | washable,machine washable
洗碗机 | dishwasher
烤箱 | oven
电压,伏 | voltage,volt,volts,dual voltage
电机,马达 | motor
功率,瓦数 | power,wattage,watt,watts
加热,热的 | heat,heating,heated,hot
保冷,冰 | keeps cold,cold,ice
无麸质,麸质 | gluten-free,gluten
礼品包装,包装成礼物 | gift wrap,gift wrapping,gift-wrapped
尺码准,偏大,偏小,码数准 | true to size,runs small,runs large,size advice
碳酸饮料,可乐,汽水 | carbonated,soda,fizzy drinks
微波炉 | microwave
飞机,登机,上飞机 | plane,flight,airplane,carry-on,airline
游泳 | swim,swimming
噪音,噪声,分贝 | noise,decibel,db
咸,盐 | salt,salted,salty
不粘 | non-stick,nonstick
铸铁 | cast iron
陶瓷 | ceramic
玻璃 | glass
勺子,勺 | spoon
收纳箱,收纳盒,收纳筐 | storage box,storage bin,storage cube,storage basket
餐具 | dinnerware,tableware
入耳式 | in-ear
充电盒,充电仓 | charging case
无线充电 | wireless charging
磁吸 | magnetic
笔记本 | laptop,notebook
屏幕 | screen,display
心率 | heart rate
血氧 | blood oxygen,spo2
定位 | gps
亮度 | brightness
护眼 | eye care,flicker-free
卷发 | curly hair,curls
负离子 | ionic
插电,有线 | corded,plug-in
随行杯,便携 | portable,personal,to-go
毫安 | mah
毫升 | ml
英寸 | inch,inches
薰衣草紫,薰衣草 | lavender
藏青,藏蓝 | navy
卡其 | khaki
酒红 | burgundy,wine red
"""


def _parse() -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    entries = []
    for line in _ENTRIES.strip().splitlines():
        zh, en = line.split("|")
        entries.append(
            (
                tuple(normalize(w.strip()) for w in zh.split(",") if w.strip()),
                tuple(normalize(w.strip()) for w in en.split(",") if w.strip()),
            )
        )
    return entries


@lru_cache(maxsize=1)
def _compiled() -> list[tuple[re.Pattern[str], re.Pattern[str], tuple[str, ...], tuple[str, ...]]]:
    out = []
    for zh, en in _parse():
        zh_re = re.compile("|".join(re.escape(w) for w in sorted(zh, key=len, reverse=True)))
        en_re = re.compile(
            r"(?<![a-z0-9])(?:"
            + "|".join(re.escape(w) for w in sorted(en, key=len, reverse=True))
            + r")s?(?![a-z0-9])"
        )
        out.append((zh_re, en_re, zh, en))
    return out


def translations(text: str) -> list[str]:
    """The other language's words for the glossary terms `text` mentions (deduplicated, in order)."""
    norm = normalize(text)
    found: list[str] = []
    for zh_re, en_re, zh, en in _compiled():
        if zh_re.search(norm):
            found.extend(w for w in en if w not in found)
        if en_re.search(norm):
            found.extend(w for w in zh if w not in found)
    return found


def expansion_tokens(text: str) -> list[str]:
    """Lexical tokens of the glossary translations of `text` that `text` itself does not contain."""
    own = set(tokenize(text))
    out: list[str] = []
    for word in translations(text):
        for token in tokenize(word):
            # A lone Chinese character of a translated word ("机" of 破壁机) matches far too much.
            if len(token) > 1 and token not in own and token not in out:
                out.append(token)
    return out


@dataclass(frozen=True, slots=True)
class Concept:
    """A glossary term a question mentions: the tokens of its own wording, and each form's tokens.

    A passage speaks of the concept when it holds every token of at least one form, in either language.
    """

    own: frozenset[str]
    forms: tuple[frozenset[str], ...]


def concepts(text: str) -> list[Concept]:
    """The glossary terms `text` mentions."""
    norm = normalize(text)
    out: list[Concept] = []
    for zh_re, en_re, zh, en in _compiled():
        own_words = [m.group() for m in zh_re.finditer(norm)] + [m.group() for m in en_re.finditer(norm)]
        if not own_words:
            continue
        own = frozenset(t for w in own_words for t in tokenize(w))
        if not own:
            continue
        forms = []
        for word in (*zh, *en):
            # Lone Chinese characters of a form (机 of 破壁机) would match far too much.
            tokens = frozenset(t for t in tokenize(word) if len(t) > 1 or not is_cjk(t))
            if tokens and tokens not in forms:
                forms.append(tokens)
        out.append(Concept(own, tuple(forms)))
    return out


@dataclass(frozen=True, slots=True)
class GlossaryMatch:
    """A glossary entry a text mentions: every form of it in both languages, and the text's own words."""

    forms: tuple[str, ...]
    spans: tuple[str, ...]


def glossary_matches(text: str) -> list[GlossaryMatch]:
    """The glossary entries `text` names, with their surface forms (for substring matching)."""
    norm = normalize(text)
    out: list[GlossaryMatch] = []
    for zh_re, en_re, zh, en in _compiled():
        spans = [m.group() for m in zh_re.finditer(norm)] + [m.group() for m in en_re.finditer(norm)]
        if spans:
            out.append(GlossaryMatch(tuple(zh) + tuple(en), tuple(spans)))
    return out
