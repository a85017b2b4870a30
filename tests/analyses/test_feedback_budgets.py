"""A 2,000-word memo with 20 comments costs the same number of queries in a class of 5
as in a class of 60: the grader's page within the page budget (8), the version's page
too, for its grader and for its author once released, and a comment saved with htmx
within the page budget (it answers the whole text with its marks).

Transaction control is not counted (see tests/helpers.py)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.models import Memo, MemoVersion
from cases.services import analyses
from cases.services.annotations import Selection
from cases.services.gradebook import assignment_release
from cases.services.memo_feedback import comment_create, version_blocks
from tests.factories import (
    CohortFactory,
    CourseFactory,
    ModuleFactory,
    UserFactory,
    enrol,
    make_analysis,
)
from tests.helpers import FRAGMENT_BUDGET, PAGE_BUDGET, data_queries

pytestmark = pytest.mark.django_db

SIZES = (5, 60)
WORDS = (
    "The firm should buy the lab rather than build one, because the licences, the "
    "staff and the customers come with it and the board wants speed over control. "
)  # 28 words.


def _memo_body() -> str:
    """Twenty paragraphs of a hundred words, a sentence citing the case in each."""
    paragraph = " ".join([WORDS.strip()] * 3) + (
        " As ¶2 shows, the partner held the licences here, and the state set all the terms."
    )
    return "\n\n".join(f"{n}. {paragraph}" if n % 2 else paragraph for n in range(1, 21))


def _class_of(size: int) -> dict:
    """A course of `size` students in two cohorts, every one of them with a memo handed
    in (the first, a 2,000-word one with 20 comments by the TA), grades released."""
    instructor, ta = UserFactory(), UserFactory()
    cohorts = [CohortFactory(), CohortFactory()]
    students = enrol(cohorts[0], size - size // 2, prefix=f"a{size}-")
    students += enrol(cohorts[1], size // 2, prefix=f"b{size}-")
    course = CourseFactory(instructors=[instructor], teaching_assistants=[ta], cohorts=cohorts)
    analysis = make_analysis(ModuleFactory(course=course), cohorts, word_limit=3000)
    item = analysis.item
    body = _memo_body()
    version = analyses.memo_submit(item=item, user=students[0], body=body)
    assert 2000 <= version.word_count <= 2100
    # Everyone else handed in a short memo: the pages must not care.
    memos = Memo.objects.bulk_create(Memo(item=item, author=s) for s in students[1:])
    MemoVersion.objects.bulk_create(
        MemoVersion(memo=m, number=1, body="Buy.", body_html="<p>Buy.</p>", word_count=1,
                    submitted_at=version.submitted_at)
        for m in memos
    )  # fmt: skip
    blocks = version_blocks(version.body_html)
    for n in range(20):
        block = blocks[n]
        start = block.text.index("because")
        if n % 5 == 3:  # Every fifth comment runs into the next paragraph.
            selection = Selection(block.number, start, blocks[n + 1].number, 10, "")
        else:
            selection = Selection(block.number, start, block.number, start + 40, "")
        comment_create(version=version, author=ta, selection=selection, body=f"Comment {n}: *why*?")
    for assignment in item.assignments.all():
        assignment_release(assignment=assignment, released=True)
    return {"item": item, "version": version, "author": students[0], "ta": ta}


def _count(client, user, url, **kwargs) -> tuple[int, object]:
    client.force_login(user)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **kwargs)
    assert response.status_code == 200
    return data_queries(queries), response


def test_the_grader_and_the_version_page_cost_the_same_in_any_class(client):
    counts: dict[str, list[int]] = {"grader": [], "version (TA)": [], "version (author)": []}
    for size in SIZES:
        world = _class_of(size)
        item, version, author = world["item"], world["version"], world["author"]
        grader = reverse("cases:grade_work", args=[item.pk, author.pk])
        queries, response = _count(client, world["ta"], grader)
        assert response.text.count('class="memo-comment"') == 40  # Margin and list.
        counts["grader"].append(queries)
        page = reverse("cases:memo_version", args=[version.pk])
        counts["version (TA)"].append(_count(client, world["ta"], page)[0])
        queries, response = _count(client, author, page)
        assert "Comment 19" in response.text
        counts["version (author)"].append(queries)
    print("\nQueries (class of 5, of 60):", counts)
    for name, found in counts.items():
        assert found[0] == found[1], name
        assert found[0] <= PAGE_BUDGET, name


def test_a_comment_saved_with_htmx_costs_the_same_in_any_class(client):
    counts = []
    for size in SIZES:
        world = _class_of(size)
        version = world["version"]
        text = version_blocks(version.body_html)[3].text
        client.force_login(world["ta"])
        url = reverse("cases:memo_comment_create", args=[version.pk])
        data = {"paragraph": 4, "start": 0, "end": 5, "end_paragraph": 4}
        data |= {"quote": text[:5], "body": "Start here.", "nonce": f"b{size}"}
        with CaptureQueriesContext(connection) as queries:
            response = client.post(url, data, headers={"HX-Request": "true"})
        assert response.status_code == 200 and "Start here." in response.text
        counts.append(data_queries(queries))
    print("\nQueries of a comment saved (class of 5, of 60):", counts)
    assert counts[0] == counts[1] <= PAGE_BUDGET


def test_the_comment_form_for_a_paragraph_is_a_fragment_in_any_class(client):
    counts = []
    for size in SIZES:
        world = _class_of(size)
        url = reverse("cases:memo_comment_create", args=[world["version"].pk])
        client.force_login(world["ta"])
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"{url}?paragraph=3", headers={"HX-Request": "true"})
        assert response.status_code == 200 and "Sentence 1:" in response.text
        counts.append(data_queries(queries))
    print("\nQueries of the comment form (class of 5, of 60):", counts)
    assert counts[0] == counts[1] <= FRAGMENT_BUDGET
