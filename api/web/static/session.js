// Sign-in for the console and catalog pages: the API key alone, kept in localStorage. GET /v1/me says whose
// key it is (merchant, role); an admin key chooses the merchant in the header's select, filled from the
// existing merchants (the choice is remembered).

import { el, showStatus } from "./dom.js";
import { ApiError, api, forgetKey, storedKey, storedMerchant, storeKey, storeMerchant } from "./http.js";
import { bindText, onLanguageChange, t } from "./i18n.js";

const ROLE_LABEL = { admin: "auth.role.admin", merchant: "auth.role.merchant", agent: "auth.role.agent" };

/**
 * Wire the sign-in form (#sign-in with #api-key), #sign-out, #whoami, the admin's #merchant-picker/#merchant
 * and the status line. `onSignedIn({key, merchant, me})` runs after a sign-in, at load when a stored key is
 * still valid, and when an admin chooses another merchant; `onSignedOut()` after signing out. Returns
 * {signOut(messageKey, params), report(error, line)}: `report` shows an API error, signing out on a 401.
 */
export function setupSession({ form, status, workspace, onSignedIn, onSignedOut }) {
  const keyInput = form.querySelector("#api-key");
  const submit = form.querySelector("button[type='submit']");
  const signOutButton = document.getElementById("sign-out");
  const whoami = document.getElementById("whoami");
  const picker = document.getElementById("merchant-picker");
  const select = document.getElementById("merchant");
  const session = { key: "", me: null, merchant: null };
  let attempt = 0;

  function merchantName(merchant) {
    return merchant.name && merchant.name !== merchant.id ? `${merchant.name} (${merchant.id})` : merchant.id;
  }

  function renderWhoami() {
    const { me, merchant } = session;
    if (!me) {
      whoami.replaceChildren();
      return;
    }
    const parts = [
      el("span", { class: "whoami-key", text: me.name }),
      " ",
      bindText(el("span", { class: "badge whoami-role", attrs: { "data-role": me.role } }), ROLE_LABEL[me.role] ?? "auth.role.agent"),
    ];
    if (!me.admin && merchant) {
      parts.push(" · ", bindText(el("span"), "auth.merchant"), ": ", el("strong", { class: "whoami-merchant", text: merchant.name || merchant.id }));
    }
    whoami.replaceChildren(...parts);
  }

  function renderPicker() {
    const { me, merchant } = session;
    picker.hidden = !me?.admin;
    if (!me?.admin) {
      select.replaceChildren();
      return;
    }
    select.replaceChildren(
      ...me.merchants.map((item) => el("option", { text: merchantName(item), attrs: { value: item.id, selected: item.id === merchant?.id } })),
    );
    if (merchant) select.value = merchant.id;
  }

  function showSignedIn() {
    if (session.merchant) document.body.dataset.merchant = session.merchant.id;
    else delete document.body.dataset.merchant;
    document.body.dataset.role = session.me.role;
    form.hidden = true;
    signOutButton.hidden = false;
    renderWhoami();
    renderPicker();
    workspace.hidden = !session.merchant;
    if (!session.merchant) showStatus(status, t("auth.nomerchants"), "error");
  }

  function signOut(messageKey = "", params = {}) {
    attempt += 1;
    forgetKey();
    Object.assign(session, { key: "", me: null, merchant: null });
    delete document.body.dataset.merchant;
    delete document.body.dataset.role;
    keyInput.value = "";
    form.hidden = false;
    workspace.hidden = true;
    signOutButton.hidden = true;
    picker.hidden = true;
    select.replaceChildren();
    whoami.replaceChildren();
    if (messageKey) {
      bindText(status, messageKey, params);
      status.dataset.kind = "error";
      status.hidden = false;
    } else {
      showStatus(status, "");
    }
    onSignedOut?.();
    keyInput.focus();
  }

  function showForm() {
    form.hidden = false;
    workspace.hidden = true;
    keyInput.focus();
  }

  /** Ask the API whose `key` it is; sign in with it, or explain why not. */
  async function signIn(key) {
    const mine = ++attempt;
    submit.disabled = true;
    let me;
    try {
      me = await api("/v1/me", { key });
    } catch (error) {
      if (mine !== attempt) return;
      submit.disabled = false;
      if (error instanceof ApiError && error.status === 401) {
        signOut("auth.error.401");
        return;
      }
      showStatus(status, error instanceof ApiError ? error.message : t("chat.error.network"), "error");
      showForm();
      return;
    }
    if (mine !== attempt) return;
    submit.disabled = false;
    storeKey(key);
    const merchants = me.merchants ?? [];
    const wanted = me.admin ? storedMerchant() : me.merchant?.id;
    const merchant = merchants.find((item) => item.id === wanted) ?? (me.admin ? merchants[0] : me.merchant) ?? null;
    Object.assign(session, { key, me, merchant });
    if (merchant) storeMerchant(merchant.id);
    showStatus(status, "");
    showSignedIn();
    if (merchant) onSignedIn({ key, merchant: merchant.id, me });
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = keyInput.value.trim();
    if (!key) {
      showStatus(status, t("auth.required"), "error");
      return;
    }
    signIn(key);
  });
  signOutButton.addEventListener("click", () => signOut());
  select.addEventListener("change", () => {
    const merchant = (session.me?.merchants ?? []).find((item) => item.id === select.value);
    if (!merchant || !session.key) return;
    session.merchant = merchant;
    document.body.dataset.merchant = merchant.id;
    storeMerchant(merchant.id);
    showStatus(status, "");
    workspace.hidden = false;
    renderWhoami();
    onSignedIn({ key: session.key, merchant: merchant.id, me: session.me });
  });
  onLanguageChange(() => renderWhoami());

  const key = storedKey();
  if (key) {
    form.hidden = true;
    workspace.hidden = true;
    signIn(key);
  } else {
    showForm();
  }
  /** Show an API error in `line` (the page's status line by default): a 401 signs out, a 403 says the key may
   * not do that for this merchant, anything else shows the server's message, a network failure says so. */
  function report(error, line = status) {
    if (error instanceof ApiError && error.status === 401) {
      signOut("auth.error.401");
      return;
    }
    if (error instanceof ApiError) {
      const prefix = error.status === 403 ? `${t("auth.error.403", { merchant: session.merchant?.id ?? "" })} ` : "";
      showStatus(line, `${prefix}${error.message}`, "error");
      line.dataset.status = String(error.status);
      return;
    }
    showStatus(line, t("chat.error.network"), "error");
  }

  return { signOut, report };
}
