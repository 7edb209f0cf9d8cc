"""Placing records on a person's clock: the record's own offset, or the person's zone.

Health Connect stores every record with the zone offset of the app that wrote it. Most apps
write the phone's offset (``-05:00``); some write every record as ``Z`` whatever the
person's zone (the Dexcom CGM app on the real sample phone does), and some write none. The
rule (docs/metrics.md, "Time zones"):

1. A record with a non-zero offset keeps it (``record``).
2. A ``Z`` record or one without an offset, while the person has *set* a zone in force at
   that instant: the set zone's offset at that instant (``set``; IANA zones follow DST).
3. A ``Z`` record from an app that is not known to stamp UTC keeps it (``record``): the
   person really is at UTC then.
4. Otherwise the zone is *inferred*: the trusted offset in force at that instant, i.e. of
   the latest trusted record hour at or before it (else the earliest after it), where a
   trusted record is one placed by rule 1 or 3 (``inferred``).
5. With no trusted record at all: UTC (``utc``).

The evidence is the set of (clock hour, app, offset) the person's records carry. An app
*stamps UTC* when, in some clock hour, it wrote ``Z`` while another app of the same person
wrote a non-zero offset. A trusted hour's offset is the one most apps wrote in that hour
(one vote per app; ties: the smaller offset).
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from healthplatform.healthconnect.observations import Observation

HOUR_MS = 3_600_000
SOURCES = ("record", "inferred", "set", "utc")
AUTO = "auto"  # a set-zone history entry that hands back to inference


class UnknownZone(ValueError):
    """Not an IANA time zone name."""


def check_zone(name: str) -> str:
    """``name`` if it is an IANA zone (or ``auto``); raises :class:`UnknownZone`."""
    if name == AUTO:
        return name
    if name not in _zone_names():
        raise UnknownZone(f"unknown time zone {name!r}: use an IANA name such as Europe/Paris")
    return name


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


@lru_cache(maxsize=65_536)
def _zone_offset(zone: str, quarter_hour: int) -> int:
    moment = datetime.fromtimestamp(quarter_hour * 900, tz=UTC).astimezone(ZoneInfo(zone))
    delta = moment.utcoffset()
    return int(delta.total_seconds() // 60) if delta is not None else 0


def zone_offset(zone: str, epoch_ms: int) -> int:
    """UTC offset in minutes of IANA ``zone`` at an instant (cached per quarter hour:
    zones change their offset on quarter-hour boundaries)."""
    try:
        return _zone_offset(zone, epoch_ms // 900_000)
    except ZoneInfoNotFoundError as exc:  # pragma: no cover - zones are checked on input
        raise UnknownZone(zone) from exc


def midnight_ms(zone: str, day_ordinal: int) -> int:
    """Epoch ms of local midnight starting the given proleptic ordinal day in ``zone``."""
    day = date.fromordinal(day_ordinal)
    local = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone))
    return int(local.timestamp() * 1000)


def offset_label(minutes: int) -> str:
    """``-300`` -> ``'UTC-05:00'``, ``0`` -> ``'UTC'``."""
    if minutes == 0:
        return "UTC"
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{mins:02d}"


@dataclass(frozen=True)
class SetZone:
    """One entry of the person's zone history: ``zone`` applies from ``valid_from_ms``
    (None: since always) until the next entry; ``auto`` hands back to inference."""

    valid_from_ms: int | None
    zone: str


def zone_in_force(history: Sequence[SetZone], epoch_ms: int) -> str | None:
    """The set zone at an instant, None when none is set (or ``auto``)."""
    current: str | None = None
    for entry in history:  # sorted, None first
        if entry.valid_from_ms is None or entry.valid_from_ms <= epoch_ms:
            current = entry.zone
        else:
            break
    return None if current in (None, AUTO) else current


Evidence = tuple[int, str, int]  # (clock hour since 1970, app, offset minutes)


def evidence(observations: Iterable[Observation]) -> set[Evidence]:
    """What records carrying an offset say about the person's zone (app "" when unknown)."""
    return {
        (o.start_ms // HOUR_MS, o.origin or "", o.record_offset)
        for o in observations
        if o.record_offset is not None
    }


def utc_stamping(found: Iterable[Evidence]) -> set[str]:
    """Apps that wrote ``Z`` in an hour in which another app wrote a non-zero offset."""
    kinds: dict[int, dict[str, set[bool]]] = defaultdict(lambda: defaultdict(set))
    for hour, origin, offset in found:
        kinds[hour][origin].add(offset != 0)
    stamping: set[str] = set()
    for origins in kinds.values():
        if any(True in k for k in origins.values()):
            stamping.update(o for o, k in origins.items() if False in k)
    return stamping


def trusted(obs: Observation, stamping: set[str]) -> bool:
    """Whether the record's own offset is evidence of the person's zone (rules 1 and 3)."""
    if obs.record_offset is None:
        return False
    return obs.record_offset != 0 or (obs.origin or "") not in stamping


def trusted_evidence(found: Iterable[Evidence], stamping: set[str]) -> list[Evidence]:
    return [e for e in found if e[2] != 0 or e[1] not in stamping]


class Timeline:
    """The trusted offset in force at any instant, from trusted evidence hours."""

    def __init__(self, found: Iterable[Evidence]) -> None:
        votes: dict[int, Counter[int]] = defaultdict(Counter)
        for hour, _origin, offset in set(found):  # one vote per app and offset
            votes[hour][offset] += 1
        self.hours = sorted(votes)
        self.offsets = [
            min(votes[h].items(), key=lambda item: (-item[1], item[0]))[0] for h in self.hours
        ]

    def __bool__(self) -> bool:
        return bool(self.hours)

    def at(self, epoch_ms: int) -> int | None:
        if not self.hours:
            return None
        i = bisect.bisect_right(self.hours, epoch_ms // HOUR_MS)
        return self.offsets[i - 1] if i else self.offsets[0]

    def changes(self) -> list[tuple[int, int]]:
        """(first hour's epoch ms, offset) each time the offset changes."""
        out: list[tuple[int, int]] = []
        for hour, offset in zip(self.hours, self.offsets, strict=True):
            if not out or out[-1][1] != offset:
                out.append((hour * HOUR_MS, offset))
        return out


@dataclass(frozen=True)
class Placement:
    """Where a record lands: start and end offsets and the rule that chose them."""

    offset: int
    end_offset: int | None
    source: str


def place(
    obs: Observation, history: Sequence[SetZone], timeline: Timeline, stamping: set[str]
) -> Placement:
    """The placement of one record by the rules in the module docstring."""
    own = obs.record_offset
    if own is not None and own != 0:
        end = obs.record_end_offset if obs.record_end_offset is not None else None
        return Placement(own, end, "record")
    zone = zone_in_force(history, obs.start_ms)
    if zone is not None:
        end_zone = zone_in_force(history, obs.end_ms) or zone
        end_offset = zone_offset(end_zone, obs.end_ms) if obs.end_ms != obs.start_ms else None
        return Placement(zone_offset(zone, obs.start_ms), end_offset, "set")
    if own == 0 and (obs.origin or "") not in stamping:
        return Placement(0, obs.record_end_offset, "record")
    start = timeline.at(obs.start_ms)
    if start is None:
        return Placement(0, None, "utc")
    end_at = timeline.at(obs.end_ms) if obs.end_ms != obs.start_ms else None
    return Placement(start, end_at if end_at != start else None, "inferred")


def apply(obs: Observation, placement: Placement) -> bool:
    """Move ``obs`` to ``placement``; True when that changed it."""
    before = (obs.offset_minutes, obs.end_offset_minutes, obs.zone_source)
    after = (placement.offset, placement.end_offset, placement.source)
    if before == after:
        return False
    obs.offset_minutes, obs.end_offset_minutes, obs.zone_source = after
    obs.touched_days = obs.memo = None
    return True


def place_all(observations: Sequence[Observation], history: Sequence[SetZone] = ()) -> set[str]:
    """Place one person's whole set of records in memory (the database path places an
    upload at a time, ``etl.placement``, to the same result). Returns the apps found
    stamping UTC."""
    found = evidence(observations)
    stamping = utc_stamping(found)
    timeline = Timeline(trusted_evidence(found, stamping))
    for obs in observations:
        apply(obs, place(obs, history, timeline, stamping))
    return stamping
