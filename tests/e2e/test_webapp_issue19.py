"""Issue 19 in Chromium: what a person meets after uploading the sample files, day by day
(tests/e2e/issue19.mjs drives the browser; this file states what must be true).
Screenshots of the main pages at 1280x800 and 390x844 land in test-artifacts/issue19/."""

from __future__ import annotations

import re
import uuid
from typing import Any

from tests.conftest import SAMPLES, SAMPLES_ERROR
from tests.e2e.browser import ARTIFACT_ROOT, run_script
from tests.e2e.test_webapp_browser import platform  # noqa: F401 (the fixture)

ARTIFACTS = ARTIFACT_ROOT / "issue19"


def run_browser(url: str) -> dict[str, Any]:
    assert sorted(SAMPLES.glob("*.avro")), SAMPLES_ERROR or f"no sample files in {SAMPLES}"
    options = {
        "url": url,
        "username": f"i19-{uuid.uuid4().hex[:8]}",
        "samples": SAMPLES,
        "artifacts": ARTIFACTS,
    }
    result = run_script("issue19.mjs", options, timeout=300)
    assert result["consoleErrors"] == []
    return result


NUMBER = re.compile(r"\d[\d,.]*")


def test_issue19_pages(platform: str) -> None:  # noqa: F811 (the fixture)
    result = run_browser(platform)
    pages = result["steps"]["pages"]
    check_days(pages)
    check_trends(result["steps"], pages)
    check_history_and_navigation(result["steps"])
    check_first_run(result["steps"]["firstRun"])
    check_zip(result["steps"]["zip"])
    check_journal(result["steps"], pages)
    check_charts(result["steps"])


def check_days(pages: dict[str, Any]) -> None:
    """(1) the zone and the placed records; (2) one set of numbers, insufficient marked."""
    assert len(pages) >= 3, list(pages)
    insufficient_glucose = 0
    for day, page in pages.items():
        clock = page["clock"]
        assert clock.startswith(
            "Times in UTC-05:00 (your zone, inferred from your other records"
        ), (day, clock)
        journal = page["journal"]
        for tile in page["tiles"]:
            if tile["insufficient"]:
                assert tile["value"] == "Not enough data", (day, tile)
                continue
            # every number on a tile is the journal's number (one computation)
            assert tile["value"] in journal, (day, tile, journal)
        glucose = page["summaries"].get("chart-glucose", "")
        glucose_insufficient = "Glucose (CGM): insufficient data" in journal or (
            "insufficient" in journal.split("Glucose", 1)[-1].split("\n", 1)[0]
        )
        if glucose_insufficient:
            insufficient_glucose += 1
            assert not any("mg/dL" in t["value"] for t in page["tiles"]), (day, page["tiles"])
            assert any(t["insufficient"] and t["domain"] == "glucose" for t in page["tiles"])
            assert "not enough" in glucose and not re.search(r"mean \d", glucose), (day, glucose)
        elif glucose and "No glucose" not in glucose:
            mean = re.search(r"mean (\d+) mg/dL", glucose)
            assert mean and f"mean {mean.group(1)} mg/dL" in journal, (day, glucose, journal)
            assert "chart chart-glucose" in page["placedFlags"], (day, page["placedFlags"])
            assert "placed in your zone" in clock and "glucose" in clock, (day, clock)
    assert insufficient_glucose >= 1, "the samples hold a day with too few glucose readings"


def check_trends(steps: dict[str, Any], pages: dict[str, Any]) -> None:
    """(4) week and month views: the days' own numbers, bars link to days, marked gaps."""
    week, month = steps["week"], steps["month"]
    assert week["hash"] == "#/trends/week/2025-09-21", week["hash"]
    assert month["hash"] == "#/trends/month/2025-09-21", month["hash"]
    assert "UTC-05:00" in week["hint"]
    for view in (week, month):
        assert view["charts"] == [
            "Steps (steps)",
            "Main sleep (hours)",
            "Sleep timing (clock time)",
            "Time in range 70\u2013180 mg/dL (%)",
            "Resting heart rate (bpm)",
            "Heart rate variability (RMSSD) (ms)",
        ]
        assert [row[0] for row in view["rows"]] == sorted(pages)
        for day, steps_text, sleep, _bedtime, tir, _rhr, _hrv in view["rows"]:
            tiles = {t["label"]: t["value"] for t in pages[day]["tiles"]}
            if "Steps" in tiles:
                assert steps_text == tiles["Steps"], (day, steps_text, tiles)
            if "Main sleep" in tiles:
                assert sleep == tiles["Main sleep"], (day, sleep, tiles)
            if "Time in range 70\u2013180" in tiles:
                assert tir == tiles["Time in range 70\u2013180"], (day, tir, tiles)
            if any(t["domain"] == "glucose" and t["insufficient"] for t in pages[day]["tiles"]):
                assert tir == "not enough data", (day, tir)
    with_steps = sum(any(t["label"] == "Steps" for t in p["tiles"]) for p in pages.values())
    assert week["bars"]["Steps (steps)"] == with_steps >= 2 and week["missing"] >= 4
    assert week["barTitles"][0].endswith("steps") and ":" in week["barTitles"][0]
    assert week["next"] is None or week["next"] <= "#/trends/week/9999"
    assert steps["barOpens"].startswith("#/day/2025-09-")
    assert week["bars"]["Sleep timing (clock time)"] == 2
    assert steps["trendsPhoneWidth"] <= 390


def check_history_and_navigation(steps: dict[str, Any]) -> None:
    """(7) history and upload errors; (8) sessions and navigation."""
    history = steps["history"]
    assert "Heart rate variability (RMSSD)" in history["typeOptions"]
    assert not any(o.endswith("Record") for o in history["typeOptions"]), history["typeOptions"]
    assert "Glucose" in history["recordNames"] and "Steps" in history["recordNames"]
    expanded = history["expanded"]
    assert len(expanded["narrative"]) > len(expanded["preview"]) > 0, expanded
    assert expanded["days"] and all(d.startswith("#/day/2025-09-") for d in expanded["days"])
    assert history["linkOpens"] == expanded["days"][0]
    assert history["emptyMessages"] == ["No uploads match these filters. "], history

    error = steps["uploadError"]
    assert error["status"] == "Error (HTTP 415): not an Avro object container file"
    assert error["next"].startswith("Next step: export the data again from Health Connect")

    nav = steps["navigation"]
    assert nav["nextOnToday"] == 0 and nav["nextDisabled"] == "Next day \u2192", nav
    assert nav["invalid"]["heading"] == "Day not found"
    assert "2025-13-45" in nav["invalid"]["text"] and "is not a date" in nav["invalid"]["text"]
    assert nav["unknown"] == {"hash": "#/nonsense", "heading": "Page not found"}
    assert nav["invalidPeriod"].startswith("\u201c2025-02-30\u201d is not a date.")

    assert steps["history"]["phoneWidth"] <= 390
    devices = steps["devices"]
    assert steps["accountPhoneWidth"] <= 390
    assert devices and all(d["name"] == "Chrome on Linux" for d in devices), devices
    assert not any("Mozilla/" in d["visible"] for d in devices), devices

    tabs = steps["tabs"]
    assert tabs["secondHash"] == "#/history" and tabs["secondUser"].startswith("i19-")
    assert tabs["firstAfter"] == "#/history" and tabs["secondAfter"] == "#/history"


def check_first_run(first: dict[str, Any]) -> None:
    """(6) onboarding: how to get the files, samples labelled and loaded once, AI choice."""
    assert first["open"] is True and first["welcomeAboveDropzone"] is True
    assert first["title"] == "How to get your files from your phone"
    for text in ("Health Connect", "one .avro file per kind of data per day", "Try sample data"):
        assert text in first["text"], text
    assert "Your data and AI training" in first["text"] and "only if you say yes" in first["text"]
    assert first["consentNow"].startswith("Your choice: not answered, so no.")
    assert first["checked"] is False
    assert first["firstLoad"].startswith("Loaded a synthetic sample week (35 files)")
    assert first["secondLoad"].startswith("The sample week is already in your account")
    assert first["historySummary"].startswith("Showing 1\u201320 of 35 uploads"), first
    assert first["sampleBadges"] == first["rows"] == 20
    assert "synthetic sample records" in first["dayBanner"]
    assert first["trendBadges"] >= 1
    assert first["openAfterData"] is False


def check_zip(got: dict[str, Any]) -> None:
    """(6) raw export from the Account page: the original files, CSV and JSON lines."""
    import zipfile

    assert got["filename"].endswith(".zip") and "ZIP" in got["status"], got
    names = zipfile.ZipFile(got["path"]).namelist()
    raw = [n for n in names if n.startswith("raw/")]
    assert len(raw) == len(list(SAMPLES.glob("*.avro")))
    assert {"export.jsonl", "csv/records.csv", "csv/days.csv"} <= set(names)


def check_journal(steps: dict[str, Any], pages: dict[str, Any]) -> None:
    """(3) highlights first, the detail folded, repeats capped, terms explained; plots
    above the journal, high on a phone."""
    for day, page in pages.items():
        assert 1 <= len(page["highlights"]) <= 3, (day, page["highlights"])
        assert page["journalFolded"] is True and page["plotsAboveJournal"] is True, day
    day = pages["2025-09-20"]
    assert day["highlights"][0].startswith("Glucose was in the target range (70\u2013180 mg/dL)")
    assert "You slept 6 h 10 min" in " ".join(day["highlights"])
    assert "You walked 3,933 steps." in day["highlights"]
    terms = dict(day["terms"])
    assert "SD" in terms and "standard deviation" in terms["SD"], day["terms"]
    assert {"CV", "RMSSD", "SD"} <= set(day["glossary"]), day["glossary"]
    insufficient = pages["2025-09-19"]["highlights"]
    assert "Too few glucose readings today for daily glucose figures." in insufficient
    capped = steps["capped"]
    assert [c.get("more") for c in capped] == [None, None, None, 7, None], capped
    assert steps["phoneDay"]["plotsTop"] < 1500 and steps["phoneDay"]["width"] <= 390


def check_charts(steps: dict[str, Any]) -> None:
    """(5) units on the axes, enough glucose ticks, values on hover and tap, the sleep chart
    over the night, steps spread evenly drawn as one even band."""
    charts = steps["charts"]
    assert charts["hrv"]["title"].startswith("Heart rate variability (RMSSD), 14 days")
    assert charts["hrv"]["bars"] == 1 and charts["hrv"]["unit"] == "ms", charts["hrv"]
    assert charts["units"] == {
        "chart-glucose": "mg/dL",
        "chart-heart": "bpm",
        "chart-sleep": None,
        "chart-steps": "steps/h",
        "chart-kcal": "kcal/h",
        "trend-hrv": "ms",
    }, charts["units"]
    assert len(charts["glucoseTicks"]) >= 4, charts["glucoseTicks"]
    assert re.fullmatch(r"\d\d:\d\d: \d+ mg/dL", charts["glucoseReadout"]), charts
    assert charts["sleepTicks"][0] in ("01:00", "02:00") and "18:00" not in charts["sleepTicks"]
    assert charts["stepSpread"] == charts["stepBars"] == 1
    assert "spread evenly" in charts["stepsSummary"]
    hour = r"\d\d:00\u2013\d\d:00"
    even = rf"{hour}: 164 steps \(an even share of longer records\)"
    assert re.fullmatch(even, charts["stepsReadout"]), charts
    stage = r"\d\d:\d\d\u2013\d\d:\d\d: (awake|REM|light|deep)"
    assert re.fullmatch(stage, steps["phoneDay"]["sleepReadout"]), steps["phoneDay"]
