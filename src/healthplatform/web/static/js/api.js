// Calls to the platform (same origin): the auth service at the root, the Health API under
// /v1. Token storage (see docs/webapp.md): the access token lives in memory only (per tab);
// the refresh token and the username live in localStorage, shared by the tabs of this
// browser, so a reload or a new tab stays signed in through one /token/refresh. A refresh
// token is single use: the tabs take turns (a Web Lock) and each reads the newest one.

const STORE_KEY = "hp.session";
const LOCK = "hp.refresh";
const EARLY_REFRESH_MS = 30_000;

let access = null; // { token, expiresAt }
let stored = load(); // { refreshToken, username } | null
let refreshing = null; // the one refresh in flight in this tab
const listeners = new Set();

function load() {
  try {
    sessionStorage.removeItem(STORE_KEY); // the per-tab place of earlier versions
    const value = JSON.parse(localStorage.getItem(STORE_KEY) ?? "null");
    return value && typeof value.refreshToken === "string" ? value : null;
  } catch {
    return null;
  }
}

function save(value) {
  stored = value;
  if (value) localStorage.setItem(STORE_KEY, JSON.stringify(value));
  else localStorage.removeItem(STORE_KEY);
}

/** Run `fn` while no other tab of this origin refreshes (Web Locks; without them, as is). */
function exclusive(fn) {
  return navigator.locks ? navigator.locks.request(LOCK, fn) : fn();
}

// another tab signed in, rotated the refresh token or signed out
window.addEventListener("storage", (event) => {
  if (event.key !== STORE_KEY && event.key !== null) return;
  const was = isSignedIn();
  stored = load();
  if (!stored) access = null;
  if (was !== isSignedIn()) notify();
});

/** A failed call: `status` 0 means the network failed; `message` is the server's text. */
export class ApiError extends Error {
  constructor(status, message, retryAfter = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

/** The human text of an error body: `{"detail": ...}` (API) or `{"error": ...}` (auth). */
export function errorText(status, data) {
  const detail = data?.detail ?? data?.error;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((p) => [(p.loc ?? []).filter((x) => x !== "body" && x !== "query").join("."), p.msg]
        .filter(Boolean)
        .join(": "))
      .join("; ");
  }
  return status ? `request failed (HTTP ${status})` : "network error: the server cannot be reached";
}

// --- session -----------------------------------------------------------------------------------

export function isSignedIn() {
  return Boolean(access || stored);
}

export function username() {
  return stored?.username ?? "";
}

/** Call `fn(signedIn)` whenever the session starts or ends. */
export function onSessionChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function notify() {
  for (const fn of listeners) fn(isSignedIn());
}

/** Keep the tokens of a /authenticate/complete or /token/refresh answer. */
export function startSession(tokens) {
  access = { token: tokens.access_token, expiresAt: Date.now() + tokens.expires_in * 1000 };
  save({ refreshToken: tokens.refresh_token, username: tokens.username });
  notify();
}

export function endSession() {
  const was = isSignedIn();
  access = null;
  save(null);
  if (was) notify();
}

async function refresh() {
  refreshing ??= exclusive(async () => {
    try {
      stored = load(); // another tab may have rotated it meanwhile
      if (!stored) throw new ApiError(401, "not signed in");
      const response = await fetch("/token/refresh", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ refresh_token: stored.refreshToken }),
        credentials: "same-origin",
      }).catch(() => {
        throw new ApiError(0, errorText(0, null));
      });
      const data = await response.json().catch(() => null);
      if (!response.ok) throw new ApiError(response.status, errorText(response.status, data));
      startSession(data);
      return access.token;
    } catch (error) {
      if (error instanceof ApiError && error.status !== 0 && error.status < 500) {
        endSession(); // refused refresh: the session is over
        throw new ApiError(401, "your session has ended; please sign in again");
      }
      throw error;
    } finally {
      refreshing = null;
    }
  });
  return refreshing;
}

/** A valid access token, refreshed first when it is missing or about to expire. */
async function accessToken() {
  if (access && access.expiresAt - EARLY_REFRESH_MS > Date.now()) return access.token;
  return refresh();
}

/** Run `attempt(token)`; on a 401 answer refresh once and try again. */
async function withToken(attempt) {
  let response = await attempt(await accessToken());
  if (response.status === 401 && stored) {
    access = null;
    response = await attempt(await refresh());
  }
  return response;
}

// --- calls ---------------------------------------------------------------------------------------

async function send(method, path, body, token) {
  // this client asks for the refresh token and passkeyId (docs/auth.md, old-client shape)
  const headers = { accept: "application/json", "x-hp-auth-features": "refresh-token, passkey-id" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  try {
    return await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    throw new ApiError(0, errorText(0, null));
  }
}

async function parse(response) {
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const retryAfter = Number(response.headers.get("retry-after")) || null;
    throw new ApiError(response.status, errorText(response.status, data), retryAfter);
  }
  return data;
}

/** A JSON call without a token (WebAuthn ceremonies). */
export async function publicCall(method, path, body) {
  return parse(await send(method, path, body, null));
}

/** A JSON call as the signed-in user. */
export async function call(method, path, body) {
  return parse(await withToken((token) => send(method, path, body, token)));
}

/** A GET as the signed-in user answered with the raw Response (downloads). */
export async function fetchRaw(path) {
  const response = await withToken((token) => send("GET", path, undefined, token));
  if (!response.ok) {
    const data = await response.json().catch(() => null);
    throw new ApiError(response.status, errorText(response.status, data));
  }
  return response;
}

/** Sign out: revoke this device session on the server, then forget the tokens. */
export async function signOut() {
  try {
    if (stored) await call("POST", "/logout");
  } finally {
    endSession();
  }
}

// --- uploads (XMLHttpRequest: fetch has no upload progress) -----------------------------------

function xhrUpload(file, token, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/upload");
    xhr.setRequestHeader("authorization", `Bearer ${token}`);
    xhr.setRequestHeader("accept", "application/json");
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () =>
      resolve({
        status: xhr.status,
        ok: xhr.status >= 200 && xhr.status < 300,
        data: xhr.response,
        retryAfter: Number(xhr.getResponseHeader("retry-after")) || null,
      }),
    );
    xhr.addEventListener("error", () => reject(new ApiError(0, errorText(0, null))));
    xhr.addEventListener("abort", () => reject(new ApiError(0, "upload cancelled")));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}

/**
 * Upload one file. Resolves with the API's answer (202: `data.duplicate` tells a repeat);
 * rejects with an ApiError otherwise.
 */
export async function uploadFile(file, onProgress) {
  const result = await withToken((token) => xhrUpload(file, token, onProgress));
  if (!result.ok) {
    throw new ApiError(result.status, errorText(result.status, result.data), result.retryAfter);
  }
  return result.data;
}
