// The first-run block of the Upload page: how to get the files from the phone, sample data
// (labelled as such everywhere), and the AI-training use of data with the person's choice.
// Open on a first visit (no uploads yet); folded once there is data.

import { call } from "../api.js";
import { announce, formatDateTime, h, replace, showError } from "../dom.js";

export const SAMPLE_BADGE = "Sample data";

function steps() {
  return h(
    "ol",
    { class: "steps" },
    h("li", {}, "On your Android phone, your health apps (Samsung Health, Oura, Fitbit, your glucose sensor's app…) write their data into ", h("strong", {}, "Health Connect"), " (Settings → Health Connect; allow each app to write)."),
    h("li", {}, "The phone's Health Connect export writes ", h("strong", {}, "one .avro file per kind of data per day"), ", named like ", h("code", {}, "StepsRecord_1758407139312.avro"), " or ", h("code", {}, "BloodGlucoseRecord_….avro"), ". Keep the names as they are."),
    h("li", {}, "Copy the files to this computer (USB cable, your cloud drive or Share → Files), then drop them below, or choose them with the file picker. Re-uploading a file is harmless: it is recognised as a duplicate."),
    h("li", {}, "Each file is checked and stored, then turned into your daily journal: see ", h("a", { href: "#/history" }, "History"), ", ", h("a", { href: "#/day" }, "Days"), " and ", h("a", { href: "#/trends" }, "Trends"), "."),
  );
}

function samples(ctx) {
  const status = h("p", { class: "sample-status", role: "status" });
  const button = h("button", { type: "button", class: "button-secondary" }, "Try sample data");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const out = await call("POST", "/v1/me/sample-data");
      if (ctx.signal.aborted) return;
      const text = out.uploads_new
        ? `Loaded a synthetic sample week (${out.uploads_new} files), labelled “${SAMPLE_BADGE}” wherever it shows. It is being processed: `
        : `The sample week is already in your account (nothing was added twice): `;
      replace(status, text, h("a", { href: "#/history" }, "see History"), ".");
      announce(text);
    } catch (error) {
      showError(`The sample data could not be loaded: ${error.message}`);
    } finally {
      button.disabled = false;
    }
  });
  return h(
    "div",
    { class: "samples" },
    h("p", {}, "No export at hand? Load a synthetic sample week to see what the platform does. Sample days are marked “", SAMPLE_BADGE, "” on every page; they are not your data."),
    button,
    status,
  );
}

function training(ctx) {
  const statement = h("p", { class: "hint" });
  const box = h("input", { type: "checkbox", name: "welcome-ai-training" });
  const now = h("p", { class: "consent-now" });
  const show = (state) => {
    statement.textContent = state.statement;
    box.checked = state.granted;
    now.textContent = state.decided_at
      ? `Your choice: ${state.granted ? "yes" : "no"} (since ${formatDateTime(state.decided_at)}). You can change it at any time here or on the Account page.`
      : "Your choice: not answered, so no. Nothing of yours is used for training unless you tick the box.";
  };
  box.addEventListener("change", async () => {
    try {
      show(await call("PUT", "/v1/me/consent/ai-training", { granted: box.checked }));
      announce(box.checked ? "Saved: your narratives may be used for AI training." : "Saved: nothing of yours is used for AI training.");
    } catch (error) {
      box.checked = !box.checked;
      showError(error.message);
    }
  });
  call("GET", "/v1/me/consent/ai-training")
    .then((state) => !ctx.signal.aborted && show(state))
    .catch(() => {});
  return h(
    "div",
    { class: "training" },
    h("h3", {}, "Your data and AI training"),
    h("p", {}, "The platform turns your data into daily narratives. Those narratives can also become training examples for AI models — ", h("strong", {}, "only if you say yes"), ". You can export or delete everything at any time (Account)."),
    statement,
    h("label", { class: "consent" }, box, " Use my narratives to train AI models"),
    now,
  );
}

/** The first-run card; `open` when the person has no uploads yet. */
export function welcome(ctx, open) {
  const details = h(
    "details",
    { class: "card welcome", open: open ? "" : null },
    h("summary", {}, h("h2", { class: "welcome-title" }, "How to get your files from your phone")),
    steps(),
    samples(ctx),
    training(ctx),
  );
  return details;
}
