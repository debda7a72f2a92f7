// DOM helpers. All text from users, the bot or the server goes in through textContent, never as HTML.

/**
 * Create an element. `props.text` becomes its textContent, `props.class` its class, `props.attrs`
 * attributes (set with setAttribute, so never parsed as HTML), `props.on` event listeners.
 */
export function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  if (props.class) node.className = props.class;
  if (props.text !== undefined && props.text !== null) node.textContent = String(props.text);
  for (const [name, value] of Object.entries(props.attrs ?? {})) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const [event, handler] of Object.entries(props.on ?? {})) node.addEventListener(event, handler);
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

/** Remove all children of `node`. */
export function clear(node) {
  node.replaceChildren();
}

/** Show `message` in a status/alert element, with a kind of "error", "ok" or "" (neutral); empty hides it. */
export function showStatus(node, message, kind = "") {
  node.textContent = message ?? "";
  node.dataset.kind = kind;
  node.hidden = !message;
}

/** A short local date and time for an ISO timestamp, or the input unchanged if it does not parse. */
export function formatTime(value) {
  if (!value) return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString(undefined, { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
}

/** The query parameter `name` of this page's URL, or `fallback`. */
export function queryParam(name, fallback = null) {
  return new URLSearchParams(window.location.search).get(name) ?? fallback;
}

export const MERCHANT_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
