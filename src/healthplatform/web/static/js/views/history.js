// Upload history: filters by status and record type, pagination, and a live status that
// polls while anything shown is queued or processing.

import { call } from "../api.js";
import { announceQuietly, field, formatDateTime, h, plural, replace, showError } from "../dom.js";
import { recordName } from "../names.js";

const PAGE_SIZE = 20;
const SAMPLE_LABEL = "Sample data (synthetic, not yours)"; // uploads/__init__.py SAMPLE_DESCRIPTION
const POLL_MS = 3000;
const STATUSES = ["queued", "processing", "completed", "failed", "quarantined"];
const BUSY = new Set(["queued", "processing"]);

function recordTypes() {
  const meta = document.querySelector('meta[name="hp-record-types"]');
  return (meta?.content ?? "").split(",").filter(Boolean);
}

function select(name, options, label = (value) => value) {
  return h(
    "select",
    { name },
    h("option", { value: "" }, "All"),
    options
      .map((value) => [value, label(value)])
      .sort((a, b) => a[1].localeCompare(b[1]))
      .map(([value, text]) => h("option", { value }, text)),
  );
}

const shortDay = (day) =>
  new Intl.DateTimeFormat(undefined, { weekday: "short", month: "short", day: "numeric", timeZone: "UTC" }).format(new Date(`${day}T00:00:00Z`));

/** The row's result, expandable: the whole narrative and links to the days it touched
 * (loaded when opened). */
function resultCell(upload) {
  if (upload.error) return h("span", { class: "error-text" }, upload.error);
  const preview = upload.narrative_preview ?? (BUSY.has(upload.status) ? "Processing…" : "");
  if (upload.status !== "completed") return h("span", { class: "result-text" }, preview);
  const body = h("div", { class: "result-full" }, h("p", { class: "hint" }, "Loading…"));
  const details = h(
    "details",
    { class: "result-details" },
    h("summary", {}, h("span", { class: "result-text" }, preview), h("span", { class: "more" }, " Show all and its days")),
    body,
  );
  details.addEventListener(
    "toggle",
    async () => {
      if (!details.open || details.dataset.loaded) return;
      details.dataset.loaded = "true";
      try {
        const data = await call("GET", `/v1/days/by-upload/${upload.correlation_id}`);
        replace(
          body,
          data.narrative ? h("p", { class: "result-narrative" }, data.narrative.text) : null,
          data.narrative?.superseded ? h("p", { class: "hint" }, "A later upload changed these days since; each day's journal has the current numbers.") : null,
          data.days.length
            ? h("p", { class: "result-days" }, "Days: ", data.days.map((day, i) => [i ? ", " : "", h("a", { href: `#/day/${day}` }, shortDay(day))]))
            : h("p", { class: "hint" }, "No day's data comes from this file any more (a later upload replaced its records)."),
        );
      } catch (error) {
        delete details.dataset.loaded;
        replace(body, h("p", { class: "error-text" }, `Could not load the details: ${error.message}`));
      }
    },
  );
  return details;
}

function cell(label, ...content) {
  return h("td", { "data-label": label }, content);
}

/** A file name that may wrap after "_" (names are long single words). */
function breakable(name) {
  return name.split("_").flatMap((part, i) => (i ? [h("wbr"), `_${part}`] : [part]));
}

function row(upload) {
  return h(
    "tr",
    { "data-status": upload.status, "data-id": upload.correlation_id },
    h(
      "th",
      { scope: "row", "data-label": "File" },
      h("span", { class: "record-name" }, recordName(upload.record_type), upload.description === SAMPLE_LABEL ? h("span", { class: "badge badge-sample" }, "Sample data") : null),
      h("span", { class: "file-name" }, breakable(upload.file_name)),
    ),
    cell("Records", upload.record_count.toLocaleString()),
    cell("Uploaded", formatDateTime(upload.upload_timestamp)),
    cell("Status", h("span", { class: `badge badge-${upload.status}` }, upload.status)),
    cell("Result", resultCell(upload)),
  );
}

export function render(main, _params, ctx) {
  let offset = 0;
  let timer = null;
  let wasBusy = null; // null until the first load
  const statusSelect = select("status", STATUSES);
  const typeSelect = select("record_type", recordTypes(), recordName);
  const summary = h("p", { class: "history-summary" });
  const body = h("tbody");
  const table = h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "history-table" },
      h("caption", { class: "sr-only" }, "Uploaded files, newest first"),
      h(
        "thead",
        {},
        h("tr", {}, ["File", "Records", "Uploaded", "Status", "Result"].map((name) => h("th", { scope: "col" }, name))),
      ),
      body,
    ),
  );
  const empty = h("p", { class: "empty", hidden: true });
  const previous = h("button", { type: "button", onclick: () => go(offset - PAGE_SIZE) }, "Previous page");
  const next = h("button", { type: "button", onclick: () => go(offset + PAGE_SIZE) }, "Next page");
  const refresh = h("button", { type: "button", onclick: () => go(offset) }, "Refresh");
  const pager = h("nav", { class: "pager", "aria-label": "Pages of the history" }, previous, next);

  let latest = 0;

  function go(newOffset) {
    offset = Math.max(0, newOffset);
    wasBusy = null;
    load();
  }

  function schedule(busy) {
    clearTimeout(timer);
    timer = busy && !ctx.signal.aborted ? setTimeout(poll, POLL_MS) : null;
  }

  function poll() {
    if (document.hidden) schedule(true);
    else load();
  }

  async function load() {
    clearTimeout(timer);
    const request = ++latest; // answers can arrive out of order: only the newest is shown
    const query = new URLSearchParams({ limit: PAGE_SIZE, offset });
    if (statusSelect.value) query.set("status", statusSelect.value);
    if (typeSelect.value) query.set("record_type", typeSelect.value);
    let data;
    try {
      data = await call("GET", `/v1/upload/history?${query}`);
    } catch (error) {
      if (!ctx.signal.aborted && request === latest) {
        showError(`The history could not be loaded: ${error.message}`);
        schedule(true); // retry: the server may be back soon
      }
      return;
    }
    if (ctx.signal.aborted || request !== latest) return;
    const { uploads, pagination } = data;
    if (!uploads.length && pagination.total && offset) return go(offset - PAGE_SIZE); // page gone
    replace(body, uploads.map(row));
    // one message when there is nothing: the summary gives way to it
    const filtered = Boolean(statusSelect.value || typeSelect.value);
    replace(
      empty,
      filtered ? "No uploads match these filters. " : "No uploads yet. ",
      filtered ? null : h("a", { href: "#/upload" }, "Upload files"),
      filtered ? null : ".",
    );
    empty.hidden = pagination.total > 0;
    summary.hidden = pagination.total === 0;
    table.hidden = pagination.total === 0;
    previous.disabled = offset === 0;
    next.disabled = !pagination.has_more;
    pager.hidden = pagination.total <= PAGE_SIZE;
    const counts = new Map();
    for (const upload of uploads) counts.set(upload.status, (counts.get(upload.status) ?? 0) + 1);
    const busy = uploads.some((upload) => BUSY.has(upload.status));
    const parts = STATUSES.filter((s) => counts.has(s)).map((s) => `${counts.get(s)} ${s}`);
    const range = pagination.total ? `Showing ${offset + 1}–${offset + uploads.length} of ${plural(pagination.total, "upload")}` : "No uploads";
    const text = `${range}${parts.length ? `: ${parts.join(", ")}` : ""}.${busy ? " Updating every few seconds." : ""}`;
    summary.textContent = text;
    summary.dataset.busy = String(busy);
    // screen readers hear the first result and the end of processing, not every poll
    if (wasBusy === null) announceQuietly(text);
    else if (wasBusy && !busy) announceQuietly(`Processing finished. ${text}`);
    wasBusy = busy;
    schedule(busy);
  }

  const filters = h(
    "form",
    { class: "filters", "aria-label": "Filter the history" },
    field("Status", statusSelect),
    field("Record type", typeSelect),
    refresh,
  );
  filters.addEventListener("submit", (event) => event.preventDefault());
  filters.addEventListener("change", () => go(0));

  replace(main, h("h1", {}, "Upload history"), filters, summary, empty, table, pager);
  load();
  return () => clearTimeout(timer);
}
