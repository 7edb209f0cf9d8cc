// The daily journal as a person reads it: 2-3 plain-language highlights first (from the
// day's metrics, the numbers the tiles and claims hold), then the full journal folded,
// repeated patterns capped, and the technical terms explained where they appear.

import { h } from "./dom.js";

export const PATTERN_CAP = 3;

// term -> plain explanation (shown in place as <abbr title> and in the "Terms" list)
export const TERMS = {
  SD: "standard deviation: how far readings typically are from the day's average",
  CV: "coefficient of variation: the SD as a % of the mean; under 36 % is considered stable glucose",
  GMI: "glucose management indicator: an estimate of HbA1c from at least 14 days of CGM data",
  RMSSD: "a heart rate variability measure: beat-to-beat variation in milliseconds; higher is usually more relaxed/recovered",
  HRV: "heart rate variability: how much the time between heartbeats varies",
  WASO: "wake after sleep onset: minutes awake between falling asleep and the final wake-up",
  CGM: "continuous glucose monitor: a sensor that reads glucose every few minutes",
  REM: "rapid eye movement sleep, the dreaming stage",
  "time in range": "share of glucose readings between 70 and 180 mg/dL",
  awakening: "a wake bout of 5 minutes or more during the night; shorter ones are normal and not counted",
  efficiency: "time asleep as a share of time in bed; 85 % or more is the usual mark of good sleep",
};
const TERM_RE = new RegExp(`\\b(${Object.keys(TERMS).map((t) => t.replace(/ /g, "\\s")).join("|")})s?\\b`, "gi");

const n0 = (v) => Math.round(v).toLocaleString();
const hm = (v) => `${Math.floor(Math.round(v) / 60)} h ${Math.round(v) % 60} min`;
const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);
const ok = (d) => d && (!d.status || d.status === "ok");

/** Two or three sentences a person reads first, from the day's metrics. */
export function highlights(metrics) {
  const out = [];
  const g = metrics.glucose;
  if (g) {
    const lows = (g.low_episodes ?? []).length;
    if (lows) out.push(`Glucose went below 70 mg/dL ${lows === 1 ? "once" : `${lows} times`} for 15 minutes or more.`);
    if (ok(g) && num(g.tir_70_180_pct) !== null) {
      out.push(`Glucose was in the target range (70–180 mg/dL) for ${n0(g.tir_70_180_pct)} % of readings, averaging ${n0(g.mean_mg_dl)} mg/dL.`);
    } else if (!ok(g)) {
      out.push("Too few glucose readings today for daily glucose figures.");
    }
  }
  const sleep = metrics.sleep?.main;
  if (num(sleep?.tst_min) !== null) {
    const short = sleep.tst_min < 420;
    out.push(`You slept ${hm(sleep.tst_min)}${sleep.bedtime ? ` (${sleep.bedtime}–${sleep.wake_time})` : ""}${short ? ", less than the 7 hours recommended for adults" : ""}.`);
  }
  const steps = num(metrics.activity?.steps?.total);
  if (steps !== null) out.push(`You walked ${n0(steps)} steps.`);
  const rhr = num(metrics.heart?.resting?.bpm);
  if (out.length < 3 && rhr !== null) out.push(`Resting heart rate: ${n0(rhr)} bpm.`);
  return out.slice(0, 3);
}

/** Text with its terms wrapped in <abbr title="..."> (text nodes only, never HTML). */
export function explain(text, used) {
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(TERM_RE)) {
    const key = Object.keys(TERMS).find((t) => t.toLowerCase() === match[1].toLowerCase().replace(/\s+/g, " "));
    if (!key) continue;
    used.add(key);
    parts.push(text.slice(last, match.index), h("abbr", { title: TERMS[key], tabindex: "0" }, match[0]));
    last = match.index + match[0].length;
  }
  parts.push(text.slice(last));
  return parts;
}

/** Lines that say the same thing with other numbers ("after lunch at 00:35") are shown
 * up to PATTERN_CAP times, then counted. */
export function capRepeats(list) {
  const groups = new Map();
  for (const line of list) {
    const key = line.replace(/[\d.,:+\-–]+/g, "#").slice(0, 48);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(line);
  }
  const out = [];
  for (const group of groups.values()) {
    out.push(...group.slice(0, PATTERN_CAP).map((text) => ({ text })));
    if (group.length > PATTERN_CAP) out.push({ more: group.length - PATTERN_CAP });
  }
  return out;
}

const lines = (text) => (text ?? "").split("\n").map((line) => line.trim()).filter(Boolean);

/** The highlights card and the folded full journal. */
export function journalView(data, metrics) {
  const points = highlights(metrics ?? {});
  const top = h(
    "section",
    { class: "card highlights", "aria-labelledby": "highlights-heading" },
    h("h2", { id: "highlights-heading" }, "Today in brief"),
    points.length ? h("ul", { class: "highlight-list" }, points.map((p) => h("li", {}, p))) : h("p", { class: "hint" }, "Not enough data for a summary."),
  );
  if (!data) {
    return [top, h("section", { class: "card" }, h("p", { class: "empty" }, "No journal for this day yet; it is written when the day's uploads are processed."))];
  }
  const used = new Set();
  const statistical = lines(data.statistical).filter((line) => !line.startsWith("Daily summary for"));
  const patterns = capRepeats(lines(data.structural));
  const full = h(
    "div",
    { class: "journal" },
    h("section", { class: "journal-layer journal-statistical" }, h("h3", {}, "Measurements"), statistical.map((line) => h("p", {}, explain(line, used)))),
    h(
      "section",
      { class: "journal-layer journal-structural" },
      h("h3", {}, "Patterns"),
      h("ul", {}, patterns.map((p) => (p.text ? h("li", {}, explain(p.text, used)) : h("li", { class: "more-like-this" }, `… and ${p.more} more like this`)))),
    ),
    h("section", { class: "journal-layer journal-semantic" }, h("h3", {}, "What it may mean"), lines(data.semantic).map((line) => h("p", {}, explain(line, used)))),
  );
  const glossary = used.size
    ? h("section", { class: "journal-terms" }, h("h3", {}, "Terms used"), h("dl", {}, [...used].sort().map((t) => [h("dt", {}, t), h("dd", {}, TERMS[t])])))
    : null;
  const details = h(
    "details",
    { class: "card journal-details" },
    h("summary", {}, h("h2", { id: "journal-heading", class: "journal-title" }, "Full daily journal"), h("span", { class: "hint" }, " every measurement, pattern and what it may mean")),
    full,
    glossary,
  );
  return [top, details];
}
