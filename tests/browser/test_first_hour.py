"""The first hour of each role on the demo course, in Chromium at a desk (1280 px) and on
a phone (390 px): sign in, do one thing, then open the pages that role opens first.
Every page passes axe's WCAG 2.2 A/AA rules and best practices with no violation of any
impact, and none is wider than the phone."""

import pytest
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import Page, expect

from cases.demo.seed import DEMO_PASSWORD
from cases.models import Cohort, Course, ItemKind, LiveSession, ModuleItem
from tests.browser.conftest import DESKTOP, PHONE, assert_accessible, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo():
    call_command("seed_demo", force=True, verbosity=0)
    return Course.objects.get()


def _item(course: Course, kind: str) -> ModuleItem:
    return ModuleItem.objects.filter(module__course=course, kind=kind).order_by("pk").first()


def _walk(page: Page, paths: list[str]) -> None:
    """Each page at both widths: it opens, and it has no barrier."""
    for viewport in (DESKTOP, PHONE):
        page.set_viewport_size(viewport)
        for path in paths:
            response = page.goto(path)
            assert response.ok, f"{path}: {response.status}"
            assert_accessible(page)


def test_a_students_first_hour(page, demo):
    sign_in(page, "student1", DEMO_PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    thread = _item(demo, ItemKind.DISCUSSION)
    page.goto(thread.get_absolute_url())
    page.get_by_label("Your post").fill("Shanghai Bell hired researchers to learn, see ¶2.")
    page.get_by_role("button", name="Post", exact=True).click()
    expect(page.locator("#thread-status")).to_have_text("Posted.")
    quiz = _item(demo, ItemKind.QUIZ)
    page.goto(quiz.get_absolute_url())
    page.get_by_role("button", name="Start the quiz").or_(
        page.get_by_role("link", name="Resume attempt")
    ).first.click()
    expect(page.get_by_role("button", name="Save answers")).to_be_visible()
    attempt = page.url
    _walk(
        page,
        [
            attempt,
            reverse("cases:home"),
            demo.get_absolute_url(),
            _item(demo, ItemKind.CASE_READING).get_absolute_url(),
            quiz.get_absolute_url(),
            thread.get_absolute_url(),
            _item(demo, ItemKind.SPECTRUM).get_absolute_url(),
            _item(demo, ItemKind.STANCE_CHECK).get_absolute_url(),
            reverse("cases:course_deadlines", args=[demo.pk]),
            reverse("cases:student_grades", args=[demo.pk]),
            reverse("cases:regional_comparison", args=[demo.pk]),
            reverse("cases:case_list"),
            reverse("cases:notification_list"),
            reverse("cases:live_join"),
        ],
    )


def test_a_teaching_assistants_first_hour(page, demo):
    sign_in(page, "ta", DEMO_PASSWORD)
    thread = _item(demo, ItemKind.DISCUSSION)
    page.goto(thread.get_absolute_url())
    page.get_by_label("Your post").fill("Good question: which paragraph says so?")
    page.get_by_role("button", name="Post", exact=True).click()
    expect(page.locator("#thread-status")).to_have_text("Posted.")
    _walk(
        page,
        [
            reverse("cases:instructor_dashboard"),
            demo.get_absolute_url(),
            reverse("cases:tracker", args=[demo.pk]),
            reverse("cases:grading_queue", args=[demo.pk]),
            reverse("cases:gradebook", args=[demo.pk]),
            reverse("cases:course_deadlines", args=[demo.pk]),
            thread.get_absolute_url(),
            reverse("cases:participation", args=[thread.pk]),
            _item(demo, ItemKind.QUIZ).get_absolute_url(),
            reverse("cases:quiz_stats", args=[_item(demo, ItemKind.QUIZ).pk]),
        ],
    )


def test_an_instructors_first_hour(page, demo):
    sign_in(page, "instructor", DEMO_PASSWORD)
    page.goto(reverse("cases:live_sessions", args=[demo.pk]))
    page.get_by_role("button", name="Start").first.click()
    expect(page.get_by_role("link", name="Open the projector view")).to_be_visible()
    session = LiveSession.objects.latest("pk")
    assert page.url.endswith(reverse("cases:live_session", args=[session.pk]))
    _walk(
        page,
        [
            reverse("cases:instructor_dashboard"),
            demo.get_absolute_url(),
            reverse("cases:course_builder", args=[demo.pk]),
            reverse("cases:tracker", args=[demo.pk]),
            reverse("cases:gradebook", args=[demo.pk]),
            reverse("cases:course_people", args=[demo.pk]),
            reverse("cases:live_session", args=[session.pk]),
            reverse("cases:live_projector", args=[session.pk]),
            _item(demo, ItemKind.SPECTRUM).get_absolute_url(),
            _item(demo, ItemKind.STANCE_CHECK).get_absolute_url(),
            _item(demo, ItemKind.DECISION).get_absolute_url(),
            reverse("cases:quiz_settings", args=[_item(demo, ItemKind.QUIZ).pk]),
            reverse("cases:question_list", args=[demo.pk]),
            reverse("cases:rubric_list", args=[demo.pk]),
            reverse("cases:item_schedule", args=[_item(demo, ItemKind.QUIZ).pk]),
            reverse("cases:case_create"),
        ],
    )


def test_an_admins_first_hour(page, demo):
    sign_in(page, "admin", DEMO_PASSWORD)
    page.goto(reverse("cases:cohort_list"))
    page.get_by_label("Name").fill("MGT 6001, Autumn 2027, section A")
    page.get_by_role("button", name="Create cohort").click()
    expect(page.get_by_text("MGT 6001, Autumn 2027, section A").first).to_be_visible()
    cohort = Cohort.objects.get(name="MGT 6001, Autumn 2027, section A")
    _walk(
        page,
        [
            reverse("cases:home"),
            reverse("cases:cohort_list"),
            reverse("cases:cohort_detail", args=[cohort.pk]),
            reverse("cases:people_directory"),
            reverse("cases:audit_log"),
            demo.get_absolute_url(),
            reverse("cases:course_people", args=[demo.pk]),
        ],
    )
