"""Writing a memo costs the same number of queries in a class of 5 as of 60 who have
all handed in: the writing page within the page budget (8), the autosave within the
fragment budget (4) and handing in within the page budget.

Counted outside a test transaction, as in production (no savepoints)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.services.analyses import draft_save, memo_submit
from tests.factories import CohortFactory, CourseFactory, ModuleFactory, enrol, make_analysis
from tests.helpers import FRAGMENT_BUDGET, PAGE_BUDGET, data_queries

MEMO = "We would build. ¶1 shows the licence; ¶2 the staff. " * 40


def _class_of(size: int) -> dict:
    cohort = CohortFactory()
    students = enrol(cohort, size, prefix=f"m{size}-")
    course = CourseFactory(cohorts=[cohort])
    item = make_analysis(ModuleFactory(course=course), [cohort], word_limit=2000).item
    for student in students[1:]:
        memo_submit(item=item, user=student, body=MEMO)
    return {"item": item, "student": students[0]}


@pytest.mark.django_db(transaction=True)
def test_writing_autosave_and_hand_in_stay_within_budget(client):
    counts = {"page": [], "autosave": [], "hand in": []}
    for size in (5, 60):
        world = _class_of(size)
        item, student = world["item"], world["student"]
        client.force_login(student)
        draft_save(item=item, user=student, body="A start.", seq=1)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(item.get_absolute_url())
        assert response.status_code == 200
        counts["page"].append(data_queries(queries))
        with CaptureQueriesContext(connection) as queries:
            response = client.post(
                reverse("cases:analysis_draft", args=[item.pk]),
                {"body": MEMO, "seq": "9"},
                headers={"HX-Request": "true"},
            )
        assert "Draft saved" in response.text
        counts["autosave"].append(data_queries(queries))
        with CaptureQueriesContext(connection) as queries:
            response = client.post(
                reverse("cases:analysis_write", args=[item.pk]),
                {"body": MEMO, "action": "submit", "nonce": f"n{size}"},
            )
        assert response.status_code == 302
        counts["hand in"].append(data_queries(queries))
    print("query counts:", counts)
    assert counts["page"][0] == counts["page"][1] <= PAGE_BUDGET, counts
    assert counts["autosave"][0] == counts["autosave"][1] <= FRAGMENT_BUDGET, counts
    assert counts["hand in"][0] == counts["hand in"][1], counts
