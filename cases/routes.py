"""A named route's path with its ids filled in, its pattern reversed once a process:
for the loops that link every row (a thread's posts, the gradebook's release controls
and grade links), where `reverse` costs more than the rest of a row, and the links
every page's header draws twice."""

import functools
import re

from django.urls import get_script_prefix, reverse

_SENTINEL = 987_654_321  # An id no route is given: where the real ids go.


@functools.lru_cache(maxsize=512)
def _pattern(name: str, arity: int, prefix: str) -> tuple[str, ...]:
    """The route's path split around its `arity` id arguments, reversed once."""
    path = reverse(name, args=[_SENTINEL + n for n in range(arity)])
    return tuple(re.split("|".join(str(_SENTINEL + n) for n in range(arity)), path))


@functools.lru_cache(maxsize=512)
def _plain(name: str, prefix: str) -> str:
    return reverse(name)


def route(name: str, *args) -> str:
    """`reverse(name, args=args)`: with no arguments or ids for arguments, from the
    path or pattern reversed once a process; anything else is reversed as usual."""
    if not args:
        return _plain(name, get_script_prefix())
    if not all(type(arg) is int for arg in args):
        return reverse(name, args=args)
    parts = _pattern(name, len(args), get_script_prefix())
    return "".join(part + str(arg) for part, arg in zip(parts, args, strict=False)) + parts[-1]
