"""The Jinja2 side of rendering (redqueen/jinja2.py): what the hottest loops rely on."""

import pytest
from django.template import engines
from django.urls import reverse
from django.utils.safestring import mark_safe
from jinja2 import UndefinedError

from redqueen.jinja2 import here, url


def _render(source: str, **context) -> str:
    return engines["jinja2"].from_string(source).render(context)


def test_url_agrees_with_reverse_for_ids_and_anything_else():
    for name, args in [
        ("cases:assignment_release", [12]),
        ("cases:grade_edit", [1, 22, 0]),
        ("cases:gradebook", [3]),
        ("cases:case_detail", ["shanghai-bell"]),
        ("cases:home", []),
    ]:
        assert url(name, *args) == reverse(name, args=args)
    # The pattern reversed once serves every id.
    assert url("cases:grade_edit", 7, 8, 9) == reverse("cases:grade_edit", args=[7, 8, 9])


def test_text_is_escaped_and_only_what_is_marked_safe_passes():
    html = _render("{{ name }} {{ body }}", name="<script>x</script>", body=mark_safe("<p>ok</p>"))
    assert html == "&lt;script&gt;x&lt;/script&gt; <p>ok</p>"


def test_a_name_the_template_does_not_know_is_an_error():
    with pytest.raises(UndefinedError):
        _render("{{ missing }}")


def test_dates_show_in_the_active_time_zone_each_time_it_changes():
    from datetime import UTC, datetime

    from django.utils import timezone

    moment = datetime(2026, 12, 3, 17, 30, tzinfo=UTC)
    source = "{{ at|date('j M, H:i') }}"
    with timezone.override("Asia/Shanghai"):
        assert _render(source, at=moment) == "4 Dec, 01:30"
    with timezone.override("Europe/London"):
        assert _render(source, at=moment) == "3 Dec, 17:30"
    with timezone.override("Asia/Shanghai"):
        assert _render(source, at=moment) == "4 Dec, 01:30"


def test_a_render_told_the_zone_once_shows_what_asking_at_each_date_shows():
    """`here()` gives a render the active zone and language once (the due list, a page
    of posts); its dates and due phrases are those asked for date by date, and follow
    the zone as it changes between renders."""
    from datetime import UTC, datetime

    from django.utils import timezone

    moment = datetime(2026, 12, 3, 17, 30, tzinfo=UTC)
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    source = "{{ at|date('j M, H:i') }}: {{ due_phrase(at, now) }}"
    for zone, shown in [
        ("Asia/Shanghai", "4 Dec, 01:30: due Friday at 01:30 (in 2 days)"),
        ("Europe/London", "3 Dec, 17:30: due tomorrow at 17:30"),
        ("Asia/Shanghai", "4 Dec, 01:30: due Friday at 01:30 (in 2 days)"),
    ]:
        with timezone.override(zone):
            told = _render(source, **here(), at=moment, now=now)
            asked = _render(source, at=moment, now=now)
        assert told == asked == shown


def test_quotes_are_escaped_as_djangos_templates_escape_them():
    html = _render('<b title="{{ name }}">{{ name }}</b>', name='O\'Brien "Bo" <b>')
    shown = "O&#x27;Brien &quot;Bo&quot; &lt;b&gt;"
    assert html == f'<b title="{shown}">{shown}</b>'
