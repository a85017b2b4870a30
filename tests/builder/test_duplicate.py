"""Duplicating a course for a new term: every kind of item comes with its own content,
as the original shows it, and none of its students' work; a copied decision point opens
the same part B; a copy's settings pages edit the copy alone; the page says so."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape, strip_tags

from cases.models import (
    Assignment,
    CaseReading,
    Course,
    DecisionCommit,
    Discussion,
    ItemKind,
    LiveClass,
    ModuleItem,
    Question,
    QuestionCategory,
    QuizSlot,
    SpectrumPlacement,
    StanceAnswer,
    StanceCheck,
    User,
    content_model,
)
from cases.services.builder import KIND_COPIES
from cases.services.discussions import post_create
from cases.services.quizzes import attempt_start
from cases.views.builder import LATER_SETTINGS_PAGES, SETTINGS_PAGES
from tests.factories import (
    CohortFactory,
    MembershipFactory,
    ModuleFactory,
    UserFactory,
    make_analysis,
    make_annotation_task,
    make_case,
    make_decision,
    make_discussion,
    make_quiz,
    make_spectrum,
    make_stance_check,
)

pytestmark = pytest.mark.django_db

CODE = "MGT 6001 F27"
# Rows the copy has its own of, in its course's bank: compared by what they say.
BANK = (Question, QuestionCategory)
STATEMENT = "STANCE: China should push its firms toward R."
QUESTION = "Should Shanghai Bell's partners push it toward its own R&D?"
PREDICTION = "Its research staff will pass 1,000 within five years."
# What each kind's page shows of its content, to its instructor and to its students.
SHOWN = {
    ItemKind.CASE_READING: ["Shanghai Bell makes telecom switches."],
    ItemKind.QUIZ: [
        "6 question slots, one question a page.",
        "Time limit: 25 minutes",
        "3 attempts allowed; the last attempt counts.",
    ],
    ItemKind.DISCUSSION: [
        "Argue from the case, citing paragraphs.",
        "Anonymous to classmates",
        "Post before you see others",
    ],
    ItemKind.STANCE_CHECK: [STATEMENT],
    ItemKind.DECISION: [QUESTION, PREDICTION],
    ItemKind.SPECTRUM: ["SPECTRUM-PROMPT: place them.", "Lenovo"],
    ItemKind.LIVE_SESSION: [
        "Joining the session earns 40% of the points; contributions in class earn the rest, "
        "in full at 3 points."
    ],
    ItemKind.ANNOTATION: [
        "Write at least 2 notes or replies your class can read, each of 20 words or more."
    ],
    ItemKind.ANALYSIS: ["MEMO-PROMPT: build or buy?", "At most 800 words"],
}


def _every_kind(world) -> dict[str, ModuleItem]:
    """An item of every kind in a module of the world's course, given to its cohort,
    each with every field of its content away from the field's default (so a field left
    behind shows) and with a student's work on it where the kind takes some."""
    module = ModuleFactory(course=world.course, title="Every kind")
    student, later = world.users["student"], timezone.now() + timedelta(days=1)
    lenovo = make_case(slug="lenovo", title="Lenovo", company="Lenovo")
    part_b = make_case(
        slug="shanghai-bell-b", title="Shanghai Bell (B)", follows=world.case, body="PART-B-TEXT"
    )
    reading = ModuleItem.objects.create(
        module=module, kind=ItemKind.CASE_READING, title="Read Shanghai Bell", position=1
    )
    CaseReading.objects.create(item=reading, case=world.case)
    quiz = make_quiz(
        module, title="Check the reading", attempts_allowed=3, time_limit_minutes=25,
        shuffle_questions=True, one_question_per_page=True, grading_method="last",
        feedback_release="after_due",
    )  # fmt: skip
    pool = QuestionCategory.objects.create(course=world.course, name="Pool")
    Question.objects.filter(course=world.course, title="Argue").update(category=pool)
    QuizSlot.objects.create(quiz=quiz, category=pool, draw_count=1, position=9)
    discussion = make_discussion(
        module, world.case, title="Argue it out", post_first=True, anonymous=True,
        closes_at=later, first_post_due_at=later, replies_due_at=later,
    )  # fmt: skip
    post_create(discussion=discussion, author=student, body="Headcount is an input.")
    Discussion.objects.filter(pk=discussion.pk).update(locked=True)
    stance = make_stance_check(module, STATEMENT)
    StanceCheck.objects.filter(pk=stance.pk).update(
        before_closes_at=later, after_opens_at=later, after_closes_at=later + timedelta(days=1)
    )
    StanceAnswer.objects.create(stance=stance, user=student, phase="before", value=2, reason="D.")
    decision = make_decision(module, QUESTION)
    # Titles of their own: the statement and the question show only from the content.
    for item, title in [(stance.item, "Where do you stand?"), (decision.item, "Decide")]:
        item.title = title
        item.save(update_fields=["title"])
    decision.reveals, decision.came_true, decision.scored_at = part_b, True, timezone.now()
    decision.save()
    DecisionCommit.objects.create(
        decision=decision, user=student, choice=0, rationale="R.", expects=True, confidence=80
    )
    spectrum = make_spectrum(module, [world.case, lenovo], title="Place them")
    spectrum.prompt, spectrum.released_at = "SPECTRUM-PROMPT: place them.", timezone.now()
    spectrum.save()
    SpectrumPlacement.objects.create(exercise=spectrum, user=student, case=lenovo, position=70)
    live = ModuleItem.objects.create(
        module=module, kind=ItemKind.LIVE_SESSION, title="Class 2", position=60
    )
    LiveClass.objects.create(item=live, attendance_percent=40, marks_for_full_credit=3)
    task = make_annotation_task(
        module, world.case, title="Annotate it", min_notes=2, min_words=20, annotate_first=True
    )
    analysis = make_analysis(
        module, case=world.case, prompt="MEMO-PROMPT: build or buy?", word_limit=800,
        allow_upload=False, peer_review=True, reviews_each=3, review_days=5,
    )  # fmt: skip
    items = [reading, quiz.item, discussion.item, stance.item, decision.item, spectrum.item]
    items += [live, task.item, analysis.item]
    cohort = world.course.cohorts.get()
    Assignment.objects.bulk_create(Assignment(item=item, cohort=cohort) for item in items)
    attempt_start(quiz=quiz, user=student)
    return {item.kind: item for item in items}


def _described(row, skip=()) -> dict:
    """What a row says: its fields but its id, `skip` and the times it was saved; a link
    into a course's bank as what that row says, since a copy has its own."""
    described = {}
    for field in row._meta.concrete_fields:
        saved_at = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
        if field.primary_key or field.name in skip or saved_at:
            continue
        value = getattr(row, field.attname)
        if value is not None and field.is_relation and field.related_model in BANK:
            value = _described(getattr(row, field.name), skip={"course"})
        described[field.name] = value
    return described


def _relations(model) -> dict:
    """The relations of a kind's content other than its own fields: rows that point to
    it and rows it is joined to, by name."""
    fields = model._meta.get_fields()
    return {f.name: f for f in fields if f.is_relation and not f.many_to_one and f.name != "item"}


def _content(item) -> dict:
    """What an item's kind's own content says, with every row related to it but its
    students' work, less the fields a new term sets afresh."""
    copying = KIND_COPIES[item.kind]
    content = content_model(item.kind).objects.get(item=item)
    described = _described(content, skip={"item", *copying.fresh})
    for name, relation in _relations(type(content)).items():
        if name in copying.work:
            continue
        if relation.many_to_many:
            described[name] = sorted(getattr(content, name).values_list("pk", flat=True))
        else:
            rows = getattr(content, relation.get_accessor_name()).order_by("pk")
            described[name] = [_described(row, skip={relation.field.name}) for row in rows]
    return described


def _duplicate(world, client_for) -> Course:
    response = client_for("instructor").post(
        reverse("cases:course_duplicate", args=[world.course.pk]),
        {"code": CODE, "title": "Run of the Red Queen, fall 2027"},
    )
    assert response.status_code == 302
    return Course.objects.get(code=CODE)


def _copy_of(course: Course, item: ModuleItem) -> ModuleItem:
    return ModuleItem.objects.get(module__course=course, title=item.title)


def test_every_relation_of_a_kinds_content_is_copied_or_left_as_students_work():
    assert set(KIND_COPIES) == set(ItemKind)
    for kind, copying in KIND_COPIES.items():
        model = content_model(kind)
        assert set(_relations(model)) == {*copying.parts, *copying.work}, kind
        assert set(copying.fresh) <= {f.name for f in model._meta.concrete_fields}, kind


def test_a_duplicate_copies_every_kinds_content_and_none_of_its_work(world, client_for):
    originals = _every_kind(world)
    assert set(originals) == set(ItemKind)
    copy = _duplicate(world, client_for)
    for kind, original in originals.items():
        copying = KIND_COPIES[kind]
        model = content_model(kind)
        theirs = model.objects.get(item=original)
        for field in model._meta.concrete_fields:
            if not field.primary_key and field.name not in ("item", *copying.fresh):
                assert getattr(theirs, field.attname) != field.get_default(), (kind, field.name)
        ours = model.objects.get(item=_copy_of(copy, original))
        assert _content(ours.item) == _content(original), kind
        for name, fresh in copying.fresh.items():
            assert getattr(theirs, name) != fresh, (kind, name)
            assert getattr(ours, name) == fresh, (kind, name)
        if copying.work:
            assert any(getattr(theirs, name).exists() for name in copying.work), kind
        for name in copying.work:
            assert not getattr(ours, name).exists(), (kind, name)


def _text(response) -> str:
    """A page's words, as a reader meets them: no tags, one space between words."""
    return " ".join(strip_tags(response.content.decode()).split())


def _next_term(course: Course, items) -> User:
    """A student of a new cohort given the course and `items`."""
    student = UserFactory(username="next_term")
    cohort = CohortFactory(name="Fall 2027")
    MembershipFactory(cohort=cohort, user=student)
    course.cohorts.add(cohort)
    Assignment.objects.bulk_create(Assignment(item=item, cohort=cohort) for item in items)
    return student


def test_each_copied_item_shows_its_content_to_its_instructor_and_a_student_given_it(
    world, client, client_for
):
    originals = _every_kind(world)
    assert set(SHOWN) == set(ItemKind)
    copy = _duplicate(world, client_for)
    copies = {kind: _copy_of(copy, item) for kind, item in originals.items()}
    newcomer = _next_term(copy, copies.values())
    for kind, original in originals.items():
        for user, item in [
            (world.users["instructor"], original),
            (world.users["instructor"], copies[kind]),
            (world.users["student"], original),
            (newcomer, copies[kind]),
        ]:
            client.force_login(user)
            response = client.get(item.get_absolute_url())
            page = _text(response)
            assert response.status_code == 200, (kind, user.username)
            assert "This activity will open here." not in page, (kind, user.username)
            for text in SHOWN[kind]:
                assert escape(text) in page, (kind, user.username, text)


def test_a_student_who_commits_to_the_copied_decision_reads_its_part_b(world, client, client_for):
    originals = _every_kind(world)
    part_b = originals[ItemKind.DECISION].decision.reveals
    copy = _duplicate(world, client_for)
    decision = _copy_of(copy, originals[ItemKind.DECISION])
    part_a = _copy_of(copy, world.item)
    client.force_login(_next_term(copy, [part_a, decision]))
    part_b_url = reverse("cases:case_detail", args=[part_b.slug])
    assert client.get(part_b_url).status_code == 404
    reading = client.get(part_a.get_absolute_url()).content.decode()
    assert "opens once you commit to the decision point" in reading
    assert decision.get_absolute_url() in reading
    choosing = _text(client.get(decision.get_absolute_url()))
    assert "Push for own R&amp;D" in choosing and "Stay a licensee" in choosing
    response = client.post(
        reverse("cases:decision_commit", args=[decision.pk]),
        {"choice": "1", "rationale": "Licensing is cheaper.", "expects": "no", "confidence": "60"},
    )
    assert response.status_code == 302
    opened = client.get(part_b_url)
    assert opened.status_code == 200 and "PART-B-TEXT" in opened.content.decode()
    page = client.get(decision.get_absolute_url()).content.decode()
    assert "FOLLOW-UP-SECRET" in page and "Read Shanghai Bell (B)" in page
    assert originals[ItemKind.DECISION].decision.commits.count() == 1  # Last term's only.


def test_a_copied_items_settings_pages_open_on_its_content(world, client_for):
    originals = _every_kind(world)
    copy = _duplicate(world, client_for)
    client = client_for("instructor")
    written = {
        ItemKind.STANCE_CHECK: STATEMENT,
        ItemKind.DECISION: PREDICTION,
        ItemKind.DISCUSSION: "Argue from the case, citing paragraphs.",
        ItemKind.ANALYSIS: "MEMO-PROMPT: build or buy?",
    }
    for kind, name in (SETTINGS_PAGES | LATER_SETTINGS_PAGES).items():
        item = _copy_of(copy, originals[kind])
        url = reverse(name, args=[item.pk])
        assert url in client.get(reverse("cases:item_edit", args=[item.pk])).content.decode()
        response = client.get(url)
        assert response.status_code == 200, kind
        assert escape(written.get(kind, "")) in response.content.decode(), kind


def test_editing_the_copied_stance_statement_leaves_the_original_as_it_was(world, client_for):
    original = _every_kind(world)[ItemKind.STANCE_CHECK]
    copy = _copy_of(_duplicate(world, client_for), original)
    client = client_for("instructor")
    url = reverse("cases:stance_settings", args=[copy.pk])
    assert escape(STATEMENT) in client.get(url).content.decode()
    response = client.post(url, {"statement": "STANCE: the next term's claim."})
    assert response.status_code == 302
    assert StanceCheck.objects.get(item=copy).statement == "STANCE: the next term's claim."
    assert StanceCheck.objects.get(item=original).statement == STATEMENT
    assert escape(STATEMENT) in client.get(original.get_absolute_url()).content.decode()
    page = client.get(copy.get_absolute_url()).content.decode()
    assert "STANCE: the next term&#x27;s claim." in page and escape(STATEMENT) not in page


def test_the_duplicate_page_names_every_kind_it_copies(world, client_for):
    page = _text(
        client_for("instructor").get(reverse("cases:course_duplicate", args=[world.course.pk]))
    )
    for label in ItemKind.labels:
        assert str(label).lower() in page, label
    assert "A copied decision point opens the same part B." in page
