import functools
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from django.core.cache import cache
from django.http import HttpRequest, HttpResponseNotModified
from django.middleware.csrf import get_token
from django.shortcuts import resolve_url
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
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


# What a form posts besides its fields: not carried through a confirmation page.
_NOT_CARRIED = {"csrfmiddlewaretoken", "action", "confirmed"}


def as_typed(request: HttpRequest) -> list[tuple[str, str]]:
    """A posted form's fields as typed, each value of each name, for a page that asks
    before saving to carry in hidden fields (its buttons then save it, or take it back
    to the form): nothing the user typed is lost on the way."""
    return [
        (name, value)
        for name, values in request.POST.lists()
        if name not in _NOT_CARRIED
        for value in values
    ]


def next_url(request: HttpRequest, default) -> str:
    """Where a form goes back to: its `next` (posted, or in the query) if it stays on
    this site, on HTTPS when the request came so, and is not the address the form was
    sent to (which may answer POST only); else `default` (a URL, a URL pattern's name or
    a model with an address)."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if (
        candidate
        and urlsplit(candidate).path != request.path
        and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return candidate
    return resolve_url(default)


def not_modified(request: HttpRequest, etag: str) -> HttpResponseNotModified | None:
    """A 304 carrying the ETag when the request's If-None-Match names it (the polled
    fragments send the ETag they show); None when the caller must answer in full."""
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponseNotModified()
        response["ETag"] = etag
        return response
    return None


# What a version shows, kept this long: the version moves on any change that shows, so
# this bounds only what it does not fold in (a student renamed).
KEPT_SECONDS = 600


# How long a request waits for another that is building the same thing, at most.
BUILD_SECONDS = 2.0


@functools.cache
def code_version() -> str:
    """A digest of the code and templates that make what `kept` keeps: a release that
    changes them reads nothing an older one kept (a value of another shape, markup of
    another template), though both share one cache while the release rolls out."""
    digest = hashlib.blake2b(digest_size=8)
    root = Path(__file__).resolve().parent.parent
    for folder, pattern in (("cases", "*.py"), ("templates", "*.html"), ("templates", "*.jinja")):
        for path in sorted((root / folder).rglob(pattern)):
            digest.update(path.read_bytes())
    return digest.hexdigest()


def kept[T](key: str, build: Callable[[], T]) -> T:
    """What `build()` makes for `key`, made once and kept in the cache: for what many
    requests show alike, where `key` holds every input that shapes it (a version among
    them). Made once also when many ask at the same moment (the graders' polls just
    after a change): while one request builds it, the others wait for its result
    rather than build it too. Nothing relies on it: lost or cold, `build()` runs again,
    and a cache that is away shows no builder to wait for. The caller must not change
    what it is given: the next request of the process is given the same object."""
    name = _kept_name(key)
    value = _read(name)
    if value is not None:
        return value
    lock = f"{name}:building"
    builder = cache.add(lock, 1, BUILD_SECONDS)
    if not builder:
        deadline = time.monotonic() + BUILD_SECONDS
        while cache.has_key(lock) and time.monotonic() < deadline:
            time.sleep(0.01)
        value = _read(name)
        if value is not None:
            return value
    try:
        value = build()
        until = time.time() + KEPT_SECONDS
        cache.set(name, (until, value), KEPT_SECONDS)
        _near.put(name, until, value)
    finally:
        if builder:
            cache.delete(lock)
    return value


def _kept_name(key: str) -> str:
    return "kept:" + hashlib.blake2b((code_version() + key).encode(), digest_size=16).hexdigest()


def kept_value(key: str):
    """What `kept` holds for `key`, or None: for a value made from an earlier
    version's (see `keep`)."""
    return _read(_kept_name(key))


def keep(key: str, value) -> None:
    """Keep `value` for `key` unless something is kept there already: what `kept` would
    build, made another way (from an earlier version's value and the one change since)."""
    name = _kept_name(key)
    until = time.time() + KEPT_SECONDS
    cache.add(name, (until, value), KEPT_SECONDS)
    _near.put(name, until, value)  # Alike whoever made it: the key holds its inputs.


class _Near:
    """What this process read or made of `kept` lately, by name, the most recently used
    first: a page asked again neither asks the cache nor unpickles what it kept (a
    thread's outline of a thousand keys, a grid's markup). What a name holds never
    changes, as its key holds every input that shapes it, so this copy is as true as
    the cache's; it goes when the cache's does (`until`, set when it was made), so what
    the key does not fold in (a student renamed) is no older here than there. Not
    Django's local-memory cache, which pickles what it keeps: the unpickling is what
    this saves."""

    def __init__(self, size: int):
        self.size = size
        self._values: OrderedDict[str, tuple[float, object]] = OrderedDict()
        self._lock = threading.Lock()  # gunicorn's threads share a process.

    def get(self, name: str):
        with self._lock:
            found = self._values.get(name)
            if found is None:
                return None
            if found[0] <= time.time():
                del self._values[name]
                return None
            self._values.move_to_end(name)
            return found[1]

    def put(self, name: str, until: float, value) -> None:
        with self._lock:
            self._values[name] = (until, value)
            self._values.move_to_end(name)
            while len(self._values) > self.size:
                self._values.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


# A process's share: each value is a page's part (a grid's markup, a thread's outline),
# from a few to a few hundred kilobytes.
NEAR_VALUES = 128
_near = _Near(NEAR_VALUES)


def _read(name: str):
    """The value kept under `name`: this process's copy, else the cache's (then copied
    here), else None."""
    value = _near.get(name)
    if value is not None:
        return value
    stored = cache.get(name)
    if stored is None:
        return None
    until, value = stored
    _near.put(name, until, value)
    return value


# Where a shared fragment's form carries the viewer's CSRF token: rendered into the
# fragment as the token, and replaced by the viewer's own each time it is served.
CSRF_SLOT = "csrf-slot-3b9e2c7a"
# A form's hidden field with its token, as Django's `{% csrf_token %}` writes it.
CSRF_INPUT = '<input type="hidden" name="csrfmiddlewaretoken" value="{}">'
# The slot as a form's hidden field, for Jinja2 templates (their `csrf_input`).
CSRF_SLOT_INPUT = format_html(CSRF_INPUT, CSRF_SLOT)


def with_token(request: HttpRequest, html: str, token: str | None = None) -> str:
    """Kept markup with the viewer's CSRF token in place of the slot: `token`, the
    page's own masked one, or another."""
    return html.replace(CSRF_SLOT, token or get_token(request))


def shared_fragment(request: HttpRequest, key: str, render: Callable[[dict], str]) -> str:
    """A fragment many viewers see alike (`kept` under `key`), whose only thing of the
    viewer's, their CSRF token, is put in as it is served. `render(extra)` renders it
    with `extra` added to its context."""
    return with_token(request, kept(key, lambda: render({"csrf_token": CSRF_SLOT})))


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
