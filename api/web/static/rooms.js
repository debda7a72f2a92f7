// The room builder (/rooms): saved plans, the plan editor (catalog search, drag or up/down to order, link
// numbers as viewers see them, pinned lines and fillers), a live preview of the script with each line's
// seconds and every compliance finding (accept a rewrite in one click), save / export / import, start and
// stop, and the running room's status. Everything goes through /v1/merchants/{m}/plans and /rooms.

import { el, showStatus } from "./dom.js";
import { ApiError, api, errorFrom, merchantPath } from "./http.js";
import { addStrings, bindText, onLanguageChange, setupLanguage, t } from "./i18n.js";
import { ROOM_STRINGS } from "./rooms-strings.js";
import { setupSession } from "./session.js";

const SEGMENTS = ["hook", "intro", "selling_points", "specs", "price_offer", "call_to_action"];
const PREVIEW_DELAY_MS = 450;
const POLL_MS = 2000;
const SEARCH_LIMIT = 20;
const TOP_FIELDS = ["room_id", "title", "language", "voice", "speech_rate", "interrupt", "items", "fillers"];

const $ = (id) => document.getElementById(id);
const status = $("rooms-status");
const state = {
  key: "",
  merchant: "",
  plan: null, // the plan's fields the editor does not show are kept here and sent back as they were
  entries: [], // [{data: plan item without pinned_lines, rows: [{kind, text}]}]
  fillers: [], // [text]
  loaded: null, // {room_id, version} of the saved plan in the editor
  dirty: false,
  titles: new Map(), // sku -> product title
  previewTimer: 0,
  previewSeq: 0,
  durations: "estimate",
  lastPreview: null,
  targets: new Map(), // problem field -> element showing it (for the body last sent)
  rowsByField: new Map(), // "items.0.pinned_lines.hook.1" -> row (for the body last previewed)
  searchTimer: 0,
  pollTimer: 0,
  room: null, // the loaded plan's room summary while it exists
  dragFrom: -1,
};
let session = null;

// -- helpers -----------------------------------------------------------------------------------------------

function plansPath(suffix = "") {
  return `${merchantPath(state.merchant)}/plans${suffix}`;
}

function report(error, line = status) {
  session.report(error, line);
}

function ok(key, params) {
  showStatus(status, t(key, params), "ok");
}

function problemsOf(error) {
  const problems = error instanceof ApiError ? error.body?.error?.problems : null;
  return Array.isArray(problems) ? problems : null;
}

function itemName(entry) {
  return state.titles.get(entry.data.sku) || entry.data.sku;
}

function linkLabel(n) {
  return t("rooms.link", { n });
}

function emptyPlan() {
  return { room_id: "", title: "", language: "zh", voice: null, speech_rate: 1, interrupt: "at_pause", items: [], fillers: [] };
}

function segmentsOf(entry) {
  return Array.isArray(entry.data.segments) && entry.data.segments.length ? entry.data.segments : SEGMENTS;
}

function markDirty() {
  state.dirty = true;
  $("dirty").hidden = false;
  schedulePreview();
}

// -- the plan <-> the editor -------------------------------------------------------------------------------

function loadPlan(plan, saved = null) {
  state.plan = { ...emptyPlan(), ...plan };
  state.entries = (plan.items ?? []).map((item) => {
    const { pinned_lines: pinned = {}, ...data } = item;
    const rows = [];
    for (const kind of SEGMENTS) for (const text of pinned[kind] ?? []) rows.push({ kind, text });
    return { data, rows };
  });
  state.fillers = [...(plan.fillers ?? [])];
  state.loaded = saved ? { room_id: saved.room_id, version: saved.version } : null;
  state.dirty = false;
  state.room = null;
  renderEditor();
  renderLoaded();
  clearErrors();
  pollRoom();
  schedulePreview(0);
}

/**
 * The plan as the API takes it. With `forPreview`, blank pinned lines and fillers are left out (they are
 * still being typed). Also returns where each problem field is shown and which row each pinned field is.
 */
function buildBody(forPreview = false) {
  const { items: _items, fillers: _fillers, ...rest } = state.plan;
  const targets = new Map();
  const rowsByField = new Map();
  for (const name of TOP_FIELDS) {
    const node = document.querySelector(`.field[data-field="${name}"]`);
    if (node) targets.set(name, node);
  }
  const itemNodes = $("items").children;
  const items = state.entries.map((entry, index) => {
    const node = itemNodes[index];
    if (node) targets.set(`items.${index}`, node);
    const pinned = {};
    entry.rows.forEach((row, rowIndex) => {
      if (forPreview && !row.text.trim()) return;
      const lines = (pinned[row.kind] ??= []);
      const field = `items.${index}.pinned_lines.${row.kind}.${lines.length}`;
      lines.push(row.text);
      rowsByField.set(field, row);
      const rowNode = node?.querySelectorAll(".pinned-row")[rowIndex];
      if (rowNode) targets.set(field, rowNode);
    });
    const item = { ...entry.data };
    if (Object.keys(pinned).length) item.pinned_lines = pinned;
    return item;
  });
  const fillerNodes = $("fillers").children;
  const fillers = [];
  state.fillers.forEach((text, index) => {
    if (forPreview && !text.trim()) return;
    if (fillerNodes[index]) targets.set(`fillers.${fillers.length}`, fillerNodes[index]);
    fillers.push(text);
  });
  const body = { ...rest, merchant: state.merchant, items, fillers };
  if (!body.voice) body.voice = null;
  return { body, targets, rowsByField };
}

function renumber() {
  state.entries.forEach((entry, index) => {
    entry.data.link = index + 1;
  });
}

function renderEditor() {
  const plan = state.plan;
  $("room-id").value = plan.room_id ?? "";
  $("plan-title").value = plan.title ?? "";
  $("language").value = plan.language ?? "zh";
  $("voice").value = plan.voice ?? "";
  $("speech-rate").value = String(plan.speech_rate ?? 1);
  $("interrupt").value = plan.interrupt ?? "at_pause";
  renderItems();
  renderFillers();
}

function renderLoaded() {
  const loaded = state.loaded;
  const badge = $("plan-version");
  badge.hidden = !loaded;
  if (loaded) bindText(badge, "rooms.version", { version: loaded.version });
  $("dirty").hidden = !state.dirty;
  $("export").disabled = !loaded;
  const links = $("room-links");
  links.hidden = !loaded;
  if (loaded) {
    const page = `/room/${encodeURIComponent(loaded.room_id)}`;
    $("room-page").href = page;
    const obs = `${window.location.origin}${page}?transparent=1`;
    $("room-obs").href = obs;
    $("room-obs").textContent = obs;
  }
  renderRoomButtons();
  for (const node of $("plan-list").children) {
    if (loaded && node.dataset.room === loaded.room_id) node.setAttribute("aria-current", "true");
    else node.removeAttribute("aria-current");
  }
}

function errorNode(container) {
  let node = container.querySelector(":scope > .field-error");
  if (!node) {
    node = el("p", { class: "field-error small", attrs: { role: "alert" } });
    node.hidden = true;
    container.append(node);
  }
  return node;
}

function renderItems() {
  const list = $("items");
  list.replaceChildren(...state.entries.map((entry, index) => itemNode(entry, index)));
  $("items-empty").hidden = state.entries.length > 0;
  renderResultsAdded();
}

function itemNode(entry, index) {
  const name = itemName(entry);
  const count = state.entries.length;
  const head = el("div", { class: "item-head", attrs: { draggable: "true", title: t("rooms.drag") } }, [
    el("span", { class: "drag-handle", text: "⠿", attrs: { "aria-hidden": "true" } }),
    el("strong", { class: "link-label", text: linkLabel(entry.data.link) }),
    el("span", { class: "item-title", text: name }),
    el("span", { class: "mono muted", text: entry.data.sku }),
    el("span", { class: "item-buttons" }, [
      el("button", {
        class: "button-quiet move-up",
        text: "↑",
        attrs: { type: "button", "aria-label": t("rooms.move.up", { name }), disabled: index === 0 },
        on: { click: () => move(index, index - 1, ".move-up") },
      }),
      el("button", {
        class: "button-quiet move-down",
        text: "↓",
        attrs: { type: "button", "aria-label": t("rooms.move.down", { name }), disabled: index === count - 1 },
        on: { click: () => move(index, index + 1, ".move-down") },
      }),
      el("button", {
        class: "button-quiet remove",
        text: "×",
        attrs: { type: "button", "aria-label": t("rooms.remove", { name }) },
        on: { click: () => removeItem(index) },
      }),
    ]),
  ]);
  head.addEventListener("dragstart", (event) => {
    state.dragFrom = index;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", String(index));
  });
  const pinnedList = el(
    "ol",
    { class: "pinned-list" },
    entry.rows.map((row, rowIndex) => pinnedRow(entry, row, rowIndex)),
  );
  const error = el("p", { class: "field-error small", attrs: { role: "alert" } });
  error.hidden = true;
  const node = el("li", { class: "item", attrs: { "data-index": index, "data-sku": entry.data.sku, "data-link": entry.data.link } }, [
    head,
    error,
    el("div", { class: "pinned" }, [
      pinnedList,
      el("button", {
        class: "button-quiet add-pinned",
        text: t("rooms.pinned.add"),
        attrs: { type: "button" },
        on: { click: () => addPinned(index) },
      }),
    ]),
  ]);
  node.addEventListener("dragover", (event) => {
    if (state.dragFrom < 0) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    node.classList.add("drop-target");
  });
  node.addEventListener("dragleave", () => node.classList.remove("drop-target"));
  node.addEventListener("drop", (event) => {
    event.preventDefault();
    node.classList.remove("drop-target");
    const from = state.dragFrom >= 0 ? state.dragFrom : Number.parseInt(event.dataTransfer.getData("text/plain"), 10);
    state.dragFrom = -1;
    if (Number.isInteger(from) && from !== index) move(from, index);
  });
  node.addEventListener("dragend", () => {
    state.dragFrom = -1;
  });
  return node;
}

function pinnedRow(entry, row, rowIndex) {
  const params = { n: rowIndex + 1, link: entry.data.link };
  const select = el(
    "select",
    { class: "pinned-kind", attrs: { "aria-label": t("rooms.pinned.segment", params) } },
    segmentsOf(entry).map((kind) => el("option", { text: t(`rooms.segment.${kind}`), attrs: { value: kind, selected: kind === row.kind } })),
  );
  select.value = row.kind;
  select.addEventListener("change", () => {
    row.kind = select.value;
    markDirty();
  });
  const input = el("textarea", { class: "pinned-text", attrs: { rows: 1, maxlength: 500, "aria-label": t("rooms.pinned.line", params) } });
  input.value = row.text;
  input.addEventListener("input", () => {
    row.text = input.value;
    markDirty();
  });
  const node = el("li", { class: "pinned-row" }, [
    select,
    input,
    el("button", {
      class: "button-quiet",
      text: "×",
      attrs: { type: "button", "aria-label": t("rooms.pinned.remove", params) },
      on: {
        click: () => {
          entry.rows.splice(rowIndex, 1);
          renderItems();
          markDirty();
        },
      },
    }),
  ]);
  row.node = node;
  errorNode(node);
  return node;
}

function addPinned(index) {
  const entry = state.entries[index];
  const used = new Set(entry.rows.map((row) => row.kind));
  const kind = segmentsOf(entry).find((k) => !used.has(k)) ?? segmentsOf(entry)[0];
  entry.rows.push({ kind, text: "" });
  renderItems();
  const rows = $("items").children[index].querySelectorAll(".pinned-text");
  rows[rows.length - 1]?.focus();
  markDirty();
}

function move(from, to, focusSelector = null) {
  if (to < 0 || to >= state.entries.length || from === to) return;
  const [entry] = state.entries.splice(from, 1);
  state.entries.splice(to, 0, entry);
  renumber();
  renderItems();
  if (focusSelector) {
    const button = $("items").children[to]?.querySelector(focusSelector);
    if (button && !button.disabled) button.focus();
    else $("items").children[to]?.querySelector(".remove")?.focus();
  }
  markDirty();
}

function removeItem(index) {
  state.entries.splice(index, 1);
  renumber();
  renderItems();
  markDirty();
}

function addProduct(product) {
  if (state.entries.some((entry) => entry.data.sku === product.sku)) return;
  state.titles.set(product.sku, product.title);
  state.entries.push({ data: { link: state.entries.length + 1, sku: product.sku }, rows: [] });
  renumber();
  renderItems();
  markDirty();
}

function renderFillers() {
  $("fillers").replaceChildren(
    ...state.fillers.map((text, index) => {
      const input = el("input", { attrs: { type: "text", maxlength: 300, "aria-label": t("rooms.filler.label", { n: index + 1 }) } });
      input.value = text;
      input.addEventListener("input", () => {
        state.fillers[index] = input.value;
        markDirty();
      });
      const node = el("li", { class: "filler-row" }, [
        input,
        el("button", {
          class: "button-quiet",
          text: "×",
          attrs: { type: "button", "aria-label": t("rooms.filler.remove", { n: index + 1 }) },
          on: {
            click: () => {
              state.fillers.splice(index, 1);
              renderFillers();
              markDirty();
            },
          },
        }),
      ]);
      errorNode(node);
      return node;
    }),
  );
}

// -- problems next to their fields ------------------------------------------------------------------------

function clearErrors() {
  for (const node of document.querySelectorAll("#plan-form .field-error")) {
    node.textContent = "";
    node.hidden = true;
  }
  for (const node of document.querySelectorAll("#plan-form [aria-invalid]")) node.removeAttribute("aria-invalid");
}

function showProblems(problems, targets) {
  clearErrors();
  const loose = [];
  for (const problem of problems) {
    let field = problem.field ?? "";
    let target = null;
    while (field && !(target = targets.get(field))) field = field.includes(".") ? field.slice(0, field.lastIndexOf(".")) : "";
    if (!target) {
      loose.push(problem.field ? `${problem.field}: ${problem.message}` : problem.message);
      continue;
    }
    const node = errorNode(target);
    node.textContent = node.textContent ? `${node.textContent}\n${problem.message}` : problem.message;
    node.dataset.field = problem.field;
    node.hidden = false;
    target.querySelector(":scope > input, :scope > select, :scope > textarea")?.setAttribute("aria-invalid", "true");
  }
  if (loose.length) showStatus(status, `${t("rooms.problems")}\n${loose.join("\n")}`, "error");
}

// -- preview -----------------------------------------------------------------------------------------------

function schedulePreview(delay = PREVIEW_DELAY_MS) {
  clearTimeout(state.previewTimer);
  state.previewTimer = setTimeout(() => refreshPreview().catch(report), delay);
}

async function refreshPreview() {
  if (!state.key || !state.plan) return;
  const seq = ++state.previewSeq;
  if (!state.entries.length) {
    renderPreview(null);
    bindText($("preview-summary"), "rooms.preview.empty");
    return;
  }
  const { body, targets, rowsByField } = buildBody(true);
  bindText($("preview-summary"), "rooms.preview.loading");
  document.body.dataset.preview = "loading";
  let preview;
  try {
    preview = await api(`${plansPath("/preview")}?durations=${state.durations}`, { method: "POST", json: body, key: state.key });
  } catch (error) {
    if (seq !== state.previewSeq) return;
    const problems = problemsOf(error);
    if (problems) {
      showProblems(problems, targets);
      renderPreview(null);
      bindText($("preview-summary"), "rooms.preview.invalid");
      document.body.dataset.preview = "invalid";
      return;
    }
    document.body.dataset.preview = "error";
    throw error;
  }
  if (seq !== state.previewSeq) return;
  clearErrors();
  if (status.dataset.kind === "error" && status.dataset.status === "422") showStatus(status, "");
  state.rowsByField = rowsByField;
  state.lastPreview = preview;
  for (const item of preview.items) if (item.title) state.titles.set(item.sku, item.title);
  for (const [index, entry] of state.entries.entries()) {
    const title = $("items").children[index]?.querySelector(".item-title");
    if (title && title.textContent !== itemName(entry)) title.textContent = itemName(entry);
  }
  renderPreview(preview);
  document.body.dataset.preview = "ready";
}

/** The line with its findings' spans marked (spans count characters, as Python does: code points). */
function markedLine(line, findings) {
  const chars = Array.from(line);
  const spans = findings
    .filter((f) => Number.isInteger(f.start) && Number.isInteger(f.end) && f.end > f.start)
    .sort((a, b) => a.start - b.start);
  const parts = [];
  let at = 0;
  for (const f of spans) {
    if (f.start < at) continue;
    if (f.start > at) parts.push(chars.slice(at, f.start).join(""));
    parts.push(el("mark", { text: chars.slice(f.start, f.end).join(""), attrs: { "data-rule": f.rule } }));
    at = f.end;
  }
  if (at < chars.length) parts.push(chars.slice(at).join(""));
  return parts;
}

function findingNode(f) {
  return el("li", { class: "finding", attrs: { "data-rule": f.rule, "data-action": f.action } }, [
    el("span", { class: "badge rule", text: f.rule }),
    f.article ? el("span", { class: "article muted", text: ` ${f.article}` }) : null,
    el("span", { class: "word", text: ` “${f.word}”` }),
    f.suggestion ? el("span", { class: "suggestion", text: ` ${t("rooms.preview.suggests", { text: f.suggestion })}` }) : null,
    f.action === "review" ? el("span", { class: "muted", text: ` (${t("rooms.preview.review")})` }) : null,
    el("span", { class: "reason muted", text: ` — ${f.reason}` }),
  ]);
}

function checkedLineNode(entry, onAccept) {
  const parts = [
    el("p", { class: "checked-text" }, markedLine(entry.line, entry.findings)),
    el("ul", { class: "findings" }, entry.findings.map(findingNode)),
  ];
  if (entry.rejected) {
    if (entry.rewrite) {
      parts.push(
        el("p", { class: "rewrite" }, [
          bindText(el("span", { class: "muted" }), "rooms.preview.rewrite"),
          " ",
          el("q", { class: "rewrite-text", text: entry.rewrite }),
          " ",
          el("button", { class: "button-secondary accept", text: t("rooms.accept"), attrs: { type: "button" }, on: { click: () => onAccept(entry.rewrite) } }),
        ]),
      );
    } else {
      parts.push(
        el("p", { class: "rewrite" }, [
          bindText(el("span", { class: "muted" }), "rooms.preview.norewrite"),
          " ",
          el("button", { class: "button-secondary accept", text: t("rooms.accept.remove"), attrs: { type: "button" }, on: { click: () => onAccept(null) } }),
        ]),
      );
    }
  }
  return el("div", { class: "checked-line", attrs: { "data-rejected": entry.rejected ? "true" : "false" } }, [
    entry.rejected ? bindText(el("p", { class: "rejected-label small" }), "rooms.preview.rejected") : null,
    ...parts,
  ]);
}

function acceptPinned(field, rewrite) {
  const row = state.rowsByField.get(field);
  if (!row) return;
  for (const entry of state.entries) {
    const index = entry.rows.indexOf(row);
    if (index < 0) continue;
    if (rewrite === null) {
      entry.rows.splice(index, 1);
      renderItems();
    } else {
      row.text = rewrite;
      const input = row.node?.querySelector(".pinned-text");
      if (input) input.value = rewrite;
    }
  }
  ok("rooms.preview.accepted");
  markDirty();
  schedulePreview(0);
}

function acceptFiller(index, rewrite) {
  // The preview leaves blank fillers out: find the filler the index names among the non-blank ones.
  const real = state.fillers.map((text, i) => [text, i]).filter(([text]) => text.trim())[index]?.[1];
  if (real === undefined) return;
  if (rewrite === null) state.fillers.splice(real, 1);
  else state.fillers[real] = rewrite;
  renderFillers();
  ok("rooms.preview.accepted");
  markDirty();
  schedulePreview(0);
}

function renderPreview(preview) {
  const box = $("preview-items");
  const fillersBox = $("preview-fillers");
  if (!preview) {
    box.replaceChildren();
    fillersBox.replaceChildren();
    $("preview-basis").textContent = "";
    return;
  }
  bindText($("preview-basis"), `rooms.preview.basis.${preview.durations.method}`);
  $("preview-basis").title = preview.durations.basis;
  bindText($("preview-summary"), "rooms.preview.summary", { seconds: preview.seconds, rejected: preview.rejected_lines });
  box.replaceChildren(
    ...preview.items.map((item) => {
      const seconds = item.over_budget
        ? bindText(el("span", { class: "seconds over" }), "rooms.preview.over", { seconds: item.seconds, budget: item.budget_s })
        : bindText(el("span", { class: "seconds" }), "rooms.preview.seconds", { seconds: item.seconds });
      const segments = item.segments.map((segment) =>
        el("li", { class: "segment", attrs: { "data-kind": segment.kind } }, [
          bindText(el("span", { class: "segment-kind muted small" }), `rooms.segment.${segment.kind}`),
          el(
            "ol",
            { class: "lines" },
            segment.lines.map((line) =>
              el("li", { class: "line", attrs: { "data-pinned": line.pinned ? "true" : "false" } }, [
                el("span", { class: "line-text" }, line.findings.length ? markedLine(line.text, line.findings) : [line.text]),
                " ",
                el("span", { class: "line-seconds muted small", text: t("rooms.preview.seconds", { seconds: line.seconds }) }),
                line.pinned ? el("span", { class: "badge", text: t("rooms.preview.pinned") }) : null,
                line.findings.length ? el("ul", { class: "findings" }, line.findings.map(findingNode)) : null,
              ]),
            ),
          ),
        ]),
      );
      const pinned = item.pinned
        .filter((entry) => entry.findings.length)
        .map((entry) =>
          checkedLineNode(entry, (rewrite) => acceptPinned(`items.${item.index}.pinned_lines.${entry.segment}.${entry.index}`, rewrite)),
        );
      return el("article", { class: "preview-item", attrs: { "data-link": item.link, "data-sku": item.sku } }, [
        el("h3", {}, [
          el("span", { class: "link-label", text: linkLabel(item.link) }),
          " ",
          el("span", { text: item.title ?? item.sku }),
          " ",
          seconds,
          item.sold_out ? el("span", { class: "badge", text: t("rooms.preview.soldout") }) : null,
        ]),
        item.problem ? el("p", { class: "field-error small", text: item.problem }) : null,
        ...pinned,
        el("ol", { class: "segments" }, segments),
        item.notes.length
          ? el("details", { class: "notes small" }, [bindText(el("summary"), "rooms.preview.notes"), el("ul", {}, item.notes.map((note) => el("li", { text: note })))])
          : null,
      ]);
    }),
  );
  const flagged = preview.fillers.filter((entry) => entry.findings.length);
  fillersBox.replaceChildren(
    ...(flagged.length
      ? [
          bindText(el("h3"), "rooms.preview.fillers"),
          ...flagged.map((entry) => checkedLineNode(entry, (rewrite) => acceptFiller(entry.index, rewrite))),
        ]
      : []),
  );
  for (const [field, row] of state.rowsByField) {
    const [, itemIndex, , kind, index] = field.split(".");
    const entry = preview.items[Number(itemIndex)]?.pinned.find((p) => p.segment === kind && p.index === Number(index));
    if (row.node) row.node.dataset.rejected = entry?.rejected ? "true" : "false";
  }
}

// -- saved plans ---------------------------------------------------------------------------------------------

async function loadPlans() {
  const body = await api(plansPath(), { key: state.key });
  const plans = body.plans ?? [];
  $("plans-empty").hidden = plans.length > 0;
  $("plan-list").replaceChildren(
    ...plans.map((plan) =>
      el("li", { attrs: { "data-room": plan.room_id, "aria-current": state.loaded?.room_id === plan.room_id ? "true" : null } }, [
        el("button", {
          class: "plan-row",
          attrs: { type: "button" },
          on: { click: () => openPlan(plan.room_id).catch(report) },
        }, [
          el("span", { class: "plan-title", text: plan.title || t("rooms.plan.untitled") }),
          el("span", { class: "plan-meta" }, [
            el("span", { class: "mono small", text: plan.room_id }),
            el("span", { class: "badge", text: t("rooms.version", { version: plan.version }) }),
            plan.room_status
              ? el("span", { class: "badge room-status", text: t(`rooms.state.${plan.room_status}`), attrs: { "data-status": plan.room_status } })
              : null,
          ]),
        ]),
      ]),
    ),
  );
}

async function openPlan(roomId) {
  const saved = await api(plansPath(`/${encodeURIComponent(roomId)}`), { key: state.key });
  showStatus(status, "");
  loadPlan(saved.plan, saved);
}

async function save() {
  const { body, targets } = buildBody(false);
  const loaded = state.loaded;
  try {
    const saved =
      loaded && loaded.room_id === body.room_id
        ? await api(`${plansPath(`/${encodeURIComponent(body.room_id)}`)}?base_version=${loaded.version}`, { method: "PUT", json: body, key: state.key })
        : await api(plansPath(), { method: "POST", json: body, key: state.key });
    state.plan = { ...emptyPlan(), ...saved.plan };
    state.loaded = { room_id: saved.room_id, version: saved.version };
    state.dirty = false;
    clearErrors();
    renderLoaded();
    ok("rooms.saved", { room: saved.room_id, version: saved.version });
    await loadPlans();
    pollRoom();
    return true;
  } catch (error) {
    const problems = problemsOf(error);
    if (problems) showProblems(problems, targets);
    else report(error);
    return false;
  }
}

async function exportYaml() {
  const loaded = state.loaded;
  if (!loaded) return;
  const path = `${plansPath(`/${encodeURIComponent(loaded.room_id)}.yaml`)}?version=${loaded.version}`;
  try {
    const response = await fetch(path, { headers: { Authorization: `Bearer ${state.key}` }, cache: "no-store" });
    if (!response.ok) throw await errorFrom(response);
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { attrs: { href: url, download: `${loaded.room_id}.yaml` } });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  } catch (error) {
    report(error);
  }
}

async function importYaml(event) {
  const file = event.target.files?.[0];
  const note = $("import-status");
  note.hidden = true;
  if (!file) return;
  try {
    const text = await file.text();
    const saved = await api(plansPath("/import"), { method: "POST", body: text, key: state.key });
    loadPlan(saved.plan, saved);
    ok("rooms.imported", { room: saved.room_id, version: saved.version });
    await loadPlans();
  } catch (error) {
    const problems = problemsOf(error);
    if (problems || (error instanceof ApiError && error.status !== 401)) {
      const lines = problems ? problems.map((p) => (p.field ? `${p.field}: ${p.message}` : p.message)) : [error.message];
      note.textContent = `${t("rooms.import.failed")}\n${lines.join("\n")}`;
      note.hidden = false;
    } else {
      report(error);
    }
  } finally {
    event.target.value = "";
  }
}

// -- starting, stopping and the room's status ------------------------------------------------------------------

async function startRoom() {
  if (!state.loaded || state.dirty) {
    if (!(await save())) return;
  }
  const roomId = state.loaded.room_id;
  $("start").disabled = true;
  try {
    const room = await api(plansPath(`/${encodeURIComponent(roomId)}/start?version=${state.loaded.version}`), { method: "POST", key: state.key });
    state.room = room;
    ok("rooms.started", { room: roomId });
    renderRoom();
    await loadPlans();
  } catch (error) {
    const problems = problemsOf(error);
    if (problems) showProblems(problems, buildBody(false).targets);
    else report(error);
  } finally {
    renderRoomButtons();
    pollRoom();
  }
}

async function stopRoom() {
  const roomId = state.loaded?.room_id;
  if (!roomId) return;
  $("stop").disabled = true;
  try {
    await api(`${merchantPath(state.merchant)}/rooms/${encodeURIComponent(roomId)}/commands`, {
      method: "POST",
      json: { kind: "stop" },
      key: state.key,
    });
    ok("rooms.stopping", { room: roomId });
  } catch (error) {
    report(error);
  } finally {
    pollRoom();
  }
}

function running() {
  return state.room && (state.room.status === "running" || state.room.status === "paused");
}

function renderRoomButtons() {
  $("start").disabled = !state.entries.length || Boolean(running());
  $("stop").disabled = !running();
}

function figure(labelKey, value, name) {
  return [bindText(el("dt"), labelKey), el("dd", { text: value, attrs: { "data-figure": name } })];
}

function renderRoom() {
  const room = state.room;
  const panel = $("status-panel");
  panel.hidden = !room;
  renderRoomButtons();
  if (!room) return;
  panel.dataset.status = room.status ?? "";
  const position = room.position ?? {};
  const onAir = state.entries[position.item]?.data.link ?? position.item + 1;
  const counters = room.counters ?? {};
  $("room-state").replaceChildren(
    ...figure("rooms.status.state", t(`rooms.state.${room.status}`), "status"),
    ...figure(
      "rooms.status.onair",
      Number.isInteger(position.item) ? t("rooms.status.onair.value", { link: linkLabel(onAir), sentence: (position.sentence ?? 0) + 1 }) : "–",
      "position",
    ),
    ...figure("rooms.status.queue", String(room.queue ?? 0), "queue"),
    ...figure("rooms.status.answered", String(counters.answered ?? 0), "answered"),
  );
  const answers = (room.recent?.answers ?? []).slice(0, 5);
  $("room-answers").replaceChildren(
    ...(answers.length
      ? answers.map((entry) =>
          el("li", { attrs: { "data-channel": entry.channel ?? "" } }, [
            el("span", { class: "badge", text: t(`rooms.channel.${entry.channel}`) }),
            el("span", { text: ` ${entry.question ?? ""} → ${entry.answer ?? ""}` }),
          ]),
        )
      : [bindText(el("li", { class: "muted none" }), "rooms.status.none")]),
  );
}

async function refreshRoom() {
  const roomId = state.loaded?.room_id;
  if (!roomId || !state.key) {
    state.room = null;
    renderRoom();
    return;
  }
  try {
    state.room = await api(`${merchantPath(state.merchant)}/rooms/${encodeURIComponent(roomId)}`, { key: state.key });
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) throw error;
    state.room = null;
  }
  if (state.loaded?.room_id === roomId) renderRoom();
}

function pollRoom() {
  clearTimeout(state.pollTimer);
  const tick = async () => {
    try {
      await refreshRoom();
    } catch (error) {
      report(error);
    }
    if (state.key && state.loaded && !document.hidden) state.pollTimer = setTimeout(tick, POLL_MS);
  };
  tick();
}

// -- catalog search ------------------------------------------------------------------------------------------

async function searchCatalog() {
  const params = new URLSearchParams({ limit: String(SEARCH_LIMIT) });
  const query = $("catalog-search").value.trim();
  if (query) params.set("q", query);
  const page = await api(`${merchantPath(state.merchant)}/products?${params}`, { key: state.key });
  const items = page.items ?? [];
  for (const product of items) state.titles.set(product.sku, product.title);
  $("catalog-results").replaceChildren(
    ...(items.length
      ? items.map((product) =>
          el("li", { class: "result", attrs: { "data-sku": product.sku } }, [
            el("span", { class: "result-title", text: product.title }),
            el("span", { class: "mono muted small", text: product.sku }),
            el("span", { class: "muted small", text: product.price ? `${product.price} ${product.currency ?? ""}`.trim() : "" }),
            el("button", {
              class: "button-quiet add",
              text: t("rooms.catalog.add"),
              attrs: { type: "button", "aria-label": t("rooms.catalog.add.label", { name: product.title }) },
              on: { click: () => addProduct(product) },
            }),
          ]),
        )
      : [bindText(el("li", { class: "muted small" }), "rooms.catalog.none")]),
  );
  renderResultsAdded();
}

function renderResultsAdded() {
  const picked = new Set(state.entries.map((entry) => entry.data.sku));
  for (const node of $("catalog-results").children) {
    const button = node.querySelector("button.add");
    if (!button) continue;
    const added = picked.has(node.dataset.sku);
    button.disabled = added;
    button.textContent = t(added ? "rooms.catalog.added" : "rooms.catalog.add");
  }
}

// -- wiring ----------------------------------------------------------------------------------------------------

function bindField(id, name, read = (value) => value) {
  $(id).addEventListener(id === "language" || id === "interrupt" ? "change" : "input", (event) => {
    state.plan[name] = read(event.target.value);
    markDirty();
  });
}

function start({ key, merchant, me }) {
  state.key = key;
  state.merchant = merchant;
  if (me.role === "agent") {
    $("workspace").hidden = true;
    showStatus(status, t("rooms.needs.owner"), "error");
    return;
  }
  state.titles.clear();
  loadPlan(emptyPlan());
  loadPlans().catch(report);
  searchCatalog().catch(report);
}

function stop() {
  state.key = "";
  clearTimeout(state.pollTimer);
  clearTimeout(state.previewTimer);
}

function main() {
  addStrings(ROOM_STRINGS);
  setupLanguage();
  session = setupSession({ form: $("sign-in"), status, workspace: $("workspace"), onSignedIn: start, onSignedOut: stop });
  bindField("room-id", "room_id", (value) => value.trim());
  bindField("plan-title", "title");
  bindField("language", "language");
  bindField("voice", "voice", (value) => value.trim() || null);
  bindField("speech-rate", "speech_rate", (value) => {
    const rate = Number.parseFloat(value);
    return Number.isFinite(rate) ? rate : value;
  });
  bindField("interrupt", "interrupt");
  $("plan-form").addEventListener("submit", (event) => {
    event.preventDefault();
    save();
  });
  $("new-plan").addEventListener("click", () => {
    showStatus(status, "");
    loadPlan(emptyPlan());
    loadPlans().catch(report);
  });
  $("add-filler").addEventListener("click", () => {
    state.fillers.push("");
    renderFillers();
    $("fillers").lastElementChild?.querySelector("input")?.focus();
    markDirty();
  });
  $("export").addEventListener("click", exportYaml);
  $("import-file").addEventListener("change", importYaml);
  $("start").addEventListener("click", startRoom);
  $("stop").addEventListener("click", stopRoom);
  $("measure").addEventListener("click", async () => {
    const button = $("measure");
    button.disabled = true;
    bindText(button, "rooms.measuring");
    state.durations = "voice";
    try {
      await refreshPreview();
    } catch (error) {
      report(error);
    } finally {
      state.durations = "estimate";
      button.disabled = false;
      bindText(button, "rooms.measure");
    }
  });
  $("catalog-search").addEventListener("input", () => {
    clearTimeout(state.searchTimer);
    state.searchTimer = setTimeout(() => searchCatalog().catch(report), 250);
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && state.loaded) pollRoom();
  });
  onLanguageChange(() => {
    if (!state.plan || !state.key) return;
    renderItems();
    renderFillers();
    if (state.lastPreview) renderPreview(state.lastPreview);
    renderRoom();
    searchCatalog().catch(report);
    loadPlans().catch(report);
  });
  document.body.dataset.ready = "true";
}

main();
