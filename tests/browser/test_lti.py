"""Red Queen inside an LMS, in Chromium, against the test LTI platform: the instructor
connects the LMS course and places a quiz by deep linking; a learner follows the placed
link with no Red Queen sign-in, takes the quiz, and the score reaches the LMS; a roster
change at the LMS shows in the cohort after a sync."""

import re
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from cases.models import (
    Assignment,
    Choice,
    ItemKind,
    Membership,
    ModuleItem,
    Question,
    Quiz,
    QuizSlot,
    User,
)
from tests.browser.conftest import assert_accessible
from tests.lti.platform import INSTRUCTOR, LEARNER, member
from tests.lti.tool import register

pytestmark = pytest.mark.django_db(transaction=True)

CONTEXT = {"id": "ctx-101", "label": "MGT 101", "title": "Managing innovation"}
PROF = {"sub": "lms-prof", "given_name": "Pat", "family_name": "Prof", "name": "Pat Prof"}
ALICE = {"sub": "lms-alice", "given_name": "Alice", "family_name": "Ng", "name": "Alice Ng"}
BOB = {"sub": "lms-bob", "given_name": "Bob", "family_name": "Ode", "name": "Bob Ode"}


def _quiz(world) -> ModuleItem:
    """A graded quiz of one true/false question, given to the class's cohort."""
    item = ModuleItem.objects.create(
        module=world.item.module, kind=ItemKind.QUIZ, title="LMS check", position=70
    )
    quiz = Quiz.objects.create(item=item, attempts_allowed=1)
    question = Question.objects.create(
        course=world.course, kind="true_false", title="JV", true_false_answer=True, points=2,
        text="Shanghai Bell is a joint venture.",
    )  # fmt: skip
    QuizSlot.objects.create(quiz=quiz, question=question, position=1)
    Assignment.objects.create(item=item, cohort=world.course.cohorts.get(), points=10)
    assert not Choice.objects.filter(question=question).exists()
    return item


def _launch(browser, live_server, platform, hint):
    """The LMS's link clicked: login initiation, the LMS's auth page, the signed POST."""
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    url = reverse("cases:lti_login", args=[platform.registration.uuid])
    params = platform.login_initiation_params(hint, live_server.url + "/lti/launch/")
    page.goto(f"{url}?{urlencode(params)}")
    page.wait_for_url(re.compile(r"^(?!.*/auth).*$"))  # through the LMS's auth page
    return page


def test_the_lms_journey_from_deep_linking_to_a_score_in_the_lms(
    browser, live_server, world, lti_platform
):
    # The platform holds the tool's JWKS itself: the grade is sent while the live server
    # (one request at a time on SQLite) is still answering the submit.
    register(lti_platform, live_server.url + "/lti/launch/")
    item = _quiz(world)

    # The instructor's first launch: connect the LMS course to the class's cohort.
    teacher = _launch(
        browser, live_server, lti_platform,
        lti_platform.resource_launch(PROF, CONTEXT, [INSTRUCTOR], "nav-1", live_server.url),
    )  # fmt: skip
    expect(teacher.get_by_role("heading", name="Connect Managing innovation")).to_be_visible()
    # Pat's account is new, so it teaches nothing yet: the course's admin makes Pat one
    # of its instructors (the People page), and the choices include it.
    world.course.instructors.add(User.objects.get(lti_users__sub=PROF["sub"]))
    teacher.reload()
    assert_accessible(teacher)
    teacher.get_by_label(re.compile(r"MGT 6001: its cohort")).check()
    teacher.get_by_role("button", name="Connect").click()
    expect(teacher.get_by_text("Managing innovation is now MGT 6001.")).to_be_visible()

    # Deep linking: the quiz placed in the LMS course.
    placing = _launch(
        browser, live_server, lti_platform,
        lti_platform.deep_linking_launch(PROF, CONTEXT, [INSTRUCTOR]),
    )  # fmt: skip
    expect(placing.get_by_role("heading", name="Place items from MGT 6001")).to_be_visible()
    assert_accessible(placing)
    placing.get_by_label(re.compile(r"LMS check")).check()
    placing.get_by_role("button", name="Place in the LMS course").click()
    placing.wait_for_url(lti_platform.deep_link_return_url)
    (placed,) = lti_platform.deep_links[-1][
        "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
    ]
    assert placed["title"] == "LMS check" and placed["custom"] == {"item": str(item.pk)}

    # A learner follows the placed link: on the quiz, no Red Queen sign-in.
    student = _launch(
        browser, live_server, lti_platform,
        lti_platform.resource_launch(
            ALICE, CONTEXT, [LEARNER], "placed-1", placed["url"], custom=placed["custom"]
        ),
    )  # fmt: skip
    expect(student).to_have_url(re.compile(re.escape(item.get_absolute_url()) + "$"))
    expect(student.get_by_role("heading", name="LMS check")).to_be_visible()
    assert_accessible(student)
    student.get_by_role("button", name=re.compile("Start")).click()
    student.get_by_label("True").check()
    student.get_by_role("button", name="Finish and submit…").click()
    student.get_by_role("button", name="Submit now").click()
    expect(student.get_by_role("heading", name="Score")).to_be_visible()
    # The LMS's gradebook is the student's to read too: nothing goes there until the
    # instructor releases the quiz's grades, as the student's grades page waits.
    assert lti_platform.scores == []
    teacher.goto(reverse("cases:gradebook", args=[world.course.pk]))
    teacher.get_by_role("button", name=re.compile(r"Release grades of LMS check")).click()
    expect(
        teacher.get_by_role("button", name=re.compile(r"Hide grades of LMS check"))
    ).to_be_visible()
    # The score reached the LMS's gradebook (AGS), on the quiz's line item.
    ((lineitem, score),) = lti_platform.scores
    assert (score["scoreGiven"], score["scoreMaximum"]) == (10, 10)
    assert score["userId"] == ALICE["sub"]
    assert lti_platform.lineitems[lineitem]["resourceId"] == f"red-queen-item-{item.pk}"

    # A roster change at the LMS shows in the cohort after a sync.
    lti_platform.members[CONTEXT["id"]] = [
        member(PROF, [INSTRUCTOR]), member(ALICE, [LEARNER]), member(BOB, [LEARNER]),
    ]  # fmt: skip
    teacher.goto(reverse("cases:lti_course", args=[world.course.pk]))
    expect(teacher.get_by_text("1 sent · 0 waiting · 0 failed")).to_be_visible()
    teacher.get_by_role("button", name="Sync the roster from the LMS").click()
    expect(teacher.get_by_text("From the LMS: 1 added.")).to_be_visible()
    assert Membership.objects.filter(
        cohort=world.course.cohorts.get(), user__last_name="Ode"
    ).exists()
    assert_accessible(teacher)
