"""The course builder: courses, modules and items made, ordered, copied, duplicated."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from cases.models import (
    Attempt,
    CaseReading,
    Choice,
    Course,
    Discussion,
    GradeCategory,
    ItemKind,
    Module,
    ModuleItem,
    Post,
    Question,
    QuestionCategory,
    Quiz,
    QuizSlot,
    ReadingProgress,
    Rubric,
    Work,
)
from cases.services.readings import reading_open
from tests.factories import (
    AssignmentFactory,
    CohortFactory,
    ModuleFactory,
    ModuleItemFactory,
    make_discussion,
    make_quiz,
)

pytestmark = pytest.mark.django_db


def _titles(module):
    return list(module.items.order_by("position", "pk").values_list("title", flat=True))


def _module_titles(course):
    return list(course.modules.order_by("position", "pk").values_list("title", flat=True))


def test_instructor_creates_a_course_and_becomes_its_instructor(world, client_for):
    client = client_for("instructor")
    response = client.post(
        reverse("cases:course_create"),
        {
            "code": "MGT 8001",
            "title": "Innovation",
            "description": "",
            "time_zone": "Asia/Shanghai",
        },
    )
    course = Course.objects.get(code="MGT 8001")
    assert response.status_code == 302
    assert response["Location"] == reverse("cases:course_builder", args=[course.pk])
    assert course.time_zone == "Asia/Shanghai"
    assert list(course.instructors.all()) == [world.users["instructor"]]


def test_an_unknown_time_zone_is_refused_and_the_input_kept(world, client_for):
    response = client_for("instructor").post(
        reverse("cases:course_edit", args=[world.course.pk]),
        {"code": "MGT 6001", "title": "Renamed", "description": "", "time_zone": "Mars/Olympus"},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert 'value="Renamed"' in response.content.decode()
    world.course.refresh_from_db()
    assert world.course.title == "Run of the Red Queen"


def test_a_ta_may_not_create_courses(world, client_for):
    response = client_for("ta").post(
        reverse("cases:course_create"),
        {"code": "X", "title": "X", "description": "", "time_zone": "UTC"},
    )
    assert response.status_code == 403
    assert not Course.objects.filter(code="X").exists()


def test_module_create_edit_and_delete(world, client_for):
    client = client_for("instructor")
    client.post(
        reverse("cases:module_create", args=[world.course.pk]), {"title": "Week 2", "summary": ""}
    )
    module = world.course.modules.get(title="Week 2")
    assert module.position > world.item.module.position
    client.post(
        reverse("cases:module_edit", args=[module.pk]), {"title": "Week two", "summary": ""}
    )
    module.refresh_from_db()
    assert module.title == "Week two"
    assert (
        "No student has any work"
        in client.get(reverse("cases:module_delete", args=[module.pk])).content.decode()
    )
    response = client.post(reverse("cases:module_delete", args=[module.pk]))
    assert response.status_code == 302
    assert not Module.objects.filter(pk=module.pk).exists()


def test_deleting_an_item_warns_about_students_work(world, client_for):
    reading_open(user=world.users["student"], case=world.case)
    client = client_for("instructor")
    html = client.get(reverse("cases:item_delete", args=[world.item.pk])).content.decode()
    assert "(1 record of work)" in html
    client.post(reverse("cases:item_delete", args=[world.item.pk]))
    assert not ModuleItem.objects.filter(pk=world.item.pk).exists()


def test_a_student_or_ta_cannot_delete_or_move(world, client_for):
    for role in ["student", "ta"]:
        client = client_for(role)
        assert client.post(reverse("cases:item_delete", args=[world.item.pk])).status_code == 403
        response = client.post(
            reverse("cases:module_move", args=[world.item.module_id]), {"direction": "up"}
        )
        assert response.status_code == 403
    assert ModuleItem.objects.filter(pk=world.item.pk).exists()


def test_item_edit_offers_only_this_courses_grade_categories(world, client_for):
    mine = GradeCategory.objects.create(course=world.course, name="Readings")
    theirs = GradeCategory.objects.create(course=world.other_course, name="Theirs")
    client = client_for("instructor")
    url = reverse("cases:item_edit", args=[world.item.pk])
    html = client.get(url).content.decode()
    assert "Readings" in html
    assert "Theirs" not in html
    data = {"title": "Bell", "instructions": "Read *closely*.", "grade_category": theirs.pk}
    assert client.post(url, data).status_code == 200
    client.post(url, data | {"grade_category": mine.pk})
    world.item.refresh_from_db()
    assert (world.item.title, world.item.grade_category) == ("Bell", mine)


@pytest.fixture
def three_items(world):
    module = world.item.module
    # The world's module holds the reading, the quiz and the discussion; number them.
    items = list(module.items.order_by("position", "pk"))
    for position, item in enumerate(items, 1):
        item.position = position
    ModuleItem.objects.bulk_update(items, ["position"])
    return module, [i.title for i in items]


def test_moving_an_item_up_and_down(world, client_for, three_items):
    module, titles = three_items
    client = client_for("instructor")
    last = module.items.get(title=titles[2])
    response = client.post(reverse("cases:item_move", args=[last.pk]), {"direction": "up"})
    assert response.status_code == 302
    assert _titles(module) == [titles[0], titles[2], titles[1]]
    client.post(reverse("cases:item_move", args=[last.pk]), {"direction": "down"})
    assert _titles(module) == titles


def _listed(html: str) -> list[str]:
    """The item titles a builder or course page lists, in its order."""
    return re.findall(r'class="item-list__title">([^<]+)</a>', html)


def test_the_builder_lists_items_in_the_order_up_and_down_leave_them(
    world, client_for, three_items
):
    """Down twice and Up once, with and without htmx, a second cohort given an item in
    between: after each move the builder, its htmx fragment and the course page (the
    instructor's and a student's) list the module's items in the same order, which is
    the order of their positions, not of their ids."""
    module, titles = three_items
    reading, quiz, discussion = titles
    moving = module.items.get(title=reading)
    instructor, student = client_for("instructor"), Client()
    student.force_login(world.users["student"])
    move_url = reverse("cases:item_move", args=[moving.pk])
    builder_url = reverse("cases:course_builder", args=[world.course.pk])

    def pages_list(expected, fragment=None):
        assert _titles(module) == expected
        if fragment is not None:
            assert _listed(fragment) == expected
        assert _listed(instructor.get(builder_url).content.decode()) == expected
        for client in (instructor, student):
            assert _listed(client.get(world.course.get_absolute_url()).content.decode()) == expected

    pages_list([reading, quiz, discussion])
    # Down with htmx: the fragment that replaces the module list.
    response = instructor.post(move_url, {"direction": "down"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    pages_list([quiz, reading, discussion], response.content.decode())
    # The discussion is given to a second cohort: the builder counts it, the order holds.
    section_b = CohortFactory(name="Section B")
    world.course.cohorts.add(section_b)
    AssignmentFactory(item=module.items.get(title=discussion), cohort=section_b)
    assert "Given to 2 cohorts" in instructor.get(builder_url).content.decode()
    pages_list([quiz, reading, discussion])
    # Down again without script: back to the builder, which lists the new order.
    response = instructor.post(move_url, {"direction": "down"})
    assert response.status_code == 302 and response["Location"] == builder_url
    pages_list([quiz, discussion, reading])
    # Up once with htmx.
    response = instructor.post(move_url, {"direction": "up"}, headers={"HX-Request": "true"})
    pages_list([quiz, reading, discussion], response.content.decode())


def test_moving_past_either_end_changes_nothing(world, client_for, three_items):
    module, titles = three_items
    client = client_for("instructor")
    first, last = module.items.get(title=titles[0]), module.items.get(title=titles[2])
    client.post(reverse("cases:item_move", args=[first.pk]), {"direction": "up"})
    client.post(reverse("cases:item_move", args=[last.pk]), {"direction": "down"})
    assert _titles(module) == titles
    assert list(module.items.order_by("position").values_list("position", flat=True)) == [1, 2, 3]


def test_moving_a_module_with_htmx_answers_the_module_list(world, client_for):
    second = ModuleFactory(course=world.course, title="Second", position=99)
    first_title = world.item.module.title
    client = client_for("instructor")
    response = client.post(
        reverse("cases:module_move", args=[second.pk]),
        {"direction": "up"},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="module-list"')
    assert "<html" not in html
    assert html.index("Second") < html.index(first_title)
    assert _module_titles(world.course) == ["Second", first_title]
    assert "HX-Request" in response["Vary"]


def test_moving_an_item_to_another_module_closes_the_gap(world, client_for, three_items):
    module, titles = three_items
    other = ModuleFactory(course=world.course, title="Later")
    ModuleItemFactory(module=other, title="Already there", position=1)
    moving = module.items.get(title=titles[0])
    client_for("instructor").post(
        reverse("cases:item_move", args=[moving.pk]), {"module": other.pk}
    )
    assert _titles(other) == ["Already there", titles[0]]
    assert _titles(module) == titles[1:]
    assert list(module.items.order_by("position").values_list("position", flat=True)) == [1, 2]


def test_an_item_cannot_move_to_another_courses_module(world, client_for):
    elsewhere = ModuleFactory(course=world.other_course)
    response = client_for("instructor").post(
        reverse("cases:item_move", args=[world.item.pk]), {"module": elsewhere.pk}
    )
    assert response.status_code == 400
    world.item.refresh_from_db()
    assert world.item.module.course_id == world.course.pk


def test_builder_lists_modules_and_items_with_actions(world, client_for):
    html = (
        client_for("instructor")
        .get(reverse("cases:course_builder", args=[world.course.pk]))
        .content.decode()
    )
    assert "Shanghai Bell" in html
    assert reverse("cases:item_schedule", args=[world.item.pk]) in html
    assert f'hx-post="{reverse("cases:item_move", args=[world.item.pk])}"' in html
    assert "Given to 1 cohort" in html


def test_copying_a_quiz_from_another_course_copies_its_questions_into_this_bank(world, client_for):
    world.other_course.instructors.add(world.users["instructor"])
    theirs = make_quiz(ModuleFactory(course=world.other_course), title="Their check")
    category = QuestionCategory.objects.create(course=world.other_course, name="Pool")
    Question.objects.filter(course=world.other_course, title="Argue").update(category=category)
    QuizSlot.objects.create(quiz=theirs, category=category, draw_count=1, position=9)
    response = client_for("instructor").post(
        reverse("cases:item_copy", args=[world.course.pk]),
        {"source": theirs.item.pk, "module": world.item.module_id, "title": ""},
    )
    copy = ModuleItem.objects.get(module=world.item.module, title="Their check")
    assert response.status_code == 302
    assert copy.kind == ItemKind.QUIZ
    slots = list(copy.quiz.slots.select_related("question", "category"))
    assert len(slots) == 6
    assert all((s.question or s.category).course_id == world.course.pk for s in slots), (
        "every slot points into this course's bank"
    )
    # This bank's quiz already has the same "Partner" question: it is used, not copied
    # again; the pool's question (in no category here) is copied once, into a Pool.
    assert Question.objects.filter(course=world.course, title="Partner").count() == 1
    assert Choice.objects.filter(question__course=world.course, text="Alcatel").count() == 1
    assert Question.objects.filter(course=world.course, title="Argue").count() == 2
    assert Question.objects.get(course=world.course, category__name="Pool").title == "Argue"
    assert not Attempt.objects.filter(quiz=copy.quiz).exists()
    assert copy.assignments.count() == 0


def test_copying_a_discussion_copies_settings_not_posts(world, client_for):
    world.discussion.anonymous = True
    world.discussion.save()
    client_for("instructor").post(
        reverse("cases:item_copy", args=[world.course.pk]),
        {"source": world.discussion.item.pk, "module": world.item.module_id, "title": "Again"},
    )
    copy = Discussion.objects.get(item__title="Again")
    assert copy.anonymous and copy.prompt == world.discussion.prompt
    assert copy.case == world.discussion.case
    assert not Post.objects.filter(discussion=copy).exists()


def test_only_items_of_courses_one_teaches_can_be_copied(world, client_for):
    theirs = make_quiz(ModuleFactory(course=world.other_course), title="Not yours")
    response = client_for("instructor").post(
        reverse("cases:item_copy", args=[world.course.pk]),
        {"source": theirs.item.pk, "module": world.item.module_id},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not ModuleItem.objects.filter(title="Not yours", module__course=world.course).exists()


def test_duplicating_a_course_copies_content_but_no_students_work(world, client_for):
    course = world.course
    course.time_zone = "Asia/Shanghai"
    course.save()
    category = GradeCategory.objects.create(course=course, name="Readings", weight=40)
    rubric = Rubric.objects.create(course=course, title="Argument", criteria=[])
    world.item.grade_category, world.item.rubric = category, rubric
    world.item.save()
    reading_open(user=world.users["student"], case=world.case)
    assert Work.objects.filter(item__module__course=course).exists()
    response = client_for("instructor").post(
        reverse("cases:course_duplicate", args=[course.pk]),
        {"code": "MGT 6001 (2027)", "title": "Red Queen, 2027"},
    )
    copy = Course.objects.get(code="MGT 6001 (2027)")
    assert response.status_code == 302
    assert copy.time_zone == "Asia/Shanghai"
    assert copy.description == course.description
    assert set(copy.instructors.all()) == {world.users["instructor"]}
    assert not copy.cohorts.exists()
    assert _module_titles(copy) == _module_titles(course)
    items = ModuleItem.objects.filter(module__course=copy)
    assert sorted(items.values_list("title", flat=True)) == sorted(
        ModuleItem.objects.filter(module__course=course).values_list("title", flat=True)
    )
    reading = items.get(kind=ItemKind.CASE_READING)
    assert reading.case_reading.case == world.case
    assert reading.grade_category.course == copy and reading.grade_category.name == "Readings"
    assert reading.rubric.course == copy
    quiz = Quiz.objects.get(item__module__course=copy)
    assert quiz.slots.count() == world.quiz.slots.count()
    assert {s.question.course_id for s in quiz.slots.all()} == {copy.pk}
    assert (
        Question.objects.filter(course=copy).count()
        == Question.objects.filter(course=course).count()
    )
    assert Discussion.objects.get(item__module__course=copy).prompt == world.discussion.prompt
    assert not ModuleItem.objects.filter(module__course=copy, assignments__isnull=False).exists()
    assert not Work.objects.filter(item__module__course=copy).exists()
    assert not Attempt.objects.filter(quiz=quiz).exists()
    assert not Post.objects.filter(discussion__item__module__course=copy).exists()
    assert ReadingProgress.objects.count() == 1  # The student's, on the shared case only.
    assert CaseReading.objects.filter(item__module__course=copy).count() == 1


def test_duplicate_costs_the_same_queries_for_a_bigger_course(world, client_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for("instructor")
    counts = []
    for n, extra in enumerate([0, 6]):
        for i in range(extra):
            module = ModuleFactory(course=world.course)
            make_quiz(module, title=f"Quiz {i}")
        with CaptureQueriesContext(connection) as queries:
            client.post(
                reverse("cases:course_duplicate", args=[world.course.pk]),
                {"code": f"COPY {n}", "title": "Copy"},
            )
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_the_course_page_links_staff_to_the_builder(world, client_for):
    url = reverse("cases:course_builder", args=[world.course.pk])
    assert url in client_for("instructor").get(world.course.get_absolute_url()).content.decode()
    assert url not in client_for("ta").get(world.course.get_absolute_url()).content.decode()


def test_a_duplicate_needs_a_new_code(world, client_for):
    response = client_for("instructor").post(
        reverse("cases:course_duplicate", args=[world.course.pk]),
        {"code": world.course.code, "title": "Again"},
    )
    assert response.status_code == 200
    assert "Another course already uses this code." in response.content.decode()
    assert Course.objects.filter(title="Again").count() == 0


def test_a_quiz_item_without_its_quiz_is_not_offered_for_copying(world, client_for):
    empty = ModuleItemFactory(module=world.item.module, kind=ItemKind.QUIZ, title="Hollow")
    response = client_for("instructor").post(
        reverse("cases:item_copy", args=[world.course.pk]),
        {"source": empty.pk, "module": world.item.module_id},
    )
    assert response.status_code == 200
    assert "Hollow" not in response.content.decode().split('name="source"')[1].split("</select>")[0]


def test_an_item_copied_from_last_terms_course_counts_in_this_courses_categories(world, client_for):
    """Last term's quiz and rubric-graded discussion, copied into this term's course
    (which has its default categories), land in its Quizzes and Discussions, as an item
    added here would, and the discussion keeps its rubric, copied into this course: they
    were filed nowhere ("Uncategorised", weight 0, never counted) and graded by points."""
    instructor = world.users["instructor"]
    world.other_course.instructors.add(instructor)
    client = client_for("instructor")
    module = ModuleFactory(course=world.other_course)
    theirs = make_quiz(module, title="Last term's check")
    talk = make_discussion(module, world.case, title="Last term's thread")
    rubric = Rubric.objects.create(
        course=world.other_course,
        title="Argument",
        criteria=[{"name": "Evidence", "levels": [{"label": "Cites", "points": 4}]}],
    )
    talk.item.rubric = rubric
    talk.item.save()
    for course in (world.other_course, world.course):
        client.post(reverse("cases:grade_categories", args=[course.pk]), {"action": "defaults"})
    for source in (theirs.item, talk.item):
        response = client.post(
            reverse("cases:item_copy", args=[world.course.pk]),
            {"source": source.pk, "module": world.item.module_id, "title": ""},
        )
        assert response.status_code == 302
    quiz = ModuleItem.objects.get(module__course=world.course, title="Last term's check")
    thread = ModuleItem.objects.get(module__course=world.course, title="Last term's thread")
    assert quiz.grade_category.course == world.course
    assert quiz.grade_category.name == "Quizzes"
    assert thread.grade_category.name == "Discussions"
    assert thread.grade_category.course == world.course
    assert thread.rubric.course == world.course and thread.rubric.criteria == rubric.criteria
    # Changing this course's copy of the rubric leaves last term's as it was.
    assert thread.rubric.pk != rubric.pk
    edit = client.get(reverse("cases:item_edit", args=[thread.pk])).content.decode()
    assert f'<option value="{thread.grade_category.pk}" selected>Discussions' in edit


def test_raising_what_an_annotation_assignment_asks_after_hand_ins_asks_first(world, client_for):
    """Three notes asked, handed in by a student and the grades released; the instructor
    then asks five. Saved at once, the student's work went back to "in progress" at 3/5
    and their released grade fell, with nothing said: as a rubric or a category edit
    that changes scored work, the settings page now says whose hand-ins and released
    grades would change, keeping what was typed, and saves only when confirmed."""
    from cases.models import Visibility, WorkStatus
    from cases.permissions import CaseAccess
    from cases.services.annotations import Selection, annotation_create
    from cases.services.gradebook import assignment_release
    from tests.factories import make_annotation_task

    student = world.users["student"]
    task = make_annotation_task(
        world.item.module, world.case, world.course.cohorts.all(), min_notes=3
    )
    first = world.case.paragraphs.order_by("position").first().number
    for start in range(3):
        annotation_create(
            case=world.case,
            author=student,
            access=CaseAccess(is_teaching_staff=False, can_edit=False),
            selection=Selection(first, start, first, start + 13),
            body=(
                "Headcount in research is an input, not an outcome: "
                "the case never says what they made of it."
            ),
            visibility=Visibility.COHORT,
        )
    work = Work.objects.get(item=task.item, user=student)
    assert work.state == WorkStatus.SUBMITTED
    assignment_release(assignment=task.item.assignments.get(), released=True)

    client = client_for("instructor")
    url = reverse("cases:annotation_settings", args=[task.item.pk])
    typed = {"case": world.case.pk, "min_notes": "5", "min_words": "15"}
    response = client.post(url, typed)
    assert response.status_code == 200
    html = response.content.decode()
    assert "1 student who handed in would no longer have" in html
    assert "1 of them was shown their grade" in html
    assert 'name="min_notes" value="5"' in html and 'name="confirmed" value="1"' in html
    task.refresh_from_db()
    assert task.min_notes == 3
    assert Work.objects.get(item=task.item, user=student).state == WorkStatus.SUBMITTED

    # Back to the settings: what was typed is kept.
    back = client.post(url, typed | {"action": "edit", "confirmed": "1"})
    assert back.status_code == 200 and 'value="5"' in back.content.decode()
    task.refresh_from_db()
    assert task.min_notes == 3

    saved = client.post(url, typed | {"action": "save", "confirmed": "1"})
    assert saved.status_code == 302
    task.refresh_from_db()
    assert task.min_notes == 5
    assert Work.objects.get(item=task.item, user=student).state == WorkStatus.IN_PROGRESS
    # Lowering it again raises nobody's work: it just saves.
    assert client.post(url, typed | {"min_notes": "2"}).status_code == 302
