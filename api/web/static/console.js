// The human agent console: the ticket queue (auto-refreshed), a ticket's transcript, claim, reply, resolve.

import { clear, el, formatTime, showStatus } from "./dom.js";
import { api, merchantPath } from "./http.js";
import { bindText, setupLanguage, t } from "./i18n.js";
import { setupSession } from "./session.js";

const REFRESH_MS = 3000;
const ROLE_LABEL = { customer: "console.customer", bot: "chat.bot", agent: "chat.agent", system: "chat.system" };

const $ = (id) => document.getElementById(id);
const status = $("console-status");
const actionStatus = $("action-status");
const list = $("ticket-list");

const state = {
  key: "",
  merchant: "",
  selected: null,
  resolved: false,
  timer: 0,
  loading: false,
  lastDetail: "",
  lastQueue: "",
  lastRouted: "",
  lastRooms: "",
  tickets: [],
  intents: [],
};
let session = null;

function ticketsPath(suffix = "") {
  return `${merchantPath(state.merchant)}/tickets${suffix}`;
}

/** Show an API error where the user looks: 401 signs out (which stops the polling), others in `line`. */
function report(error, line = status) {
  session.report(error, line);
}

// -- the queue ---------------------------------------------------------------------------------------------

function queueQuery() {
  const params = new URLSearchParams({ limit: "100" });
  const wanted = $("filter-state").value;
  if (wanted) params.set("state", wanted);
  const priority = $("filter-priority").value;
  if (priority) params.set("priority", priority);
  return `?${params}`;
}

function renderQueue(tickets) {
  const snapshot = JSON.stringify([tickets, state.selected]);
  if (snapshot === state.lastQueue) return;
  state.lastQueue = snapshot;
  state.tickets = tickets;
  // Re-rendering must not steal a keyboard user's place in the list.
  const focused = document.activeElement?.dataset?.ticket ?? null;
  clear(list);
  if (!tickets.length) {
    list.append(el("li", { class: "empty muted" }, [bindText(el("span"), "console.empty")]));
    return;
  }
  for (const ticket of tickets) {
    const selected = ticket.id === state.selected;
    const button = el(
      "button",
      {
        class: "ticket-row",
        attrs: { type: "button", "data-ticket": ticket.id, "aria-current": selected ? "true" : null },
        on: { click: () => select(ticket.id) },
      },
      [
        el("span", { class: "ticket-line" }, [
          el("strong", { class: "ticket-id", text: ticket.id }),
          el("span", { class: `badge priority-${ticket.priority}`, text: ticket.priority }),
          el("span", { class: `badge state-${ticket.state}`, text: ticket.state }),
        ]),
        el("span", { class: "ticket-line muted small" }, [
          el("span", { text: ticket.category }),
          ticket.owner ? el("span", { text: `· ${ticket.owner}` }) : null,
          el("span", { text: `· ${formatTime(ticket.created_at)}` }),
        ]),
        el("span", { class: "ticket-summary small", text: ticket.summary || "" }),
      ],
    );
    list.append(el("li", { class: selected ? "selected" : "" }, [button]));
    if (ticket.id === focused) button.focus();
  }
}

async function refreshQueue() {
  const body = await api(ticketsPath(queueQuery()), { key: state.key });
  renderQueue(body.tickets ?? []);
  bindText($("queue-updated"), "console.updated", { time: new Date().toLocaleTimeString() });
}

// -- one ticket --------------------------------------------------------------------------------------------

function metaRow(labelKey, value) {
  return [bindText(el("dt"), labelKey), el("dd", { text: value || t("console.none") })];
}

function renderDetail(ticket) {
  $("detail-empty").hidden = true;
  $("detail").hidden = false;
  $("ticket-id").textContent = ticket.id;
  const badge = $("ticket-state");
  badge.textContent = ticket.state;
  badge.className = `badge state-${ticket.state}`;
  $("ticket-meta").replaceChildren(
    ...metaRow("console.category", ticket.category),
    ...metaRow("console.priority", ticket.priority),
    ...metaRow("console.owner", ticket.owner),
    ...metaRow("console.orders", (ticket.order_ids ?? []).join(", ")),
    ...metaRow("console.channel", ticket.channel),
    ...metaRow("console.conversation", ticket.conversation_id),
    ...metaRow("console.created", formatTime(ticket.created_at)),
    ...metaRow("console.summary", ticket.summary),
  );
  const transcript = $("transcript");
  transcript.replaceChildren(
    ...(ticket.messages ?? []).map((message) =>
      el("li", { class: `message message-${message.role}`, attrs: { "data-role": message.role } }, [
        el("span", { class: "who" }, [
          bindText(el("span"), ROLE_LABEL[message.role] ?? "chat.system"),
          el("time", { class: "muted small", text: ` ${formatTime(message.created_at)}` }),
        ]),
        el("p", { class: "bubble", text: message.text }),
      ]),
    ),
  );
  transcript.scrollTop = transcript.scrollHeight;
  $("events").replaceChildren(
    ...(ticket.events ?? []).map((event) =>
      el("li", {}, [
        el("time", { class: "muted small", text: formatTime(event.created_at) }),
        el("span", { class: "badge", text: event.kind }),
        el("strong", { text: event.author }),
        el("span", { text: event.text }),
      ]),
    ),
  );
  state.resolved = ticket.state === "resolved";
  applyButtons();
}

function applyButtons() {
  $("claim").disabled = state.resolved;
  $("resolve").disabled = state.resolved;
  $("reply").disabled = false;
}

async function loadDetail({ force = false } = {}) {
  if (!state.selected) return;
  const ticket = await api(ticketsPath(`/${encodeURIComponent(state.selected)}`), { key: state.key });
  const snapshot = JSON.stringify(ticket);
  if (!force && snapshot === state.lastDetail) return;
  state.lastDetail = snapshot;
  renderDetail(ticket);
}

async function select(id) {
  state.selected = id;
  state.lastDetail = "";
  state.lastQueue = "";
  showStatus(actionStatus, "");
  for (const item of list.children) {
    const button = item.querySelector("button");
    const chosen = button?.dataset.ticket === id;
    item.classList.toggle("selected", chosen);
    if (button && chosen) button.setAttribute("aria-current", "true");
    else button?.removeAttribute("aria-current");
  }
  try {
    await loadDetail({ force: true });
  } catch (error) {
    report(error);
  }
}

async function act(action, request, doneKey) {
  if (!state.selected) return;
  showStatus(actionStatus, "");
  const button = $(action);
  button.disabled = true;
  try {
    await api(ticketsPath(`/${encodeURIComponent(state.selected)}/${action}`), { method: "POST", key: state.key, ...request });
    bindText(actionStatus, doneKey);
    actionStatus.dataset.kind = "ok";
    actionStatus.hidden = false;
    await Promise.all([loadDetail({ force: true }), refreshQueue()]);
    return true;
  } catch (error) {
    report(error, actionStatus);
    return false;
  } finally {
    applyButtons();
  }
}

// -- what the bot understood, and corrections --------------------------------------------------------------

const routedList = $("routed-list");
const intentsStatus = $("intents-status");

function intentsPath(suffix = "") {
  return `${merchantPath(state.merchant)}/intents${suffix}`;
}

async function loadIntentLabels() {
  const body = await api(intentsPath(), { key: state.key });
  state.intents = (body.intents ?? []).map((item) => item.intent);
}

function renderRouted(messages) {
  const snapshot = JSON.stringify(messages);
  // Never re-render under a person choosing an intent.
  if (snapshot === state.lastRouted || routedList.contains(document.activeElement)) return;
  state.lastRouted = snapshot;
  clear(routedList);
  if (!messages.length) {
    routedList.append(el("li", { class: "empty muted" }, [bindText(el("span"), "console.intents.empty")]));
    return;
  }
  for (const message of messages) {
    const decided = message.intent ?? "";
    const chosen = message.corrected ?? decided;
    const select = el(
      "select",
      { attrs: { "aria-label": t("console.intents.label"), "data-message": message.message_id } },
      state.intents.map((intent) => el("option", { text: intent, attrs: { value: intent, selected: intent === chosen } })),
    );
    const button = el("button", {
      class: "button-quiet",
      attrs: { type: "button", "data-correct": message.message_id },
      on: { click: () => correct(message, select.value, button) },
    });
    bindText(button, "console.intents.correct");
    const confidence = typeof message.confidence === "number" ? ` ${Math.round(message.confidence * 100)}%` : "";
    routedList.append(
      el("li", { class: "routed-row", attrs: { "data-intent": decided, "data-corrected": message.corrected ?? "" } }, [
        el("div", {}, [
          el("p", { class: "routed-text", text: message.text }),
          el("p", { class: "muted small" }, [
            bindText(el("span"), "console.intents.decided"),
            el("span", { text: `: ${decided || "—"}${confidence}` }),
            message.corrected ? el("span", { class: "badge", text: `${t("console.intents.corrected")}: ${message.corrected}` }) : null,
            el("span", { text: ` · ${formatTime(message.created_at)}` }),
          ]),
        ]),
        el("div", { class: "routed-controls" }, [select, button]),
      ]),
    );
  }
}

async function refreshRouted() {
  if (!state.intents.length) await loadIntentLabels();
  const body = await api(intentsPath("/messages?limit=50"), { key: state.key });
  renderRouted(body.messages ?? []);
}

async function correct(message, intent, button) {
  button.disabled = true;
  showStatus(intentsStatus, "");
  try {
    await api(intentsPath("/corrections"), {
      method: "POST",
      key: state.key,
      json: { text: message.text, intent, previous: message.intent, conversation_id: message.conversation_id },
    });
    showStatus(intentsStatus, t("console.intents.saved", { text: message.text.slice(0, 40), intent }), "ok");
    state.lastRouted = "";
    button.blur();
    await refreshRouted();
  } catch (error) {
    report(error, intentsStatus);
  } finally {
    button.disabled = false;
  }
}

// -- live rooms --------------------------------------------------------------------------------------------

const roomList = $("room-list");

function latencyText(figures) {
  if (!figures || !figures.n) return "–";
  return `${figures.n} · p50 ${figures.p50} s · p95 ${figures.p95} s`;
}

function figure(labelKey, value) {
  return el("div", { class: "room-figure" }, [bindText(el("dt"), labelKey), el("dd", { text: value })]);
}

function renderRooms(rooms) {
  const snapshot = JSON.stringify(rooms);
  if (snapshot === state.lastRooms) return;
  state.lastRooms = snapshot;
  clear(roomList);
  if (!rooms.length) {
    roomList.append(el("li", { class: "empty muted" }, [bindText(el("span"), "console.rooms.empty")]));
    return;
  }
  for (const room of rooms) {
    const counters = room.counters ?? {};
    const triage = room.triage ?? {};
    const airtime = room.airtime ?? {};
    const share = typeof airtime.script_share === "number" ? `${Math.round(airtime.script_share * 100)}%` : "–";
    const answered = `${counters.answered ?? 0} ${t("console.rooms.spoken")} · ${counters.screen_answers ?? 0} ${t("console.rooms.screen")} · ${(counters.quiet_answers ?? 0) + (counters.repeat_answers ?? 0)} ${t("console.rooms.repeat")}`;
    const reasons = { ...(triage.dropped ?? {}), ...(triage.evicted ?? {}), ...(room.dropped_by_director ?? {}) };
    const dropped = Object.entries(reasons)
      .filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([reason, n]) => `${reason} ${n}`)
      .join(" · ") || "–";
    const recent = (room.recent?.answers ?? []).slice(0, 5).map((entry) =>
      el("li", { class: "small", attrs: { "data-channel": entry.channel } }, [
        el("span", { class: "badge", text: t(`console.rooms.${entry.channel}`) }),
        el("span", { text: ` ${entry.question ?? ""} → ${entry.answer ?? ""} (${entry.waited_s} s)` }),
      ]),
    );
    roomList.append(
      el("li", { class: "room-row", attrs: { "data-room": room.room_id, "data-status": room.status } }, [
        el("p", {}, [
          el("a", { text: room.title || room.room_id, attrs: { href: room.page ?? `/room/${encodeURIComponent(room.room_id)}` } }),
          el("span", { class: "badge", text: room.status ?? "" }),
        ]),
        el("dl", { class: "meta room-figures" }, [
          figure("console.rooms.waiting", String(room.queue ?? 0)),
          figure("console.rooms.answered", answered),
          figure("console.rooms.tickets", String(counters.tickets ?? 0)),
          figure("console.rooms.script", share),
          figure("console.rooms.latency", latencyText(room.latency_s?.all)),
          figure("console.rooms.dropped", dropped),
        ]),
        recent.length ? el("details", {}, [bindText(el("summary"), "console.rooms.recent"), el("ol", {}, recent)]) : null,
      ]),
    );
  }
}

async function refreshRooms() {
  const body = await api(`${merchantPath(state.merchant)}/rooms`, { key: state.key });
  renderRooms(body.rooms ?? []);
}

// -- refresh loop ------------------------------------------------------------------------------------------

async function tick() {
  if (state.loading || !state.key) return;
  state.loading = true;
  try {
    await refreshQueue();
    await loadDetail();
    await refreshRouted();
    await refreshRooms();
    if (status.dataset.kind === "error" && !status.hidden) showStatus(status, "");
  } catch (error) {
    report(error);
  } finally {
    state.loading = false;
  }
}

function start({ key, merchant }) {
  state.key = key;
  state.merchant = merchant;
  state.selected = null;
  state.lastDetail = "";
  state.lastQueue = "";
  state.lastRouted = "";
  state.lastRooms = "";
  state.intents = [];
  $("detail").hidden = true;
  $("detail-empty").hidden = false;
  stop();
  tick();
  state.timer = setInterval(() => {
    if (!document.hidden) tick();
  }, REFRESH_MS);
}

function stop() {
  clearInterval(state.timer);
  state.timer = 0;
}

function main() {
  setupLanguage();
  session = setupSession({
    form: $("sign-in"),
    status,
    workspace: $("workspace"),
    onSignedIn: start,
    onSignedOut: () => {
      stop();
      state.key = "";
      clear(list);
      clear(routedList);
    },
  });
  $("refresh").addEventListener("click", tick);
  $("filter-state").addEventListener("change", tick);
  $("filter-priority").addEventListener("change", tick);
  $("claim").addEventListener("click", () => act("claim", {}, "console.done.claim"));
  $("reply-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("reply-text").value.trim();
    if (!text) return;
    if (await act("reply", { json: { text } }, "console.done.reply")) $("reply-text").value = "";
  });
  $("resolve-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const note = $("resolve-note").value.trim();
    if (await act("resolve", { json: { note: note || null } }, "console.done.resolve")) $("resolve-note").value = "";
  });
  document.body.dataset.ready = "true";
}

main();
