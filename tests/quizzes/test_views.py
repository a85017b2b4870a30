import io
import re
from datetime import datetime, timedelta
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.models import Answer, Attempt, FeedbackRelease, Question
from cases.services.quizzes import attempt_submit

pytestmark = pytest.mark.django_db

KEY_MARKERS = ["KEY-FEEDBACK", "KEY-RIGHT", "KEY-WRONG", "right answer", "1600", "fraction"]


def _html(response) -> str:
    return response.content.decode()


def _slot(world, title):
    return world.attempt.slots.get(question__title=title)


def _note(html: str, slot) -> str:
    """What the question's note says ("Saved …", or why not)."""
    return unescape(re.search(rf'id="saved-{slot.pk}"[^>]*>([^<]*)<', html).group(1))


def test_the_attempt_page_carries_no_answer_key(world, client_for):
    response = client_for("student").get(world.attempt.get_absolute_url())
    html = _html(response)
    assert response.status_code == 200
    assert "Who was the partner?" in html
    for marker in KEY_MARKERS:
        assert marker not in html
    assert "<!--" not in html.split("<main", 1)[1]
    assert "json_script" not in html and 'type="application/json"' not in html
    data_attributes = set(re.findall(r"data-([a-z-]+)=", html))
    assert data_attributes <= {"autosave", "deadline", "submit-url"}


def test_quiz_pages_are_never_cached_nor_kept_in_htmx_history(world, client_for):
    response = client_for("student").get(world.attempt.get_absolute_url())
    assert "no-store" in response["Cache-Control"]
    assert 'hx-history="false"' in _html(response)


def test_autosave_over_htmx_returns_the_saved_note(world, client_for):
    slot = _slot(world, "Researchers")
    response = client_for("student").post(
        reverse("cases:attempt_save", args=[world.attempt.pk]),
        {"questions": str(slot.pk), f"q{slot.pk}": "1600", "seq": "123"},
        headers={"HX-Request": "true"},
    )
    html = _html(response)
    assert response.status_code == 200
    assert f'id="saved-{slot.pk}"' in html
    assert "Saved" in html
    assert "<html" not in html
    assert Answer.objects.get(slot=slot).response == {"value": 1600.0}


def test_saving_without_javascript_keeps_every_answer_and_redirects(world, client_for):
    single, numeric = _slot(world, "Partner"), _slot(world, "Researchers")
    response = client_for("student").post(
        reverse("cases:attempt_save", args=[world.attempt.pk]),
        {
            "questions": [str(single.pk), str(numeric.pk)],
            f"q{single.pk}": "0",
            f"q{numeric.pk}": "12",
        },
    )
    assert response.status_code == 302
    assert Answer.objects.get(slot=single).response == {"choices": [single.choice_order[0]]}
    page = _html(client_for("student").get(world.attempt.get_absolute_url()))
    assert 'value="12.0"' in page or 'value="12"' in page


def test_posted_score_and_correctness_are_ignored(world, client_for):
    slot = _slot(world, "Partner")
    client = client_for("student")
    client.post(
        reverse("cases:attempt_save", args=[world.attempt.pk]),
        {
            "questions": str(slot.pk),
            f"q{slot.pk}": "1",
            "score": "100",
            "is_correct": "1",
            "points": "99",
            "fraction": "1",
        },
    )
    client.post(reverse("cases:attempt_submit", args=[world.attempt.pk]))
    attempt = Attempt.objects.get(pk=world.attempt.pk)
    assert Answer.objects.get(slot=slot).points == 0
    assert attempt.score == 0


def test_an_answer_naming_another_questions_choice_is_refused_beside_its_question(
    world, client_for
):
    partner, levers = _slot(world, "Partner"), _slot(world, "Levers")
    response = client_for("student").post(
        reverse("cases:attempt_save", args=[world.attempt.pk]),
        {"questions": str(partner.pk), f"q{partner.pk}": str(levers.choice_order[0] + 10)},
        headers={"HX-Request": "true"},
    )
    assert "HX-Retarget" not in response
    assert _note(_html(response), partner) == "Not saved: That choice is not part of this question."
    assert Answer.objects.get(slot=partner).response == {}


def test_a_save_to_a_submitted_attempt_sends_the_student_to_the_result(world, client_for):
    attempt_submit(attempt_id=world.attempt.pk, user=world.users["student"])
    slot = _slot(world, "Researchers")
    response = client_for("student").post(
        reverse("cases:attempt_save", args=[world.attempt.pk]),
        {"questions": str(slot.pk), f"q{slot.pk}": "1"},
        headers={"HX-Request": "true"},
    )
    assert response["HX-Redirect"] == reverse("cases:attempt_result", args=[world.attempt.pk])


def test_submit_asks_for_confirmation_then_shows_released_feedback(world, client_for):
    client = client_for("student")
    confirm = client.get(reverse("cases:attempt_submit", args=[world.attempt.pk]))
    assert "Submit your attempt?" in _html(confirm)
    done = client.post(reverse("cases:attempt_submit", args=[world.attempt.pk]))
    result = client.get(done["Location"])
    html = _html(result)
    assert "KEY-FEEDBACK" in html
    assert "right answer" in html
    assert "no-store" in result["Cache-Control"]


def test_only_the_owner_submits_their_attempt_and_twice_is_one_submission(world, client_for):
    """Anyone else's submit is 404 and leaves the attempt open, staff's included (they
    grade through the grading pages); the owner's second submit changes nothing."""
    submit = reverse("cases:attempt_submit", args=[world.attempt.pk])
    result = reverse("cases:attempt_result", args=[world.attempt.pk])
    for role in ("other_student", "instructor", "ta", "admin"):
        assert client_for(role).post(submit).status_code == 404, role
    world.attempt.refresh_from_db()
    assert world.attempt.is_open
    client = client_for("student")
    assert client.post(submit)["Location"] == result
    world.attempt.refresh_from_db()
    submitted_at = world.attempt.submitted_at
    assert not world.attempt.is_open and submitted_at is not None
    assert client.post(submit)["Location"] == result
    world.attempt.refresh_from_db()
    assert world.attempt.submitted_at == submitted_at
    assert client_for("instructor").post(submit).status_code == 404


def test_feedback_after_the_due_date_stays_hidden_until_then(world, client_for):
    world.quiz.feedback_release = FeedbackRelease.AFTER_DUE
    world.quiz.save()
    client = client_for("student")
    client.post(reverse("cases:attempt_submit", args=[world.attempt.pk]))
    result_url = reverse("cases:attempt_result", args=[world.attempt.pk])
    html = _html(client.get(result_url))
    for marker in KEY_MARKERS:
        assert marker not in html
    assert "released after the due date" in html
    world.quiz.item.assignments.update(due_at=timezone.now() - timedelta(minutes=1))
    assert "KEY-FEEDBACK" in _html(client.get(result_url))


def test_feedback_never_released_is_never_shown(world, client_for):
    world.quiz.feedback_release = FeedbackRelease.NEVER
    world.quiz.save()
    world.quiz.item.assignments.update(due_at=timezone.now() - timedelta(days=1))
    client = client_for("student")
    client.post(reverse("cases:attempt_submit", args=[world.attempt.pk]))
    html = _html(client.get(reverse("cases:attempt_result", args=[world.attempt.pk])))
    for marker in KEY_MARKERS:
        assert marker not in html


def test_the_quiz_page_lets_a_student_start_and_staff_see_their_tools(world, client_for):
    html = _html(client_for("student").get(world.quiz.item.get_absolute_url()))
    assert "Resume attempt 1" in html
    html = _html(client_for("student_ta_elsewhere").get(world.quiz.item.get_absolute_url()))
    assert "Start the quiz" in html
    html = _html(client_for("ta").get(world.quiz.item.get_absolute_url()))
    assert "Statistics" in html and "Grading queue" in html


def test_one_question_a_page_moves_on_without_javascript(world, client_for):
    world.quiz.one_question_per_page = True
    world.quiz.save()
    client = client_for("student")
    first = _html(client.get(world.attempt.get_absolute_url()))
    assert "Question 1 of 5" in first
    slot = world.attempt.slots.get(position=1)
    response = client.post(
        reverse("cases:attempt_save", args=[world.attempt.pk]),
        {"questions": str(slot.pk), f"q{slot.pk}": "0", "goto": "2"},
    )
    assert response["Location"].endswith("?page=2")
    assert "Question 2 of 5" in _html(client.get(response["Location"]))


class TestStaff:
    def _submit_all(self, world):
        attempt_submit(attempt_id=world.attempt.pk, user=world.users["student"])

    def test_statistics_show_percent_right_per_question(self, world, client_for):
        slot = _slot(world, "Partner")
        client_for("student").post(
            reverse("cases:attempt_save", args=[world.attempt.pk]),
            {"questions": str(slot.pk), f"q{slot.pk}": "1"},
        )
        self._submit_all(world)
        html = _html(
            client_for("instructor").get(reverse("cases:quiz_stats", args=[world.quiz.item.pk]))
        )
        assert "1 student with a submitted attempt" in html
        assert "Motorola (1)" in html  # The most common wrong choice.

    def test_grading_queue_grades_over_htmx(self, world, client_for):
        essay = _slot(world, "Argue")
        client_for("student").post(
            reverse("cases:attempt_save", args=[world.attempt.pk]),
            {"questions": str(essay.pk), f"q{essay.pk}": "A <b>bold</b> claim."},
        )
        self._submit_all(world)
        client = client_for("ta")
        queue = _html(client.get(reverse("cases:grading_queue", args=[world.course.pk])))
        assert "A &lt;b&gt;bold&lt;/b&gt; claim." in queue
        response = client.post(
            reverse("cases:answer_grade", args=[essay.answer.pk]),
            {"points": "1.5", "comment": "Cite a paragraph."},
            headers={"HX-Request": "true"},
        )
        html = _html(response)
        assert "Graded: 1.50 / 2.00" in html
        assert "<html" not in html
        assert Attempt.objects.get(pk=world.attempt.pk).score == 1.5

    def test_grading_rejects_more_points_than_the_question_has(self, world, client_for):
        essay = _slot(world, "Argue")
        client_for("student").post(
            reverse("cases:attempt_save", args=[world.attempt.pk]),
            {"questions": str(essay.pk), f"q{essay.pk}": "An answer."},
        )
        self._submit_all(world)
        response = client_for("ta").post(
            reverse("cases:answer_grade", args=[essay.answer.pk]),
            {"points": "9", "comment": ""},
            headers={"HX-Request": "true"},
        )
        html = _html(response)
        assert "less than or equal to 2" in html
        assert 'value="9"' in html  # What the grader typed is kept.

    def test_editing_a_key_regrades(self, world, client_for):
        slot = _slot(world, "Partner")
        client_for("student").post(
            reverse("cases:attempt_save", args=[world.attempt.pk]),
            {"questions": str(slot.pk), f"q{slot.pk}": "1"},
        )
        self._submit_all(world)
        question = slot.question
        response = client_for("instructor").post(
            reverse("cases:question_edit", args=[question.pk]),
            {
                # Only a single-choice question's fields: its kind is fixed.
                "title": question.title,
                "text": question.text,
                "points": "1",
                "choices_text": "~Alcatel\n=Motorola\n~IBM",
            },
        )
        assert response.status_code == 302
        assert Attempt.objects.get(pk=world.attempt.pk).score == 1

    def test_gift_import_previews_the_broken_question_by_its_line(self, world, client_for):
        text = "::A::Fine question {=yes ~no}\n\n::B::Broken question {=yes ~no\n"
        upload = io.BytesIO(text.encode())
        upload.name = "bank.gift"
        before = Question.objects.count()
        html = _html(
            client_for("instructor").post(
                reverse("cases:question_import", args=[world.course.pk]), {"file": upload}
            )
        )
        assert "1 of 2 questions can be imported; 1 is refused." in html
        assert "Refused:</strong> The answer block is not closed" in html
        assert Question.objects.count() == before

    def test_gift_export_then_import_round_trips(self, world, client_for):
        client = client_for("instructor")
        exported = client.get(reverse("cases:question_export", args=[world.course.pk]))
        assert exported["Content-Disposition"].startswith("attachment;")
        upload = io.BytesIO(exported.content)
        upload.name = "bank.gift"
        before = Question.objects.filter(course=world.course).count()
        preview = client.post(
            reverse("cases:question_import", args=[world.course.pk]), {"file": upload}
        )
        html = _html(preview)
        assert "Refused" not in html
        hidden = dict(re.findall(r'<input type="hidden" name="(text|token)" value="([^"]*)"', html))
        # Read back, every exported question is one the bank holds already: left out.
        assert "can be imported" in html and "in the bank already" in html
        client.post(
            reverse("cases:question_import_confirm", args=[world.course.pk]),
            {"text": unescape(hidden["text"]), "token": hidden["token"], "mode": "all"},
        )
        assert Question.objects.filter(course=world.course).count() == before
        other = client_for("other_instructor")
        upload.seek(0)
        preview = other.post(
            reverse("cases:question_import", args=[world.other_course.pk]), {"file": upload}
        )
        hidden = dict(
            re.findall(r'<input type="hidden" name="(text|token)" value="([^"]*)"', _html(preview))
        )
        other.post(
            reverse("cases:question_import_confirm", args=[world.other_course.pk]),
            {"text": unescape(hidden["text"]), "token": hidden["token"], "mode": "all"},
        )
        copies = Question.objects.filter(title="Levers").order_by("pk")
        assert [q.course for q in copies] == [world.course, world.other_course]
        assert sorted(copies[1].choices.values_list("fraction", flat=True)) == sorted(
            copies[0].choices.values_list("fraction", flat=True)
        )


def test_instructor_sets_fixed_questions_and_a_random_draw(world, client_for):
    from cases.models import QuestionCategory

    category = QuestionCategory.objects.create(course=world.course, name="Pool")
    Question.objects.filter(title__in=["Partner", "Levers", "Owner"]).update(category=category)
    numeric = Question.objects.get(title="Researchers")
    response = client_for("instructor").post(
        reverse("cases:quiz_settings", args=[world.quiz.item.pk]),
        {
            "attempts_allowed": "2",
            "time_limit_minutes": "15",
            "grading_method": "last",
            "feedback_release": "after_due",
            "questions": [str(numeric.pk)],
            "draw_category": str(category.pk),
            "draw_count": "2",
        },
    )
    assert response.status_code == 302
    from cases.services.quizzes import attempt_start

    world.quiz.refresh_from_db()
    attempt = attempt_start(quiz=world.quiz, user=world.users["student_ta_elsewhere"])
    titles = list(attempt.slots.values_list("question__title", flat=True))
    assert titles[0] == "Researchers"
    assert len(titles) == 3
    assert set(titles[1:]) <= {"Partner", "Levers", "Owner"}
    assert attempt.deadline_at is not None
    assert world.attempt.slots.count() == 5  # The open attempt keeps its questions.


def test_a_quiz_in_a_course_with_an_empty_bank_says_where_questions_come_from(world, client_for):
    """The first quiz of a new course: its settings page, where "Add quiz" lands, sends
    the instructor to the bank while it is empty, and still links it after."""
    client = client_for("instructor")
    url = reverse("cases:quiz_settings", args=[world.quiz.item.pk])
    bank = reverse("cases:question_list", args=[world.course.pk])
    assert "question bank is empty" not in client.get(url).content.decode()
    Question.objects.filter(course=world.course).update(course=world.other_course)
    html = client.get(url).content.decode()
    assert "This course's question bank is empty" in html
    assert f'href="{bank}"' in html


def test_a_quiz_needs_at_least_one_question(world, client_for):
    response = client_for("instructor").post(
        reverse("cases:quiz_settings", args=[world.quiz.item.pk]),
        {"attempts_allowed": "1", "grading_method": "highest", "feedback_release": "never"},
    )
    assert "Pick at least one question" in response.content.decode()


def test_choices_are_named_by_place_never_by_id(world, client_for):
    html = _html(client_for("student").get(world.attempt.get_absolute_url()))
    partner = _slot(world, "Partner")
    values = re.findall(rf'name="q{partner.pk}" value="(\d+)"', html)
    assert values == ["0", "1", "2"]


def test_with_attempts_left_the_score_shows_but_not_the_key(world, client_for):
    world.quiz.attempts_allowed = 2
    world.quiz.save()
    client = client_for("student")
    client.post(reverse("cases:attempt_submit", args=[world.attempt.pk]))
    html = _html(client.get(reverse("cases:attempt_result", args=[world.attempt.pk])))
    assert "Score" in html
    assert "KEY-FEEDBACK" not in html and "right answer</span>" not in html
    assert "once you have no attempts left" in html


def test_odd_ids_are_refused_not_crashed(world, client_for):
    client = client_for("student")
    for bad in ["²", "9" * 30, "abc"]:
        response = client.post(
            reverse("cases:attempt_save", args=[world.attempt.pk]), {"questions": bad}
        )
        assert response.status_code == 302
    response = client_for("student").post(
        reverse("cases:post_create", args=[world.discussion.item.pk]),
        {"body": "x", "parent": "1.5"},
    )
    assert response.status_code == 404
    html = client_for("instructor").get(
        reverse("cases:question_list", args=[world.course.pk]), {"category": "²"}
    )
    assert html.status_code == 200


def test_autosaves_stamped_by_the_browser_clock_keep_the_newest(world, client_for):
    slot = _slot(world, "Researchers")
    client = client_for("student")
    url = reverse("cases:attempt_save", args=[world.attempt.pk])
    headers = {"HX-Request": "true"}
    client.post(
        url,
        {"questions": str(slot.pk), f"q{slot.pk}": "1600", "seq": "1764380000000"},
        headers=headers,
    )
    client.post(
        url,
        {"questions": str(slot.pk), f"q{slot.pk}": "5", "seq": "1764379995000"},
        headers=headers,
    )
    assert Answer.objects.get(slot=slot).response == {"value": 1600.0}


def _count(html: str) -> str:
    return re.search(r'id="answered-count"[^>]*>([^<]*)<', html).group(1)


def test_the_answered_count_follows_real_answers_with_and_without_javascript(world, client_for):
    spectrum = Question.objects.create(
        course=world.course, kind="spectrum", title="Place it", text="Where is the firm?"
    )
    world.quiz.slots.create(question=spectrum, position=6)
    client = client_for("student")
    world.attempt.delete()
    client.post(reverse("cases:attempt_start", args=[world.quiz.item.pk]))
    attempt = Attempt.objects.get(quiz=world.quiz, user=world.users["student"])
    slots = {s.question.title: s for s in attempt.slots.select_related("question")}
    save_url = reverse("cases:attempt_save", args=[attempt.pk])
    page = _html(client.get(attempt.get_absolute_url()))
    assert _count(page) == "0 of 6 answered."
    assert f'name="q{slots["Place it"].pk}_unplaced" value="1" checked' in page

    def autosave(title, **fields):
        slot = slots[title]
        data = {"questions": str(slot.pk), "seq": str(autosave.seq)}
        data.update({f"q{slot.pk}{k}": v for k, v in fields.items()})
        autosave.seq += 1
        response = client.post(save_url, data, headers={"HX-Request": "true"})
        return _html(response)

    autosave.seq = 1
    # Ticking then unticking a box of a multiple-choice question leaves it unanswered.
    assert _count(autosave("Levers", **{"": "0"})) == "1 of 6 answered."
    assert 'hx-swap-oob="true"' in autosave("Levers")
    assert _count(autosave("Levers")) == "0 of 6 answered."
    assert _count(autosave("Partner", **{"": "0"})) == "1 of 6 answered."
    # A slider left "not placed yet" is no answer; moved, it is one.
    assert _count(autosave("Place it", **{"": "50", "_unplaced": "1"})) == "1 of 6 answered."
    assert _count(autosave("Place it", **{"": "80"})) == "2 of 6 answered."

    # Without JavaScript the whole page is posted, untouched questions included.
    every = ",".join(str(s.pk) for s in slots.values())
    posted = {"questions": every, f"q{slots['Partner'].pk}": "0"}
    posted |= {f"q{slots['Place it'].pk}": "50", f"q{slots['Place it'].pk}_unplaced": "1"}
    response = client.post(save_url, posted, follow=True)
    assert _count(_html(response)) == "1 of 6 answered."
    confirm = _html(client.get(reverse("cases:attempt_submit", args=[attempt.pk])))
    assert "You have answered <strong>1 of 6</strong> questions." in confirm


def test_a_due_date_moved_while_an_attempt_is_open_binds_every_save_and_submit(world, client_for):
    """Two students are mid-attempt when the instructor moves the due date into the past
    with late work refused: the one without an extension can no longer save; the one
    given an extension afterwards can, until it is taken back."""
    item, cohort = world.quiz.item, world.course.cohorts.get()
    in_two_days = timezone.localtime() + timedelta(days=2)
    item.assignments.update(due_at=in_two_days, late_policy="refuse")
    world.attempt.delete()
    attempts, slot_of = {}, {}
    for role in ("student", "student_ta_elsewhere"):
        client_for(role).post(reverse("cases:attempt_start", args=[item.pk]))
        attempt = Attempt.objects.get(quiz=world.quiz, user=world.users[role])
        attempts[role] = attempt
        slot_of[role] = attempt.slots.get(question__title="Researchers").pk

    def save(role, value, seq):
        client = client_for(role)
        slot = slot_of[role]
        return client.post(
            reverse("cases:attempt_save", args=[attempts[role].pk]),
            {"questions": str(slot), f"q{slot}": value, "seq": str(seq)},
            headers={"HX-Request": "true"},
        )

    assert save("student", "1500", 1).status_code == 200
    # The instructor moves the due date to an hour ago, late work refused.
    an_hour_ago = timezone.localtime() - timedelta(hours=1)
    schedule = {
        f"cohort-{cohort.pk}-{name}": value
        for name, value in {
            "assigned": "on",
            "due_at": an_hour_ago.strftime("%Y-%m-%dT%H:%M"),
            "points": "10",
            "late_policy": "refuse",
            "late_penalty_percent": "0",
        }.items()
    }
    response = client_for("instructor").post(
        reverse("cases:item_schedule", args=[item.pk]), {"action": "save"} | schedule
    )
    assert response.status_code == 302
    # ...then gives the second student an extension of a day.
    client_for("instructor").post(
        reverse("cases:extension_grant", args=[item.pk]),
        {
            "students": [world.users["student_ta_elsewhere"].pk],
            "due_at": (timezone.localtime() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        },
    )

    # The first student's next save is refused and the attempt closes with what was
    # saved in time; their page says so.
    response = save("student", "1600", 2)
    assert response["HX-Redirect"] == reverse("cases:attempt_result", args=[attempts["student"].pk])
    first = Attempt.objects.get(pk=attempts["student"].pk)
    assert first.state == "submitted" and first.timed_out
    assert Answer.objects.get(slot_id=slot_of["student"]).response == {"value": 1500.0}

    # The second student saves and sees a timer running to the extension.
    assert save("student_ta_elsewhere", "1700", 3).status_code == 200
    second_url = attempts["student_ta_elsewhere"].get_absolute_url()
    page = _html(client_for("student_ta_elsewhere").get(second_url))
    assert re.search(r'Time left: <strong class="timer__value">23 h 5\d min', page)
    # The extension is taken back: the cohort's past due date binds them too.
    extension = world.users["student_ta_elsewhere"].extensions.get()
    client_for("instructor").post(reverse("cases:extension_delete", args=[item.pk, extension.pk]))
    response = save("student_ta_elsewhere", "1800", 4)
    assert "HX-Redirect" in response
    assert Answer.objects.get(slot_id=slot_of["student_ta_elsewhere"]).response == {"value": 1700.0}
    assert Attempt.objects.get(pk=attempts["student_ta_elsewhere"].pk).state == "submitted"


def test_the_result_page_keeps_the_course_in_its_breadcrumb_and_leads_on(world, client_for):
    client = client_for("student")
    client.post(reverse("cases:attempt_submit", args=[world.attempt.pk]))
    html = _html(client.get(reverse("cases:attempt_result", args=[world.attempt.pk])))
    crumbs = html.split('class="breadcrumb"')[1].split("</nav>")[0]
    assert world.course.get_absolute_url() in crumbs and world.course.code in crumbs
    # The module's items in order: the reading, the quiz, then the thread.
    pager = html.split('aria-label="In this module"')[1].split("</nav>")[0]
    assert world.discussion.item.get_absolute_url() in pager and 'rel="next"' in pager


def _schedule(client, world, due_at, late_policy="refuse"):
    """The instructor gives the quiz to the section due then, late work so treated."""
    cohort = world.course.cohorts.get()
    fields = {
        "assigned": "on",
        "due_at": timezone.localtime(due_at).strftime("%Y-%m-%dT%H:%M"),
        "points": "10",
        "late_policy": late_policy,
        "late_penalty_percent": "0",
    }
    response = client.post(
        reverse("cases:item_schedule", args=[world.quiz.item.pk]),
        # Confirmed: a date moved before an attempt already handed in asks first.
        {"action": "save", "confirmed": "1"}
        | {f"cohort-{cohort.pk}-{name}": v for name, v in fields.items()},
    )
    assert response.status_code == 302


def _extend(client, world, role, due_at):
    """The instructor gives one student a later due date."""
    response = client.post(
        reverse("cases:extension_grant", args=[world.quiz.item.pk]),
        {
            "students": [world.users[role].pk],
            "due_at": timezone.localtime(due_at).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code == 302


def test_a_quiz_closed_by_its_due_date_says_why_instead_of_offering_a_start(world, client_for):
    """Two attempts allowed: after the first, the student is offered another. The
    instructor moves the due date into the past, late work refused: the quiz page says
    why instead of offering a start, to them and to a classmate who never started, and a
    start posted anyway is refused alike, twice; the result page now shows the key, as
    no attempt is left to use it on. An extension opens the quiz again, for its holder
    alone."""
    world.quiz.attempts_allowed = 2
    world.quiz.save()
    overview = world.quiz.item.get_absolute_url()
    result = reverse("cases:attempt_result", args=[world.attempt.pk])
    student = client_for("student")
    student.post(reverse("cases:attempt_submit", args=[world.attempt.pk]))
    assert "Start another attempt" in _html(student.get(overview))
    assert "KEY-FEEDBACK" not in _html(student.get(result))

    _schedule(client_for("instructor"), world, timezone.now() - timedelta(hours=1))
    closed = "This was due and no longer accepts work."
    for role in ("student", "student_ta_elsewhere"):
        client = client_for(role)
        html = _html(client.get(overview))
        assert closed in html
        assert "Start the quiz" not in html and "Start another attempt" not in html
        for _twice in range(2):
            response = client.post(
                reverse("cases:attempt_start", args=[world.quiz.item.pk]), follow=True
            )
            assert closed in _html(response)
    assert Attempt.objects.filter(quiz=world.quiz).count() == 1
    assert "KEY-FEEDBACK" in _html(client_for("student").get(result))

    _extend(
        client_for("instructor"), world, "student_ta_elsewhere", timezone.now() + timedelta(days=1)
    )
    assert "Start the quiz" in _html(client_for("student_ta_elsewhere").get(overview))
    html = _html(client_for("student").get(overview))
    assert closed in html and "Start another attempt" not in html


def _submitted(html: str):
    """The hand-in time the result page states."""
    stamp = re.search(r'Submitted <time datetime="([^"]+)"', html).group(1)
    return datetime.fromisoformat(stamp)


def test_an_attempt_a_moved_due_date_ends_is_handed_in_after_it_started_and_late_everywhere(
    world, client_for
):
    """A 30-minute quiz due in a fortnight, late work refused; a classmate has an
    extension. Both start and save an answer. The instructor moves the due date to before
    they started: the student's attempt closes with the answer saved, handed in no
    earlier than it started (it read as handed in before it began), and late by the one
    rule every page applies, the same on every reload, on the result page, on the quiz
    page and in the tracker's panel. The classmate goes on until the extension is taken
    back; then theirs closes alike."""
    world.quiz.time_limit_minutes = 30
    world.quiz.save()
    world.attempt.delete()
    teacher = client_for("instructor")
    _schedule(teacher, world, timezone.now() + timedelta(days=14))
    _extend(teacher, world, "student_ta_elsewhere", timezone.now() + timedelta(days=20))
    attempts = {}
    for role in ("student", "student_ta_elsewhere"):
        client = client_for(role)
        client.post(reverse("cases:attempt_start", args=[world.quiz.item.pk]))
        attempt = Attempt.objects.get(quiz=world.quiz, user=world.users[role])
        slot = attempt.slots.get(question__title="Researchers")
        client.post(
            reverse("cases:attempt_save", args=[attempt.pk]),
            {"questions": str(slot.pk), f"q{slot.pk}": "1600"},
        )
        attempts[role] = attempt

    _schedule(client_for("instructor"), world, timezone.now() - timedelta(hours=1))
    extension = world.users["student_ta_elsewhere"].extensions.get()
    for role in ("student", "student_ta_elsewhere"):
        if role == "student_ta_elsewhere":
            page = _html(client_for(role).get(attempts[role].get_absolute_url()))
            assert "Time left" in page  # Their extension keeps it open...
            client_for("instructor").post(
                reverse("cases:extension_delete", args=[world.quiz.item.pk, extension.pk])
            )  # ...until it is taken back.
        client = client_for(role)
        attempt = attempts[role]
        for _twice in range(2):
            response = client.get(attempt.get_absolute_url(), follow=True)
            html = _html(response)
            assert response.redirect_chain[-1][0] == reverse(
                "cases:attempt_result", args=[attempt.pk]
            )
            assert _submitted(html) >= attempt.started_at.replace(microsecond=0)
            assert "(late)" in html
        attempt.refresh_from_db()
        assert attempt.state == "submitted" and attempt.timed_out and attempt.late
        assert attempt.started_at <= attempt.submitted_at <= timezone.now()
        assert attempt.score == 1  # The answer saved before the date moved counts.
        row = _html(client.get(world.quiz.item.get_absolute_url())).split("Attempt 1")[1]
        assert "(time ran out)" in row.split("</tr>")[0]
        assert "late" in row.split("</tr>")[0]
        student = world.users[role]
        panel = _html(
            client_for("instructor").get(
                reverse("cases:work_panel", args=[world.course.pk, student.pk, world.quiz.item.pk])
            )
        )
        assert "Handed in late" in panel and "Attempt 1: Submitted, 1" in panel
        assert panel.split("Attempt 1:")[1].split("</li>")[0].endswith("· late")

    # An extension after the fact takes every late mark away alike: the quiz page, the
    # result page, the panel's attempt and its status.
    _extend(client_for("instructor"), world, "student", timezone.now() + timedelta(days=2))
    client = client_for("student")
    attempt = attempts["student"]
    row = _html(client.get(world.quiz.item.get_absolute_url())).split("Attempt 1")[1]
    assert "late" not in row.split("</tr>")[0]
    assert "(late)" not in _html(client.get(reverse("cases:attempt_result", args=[attempt.pk])))
    student = world.users["student"]
    panel = _html(
        client_for("instructor").get(
            reverse("cases:work_panel", args=[world.course.pk, student.pk, world.quiz.item.pk])
        )
    )
    assert "Handed in late" not in panel and "· late" not in panel
