// Deleting my data, and deleting my account (issue 19 item 6): each behind a form that
// asks to type DELETE. The account goes in two calls: the health data (the Health API's
// DELETE /v1/me/data), then the account itself (the auth service's DELETE /account, which
// ends every session); then this device forgets its tokens.

import { ApiError, call, endSession } from "../api.js";
import { passkeyErrorText } from "../auth.js";
import { announce, field, flash, h, plural, showError } from "../dom.js";

const CONFIRM_WORD = "DELETE";
const failure = (error) => (error instanceof ApiError ? error.message : passkeyErrorText(error));

/**
 * A "<label>…" button opening a form that asks to type CONFIRM_WORD before `onConfirm`
 * runs (`onConfirm` reports its own outcome; it throws to keep the form open).
 */
function typedConfirmation({ id, label, text, confirmLabel, submitLabel, onConfirm }) {
  const confirmInput = h("input", { name: "confirm", type: "text", autocomplete: "off", autocapitalize: "characters", spellcheck: "false" });
  const confirmButton = h("button", { type: "submit", class: "danger", disabled: true }, submitLabel);
  const cancel = h("button", { type: "button" }, "Cancel");
  const start = h("button", { type: "button", class: "danger-outline", "aria-expanded": "false", "aria-controls": id }, `${label}…`);
  const confirmForm = h(
    "form",
    { id, class: "danger-zone", hidden: true },
    ...text.map((paragraph) => h("p", {}, paragraph)),
    field(confirmLabel, confirmInput),
    h("div", { class: "button-row" }, confirmButton, cancel),
  );
  const toggle = (open) => {
    confirmForm.hidden = !open;
    start.setAttribute("aria-expanded", String(open));
    confirmInput.value = "";
    confirmButton.disabled = true;
    (open ? confirmInput : start).focus();
  };
  start.addEventListener("click", () => toggle(true));
  cancel.addEventListener("click", () => toggle(false));
  confirmInput.addEventListener("input", () => {
    confirmButton.disabled = confirmInput.value.trim() !== CONFIRM_WORD;
  });
  confirmForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (confirmInput.value.trim() !== CONFIRM_WORD) return;
    confirmButton.disabled = true;
    try {
      await onConfirm();
      if (start.isConnected) toggle(false);
    } catch {
      confirmButton.disabled = false;
    }
  });
  return [h("div", { class: "button-row" }, start), confirmForm];
}

async function deleteData() {
  announce("Deleting your data…");
  try {
    const erased = await call("DELETE", "/v1/me/data");
    announce(
      `Your data is deleted: ${plural(erased.uploads_deleted, "upload")}, ` +
        `${plural(erased.derived_rows_deleted, "derived record")} and ${plural(erased.objects_deleted, "stored file")}.`,
    );
  } catch (error) {
    showError(`Nothing was deleted: ${failure(error)}`);
    throw error;
  }
}

/** The health data first (the Health API's), then the account (the auth service's). */
async function deleteAccount() {
  announce("Deleting your data and your account…");
  try {
    await call("DELETE", "/v1/me/data");
  } catch (error) {
    showError(`Nothing was deleted: ${failure(error)}`);
    throw error;
  }
  try {
    await call("DELETE", "/account");
  } catch (error) {
    showError(`Your health data is deleted, but your account is not: ${failure(error)} Try again.`);
    throw error;
  }
  flash("Your account is deleted: your health data, passkeys and sessions are gone. You can also remove the passkey from your device's password manager.");
  endSession();
}

/** The "Delete my data" and "Delete my account" parts of the Account page's data card. */
export function deletionParts() {
  return [
    h("h3", {}, "Delete my data"),
    ...typedConfirmation({
      id: "delete-confirm",
      label: "Delete my data",
      text: ["This permanently deletes every upload, stored file, daily metric, journal and training example of yours. Your account and passkeys stay. It cannot be undone."],
      confirmLabel: `Type ${CONFIRM_WORD} to confirm`,
      submitLabel: "Delete permanently",
      onConfirm: deleteData,
    }),
    h("h3", {}, "Delete my account"),
    ...typedConfirmation({
      id: "delete-account-confirm",
      label: "Delete my account",
      text: [
        "This permanently deletes your account: all your health data (every upload, stored file, daily metric, journal and training example), your passkeys and every signed-in session, on all your devices. Your username becomes free. It cannot be undone.",
        "Want a copy? Use “Download everything (ZIP)” above first.",
      ],
      confirmLabel: `To delete your account, type ${CONFIRM_WORD}`,
      submitLabel: "Delete my account permanently",
      onConfirm: deleteAccount,
    }),
  ];
}
