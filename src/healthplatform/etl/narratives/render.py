"""Display renderers for claims: how a value of each kind reads in a sentence."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from healthplatform.etl.narratives.fmt import clock, duration, num, pct, plural

Render = Callable[[Any], str]


def units(unit: str, digits: int = 0) -> Render:
    """``134.2`` -> ``'134 mg/dL'``."""
    return lambda v: f"{num(v, digits)} {unit}"


def bare(digits: int = 0) -> Render:
    """``25.4`` -> ``'25'``."""
    return lambda v: num(v, digits)


def percent(v: Any) -> str:
    return pct(v)


def minutes(v: Any) -> str:
    """Minutes as ``'7 h 10 min'``."""
    return duration(v)


def count(word: str, many: str | None = None) -> Render:
    """``3`` -> ``'3 readings'``."""
    return lambda v: plural(int(v), word, many)


def hhmm(v: Any) -> str:
    """An ``HH:MM`` clock time as it is."""
    return str(v)


def clock_of(v: Any) -> str:
    """Minutes from midnight as ``HH:MM``."""
    return clock(v)


def signed(unit: str) -> Render:
    """``52.0`` -> ``'+52 mg/dL'``."""
    return lambda v: f"+{num(v)} {unit}" if v > 0 else f"{num(v)} {unit}"


MG = units("mg/dL")
BPM = units("bpm")
MS = units("ms")
