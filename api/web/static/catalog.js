// The merchant catalog page: upload files and read the import report; browse products and their details;
// "Test my shop": run generated questions in the background, follow the progress and read the report.

import { el, formatTime, showStatus } from "./dom.js";
import { ApiError, api, merchantPath } from "./http.js";
import { bindText, setupLanguage, t } from "./i18n.js";
import { setupSession } from "./session.js";

const PAGE_SIZE = 20;

const $ = (id) => document.getElementById(id);
const status = $("catalog-status");
const state = { key: "", merchant: "", offset: 0, total: 0, query: "", selected: null, searchTimer: 0 };
let session = null;

function report(error, line = status) {
  session.report(error, line);
}

function money(value, currency) {
  if (value === null || value === undefined || value === "") return t("console.none");
  return currency ? `${value} ${currency}` : String(value);
}

/** The i18n key and parameters of a product's stock: total and sold-out variants, e.g. "12 · 2 of 8 sold out". */
function stockString(product) {
  const summary = product.stock_summary ?? { total: product.stock ?? null, variants: 0, sold_out: 0, unknown: 0 };
  const total = summary.total;
  const variants = summary.variants ?? 0;
  if (!variants) {
    if (total === null || total === undefined) return ["catalog.stock.unknown", null];
    return [total <= 0 ? "catalog.stock.soldout" : "catalog.stock.plain", { total }];
  }
  if (summary.unknown >= variants) {
    if (total === null || total === undefined) return ["catalog.stock.variants.allunknown", { variants }];
    return ["catalog.stock.variants.unknown", { total, variants }];
  }
  const params = { total, sold: summary.sold_out, variants, unknown: summary.unknown };
  return [summary.unknown ? "catalog.stock.variants.partial" : "catalog.stock.variants", params];
}

/** An element showing a product's stock line (kept translated; explains a partial total on hover). */
function stockNode(tag, product, props = {}) {
  const [key, params] = stockString(product);
  const node = bindText(el(tag, props), key, params);
  node.dataset.stock = key.replace("catalog.stock.", "") || "plain";
  if (product.stock_summary?.partial) node.title = t("catalog.stock.partial.title");
  return node;
}

function variantStock(value) {
  return value === null || value === undefined ? t("catalog.stock.unknown") : String(value);
}

// -- import ------------------------------------------------------------------------------------------------

function problemRows(problems) {
  return problems.map((problem) =>
    el("tr", { attrs: { "data-row": problem.row ?? "" } }, [
      el("td", { text: problem.file }),
      el("td", { class: "num", text: problem.row ?? "" }),
      el("td", { text: problem.column ?? "" }),
      el("td", { text: problem.message }),
    ]),
  );
}

function renderReport(body) {
  const box = $("report");
  box.hidden = false;
  const outcome = $("report-outcome");
  bindText(outcome, body.applied ? "catalog.applied" : "catalog.notapplied");
  outcome.dataset.kind = body.applied ? (body.ok ? "ok" : "warn") : "error";
  $("report-message").textContent = body.message ?? "";
  const note = $("report-counts-note");
  if (body.applied) note.hidden = true;
  else bindText(note, "catalog.wouldbe").hidden = false;
  const row = (labelKey, values) =>
    el("tr", {}, [bindText(el("th", { attrs: { scope: "row" } }), labelKey), ...values.map((v) => el("td", { class: "num", text: String(v.length) }))]);
  $("report-counts").tBodies[0].replaceChildren(
    row("catalog.products", [body.added ?? [], body.updated ?? [], body.unchanged ?? [], body.removed ?? []]),
    row("catalog.documents", [
      body.documents_added ?? [],
      body.documents_updated ?? [],
      body.documents_unchanged ?? [],
      body.documents_removed ?? [],
    ]),
  );
  $("report-rejected").replaceChildren(bindText(el("span"), "catalog.rejected"), `: ${body.rejected_rows ?? 0}`);
  for (const [id, problems] of [
    ["report-errors", body.errors ?? []],
    ["report-warnings", body.warnings ?? []],
  ]) {
    const section = $(id);
    section.hidden = problems.length === 0;
    section.querySelector("tbody").replaceChildren(...problemRows(problems));
  }
}

async function upload(event) {
  event.preventDefault();
  const files = $("files").files;
  if (!files.length) {
    showStatus(status, t("catalog.nofiles"), "error");
    return;
  }
  const form = new FormData();
  for (const file of files) form.append("files", file, file.name);
  const params = new URLSearchParams({
    replace: String($("replace").checked),
    skip_invalid: String($("skip-invalid").checked),
  });
  const button = $("import");
  button.disabled = true;
  bindText(button, "catalog.importing");
  showStatus(status, "");
  try {
    // 422 with a report body means "validation errors, nothing applied": show the report, not an error.
    const response = await api(`${merchantPath(state.merchant)}/catalog/import?${params}`, {
      method: "POST",
      body: form,
      key: state.key,
      acceptStatus: [422],
    });
    if (response && typeof response.applied === "boolean") renderReport(response);
    else if (response?.error) showStatus(status, response.error.message, "error");
    state.offset = 0;
    await loadProducts();
  } catch (error) {
    report(error);
  } finally {
    button.disabled = false;
    bindText(button, "catalog.import");
  }
}

// -- browse ------------------------------------------------------------------------------------------------

async function loadProducts() {
  const params = new URLSearchParams({ offset: String(state.offset), limit: String(PAGE_SIZE) });
  if (state.query) params.set("q", state.query);
  const page = await api(`${merchantPath(state.merchant)}/products?${params}`, { key: state.key });
  const items = page.items ?? [];
  state.total = page.total ?? items.length;
  const body = $("products").tBodies[0];
  body.replaceChildren(
    ...items.map((product) => {
      const link = el("button", {
        class: "link",
        text: product.title,
        attrs: { type: "button", "data-sku": product.sku },
        on: { click: () => showProduct(product.sku) },
      });
      return el("tr", { attrs: { "data-sku": product.sku, "aria-current": product.sku === state.selected ? "true" : null } }, [
        el("td", { class: "mono", text: product.sku }),
        el("td", {}, [link]),
        el("td", { class: "num", text: money(product.price, product.currency) }),
        stockNode("td", product, { class: "stock" }),
      ]);
    }),
  );
  $("products-empty").hidden = items.length > 0 || Boolean(state.query);
  document.querySelector(".pager").hidden = items.length === 0 && state.offset === 0;
  const from = items.length ? state.offset + 1 : 0;
  const to = state.offset + items.length;
  // The total counts the whole catalog, so a filtered page shows only its own range.
  if (state.query) bindText($("page-info"), "catalog.page.search", { from, to });
  else bindText($("page-info"), "catalog.page", { from, to, total: state.total });
  $("prev").disabled = state.offset === 0;
  $("next").disabled = items.length < PAGE_SIZE || (!state.query && to >= state.total);
}

function definition(labelKey, value) {
  return [bindText(el("dt"), labelKey), el("dd", { text: value || t("console.none") })];
}

async function showProduct(sku) {
  state.selected = sku;
  for (const row of $("products").tBodies[0].rows) {
    if (row.dataset.sku === sku) row.setAttribute("aria-current", "true");
    else row.removeAttribute("aria-current");
  }
  try {
    const product = await api(`${merchantPath(state.merchant)}/products/${encodeURIComponent(sku)}`, { key: state.key });
    renderProduct(product);
  } catch (error) {
    report(error);
  }
}

function renderProduct(product) {
  const panel = $("product");
  const parts = [
    el("h3", { text: product.title }),
    el("dl", { class: "meta" }, [
      ...definition("catalog.sku", product.sku),
      ...definition("catalog.brand", product.brand),
      ...definition("catalog.category", product.category),
      ...definition("catalog.price", money(product.price, product.currency)),
      ...definition("catalog.listprice", product.list_price ? money(product.list_price, product.currency) : ""),
      bindText(el("dt"), "catalog.stock"),
      stockNode("dd", product),
    ]),
  ];
  if (product.variants?.length) {
    parts.push(
      bindText(el("h4"), "catalog.variants"),
      el("div", { class: "table-scroll" }, [el("table", { class: "table variants" }, [
        el("thead", {}, [
          el("tr", {}, ["catalog.sku", "catalog.options", "catalog.price", "catalog.stock"].map((key) => bindText(el("th", { attrs: { scope: "col" } }), key))),
        ]),
        el(
          "tbody",
          {},
          product.variants.map((variant) =>
            el("tr", {}, [
              el("td", { class: "mono", text: variant.sku }),
              el("td", { text: Object.entries(variant.options ?? {}).map(([k, v]) => `${k}: ${v}`).join(", ") }),
              el("td", { class: "num", text: variant.price ?? t("console.none") }),
              el("td", { class: "num", text: variantStock(variant.stock) }),
            ]),
          ),
        ),
      ])]),
    );
  }
  const attributes = Object.entries(product.attributes ?? {});
  if (attributes.length) {
    parts.push(
      bindText(el("h4"), "catalog.attributes"),
      el("dl", { class: "meta" }, attributes.flatMap(([name, value]) => [el("dt", { text: name }), el("dd", { text: value })])),
    );
  }
  if (product.selling_points?.length) {
    parts.push(bindText(el("h4"), "catalog.sellingpoints"), el("ul", {}, product.selling_points.map((point) => el("li", { text: point }))));
  }
  if (product.description) parts.push(bindText(el("h4"), "catalog.description"), el("p", { class: "description", text: product.description }));
  if (product.tags?.length) {
    parts.push(bindText(el("h4"), "catalog.tags"), el("ul", { class: "chips" }, product.tags.map((tag) => el("li", { class: "chip", text: tag }))));
  }
  panel.replaceChildren(...parts);
}

// -- test my shop ------------------------------------------------------------------------------------------

const POLL_MS = 1000;
/** The server's failure labels (evals/generated_report.py) and their strings. */
const WHAT = {
  "made no answer": "shoptest.what.error",
  "stated a number the catalog does not hold": "shoptest.what.grounding",
  "broke an advertising rule": "shoptest.what.compliance",
  "answered what the catalog does not state": "shoptest.what.unstated",
  "stated a fact wrongly or not at all": "shoptest.what.fact",
  "talked about another product": "shoptest.what.product",
  "handed a pre-sale question to a person": "shoptest.what.escalate",
  "misunderstood the question": "shoptest.what.route",
  "missed the policy's answer": "shoptest.what.policy",
  "refused a question the catalog answers": "shoptest.what.refused",
};
const FAMILIES = [
  "price", "list_price", "stock", "variant_stock", "variant_price", "attribute", "enumeration", "policy", "unanswerable", "other",
];
const shopTest = { token: 0, timer: 0 };

function testsPath(id = "") {
  return `${merchantPath(state.merchant)}/shop-tests${id ? `/${encodeURIComponent(id)}` : ""}`;
}

function percent(rate) {
  return rate === null || rate === undefined ? "–" : `${(Number(rate) * 100).toFixed(1)}%`;
}

function familyLabel(node, name) {
  if (FAMILIES.includes(name)) return bindText(node, `shoptest.family.${name}`);
  node.textContent = name;
  return node;
}

/** Stop following a run (another merchant, signing out, a new run). */
function stopFollowing() {
  shopTest.token += 1;
  clearTimeout(shopTest.timer);
}

function resetShopTest() {
  stopFollowing();
  $("shop-test-run").hidden = true;
  $("shop-test-report").hidden = true;
  showStatus($("shop-test-status"), "");
  $("shop-test-start").disabled = false;
}

function renderRun(job) {
  const box = $("shop-test-run");
  box.hidden = false;
  box.dataset.status = job.status;
  const progress = $("shop-test-progress");
  const total = Math.max(job.total || job.n || 1, 1);
  progress.max = total;
  progress.value = Math.min(job.done ?? 0, total);
  const params = { done: job.done ?? 0, total: job.total ?? job.n, seconds: job.seconds ?? "–", error: job.error ?? "" };
  bindText($("shop-test-state"), `shoptest.state.${job.status}`, params);
  $("shop-test-state").dataset.kind = job.status === "failed" ? "error" : "";
  $("shop-test-start").disabled = job.status === "queued" || job.status === "running";
}

function rateCell(group) {
  if (!group || !group.cases) return el("td", { class: "num", text: "–" });
  return el("td", { class: "num", text: `${percent(group.pass_rate)} (${group.passed}/${group.cases})` });
}

function familyRow(labelNode, entry, attrs = {}) {
  const langs = entry.by_lang ?? {};
  const slices = entry.by_slice ?? {};
  return el("tr", { attrs }, [
    labelNode,
    el("td", { class: "num", text: String(entry.cases ?? 0) }),
    el("td", { class: "num rate", text: percent(entry.pass_rate) }),
    rateCell(langs.zh),
    rateCell(langs.en),
    rateCell(slices.cross),
  ]);
}

/** A cited source: a product's field ("EN-EL-002 · price") or a document's section ("shipping.en.md · Fees"). */
function sourceLabel(citation) {
  const parts = citation.sku ? [citation.sku, citation.field] : [citation.document, citation.heading];
  return parts.filter(Boolean).join(" · ");
}

function failureItem(failure) {
  const what = WHAT[failure.what];
  const head = el("p", { class: "failure-head" }, [
    familyLabel(el("span", { class: "badge" }), failure.family),
    " ",
    el("span", { class: "badge", text: failure.lang }),
    " ",
    failure.slice === "cross" ? bindText(el("span", { class: "badge" }), "shoptest.cross") : null,
    failure.slice === "cross" ? " " : null,
    what ? bindText(el("strong"), what) : el("strong", { text: failure.what ?? "" }),
  ]);
  let expected = null;
  if (failure.expected?.length) expected = el("dd", { text: failure.expected.join("; ") });
  else if (failure.family === "unanswerable") expected = bindText(el("dd"), "shoptest.expected.refusal");
  else if (failure.family === "policy") expected = bindText(el("dd"), "shoptest.expected.policy");
  else expected = el("dd", { text: t("console.none") });
  const citations = failure.citations ?? [];
  const sources = citations.length
    ? el("li", {}, [bindText(el("span"), "shoptest.sources"), `: ${citations.map(sourceLabel).join(", ")}`])
    : bindText(el("li", { class: "muted" }), "shoptest.sources.none");
  const answer = failure.answer ? el("dd", { class: "answer", text: failure.answer }) : bindText(el("dd", { class: "muted" }), "shoptest.noanswer");
  return el("li", { class: "failure", attrs: { "data-id": failure.id, "data-family": failure.family } }, [
    head,
    el("dl", { class: "meta" }, [
      bindText(el("dt"), "shoptest.question"),
      el("dd", { class: "question", text: failure.question }),
      bindText(el("dt"), "shoptest.expected"),
      expected,
      bindText(el("dt"), "shoptest.answer"),
      answer,
      bindText(el("dt"), "shoptest.evidence"),
      el("dd", {}, [el("ul", { class: "evidence" }, [...(failure.failures ?? []).map((reason) => el("li", { text: reason })), sources])]),
    ]),
  ]);
}

function gapRow(gap) {
  const kind = gap.kind === "not_found" || gap.kind === "not_stated" ? bindText(el("td"), `shoptest.gap.${gap.kind}`) : el("td", { text: gap.kind });
  return el("tr", { attrs: { "data-kind": gap.kind } }, [
    kind,
    el("td", { text: gap.topic }),
    el("td", { class: "num", text: String(gap.count ?? 0) }),
    el("td", { class: "num", text: gap.kind === "not_stated" ? String(gap.answered_anyway ?? 0) : "–" }),
    el("td", { text: (gap.examples ?? [])[0] ?? "" }),
    el("td", { class: "mono", text: (gap.products ?? []).join(", ") }),
  ]);
}

function renderShopReport(job) {
  const report = job.report ?? {};
  const generated = report.generated ?? {};
  const overall = generated.overall ?? { cases: 0, passed: 0, pass_rate: null };
  $("shop-test-report").hidden = false;
  $("shop-test-rate").textContent = percent(overall.pass_rate);
  bindText($("shop-test-rate-detail"), "shoptest.rate.detail", { passed: overall.passed, cases: overall.cases });
  bindText($("shop-test-meta"), "shoptest.meta", {
    cases: overall.cases,
    seed: job.seed,
    seconds: job.seconds ?? "–",
    when: formatTime(job.finished_at),
  });
  const closed = report.meta?.tickets_closed ?? [];
  const tickets = $("shop-test-tickets");
  tickets.hidden = !generated.tickets_opened;
  if (generated.tickets_opened) bindText(tickets, "shoptest.tickets", { count: closed.length || generated.tickets_opened });

  const cross = { cases: 0, passed: 0 };
  for (const entry of Object.values(generated.families ?? {})) {
    cross.cases += entry.by_slice?.cross?.cases ?? 0;
    cross.passed += entry.by_slice?.cross?.passed ?? 0;
  }
  cross.pass_rate = cross.cases ? cross.passed / cross.cases : null;
  const all = { ...overall, by_lang: generated.by_lang, by_slice: { cross } };
  const rows = [familyRow(bindText(el("th", { attrs: { scope: "row" } }), "shoptest.all"), all, { "data-family": "all" })];
  for (const [name, entry] of Object.entries(generated.families ?? {})) {
    rows.push(familyRow(familyLabel(el("th", { attrs: { scope: "row" } }), name), entry, { "data-family": name }));
  }
  $("shop-test-families").tBodies[0].replaceChildren(...rows);

  const failures = generated.worst_failures ?? [];
  const failed = (overall.cases ?? 0) - (overall.passed ?? 0);
  if (!failed) bindText($("shop-test-failures-note"), "shoptest.failures.none");
  else bindText($("shop-test-failures-note"), "shoptest.failures.shown", { shown: failures.length, count: failed });
  $("shop-test-failures").replaceChildren(...failures.map(failureItem));

  const gaps = generated.gaps ?? [];
  $("shop-test-nogaps").hidden = gaps.length > 0;
  $("shop-test-gaps").hidden = gaps.length === 0;
  $("shop-test-gaps").tBodies[0].replaceChildren(...gaps.map(gapRow));
}

/** Poll run `id` until it is done or failed, showing its progress, then its report. */
async function follow(id) {
  stopFollowing();
  const token = shopTest.token;
  const poll = async () => {
    let job;
    try {
      job = await api(testsPath(id), { key: state.key });
    } catch (error) {
      if (token !== shopTest.token) return;
      if (error instanceof ApiError) {
        report(error);
        $("shop-test-start").disabled = false;
        return;
      }
      shopTest.timer = setTimeout(poll, POLL_MS * 3); // the network: try again a little later
      return;
    }
    if (token !== shopTest.token) return;
    renderRun(job);
    if (job.status === "done") renderShopReport(job);
    if (job.status === "queued" || job.status === "running") shopTest.timer = setTimeout(poll, POLL_MS);
  };
  await poll();
}

async function startShopTest(event) {
  event.preventDefault();
  const input = $("shop-test-n");
  const n = Number.parseInt(input.value, 10);
  const shown = $("shop-test-status");
  if (!Number.isInteger(n) || n < 1 || n > 1000) {
    showStatus(shown, t("shoptest.invalidn"), "error");
    input.focus();
    return;
  }
  showStatus(shown, "");
  const button = $("shop-test-start");
  button.disabled = true;
  bindText(button, "shoptest.starting");
  let job = null;
  try {
    job = await api(testsPath(), { method: "POST", json: { n }, key: state.key, acceptStatus: [409] });
  } catch (error) {
    button.disabled = false;
    if (error instanceof ApiError && error.status !== 401) showStatus(shown, error.message, "error");
    else report(error);
    return;
  } finally {
    bindText(button, "shoptest.start");
  }
  if (job?.error?.id) {
    showStatus(shown, t("shoptest.conflict"), "");
    await follow(job.error.id);
    return;
  }
  $("shop-test-report").hidden = true;
  renderRun(job);
  await follow(job.id);
}

/** On signing in (or choosing another merchant): show the last run, and follow it if it still runs. */
async function loadLastShopTest() {
  resetShopTest();
  const token = shopTest.token;
  const listing = await api(testsPath(), { key: state.key });
  if (token !== shopTest.token) return;
  const last = (listing.items ?? [])[0];
  if (last) await follow(last.id);
}

// -- wiring ------------------------------------------------------------------------------------------------

function start({ key, merchant, me }) {
  state.key = key;
  state.merchant = merchant;
  state.offset = 0;
  state.selected = null;
  loadProducts().catch(report);
  const readOnly = me?.role === "agent"; // reading results needs any staff key, starting a run a merchant key
  $("shop-test-form").hidden = readOnly;
  $("shop-test-readonly").hidden = !readOnly;
  loadLastShopTest().catch(report);
}

function main() {
  setupLanguage();
  session = setupSession({ form: $("sign-in"), status, workspace: $("workspace"), onSignedIn: start, onSignedOut: resetShopTest });
  $("upload-form").addEventListener("submit", upload);
  $("shop-test-form").addEventListener("submit", startShopTest);
  $("prev").addEventListener("click", () => {
    state.offset = Math.max(0, state.offset - PAGE_SIZE);
    loadProducts().catch(report);
  });
  $("next").addEventListener("click", () => {
    state.offset += PAGE_SIZE;
    loadProducts().catch(report);
  });
  $("search").addEventListener("input", (event) => {
    clearTimeout(state.searchTimer);
    state.searchTimer = setTimeout(() => {
      state.query = event.target.value.trim();
      state.offset = 0;
      loadProducts().catch(report);
    }, 250);
  });
  document.body.dataset.ready = "true";
}

main();
