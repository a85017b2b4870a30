from io import StringIO

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command

from cases.demo.load import LOAD_CODE, LOAD_PASSWORD, load_plan
from cases.models import (
    Answer,
    Assignment,
    Attempt,
    AttemptState,
    Cohort,
    Course,
    ModuleItem,
    Post,
    Quiz,
    ReadingProgress,
    User,
    Work,
)
from cases.services.quizzes import quiz_regrade
from cases.services.workspace.work import work_sync_items
from tests.factories import CohortFactory, CourseFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

SMALL = 10


def _seed(**options) -> str:
    out = StringIO()
    call_command("seed_load", students=SMALL, force=True, stdout=out, **options)
    return out.getvalue()


def _load_course() -> Course:
    return Course.objects.get(code=LOAD_CODE)


def _counts(course: Course) -> dict:
    in_course = {"item__module__course": course}
    return {
        "students": User.objects.filter(memberships__cohort__courses=course).count(),
        "items": ModuleItem.objects.filter(module__course=course).count(),
        "assignments": Assignment.objects.filter(**in_course).count(),
        "reading_progress": ReadingProgress.objects.filter(
            user__memberships__cohort__courses=course
        ).count(),
        "attempts": Attempt.objects.filter(quiz__item__module__course=course).count(),
        "answers": Answer.objects.filter(slot__attempt__quiz__item__module__course=course).count(),
        "posts": Post.objects.filter(discussion__item__module__course=course).count(),
    }


def _planned(students: int) -> dict:
    plan = load_plan(students=students)
    return {
        "students": plan.students,
        "items": plan.item_count,
        "assignments": plan.assignments,
        "reading_progress": plan.reading_progress,
        "attempts": plan.attempts,
        "answers": plan.answers,
        "posts": plan.posts,
    }


def _snapshot() -> dict:
    return {
        model._meta.label: sorted(map(str, model.objects.values_list()))
        for model in apps.get_app_config("cases").get_models()
    }


def _content() -> dict:
    """What a seed decides, without ids and dates (which follow the clock)."""
    return {
        "names": sorted(
            User.objects.filter(username__startswith="load-").values_list(
                "username", "first_name", "last_name"
            )
        ),
        "posts": sorted(
            Post.objects.values_list("author__username", "discussion__item__title", "body")
        ),
        "attempts": sorted(
            Attempt.objects.values_list("user__username", "quiz__item__title", "number", "score")
        ),
        "answers": sorted(
            map(
                str,
                Answer.objects.values_list(
                    "slot__attempt__user__username",
                    "slot__attempt__number",
                    "slot__question__title",
                    "points",
                ),
            )
        ),
    }


def test_default_size_is_the_course_the_command_promises():
    plan = load_plan()
    assert (plan.students, plan.cohorts, plan.modules) == (500, 2, 8)
    assert plan.items == {
        "case_reading": 8,
        "quiz": 12,
        "discussion": 10,
        "stance_check": 3,
        "decision": 2,
        "spectrum": 2,
        "live_session": 3,
    }
    assert plan.item_count == 40
    assert plan.assignments == 80
    assert plan.reading_progress == 2940
    assert (plan.attempts, plan.answers) == (3360, 22920)
    assert plan.posts == 4960


def test_seed_load_builds_the_planned_course_on_two_cohorts():
    output = _seed()
    course = _load_course()
    assert _counts(course) == _planned(SMALL)
    assert [c.members.count() for c in course.cohorts.order_by("name")] == [5, 5]
    assert course.instructors.get().username == "load-instructor"
    assert course.teaching_assistants.get().username == "load-ta"
    attempts = Attempt.objects.filter(quiz__item__module__course=course)
    assert attempts.filter(state=AttemptState.SUBMITTED).exists()
    assert attempts.filter(state=AttemptState.IN_PROGRESS).exists()
    assert Post.objects.filter(discussion__item__module__course=course, parent__isnull=False)
    assert Work.objects.filter(item__module__course=course).count() > SMALL * 20
    assert "load-s0001 … load-s0005" in output
    assert "load-s0006 … load-s0010" in output


def test_seeded_scores_and_work_are_what_the_app_itself_computes():
    _seed()
    course = _load_course()
    items = ModuleItem.objects.filter(module__course=course).values_list("pk", flat=True)
    students = User.objects.filter(memberships__cohort__courses=course).values_list("pk", flat=True)
    assert work_sync_items(items, students) == 0
    for quiz in Quiz.objects.filter(item__module__course=course):
        assert quiz_regrade(quiz=quiz) == 0


def test_seed_load_twice_changes_nothing():
    _seed()
    first = _snapshot()
    output = _seed()
    assert "nothing changed" in output
    assert _snapshot() == first


def test_fresh_rebuilds_the_load_course_and_leaves_everything_else():
    loadmaster = UserFactory(username="loadmaster")
    other = CourseFactory(code="MGT 7002", cohorts=[CohortFactory(name="Other section")])
    MembershipFactory(cohort=other.cohorts.get(), user=loadmaster)
    _seed()
    before = _load_course().pk
    _seed(fresh=True, seed=2)
    course = _load_course()
    assert course.pk != before
    assert _counts(course) == _planned(SMALL)
    assert Course.objects.count() == 2
    assert Cohort.objects.filter(name__startswith="LOAD").count() == 2
    assert User.objects.filter(username="loadmaster", memberships__cohort__courses=other).exists()


def test_the_same_seed_builds_the_same_course():
    _seed(seed=7)
    first = _content()
    _seed(seed=7, fresh=True)
    assert _content() == first
    _seed(seed=8, fresh=True)
    assert _content() != first


def test_load_accounts_left_without_the_course_ask_for_fresh():
    UserFactory(username="load-s0001")
    with pytest.raises(CommandError, match="--fresh"):
        _seed()
    assert not Course.objects.filter(code=LOAD_CODE).exists()


def test_seed_load_refuses_to_run_with_debug_off_unless_forced(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DJANGO_DEBUG"):
        call_command("seed_load", students=SMALL)
    assert not User.objects.filter(username__startswith="load-").exists()


def test_load_instructor_opens_the_tracker_and_the_gradebook(client):
    _seed()
    course = _load_course()
    client.force_login(User.objects.get(username="load-instructor"))
    tracker = client.get(f"/courses/{course.pk}/tracker/")
    assert tracker.status_code == 200
    student = User.objects.get(username="load-s0001")
    assert student.last_name in tracker.content.decode()
    assert client.get(f"/courses/{course.pk}/gradebook/").status_code == 200


def test_load_student_signs_in_and_opens_their_dashboard_a_quiz_and_a_discussion(client):
    _seed()
    course = _load_course()
    assert client.login(username="load-s0001", password=LOAD_PASSWORD)
    dashboard = client.get("/")
    assert dashboard.status_code == 200
    assert course.title in dashboard.content.decode()
    items = ModuleItem.objects.filter(module__course=course, module__position=1)
    quiz = items.get(kind="quiz")
    assert client.get(f"/items/{quiz.pk}/").status_code == 200
    discussion = items.get(kind="discussion")
    thread = client.get(f"/items/{discussion.pk}/")
    assert thread.status_code == 200
    first_post = Post.objects.filter(discussion__item=discussion).earliest("created_at")
    assert first_post.body_html in thread.content.decode()
