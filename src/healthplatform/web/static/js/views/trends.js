// Week and month views (#/trends/week/YYYY-MM-DD, #/trends/month/YYYY-MM-DD: the period
// ending on that day): the main metrics per day from GET /v1/trends, the same numbers as
// each day's page. Each bar links to its day; a day without enough data is marked.

import { ApiError, call } from "../api.js";
import { h, replace, showError, uniqueId } from "../dom.js";

const NS = "http://www.w3.org/2000/svg";
export const PERIODS = { week: 7, month: 30 };

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) if (value !== null && value !== undefined) el.setAttribute(name, String(value));
  for (const child of children.flat()) if (child !== null && child !== undefined) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

export function shiftDay(day, delta) {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + delta);
  return date.toISOString().slice(0, 10);
}

const short = (day) => new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", timeZone: "UTC" }).format(new Date(`${day}T00:00:00Z`));
const weekday = (day) => new Intl.DateTimeFormat(undefined, { weekday: "short", timeZone: "UTC" }).format(new Date(`${day}T00:00:00Z`));
const n0 = (v) => Math.round(v).toLocaleString();
const hm = (v) => `${Math.floor(Math.round(v) / 60)} h ${Math.round(v) % 60} min`;

// what each chart shows: value, its text, the axis unit
/** Why a day has no value: the domain's reason when it had too little data, else none. */
function missing(byDate, day, domain) {
  const reason = byDate.get(day)?.notes?.[domain];
  return reason ? { text: "not enough data", why: `not enough data (${reason})` } : { text: "–", why: "no data" };
}

export const CHARTS = [
  { key: "steps", domain: "activity", title: "Steps", unit: "steps", text: (v) => `${n0(v)} steps`, className: "trend-steps" },
  { key: "sleep_min", domain: "sleep", title: "Main sleep", unit: "hours", scale: 1 / 60, text: hm, className: "trend-sleep" },
  { key: "tir_pct", domain: "glucose", title: "Time in range 70–180 mg/dL", unit: "%", max: 100, text: (v) => `${n0(v)} %`, className: "trend-tir" },
  { key: "resting_hr_bpm", domain: "heart", title: "Resting heart rate", unit: "bpm", text: (v) => `${n0(v)} bpm`, className: "trend-rhr" },
  { key: "hrv_ms", domain: "heart", title: "Heart rate variability (RMSSD)", unit: "ms", text: (v) => `${n0(v)} ms`, className: "trend-hrv" },
];

function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 2.5, 5, 10].map((m) => m * power).find((m) => m >= value);
}

/** One bar per day of the period; bars link to their day; missing days are marked. */
export function barChart(spec, dates, byDate, width) {
  const scale = spec.scale ?? 1;
  const values = dates.map((d) => byDate.get(d)?.values?.[spec.key] ?? null);
  const present = values.filter((v) => v !== null);
  const height = 150;
  const margin = { top: 22, right: 10, bottom: 24, left: 46 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const top = spec.max ?? niceMax(Math.max(...present.map((v) => v * scale), 0) * 1.1);
  const y = (v) => margin.top + plotH - (v / top) * plotH;
  const slot = plotW / dates.length;
  const titleId = uniqueId("trend-title");
  const descId = uniqueId("trend-desc");
  const mean = present.length ? present.reduce((a, b) => a + b, 0) / present.length : null;
  const summary = present.length
    ? `${present.length} of ${dates.length} days with a value; average ${spec.text(mean)}.`
    : `No values in this period.`;
  const axis = s("g", { class: "axis", "aria-hidden": "true" });
  for (const tick of [0, top / 2, top]) {
    axis.append(s("line", { x1: margin.left, x2: margin.left + plotW, y1: y(tick), y2: y(tick), class: "grid-line" }));
    axis.append(s("text", { x: margin.left - 6, y: y(tick) + 4, "text-anchor": "end" }, Number(tick.toFixed(1)).toLocaleString()));
  }
  axis.append(s("text", { x: margin.left - 6, y: 10, "text-anchor": "end", class: "unit axis-unit" }, spec.unit));
  const every = dates.length > 10 ? (width < 500 ? 7 : 3) : 1;
  const bars = s("g", { class: "bars" });
  dates.forEach((day, i) => {
    const x = margin.left + i * slot;
    if (i % every === 0 || i === dates.length - 1) {
      axis.append(s("text", { x: x + slot / 2, y: height - 6, "text-anchor": "middle" }, dates.length > 10 ? short(day) : weekday(day)));
    }
    const value = values[i];
    if (value === null) {
      const { why } = missing(byDate, day, spec.domain);
      bars.append(s("rect", { class: "trend-missing", x: x + slot * 0.2, width: slot * 0.6, y: margin.top + plotH - 3, height: 3 }, s("title", {}, `${short(day)}: ${why}`)));
      return;
    }
    const link = s("a", { href: `#/day/${day}`, class: "trend-bar-link" });
    link.append(
      s(
        "rect",
        { class: `bar ${spec.className}-bar`, x: x + slot * 0.15, width: Math.max(1, slot * 0.7), y: y(value * scale), height: Math.max(1, margin.top + plotH - y(value * scale)), "data-day": day, "data-value": value },
        s("title", {}, `${short(day)}: ${spec.text(value)}`),
      ),
    );
    bars.append(link);
  });
  const svg = s(
    "svg",
    { class: `chart-svg trend-svg ${spec.className}`, viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-labelledby": `${titleId} ${descId}` },
    s("title", { id: titleId }, `${spec.title} per day (${spec.unit})`),
    s("desc", { id: descId }, summary),
    axis,
    bars,
  );
  return h("figure", { class: `chart trend ${spec.className}` }, h("figcaption", {}, h("h3", {}, `${spec.title} (${spec.unit})`), h("p", { class: "chart-summary" }, summary)), svg);
}

/** Bedtime to wake-up per night as floating bars on a clock axis (evening at the top). */
function sleepTiming(dates, byDate, width) {
  const nights = dates.filter((d) => byDate.get(d)?.values?.bedtime_rel_min !== null && byDate.get(d)?.values?.bedtime_rel_min !== undefined);
  if (!nights.length) return null;
  const bed = nights.map((d) => byDate.get(d).values.bedtime_rel_min);
  const wake = nights.map((d) => byDate.get(d).values.wake_rel_min ?? 0);
  const lo = Math.floor(Math.min(...bed) / 120) * 120;
  const hi = Math.ceil(Math.max(...wake) / 120) * 120;
  const height = 190;
  const margin = { top: 10, right: 10, bottom: 24, left: 46 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const y = (m) => margin.top + ((m - lo) / Math.max(1, hi - lo)) * plotH;
  const slot = plotW / dates.length;
  const clockText = (m) => {
    const v = ((m % 1440) + 1440) % 1440;
    return `${String(Math.floor(v / 60)).padStart(2, "0")}:${String(v % 60).padStart(2, "0")}`;
  };
  const axis = s("g", { class: "axis", "aria-hidden": "true" });
  for (let m = lo; m <= hi; m += 120) {
    axis.append(s("line", { x1: margin.left, x2: margin.left + plotW, y1: y(m), y2: y(m), class: "grid-line" }));
    axis.append(s("text", { x: margin.left - 6, y: y(m) + 4, "text-anchor": "end" }, clockText(m)));
  }
  const every = dates.length > 10 ? (width < 500 ? 7 : 3) : 1;
  const bars = s("g", { class: "bars" });
  dates.forEach((day, i) => {
    const x = margin.left + i * slot;
    if (i % every === 0 || i === dates.length - 1) axis.append(s("text", { x: x + slot / 2, y: height - 6, "text-anchor": "middle" }, dates.length > 10 ? short(day) : weekday(day)));
    const v = byDate.get(day)?.values;
    if (v?.bedtime_rel_min === null || v?.bedtime_rel_min === undefined) return;
    const times = byDate.get(day).times;
    const link = s("a", { href: `#/day/${day}`, class: "trend-bar-link" });
    link.append(
      s(
        "rect",
        { class: "bar trend-timing-bar", x: x + slot * 0.15, width: Math.max(1, slot * 0.7), y: y(v.bedtime_rel_min), height: Math.max(1, y(v.wake_rel_min) - y(v.bedtime_rel_min)), "data-day": day },
        s("title", {}, `${short(day)}: in bed ${times.bedtime}–${times.wake_time}`),
      ),
    );
    bars.append(link);
  });
  const summary = `${nights.length} ${nights.length === 1 ? "night" : "nights"}: ` + nights.map((d) => `${short(d)} ${byDate.get(d).times.bedtime}–${byDate.get(d).times.wake_time}`).join("; ") + ".";
  const titleId = uniqueId("trend-title");
  const descId = uniqueId("trend-desc");
  const svg = s(
    "svg",
    { class: "chart-svg trend-svg trend-timing", viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-labelledby": `${titleId} ${descId}` },
    s("title", { id: titleId }, "Sleep timing: bedtime to wake-up per night (clock time)"),
    s("desc", { id: descId }, summary),
    axis,
    bars,
  );
  return h("figure", { class: "chart trend trend-timing" }, h("figcaption", {}, h("h3", {}, "Sleep timing (clock time)"), h("p", { class: "chart-summary trend-timing-summary" }, summary)), svg);
}

function table(dates, byDate) {
  const domains = Object.fromEntries(CHARTS.map((c) => [c.key, c.domain]));
  const cell = (day, key, text) => {
    const v = byDate.get(day)?.values?.[key];
    return h("td", {}, v === null || v === undefined ? missing(byDate, day, domains[key]).text : text(v));
  };
  return h(
    "table",
    { class: "trend-table" },
    h("caption", {}, "Values per day (each links to its day)"),
    h("thead", {}, h("tr", {}, ["Day", "Steps", "Main sleep", "Bedtime", "Time in range", "Resting HR", "HRV"].map((t) => h("th", { scope: "col" }, t)))),
    h(
      "tbody",
      {},
      dates
        .filter((d) => byDate.has(d))
        .map((d) =>
          h(
            "tr",
            { "data-day": d },
            h("th", { scope: "row" }, h("a", { href: `#/day/${d}` }, short(d)), byDate.get(d).sample ? h("span", { class: "badge badge-sample" }, "Sample") : null),
            cell(d, "steps", n0),
            cell(d, "sleep_min", hm),
            h("td", {}, byDate.get(d).times?.bedtime ?? "–"),
            cell(d, "tir_pct", (v) => `${n0(v)} %`),
            cell(d, "resting_hr_bpm", (v) => `${n0(v)} bpm`),
            cell(d, "hrv_ms", (v) => `${n0(v)} ms`),
          ),
        ),
    ),
  );
}

async function latest(main, ctx, period) {
  const { days } = await call("GET", "/v1/days?limit=1");
  if (ctx.signal.aborted) return;
  if (!days.length) {
    replace(main, h("h1", {}, "Trends"), h("p", { class: "empty" }, "No days with data yet. ", h("a", { href: "#/upload" }, "Upload files"), " to see your weeks and months."));
    return;
  }
  location.replace(`#/trends/${period}/${days[0]}`);
}

export async function render(main, params, ctx) {
  const period = params.period in PERIODS ? params.period : "week";
  if (!params.end) return latest(main, ctx, period).catch((error) => showError(error.message));
  const end = params.end;
  const real = new Date(`${end}T00:00:00Z`);
  if (Number.isNaN(real.getTime()) || real.toISOString().slice(0, 10) !== end) {
    replace(main, h("h1", {}, "Period not found"), h("p", { class: "empty not-found" }, `“${end}” is not a date. `, h("a", { href: "#/trends" }, "Open your latest week"), "."));
    return undefined;
  }
  const length = PERIODS[period];
  const start = shiftDay(end, -(length - 1));
  const heading = h("h1", {}, `Trends: ${short(start)} – ${short(end)}`);
  replace(main, heading, h("p", { "aria-busy": "true" }, "Loading…"));
  let data;
  try {
    data = await call("GET", `/v1/trends?from=${start}&to=${end}`);
  } catch (error) {
    if (ctx.signal.aborted) return undefined;
    replace(main, heading);
    showError(error instanceof ApiError ? `The trends could not be loaded: ${error.message}` : String(error));
    return undefined;
  }
  if (ctx.signal.aborted) return undefined;
  const dates = Array.from({ length }, (_, i) => shiftDay(start, i));
  const byDate = new Map(data.days.map((d) => [d.date, d]));
  const today = new Date().toISOString().slice(0, 10);
  const next = shiftDay(end, length);
  const switcher = h(
    "nav",
    { class: "day-nav trend-nav", "aria-label": "Periods" },
    h("a", { class: "button", href: `#/trends/${period}/${shiftDay(end, -length)}`, rel: "prev" }, `← Previous ${period}`),
    h(
      "div",
      { class: "segmented" },
      Object.keys(PERIODS).map((p) => h("a", { class: "button", href: `#/trends/${p}/${end}`, "aria-current": p === period ? "page" : null }, p === "week" ? "Week" : "Month")),
    ),
    next > today && end >= today ? h("span", {}) : h("a", { class: "button", href: `#/trends/${period}/${next > today ? today : next}`, rel: "next" }, `Next ${period} →`),
  );
  const zone = data.zones.length ? `Times and days in ${data.zones.join(", ")} (your zone). ` : "";
  const charts = h("div", { class: "charts trend-charts" });
  const draw = () => {
    const width = Math.max(280, Math.round(charts.clientWidth || 600));
    const bars = CHARTS.map((spec) => barChart(spec, dates, byDate, width));
    replace(charts, bars.slice(0, 2), sleepTiming(dates, byDate, width), bars.slice(2));
    return width;
  };
  replace(
    main,
    heading,
    switcher,
    data.days.some((d) => d.sample) ? h("p", { class: "sample-banner" }, h("span", { class: "badge badge-sample" }, "Sample data"), " Days marked “Sample” hold synthetic sample records, not your own measurements.") : null,
    h("p", { class: "hint" }, `${zone}Each value is the one on that day's page; a short grey mark is a day without enough data for it. Hover or tap a bar for its value; select it to open the day.`),
    h("section", { class: "card", "aria-label": "Charts" }, charts),
    h("section", { class: "card", "aria-label": "Table" }, data.days.length ? table(dates, byDate) : h("p", { class: "empty" }, "No data in this period.")),
  );
  let drawn = draw();
  const observer = new ResizeObserver(() => {
    if (Math.abs(charts.clientWidth - drawn) > 24) drawn = draw();
  });
  observer.observe(charts);
  return () => observer.disconnect();
}
