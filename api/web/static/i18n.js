// UI strings in Chinese and English. The language follows navigator.language until the user toggles it;
// the choice is kept in localStorage. Elements name their string with data-i18n (text),
// data-i18n-placeholder, data-i18n-label (aria-label) or data-i18n-title.

const STRINGS = {
  en: {
    "lang.toggle": "中文",
    "lang.toggle.label": "Switch the interface to Chinese",
    "app.name": "live-anchor",
    "nav.home": "Home",
    "nav.chat": "Shopper chat",
    "nav.console": "Agent console",
    "nav.catalog": "Catalog",
    "nav.docs": "API docs",
    "index.title": "live-anchor",
    "index.lead": "AI virtual anchor and customer-service bot for live-stream commerce.",
    "index.chat": "Consultation chat for shoppers: ask about products, prices, sizes and policies.",
    "index.console": "Human agent console: the after-sales queue, claim a ticket, read the transcript, reply, resolve.",
    "index.catalog": "Merchant catalog: upload product files, read the validation report, browse products.",
    "index.docs": "Interactive API reference (OpenAPI).",
    "chat.title": "Ask us anything",
    "chat.subtitle": "Products, sizes, prices, shipping and returns",
    "chat.input.label": "Your message",
    "chat.input.placeholder": "Type a question and press Enter",
    "chat.send": "Send",
    "chat.typing": "Typing…",
    "chat.you": "You",
    "chat.bot": "Assistant",
    "chat.agent": "Agent",
    "chat.system": "Notice",
    "chat.empty": "Hello! Ask about any product by name, or about shipping and returns.",
    "chat.sources": "Sources",
    "chat.handoff": "A person from customer service will take it from here (ticket {ticket}). Their replies appear below.",
    "chat.handoff.noticket": "A person from customer service will take it from here. Their replies appear below.",
    "chat.relayed": "Sent to customer service.",
    "chat.human": "You are talking with customer service.",
    "chat.newconv": "New conversation",
    "chat.error.rate": "Too many messages. Please wait {seconds} s and try again.",
    "chat.error.network": "Could not reach the server. Check your connection and try again.",
    "chat.error.generic": "Something went wrong ({status}).",
    "chat.merchant.invalid": "This chat link names an invalid shop.",
    "auth.legend": "Sign in",
    "auth.key": "API key",
    "auth.key.placeholder": "Paste your API key",
    "auth.merchant": "Merchant",
    "auth.merchant.hint": "The shop id this key works for, e.g. demo.",
    "auth.signin": "Sign in",
    "auth.signout": "Sign out",
    "auth.error.401": "The API key was not accepted. Check it and sign in again.",
    "auth.error.403": "This key may not do that for merchant {merchant}.",
    "auth.required": "Enter an API key and a merchant.",
    "console.title": "Agent console",
    "console.queue": "Queue",
    "console.filter.state": "State",
    "console.filter.priority": "Priority",
    "console.filter.any": "Any",
    "console.filter.unresolved": "Not resolved",
    "console.refresh": "Refresh",
    "console.empty": "No tickets match.",
    "console.select": "Select a ticket to see its transcript.",
    "console.claim": "Claim",
    "console.reply": "Send reply",
    "console.reply.label": "Reply to the customer",
    "console.resolve": "Resolve",
    "console.resolve.note": "Resolution note (optional)",
    "console.transcript": "Conversation",
    "console.events": "Ticket history",
    "console.orders": "Order ids",
    "console.category": "Category",
    "console.priority": "Priority",
    "console.state": "State",
    "console.owner": "Owner",
    "console.conversation": "Conversation",
    "console.channel": "Channel",
    "console.created": "Created",
    "console.summary": "Summary",
    "console.none": "—",
    "console.customer": "Customer",
    "console.updated": "Updated {time}",
    "console.done.claim": "Ticket claimed.",
    "console.done.reply": "Reply sent.",
    "console.done.resolve": "Ticket resolved.",
    "console.rooms": "Live rooms",
    "console.rooms.hint": "Each room's queue, answers, what was dropped and why, tickets, airtime and latency over the last 5 minutes.",
    "console.rooms.empty": "No rooms yet: start one with anchor room start --plan FILE.",
    "console.rooms.waiting": "waiting",
    "console.rooms.answered": "answered",
    "console.rooms.spoken": "spoken",
    "console.rooms.screen": "on screen",
    "console.rooms.repeat": "shown again",
    "console.rooms.tickets": "tickets",
    "console.rooms.script": "script share",
    "console.rooms.latency": "question → answer",
    "console.rooms.dropped": "dropped",
    "console.rooms.recent": "last answers",
    "console.intents": "What the bot understood",
    "console.intents.hint": "The latest shopper messages and the intent the bot chose. Correct a wrong one: corrections train the next model (anchor router train --merchant).",
    "console.intents.empty": "No shopper messages yet.",
    "console.intents.decided": "decided",
    "console.intents.correct": "Correct",
    "console.intents.label": "Intent of this message",
    "console.intents.saved": "Saved: “{text}” is {intent}.",
    "console.intents.corrected": "corrected",
    "catalog.title": "Catalog",
    "catalog.upload": "Upload files",
    "catalog.files": "Catalog or policy files",
    "catalog.files.hint": "CSV, XLSX, JSON, JSONL, Shopify CSV, Markdown or text.",
    "catalog.replace": "Replace: remove products that are not in these files",
    "catalog.skip": "Skip invalid rows: apply the valid rows and report the rest",
    "catalog.import": "Import",
    "catalog.importing": "Importing…",
    "catalog.report": "Import report",
    "catalog.applied": "Applied",
    "catalog.notapplied": "Nothing was applied",
    "catalog.wouldbe": "The counts show what the import would have done.",
    "catalog.counts": "Counts",
    "catalog.products": "Products",
    "catalog.documents": "Documents",
    "catalog.added": "Added",
    "catalog.updated": "Updated",
    "catalog.unchanged": "Unchanged",
    "catalog.removed": "Removed",
    "catalog.rejected": "Rejected rows",
    "catalog.errors": "Errors",
    "catalog.warnings": "Warnings",
    "catalog.file": "File",
    "catalog.row": "Row",
    "catalog.column": "Column",
    "catalog.message": "Message",
    "catalog.browse": "Products",
    "catalog.search": "Search by sku, title or brand",
    "catalog.prev": "Previous",
    "catalog.next": "Next",
    "catalog.page": "{from}–{to} of {total}",
    "catalog.page.search": "Matches {from}–{to}",
    "catalog.noproducts": "No products yet. Upload a catalog file above.",
    "catalog.sku": "SKU",
    "catalog.name": "Title",
    "catalog.brand": "Brand",
    "catalog.category": "Category",
    "catalog.price": "Price",
    "catalog.listprice": "List price",
    "catalog.stock": "Stock",
    "catalog.variants": "Variants",
    "catalog.options": "Options",
    "catalog.attributes": "Attributes",
    "catalog.sellingpoints": "Selling points",
    "catalog.description": "Description",
    "catalog.tags": "Tags",
    "catalog.select": "Select a product to see its details.",
    "catalog.nofiles": "Choose at least one file.",
  },
  zh: {
    "lang.toggle": "English",
    "lang.toggle.label": "切换为英文界面",
    "app.name": "live-anchor",
    "nav.home": "首页",
    "nav.chat": "商品咨询",
    "nav.console": "人工客服台",
    "nav.catalog": "商品库",
    "nav.docs": "API 文档",
    "index.title": "live-anchor",
    "index.lead": "直播电商 AI 虚拟主播与智能客服。",
    "index.chat": "买家咨询：商品、价格、尺码、发货与售后政策。",
    "index.console": "人工客服台：售后工单队列、认领、查看对话、回复、完结。",
    "index.catalog": "商家商品库：上传商品文件、查看校验报告、浏览商品。",
    "index.docs": "交互式 API 参考（OpenAPI）。",
    "chat.title": "在线咨询",
    "chat.subtitle": "商品、尺码、价格、发货与售后",
    "chat.input.label": "输入消息",
    "chat.input.placeholder": "输入问题，按回车发送",
    "chat.send": "发送",
    "chat.typing": "正在输入…",
    "chat.you": "我",
    "chat.bot": "智能客服",
    "chat.agent": "人工客服",
    "chat.system": "提示",
    "chat.empty": "您好！可以直接问任何商品，也可以问发货和退换货。",
    "chat.sources": "依据",
    "chat.handoff": "已为您转接人工客服（工单 {ticket}），客服的回复会显示在下方。",
    "chat.handoff.noticket": "已为您转接人工客服，客服的回复会显示在下方。",
    "chat.relayed": "已转达给人工客服。",
    "chat.human": "您正在与人工客服对话。",
    "chat.newconv": "新对话",
    "chat.error.rate": "发送太频繁，请 {seconds} 秒后再试。",
    "chat.error.network": "无法连接服务器，请检查网络后重试。",
    "chat.error.generic": "出错了（{status}）。",
    "chat.merchant.invalid": "该咨询链接中的店铺标识无效。",
    "auth.legend": "登录",
    "auth.key": "API 密钥",
    "auth.key.placeholder": "粘贴您的 API 密钥",
    "auth.merchant": "商家",
    "auth.merchant.hint": "该密钥所属的店铺标识，例如 demo。",
    "auth.signin": "登录",
    "auth.signout": "退出登录",
    "auth.error.401": "API 密钥无效，请检查后重新登录。",
    "auth.error.403": "该密钥无权对商家 {merchant} 执行此操作。",
    "auth.required": "请输入 API 密钥和商家。",
    "console.title": "人工客服台",
    "console.queue": "工单队列",
    "console.filter.state": "状态",
    "console.filter.priority": "优先级",
    "console.filter.any": "全部",
    "console.filter.unresolved": "未完结",
    "console.refresh": "刷新",
    "console.empty": "没有符合条件的工单。",
    "console.select": "选择一个工单查看对话记录。",
    "console.claim": "认领",
    "console.reply": "发送回复",
    "console.reply.label": "回复顾客",
    "console.resolve": "完结",
    "console.resolve.note": "完结备注（可选）",
    "console.transcript": "对话记录",
    "console.events": "工单记录",
    "console.orders": "订单号",
    "console.category": "类别",
    "console.priority": "优先级",
    "console.state": "状态",
    "console.owner": "处理人",
    "console.conversation": "会话",
    "console.channel": "渠道",
    "console.created": "创建时间",
    "console.summary": "摘要",
    "console.rooms": "直播间",
    "console.rooms.hint": "每个直播间的排队、回答、丢弃了什么及原因、工单、话术占比和最近5分钟的回复延迟。",
    "console.rooms.empty": "还没有直播间：用 anchor room start --plan FILE 开播。",
    "console.rooms.waiting": "排队",
    "console.rooms.answered": "已回答",
    "console.rooms.spoken": "口播",
    "console.rooms.screen": "屏幕",
    "console.rooms.repeat": "重复显示",
    "console.rooms.tickets": "工单",
    "console.rooms.script": "话术占比",
    "console.rooms.latency": "提问 → 回答",
    "console.rooms.dropped": "丢弃",
    "console.rooms.recent": "最近回答",
    "console.intents": "机器人的理解",
    "console.intents.hint": "最近的顾客消息和机器人判断的意图。判断错了就改正：改正会用于训练下一个模型（anchor router train --merchant）。",
    "console.intents.empty": "还没有顾客消息。",
    "console.intents.decided": "判断",
    "console.intents.correct": "改正",
    "console.intents.label": "这条消息的意图",
    "console.intents.saved": "已保存：“{text}”是 {intent}。",
    "console.intents.corrected": "已改正",
    "console.none": "—",
    "console.customer": "顾客",
    "console.updated": "更新于 {time}",
    "console.done.claim": "已认领工单。",
    "console.done.reply": "回复已发送。",
    "console.done.resolve": "工单已完结。",
    "catalog.title": "商品库",
    "catalog.upload": "上传文件",
    "catalog.files": "商品或政策文件",
    "catalog.files.hint": "支持 CSV、XLSX、JSON、JSONL、Shopify CSV、Markdown 或文本。",
    "catalog.replace": "替换：删除不在这些文件中的商品",
    "catalog.skip": "跳过无效行：导入有效行，报告其余行",
    "catalog.import": "导入",
    "catalog.importing": "正在导入…",
    "catalog.report": "导入报告",
    "catalog.applied": "已导入",
    "catalog.notapplied": "未导入任何内容",
    "catalog.wouldbe": "以上数字是本次导入原本会产生的变化。",
    "catalog.counts": "统计",
    "catalog.products": "商品",
    "catalog.documents": "文档",
    "catalog.added": "新增",
    "catalog.updated": "更新",
    "catalog.unchanged": "未变",
    "catalog.removed": "删除",
    "catalog.rejected": "被拒行数",
    "catalog.errors": "错误",
    "catalog.warnings": "警告",
    "catalog.file": "文件",
    "catalog.row": "行",
    "catalog.column": "列",
    "catalog.message": "说明",
    "catalog.browse": "商品列表",
    "catalog.search": "按 SKU、标题或品牌搜索",
    "catalog.prev": "上一页",
    "catalog.next": "下一页",
    "catalog.page": "第 {from}–{to} 条，共 {total} 条",
    "catalog.page.search": "匹配结果第 {from}–{to} 条",
    "catalog.noproducts": "还没有商品，请先在上方上传商品文件。",
    "catalog.sku": "SKU",
    "catalog.name": "标题",
    "catalog.brand": "品牌",
    "catalog.category": "类目",
    "catalog.price": "价格",
    "catalog.listprice": "原价",
    "catalog.stock": "库存",
    "catalog.variants": "规格",
    "catalog.options": "选项",
    "catalog.attributes": "属性",
    "catalog.sellingpoints": "卖点",
    "catalog.description": "描述",
    "catalog.tags": "标签",
    "catalog.select": "选择一个商品查看详情。",
    "catalog.nofiles": "请至少选择一个文件。",
  },
};

const STORAGE_KEY = "anchor.lang";
const listeners = [];

function initialLanguage() {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (saved === "zh" || saved === "en") return saved;
  const preferred = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
  return preferred.some((tag) => String(tag).toLowerCase().startsWith("zh")) ? "zh" : "en";
}

let current = initialLanguage();

/** The current UI language, "zh" or "en". */
export function lang() {
  return current;
}

/** The string `key` in the current language, with `{name}` placeholders filled from `params`. */
export function t(key, params = {}) {
  const template = STRINGS[current][key] ?? STRINGS.en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** Fill every element under `root` that names a string with data-i18n* attributes. */
export function applyStrings(root = document) {
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
  for (const node of root.querySelectorAll("[data-i18n]")) {
    const params = node.dataset.i18nParams ? JSON.parse(node.dataset.i18nParams) : {};
    node.textContent = t(node.dataset.i18n, params);
  }
  for (const node of root.querySelectorAll("[data-i18n-placeholder]")) {
    node.setAttribute("placeholder", t(node.dataset.i18nPlaceholder));
  }
  for (const node of root.querySelectorAll("[data-i18n-label]")) {
    node.setAttribute("aria-label", t(node.dataset.i18nLabel));
  }
  for (const node of root.querySelectorAll("[data-i18n-title]")) node.setAttribute("title", t(node.dataset.i18nTitle));
}

/** Set `node`'s text to the string `key` and keep it translated when the language changes. */
export function bindText(node, key, params = null) {
  node.dataset.i18n = key;
  if (params) node.dataset.i18nParams = JSON.stringify(params);
  else delete node.dataset.i18nParams;
  node.textContent = t(key, params ?? {});
  return node;
}

/** Switch the language, re-apply static strings and tell listeners to re-render dynamic parts. */
export function setLanguage(next) {
  current = next === "zh" ? "zh" : "en";
  localStorage.setItem(STORAGE_KEY, current);
  applyStrings();
  for (const listener of listeners) listener(current);
}

/** Call `listener(lang)` after every language switch. */
export function onLanguageChange(listener) {
  listeners.push(listener);
}

/** Apply the strings now and wire the page's language toggle button (id "lang-toggle"). */
export function setupLanguage() {
  applyStrings();
  const button = document.getElementById("lang-toggle");
  if (button) button.addEventListener("click", () => setLanguage(current === "zh" ? "en" : "zh"));
}
