// The live-room page: /room/<room_id>[?transparent=1][&muted=1][&lang=zh|en][&chat=0][&comments=0][&buffer=ms]
// Usable as an OBS "browser source" (transparent=1 gives a transparent background).
//
// Events arrive over WebSocket (/v1/rooms/<id>/ws). Utterances (say, answer, ack) go through one timeline:
// each clip is scheduled back to back on one AudioContext (start = the previous clip's end, or now plus a
// small playout buffer when the line is idle), so speech never overlaps and never leaves a gap the stream
// itself did not have. Subtitles, answer bubbles and product cards change at their clip's scheduled start.
// Clips come in whatever format the room sends (WAV, MP3, Ogg Opus): decodeAudioData reads them all, and
// an MP3's encoder delay and padding are left out (see `playable`), so a clip lasts what the room says.
// A `cut` event stops a script sentence `at` seconds into its clip (the director interrupts it at a pause
// for an answer): its audio fades out over a few milliseconds ending at that instant, its later subtitles
// never show, and the timeline's end moves back there, so the answer that follows starts at the cut.
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
    viewers: "{n}人在看",
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
    viewers: "{n} watching",
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
const CUT_FADE_S = 0.025; // a cut clip fades out over this long, ending at the cut (no click)
const SAME_TIME_S = 1e-6; // timeline instants closer than this are the same instant
const LAME_DELAY_SAMPLES = 576 + 529; // an MP3 from LAME without an info tag decodes this late (encoder + decoder)
const MP3_FRAME_SAMPLES = 1152; // the most samples one MP3 frame holds (its tail padding is less than two)
const MAX_BUBBLES = 3;
const ACK_SHOW_MS = 4000;
const AUDIO_KINDS = new Set(["say", "answer", "ack"]);
const ROOM_KINDS = new Set(["say", "answer", "product", "ack", "state", "cut", "comments", "source"]);

function t(key, vars = {}) {
  const text = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

/** What tests (and curious operators) can read: seqs in play order and the errors met. */
const room = {
  id: roomId,
  played: [], // seqs of utterances in the order they started playing
  // Utterances as scheduled, in timeline seconds: {seq, kind, start, duration, end, cut, ended, audible,
  // queuedAt}. `end` is where the clip stops (start + duration, or the cut instant), `cut` the offset a
  // `cut` event stopped it at (else null), `ended` the audio clock when its sound really stopped.
  clips: [],
  errors: [],
  skipped: [],
  lastSeq: -1,
  connected: false,
  audio: "off", // on | locked (waiting for a click) | muted | off
  productShownAt: null, // performance.now() when the first product card showed
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
  productImage: $("product-image"),
  productTitle: $("product-title"),
  productPrice: $("product-price"),
  productListPrice: $("product-list-price"),
  productStock: $("product-stock"),
  subtitle: $("subtitle"),
  comments: $("comments"),
  viewers: $("room-viewers"),
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

/**
 * The part of a decoded clip to play, in seconds: {offset, duration}. An MP3 from LAME that carries no info
 * tag (encoded into a pipe, as rooms do) decodes with the encoder's delay at its head and padding at its
 * tail: 48 ms more than the room's clip at 24 kHz. Playing the room's own duration from after that delay
 * puts every cue and cut on the sample the room meant, and keeps the line in step with the director, who
 * waits exactly that duration per clip (otherwise the page would fall 48 ms further behind per sentence).
 */
function playable(buffer, audio) {
  const whole = { offset: 0, duration: buffer.duration };
  const declared = Number(audio.duration);
  const rate = Number(audio.sample_rate) || buffer.sampleRate;
  const extra = buffer.duration - declared;
  if (audio.format !== "mp3" || !(declared > 0) || extra <= 0) return whole;
  if (extra > (LAME_DELAY_SAMPLES + 2 * MP3_FRAME_SAMPLES) / rate) return whole; // not encoder padding
  return { offset: Math.min(extra, LAME_DELAY_SAMPLES / rate), duration: declared };
}

/**
 * The play-out line. Each event placed on it is a slot: {event, start, end (this.now() seconds), source and
 * gain (its audio nodes, when audible), cues [{offset, text, timer}], record (its entry in room.clips),
 * beginTimer, endTimer}. A slot stays in `line` until it ends, so a `cut` can still reach it.
 */
class Timeline {
  constructor() {
    this.ctx = null;
    this.nextStart = 0; // in this.now() seconds
    this.chain = Promise.resolve();
    this.timers = new Set();
    this.line = []; // slots not yet ended, in schedule order
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
    await this.ctx.resume();
    if (this.ctx.state !== "running") return false;
    const pageNow = performance.now() / 1000;
    const shift = this.ctx.currentTime - pageNow;
    this.nextStart = this.ctx.currentTime + Math.max(0, this.nextStart - pageNow);
    // Slots still on the line move to the audio clock too (their timers keep their delays).
    for (const slot of this.line) {
      slot.start += shift;
      slot.end += shift;
      if (slot.record) {
        slot.record.start += shift;
        slot.record.end += shift;
      }
    }
    return true;
  }

  /** Queue one event: decoding runs in arrival order, so play order is arrival (seq) order. */
  push(event) {
    const step = event.kind === "cut" ? () => this.#cut(event) : () => this.#schedule(event);
    this.chain = this.chain.then(step).catch((error) => reportError(`event ${event.seq}`, error));
  }

  async #schedule(event) {
    const audio = event.audio ?? null;
    let buffer = null;
    if (audio && audio.data_b64 && this.audible) {
      buffer = await this.ctx.decodeAudioData(decodeBase64(audio.data_b64));
    }
    const part = buffer ? playable(buffer, audio) : { offset: 0, duration: Math.max(0, Number(audio?.duration ?? 0)) };
    const duration = part.duration;
    const now = this.now();
    // An idle line starts after the playout buffer (room for the next clip to arrive in time); a clip
    // that arrives while another plays starts exactly when that one ends.
    const start = now >= this.nextStart ? now + PLAYOUT_BUFFER_S : Math.max(this.nextStart, now + SCHEDULE_LEAD_S);
    if (start - now > MAX_AHEAD_S) {
      room.skipped.push(event.seq);
      return;
    }
    const cues = (audio?.cues ?? []).map((cue) => ({ offset: Number(cue.start), text: cue.text, timer: 0 }));
    const slot = {
      event,
      start,
      end: start + duration,
      source: null,
      gain: null,
      cues,
      record: null,
      beginTimer: 0,
      endTimer: 0,
    };
    if (AUDIO_KINDS.has(event.kind)) {
      slot.record = {
        seq: event.seq,
        kind: event.kind,
        start,
        duration,
        end: slot.end,
        cut: null,
        ended: null,
        audible: buffer !== null,
        queuedAt: now,
      };
      room.clips.push(slot.record);
    }
    if (buffer) {
      // source → gain → speakers: the gain is what a cut fades out.
      slot.source = this.ctx.createBufferSource();
      slot.source.buffer = buffer;
      slot.gain = this.ctx.createGain();
      slot.source.connect(slot.gain).connect(this.ctx.destination);
      slot.source.addEventListener("ended", () => {
        if (slot.record) slot.record.ended = this.ctx.currentTime;
      });
      slot.source.start(start, part.offset, part.duration);
    }
    this.nextStart = slot.end;
    this.line.push(slot);
    this.#arm(slot, now);
  }

  /** Stop the clip of event `event.of` at `event.at` seconds into it (see the header); unknown clips are ignored. */
  #cut(event) {
    const at = Number(event.at);
    const slot = this.line.findLast((s) => s.event.seq === event.of && AUDIO_KINDS.has(s.event.kind));
    if (slot === undefined || !Number.isFinite(at) || at < 0) return;
    const now = this.now();
    // The cut instant; a page already past it stops as soon as the sound can fade.
    const stop = Math.max(slot.start + at, now + (slot.source ? CUT_FADE_S : 0));
    const clipEnd = slot.end;
    if (stop >= clipEnd) return; // the clip ends by then anyway
    slot.end = stop;
    if (slot.record) {
      slot.record.end = stop;
      slot.record.cut = at;
    }
    if (slot.source) {
      slot.gain.gain.setValueAtTime(1, Math.max(stop - CUT_FADE_S, now));
      slot.gain.gain.linearRampToValueAtTime(0, stop);
      slot.source.stop(stop);
    }
    for (const cue of slot.cues) {
      if (cue.offset >= at) this.cancel(cue.timer);
    }
    this.cancel(slot.endTimer);
    slot.endTimer = this.at(stop, () => this.#finish(slot), now);
    // What was due at the clip's end (a product card placed after it) happens at the cut instead, and the
    // line's end moves back there, so the next clip starts at the cut. A clip already placed after the
    // cut one keeps its place (its sound is scheduled), and the line keeps its end.
    const later = this.line.slice(this.line.indexOf(slot) + 1);
    const due = later.filter((s) => s.end - s.start < SAME_TIME_S && Math.abs(s.start - clipEnd) < SAME_TIME_S);
    for (const s of due) {
      this.#disarm(s);
      s.start = stop;
      s.end = stop;
      this.#arm(s, now);
    }
    if (due.length === later.length && Math.abs(this.nextStart - clipEnd) < SAME_TIME_S) this.nextStart = stop;
  }

  /** Set the timers that show `slot`: its start, its cues, its end. */
  #arm(slot, now) {
    slot.beginTimer = this.at(slot.start, () => begin(slot.event, slot.end - slot.start), now);
    for (const cue of slot.cues) {
      cue.timer = this.at(slot.start + cue.offset, () => showSubtitle(cue.text), now);
    }
    slot.endTimer = this.at(slot.end, () => this.#finish(slot), now);
  }

  #disarm(slot) {
    this.cancel(slot.beginTimer);
    for (const cue of slot.cues) this.cancel(cue.timer);
    this.cancel(slot.endTimer);
  }

  #finish(slot) {
    const index = this.line.indexOf(slot);
    if (index >= 0) this.line.splice(index, 1);
    endClip(slot.event);
  }

  /**
   * Run `fn` when this.now() reaches `when`; returns the timer. Timers set with the same `now` for the
   * same instant run in the order they were set.
   */
  at(when, fn, now = this.now()) {
    const delay = Math.max(0, (when - now) * 1000);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      try {
        fn();
      } catch (error) {
        reportError("timeline", error);
      }
    }, delay);
    this.timers.add(timer);
    return timer;
  }

  cancel(timer) {
    clearTimeout(timer);
    this.timers.delete(timer);
  }

  /** The clip on air at `now` and how far into it: {slot, offset}, or null between clips. */
  playing(now) {
    for (const slot of this.line) {
      if (AUDIO_KINDS.has(slot.event.kind) && slot.start <= now && now < slot.end) return { slot, offset: now - slot.start };
    }
    return null;
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

// -- the host figure ---------------------------------------------------------------------------------
// Layers from /v1/rooms/<id>/host: the body, open and shut eyes, and mouth shapes stacked in one box. On
// each animation frame the mouth shows the level the clip on air carries for that instant (its mouth
// track, computed once on the server and sent with the clip, the same the programme draws), the eyes blink
// and the figure breathes on the same schedule as the programme's (functions of the timeline's clock).

const host = {
  info: null,
  box: null,
  eyes: { open: null, shut: null },
  mouths: [],
  shown: -1,
  blink: null,
};
// What tests read: each change of mouth shape as {t (timeline seconds), level, seq, offset (into its clip)}.
room.mouth = [];

function mouthLevel(audio, offset) {
  const track = audio?.mouth;
  if (!track || typeof track.levels !== "string" || !(track.fps > 0)) return 0;
  const index = Math.floor(offset * track.fps + 1e-9);
  return index >= 0 && index < track.levels.length ? Number(track.levels[index]) : 0;
}

function mouthIndex(level, shapes, levels) {
  if (level <= 0) return 0;
  return Math.max(1, Math.min(shapes - 1, Math.round((level * (shapes - 1)) / (levels - 1))));
}

function eyesClosedAt(t) {
  return t % 4.3 < 0.12 || t % 11.7 < 0.12;
}

async function setupHost() {
  let info;
  try {
    const response = await fetch(`/v1/rooms/${encodeURIComponent(roomId)}/host`);
    if (!response.ok) return;
    info = await response.json();
  } catch (error) {
    reportError("host", error);
    return;
  }
  if (!info?.show) return;
  host.info = info;
  const layer = (name, extra = "") =>
    el("img", { class: `host-layer ${extra}`.trim(), attrs: { src: info.layers[name], alt: "", draggable: "false" } });
  host.eyes.open = layer("eyes_open");
  host.eyes.shut = layer("eyes_closed", "hidden-layer");
  host.mouths = Array.from({ length: info.mouths }, (_, i) => layer(`mouth_${i}`, i === 0 ? "" : "hidden-layer"));
  host.box = el("div", { class: `room-host host-${info.position}`, attrs: { id: "host", "aria-hidden": "true" } }, [
    layer("body"),
    host.eyes.open,
    host.eyes.shut,
    ...host.mouths,
  ]);
  host.box.style.setProperty("--host-scale", String(info.scale ?? 1));
  host.box.style.aspectRatio = `${info.size[0]} / ${info.size[1]}`;
  document.querySelector("main.room").prepend(host.box); // behind the card, bubbles and subtitles
  host.shown = 0;
  requestAnimationFrame(animateHost);
}

function animateHost() {
  const now = timeline.now();
  const on = timeline.playing(now);
  const level = on ? mouthLevel(on.slot.event.audio, on.offset) : 0;
  const index = mouthIndex(level, host.mouths.length, host.info.mouth_levels ?? 5);
  if (index !== host.shown) {
    host.mouths[host.shown]?.classList.add("hidden-layer");
    host.mouths[index].classList.remove("hidden-layer");
    host.shown = index;
    room.mouth.push({ t: now, level, index, seq: on ? on.slot.event.seq : null, offset: on ? on.offset : null });
    if (room.mouth.length > 2000) room.mouth.splice(0, 1000);
  }
  const blink = eyesClosedAt(now);
  if (blink !== host.blink) {
    host.eyes.open.classList.toggle("hidden-layer", blink);
    host.eyes.shut.classList.toggle("hidden-layer", !blink);
    host.blink = blink;
  }
  host.box.style.setProperty("--host-breath", String(Math.sin((now * 2 * Math.PI) / 3.8)));
  requestAnimationFrame(animateHost);
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
  if (room.productShownAt === null) room.productShownAt = performance.now();
  ui.product.hidden = false;
  ui.productLink.textContent = event.link ? t("link", { n: event.link }) : "";
  ui.productTitle.textContent = event.name ?? event.title ?? event.sku ?? "";
  ui.productTitle.title = event.title ?? "";
  ui.productPrice.textContent = formatMoney(event.price, event.currency);
  const list = formatMoney(event.list_price, event.currency);
  ui.productListPrice.textContent = list && list !== ui.productPrice.textContent ? list : "";
  ui.productStock.textContent = stockText(event.stock_state);
  if (typeof event.image_url === "string" && event.image_url.startsWith("/v1/images/")) {
    ui.productImage.src = event.image_url;
    ui.productImage.hidden = false;
  } else {
    ui.productImage.removeAttribute("src");
    ui.productImage.hidden = true;
  }
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

const COMMENTS_SHOWN = 8;

/** The platform's comments, as text (nicknames and messages are never read as HTML). */
function showComments(items) {
  if (!Array.isArray(items)) return;
  for (const item of items.slice(-COMMENTS_SHOWN)) {
    if (item === null || typeof item !== "object") continue;
    const li = document.createElement("li");
    if (item.paid) li.className = "paid";
    const name = document.createElement("span");
    name.className = "comment-name";
    name.textContent = String(item.nickname ?? "");
    li.append(name, document.createTextNode(String(item.text ?? "")));
    ui.comments.append(li);
  }
  while (ui.comments.children.length > COMMENTS_SHOWN) ui.comments.firstElementChild.remove();
}

function showViewers(count) {
  const known = typeof count === "number" && Number.isFinite(count) && count >= 0;
  ui.viewers.hidden = !known;
  if (known) ui.viewers.textContent = t("viewers", { n: count.toLocaleString(lang === "zh" ? "zh-CN" : "en") });
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
  if (message.kind === "product" && timeline.line.length === 0 && !ui.product.dataset.sku) {
    // A page opened mid-show: the room's current product comes first; it shows at once, not after the
    // playout buffer (it is also put on the line, where it changes nothing).
    showProduct(message);
  }
  if (message.kind === "state") {
    showStatus(message.status ?? "running");
  } else if (message.kind === "comments") {
    showComments(message.items);
  } else if (message.kind === "source") {
    showViewers(message.viewers);
  } else if (message.kind === "answer" && message.spoken === false) {
    showAnswer(message); // the same answer was just spoken: the bubble only, nothing to play
  } else {
    timeline.push(message); // utterances, product cards and cuts, in seq order
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
  // An OBS overlay goes over the platform's own comments: ours would show them twice.
  ui.comments.hidden = transparent || params.get("comments") === "0";
  document.documentElement.classList.toggle("transparent", transparent);
  ui.start.textContent = t("start");
  showSubtitle("");
  setupChat();
  setupHost();
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
