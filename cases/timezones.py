"""Each course's dates are stored in UTC and shown, and typed, in the course's zone:
on its own pages through the active zone (`activate_for`), and on a page that lists
several courses' dates (the dashboards, the notifications) row by row, each in its own
course's zone (`zone_of`, `zone_named`)."""

import functools
import zoneinfo
from functools import cache

from django.utils import timezone


@cache
def time_zone_names() -> tuple[str, ...]:
    """Every IANA zone name this system knows, sorted for a select."""
    return tuple(sorted(zoneinfo.available_timezones()))


@functools.lru_cache(maxsize=128)
def zone_named(name: str) -> zoneinfo.ZoneInfo:
    """The zone of a course's `time_zone`; UTC if the name is unknown here. For a row
    that brings the name alone (a dashboard's), not the course."""
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def zone_of(course) -> zoneinfo.ZoneInfo:
    """The course's zone; UTC if the stored name is unknown here."""
    return zone_named(course.time_zone)


def activate_for(course) -> None:
    """Show and parse dates in the course's zone for the rest of this request.
    `CourseTimeZoneMiddleware` resets it between requests."""
    timezone.activate(zone_of(course))
