// The day view: navigation between days, headline numbers, the daily journal (statistical,
// structural and semantic layers) and the plots of the day's series.

import { ApiError, call } from "../api.js";
import { glucoseChart, heartRateChart, hourlyBars } from "../charts.js";
import { hypnogram } from "../hypnogram.js";
import { field, formatDay, h, replace, showError } from "../dom.js";
import { journalView } from "../journal.js";
import { barChart, CHARTS } from "./trends.js";

const HRV_DAYS = 14;

/** HRV (RMSSD) of the day and the 13 before it, from /v1/trends (the days' own values). */
function hrvChart(trend, day, width) {
  if (!trend?.days?.some((d) => d.values?.hrv_ms !== null && d.values?.hrv_ms !== undefined)) return null;
  const spec = { ...CHARTS.find((c) => c.key === "hrv_ms"), title: `Heart rate variability (RMSSD), ${HRV_DAYS} days to this one` };
  const dates = Array.from({ length: HRV_DAYS }, (_, i) => shiftDay(day, i - HRV_DAYS + 1));
  return barChart(spec, dates, new Map(trend.days.map((d) => [d.date, d])), width);
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** A real calendar date ("2025-13-45" is not). */
export function isDate(day) {
  if (!DATE.test(day)) return false;
  const date = new Date(`${day}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === day;
}

/** Today's date on this device's clock. */
export function today() {
  const now = new Date();
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}-${String(now.getDate()).padStart(2, "0")}`;
}

function shiftDay(day, delta) {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + delta);
  return date.toISOString().slice(0, 10);
}

const shortDay = (day) =>
  new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", timeZone: "UTC" }).format(new Date(`${day}T00:00:00Z`));

function dig(object, ...path) {
  let node = object;
  for (const key of path) node = node?.[key];
  return typeof node === "number" && Number.isFinite(node) ? node : null;
}

function minutes(value) {
  const m = Math.round(value);
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

function zoneLabel(offset) {
  if (!offset) return "UTC";
  const sign = offset < 0 ? "-" : "+";
  const abs = Math.abs(offset);
  return `UTC${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

const DOMAIN_NAMES = { glucose: "Glucose", heart: "Heart rate", sleep: "Sleep", activity: "Activity", body: "Body", vitals: "Vitals", intake: "Intake" };

/** Records of a domain placed by the person's zone (their app wrote no zone of its own). */
export function placedCount(domain) {
  const placed = domain?.coverage?.placement ?? {};
  return (placed.inferred ?? 0) + (placed.set ?? 0) + (placed.utc ?? 0);
}

/** Where the day's times come from: the person's zone (set or inferred), and which
 * records were placed by it rather than by a zone of their own. */
function clockNote(data) {
  const zone = data.zone ?? { label: zoneLabel(data.context?.offset_minutes ?? 0), source: "record", name: null, placed: 0 };
  const how = zone.name
    ? `your zone ${zone.name}, as you set it`
    : zone.source === "inferred"
      ? "your zone, inferred from your other records"
      : zone.source === "utc"
        ? "UTC: none of your records carries a zone, so set yours"
        : "the zone your records carry";
  const domains = Object.entries(data.metrics ?? {})
    .filter(([, value]) => placedCount(value) > 0)
    .map(([key]) => (DOMAIN_NAMES[key] ?? key).toLowerCase());
  const placed = zone.placed
    ? ` ${zone.placed} records without a zone of their own (${domains.join(", ") || "some records"}) are placed in your zone; they are marked “placed by your zone” below.`
    : "";
  return h(
    "p",
    { class: "day-clock" },
    h("strong", {}, `Times in ${zone.label}`),
    ` (${how}; `,
    h("a", { href: "#/account" }, "change your zone"),
    `).${placed}`,
  );
}

const isOk = (domain) => !domain?.status || domain.status === "ok";

/** Headline numbers of the day, read from the day's one computation (the metrics the
 * journal's claims come from). A domain the day has too little data for gets one tile
 * saying so instead of its numbers. */
function tiles(metrics) {
  const n = (v) => Math.round(v).toLocaleString();
  const specs = [
    ["glucose", "Mean glucose", ["glucose", "mean_mg_dl"], (v) => `${n(v)} mg/dL`],
    ["glucose", "Time in range 70–180", ["glucose", "tir_70_180_pct"], (v) => `${n(v)} %`],
    ["heart", "Heart rate (mean of samples)", ["heart", "heart_rate", "mean_bpm"], (v) => `${n(v)} bpm`],
    ["sleep", "Main sleep", ["sleep", "main", "tst_min"], minutes],
    ["activity", "Steps", ["activity", "steps", "total"], n],
    ["activity", "Active energy", ["activity", "active_calories", "total"], (v) => `${n(v)} kcal`],
  ];
  const items = [];
  const marked = new Set();
  for (const [key, label, path, format] of specs) {
    const domain = metrics[key];
    if (!domain) continue;
    if (!isOk(domain)) {
      if (marked.has(key)) continue;
      marked.add(key);
      items.push(
        h(
          "div",
          { class: "tile tile-insufficient", "data-domain": key },
          h("dt", {}, DOMAIN_NAMES[key] ?? key),
          h("dd", {}, "Not enough data", h("small", {}, domain.reason ? ` (${domain.reason})` : "")),
        ),
      );
      continue;
    }
    const value = dig(metrics, ...path);
    if (value !== null) items.push(h("div", { class: "tile", "data-domain": key }, h("dt", {}, label), h("dd", {}, format(value))));
  }
  if (!items.length) return null;
  return h("dl", { class: "tiles" }, items);
}

function drawCharts(container, series, metrics, hrv = null) {
  const width = Math.max(280, Math.round(container.clientWidth));
  replace(
    container,
    glucoseChart(series.glucose_mg_dl ?? [], width, metrics?.glucose),
    heartRateChart(series.heart_rate_bpm ?? [], width, metrics?.heart),
    hypnogram(series.sleep_stages ?? [], width, metrics?.sleep?.main?.stages_min),
    hourlyBars(series.steps_hourly ?? [], { title: "Steps", unit: "steps", className: "chart-steps" }, width),
    hourlyBars(series.active_kcal_hourly ?? [], { title: "Active energy", unit: "kcal", className: "chart-kcal", digits: 1 }, width),
    hrv ? hrvChart(hrv.trend, hrv.day, width) : null,
  );
  return width;
}

function dayNav(day, days, ctx) {
  const picker = h(
    "select",
    { name: "day" },
    days.map((d) => h("option", { value: d, selected: d === day }, d)),
  );
  if (!days.includes(day)) picker.prepend(h("option", { value: "", selected: true }, "Choose a day"));
  const jump = h("form", { class: "day-jump" }, field("Days with data", picker), h("button", { type: "submit" }, "Show"));
  jump.addEventListener("submit", (event) => {
    event.preventDefault();
    if (picker.value) ctx.navigate(`/day/${picker.value}`);
  });
  const previous = shiftDay(day, -1);
  const next = shiftDay(day, 1);
  // never into the future: the next day exists once it has begun here
  const nextLink =
    next > today()
      ? h("span", { class: "button button-disabled", "aria-disabled": "true", title: "This day has not happened yet." }, "Next day →")
      : h("a", { class: "button", href: `#/day/${next}`, rel: "next" }, "Next day →", h("span", { class: "sr-only" }, ` (${formatDay(next)})`));
  return h(
    "nav",
    { class: "day-nav", "aria-label": "Days" },
    h("a", { class: "button", href: `#/day/${previous}`, rel: "prev" }, "← Previous day", h("span", { class: "sr-only" }, ` (${formatDay(previous)})`)),
    jump,
    nextLink,
  );
}

async function latestDay(main, ctx) {
  replace(main, h("h1", {}, "Days"), h("p", {}, "Loading…"));
  try {
    const { days } = await call("GET", "/v1/days?limit=1");
    if (ctx.signal.aborted) return;
    if (days.length) {
      location.replace(`#/day/${days[0]}`);
      return;
    }
    replace(main, h("h1", {}, "Days"), h("p", { class: "empty" }, "No days with data yet. ", h("a", { href: "#/upload" }, "Upload files"), " to see your daily journal and plots."));
  } catch (error) {
    replace(main, h("h1", {}, "Days"));
    showError(error.message);
  }
}

function notADay(main, text) {
  replace(
    main,
    h("h1", {}, "Day not found"),
    h("p", { class: "empty not-found" }, `“${text}” is not a date.`, " ", h("a", { href: "#/day" }, "Open your latest day"), " or pick one from your days."),
  );
}

export async function render(main, params, ctx) {
  if (params.date && !isDate(params.date)) return notADay(main, params.date);
  if (!params.date) return latestDay(main, ctx);
  const day = params.date;
  replace(main, h("h1", {}, formatDay(day)), h("p", { "aria-busy": "true" }, "Loading…"));
  const [listing, view, trend] = await Promise.allSettled([
    call("GET", "/v1/days?limit=366"),
    call("GET", `/v1/days/${day}`),
    call("GET", `/v1/trends?from=${shiftDay(day, -(HRV_DAYS - 1))}&to=${day}`),
  ]);
  const hrv = trend.status === "fulfilled" ? { trend: trend.value, day } : null;
  if (ctx.signal.aborted) return undefined;
  const days = listing.status === "fulfilled" ? listing.value.days : [];
  const heading = h("h1", {}, formatDay(day));
  if (view.status === "rejected") {
    const missing = view.reason instanceof ApiError && view.reason.status === 404;
    replace(main, heading, dayNav(day, days, ctx), h("p", { class: "empty" }, missing ? "No data for this day." : ""));
    if (!missing) showError(`This day could not be loaded: ${view.reason.message}`);
    return undefined;
  }
  const data = view.value;
  const charts = h("div", { class: "charts" });
  const [brief, fullJournal] = journalView(data.journal, data.metrics);
  replace(
    main,
    heading,
    dayNav(day, days, ctx),
    data.sample ? h("p", { class: "sample-banner" }, h("span", { class: "badge badge-sample" }, "Sample data"), " This day holds synthetic sample records (from “Try sample data”), not your own measurements.") : null,
    clockNote(data),
    tiles(data.metrics ?? {}),
    brief,
    h(
      "section",
      { class: "card", "aria-labelledby": "plots-heading" },
      h("h2", { id: "plots-heading" }, "Plots"),
      h("p", { class: "hint" }, "Times are local clock times of the day (midnight to midnight); sleep shows the night that ended on this day."),
      charts,
    ),
    fullJournal,
  );
  let drawnWidth = drawCharts(charts, data.series ?? {}, data.metrics, hrv);
  const observer = new ResizeObserver(() => {
    if (Math.abs(charts.clientWidth - drawnWidth) > 24) drawnWidth = drawCharts(charts, data.series ?? {}, data.metrics, hrv);
  });
  observer.observe(charts);
  return () => observer.disconnect();
}
