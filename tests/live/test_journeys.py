"""Live class used a second time and where it meets other features: two sections of
one course each with its session, a student moved, deactivated or found absent, the
session ended with a console still open."""

import pytest
from django.urls import reverse

from cases.models import ColdCall, ParticipationMark, User
from cases.services import live as services
from tests.factories import CohortFactory, MembershipFactory, UserFactory, make_live

pytestmark = pytest.mark.django_db


@pytest.fixture
def sections(world):
    """The course's Section A and a Section B with a student of its own, and a
    live-session item given to both."""
    section_a = world.course.cohorts.get()
    section_b = CohortFactory(name="Section B")
    world.course.cohorts.add(section_b)
    MembershipFactory(cohort=section_b, user=UserFactory(username="student_b"))
    item = make_live(world.item.module, [section_a, section_b])
    return section_a, section_b, item


@pytest.fixture
def session(world):
    return make_live(
        world.item.module, world.course.cohorts.all(), start_by=world.users["instructor"]
    )


def _start(world, item, cohort, title):
    return services.session_start(
        course=world.course, by=world.users["instructor"], title=title, item=item, cohort=cohort
    )


def test_a_student_sees_on_the_item_only_the_session_of_their_own_section(
    world, sections, client_for
):
    """Section B's class is running: a Section A student opening the item is not offered
    B's session (it would answer 404); when A's starts, that is the one offered, as on
    the dashboard."""
    _section_a, section_b, item = sections
    b_session = _start(world, item, section_b, "Section B, Monday")
    client = client_for("student")
    page = client.get(item.get_absolute_url()).content.decode()
    assert b_session.get_absolute_url() not in page
    assert "No session is running now" in page
    assert client.get(b_session.get_absolute_url()).status_code == 404
    a_session = _start(world, item, world.course.cohorts.get(name="Section A"), "Section A")
    page = client.get(item.get_absolute_url()).content.decode()
    assert a_session.get_absolute_url() in page and b_session.get_absolute_url() not in page
    dashboard = client.get(reverse("cases:home")).content.decode()
    assert a_session.get_absolute_url() in dashboard
    assert b_session.get_absolute_url() not in dashboard


def _console(client, session) -> str:
    return client.get(session.get_absolute_url()).content.decode()


def test_a_student_moved_to_another_section_mid_class_is_no_longer_called_on_there(
    world, sections, client_for
):
    """Section A's class: two students join, then one is moved to Section B (an
    enrolment put right). Section A's console no longer lists them as present, the
    cold caller never picks them, and a +1 for them there is refused."""
    section_a, section_b, item = sections
    session = _start(world, item, section_a, "Section A, Monday")
    moved, stays = world.users["student"], world.users["student_ta_elsewhere"]
    for role in ("student", "student_ta_elsewhere"):
        client_for(role).post(reverse("cases:live_session_join", args=[session.pk]))
    admin = client_for("admin")
    response = admin.post(
        reverse("cases:cohort_members", args=[section_a.pk]),
        {"action": "move", "students": [moved.pk], "to": section_b.pk},
    )
    assert response.status_code == 302 and moved.memberships.get().cohort == section_b
    client = client_for("instructor")
    console = _console(client, session)
    assert "Present: 1" in console and moved.display_name not in console
    url = reverse("cases:live_cold_call", args=[session.pk])
    for _ in range(4):
        client.post(url, {"action": "pick"})
    assert set(ColdCall.objects.values_list("student", flat=True)) == {stays.pk}
    response = client.post(
        reverse("cases:live_mark", args=[session.pk]), {"student": moved.pk, "points": "1"}
    )
    assert response.status_code == 404 and not ParticipationMark.objects.exists()


def test_a_student_deactivated_mid_class_is_not_called_on(world, session, client_for):
    """Two students join; an admin deactivates one (withdrawn: signed out, work kept).
    The console no longer counts them present and the cold caller never picks them."""
    gone, stays = world.users["student"], world.users["student_ta_elsewhere"]
    for role in ("student", "student_ta_elsewhere"):
        client_for(role).post(reverse("cases:live_session_join", args=[session.pk]))
    response = client_for("admin").post(
        reverse("cases:person_deactivate", args=[gone.pk]), {"confirm": "yes"}
    )
    assert response.status_code == 302
    gone.refresh_from_db()
    assert not gone.is_active
    client = client_for("instructor")
    console = _console(client, session)
    assert "Present: 1" in console and gone.display_name not in console
    url = reverse("cases:live_cold_call", args=[session.pk])
    for _ in range(4):
        client.post(url, {"action": "pick"})
    assert set(ColdCall.objects.values_list("student", flat=True)) == {stays.pk}


def test_not_there_from_a_second_console_leaves_a_student_who_already_spoke(
    world, session, client_for
):
    """The instructor calls on a student, who answers: +2. The TA's console, drawn
    before the +2, still offers "Not there: skip" on that call; pressed, it does not
    turn the student who just spoke into one absent (gone from the roster, never
    called again)."""
    for role in ("student", "student_ta_elsewhere"):
        client_for(role).post(reverse("cases:live_session_join", args=[session.pk]))
    client = client_for("instructor")
    call_url = reverse("cases:live_cold_call", args=[session.pk])
    client.post(call_url, {"action": "pick", "after": "0"})
    call = ColdCall.objects.get()
    ta_console = _console(client_for("ta"), session)
    assert f'name="call" value="{call.pk}"' in ta_console and "Not there: skip" in ta_console
    client = client_for("instructor")
    client.post(
        reverse("cases:live_mark", args=[session.pk]),
        {"student": call.student_id, "points": "2", "call": call.pk},
    )
    client_for("ta").post(call_url, {"action": "absent", "call": call.pk})
    call.refresh_from_db()
    assert call.outcome == "contributed"
    console = _console(client_for("instructor"), session)
    assert "Present: 2" in console and call.student.display_name in console


def test_a_session_left_running_on_monday_ends_when_wednesday_s_class_starts(world, client_for):
    """Monday's class ends without End being pressed. On Wednesday the instructor starts
    the next class: Monday's session ends with it (and says so), so students see one
    Live now, not Monday's beside it, and cannot earn Monday's attendance by joining
    it from home with its old code. A second section's class started the same day
    keeps running beside it."""
    from datetime import timedelta

    from django.utils import timezone

    monday_item = make_live(world.item.module, world.course.cohorts.all(), title="Class 4")
    wednesday_item = make_live(world.item.module, world.course.cohorts.all(), title="Class 5")
    url = reverse("cases:live_sessions", args=[world.course.pk])
    client = client_for("instructor")
    client.post(url, {"title": "Monday", "item": monday_item.pk})
    monday = world.course.live_sessions.get()
    poll = services.poll_create(session=monday, kind="word", prompt="One word?")
    services.poll_launch(poll)
    today = services.session_start(
        course=world.course, by=world.users["ta"], title="Breakout", cohort=None
    )
    monday.__class__.objects.filter(pk=monday.pk).update(
        started_at=timezone.now() - timedelta(days=2)
    )
    said = client.post(url, {"title": "Wednesday", "item": wednesday_item.pk}, follow=True)
    said = said.content.decode()
    assert "Started “Wednesday”" in said and "Ended “Monday”, left running" in said
    monday.refresh_from_db()
    poll.refresh_from_db()
    assert not monday.is_running and poll.state == "closed"
    today.refresh_from_db()
    assert today.is_running
    student = client_for("student")
    dashboard = student.get(reverse("cases:home")).content.decode()
    assert monday.get_absolute_url() not in dashboard
    response = student.post(reverse("cases:live_join"), {"code": monday.join_code})
    assert "No running session has that code" in response.content.decode()
    assert not monday.attendance.exists()


def test_a_student_found_not_there_who_comes_back_can_be_marked_again(world, session, client_for):
    """A student is called on while out of the room: "Not there: skip". They come back
    and speak. The console lists them as not there when called, with a button that
    brings them back: in the roster again, their +1 is taken, and the cold caller may
    pick them again."""
    back, other = world.users["student"], world.users["student_ta_elsewhere"]
    for role in ("student", "student_ta_elsewhere"):
        client_for(role).post(reverse("cases:live_session_join", args=[session.pk]))
    client = client_for("instructor")
    call_url = reverse("cases:live_cold_call", args=[session.pk])
    mark_url = reverse("cases:live_mark", args=[session.pk])
    while not ColdCall.objects.filter(student=back).exists():
        client.post(call_url, {"action": "pick"})
    call = ColdCall.objects.get(student=back)
    client.post(call_url, {"action": "absent", "call": call.pk})
    console = _console(client, session)
    assert "Present: 1" in console
    assert f'name="student" value="{back.pk}"' not in console  # No +1 for them.
    here = f'name="action" value="here"><input type="hidden" name="call" value="{call.pk}"'
    assert "Not there when called" in console and here in console
    client.post(call_url, {"action": "here", "call": call.pk})
    console = _console(client, session)
    assert "Present: 2" in console and f'name="student" value="{back.pk}"' in console
    client.post(mark_url, {"student": back.pk, "points": "1", "seen": "0"})
    assert ParticipationMark.objects.get().student == back
    calls = ColdCall.objects.count()
    for _ in range(12):
        client.post(call_url, {"action": "pick"})
    later = ColdCall.objects.order_by("pk")[calls:]
    assert back.pk in {c.student_id for c in later} and other.pk in {c.student_id for c in later}


def test_a_poll_added_or_launched_from_a_console_left_open_after_the_end_says_so(
    world, session, client_for
):
    """The session is ended from the projector's laptop; the console on the TA's
    tablet still shows the poll form and a Launch button. Adding a poll there, or
    launching one, answers in the page's alert region that the session has ended
    (the console is not replaced by a whole page, the typed poll stays in its form),
    and no poll opens."""
    draft = services.poll_create(session=session, kind="word", prompt="One word?")
    client = client_for("instructor")
    client.post(reverse("cases:live_end", args=[session.pk]))
    client = client_for("ta")
    htmx = {"HX-Request": "true"}
    response = client.post(
        reverse("cases:live_poll_create", args=[session.pk]),
        {"kind": "single", "prompt": "R or D?", "options": "R\nD", "launch": "on"},
        headers=htmx,
    )
    assert response.status_code == 409 and response["HX-Retarget"] == "#htmx-error"
    assert "This live session has ended." in response.content.decode()
    assert session.polls.count() == 1
    response = client.post(
        reverse("cases:live_poll_control", args=[draft.pk]), {"action": "launch"}, headers=htmx
    )
    assert response.status_code == 409 and response["HX-Retarget"] == "#htmx-error"
    assert "This live session has ended." in response.content.decode()
    draft.refresh_from_db()
    assert draft.state == "draft"
    # Without JavaScript: back to the console, which says so once.
    response = client.post(
        reverse("cases:live_poll_control", args=[draft.pk]), {"action": "launch"}, follow=True
    )
    assert response.content.decode().count("This live session has ended.") == 1


def test_a_section_s_class_of_an_item_lists_every_student_of_the_section_who_joined(
    world, sections, client_for
):
    """Section B's session of an item given to Section A only (started before the item
    was given to B): B's students may join it, so the console lists them and the cold
    caller may pick them, as for any class of the section."""
    section_a, section_b, _item = sections
    only_a = make_live(world.item.module, [section_a], title="Class 6")
    session = _start(world, only_a, section_b, "Section B, Friday")
    student_b = section_b.members.get()
    client = client_for("instructor")
    client.force_login(student_b)
    assert client.post(reverse("cases:live_session_join", args=[session.pk])).status_code == 302
    assert session.attendance.filter(user=student_b).exists()
    client = client_for("instructor")
    console = _console(client, session)
    assert "Present: 1" in console and student_b.display_name in console


def test_the_instructor_and_the_ta_each_mark_the_same_student_from_their_consoles(
    world, session, client_for
):
    """Both consoles are open on the roster. The instructor gives a student +1 for one
    point; a moment later the TA, from a console drawn before it, gives the same
    student +2 for another. Both marks count (two graders, two contributions); the
    instructor's own form sent twice still marks once."""
    student = world.users["student"]
    client_for("student").post(reverse("cases:live_session_join", args=[session.pk]))
    mark_url = reverse("cases:live_mark", args=[session.pk])
    drawn = {"student": student.pk, "call": "", "seen": "0"}
    for _twice in range(2):
        client_for("instructor").post(mark_url, drawn | {"points": "1", "note": "Cited ¶4"})
    client_for("ta").post(mark_url, drawn | {"points": "2", "note": "Costs, with numbers"})
    marks = ParticipationMark.objects.order_by("pk").values_list("points", "marked_by__username")
    assert list(marks) == [(1, "instructor"), (2, "ta")]
    console = _console(client_for("instructor"), session)
    assert "Cited ¶4" in console and "Costs, with numbers" in console


def test_a_wrong_grading_rule_is_refused_beside_its_field_keeping_what_was_typed(
    world, session, client_for
):
    """The instructor sets how the class meeting is graded and types 120 for the
    attendance share (and 3 contribution points): the item page comes back with the
    reason beside the percent and both numbers as typed; nothing is saved. Put right,
    it saves."""
    item = session.item
    url = reverse("cases:live_class_settings", args=[item.pk])
    client = client_for("instructor")
    response = client.post(url, {"attendance_percent": "120", "marks_for_full_credit": "3"})
    page = response.content.decode()
    assert response.status_code == 400
    field = page.split('name="attendance_percent"')[1].split("</div>")[0]
    assert "field__errors" in field and "100" in field
    assert 'value="120"' in page and 'name="marks_for_full_credit" value="3"' in page
    item.live_class.refresh_from_db()
    assert item.live_class.attendance_percent == 50
    response = client.post(url, {"attendance_percent": "40", "marks_for_full_credit": "3"})
    assert response.status_code == 302
    item.live_class.refresh_from_db()
    assert (item.live_class.attendance_percent, item.live_class.marks_for_full_credit) == (40, 3)


def test_launch_pressed_again_on_the_open_poll_keeps_its_results_on_screen(
    world, session, client_for
):
    """The instructor launches a poll and reveals its results. The TA's console, drawn
    while the poll was a draft, still shows Launch beside it; pressed, it leaves the
    open poll as it is: the results stay on the projector."""
    poll = services.poll_create(session=session, kind="single", prompt="R or D?", options="RD")
    control = reverse("cases:live_poll_control", args=[poll.pk])
    client = client_for("instructor")
    client.post(control, {"action": "launch"})
    client.post(control, {"action": "reveal"})
    projector = reverse("cases:live_projector", args=[session.pk])
    assert "Results are hidden" not in client.get(projector).content.decode()
    client_for("ta").post(control, {"action": "launch"})
    poll.refresh_from_db()
    assert poll.state == "open" and poll.results_shown
    page = client_for("instructor").get(projector).content.decode()
    assert "Results are hidden" not in page


def test_last_week_s_office_hours_left_running_are_not_resumed_this_week(world, client_for):
    """Weekly office hours, always the same title. Last week's session was never ended.
    Starting "Office hours" this week opens a new session, with nobody present yet,
    not last week's with last week's attendance and polls; last week's ends."""
    from datetime import timedelta

    from django.utils import timezone

    url = reverse("cases:live_sessions", args=[world.course.pk])
    client = client_for("instructor")
    client.post(url, {"title": "Office hours"})
    last_week = world.course.live_sessions.get()
    services.join(last_week, world.users["student"])
    last_week.__class__.objects.filter(pk=last_week.pk).update(
        started_at=timezone.now() - timedelta(days=7)
    )
    page = client.post(url, {"title": "Office hours"}, follow=True).content.decode()
    this_week = world.course.live_sessions.order_by("-pk").first()
    assert this_week.pk != last_week.pk and this_week.is_running
    assert "Started “Office hours”" in page and "already running" not in page
    assert "Present: 0" in page
    last_week.refresh_from_db()
    assert not last_week.is_running


def test_deleting_a_live_item_mid_class_ends_its_session_rather_than_opening_it_to_all(
    world, sections, client_for
):
    """A class of an item given to Section A only is running when the instructor
    deletes the item. Its session ends with it: it does not run on as an ungraded
    session any student of the course, Section B's too, may join."""
    section_a, _section_b, _item = sections
    only_a = make_live(world.item.module, [section_a], title="Class 6")
    session = _start(world, only_a, None, "Class 6, Monday")
    client = client_for("instructor")
    response = client.post(reverse("cases:item_delete", args=[only_a.pk]))
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.item is None and not session.is_running
    client.force_login(User.objects.get(username="student_b"))
    assert session.get_absolute_url() not in client.get(reverse("cases:home")).content.decode()
    response = client.post(reverse("cases:live_join"), {"code": session.join_code})
    assert "No running session has that code" in response.content.decode()


def test_deleting_the_module_of_a_live_item_mid_class_ends_its_session_too(
    world, sections, client_for
):
    section_a, _section_b, _item = sections
    only_a = make_live(world.item.module, [section_a], title="Class 6")
    session = _start(world, only_a, None, "Class 6, Monday")
    client = client_for("instructor")
    response = client.post(reverse("cases:module_delete", args=[only_a.module_id]))
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.item is None and not session.is_running


def test_a_ta_of_section_a_starts_a_class_only_for_section_a(world, sections, client_for):
    """The TA looks after Section A only. Starting a class, they are offered Section A,
    not Section B nor "Every cohort": a class they started for Section B (or for both)
    let B's students join a console whose roster, holding only students the TA grades,
    said nobody had joined. Choosing another section anyway is refused beside the
    field, the title typed kept, and nothing starts."""
    section_a, section_b, item = sections
    section_a.teaching_assistants.add(world.users["ta"])
    url = reverse("cases:live_sessions", args=[world.course.pk])
    ta = client_for("ta")
    page = ta.get(url).content.decode()
    form = page.split('action="' + url)[1].split("</form>")[0]
    assert f'value="{section_a.pk}"' in form
    assert f'value="{section_b.pk}"' not in form
    assert "Every cohort" not in form
    for cohort in (section_b.pk, ""):
        refused = ta.post(url, {"title": "Class 6 for B", "item": item.pk, "cohort": cohort})
        html = refused.content.decode()
        assert refused.status_code == 200
        assert "Class 6 for B" in html
        assert "Choose one of the sections you look after" in html
    assert not world.course.live_sessions.exists()
    ta.post(url, {"title": "Class 6", "item": item.pk, "cohort": section_a.pk})
    assert world.course.live_sessions.get().cohort == section_a
    # The instructor, who teaches every section, may still start a class for all.
    offered = client_for("instructor").get(url).content.decode()
    assert "Every cohort" in offered and f'value="{section_b.pk}"' in offered


def test_a_class_is_started_for_current_sections_only(world, sections, client_for):
    """Last term's Section B is archived. Starting a class, the instructor is offered
    Section A (and every cohort), not B; choosing B anyway is refused beside the field,
    the title kept, and nothing starts. Section A's class then starts as before."""
    from django.utils import timezone

    section_a, section_b, item = sections
    section_b.archived_at = timezone.now()
    section_b.save(update_fields=["archived_at"])
    url = reverse("cases:live_sessions", args=[world.course.pk])
    instructor = client_for("instructor")
    form = instructor.get(url).content.decode().split('action="' + url)[1].split("</form>")[0]
    assert f'value="{section_a.pk}"' in form
    assert f'value="{section_b.pk}"' not in form
    refused = instructor.post(url, {"title": "Class 7", "item": item.pk, "cohort": section_b.pk})
    assert refused.status_code == 200
    assert "Class 7" in refused.content.decode()
    assert "Select a valid choice" in refused.content.decode()
    assert not world.course.live_sessions.exists()
    instructor.post(url, {"title": "Class 7", "item": item.pk, "cohort": section_a.pk})
    assert world.course.live_sessions.get().cohort == section_a


def test_a_ta_of_section_a_cannot_run_section_b_s_class_nor_one_for_every_cohort(
    world, sections, client_for
):
    """The TA looks after Section A only. The instructor starts Section B's class and
    one for every cohort, with a poll and a cold call on each. The TA is not offered
    either on the item or the live class page, and every part of their consoles is
    refused: the console and its board, the projector, adding, launching and revealing
    polls, the cold caller, "Not there", marks and taking one back, End. Nothing
    changes. Section A's class, started by the instructor, the TA runs as before; a
    TA who looks after every section runs all three, as the instructor does."""
    section_a, section_b, item = sections
    ta_user = world.users["ta"]
    section_a.teaching_assistants.add(ta_user)
    student_b = section_b.members.get()
    instructor = client_for("instructor")
    b_class = _start(world, item, section_b, "Section B, Monday")
    every = _start(world, item, None, "Both sections, Monday")
    a_class = _start(world, item, section_a, "Section A, Monday")
    for session in (b_class, every):
        services.join(session, student_b)
        poll = services.poll_create(session=session, kind="word", prompt="One word?")
        call = services.cold_call_pick(
            session=session,
            by=world.users["instructor"],
            students=User.objects.filter(pk=student_b.pk),
        )
        mark = services.mark_add(
            session=session, student=student_b, points=1, note="", by=world.users["instructor"]
        )
        ta = client_for("ta")
        htmx = {"HX-Request": "true"}
        for url in (
            session.get_absolute_url(),
            reverse("cases:live_projector", args=[session.pk]),
        ):
            assert ta.get(url).status_code == 403, url
            assert ta.get(url, headers=htmx).status_code == 403, url
        posts = [
            (
                reverse("cases:live_poll_create", args=[session.pk]),
                {"kind": "word", "prompt": "Another?", "launch": "on"},
            ),
            (reverse("cases:live_poll_control", args=[poll.pk]), {"action": "launch"}),
            (reverse("cases:live_poll_control", args=[poll.pk]), {"action": "reveal"}),
            (reverse("cases:live_cold_call", args=[session.pk]), {"action": "pick"}),
            (
                reverse("cases:live_cold_call", args=[session.pk]),
                {"action": "absent", "call": call.pk},
            ),
            (
                reverse("cases:live_mark", args=[session.pk]),
                {"student": student_b.pk, "points": "2"},
            ),
            (reverse("cases:live_mark_delete", args=[mark.pk]), {}),
            (reverse("cases:live_end", args=[session.pk]), {}),
        ]
        for url, data in posts:
            assert ta.post(url, data).status_code == 403, url
            assert ta.post(url, data, headers=htmx).status_code == 403, url
        session.refresh_from_db()
        poll.refresh_from_db()
        call.refresh_from_db()
        assert session.is_running and session.polls.count() == 1
        assert poll.state == "draft" and not poll.results_shown
        assert call.outcome == "called" and session.cold_calls.count() == 1
        assert list(session.marks.all()) == [mark]
    for page in (item.get_absolute_url(), reverse("cases:live_sessions", args=[world.course.pk])):
        html = client_for("ta").get(page).content.decode()
        assert a_class.get_absolute_url() in html, page
        assert b_class.get_absolute_url() not in html, page
        assert every.get_absolute_url() not in html, page
    ta = client_for("ta")
    assert ta.get(a_class.get_absolute_url()).status_code == 200
    launch = ta.post(
        reverse("cases:live_poll_create", args=[a_class.pk]),
        {"kind": "word", "prompt": "Section A only?", "launch": "on"},
    )
    assert launch.status_code == 302 and a_class.polls.get().state == "open"
    # The instructor, and a TA who looks after every section, run them all.
    section_a.teaching_assistants.remove(ta_user)
    for role in ("instructor", "ta"):
        client = client_for(role)
        for session in (b_class, every, a_class):
            assert client.get(session.get_absolute_url()).status_code == 200, (role, session)
            url = reverse("cases:live_projector", args=[session.pk])
            assert client.get(url).status_code == 200, (role, session)
    assert instructor.post(reverse("cases:live_end", args=[b_class.pk])).status_code == 302


def _known(html: str) -> str:
    """The version a phone's live state carries into its next poll."""
    return html.split("?known=")[1].split('"')[0]


def test_revealed_results_keep_moving_on_phones_and_the_projector_as_answers_arrive(world, session):
    """The instructor launches R or D? and two students answer; the instructor
    reveals the results while others are still answering. A phone shows 2 answers.
    A third student answers, then one changes their pick: each time the phone's
    next poll (carrying the version it shows) brings the new counts, as the
    projector's does. Once the poll closes, the counts stop moving and the phone's
    poll is an empty 204 again, as it is while results are hidden."""
    from django.test import Client

    def signed_in(user):
        client = Client()
        client.force_login(user)
        return client

    cohort = world.course.cohorts.get()
    third = UserFactory(username="third")
    MembershipFactory(cohort=cohort, user=third)
    first, second = world.users["student"], world.users["student_ta_elsewhere"]
    poll = services.poll_create(session=session, kind="single", prompt="R or D?", options="RD")
    instructor = signed_in(world.users["instructor"])
    control = reverse("cases:live_poll_control", args=[poll.pk])
    instructor.post(control, {"action": "launch"})
    answer_url = reverse("cases:live_answer", args=[session.pk])
    phones = {user: signed_in(user) for user in (first, second, third)}
    for user, pick in ((first, "0"), (second, "0")):
        assert phones[user].post(answer_url, {"poll": poll.pk, "answer": pick}).status_code == 302
    phone = phones[first]
    state_url = reverse("cases:live_state", args=[session.pk])
    htmx = {"HX-Request": "true"}
    hidden = phone.get(session.get_absolute_url()).content.decode()
    # Unchanged while results are hidden: an empty 204.
    assert phone.get(state_url, {"known": _known(hidden)}, headers=htmx).status_code == 204
    instructor.post(control, {"action": "reveal"})
    projector = reverse("cases:live_projector", args=[session.pk])
    shown = phone.get(state_url, {"known": _known(hidden)}, headers=htmx)
    assert shown.status_code == 200
    shown = shown.content.decode()
    assert "How the class answered" in shown and "2 · 100%" in shown
    board = instructor.get(projector, headers=htmx)
    assert "2 · 100%" in board.content.decode()
    etag = board["ETag"]
    # Nothing new yet: the phone and the projector hear "unchanged".
    assert phone.get(state_url, {"known": _known(shown)}, headers=htmx).status_code == 204
    assert instructor.get(projector, headers=htmx | {"If-None-Match": etag}).status_code == 304
    phones[third].post(answer_url, {"poll": poll.pk, "answer": "1"})
    moved = phone.get(state_url, {"known": _known(shown)}, headers=htmx)
    assert moved.status_code == 200
    moved = moved.content.decode()
    assert "2 · 67%" in moved and "1 · 33%" in moved
    board = instructor.get(projector, headers=htmx | {"If-None-Match": etag})
    assert board.status_code == 200 and "1 · 33%" in board.content.decode()
    # A student changes their pick: the same number of answers, other counts.
    phones[second].post(answer_url, {"poll": poll.pk, "answer": "1"})
    changed = phone.get(state_url, {"known": _known(moved)}, headers=htmx)
    assert changed.status_code == 200
    changed = changed.content.decode()
    assert changed.index("1 · 33%") < changed.index("2 · 67%")  # R now has one, D two.
    instructor.post(control, {"action": "close"})
    closed = phone.get(state_url, {"known": _known(changed)}, headers=htmx).content.decode()
    assert "closed" in closed
    assert phone.get(state_url, {"known": _known(closed)}, headers=htmx).status_code == 204


def test_a_session_nobody_ended_stops_running_six_hours_after_it_started(world, client_for):
    """The instructor starts the morning's class; a student joins and answers the poll
    launched. Nobody presses End. Seven hours later the student's dashboard no longer
    says Live now, the item offers nothing to join, the phone's next poll shows the
    session ended (not a 204 on the open poll), an answer is refused, and a classmate
    joining by its code or its Join button is told it has ended and gets no
    attendance. The staff see it ended by time and may still open its record, results
    included. Starting "Morning class" again opens a new session, not that one."""
    from datetime import timedelta

    from django.test import Client
    from django.utils import timezone

    from cases.models import LIVE_STALE_AFTER, LiveSession

    assert timedelta(hours=6) == LIVE_STALE_AFTER
    item = make_live(world.item.module, world.course.cohorts.all(), title="Class 7")
    url = reverse("cases:live_sessions", args=[world.course.pk])
    instructor = Client()
    instructor.force_login(world.users["instructor"])
    instructor.post(url, {"title": "Morning class", "item": item.pk})
    morning = world.course.live_sessions.get()
    poll = services.poll_create(session=morning, kind="single", prompt="R or D?", options="RD")
    services.poll_launch(poll)
    services.poll_update(poll, results_shown=True)
    phone = Client()
    phone.force_login(world.users["student"])
    phone.post(reverse("cases:live_session_join", args=[morning.pk]))
    answer_url = reverse("cases:live_answer", args=[morning.pk])
    assert phone.post(answer_url, {"poll": poll.pk, "answer": "0"}).status_code == 302
    page = phone.get(morning.get_absolute_url()).content.decode()
    known = _known(page)
    dashboard = phone.get(reverse("cases:home")).content.decode()
    assert "Live now" in dashboard and morning.get_absolute_url() in dashboard
    # Seven hours pass.
    LiveSession.objects.filter(pk=morning.pk).update(started_at=timezone.now() - timedelta(hours=7))
    dashboard = phone.get(reverse("cases:home")).content.decode()
    assert "Live now" not in dashboard and morning.get_absolute_url() not in dashboard
    assert "No session is running now" in phone.get(item.get_absolute_url()).content.decode()
    state = phone.get(
        reverse("cases:live_state", args=[morning.pk]),
        {"known": known},
        headers={"HX-Request": "true"},
    )
    assert state.status_code == 200 and "This session has ended" in state.content.decode()
    refused = phone.post(answer_url, {"poll": poll.pk, "answer": "1"}, follow=True)
    assert "This live session has ended." in refused.content.decode()
    assert poll.answers.get().choices == [0]
    late = Client()
    late.force_login(world.users["student_ta_elsewhere"])
    said = late.post(reverse("cases:live_join"), {"code": morning.join_code}).content.decode()
    assert "“Morning class” has ended" in said
    said = late.post(reverse("cases:live_session_join", args=[morning.pk]), follow=True)
    assert "This live session has ended." in said.content.decode()
    assert list(morning.attendance.values_list("user__username", flat=True)) == ["student"]
    # The staff: ended by time, its record still open.
    listed = instructor.get(url).content.decode()
    row = listed.split(morning.get_absolute_url())[1].split("</tr>")[0]
    assert "Ended by time" in row and "Running" not in row
    assert "Ended by time" in instructor.get(item.get_absolute_url()).content.decode()
    console = instructor.get(morning.get_absolute_url()).content.decode()
    assert "This session ended" in console and "1 · 100%" in console
    assert "Join code" not in console
    projector = instructor.get(reverse("cases:live_projector", args=[morning.pk]))
    assert "This session has ended." in projector.content.decode()
    launch = instructor.post(
        reverse("cases:live_poll_control", args=[poll.pk]), {"action": "launch"}, follow=True
    )
    assert "This live session has ended." in launch.content.decode()
    # A new one starts, with nobody present yet; the morning's is closed for the record.
    page = instructor.post(url, {"title": "Morning class", "item": item.pk}, follow=True)
    page = page.content.decode()
    again = world.course.live_sessions.order_by("-pk").first()
    assert again.pk != morning.pk and again.is_running
    assert "Started “Morning class”" in page and "already running" not in page
    assert "Present: 0" in page
    morning.refresh_from_db()
    assert morning.ended_at == morning.started_at + LIVE_STALE_AFTER
    dashboard = phone.get(reverse("cases:home")).content.decode()
    assert again.get_absolute_url() in dashboard
