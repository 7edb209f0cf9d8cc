"""Number, percentage, duration and clock formatting for narratives (display rounding)."""

from __future__ import annotations


def num(value: float, digits: int = 0) -> str:
    """``3933.4`` -> ``'3,933'``; never ``'-0'``."""
    text = f"{value:,.{digits}f}"
    return text[1:] if text.startswith("-") and float(text[1:].replace(",", "")) == 0 else text


def pct(value: float) -> str:
    """Whole percent, one decimal under 1 % so that a small non-zero share stays visible."""
    digits = 1 if 0 < abs(value) < 1 else 0
    return f"{num(value, digits)} %"


def duration(minutes: float) -> str:
    """``443`` -> ``'7 h 23 min'``, ``45`` -> ``'45 min'``, ``120`` -> ``'2 h'``."""
    total = round(minutes)
    hours, mins = divmod(abs(total), 60)
    sign = "-" if total < 0 else ""
    if not hours:
        return f"{sign}{mins} min"
    return f"{sign}{hours} h" + (f" {mins} min" if mins else "")


def clock(minutes_from_midnight: float) -> str:
    """Minutes from midnight (may be negative or > 1440) as a wall-clock ``HH:MM``."""
    total = round(minutes_from_midnight) % 1440
    return f"{total // 60:02d}:{total % 60:02d}"


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else (many or word + 's')}"
