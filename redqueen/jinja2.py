"""The Jinja2 environment for the loops that render a row per student or post on the
hottest pages (a thread's posts, the gradebook's rows) and the content of the student
pages with the most markup (the dashboard, the case reader): Jinja2 compiles a template
to Python and renders such loops four to five times faster than Django's engine (the
table in docs/architecture.md, "Rendering"). Django templates still own every page's
layout and its htmx partials; a page hands its content or a loop to Jinja2 with
`{% jinja %}` (cases/templatetags/redqueen.py), which passes it the page's context and
its partials.

Autoescaping is on, as in Django's templates: text is escaped, and only what is
already marked safe (Markdown sanitised by nh3, our own markup) passes through.
"""

import functools
import html

from django.template.defaultfilters import date as date_filter
from django.template.defaultfilters import floatformat, pluralize
from django.utils.timezone import (
    get_current_timezone,
    get_current_timezone_name,
    localtime,
    template_localtime,
)
from django.utils.translation import get_language
from jinja2 import Environment, StrictUndefined, pass_context
from markupsafe import Markup

from cases.routes import route as url
from cases.timezones import zone_named


def here() -> dict:
    """The active time zone and language, for a render's values (`local_date`,
    `due_phrase_here`): asked once a render, not once a date. Each asking goes through
    a context-local lookup, and a due list or a page of posts shows two or three dates
    a row."""
    return {
        "_zone": get_current_timezone(),
        "_zone_name": get_current_timezone_name(),
        "_language": get_language(),
    }


@pass_context
def local_date(context, value, fmt: str, zone=None) -> str:
    """Django's `date` filter in the active time zone (the course's), as Django's
    templates apply it; or in `zone`, a row's own course's, on a page that lists
    several courses' dates (the dashboard). A thread's posts show the same times to
    every reader, and Django's formatting costs more than the rest of a post's header:
    each is formatted once a process."""
    if value is None:
        return ""
    language = context.get("_language") or get_language()
    if zone is not None:
        return _formatted_in(value, fmt, str(zone), language)
    zone = context.get("_zone_name") or get_current_timezone_name()
    return _formatted(value, fmt, zone, language)


@functools.lru_cache(maxsize=8192)
def _formatted(value, fmt: str, zone: str, language: str) -> str:
    return date_filter(template_localtime(value), fmt)


@functools.lru_cache(maxsize=8192)
def _formatted_in(value, fmt: str, zone: str, language: str) -> str:
    return date_filter(localtime(value, zone_named(zone)), fmt)


def as_django_escapes(value):
    """Each printed value, escaped as Django's templates escape it (`&#x27;` and
    `&quot;`, where markupsafe writes `&#39;` and `&#34;`). Text without quotes goes on
    as it is: Jinja2's own escaping, which follows, writes `&amp;`, `&lt;` and `&gt;`
    as Django does, in C. Django's `conditional_escape` cost a fifth of a due list's
    render (its lazy-string check and a SafeString for each value)."""
    if hasattr(value, "__html__"):
        return value
    text = str(value)
    if "'" in text or '"' in text:
        return Markup(html.escape(text))  # noqa: S704 - escaped on this line.
    return text


def environment(**options) -> Environment:
    # A name the template does not know is an error (a test fails), where Django's
    # templates would quietly show nothing.
    options["undefined"] = StrictUndefined
    options.pop("autoescape", None)  # Always on, whatever the settings say.
    # Escaped as Django's templates escape (`&#x27;` and `&quot;`, where markupsafe
    # writes `&#39;` and `&#34;`), so a page reads the same whichever engine wrote it.
    options["finalize"] = as_django_escapes
    env = Environment(autoescape=True, **options)
    env.filters["date"] = local_date
    env.filters["pluralize"] = pluralize
    env.filters["floatformat"] = floatformat
    env.globals["url"] = url
    # A student's gradebook cells are joined in Python: 2,000 a page, where a
    # template's loop costs four times as much, Jinja2's included.
    from cases.templatetags.redqueen import (
        due_phrase,
        gradebook_cells,
        markdown_filter,
        status_tag,
    )

    @pass_context
    def due_phrase_here(context, due_at, now, zone=None) -> str:
        return due_phrase(due_at, now, zone or context.get("_zone"))

    env.filters["markdown"] = markdown_filter
    env.globals["gradebook_cells"] = gradebook_cells
    env.globals["due_phrase"] = due_phrase_here
    env.globals["status_tag"] = status_tag
    return env
