// Sign in (with a username, or usernameless) and sign up with a passkey.

import { ApiError } from "../api.js";
import { passkeyErrorText, passkeysSupported, signIn, signUp } from "../auth.js";
import { announce, field, flash, h, replace, showError } from "../dom.js";

function errorText(error) {
  return error instanceof ApiError ? error.message : passkeyErrorText(error);
}

/** Run `action` with the form's submit button disabled; report its outcome. */
async function busy(form, waiting, action) {
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  form.setAttribute("aria-busy", "true");
  announce(waiting);
  try {
    await action();
  } catch (error) {
    showError(errorText(error));
  } finally {
    button.disabled = false;
    form.removeAttribute("aria-busy");
  }
}

function unsupported() {
  return passkeysSupported()
    ? null
    : h("p", { class: "notice notice-error" }, "This browser does not support passkeys. Use a current browser on a device with a screen lock.");
}

function signInForm(ctx) {
  const user = h("input", { name: "username", type: "text", autocomplete: "username", autocapitalize: "none", spellcheck: "false", maxlength: 64 });
  const form = h(
    "form",
    { class: "card form", novalidate: true },
    field("Username (optional)", user, "Leave it empty to choose from the passkeys this device has for this site."),
    h("button", { type: "submit", class: "primary", disabled: !passkeysSupported() }, "Sign in with a passkey"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const name = user.value.trim();
    busy(form, "Waiting for your passkey…", async () => {
      const tokens = await signIn(name || null);
      flash(`Signed in as ${tokens.username}.`);
      ctx.afterSignIn();
    });
  });
  return [
    h("h1", {}, "Sign in"),
    h("p", { class: "lead" }, "Sign in with the passkey saved on this device, a security key or your phone. There is no password."),
    unsupported(),
    form,
    h("p", {}, "New here? ", h("a", { href: "#/signup" }, "Create an account"), "."),
  ];
}

function signUpForm(ctx) {
  const user = h("input", { name: "username", type: "text", required: true, autocomplete: "username", autocapitalize: "none", spellcheck: "false", maxlength: 64 });
  const display = h("input", { name: "displayName", type: "text", autocomplete: "name", maxlength: 64 });
  const form = h(
    "form",
    { class: "card form", novalidate: true },
    field("Username", user, "1 to 64 characters; it is stored in lower case."),
    field("Display name (optional)", display, "Shown by your device when it offers the passkey."),
    h("button", { type: "submit", class: "primary", disabled: !passkeysSupported() }, "Create account with a passkey"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const name = user.value.trim();
    if (!name) {
      user.setAttribute("aria-invalid", "true");
      showError("Enter a username.");
      user.focus();
      return;
    }
    user.removeAttribute("aria-invalid");
    busy(form, "Creating your passkey… your device will then ask you to use it once to sign in.", async () => {
      const tokens = await signUp(name, display.value.trim());
      flash(`Account created. Signed in as ${tokens.username}.`);
      ctx.afterSignIn();
    });
  });
  return [
    h("h1", {}, "Create an account"),
    h("p", { class: "lead" }, "Your device creates a passkey for this site: no password to remember or leak. Your device asks twice: once to create the passkey, once to sign in with it."),
    unsupported(),
    form,
    h("p", {}, "Already have an account? ", h("a", { href: "#/signin" }, "Sign in"), "."),
  ];
}

export function render(main, params, ctx) {
  replace(main, h("section", { class: "narrow" }, params.mode === "signup" ? signUpForm(ctx) : signInForm(ctx)));
}
