// Account: passkeys (list, add, remove), signed-in devices (list, sign out), export and
// deletion of my data, deletion of my account.

import { ApiError, call, endSession, fetchRaw } from "../api.js";
import { addPasskey, passkeyErrorText } from "../auth.js";
import { announce, field, flash, formatBytes, formatDateTime, h, plural, replace, showError } from "../dom.js";
import { deletionParts } from "./deletion.js";

/** "Chrome on Linux" from a User-Agent string (the full string stays visible too). */
export function deviceName(agent) {
  const browsers = [
    [/Edg\//, "Edge"],
    [/OPR\//, "Opera"],
    [/Firefox\//, "Firefox"],
    [/(Headless)?Chrome\//, "Chrome"],
    [/Version\/[\d.]+.*Safari\//, "Safari"],
  ];
  const systems = [
    [/Android/, "Android"],
    [/iPhone|iPad|iPod/, "iOS"],
    [/CrOS/, "ChromeOS"],
    [/Windows/, "Windows"],
    [/Mac OS X|Macintosh/, "macOS"],
    [/Linux/, "Linux"],
  ];
  const browser = browsers.find(([re]) => re.test(agent))?.[1];
  const system = systems.find(([re]) => re.test(agent))?.[1];
  if (browser && system) return `${browser} on ${system}`;
  if (browser || system) return browser ?? system;
  // a label that is not a browser's (the command line's token, say) is its own name
  if (agent && !agent.includes("/") && agent.length <= 60) return agent;
  return "Unknown device";
}

const failure = (error) => (error instanceof ApiError ? error.message : passkeyErrorText(error));

/** A button that runs `action` once at a time and reports failures. */
function actionButton(label, action, attrs = {}) {
  const button = h("button", { type: "button", ...attrs }, label);
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await action();
    } catch (error) {
      showError(failure(error));
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

/** Replace `row`'s actions by "Yes, <verb>" / "Cancel" until the user decides. */
function confirmInRow(actions, question, verb, onConfirm) {
  const saved = [...actions.childNodes];
  const cancel = h("button", { type: "button" }, "Cancel");
  const yes = actionButton(`Yes, ${verb}`, onConfirm, { class: "danger" });
  cancel.addEventListener("click", () => {
    actions.replaceChildren(...saved);
    saved[0]?.focus();
  });
  replace(actions, h("span", { class: "confirm-question" }, question), yes, cancel);
  yes.focus();
}

function passkeysSection(ctx) {
  const list = h("ul", { class: "item-list", "aria-label": "Your passkeys" });
  const section = h("section", { class: "card", "aria-labelledby": "passkeys-heading" }, h("h2", { id: "passkeys-heading" }, "Passkeys"), list);

  async function load() {
    const { passkeys } = await call("GET", "/passkeys");
    if (ctx.signal.aborted) return;
    replace(
      list,
      passkeys.map((key) => {
        const actions = h("div", { class: "item-actions" });
        actions.append(
          h("button", {
            type: "button",
            class: "danger-outline",
            "aria-label": `Remove passkey ${key.name}`,
            disabled: passkeys.length === 1 ? true : null,
            title: passkeys.length === 1 ? "Your only passkey cannot be removed" : null,
            onclick: () =>
              confirmInRow(actions, `Remove “${key.name}”?`, "remove", async () => {
                await call("DELETE", `/passkeys/${key.id}`);
                announce(`Passkey ${key.name} removed.`);
                await load();
              }),
          }, "Remove"),
        );
        return h(
          "li",
          { class: "item", "data-passkey-id": key.id },
          h(
            "div",
            { class: "item-main" },
            h("strong", {}, key.name),
            h("span", { class: "meta" }, `Created ${formatDateTime(key.createdAt)} · last used ${formatDateTime(key.lastUsedAt)} · ${key.backedUp ? "synced" : "this device only"}`),
          ),
          actions,
        );
      }),
    );
    if (passkeys.length === 1) list.append(h("li", { class: "hint" }, "Add a second passkey (another device or a security key) before removing this one."));
  }

  const name = h("input", { name: "passkeyName", type: "text", maxlength: 64, autocomplete: "off" });
  const form = h(
    "form",
    { class: "inline-form" },
    field("Name of the new passkey (optional)", name, "For example “Work laptop” or “Phone”."),
    h("button", { type: "submit" }, "Add a passkey"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    announce("Waiting for your new passkey…");
    try {
      await addPasskey(name.value.trim());
      name.value = "";
      announce("Passkey added.");
      await load();
    } catch (error) {
      showError(failure(error));
    } finally {
      button.disabled = false;
    }
  });
  section.append(form);
  return { section, load };
}

function devicesSection(ctx) {
  const list = h("ul", { class: "item-list", "aria-label": "Signed-in devices" });
  const section = h(
    "section",
    { class: "card", "aria-labelledby": "devices-heading" },
    h("h2", { id: "devices-heading" }, "Signed-in devices"),
    h("p", { class: "hint" }, "Each sign-in is a device session. Signing a device out revokes its tokens."),
    list,
  );

  async function load() {
    const { devices } = await call("GET", "/devices");
    if (ctx.signal.aborted) return;
    replace(
      list,
      devices.map((device) => {
        const label = deviceName(device.label ?? "");
        const actions = h("div", { class: "item-actions" });
        actions.append(
          h("button", {
            type: "button",
            class: "danger-outline",
            "aria-label": device.current ? "Sign out this device" : `Sign out ${label}, signed in ${formatDateTime(device.createdAt)}`,
            onclick: () =>
              confirmInRow(actions, device.current ? "Sign out here?" : "Sign this device out?", "sign out", async () => {
                await call("DELETE", `/devices/${device.id}`);
                if (device.current) {
                  flash("This device is signed out.");
                  endSession();
                  return;
                }
                announce("Device signed out.");
                await load();
              }),
          }, "Sign out"),
        );
        return h(
          "li",
          { class: "item", "data-device-id": device.id },
          h(
            "div",
            { class: "item-main" },
            h("strong", {}, label),
            device.current ? h("span", { class: "badge badge-current" }, "this device") : null,
            h("span", { class: "meta" }, `Signed in ${formatDateTime(device.createdAt)} · last active ${formatDateTime(device.lastUsedAt)} · expires ${formatDateTime(device.expiresAt)}`),
            device.label && deviceName(device.label) !== device.label
              ? h("details", { class: "device-details" }, h("summary", {}, "Technical details"), h("span", { class: "meta device-agent" }, device.label))
              : null,
          ),
          actions,
        );
      }),
    );
  }
  return { section, load };
}

async function download(path, extension, what) {
  announce("Preparing your export…");
  const response = await fetchRaw(path);
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: `healthplatform-export-${new Date().toISOString().slice(0, 10)}.${extension}`, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  announce(`Export downloaded (${formatBytes(blob.size)}, ${what}).`);
}

const exportData = () => download("/v1/me/export", "jsonl", "JSON lines");
const exportZip = () => download("/v1/me/export.zip", "zip", "ZIP: original files, CSV and JSON lines");

function dataSection() {
  return h(
    "section",
    { class: "card", "aria-labelledby": "data-heading" },
    h("h2", { id: "data-heading" }, "Your data"),
    h("p", {}, "Download everything derived from your uploads (uploads, daily metrics, narratives) as JSON lines, or everything in one ZIP: your original files as uploaded, CSV tables of your records and days, and the JSON lines."),
    h("div", { class: "button-row" }, actionButton("Export my data", exportData), actionButton("Download everything (ZIP)", exportZip)),
    ...deletionParts(),
  );
}

const PLACED = { record: "their own zone", inferred: "your inferred zone", set: "the zone you set", utc: "UTC (no zone known)" };

function zoneSection(ctx) {
  const status = h("p", { class: "zone-now" });
  const detail = h("p", { class: "hint" });
  const zoneInput = h("input", { name: "zone", type: "text", list: "zone-names", placeholder: "Europe/Paris", autocomplete: "off", spellcheck: "false" });
  const fromInput = h("input", { name: "from", type: "date" });
  const names = h("datalist", { id: "zone-names" });
  for (const name of Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : []) names.append(h("option", { value: name }));
  const save = h("button", { type: "submit" }, "Use this zone");
  const auto = h("button", { type: "button" }, "Infer it from my records");
  const form = h(
    "form",
    { class: "zone-form" },
    field("Time zone (IANA name)", zoneInput, "Records stamped UTC by an app, or without a zone, are placed in it."),
    field("From (optional)", fromInput, "Leave empty to apply it to all your days."),
    names,
    h("div", { class: "button-row" }, save, auto),
  );
  const section = h(
    "section",
    { class: "card", "aria-labelledby": "zone-heading" },
    h("h2", { id: "zone-heading" }, "Time zone"),
    status,
    detail,
    form,
  );
  function show(state) {
    const now = state.current;
    status.textContent =
      now.source === "set" ? `Your zone: ${now.zone} (${now.offset}), as you set it.`
      : now.source === "inferred" ? `Your zone: ${now.offset}, inferred from the records that carry one.`
      : "No zone known yet: times are shown in UTC.";
    const placed = Object.entries(state.records_placed ?? {}).filter(([, n]) => n).map(([k, n]) => `${plural(n, "record")} by ${PLACED[k] ?? k}`);
    const apps = state.apps_stamping_utc?.length ? ` Apps that stamp UTC: ${state.apps_stamping_utc.join(", ")}.` : "";
    detail.textContent = placed.length ? `Placed: ${placed.join("; ")}.${apps}` : "";
  }
  async function change(zone) {
    const body = { zone };
    if (fromInput.value) body.from = fromInput.value;
    try {
      show(await call("PUT", "/v1/me/timezone", body));
      announce("Saved: your days are being recalculated.");
    } catch (error) {
      showError(failure(error));
    }
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (zoneInput.value.trim()) change(zoneInput.value.trim());
  });
  auto.addEventListener("click", () => change("auto"));
  async function load() {
    const state = await call("GET", "/v1/me/timezone");
    if (!ctx.signal.aborted) show(state);
  }
  return { section, load };
}

function trainingSection(ctx) {
  const statement = h("p", {});
  const status = h("p", { class: "consent-now" });
  const box = h("input", { type: "checkbox", name: "ai-training" });
  const label = h("label", { class: "consent" }, box, " Use my narratives to train AI models");
  const section = h(
    "section",
    { class: "card", "aria-labelledby": "training-heading" },
    h("h2", { id: "training-heading" }, "AI training"),
    statement,
    label,
    status,
  );
  function show(state) {
    statement.textContent = state.statement;
    box.checked = state.granted;
    status.textContent = state.decided_at
      ? `${state.granted ? "Yes" : "No"} since ${formatDateTime(state.decided_at)} (statement of ${state.version}).`
      : "You have not answered: nothing of yours is used for training.";
  }
  box.addEventListener("change", async () => {
    try {
      show(await call("PUT", "/v1/me/consent/ai-training", { granted: box.checked }));
      announce(box.checked ? "Saved: your narratives may be used for AI training." : "Saved: nothing of yours is used for training; existing examples were deleted.");
    } catch (error) {
      box.checked = !box.checked;
      showError(failure(error));
    }
  });
  async function load() {
    const state = await call("GET", "/v1/me/consent/ai-training");
    if (!ctx.signal.aborted) show(state);
  }
  return { section, load };
}

export async function render(main, _params, ctx) {
  const passkeys = passkeysSection(ctx);
  const devices = devicesSection(ctx);
  const zone = zoneSection(ctx);
  const training = trainingSection(ctx);
  replace(main, h("h1", {}, "Account"), passkeys.section, devices.section, zone.section, training.section, dataSection());
  const results = await Promise.allSettled([passkeys.load(), devices.load(), zone.load(), training.load()]);
  const failed = results.find((r) => r.status === "rejected");
  if (failed && !ctx.signal.aborted) showError(failure(failed.reason));
}
