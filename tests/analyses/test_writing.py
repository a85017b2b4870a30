"""Writing a memo: drafts kept as the student types, handing in, handing in again,
and what the rules refuse, each with the text kept."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from cases.models import LatePolicy, Memo, MemoVersion, Rubric, Work, WorkStatus
from cases.services import analyses as services
from cases.services.gradebook import assignment_release
from tests.discussions.test_sanitising import assert_harmless
from tests.factories import (
    CohortFactory,
    CourseFactory,
    ModuleFactory,
    UserFactory,
    make_analysis,
    make_case,
)
from tests.helpers import at_once
from tests.xss_corpus import PAYLOADS

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def memo_world(world):
    analysis = make_analysis(
        world.item.module, world.course.cohorts.all(), case=world.case, word_limit=50
    )
    return world, analysis.item, world.users["student"]


def _write(client, item, body, action="save", **extra):
    return client.post(
        reverse("cases:analysis_write", args=[item.pk]), {"body": body, "action": action, **extra}
    )


def test_only_a_student_with_a_grade_is_told_it_is_released(client, memo_world):
    """Grades are released per cohort; a classmate whose memo nobody graded yet, or whose
    graded memo was handed in again, is not told that "your grade" is released."""
    world, item, student = memo_world
    classmate = world.users["student_ta_elsewhere"]
    for author in (student, classmate):
        services.memo_submit(item=item, user=author, body="Buy the lab: it saves two years.")
    client.force_login(world.users["instructor"])
    url = reverse("cases:grade_work", args=[item.pk, student.pk])
    form = client.get(url).context["form"]
    data = {f"initial-{k}": v for k, v in form.initial.items() if v is not None}
    assert client.post(url, data | {"participation": "7"}).status_code == 302
    assignment_release(assignment=item.assignments.get(), released=True)
    told = "Your grade and your grader's comments are released"
    for author, graded in [(student, True), (classmate, False)]:
        client.force_login(author)
        page = client.get(item.get_absolute_url()).text
        assert (told in page) is graded
    client.force_login(student)
    services.memo_submit(item=item, user=student, body="Buy the lab: it saves three years.")
    page = client.get(item.get_absolute_url()).text
    assert told not in page


def test_a_student_drafts_hands_in_and_hands_in_again(client, memo_world):
    _world, item, student = memo_world
    client.force_login(student)
    page = client.get(item.get_absolute_url())
    assert "Write your analysis" in page.text
    # Autosave twice: the second, newer text wins; an older save arriving late is ignored.
    url = reverse("cases:analysis_draft", args=[item.pk])
    assert client.post(url, {"body": "Build it ¶2", "seq": "10"}, headers={"HX-Request": "true"})
    client.post(url, {"body": "Buy it, as ¶2 shows", "seq": "20"}, headers={"HX-Request": "true"})
    late = client.post(url, {"body": "stale", "seq": "15"}, headers={"HX-Request": "true"})
    assert late.status_code == 200
    memo = Memo.objects.get(item=item, author=student)
    assert memo.draft == "Buy it, as ¶2 shows"
    assert Work.objects.get(item=item, user=student).state == WorkStatus.IN_PROGRESS
    # The page after a reload shows the draft.
    assert "Buy it, as ¶2 shows" in client.get(item.get_absolute_url()).text
    # Hand in: a version, linked citations, the work handed in.
    response = _write(client, item, "Buy it, as ¶2 shows.", "submit", nonce="n1")
    assert response.status_code == 302
    version = MemoVersion.objects.get(memo=memo)
    assert version.number == 1 and version.cited_paragraphs == [2]
    assert 'class="cite"' in version.body_html
    assert Work.objects.get(item=item, user=student).state == WorkStatus.SUBMITTED
    # The same form posted again makes no second version.
    _write(client, item, "Buy it, as ¶2 shows.", "submit", nonce="n1")
    assert MemoVersion.objects.filter(memo=memo).count() == 1
    # Revised and handed in again before the due date: both versions kept.
    _write(client, item, "Buy it, as ¶2 and ¶3 show.", "submit", nonce="n2")
    assert list(memo.versions.values_list("number", flat=True)) == [1, 2]
    page = client.get(item.get_absolute_url())
    assert "What you handed in" in page.text and "Hand in again" in page.text


def _nonce(html: str) -> str:
    return re.search(r'name="nonce" value="([^"]+)"', html).group(1)


def test_a_form_sent_again_with_other_text_hands_in_that_text(client, memo_world):
    """Preview, hand in, then Back to the preview (its form and nonce come back), edit
    and hand in: the edited text is a new version, not the first one handed back with
    "Handed in: version 1" while the edit stays a draft. Sent twice, it makes one."""
    _world, item, student = memo_world
    client.force_login(student)
    nonce = _nonce(client.get(item.get_absolute_url()).text)
    preview = _write(client, item, "Buy it, as ¶2 shows.", "preview", nonce=nonce)
    assert _nonce(preview.text) == nonce
    assert _write(client, item, "Buy it, as ¶2 shows.", "submit", nonce=nonce).status_code == 302
    back = _write(client, item, "Buy it, as ¶2 shows.", "preview", nonce=nonce)  # Resent.
    edited = "Buy it, as ¶2 and ¶3 show."
    response = _write(client, item, edited, "submit", nonce=_nonce(back.text))
    assert response.status_code == 302
    assert "version 2" in client.get(response["Location"]).text
    memo = Memo.objects.get(item=item, author=student)
    assert list(memo.versions.order_by("number").values_list("body", flat=True)) == [
        "Buy it, as ¶2 shows.",
        edited,
    ]
    _write(client, item, edited, "submit", nonce=nonce)  # A double click: no third.
    _write(client, item, "Buy it, as ¶2 shows.", "submit", nonce=nonce)  # The first, resent.
    assert memo.versions.count() == 2


def test_over_the_word_limit_is_refused_beside_the_text_which_is_kept(client, memo_world):
    _world, item, student = memo_world
    client.force_login(student)
    long = "word " * 60
    response = _write(client, item, long, "submit", nonce="x")
    assert response.status_code == 400
    assert "60 words; the limit is 50" in response.text
    assert "word word word" in response.text  # The text is back in the editor.
    assert not MemoVersion.objects.exists()
    assert Memo.objects.get(item=item, author=student).draft.strip() == long.strip()


def test_an_empty_memo_is_refused(client, memo_world):
    _world, item, student = memo_world
    client.force_login(student)
    response = _write(client, item, "   ", "submit")
    assert "Write your analysis before handing it in." in response.text


def test_after_the_due_date_a_handed_in_memo_is_frozen_by_the_current_schedule(client, memo_world):
    _world, item, student = memo_world
    client.force_login(student)
    assignment = item.assignments.get()
    assignment.due_at = timezone.now() + timedelta(days=1)
    assignment.save()
    _write(client, item, "My first take ¶1.", "submit", nonce="a")
    # The instructor moves the due date to the past: handing in again is refused.
    assignment.due_at = timezone.now() - timedelta(hours=1)
    assignment.save()
    response = _write(client, item, "A second take.", "submit", nonce="b")
    assert response.status_code == 400
    assert "can no longer be changed" in response.text
    assert MemoVersion.objects.count() == 1
    page = client.get(item.get_absolute_url())
    assert "Handed in; the due date has passed" in page.text


def test_a_first_memo_after_the_due_date_is_late(client, memo_world):
    _world, item, student = memo_world
    client.force_login(student)
    assignment = item.assignments.get()
    assignment.due_at = timezone.now() - timedelta(days=1)
    assignment.save()
    page = client.get(item.get_absolute_url()).text
    assert "what you hand in now is marked late" in page
    assert _write(client, item, "Late but here.", "submit", nonce="c").status_code == 302
    assert "Late" in client.get(item.get_absolute_url()).text


def test_without_script_the_citation_is_inserted_and_the_preview_shown(client, memo_world):
    _world, item, student = memo_world
    client.force_login(student)
    response = _write(client, item, "As the case says", "cite", paragraph="2")
    assert "As the case says ¶2</textarea>" in response.text
    response = _write(client, item, "As the case says ¶2", "preview")
    assert 'class="cite"' in response.text and "Cites ¶2" in response.text


def test_staff_read_the_page_and_may_not_write(client, memo_world):
    world, item, _student = memo_world
    client.force_login(world.users["instructor"])
    page = client.get(item.get_absolute_url())
    assert "The class" in page.text and "Write your analysis" not in page.text
    assert _write(client, item, "x").status_code == 403


def test_two_hand_ins_at_once_make_one_version():
    cohort = CohortFactory()
    student = UserFactory()
    cohort.memberships.create(user=student)
    course = CourseFactory(cohorts=[cohort])
    item = make_analysis(ModuleFactory(course=course), [cohort]).item
    for _ in range(2):
        services.memo_submit(item=item, user=student, body="Same text.", nonce="same")
    assert MemoVersion.objects.count() == 1
    # And the same text handed in again under a new form is no new version either.
    services.memo_submit(item=item, user=student, body="Same text.", nonce="other")
    assert MemoVersion.objects.count() == 1


def test_nul_bytes_in_a_memo_are_dropped(client, memo_world):
    _world, item, student = memo_world
    client.force_login(student)
    _write(client, item, "Clean\x00 text", "save")
    assert Memo.objects.get(item=item, author=student).draft == "Clean text"


@pytest.mark.django_db(transaction=True)
def test_concurrent_hand_ins_and_saves_make_one_version_each(world):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's concurrent connections; SQLite serialises writers")
    item = make_analysis(world.item.module, world.course.cohorts.all(), case=world.case).item
    student = world.users["student"]
    # The same form posted eight times at once: one version.
    errors = at_once(
        lambda: services.memo_submit(item=item, user=student, body="Build, ¶2.", nonce="f"), 8
    )
    assert errors == []
    assert MemoVersion.objects.filter(memo__item=item).count() == 1
    # Eight new drafts at once, each a later sequence: one row, the newest text or one
    # of them, never an error.
    seqs = iter(range(100, 108))
    errors = at_once(
        lambda: services.draft_save(item=item, user=student, body="draft", seq=next(seqs)), 8
    )
    assert errors == []
    assert Memo.objects.filter(item=item).count() == 1
    # And a second memo, started by eight first saves at once: one row.
    other = world.users["student_ta_elsewhere"]
    errors = at_once(lambda: services.draft_save(item=item, user=other, body="x", seq=None), 8)
    assert errors == []
    assert Memo.objects.filter(item=item, author=other).count() == 1


def test_no_payload_survives_in_a_memo_its_preview_or_its_version(client, memo_world):
    _world, item, student = memo_world
    client.force_login(student)
    body = "\n\n".join(f"Before {payload} after." for payload in PAYLOADS)
    preview = client.post(
        reverse("cases:analysis_preview", args=[item.pk]), {"body": body}, headers=HTMX
    ).text
    assert_harmless(preview[preview.index('class="prose memo"') :])
    item.analysis.word_limit = 10_000
    item.analysis.save()
    services.memo_submit(item=item, user=student, body=body)
    assert_harmless(MemoVersion.objects.get().body_html)


def test_the_student_reads_the_rubric_they_will_be_graded_by(client, memo_world):
    world, item, student = memo_world
    item.rubric = Rubric.objects.create(
        course=world.course,
        title="Case memo",
        criteria=[{"name": "Evidence", "levels": [{"label": "Cited", "points": 4}]}],
    )
    item.save()
    client.force_login(student)
    page = client.get(item.get_absolute_url()).text
    assert "How it is graded: Case memo, 4 points" in page and "Cited (4)" in page


def test_a_draft_is_still_shown_once_the_analysis_stops_taking_work(client, memo_world):
    """A student drafts, the due date passes under "refuse late work": the editor is
    gone, and the page still shows what they wrote to copy. Another hands in, keeps
    revising without handing in again, and the due date passes: their revision is
    shown too, marked as not handed in."""
    world, item, student = memo_world
    assignment = item.assignments.get()
    assignment.due_at = timezone.now() + timedelta(days=1)
    assignment.save()
    classmate = world.users["student_ta_elsewhere"]
    client.force_login(classmate)
    _write(client, item, "First take on the lab.", "submit", nonce="first")
    _write(client, item, "A better take, not yet handed in.")
    client.force_login(student)
    _write(client, item, "My unfinished draft on Shanghai Bell.")
    assignment.due_at = timezone.now() - timedelta(hours=1)
    assignment.late_policy = LatePolicy.REFUSE
    assignment.save()
    page = client.get(item.get_absolute_url()).text
    assert "no longer accepts work" in page
    assert "My unfinished draft on Shanghai Bell." in page
    client.force_login(classmate)
    page = client.get(item.get_absolute_url()).text
    assert "A better take, not yet handed in." in page
    assert "This draft was not handed in" in page


def test_the_case_an_analysis_is_on_opens_to_the_students_given_it(client, world):
    """An instructor sets a memo on a case that no reading gives the class (the memo is
    the case's only item): its student follows "On <case>" and a ¶ citation in their
    own memo, and reads the case and the cited paragraph; a student of another section,
    not given the memo, still may not."""
    case = make_case(slug="techfaith", title="TechFaith", company="TechFaith")
    analysis = make_analysis(world.item.module, world.course.cohorts.all(), case=case)
    student = world.users["student"]
    version = services.memo_submit(item=analysis.item, user=student, body="As ¶2 shows, buy.")
    client.force_login(student)
    page = client.get(analysis.item.get_absolute_url()).text
    assert f'href="{case.get_absolute_url()}"' in page
    assert client.get(case.get_absolute_url()).status_code == 200
    cited = reverse("cases:paragraph_detail", args=[case.slug, 2])
    assert cited in version.body_html
    assert client.get(cited, headers=HTMX).status_code == 200
    client.force_login(world.users["other_student"])
    assert client.get(case.get_absolute_url()).status_code == 404
