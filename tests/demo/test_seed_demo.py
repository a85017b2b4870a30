import pytest
from django.apps import apps
from django.core.management import CommandError, call_command

from cases.demo.seed import DEMO_PASSWORD
from cases.models import Cohort, Course, User

pytestmark = pytest.mark.django_db


def _snapshot() -> dict:
    return {
        model._meta.label: sorted(map(str, model.objects.values_list()))
        for model in apps.get_app_config("cases").get_models()
    }


def test_seed_demo_creates_the_people_cohorts_and_course():
    call_command("seed_demo", force=True)
    assert User.objects.filter(username__startswith="student").count() == 24
    assert [c.members.count() for c in Cohort.objects.all()] == [12, 12]
    course = Course.objects.get(title="Run of the Red Queen: How China Innovates")
    assert course.modules.count() >= 4
    assert course.instructors.get().username == "instructor"
    assert course.teaching_assistants.get().username == "ta"
    assert User.objects.get(username="admin").is_staff
    for username in ["admin", "instructor", "ta", "student1", "student24"]:
        assert User.objects.get(username=username).check_password(DEMO_PASSWORD)


def test_seed_demo_twice_changes_nothing():
    call_command("seed_demo", force=True)
    first = _snapshot()
    call_command("seed_demo", force=True)
    assert _snapshot() == first


def test_seed_demo_refuses_to_run_with_debug_off_unless_forced(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DJANGO_DEBUG"):
        call_command("seed_demo")
    assert not User.objects.exists()


def test_demo_student_signs_in_and_sees_the_course(client):
    call_command("seed_demo", force=True)
    client.post("/login/", {"username": "student1", "password": DEMO_PASSWORD})
    html = client.get("/").content.decode()
    assert "Run of the Red Queen: How China Innovates" in html


def test_seed_demo_files_every_item_in_a_grade_category():
    call_command("seed_demo", force=True)
    course = Course.objects.get(code="MGT 6001")
    categories = {c.name: c.weight for c in course.grade_categories.all()}
    assert categories == {
        "Readings": 10,
        "Quizzes": 30,
        "Discussions": 20,
        "Written analyses": 20,
        "Participation": 20,
    }
    items = [i for m in course.modules.all() for i in m.items.all()]
    assert items and all(i.grade_category_id for i in items)


def test_seed_demo_puts_a_spectrum_exercise_over_six_companies_in_the_last_module():
    call_command("seed_demo", force=True)
    course = Course.objects.get(code="MGT 6001")
    last = course.modules.order_by("-position").first()
    item = last.items.get(kind="spectrum")
    slugs = set(item.spectrum.cases.values_list("slug", flat=True))
    assert slugs == {
        "shanghai-bell",
        "techfaith",
        "tencent-qq",
        "prd-ups-cluster",
        "lenovo",
        "smic",
    }
    assert item.assignments.count() == 2


@pytest.mark.django_db(transaction=True)  # Commits, so the email tasks run as in `make run`.
def test_seed_demo_prints_a_short_summary_that_ends_with_the_logins(caplog):
    """A newcomer reads a line of what was made, the logins and where to open: no line
    per notification task, on the first run (which queues them) or the second."""
    import io
    import logging

    for run in ("first", "again"):
        out = io.StringIO()
        with caplog.at_level(logging.INFO):
            call_command("seed_demo", force=True, url="http://127.0.0.1:8000/", stdout=out)
        lines = out.getvalue().strip().splitlines()
        assert len(lines) <= 15, (run, lines)
        assert lines[0].startswith("Demo course MGT 6001 ready: 1 course, 5 modules, ")
        assert ", 2 cohorts, 24 students (took " in lines[0]
        assert lines[1] == f"Demo logins (password for all: {DEMO_PASSWORD}):"
        assert [line.split()[0] for line in lines[2:-1]] == [
            "admin",
            "instructor",
            "ta",
            "student1",
            "student13",
        ]
        assert lines[-1] == "Open http://127.0.0.1:8000/ and sign in as one of them."
        tasks = [r for r in caplog.records if r.name.startswith("django.tasks")]
        assert tasks == [], (run, len(tasks))
    assert User.objects.filter(username__startswith="student").count() == 24


def test_the_regional_reading_check_asks_students_to_match_companies_to_regions():
    from cases.models import Question, QuestionKind, Quiz
    from cases.services.quizzes import grade_response

    call_command("seed_demo", force=True)
    call_command("seed_demo", force=True)
    question = Question.objects.get(kind=QuestionKind.MATCHING)
    quiz = Quiz.objects.get(item__title__contains="Beijing, Shanghai and Pearl River Delta")
    assert quiz.slots.filter(question=question).exists()
    pairs = {c.text: c.match for c in question.choices.all()}
    assert pairs["Lenovo"] == pairs["TechFaith"] == "Beijing"
    assert pairs["SMIC"] == pairs["Shanghai Bell"] == "Shanghai"
    assert pairs["Tencent"] == "Pearl River Delta"
    choices = list(question.choices.all())
    right = {str(c.pk): c.match for c in choices}
    assert grade_response(question, choices, {"pairs": right}) == 1
    swapped = right | {str(choices[0].pk): "Shanghai"}
    assert 0 < grade_response(question, choices, {"pairs": swapped}) < 1
