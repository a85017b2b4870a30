"""The new term: an instructor duplicates last term's course, or copies items from it,
then teaches the copy. Features used a second time, and two features meeting."""

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.models import (
    Annotation,
    Course,
    ItemKind,
    ModuleItem,
    Question,
    QuestionCategory,
    QuizSlot,
    Rubric,
    Work,
    WorkStatus,
)
from tests.factories import (
    AssignmentFactory,
    CohortFactory,
    MembershipFactory,
    ModuleFactory,
    UserFactory,
    make_analysis,
    make_annotation_task,
    make_quiz,
    make_stance_check,
)

pytestmark = pytest.mark.django_db


def _duplicate(world, client, code="MGT 6001 F27") -> Course:
    response = client.post(
        reverse("cases:course_duplicate", args=[world.course.pk]),
        {"code": code, "title": "Run of the Red Queen, fall 2027"},
    )
    assert response.status_code == 302
    return Course.objects.get(code=code)


def test_copying_last_terms_quiz_into_the_duplicate_twice_does_not_double_its_bank(
    world, client_for
):
    """Last term's course has a quiz with fixed questions and a draw from a pool. The
    instructor duplicates the course, then copies that quiz from last term into the new
    course twice more (a practice round, a retake). The bank already holds those very
    questions: it showed each of them three times, and the pool the copies draw from
    held each question three times, so a draw of two could give a student the same
    question twice."""
    client = client_for("instructor")
    module = ModuleFactory(course=world.course, title="Week 1")
    quiz = make_quiz(module, title="Last term's check")
    pool = QuestionCategory.objects.create(course=world.course, name="Pool")
    Question.objects.filter(course=world.course, title__in=["Argue", "Owner"]).update(category=pool)
    QuizSlot.objects.create(quiz=quiz, category=pool, draw_count=2, position=9)
    bank = Question.objects.filter(course=world.course).count()
    pooled = Question.objects.filter(course=world.course, category=pool).count()
    new = _duplicate(world, client)
    into = new.modules.get(title="Week 1")
    for title in ("Practice round", "Retake"):
        response = client.post(
            reverse("cases:item_copy", args=[new.pk]),
            {"source": quiz.item.pk, "module": into.pk, "title": title},
        )
        assert response.status_code == 302
    assert Question.objects.filter(course=new).count() == bank
    assert Question.objects.filter(course=new, category__name="Pool").count() == pooled
    retake = ModuleItem.objects.get(module__course=new, title="Retake")
    slots = list(retake.quiz.slots.select_related("question", "category"))
    assert all((s.question or s.category).course_id == new.pk for s in slots)
    # Last term's bank is as it was.
    assert Question.objects.filter(course=world.course).count() == bank


def _note(client, case, body: str):
    return client.post(
        reverse("cases:annotation_list", args=[case.slug]),
        {"paragraph": 2, "body": body, "nonce": "n-" + body[:20]},
    )


def test_a_student_retaking_the_course_writes_notes_the_new_class_reads(world, client_for):
    """A student of last term's Section A takes the course again: the instructor
    duplicates it, gives its case reading to the new term's section, and the student is
    enrolled there beside a newcomer. The student's notes on the case went to last
    term's section (the first of their cohorts given the case), so the new class never
    read them; they belong to the class the student reads with now."""
    client = client_for("instructor")
    student = world.users["student"]
    new = _duplicate(world, client)
    fall = CohortFactory(name="Fall 2027")
    new.cohorts.add(fall)
    reading = ModuleItem.objects.get(module__course=new, title=world.item.title)
    AssignmentFactory(item=reading, cohort=fall)
    newcomer = UserFactory(username="nia")
    for user in (student, newcomer):
        MembershipFactory(cohort=fall, user=user)
    response = _note(client_for("student"), world.case, "NEW-TERM: headcount is only an input.")
    assert response.status_code == 302
    assert Annotation.objects.get(author=student).cohort == fall
    world.users["nia"] = newcomer
    page = client_for("nia").get(reverse("cases:annotation_list", args=[world.case.slug]))
    assert "NEW-TERM: headcount is only an input." in page.content.decode()


def test_last_terms_analysis_annotation_and_stance_check_can_be_copied_into_this_term(
    world, client_for
):
    """An instructor teaching a new course copies last term's written analysis (peer
    reviewed, graded by a rubric), annotation assignment and stance check into it. The
    copy page offered only quizzes and discussions, so these had to be built again by
    hand, though a copy brings every kind's content; it offers every item whose content
    exists, and the copy is this course's own, a draft given to no cohort."""
    instructor = world.users["instructor"]
    world.other_course.instructors.add(instructor)
    client = client_for("instructor")
    last_term = ModuleFactory(course=world.other_course, title="Last term")
    memo = make_analysis(
        last_term, case=world.case, title="Build or buy memo",
        prompt="MEMO: build or buy?", word_limit=900, peer_review=True, reviews_each=3,
    )  # fmt: skip
    memo.item.rubric = Rubric.objects.create(
        course=world.other_course,
        title="Memo rubric",
        criteria=[{"name": "Evidence", "levels": [{"label": "Cites", "points": 5}]}],
    )
    memo.item.save()
    notes = make_annotation_task(last_term, world.case, title="Annotate Bell", min_notes=4)
    stance = make_stance_check(last_term, "China should push its firms toward R.")
    page = client.get(reverse("cases:item_copy", args=[world.course.pk])).content.decode()
    for source in (memo.item, notes.item, stance.item):
        assert source.title in page
        response = client.post(
            reverse("cases:item_copy", args=[world.course.pk]),
            {"source": source.pk, "module": world.item.module_id, "title": ""},
        )
        assert response.status_code == 302, source.kind
    memo_copy = ModuleItem.objects.get(module__course=world.course, kind=ItemKind.ANALYSIS)
    assert memo_copy.analysis.prompt == "MEMO: build or buy?"
    assert memo_copy.analysis.peer_review and memo_copy.analysis.reviews_each == 3
    assert memo_copy.rubric.course == world.course
    assert not memo_copy.assignments.exists()
    notes_copy = ModuleItem.objects.get(module__course=world.course, title="Annotate Bell")
    assert notes_copy.annotation_task.min_notes == 4
    stance_copy = ModuleItem.objects.get(module__course=world.course, kind=ItemKind.STANCE_CHECK)
    assert stance_copy.stance_check.statement == "China should push its firms toward R."
    # Editing the copy's rubric leaves last term's as it was.
    memo_copy.rubric.criteria[0]["levels"][0]["points"] = 9
    memo_copy.rubric.save()
    memo.item.rubric.refresh_from_db()
    assert memo.item.rubric.criteria[0]["levels"][0]["points"] == 5


LONG = "Headcount in a lab is an input, not an invention; the partner kept the research."


def test_last_terms_notes_do_not_hand_in_this_terms_annotation_assignment(world, client_for):
    """A student wrote three substantive notes on the case for last term's annotation
    assignment; the term ended (its section archived). Taking the course again, the
    duplicate's copy of the assignment is given to the new section: it counted last
    term's notes and showed the student handed in before they wrote a word, their
    progress box full. Notes of a past term's section count only for what was given to
    it; this term's notes count."""
    client = client_for("instructor")
    student = world.users["student"]
    section_a = world.course.cohorts.get()
    task = make_annotation_task(
        ModuleFactory(course=world.course), world.case, [section_a], title="Annotate Bell",
        min_notes=3, min_words=5,
    )  # fmt: skip
    me = client_for("student")
    for n in range(3):
        assert _note(me, world.case, f"{n} {LONG}").status_code == 302
    assert Work.objects.get(item=task.item, user=student).state == WorkStatus.SUBMITTED
    section_a.archived_at = timezone.now()
    section_a.save()
    new = _duplicate(world, client_for("instructor"))
    fall = CohortFactory(name="Fall 2027")
    new.cohorts.add(fall)
    MembershipFactory(cohort=fall, user=student)
    copy = ModuleItem.objects.get(module__course=new, title="Annotate Bell")
    response = client.post(
        reverse("cases:item_schedule", args=[copy.pk]),
        {f"cohort-{fall.pk}-assigned": "on", f"cohort-{fall.pk}-points": 10,
         f"cohort-{fall.pk}-late_policy": "accept", f"cohort-{fall.pk}-late_penalty_percent": 0},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:3000]
    assert not Work.objects.filter(item=copy, user=student, state=WorkStatus.SUBMITTED).exists()
    reader = client_for("student").get(copy.get_absolute_url(), follow=True).content.decode()
    assert "0 of 3 substantive notes" in reader
    report = client_for("instructor").get(reverse("cases:annotation_report", args=[copy.pk]))
    assert report.status_code == 200
    # Last term's Work on its own item is as it was.
    assert Work.objects.get(item=task.item, user=student).state == WorkStatus.SUBMITTED
    assert _note(client_for("student"), world.case, f"new {LONG}").status_code == 302
    work = Work.objects.get(item=copy, user=student)
    assert work.state == WorkStatus.IN_PROGRESS and work.auto_score == 1
