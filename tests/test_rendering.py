"""The Jinja2 side of rendering (redqueen/jinja2.py): what the hottest loops rely on."""

from decimal import Decimal

import pytest
from django.template import engines
from django.urls import NoReverseMatch, reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy
from jinja2 import UndefinedError

from redqueen.jinja2 import here, url
from tests.xss_corpus import PAYLOADS


def _render(source: str, **context) -> str:
    return engines["jinja2"].from_string(source).render(context)


def test_url_agrees_with_reverse_for_ids_and_anything_else():
    for name, args in [
        ("cases:assignment_release", [12]),
        ("cases:grade_edit", [1, 22, 0]),
        ("cases:gradebook", [3]),
        ("cases:case_detail", ["shanghai-bell"]),
        ("cases:case_detail", ["tencent_qq-2"]),
        ("cases:paragraph_detail", ["shanghai-bell", 4]),
        ("cases:live_join_code", ["AB12CD"]),
        ("cases:home", []),
    ]:
        assert url(name, *args) == reverse(name, args=args)
        assert url(name, *args) == reverse(name, args=args)  # From the pattern kept.
    # What a route does not take is refused as reverse refuses it.
    for name, args in [
        ("cases:case_detail", ["not a slug"]),
        ("cases:item_detail", ["shanghai-bell"]),
        ("cases:live_join_code", ["AB12"]),
    ]:
        with pytest.raises(NoReverseMatch):
            reverse(name, args=args)
        with pytest.raises(NoReverseMatch):
            url(name, *args)
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


def test_every_value_prints_as_djangos_templates_print_it():
    """Jinja2 escapes quotes itself only where Django would write them differently;
    anything else, safe or not, text or not, must come out as Django's engine shows it."""
    values = [
        *PAYLOADS,
        'Tom & Jerry\'s <b>"best"</b>',
        "plain",
        "",
        7,
        Decimal("2.50"),
        None,
        gettext_lazy("Dashboard"),
        mark_safe("<em>kept</em> & 'as is'"),
    ]
    django = engines["django"].from_string('<i title="{{ v }}">{{ v }}</i>')
    for value in values:
        assert _render('<i title="{{ v }}">{{ v }}</i>', v=value) == django.render({"v": value})


def test_djangos_url_tag_gives_what_reverse_gives_by_any_of_its_forms():
    """`{% url %}` is cases/templatetags/routes.py's (a builtin): by position with ids
    and slugs it builds from the kept pattern; with keywords, `as`, or anything else it
    is Django's own. Each form, twice, agrees with `reverse`."""
    from django.template import Context, Template

    from cases.templatetags.routes import RouteNode

    source = (
        "{% url 'cases:item_detail' item %}|{% url 'cases:case_detail' slug %}|"
        "{% url 'cases:paragraph_detail' slug 4 %}|{% url 'cases:case_detail' slug=slug %}|"
        "{% url 'cases:home' %}|{% url 'cases:case_detail' 'not a slug' as gone %}[{{ gone }}]"
    )
    template = Template(source)
    assert any(isinstance(n, RouteNode) for n in template.nodelist)
    expected = "|".join(
        [
            reverse("cases:item_detail", args=[7]),
            reverse("cases:case_detail", args=["shanghai-bell"]),
            reverse("cases:paragraph_detail", args=["shanghai-bell", 4]),
            reverse("cases:case_detail", kwargs={"slug": "shanghai-bell"}),
            reverse("cases:home"),
            "[]",
        ]
    )
    for _ in range(2):
        assert template.render(Context({"item": 7, "slug": "shanghai-bell"})) == expected
    with pytest.raises(NoReverseMatch):
        Template("{% url 'cases:case_detail' 'not a slug' %}").render(Context())
