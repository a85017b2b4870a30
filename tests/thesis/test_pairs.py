"""Arguing with the other side: students far apart on a stance check are paired and
argue in a thread of their own; the page shows how polarised the class is."""

import pytest
from django.urls import reverse

from cases.models import Assignment, Cohort, StancePair
from cases.services.thesis import polarisation, stance_answer, stance_pairs_make
from tests.factories import MembershipFactory, UserFactory, make_stance_check

pytestmark = pytest.mark.django_db


def test_polarisation_runs_from_the_middle_to_the_ends():
    assert polarisation([4, 4, 4]) == 0
    assert polarisation([1, 7, 1, 7]) == 1
    assert polarisation([2, 6]) == round(2 / 3, 2)
    assert polarisation([]) is None


@pytest.fixture
def classroom(world):
    stance = make_stance_check(world.item.module)
    cohort = world.course.cohorts.get()
    Assignment.objects.create(item=stance.item, cohort=cohort)
    students = [world.users["student"], world.users["student_ta_elsewhere"]]
    for n in range(3):
        student = UserFactory(username=f"peer{n}")
        MembershipFactory(cohort=cohort, user=student)
        students.append(student)
    for student, value in zip(students, [1, 7, 2, 6, 4], strict=True):
        stance_answer(stance=stance, user=student, value=value, reason=f"At {value}.")
    return stance, students


def test_pairs_join_the_far_ends_and_a_second_round_changes_nothing(world, classroom):
    stance, students = classroom
    everyone = world.course.cohorts.get().members.all()
    assert stance_pairs_make(stance=stance, students=everyone, phase="before") == 2
    pairs = {(p.first_id, p.second_id, p.distance) for p in StancePair.objects.all()}
    assert pairs == {(students[0].pk, students[1].pk, 6), (students[2].pk, students[3].pk, 4)}
    assert stance_pairs_make(stance=stance, students=everyone, phase="before") == 0


def test_a_pair_argues_in_a_thread_only_they_and_their_graders_see(world, classroom, client_for):
    stance, students = classroom
    client = client_for("instructor")
    client.post(reverse("cases:stance_pairs", args=[stance.item.pk]), {"phase": "before"})
    pair = StancePair.objects.get(first=students[0])
    url = reverse("cases:pair_thread", args=[pair.pk])
    student = client_for("student")
    page = student.get(stance.item.get_absolute_url()).content.decode()
    assert f'href="{url}"' in page
    student.post(url, {"body": "Royalties are a **tax** on copying. <script>x()</script>"})
    other = client_for("student_ta_elsewhere").get(url).content.decode()
    assert "<strong>tax</strong>" in other and "<script>" not in other
    assert client_for("instructor").get(url).status_code == 200
    assert client_for("instructor").post(url, {"body": "Hi"}).status_code == 403
    outsider = UserFactory(username="outsider")
    MembershipFactory(cohort=world.course.cohorts.get(), user=outsider)
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    # A TA who looks after another cohort does not read this pair.
    section_b = Cohort.objects.create(name="Section B")
    world.course.cohorts.add(section_b)
    section_b.teaching_assistants.add(world.users["ta"])
    assert client_for("ta").get(url).status_code == 404


def test_an_empty_message_is_refused(world, classroom, client_for):
    stance, students = classroom
    stance_pairs_make(
        stance=stance, students=world.course.cohorts.get().members.all(), phase="before"
    )
    pair = StancePair.objects.get(first=students[0])
    response = client_for("student").post(
        reverse("cases:pair_thread", args=[pair.pk]), {"body": " "}
    )
    assert (
        response.status_code == 400
        and "Write something before sending." in response.content.decode()
    )


def test_the_results_page_shows_polarisation_and_pairs(world, classroom, client_for):
    stance, _students = classroom
    client = client_for("instructor")
    client.post(reverse("cases:stance_pairs", args=[stance.item.pk]), {"phase": "before"})
    html = client.get(stance.item.get_absolute_url()).content.decode()
    assert "before the module <strong>0.67</strong>" in html  # |1-4|,3,2,2,0 over 5, over 3.
    assert "6 points apart, 0 messages" in html


def test_spectrum_pairs_join_students_far_apart_on_average(world, client_for):
    from cases.models import SpectrumPlacement
    from tests.factories import make_spectrum

    exercise = make_spectrum(world.item.module, [world.case], [world.course.cohorts.get()])
    far, near = world.users["student"], world.users["student_ta_elsewhere"]
    for user, position in [(far, 10), (near, 80)]:
        SpectrumPlacement.objects.create(
            exercise=exercise, user=user, case=world.case, position=position
        )
    client = client_for("instructor")
    client.post(reverse("cases:spectrum_pairs", args=[exercise.item.pk]))
    pair = StancePair.objects.get(spectrum=exercise)
    assert (pair.first, pair.second, pair.distance) == (far, near, 70)
    page = client_for("student").get(exercise.item.get_absolute_url()).content.decode()
    assert reverse("cases:pair_thread", args=[pair.pk]) in page
    thread = client_for("student").get(reverse("cases:pair_thread", args=[pair.pk]))
    assert "Shanghai Bell: 10" in thread.content.decode()


def test_a_student_after_release_sees_no_pairing_controls(world, client_for):
    from django.utils import timezone

    from tests.factories import make_spectrum

    exercise = make_spectrum(world.item.module, [world.case], [world.course.cohorts.get()])
    exercise.released_at = timezone.now()
    exercise.save()
    page = client_for("student").get(exercise.item.get_absolute_url()).content.decode()
    assert "The class and the authors" in page
    assert "Argue with the other side" not in page and "No pairs yet." not in page


def test_a_student_removed_from_the_class_no_longer_reads_or_writes_in_their_pair(
    world, classroom, client_for, client
):
    """Two students are paired and argue; one is then removed from the course. They no
    longer read the thread (nor their partner's answers beside it) nor write in it; the
    partner who stays still reads it."""
    stance, students = classroom
    client_for("instructor").post(
        reverse("cases:stance_pairs", args=[stance.item.pk]), {"phase": "before"}
    )
    pair = StancePair.objects.get(first=students[2])
    url = reverse("cases:pair_thread", args=[pair.pk])
    leaving, staying = students[3], students[2]
    client.force_login(leaving)
    assert client.get(url).status_code == 200
    client.post(url, {"body": "Before I leave: licences are cheaper."})
    world.course.cohorts.get().memberships.filter(user=leaving).delete()

    assert client.get(url).status_code == 404
    assert client.post(url, {"body": "Still here?"}).status_code == 404
    assert not pair.messages.filter(body="Still here?").exists()
    client.force_login(staying)
    page = client.get(url)
    assert page.status_code == 200 and "licences are cheaper" in page.content.decode()


def test_a_deactivated_student_is_not_paired_with_a_classmate_who_would_wait_in_vain(
    world, classroom, client_for
):
    """A student answered before the module, then left and their account was
    deactivated (their answers kept). When the instructor pairs the class, nobody is
    paired with them: they can no longer sign in to argue."""
    from cases.services.people import user_deactivate

    stance, students = classroom
    gone = students[1]  # At 7: the far end the student at 1 would be paired with.
    user_deactivate(user=gone, by=world.users["admin"])
    client_for("instructor").post(
        reverse("cases:stance_pairs", args=[stance.item.pk]), {"phase": "before"}
    )
    paired = {user for pair in StancePair.objects.all() for user in (pair.first, pair.second)}
    assert gone not in paired
    assert students[0] in paired  # Paired with the next farthest instead.
    # The same on a spectrum exercise.
    from cases.models import SpectrumPlacement
    from tests.factories import make_spectrum

    exercise = make_spectrum(world.item.module, [world.case], [world.course.cohorts.get()])
    for user, position in [(students[0], 10), (gone, 90)]:
        SpectrumPlacement.objects.create(
            exercise=exercise, user=user, case=world.case, position=position
        )
    client_for("instructor").post(reverse("cases:spectrum_pairs", args=[exercise.item.pk]))
    assert not StancePair.objects.filter(spectrum=exercise).exists()


def test_a_message_sent_twice_is_kept_once(world, classroom, client_for):
    """A student sends a message, the page is slow, they click Send again (or go Back
    and send again): the thread shows their message once. A new message after it, or
    the same words once the partner has answered, is kept."""
    stance, students = classroom
    stance_pairs_make(
        stance=stance, students=world.course.cohorts.get().members.all(), phase="before"
    )
    pair = StancePair.objects.get(first=students[0])
    url = reverse("cases:pair_thread", args=[pair.pk])
    student = client_for("student")
    for _ in range(2):
        assert student.post(url, {"body": "Licences are **cheaper** than labs."}).status_code == 302
    page = student.get(url).content.decode()
    assert page.count("Licences are <strong>cheaper</strong> than labs.") == 1
    partner = client_for("student_ta_elsewhere")
    partner.post(url, {"body": "Cheaper now, dearer later."})
    student.post(url, {"body": "Licences are **cheaper** than labs."})
    assert pair.messages.count() == 3


def test_pairing_again_after_a_partner_leaves_and_a_student_joins_late(
    world, classroom, client, client_for
):
    """The instructor pairs the class; a pair argues. Then one of them is deactivated
    and a student joins late and answers. Pairing again keeps the pair whose members
    are both still here, pairs the one left alone with the latecomer (far apart), makes
    no second pair for anyone, and keeps the old conversation readable by its own two
    members only: not by the new partner, and not in the new thread."""
    from cases.services.people import user_deactivate

    stance, students = classroom  # At 1, 7, 2, 6 and 4.
    pair_url = reverse("cases:stance_pairs", args=[stance.item.pk])
    instructor = client_for("instructor")
    instructor.post(pair_url, {"phase": "before"})
    old = StancePair.objects.get(first=students[0])
    kept = StancePair.objects.get(first=students[2])
    assert old.second == students[1]
    old_url = reverse("cases:pair_thread", args=[old.pk])
    client.force_login(students[0])
    client.post(old_url, {"body": "OLD-PAIR-WORDS: labs matter."})
    client.force_login(students[1])
    client.post(old_url, {"body": "OLD-PARTNER-REPLY: licences win."})

    user_deactivate(user=students[1], by=world.users["admin"])
    late = UserFactory(username="latecomer")
    MembershipFactory(cohort=world.course.cohorts.get(), user=late)
    stance_answer(stance=stance, user=late, value=7, reason="Late, at 7.")

    client.force_login(world.users["instructor"])
    done = client.post(pair_url, {"phase": "before"}, follow=True).content.decode()
    assert "Made 1 pair of students" in done
    current = StancePair.objects.filter(stance=stance, ended_at__isnull=True)
    assert {(p.first_id, p.second_id) for p in current} == {
        (students[2].pk, students[3].pk),
        (students[0].pk, late.pk),
    }
    assert current.get(first=students[2]).pk == kept.pk  # Kept, not made anew.
    members = [u for p in current for u in (p.first_id, p.second_id)]
    assert len(members) == len(set(members))  # Nobody in two pairs.
    assert students[4].pk not in members  # The odd one out waits, as before.
    new = current.get(second=late)

    # The student sees their new partner, and can still read the old conversation.
    client.force_login(students[0])
    page = client.get(stance.item.get_absolute_url()).content.decode()
    new_url = reverse("cases:pair_thread", args=[new.pk])
    assert f'href="{new_url}"' in page and late.display_name in page
    assert f'href="{old_url}"' in page
    old_thread = client.get(old_url).content.decode()
    assert "OLD-PAIR-WORDS" in old_thread and "OLD-PARTNER-REPLY" in old_thread
    assert 'name="body"' not in old_thread  # Nobody left there to answer.
    assert client.post(old_url, {"body": "Anyone?"}).status_code in (400, 403)
    assert old.messages.count() == 2
    assert "OLD-PAIR-WORDS" not in client.get(new_url).content.decode()
    # The new partner reads the new thread, never the old one.
    client.force_login(late)
    assert client.get(old_url).status_code == 404
    assert "OLD-PAIR-WORDS" not in client.get(new_url).content.decode()
    assert f'href="{old_url}"' not in client.get(stance.item.get_absolute_url()).content.decode()

    # Pairing a third time changes nothing.
    client.force_login(world.users["instructor"])
    again = client.post(pair_url, {"phase": "before"}, follow=True).content.decode()
    assert "No new pairs to make." in again
    assert again.count("(ended: one of them left)") == 1  # The instructor sees it ended.
    assert StancePair.objects.filter(stance=stance, ended_at__isnull=True).count() == 2


def test_spectrum_pairing_again_after_a_student_leaves_the_class(world, client, client_for):
    """On a spectrum exercise: a paired student is taken out of the course's cohort;
    pairing again pairs their partner with a student who placed late, and the partner
    still reads the old thread."""
    from cases.models import SpectrumPlacement
    from tests.factories import make_spectrum

    cohort = world.course.cohorts.get()
    exercise = make_spectrum(world.item.module, [world.case], [cohort])
    staying, leaving = world.users["student"], world.users["student_ta_elsewhere"]
    for user, position in [(staying, 10), (leaving, 90)]:
        SpectrumPlacement.objects.create(
            exercise=exercise, user=user, case=world.case, position=position
        )
    pair_url = reverse("cases:spectrum_pairs", args=[exercise.item.pk])
    client_for("instructor").post(pair_url)
    old = StancePair.objects.get(spectrum=exercise)
    old_url = reverse("cases:pair_thread", args=[old.pk])
    client.force_login(staying)
    client.post(old_url, {"body": "SPECTRUM-OLD-WORDS"})
    cohort.memberships.filter(user=leaving).delete()
    late = UserFactory(username="latecomer")
    MembershipFactory(cohort=cohort, user=late)
    SpectrumPlacement.objects.create(exercise=exercise, user=late, case=world.case, position=85)

    client_for("instructor").post(pair_url)
    new = StancePair.objects.get(spectrum=exercise, ended_at__isnull=True)
    assert (new.first, new.second, new.distance) == (staying, late, 75)
    client.force_login(staying)
    page = client.get(exercise.item.get_absolute_url()).content.decode()
    assert reverse("cases:pair_thread", args=[new.pk]) in page
    assert "SPECTRUM-OLD-WORDS" in client.get(old_url).content.decode()
    client.force_login(late)
    assert client.get(old_url).status_code == 404
