// Sign-in for the console and catalog pages: an API key and a merchant, kept in localStorage.

import { el, MERCHANT_ID, showStatus } from "./dom.js";
import { forgetKey, storeCredentials, storedKey, storedMerchant } from "./http.js";
import { bindText, t } from "./i18n.js";

/**
 * Wire the sign-in form (#sign-in with #api-key and #merchant), #sign-out, #whoami and the status line.
 * `onSignedIn({key, merchant})` runs after a sign-in and at load when a key is stored; `onSignedOut()`
 * after signing out. Returns {signOut(messageKey, params)} for pages that hit a 401.
 */
export function setupSession({ form, status, workspace, onSignedIn, onSignedOut }) {
  const keyInput = form.querySelector("#api-key");
  const merchantInput = form.querySelector("#merchant");
  const signOutButton = document.getElementById("sign-out");
  const whoami = document.getElementById("whoami");

  function showSignedIn(merchant) {
    form.hidden = true;
    workspace.hidden = false;
    signOutButton.hidden = false;
    whoami.replaceChildren(bindText(el("span"), "auth.merchant"), ": ", el("strong", { text: merchant }));
  }

  function signOut(messageKey = "", params = {}) {
    forgetKey();
    keyInput.value = "";
    form.hidden = false;
    workspace.hidden = true;
    signOutButton.hidden = true;
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

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = keyInput.value.trim();
    const merchant = merchantInput.value.trim();
    if (!key || !MERCHANT_ID.test(merchant)) {
      showStatus(status, t("auth.required"), "error");
      return;
    }
    storeCredentials(key, merchant);
    showStatus(status, "");
    showSignedIn(merchant);
    onSignedIn({ key, merchant });
  });
  signOutButton.addEventListener("click", () => signOut());

  merchantInput.value = storedMerchant();
  const key = storedKey();
  if (key && MERCHANT_ID.test(storedMerchant())) {
    showSignedIn(storedMerchant());
    onSignedIn({ key, merchant: storedMerchant() });
  } else {
    form.hidden = false;
    workspace.hidden = true;
    keyInput.focus();
  }
  return { signOut };
}
