"""Spans of time as the video-data endpoints take them: Beijing-day windows, no I/O."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from ._endpoints import BEIJING, TIME_FORMAT, parse_wire_time
from .errors import InvalidArgumentError

__all__ = ["DayWindow", "Moment", "beijing_today", "day_windows", "span_bounds"]

Moment = dt.datetime | dt.date | str
"""A bound of a span: a datetime (naive = Beijing time), a date (its whole Beijing day), or
the text of either (``YYYY-MM-DD`` or ``YYYY-MM-DD HH:MM:SS``, Beijing time)."""

_SECOND = dt.timedelta(seconds=1)


@dataclass(frozen=True)
class DayWindow:
    """One call's window: ``start_time``..``end_time`` (both inclusive) within one Beijing day."""

    day: dt.date
    start: dt.datetime
    end: dt.datetime

    @property
    def start_time(self) -> str:
        """``start_time`` as sent: ``YYYY-MM-DD HH:MM:SS``, Beijing time."""
        return self.start.strftime(TIME_FORMAT)

    @property
    def end_time(self) -> str:
        """``end_time`` as sent: ``YYYY-MM-DD HH:MM:SS``, Beijing time."""
        return self.end.strftime(TIME_FORMAT)


def beijing_today(now: dt.datetime | None = None) -> dt.date:
    """Today's date in Beijing (``now`` for tests; default the current time)."""
    return (now or dt.datetime.now(dt.timezone.utc)).astimezone(BEIJING).date()


def _bound(name: str, value: object, *, end: bool) -> dt.datetime:
    """One bound as an aware Beijing datetime on a whole second, rounded inwards."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = parse_wire_time(text) if len(text) > 10 else dt.date.fromisoformat(text)
        except ValueError:
            raise InvalidArgumentError(
                name, f"got {value!r}; expected a date YYYY-MM-DD or a time YYYY-MM-DD HH:MM:SS"
            ) from None
    if isinstance(value, dt.datetime):
        moment = value.astimezone(BEIJING) if value.tzinfo else value.replace(tzinfo=BEIJING)
        whole = moment.replace(microsecond=0)
        # records have whole seconds: a start inside a second begins at the next one
        return whole + _SECOND if moment.microsecond and not end else whole
    if isinstance(value, dt.date):
        midnight = dt.datetime.combine(value, dt.time(), BEIJING)
        return midnight + dt.timedelta(days=1) - _SECOND if end else midnight
    raise InvalidArgumentError(
        name, f"got {type(value).__name__}; expected a datetime, a date or their text"
    )


def span_bounds(since: Moment, until: Moment) -> tuple[dt.datetime, dt.datetime]:
    """The span's first and last second (Beijing-aware, both inclusive); a date is its whole day.

    Raises :class:`~baijiayun.InvalidArgumentError` naming ``since`` or ``until``.
    """
    start, end = _bound("since", since, end=False), _bound("until", until, end=True)
    if start > end:
        raise InvalidArgumentError(
            "until",
            f"the span ends ({end.strftime(TIME_FORMAT)}) before it begins "
            f"({start.strftime(TIME_FORMAT)}), Beijing time",
        )
    return start, end


def day_windows(since: Moment, until: Moment) -> Iterator[DayWindow]:
    """Split ``since``..``until`` (both inclusive) into windows that do not cross a Beijing
    midnight (docs/protocol.md#viewing-records: 查询时间不能跨天), oldest first; the bounds are checked at once."""
    start, end = span_bounds(since, until)
    return _windows(start, end)


def _windows(start: dt.datetime, end: dt.datetime) -> Iterator[DayWindow]:
    day = start.date()
    while True:
        last = dt.datetime.combine(day, dt.time(23, 59, 59), BEIJING)
        yield DayWindow(day, start, min(last, end))
        if last >= end:
            return
        day += dt.timedelta(days=1)
        start = dt.datetime.combine(day, dt.time(), BEIJING)
