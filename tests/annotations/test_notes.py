"""Notes on the words of a case, as students and staff use them: written from the
reader's forms (with and without htmx), read back in the marked reader, replied to,
upvoted, moderated; scoped to the cohort; private notes private; hostile and doubled
input handled."""

import re

import pytest
from django.test import override_settings
from django.urls import reverse

from cases.anchors import text_of
from cases.models import Annotation, Membership, Visibility
from cases.permissions import CaseAccess
from cases.services.annotations import Selection, annotation_create
from tests.discussions.test_sanitising import assert_harmless
from tests.factories import AssignmentFactory, CohortFactory, MembershipFactory, UserFactory
from tests.xss_corpus import PAYLOADS

pytestmark = pytest.mark.django_db

STUDENT = CaseAccess(is_teaching_staff=False, can_edit=False)
HTMX = {"HX-Request": "true"}


@pytest.fixture
def section_b(world):
    """A second cohort of the same course, given the same case reading."""
    cohort = CohortFactory(name="Section B")
    world.course.cohorts.add(cohort)
    AssignmentFactory(item=world.item, cohort=cohort)
    student = UserFactory(username="bea", first_name="Bea", last_name="B")
    MembershipFactory(cohort=cohort, user=student)
    return student


@pytest.fixture
def classmate(world):
    student = UserFactory(username="chen", first_name="Chen", last_name="Li")
    MembershipFactory(cohort=world.course.cohorts.get(name="Section A"), user=student)
    return student


def _write(client, case, paragraph: int, body: str, **extra):
    data = {"paragraph": paragraph, "body": body, "nonce": extra.pop("nonce", "n-" + body[:20])}
    headers = extra.pop("headers", {})
    return client.post(
        reverse("cases:annotation_list", args=[case.slug]), data | extra, headers=headers
    )


def _marks(html: str) -> list[str]:
    """The words the reader shows highlighted, mark by mark."""
    return [text_of(m) for m in re.findall(r'<mark class="hl[^"]*"[^>]*>(.*?)</mark>', html)]


def test_a_note_from_a_sentence_is_marked_replied_to_and_upvoted(client, world, classmate):
    case = world.case
    student = world.users["student"]
    client.force_login(student)
    # The paragraph's form offers its sentences, for keyboards and pages without script.
    page = client.get(reverse("cases:annotation_list", args=[case.slug]), {"paragraph": 2})
    assert page.status_code == 200
    assert "Sentence 1: It has employed many researchers." in page.text
    text = text_of(case.paragraphs.get(number=2).html)
    response = _write(
        client,
        case,
        2,
        "Headcount in a lab is an input, not an invention.",
        sentence=f"0-{len(text)}",
    )
    note = Annotation.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("cases:annotation_detail", args=[note.pk])
    assert (note.paragraph, note.start, note.end, note.quote) == (2, 0, len(text), text)
    assert note.cohort.name == "Section A" and note.visibility == Visibility.COHORT

    reader = client.get(case.get_absolute_url())
    assert _marks(reader.text) == ["It has employed ", "many", " researchers."]
    assert "1 note" in reader.text

    # A classmate reads it in the margin, replies and upvotes; the author is told so.
    client.force_login(classmate)
    thread = client.get(reverse("cases:annotation_detail", args=[note.pk]), headers=HTMX)
    assert "Headcount in a lab is an input" in thread.text
    client.post(
        reverse("cases:annotation_reply", args=[note.pk]),
        {"body": "Agreed: compare ¶3 on the state partner.", "nonce": "r1"},
        headers=HTMX,
    )
    client.post(reverse("cases:annotation_vote", args=[note.pk]), headers=HTMX)
    client.force_login(student)
    thread = client.get(reverse("cases:annotation_detail", args=[note.pk]))
    assert "Agreed: compare" in thread.text and "Chen Li" in thread.text
    assert "1 upvote" in thread.text
    reader = client.get(case.get_absolute_url())
    assert 'aria-label="2 notes on' in reader.text  # The note and its reply.

    # Upvoting one's own note is refused; a second upvote takes the first back.
    refused = client.post(reverse("cases:annotation_vote", args=[note.pk]), headers=HTMX)
    assert refused.status_code == 400
    client.force_login(classmate)
    client.post(reverse("cases:annotation_vote", args=[note.pk]))
    note.refresh_from_db()
    assert note.upvote_count == 0 and note.reply_count == 1


def test_a_count_of_two_notes_opens_both_without_javascript(client, world, classmate):
    """Two classmates write on the same sentence: the highlight's "2" opens both
    notes, as a page for a reader without JavaScript as in the margin for htmx."""
    case = world.case
    text = text_of(case.paragraphs.get(number=2).html)
    for author, body in [(world.users["student"], "First reading."), (classmate, "Second.")]:
        client.force_login(author)
        _write(client, case, 2, body, sentence=f"0-{len(text)}")
    reader = client.get(case.get_absolute_url()).text
    [href] = re.findall(r'<a class="hl__count" href="([^"]+)"', reader)
    for headers in [{}, HTMX]:
        thread = client.get(href, headers=headers).text
        assert "First reading." in thread and "Second." in thread


def test_a_selection_across_paragraphs_is_checked_against_the_case(client, world):
    case = world.case
    client.force_login(world.users["student"])
    first = text_of(case.paragraphs.get(number=1).html)
    quote = first[-9:] + "\n\n" + "It has"
    data = {
        "start": len(first) - 9,
        "end_paragraph": 2,
        "end": 6,
        "quote": quote,
        "visibility": "cohort",
    }
    # Words that are not in the case are refused beside the words, the note kept.
    wrong = _write(client, case, 1, "Switches come first.", **(data | {"quote": "nope"}))
    assert wrong.status_code == 200
    assert "those words are no longer there" in wrong.text
    assert "Switches come first." in wrong.text
    assert not Annotation.objects.exists()
    _write(client, case, 1, "Switches come first.", **data)
    note = Annotation.objects.get()
    assert (note.paragraph, note.end_paragraph, note.quote) == (1, 2, quote)
    reader = client.get(case.get_absolute_url())
    assert "switches." in "".join(_marks(reader.text)) and "It has" in "".join(_marks(reader.text))


def test_the_same_form_twice_makes_one_note_and_htmx_gets_the_thread_and_the_marks(client, world):
    case = world.case
    client.force_login(world.users["student"])
    for _ in range(2):
        response = _write(
            client, case, 3, "The partner is a state firm.", nonce="same", headers=HTMX
        )
        assert response.status_code == 200
    assert Annotation.objects.count() == 1
    assert "The partner is a state firm." in response.text
    assert 'id="reader-layer"' in response.text and 'hx-swap-oob="true"' in response.text
    assert "<mark" in response.text


def test_section_b_never_reads_section_a_and_private_notes_stay_private(
    client, world, section_b, classmate
):
    case = world.case
    student = world.users["student"]
    shared = annotation_create(
        case=case,
        author=student,
        access=STUDENT,
        selection=Selection(2, 0, 2, 6),
        body="Section A thinks this matters.",
    )
    private = annotation_create(
        case=case,
        author=student,
        access=STUDENT,
        selection=Selection(3, 0, 3, 3),
        body="My own reminder.",
        visibility=Visibility.PRIVATE,
    )
    question = annotation_create(
        case=case,
        author=student,
        access=STUDENT,
        selection=Selection(1, 0, 1, 8),
        body="Is a switch maker an R firm?",
        visibility=Visibility.INSTRUCTOR,
    )
    client.force_login(section_b)
    reader = client.get(case.get_absolute_url())
    assert reader.status_code == 200 and "<mark" not in reader.text
    for note in (shared, private, question):
        assert client.get(reverse("cases:annotation_detail", args=[note.pk])).status_code == 404
    notes = client.get(reverse("cases:annotation_list", args=[case.slug]))
    assert "Section A thinks" not in notes.text

    client.force_login(classmate)
    notes = client.get(reverse("cases:annotation_list", args=[case.slug]))
    assert "Section A thinks" in notes.text
    assert "My own reminder" not in notes.text and "Is a switch maker" not in notes.text
    assert client.get(reverse("cases:annotation_detail", args=[private.pk])).status_code == 404

    # The instructor reads the shared note and the question, never the private note,
    # and answers the question; its asker reads the answer, classmates still don't.
    client.force_login(world.users["instructor"])
    notes = client.get(reverse("cases:annotation_list", args=[case.slug]))
    assert "Section A thinks" in notes.text and "Is a switch maker" in notes.text
    assert "My own reminder" not in notes.text
    client.post(
        reverse("cases:annotation_reply", args=[question.pk]),
        {"body": "Look at who pays for the lab.", "nonce": "a1"},
    )
    client.force_login(student)
    assert (
        "Look at who pays"
        in client.get(reverse("cases:annotation_detail", args=[question.pk])).text
    )
    client.force_login(classmate)
    assert client.get(reverse("cases:annotation_detail", args=[question.pk])).status_code == 404


def test_staff_endorse_pin_and_hide_with_a_reason_that_only_the_author_reads(
    client, world, classmate
):
    case = world.case
    note = annotation_create(
        case=case,
        author=world.users["student"],
        access=STUDENT,
        selection=Selection(2, 0, 2, 6),
        body="Off-topic rant.",
    )
    client.force_login(classmate)
    assert (
        client.post(
            reverse("cases:annotation_moderate", args=[note.pk]), {"action": "pin"}
        ).status_code
        == 403
    )
    client.force_login(world.users["ta"])
    url = reverse("cases:annotation_moderate", args=[note.pk])
    client.post(url, {"action": "endorse"})
    client.post(url, {"action": "pin"})
    refused = client.post(url, {"action": "hide", "reason": ""}, headers=HTMX)
    assert refused.status_code == 400 and "Say why" in refused.text
    client.post(url, {"action": "hide", "reason": "Keep to the evidence."})
    note.refresh_from_db()
    assert note.endorsed and note.pinned and note.hidden_at
    client.force_login(classmate)
    assert "<mark" not in client.get(case.get_absolute_url()).text
    assert client.get(reverse("cases:annotation_detail", args=[note.pk])).status_code == 404
    client.force_login(world.users["student"])
    mine = client.get(reverse("cases:annotation_detail", args=[note.pk]))
    assert "Keep to the evidence." in mine.text and "Endorsed" in mine.text


def test_the_live_layer_answers_304_until_a_classmate_writes(client, world, classmate):
    case = world.case
    client.force_login(world.users["student"])
    url = reverse("cases:annotation_live", args=[case.slug])
    first = client.get(url, headers=HTMX)
    etag = first["ETag"]
    assert client.get(url, headers=HTMX | {"If-None-Match": etag}).status_code == 304
    annotation_create(
        case=case, author=classmate, access=STUDENT, selection=Selection(2, 0, 2, 6), body="New."
    )
    changed = client.get(url, headers=HTMX | {"If-None-Match": etag})
    assert changed.status_code == 200 and "<mark" in changed.text
    assert changed["ETag"] != etag


@pytest.mark.parametrize("payload", PAYLOADS)
def test_no_payload_survives_in_a_note(client, world, payload):
    client.force_login(world.users["student"])
    _write(client, world.case, 2, f"Before {payload} after.", nonce="x")
    note = Annotation.objects.get()
    page = client.get(reverse("cases:annotation_detail", args=[note.pk])).text
    body = page[page.index('class="note__body') :]
    assert_harmless(body[body.index(">") + 1 : body.index("</div>")])


def test_nul_bytes_and_the_rate_limit(client, world):
    client.force_login(world.users["student"])
    _write(client, world.case, 2, "Null\x00 byte here.", nonce="nul")
    assert Annotation.objects.get().body == "Null byte here."
    with override_settings(ANNOTATIONS_PER_MINUTE=2):
        _write(client, world.case, 2, "Second note.", nonce="2")
        refused = _write(client, world.case, 2, "Third note, kept in the form.", nonce="3")
    assert "very fast" in refused.text and "Third note, kept in the form." in refused.text
    assert Annotation.objects.count() == 2


def test_deleting_keeps_a_thread_with_replies_and_removes_a_lone_note(client, world, classmate):
    case = world.case
    student = world.users["student"]
    answered = annotation_create(
        case=case, author=student, access=STUDENT, selection=Selection(2, 0, 2, 6), body="First."
    )
    lone = annotation_create(
        case=case, author=student, access=STUDENT, selection=Selection(3, 0, 3, 3), body="Lone."
    )
    client.force_login(classmate)
    client.post(reverse("cases:annotation_reply", args=[answered.pk]), {"body": "A reply."})
    # Only the author deletes.
    assert client.post(reverse("cases:annotation_delete", args=[lone.pk])).status_code == 403
    client.force_login(student)
    response = client.post(reverse("cases:annotation_delete", args=[answered.pk]), headers=HTMX)
    assert "Deleted by its author." in response.text and "A reply." in response.text
    assert 'hx-swap-oob="true"' in response.text
    client.post(reverse("cases:annotation_delete", args=[lone.pk]))
    client.force_login(classmate)
    reader = client.get(case.get_absolute_url())
    assert _marks(reader.text) == ["It has"]  # The thread with a reply stays marked.
    assert client.get(reverse("cases:annotation_detail", args=[lone.pk])).text.count("Lone.") == 0


def test_an_instructors_shared_note_reaches_their_courses_readers_only(client, world):
    from cases.models import CaseReading
    from tests.factories import ModuleFactory, ModuleItemFactory

    case = world.case
    elsewhere = ModuleItemFactory(module=ModuleFactory(course=world.other_course))
    CaseReading.objects.create(item=elsewhere, case=case)
    AssignmentFactory(item=elsewhere, cohort=world.other_course.cohorts.get())
    note = annotation_create(
        case=case,
        author=world.users["instructor"],
        access=CaseAccess(is_teaching_staff=True, can_edit=True),
        selection=Selection(1, 0, 1, 8),
        body="Start here: who makes what?",
    )
    assert note.cohort is None
    for role, sees in [("student", True), ("ta", True), ("other_student", False)]:
        client.force_login(world.users[role])
        notes = client.get(reverse("cases:annotation_list", args=[case.slug])).text
        assert ("Start here" in notes) is sees, role


def test_classmates_read_a_students_reply_to_the_instructors_note(client, world, classmate):
    staff_note = annotation_create(
        case=world.case,
        author=world.users["instructor"],
        access=CaseAccess(is_teaching_staff=True, can_edit=True),
        selection=Selection(1, 0, 1, 8),
        body="Who makes what?",
    )
    client.force_login(world.users["student"])
    client.post(reverse("cases:annotation_reply", args=[staff_note.pk]), {"body": "Switches."})
    for reader in (classmate, world.users["ta"]):
        client.force_login(reader)
        thread = client.get(reverse("cases:annotation_detail", args=[staff_note.pk])).text
        assert "Switches." in thread, reader
    # Only the instructor's entry says "Instructor or TA".
    assert thread.count("Instructor or TA") == 1


def test_section_b_counts_only_the_replies_it_reads_on_the_instructors_note(
    client, world, section_b
):
    # Section A's reply to the instructor's note is section A's to read, but section B's
    # reader counted it on the note's marks ("2" over a thread of one note), and once
    # the instructor deleted the note, section B kept a "deleted" note with nothing
    # under it.
    staff_note = annotation_create(
        case=world.case,
        author=world.users["instructor"],
        access=CaseAccess(is_teaching_staff=True, can_edit=True),
        selection=Selection(1, 0, 1, 8),
        body="Who makes what?",
    )
    client.force_login(world.users["student"])
    client.post(reverse("cases:annotation_reply", args=[staff_note.pk]), {"body": "Switches."})

    def counts(reader):
        client.force_login(reader)
        page = client.get(world.case.get_absolute_url()).text
        return re.findall(r'class="hl__count"[^>]*>(\d+)</a>', page)

    assert counts(world.users["student"]) == ["2"]
    assert counts(section_b) == ["1"]
    client.force_login(world.users["instructor"])
    client.post(reverse("cases:annotation_delete", args=[staff_note.pk]))
    assert counts(world.users["student"]) == ["2"]  # The thread stays for its reply.
    assert counts(section_b) == []
    notes = client.get(reverse("cases:annotation_list", args=[world.case.slug]), {"paragraph": 1})
    assert "Deleted by its author." not in notes.text
    assert client.get(reverse("cases:annotation_detail", args=[staff_note.pk])).status_code == 404


def test_a_student_moved_to_another_section_still_reads_the_replies_to_their_notes(
    client, world, section_b, classmate
):
    # A note stays with the section it was written in; its author, moved to section B,
    # still read the note but no longer the replies section A wrote under it, while the
    # note's marks still counted them.
    student = world.users["student"]
    note = annotation_create(
        case=world.case, author=student, access=STUDENT, selection=Selection(2, 0, 2, 6),
        body="Does headcount measure research?",
    )  # fmt: skip
    client.force_login(classmate)
    client.post(reverse("cases:annotation_reply", args=[note.pk]), {"body": "Only inputs."})
    Membership.objects.filter(user=student).update(cohort=section_b.memberships.get().cohort)

    client.force_login(student)
    assert "Only inputs." in client.get(reverse("cases:annotation_detail", args=[note.pk])).text
    page = client.get(world.case.get_absolute_url()).text
    assert re.findall(r'class="hl__count"[^>]*>(\d+)</a>', page) == ["2"]
    # Section B's readers still do not read section A's thread.
    client.force_login(section_b)
    assert client.get(reverse("cases:annotation_detail", args=[note.pk])).status_code == 404


def test_two_replies_from_one_page_are_two_replies(client, world, classmate):
    first, second = (
        annotation_create(
            case=world.case,
            author=classmate,
            access=STUDENT,
            selection=Selection(n, 0, n, 4),
            body=f"Note {n}.",
        )
        for n in (2, 3)
    )
    client.force_login(world.users["student"])
    page = client.get(reverse("cases:annotation_list", args=[world.case.slug])).text
    nonces = dict(re.findall(r'name="nonce" value="([^"]+-(\d+))"', page))
    by_note = {int(pk): nonce for nonce, pk in nonces.items()}
    for note in (first, second):
        url = reverse("cases:annotation_reply", args=[note.pk])
        client.post(url, {"body": f"Reply to {note.pk}.", "nonce": by_note[note.pk]})
        client.post(url, {"body": f"Reply to {note.pk}.", "nonce": by_note[note.pk]})  # Twice.
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.reply_count, second.reply_count) == (1, 1)


def test_a_ta_limited_to_section_a_never_reads_section_bs_notes(client, world, section_b):
    world.course.cohorts.get(name="Section A").teaching_assistants.add(world.users["ta"])
    question = annotation_create(
        case=world.case,
        author=section_b,
        access=STUDENT,
        selection=Selection(2, 0, 2, 6),
        body="A question from section B.",
        visibility=Visibility.INSTRUCTOR,
    )
    client.force_login(world.users["ta"])
    assert (
        "A question from section B"
        not in client.get(reverse("cases:annotation_list", args=[world.case.slug])).text
    )
    url = reverse("cases:annotation_moderate", args=[question.pk])
    assert client.post(url, {"action": "hide", "reason": "x"}).status_code == 404
    client.force_login(world.users["instructor"])
    assert (
        "A question from section B"
        in client.get(reverse("cases:annotation_list", args=[world.case.slug])).text
    )


def test_words_selected_before_an_edit_are_found_after_it(client, world):
    from cases.services.readings import case_update

    case = world.case
    client.force_login(world.users["student"])
    data = {"start": 0, "end": 6, "end_paragraph": 3, "quote": "Its pa", "visibility": "cohort"}
    case.body = "A new first paragraph.\n\n" + case.body.replace(
        "Its partners include a state firm.",
        "Its partners, the account adds much later, after the long history of the venture "
        "and its many ministries, governments and rival switchmakers, were a state firm.",
    )
    case_update(case=case)  # ¶3's text changed: it is a new paragraph number now.
    assert not case.paragraphs.filter(number=3).exists()
    response = _write(client, case, 3, "Still about the partner.", **data)
    note = Annotation.objects.get()
    assert response.status_code == 302 and note.quote == "Its pa"
    # A paragraph that is gone, without selected words: the form again, the note kept.
    gone = _write(client, case, 999, "Kept text.", nonce="gone")
    assert gone.status_code == 200 and "Kept text." in gone.text
    assert "no longer in the case" in gone.text


def test_annotate_first_holds_replies_and_votes_back_too(client, world, classmate):
    from tests.factories import make_annotation_task

    make_annotation_task(
        world.item.module, world.case, world.course.cohorts.all(), annotate_first=True
    )
    note = annotation_create(
        case=world.case,
        author=classmate,
        access=STUDENT,
        selection=Selection(2, 0, 2, 6),
        body="Mine.",
    )
    client.force_login(world.users["student"])
    live = reverse("cases:annotation_live", args=[world.case.slug])
    etag = client.get(live, headers=HTMX)["ETag"]
    assert (
        client.post(reverse("cases:annotation_reply", args=[note.pk]), {"body": "Hi"}).status_code
        == 404
    )
    assert client.post(reverse("cases:annotation_vote", args=[note.pk])).status_code == 404
    _write(client, world.case, 3, "My own first note.")
    assert client.get(live, headers=HTMX | {"If-None-Match": etag}).status_code == 200
    assert client.post(reverse("cases:annotation_vote", args=[note.pk])).status_code == 302


def test_a_megabyte_note_is_refused_beside_the_note_and_kept(client, world):
    client.force_login(world.users["student"])
    huge = "evidence " * 120_000  # About a megabyte.
    response = _write(client, world.case, 2, huge, nonce="huge")
    assert response.status_code == 200
    assert "Notes are limited to 5,000 characters" in response.text
    assert 'id="note-body-error"' in response.text and huge.strip()[:2000] in response.text
    assert not Annotation.objects.exists()


def test_a_sentence_picked_before_its_paragraph_was_edited_keeps_its_words(client, world):
    """A student opens ¶2's form and picks its second sentence; meanwhile the author
    adds words at the start of ¶2 (a small edit: it stays ¶2). The note is about the
    sentence the student picked, not whatever now sits at its old place; and if the
    sentence is gone, the form says so and keeps the note."""
    from cases.services.readings import case_update

    case = world.case
    case.body = case.body.replace(
        "It has employed *many* researchers.",
        "It has employed *many* researchers. Most of them test switches.",
    )
    case = case_update(case=case)
    client.force_login(world.users["student"])
    page = client.get(reverse("cases:annotation_list", args=[case.slug]), {"paragraph": 2})
    [picked] = re.findall(r'<option value="([^"]*)">Sentence 2: Most of them', page.text)
    picked = picked.replace("&#x27;", "'").replace("&quot;", '"').replace("&amp;", "&")

    # The author adds words before the sentence: ¶2 keeps its number.
    case.body = case.body.replace("It has employed", "By 1995 it had employed")
    case = case_update(case=case)
    assert "By 1995" in text_of(case.paragraphs.get(number=2).html)
    response = _write(client, case, 2, "Testing is not research.", sentence=picked)
    assert response.status_code == 302
    note = Annotation.objects.get()
    assert note.quote == "Most of them test switches."
    reader = client.get(case.get_absolute_url())
    assert _marks(reader.text) == ["Most of them test switches."]

    # The sentence itself is rewritten before a second note is saved: refused beside the
    # words, the note kept, the paragraph's sentences offered as they now are.
    page = client.get(reverse("cases:annotation_list", args=[case.slug]), {"paragraph": 2})
    [picked] = re.findall(r'<option value="([^"]*)">Sentence 2: Most of them', page.text)
    case.body = case.body.replace("Most of them test switches.", "Few of them design chips.")
    case = case_update(case=case)
    refused = _write(client, case, 2, "A second thought.", sentence=picked, nonce="second")
    assert refused.status_code == 200 and "A second thought." in refused.text
    assert 'id="note-words-error"' in refused.text
    assert "Sentence 2: Few of them design chips." in refused.text
    assert Annotation.objects.count() == 1


def test_deleting_the_last_reply_under_a_deleted_note_says_deleted_not_page_not_found(
    client, world, classmate
):
    """A student's note is answered by a classmate, then deleted by its author (it stays,
    "deleted", for the reply). The classmate then deletes their reply: the thread is
    gone, and they are told their reply is deleted and brought back to the case at the
    paragraph, with or without htmx, not shown "page not found" for a deletion that
    succeeded."""
    case = world.case
    student = world.users["student"]
    note = annotation_create(
        case=case, author=student, access=STUDENT, selection=Selection(2, 0, 2, 6), body="First."
    )
    client.force_login(classmate)
    for nonce in ("r1", "r2"):
        client.post(
            reverse("cases:annotation_reply", args=[note.pk]),
            {"body": f"Reply {nonce}.", "nonce": nonce},
        )
    first, second = Annotation.objects.filter(thread=note).order_by("pk")
    client.force_login(student)
    client.post(reverse("cases:annotation_delete", args=[note.pk]))

    client.force_login(classmate)
    response = client.post(reverse("cases:annotation_delete", args=[first.pk]), headers=HTMX)
    assert response.status_code == 200 and "Reply r2." in response.text  # The thread stands.
    response = client.post(reverse("cases:annotation_delete", args=[second.pk]), headers=HTMX)
    assert response.status_code == 200
    assert "Reply deleted." in response.text and 'hx-swap-oob="true"' in response.text
    assert "<mark" not in response.text  # The reader's marks come along, without the note.

    # Without htmx: the same, as a page.
    again = annotation_create(
        case=case, author=student, access=STUDENT, selection=Selection(3, 0, 3, 3), body="Two."
    )
    client.post(reverse("cases:annotation_reply", args=[again.pk]), {"body": "Answer."})
    reply = Annotation.objects.get(thread=again)
    client.force_login(student)
    client.post(reverse("cases:annotation_delete", args=[again.pk]))
    client.force_login(classmate)
    response = client.post(reverse("cases:annotation_delete", args=[reply.pk]), follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == f"{case.get_absolute_url()}#p3"
    assert "Reply deleted." in response.text


def test_a_ta_reads_every_reply_to_their_own_note_whichever_section_wrote_it(
    client, world, section_b
):
    """A TA who looks after section A writes a note on the case; it reaches the course's
    readers, section B's too, and Bea of section B answers it. The TA reads her answer
    under their note, as a student reads every reply to theirs, and the reader's count
    says so; other section B notes stay out of the TA's sight."""
    world.course.cohorts.get(name="Section A").teaching_assistants.add(world.users["ta"])
    ta = world.users["ta"]
    note = annotation_create(
        case=world.case,
        author=ta,
        access=CaseAccess(is_teaching_staff=True, can_edit=False),
        selection=Selection(1, 0, 1, 8),
        body="Who makes what here?",
    )
    client.force_login(section_b)
    assert (
        "Who makes what here?"
        in client.get(reverse("cases:annotation_detail", args=[note.pk])).text
    )
    client.post(
        reverse("cases:annotation_reply", args=[note.pk]),
        {"body": "The venture makes switches.", "nonce": "b1"},
    )
    _write(client, world.case, 3, "Section B's own note.", nonce="b2")

    client.force_login(ta)
    thread = client.get(reverse("cases:annotation_detail", args=[note.pk])).text
    assert "The venture makes switches." in thread
    reader = client.get(world.case.get_absolute_url()).text
    assert re.findall(r'class="hl__count"[^>]*>(\d+)</a>', reader) == ["2"]
    notes = client.get(reverse("cases:annotation_list", args=[world.case.slug])).text
    assert "Section B's own note." not in notes


def test_a_sentence_over_a_line_break_stays_picked_when_the_note_is_refused(client, world):
    """A paragraph written over two lines: its sentence's words hold a line break, which
    a browser sends back as CRLF. A note refused (empty) comes back with that sentence
    still picked, and saved, it is about those words."""
    from cases.services.readings import case_update

    case = world.case
    case.body = case.body.replace(
        "It has employed *many* researchers.",
        "It has employed\nmany researchers. Most\ntest switches.",
    )
    case = case_update(case=case)
    client.force_login(world.users["student"])
    page = client.get(reverse("cases:annotation_list", args=[case.slug]), {"paragraph": 2})
    [picked] = re.findall(r'<option value="([^"]*)">Sentence 2: ', page.text)
    assert "\n" in picked
    sent = picked.replace("\n", "\r\n")
    refused = _write(client, case, 2, " ", sentence=sent, nonce="crlf")
    assert "Write your note before saving it." in refused.text
    assert f'<option value="{picked}" selected>' in refused.text
    _write(client, case, 2, "Testing, not research.", sentence=sent, nonce="crlf")
    assert Annotation.objects.get().quote == "Most\ntest switches."


def test_a_paragraph_cited_in_a_note_or_a_reply_links_to_it(client, world, classmate):
    """The note form says "Cite other paragraphs with ¶ and a number": a student's ¶3
    in a note, and a classmate's ¶2 in a reply, link to those paragraphs of the case
    with the hover preview, as a post's citations do; a number the case has not stays
    text."""
    case = world.case
    client.force_login(world.users["student"])
    _write(client, case, 2, "Compare ¶3 on the state partner, and ¶99.")
    note = Annotation.objects.get()
    client.force_login(classmate)
    client.post(
        reverse("cases:annotation_reply", args=[note.pk]),
        {"body": "And ¶2 itself says so.", "nonce": "r1"},
        headers=HTMX,
    )
    thread = client.get(reverse("cases:annotation_detail", args=[note.pk])).text
    for number in (3, 2):
        url = reverse("cases:case_detail", args=[case.slug]) + f"#p{number}"
        assert f'<a class="cite" href="{url}"' in thread
    assert "¶99." in thread and "#p99" not in thread
