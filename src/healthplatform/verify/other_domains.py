"""Independent recomputation of sleep, activity, body, vitals and intake values."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from healthplatform.healthconnect.observations import Observation
from healthplatform.verify.base import (
    DAY,
    MIN,
    Timed,
    clock,
    end_offset,
    local_day,
    mean,
    value,
)

Facts = dict[str, Any]
ASLEEP = ("LIGHT", "DEEP", "REM", "SLEEPING")
AWAKE = ("AWAKE", "OUT_OF_BED")
KNOWN = (*ASLEEP, *AWAKE, "UNKNOWN")


def _segments(o: Observation) -> list[tuple[int, int, str]]:
    raw = []
    for s in o.fields.get("stages") or []:
        if (
            isinstance(s, dict)
            and isinstance(s.get("startTimeEpochMillis"), int)
            and isinstance(s.get("endTimeEpochMillis"), int)
        ):
            name = s.get("stage") if s.get("stage") in KNOWN else "UNKNOWN"
            raw.append((max(s["startTimeEpochMillis"], o.start_ms),
                        min(s["endTimeEpochMillis"], o.end_ms), str(name)))  # fmt: skip
    out: list[tuple[int, int, str]] = []
    covered = o.start_ms
    for a, b, name in sorted(raw):
        a = max(a, covered)
        if b > a:
            out.append((a, b, name))
            covered = b
    return out


def _session(o: Observation, day: int, prefix: str) -> Facts:
    segs = _segments(o)
    tib = (o.end_ms - o.start_ms) / MIN
    midpoint = (o.start_ms + o.end_ms) // 2
    f: Facts = {
        f"{prefix}.time_in_bed_min": tib,
        f"{prefix}.bedtime": clock(o.start_ms, o.offset_minutes),
        f"{prefix}.wake_time": clock(o.end_ms, end_offset(o)),
        f"{prefix}.midpoint": clock(midpoint, end_offset(o)),
    }
    if not segs:
        f[f"{prefix}.tst_min"] = tib
        return f
    minutes: dict[str, float] = defaultdict(float)
    for a, b, name in segs:
        minutes[name] += (b - a) / MIN
    known = sum(v for k, v in minutes.items() if k != "UNKNOWN")
    scored = 100 * known / tib if tib else 0.0
    f[f"{prefix}.scored_pct"] = scored
    if scored < 50:
        return f
    tst = sum(minutes[k] for k in ASLEEP)
    f[f"{prefix}.tst_min"] = tst
    f[f"{prefix}.efficiency_pct"] = 100 * tst / tib
    for k in ASLEEP:
        f[f"{prefix}.stages_min.{k.lower()}"] = minutes[k]
        f[f"{prefix}.stages_pct_of_tst.{k.lower()}"] = 100 * minutes[k] / tst if tst else None
    sleeping = [s for s in segs if s[2] in ASLEEP]
    if not sleeping:
        return f
    onset, final = sleeping[0][0], sleeping[-1][1]
    f[f"{prefix}.sleep_onset_latency_min"] = (onset - o.start_ms) / MIN
    waso, awakenings, bout = 0.0, 0, 0.0
    for a, b, name in segs:
        if a < onset or a >= final:
            continue
        if name in AWAKE:
            part = (min(b, final) - a) / MIN
            waso += part
            bout += part
        elif name in ASLEEP:
            if bout >= 5:
                awakenings += 1
            bout = 0.0
    f[f"{prefix}.waso_min"] = waso
    f[f"{prefix}.awakenings"] = awakenings
    return f


def sleep(obs: list[Observation], day: int) -> Facts:
    sessions = [
        o
        for o in obs
        if o.record_type == "SleepSessionRecord"
        and o.end_ms > o.start_ms
        and local_day(o.end_ms, end_offset(o)) == day
    ]
    if not sessions:
        return {}
    sessions.sort(key=lambda o: (o.start_ms, o.end_ms, o.hc_id))
    groups: list[list[Observation]] = []
    reach = -1
    for o in sessions:
        if groups and o.start_ms < reach:
            groups[-1].append(o)
            reach = max(reach, o.end_ms)
        else:
            groups.append([o])
            reach = o.end_ms
    kept = [
        sorted(g, key=lambda s: (not _segments(s), s.start_ms - s.end_ms, s.hc_id))[0]
        for g in groups
    ]
    main = sorted(kept, key=lambda s: (s.start_ms - s.end_ms, s.start_ms, s.hc_id))[0]
    f = _session(main, day, "sleep.main")
    naps = [_session(o, day, "nap") for o in kept if o is not main]
    nap_sleep = math.fsum(n["nap.tst_min"] for n in naps if n.get("nap.tst_min") is not None)
    f["sleep.naps.count"] = len(naps)
    f["sleep.naps.sleep_min"] = nap_sleep
    if "sleep.main.tst_min" in f:
        f["sleep.total_sleep_min"] = f["sleep.main.tst_min"] + nap_sleep
    return f


def _share(o: Observation, day: int) -> float | None:
    """The fraction of an interval record inside the local day (at its start offset)."""
    lo = day * DAY - o.offset_minutes * MIN
    hi = lo + DAY
    if o.end_ms <= o.start_ms:
        return 1.0 if lo <= o.start_ms < hi else None
    overlap = min(hi, o.end_ms) - max(lo, o.start_ms)
    return overlap / (o.end_ms - o.start_ms) if overlap > 0 else None


def _best_total(items: list[tuple[int, int, float]]) -> float:
    """The largest total of pairwise non-overlapping [start, end) items (memoised search
    over items sorted by start; a zero-length item occupies one millisecond)."""
    items = sorted((a, max(b, a + 1), v) for a, b, v in items)
    starts = [a for a, _, _ in items]
    memo: dict[int, float] = {}

    def best(i: int) -> float:
        if i >= len(items):
            return 0.0
        if i not in memo:
            nxt = i + 1
            while nxt < len(items) and starts[nxt] < items[i][1]:
                nxt += 1
            memo[i] = max(best(i + 1), items[i][2] + best(nxt))
        return memo[i]

    for i in range(len(items) - 1, -1, -1):  # fill bottom-up: no deep recursion
        best(i)
    return best(0)


CUMULATIVE = {
    "StepsRecord": ("steps", "count"),
    "ActiveCaloriesBurnedRecord": ("active_calories", "energyInKilocalories"),
    "TotalCaloriesBurnedRecord": ("total_calories", "energyInKilocalories"),
    "DistanceRecord": ("distance", "distanceInMeters"),
    "FloorsClimbedRecord": ("floors", "floors"),
    "ElevationGainedRecord": ("elevation", "elevationInMeters"),
}
SAMPLED = {
    "CyclingPedalingCadenceRecord": ("cycling_cadence", "revolutionsPerMinute"),
    "PowerRecord": ("power", "powerInWatts"),
    "SpeedRecord": ("speed", "speedInMetersPerSecond"),
    "StepsCadenceRecord": ("steps_cadence", "rateInStepsPerMinute"),
}


def activity(obs: list[Observation], day: int) -> Facts:
    f: Facts = {}
    for record_type, (key, field) in CUMULATIVE.items():
        items = []
        for o in obs:
            v = value(o.fields.get(field)) if o.record_type == record_type else None
            share = _share(o, day) if v is not None and v >= 0 else None
            if v is not None and share is not None:
                lo = day * DAY - o.offset_minutes * MIN
                items.append((max(o.start_ms, lo), min(o.end_ms, lo + DAY), v * share))
        if items:
            f[f"activity.{key}.total"] = _best_total(items)
    for record_type, (key, field) in SAMPLED.items():
        values = [
            v
            for o in obs
            if o.record_type == record_type
            for s in o.fields.get("samples") or []
            if isinstance(s, dict)
            and type(s.get("timeEpochMillis")) is int
            and local_day(s["timeEpochMillis"], o.offset_minutes) == day
            and (v := value(s.get(field))) is not None
        ]
        if values:
            f[f"activity.{key}.mean"] = mean(values)
            f[f"activity.{key}.max"] = max(values)
    sessions = [(o, s) for o in obs if o.record_type == "ExerciseSessionRecord"
                if (s := _share(o, day)) is not None]  # fmt: skip
    if sessions:
        lo = day * DAY
        spans = []
        kinds: dict[str, float] = defaultdict(float)
        for o, _ in sessions:
            a = max(o.start_ms, lo - o.offset_minutes * MIN)
            b = min(o.end_ms, lo - o.offset_minutes * MIN + DAY)
            spans.append((a, b))
            kinds[str(o.fields.get("exerciseType") or "UNKNOWN")] += (b - a) / MIN
        covered, edge = 0, None
        for a, b in sorted(spans):
            if edge is None or a > edge[1]:
                covered += (edge[1] - edge[0]) if edge else 0
                edge = (a, b)
            else:
                edge = (edge[0], max(edge[1], b))
        covered += (edge[1] - edge[0]) if edge else 0
        f["activity.exercise.sessions"] = len(sessions)
        f["activity.exercise.minutes"] = covered / MIN
        for kind, minutes in kinds.items():
            f[f"activity.exercise.types_min.{kind}"] = minutes
    f.update(
        series(
            obs, day, "activity", {"Vo2MaxRecord": ("vo2_max", "vo2MillilitersPerMinuteKilogram")}
        )
    )
    return f


def _instants(obs: list[Observation], day: int, record_type: str, field: str) -> list[Timed]:
    return sorted(
        (Timed(o.start_ms, v, o.offset_minutes)
         for o in obs
         if o.record_type == record_type
         and local_day(o.start_ms, o.offset_minutes) == day
         and (v := value(o.fields.get(field))) is not None),
        key=lambda t: (t.ms, t.v),
    )  # fmt: skip


def series(obs: list[Observation], day: int, domain: str, table: dict[str, tuple[str, str]],
           positive: bool = True) -> Facts:  # fmt: skip
    f: Facts = {}
    for record_type, (key, field) in table.items():
        points = [t for t in _instants(obs, day, record_type, field) if not positive or t.v > 0]
        if not points:
            continue
        vals = [t.v for t in points]
        p = f"{domain}.{key}"
        f.update({f"{p}.readings": len(vals), f"{p}.latest": points[-1].v, f"{p}.min": min(vals),
                  f"{p}.max": max(vals), f"{p}.mean": mean(vals)})  # fmt: skip
    return f


BODY = {
    "WeightRecord": ("weight", "weightInKilograms"),
    "HeightRecord": ("height", "heightInMeters"),
    "BodyFatRecord": ("body_fat", "percentage"),
    "LeanBodyMassRecord": ("lean_mass", "massInKilograms"),
    "BoneMassRecord": ("bone_mass", "massInKilograms"),
    "BodyWaterMassRecord": ("body_water_mass", "massInKilograms"),
    "BasalMetabolicRateRecord": ("bmr", "basalMetabolicRateInKilocaloriesPerDay"),
}


def body(obs: list[Observation], day: int, height_m: float | None) -> Facts:
    f = series(obs, day, "body", BODY)
    if "body.weight.latest" in f:
        heights = sorted(
            (o.start_ms, v)
            for o in obs
            if o.record_type == "HeightRecord"
            and o.start_ms < (day + 1) * DAY - o.offset_minutes * MIN
            and (v := value(o.fields.get("heightInMeters"))) is not None
            and v > 0
        )
        height = heights[-1][1] if heights else height_m
        if height:
            f["body.bmi.value"] = f["body.weight.latest"] / height**2
            f["body.bmi.height_m"] = height
    return f


def vitals(obs: list[Observation], day: int) -> Facts:
    f: Facts = {}
    pairs = sorted(
        (o.start_ms, s, d, o.offset_minutes)
        for o in obs
        if o.record_type == "BloodPressureRecord"
        and local_day(o.start_ms, o.offset_minutes) == day
        and (s := value(o.fields.get("systolic"))) is not None
        and (d := value(o.fields.get("diastolic"))) is not None
        and s > 0
        and d > 0
    )
    if pairs:
        p = "vitals.blood_pressure"
        f[f"{p}.readings"] = len(pairs)
        f[f"{p}.mean_systolic_mmhg"] = mean([s for _, s, _, _ in pairs])
        f[f"{p}.mean_diastolic_mmhg"] = mean([d for _, _, d, _ in pairs])
        ranks = {
            "highest_systolic_reading": lambda t: (t[1], t[2], -t[0]),
            "highest_diastolic_reading": lambda t: (t[2], t[1], -t[0]),
        }
        for name, rank in ranks.items():
            top = sorted(pairs, key=rank)[-1]
            f[f"{p}.{name}.systolic_mmhg"] = top[1]
            f[f"{p}.{name}.diastolic_mmhg"] = top[2]
            f[f"{p}.{name}.time"] = clock(top[0], top[3])
    spo2 = [
        t for t in _instants(obs, day, "OxygenSaturationRecord", "percentage") if 0 < t.v <= 100
    ]
    if spo2:
        vals = [t.v for t in spo2]
        low = sum(v < 90 for v in vals)
        f.update({"vitals.spo2.readings": len(vals), "vitals.spo2.mean": mean(vals),
                  "vitals.spo2.min": min(vals), "vitals.spo2.readings_below_90": low,
                  "vitals.spo2.pct_readings_below_90": 100 * low / len(vals)})  # fmt: skip
    f.update(series(obs, day, "vitals", {
        "RespiratoryRateRecord": ("respiratory_rate", "rate"),
        "BodyTemperatureRecord": ("body_temperature", "temperatureInCelsius"),
        "BasalBodyTemperatureRecord": ("basal_body_temperature", "temperatureInCelsius"),
    }))  # fmt: skip
    return f


NUTRIENTS = {
    "calories": "energy_kcal", "carbohydrates": "carbohydrates_g", "protein": "protein_g",
    "totalFat": "total_fat_g", "saturatedFat": "saturated_fat_g",
    "unsaturatedFat": "unsaturated_fat_g", "transFat": "trans_fat_g", "fiber": "fiber_g",
    "sugar": "sugar_g", "sodium": "sodium_mg", "potassium": "potassium_mg",
    "cholesterol": "cholesterol_mg", "calcium": "calcium_mg", "iron": "iron_mg",
    "vitaminC": "vitamin_c_mg", "vitaminD": "vitamin_d_ug",
}  # fmt: skip


def intake(obs: list[Observation], day: int) -> Facts:
    f: Facts = {}
    water = [(o, s) for o in obs if o.record_type == "HydrationRecord"
             if (s := _share(o, day)) is not None]  # fmt: skip
    amounts = [
        v * s
        for o, s in water
        if (v := value(o.fields.get("volumeInMilliliters"))) is not None and v >= 0
    ]
    if amounts:
        f["intake.hydration.volume_ml"] = math.fsum(amounts)
    food = [(o, s) for o in obs if o.record_type == "NutritionRecord"
            if (s := _share(o, day)) is not None]  # fmt: skip
    if food:
        f["intake.nutrition.records"] = len(food)
        for field, key in NUTRIENTS.items():
            parts = [
                v * s for o, s in food if (v := value(o.fields.get(field))) is not None and v >= 0
            ]
            if parts:
                f[f"intake.nutrition.{key}"] = math.fsum(parts)
    return f
