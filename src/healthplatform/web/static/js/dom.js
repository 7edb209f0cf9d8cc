// DOM helpers. Text is always set as text (never parsed as HTML), so data from the API
// cannot inject markup.

/**
 * Build an element: h("button", { class: "primary", onclick: fn }, "Save").
 * Attributes starting with "on" become event listeners; `null`/`false` attributes are skipped;
 * children may be strings, nodes, arrays or null.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (value === true) {
      el.setAttribute(name, "");
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace the children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

let uid = 0;
/** A document-unique id with a readable prefix. */
export function uniqueId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** A labelled form field: <div class="field"><label>..</label><input>..<p hint></div>. */
export function field(label, input, hint) {
  input.id ||= uniqueId("field");
  const children = [h("label", { for: input.id }, label), input];
  if (hint) {
    const hintId = uniqueId("hint");
    input.setAttribute("aria-describedby", hintId);
    children.push(h("p", { class: "hint", id: hintId }, hint));
  }
  return h("div", { class: "field" }, children);
}

const statusEl = () => document.getElementById("status");
const alertEl = () => document.getElementById("alert");

/** Announce a status message (aria-live polite region, also visible). */
export function announce(message) {
  alertEl().textContent = "";
  statusEl().textContent = message;
}

/** Announce to screen readers only (the screen already shows the same text). */
export function announceQuietly(message) {
  const region = document.getElementById("sr-status");
  region.textContent = "";
  setTimeout(() => {
    region.textContent = message;
  }, 50);
}

/** Show an error (role=alert region). */
export function showError(message) {
  statusEl().textContent = "";
  alertEl().textContent = message;
}

let flashed = null;

/** Announce `message` once the next screen has rendered (`keep`: unless one is pending). */
export function flash(message, { keep = false } = {}) {
  if (!(keep && flashed)) flashed = message;
}

export function takeFlash() {
  const message = flashed;
  flashed = null;
  return message;
}

export function clearMessages() {
  statusEl().textContent = "";
  alertEl().textContent = "";
  document.getElementById("sr-status").textContent = "";
}

// --- formatting ------------------------------------------------------------------------------

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const longDate = new Intl.DateTimeFormat(undefined, {
  weekday: "long",
  year: "numeric",
  month: "long",
  day: "numeric",
  timeZone: "UTC",
});

export function formatDateTime(iso) {
  return iso ? dateTime.format(new Date(iso)) : "never";
}

/** "2025-09-20" -> "Saturday, September 20, 2025" (a calendar date, no time zone shift). */
export function formatDay(day) {
  return longDate.format(new Date(`${day}T00:00:00Z`));
}

export function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Minutes since local midnight -> "07:30" (wraps around midnight). */
export function clock(minutes) {
  const m = ((Math.round(minutes) % 1440) + 1440) % 1440;
  return `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
}

export function plural(count, word, many = `${word}s`) {
  return `${count} ${count === 1 ? word : many}`;
}
