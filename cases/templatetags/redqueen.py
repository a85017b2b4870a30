import functools

from django import template
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.middleware.csrf import get_token
from django.template import engines
from django.template.loader import get_template
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from cases.http import CSRF_INPUT, CSRF_SLOT_INPUT, with_token
from cases.markdown import shown_markdown
from cases.models import WorkStatus
from cases.routes import route
from redqueen.jinja2 import here

register = template.Library()


@register.simple_tag(takes_context=True)
def jinja(context, name: str, **values):
    """The Jinja2 template `name` (templates/jinja2/, redqueen/jinja2.py) rendered with
    this template's context and `values`: for the loops that render a row per post,
    student or due item on the hottest pages, and the hottest pages' content, which
    Jinja2 renders four to five times faster. The page's Django partials (its htmx
    fragments, `{% partialdef %}`) are there as `partials`, each drawn with the page's
    context where the Jinja2 template puts it."""
    values = context.flatten() | here() | {"partials": _Partials(context)} | values
    request = context.get("request")
    if request is not None:
        # The page's own masked token (or a shared fragment's slot), for every form of
        # the loop, not one drawn per form.
        token = _page_token(values, request)
        values |= {"request": request, "csrf_input": format_html(CSRF_INPUT, token)}
    html = engines["jinja2"].get_template(name).template.render(values)
    return mark_safe(html)  # noqa: S308 - rendered by Jinja2 with autoescaping on.


def _page_token(values, request) -> str:
    """The page's own masked CSRF token (`csrf_token` in its context, or a shared
    fragment's slot): masking another for each form costs as much as a row of a list."""
    return str(values.get("csrf_token") or get_token(request))


# Where the request's CSP nonce goes in the page's assets drawn once (`page_assets`).
_NONCE_SLOT = "\x00nonce\x00"


@register.simple_tag(takes_context=True)
def page_assets(context):
    """Every page's stylesheets, icon and scripts (layout/page_assets.html): drawn once
    a process, as their hashed static addresses stay the same while it runs, and the
    request's CSP nonce put in as it is served. Drawing them cost every page a tenth of
    its layout's time (five lookups in the static files' manifest)."""
    nonce = context.get("csp_nonce")
    nonce = "" if nonce is None else escape(str(nonce))
    return mark_safe(_page_assets().replace(_NONCE_SLOT, nonce))  # noqa: S308 - ours, escaped.


@functools.cache
def _page_assets() -> str:
    return get_template("layout/page_assets.html").render({"csp_nonce": _NONCE_SLOT}).strip()


@receiver(setting_changed)
def _static_changed(setting, **kwargs):
    if setting in ("STATIC_URL", "STORAGES", "DEBUG"):
        _page_assets.cache_clear()


# Where the user's name goes in a header drawn for everyone alike (`site_header`).
_NAME_SLOT = "\x00name\x00"


@register.simple_tag(takes_context=True)
def site_header(context):
    """The header of a signed-in user's page (layout/site_header.jinja): drawn once a
    process for each page marked current and each role, the user's name and CSRF token
    put in as it is served. The same few dozen headers served every page of every
    user; drawing one cost a signed-in page 0.1 to 0.15 ms. `nav_teaches` is a callable
    (its query runs here only) or, from a view that knows, a bool."""
    request = context["request"]
    teaches = context.get("nav_teaches")
    if callable(teaches):
        teaches = teaches()
    match = request.resolver_match
    html = _site_header(
        match.url_name if match else "", bool(teaches), bool(context.get("nav_is_admin"))
    )
    # The token first: the name, put in last, is never searched for a slot.
    html = with_token(request, html, _page_token(context, request))
    html = html.replace(_NAME_SLOT, escape(context["user"].display_name))
    return mark_safe(html)  # noqa: S308 - Jinja2's escaped render, the name escaped here.


@functools.lru_cache(maxsize=256)
def _site_header(current: str, teaches: bool, admin: bool) -> str:
    return (
        engines["jinja2"]
        .get_template("layout/site_header.jinja")
        .template.render(
            current=current,
            teaches=teaches,
            nav_is_admin=admin,
            display_name=mark_safe(_NAME_SLOT),  # noqa: S308 - our own stand-in.
            csrf_input=CSRF_SLOT_INPUT,
        )
    )


class _Partials:
    """A Django page's partials by name, each rendered when asked for: a page whose
    content is a Jinja2 template keeps its htmx fragments as Django partials, one markup
    for the page and the fragment."""

    def __init__(self, context):
        self.context = context

    def __getitem__(self, name: str):
        partial = self.context.template.extra_data["partials"][name]
        return mark_safe(partial.render(self.context))  # noqa: S308 - Django's autoescaped render.


@register.filter(name="markdown")
def markdown_filter(text: str):
    """Render user Markdown to sanitised HTML, once a process for each distinct text
    (`shown_markdown`): a page shows the same instructions and sources to every
    viewer."""
    return shown_markdown(text)


@register.simple_tag
def status_tag(entry) -> str:
    """Where a student stands on an item (a `StudentItem`), as a tag, and whether they
    handed it in late: for the dashboard's lists (Jinja2), the course page and the
    deadlines (Django's templates)."""
    return _status_tag(entry.status, entry.label, entry.late)


@functools.lru_cache(maxsize=128)
def _status_tag(status: str, label: str, late: bool) -> str:
    """A handful of statuses and labels (in the active language's words) between them:
    each tag made once a process, not once a row."""
    late_tag = ' <span class="tag tag--late">Handed in late</span>' if late else ""
    return format_html(
        '<span class="tag tag--{}" data-status="{}">{}</span>{}',
        status,
        status,
        label,
        mark_safe(late_tag),  # noqa: S308 - our own markup.
    )


@register.simple_tag
def due_phrase(due_at, now, zone=None) -> str:
    """When something is due, as a student plans: "due today at 17:00", "due tomorrow
    at 09:00", "due Friday at 17:00 (in 3 days)", "due Fri 18 Dec at 17:00 (in 16 days)";
    and once past, "was due yesterday at 17:00" or "was due 3 days ago". In the course's
    zone: on a course's pages the active one, which is the default; a page that lists
    several courses' dates (the dashboards) gives each row its own course's `zone`,
    for the active zone there is the server's, not any course's."""
    if due_at is None:
        return "no due date"
    zone = zone or timezone.get_current_timezone()
    local, today = timezone.localtime(due_at, zone), timezone.localtime(now, zone).date()
    days = (local.date() - today).days
    at = local.strftime("%H:%M")
    if days == 0:
        return f"{'due' if due_at >= now else 'was due'} today at {at}"
    if days == 1:
        return f"due tomorrow at {at}"
    if days == -1:
        return f"was due yesterday at {at}"
    if days < 0:
        return f"was due {-days} days ago"
    when = local.strftime("%A") if days < 7 else f"{local:%a} {local.day} {local:%b}"
    return f"due {when} at {at} (in {days} days)"


@register.filter
def timeleft(seconds: int) -> str:
    """Seconds as "12 min 05 s" (or "1 h 02 min")."""
    seconds = max(0, int(seconds or 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s"


@register.filter
def initial_hidden(field) -> str:
    """A field rendered by hand (radios one by one) still posts back the value the page
    showed, as `{{ field }}` does for a field with `show_hidden_initial`: its hidden
    `initial-` input (escaped by the widget)."""
    return field.as_hidden(only_initial=True)


def points_text(points) -> str:
    """8, 4.5 or 4.67: whole points without decimals."""
    return str(int(points)) if points == int(points) else f"{points:.2f}".rstrip("0")


# Beside a deactivated student's name on the staff's grids: words, not a colour alone.
DEACTIVATED = ' <span class="tag tag--deactivated">deactivated</span>'


@register.simple_tag
def tracker_rows(matrix, base_url: str, panel_query: str = "", symbols=None, late_symbol=""):
    """The tracker's body rows. The template engine spends ~0.2 ms a cell, so a page of
    50 students by 40 items took 0.4 s; joined strings take a few milliseconds. Every
    value from a person (names) is escaped here; the rest are numbers and our labels.

    A cell links to this page with its side panel open (`?student=&item=`, the filters,
    view and page kept), which works without script; htmx fetches only the panel and
    puts that address in the location bar. `symbols` (status → symbol): the compact
    view, a symbol for each status with its name for screen readers and as a tooltip."""
    base = escape(base_url)
    page = f"{base}?{escape(panel_query)}&amp;" if panel_query else f"{base}?"
    symbols = dict(symbols or ())
    # Plain strings (not SafeStrings, whose joins cost more) and each status's class,
    # looked up once here rather than once a cell.
    labels = {status: str(escape(status.label)) for status in WorkStatus}
    classes = {status: f"cell cell--{status.value}" for status in WorkStatus}
    if symbols:
        shown = {
            status: f'<span aria-hidden="true">{symbols[status]}</span>'
            f'<span class="visually-hidden">{labels[status]}</span>'
            for status in WorkStatus
        }
        late = (
            f' <i aria-hidden="true">{late_symbol}</i>'
            '<span class="visually-hidden">, handed in late</span>'
        )
    else:
        shown = dict(labels)
        shown[WorkStatus.NOT_STARTED] = (
            '<span aria-hidden="true">·</span><span class="visually-hidden">Not started</span>'
        )
        late = " <i>late</i>"
    out = []
    for row in matrix.rows:
        student = row.student
        name = escape(student.get_full_name() or student.username)
        student_id = student.id
        extra = (
            ' <span class="tag tag--extra-time">extra time</span>'
            if getattr(student, "extra_time", False)
            else ""
        )
        if not student.is_active:  # Left: listed for their work, not to be chased.
            extra += DEACTIVATED
        out.append(
            f'<tr><th scope="row"><a href="{base}students/{student_id}/">{name}</a>{extra}</th>'
        )
        for cell in row.cells:
            if cell.assignment is None:
                out.append(
                    '<td class="cell cell--none"><span aria-hidden="true">—</span>'
                    '<span class="visually-hidden">Not assigned</span></td>'
                )
                continue
            item_id = cell.item.id
            panel = f"{base}students/{student_id}/items/{item_id}/"
            href = f"{page}student={student_id}&amp;item={item_id}"
            status = cell.status
            text = shown[status]
            if cell.points is not None:
                text += f" <b>{points_text(cell.points)}</b>"
            elif cell.earlier is not None:  # Graded, then handed in again: to grade.
                text += f" <small>(was {points_text(cell.earlier)})</small>"
            if cell.late:
                text += late
            title = f' title="{labels[status]}{", handed in late" if cell.late else ""}"'
            out.append(
                f'<td class="{classes[status]}"><a href="{href}"'
                f'{title if symbols else ""} hx-get="{panel}" hx-push-url="{href}"'
                f' hx-target="#work-panel" hx-swap="outerHTML">{text}</a></td>'
            )
        out.append("</tr>\n")
    return mark_safe("".join(out))  # noqa: S308 - names escaped above; the rest is ours.


NOT_GIVEN = '<span class="gradebook__meta">not given</span>'


@register.simple_tag
def gradebook_cells(grades, course, back_query: str):
    """One student's gradebook cells, built in Python for the reason `tracker_rows`
    gives."""
    # The student's grade-form URL up to the item id, reversed once for the row.
    student = grades.row.student.pk
    base = escape(route("cases:grade_edit", course.pk, student, 0).removesuffix("0/"))
    back = escape(back_query)
    out = []
    for group in grades.groups:
        for cell in group.cells:
            if not cell.assignment:
                out.append(f'<td class="gradebook__cell">{NOT_GIVEN}</td>')
                continue
            url = f"{base}{cell.item.id}/?{back}"
            status = cell.status
            if status == "excused":
                shown = "excused"
            elif status == "graded" and cell.points is not None:
                shown = points_text(cell.points)
            elif status == "late":
                shown = "0"
            else:
                shown = "—"
            tags = ""
            if status == "late":
                tags += ' <span class="tag tag--late">missing</span>'
            elif status == "submitted":
                tags += ' <span class="tag tag--submitted">to grade</span>'
                if cell.earlier is not None:  # Graded, then handed in again.
                    tags += f' <span class="gradebook__meta">was {points_text(cell.earlier)}</span>'
            if cell.late:
                tags += ' <span class="tag tag--late">late</span>'
            if cell.work is not None and cell.work.override_score is not None:
                tags += ' <span class="tag">override</span>'
            if cell.item.id in group.dropped:
                tags += ' <span class="tag">dropped</span>'
            out.append(
                f'<td class="gradebook__cell"><a href="{url}" hx-get="{url}&amp;inline=1"'
                f' hx-target="#grade-panel" hx-swap="innerHTML show:#grade-panel:top">{shown}</a>'
                f"{tags}</td>"
            )
    return mark_safe("".join(out))  # noqa: S308 - numbers, our labels and escaped URLs.
