// The day view's plots as SVG, drawn from the API's `series` (x = minutes since local
// midnight). Each chart is a <figure>: a visible heading and summary, the SVG (role="img"
// with <title> and <desc>) and a visually hidden data table for screen readers.

import { clock, h, plural, uniqueId } from "./dom.js";

const NS = "http://www.w3.org/2000/svg";
export const DAY_MINUTES = 1440;
export const MARGIN = { top: 18, right: 22, bottom: 28, left: 50 };
export const GLUCOSE_TARGET = [70, 180];

/** An SVG element: s("rect", { x: 1, class: "bar" }, child...). */
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) el.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) {
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return el;
}

const hourSpan = (hour) => `${clock(hour * 60)}–${hour === 23 ? "24:00" : clock(hour * 60 + 60)}`;
const tickLabel = (minute) => (minute === DAY_MINUTES ? "24:00" : clock(minute));
export const round = (value, digits = 0) => Number(value.toFixed(digits));
export const fmt = (value, digits = 0) =>
  round(value, digits).toLocaleString(undefined, { maximumFractionDigits: digits });
const tickFormat = (value) => value.toLocaleString(undefined, { maximumFractionDigits: 2 });

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo, hi, count = 4) {
  const span = Math.max(hi - lo, 1e-9);
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((m) => m >= raw) ?? raw;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-6; v += step) ticks.push(round(v, 6));
  return ticks;
}

/** The frame shared by every chart: scales, grid, axes. */
export function frame({ width, height, xDomain = [0, DAY_MINUTES], yDomain, yTicks, yFormat = tickFormat, unit = null }) {
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const [x0, x1] = xDomain;
  const [y0, y1] = yDomain;
  const x = (minute) => MARGIN.left + ((minute - x0) / (x1 - x0)) * plotW;
  const y = (value) => MARGIN.top + plotH - ((value - y0) / (y1 - y0)) * plotH;
  const grid = s("g", { class: "grid", "aria-hidden": "true" });
  const axes = s("g", { class: "axis", "aria-hidden": "true" });
  // hour labels at least ~48 px apart: every 1, 2, 3 or 6 hours
  const pxPerHour = plotW / Math.max(1, (x1 - x0) / 60);
  const labelEvery = [1, 2, 3, 6].find((k) => pxPerHour * k >= 48) ?? 6;
  for (let m = Math.ceil(x0 / 60) * 60; m <= x1; m += 60) {
    const major = (((m / 60) % labelEvery) + labelEvery) % labelEvery === 0;
    grid.append(
      s("line", { x1: x(m), x2: x(m), y1: MARGIN.top, y2: MARGIN.top + plotH, class: major ? "major" : null }),
    );
    axes.append(s("line", { x1: x(m), x2: x(m), y1: MARGIN.top + plotH, y2: MARGIN.top + plotH + (major ? 5 : 3) }));
    if (major) {
      axes.append(s("text", { x: x(m), y: height - 8, "text-anchor": "middle" }, tickLabel(m)));
    }
  }
  for (const v of yTicks ?? []) {
    grid.append(s("line", { x1: MARGIN.left, x2: MARGIN.left + plotW, y1: y(v), y2: y(v) }));
    axes.append(s("text", { x: MARGIN.left - 6, y: y(v) + 4, "text-anchor": "end" }, yFormat(v)));
  }
  axes.append(
    s("line", { x1: MARGIN.left, x2: MARGIN.left + plotW, y1: MARGIN.top + plotH, y2: MARGIN.top + plotH, class: "baseline" }),
  );
  if (unit) axes.append(s("text", { x: MARGIN.left - 6, y: 9, "text-anchor": "end", class: "axis-unit" }, unit));
  return { x, y, grid, axes, plotW, plotH, bottom: MARGIN.top + plotH };
}

/** The <svg> with its accessible name (title) and description. */
export function svgRoot({ width, height, title, desc, className }, ...children) {
  const titleId = uniqueId("chart-title");
  const descId = uniqueId("chart-desc");
  return s(
    "svg",
    {
      class: `chart-svg ${className}`,
      viewBox: `0 0 ${width} ${height}`,
      width,
      height,
      role: "img",
      "aria-labelledby": `${titleId} ${descId}`,
      focusable: "false",
    },
    s("title", { id: titleId }, title),
    s("desc", { id: descId }, desc),
    children,
  );
}

/** A data table for screen readers (the wrapper hides it: a table ignores a 1 px width). */
export function dataTable(caption, head, rows) {
  return h(
    "div",
    { class: "sr-only" },
    h(
      "table",
      {},
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, head.map((cell) => h("th", { scope: "col" }, cell)))),
      h("tbody", {}, rows.map((row) => h("tr", {}, row.map((cell, i) => (i === 0 ? h("th", { scope: "row" }, cell) : h("td", {}, cell)))))),
    ),
  );
}

/** "placed by your zone": the domain's records carried no zone of their own. */
function placedFlag(domain) {
  const placed = domain?.coverage?.placement ?? {};
  const count = (placed.inferred ?? 0) + (placed.set ?? 0) + (placed.utc ?? 0);
  if (!count) return null;
  const how = placed.set ? "the zone you set" : placed.inferred ? "your zone inferred from your other records" : "UTC";
  return h("p", { class: "placed-flag" }, h("span", { class: "badge" }, "placed by your zone"), ` ${plural(count, "record")} carried no zone of their own; their times use ${how}.`);
}

const insufficient = (domain) => domain?.status && domain.status !== "ok";

/** Hover or tap a chart: `pick(minute)` -> { text, x, y } | null is shown under it and
 * marked on the plot. */
export function readout(svg, f, xDomain, pick) {
  const out = h("p", { class: "chart-readout", "aria-hidden": "true" }, "Hover or tap the chart for values.");
  const mark = s("g", { class: "readout-mark", visibility: "hidden" }, s("line", { class: "readout-line" }), s("circle", { r: 4 }));
  svg.append(mark);
  const show = (event) => {
    const box = svg.getBoundingClientRect();
    const scale = Number(svg.getAttribute("width")) / box.width;
    const px = (event.clientX - box.left) * scale;
    const minute = xDomain[0] + ((px - MARGIN.left) / f.plotW) * (xDomain[1] - xDomain[0]);
    const hit = minute >= xDomain[0] && minute <= xDomain[1] ? pick(minute) : null;
    if (!hit) return;
    out.textContent = hit.text;
    const [line, dot] = mark.children;
    line.setAttribute("x1", hit.x);
    line.setAttribute("x2", hit.x);
    line.setAttribute("y1", MARGIN.top);
    line.setAttribute("y2", f.bottom);
    dot.setAttribute("cx", hit.x);
    dot.setAttribute("cy", hit.y);
    mark.setAttribute("visibility", "visible");
  };
  svg.addEventListener("pointermove", show);
  svg.addEventListener("pointerdown", show);
  return out;
}

/** The point nearest to `minute` (points sorted by time). */
function nearest(points, minute) {
  let best = null;
  for (const p of points) if (!best || Math.abs(p[0] - minute) < Math.abs(best[0] - minute)) best = p;
  return best;
}

export function figure(title, summary, svg, table, className, legend = null, domain = null, reading = null) {
  return h(
    "figure",
    { class: `chart ${className}` },
    h("figcaption", {}, h("h3", {}, title), h("p", { class: "chart-summary" }, summary), placedFlag(domain), legend),
    h("div", { class: "chart-body" }, svg),
    reading,
    table,
  );
}

export function emptyFigure(title, message, className) {
  return h(
    "figure",
    { class: `chart chart-empty ${className}` },
    h("figcaption", {}, h("h3", {}, title)),
    h("p", { class: "chart-summary" }, message),
  );
}

/** Path data of a time series, broken where consecutive points are over `gap` minutes apart. */
export function linePath(points, x, y, gap) {
  let d = "";
  let previous = null;
  for (const [minute, value] of points) {
    const command = previous === null || minute - previous > gap ? "M" : "L";
    d += `${command}${round(x(minute), 1)},${round(y(value), 1)}`;
    previous = minute;
  }
  return d;
}

/** Per local hour: [count, mean, min, max] of a point series. */
function hourly(points) {
  const hours = Array.from({ length: 24 }, () => []);
  for (const [minute, value] of points) hours[Math.min(23, Math.floor(minute / 60))].push(value);
  return hours.map((values) =>
    values.length
      ? [values.length, values.reduce((a, b) => a + b, 0) / values.length, Math.min(...values), Math.max(...values)]
      : [0, null, null, null],
  );
}

function hourlyTable(caption, unit, points) {
  const rows = hourly(points)
    .map(([count, mean, min, max], hour) => [hour, count, mean, min, max])
    .filter(([, count]) => count > 0)
    .map(([hour, count, mean, min, max]) => [hourSpan(hour), count, fmt(mean), fmt(min), fmt(max)]);
  return dataTable(caption, ["Hour", "Readings", `Mean (${unit})`, `Min (${unit})`, `Max (${unit})`], rows);
}

function stats(points) {
  const values = points.map(([, v]) => v);
  return {
    count: values.length,
    min: Math.min(...values),
    max: Math.max(...values),
    mean: values.reduce((a, b) => a + b, 0) / values.length,
    first: points[0][0],
    last: points[points.length - 1][0],
  };
}

/** Glucose trace (mg/dL) over the shaded 70-180 target band. */
export function glucoseChart(points, width, metrics = null) {
  const title = "Glucose";
  if (!points.length) return emptyFigure(title, "No glucose readings on this day.", "chart-glucose");
  const st = stats(points);
  const [lo, hi] = GLUCOSE_TARGET;
  // the numbers are the day's metrics (the tiles and the journal say the same)
  const range = metrics?.readings_summary;
  const summary = insufficient(metrics)
    ? `${plural(st.count, "reading")} from ${clock(st.first)} to ${clock(st.last)}: not enough for the day's figures` +
      `${metrics.reason ? ` (${metrics.reason})` : ""}; no mean or time in range is given.`
    : `${plural(st.count, "reading")} from ${clock(st.first)} to ${clock(st.last)}: mean ${fmt(metrics?.mean_mg_dl ?? st.mean)} mg/dL, ` +
      `range ${fmt(range?.min_mg_dl ?? st.min)}–${fmt(range?.max_mg_dl ?? st.max)} mg/dL, ` +
      `${fmt(metrics?.tir_70_180_pct ?? (100 * points.filter(([, v]) => v >= lo && v <= hi).length) / st.count)} % of readings in the ${lo}–${hi} mg/dL target range.`;
  const height = 220;
  const yDomain = [40, Math.max(250, Math.ceil((st.max + 20) / 50) * 50)];
  const f = frame({ width, height, yDomain, yTicks: [lo, 100, 140, hi, 250, 300, 350, 400].filter((v) => v > yDomain[0] && v < yDomain[1]), unit: "mg/dL" });
  const band = s("rect", {
    class: "band",
    x: MARGIN.left,
    width: f.plotW,
    y: f.y(hi),
    height: f.y(lo) - f.y(hi),
  });
  const line = s("path", { class: "line line-glucose", d: linePath(points, f.x, f.y, 20) });
  const svg = svgRoot(
    { width, height, title: "Glucose trace, mg/dL, by time of day", desc: summary, className: "glucose" },
    band,
    f.grid,
    line,
    f.axes,
  );
  const legend = h("p", { class: "legend", "aria-hidden": "true" }, h("span", { class: "swatch swatch-band" }), `target range ${lo}–${hi} mg/dL`);
  const reading = readout(svg, f, [0, DAY_MINUTES], (minute) => {
    const p = nearest(points, minute);
    return p && { text: `${clock(p[0])}: ${fmt(p[1])} mg/dL`, x: f.x(p[0]), y: f.y(p[1]) };
  });
  return figure(title, summary, svg, hourlyTable("Glucose by hour", "mg/dL", points), "chart-glucose", legend, metrics, reading);
}

/** Heart rate (bpm) line. */
export function heartRateChart(points, width, metrics = null) {
  const title = "Heart rate";
  if (!points.length) return emptyFigure(title, "No heart-rate samples on this day.", "chart-heart");
  const st = stats(points);
  const hr = metrics?.heart_rate;
  const summary = insufficient(metrics)
    ? `${plural(st.count, "sample")} from ${clock(st.first)} to ${clock(st.last)}: not enough for a daily profile` +
      `${metrics.reason ? ` (${metrics.reason})` : ""}.`
    : `${plural(st.count, "sample")} from ${clock(st.first)} to ${clock(st.last)}: mean of samples ${fmt(hr?.mean_bpm ?? st.mean)} bpm, ` +
      `range ${fmt(hr?.min_bpm ?? st.min)}–${fmt(hr?.max_bpm ?? st.max)} bpm.`;
  const height = 190;
  const ticks = niceTicks(Math.max(0, st.min - 5), st.max + 5, 4);
  const yDomain = [Math.min(ticks[0], st.min - 5), Math.max(ticks[ticks.length - 1], st.max + 5)];
  const f = frame({ width, height, yDomain, yTicks: ticks, unit: "bpm" });
  const line = s("path", { class: "line line-heart", d: linePath(points, f.x, f.y, 30) });
  const svg = svgRoot(
    { width, height, title: "Heart rate, beats per minute, by time of day", desc: summary, className: "heart" },
    f.grid,
    line,
    f.axes,
  );
  const reading = readout(svg, f, [0, DAY_MINUTES], (minute) => {
    const p = nearest(points, minute);
    return p && { text: `${clock(p[0])}: ${fmt(p[1])} bpm`, x: f.x(p[0]), y: f.y(p[1]) };
  });
  return figure(title, summary, svg, hourlyTable("Heart rate by hour", "bpm", points), "chart-heart", null, metrics, reading);
}

/** 24 hourly bars (steps, active kcal). */
export function hourlyBars(values, { title, unit, className, digits = 0 }, width) {
  const total = values.reduce((a, b) => a + b, 0);
  if (!values.length || total <= 0) return emptyFigure(title, `No ${title.toLowerCase()} recorded on this day.`, className);
  const peak = Math.max(...values);
  const peakHour = values.indexOf(peak);
  const active = values.filter((v) => v > 0);
  const even = peak - Math.min(...active) < 1e-6 * Math.max(peak, 1);
  const summary = even
    ? `${fmt(total, digits)} ${unit} in total, spread evenly over ${plural(active.length, "hour")} ` +
      `(${fmt(peak, digits)} ${unit} per hour: the records cover long periods, not single hours).`
    : `${fmt(total, digits)} ${unit} in total; the busiest hour was ${hourSpan(peakHour)} ` +
      `with ${fmt(peak, digits)} ${unit}.`;
  const height = 170;
  const ticks = niceTicks(0, peak, 4);
  const f = frame({ width, height, yDomain: [0, Math.max(peak, ticks[ticks.length - 1])], yTicks: ticks, unit: `${unit}/h` });
  const bars = s("g", { class: "bars" });
  if (even) {
    // the records cover long periods: one even band over those hours, not identical bars
    const first = values.findIndex((v) => v > 0);
    const last = values.length - 1 - [...values].reverse().findIndex((v) => v > 0);
    bars.append(
      s(
        "rect",
        { class: `bar spread ${className}-bar`, x: round(f.x(first * 60), 2), width: round(f.x(last * 60 + 60) - f.x(first * 60), 2), y: round(f.y(peak), 2), height: round(f.bottom - f.y(peak), 2) },
        s("title", {}, `${hourSpan(first).slice(0, 5)}–${hourSpan(last).slice(-5)}: ${fmt(peak, digits)} ${unit} per hour on average (spread evenly)`),
      ),
    );
  }
  values.forEach((value, hour) => {
    if (value <= 0 || even) return;
    const x0 = f.x(hour * 60);
    const slot = f.x(hour * 60 + 60) - x0;
    bars.append(
      s(
        "rect",
        { class: `bar ${className}-bar`, x: round(x0 + slot * 0.12, 2), width: round(slot * 0.76, 2), y: round(f.y(value), 2), height: round(f.bottom - f.y(value), 2) },
        s("title", {}, `${hourSpan(hour)}: ${fmt(value, digits)} ${unit}`),
      ),
    );
  });
  const svg = svgRoot(
    { width, height, title: `${title} per hour`, desc: summary, className: "bars" },
    f.grid,
    bars,
    f.axes,
  );
  const table = dataTable(
    `${title} per hour`,
    ["Hour", `${title} (${unit})`],
    values.map((value, hour) => [hourSpan(hour), fmt(value, digits)]),
  );
  const reading = readout(svg, f, [0, DAY_MINUTES], (minute) => {
    const hour = Math.min(23, Math.floor(minute / 60));
    const value = values[hour] ?? 0;
    const note = even && value > 0 ? " (an even share of longer records)" : "";
    return { text: `${hourSpan(hour)}: ${fmt(value, digits)} ${unit}${note}`, x: f.x(hour * 60 + 30), y: f.y(value) };
  });
  return figure(title, summary, svg, table, className, null, null, reading);
}
