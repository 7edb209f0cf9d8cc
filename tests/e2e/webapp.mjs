// Drives the web app in Debian's Chromium (playwright-core, a CDP virtual authenticator)
// through its screens the way a person would: sign up, sign out, usernameless sign in,
// upload, history, day view, account, export, delete my data.
// Usage: node webapp.mjs --url URL --username NAME --samples DIR --day YYYY-MM-DD --artifacts DIR
// Prints one JSON line with what it observed; exits non-zero on any failure.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const { values: args } = parseArgs({
  options: {
    url: { type: "string" },
    username: { type: "string" },
    samples: { type: "string" },
    day: { type: "string" },
    artifacts: { type: "string" },
    chromium: { type: "string", default: "/usr/bin/chromium" },
  },
});
for (const name of ["url", "username", "samples", "day", "artifacts"]) {
  if (!args[name]) throw new Error(`--${name} is required`);
}
mkdirSync(args.artifacts, { recursive: true });
const samples = readdirSync(args.samples)
  .filter((name) => name.endsWith(".avro"))
  .sort()
  .map((name) => join(args.samples, name));
const profile = mkdtempSync(join(tmpdir(), "hp-webapp-"));
const result = { ok: false, steps: {}, consoleErrors: [], failedRequests: [], unlabelled: {} };
const LONG = 120_000;

const context = await chromium.launchPersistentContext(profile, {
  executablePath: args.chromium,
  headless: true,
  acceptDownloads: true,
  viewport: { width: 1280, height: 900 },
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
// CSP violations are collected by an init script (injected by the browser, not by the page)
await context.addInitScript(() => {
  window.__csp = [];
  document.addEventListener("securitypolicyviolation", (e) => {
    window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
  });
});
const page = context.pages()[0] ?? (await context.newPage());
page.setDefaultTimeout(60_000); // generous: CI shares two cores with the servers
page.on("console", (msg) => {
  if (msg.type() !== "error") return;
  // a refused request is logged by Chromium as "Failed to load resource"; those are
  // recorded from the network side (failedRequests) and checked by the test
  if (!msg.text().startsWith("Failed to load resource")) result.consoleErrors.push(msg.text());
});
page.on("pageerror", (error) => result.consoleErrors.push(`pageerror: ${error.message}`));
page.on("response", (response) => {
  if (response.status() >= 400) {
    result.failedRequests.push(`${response.request().method()} ${new URL(response.url()).pathname} ${response.status()}`);
  }
});

const shot = (name) => page.screenshot({ path: join(args.artifacts, `${name}.png`), fullPage: true });
const statusText = () => page.locator("#status").textContent();
const alertText = () => page.locator("#alert").textContent();
const nav = (name) => page.locator("#nav").getByRole("link", { name, exact: true }).click();
const hash = () => page.evaluate(() => location.hash);

async function waitHash(expected) {
  await page.waitForFunction((h) => location.hash === h, expected);
}

/** Inputs and selects on the screen without an accessible label. */
async function unlabelled(screen) {
  result.unlabelled[screen] = await page.evaluate(() =>
    [...document.querySelectorAll("input, select, textarea")]
      .filter((el) => !el.labels?.length && !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby"))
      .map((el) => el.name || el.type),
  );
}

async function waitForStatus(pattern) {
  await page.waitForFunction((source) => new RegExp(source).test(document.getElementById("status").textContent), pattern.source);
  return statusText();
}

async function historyRows() {
  return page.locator(".history-table tbody tr").evaluateAll((rows) => rows.map((r) => r.dataset.status));
}

try {
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const authenticatorOptions = {
    protocol: "ctap2",
    transport: "internal",
    hasResidentKey: true,
    hasUserVerification: true,
    isUserVerified: true,
  };
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", { options: authenticatorOptions });

  // --- first visit, keyboard: the skip link comes first -----------------------------------------
  await page.goto(args.url);
  await waitHash("#/signin");
  await page.keyboard.press("Tab");
  result.steps.firstTab = await page.evaluate(() => document.activeElement?.textContent?.trim());
  const headers = await page.evaluate(async () => {
    const r = await fetch("/");
    return { csp: r.headers.get("content-security-policy"), nosniff: r.headers.get("x-content-type-options") };
  });
  result.steps.headers = headers;

  // --- sign up -------------------------------------------------------------------------------
  await page.getByRole("link", { name: "Create account" }).first().click();
  await waitHash("#/signup");
  await unlabelled("signup");
  await page.getByLabel("Username", { exact: true }).fill(args.username);
  await page.getByLabel("Display name (optional)").fill("Web App Tester");
  await page.getByRole("button", { name: "Create account with a passkey" }).click();
  await waitHash("#/upload");
  result.steps.signup = {
    user: await page.locator(".user-name").textContent(),
    status: await waitForStatus(/Signed in/),
  };

  // --- sign out, then usernameless sign in -------------------------------------------------------
  await page.getByRole("button", { name: "Sign out" }).click();
  await waitHash("#/signin");
  result.steps.signout = { status: await waitForStatus(/signed out/), user: await page.locator(".user-name").count() };
  await unlabelled("signin");
  await page.getByLabel("Username (optional)").fill("");
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await waitHash("#/upload");
  result.steps.signin = { user: await page.locator(".user-name").textContent(), status: await waitForStatus(/Signed in/) };

  // --- upload: the samples, one repeat, one broken file ------------------------------------------
  await unlabelled("upload");
  await page.getByLabel("Health Connect files (.avro)").setInputFiles(samples);
  const total = samples.length;
  await page.waitForFunction((n) => document.querySelector(".upload-summary")?.textContent.startsWith(`${n} of ${n} files done`), total, { timeout: LONG });
  await page.getByLabel("Health Connect files (.avro)").setInputFiles([
    { name: samples[0].split("/").pop(), mimeType: "application/octet-stream", buffer: readFileSync(samples[0]) },
    { name: "StepsRecord_1758407139312.avro", mimeType: "application/octet-stream", buffer: Buffer.from("not an avro file") },
    { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("hello") },
  ]);
  await page.waitForFunction((n) => document.querySelector(".upload-summary")?.textContent.startsWith(`${n} of ${n} files done`), total + 3, { timeout: LONG });
  const rows = await page.locator(".file-row").evaluateAll((els) =>
    els.map((el) => ({
      name: el.querySelector(".file-name").textContent,
      state: el.dataset.state,
      text: el.querySelector(".file-status").textContent,
      progress: el.querySelector("progress").value,
    })),
  );
  result.steps.upload = {
    summary: await page.locator(".upload-summary").textContent(),
    status: await statusText(),
    states: rows.map((r) => r.state),
    accepted100: rows.filter((r) => r.state === "accepted").every((r) => r.progress === 100),
    repeat: rows[total],
    broken: rows[total + 1],
    notAvro: rows[total + 2],
  };
  await shot("upload");

  // --- history: live status until every upload completed, filters --------------------------------
  await nav("History");
  await waitHash("#/history");
  await unlabelled("history");
  const sawBusy = await page.evaluate(() => document.querySelector(".history-summary")?.dataset.busy === "true");
  await page.waitForFunction(
    (n) => {
      const rows = [...document.querySelectorAll(".history-table tbody tr")];
      return rows.length === n && rows.every((r) => r.dataset.status === "completed");
    },
    total,
    { timeout: LONG },
  );
  const historyStatus = await page.locator(".history-summary").textContent();
  await shot("history");
  await page.getByLabel("Record type").selectOption("BloodGlucoseRecord");
  await page.waitForFunction(() => document.querySelectorAll(".history-table tbody tr").length === 3);
  const glucoseRows = (await historyRows()).length;
  await page.getByLabel("Status").selectOption("failed");
  await page.waitForFunction(() => !document.querySelector(".empty").hidden);
  const failedEmpty = await page.locator(".empty").isVisible();
  await page.getByLabel("Record type").selectOption("");
  await page.getByLabel("Status").selectOption("");
  await page.waitForFunction((n) => document.querySelectorAll(".history-table tbody tr").length === n, total);
  result.steps.history = { summary: historyStatus, sawBusy, rows: await historyRows(), glucoseRows, failedEmpty };

  // --- a reload keeps the session: no access token is stored, one refresh gets a new one ----------
  const refreshes = [];
  const onRequest = (request) => {
    if (new URL(request.url()).pathname === "/token/refresh") refreshes.push(request.method());
  };
  page.on("request", onRequest);
  await page.reload();
  await page.waitForFunction((n) => document.querySelectorAll(".history-table tbody tr").length === n, total);
  page.off("request", onRequest);
  result.steps.reload = {
    refreshes,
    stored: await page.evaluate(() => Object.keys(JSON.parse(localStorage.getItem("hp.session")) ?? {}).sort()),
    storageKeys: await page.evaluate(() => [...Array(localStorage.length).keys()].map((i) => localStorage.key(i))),
    sessionStorage: await page.evaluate(() => sessionStorage.length),
    user: await page.locator(".user-name").textContent(),
  };

  // --- day view: latest day first, then the previous day ------------------------------------------
  await nav("Days");
  await page.waitForFunction(() => /^#\/day\/\d{4}-\d{2}-\d{2}$/.test(location.hash));
  await page.locator(".highlights").waitFor();
  const latest = await hash();
  await page.getByLabel("Days with data").selectOption(args.day);
  await page.getByRole("button", { name: "Show" }).click();
  await waitHash(`#/day/${args.day}`);
  await page.locator(".highlights").waitFor();
  await page.getByRole("link", { name: /Next day/ }).click();
  await page.locator(".highlights").waitFor();
  const afterNext = await hash();
  await page.getByRole("link", { name: /Previous day/ }).click();
  await waitHash(`#/day/${args.day}`);
  await page.locator(".chart-glucose svg").waitFor();
  await unlabelled("day");
  await page.locator(".journal-details summary").click(); // the full journal is folded
  result.steps.day = await page.evaluate(() => {
    const count = (selector) => document.querySelectorAll(selector).length;
    const svgs = [...document.querySelectorAll(".charts svg")];
    return {
      heading: document.querySelector("h1").textContent,
      journal: document.querySelector(".journal").innerText,
      clock: document.querySelector(".day-clock")?.textContent ?? "",
      tiles: [...document.querySelectorAll(".tile")].map((t) => t.innerText.replace(/\n/g, ": ")),
      glucosePath: document.querySelector(".chart-glucose path.line-glucose")?.getAttribute("d")?.length ?? 0,
      glucoseBand: count(".chart-glucose rect.band"),
      bandHeight: Number(document.querySelector(".chart-glucose rect.band")?.getAttribute("height") ?? 0),
      heartPath: document.querySelector(".chart-heart path.line-heart")?.getAttribute("d")?.length ?? 0,
      stages: count(".chart-sleep rect.stage"),
      stepBars: count(".chart-steps rect.bar"),
      kcalBars: count(".chart-kcal rect.bar"),
      hourTicks: [...document.querySelectorAll(".chart-glucose .axis text")].map((t) => t.textContent).filter((t) => t.includes(":")),
      accessible: svgs.every((s) => s.getAttribute("role") === "img" && s.querySelector("title")?.textContent && s.querySelector("desc")?.textContent),
      charts: svgs.length,
      tables: count(".charts .sr-only table"),
      summaries: [...document.querySelectorAll(".chart-summary")].map((p) => p.textContent),
    };
  });
  result.steps.day.latest = latest;
  result.steps.day.afterNext = afterNext;
  await shot("day");

  // --- phone width ------------------------------------------------------------------------------
  await page.setViewportSize({ width: 360, height: 780 });
  await page.waitForTimeout(300); // the charts redraw for the new width
  const overflow = async () => page.evaluate(() => document.documentElement.scrollWidth);
  result.steps.phone = { dayWidth: await overflow(), chartWidth: await page.locator(".chart-glucose svg").evaluate((s) => s.getBoundingClientRect().width) };
  await shot("day-phone");
  await nav("History");
  await page.locator(".history-table tbody tr").first().waitFor();
  result.steps.phone.historyWidth = await overflow();
  await shot("history-phone");
  await nav("Upload");
  await page.locator(".dropzone").waitFor();
  result.steps.phone.uploadWidth = await overflow();
  await shot("upload-phone");
  await page.setViewportSize({ width: 1280, height: 900 });

  // --- account: passkeys, devices ------------------------------------------------------------------
  await nav("Account");
  await waitHash("#/account");
  await page.locator("[data-passkey-id]").first().waitFor();
  await page.locator("[data-device-id]").first().waitFor();
  await unlabelled("account");
  result.steps.account = {
    passkeys: await page.locator("[data-passkey-id]").count(),
    devices: await page.locator("[data-device-id]").count(),
    currentDevice: await page.locator("[data-device-id] .badge-current").count(),
  };
  await shot("account");
  // a second passkey needs an authenticator that does not hold the first one
  await cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId });
  await cdp.send("WebAuthn.addVirtualAuthenticator", { options: authenticatorOptions });
  await page.getByLabel("Name of the new passkey (optional)").fill("Second key");
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await waitForStatus(/Passkey added/);
  await page.waitForFunction(() => document.querySelectorAll("[data-passkey-id]").length === 2);
  result.steps.account.afterAdd = await page.locator("[data-passkey-id] strong").allTextContents();
  await page.getByRole("button", { name: "Remove passkey Second key" }).click();
  await page.getByRole("button", { name: "Yes, remove" }).click();
  await waitForStatus(/removed/);
  await page.waitForFunction(() => document.querySelectorAll("[data-passkey-id]").length === 1);
  result.steps.account.afterRemove = await page.locator("[data-passkey-id] strong").allTextContents();

  // --- export -------------------------------------------------------------------------------------
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Export my data" }).click(),
  ]);
  const exportPath = join(args.artifacts, "export.jsonl");
  await download.saveAs(exportPath);
  const lines = readFileSync(exportPath, "utf8").split("\n").filter(Boolean).map((line) => JSON.parse(line));
  const kinds = {};
  for (const line of lines) kinds[line.type] = (kinds[line.type] ?? 0) + 1;
  result.steps.export = { filename: download.suggestedFilename(), lines: lines.length, kinds, status: await waitForStatus(/Export downloaded/) };

  // --- delete my data with the typed confirmation --------------------------------------------------
  await page.getByRole("button", { name: "Delete my data…" }).click();
  const confirmButton = page.getByRole("button", { name: "Delete permanently" });
  const disabledBefore = await confirmButton.isDisabled();
  await page.getByLabel("Type DELETE to confirm").fill("delete");
  const disabledLowercase = await confirmButton.isDisabled();
  await page.getByLabel("Type DELETE to confirm").fill("DELETE");
  await confirmButton.click();
  const deleted = await waitForStatus(/Your data is deleted/);
  await nav("History");
  await page.waitForFunction(() => document.querySelector(".history-summary")?.textContent.startsWith("No uploads"));
  result.steps.delete = {
    disabledBefore,
    disabledLowercase,
    status: deleted,
    historyAfter: await page.locator(".history-summary").textContent(),
    rowsAfter: (await historyRows()).length,
    emptyShown: await page.locator(".empty").isVisible(),
  };
  await shot("history-after-delete");
  await nav("Days");
  await page.getByText("No days with data yet").waitFor();
  result.steps.delete.daysAfter = await page.locator("main .empty").textContent();

  // --- delete my account: typed confirmation, signed out, the passkey no longer signs in, -------
  // --- the username registers again --------------------------------------------------------------
  const failedBefore = result.failedRequests.length;
  await nav("Account");
  await page.getByRole("button", { name: "Delete my account…" }).click();
  const accountForm = page.locator("#delete-account-confirm");
  const warning = await accountForm.locator("p").allTextContents();
  const accountConfirm = page.getByRole("button", { name: "Delete my account permanently" });
  const accountDisabledBefore = await accountConfirm.isDisabled();
  await page.getByLabel("To delete your account, type DELETE").fill("DELETE");
  await shot("account-delete-confirm");
  const calls = [];
  const onDelete = (request) => {
    if (request.method() === "DELETE") calls.push(new URL(request.url()).pathname);
  };
  page.on("request", onDelete);
  await accountConfirm.click();
  await waitHash("#/signin");
  page.off("request", onDelete);
  result.steps.deleteAccount = {
    warning,
    disabledBefore: accountDisabledBefore,
    calls,
    status: await waitForStatus(/account is deleted/),
    user: await page.locator(".user-name").count(),
    tokensKept: await page.evaluate(() => Object.keys(localStorage).filter((k) => localStorage.getItem(k)?.includes("refresh"))),
  };
  await shot("account-deleted");
  await page.getByLabel("Username (optional)").fill("");
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await page.waitForFunction(() => document.getElementById("alert").textContent.trim() !== "");
  result.steps.deleteAccount.signInAlert = await alertText();
  result.steps.deleteAccount.hashAfterSignIn = await hash();
  await page.getByRole("link", { name: "Create account" }).first().click();
  await waitHash("#/signup");
  await page.getByLabel("Username", { exact: true }).fill(args.username);
  await page.getByRole("button", { name: "Create account with a passkey" }).click();
  await waitHash("#/upload");
  result.steps.deleteAccount.again = { user: await page.locator(".user-name").textContent(), status: await waitForStatus(/Signed in/) };
  await nav("History");
  await page.waitForFunction(() => document.querySelector(".history-summary")?.textContent.startsWith("No uploads"));
  result.steps.deleteAccount.failedRequests = result.failedRequests.splice(failedBefore);

  result.csp = await page.evaluate(() => window.__csp);
  result.alert = await alertText();
  result.ok = true;
} catch (error) {
  result.error = String(error?.stack ?? error);
  result.at = await hash().catch(() => null);
  result.alert = await alertText().catch(() => null);
  await shot("failure").catch(() => {});
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
