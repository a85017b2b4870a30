from django.http import HttpRequest, HttpResponseNotModified
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


def not_modified(request: HttpRequest, etag: str) -> HttpResponseNotModified | None:
    """A 304 carrying the ETag when the request's If-None-Match names it (the polled
    fragments send the ETag they show); None when the caller must answer in full."""
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponseNotModified()
        response["ETag"] = etag
        return response
    return None


# CSV downloads: streamed rows that a spreadsheet opens as text, never as formulas.
# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """A value a spreadsheet shows as text: one that would start a formula gets a
    leading quote."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


class CsvEcho:
    """The file-like object csv.writer writes a row to: the row comes back."""

    def write(self, value: str) -> str:
        return value
