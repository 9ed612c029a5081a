"""Cron expressions as schedules read them (croniter), and those written for Quartz.

Five fields are minute, hour, day of month, month and day of week. A sixth field counts
seconds and comes *last* (croniter's order); Quartz (Java, Spring) puts seconds *first*
and writes ``?`` for the day field it leaves open, so ``0 0 9 ? * MON-FRI`` means 09:00 on
weekdays there but is no valid expression here, and ``0 */5 * * * *`` fires there every
five minutes but here every second of every fifth hour. An expression that reads like
Quartz gets a problem or a warning that says so, with its equivalent here.
"""

from __future__ import annotations

import re

FIVE = ("minute", "hour", "day of month", "month", "day of week")
SIX = (*FIVE, "second")
SIX_FIELDS = "six fields are minute hour day-of-month month day-of-week second (seconds last)"

_SECONDS = re.compile(r"(?:[0-5]?\d)(?:[,-][0-5]?\d)*|\*/\d+|[0-5]?\d/\d+")
_QUARTZ_DAY = re.compile(r"^(\d)(?:-(\d))?(/\d+|#\d|L)?$")


def field_names(expression: str) -> tuple[str, ...]:
    """What each field of ``expression`` is, in order (five or six fields)."""
    return SIX if len(expression.split()) >= len(SIX) else FIVE


def problem(expression: str) -> str | None:
    """Why ``expression`` is not a valid cron expression here; ``None`` if it is."""
    from croniter import croniter  # ~0.1 s to import: only where schedules are used

    if croniter.is_valid(expression):
        return None
    invalid = f"{expression!r} is not a valid cron expression"
    count = len(expression.split())
    if count == len(FIVE):
        return f"{invalid} (minute hour day-of-month month day-of-week)"
    if count not in (6, 7):
        return (
            f"{invalid}: it has {count} field{'s' if count != 1 else ''}; five are minute "
            "hour day-of-month month day-of-week, a sixth counts seconds, a seventh years"
        )
    if not _reads_like_quartz(expression):
        return f"{invalid}: {SIX_FIELDS}"
    quartz = quartz_equivalent(expression)
    written = f"; written for Quartz, it is {quartz!r} here" if quartz else ""
    return f"{invalid}: {SIX_FIELDS}, not first as in Quartz{written}"


def warning(expression: str) -> str | None:
    """What may surprise in a valid ``expression``: six fields that read like Quartz."""
    quartz = quartz_equivalent(expression)
    if quartz is None:
        return None
    every_second = expression.split()[5] == "*"
    return (
        f"{SIX_FIELDS}"
        + (", so this fires every second of each minute it matches" if every_second else "")
        + f"; if the first field is meant as the seconds (Quartz), write {quartz!r}"
    )


def quartz_equivalent(expression: str) -> str | None:
    """The same schedule written here, when ``expression`` reads like a Quartz one;
    ``None`` otherwise, or when it has no equivalent here."""
    if not _reads_like_quartz(expression):
        return None
    second, minute, hour, day, month, weekday, *year = expression.split()
    weekday_here = _weekday(weekday)
    if weekday_here is None:
        return None
    rest = [second, *year] if year and year[0] not in ("*", "?") else [second]
    parts = [minute, hour, _open(day), month, weekday_here, *([] if rest == ["0"] else rest)]
    written = " ".join(parts)
    from croniter import croniter

    return written if croniter.is_valid(written) else None


def _reads_like_quartz(expression: str) -> bool:
    """Six or seven fields, seconds-like first, and a ``?``, a weekday or ``*`` where the
    seconds come here."""
    fields = expression.split()
    if len(fields) not in (6, 7) or not _SECONDS.fullmatch(fields[0]):
        return False
    day, weekday = fields[3], fields[5]
    return "?" in (day, weekday) or weekday == "*" or bool(re.search("[A-Za-z]", weekday))


def _open(field: str) -> str:
    return "*" if field == "?" else field


def _weekday(field: str) -> str | None:
    """A Quartz day-of-week field here: Quartz counts 1 (Sunday) to 7, cron 0 to 6."""
    if field in ("?", "*"):
        return "*"
    shifted = []
    for part in field.split(","):
        if re.search("[A-Za-z]", part) and not part.endswith("L"):
            shifted.append(part)  # names (MON-FRI) mean the same in both
            continue
        match = _QUARTZ_DAY.match(part)
        if match is None:
            return None
        first, last, suffix = match.groups()
        days = [int(first), *([int(last)] if last else [])]
        if not all(1 <= day <= 7 for day in days):
            return None
        shifted.append("-".join(str(day - 1) for day in days) + (suffix or ""))
    return ",".join(shifted)
