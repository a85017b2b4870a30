"""Red Queen as an LTI 1.3 tool, driven by the test platform over real HTTP and real
JWTs: launches as each role, every attack refused with nothing created, deep linking,
roster sync and grades back to the LMS."""

import io
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from django.core.management import call_command
from django.test import Client, TestCase
from django.urls import reverse
from django.utils import timezone
from lti_tool.models import LtiContext, LtiMembership, LtiUser

from cases.models import (
    AuditEntry,
    Course,
    LtiCourse,
    LtiGrade,
    LtiValue,
    Membership,
    Rubric,
    User,
)
from cases.services.cohorts import memberships_move
from cases.services.lti import course_link
from cases.services.schedule import assignments_schedule, extensions_grant
from cases.services.workspace.grading import work_grade
from tests.factories import (
    CohortFactory,
    MembershipFactory,
    UserFactory,
    make_analysis,
    make_annotation_task,
    make_live,
)
from tests.lti.platform import INSTRUCTOR, LEARNER, TEACHING_ASSISTANT, member
from tests.lti.tool import register

pytestmark = pytest.mark.django_db

CONTEXT = {"id": "ctx-101", "label": "MGT 101", "title": "Managing innovation"}
ALICE = {"sub": "lms-user-alice", "given_name": "Alice", "family_name": "Ng", "name": "Alice Ng"}
BOB = {"sub": "lms-user-bob", "given_name": "Bob", "family_name": "Ode", "name": "Bob Ode"}
PROF = {"sub": "lms-user-prof", "given_name": "Pat", "family_name": "Prof", "name": "Pat Prof"}
LAUNCH = "http://testserver/lti/launch/"


@pytest.fixture
def lms(lti_platform):
    """The test platform registered with Red Queen, and Red Queen's key known to it."""
    register(lti_platform, LAUNCH)
    return lti_platform


def _login(client, lms, hint, target=LAUNCH):
    """Login initiation as the LMS sends it; the state and nonce the tool chose."""
    response = client.get(
        reverse("cases:lti_login", args=[lms.registration.uuid]),
        lms.login_initiation_params(hint, target),
    )
    assert response.status_code == 302, response.content[:300]
    query = parse_qs(urlsplit(response["Location"]).query)
    return response["Location"], query["state"][0], query["nonce"][0]


def _launch(client, lms, hint, target=LAUNCH):
    """A whole launch: initiation → the LMS's auth page → the signed POST → the page."""
    auth_url, _state, _nonce = _login(client, lms, hint, target)
    action, fields = lms.follow_auth(auth_url)
    response = client.post(urlsplit(action).path, fields)
    return response, fields


def _land(client, response):
    assert response.status_code == 302, response.content[:300]
    entered = client.get(response["Location"])  # /lti/enter/<token>/
    assert entered.status_code == 302
    return entered["Location"]


def _linked(world, lms) -> LtiCourse:
    """The LMS course linked to the world's course (as its first instructor launch does)."""
    hint = lms.resource_launch(PROF, CONTEXT, [INSTRUCTOR], "link-0", LAUNCH)
    browser = Client()  # the instructor's own browser
    response, _ = _launch(browser, lms, hint)
    _land(browser, response)
    context = LtiContext.objects.get(id_on_platform=CONTEXT["id"])
    prof = LtiUser.objects.get(sub=PROF["sub"]).auth_user
    world.course.instructors.add(prof)
    cohort = world.course.cohorts.get()  # its learners join the class's cohort
    return course_link(context=context, course=world.course, user=prof, cohort=cohort)


def _graded(world, student, points: str, reason: str = "Read") -> None:
    """An instructor's override grade for the student on the world's item, with what
    runs after the commit (the grade's task to the LMS) run too."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        work_grade(
            item=world.item,
            student=student,
            grader=world.users["instructor"],
            override_score=Decimal(points),
            override_reason=reason,
        )


def test_a_learner_lands_on_the_item_with_no_sign_in_and_is_the_same_person_next_time(
    client, world, lms
):
    link = _linked(world, lms)
    target = f"http://testserver{world.item.get_absolute_url()}"
    hint = lms.resource_launch(ALICE, CONTEXT, [LEARNER], "link-1", target)
    response, _ = _launch(client, lms, hint)
    assert _land(client, response) == world.item.get_absolute_url()
    page = client.get(world.item.get_absolute_url())
    assert page.status_code == 200 and world.item.title in page.content.decode()
    # The framing LMS, and only it, may show the page.
    assert f"frame-ancestors {lms.url}" in page["Content-Security-Policy"]
    assert "X-Frame-Options" not in page
    alice = LtiUser.objects.get(sub=ALICE["sub"]).auth_user
    assert (alice.first_name, alice.last_name) == (
        "Alice",
        "Ng",
    ) and not alice.has_usable_password()
    assert Membership.objects.filter(cohort=link.cohort, user=alice).exists()
    assert not world.course.instructors.filter(pk=alice.pk).exists()

    client.logout()  # A second launch, another day: the same account, by the LMS's sub.
    hint = lms.resource_launch(ALICE, CONTEXT, [LEARNER], "link-1", target)
    response, _ = _launch(client, lms, hint)
    _land(client, response)
    assert User.objects.filter(username__startswith="lti-").count() == 2  # Alice and Pat


def test_names_the_lms_sends_later_fill_an_account_made_without_them(client, world, lms):
    """Canvas sends no names until its privacy level is Public (docs/lti.md): Alice's
    first launch, and Bob's first roster sync, made accounts with none, listed as
    'lti-3f9a…' in the gradebook and the tracker. Once the LMS sends names, later
    launches and syncs never filled them in. Now a name or email the account lacks is
    taken from the LMS; one it has (an admin may have corrected it) is kept."""
    link = _linked(world, lms)
    anonymous = {"sub": ALICE["sub"]}
    hint = lms.resource_launch(anonymous, CONTEXT, [LEARNER], "link-1", LAUNCH)
    _land(client, _launch(client, lms, hint)[0])
    alice = LtiUser.objects.get(sub=ALICE["sub"]).auth_user
    assert alice.get_full_name() == ""
    lms.members[CONTEXT["id"]] = [member({"sub": BOB["sub"]}, [LEARNER])]
    course_page = reverse("cases:lti_course", args=[world.course.pk])
    client.force_login(world.users["instructor"])
    client.post(course_page, {"link": link.pk})
    bob = LtiUser.objects.get(sub=BOB["sub"]).auth_user
    assert bob.get_full_name() == ""

    client.logout()  # Canvas now sends names.
    hint = lms.resource_launch(
        ALICE | {"email": "alice@example.edu"}, CONTEXT, [LEARNER], "link-1", LAUNCH
    )
    _land(client, _launch(client, lms, hint)[0])
    alice.refresh_from_db()
    assert (alice.get_full_name(), alice.email) == ("Alice Ng", "alice@example.edu")
    lms.members[CONTEXT["id"]] = [member(BOB, [LEARNER]), member(ALICE, [LEARNER])]
    client.force_login(world.users["instructor"])
    client.post(course_page, {"link": link.pk})
    bob.refresh_from_db()
    assert bob.get_full_name() == "Bob Ode"

    User.objects.filter(pk=alice.pk).update(first_name="Alicia")  # An admin's correction.
    client.logout()
    hint = lms.resource_launch(ALICE, CONTEXT, [LEARNER], "link-1", LAUNCH)
    _land(client, _launch(client, lms, hint)[0])
    alice.refresh_from_db()
    assert alice.get_full_name() == "Alicia Ng"


def test_an_instructor_first_launch_makes_a_course_for_the_lms_course(client, lms):
    hint = lms.resource_launch(PROF, CONTEXT, [INSTRUCTOR], "link-1", LAUNCH)
    response, _ = _launch(client, lms, hint)
    assert _land(client, response).startswith(reverse("cases:lti_link") + "?launch=")
    page = client.get(reverse("cases:lti_link")).content.decode()
    assert "A new course: Managing innovation" in page
    response = client.post(reverse("cases:lti_link"), {"course": "new"})
    course = Course.objects.get(code="MGT 101")
    assert response["Location"] == course.get_absolute_url()
    prof = LtiUser.objects.get(sub=PROF["sub"]).auth_user
    assert course.instructors.filter(pk=prof.pk).exists()
    assert LtiCourse.objects.get(course=course).cohort.name == "Managing innovation (LMS)"


def test_connecting_an_lms_course_twice_makes_one_course_and_says_which(client, world, lms):
    """The link page's form sent twice (a double click without script), or a second
    instructor's page sent after the first connected the LMS course: one course is
    made and linked, no stray empty one, and the second answer names the course the
    LMS course really is, not the one the stale form asked for."""
    hint = lms.resource_launch(PROF, CONTEXT, [INSTRUCTOR], "link-1", LAUNCH)
    _land(client, _launch(client, lms, hint)[0])
    first = client.post(reverse("cases:lti_link"), {"course": "new"})
    again = client.post(reverse("cases:lti_link"), {"course": "new"}, follow=True)
    prof = LtiUser.objects.get(sub=PROF["sub"]).auth_user
    assert list(Course.objects.filter(instructors=prof).values_list("code", flat=True)) == [
        "MGT 101"
    ]
    course = LtiCourse.objects.get().course
    assert first["Location"] == again.redirect_chain[-1][0] == course.get_absolute_url()
    assert "already connected to MGT 101" in again.content.decode()

    # Prof also teaches the world's course and picks it on a page opened before.
    world.course.instructors.add(prof)
    cohort = world.course.cohorts.get()
    stale = client.post(
        reverse("cases:lti_link"), {"course": f"{world.course.pk}:{cohort.pk}"}, follow=True
    )
    assert LtiCourse.objects.get().course == course
    assert stale.redirect_chain[-1][0] == course.get_absolute_url()
    assert "already connected to MGT 101" in stale.content.decode()


def test_an_lms_course_is_not_connected_to_an_archived_cohort(client, world, lms):
    """Pat teaches the world's course, whose section is last term's and archived. From
    a new LMS course, the link page offers the course with a new cohort for the LMS's
    students, not the archived section (its term ended: the LMS's roster would fill
    it again); the archived choice sent anyway is refused and nothing is linked."""
    from django.utils import timezone

    hint = lms.resource_launch(PROF, CONTEXT, [INSTRUCTOR], "link-1", LAUNCH)
    page_url = _land(client, _launch(client, lms, hint)[0])
    prof = LtiUser.objects.get(sub=PROF["sub"]).auth_user
    world.course.instructors.add(prof)
    cohort = world.course.cohorts.get()
    cohort.archived_at = timezone.now()
    cohort.save(update_fields=["archived_at"])
    page = client.get(page_url).content.decode()
    assert f'value="{world.course.pk}:new"' in page
    assert f'value="{world.course.pk}:{cohort.pk}"' not in page
    refused = client.post(page_url, {"course": f"{world.course.pk}:{cohort.pk}"}, follow=True)
    assert "Choose one of the courses you teach." in refused.content.decode()
    assert not LtiCourse.objects.exists()


OTHER_CONTEXT = {"id": "ctx-202", "label": "ECON 202", "title": "Industrial policy"}


def test_two_lms_courses_connected_from_two_tabs_each_get_the_course_chosen_in_its_own_tab(
    client, lms
):
    """Pat opens Red Queen from two LMS courses not yet connected, one tab each, in
    the same browser. The page of the first tab connected the second LMS course (the
    session kept only the latest launch), so MGT 101's students landed in a course
    made for ECON 202. Each tab's page now acts on its own launch."""
    first = lms.resource_launch(PROF, CONTEXT, [INSTRUCTOR], "link-1", LAUNCH)
    first_page = _land(client, _launch(client, lms, first)[0])
    second = lms.resource_launch(PROF, OTHER_CONTEXT, [INSTRUCTOR], "link-2", LAUNCH)
    second_page = _land(client, _launch(client, lms, second)[0])
    assert "Managing innovation" in client.get(first_page).content.decode()
    client.post(first_page, {"course": "new"})  # The first tab, sent after the second.
    made = LtiCourse.objects.select_related("context", "course").get()
    assert (made.context.id_on_platform, made.course.code) == ("ctx-101", "MGT 101")
    client.post(second_page, {"course": "new"})
    links = LtiCourse.objects.values_list("context__id_on_platform", "course__code")
    assert sorted(links) == [("ctx-101", "MGT 101"), ("ctx-202", "ECON 202")]


def test_deep_linking_from_two_lms_courses_in_two_tabs_places_each_tabs_own_items(
    client, world, lms
):
    """Pat picks items for two LMS courses in two tabs. The first tab's picker, sent
    after the second tab was opened, answered the second LMS course (the session kept
    only the latest launch): its items were not offered, and nothing was placed where
    Pat asked. Each picker now answers the launch it was opened by."""
    _linked(world, lms)
    other_course = world.other_course
    prof = LtiUser.objects.get(sub=PROF["sub"]).auth_user
    other_course.instructors.add(prof)
    hint = lms.resource_launch(PROF, OTHER_CONTEXT, [INSTRUCTOR], "link-9", LAUNCH)
    browser = Client()
    _land(browser, _launch(browser, lms, hint)[0])
    context = LtiContext.objects.get(id_on_platform=OTHER_CONTEXT["id"])
    course_link(context=context, course=other_course, user=prof, cohort=None)
    client.force_login(prof)

    first = lms.deep_linking_launch(PROF, CONTEXT, [INSTRUCTOR])
    first_page = _land(client, _launch(client, lms, first)[0])
    second = lms.deep_linking_launch(PROF, OTHER_CONTEXT, [INSTRUCTOR])
    _land(client, _launch(client, lms, second)[0])
    assert world.quiz.item.title in client.get(first_page).content.decode()
    back = client.post(first_page, {"items": [world.quiz.item.pk]})
    assert 'name="JWT"' in back.content.decode()
    jwt_value = back.content.decode().split('name="JWT" value="')[1].split('"')[0]
    claims = jwt.decode(jwt_value, options={"verify_signature": False})
    placed = claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
    assert [p["custom"] for p in placed] == [{"item": str(world.quiz.item.pk)}]
    first_data = lms.launches[first][
        "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
    ]["data"]
    assert claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == first_data


def test_a_browser_blocking_the_frames_cookies_connects_the_course_in_a_new_tab(client, lms):
    """A browser that blocks cookies in the LMS's frame gets "Open in a new tab"; the
    tab signs the instructor in, but its session never held the launch, so the
    connect page (and the deep-linking picker) answered "Page not found". The page's
    address names its launch, so the new tab connects the LMS course."""
    hint = lms.resource_launch(PROF, CONTEXT, [INSTRUCTOR], "link-1", LAUNCH)
    framed = Client()  # The LMS's frame: its cookies are dropped.
    response, _ = _launch(framed, lms, hint)
    enter = response["Location"]
    tab = Client()  # A new tab: no cookie of the frame's.
    assert "new tab" in tab.get(enter).content.decode().lower()
    page = tab.get(enter + "?tab=1")["Location"]
    assert "Managing innovation" in tab.get(page).content.decode()
    tab.post(page, {"course": "new"})
    assert LtiCourse.objects.get().course.code == "MGT 101"


def test_a_launch_page_of_another_person_is_not_theirs_to_use(client, lms):
    """The launch a page acts on is the signed-in person's own: an address holding
    another person's launch is not found."""
    hint = lms.resource_launch(PROF, CONTEXT, [INSTRUCTOR], "link-1", LAUNCH)
    page = _land(client, _launch(client, lms, hint)[0])
    other = Client()
    other.force_login(UserFactory())
    assert other.get(page).status_code == 404
    assert other.post(page, {"course": "new"}).status_code == 404
    assert not LtiCourse.objects.exists()


def test_a_learner_of_an_unlinked_course_waits_and_is_never_made_staff(client, lms):
    hint = lms.resource_launch(ALICE, CONTEXT, [LEARNER], "link-1", LAUNCH)
    response, _ = _launch(client, lms, hint)
    assert _land(client, response).startswith(reverse("cases:lti_link") + "?launch=")
    page = client.get(reverse("cases:lti_link")).content.decode()
    assert "has not yet connected" in page
    assert client.post(reverse("cases:lti_link"), {"course": "new"}).status_code == 200
    assert not Course.objects.filter(code="MGT 101").exists()


def test_a_launch_gives_the_role_the_lms_gives_now_and_takes_the_one_it_no_longer_does(
    client, world, lms
):
    """The signed launch is the LMS's word on the person's role in its course, as the
    roster is: Alice, a TA at the LMS, is made a learner there; her next launch makes
    her a student of the cohort and no longer a TA (she would grade her classmates
    until the next roster sync). Made a TA again, she leaves the cohort."""
    link = _linked(world, lms)
    hint = lms.resource_launch(ALICE, CONTEXT, [TEACHING_ASSISTANT], "link-1", LAUNCH)
    _land(client, _launch(client, lms, hint)[0])
    alice = LtiUser.objects.get(sub=ALICE["sub"]).auth_user
    assert world.course.teaching_assistants.filter(pk=alice.pk).exists()

    client.logout()
    hint = lms.resource_launch(ALICE, CONTEXT, [LEARNER], "link-1", LAUNCH)
    _land(client, _launch(client, lms, hint)[0])
    assert Membership.objects.filter(cohort=link.cohort, user=alice).exists()
    assert not world.course.teaching_assistants.filter(pk=alice.pk).exists()
    gradebook = reverse("cases:gradebook", args=[world.course.pk])
    assert client.get(gradebook).status_code in (403, 404)

    client.logout()
    hint = lms.resource_launch(ALICE, CONTEXT, [TEACHING_ASSISTANT], "link-1", LAUNCH)
    _land(client, _launch(client, lms, hint)[0])
    assert world.course.teaching_assistants.filter(pk=alice.pk).exists()
    assert not Membership.objects.filter(cohort=link.cohort, user=alice).exists()
    actions = list(AuditEntry.objects.filter(subject=alice).values_list("action", flat=True))
    assert {"role_remove", "unenrol"} <= set(actions)


def test_a_deactivated_account_launching_is_told_so_and_not_signed_in(client, world, lms):
    """An admin deactivated Alice's account (it cannot sign in); she opens Red Queen
    from the LMS: the launch says her account is deactivated, instead of a page that
    offers a new tab, then the sign-in form, with nothing said; and nothing is changed."""
    link = _linked(world, lms)
    hint = lms.resource_launch(ALICE, CONTEXT, [LEARNER], "link-1", LAUNCH)
    _land(client, _launch(client, lms, hint)[0])
    alice = LtiUser.objects.get(sub=ALICE["sub"]).auth_user
    admin = Client()
    admin.force_login(world.users["admin"])
    admin.post(reverse("cases:person_deactivate", args=[alice.pk]), {"confirm": "yes"})
    Membership.objects.filter(cohort=link.cohort, user=alice).delete()  # Left meanwhile.

    client.logout()
    hint = lms.resource_launch(ALICE, CONTEXT, [LEARNER], "link-1", LAUNCH)
    response, _ = _launch(client, lms, hint)
    assert response.status_code == 403
    assert "deactivated" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert not Membership.objects.filter(cohort=link.cohort, user=alice).exists()


def _attack(client, lms, change):
    """A login the tool really started, then a token changed by `change(hint, nonce)`."""
    hint = lms.resource_launch(ALICE, CONTEXT, [LEARNER], "link-1", LAUNCH)
    _url, state, nonce = _login(client, lms, hint)
    return client.post(
        reverse("cases:lti_launch"), {"id_token": change(hint, nonce), "state": state}
    )


ATTACKS = {
    "wrong audience": lambda p: lambda h, n: p.id_token(h, n, aud="another-tool"),
    "expired": lambda p: lambda h, n: p.id_token(h, n, exp=1_000_000_000, iat=999_999_000),
    "unknown deployment": lambda p: lambda h, n: p.id_token(h, n, deployment_id="not-ours"),
    "forged role": lambda p: lambda h, n: p.tamper(p.id_token(h, n), roles=[INSTRUCTOR]),
    "another key": lambda p: lambda h, n: p.id_token(h, n, key=p.other_key()),
    "alg none": lambda p: lambda h, n: p.id_token(h, n, alg="none"),
    "wrong nonce": lambda p: lambda h, n: p.id_token(h, "a-nonce-never-issued"),
}


@pytest.mark.parametrize("attack", ATTACKS)
def test_every_attack_is_refused_with_a_clear_page_and_nothing_created(client, lms, attack):
    response = _attack(client, lms, ATTACKS[attack](lms))
    assert response.status_code == 403
    assert "This launch was refused" in response.content.decode()
    assert not LtiUser.objects.exists() and not LtiContext.objects.exists()
    assert not User.objects.filter(username__startswith="lti-").exists()
    assert "_auth_user_id" not in client.session


def test_a_replayed_launch_and_a_reused_nonce_are_refused(client, lms):
    hint = lms.resource_launch(ALICE, CONTEXT, [LEARNER], "link-1", LAUNCH)
    response, fields = _launch(client, lms, hint)
    assert response.status_code == 302
    client.logout()
    again = client.post(reverse("cases:lti_launch"), fields)  # the same id_token and state
    assert again.status_code == 403 and "already been used" in again.content.decode()
    # A new login's state with the first launch's nonce, in a freshly signed token.
    used_nonce = jwt.decode(fields["id_token"], options={"verify_signature": False})["nonce"]
    _url, state, _nonce = _login(client, lms, hint)
    token = lms.id_token(hint, used_nonce)
    reused = client.post(reverse("cases:lti_launch"), {"id_token": token, "state": state})
    assert reused.status_code == 403 and "already been used" in reused.content.decode()
    assert "_auth_user_id" not in client.session


def test_deep_linking_places_an_item_that_then_launches_straight_to_it(client, world, lms):
    _linked(world, lms)
    client.logout()
    hint = lms.deep_linking_launch(PROF, CONTEXT, [INSTRUCTOR])
    response, _ = _launch(client, lms, hint)
    assert _land(client, response).startswith(reverse("cases:lti_deep_link") + "?launch=")
    picker = client.get(reverse("cases:lti_deep_link")).content.decode()
    assert world.quiz.item.title in picker
    back = client.post(reverse("cases:lti_deep_link"), {"items": [world.quiz.item.pk]})
    html = back.content.decode()
    assert f'action="{lms.deep_link_return_url}"' in html
    assert f"form-action 'self' {lms.url};" in back["Content-Security-Policy"]
    jwt_value = html.split('name="JWT" value="')[1].split('"')[0]
    assert requests.post(lms.deep_link_return_url, data={"JWT": jwt_value}, timeout=10).ok
    (placed,) = lms.deep_links[-1]["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
    assert placed["custom"] == {"item": str(world.quiz.item.pk)} and placed["url"] == LAUNCH

    client.logout()  # A student follows the placed link: straight to the quiz.
    hint = lms.resource_launch(
        ALICE, CONTEXT, [LEARNER], "placed-1", LAUNCH, custom=placed["custom"]
    )
    response, _ = _launch(client, lms, hint)
    assert _land(client, response) == world.quiz.item.get_absolute_url()


def test_a_graded_item_placed_by_deep_linking_takes_its_grades_in_the_lms_column_it_made(
    client, world, lms
):
    """Placing a graded item makes a graded activity in the LMS, with its own gradebook
    column. The tool told the LMS nothing of it, then made a second column of its own
    for the grades: the students' grades sat in a column beside the activity, whose
    own stayed empty. The placed link now carries its line item (the item's points
    and resource id), and the grades go to that column."""
    link = _linked(world, lms)
    quiz_item = world.quiz.item
    quiz_item.assignments.update_or_create(
        cohort=link.cohort, defaults={"points": 5, "grades_released_at": timezone.now()}
    )
    client.logout()
    page = _land(
        client, _launch(client, lms, lms.deep_linking_launch(PROF, CONTEXT, [INSTRUCTOR]))[0]
    )
    back = client.post(page, {"items": [quiz_item.pk]}).content.decode()
    jwt_value = back.split('name="JWT" value="')[1].split('"')[0]
    assert requests.post(lms.deep_link_return_url, data={"JWT": jwt_value}, timeout=10).ok
    (column,) = lms.lineitems.values()
    assert (column["resourceId"], column["scoreMaximum"]) == (f"red-queen-item-{quiz_item.pk}", 5)

    client.logout()
    _land(
        client, _launch(client, lms, lms.resource_launch(ALICE, CONTEXT, [LEARNER], "p", LAUNCH))[0]
    )
    alice = LtiUser.objects.get(sub=ALICE["sub"]).auth_user
    with TestCase.captureOnCommitCallbacks(execute=True):
        work_grade(
            item=quiz_item, student=alice, grader=world.users["instructor"],
            override_score=Decimal("4"), override_reason="Checked",
        )  # fmt: skip
    assert [(url, s["scoreGiven"]) for url, s in lms.scores] == [(column["id"], 4)]
    assert len(lms.lineitems) == 1


def test_a_graded_item_placed_twice_keeps_one_column_in_the_lms_gradebook(client, world, lms):
    """Pat places the reading check in week 1's LMS module, then again in the
    assignments list. Each placement carried the item's column, so the LMS made two,
    and the grades filled only the first (the second stayed empty for every student).
    A placement of an item whose column the LMS has already is a link to it, no
    second column."""
    link = _linked(world, lms)
    quiz_item = world.quiz.item
    quiz_item.assignments.update_or_create(
        cohort=link.cohort, defaults={"points": 5, "grades_released_at": timezone.now()}
    )
    for _twice in range(2):
        client.logout()
        page = _land(
            client, _launch(client, lms, lms.deep_linking_launch(PROF, CONTEXT, [INSTRUCTOR]))[0]
        )
        back = client.post(page, {"items": [quiz_item.pk]}).content.decode()
        jwt_value = back.split('name="JWT" value="')[1].split('"')[0]
        assert requests.post(lms.deep_link_return_url, data={"JWT": jwt_value}, timeout=10).ok
    assert len(lms.deep_links) == 2
    (column,) = lms.lineitems.values()
    assert column["resourceId"] == f"red-queen-item-{quiz_item.pk}"


def test_the_picker_says_which_items_the_lms_courses_students_cannot_open_yet(client, world, lms):
    """An item not assigned to the LMS course's cohort can be placed, but its students
    cannot open it (their launch lands on the course page). The picker listed it like
    any other; it now says so beside it, naming the cohort."""
    link = _linked(world, lms)
    later = world.quiz.item.module.items.create(kind="discussion", title="Later", position=9)
    client.logout()
    page = _land(
        client, _launch(client, lms, lms.deep_linking_launch(PROF, CONTEXT, [INSTRUCTOR]))[0]
    )
    picker = client.get(page).content.decode()
    note = f"not assigned to {link.cohort.name}, so its students cannot open it yet"
    row = picker.split(f'value="{later.pk}"', 1)[1].split("</label>", 1)[0]
    assert note in row
    quiz_row = picker.split(f'value="{world.quiz.item.pk}"', 1)[1].split("</label>", 1)[0]
    assert note not in quiz_row


def test_deep_linking_for_one_item_offers_one_choice_and_refuses_two_keeping_the_ticks(
    client, world, lms
):
    """Canvas's Assignment Selection asks for one item (accept_multiple false). The
    picker offered checkboxes and sent every item ticked, which such a place refuses
    or cuts to the first. It now offers one choice, and two sent anyway are refused
    with a message, the ticks kept; one is placed."""
    _linked(world, lms)
    client.logout()
    hint = lms.deep_linking_launch(PROF, CONTEXT, [INSTRUCTOR], accept_multiple=False)
    page = _land(client, _launch(client, lms, hint)[0])
    picker = client.get(page).content.decode()
    assert 'type="radio" name="items"' in picker and 'type="checkbox"' not in picker
    two = [world.quiz.item.pk, world.item.pk]
    refused = client.post(page, {"items": two}).content.decode()
    assert "takes one item: choose one" in refused and 'name="JWT"' not in refused
    assert refused.count(" checked>") == 2
    placed = client.post(page, {"items": [world.quiz.item.pk]}).content.decode()
    jwt_value = placed.split('name="JWT" value="')[1].split('"')[0]
    claims = jwt.decode(jwt_value, options={"verify_signature": False})
    items = claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
    assert [i["custom"] for i in items] == [{"item": str(world.quiz.item.pk)}]


def test_a_placed_link_whose_item_went_or_is_not_for_the_learner_lands_on_the_course_saying_so(
    client, world, lms
):
    """An LMS link outlives its item: the instructor deletes the placed quiz, or it was
    never assigned to the LMS course's cohort. The learner landed on the course page
    with nothing said (deleted), or on "Page not found" inside the LMS (not theirs to
    open). Both now land on the course page, told why the item did not open."""
    link = _linked(world, lms)
    unassigned = world.quiz.item.module.items.create(kind="discussion", title="Later", position=9)
    quiz_item = world.quiz.item
    custom = {"item": str(quiz_item.pk)}
    quiz_item.delete()
    hint = lms.resource_launch(ALICE, CONTEXT, [LEARNER], "placed-1", LAUNCH, custom=custom)
    landed = _land(client, _launch(client, lms, hint)[0])
    assert landed == world.course.get_absolute_url()
    page = client.get(landed).content.decode()
    assert "The item this LMS link opens is not open to you" in page
    assert Membership.objects.filter(cohort=link.cohort, user__last_name="Ng").exists()

    client.logout()
    custom = {"item": str(unassigned.pk)}
    hint = lms.resource_launch(ALICE, CONTEXT, [LEARNER], "placed-2", LAUNCH, custom=custom)
    landed = _land(client, _launch(client, lms, hint)[0])
    assert landed == world.course.get_absolute_url()
    assert "not open to you" in client.get(landed).content.decode()

    client.logout()  # A link the LMS filled in wrong opens the course, not an error.
    hint = lms.resource_launch(
        ALICE, CONTEXT, [LEARNER], "placed-3", LAUNCH, custom={"item": "$Canvas.x"}
    )
    assert _land(client, _launch(client, lms, hint)[0]) == world.course.get_absolute_url()


def test_deep_linking_offers_every_kind_of_item_and_a_placed_memo_launches_to_it(
    client, world, lms
):
    """A written analysis, an annotation assignment and a live session are module items
    a student opens and is graded on, as a quiz is: the picker offers them too, and a
    student following the placed link lands on the memo they write."""
    module = world.item.module
    cohorts = world.course.cohorts.all()
    memo = make_analysis(module, cohorts, case=world.case, title="Memo: build or buy").item
    notes = make_annotation_task(module, world.case, cohorts, title="Annotate Shanghai Bell").item
    live = make_live(module, cohorts, title="Class 3 live")
    _linked(world, lms)
    client.logout()
    hint = lms.deep_linking_launch(PROF, CONTEXT, [INSTRUCTOR])
    response, _ = _launch(client, lms, hint)
    _land(client, response)
    picker = client.get(reverse("cases:lti_deep_link")).content.decode()
    for item in (memo, notes, live):
        assert f'value="{item.pk}"' in picker, item.kind
    back = client.post(reverse("cases:lti_deep_link"), {"items": [memo.pk]})
    jwt_value = back.content.decode().split('name="JWT" value="')[1].split('"')[0]
    assert requests.post(lms.deep_link_return_url, data={"JWT": jwt_value}, timeout=10).ok
    (placed,) = lms.deep_links[-1]["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
    assert placed["custom"] == {"item": str(memo.pk)}

    client.logout()
    hint = lms.resource_launch(ALICE, CONTEXT, [LEARNER], "memo-1", LAUNCH, custom=placed["custom"])
    response, _ = _launch(client, lms, hint)
    assert _land(client, response) == memo.get_absolute_url()
    assert "Hand in" in client.get(memo.get_absolute_url()).content.decode()


def test_the_roster_syncs_additions_drops_and_role_changes_and_is_audited(client, world, lms):
    link = _linked(world, lms)
    lms.members[CONTEXT["id"]] = [
        member(PROF, [INSTRUCTOR]),
        member(ALICE, [LEARNER]),
        member(BOB, [LEARNER]),
    ]
    client.force_login(world.users["instructor"])
    page = reverse("cases:lti_course", args=[world.course.pk])
    client.post(page, {"link": link.pk})
    alice = LtiUser.objects.get(sub=ALICE["sub"]).auth_user
    bob = LtiUser.objects.get(sub=BOB["sub"]).auth_user
    assert set(link.cohort.memberships.values_list("user", flat=True)) >= {alice.pk, bob.pk}
    assert "From the LMS: 2 added." in client.get(page).content.decode()

    # At the LMS, Bob drops the course and Alice becomes a teaching assistant.
    lms.members[CONTEXT["id"]] = [member(PROF, [INSTRUCTOR]), member(ALICE, [TEACHING_ASSISTANT])]
    client.post(page, {"link": link.pk})
    assert not Membership.objects.filter(cohort=link.cohort, user__in=[alice, bob]).exists()
    assert world.course.teaching_assistants.filter(pk=alice.pk).exists()
    actions = list(AuditEntry.objects.filter(course=world.course).values_list("action", flat=True))
    assert actions.count("enrol") == 2 and "unenrol" in actions and "role_add" in actions


def test_a_learner_an_admin_moved_to_another_section_stays_there_after_a_sync_and_a_launch(
    client, world, lms
):
    """The LMS course is linked to Section A. An admin moves Alice, a learner there, to
    Section B of the same course: the next roster sync and her next launch leave her in
    B alone (she was put back in A, a student of two sections with both sets of dates),
    and the instructor reads who was left out and why. Bob, who joined B with its code
    before any sync, is left there too."""
    link = _linked(world, lms)
    section_b = CohortFactory(name="Section B")
    world.course.cohorts.add(section_b)
    lms.members[CONTEXT["id"]] = [member(PROF, [INSTRUCTOR]), member(ALICE, [LEARNER])]
    client.force_login(world.users["instructor"])
    page = reverse("cases:lti_course", args=[world.course.pk])
    client.post(page, {"link": link.pk})
    alice = LtiUser.objects.get(sub=ALICE["sub"]).auth_user
    assert link.cohort.memberships.filter(user=alice).exists()

    memberships_move(cohort=link.cohort, to=section_b, users=[alice], by=world.users["admin"])
    bob = UserFactory(username="bob", first_name="Bob", last_name="Ode")
    MembershipFactory(cohort=section_b, user=bob)
    LtiUser.objects.create(
        registration=lms.registration, sub=BOB["sub"], auth_user=bob, name="Bob Ode"
    )
    lms.members[CONTEXT["id"]].append(member(BOB, [LEARNER]))
    for _ in range(2):  # Synced twice, from the page and by the scheduled command.
        response = client.post(page, {"link": link.pk}, follow=True)
        call_command("lti_sync", stdout=io.StringIO())
    said = response.content.decode()
    assert "Alice Ng is already in Section B, another section of MGT 6001" in said
    assert "Bob Ode is already in Section B" in said
    assert not link.cohort.memberships.filter(user__in=[alice, bob]).exists()

    hint = lms.resource_launch(ALICE, CONTEXT, [LEARNER], "link-1", LAUNCH)
    response, _ = _launch(Client(), lms, hint)
    assert response.status_code == 302
    assert list(alice.cohorts.values_list("name", flat=True)) == ["Section B"]


def test_a_graded_item_goes_to_the_lms_gradebook_and_again_when_the_grade_changes(
    client, world, lms
):
    from cases.services.lti import _lms_links

    module = world.item.module_id
    assert list(_lms_links(module=module)) == []  # Not linked: nothing to send.
    link = _linked(world, lms)
    # The compiled lookup every work change makes agrees with its queryset, linked.
    assert list(_lms_links(module=module)) == [link] == list(_lms_links.build(module=module))
    assert list(_lms_links(module=world.other_course.modules.create(title="M").pk)) == []
    hint = lms.resource_launch(ALICE, CONTEXT, [LEARNER], "link-1", LAUNCH)
    response, _ = _launch(client, lms, hint)
    _land(client, response)
    alice = LtiUser.objects.get(sub=ALICE["sub"]).auth_user
    # Released to the students: the LMS gets grades as they change.
    world.item.assignments.filter(cohort=link.cohort).update(
        points=10, grades_released_at=timezone.now()
    )
    _graded(world, alice, "7", "Strong")
    grade = LtiGrade.objects.get(user=alice, item=world.item)
    assert grade.status == "sent", grade.error
    ((lineitem_url, score),) = lms.scores
    assert (score["scoreGiven"], score["scoreMaximum"], score["userId"]) == (7, 10, ALICE["sub"])
    assert lms.lineitems[lineitem_url]["resourceId"] == f"red-queen-item-{world.item.pk}"

    _graded(world, alice, "9", "Regraded")
    assert [s["scoreGiven"] for _, s in lms.scores] == [7, 9]  # the same line item, re-sent
    assert len({url for url, _ in lms.scores}) == 1
    client.force_login(world.users["instructor"])
    page = client.get(reverse("cases:lti_course", args=[world.course.pk])).content.decode()
    assert "1 sent · 0 waiting · 0 failed" in page


def test_two_graded_items_go_to_two_columns_of_the_lms_gradebook(client, world, lms):
    """Alice is graded on the case reading (7 of 10) and on the reading check (4 of 5).
    The tool looked its line item up by the tag every item shares, so the second grade
    went to the first item's column: the LMS showed 4 of 5 for the reading and nothing
    for the quiz. Each item's grades now go to its own line item (its resource id)."""
    link = _linked(world, lms)
    _land(
        client, _launch(client, lms, lms.resource_launch(ALICE, CONTEXT, [LEARNER], "l", LAUNCH))[0]
    )
    alice = LtiUser.objects.get(sub=ALICE["sub"]).auth_user
    quiz_item = world.quiz.item
    for item, points in ((world.item, 10), (quiz_item, 5)):
        item.assignments.update_or_create(
            cohort=link.cohort, defaults={"points": points, "grades_released_at": timezone.now()}
        )
    _graded(world, alice, "7", "Strong")
    with TestCase.captureOnCommitCallbacks(execute=True):
        work_grade(
            item=quiz_item, student=alice, grader=world.users["instructor"],
            override_score=Decimal("4"), override_reason="Checked",
        )  # fmt: skip
    columns = {lms.lineitems[url]["resourceId"]: score["scoreGiven"] for url, score in lms.scores}
    assert columns == {f"red-queen-item-{world.item.pk}": 7, f"red-queen-item-{quiz_item.pk}": 4}
    assert len(lms.lineitems) == 2


def test_grades_the_lms_refused_all_night_can_be_sent_again_from_the_lms_page(client, world, lms):
    """The LMS's gradebook is down for a night: the hourly sync tries Alice's grade five
    times and gives up. The course's LMS page still said it would be tried again, and
    nothing could send it once the LMS was back. The page now says the grade is no
    longer tried, and a button sends it again."""
    link = _linked(world, lms)
    _land(
        client, _launch(client, lms, lms.resource_launch(ALICE, CONTEXT, [LEARNER], "l", LAUNCH))[0]
    )
    alice = LtiUser.objects.get(sub=ALICE["sub"]).auth_user
    world.item.assignments.filter(cohort=link.cohort).update(
        points=10, grades_released_at=timezone.now()
    )
    lms.scores_down = True
    _graded(world, alice, "7", "Strong")
    lms.members[CONTEXT["id"]] = [member(PROF, [INSTRUCTOR]), member(ALICE, [LEARNER])]
    for _hour in range(6):
        call_command("lti_sync", stdout=io.StringIO())
    lms.scores_down = False
    call_command("lti_sync", stdout=io.StringIO())
    assert lms.scores == []  # Given up: the scheduled sync no longer tries it.
    client.force_login(world.users["instructor"])
    lms_page = reverse("cases:lti_course", args=[world.course.pk])
    page = client.get(lms_page).content.decode()
    assert "0 sent · 0 waiting · 1 failed" in page and "tried again by the scheduled" not in page
    assert "1 failed 5 times and is no longer tried" in page
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(lms_page, {"resend": "1"}, follow=True)
    assert "1 grade is on its way to the LMS again." in response.content.decode()
    assert [s["scoreGiven"] for _, s in lms.scores] == [7]
    assert "1 sent · 0 waiting · 0 failed" in client.get(lms_page).content.decode()


def test_an_item_made_worth_more_changes_its_column_in_the_lms_gradebook(client, world, lms):
    """The reading was worth 10: its LMS column is out of 10, Alice has 7. The
    instructor makes it worth 20 and Alice's grade becomes 14 of 20. The column stayed
    out of 10, so the LMS scaled it back to 7 of 10 and counted the item as 10 points
    in its course total, where Red Queen counts 20. The column now follows the
    item's points."""
    link = _linked(world, lms)
    _land(
        client, _launch(client, lms, lms.resource_launch(ALICE, CONTEXT, [LEARNER], "l", LAUNCH))[0]
    )
    alice = LtiUser.objects.get(sub=ALICE["sub"]).auth_user
    world.item.assignments.filter(cohort=link.cohort).update(
        points=10, grades_released_at=timezone.now()
    )
    _graded(world, alice, "7", "Strong")
    (column,) = lms.lineitems.values()
    assert column["scoreMaximum"] == 10
    world.item.assignments.filter(cohort=link.cohort).update(points=20)
    _graded(world, alice, "14", "Out of 20 now")
    (column,) = lms.lineitems.values()
    assert column["scoreMaximum"] == 20
    assert [(s["scoreGiven"], s["scoreMaximum"]) for _, s in lms.scores] == [(7, 10), (14, 20)]


def test_an_item_worth_no_points_waits_for_nothing_until_it_is_given_points(client, world, lms):
    """A reading worth no points has no grade for the LMS. Its rows still counted
    'waiting' on the course's LMS page for ever (a class of them), and every scheduled
    sync worked each one out again. Nothing waits for it now; made worth 10, its
    grades go."""
    link = _linked(world, lms)
    _land(
        client, _launch(client, lms, lms.resource_launch(ALICE, CONTEXT, [LEARNER], "l", LAUNCH))[0]
    )
    alice = LtiUser.objects.get(sub=ALICE["sub"]).auth_user
    assignment = world.item.assignments.get(cohort=link.cohort)
    assignment.points, assignment.grades_released_at = 0, timezone.now()
    assignment.save()
    _graded(world, alice, "0", "Read")
    lms.members[CONTEXT["id"]] = [member(PROF, [INSTRUCTOR]), member(ALICE, [LEARNER])]
    call_command("lti_sync", stdout=io.StringIO())
    client.force_login(world.users["instructor"])
    page = client.get(reverse("cases:lti_course", args=[world.course.pk])).content.decode()
    assert "1 waiting" not in page
    assert not LtiGrade.objects.filter(status="waiting").exists()
    with TestCase.captureOnCommitCallbacks(execute=True):
        assignments_schedule(
            item=world.item,
            schedule={
                link.cohort: {
                    "opens_at": None, "due_at": assignment.due_at, "points": 10,
                    "late_policy": assignment.late_policy,
                    "late_penalty_percent": assignment.late_penalty_percent, "late_until": None,
                }
            },
        )  # fmt: skip
    assert lms.scores and lms.scores[-1][1]["scoreMaximum"] == 10


def test_an_unchanged_grade_is_not_sent_to_the_lms_again(client, world, lms):
    """Alice's 7 of 10 is in the LMS. The instructor edits the grade's reason, hides the
    grades and releases them again: the gradebook still says 7 of 10, so the LMS gets
    nothing more (each send is a new submission in the LMS's gradebook, and the
    course's LMS page counted it waiting in between). A new score goes as before."""
    link = _linked(world, lms)
    _land(
        client, _launch(client, lms, lms.resource_launch(ALICE, CONTEXT, [LEARNER], "l", LAUNCH))[0]
    )
    alice = LtiUser.objects.get(sub=ALICE["sub"]).auth_user
    assignment = world.item.assignments.get(cohort=link.cohort)
    assignment.points, assignment.grades_released_at = 10, timezone.now()
    assignment.save()
    _graded(world, alice, "7", "Strong")
    assert len(lms.scores) == 1
    _graded(world, alice, "7", "Strong, and well argued")
    client.force_login(world.users["instructor"])
    release = reverse("cases:assignment_release", args=[assignment.pk])
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(release, {"release": "0"})
        client.post(release, {"release": "1"})
    assert [s["scoreGiven"] for _, s in lms.scores] == [7]
    assert LtiGrade.objects.get(user=alice, item=world.item).status == "sent"
    _graded(world, alice, "8", "Regraded")
    assert [s["scoreGiven"] for _, s in lms.scores] == [7, 8]


def test_the_lms_gets_a_grade_only_once_it_is_released_to_the_students(client, world, lms):
    """The LMS's gradebook is a page the student reads too: a grade the instructor has
    not released in Red Queen (the student's grades page shows nothing) is not sent;
    releasing it in the gradebook sends it."""
    link = _linked(world, lms)
    hint = lms.resource_launch(ALICE, CONTEXT, [LEARNER], "link-1", LAUNCH)
    response, _ = _launch(client, lms, hint)
    _land(client, response)
    alice = LtiUser.objects.get(sub=ALICE["sub"]).auth_user
    assignment = world.item.assignments.get(cohort=link.cohort)
    assignment.points, assignment.grades_released_at = 10, None
    assignment.save()
    _graded(world, alice, "7", "Strong")
    assert lms.scores == []
    assert LtiGrade.objects.get(user=alice, item=world.item).status == "waiting"
    grades = client.get(reverse("cases:student_grades", args=[world.course.pk])).content.decode()
    assert "7.00" not in grades  # Alice sees no grade in Red Queen...

    client.force_login(world.users["instructor"])
    release = reverse("cases:assignment_release", args=[assignment.pk])
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(release, {"release": "1"})
    ((_url, score),) = lms.scores  # ...and none in the LMS until it is released.
    assert (score["scoreGiven"], score["scoreMaximum"], score["userId"]) == (7, 10, ALICE["sub"])
    assert LtiGrade.objects.get(user=alice, item=world.item).status == "sent"


def test_a_reading_marked_done_goes_to_the_lms_gradebook_once(client, world, lms):
    """A case reading is graded for completion: marking it done is its grade, which
    the LMS gets as it gets a quiz's; opening the reader again sends nothing more."""
    link = _linked(world, lms)
    hint = lms.resource_launch(ALICE, CONTEXT, [LEARNER], "link-1", LAUNCH)
    response, _ = _launch(client, lms, hint)
    _land(client, response)
    alice = LtiUser.objects.get(sub=ALICE["sub"]).auth_user
    world.item.assignments.filter(cohort=link.cohort).update(
        points=5, grades_released_at=timezone.now()
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.get(world.case.get_absolute_url())  # Opened: nothing to send yet.
    assert lms.scores == []
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(reverse("cases:reading_done", args=[world.case.slug]), {"done": "1"})
        client.post(reverse("cases:reading_done", args=[world.case.slug]), {"done": "1"})
    ((_url, score),) = lms.scores
    assert (score["scoreGiven"], score["scoreMaximum"], score["userId"]) == (5, 5, ALICE["sub"])
    assert LtiGrade.objects.get(user=alice, item=world.item).status == "sent"


def test_a_late_penalty_lifted_by_an_extension_or_new_points_reach_the_lms(client, world, lms):
    """Alice marks the reading done a day and a half late, 10% off a day: 8 of 10 in the
    gradebook and the LMS. The instructor then grants her an extension past it (the
    gradebook says 10), and later makes the item worth 20 (20 of 20): each time the
    LMS gets the grade the gradebook now shows, not the one it had."""
    link = _linked(world, lms)
    hint = lms.resource_launch(ALICE, CONTEXT, [LEARNER], "link-1", LAUNCH)
    response, _ = _launch(client, lms, hint)
    _land(client, response)
    alice = LtiUser.objects.get(sub=ALICE["sub"]).auth_user
    world.item.assignments.filter(cohort=link.cohort).update(
        opens_at=None,
        due_at=timezone.now() - timedelta(hours=36),
        points=10,
        late_policy="penalize",
        late_penalty_percent=10,
        grades_released_at=timezone.now(),
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(reverse("cases:reading_done", args=[world.case.slug]), {"done": "1"})
    assert [s["scoreGiven"] for _, s in lms.scores] == [8]

    instructor = Client()
    instructor.force_login(world.users["instructor"])
    with TestCase.captureOnCommitCallbacks(execute=True):
        extensions_grant(
            item=world.item,
            users=[alice],
            due_at=timezone.now() + timedelta(days=1),
            by=world.users["instructor"],
        )
    assert [s["scoreGiven"] for _, s in lms.scores] == [8, 10]

    assignment = world.item.assignments.get(cohort=link.cohort)
    with TestCase.captureOnCommitCallbacks(execute=True):
        assignments_schedule(
            item=world.item,
            schedule={
                link.cohort: {
                    "opens_at": None,
                    "due_at": assignment.due_at,
                    "points": 20,
                    "late_policy": "penalize",
                    "late_penalty_percent": 10,
                    "late_until": None,
                }
            },
        )
    assert [(s["scoreGiven"], s["scoreMaximum"]) for _, s in lms.scores][-1] == (20, 20)


def test_the_scheduled_sync_brings_rosters_in_and_forgets_old_login_values(client, world, lms):
    link = _linked(world, lms)
    lms.members[CONTEXT["id"]] = [member(PROF, [INSTRUCTOR]), member(BOB, [LEARNER])]
    _url, state, _nonce = _login(
        client, lms, lms.resource_launch(ALICE, CONTEXT, [LEARNER], "l", LAUNCH)
    )
    login_row = LtiValue.objects.get(key=f"lti1p3-{state}")
    assert login_row.expires_at <= timezone.now() + timedelta(minutes=10)  # minutes, not a day
    LtiValue.objects.filter(pk=login_row.pk).update(expires_at=timezone.now())
    out = io.StringIO()
    call_command("lti_sync", stdout=out)
    assert "MGT 6001: From the LMS: 1 added." in out.getvalue()
    assert Membership.objects.filter(cohort=link.cohort, user__last_name="Ode").exists()
    assert not LtiValue.objects.filter(pk=login_row.pk).exists()


def test_a_key_rotation_keeps_launches_and_grades_working(client, world, lms):
    """rotate_keys adds a key and keeps the old one published: the platform, which
    cached the old JWKS, still checks what the tool signs, and new launches go on."""
    old = set(k["kid"] for k in lms.tool_jwks["keys"])
    call_command("rotate_keys", stdout=io.StringIO())
    published = client.get(reverse("cases:lti_jwks")).json()
    kids = {k["kid"] for k in published["keys"]}
    assert old < kids and len(kids) == 2  # the new key, and the old one still there
    lms.tool_jwks = published
    link = _linked(world, lms)
    lms.members[CONTEXT["id"]] = [member(BOB, [LEARNER])]
    out = io.StringIO()
    call_command("lti_sync", stdout=out)  # signs a client assertion with the newest key
    assert Membership.objects.filter(cohort=link.cohort, user__last_name="Ode").exists()


def test_a_rubric_edited_after_grading_sends_the_new_grades_to_the_lms(client, world, lms):
    link = _linked(world, lms)
    hint = lms.resource_launch(ALICE, CONTEXT, [LEARNER], "link-1", LAUNCH)
    response, _ = _launch(client, lms, hint)
    _land(client, response)
    alice = LtiUser.objects.get(sub=ALICE["sub"]).auth_user
    world.item.assignments.filter(cohort=link.cohort).update(
        points=10, grades_released_at=timezone.now()
    )
    rubric = Rubric.objects.create(
        course=world.course,
        title="Memo",
        criteria=[
            {
                "name": "Case",
                "levels": [{"label": "Thin", "points": 0}, {"label": "Rich", "points": 4}],
            }
        ],
    )
    world.item.rubric = rubric
    world.item.save()
    with TestCase.captureOnCommitCallbacks(execute=True):
        work_grade(
            item=world.item, student=alice, grader=world.users["instructor"], rubric_levels={"0": 0}
        )
    # Thin is worth 2 of 4 now: the grade in the LMS follows (0, then 5 of 10).
    instructor = Client()
    instructor.force_login(world.users["instructor"])
    with TestCase.captureOnCommitCallbacks(execute=True):
        instructor.post(
            reverse("cases:rubric_edit", args=[rubric.pk]),
            {
                "title": "Memo",
                "criteria": "Case: Thin 2 | Rich 4",
                "items": [world.item.pk],
                "confirmed": "1",  # The page asks first: tests/workspace/test_rubrics.py.
            },
        )
    assert [s["scoreGiven"] for _, s in lms.scores] == [0, 5]


SECTION_B = {"id": "ctx-102", "label": "MGT 101 B", "title": "Managing innovation, section B"}


def test_a_course_taught_in_two_lms_sections_sends_each_students_grade_to_their_own(
    client, world, lms
):
    """The course is linked from two LMS courses (sections A and B, each with its own
    cohort). Alice launches from A, Bob from B; each grade, and each regrade, goes to
    the line item of their own section's gradebook, never to the other's."""
    section_a = _linked(world, lms)
    prof_browser = Client()
    response, _ = _launch(
        prof_browser, lms, lms.resource_launch(PROF, SECTION_B, [INSTRUCTOR], "b-0", LAUNCH)
    )
    _land(prof_browser, response)
    prof = LtiUser.objects.get(sub=PROF["sub"]).auth_user
    cohort_b = world.course.cohorts.create(name="Section B (LMS)")
    section_b = course_link(
        context=LtiContext.objects.get(id_on_platform=SECTION_B["id"]),
        course=world.course,
        user=prof,
        cohort=cohort_b,
    )
    released = timezone.now()
    world.item.assignments.create(cohort=cohort_b, points=10, grades_released_at=released)
    world.item.assignments.filter(cohort=section_a.cohort).update(
        points=10, grades_released_at=released
    )
    students = {}
    for person, context in ((ALICE, CONTEXT), (BOB, SECTION_B)):
        browser = Client()
        hint = lms.resource_launch(person, context, [LEARNER], f"{context['id']}-1", LAUNCH)
        response, _ = _launch(browser, lms, hint)
        _land(browser, response)
        students[person["sub"]] = LtiUser.objects.get(sub=person["sub"]).auth_user
    alice, bob = students[ALICE["sub"]], students[BOB["sub"]]
    assert Membership.objects.filter(cohort=cohort_b, user=bob).exists()

    for points in ("6", "8"):  # Graded, then regraded.
        for student in (alice, bob):
            _graded(world, student, points)
    sent = [(url.split("/lineitems/")[0].rsplit("/", 1)[1], s["userId"]) for url, s in lms.scores]
    assert sent == [
        ("ctx-101", ALICE["sub"]),
        ("ctx-102", BOB["sub"]),
        ("ctx-101", ALICE["sub"]),
        ("ctx-102", BOB["sub"]),
    ]
    assert [s["scoreGiven"] for _, s in lms.scores] == [6, 6, 8, 8]
    assert {g.user_id: g.link_id for g in LtiGrade.objects.filter(item=world.item)} == {
        alice.pk: section_a.pk,
        bob.pk: section_b.pk,
    }
    assert set(LtiGrade.objects.values_list("status", flat=True)) == {"sent"}
    client.force_login(world.users["instructor"])
    lms_page = reverse("cases:lti_course", args=[world.course.pk])
    assert "2 sent · 0 waiting · 0 failed" in client.get(lms_page).content.decode()

    # At the LMS Alice moves to section B and Bob leaves; the rosters are synced. The
    # LMS's old memberships stay behind in django-lti (a dropped member is kept), but
    # Alice's grade follows her to B, and Bob's goes nowhere.
    lms.members[CONTEXT["id"]] = [member(PROF, [INSTRUCTOR])]
    lms.members[SECTION_B["id"]] = [member(PROF, [INSTRUCTOR]), member(ALICE, [LEARNER])]
    for link in (section_a, section_b):
        client.post(lms_page, {"link": link.pk})
    assert list(Membership.objects.filter(user__in=[alice, bob]).values_list("user", "cohort")) == [
        (alice.pk, cohort_b.pk)
    ]
    # What the old rule read, still there: Alice in A, Bob in B.
    assert LtiMembership.objects.filter(user__auth_user__in=[alice, bob]).count() == 3
    lms.scores.clear()
    for student in (alice, bob):
        _graded(world, student, "9", "Moved")
    ((url, score),) = lms.scores
    assert "/ctx-102/lineitems/" in url
    assert (score["userId"], score["scoreGiven"]) == (ALICE["sub"], 9)
    assert LtiGrade.objects.get(user=alice).link == section_b
    assert LtiGrade.objects.get(user=bob).score_given == 8  # Not queued again.


def test_a_grade_whose_lms_link_went_before_it_was_sent_is_let_go(client, world, lms):
    from cases.services.lti import grade_send

    link = _linked(world, lms)
    response, _ = _launch(client, lms, lms.resource_launch(ALICE, CONTEXT, [LEARNER], "l", LAUNCH))
    _land(client, response)
    alice = LtiUser.objects.get(sub=ALICE["sub"]).auth_user
    with TestCase.captureOnCommitCallbacks(execute=False) as queued:
        work_grade(
            item=world.item,
            student=alice,
            grader=world.users["instructor"],
            override_score=Decimal("5"),
            override_reason="Read",
        )
    (grade,) = LtiGrade.objects.filter(user=alice)
    link.delete()  # Unlinked (the admin) before the task ran.
    assert grade_send(grade.pk) == ""
    assert not lms.scores
    assert queued  # The task was queued; it finds nothing to send.
