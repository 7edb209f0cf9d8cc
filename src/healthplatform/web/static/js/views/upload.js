// Upload Health Connect .avro files: drag and drop or a file input, per-file progress and
// result (accepted / duplicate / error with the API's text).

import { ApiError, call, uploadFile } from "../api.js";
import { announce, field, formatBytes, formatDateTime, h, plural, replace } from "../dom.js";
import { nextStep, recordName } from "../names.js";
import { welcome } from "./welcome.js";

const PARALLEL = 3;
const MAX_RATE_LIMIT_RETRIES = 3;
const MAX_WAIT_SECONDS = 30;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function fileRow(file) {
  const progress = h("progress", { max: 100, value: 0, "aria-label": `Upload progress of ${file.name}` });
  const status = h("span", { class: "file-status" }, "Waiting");
  const hint = h("span", { class: "file-next", hidden: true });
  const el = h(
    "li",
    { class: "file-row" },
    h("span", { class: "file-name" }, file.name),
    h("span", { class: "file-size" }, formatBytes(file.size)),
    progress,
    status,
    hint,
  );
  return {
    file,
    el,
    outcome: null,
    set(kind, text, percent, next = null) {
      status.textContent = text;
      el.dataset.state = kind;
      if (percent !== undefined) progress.value = percent;
      hint.textContent = next ?? "";
      hint.hidden = !next;
    },
  };
}

async function send(row, alive) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      row.set("uploading", "Uploading", 0);
      const answer = await uploadFile(row.file, (fraction) => row.set("uploading", `Uploading ${Math.round(fraction * 100)} %`, fraction * 100));
      if (answer.duplicate) {
        row.set("duplicate", `Duplicate: the same file was uploaded on ${formatDateTime(answer.upload_timestamp)}`, 100);
        return "duplicate";
      }
      row.set("accepted", `Accepted: ${plural(answer.record_count, "record")} of ${recordName(answer.record_type).toLowerCase()}, processing ${answer.processing_status}`, 100);
      return "accepted";
    } catch (error) {
      const limited = error instanceof ApiError && error.status === 429;
      if (limited && attempt < MAX_RATE_LIMIT_RETRIES && alive()) {
        const wait = Math.min(error.retryAfter ?? 5, MAX_WAIT_SECONDS);
        row.set("waiting", `Rate limited: retrying in ${wait} s`, 0);
        await sleep(wait * 1000);
        continue;
      }
      const code = error instanceof ApiError && error.status ? ` (HTTP ${error.status})` : "";
      row.set("error", `Error${code}: ${error.message}`, 0, nextStep(error instanceof ApiError ? error.status : -1));
      return "error";
    }
  }
}

export function render(main, _params, ctx) {
  const rows = [];
  let queue = [];
  let running = 0;
  const list = h("ul", { class: "file-list", "aria-label": "Files" });
  const summary = h("p", { class: "upload-summary" });
  const results = h(
    "section",
    { class: "card", hidden: true, "aria-labelledby": "upload-results-heading" },
    h("h2", { id: "upload-results-heading" }, "Files"),
    summary,
    list,
    h("p", {}, h("a", { href: "#/history" }, "Follow processing in the history")),
  );

  function tally() {
    const counts = { accepted: 0, duplicate: 0, error: 0 };
    for (const row of rows) if (row.outcome) counts[row.outcome] += 1;
    const done = counts.accepted + counts.duplicate + counts.error;
    summary.textContent =
      `${done} of ${plural(rows.length, "file")} done: ${counts.accepted} accepted, ` +
      `${plural(counts.duplicate, "duplicate")}, ${plural(counts.error, "error")}.`;
    return { done, counts };
  }

  async function pump() {
    while (running < PARALLEL && queue.length && !ctx.signal.aborted) {
      const row = queue.shift();
      running += 1;
      send(row, () => !ctx.signal.aborted).then((outcome) => {
        row.outcome = outcome;
        running -= 1;
        const { done } = tally();
        if (done === rows.length && !ctx.signal.aborted) announce(`Upload finished. ${summary.textContent}`);
        pump();
      });
    }
  }

  function add(files) {
    const picked = [...files];
    if (!picked.length) return;
    results.hidden = false;
    for (const file of picked) {
      const row = fileRow(file);
      rows.push(row);
      list.append(row.el);
      if (!file.name.toLowerCase().endsWith(".avro")) {
        row.set("error", "Error: not an .avro file; skipped", undefined, "Next step: Health Connect exports .avro files; choose those (see “How to get your files”).");
        row.outcome = "error";
      } else {
        queue.push(row);
      }
    }
    tally();
    announce(`Uploading ${plural(queue.length, "file")}…`);
    pump();
  }

  const input = h("input", { type: "file", name: "files", multiple: true, accept: ".avro" });
  input.addEventListener("change", () => {
    add(input.files);
    input.value = "";
  });
  const zone = h(
    "div",
    { class: "dropzone" },
    h("p", { class: "dropzone-title" }, "Drop .avro files here"),
    h("p", { class: "hint" }, "or choose them:"),
    field("Health Connect files (.avro)", input),
  );
  const over = (event) => {
    event.preventDefault();
    zone.classList.add("dragover");
  };
  zone.addEventListener("dragenter", over);
  zone.addEventListener("dragover", over);
  zone.addEventListener("dragleave", (event) => {
    if (!zone.contains(event.relatedTarget)) zone.classList.remove("dragover");
  });
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragover");
    add(event.dataTransfer.files);
  });
  // a file dropped next to the zone must not make the browser open it
  const swallow = (event) => event.preventDefault();
  window.addEventListener("dragover", swallow);
  window.addEventListener("drop", swallow);

  replace(
    main,
    h("h1", {}, "Upload"),
    h(
      "p",
      { class: "lead" },
      "Health Connect exports one Avro file per record type, for example ",
      h("code", {}, "StepsRecord_1758407139312.avro"),
      ". Each file is checked, stored and turned into your daily journal.",
    ),
    zone,
    results,
  );
  // first visit: the how-to, sample data and the AI-training choice come first, open
  const intro = h("div", { class: "welcome-slot" });
  main.querySelector(".lead").after(intro);
  call("GET", "/v1/upload/history?limit=1")
    .then((data) => {
      if (!ctx.signal.aborted) replace(intro, welcome(ctx, data.pagination.total === 0));
    })
    .catch(() => {
      if (!ctx.signal.aborted) replace(intro, welcome(ctx, true));
    });
  return () => {
    queue = [];
    window.removeEventListener("dragover", swallow);
    window.removeEventListener("drop", swallow);
  };
}
