"""A NUL character pasted into any field is dropped at the edge, so PostgreSQL (whose
text and JSON columns refuse NUL) never sees it and everything else typed is kept; an
uploaded file holding NUL bytes is refused with the line, and nothing is imported."""

import io
from urllib.parse import urlencode

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from cases.models import (
    Answer,
    Assignment,
    CaseStudy,
    Cohort,
    DecisionCommit,
    LiveAnswer,
    LivePoll,
    PairMessage,
    ParticipationGrade,
    Post,
    Question,
    SpectrumPlacement,
    StanceAnswer,
    StancePair,
    User,
)
from cases.services.thesis import stance_answer, stance_pairs_make
from tests.factories import (
    PASSWORD,
    make_case,
    make_decision,
    make_live,
    make_spectrum,
    make_stance_check,
)

pytestmark = pytest.mark.django_db

TYPED = "Shanghai Bell\x00 learned to research"
KEPT = "Shanghai Bell learned to research"

JOURNEYS = {}


def journey(function):
    """A user's journey that types TYPED somewhere: it returns the response to the post,
    the text as stored and the page that shows it again."""
    JOURNEYS[function.__name__] = function
    return function


def _html(response) -> str:
    return response.content.decode()


def _essay(world):
    return world.attempt.slots.get(question__title="Argue")


@journey
def quiz_answer_autosaved(world, client_for):
    """htmx posts its forms URL-encoded, where the other journeys post multipart."""
    slot = _essay(world)
    client = client_for("student")
    response = client.post(
        reverse("cases:attempt_save", args=[world.attempt.pk]),
        urlencode({"questions": slot.pk, f"q{slot.pk}": TYPED, "seq": 1}),
        content_type="application/x-www-form-urlencoded",
        headers={"HX-Request": "true"},
    )
    stored = Answer.objects.get(slot=slot).response["text"]
    return response, stored, _html(client.get(world.attempt.get_absolute_url()))


@journey
def quiz_answer_saved_without_javascript(world, client_for):
    slot = _essay(world)
    client = client_for("student")
    response = client.post(
        reverse("cases:attempt_save", args=[world.attempt.pk]),
        {"questions": str(slot.pk), f"q{slot.pk}": TYPED},
    )
    stored = Answer.objects.get(slot=slot).response["text"]
    return response, stored, _html(client.get(world.attempt.get_absolute_url()))


@journey
def discussion_post(world, client_for):
    client = client_for("student")
    response = client.post(
        reverse("cases:post_create", args=[world.discussion.item.pk]),
        {"body": TYPED, "nonce": "form\x001"},
    )
    stored = Post.objects.latest("pk").body
    return response, stored, _html(client_for("ta").get(world.discussion.item.get_absolute_url()))


@journey
def discussion_reply(world, client_for):
    response = client_for("student_ta_elsewhere").post(
        reverse("cases:post_create", args=[world.discussion.item.pk]),
        {"body": TYPED, "parent": f"{world.post.pk}\x00"},
        headers={"HX-Request": "true"},
    )
    stored = Post.objects.get(parent=world.post).body
    return (
        response,
        stored,
        _html(client_for("student").get(world.discussion.item.get_absolute_url())),
    )


@journey
def discussion_post_edited(world, client_for):
    client = client_for("student")
    response = client.post(reverse("cases:post_edit", args=[world.post.pk]), {"body": TYPED})
    world.post.refresh_from_db()
    return response, world.post.body, _html(client.get(world.discussion.item.get_absolute_url()))


@journey
def post_hidden_with_a_reason(world, client_for):
    response = client_for("ta").post(
        reverse("cases:post_moderate", args=[world.post.pk]), {"action": "hide", "reason": TYPED}
    )
    world.post.refresh_from_db()
    page = client_for("instructor").get(world.discussion.item.get_absolute_url())
    return response, world.post.hidden_reason, _html(page)


@journey
def participation_comment(world, client_for):
    response = client_for("instructor").post(
        reverse("cases:participation", args=[world.discussion.item.pk]),
        {"student": world.users["student"].pk, "points": "4", "comment": TYPED},
    )
    stored = ParticipationGrade.objects.get(user=world.users["student"]).comment
    return response, stored, None


@journey
def stance_reason(world, client_for):
    stance = make_stance_check(world.item.module)
    Assignment.objects.create(item=stance.item, cohort=world.course.cohorts.get())
    client = client_for("student")
    response = client.post(
        reverse("cases:stance_answer", args=[stance.item.pk]), {"value": "6", "reason": TYPED}
    )
    stored = StanceAnswer.objects.get(user=world.users["student"]).reason
    return response, stored, _html(client.get(stance.item.get_absolute_url()))


@journey
def pair_thread_message(world, client_for):
    stance = make_stance_check(world.item.module)
    Assignment.objects.create(item=stance.item, cohort=world.course.cohorts.get())
    for role, value in [("student", 1), ("student_ta_elsewhere", 7)]:
        stance_answer(stance=stance, user=world.users[role], value=value, reason="Because.")
    stance_pairs_make(
        stance=stance, students=world.course.cohorts.get().members.all(), phase="before"
    )
    url = reverse("cases:pair_thread", args=[StancePair.objects.get().pk])
    response = client_for("student").post(url, {"body": TYPED})
    stored = PairMessage.objects.get().body
    return response, stored, _html(client_for("student_ta_elsewhere").get(url))


@journey
def spectrum_justification(world, client_for):
    exercise = make_spectrum(world.item.module, [world.case], world.course.cohorts.all())
    client = client_for("student")
    response = client.post(
        reverse("cases:spectrum_save", args=[exercise.item.pk]),
        {f"position_{world.case.pk}": "60", f"justification_{world.case.pk}": TYPED},
    )
    stored = SpectrumPlacement.objects.get().justification
    return response, stored, _html(client.get(exercise.item.get_absolute_url()))


@journey
def decision_rationale(world, client_for):
    decision = make_decision(world.item.module)
    Assignment.objects.create(item=decision.item, cohort=world.course.cohorts.get())
    client = client_for("student")
    response = client.post(
        reverse("cases:decision_commit", args=[decision.item.pk]),
        {"choice": "0", "rationale": TYPED, "expects": "yes", "confidence": "80"},
    )
    stored = DecisionCommit.objects.get().rationale
    return response, stored, _html(client.get(decision.item.get_absolute_url()))


@journey
def live_poll_and_its_text_answer(world, client_for):
    session = make_live(
        world.item.module, world.course.cohorts.all(), start_by=world.users["instructor"]
    )
    client_for("instructor").post(
        reverse("cases:live_poll_create", args=[session.pk]),
        {"kind": "word", "prompt": TYPED, "launch": "on"},
    )
    poll = LivePoll.objects.get(session=session)
    response = client_for("student").post(
        reverse("cases:live_answer", args=[session.pk]), {"poll": poll.pk, "answer": "R\x00&D"}
    )
    assert LiveAnswer.objects.get().text == "r&d"  # Word answers are lower-cased.
    instructor = client_for("instructor")
    instructor.post(reverse("cases:live_poll_control", args=[poll.pk]), {"action": "reveal"})
    projector = _html(instructor.get(reverse("cases:live_projector", args=[session.pk])))
    assert "r&amp;d" in projector
    return response, poll.prompt, projector


def _case_data(**overrides) -> dict:
    data = {
        "title": "Lenovo",
        "slug": "lenovo",
        "company": "Lenovo",
        "region": "beijing",
        "sector": "PCs and hardware",
        "summary": TYPED,
        "body": f"First paragraph.\n\n{TYPED}",
        "key_facts": TYPED,
        "spectrum_placement": "80",
        "action": "save",
    }
    return data | overrides


@journey
def case_written_in_the_editor(world, client_for):
    client = client_for("instructor")
    response = client.post(reverse("cases:case_create"), _case_data())
    case = CaseStudy.objects.get(slug="lenovo")
    assert case.key_facts == [KEPT] and case.summary == KEPT
    return response, case.paragraphs.get(number=2).text, _html(client.get(case.get_absolute_url()))


@journey
def case_edited(world, client_for):
    client = client_for("instructor")
    data = _case_data(title=world.case.title, slug=world.case.slug, revision="1")
    response = client.post(reverse("cases:case_edit", args=[world.case.slug]), data)
    world.case.refresh_from_db()
    return response, world.case.summary, _html(client.get(world.case.get_absolute_url()))


@journey
def cohort_named(world, client_for):
    client = client_for("admin")
    response = client.post(reverse("cases:cohort_list"), {"name": TYPED})
    stored = Cohort.objects.get(name=KEPT).name
    return response, stored, _html(client.get(reverse("cases:cohort_list")))


@pytest.mark.parametrize("name", JOURNEYS)
def test_a_nul_typed_into_a_field_is_dropped_and_the_rest_of_the_text_kept(world, client_for, name):
    response, stored, page = JOURNEYS[name](world, client_for)
    assert response.status_code in {200, 204, 302}
    assert stored == KEPT
    if page is not None:
        assert KEPT in page and "\x00" not in page


def test_a_search_with_a_nul_finds_what_the_rest_of_it_names(world, client_for):
    make_case(slug="lenovo", title="Lenovo", company="Lenovo", summary="Cheap PCs.", body="PCs.")
    client = client_for("instructor")
    response = client.get(reverse("cases:case_list"), {"q": "Shang\x00hai"})
    html = _html(response)
    assert response.status_code == 200 and "\x00" not in html
    assert world.case.get_absolute_url() in html and "/library/lenovo/" not in html
    assert client.get(reverse("cases:case_list"), {"q": "\x00"}).status_code == 200


def test_a_username_pasted_with_a_nul_still_signs_in(world, client):
    response = client.post(reverse("login"), {"username": "student\x00", "password": "wrong"})
    assert response.status_code == 200 and "\x00" not in _html(response)
    response = client.post(reverse("login"), {"username": "student\x00", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("cases:home")).wsgi_request.user == world.users["student"]


CASE_FILE = (
    '+++\ntitle = "SMIC"\nslug = "smic"\ncompany = "SMIC"\nregion = "shanghai"\n'
    'sector = "Semiconductors"\nsummary = "A foundry."\n+++\n\nOne.\n\nTw\x00o.\n'
)
ROSTER_FILE = (
    "email,first_name,last_name,student_id\n"
    "ann@example.edu,Ann,Lee,A1\n"
    "bo@example.edu,B\x00o,Li,A2\n"
)
UPLOADS = {
    "questions": (
        "instructor",
        "bank.gift",
        "::A::Fine {=yes ~no}\n\n::B::Bro\x00ken {=yes ~no}\n",
    ),
    "case": ("instructor", "smic.md", CASE_FILE),
    "roster": ("admin", "roster.csv", ROSTER_FILE),
}


def _import_url(world, kind: str) -> str:
    if kind == "questions":
        return reverse("cases:question_import", args=[world.course.pk])
    if kind == "case":
        return reverse("cases:case_import")
    return reverse("cases:roster_import", args=[world.course.cohorts.get().pk])


@pytest.mark.parametrize(
    ("kind", "line", "beside"),
    [
        ("questions", 3, 'id="id_file_error"'),
        ("case", 12, 'id="id_file_error"'),
        ("roster", 3, 'id="roster-errors"'),  # Where the roster lists every bad line.
    ],
)
def test_a_file_with_nul_bytes_is_refused_naming_the_line_and_nothing_is_imported(
    world, client_for, kind, line, beside
):
    role, name, text = UPLOADS[kind]
    upload = io.BytesIO(text.encode())
    upload.name = name
    before = (Question.objects.count(), CaseStudy.objects.count(), User.objects.count())
    response = client_for(role).post(_import_url(world, kind), {"step": "preview", "file": upload})
    html = _html(response)
    assert response.status_code in {200, 400}
    message = html[html.index(beside) :].split("</ul>", 1)[0]
    assert "NUL bytes" in message and f"line {line}" in message.lower()
    assert (Question.objects.count(), CaseStudy.objects.count(), User.objects.count()) == before


def test_the_roster_command_refuses_a_file_with_nul_bytes(world, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER_FILE)
    cohort = world.course.cohorts.get()
    with pytest.raises(CommandError, match="Line 3: The file contains NUL bytes"):
        call_command("import_roster", cohort.pk, roster, "--no-invite")
    assert not User.objects.filter(email="ann@example.edu").exists()


def test_a_session_cookie_carrying_a_nul_reads_as_signed_out(world, client_for):
    client = client_for("student")
    assert client.get(reverse("cases:home")).status_code == 200
    # A cookie may carry NUL escaped (Python's cookie parser reads \000 as NUL).
    cookie = 'sessionid="not\\000ours"'
    response = client.get(reverse("cases:home"), headers={"Cookie": cookie})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
