// Drives Debian's Chromium with playwright-core and a CDP virtual authenticator through
// registration, login with a username, usernameless login and a protected call.
// Usage: node passkey.mjs --page URL --api URL --username NAME --artifacts DIR
// Prints one JSON line with the results; exits non-zero on any failure.
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const { values: args } = parseArgs({
  options: {
    page: { type: "string" },
    api: { type: "string" },
    username: { type: "string" },
    artifacts: { type: "string" },
    chromium: { type: "string", default: "/usr/bin/chromium" },
  },
});
for (const name of ["page", "api", "username", "artifacts"]) {
  if (!args[name]) throw new Error(`--${name} is required`);
}
mkdirSync(args.artifacts, { recursive: true });
const profile = mkdtempSync(join(tmpdir(), "hp-chromium-"));
const result = { ok: false, steps: [] };

const context = await chromium.launchPersistentContext(profile, {
  executablePath: args.chromium,
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
  ],
});
const page = context.pages()[0] ?? (await context.newPage());
const shot = (name) => page.screenshot({ path: join(args.artifacts, `${name}.png`), fullPage: true });
try {
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
    },
  });
  await page.goto(args.page);
  result.browser = context.browser()?.version() ?? "chromium";

  const registered = await page.evaluate((u) => window.hp.register(u, "E2E User"), args.username);
  result.steps.push({ step: "register", success: registered.success });
  await shot("1-registered");

  const named = await page.evaluate((u) => window.hp.login(u), args.username);
  result.steps.push({ step: "login", username: named.username, expires_in: named.expires_in });
  const usernameless = await page.evaluate(() => window.hp.login(null));
  result.steps.push({ step: "usernameless", username: usernameless.username });
  await shot("2-signed-in");

  const list = await page.evaluate((t) => window.hp.passkeys(t), usernameless.access_token);
  result.steps.push({ step: "passkeys", count: list.passkeys.length });
  await shot("3-protected-call");

  const history = await fetch(`${args.api}/v1/upload/history`, {
    headers: { authorization: `Bearer ${usernameless.access_token}` },
  });
  result.steps.push({ step: "health-api", status: history.status });
  const forged = usernameless.access_token.slice(0, -6) + "AAAAAA";
  const refused = await fetch(`${args.api}/v1/upload/history`, {
    headers: { authorization: `Bearer ${forged}` },
  });
  result.steps.push({ step: "health-api-forged", status: refused.status });

  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  result.credentials = credentials.map((c) => ({ resident: c.isResidentCredential, signCount: c.signCount }));
  result.ok = true;
} catch (error) {
  result.error = String(error?.stack ?? error);
  await shot("failure").catch(() => {});
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
