// Issue 19 in a real browser (Debian Chromium, playwright-core, a CDP virtual authenticator):
// sign up, upload the sample files, then read every day the way a person would and report
// what each page shows (clock, tiles, journal, chart summaries), at 1280x800 and 390x844.
// Usage: node issue19.mjs --url URL --username NAME --samples DIR --artifacts DIR
// Prints one JSON line with what it observed; exits non-zero on any failure.
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const { values: args } = parseArgs({
  options: {
    url: { type: "string" },
    username: { type: "string" },
    samples: { type: "string" },
    artifacts: { type: "string" },
    chromium: { type: "string", default: "/usr/bin/chromium" },
  },
});
for (const name of ["url", "username", "samples", "artifacts"]) {
  if (!args[name]) throw new Error(`--${name} is required`);
}
mkdirSync(args.artifacts, { recursive: true });
const samples = readdirSync(args.samples)
  .filter((name) => name.endsWith(".avro"))
  .sort()
  .map((name) => join(args.samples, name));
const profile = mkdtempSync(join(tmpdir(), "hp-issue19-"));
const result = { ok: false, steps: {}, consoleErrors: [], failedRequests: [] };
const LONG = 120_000;
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

const context = await chromium.launchPersistentContext(profile, {
  executablePath: args.chromium,
  headless: true,
  acceptDownloads: true,
  viewport: DESKTOP,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"],
});
const page = context.pages()[0] ?? (await context.newPage());
page.setDefaultTimeout(60_000);
page.on("console", (msg) => {
  if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource")) result.consoleErrors.push(msg.text());
});
page.on("pageerror", (error) => result.consoleErrors.push(`pageerror: ${error.message}`));
page.on("response", (response) => {
  if (response.status() >= 400) result.failedRequests.push(`${response.request().method()} ${new URL(response.url()).pathname} ${response.status()}`);
});

const shot = (target, name) => target.screenshot({ path: join(args.artifacts, `${name}.png`), fullPage: true });
const waitHash = (target, expected) => target.waitForFunction((h) => location.hash === h, expected);
const nav = (target, name) => target.locator("#nav").getByRole("link", { name, exact: true }).click();

/** What a day page shows. */
async function readDay(target) {
  const folded = await target.evaluate(() => {
    const d = document.querySelector(".journal-details");
    const was = d ? d.open : null;
    if (d) d.open = true; // read the full journal as a person who unfolds it
    return was;
  });
  const page = await target.evaluate(() => ({
    hash: location.hash,
    heading: document.querySelector("h1")?.textContent ?? "",
    clock: document.querySelector(".day-clock")?.textContent ?? "",
    tiles: [...document.querySelectorAll(".tile")].map((t) => ({
      domain: t.dataset.domain,
      label: t.querySelector("dt")?.textContent ?? "",
      value: t.querySelector("dd")?.childNodes[0]?.textContent ?? "",
      insufficient: t.classList.contains("tile-insufficient"),
    })),
    journal: document.querySelector(".journal")?.innerText ?? "",
    summaries: Object.fromEntries(
      [...document.querySelectorAll(".charts figure")].map((f) => [f.className.replace("chart ", "").trim(), f.querySelector(".chart-summary")?.textContent ?? ""]),
    ),
    placedFlags: [...document.querySelectorAll(".charts .placed-flag")].map((p) => p.closest("figure").className),
    empty: document.querySelector("main .empty")?.textContent ?? "",
    alert: document.getElementById("alert")?.textContent ?? "",
    highlights: [...document.querySelectorAll(".highlight-list li")].map((li) => li.textContent),
    plotsAboveJournal: (() => {
      const plots = document.getElementById("plots-heading")?.getBoundingClientRect().top ?? -1;
      const journal = document.querySelector(".journal-details")?.getBoundingClientRect().top ?? -1;
      return plots >= 0 && journal > plots;
    })(),
    terms: [...document.querySelectorAll(".journal abbr[title]")].map((a) => [a.textContent, a.title]),
    glossary: [...document.querySelectorAll(".journal-terms dt")].map((dt) => dt.textContent),
  }));
  page.journalFolded = folded === false;
  return page;
}

async function openDay(target, day) {
  await target.evaluate((d) => { location.hash = `#/day/${d}`; }, day);
  await waitHash(target, `#/day/${day}`);
  await target.waitForFunction(() => !document.querySelector("main [aria-busy='true']"));
}

try {
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
  });

  // --- sign up, upload every sample, wait until processed ----------------------------------------
  await page.goto(args.url);
  await waitHash(page, "#/signin");
  await page.getByRole("link", { name: "Create account" }).first().click();
  await page.getByLabel("Username", { exact: true }).fill(args.username);
  await page.getByRole("button", { name: "Create account with a passkey" }).click();
  await waitHash(page, "#/upload");
  await page.getByLabel("Health Connect files (.avro)").setInputFiles(samples);
  const total = samples.length;
  await page.waitForFunction((n) => document.querySelector(".upload-summary")?.textContent.startsWith(`${n} of ${n} files done`), total, { timeout: LONG });
  await nav(page, "History");
  await page.waitForFunction(
    (n) => {
      const rows = [...document.querySelectorAll(".history-table tbody tr")];
      return rows.length === n && rows.every((r) => r.dataset.status === "completed");
    },
    total,
    { timeout: LONG },
  );
  const days = await page.evaluate(async () => {
    // the day list as the app has it: navigate to Days, then read the picker
    return null;
  });
  await nav(page, "Days");
  await page.locator(".day-nav select").waitFor();
  const listed = await page.locator(".day-nav select option").evaluateAll((os) => os.map((o) => o.value).filter(Boolean));
  result.steps.days = listed;

  // --- (b) every day: zone, flags, tiles = journal = charts, insufficient marked ----------------
  result.steps.pages = {};
  for (const day of [...listed].sort()) {
    await openDay(page, day);
    await page.locator(".highlights, main .empty").first().waitFor();
    result.steps.pages[day] = await readDay(page);
    await shot(page, `day-${day}`);
  }
  void days;
  // repeated patterns are capped (the module as the page loads it)
  result.steps.capped = await page.evaluate(async () => {
    const base = document.querySelector('script[type="module"]').src.replace(/main\.js$/, "");
    const { capRepeats } = await import(`${base}journal.js`);
    const lines = Array.from({ length: 10 }, (_, i) => `Glucose rose after lunch at 0${i}:35 by ${20 + i} mg/dL.`);
    return capRepeats([...lines, "Short night: 4 h 52 min of main sleep."]);
  });
  // charts: units, ticks, hover values, the night's window, honest steps
  await openDay(page, "2025-09-20");
  await page.locator(".chart-glucose svg").waitFor();
  const glucoseSvg = page.locator(".chart-glucose svg");
  await glucoseSvg.scrollIntoViewIfNeeded();
  const box = await glucoseSvg.boundingBox();
  await glucoseSvg.hover({ position: { x: box.width * 0.5, y: box.height * 0.5 } });
  const charts = await page.evaluate(() => {
    const texts = (sel) => [...document.querySelectorAll(sel)].map((t) => t.textContent);
    return {
      units: Object.fromEntries([...document.querySelectorAll(".charts figure")].map((f) => [f.className.split(" ").pop(), f.querySelector(".axis-unit")?.textContent ?? null])),
      glucoseTicks: texts(".chart-glucose .axis text").filter((t) => /^\d+$/.test(t)),
      glucoseReadout: document.querySelector(".chart-glucose .chart-readout").textContent,
      sleepTicks: texts(".chart-sleep .axis text").filter((t) => t.includes(":")),
      stepSpread: document.querySelectorAll(".chart-steps rect.bar.spread").length,
      stepBars: document.querySelectorAll(".chart-steps rect.bar").length,
      stepsSummary: document.querySelector(".chart-steps .chart-summary").textContent,
      hrv: {
        title: document.querySelector(".charts .trend-hrv h3")?.textContent ?? "",
        bars: document.querySelectorAll(".charts .trend-hrv rect.bar").length,
        unit: document.querySelector(".charts .trend-hrv .unit")?.textContent ?? "",
      },
    };
  });
  const stepsSvg = page.locator(".chart-steps svg");
  await stepsSvg.scrollIntoViewIfNeeded();
  const stepsBox = await stepsSvg.boundingBox();
  await stepsSvg.click({ position: { x: stepsBox.width * 0.6, y: stepsBox.height * 0.5 } });
  charts.stepsReadout = await page.locator(".chart-steps .chart-readout").textContent();
  result.steps.charts = charts;
  await page.setViewportSize(PHONE);
  await openDay(page, "2025-09-20");
  await page.locator(".chart-glucose svg").waitFor();
  result.steps.phoneDay = await page.evaluate(() => ({
    plotsTop: document.getElementById("plots-heading").getBoundingClientRect().top + window.scrollY,
    width: document.documentElement.scrollWidth,
  }));
  const sleepSvg = page.locator(".chart-sleep svg");
  await sleepSvg.scrollIntoViewIfNeeded();
  const sleepBox = await sleepSvg.boundingBox();
  await sleepSvg.click({ position: { x: sleepBox.width * 0.5, y: sleepBox.height * 0.5 } });
  result.steps.phoneDay.sleepReadout = await page.locator(".chart-sleep .chart-readout").textContent();
  await shot(page, "day-2025-09-20-phone");
  await page.setViewportSize(DESKTOP);

  // --- (c) trends: week and month from GET /v1/trends, the days' own numbers -------------------
  await nav(page, "Trends");
  await page.waitForFunction(() => /^#\/trends\/week\/\d{4}-\d{2}-\d{2}$/.test(location.hash));
  await page.locator(".trend-table").waitFor();
  const readTrends = () =>
    page.evaluate(() => ({
      hash: location.hash,
      heading: document.querySelector("h1").textContent,
      hint: document.querySelector("main .hint")?.textContent ?? "",
      rows: [...document.querySelectorAll(".trend-table tbody tr")].map((r) => [r.dataset.day, ...[...r.cells].slice(1).map((c) => c.textContent)]),
      charts: [...document.querySelectorAll(".trend-charts figure h3")].map((e) => e.textContent),
      bars: Object.fromEntries([...document.querySelectorAll(".trend-charts figure")].map((f) => [f.querySelector("h3").textContent, f.querySelectorAll("rect.bar").length])),
      missing: document.querySelectorAll(".trend-charts rect.trend-missing").length,
      barTitles: [...document.querySelectorAll(".trend-steps rect.bar title")].map((t) => t.textContent),
      next: document.querySelector("a[rel=next]")?.getAttribute("href") ?? null,
    }));
  result.steps.week = await readTrends();
  await shot(page, "trends-week");
  await page.getByRole("link", { name: "Month", exact: true }).click();
  await page.waitForFunction(() => location.hash.startsWith("#/trends/month/"));
  await page.locator(".trend-table").waitFor();
  result.steps.month = await readTrends();
  await shot(page, "trends-month");
  await page.locator(".trend-steps a.trend-bar-link").first().click();
  await page.waitForFunction(() => location.hash.startsWith("#/day/"));
  result.steps.barOpens = await page.evaluate(() => location.hash);
  await page.setViewportSize(PHONE);
  await nav(page, "Trends");
  await page.locator(".trend-table").waitFor();
  result.steps.trendsPhoneWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  await shot(page, "trends-week-phone");
  await page.setViewportSize(DESKTOP);

  // --- (d) history: friendly names, expandable rows linking to days, one empty state ------------
  await nav(page, "History");
  await page.locator(".history-table tbody tr").first().waitFor();
  const history = {};
  history.typeOptions = await page.getByLabel("Record type").locator("option").allTextContents();
  history.recordNames = await page.locator(".history-table .record-name").allTextContents();
  await page.getByLabel("Record type").selectOption("BloodGlucoseRecord");
  await page.waitForFunction(() => document.querySelectorAll(".history-table tbody tr").length === 3);
  const firstRow = page.locator(".history-table tbody tr").first();
  await firstRow.locator("summary").click();
  await firstRow.locator(".result-full .result-narrative, .result-full .error-text").first().waitFor();
  history.expanded = await firstRow.evaluate((r) => ({
    narrative: r.querySelector(".result-narrative")?.textContent ?? "",
    preview: r.querySelector(".result-text")?.textContent ?? "",
    days: [...r.querySelectorAll(".result-days a")].map((a) => a.getAttribute("href")),
  }));
  await shot(page, "history-expanded");
  if (history.expanded.days.length) {
    await firstRow.locator(".result-days a").first().click();
    await page.waitForFunction(() => location.hash.startsWith("#/day/"));
    history.linkOpens = await page.evaluate(() => location.hash);
    await nav(page, "History");
    await page.locator(".history-table tbody tr").first().waitFor();
  }
  await page.getByLabel("Status").selectOption("failed");
  await page.waitForFunction(() => !document.querySelector(".empty").hidden);
  history.emptyMessages = await page.evaluate(() =>
    [...document.querySelectorAll("main .history-summary, main .empty")].filter((e) => e.offsetParent !== null).map((e) => e.textContent),
  );
  await page.getByLabel("Status").selectOption("");
  await page.getByLabel("Record type").selectOption("");
  result.steps.history = history;

  // --- (d) an upload error says what to do next --------------------------------------------------
  await nav(page, "Upload");
  await page.getByLabel("Health Connect files (.avro)").setInputFiles([
    { name: "StepsRecord_1.avro", mimeType: "application/octet-stream", buffer: Buffer.from("not an avro file") },
  ]);
  await page.locator(".file-row[data-state=error] .file-next").waitFor();
  result.steps.uploadError = {
    status: await page.locator(".file-row .file-status").textContent(),
    next: await page.locator(".file-row .file-next").textContent(),
  };
  await shot(page, "upload-error");

  // --- (d) navigation: no future days, unknown dates and pages say so ---------------------------
  const localToday = await page.evaluate(() => {
    const d = new Date();
    return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
  });
  await openDay(page, localToday);
  await page.locator(".day-nav").waitFor();
  const nav8 = { today: localToday };
  nav8.nextOnToday = await page.locator(".day-nav a[rel=next]").count();
  nav8.nextDisabled = await page.locator(".day-nav [aria-disabled=true]").textContent();
  await page.evaluate(() => { location.hash = "#/day/2025-13-45"; });
  await page.getByRole("heading", { name: "Day not found" }).waitFor();
  nav8.invalid = { heading: await page.locator("h1").textContent(), text: await page.locator("main .not-found").textContent() };
  await page.evaluate(() => { location.hash = "#/trends/week/2025-02-30"; });
  await page.getByRole("heading", { name: "Period not found" }).waitFor();
  nav8.invalidPeriod = await page.locator("main .not-found").textContent();
  await page.evaluate(() => { location.hash = "#/nonsense"; });
  await page.getByRole("heading", { name: "Page not found" }).waitFor();
  nav8.unknown = { hash: await page.evaluate(() => location.hash), heading: await page.locator("h1").textContent() };
  result.steps.navigation = nav8;

  // --- (d) devices: a name, not a user-agent string ----------------------------------------------
  await nav(page, "Account");
  await page.locator("[data-device-id]").first().waitFor();
  result.steps.devices = await page.locator("[data-device-id]").evaluateAll((items) =>
    items.map((i) => ({ name: i.querySelector("strong").textContent, visible: i.innerText })),
  );
  await shot(page, "account");
  await page.setViewportSize(PHONE);
  result.steps.accountPhoneWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  await shot(page, "account-phone");
  await nav(page, "History");
  await page.locator(".history-table tbody tr").first().waitFor();
  result.steps.history.phoneWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  await shot(page, "history-phone");
  await page.setViewportSize(DESKTOP);
  await nav(page, "Account");
  await page.locator("[data-device-id]").first().waitFor();
  // --- (e) raw export: one ZIP with the original files, CSV and the JSON lines -----------------
  const [zip] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download everything (ZIP)" }).click()]);
  const zipPath = join(args.artifacts, "export.zip");
  await zip.saveAs(zipPath);
  result.steps.zip = { filename: zip.suggestedFilename(), path: zipPath, status: await page.locator("#status").textContent() };

  // --- (d) a new tab is signed in too, and both tabs keep working -------------------------------
  const second = await context.newPage();
  await second.goto(`${args.url}#/history`);
  await second.locator(".history-table tbody tr").first().waitFor();
  const tabs = { secondHash: await second.evaluate(() => location.hash), secondUser: await second.locator(".user-name").textContent() };
  await page.reload();
  await page.locator("#nav .user-name").waitFor();
  await nav(page, "History");
  await page.locator(".history-table tbody tr").first().waitFor();
  tabs.firstAfter = await page.evaluate(() => location.hash);
  await second.reload();
  await second.locator(".history-table tbody tr").first().waitFor();
  tabs.secondAfter = await second.evaluate(() => location.hash);
  await second.close();
  result.steps.tabs = tabs;

  // --- (e) first run: a new account sees how to get the files, sample data, the AI choice --------
  await page.getByRole("button", { name: "Sign out" }).click();
  await waitHash(page, "#/signin");
  await page.getByRole("link", { name: "Create account" }).first().click();
  await page.getByLabel("Username", { exact: true }).fill(`${args.username}-new`);
  await page.getByRole("button", { name: "Create account with a passkey" }).click();
  await waitHash(page, "#/upload");
  await page.locator("details.welcome").waitFor();
  await page.locator(".welcome .consent-now").filter({ hasText: "Your choice" }).waitFor();
  const first = await page.evaluate(() => {
    const w = document.querySelector("details.welcome");
    const top = (sel) => document.querySelector(sel)?.getBoundingClientRect().top ?? -1;
    return {
      open: w.open,
      title: w.querySelector("summary").textContent,
      text: w.innerText,
      consentNow: w.querySelector(".consent-now").textContent,
      checked: w.querySelector("input[type=checkbox]").checked,
      welcomeAboveDropzone: top("details.welcome") < top(".dropzone"),
    };
  });
  await shot(page, "first-run");
  await page.setViewportSize(PHONE);
  await shot(page, "first-run-phone");
  await page.setViewportSize(DESKTOP);
  await page.getByRole("button", { name: "Try sample data" }).click();
  await page.locator(".sample-status").filter({ hasText: "Loaded" }).waitFor({ timeout: LONG });
  first.firstLoad = await page.locator(".sample-status").textContent();
  await page.getByRole("button", { name: "Try sample data" }).click();
  await page.locator(".sample-status").filter({ hasText: "already" }).waitFor({ timeout: LONG });
  first.secondLoad = await page.locator(".sample-status").textContent();
  await nav(page, "History");
  await page.waitForFunction(
    () => {
      const rows = [...document.querySelectorAll(".history-table tbody tr")];
      return rows.length > 0 && rows.every((r) => r.dataset.status === "completed");
    },
    null,
    { timeout: LONG },
  );
  first.historySummary = await page.locator(".history-summary").textContent();
  first.sampleBadges = await page.locator(".history-table .badge-sample").count();
  first.rows = await page.locator(".history-table tbody tr").count();
  await nav(page, "Days");
  await page.locator(".sample-banner").waitFor();
  first.dayBanner = (await page.locator(".sample-banner").textContent()) ?? "";
  await shot(page, "sample-day");
  await page.setViewportSize(PHONE);
  await shot(page, "sample-day-phone");
  await page.setViewportSize(DESKTOP);
  await nav(page, "Trends");
  await page.locator(".trend-table").waitFor();
  first.trendBadges = await page.locator(".trend-table .badge-sample").count();
  await nav(page, "Upload");
  await page.locator("details.welcome").waitFor();
  first.openAfterData = await page.evaluate(() => document.querySelector("details.welcome").open);
  result.steps.firstRun = first;

  result.ok = true;
} catch (error) {
  result.error = String(error?.stack ?? error);
  result.at = await page.evaluate(() => location.hash).catch(() => null);
  await shot(page, "failure").catch(() => {});
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
