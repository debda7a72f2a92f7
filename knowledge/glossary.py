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
重量 | weight
材质,面料 | material,fabric
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
        forms = []
        for word in (*zh, *en):
            # Lone Chinese characters of a form (机 of 破壁机) would match far too much.
            tokens = frozenset(t for t in tokenize(word) if len(t) > 1 or not is_cjk(t))
            if tokens and tokens not in forms:
                forms.append(tokens)
        out.append(Concept(own, tuple(forms)))
    return out
