"""Commit, then reveal: the follow-up opens only after a commitment that cannot change;
the instructor scores the prediction and each student sees their calibration."""

import pytest
from django.urls import reverse

from cases.models import Assignment, Decision, DecisionCommit, Work, WorkStatus
from cases.services.thesis import calibration, decision_commit, decision_score
from tests.factories import (
    CohortFactory,
    CourseFactory,
    ModuleFactory,
    UserFactory,
    enrol,
    make_decision,
)
from tests.helpers import PAGE_BUDGET, page_queries

pytestmark = pytest.mark.django_db
SECRET = "FOLLOW-UP-SECRET"


@pytest.fixture
def decision(world):
    decision = make_decision(world.item.module)
    Assignment.objects.create(item=decision.item, cohort=world.course.cohorts.get())
    return decision


def _commit(client, decision, **overrides):
    data = {"choice": "0", "rationale": "Own R&D pays.", "expects": "yes", "confidence": "80"}
    return client.post(reverse("cases:decision_commit", args=[decision.item.pk]), data | overrides)


def test_the_follow_up_opens_only_after_committing_once(world, decision, client_for):
    client = client_for("student")
    page = client.get(decision.item.get_absolute_url()).content.decode()
    assert SECRET not in page and "Commit before you read on" in page
    assert _commit(client, decision).status_code == 302
    _commit(client, decision, choice="1", confidence="50")  # A second commit changes nothing.
    commit = DecisionCommit.objects.get(decision=decision, user=world.users["student"])
    assert (commit.choice, commit.confidence, commit.expects) == (0, 80, True)
    page = client.get(decision.item.get_absolute_url()).content.decode()
    assert SECRET in page and "Push for own R&amp;D" in page
    work = Work.objects.get(item=decision.item, user=world.users["student"])
    assert work.state == WorkStatus.SUBMITTED


def test_an_incomplete_commitment_is_refused_and_reveals_nothing(world, decision, client_for):
    response = _commit(client_for("student"), decision, expects="", rationale="Own R&D pays.")
    html = response.content.decode()
    assert response.status_code == 400
    assert "Say whether you expect it to happen." in html and 'value="Own R&amp;D pays."' in html
    assert SECRET not in html
    assert not DecisionCommit.objects.exists()


def test_staff_do_not_commit(world, decision, client_for):
    assert _commit(client_for("ta"), decision).status_code == 403


def test_scoring_the_prediction_shows_each_student_their_calibration(world, decision, client_for):
    decision_commit(
        decision=decision,
        user=world.users["student"],
        choice=0,
        rationale="Own R&D pays.",
        expects=True,
        confidence=80,
    )
    client_for("instructor").post(
        reverse("cases:decision_score", args=[decision.item.pk]), {"came_true": "yes"}
    )
    decision.refresh_from_db()
    assert decision.came_true is True
    html = client_for("student").get(reverse("cases:calibration", args=[world.course.pk]))
    html = html.content.decode()
    assert "Your Brier score: <strong>0.04</strong>" in html  # (0.8 - 1)^2
    assert "80% sure — right" in html
    staff = client_for("instructor").get(reverse("cases:calibration", args=[world.course.pk]))
    assert "<td>1</td><td>0.04</td>" in staff.content.decode()


def test_calibration_bands_and_brier_score(world, decision):
    commits = []
    for n, (expects, confidence) in enumerate([(True, 90), (True, 95), (False, 60), (True, 55)]):
        user = UserFactory(username=f"cal{n}")
        commits.append(
            DecisionCommit(
                decision=decision, user=user, choice=0, rationale="", expects=expects,
                confidence=confidence,
            )
        )  # fmt: skip
    decision_score(decision=decision, came_true=True)
    buckets, brier = calibration(commits)
    by_label = {b.label: b for b in buckets}
    assert (by_label["90 to 100%"].predictions, by_label["90 to 100%"].hit_rate) == (2, 100.0)
    assert by_label["60 to 69%"].hit_rate == 0.0  # Expected it not to happen; it did.
    expected = ((0.9 - 1) ** 2 + (0.95 - 1) ** 2 + (0.4 - 1) ** 2 + (0.55 - 1) ** 2) / 4
    assert brier == round(expected, 3)


def _decision_class(size: int):
    instructor = UserFactory()
    cohort = CohortFactory()
    students = enrol(cohort, size, prefix=f"dc{size}-")
    course = CourseFactory(instructors=[instructor], cohorts=[cohort])
    decision = make_decision(ModuleFactory(course=course))
    Assignment.objects.create(item=decision.item, cohort=cohort)
    for n, student in enumerate(students):
        decision_commit(
            decision=decision, user=student, choice=n % 2, rationale="Because.",
            expects=bool(n % 3), confidence=50 + (n * 5) % 50,
        )  # fmt: skip
    decision_score(decision=decision, came_true=True)
    return {"instructor": instructor, "student": students[1], "item": decision.item,
            "course": course}  # fmt: skip


@pytest.mark.parametrize("role", ["instructor", "student"])
@pytest.mark.parametrize("page", ["item", "calibration"])
def test_decision_pages_cost_the_same_queries_for_5_or_60_students(client, role, page):
    def url(world):
        if page == "item":
            return world["item"].get_absolute_url()
        return reverse("cases:calibration", args=[world["course"].pk])

    counts = page_queries(client, _decision_class, (5, 60), role, url)
    assert counts[0] == counts[1], counts
    assert counts[1] <= PAGE_BUDGET, counts


def test_a_new_decision_point_ships_placeholders_not_values_and_opens_once_written(
    world, client_for
):
    module = world.item.module
    response = client_for("instructor").post(
        reverse("cases:item_create", args=[world.course.pk]),
        {"module": module.pk, "kind": "decision", "title": "Build a lab?",
         "cohorts": [world.course.cohorts.get().pk]},
    )  # fmt: skip
    assert response.status_code == 302
    decision = Decision.objects.get()
    assert (decision.options, decision.prediction, decision.follow_up) == ([], "", "")
    settings_url = reverse("cases:decision_settings", args=[decision.item.pk])
    form = client_for("instructor").get(settings_url).content.decode()
    assert 'placeholder="e.g. The venture will open its own research lab' in form
    # No stand-in options either ("Yes" and "No" were): a placeholder, the box empty.
    assert 'placeholder="e.g.\nLicense the design' in form
    assert 'id="id_options_text">\n</textarea>' in form
    assert 'value="Write' not in form and "Write what happened next.</textarea>" not in form

    # The student finds it not open yet, and a commit is refused.
    student = client_for("student")
    page = student.get(decision.item.get_absolute_url()).content.decode()
    assert "still writing this decision point" in page and "Commit before" not in page
    assert _commit(student, decision).status_code == 400
    assert not DecisionCommit.objects.exists()
    staff_page = client_for("instructor").get(decision.item.get_absolute_url()).content.decode()
    assert "Not ready for students." in staff_page

    # Saved without a prediction: refused beside the field, the rest kept.
    instructor = client_for("instructor")
    data = {"question": "Build a lab?", "options_text": "Yes\nNo", "prediction": "",
            "follow_up": "Bell opened its lab in 2002."}  # fmt: skip
    html = instructor.post(settings_url, data).content.decode()
    assert "Write the event the case&#x27;s next part settles." in html
    assert "Bell opened its lab in 2002." in html
    instructor.post(settings_url, data | {"prediction": "Bell will open a lab."})

    # Written: the student commits and reads on.
    student = client_for("student")
    assert _commit(student, decision).status_code == 302
    assert (
        "Bell opened its lab in 2002."
        in student.get(decision.item.get_absolute_url()).content.decode()
    )


def test_options_students_committed_to_keep_their_place_when_the_instructor_edits(
    world, decision, client_for
):
    # A commitment is stored as the option's place in the list: reordering, rewording or
    # removing options after students committed told them they chose what they did not
    # (or broke their page when their option was gone).
    third = {"question": decision.question, "prediction": decision.prediction,
             "follow_up": decision.follow_up}  # fmt: skip
    settings_url = reverse("cases:decision_settings", args=[decision.item.pk])
    instructor = client_for("instructor")
    instructor.post(
        settings_url, third | {"options_text": "Push for own R&D\nStay a licensee\nSell"}
    )
    assert _commit(client_for("student"), decision, choice="1").status_code == 302

    instructor = client_for("instructor")
    for options in ("Stay a licensee\nPush for own R&D\nSell", "Push for own R&D\nStay a licensee",
                    "Push for own R&D\nStay a licensee, for now\nSell"):  # fmt: skip
        response = instructor.post(settings_url, third | {"options_text": options})
        html = response.content.decode()
        assert response.status_code == 200
        assert "students have committed to them" in html
        assert options.replace("&", "&amp;") in html  # What was typed is kept.
    decision.refresh_from_db()
    assert decision.options == ["Push for own R&D", "Stay a licensee", "Sell"]

    # Adding an option after them is fine.
    added = "Push for own R&D\nStay a licensee\nSell\nMerge"
    assert instructor.post(settings_url, third | {"options_text": added}).status_code == 302
    decision.refresh_from_db()
    assert decision.options[-1] == "Merge"
    page = client_for("student").get(decision.item.get_absolute_url()).content.decode()
    assert "You chose <strong>Stay a licensee</strong>" in page


def test_committing_again_from_a_second_tab_says_the_first_commitment_stands(
    world, decision, client_for
):
    student = client_for("student")
    # Two tabs open on the form; the student commits in the first.
    for _tab in range(2):
        assert "Commit before you read on" in student.get(decision.item.get_absolute_url()).text
    first = _commit(student, decision, choice="0")
    assert "Committed. Read on" in student.get(first.url).text
    # The second tab, still showing the form, sends the other option.
    page = _commit(student, decision, choice="1", rationale="Licensing is safer.")
    page = student.get(page.url).text
    assert "Committed." not in page
    assert (
        "You had already committed to “Push for own R&amp;D”, and a commitment cannot change: "
        "that one stands, and “Stay a licensee” was not saved." in page
    )
    assert "You chose <strong>Push for own R&amp;D</strong>" in page
    assert "Licensing is safer." not in page
    # Back, and the first form sent again as it was.
    page = student.get(_commit(student, decision, choice="0").url).text
    assert "Committed." not in page
    assert "You had already committed to “Push for own R&amp;D”: that commitment stands" in page
    staff = client_for("instructor").get(decision.item.get_absolute_url()).text
    assert "1 committed" in staff
    assert '<th scope="row">Push for own R&amp;D</th><td>1</td>' in staff
    assert '<th scope="row">Stay a licensee</th><td>0</td>' in staff
