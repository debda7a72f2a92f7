// The live-room page: /room/<room_id>[?transparent=1][&muted=1][&lang=zh|en][&chat=0][&buffer=ms]
// Usable as an OBS "browser source" (transparent=1 gives a transparent background).
//
// Events arrive over WebSocket (/v1/rooms/<id>/ws). Utterances (say, answer, ack) go through one timeline:
// each clip is scheduled back to back on one AudioContext (start = the previous clip's end, or now plus a
// small playout buffer when the line is idle), so speech never overlaps and never leaves a gap the stream
// itself did not have. Subtitles, answer bubbles and product cards change at their clip's scheduled start.
// Without sound (muted, or before the user allows audio) the same timeline runs on the page clock.
// After a dropped connection the page reconnects with backoff and resumes after the last seq it saw;
// events it already has are ignored. All server and viewer text goes in with textContent only.

import { el } from "./dom.js";

const STRINGS = {
  zh: {
    connecting: "连接中…",
    running: "直播中",
    paused: "暂停",
    stopped: "已结束",
    offline: "重新连接中…",
    missing: "直播间不存在",
    start: "点击开启声音",
    link: "{n}号链接",
    soldout: "已售罄",
    low: "库存紧张",
    instock: "有货",
    asked: "问",
    grouped: "{n}位观众问到",
    nickname: "昵称",
    message: "说点什么…",
    send: "发送",
    dropped: "消息未被接收（{reason}）",
    slow: "发送太快了，请稍后再试",
  },
  en: {
    connecting: "Connecting…",
    running: "LIVE",
    paused: "Paused",
    stopped: "Ended",
    offline: "Reconnecting…",
    missing: "This room does not exist",
    start: "Click to start sound",
    link: "Link {n}",
    soldout: "Sold out",
    low: "Almost gone",
    instock: "In stock",
    asked: "asked",
    grouped: "{n} viewers asked",
    nickname: "Nickname",
    message: "Say something…",
    send: "Send",
    dropped: "Message not taken ({reason})",
    slow: "Too fast, please wait a moment",
  },
};

const params = new URLSearchParams(window.location.search);
const flag = (name) => ["1", "true", "yes"].includes((params.get(name) ?? "").toLowerCase());
const lang = (() => {
  const asked = (params.get("lang") ?? "").toLowerCase();
  if (asked.startsWith("en")) return "en";
  if (asked.startsWith("zh")) return "zh";
  return (navigator.language ?? "zh").toLowerCase().startsWith("zh") ? "zh" : "en";
})();
const roomId = decodeURIComponent(window.location.pathname.replace(/^\/room\//, "").replace(/\/+$/, ""));
const transparent = flag("transparent");
const muted = flag("muted");
const showChat = !transparent && params.get("chat") !== "0";
const PLAYOUT_BUFFER_S = Math.min(5, Math.max(0, Number(params.get("buffer") ?? 800) / 1000 || 0));
const SCHEDULE_LEAD_S = 0.05; // the least time ahead a clip is scheduled, so it never starts late
const MAX_AHEAD_S = 30; // a clip due later than this is dropped (a long-hidden page catching up)
const MAX_BUBBLES = 3;
const ACK_SHOW_MS = 4000;
const AUDIO_KINDS = new Set(["say", "answer", "ack"]);
const ROOM_KINDS = new Set(["say", "answer", "product", "ack", "state"]);

function t(key, vars = {}) {
  const text = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

/** What tests (and curious operators) can read: seqs in play order and the errors met. */
const room = {
  id: roomId,
  played: [], // seqs of utterances in the order they started playing
  clips: [], // {seq, kind, start, duration, audible, queuedAt} as scheduled (timeline seconds)
  errors: [],
  skipped: [],
  lastSeq: -1,
  connected: false,
  audio: "off", // on | locked (waiting for a click) | muted | off
};
window.__room = room;

function reportError(where, error) {
  room.errors.push(`${where}: ${error?.message ?? error}`);
}

const $ = (id) => document.getElementById(id);
const ui = {
  status: $("room-status"),
  title: $("room-title"),
  ack: $("room-ack"),
  answers: $("answers"),
  product: $("product"),
  productLink: $("product-link"),
  productTitle: $("product-title"),
  productPrice: $("product-price"),
  productListPrice: $("product-list-price"),
  productStock: $("product-stock"),
  subtitle: $("subtitle"),
  chat: $("room-chat"),
  nickname: $("chat-nickname"),
  text: $("chat-text"),
  send: $("chat-send"),
  chatStatus: $("chat-status"),
  overlay: $("sound-overlay"),
  start: $("sound-start"),
};

// -- the timeline ------------------------------------------------------------------------------------

/** Base64 → ArrayBuffer (for decodeAudioData). */
function decodeBase64(b64) {
  const binary = atob(b64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

class Timeline {
  constructor() {
    this.ctx = null;
    this.nextStart = 0; // in this.now() seconds
    this.chain = Promise.resolve();
    this.timers = new Set();
  }

  get audible() {
    return this.ctx !== null && this.ctx.state === "running";
  }

  now() {
    return this.audible ? this.ctx.currentTime : performance.now() / 1000;
  }

  /** Try to open an AudioContext; true when it runs without a gesture (autoplay allowed). */
  async open() {
    if (muted || typeof AudioContext === "undefined") return false;
    try {
      this.ctx = new AudioContext({ latencyHint: "playback" });
    } catch (error) {
      reportError("audio", error);
      return false;
    }
    if (this.ctx.state !== "running") {
      try {
        await Promise.race([this.ctx.resume(), new Promise((resolve) => setTimeout(resolve, 300))]);
      } catch {
        // resume() refuses without a user gesture: the overlay asks for one
      }
    }
    return this.ctx.state === "running";
  }

  /** Switch from the page clock to the audio clock, keeping what is already scheduled in place. */
  async unlock() {
    if (this.ctx === null) return false;
    const pendingFor = Math.max(0, this.nextStart - performance.now() / 1000);
    await this.ctx.resume();
    if (this.ctx.state === "running") this.nextStart = this.ctx.currentTime + pendingFor;
    return this.ctx.state === "running";
  }

  /** Queue one event: decoding runs in arrival order, so play order is arrival (seq) order. */
  push(event) {
    this.chain = this.chain
      .then(() => this.#schedule(event))
      .catch((error) => reportError(`event ${event.seq}`, error));
  }

  async #schedule(event) {
    const audio = event.audio ?? null;
    let buffer = null;
    if (audio && audio.data_b64 && this.audible) {
      buffer = await this.ctx.decodeAudioData(decodeBase64(audio.data_b64));
    }
    const duration = buffer ? buffer.duration : Math.max(0, Number(audio?.duration ?? 0));
    const now = this.now();
    // An idle line starts after the playout buffer (room for the next clip to arrive in time); a clip
    // that arrives while another plays starts exactly when that one ends.
    const start = now >= this.nextStart ? now + PLAYOUT_BUFFER_S : Math.max(this.nextStart, now + SCHEDULE_LEAD_S);
    if (start - now > MAX_AHEAD_S) {
      room.skipped.push(event.seq);
      return;
    }
    if (buffer) {
      const source = this.ctx.createBufferSource();
      source.buffer = buffer;
      source.connect(this.ctx.destination);
      source.start(start);
    }
    this.nextStart = start + duration;
    if (AUDIO_KINDS.has(event.kind)) {
      room.clips.push({ seq: event.seq, kind: event.kind, start, duration, audible: buffer !== null, queuedAt: now });
    }
    this.at(start, () => begin(event, duration));
    for (const cue of audio?.cues ?? []) {
      this.at(start + Number(cue.start), () => showSubtitle(cue.text));
    }
    this.at(start + duration, () => endClip(event));
  }

  /** Run `fn` when this.now() reaches `when`. */
  at(when, fn) {
    const delay = Math.max(0, (when - this.now()) * 1000);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      try {
        fn();
      } catch (error) {
        reportError("timeline", error);
      }
    }, delay);
    this.timers.add(timer);
  }
}

const timeline = new Timeline();
let speaking = null; // the event whose clip is playing

function begin(event, duration) {
  if (event.kind === "product") {
    showProduct(event);
    return;
  }
  speaking = event;
  room.played.push(event.seq);
  const cues = event.audio?.cues ?? [];
  if (cues.length === 0 || Number(cues[0].start) > 0.05) showSubtitle(event.text ?? "");
  if (event.kind === "answer") showAnswer(event);
  if (event.kind === "ack") showAck(event.text ?? "");
  if (duration === 0) endClip(event);
}

function endClip(event) {
  if (speaking === event) {
    speaking = null;
    showSubtitle("");
  }
}

// -- rendering ---------------------------------------------------------------------------------------

function showSubtitle(text) {
  ui.subtitle.textContent = text;
  ui.subtitle.classList.toggle("empty", !text);
}

function formatMoney(amount, currency) {
  if (amount === null || amount === undefined || amount === "") return "";
  const value = Number(amount);
  if (!Number.isFinite(value)) return String(amount);
  try {
    const digits = Number.isInteger(value) ? 0 : 2;
    return new Intl.NumberFormat(lang === "zh" ? "zh-CN" : "en-US", {
      style: "currency",
      currency: currency || (lang === "zh" ? "CNY" : "USD"),
      minimumFractionDigits: digits,
      maximumFractionDigits: 2,
    }).format(value);
  } catch {
    return `${amount} ${currency ?? ""}`.trim();
  }
}

function stockText(state) {
  if (state === "sold_out" || state === "soldout" || state === "out_of_stock") return t("soldout");
  if (state === "low") return t("low");
  if (state === "in_stock") return t("instock");
  return state ? String(state) : "";
}

function showProduct(event) {
  ui.product.hidden = false;
  ui.productLink.textContent = event.link ? t("link", { n: event.link }) : "";
  ui.productTitle.textContent = event.title ?? event.sku ?? "";
  ui.productPrice.textContent = formatMoney(event.price, event.currency);
  const list = formatMoney(event.list_price, event.currency);
  ui.productListPrice.textContent = list && list !== ui.productPrice.textContent ? list : "";
  ui.productStock.textContent = stockText(event.stock_state);
  ui.productStock.dataset.state = event.stock_state ?? "";
  ui.product.dataset.sku = event.sku ?? "";
}

function showAnswer(event) {
  const questions = Array.isArray(event.questions) ? event.questions : [];
  const asked = questions.map((q) =>
    el("p", { class: "bubble-question" }, [
      el("span", { class: "bubble-nickname", text: q?.nickname ?? "" }),
      el("span", { class: "bubble-asked", text: ` ${t("asked")}: ` }),
      el("span", { class: "bubble-text", text: q?.text ?? "" }),
    ]),
  );
  const count = Number(event.grouped ?? questions.length);
  const bubble = el("article", { class: "bubble-answer", attrs: { "data-seq": event.seq } }, [
    ...asked,
    count > 1 ? el("p", { class: "bubble-grouped", text: t("grouped", { n: count }) }) : null,
    el("p", { class: "bubble-reply", text: event.text ?? "" }),
  ]);
  ui.answers.append(bubble);
  while (ui.answers.children.length > MAX_BUBBLES) ui.answers.firstElementChild.remove();
}

let ackTimer = 0;
function showAck(text) {
  ui.ack.textContent = text;
  ui.ack.hidden = !text;
  clearTimeout(ackTimer);
  ackTimer = setTimeout(() => {
    ui.ack.hidden = true;
  }, ACK_SHOW_MS);
}

function showStatus(status) {
  ui.status.dataset.status = status;
  ui.status.textContent = t(status in STRINGS.en ? status : "connecting");
}

// -- events ------------------------------------------------------------------------------------------

function handle(message) {
  if (message === null || typeof message !== "object") return;
  if (message.kind === "hello") {
    // A room that restarted counts its seq from a lower number: start over rather than ignore it.
    if (typeof message.seq === "number" && message.seq < room.lastSeq) room.lastSeq = -1;
    if (message.title) ui.title.textContent = message.title;
    return;
  }
  if (message.kind === "chat_result") {
    chatResult(message);
    return;
  }
  if (!ROOM_KINDS.has(message.kind) || typeof message.seq !== "number") return;
  if (message.seq <= room.lastSeq) return; // already seen (resume after reconnect)
  room.lastSeq = message.seq;
  if (message.kind === "state") {
    showStatus(message.status ?? "running");
  } else if (message.kind === "product" || AUDIO_KINDS.has(message.kind)) {
    timeline.push(message);
  }
}

let socket = null;
let attempts = 0;

function socketUrl() {
  const url = new URL(`/v1/rooms/${encodeURIComponent(roomId)}/ws`, window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  if (room.lastSeq >= 0) url.searchParams.set("after", String(room.lastSeq));
  return url.toString();
}

function connect() {
  showStatus(attempts === 0 ? "connecting" : "offline");
  let ws;
  try {
    ws = new WebSocket(socketUrl());
  } catch (error) {
    reportError("websocket", error);
    reconnectLater(false);
    return;
  }
  socket = ws;
  ws.addEventListener("open", () => {
    attempts = 0;
    room.connected = true;
  });
  ws.addEventListener("message", (message) => {
    try {
      handle(JSON.parse(message.data));
    } catch (error) {
      reportError("message", error);
    }
  });
  ws.addEventListener("close", (event) => {
    room.connected = false;
    if (socket !== ws) return;
    socket = null;
    if (event.code === 4404) {
      showStatus("missing");
      reconnectLater(true);
      return;
    }
    reconnectLater(false);
  });
}

function reconnectLater(slow) {
  attempts += 1;
  const base = slow ? 15000 : Math.min(10000, 500 * 2 ** Math.min(attempts - 1, 5));
  const delay = base * (0.75 + Math.random() * 0.5);
  setTimeout(connect, delay);
  if (!slow) showStatus("offline");
}

// -- viewer chat -------------------------------------------------------------------------------------

const NICK_KEY = "anchor.room.nickname";

function setupChat() {
  if (!showChat) return;
  ui.chat.hidden = false;
  ui.nickname.placeholder = t("nickname");
  ui.text.placeholder = t("message");
  ui.send.textContent = t("send");
  try {
    ui.nickname.value = localStorage.getItem(NICK_KEY) ?? "";
  } catch {
    // storage may be unavailable (private mode, OBS)
  }
  ui.chat.addEventListener("submit", (event) => {
    event.preventDefault();
    const nickname = ui.nickname.value.trim().slice(0, 32);
    const text = ui.text.value.trim().slice(0, 200);
    if (!nickname || !text || socket === null || socket.readyState !== WebSocket.OPEN) return;
    try {
      localStorage.setItem(NICK_KEY, nickname);
    } catch {
      // ignore
    }
    socket.send(JSON.stringify({ type: "chat", nickname, text }));
    ui.text.value = "";
  });
}

function chatResult(message) {
  let text = "";
  if (message.code === "rate_limited") text = t("slow");
  else if (message.accepted === false) text = t("dropped", { reason: message.reason ?? "" });
  ui.chatStatus.textContent = text;
  ui.chatStatus.hidden = !text;
}

// -- start -------------------------------------------------------------------------------------------

async function main() {
  document.documentElement.lang = lang;
  document.body.classList.toggle("transparent", transparent);
  document.documentElement.classList.toggle("transparent", transparent);
  ui.start.textContent = t("start");
  showSubtitle("");
  setupChat();
  const running = await timeline.open();
  room.audio = muted ? "muted" : running ? "on" : "locked";
  if (!muted && !running && timeline.ctx !== null) {
    ui.overlay.hidden = false;
    ui.start.addEventListener("click", async () => {
      try {
        if (await timeline.unlock()) {
          room.audio = "on";
          ui.overlay.hidden = true;
        }
      } catch (error) {
        reportError("audio", error);
      }
    });
  }
  connect();
  document.body.dataset.ready = "true";
}

main().catch((error) => reportError("start", error));
