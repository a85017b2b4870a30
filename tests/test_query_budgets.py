"""Pages cost the same number of queries for a class of 5 as for a class of 60.

Transaction control (BEGIN, COMMIT, savepoints) is not counted: PostgreSQL sends it
with the next statement, and the test transaction adds savepoints production lacks."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from cases.models import CaseReading, Post
from cases.permissions import _ITEM_KINDS, access_item
from cases.services.discussions import render_post
from cases.services.quizzes import attempt_start, attempt_submit
from cases.services.readings import reading_open
from tests.factories import (
    AssignmentFactory,
    CohortFactory,
    CourseFactory,
    ModuleFactory,
    ModuleItemFactory,
    UserFactory,
    enrol,
    make_case,
    make_decision,
    make_discussion,
    make_quiz,
)
from tests.helpers import FRAGMENT_BUDGET, PAGE_BUDGET, data_queries, page_queries

pytestmark = pytest.mark.django_db


def _class_of(size: int):
    """A course with two cohorts sharing `size` students, four modules of three items
    each, every item assigned to both cohorts."""
    instructor = UserFactory()
    cohorts = [CohortFactory(), CohortFactory()]
    students = enrol(cohorts[0], size - size // 2, prefix=f"a{size}-")
    enrol(cohorts[1], size // 2, prefix=f"b{size}-")
    course = CourseFactory(instructors=[instructor], cohorts=cohorts)
    first_item = None
    for m in range(4):
        module = ModuleFactory(course=course)
        for i in range(3):
            item = ModuleItemFactory(module=module)
            case = make_case(slug=f"case-{size}-{m}-{i}", created_by=instructor)
            CaseReading.objects.create(item=item, case=case)
            first_item = first_item or item
            for cohort in cohorts:
                AssignmentFactory(item=item, cohort=cohort)
    # Everyone in the class has read the first case: the reader must not care.
    for student in students:
        reading_open(user=student, case=first_item.case_reading.case)
    quiz = make_quiz(first_item.module)
    for cohort in cohorts:
        AssignmentFactory(item=quiz.item, cohort=cohort)
    # Everyone else has taken the quiz: statistics and grading must not care.
    for student in students[2:]:
        attempt = attempt_start(quiz=quiz, user=student)
        attempt_submit(attempt_id=attempt.pk, user=student)
    attempt = attempt_start(quiz=quiz, user=students[1])
    admin = UserFactory(is_staff=True)
    return {
        "quiz": quiz,
        "attempt": attempt,
        "course": course,
        "item": first_item,
        "student": students[1],
        "instructor": instructor,
        "admin": admin,
    }


PAGES = [
    ("student", lambda w: reverse("cases:home")),
    ("student", lambda w: reverse("cases:course_detail", args=[w["course"].pk])),
    ("instructor", lambda w: reverse("cases:instructor_dashboard")),
    ("instructor", lambda w: reverse("cases:course_detail", args=[w["course"].pk])),
    ("admin", lambda w: reverse("cases:cohort_list")),
    ("student", lambda w: reverse("cases:case_list")),
    ("instructor", lambda w: reverse("cases:case_list")),
    ("student", lambda w: w["item"].get_absolute_url()),
    ("instructor", lambda w: w["item"].get_absolute_url()),
    ("student", lambda w: w["item"].case_reading.case.get_absolute_url()),
    ("student", lambda w: w["quiz"].item.get_absolute_url()),
    ("student", lambda w: w["attempt"].get_absolute_url()),
    ("student", lambda w: reverse("cases:attempt_submit", args=[w["attempt"].pk])),
    ("instructor", lambda w: reverse("cases:quiz_stats", args=[w["quiz"].item.pk])),
    ("instructor", lambda w: reverse("cases:grading_queue", args=[w["course"].pk])),
    ("instructor", lambda w: reverse("cases:question_list", args=[w["course"].pk])),
    ("instructor", lambda w: reverse("cases:course_builder", args=[w["course"].pk])),
    ("instructor", lambda w: reverse("cases:course_deadlines", args=[w["course"].pk])),
    ("student", lambda w: reverse("cases:course_deadlines", args=[w["course"].pk])),
    ("instructor", lambda w: reverse("cases:item_schedule", args=[w["item"].pk])),
]


@pytest.mark.parametrize(("role", "url"), PAGES)
def test_page_queries_do_not_grow_with_class_size(client, role, url):
    counts = []
    for size in (5, 60):
        world = _class_of(size)
        client.force_login(world[role])
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url(world))
        assert response.status_code == 200
        counts.append(data_queries(queries))
    print(f"{role} {url(world)}: {counts}")
    assert counts[0] == counts[1], counts
    assert counts[1] <= PAGE_BUDGET, counts


def test_dashboard_stays_within_budget_for_a_large_class(client, django_assert_max_num_queries):
    world = _class_of(60)
    client.force_login(world["student"])
    with django_assert_max_num_queries(PAGE_BUDGET):
        client.get(reverse("cases:home"))


def test_a_students_reader_and_quiz_join_no_table_only_to_order_rows(client):
    """Rows of one parent (a module's items, a case's notes, an attempt's questions,
    their choices) are ordered by their own columns: the models' `ordering` would join
    the parent, and its parents, for an order every row shares."""
    world = _class_of(5)
    client.force_login(world["student"])
    with CaptureQueriesContext(connection) as queries:
        assert client.get(world["item"].get_absolute_url()).status_code == 200
        assert client.get(world["attempt"].get_absolute_url()).status_code == 200
    joined = {
        'WHERE ("cases_moduleitem"."module_id" =': '"cases_course"',
        'FROM "cases_annotation"': '"cases_casestudy"',
        'FROM "cases_attemptquestion"': '"cases_user"',
        'FROM "cases_attempt" ': '"cases_user"',
        'FROM "cases_choice"': '"cases_question"',
    }
    for marker, table in joined.items():
        found = [q["sql"] for q in queries.captured_queries if marker in q["sql"]]
        assert found, marker
        assert all(f"JOIN {table}" not in sql for sql in found), (marker, found)


@pytest.mark.parametrize(
    ("name", "data"),
    [("cases:reading_heartbeat", {"paragraph": "3"}), ("cases:reading_done", {"done": "1"})],
)
def test_reading_fragments_stay_within_budget(client, name, data):
    counts = []
    for size in (5, 60):
        world = _class_of(size)
        client.force_login(world["student"])
        url = reverse(name, args=[world["item"].case_reading.case.slug])
        reading_open(user=world["student"], case=world["item"].case_reading.case)
        with CaptureQueriesContext(connection) as queries:
            response = client.post(url, data, headers={"HX-Request": "true"})
        assert response.status_code in (200, 204)
        counts.append(data_queries(queries))
    print(f"people fragment: {counts}")
    assert counts[0] == counts[1], counts
    # Marking done changes the reading's grade, which asks whether an LMS takes it
    # (`grades_queue`, one query), as a grade of any kind does; a heartbeat changes none.
    assert counts[1] <= FRAGMENT_BUDGET + (name == "cases:reading_done"), counts


@pytest.mark.django_db(transaction=True)
def test_quiz_autosave_and_submit_stay_within_budget(client):
    """Counted outside a test transaction, as in production (no savepoints)."""
    counts = {"save": [], "submit": []}
    for size in (5, 30):
        world = _class_of(size)
        client.force_login(world["student"])
        attempt = world["attempt"]
        slot = attempt.slots.get(question__title="Researchers")
        with CaptureQueriesContext(connection) as queries:
            response = client.post(
                reverse("cases:attempt_save", args=[attempt.pk]),
                {"questions": str(slot.pk), f"q{slot.pk}": "1600", "seq": "5"},
                headers={"HX-Request": "true"},
            )
        assert response.status_code == 200
        counts["save"].append(data_queries(queries))
        with CaptureQueriesContext(connection) as queries:
            response = client.post(reverse("cases:attempt_submit", args=[attempt.pk]))
        assert response.status_code == 302
        counts["submit"].append(data_queries(queries))
    print("query counts:", counts)
    assert counts["save"][0] == counts["save"][1] <= FRAGMENT_BUDGET
    assert counts["submit"][0] == counts["submit"][1]


def _thread_of(size: int):
    """A discussion with `size` posts by 30 students, a third of them replies."""
    instructor = UserFactory()
    cohort = CohortFactory()
    students = enrol(cohort, 30, prefix=f"t{size}-")
    course = CourseFactory(instructors=[instructor], cohorts=[cohort])
    case = make_case(slug=f"thread-case-{size}")
    discussion = make_discussion(ModuleFactory(course=course), case)
    AssignmentFactory(item=discussion.item, cohort=cohort)
    body = "A claim from the case, citing ¶2 and ¶3, with *some* emphasis. " * 3
    html, cited = render_post(body, case, {1, 2, 3})
    posts = Post.objects.bulk_create(
        Post(
            discussion=discussion,
            author=students[n % 30],
            body=body,
            body_html=html,
            cited_paragraphs=cited,
            citation_count=len(cited),
            word_count=len(body.split()),
        )
        for n in range(size)
    )
    for n, post in enumerate(posts):
        if n % 3 == 2:
            post.parent, post.depth = posts[n - 1], 1
    Post.objects.bulk_update(posts, ["parent", "depth"])
    return {"discussion": discussion, "student": students[0], "instructor": instructor}


@pytest.mark.parametrize("role", ["student", "instructor"])
def test_thread_queries_do_not_grow_with_posts(client, role):
    counts, sizes = [], []
    for size in (10, 300):
        world = _thread_of(size)
        client.force_login(world[role])
        item = world["discussion"].item
        with CaptureQueriesContext(connection) as page:
            response = client.get(item.get_absolute_url())
        assert response.status_code == 200
        with CaptureQueriesContext(connection) as fragment:
            poll = client.get(
                reverse("cases:thread_posts", args=[item.pk]), headers={"HX-Request": "true"}
            )
        assert poll.status_code == 200
        with CaptureQueriesContext(connection) as unchanged:
            not_modified = client.get(
                reverse("cases:thread_posts", args=[item.pk]),
                headers={"HX-Request": "true", "If-None-Match": poll["ETag"]},
            )
        assert not_modified.status_code == 304
        counts.append((data_queries(page), data_queries(fragment), data_queries(unchanged)))
        sizes.append(len(response.content))
    print(f"thread {role}: queries (page, fragment, 304) {counts}; page bytes {sizes}")
    assert counts[0] == counts[1]
    page, fragment, unchanged = counts[1]
    if role == "instructor":  # No dates of their own to read (`writing_refusal`).
        assert page <= 6
    assert page <= PAGE_BUDGET
    assert fragment <= FRAGMENT_BUDGET
    assert unchanged <= 3


@pytest.mark.parametrize("name", ["cases:module_move", "cases:item_move"])
def test_reorder_fragment_queries_do_not_grow_with_class_size(client, name):
    counts = []
    for size in (5, 60):
        world = _class_of(size)
        client.force_login(world["instructor"])
        target = world["item"].module_id if name == "cases:module_move" else world["item"].pk
        with CaptureQueriesContext(connection) as queries:
            response = client.post(
                reverse(name, args=[target]), {"direction": "down"}, headers={"HX-Request": "true"}
            )
        assert response.status_code == 200
        counts.append(data_queries(queries))
    print(f"{name}: {counts}")
    assert counts[0] == counts[1], counts
    # Sign-in, access, the lock, the rows moved, one UPDATE, then the list's two reads.
    assert counts[1] <= 7, counts


def _people_of(size: int):
    """`size` people: TAs of one course (each limited to a cohort), members of a cohort,
    and as many audit entries, each naming its actor, subject, cohort and course."""
    from cases.models import AuditAction
    from cases.services.people import audit

    admin = UserFactory(is_staff=True)
    instructor = UserFactory()
    cohort = CohortFactory()
    people = enrol(cohort, size, prefix=f"p{size}-")
    course = CourseFactory(instructors=[instructor], cohorts=[cohort])
    course.teaching_assistants.add(*people)
    cohort.teaching_assistants.add(*people)
    for person in people:
        audit(
            admin,
            AuditAction.ROLE_ADD,
            f"{person} made TA",
            subject=person,
            cohort=cohort,
            course=course,
            before={"role": "none"},
            after={"role": "Teaching assistant"},
        )
    return {"admin": admin, "instructor": instructor, "course": course}


PEOPLE_PAGES = [
    ("instructor", lambda w: reverse("cases:course_people", args=[w["course"].pk])),
    ("admin", lambda w: reverse("cases:people_directory")),
    ("admin", lambda w: reverse("cases:people_directory") + "?q=p&status=active"),
    ("admin", lambda w: reverse("cases:audit_log")),
    ("admin", lambda w: reverse("cases:audit_log") + f"?action=role_add&course={w['course'].pk}"),
]


@pytest.mark.parametrize(("role", "url"), PEOPLE_PAGES)
def test_people_pages_do_not_grow_with_people_or_entries(client, role, url):
    counts = page_queries(client, _people_of, (5, 60), role, url)
    print(f"people page as {role}: {counts}")
    assert counts[0] == counts[1], counts
    assert counts[1] <= PAGE_BUDGET, counts


@pytest.mark.parametrize(
    "url",
    [
        lambda w: reverse("cases:people_directory") + "?q=p",
        lambda w: reverse("cases:audit_log") + "?action=role_add",
    ],
)
def test_people_fragments_stay_within_budget(client, url):
    counts = []
    for size in (5, 60):
        world = _people_of(size)
        client.force_login(world["admin"])
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url(world), headers={"HX-Request": "true"})
        assert response.status_code == 200
        counts.append(data_queries(queries))
    print(f"people fragment: {counts}")
    assert counts[0] == counts[1], counts
    assert counts[1] <= FRAGMENT_BUDGET, counts


def _cohort_of(size: int):
    """A cohort of `size` students taking two courses, beside two other cohorts; an
    admin to look at it."""
    cohort = CohortFactory()
    enrol(cohort, size, prefix=f"c{size}-")
    for _ in range(2):
        CourseFactory(cohorts=[cohort, CohortFactory()])
    return {"cohort": cohort, "admin": UserFactory(is_staff=True)}


def test_cohort_page_queries_do_not_grow_with_its_members(client):
    def url(world):
        return reverse("cases:cohort_detail", args=[world["cohort"].pk])

    counts = page_queries(client, _cohort_of, (5, 60), "admin", url)
    print(f"cohort page: {counts}")
    assert counts[0] == counts[1] <= PAGE_BUDGET, counts


def test_cohort_members_fragment_stays_within_budget(client):
    counts = []
    for size in (5, 60):
        world = _cohort_of(size)
        client.force_login(world["admin"])
        url = reverse("cases:cohort_detail", args=[world["cohort"].pk])
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, {"page": "1"}, headers={"HX-Request": "true"})
        assert response.status_code == 200
        counts.append(data_queries(queries))
    print(f"cohort members fragment: {counts}")
    assert counts[0] == counts[1] <= FRAGMENT_BUDGET, counts


def _part_a_class(size: int):
    """A case reading whose case has a part B, opened by a decision point not yet
    committed to, for a class of `size`."""
    instructor = UserFactory()
    cohort = CohortFactory()
    students = enrol(cohort, size, prefix=f"pa{size}-")
    course = CourseFactory(instructors=[instructor], cohorts=[cohort])
    module = ModuleFactory(course=course)
    case = make_case(slug=f"part-a-{size}")
    make_case(slug=f"part-b-{size}", title="Part B", follows=case)
    item = ModuleItemFactory(module=module)
    CaseReading.objects.create(item=item, case=case)
    AssignmentFactory(item=item, cohort=cohort)
    decision = make_decision(module)
    decision.reveals = case.sequels.get()
    decision.save()
    AssignmentFactory(item=decision.item, cohort=cohort)
    reading_open(user=students[0], case=case)  # Not the first open: that one records more.
    return {"item": item, "student": students[0], "case": case}


@pytest.mark.parametrize("where", ["item", "library"])
def test_a_part_as_reader_stays_within_budget_with_its_locked_part_b(client, where):
    """The reader of a case with a part B also says what opens it: still one page."""
    counts = page_queries(
        client,
        _part_a_class,
        (5, 40),
        "student",
        url=(lambda w: w["case"].get_absolute_url()) if where == "library" else None,
    )
    assert counts[0] == counts[1] <= PAGE_BUDGET, counts


def test_a_thread_page_reads_its_cases_name_and_links_not_its_text(client):
    """A discussion's access query leaves its case's text out (`CASE_TEXT`), whether the
    process knows the item's kind yet or not, and no later query fetches it: the page
    still names the case and links a post's ¶ citations into it, for a student and
    then for the instructor."""
    world = _thread_of(3)
    item, case = world["discussion"].item, world["discussion"].case
    _ITEM_KINDS.pop(item.pk, None)
    for role in ("student", "instructor"):
        loaded, _access = access_item(world[role], item.pk)
        assert {
            "body",
            "body_html",
            "teaching_notes",
        } <= loaded.discussion.case.get_deferred_fields()
        client.force_login(world[role])
        with CaptureQueriesContext(connection) as page:
            response = client.get(item.get_absolute_url())
        html = response.content.decode()
        assert response.status_code == 200
        assert escape(case.title) in html
        assert f"{case.get_absolute_url()}#p2" in html
        fetched = ' FROM "cases_casestudy" WHERE "cases_casestudy"."id" = '
        assert not any(fetched in q["sql"] for q in page.captured_queries)
