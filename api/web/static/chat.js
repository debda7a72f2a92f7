// The shopper chat widget: /chat?merchant=<id>.
// Answers stream over POST .../messages/stream (server-sent events read with fetch); the JSON endpoint is the
// fallback. After a hand-off to a person the page polls GET .../messages?after= every 2 s for their replies.

import { clear, el, MERCHANT_ID, queryParam, showStatus } from "./dom.js";
import { ApiError, errorFrom, merchantPath } from "./http.js";
import { bindText, setupLanguage, t } from "./i18n.js";
import { readEvents } from "./sse.js";

const POLL_MS = 2000;
const ROLE_LABEL = { customer: "chat.you", bot: "chat.bot", agent: "chat.agent", system: "chat.system" };

const merchant = queryParam("merchant", "demo");
const list = document.getElementById("messages");
const form = document.getElementById("composer");
const input = document.getElementById("message-input");
const sendButton = document.getElementById("send");
const typing = document.getElementById("typing");
const errorBox = document.getElementById("chat-error");
const modeBanner = document.getElementById("chat-mode");

const state = {
  conversationId: "",
  lastId: null,
  seen: new Set(),
  busy: false,
  blockedUntil: 0,
  human: false,
  pollTimer: 0,
  generation: 0,
};

function newConversationId() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return "c-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function storageKey() {
  return `anchor.chat.${merchant}.conversation`;
}

function tokenKey() {
  return `anchor.chat.${merchant}.token.${state.conversationId}`;
}

/** The conversation's secret, given once by the server with its first answer; reading the messages needs it. */
function keepToken(token) {
  if (token) sessionStorage.setItem(tokenKey(), token);
}

function readHeaders() {
  const headers = { Accept: "application/json" };
  const token = sessionStorage.getItem(tokenKey());
  if (token) headers["X-Conversation-Token"] = token;
  return headers;
}

function conversationPath() {
  return `${merchantPath(merchant)}/conversations/${encodeURIComponent(state.conversationId)}/messages`;
}

function scrollToEnd() {
  list.scrollTop = list.scrollHeight;
}

/** Append one message; its text goes in with textContent, so markup in it is shown, never run. */
function addMessage(role, text, { id = null } = {}) {
  const label = bindText(el("span", { class: "who" }), ROLE_LABEL[role] ?? "chat.system");
  const bubble = el("p", { class: "bubble", text });
  const item = el("li", { class: `message message-${role}`, attrs: { "data-role": role } }, [label, bubble]);
  if (id !== null) {
    item.dataset.id = String(id);
    state.seen.add(String(id));
  }
  list.append(item);
  scrollToEnd();
  return item;
}

function addNotice(key, params = null) {
  const item = el("li", { class: "message notice", attrs: { "data-role": "notice" } }, [
    bindText(el("p", { class: "bubble" }), key, params),
  ]);
  list.append(item);
  scrollToEnd();
  return item;
}

function addCitations(item, citations) {
  if (!Array.isArray(citations) || !citations.length) return;
  const chips = el("ul", { class: "chips", attrs: { "aria-label": t("chat.sources") } });
  for (const citation of citations) {
    const label = citation.sku
      ? [citation.sku, citation.field].filter(Boolean).join(" · ")
      : citation.heading || citation.document || "";
    if (!label) continue;
    chips.append(el("li", { class: "chip", text: label, attrs: { title: citation.document || citation.sku || "" } }));
  }
  if (chips.childElementCount) item.append(chips);
}

function setTyping(on) {
  typing.hidden = !on;
}

function setHuman(on) {
  state.human = on;
  if (on) bindText(modeBanner, "chat.human");
  modeBanner.hidden = !on;
  if (on) schedulePoll();
}

function showError(error) {
  if (error instanceof ApiError) {
    if (error.status === 429) {
      const seconds = error.retryAfter ?? 5;
      state.blockedUntil = Date.now() + seconds * 1000;
      sendButton.disabled = true;
      setTimeout(() => {
        if (Date.now() >= state.blockedUntil && !state.busy) sendButton.disabled = false;
      }, seconds * 1000);
      showStatus(errorBox, `${t("chat.error.rate", { seconds })} ${error.message}`, "error");
      return;
    }
    showStatus(errorBox, error.message || t("chat.error.generic", { status: error.status }), "error");
    return;
  }
  showStatus(errorBox, t("chat.error.network"), "error");
}

// -- answering -----------------------------------------------------------------------------------------

function requestInit(text, accept) {
  return {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: accept },
    body: JSON.stringify({ text, channel: "chat" }),
    cache: "no-store",
  };
}

async function askJson(text) {
  const response = await fetch(conversationPath(), requestInit(text, "application/json"));
  if (!response.ok) throw await errorFrom(response);
  const body = await response.json();
  keepToken(body.conversation_token);
  return { result: body.message, item: null };
}

/** Ask over the stream endpoint, growing the bot's bubble as guarded pieces arrive. */
async function askStreaming(text) {
  let response;
  try {
    response = await fetch(`${conversationPath()}/stream`, requestInit(text, "text/event-stream"));
  } catch {
    return askJson(text);
  }
  if (response.status === 404 || response.status === 405 || response.status === 501) {
    const error = await errorFrom(response);
    // A route that does not exist falls back; a real 404 from the API (unknown merchant) is reported.
    if (error.code === "not_found" && !/Not Found/i.test(error.message)) throw error;
    return askJson(text);
  }
  if (!response.ok) throw await errorFrom(response);
  const type = response.headers.get("Content-Type") ?? "";
  if (!type.includes("text/event-stream") || !response.body) {
    const body = await response.json();
    return { result: body.message, item: null };
  }
  let item = null;
  let result = null;
  let failure = null;
  const bubbleFor = () => {
    if (!item) {
      setTyping(false);
      item = addMessage("bot", "");
    }
    return item.querySelector(".bubble");
  };
  await readEvents(response, ({ event, data }) => {
    let payload;
    try {
      payload = JSON.parse(data);
    } catch {
      return;
    }
    if (event === "delta") {
      bubbleFor().textContent += payload.text ?? "";
      scrollToEnd();
    } else if (event === "replace") {
      bubbleFor().textContent = payload.text ?? "";
    } else if (event === "done") {
      keepToken(payload.conversation_token);
      result = payload;
    } else if (event === "error") {
      const info = payload.error ?? {};
      failure = new ApiError(info.status ?? 500, info.code ?? "error", info.message ?? t("chat.error.generic", { status: "stream" }));
    }
  });
  if (failure) {
    item?.remove();
    throw failure;
  }
  if (!result) {
    item?.remove();
    throw new ApiError(502, "error", t("chat.error.generic", { status: "stream ended early" }));
  }
  return { result, item };
}

function showResult(result, item) {
  if (result.silent) {
    item?.remove();
    addNotice("chat.relayed");
    setHuman(true);
    return;
  }
  const answered = item ?? addMessage("bot", "");
  answered.querySelector(".bubble").textContent = result.answer ?? "";
  addCitations(answered, result.citations);
  if (result.escalated) {
    answered.classList.add("escalated");
    if (result.ticket_id) addNotice("chat.handoff", { ticket: result.ticket_id });
    else addNotice("chat.handoff.noticket");
    setHuman(true);
  }
}

async function send(text) {
  if (state.busy || Date.now() < state.blockedUntil) return;
  state.busy = true;
  sendButton.disabled = true;
  showStatus(errorBox, "");
  const generation = state.generation;
  sessionStorage.setItem(storageKey(), state.conversationId);
  const mine = addMessage("customer", text);
  input.value = "";
  setTyping(true);
  try {
    const { result, item } = await askStreaming(text);
    if (generation !== state.generation) return;
    showResult(result, item);
    await sync(generation);
  } catch (error) {
    if (generation !== state.generation) return;
    mine.classList.add("failed");
    if (!input.value) input.value = text;
    showError(error);
  } finally {
    setTyping(false);
    state.busy = false;
    if (Date.now() >= state.blockedUntil) sendButton.disabled = false;
    input.focus();
  }
}

// -- history and a person's replies --------------------------------------------------------------------

/**
 * Fetch messages after the last one seen. Customer and bot messages of this page are already on screen,
 * so on a live page only a person's (agent/system) messages are added; on load everything is restored.
 */
async function sync(generation, { restore = false } = {}) {
  const query = state.lastId === null ? "" : `?after=${encodeURIComponent(state.lastId)}`;
  const response = await fetch(conversationPath() + query, { headers: readHeaders(), cache: "no-store" });
  if (generation !== state.generation) return;
  if (response.status === 404 || response.status === 403) return; // nothing here, or not this tab's to read
  if (!response.ok) throw await errorFrom(response);
  const body = await response.json();
  for (const message of body.messages ?? []) {
    const id = String(message.id);
    state.lastId = message.id;
    if (state.seen.has(id)) continue;
    state.seen.add(id);
    if (restore || message.role === "agent" || message.role === "system") {
      addMessage(message.role, message.text ?? "", { id });
    }
  }
  const human = body.state === "human";
  if (human !== state.human) setHuman(human);
}

function schedulePoll() {
  if (state.pollTimer) return;
  const generation = state.generation;
  state.pollTimer = setTimeout(async () => {
    state.pollTimer = 0;
    if (generation !== state.generation) return;
    try {
      if (!state.busy) await sync(generation);
    } catch {
      // A failed poll is retried on the next tick; the send path reports errors to the shopper.
    }
    if (state.human && generation === state.generation) schedulePoll();
  }, POLL_MS);
}

function startConversation(id) {
  state.generation += 1;
  clearTimeout(state.pollTimer);
  state.pollTimer = 0;
  state.conversationId = id;
  state.lastId = null;
  state.seen = new Set();
  state.human = false;
  modeBanner.hidden = true;
  // The id is kept for this tab once a message was sent; until then there is nothing to restore.
  if (sessionStorage.getItem(storageKey()) !== id) sessionStorage.removeItem(storageKey());
  for (const item of [...list.children]) if (!item.classList.contains("intro")) item.remove();
}

// -- wiring ----------------------------------------------------------------------------------------------

function main() {
  setupLanguage();
  if (!MERCHANT_ID.test(merchant)) {
    clear(list);
    form.hidden = true;
    bindText(errorBox, "chat.merchant.invalid");
    errorBox.hidden = false;
    return;
  }
  document.body.dataset.merchant = merchant;
  const stored = sessionStorage.getItem(storageKey());
  startConversation(stored || newConversationId());
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (text) send(text);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  document.getElementById("new-conversation").addEventListener("click", () => {
    startConversation(newConversationId());
    showStatus(errorBox, "");
    input.focus();
  });
  // Only a conversation this tab already had can have messages to restore.
  if (stored) sync(state.generation, { restore: true }).catch(() => {});
  input.focus();
  document.body.dataset.ready = "true";
}

main();
