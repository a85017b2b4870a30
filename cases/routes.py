"""A named route's path with its arguments filled in, its pattern reversed once a
process: for the loops that link every row (a thread's posts, the gradebook's release
controls and grade links), where `reverse` costs more than the rest of a row, and for
the links every page draws (the header's, an item's, a case's)."""

import functools
import re

from django.urls import NoReverseMatch, get_script_prefix, reverse

_SENTINEL = 987_654_321  # An id no route is given: where the real ids go.
# A slug no route is given, where the real slugs go: letters around digits, as a slug
# may be and no path's own text is.
_SLUG_SENTINEL = "qz{}zq"
# What `reverse` would put in a path as it is: a slug, for the converters that take one
# (slug, str, path).
_SLUG = re.compile(r"[-a-zA-Z0-9_]+")


def _stand_in(kind: str, n: int) -> int | str:
    return _SENTINEL + n if kind == "id" else _SLUG_SENTINEL.format(_SENTINEL + n)


@functools.lru_cache(maxsize=512)
def _pattern(name: str, kinds: tuple[str, ...], prefix: str) -> tuple[str, ...] | None:
    """The route's path split around its arguments, reversed once with stand-ins for
    them (`kinds`: "id" or "slug" for each); None when the route takes no slug where
    one is given (reversed as usual, each time)."""
    stand_ins = [_stand_in(kind, n) for n, kind in enumerate(kinds)]
    try:
        path = reverse(name, args=stand_ins)
    except NoReverseMatch:
        if "slug" in kinds:
            return None
        raise
    parts = re.split("|".join(re.escape(str(s)) for s in stand_ins), path)
    return tuple(parts) if len(parts) == len(kinds) + 1 else None


@functools.lru_cache(maxsize=512)
def _plain(name: str, prefix: str) -> str:
    return reverse(name)


def _kind(arg) -> str | None:
    if type(arg) is int:
        return "id"
    if type(arg) is str and _SLUG.fullmatch(arg):
        return "slug"
    return None


def route(name: str, *args) -> str:
    """`reverse(name, args=args)`: with no arguments, or with ids and slugs for
    arguments, from the path or pattern reversed once a process; anything else is
    reversed as usual."""
    if not args:
        return _plain(name, get_script_prefix())
    kinds = tuple(_kind(arg) for arg in args)
    parts = None if None in kinds else _pattern(name, kinds, get_script_prefix())
    if parts is None:
        return reverse(name, args=args)
    return "".join(part + str(arg) for part, arg in zip(parts, args, strict=False)) + parts[-1]
