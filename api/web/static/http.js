// Talking to the JSON API: the error shape {"error": {"code", "message"}}, API keys, and the merchant.

const KEY_STORAGE = "anchor.apiKey";
const MERCHANT_STORAGE = "anchor.merchant";

/** An HTTP error from the API, carrying the server's own message and Retry-After (seconds) when sent. */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null, body = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
    this.body = body;
  }
}

/** Build an ApiError from a non-OK response, using the server's error.message when it sent one. */
export async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = body && typeof body === "object" ? body.error : null;
  const message =
    (error && typeof error.message === "string" && error.message) ||
    (body && typeof body.detail === "string" && body.detail) ||
    `${response.status} ${response.statusText}`.trim();
  const retry = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
  return new ApiError(
    response.status,
    (error && error.code) || "error",
    message,
    Number.isFinite(retry) ? retry : null,
    body,
  );
}

/** The stored API key ("" when signed out). */
export function storedKey() {
  return localStorage.getItem(KEY_STORAGE) ?? "";
}

/** The stored merchant ("" when unknown). */
export function storedMerchant() {
  return localStorage.getItem(MERCHANT_STORAGE) ?? "";
}

/** Remember the key for the console and catalog pages (it says which merchant it is for: GET /v1/me). */
export function storeKey(key) {
  localStorage.setItem(KEY_STORAGE, key);
}

/** Remember the merchant the pages work on (an admin key's choice). */
export function storeMerchant(merchant) {
  localStorage.setItem(MERCHANT_STORAGE, merchant);
}

/** Forget the key (sign out); the merchant stays as an admin's choice for the next sign-in. */
export function forgetKey() {
  localStorage.removeItem(KEY_STORAGE);
}

/**
 * Call the API and return the parsed JSON body. Throws ApiError for non-2xx answers (except statuses in
 * `acceptStatus`, whose JSON body is returned) and TypeError when the network fails.
 */
export async function api(path, { method = "GET", json, body, key, acceptStatus = [], signal } = {}) {
  const headers = { Accept: "application/json" };
  if (key) headers.Authorization = `Bearer ${key}`;
  let payload = body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(json);
  }
  const response = await fetch(path, { method, headers, body: payload, signal, cache: "no-store" });
  if (!response.ok && !acceptStatus.includes(response.status)) throw await errorFrom(response);
  if (response.status === 204) return null;
  return response.json();
}

/** The path prefix of one merchant's resources. */
export function merchantPath(merchant) {
  return `/v1/merchants/${encodeURIComponent(merchant)}`;
}
