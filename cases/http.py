from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """The request type our views receive: django-htmx adds `htmx`."""

    htmx: HtmxDetails


def parse_int(value: str | None, *, low: int = 0, high: int = 2**31 - 1) -> int | None:
    """A whole number in [low, high] from request data, or None: never an exception."""
    value = (value or "").strip()
    if not (value.isascii() and value.isdigit()) or len(value) > len(str(high)):
        return None
    number = int(value)
    return number if low <= number <= high else None
