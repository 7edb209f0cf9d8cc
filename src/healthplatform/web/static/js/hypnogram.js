// The sleep-stage hypnogram of the day view: one row per stage, over the night's window.

import { clock } from "./dom.js";
import { dataTable, emptyFigure, figure, fmt, frame, MARGIN, readout, round, s, svgRoot } from "./charts.js";

// Hypnogram rows, top to bottom; Health Connect stage names map onto them.
const STAGE_ROWS = [
  { key: "awake", label: "Awake", text: "awake", stages: ["AWAKE", "OUT_OF_BED", "AWAKE_IN_BED"] },
  { key: "rem", label: "REM", text: "REM", stages: ["REM"] },
  { key: "light", label: "Light", text: "light", stages: ["LIGHT"] },
  { key: "deep", label: "Deep", text: "deep", stages: ["DEEP"] },
  { key: "sleeping", label: "Asleep", text: "asleep (unstaged)", stages: ["SLEEPING"], optional: true },
  { key: "unknown", label: "Unknown", text: "unknown", stages: [], optional: true },
];

function stageRow(stage) {
  return STAGE_ROWS.find((row) => row.stages.includes(stage)) ?? STAGE_ROWS[STAGE_ROWS.length - 1];
}

function duration(minutes) {
  const m = Math.round(minutes);
  return m >= 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m} min`;
}

/** Minutes per hypnogram row from the day's sleep metrics (`sleep.main.stages_min`). */
function metricTotals(stagesMin) {
  if (!stagesMin) return null;
  const get = (key) => (typeof stagesMin[key] === "number" ? stagesMin[key] : 0);
  return new Map([
    ["awake", get("awake") + get("out_of_bed")],
    ["rem", get("rem")],
    ["light", get("light")],
    ["deep", get("deep")],
    ["sleeping", get("sleeping")],
    ["unknown", get("unknown")],
  ]);
}

/**
 * Sleep stages as a hypnogram: one row per stage, one rect per stage segment. The time per
 * stage comes from the sleep metrics when given (`stagesMin`), as the journal reports it;
 * otherwise it is summed from the segments.
 */
export function hypnogram(stages, width, stagesMin = null) {
  const title = "Sleep stages";
  if (!stages.length) return emptyFigure(title, "No sleep stages recorded for the night before this day.", "chart-sleep");
  const used = new Set(stages.map((st) => stageRow(st.stage).key));
  const rows = STAGE_ROWS.filter((row) => !row.optional || used.has(row.key));
  let totals = metricTotals(stagesMin);
  if (!totals) {
    totals = new Map(STAGE_ROWS.map((row) => [row.key, 0]));
    for (const st of stages) totals.set(stageRow(st.stage).key, totals.get(stageRow(st.stage).key) + (st.end - st.start));
  }
  const start = Math.min(...stages.map((st) => st.start));
  const end = Math.max(...stages.map((st) => st.end));
  const summary =
    `Stages recorded from ${clock(start)} to ${clock(end)}: ` +
    rows.filter((row) => totals.get(row.key) > 0).map((row) => `${row.text} ${duration(totals.get(row.key))}`).join(", ") +
    ".";
  const rowH = 26;
  const height = MARGIN.top + MARGIN.bottom + rowH * rows.length;
  // the night's window (whole hours around it), not 24 h: readable on a phone
  const xDomain = [Math.floor(start / 60) * 60, Math.max(Math.ceil(end / 60) * 60, Math.floor(start / 60) * 60 + 120)];
  const f = frame({ width, height, xDomain, yDomain: [0, rows.length] });
  const labels = s("g", { class: "axis", "aria-hidden": "true" });
  const bands = s("g", { class: "rows", "aria-hidden": "true" });
  rows.forEach((row, i) => {
    const top = MARGIN.top + i * rowH;
    bands.append(s("rect", { class: i % 2 ? "row-odd" : "row-even", x: MARGIN.left, y: top, width: f.plotW, height: rowH }));
    labels.append(s("text", { x: MARGIN.left - 6, y: top + rowH / 2 + 4, "text-anchor": "end" }, row.label));
  });
  const segments = s("g", { class: "stages" });
  for (const st of stages) {
    const row = stageRow(st.stage);
    const i = rows.indexOf(row);
    segments.append(
      s(
        "rect",
        {
          class: `stage stage-${row.key}`,
          x: round(f.x(st.start), 2),
          width: Math.max(0.8, round(f.x(st.end) - f.x(st.start), 2)),
          y: MARGIN.top + i * rowH + 3,
          height: rowH - 6,
        },
        s("title", {}, `${row.label}: ${clock(st.start)}–${clock(st.end)}`),
      ),
    );
  }
  const svg = svgRoot(
    { width, height, title: "Hypnogram: sleep stage by time of day", desc: summary, className: "sleep" },
    bands,
    f.grid,
    segments,
    labels,
    f.axes,
  );
  const table = dataTable(
    "Time in each sleep stage",
    ["Stage", "Minutes"],
    rows.filter((row) => totals.get(row.key) > 0).map((row) => [row.label, fmt(totals.get(row.key))]),
  );
  const reading = readout(svg, f, xDomain, (minute) => {
    const st = stages.find((x) => x.start <= minute && minute < x.end);
    if (!st) return null;
    const row = stageRow(st.stage);
    return { text: `${clock(st.start)}–${clock(st.end)}: ${row.text}`, x: f.x(minute), y: MARGIN.top + rows.indexOf(row) * rowH + rowH / 2 };
  });
  return figure(title, summary, svg, table, "chart-sleep", null, null, reading);
}
