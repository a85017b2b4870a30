"""The gradebook's arithmetic, on hand-made matrix rows: no database."""

from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

from cases.models import WorkStatus
from cases.services.gradebook import (
    UNCATEGORISED,
    Score,
    category_percent,
    cell_score,
    gradebook_groups,
    row_grades,
    weighted_total,
)
from cases.services.workspace.matrix import Cell, Row

D = Decimal
RELEASED = datetime(2027, 3, 1, tzinfo=UTC)


def _category(pk, name, weight, drop_lowest=0, position=0):
    return SimpleNamespace(
        pk=pk, name=name, weight=D(weight), drop_lowest=drop_lowest, position=position
    )


def _item(pk, category=None):
    return SimpleNamespace(pk=pk, grade_category=category, title=f"Item {pk}", kind="case_reading")


def _cell(item, status, points=None, possible=10, released=RELEASED):
    assignment = SimpleNamespace(points=possible, grades_released_at=released)
    return Cell(
        item=item,
        assignment=assignment,
        work=None,
        status=status,
        points=None if points is None else D(points),
    )


def test_a_graded_cell_counts_its_points_out_of_the_assignments():
    assert cell_score(_cell(_item(1), WorkStatus.GRADED, "7.5")) == Score(D("7.5"), D(10))


def test_missing_past_due_work_counts_zero_and_unfinished_work_is_left_out():
    assert cell_score(_cell(_item(1), WorkStatus.LATE)) == Score(D(0), D(10))
    for status in [WorkStatus.NOT_STARTED, WorkStatus.IN_PROGRESS, WorkStatus.SUBMITTED]:
        assert cell_score(_cell(_item(1), status)) is None
    # Handed in with a provisional score, waiting for a person: not yet a grade.
    assert cell_score(_cell(_item(1), WorkStatus.SUBMITTED, "4")) is None


def test_excused_unassigned_and_pointless_cells_are_left_out():
    assert cell_score(_cell(_item(1), WorkStatus.EXCUSED)) is None
    assert cell_score(Cell(item=_item(1), assignment=None, work=None)) is None
    assert cell_score(_cell(_item(1), WorkStatus.GRADED, "0", possible=0)) is None


def test_unreleased_grades_count_only_for_staff():
    cell = _cell(_item(1), WorkStatus.GRADED, "9", released=None)
    assert cell_score(cell) == Score(D(9), D(10))
    assert cell_score(cell, released_only=True) is None


def test_category_percent_sums_points_not_percents():
    scores = {1: Score(D(5), D(10)), 2: Score(D(30), D(30))}
    percent, dropped = category_percent(scores, 0)
    assert percent == D("87.5")  # 35 / 40, not the mean of 50% and 100%.
    assert dropped == set()


def test_drop_lowest_drops_by_percent_and_keeps_at_least_one():
    scores = {1: Score(D(2), D(10)), 2: Score(D(9), D(10)), 3: Score(D(15), D(20))}
    percent, dropped = category_percent(scores, 1)
    assert dropped == {1}
    assert percent == D(24) / D(30) * 100
    percent, dropped = category_percent(scores, 5)
    assert dropped == {1, 3}
    assert percent == D(90)
    assert category_percent({}, 2) == (None, set())


def test_weighted_total_renormalises_over_categories_with_grades():
    assert weighted_total([(D(60), D(50)), (D(40), D(100))]) == D(70)
    # Nothing graded in the 40% category yet: the total is the other's percent.
    assert weighted_total([(D(60), D(50)), (D(40), None)]) == D(50)
    # Weight 0 (uncategorised) never counts.
    assert weighted_total([(D(0), D(10)), (D(40), D(80))]) == D(80)
    assert weighted_total([(D(0), D(10))]) is None


def test_groups_follow_category_order_with_uncategorised_last():
    quizzes = _category(2, "Quizzes", 60, position=2)
    readings = _category(1, "Readings", 40, position=1)
    items = [_item(1, quizzes), _item(2), _item(3, readings), _item(4, quizzes)]
    groups = gradebook_groups(items)
    assert [g.name for g in groups] == ["Readings", "Quizzes", UNCATEGORISED]
    assert [i.pk for i in groups[1].items] == [1, 4]
    assert groups[2].weight == 0 and not groups[2].counted
    assert [g.name for g in gradebook_groups(items[:1])] == ["Quizzes"]


def test_a_row_gets_category_percents_and_a_weighted_total():
    quizzes = _category(1, "Quizzes", 75, drop_lowest=1)
    talk = _category(2, "Discussions", 25)
    q1, q2, q3, d1, loose = (
        _item(1, quizzes), _item(2, quizzes), _item(3, quizzes), _item(4, talk), _item(5)
    )  # fmt: skip
    row = Row(
        student=SimpleNamespace(pk=1),
        cells=[
            _cell(q1, WorkStatus.GRADED, "10"),
            _cell(q2, WorkStatus.LATE),  # Missing: 0, then dropped as the lowest.
            _cell(q3, WorkStatus.GRADED, "6"),
            _cell(d1, WorkStatus.EXCUSED),  # Excused: the category has nothing.
            _cell(loose, WorkStatus.GRADED, "1"),
        ],
    )
    grades = row_grades(row, gradebook_groups([q1, q2, q3, d1, loose]))
    by_name = {g.group.name: g for g in grades.groups}
    assert by_name["Quizzes"].percent == D("80.0")
    assert by_name["Quizzes"].dropped == {2}
    assert by_name["Discussions"].percent is None
    assert by_name[UNCATEGORISED].percent == D("10.0")
    # Renormalised over Quizzes alone; uncategorised does not count.
    assert grades.total == D("80.0")


def test_a_students_page_counts_released_grades_only():
    quizzes = _category(1, "Quizzes", 100)
    q1, q2 = _item(1, quizzes), _item(2, quizzes)
    row = Row(
        student=SimpleNamespace(pk=1),
        cells=[
            _cell(q1, WorkStatus.GRADED, "4"),
            _cell(q2, WorkStatus.GRADED, "10", released=None),
        ],
    )
    groups = gradebook_groups([q1, q2])
    assert row_grades(row, groups).total == D("70.0")
    assert row_grades(row, groups, released_only=True).total == D("40.0")
