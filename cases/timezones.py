"""Each course's dates are stored in UTC and shown, and typed, in the course's zone."""

import zoneinfo
from functools import cache

from django.utils import timezone


@cache
def time_zone_names() -> tuple[str, ...]:
    """Every IANA zone name this system knows, sorted for a select."""
    return tuple(sorted(zoneinfo.available_timezones()))


def zone_of(course) -> zoneinfo.ZoneInfo:
    """The course's zone; UTC if the stored name is unknown here."""
    try:
        return zoneinfo.ZoneInfo(course.time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def activate_for(course) -> None:
    """Show and parse dates in the course's zone for the rest of this request.
    `CourseTimeZoneMiddleware` resets it between requests."""
    timezone.activate(zone_of(course))
