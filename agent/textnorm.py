"""Normalisation of incoming chat text and an offset-keeping fold for pattern matching.

`normalize_message` is stage 1 of the answer pipeline: it turns noisy danmaku ("多少錢錢錢錢？？？？😂",
"ＸＬ有嗎") into a stable form ("多少钱？", "XL有吗") without ever changing a number or a size.

`fold` is what the compliance checker and the PII detector match against: one character of the input
becomes zero or more characters of the fold (full-width → half-width, traditional → simplified,
optionally lower case, zero-width characters dropped), and every folded character remembers the index of
the input character it came from, so a match in the fold is reported as a span of the original text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Literal

Language = Literal["zh", "en"]

# Traditional → simplified for the characters common in shopping chat; pairs "繁简" separated by spaces.
# Characters whose traditional form is also a simplified character in its own right (著 in 著名) are
# left out, so folding never changes a word that is already simplified.
_T2S_PAIRS = """
價价 錢钱 這这 嗎吗 號号 麼么 還还 貨货 運运 碼码 顏颜 發发 郵邮 費费 買买 賣卖 寶宝 貝贝 優优 們们
個个 對对 說说 話话 時时 間间 東东 車车 從从 會会 來来 樣样 點点 傳传 達达 過过 進进 開开 關关 後后
裡里 裏里 麵面 髮发 長长 門门 問问 題题 頭头 見见 現现 覺觉 實实 際际 體体 機机 電电 腦脑 網网 線线
紅红 綠绿 藍蓝 黃黄 銀银 鐵铁 鋼钢 絲丝 綿绵 質质 無无 襪袜 褲裤 帶带 蓋盖 補补 裝装 衛卫 視视 聽听
燈灯 氣气 溫温 熱热 涼凉 乾干 濕湿 淨净 潔洁 膚肤 臉脸 膠胶 霧雾 陽阳 陰阴 亞亚 歐欧 國国 廣广 區区
鄉乡 縣县 專专 業业 廠厂 產产 農农 藥药 醫医 療疗 癥症 預预 訂订 單单 換换 緊紧 張张 幫帮 讓让 給给
紹绍 認认 識识 證证 護护 據据 試试 驗验 險险 簡简 雙双 條条 隻只 數数 計计 劃划 錯错 誤误 請请 謝谢
讀读 寫写 畫画 聲声 響响 應应 該该 務务 員员 漲涨 減减 滿满 夠够 總总 額额 貴贵 賺赚 賠赔 償偿 圓圆
顆颗 兩两 塊块 萬万 億亿 輕轻 鬆松 穩稳 難难 歡欢 愛爱 親亲 媽妈 誰谁 讚赞 贊赞 鏈链 結结 節节 紀纪
約约 級级 紙纸 組组 織织 細细 終终 經经 統统 續续 維维 緻致 繫系 鈕钮 鎖锁 鍋锅 鏡镜 錶表 鐘钟 鍾钟
針针 釘钉 鑽钻 鑰钥 閃闪 閱阅 陳陈 隊队 階阶 隨随 雖虽 雜杂 雞鸡 離离 靈灵 韓韩 頁页 項项 順顺 須须
領领 頻频 顧顾 風风 飛飞 飯饭 飲饮 餅饼 館馆 飽饱 馬马 騙骗 鬥斗 魚鱼 鮮鲜 鳥鸟 鴨鸭 鵝鹅 麥麦 齊齐
齒齿 龍龙 龜龟 為为 烏乌 燒烧 爐炉 爭争 牆墙 狀状 獨独 獎奖 環环 畢毕 當当 盡尽 監监 盤盘 確确 禮礼
種种 窮穷 筆笔 築筑 範范 簽签 籤签 糧粮 緣缘 縫缝 縮缩 績绩 繩绳 罰罚 羅罗 習习 聞闻 聯联 職职 脫脱
腳脚 膽胆 臟脏 與与 舉举 舊旧 蘋苹 藝艺 處处 虛虚 蟲虫 衝冲 襯衬 規规 覽览 觀观 訊讯 記记 許许 設设
訪访 評评 詞词 詳详 誠诚 課课 調调 談谈 論论 講讲 譯译 議议 變变 豐丰 豬猪 負负 財财 販贩 責责 資资
賞赏 購购 贈赠 趕赶 軟软 較较 載载 輛辆 輸输 轉转 辦办 邊边 遠远 適适 遲迟 選选 醬酱 釋释 鈔钞 錄录
鋪铺 鍵键 閉闭 閒闲 闆板 隱隐 雲云 靜静 頂顶 頸颈 顯显 飾饰 驅驱 驚惊 髒脏 鬧闹 鹽盐 麗丽 齡龄 嚴严
團团 圍围 圖图 壓压 壞坏 壺壶 夢梦 婦妇 嬰婴 孫孙 學学 寧宁 寬宽 審审 尋寻 導导 屬属 幣币 幾几 庫库
廳厅 彈弹 彎弯 態态 慶庆 懷怀 戰战 戲戏 戶户 拋抛 掛挂 採采 損损 搖摇 擁拥 擇择 擔担 擠挤 擴扩 擺摆
攝摄 敗败 斷断 於于 曬晒 書书 極极 樂乐 標标 橋桥 檢检 櫃柜 權权 歲岁 歷历 歸归 殘残 殼壳 決决 況况
測测 滅灭 漢汉 濃浓 灑洒 燙烫 營营 爺爷 獲获 異异 皺皱 盜盗 眾众 礦矿 稅税 穀谷 積积 競竞 糾纠 紋纹
納纳 純纯 紗纱 紛纷 絕绝 絡络 絨绒 綁绑 綜综 緩缓 編编 練练 繳缴 纖纤 義义 聖圣 腸肠 膩腻 臨临 舖铺
莊庄 華华 葉叶 蓮莲 薦荐 蘭兰 蝦虾 製制 複复 復复 觸触 討讨 訓训 託托 訴诉 註注 詢询 誌志 語语 諾诺
謙谦 譽誉 貓猫 貼贴 賬账 賴赖 贏赢 跡迹 蹤踪 軍军 輝辉 輪轮 辭辞 迴回 連连 週周 遊游 違违 遞递 鉛铅
銷销 鋁铝 鍛锻 鎮镇 鑒鉴 閣阁 陸陆 韌韧 頓顿 願愿 類类 飄飘 餵喂 餘余 饅馒 駕驾 騎骑 鬍胡 劑剂 劍剑
勁劲 勞劳 勢势 勵励 匯汇 協协 卻却 厲厉 參参 啟启 噴喷 嚇吓 園园 堅坚 報报 場场 塗涂 塵尘 墊垫 壽寿
夾夹 奧奥 妝妆 娛娱 寵宠 將将 層层 帥帅 師师 廢废 徹彻 惡恶 慣惯 憂忧 懶懒 戀恋 捨舍 掃扫 揚扬 搶抢
摺折 撐撑 擋挡 攜携 暈晕 暢畅 暫暂 棄弃 棗枣 楊杨 橫横 檔档 檯台 欄栏 殺杀 毀毁 汙污 沒没 淚泪 淺浅
溝沟 滾滚 漸渐 潤润 濾滤 灣湾 災灾 煙烟 煩烦 燦灿 爛烂 瘋疯 癢痒 礎础 禍祸 簾帘 籃篮 繞绕 繪绘 罵骂
蔥葱 薑姜 蘇苏 蠟蜡 襖袄 詐诈 詩诗 誇夸 諒谅 謠谣 譜谱 賭赌 醜丑 釀酿 鈣钙 鈴铃 鉤钩 銅铜 銳锐 錦锦
鍊链 鎂镁 鏽锈 鐲镯 闊阔 陣阵 隸隶 靚靓 韻韵 颱台 餃饺 餓饿 餡馅 驕骄 驢驴 鬱郁 鯉鲤 鳳凤 鴿鸽 鷹鹰
黴霉 鹹咸 纔才 噸吨 磚砖 鏟铲 錘锤 縐绉 衹只 嗆呛 喲哟 囉啰 唄呗 噠哒
吶呐 擊击 癒愈 瘡疮 僅仅 誕诞 劵券 盜盗
"""


def _build_t2s(pairs: str) -> dict[int, str]:
    table: dict[int, str] = {}
    for pair in pairs.split():
        trad, simp = pair[0], pair[1]
        if trad != simp:
            table[ord(trad)] = simp
    return table


T2S: dict[int, str] = _build_t2s(_T2S_PAIRS)

# Characters that carry nothing: zero-width spaces/joiners, word joiner, BOM, Mongolian vowel separator,
# soft hyphen, variation selectors, the combining enclosing keycap.
_INVISIBLE = frozenset(
    [
        *(0x00AD, 0x180E, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2060, 0x2061, 0x2062, 0x2063, 0xFEFF),
        0x20E3,
        *range(0xFE00, 0xFE10),
        *range(0xE0100, 0xE01F0),
    ]
)

# Full-width punctuation that Chinese text uses as its own punctuation; `normalize_message` keeps it.
_CJK_PUNCT = frozenset("，！？：；（）～")


def _is_emoji(cp: int) -> bool:
    return (
        0x1F000 <= cp <= 0x1FAFF  # pictographs, emoticons, transport, supplemental symbols, cards
        or 0x2600 <= cp <= 0x27BF  # misc symbols, dingbats (☀ ✨ ❤)
        or 0x2B00 <= cp <= 0x2BFF  # arrows and stars (⭐ ⬆)
        or 0xE0020 <= cp <= 0xE007F  # tag characters (flag sequences)
        or cp
        in (0x203C, 0x2049, 0x2122, 0x2139, 0x231A, 0x231B, 0x2328, 0x23CF, 0x3030, 0x303D, 0x3297, 0x3299)
        or 0x23E9 <= cp <= 0x23FA
    )


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0xF900 <= cp <= 0xFAFF
        or 0x20000 <= cp <= 0x2FA1F
        or 0x3040 <= cp <= 0x30FF  # kana
    )


def _is_surrogate(ch: str) -> bool:
    return 0xD800 <= ord(ch) <= 0xDFFF


@dataclass(frozen=True, slots=True)
class Folded:
    """A folded copy of a text plus, for each folded character, the index of its source character."""

    text: str
    source: tuple[int, ...]
    original_length: int

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map the folded span ``[start, end)`` back to a span of the original text."""
        if start >= end:
            pos = self.source[start] if start < len(self.source) else self.original_length
            return pos, pos
        return self.source[start], self.source[end - 1] + 1


def fold(text: str, *, lower: bool = True, simplify: bool = True) -> Folded:
    """Fold `text` for matching: NFKC per character, traditional → simplified, optional lower case.

    Zero-width characters, variation selectors and lone surrogates fold to nothing. Each character is
    folded on its own so the mapping back to the original is exact.
    """
    table = _fold_table(lower, simplify)
    out: list[str] = []
    source: list[int] = []
    for index, ch in enumerate(text):
        piece = table.get(ch)
        if piece is None:  # outside the tabled ranges: folded each time
            piece = _fold_char(ch, lower=lower, simplify=simplify)
        if len(piece) == 1:
            out.append(piece)
            source.append(index)
        else:
            for folded_ch in piece:
                out.append(folded_ch)
                source.append(index)
    return Folded("".join(out), tuple(source), len(text))


def _fold_char(ch: str, *, lower: bool, simplify: bool) -> str:
    """One character's fold (tabled for the common ranges, `_fold_table`)."""
    cp = ord(ch)
    if cp in _INVISIBLE or _is_surrogate(ch):
        return ""
    piece = (T2S.get(cp) if simplify else None) or unicodedata.normalize("NFKC", ch)
    if simplify:  # NFKC may give a traditional character (U+F907 is 龜)
        piece = "".join(T2S.get(ord(c), c) for c in piece)
    return piece.lower() if lower else piece


#: The ranges whose folds are tabled once (ASCII and Latin-1, CJK punctuation, CJK unified ideographs, full-
#: width forms): a fixed table, so a flood of unusual characters cannot grow memory.
_TABLED = (range(0x0250), range(0x3000, 0x3040), range(0x4E00, 0xA000), range(0xFF00, 0xFFF0))


@cache
def _fold_table(lower: bool, simplify: bool) -> dict[str, str]:
    return {chr(cp): _fold_char(chr(cp), lower=lower, simplify=simplify) for block in _TABLED for cp in block}


# Douyin/Taobao chat renders stickers as bracketed names: "[赞]", "[玫瑰]", "[捂脸]".
_STICKER = re.compile(r"\[[\u4e00-\u9fff]{1,4}\]")
_WHITESPACE = re.compile(r"\s+")
_CJK_OR_PUNCT = "\u3400-\u9fff，。！？：；（）～、「」『』“”"
_SPACE_BETWEEN_CJK = re.compile(f"(?<=[{_CJK_OR_PUNCT}]) (?=[{_CJK_OR_PUNCT}])")
_CJK_RUN = re.compile(r"([\u3400-\u9fff])\1{2,}")  # three or more of the same Han character
_LOWER_RUN = re.compile(r"([a-z])\1{2,}")  # three or more of the same lower-case letter
_PUNCT_RUN = re.compile(r"([，。！？、；：～,.!?;:~…\-—=*#@^&+/\\|])\1+")


def _clean_char(ch: str) -> str:
    cp = ord(ch)
    if cp in _INVISIBLE or _is_surrogate(ch) or _is_emoji(cp):
        return ""
    if 0x1F3FB <= cp <= 0x1F3FF:  # skin tones
        return ""
    if ch in _CJK_PUNCT:
        return ch
    if unicodedata.category(ch) in ("Cc", "Cf"):
        return " " if ch in "\t\n\r\x0b\x0c" else ""
    piece = T2S.get(cp)
    if piece is not None:
        return piece
    # NFKC may give a traditional character (the compatibility ideograph U+F907 is 龜): simplify that too.
    return "".join(T2S.get(ord(c), c) for c in unicodedata.normalize("NFKC", ch))


def normalize_message(text: str) -> str:
    """Normalise one incoming chat message.

    - full-width letters, digits and symbols become half-width (ＸＬ → XL, １００ → 100), while the
      Chinese punctuation ，！？：；（）～ stays as it is;
    - common traditional characters become simplified (價錢 → 价钱);
    - emoji, skin tones, variation selectors, zero-width characters, control characters, lone
      surrogates and bracketed chat stickers ("[赞]") are removed;
    - a Han character repeated three or more times is kept once ("钱钱钱钱" → "钱"; a doubled one such as
      谢谢/看看 stays), a lower-case letter run of three or more becomes two ("hiiiii" → "hii"),
      repeated punctuation is kept once ("？？？？" → "？"); digits and upper-case letters never change
      ("1000", "666", "XXXL" stay);
    - whitespace is collapsed to one space, and a space between two Han
      characters (or Chinese punctuation) is removed.

    An input made only of emoji returns the empty string.
    """
    cleaned = "".join(_clean_char(ch) for ch in text)
    cleaned = _STICKER.sub("", cleaned)
    cleaned = _WHITESPACE.sub(" ", cleaned).strip()
    cleaned = _SPACE_BETWEEN_CJK.sub("", cleaned)
    cleaned = _CJK_RUN.sub(r"\1", cleaned)
    cleaned = _LOWER_RUN.sub(r"\1\1", cleaned)
    cleaned = _PUNCT_RUN.sub(r"\1", cleaned)
    return cleaned


_LATIN_WORD = re.compile(r"[A-Za-z\uff21-\uff3a\uff41-\uff5a]+")


def detect_language(text: str, *, default: Language = "zh") -> Language:
    """Guess whether a message is Chinese or English.

    Chinese shoppers mix Latin words into Chinese ("XL有吗", "iPhone 15 有货吗"); English shoppers rarely
    write Han characters. So a Han character counts as much as two Latin words: the text is Chinese when
    ``2 * han_chars >= latin_words``. Text with neither (digits, emoji, punctuation) gets `default`.
    """
    han = sum(1 for ch in text if _is_cjk(ch))
    words = len(_LATIN_WORD.findall(text))
    if han == 0 and words == 0:
        return default
    return "zh" if 2 * han >= words else "en"


__all__ = ["T2S", "Folded", "Language", "detect_language", "fold", "normalize_message"]
