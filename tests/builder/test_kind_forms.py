"""Adding an item: its kind first, then only that kind's fields, shown and validated;
a discussion's prompt is the author's own (a placeholder, never stand-in text)."""

import pytest
from django.urls import reverse

from cases.models import Discussion, ItemKind, ModuleItem, Quiz

pytestmark = pytest.mark.django_db


def _field(html: str, name: str) -> str:
    """The markup of the field (label, help, input, errors) holding input `name`."""
    for chunk in html.split('<div class="field')[1:]:
        if f'name="{name}"' in chunk:
            return chunk
    raise AssertionError(f"No field {name!r} on the page")


def _names(html: str) -> set[str]:
    import re

    return set(re.findall(r'name="([a-z_]+)"', html)) - {"csrfmiddlewaretoken"}


def _url(world, **query):
    url = reverse("cases:item_create", args=[world.course.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def test_a_course_without_cohorts_says_who_adds_them_where_an_item_is_given(world, client_for):
    client = client_for("instructor")
    assert "no cohorts yet" not in _field(client.get(_url(world, kind="quiz")).text, "cohorts")
    world.course.cohorts.clear()
    html = client.get(_url(world, kind="quiz")).text
    assert "This course has no cohorts yet: an admin adds them on the Cohorts page." in html


def test_an_instructor_adds_a_quiz_choosing_its_kind_first(world, client_for):
    client = client_for("instructor")
    html = client.get(_url(world)).content.decode()
    assert "What are you adding?" in html
    assert 'href="?kind=quiz"' in html and 'href="?kind=discussion"' in html
    assert 'name="title"' not in html  # No fields before the kind is chosen.

    html = client.get(_url(world, kind="quiz")).content.decode()
    assert '<option value="quiz" selected>' in html
    assert {"kind", "title", "module", "cohorts", "due_at"} <= _names(html)
    # A discussion's prompt, a reading's case and a spectrum's companies are not a quiz's.
    assert not {"prompt", "case", "spectrum_cases"} & _names(html)
    assert "set on the next page" in html

    cohort = world.item.assignments.get().cohort
    data = {
        "kind": "quiz",
        "title": "Pop quiz on SMIC",
        "module": world.item.module.pk,
        "cohorts": [cohort.pk],
        # Another kind's field, posted anyway, is ignored: never validated nor used.
        "prompt": "<b>not Markdown</b>",
    }
    response = client.post(_url(world), data)
    item = ModuleItem.objects.get(title="Pop quiz on SMIC")
    assert response["Location"] == reverse("cases:quiz_settings", args=[item.pk])
    assert Quiz.objects.filter(item=item).exists()
    assert not Discussion.objects.filter(item=item).exists()
    assert "Pop quiz on SMIC" in client_for("student").get(world.course.get_absolute_url()).text

    client = client_for("instructor")
    # Edited later: its kind is named, fixed, and only fields that fit it are offered.
    html = client.get(reverse("cases:item_edit", args=[item.pk])).content.decode()
    assert "Kind</span> Quiz" in html
    assert reverse("cases:quiz_settings", args=[item.pk]) in html
    assert "kind" not in _names(html) and "prompt" not in _names(html)
    assert "rubric" not in _names(html)  # A quiz scores itself.
    assert {"title", "instructions", "grade_category"} <= _names(html)
    discussion_edit = reverse("cases:item_edit", args=[world.discussion.item.pk])
    html = client.get(discussion_edit).content.decode()
    assert "Kind</span> Discussion" in html and "rubric" in _names(html)


def test_a_discussion_without_a_prompt_is_refused_next_to_the_field(world, client_for):
    client = client_for("instructor")
    html = client.get(_url(world, kind="discussion")).content.decode()
    prompt = _field(html, "prompt")
    # The suggestion is a placeholder: nothing that could be published unchanged.
    assert 'placeholder="e.g. Argue from the case' in prompt
    assert 'id="id_prompt">\n</textarea>' in prompt  # Empty.
    data = {
        "kind": "discussion",
        "title": "R firm or D firm?",
        "module": world.item.module.pk,
        "prompt": "   ",
    }
    for _ in range(2):  # Refused again, the same way, the second time.
        response = client.post(_url(world), data)
        assert response.status_code == 200
        html = response.content.decode()
        prompt = _field(html, "prompt")
        assert prompt.startswith(' field--invalid"')
        assert "Write the prompt students answer." in prompt
        assert 'value="R firm or D firm?"' in _field(html, "title")
    assert not ModuleItem.objects.filter(title="R firm or D firm?").exclude(
        pk=world.discussion.item.pk
    )

    response = client.post(_url(world), data | {"prompt": "Which firm was *Shanghai Bell*?"})
    item = ModuleItem.objects.exclude(pk=world.discussion.item.pk).get(title="R firm or D firm?")
    assert response["Location"] == reverse("cases:discussion_settings", args=[item.pk])
    assert item.discussion.prompt == "Which firm was *Shanghai Bell*?"
    # Its settings keep the prompt required, with the same message.
    settings = reverse("cases:discussion_settings", args=[item.pk])
    html = client.post(settings, {"prompt": ""}).content.decode()
    assert "Write the prompt students answer." in _field(html, "prompt")


def test_changing_the_kind_keeps_what_was_typed(world, client_for):
    client = client_for("instructor")
    # With htmx: only the new kind's fields come back, and the address says the kind.
    response = client.get(
        _url(world, kind="discussion"), headers={"HX-Request": "true", "HX-Target": "kind-fields"}
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="kind-fields"')
    assert _names(html) == {"case", "prompt"}
    assert "<form" not in html and 'name="title"' not in html  # The title stays put.
    assert response["HX-Replace-Url"] == _url(world, kind="discussion")
    assert "HX-Request" in response["Vary"]
    html = client.get(
        _url(world, kind="case_reading", case=world.case.pk),
        headers={"HX-Request": "true", "HX-Target": "kind-fields"},
    ).content.decode()
    assert _names(html) == {"case"}
    assert f'<option value="{world.case.pk}" selected>' in html  # Shared field kept.

    # Without script: "Show its fields" posts back; nothing is made, nothing refused.
    before = ModuleItem.objects.count()
    data = {"kind": "spectrum", "title": "Where do they sit?", "switch_kind": "1"}
    html = client.post(_url(world), data | {"module": world.item.module.pk}).content.decode()
    assert ModuleItem.objects.count() == before
    assert "field--invalid" not in html
    assert 'value="Where do they sit?"' in _field(html, "title")
    assert "spectrum_cases" in _names(html) and "prompt" not in _names(html)
    assert f'<option value="{world.item.module.pk}" selected>' in html
    # Then adding it for real makes the spectrum exercise.
    data.pop("switch_kind")
    response = client.post(_url(world), data | {"module": world.item.module.pk})
    assert response.status_code == 302
    assert ModuleItem.objects.get(title="Where do they sit?").kind == ItemKind.SPECTRUM


def test_a_kind_that_does_not_exist_is_refused_and_others_cannot_add(world, client_for):
    client = client_for("instructor")
    # An unknown kind in the address is the choice again, not an error page.
    assert "What are you adding?" in client.get(_url(world, kind="essay")).content.decode()
    html = client.post(_url(world), {"kind": "essay", "title": "Essay"}).content.decode()
    assert "Select a valid choice" in _field(html, "kind")
    assert not ModuleItem.objects.filter(title="Essay").exists()
    assert client_for("ta").get(_url(world, kind="quiz")).status_code == 403
    hx = {"HX-Request": "true", "HX-Target": "kind-fields"}
    assert client_for("student").get(_url(world, kind="quiz"), headers=hx).status_code == 403


def test_add_one_in_an_empty_module_keeps_that_module_through_the_kind_choice(world, client_for):
    from tests.factories import ModuleFactory

    empty = ModuleFactory(course=world.course, title="Week 9: standards")
    client = client_for("instructor")
    builder = client.get(reverse("cases:course_builder", args=[world.course.pk])).content.decode()
    add_one = f"{_url(world)}?module={empty.pk}"
    assert f'href="{add_one}">Add one</a>' in builder
    html = client.get(add_one).content.decode()
    assert f'href="?module={empty.pk}&amp;kind=discussion"' in html
    html = client.get(_url(world, module=empty.pk, kind="discussion")).content.decode()
    assert f'<option value="{empty.pk}" selected>Week 9: standards</option>' in html


def test_a_due_date_typed_with_no_cohort_ticked_is_not_thrown_away(world, client_for):
    """A due date belongs to a cohort's assignment: typed with no cohort ticked, the
    item was added as a draft and the date silently dropped. The form now says so
    beside the field, keeping what was typed; ticking a cohort adds it with the date."""
    client = client_for("instructor")
    data = {
        "kind": "quiz",
        "title": "Pop quiz on SMIC",
        "module": world.item.module.pk,
        "due_at": "2030-03-01T09:00",
    }
    response = client.post(_url(world), data)
    assert response.status_code == 200
    assert not ModuleItem.objects.filter(title="Pop quiz on SMIC").exists()
    html = response.content.decode()
    assert "Tick the cohorts it is due for" in _field(html, "due_at")
    assert 'value="Pop quiz on SMIC"' in html and 'value="2030-03-01T09:00"' in html

    cohort = world.item.assignments.get().cohort
    response = client.post(_url(world), data | {"cohorts": [cohort.pk]})
    item = ModuleItem.objects.get(title="Pop quiz on SMIC")
    assert response.status_code == 302
    assert item.assignments.get(cohort=cohort).due_at.isoformat() == "2030-03-01T09:00:00+00:00"


def test_a_reading_added_on_a_new_site_with_no_case_says_where_to_write_one(client):
    """A new instructor on a site whose case library is empty adds a case reading to her
    first module: the "Case to read" list is empty, and the field now says to write or
    import the case in the library first, with the links, rather than only "Choose the
    case to read" on saving. Once a case is in the library it is offered and the note
    is gone."""
    from tests.factories import CourseFactory, ModuleFactory, UserFactory, make_case

    prof = UserFactory(username="prof")
    course = CourseFactory(code="MGT 6600", instructors=[prof])
    ModuleFactory(course=course)
    client.force_login(prof)
    url = reverse("cases:item_create", args=[course.pk]) + "?kind=case_reading"
    field = _field(client.get(url).text, "case")
    assert "The case library has no cases yet" in field
    assert f'href="{reverse("cases:case_create")}"' in field
    assert f'href="{reverse("cases:case_import")}"' in field
    case = make_case(created_by=prof)
    field = _field(client.get(url).text, "case")
    assert "no cases yet" not in field and f'value="{case.pk}"' in field
