// The merchant catalog page: upload files and read the import report; browse products and their details.

import { el, showStatus } from "./dom.js";
import { ApiError, api, merchantPath } from "./http.js";
import { bindText, setupLanguage, t } from "./i18n.js";
import { setupSession } from "./session.js";

const PAGE_SIZE = 20;

const $ = (id) => document.getElementById(id);
const status = $("catalog-status");
const state = { key: "", merchant: "", offset: 0, total: 0, query: "", selected: null, searchTimer: 0 };
let session = null;

function report(error) {
  if (error instanceof ApiError && error.status === 401) {
    session.signOut("auth.error.401");
    return;
  }
  if (error instanceof ApiError) {
    const prefix = error.status === 403 ? `${t("auth.error.403", { merchant: state.merchant })} ` : "";
    showStatus(status, `${prefix}${error.message}`, "error");
    status.dataset.status = String(error.status);
    return;
  }
  showStatus(status, t("chat.error.network"), "error");
}

function money(value, currency) {
  if (value === null || value === undefined || value === "") return t("console.none");
  return currency ? `${value} ${currency}` : String(value);
}

function countOrNone(value) {
  return value === null || value === undefined ? t("console.none") : String(value);
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
        el("td", { class: "num", text: countOrNone(product.stock) }),
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
      ...definition("catalog.stock", product.stock === null ? "" : String(product.stock)),
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
              el("td", { class: "num", text: countOrNone(variant.stock) }),
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

// -- wiring ------------------------------------------------------------------------------------------------

function start({ key, merchant }) {
  state.key = key;
  state.merchant = merchant;
  state.offset = 0;
  state.selected = null;
  loadProducts().catch(report);
}

function main() {
  setupLanguage();
  session = setupSession({ form: $("sign-in"), status, workspace: $("workspace"), onSignedIn: start });
  $("upload-form").addEventListener("submit", upload);
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
