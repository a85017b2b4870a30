"""Querysets compiled once per connection (cases/compiled.py): each of the app's gives
what its plain queryset gives, and the mechanism binds each call's own values."""

from datetime import datetime, timedelta

import pytest
from django.db import connection, connections, transaction
from django.db.models import Prefetch
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from cases.backends import ThrottledModelBackend
from cases.compiled import compiled
from cases.models import (
    Accommodation,
    Assignment,
    AttemptQuestion,
    Course,
    Extension,
    Membership,
    ModuleItem,
    Work,
    WorkStatus,
)
from cases.models.schedule import _student_assignments
from cases.models.workspace import STATUS_FIELDS
from cases.permissions import (
    CaseAccess,
    _item_with_access,
    _joined_session,
    _live_session_with_access,
    _running_with_access,
    access_item,
    items_with_access,
    live_sessions_with_access,
)
from cases.services.annotations import (
    Selection,
    _layer_notes,
    _student_layer,
    _visible_to_student,
    annotation_create,
)
from cases.services.discussions import post_create
from cases.services.live import join, session_start
from cases.services.peer_review import _pending_reviews
from cases.services.quizzes import (
    _accommodations,
    _slots_to_save,
    answers_save,
    attempt_start,
    attempt_submit,
    slots_with_answers,
)
from cases.services.readings import _cited_for_student, _students_cited
from cases.services.workspace.work import student_items
from cases.views.courses import _courses_taken, _due_work
from tests.conftest import ROLES
from tests.factories import (
    AssignmentFactory,
    CohortFactory,
    MembershipFactory,
    make_annotation_task,
    make_live,
)
from tests.helpers import answer_all_right, quiz_slots

pytestmark = pytest.mark.django_db


def rows(queryset, *fields):
    return [tuple(getattr(row, f) for f in ("pk", *fields)) for row in queryset]


def test_the_save_lock_matches_its_queryset_for_the_owner_and_for_another(world):
    student, other = world.users["student"], world.users["other_student"]
    slots = list(world.attempt.slots.order_by("pk").values_list("pk", flat=True))
    answers_save(
        attempt_id=world.attempt.pk, user=student, answers={slots[0]: {"choices": ["0"]}}, seq=1
    )
    fields = ("answered", "questions", "attempt_id", "question_id")
    with transaction.atomic():
        for user in (student, other):
            for chosen in (slots[:1], slots[:2], slots):
                arguments = {
                    **{"attempt": world.attempt.pk, "user": user.pk, "slots": chosen},
                    "now": timezone.now(),
                }
                got = list(_slots_to_save(**arguments))
                assert rows(got, *fields) == rows(_slots_to_save.build(**arguments), *fields)
                if user == student:
                    assert [s.pk for s in got] == chosen
                    assert {s.answered for s in got} == {1}
                    # select_related came along: no query for the attempt or the answer.
                    assert got[0].attempt.quiz_id == world.quiz.pk
                    assert got[0].answer.seq in (0, 1)
                else:
                    assert got == []


def test_the_assignment_lookup_follows_an_extension_given_between_two_calls(world):
    student = world.users["student"]
    item = world.quiz.item_id
    plain = list(Assignment.objects.seen_by(student).filter(item=item))
    first = list(_student_assignments(item=item, user=student.pk))
    assert rows(first, "due_at") == rows(plain, "due_at")
    assert not getattr(first[0], "extended", False)

    later = timezone.now() + timedelta(days=9)
    Extension.objects.create(assignment=first[0], user=student, due_at=later)
    second = list(_student_assignments(item=item, user=student))
    assert second[0].due_at == later and second[0].extended
    # Another student of the cohort keeps the cohort's date.
    peer = world.users["student_ta_elsewhere"]
    [theirs] = _student_assignments(item=item, user=peer)
    assert theirs.due_at != later
    # Nobody's assignment for a student of another cohort.
    assert list(_student_assignments(item=item, user=world.users["other_student"])) == []


def test_the_accommodation_lookup_is_each_students_own(world):
    student, peer = world.users["student"], world.users["student_ta_elsewhere"]
    Accommodation.objects.create(course=world.course, student=student, extra_minutes=15)
    item = world.quiz.item_id
    got = list(_accommodations(user=student.pk, item=item))
    assert rows(got) == rows(_accommodations.build(user=student.pk, item=item))
    assert len(got) == 1 and got[0].student_id == student.pk
    assert list(_accommodations(user=peer.pk, item=item)) == []


def test_two_lazy_calls_keep_their_own_values(world):
    student, peer = world.users["student"], world.users["student_ta_elsewhere"]
    cohort = CohortFactory(name="Section B")
    MembershipFactory(cohort=cohort, user=peer)
    world.course.cohorts.add(cohort)
    AssignmentFactory(item=world.item, cohort=cohort)
    # Both made before either is read: the second must not take over the first's values.
    mine = _student_assignments(item=world.item.pk, user=student.pk)
    theirs = _student_assignments(item=world.item.pk, user=peer.pk)
    assert {a.cohort_id for a in theirs} == set(
        Membership.objects.filter(user=peer).values_list("cohort_id", flat=True)
    )
    assert [a.cohort_id for a in mine] == [world.course.cohorts.get(name="Section A").pk]


def test_the_builder_runs_once_a_shape_and_each_call_is_one_query(world, django_assert_num_queries):
    built = []

    @compiled
    def titles(module, items):
        built.append(len(items))
        return ModuleItem.objects.filter(module_id=module, pk__in=items).order_by("pk")

    module = world.item.module_id
    everything = list(ModuleItem.objects.filter(module_id=module).order_by("pk"))
    ids = [i.pk for i in everything]
    for _ in range(2):
        with django_assert_num_queries(1):
            assert list(titles(module=module, items=ids[:1])) == everything[:1]
        with django_assert_num_queries(1):
            assert list(titles(module=module, items=ids)) == everything
    # One build a list length (each is its own SQL), not one a call.
    assert built == [1, len(ids)]
    assert list(titles(module=0, items=ids)) == []
    # values_list() and model instances as values.
    compiled_values = compiled(
        lambda module: ModuleItem.objects.filter(module_id=module).values_list("pk", flat=True)
    )
    assert sorted(compiled_values(module=world.item.module)) == sorted(ids)


def test_a_builder_that_computes_with_a_value_is_refused_not_wrong(world):
    @compiled
    def next_item(item):
        return ModuleItem.objects.filter(pk=item + 1)

    with pytest.raises(ValueError, match="item did not reach the SQL"):
        list(next_item(item=world.item.pk))
    with pytest.raises(TypeError):
        _student_assignments(item=world.item.pk)
    with pytest.raises(TypeError):
        _student_assignments(item=None, user=world.users["student"].pk)


@pytest.mark.django_db(transaction=True)
def test_locking_outside_a_transaction_is_refused_as_the_orm_refuses_it(world):
    arguments = {"attempt": world.attempt.pk, "user": world.users["student"].pk, "slots": [1]}
    arguments["now"] = timezone.now()
    if not connection.features.has_select_for_update:  # SQLite: a lock is a no-op.
        assert list(_slots_to_save.build(**arguments)) == list(_slots_to_save(**arguments))
        return
    with pytest.raises(TransactionManagementError):
        list(_slots_to_save.build(**arguments))
    with pytest.raises(TransactionManagementError):
        _slots_to_save(**arguments)


def test_autosaving_twice_then_from_a_second_attempt_reports_each_attempts_counts(world):
    """The save's journey through the compiled lock: the counts follow each save, and a
    second attempt (another student) gets its own, not the first one's."""
    student = world.users["student"]
    slots = quiz_slots(world.attempt)
    first = answers_save(
        attempt_id=world.attempt.pk,
        user=student,
        answers={slots["Argue"].pk: {"value": "A D firm."}},
        seq=1,
    )
    second = answers_save(
        attempt_id=world.attempt.pk,
        user=student,
        answers={slots["Owner"].pk: {"value": "false"}, slots["Argue"].pk: {"value": "An R."}},
        seq=2,
    )
    assert (first.answered, second.answered, second.total) == (1, 2, first.total)
    peer = world.users["student_ta_elsewhere"]
    theirs = attempt_start(quiz=world.quiz, user=peer)
    their_slot = AttemptQuestion.objects.filter(attempt=theirs).order_by("pk").first()
    saved = answers_save(
        attempt_id=theirs.pk, user=peer, answers={their_slot.pk: {"choices": ["0"]}}, seq=1
    )
    assert saved.answered == 1
    with pytest.raises(type(world.attempt).DoesNotExist):
        answers_save(
            attempt_id=theirs.pk, user=student, answers={their_slot.pk: {"value": "x"}}, seq=3
        )


@pytest.mark.parametrize("role", [r for r in ROLES if r != "anonymous"])
def test_the_item_access_query_matches_its_queryset_for_every_role_and_kind(world, role):
    user = world.users[role]
    now = timezone.now()
    fields = ("kind", "_assigned", "_teaches_any", "_is_instructor", "_is_ta", "_is_student")
    for item in (world.item, world.quiz.item, world.discussion.item):
        plain = items_with_access(user, item.kind, now).filter(pk=item.pk)
        for kind in (item.kind, None):
            got = list(_item_with_access(item=item.pk, user=user, now=now, kind=kind))
            assert rows(got, *fields) == rows(plain, *fields)


def test_the_readers_progress_joined_to_the_item_is_the_stored_row_whole(
    world, django_assert_num_queries
):
    """Once the process knows a reading's kind, its access query brings the student's
    progress on the case: every column of the stored row, none left to load later, and
    none for a student who has not opened it."""
    from cases.models import ReadingProgress
    from cases.services.readings import NOT_JOINED, progress_joined, reading_open

    student, case = world.users["student"], world.case
    access_item(student, world.item.pk)  # The kind, now known to the process.
    item, _access = access_item(student, world.item.pk)
    assert progress_joined(item, user=student, case=case) is None
    # A classmate's row first: the student's row, user and case ids then all differ.
    reading_open(user=world.users["student_ta_elsewhere"], case=case)
    reading_open(user=student, case=case)
    item, _access = access_item(student, world.item.pk)
    joined = progress_joined(item, user=student, case=case)
    stored = ReadingProgress.objects.get(user=student, case=case)
    with django_assert_num_queries(0):
        fields = [field.attname for field in ReadingProgress._meta.concrete_fields]
        assert [getattr(joined, name) for name in fields] == [
            getattr(stored, name) for name in fields
        ]
    item = ModuleItem.objects.get(pk=world.item.pk)  # No access query: not joined.
    assert progress_joined(item, user=student, case=case) is NOT_JOINED


def test_an_item_opening_later_is_not_given_until_then_through_the_compiled_query(world):
    student = world.users["student"]
    Assignment.objects.filter(item=world.item).update(opens_at=timezone.now() + timedelta(hours=1))
    later = timezone.now() + timedelta(hours=2)
    kind = world.item.kind
    [before] = _item_with_access(item=world.item.pk, user=student, now=timezone.now(), kind=kind)
    [after] = _item_with_access(item=world.item.pk, user=student, now=later, kind=kind)
    assert (before._assigned, after._assigned) == (False, True)


def test_a_time_made_inside_a_builder_is_refused(world):
    @compiled
    def open_items(item):
        return Assignment.objects.open().filter(item=item)

    with pytest.raises(ValueError, match="would stay that moment"):
        open_items(item=world.item.pk)
    with pytest.raises(TypeError, match="aware"):
        _item_with_access(item=world.item.pk, user=1, now=datetime(2026, 1, 1), kind=None)


@pytest.mark.parametrize("role", [r for r in ROLES if r != "anonymous"])
def test_the_live_session_queries_match_their_querysets(world, role, django_assert_num_queries):
    user = world.users[role]
    session = make_live(
        world.item.module, world.course.cohorts.all(), start_by=world.users["instructor"]
    )
    if role == "student":
        join(session, user)
    now = timezone.now()
    fields = ("_is_instructor", "_is_ta", "_is_student", "_in_cohort", "_assigned", "_joined")
    plain = live_sessions_with_access(user, now).filter(pk=session.pk)
    got = _live_session_with_access(session=session.pk, user=user, now=now)
    assert rows(got, *fields) == rows(plain, *fields)
    for with_answer in (False, True):
        joined = _joined_session(session=session.pk, user=user, with_answer=with_answer)
        assert [s._joined for s in joined] == [role == "student"]
    # Two running, in the model's order (newest first), as the plain queryset gives them.
    make_live(world.item.module, world.course.cohorts.all(), start_by=world.users["instructor"])
    courses = [world.course.pk, world.other_course.pk]
    since = now - timedelta(hours=6)
    running = list(_running_with_access(courses=courses, user=user, now=now, since=since))
    plain = live_sessions_with_access(user, now).running(since).filter(course__in=courses)
    shown = ("title", "cohort_id", "item_id")
    assert rows(running, *fields, *shown) == rows(plain, *fields, *shown)
    assert len(rows(plain)) == 2
    # What the dashboard's "Live now" shows of each comes with it.
    with django_assert_num_queries(0):
        assert [s.course.code for s in running] == [world.course.code] * 2


def test_an_empty_list_gives_no_rows_and_a_later_full_one_gives_its_own(world):
    @compiled
    def items(module, ids):
        return ModuleItem.objects.filter(module_id=module, pk__in=ids)

    module = world.item.module_id
    assert list(items(module=module, ids=[])) == []
    assert list(items(module=module, ids=[world.item.pk])) == [world.item]
    assert list(items(module=module, ids=[])) == []


def test_refining_a_compiled_query_is_refused_rather_than_ignored(world):
    rows_of = _student_assignments(item=world.quiz.item_id, user=world.users["student"])
    for refine in (
        lambda q: q.filter(pk=0),
        lambda q: q.first(),
        lambda q: q.count(),
        lambda q: q.exists(),
    ):
        with pytest.raises(TypeError, match="run as it is"):
            refine(rows_of)
    assert len(list(rows_of)) == 1


@pytest.mark.parametrize("role", [r for r in ROLES if r != "anonymous"])
def test_the_dashboards_queries_match_their_querysets(world, role):
    user = world.users[role]
    now = timezone.now()
    Extension.objects.create(
        assignment=Assignment.objects.get(item=world.quiz.item),
        user=world.users["student"],
        due_at=now + timedelta(days=2),
    )
    session_start(course=world.course, by=world.users["instructor"], title="Live")
    attempt_submit(attempt_id=world.attempt.pk, user=world.users["student"])  # Work to join.
    due = {"user": user, "now": now, "since": now - timedelta(days=7)}
    if role == "student":
        quiz = next(a for a in _due_work(**due) if a.item_id == world.quiz.item_id)
        assert (quiz._work_state, quiz._work_auto_score) == (WorkStatus.SUBMITTED, 0)
    cases = [
        (
            _courses_taken,
            {"user": user, "live_since": now - timedelta(hours=6)},
            ("module_count", "live_running", "reviews_pending"),
        ),
        (_due_work, due, ("due_at", "_work_id", "_work_state", "_work_submitted_at")),
    ]
    for query, arguments, fields in cases:
        assert rows(query(**arguments), *fields) == rows(query.build(**_ids(arguments)), *fields)
    assert list(_pending_reviews(reviewer=user)) == list(_pending_reviews.build(reviewer=user.pk))
    # Each row's Work, made from the joined columns, is the stored row (the fields the
    # dashboard reads) with the model's defaults for the rest, each its own.
    entries = [e for e in student_items(user, _due_work(**due), now) if e.work is not None]
    assert bool(entries) == (role == "student")
    for entry in entries:
        stored = Work.objects.get(item=entry.item, user=user)
        for name in ("pk", "item_id", "user_id", *STATUS_FIELDS):
            assert getattr(entry.work, name) == getattr(stored, name), name
        assert (entry.work.rubric_levels, entry.work.feedback) == ({}, "")
    again = [e for e in student_items(user, _due_work(**due), now) if e.work is not None]
    for entry, twin in zip(entries, again, strict=True):
        assert entry.work.rubric_levels is not twin.work.rubric_levels


def test_rows_are_typed_as_the_orm_types_them_each_time_a_shape_runs(world):
    """A shape works out once how its columns become Python values: the third run of the
    due work still gives aware datetimes, as its plain queryset does, with a hand-in
    between the runs."""
    student = world.users["student"]
    now = timezone.now()
    due = {"user": student, "now": now, "since": now - timedelta(days=7)}
    fields = ("due_at", "_work_state", "_work_submitted_at")
    for run in range(3):
        if run == 1:
            attempt_submit(attempt_id=world.attempt.pk, user=student)
        got = rows(_due_work(**due), *fields)
        assert got == rows(_due_work.build(**_ids(due)), *fields)
        dated = [row[1] for row in got if row[1] is not None]
        assert dated and all(timezone.is_aware(at) for at in dated)
    handed_in = [row[3] for row in got if row[3] is not None]
    assert handed_in and all(isinstance(at, datetime) for at in handed_in)


def _ids(arguments: dict) -> dict:
    return {k: getattr(v, "pk", v) for k, v in arguments.items()}


def test_keyword_only_parameters_choose_the_shape_and_first_gives_a_row_or_none(world):
    built = []

    @compiled
    def items(module, *, newest: bool):
        built.append(newest)
        return ModuleItem.objects.filter(module_id=module).order_by("-pk" if newest else "pk")

    module = world.item.module_id
    ordered = list(ModuleItem.objects.filter(module_id=module).order_by("pk"))
    for _ in range(2):
        assert items.first(module=module, newest=False) == ordered[0]
        assert items.first(module=module, newest=True) == ordered[-1]
    assert built == [False, True]
    assert items.first(module=0, newest=True) is None


def test_the_readers_layer_and_margin_match_their_querysets_as_classmates_write(world):
    """A student's notes and the margin's citation counts, compiled, against the plain
    querysets: before anyone writes, after a classmate's shared note and post citing a
    paragraph, and with annotate-first asked of the reading (gated until the student's
    own note)."""
    student, other = world.users["student"], world.users["student_ta_elsewhere"]
    case, now = world.item.case_reading.case, timezone.now()
    access = CaseAccess(is_teaching_staff=False, can_edit=False)

    def check():
        for user in (student, other):
            args = {"user": user.pk, "case": case.pk, "now": now}
            plain = _visible_to_student(user.pk, case.pk).filter(_layer_notes(user.pk))
            assert list(_student_layer(**args)) == list(_student_layer.build(**args))
            assert {r["pk"] for r in _student_layer(**args)} == set(
                plain.values_list("pk", flat=True)
            )
            assert sorted(_students_cited(**args)) == sorted(_students_cited.build(**args))
            # Kept per thread version for the threads the student is given: the same.
            assert sorted(_cited_for_student(case, user)) == sorted(_students_cited(**args))
        return {r["pk"]: r["gated"] for r in _student_layer(user=student.pk, case=case.pk, now=now)}

    assert check() == {}
    note = annotation_create(
        case=case, author=other, access=access, selection=Selection(1, 0, 1, 5), body="Look here"
    )
    post_create(discussion=world.discussion, author=other, body="As ¶1 shows, it pays.")
    assert check() == {note.pk: False}
    assert ([1], 1) in list(_students_cited(user=student.pk, case=case.pk, now=now))
    make_annotation_task(world.item.module, case, world.course.cohorts.all(), annotate_first=True)
    assert check() == {note.pk: True}  # Held back until the student writes one,
    own = annotation_create(
        case=case, author=student, access=access, selection=Selection(2, 0, 2, 5), body="Mine"
    )
    assert check() == {note.pk: False, own.pk: False}  # then given.


def test_an_attempts_slots_match_their_prefetching_queryset_after_answers_are_saved(world):
    """The take page's two compiled queries (`slots_with_answers`) against the related
    manager with its prefetch, before and after the student answers."""

    def plain():
        slots = world.attempt.slots.select_related("question", "answer").prefetch_related(
            Prefetch("question__choices", to_attr="all_choices")
        )
        return [(s.pk, s.question_id, s.answer.response, s.question.all_choices) for s in slots]

    def compiled_():
        slots = slots_with_answers(world.attempt)
        return [(s.pk, s.question_id, s.answer.response, s.question.all_choices) for s in slots]

    assert compiled_() == plain() and len(plain()) > 1
    assert any(choices for *_, choices in plain())
    answer_all_right(world.attempt, world.users["student"])
    assert compiled_() == plain() != []
    assert all(response for _pk, _q, response, _c in compiled_())


@pytest.mark.parametrize("role", [r for r in ROLES if r != "anonymous"])
def test_the_session_user_says_whether_they_teach_as_the_orm_would(world, role):
    """The user each request loads comes with `_teaching_staff` (the navigation's
    question), which must agree with the ORM's answer: a TA elsewhere teaches."""
    user = world.users[role]
    loaded = ThrottledModelBackend().get_user(user.pk)
    assert loaded._teaching_staff == Course.objects.taught_by(user).exists()
    assert loaded._teaching_staff == (
        role in ("instructor", "other_instructor", "ta", "student_ta_elsewhere")
    )


@pytest.mark.parametrize("role", [r for r in ROLES if r not in ("anonymous", "admin")])
def test_the_case_access_query_matches_its_queryset_for_every_role(world, role):
    from cases.permissions import _case_with_access, cases_for_user

    user = world.users[role]
    now = timezone.now()
    fields = ("slug", "_staff", "_has_part_b")
    plain = cases_for_user(user).filter(pk=world.case.pk)
    got = _case_with_access(case=world.case.pk, user=user, now=now)
    assert rows(got, *fields) == rows(plain, *fields)


def test_a_case_is_found_by_its_slug_after_it_changes_and_never_by_the_old_one(world, client):
    """The case's id by its slug is a hint: a case whose slug changed is found by the
    new one, the old one is not found, and another case given the old slug is that
    case, each time for a student as for the staff."""
    from django.urls import reverse

    from cases.models import CaseStudy

    old = world.case.slug
    for role in ("student", "instructor", "student_ta_elsewhere"):
        client.force_login(world.users[role])
        assert client.get(reverse("cases:case_detail", args=[old])).status_code == 200
    CaseStudy.objects.filter(pk=world.case.pk).update(slug="renamed")
    for role in ("student", "instructor"):
        client.force_login(world.users[role])
        assert client.get(reverse("cases:case_detail", args=[old])).status_code == 404
        assert client.get(reverse("cases:case_detail", args=["renamed"])).status_code == 200
    other = CaseStudy.objects.create(
        slug=old, title="Another case", company="Another", created_by=world.users["instructor"]
    )
    client.force_login(world.users["instructor"])
    page = client.get(reverse("cases:case_detail", args=[old]))
    assert page.status_code == 200 and other.title in page.content.decode()


def test_a_threads_votes_and_following_match_their_querysets_as_the_student_acts(world):
    """The thread page's questions of the viewer (their upvotes, whether they follow),
    asked in one query, again after each change."""
    from cases.models import Follow, Upvote
    from cases.services.discussions import ViewerMarks, _marks

    discussion, student = world.discussion, world.users["other_student"]

    def agree():
        given = {"discussion": discussion.pk, "user": student.pk}
        assert sorted(_marks(**given)) == sorted(_marks.build(**given))
        marks = ViewerMarks(discussion, student)
        voted = Upvote.objects.filter(post__discussion=discussion, user=student)
        assert marks.votes == set(voted.values_list("post_id", flat=True))
        follows = Follow.objects.filter(discussion=discussion, user=student).exists()
        assert marks.following is follows
        return marks

    marks = agree()
    assert (marks.votes, marks.following) == (set(), False)
    Follow.objects.create(discussion=discussion, user=student)
    Upvote.objects.create(post=world.post, user=student)
    marks = agree()
    assert (marks.votes, marks.following) == ({world.post.pk}, True)
    Follow.objects.filter(discussion=discussion, user=student).delete()
    marks = agree()
    assert (marks.votes, marks.following) == ({world.post.pk}, False)


@pytest.mark.parametrize("names", [True, False])
def test_a_threads_page_of_posts_matches_its_queryset_for_a_voter_and_for_nobody(world, names):
    """The posts a thread's page loads whole, with the viewer's upvotes (or nobody's, for
    the page every student sees alike) and their authors when names show."""
    from cases.models import Upvote
    from cases.services.discussions import _page_posts, _page_posts_alike, post_create

    student = world.users["other_student"]
    reply = post_create(
        discussion=world.discussion, author=world.users["ta"], body="Why?", parent=world.post
    )
    Upvote.objects.create(post=reply, user=student)
    ids = [world.post.pk, reply.pk]
    fields = ("body", "voted", "author_instructs", "author_assists", "author_id")

    def same(query, **arguments):
        assert rows(query(**arguments), *fields) == rows(query.build(**arguments), *fields)
        return {post.pk: post.voted for post in query(**arguments)}

    mine = same(_page_posts, discussion=world.discussion.pk, user=student.pk, ids=ids, names=names)
    assert mine == {world.post.pk: False, reply.pk: True}
    alike = same(_page_posts_alike, discussion=world.discussion.pk, ids=ids, names=names)
    assert alike == {world.post.pk: False, reply.pk: False}


def test_a_threads_pages_of_any_length_load_their_own_posts_from_a_few_shapes(world):
    """A page's ids are padded (`padded`) to a power of two: as a thread grows a post at
    a time, each page loads exactly its own posts, and the connection compiles three
    shapes for twenty lengths, not twenty."""
    from cases.compiled import padded
    from cases.models import Post
    from cases.services.discussions import _page_posts, page_loader

    assert padded([]) == []
    assert padded([5]) == [5] * 8
    assert padded(list(range(1, 10))) == [*range(1, 10), *[9] * 7]
    student = world.users["student"]
    _item, access = access_item(student, world.discussion.item_id)
    load = page_loader(world.discussion, student, access)
    shapes = connections["default"].__dict__.setdefault("_compiled_shapes", {})
    for key in [key for key in shapes if key[0] is _page_posts.build]:
        del shapes[key]  # Compiled by an earlier test on this connection.
    ids = [world.post.pk]
    for n in range(19):
        body = f"Point {n}."
        post = Post.objects.create(
            discussion=world.discussion, author=student, body=body, body_html=f"<p>{body}</p>"
        )
        ids.append(post.pk)
        assert set(load(ids)) == set(ids)
    made = [key for key in shapes if key[0] is _page_posts.build]
    assert sorted(key[3] for key in made) == [8, 16, 32]  # The length of `ids`.


def _row(model) -> tuple:
    """What work_sync reads of a Work or an Attempt."""
    return (model.pk, model.user_id, model.state, model.submitted_at)


def test_work_syncs_reads_match_their_querysets_as_students_post_are_graded_and_submit(world):
    """`work_sync` reads a hand-in's rows compiled for one student and composed for
    several: both give what the plain queryset gives, after each step of a journey, and
    the student's Work follows each step."""
    from django.db.models import Max, Min, OuterRef, Subquery

    from cases.models import Attempt, ParticipationGrade, Post, Work
    from cases.services.discussions import participation_grade, post_delete
    from cases.services.workspace.work import (
        _attempts,
        _for_students,
        _participation_points,
        _posted,
        _works,
    )

    discussion, student = world.discussion, world.users["student"]
    other = world.users["other_student"]
    MembershipFactory(cohort=world.course.cohorts.get(), user=other)

    def agree():
        # Each read as work_sync asked it before it was compiled, written out here.
        for users in ([student.pk], [student.pk, other.pk]):
            posts = Post.objects.filter(
                discussion=discussion, author__in=users, deleted_at__isnull=True
            )
            grades = ParticipationGrade.objects.filter(discussion=discussion, user__in=users)
            works = Work.objects.filter(item=discussion.item, user__in=users)
            attempts = Attempt.objects.filter(quiz=world.quiz, user__in=users)
            graded = Work.objects.filter(item=discussion.item, user=OuterRef("author"))
            spans = posts.values("author").annotate(
                first=Min("created_at"),
                last=Max("created_at"),
                graded_at=Subquery(graded.values("graded_at")[:1]),
            )
            given = [
                (_works, {"item": discussion.item_id}, works, _row),
                (_attempts, {"quiz": world.quiz.pk}, attempts, _row),
                (
                    _posted,
                    {"discussion": discussion.pk},
                    spans.order_by().values_list("author", "first", "last", "graded_at"),
                    tuple,
                ),
                (
                    _participation_points,
                    {"discussion": discussion.pk},
                    grades.values_list("user", "points", "graded_at"),
                    tuple,
                ),
            ]
            for query, values, plain, shown in given:
                # Each student named twice, as a roster of two cohorts may name them.
                got = _for_students(query, users=[*users, *users], **values)
                assert sorted(map(shown, got)) == sorted(map(shown, plain))
        return Work.objects.get(item=discussion.item, user=student)

    second = post_create(discussion=discussion, author=student, body="And ¶3 agrees.")
    work = agree()
    assert (work.state, work.submitted_at) == (WorkStatus.SUBMITTED, world.post.created_at)
    post_create(discussion=discussion, author=other, body="I read ¶2 otherwise.")
    participation_grade(
        discussion=discussion, user_id=student.pk, points=8, comment="", grader=world.users["ta"]
    )
    work = agree()
    assert (work.auto_score, work.needs_grading) == (8, False)
    post_delete(post=world.post)
    work = agree()
    assert work.submitted_at == second.created_at
    post_delete(post=second)
    work = agree()
    assert (work.state, work.submitted_at) == (WorkStatus.NOT_STARTED, None)
    answer_all_right(world.attempt, student)
    attempt_submit(attempt_id=world.attempt.pk, user=student)
    agree()
    quiz_work = Work.objects.get(item=world.quiz.item, user=student)
    assert quiz_work.state == WorkStatus.SUBMITTED


def test_the_submit_lock_is_the_owners_alone_and_a_second_submit_changes_nothing(world, client):
    """The submit locks the student's own attempt through a compiled query: another
    student's submit of it is a 404, the owner's submits it, and submitting again
    (a retry) leaves it as the first submit left it."""
    from django.urls import reverse

    from cases.models import Attempt
    from cases.services.quizzes import _attempts_to_lock, _own_attempt_to_lock

    student, other = world.users["student"], world.users["other_student"]
    with transaction.atomic():
        for user in (student, other):
            now = timezone.now()
            given = {"attempt": world.attempt.pk, "user": user.pk, "now": now}
            got = list(_own_attempt_to_lock(**given))
            plain = _attempts_to_lock().filter(pk=world.attempt.pk, user=user).given(now)
            assert rows(got, "state", "quiz_id") == rows(plain, "state", "quiz_id")
            assert len(got) == (user == student)
    answer_all_right(world.attempt, student)
    client.force_login(other)
    url = reverse("cases:attempt_submit", args=[world.attempt.pk])
    assert client.post(url).status_code == 404
    client.force_login(student)
    submitted = []
    for _ in range(2):
        assert client.post(url).status_code == 302
        attempt = Attempt.objects.get(pk=world.attempt.pk)
        assert attempt.state == "submitted"
        assert attempt.score > 0
        submitted.append(attempt.submitted_at)
    assert submitted[0] == submitted[1]


def test_a_posts_rate_and_the_threads_state_follow_each_post_and_a_lock(world):
    """The post's compiled reads: the author's posts in the last minute (the rate
    limit's count) and the thread's version and lock, after each of two posts and a
    lock, as the plain queries give them."""
    from cases.models import Discussion, Post
    from cases.services.discussions import (
        _posts_since,
        _thread_state,
        discussion_lock,
        thread_state_refresh,
    )

    discussion, student = world.discussion, world.users["student"]
    since = timezone.now() - timedelta(minutes=1)

    def agree(posts: int, locked: bool):
        plain = Post.objects.filter(author=student, created_at__gte=since).count()
        assert (_posts_since.first(author=student.pk, since=since) or 0) == plain == posts
        thread_state_refresh(discussion)
        stored = Discussion.objects.get(pk=discussion.pk)
        assert (discussion.version, discussion.locked) == (stored.version, stored.locked)
        assert _thread_state.first(discussion=discussion.pk) == (stored.version, locked)

    agree(1, False)  # The world's post, made a moment ago.
    post_create(discussion=discussion, author=student, body="And ¶3.")
    agree(2, False)
    discussion_lock(discussion=discussion, locked=True)
    agree(2, True)
    assert _posts_since.first(author=world.users["other_student"].pk, since=since) is None
