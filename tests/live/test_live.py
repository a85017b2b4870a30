"""Live class: joining by code, polls one at a time from console to phones to the
projector, the cold-call picker and participation marks feeding the gradebook."""

import itertools
import random
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from cases.models import (
    CallOutcome,
    ColdCall,
    LiveAnswer,
    LiveAttendance,
    LivePoll,
    ModuleItem,
    ParticipationMark,
    PollState,
    Question,
    User,
    Work,
)
from cases.services import live as services
from cases.services.discussions import post_create
from cases.services.gradebook import grade_categories_add_defaults
from cases.services.workspace.work import work_points
from tests.factories import make_live

pytestmark = pytest.mark.django_db


@pytest.fixture
def session(world):
    return make_live(
        world.item.module, world.course.cohorts.all(), start_by=world.users["instructor"]
    )


def _poll(session, kind="single", prompt="Where does Shanghai Bell's edge come from?", **fields):
    options = fields.pop("options", ["Its own research", "Production and process"])
    poll = services.poll_create(session=session, kind=kind, prompt=prompt, options=options)
    if fields.get("launch", True):
        services.poll_launch(poll)
        poll.refresh_from_db()
        session.refresh_from_db()
    return poll


def _answer(client, session, poll, answer):
    data = {"poll": poll.pk}
    if answer is not None:
        data["answer"] = answer
    return client.post(reverse("cases:live_answer", args=[session.pk]), data)


# Joining -----------------------------------------------------------------------------


def test_a_student_joins_with_the_code_and_attending_is_graded(world, session, client_for):
    client = client_for("student")
    response = client.post(reverse("cases:live_join"), {"code": session.join_code.lower()})
    assert response.status_code == 302 and response["Location"] == session.get_absolute_url()
    client.post(reverse("cases:live_join"), {"code": session.join_code})  # Again: harmless.
    student = world.users["student"]
    assert LiveAttendance.objects.filter(session=session, user=student).count() == 1
    work = Work.objects.get(item=session.item, user=student)
    assert work.state == "submitted" and work.auto_score == Decimal(50)
    page = client.get(session.get_absolute_url()).content.decode()
    assert "Waiting for the first question" in page and "Join the class" not in page
    dashboard = client.get(reverse("cases:home")).content.decode()
    assert "Live now" in dashboard and session.get_absolute_url() in dashboard
    other = client_for("other_student").get(reverse("cases:home")).content.decode()
    assert "Live now" not in other


def test_a_wrong_code_and_another_course_s_code_read_the_same(world, session, client_for):
    for role, code in [("student", "ZZZZZZ"), ("other_student", session.join_code)]:
        response = client_for(role).post(reverse("cases:live_join"), {"code": code})
        html = response.content.decode()
        assert response.status_code == 200
        assert "No running session has that code for you" in html and f'value="{code}"' in html
    assert not LiveAttendance.objects.exists()


def test_the_projector_address_fills_in_the_code(world, session, client_for):
    client = client_for("student")
    url = reverse("cases:live_join_code", args=[session.join_code])
    assert f'value="{session.join_code}"' in client.get(url).content.decode()
    services.join(session, world.users["student"])
    assert client.get(url)["Location"] == session.get_absolute_url()


def test_the_projector_shows_a_qr_code_of_the_join_address(world, session, client_for):
    """The QR code is drawn on the server from the address the server builds, and is
    named for screen readers; an ended session shows none, and a hostile Host header
    is refused before any markup is written."""
    import segno

    url = reverse("cases:live_projector", args=[session.pk])
    client = client_for("instructor")
    html = client.get(url).content.decode()
    join_url = "http://testserver" + reverse("cases:live_join_code", args=[session.join_code])
    svg = services.join_qr_svg(join_url)
    assert svg.startswith("<svg") and svg.count("<svg") == 1 and "<script" not in svg
    assert svg in html
    assert f'role="img" aria-label="QR code for {join_url}"' in html
    assert f"<title>QR code for {join_url}</title>" in svg
    # Byte for byte what segno draws for that address: the code encodes the address.
    out = __import__("io").BytesIO()
    segno.make(join_url, error="m").save(
        out, kind="svg", xmldecl=False, title=f"QR code for {join_url}", svgclass="qr",
        lineclass=None, omitsize=True, border=2, dark="#000", light="#fff",
    )  # fmt: skip
    assert svg == out.getvalue().decode()
    assert segno.make(join_url, error="m").designator  # The address fits a QR code.

    assert client.get(url, headers={"host": "evil.example<svg onload=x>"}).status_code == 400
    services.session_end(session)
    html = client.get(url).content.decode()
    assert "<svg" not in html.split('id="projector-board"')[1] and "has ended" in html


def test_an_ended_session_takes_no_one(world, session, client_for):
    services.session_end(session)
    client = client_for("student")
    response = client.post(reverse("cases:live_join"), {"code": session.join_code})
    assert "No running session has that code" in response.content.decode()
    client.post(reverse("cases:live_session_join", args=[session.pk]))
    assert not LiveAttendance.objects.exists()


# Polls -------------------------------------------------------------------------------


def test_a_poll_from_console_to_phone_to_projector(world, session, client_for):
    instructor = client_for("instructor")
    response = instructor.post(
        reverse("cases:live_poll_create", args=[session.pk]),
        {"kind": "single", "prompt": "R or D?", "options": "R\nD", "launch": "on"},
    )
    assert response.status_code == 302
    poll = LivePoll.objects.get(session=session)
    assert poll.state == PollState.OPEN and poll.options == ["R", "D"]

    student = client_for("student")
    page = student.get(session.get_absolute_url()).content.decode()
    assert "R or D?" in page and 'name="answer"' in page
    assert _answer(student, session, poll, "0").status_code == 302
    assert _answer(student, session, poll, "1").status_code == 302  # Changed: one row.
    answer = LiveAnswer.objects.get(poll=poll)
    assert answer.choices == [1] and answer.user == world.users["student"]
    assert LiveAttendance.objects.filter(session=session).count() == 1  # Answering joins.

    projector = reverse("cases:live_projector", args=[session.pk])
    instructor = client_for("instructor")
    html = instructor.get(projector).content.decode()
    assert "1 answer" in html and "Results are hidden" in html and "D · 100%" not in html
    instructor.post(reverse("cases:live_poll_control", args=[poll.pk]), {"action": "reveal"})
    html = instructor.get(projector).content.decode()
    assert "1 · 100%" in html and "Results are hidden" not in html
    page = client_for("student").get(session.get_absolute_url()).content.decode()
    assert "How the class answered" in page

    client_for("instructor").post(
        reverse("cases:live_poll_control", args=[poll.pk]), {"action": "close"}
    )
    student = client_for("student")
    response = _answer(student, session, poll, "0")
    assert LiveAnswer.objects.get(poll=poll).choices == [1]
    assert "closed before your answer arrived" in student.get(response["Location"]).content.decode()
    response = student.post(
        reverse("cases:live_answer", args=[session.pk]),
        {"poll": poll.pk, "answer": "0"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 409 and response["HX-Retarget"] == "#htmx-error"


def test_a_bad_answer_is_refused_next_to_the_field_keeping_the_text(world, session, client_for):
    poll = _poll(session, kind="word", prompt="One word for Tencent's QQ")
    client = client_for("student")
    response = client.post(
        reverse("cases:live_answer", args=[session.pk]),
        {"poll": poll.pk, "answer": "x" * 41},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert response.status_code == 400 and response["HX-Reswap"] == "outerHTML"
    assert "at most 40 characters" in html and 'value="' + "x" * 41 + '"' in html
    assert not LiveAnswer.objects.exists()
    response = _answer(client_for("student"), session, poll, None)
    assert "Type a word or two." in response.content.decode()


def test_a_spectrum_poll_starts_unplaced_and_an_unmoved_slider_is_no_answer(
    world, session, client_for
):
    poll = _poll(session, kind="spectrum", options=[])
    client = client_for("student")
    page = client.get(reverse("cases:live_session", args=[session.pk])).content.decode()
    assert 'name="unplaced"' in page and 'data-unplaced="id_unplaced"' in page
    assert '<output id="spectrum-value-live"' in page and ">—</output>" in page
    url = reverse("cases:live_answer", args=[session.pk])
    refused = client.post(url, {"poll": poll.pk, "answer": "50", "unplaced": "on"})
    assert "Move the slider to where you place it" in refused.content.decode()
    assert not LiveAnswer.objects.exists()
    client.post(url, {"poll": poll.pk, "answer": "72"})  # Moved: the script unticked it.
    assert LiveAnswer.objects.get().value == 72
    page = client.get(reverse("cases:live_session", args=[session.pk])).content.decode()
    assert 'name="unplaced"' not in page  # Placed once: changing it needs no box.
    client.post(url, {"poll": poll.pk, "answer": "40"})
    assert LiveAnswer.objects.get().value == 40


def test_each_kind_counts_its_answers(world, session):
    students = [world.users["student"], world.users["student_ta_elsewhere"]]
    cases = [
        ("multiple", [{"choices": [0, 1]}, {"choices": [1]}], ["1 · 50%", "2 · 100%"]),
        ("likert", [{"value": 4}, {"value": 4}], ["4 · Agree", "2 · 100%"]),
        ("spectrum", [{"value": 80}, {"value": 91}], ["85.5"]),
        ("word", [{"text": "copycat"}, {"text": "copycat"}], ["copycat"]),
    ]
    for kind, answers, shown in cases:
        poll = _poll(session, kind=kind, options=["A", "B"])
        for student, answer in zip(students, answers, strict=True):
            services.answer_save(session=session, poll=poll, user=student, answer=answer)
        results = services.poll_results(poll)
        assert results.total == 2, kind
        html = render_to_string("cases/live/results.html", {"results": results, "chart_id": "c"})
        assert all(text in html for text in shown), (kind, html)
        if kind == "multiple":
            assert [(r.count, r.percent) for r in results.rows] == [(1, 50), (2, 100)]
        elif kind == "likert":
            assert results.rows[3].count == 2 and results.rows[3].percent == 100
        elif kind == "spectrum":
            assert results.mean == 85.5 and results.chart.counts[0][8:] == [1, 1]
        else:
            assert results.words == [("copycat", 2, 5)]


def test_launching_a_poll_closes_the_open_one_and_a_bank_question_becomes_a_poll(
    world, session, client_for
):
    first = _poll(session)
    question = Question.objects.create(
        course=world.course, kind="true_false", title="TechFaith sells its own phones.", text="?"
    )
    client_for("instructor").post(
        reverse("cases:live_poll_create", args=[session.pk]),
        {"question": question.pk, "launch": "on"},
    )
    second = LivePoll.objects.exclude(pk=first.pk).get()
    first.refresh_from_db()
    session.refresh_from_db()
    assert first.state == PollState.CLOSED and second.state == PollState.OPEN
    assert session.current_poll == second
    assert (second.kind, second.options, second.prompt) == (
        "single",
        ["True", "False"],
        "TechFaith sells its own phones.",
    )


def test_a_poll_without_a_question_is_refused_keeping_the_options(world, session, client_for):
    response = client_for("instructor").post(
        reverse("cases:live_poll_create", args=[session.pk]),
        {"kind": "single", "prompt": "", "options": "Only one"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Write the question the class answers." in html
    assert "Give at least two options" in html and "Only one</textarea>" in html
    assert not LivePoll.objects.exists()


# Polling costs -------------------------------------------------------------------------


def data_queries(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "django_session" not in q["sql"]]


def test_an_unchanged_projector_is_a_304_after_one_query(world, session, client_for):
    poll = _poll(session)
    client = client_for("instructor")
    url = reverse("cases:live_projector", args=[session.pk])
    first = client.get(url, headers={"HX-Request": "true"})
    etag = first["ETag"]
    # The board asks again with that ETag itself: a real 304, which htmx does not swap.
    assert f'data-etag="{escape(etag)}"' in first.content.decode()
    with CaptureQueriesContext(connection) as queries:
        again = client.get(url, headers={"HX-Request": "true", "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert len(data_queries(queries)) == 2  # The user, then the session with its counts.
    services.answer_save(
        session=session, poll=poll, user=world.users["student"], answer={"choices": [0]}
    )
    changed = client.get(url, headers={"HX-Request": "true", "If-None-Match": etag})
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert "1 answer" in changed.content.decode()


def test_a_phone_hears_nothing_until_the_session_changes(world, session, client_for):
    client = client_for("student")
    services.join(session, world.users["student"])
    session.refresh_from_db()
    version = session.version
    url = reverse("cases:live_state", args=[session.pk])
    known = {"known": version}
    assert client.get(url, known, headers={"HX-Request": "true"}).status_code == 204
    _poll(session, prompt="Is QQ a copy?")
    response = client.get(url, known, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200 and "Is QQ a copy?" in html
    assert "<html" not in html and f"known={version + 1}" in html


def test_an_unchanged_phone_poll_is_one_query_and_a_change_shows_the_students_answer(
    world, session, client_for
):
    client = client_for("student")
    student = world.users["student"]
    services.join(session, student)
    poll = _poll(session, kind="multiple", options=["Licence", "Joint venture", "Stay out"])
    services.answer_save(session=session, poll=poll, user=student, answer={"choices": [0, 2]})
    session.refresh_from_db()
    url = reverse("cases:live_state", args=[session.pk])
    with CaptureQueriesContext(connection) as queries:
        unchanged = client.get(url, {"known": session.version}, headers={"HX-Request": "true"})
    assert unchanged.status_code == 204
    assert len(data_queries(queries)) == 2  # The user, then the version if joined.
    changed = client.get(url, {"known": session.version - 1}, headers={"HX-Request": "true"})
    html = changed.content.decode()
    assert changed.status_code == 200
    assert "Your answer: <strong>Licence; Stay out</strong>" in html
    assert html.count("checked") == 2 and "Change my answer" in html
    # Someone who has not joined gets no shortcut: the full check, then their state.
    other = client_for("other_student")
    assert other.get(url, {"known": session.version}).status_code == 404


# Cold calls and marks ------------------------------------------------------------------


@pytest.fixture
def present(world, session):
    """Four present students in the session's cohort."""
    cohort = world.course.cohorts.get()
    students = [world.users["student"], world.users["student_ta_elsewhere"]]
    for n in range(2):
        student = User.objects.create(username=f"present{n}")
        cohort.memberships.create(user=student)
        students.append(student)
    for student in students:
        services.join(session, student)
    return students


def _shown_call(client, session) -> tuple[str, str | None]:
    """The name the console's cold-call panel shows, and the call its buttons act on."""
    html = client.get(session.get_absolute_url()).content.decode()
    name = re.search(r'class="cold-call__name">([^<]*)<', html)
    call = re.search(r'name="call" value="(\d+)"', html)
    return (name.group(1) if name else ""), (call.group(1) if call else None)


def test_each_pick_shows_on_the_console_and_skips_and_marks_act_on_it(
    world, session, present, client_for
):
    client = client_for("instructor")
    url = reverse("cases:live_cold_call", args=[session.pk])
    names = {s.pk: s.display_name for s in present}
    for turn in range(6):
        client.post(url, {"action": "pick"})
        newest = ColdCall.objects.order_by("-pk").first()
        name, call = _shown_call(client, session)
        assert (name, call) == (names[newest.student_id], str(newest.pk)), turn
        if turn == 1:
            # "Not there: skip" goes to the student on screen, and the console says so.
            client.post(url, {"action": "absent", "call": call})
            assert ColdCall.objects.get(pk=call).outcome == CallOutcome.ABSENT
            assert "Not there" in client.get(session.get_absolute_url()).content.decode()
        if turn == 3:
            # +1 from the cold-call panel marks the student on screen.
            client.post(
                reverse("cases:live_mark", args=[session.pk]),
                {"student": newest.student_id, "points": "1", "call": call},
            )
            mark = ParticipationMark.objects.get()
            assert (mark.student_id, mark.cold_call_id) == (newest.student_id, newest.pk)
            assert ColdCall.objects.get(pk=call).outcome == CallOutcome.CONTRIBUTED
    calls = list(ColdCall.objects.order_by("pk").values_list("student", flat=True))
    assert all(a != b for a, b in itertools.pairwise(calls))
    assert calls[1] not in calls[2:]  # Not there: not called again this session.


def _form_fields(html: str, action: str, marker: str) -> dict:
    """The fields of the console's form posting to `action` that holds `marker`."""
    for form in re.findall(r"<form [^>]*>.*?</form>", html, re.S):
        if f'action="{action}"' in form and marker in form:
            return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form))
    raise AssertionError(f"No form for {action} with {marker}")


def test_each_console_form_sent_twice_acts_once_without_javascript(
    world, session, present, client_for
):
    """Call on someone, +1 on the pick and +1 in the roster, each form sent twice as it
    was drawn (a double click without JavaScript): one pick, one mark each. Drawn
    again, the same buttons act again."""
    client = client_for("instructor")
    call_url = reverse("cases:live_cold_call", args=[session.pk])
    mark_url = reverse("cases:live_mark", args=[session.pk])
    console = client.get(session.get_absolute_url()).content.decode()
    pick = _form_fields(console, call_url, 'value="pick"')
    for _twice in range(2):
        client.post(call_url, pick)
    call = ColdCall.objects.get()
    console = client.get(session.get_absolute_url()).content.decode()
    on_call = _form_fields(console, mark_url, f'name="call" value="{call.pk}"')
    roster_student = next(s for s in present if s.pk != call.student_id)
    in_roster = _form_fields(console, mark_url, f'name="student" value="{roster_student.pk}"')
    assert in_roster["seen"] == "0"
    for _twice in range(2):
        client.post(mark_url, on_call | {"points": "1"})
        client.post(mark_url, in_roster | {"points": "1"})
    marks = ParticipationMark.objects.values_list("student", "cold_call")
    assert sorted(marks) == sorted([(call.student_id, call.pk), (roster_student.pk, None)])
    # Drawn again, they act again: a second pick, a second mark in the roster.
    console = client.get(session.get_absolute_url()).content.decode()
    client.post(call_url, _form_fields(console, call_url, 'value="pick"'))
    assert ColdCall.objects.count() == 2
    again = _form_fields(console, mark_url, f'name="student" value="{roster_student.pk}"')
    assert again["seen"] == "1"
    client.post(mark_url, again | {"points": "2"})
    assert ParticipationMark.objects.filter(student=roster_student).count() == 2
    # Add the poll, twice as drawn: one poll, open; drawn again, a second one.
    poll_url = reverse("cases:live_poll_create", args=[session.pk])
    poll = {"kind": "single", "prompt": "R or D?", "options": "R\nD", "launch": "on"}
    drawn = _form_fields(console, poll_url, 'name="after"')
    for _twice in range(2):
        client.post(poll_url, drawn | poll)
    [made] = session.polls.all()
    assert made.state == "open"
    console = client.get(session.get_absolute_url()).content.decode()
    client.post(poll_url, _form_fields(console, poll_url, 'name="after"') | poll)
    assert session.polls.count() == 2


def test_the_picker_favours_students_not_yet_called_this_session(world, session, present):
    students = User.objects.filter(pk__in=[s.pk for s in present[1:]])  # None has posted.
    rng = random.Random(5)
    repeats = 0
    for _ in range(100):
        ColdCall.objects.filter(session=session).delete()
        picks = [
            services.cold_call_pick(
                session=session, by=world.users["instructor"], students=students, rng=rng
            ).student_id
            for _ in range(3)
        ]
        repeats += len(set(picks)) < 3
    # Uniform picks (never twice running) repeat the first at the third turn half the
    # time; weighted by turns already had, a fifth of the time.
    assert repeats < 35


def test_the_picker_calls_present_students_never_twice_running(world, session, present):
    absent = User.objects.create(username="stayed-home")
    world.course.cohorts.get().memberships.create(user=absent)
    everyone = User.objects.filter(memberships__cohort__courses=world.course)
    rng = random.Random(3)
    called = []
    for _ in range(60):
        call = services.cold_call_pick(
            session=session, by=world.users["instructor"], students=everyone, rng=rng
        )
        called.append(call.student_id)
    assert absent.pk not in called
    assert all(a != b for a, b in itertools.pairwise(called))
    assert set(called) == {s.pk for s in present}


def test_the_picker_favours_those_who_have_spoken_least(world, session, present):
    *talkative, quiet = present  # The world's student has posted already.
    for student in talkative:
        for n in range(3):
            post_create(discussion=world.discussion, author=student, body=f"Point {n} (¶1).")
    services.mark_add(
        session=session, student=talkative[0], points=1, note="", by=world.users["instructor"]
    )
    students = User.objects.filter(pk__in=[s.pk for s in present])
    assert services.spoken_counts(world.course, students)[quiet.pk] == 0
    rng = random.Random(11)
    quiet_first = 0
    for _ in range(300):
        ColdCall.objects.filter(session=session).delete()  # Each a first pick of a class.
        call = services.cold_call_pick(
            session=session, by=world.users["instructor"], students=students, rng=rng
        )
        quiet_first += call.student_id == quiet.pk
    # The quiet one weighs 1 against 1/16 or less for each of the others.
    assert quiet_first / 300 > 0.8


def test_a_student_not_there_is_skipped_for_the_rest_of_the_session(
    world, session, present, client_for
):
    client = client_for("instructor")
    url = reverse("cases:live_cold_call", args=[session.pk])
    client.post(url, {"action": "pick"})
    call = ColdCall.objects.get()
    client.post(url, {"action": "absent", "call": call.pk})
    assert ColdCall.objects.get().outcome == CallOutcome.ABSENT
    students = User.objects.filter(pk__in=[s.pk for s in present])
    for _ in range(20):
        picked = services.cold_call_pick(
            session=session, by=world.users["instructor"], students=students
        )
        assert picked.student_id != call.student_id


def test_marks_feed_the_gradebook_and_can_be_taken_back(world, session, present, client_for):
    student = world.users["student"]
    client = client_for("instructor")
    others = User.objects.filter(pk__in=[s.pk for s in present if s != student])
    call = services.cold_call_pick(session=session, by=world.users["instructor"], students=others)
    mark_url = reverse("cases:live_mark", args=[session.pk])
    client.post(mark_url, {"student": student.pk, "points": "1", "note": "Cited ¶4 well"})
    work = Work.objects.get(item=session.item, user=student)
    assert work.auto_score == Decimal(75)
    assignment = session.item.assignments.get()
    assignment.points = 20
    assert work_points(work, assignment) == Decimal("15.00")
    client.post(mark_url, {"student": call.student_id, "points": "2", "call": call.pk})
    assert ColdCall.objects.get().outcome == CallOutcome.CONTRIBUTED
    console = client.get(session.get_absolute_url()).content.decode()
    assert "Cited ¶4 well" in console and "+2" in console

    mark = ParticipationMark.objects.get(student=student)
    client.post(reverse("cases:live_mark_delete", args=[mark.pk]))
    assert Work.objects.get(item=session.item, user=student).auto_score == Decimal(50)
    response = client.post(mark_url, {"student": student.pk, "points": "3"})
    assert response.status_code == 302 and ParticipationMark.objects.count() == 1


def test_a_mark_for_a_student_of_another_course_is_refused(world, session, client_for):
    response = client_for("instructor").post(
        reverse("cases:live_mark", args=[session.pk]),
        {"student": world.users["other_student"].pk, "points": "1"},
    )
    assert response.status_code == 404 and not ParticipationMark.objects.exists()


def test_an_ad_hoc_session_is_started_from_the_course_and_not_graded(world, client_for):
    client = client_for("ta")
    response = client.post(
        reverse("cases:live_sessions", args=[world.course.pk]), {"title": "Office hours"}
    )
    live = world.course.live_sessions.get()
    assert response["Location"] == live.get_absolute_url() and live.item is None
    services.join(live, world.users["student"])
    assert not Work.objects.filter(item__kind="live_session").exists()
    listing = client.get(reverse("cases:live_sessions", args=[world.course.pk])).content.decode()
    assert "Office hours" in listing and live.join_code in listing


def test_start_pressed_twice_opens_the_running_session_not_a_second(world, client_for):
    """Start clicked twice (or Back and Start): one session, one code, one Join link on
    a student's dashboard; the second press says it is already running. Ended, the same
    title starts a new one; another title beside it is another session."""
    url = reverse("cases:live_sessions", args=[world.course.pk])
    client = client_for("instructor")
    first = client.post(url, {"title": "Monday"}, follow=True)
    again = client.post(url, {"title": "Monday"}, follow=True)
    live = world.course.live_sessions.get()
    assert first.redirect_chain[-1][0] == again.redirect_chain[-1][0] == live.get_absolute_url()
    said = again.content.decode()
    assert f"“Monday” is already running. Join code: {live.join_code}." in said
    dashboard = client_for("student").get(reverse("cases:home")).content.decode()
    assert dashboard.count(live.join_code) <= 1 and dashboard.count("Join") == 1
    client = client_for("instructor")
    client.post(url, {"title": "Office hours"})
    assert world.course.live_sessions.count() == 2
    services.session_end(live)
    client.post(url, {"title": "Monday"})
    assert world.course.live_sessions.filter(title="Monday").count() == 2


def test_sessions_are_listed_newest_first_on_the_course_and_the_item(world, client_for):
    """Two sessions of a live item started one after the other, students joining the
    first in between: the course's sessions and the item's page list the newer first."""
    item = make_live(world.item.module, world.course.cohorts.all(), title="Class 5")
    sessions_url = reverse("cases:live_sessions", args=[world.course.pk])
    client = client_for("instructor")

    def listed(html: str) -> list[str]:
        return re.findall(r'<a href="/live/sessions/\d+/">([^<]+)</a>', html)

    client.post(sessions_url, {"title": "Monday", "item": item.pk})
    services.join(world.course.live_sessions.get(title="Monday"), world.users["student"])
    client.post(sessions_url, {"title": "Wednesday", "item": item.pk})
    for url in (sessions_url, item.get_absolute_url()):
        assert listed(client.get(url).content.decode()) == ["Wednesday", "Monday"]
    # A TA's look, after a second student joined the older one.
    services.join(
        world.course.live_sessions.get(title="Monday"), world.users["student_ta_elsewhere"]
    )
    ta = client_for("ta")
    for url in (sessions_url, item.get_absolute_url()):
        assert listed(ta.get(url).content.decode()) == ["Wednesday", "Monday"]


def test_a_live_session_item_is_built_started_and_graded_under_participation(world, client_for):
    grade_categories_add_defaults(course=world.course)
    cohort = world.course.cohorts.get()
    client = client_for("instructor")
    client.post(
        reverse("cases:item_create", args=[world.course.pk]),
        {"module": world.item.module.pk, "kind": "live_session", "title": "Class 4"}
        | {"cohorts": [cohort.pk]},
    )
    item = ModuleItem.objects.get(kind="live_session")
    assert item.grade_category.name == "Participation"
    client.post(
        reverse("cases:live_class_settings", args=[item.pk]),
        {"attendance_percent": "40", "marks_for_full_credit": "4"},
    )
    page = client.get(item.get_absolute_url()).content.decode()
    assert "earns 40% of the points" in page and "in full at 4 points" in page

    client.post(
        reverse("cases:live_sessions", args=[world.course.pk]),
        {"title": "Class 4, section A", "item": item.pk, "cohort": cohort.pk},
    )
    session = item.live_sessions.get()
    student = world.users["student"]
    services.join(session, student)
    client.post(
        reverse("cases:live_mark", args=[session.pk]), {"student": student.pk, "points": "2"}
    )
    work = Work.objects.get(item=item, user=student)
    assert work.auto_score == Decimal(70)  # 40 for joining, half of the other 60.
    gradebook = client.get(reverse("cases:gradebook", args=[world.course.pk])).content.decode()
    assert "Participation" in gradebook and "Class 4" in gradebook
    panel = reverse("cases:work_panel", args=[world.course.pk, student.pk, item.pk])
    assert "+2 in “Class 4, section A”" in client.get(panel).content.decode()
    page = client_for("student").get(item.get_absolute_url()).content.decode()
    assert "Join “Class 4, section A”" in page


@pytest.mark.parametrize("model", ["livesession", "liveclass", "liveanswer", "participationmark"])
def test_the_admin_lists_live_records(world, session, client_for, model):
    services.mark_add(
        session=session, student=world.users["student"], points=1, note="", by=world.users["ta"]
    )
    response = client_for("admin").get(reverse(f"admin:cases_{model}_changelist"))
    assert response.status_code == 200


def test_a_student_taken_out_of_the_cohort_mid_class_is_refused_at_the_next_answer(
    world, session, client_for
):
    poll = _poll(session)
    for role in ("student", "student_ta_elsewhere"):
        client = client_for(role)
        client.post(reverse("cases:live_session_join", args=[session.pk]))
        assert _answer(client, session, poll, "0").status_code == 302
    cohort = world.course.cohorts.get()
    response = client_for("admin").post(
        reverse("cases:cohort_members", args=[cohort.pk]),
        {"action": "remove", "students": [world.users["student"].pk]},
    )
    assert response.status_code == 302
    # The removed student's change of answer is refused; the classmate's goes through.
    assert _answer(client_for("student"), session, poll, "1").status_code == 404
    assert _answer(client_for("student_ta_elsewhere"), session, poll, "1").status_code == 302
    answers = dict(LiveAnswer.objects.filter(poll=poll).values_list("user__username", "choices"))
    assert answers == {"student": [0], "student_ta_elsewhere": [1]}
