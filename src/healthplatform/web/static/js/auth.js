// Passkeys (WebAuthn) against the auth service's wire contract: options arrive wrapped in
// `publicKey` with binary fields as base64url (no padding); the credential goes back as a JSON
// *string* of the PublicKeyCredential with its binary fields base64url-encoded.

import { call, publicCall, startSession } from "./api.js";

export const base64url = {
  /** ArrayBuffer | TypedArray -> base64url without padding. */
  encode(buffer) {
    const bytes = buffer instanceof ArrayBuffer ? new Uint8Array(buffer) : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    let text = "";
    for (const byte of bytes) text += String.fromCharCode(byte);
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  },
  /** base64url (padding optional) -> ArrayBuffer. */
  decode(value) {
    const b64 = value.replace(/-/g, "+").replace(/_/g, "/");
    const text = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
    return Uint8Array.from(text, (ch) => ch.charCodeAt(0)).buffer;
  },
};

export function passkeysSupported() {
  return typeof window.PublicKeyCredential === "function" && Boolean(navigator.credentials);
}

const descriptors = (list) => (list ?? []).map((c) => ({ ...c, id: base64url.decode(c.id) }));

function creationOptions(options) {
  return {
    ...options,
    challenge: base64url.decode(options.challenge),
    user: { ...options.user, id: base64url.decode(options.user.id) },
    excludeCredentials: descriptors(options.excludeCredentials),
  };
}

function requestOptions(options) {
  return {
    ...options,
    challenge: base64url.decode(options.challenge),
    allowCredentials: descriptors(options.allowCredentials),
  };
}

/** The PublicKeyCredential as the JSON string the server expects. */
export function credentialJson(credential) {
  const r = credential.response;
  const out = {
    id: credential.id,
    rawId: base64url.encode(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment ?? undefined,
    clientExtensionResults: credential.getClientExtensionResults(),
    response: { clientDataJSON: base64url.encode(r.clientDataJSON) },
  };
  if (r.attestationObject) {
    out.response.attestationObject = base64url.encode(r.attestationObject);
    out.response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
  } else {
    out.response.authenticatorData = base64url.encode(r.authenticatorData);
    out.response.signature = base64url.encode(r.signature);
    if (r.userHandle) out.response.userHandle = base64url.encode(r.userHandle);
  }
  return JSON.stringify(out);
}

/** A readable message for a WebAuthn DOMException (others pass through). */
export function passkeyErrorText(error) {
  switch (error?.name) {
    case "NotAllowedError":
      return "The passkey request was cancelled or timed out. Please try again.";
    case "InvalidStateError":
      return "This authenticator already holds a passkey for this account.";
    case "SecurityError":
      return "Passkeys are not allowed on this address (the site must be served over HTTPS or from localhost).";
    case "NotSupportedError":
      return "This device does not support the required passkey type.";
    default:
      return error?.message || String(error);
  }
}

async function create(options) {
  const credential = await navigator.credentials.create({ publicKey: creationOptions(options) });
  if (!credential) throw new Error("no passkey was created");
  return credentialJson(credential);
}

/** Sign in with a passkey; without a username any discoverable passkey of this site answers. */
export async function signIn(username) {
  const start = await publicCall("POST", "/authenticate/start", username ? { username } : {});
  const options = start.publicKeyCredentialRequestOptions.publicKey;
  const credential = await navigator.credentials.get({ publicKey: requestOptions(options) });
  if (!credential) throw new Error("no passkey was chosen");
  const tokens = await publicCall("POST", "/authenticate/complete", {
    requestId: start.requestId,
    credential: credentialJson(credential),
  });
  startSession(tokens);
  return tokens;
}

/** Create the account with its first passkey, then sign in with it. */
export async function signUp(username, displayName) {
  const start = await publicCall("POST", "/register/start", {
    username,
    displayName: displayName || undefined,
  });
  const credential = await create(start.publicKeyCredentialCreationOptions.publicKey);
  await publicCall("POST", "/register/complete", { requestId: start.requestId, credential });
  return signIn(username);
}

/** Add one more passkey to the signed-in account. */
export async function addPasskey(name) {
  const start = await call("POST", "/passkeys/register/start", name ? { name } : {});
  const credential = await create(start.publicKeyCredentialCreationOptions.publicKey);
  return call("POST", "/passkeys/register/complete", { requestId: start.requestId, credential });
}
