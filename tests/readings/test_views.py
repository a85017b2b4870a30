import io
import re

import pytest
from django.urls import reverse

from cases.models import CaseStudy, ReadingProgress
from tests.factories import CohortFactory, UserFactory, make_case

pytestmark = pytest.mark.django_db

STAFF_ONLY_MARKERS = ["SECRET-TEACHING-NOTE", "SECRET-PLACEMENT-REASON", "Authors' placement"]


def _html(response) -> str:
    return response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        lambda w: reverse("cases:case_detail", args=[w.case.slug]),
        lambda w: w.item.get_absolute_url(),
    ],
)
@pytest.mark.parametrize("role", ["student", "student_ta_elsewhere"])
def test_students_never_receive_teaching_notes_or_the_placement(world, client_for, url, role):
    html = _html(client_for(role).get(url(world)))
    assert "Shanghai Bell makes telecom switches." in html
    for marker in STAFF_ONLY_MARKERS:
        assert marker not in html


@pytest.mark.parametrize("role", ["instructor", "ta", "admin", "other_instructor"])
def test_teaching_staff_see_notes_and_placement(world, client_for, role):
    html = _html(client_for(role).get(reverse("cases:case_detail", args=[world.case.slug])))
    for marker in STAFF_ONLY_MARKERS:
        assert marker in html


def test_a_released_placement_is_shown_to_students_but_notes_never_are(world, client_for):
    CaseStudy.objects.filter(pk=world.case.pk).update(placement_released=True)
    html = _html(client_for("student").get(world.item.get_absolute_url()))
    assert "SECRET-PLACEMENT-REASON" in html
    assert "SECRET-TEACHING-NOTE" not in html


def test_reader_numbers_paragraphs_with_anchors(world, client_for):
    html = _html(client_for("student").get(world.item.get_absolute_url()))
    for number in (1, 2, 3):
        assert f'id="p{number}"' in html
        assert f'href="#p{number}"' in html


def test_opening_the_reader_records_progress_for_students_only(world, client_for):
    client_for("instructor").get(world.item.get_absolute_url())
    assert not ReadingProgress.objects.exists()
    client_for("student").get(world.item.get_absolute_url())
    assert ReadingProgress.objects.get().user == world.users["student"]


def test_the_reader_item_shows_each_students_own_progress_as_it_changes(world, client_for):
    """The reader's progress comes with the item's access query once the process knows
    the item: each open shows the student's own progress as it stands (after a reading
    marked done, and undone), never a classmate's, and a reopen within the minute
    writes nothing and reads the progress with the item."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cases.models import Membership
    from tests.helpers import data_queries

    classmate = world.users["student_ta_elsewhere"]
    assert Membership.objects.filter(user=classmate, cohort__courses=world.course).exists()
    done_url = reverse("cases:reading_done", args=[world.case.slug])
    client_for("student_ta_elsewhere").post(done_url, {"done": "1"})
    client = client_for("student")
    counts = []
    for step in range(3):
        with CaptureQueriesContext(connection) as queries:
            html = _html(client.get(world.item.get_absolute_url()))
        counts.append(data_queries(queries))
        mine = ReadingProgress.objects.get(user=world.users["student"], case=world.case)
        if step == 1:
            assert "Mark as not done" in html  # Done, between the first and second open.
            client.post(done_url, {"done": "0"})
        else:
            assert "Mark as done" in html and "Mark as not done" not in html
        if step == 0:
            first = mine.first_opened_at
            client.post(done_url, {"done": "1"})
        assert mine.first_opened_at == first
    # The last open: nothing written, and the progress read with the item's access.
    sent = [q["sql"].lstrip() for q in queries.captured_queries]
    assert not any(sql.startswith(("INSERT", "UPDATE")) for sql in sent)
    assert not any(sql.startswith('SELECT "cases_readingprogress"') for sql in sent)
    assert counts[1] == counts[2] < counts[0], counts


def test_reader_offers_to_resume_at_the_last_paragraph(world, client_for):
    client = client_for("student")
    client.post(reverse("cases:reading_heartbeat", args=[world.case.slug]), {"paragraph": "2"})
    html = _html(client.get(world.item.get_absolute_url()))
    assert 'href="#p2"' in html
    assert "Continue where you left off" in html


def test_mark_done_with_htmx_returns_the_progress_fragment(world, client_for):
    response = client_for("student").post(
        reverse("cases:reading_done", args=[world.case.slug]),
        {"done": "1"},
        headers={"HX-Request": "true"},
    )
    html = _html(response)
    assert response.status_code == 200
    assert 'id="reading-progress"' in html
    assert "Mark as not done" in html
    assert "<html" not in html
    assert ReadingProgress.objects.get().done_at is not None


def _part(html: str, element_id: str) -> str:
    """The element with this id, whole, without the form's token."""
    start = html.rindex("<", 0, html.index(f'id="{element_id}"'))
    tag = html[start + 1 : html.index(" ", start)]
    depth = 0
    for found in re.finditer(rf"<(/?){tag}[\s>]", html[start:]):
        depth += -1 if found.group(1) else 1
        if not depth:
            break
    part = html[start : start + found.end()]
    return re.sub(r'value="[A-Za-z0-9]{64}"', "", part)


def test_the_readers_fragments_are_the_parts_of_its_page_each_time(world, client_for):
    """The page's content is Jinja2 with its two Django partials put in: what the htmx
    endpoints send is what the page shows there, before and after marking it done and
    undone, and the page shows the change. The notes' poll draws a cited paragraph's
    margin as the page drew it (it put the citation badge on the other side of the
    paragraph's tools, every ten seconds)."""
    client = client_for("student")
    page = world.item.get_absolute_url()
    done_url = reverse("cases:reading_done", args=[world.case.slug])
    live = reverse("cases:annotation_live", args=[world.case.slug])
    for done in ("1", "0", "1"):
        fragment = client.post(
            done_url, {"done": done, "next": page}, headers={"HX-Request": "true"}
        )
        html = _html(client.get(page))
        progress = _part(html, "reading-progress")
        assert progress == _part(_html(fragment), "reading-progress")
        assert ("Done ✓" in progress) is (done == "1")
        layer = client.get(live, headers={"HX-Request": "true"})
        assert _part(html, "reader-layer") == _part(_html(layer), "reader-layer")
        assert html.count('id="reading-progress"') == html.count('id="reader-layer"') == 1


def test_mark_done_without_javascript_redirects_back(world, client_for):
    back = world.item.get_absolute_url()
    response = client_for("student").post(
        reverse("cases:reading_done", args=[world.case.slug]), {"done": "1", "next": back}
    )
    assert response.status_code == 302
    assert response["Location"] == back
    assert "Done" in _html(client_for("student").get(back))


def test_the_swapped_in_form_goes_back_to_the_page_without_javascript(world, client_for):
    """Marked done with htmx, then not done by the form htmx swapped in, posted plainly
    (htmx gone, a page restored from the history): back on the reader, not on the
    address that answers POST only."""
    client = client_for("student")
    page = world.item.get_absolute_url()
    done_url = reverse("cases:reading_done", args=[world.case.slug])
    fragment = _html(
        client.post(done_url, {"done": "1", "next": page}, headers={"HX-Request": "true"})
    )
    back = re.search(r'name="next" value="([^"]*)"', fragment).group(1)
    assert back == page
    response = client.post(done_url, {"done": "0", "next": back}, follow=True)
    assert response.redirect_chain == [(page, 302)]
    assert "Not done yet." in _html(response)
    # A form whose way back was lost goes to the case.
    fragment = _html(client.post(done_url, {"done": "1"}, headers={"HX-Request": "true"}))
    back = re.search(r'name="next" value="([^"]*)"', fragment).group(1)
    assert back == world.case.get_absolute_url()
    # So does one swapped in before this was mended, whose way back was this address.
    response = client.post(done_url, {"done": "0", "next": done_url})
    assert response["Location"] == world.case.get_absolute_url()


def test_mark_done_never_redirects_off_site(world, client_for):
    response = client_for("student").post(
        reverse("cases:reading_done", args=[world.case.slug]),
        {"done": "1", "next": "https://evil.example/"},
    )
    assert response["Location"] == world.case.get_absolute_url()


def test_dashboard_shows_reading_status(world, client_for):
    client = client_for("student")
    assert "Not started" in _html(client.get(reverse("cases:home")))
    client.get(world.item.get_absolute_url())
    assert "Opened" in _html(client.get(reverse("cases:home")))
    client.post(reverse("cases:reading_done", args=[world.case.slug]), {"done": "1"})
    assert 'data-status="graded">Done<' in _html(client.get(reverse("cases:home")))


def test_an_unfinished_reading_past_its_due_date_is_late(world, client_for):
    from django.utils import timezone

    world.item.assignments.update(due_at=timezone.now() - timezone.timedelta(days=1))
    assert "tag--late" in _html(client_for("student").get(reverse("cases:home")))


def test_previous_and_next_items_in_the_module(world, client_for):
    from cases.models import CaseReading
    from tests.factories import AssignmentFactory, ModuleItemFactory

    second_case = make_case(slug="smic", title="SMIC", body="A foundry.")
    second = ModuleItemFactory(module=world.item.module, title="SMIC", position=1)
    CaseReading.objects.create(item=second, case=second_case)
    AssignmentFactory(item=second, cohort=world.item.assignments.get().cohort)
    html = _html(client_for("student").get(world.item.get_absolute_url()))
    assert f'href="{second.get_absolute_url()}" rel="next"' in html
    html = _html(client_for("student").get(second.get_absolute_url()))
    assert f'href="{world.item.get_absolute_url()}" rel="prev"' in html


class TestLibrary:
    def test_students_see_only_cases_given_to_them(self, world, client_for):
        make_case(slug="lenovo", title="Lenovo", company="Lenovo", body="PCs.")
        html = _html(client_for("student").get(reverse("cases:case_list")))
        assert "Shanghai Bell" in html
        assert "Lenovo" not in html
        html = _html(client_for("other_instructor").get(reverse("cases:case_list")))
        assert "Lenovo" in html

    def test_filter_by_region_and_search_by_text(self, world, client_for):
        make_case(
            slug="tencent",
            title="Tencent QQ",
            company="Tencent",
            region="prd",
            sector="Internet services",
            body="An instant messenger that copied ICQ.",
        )
        client = client_for("instructor")
        html = _html(client.get(reverse("cases:case_list"), {"region": "prd"}))
        assert "Tencent QQ" in html and "Shanghai Bell" not in html
        html = _html(client.get(reverse("cases:case_list"), {"q": "messenger"}))
        assert "Tencent QQ" in html and "Shanghai Bell" not in html
        html = _html(client.get(reverse("cases:case_list"), {"q": "switches"}))
        assert "Shanghai Bell" in html and "Tencent QQ" not in html
        # Several words: only the case holding them all, on PostgreSQL as on SQLite.
        html = _html(client.get(reverse("cases:case_list"), {"q": "instant messenger"}))
        assert "Tencent QQ" in html and "Shanghai Bell" not in html

    def test_htmx_search_returns_only_the_results_fragment(self, world, client_for):
        response = client_for("instructor").get(
            reverse("cases:case_list"), {"q": "telecom"}, headers={"HX-Request": "true"}
        )
        html = _html(response)
        assert html.strip().startswith('<section id="case-results"')
        assert "Shanghai Bell" in html
        assert "HX-Request" in response["Vary"]

    def test_history_restore_gets_the_whole_page(self, world, client_for):
        response = client_for("instructor").get(
            reverse("cases:case_list"),
            headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
        )
        assert "<html" in _html(response)

    def test_no_match_says_what_to_do(self, world, client_for):
        html = _html(client_for("student").get(reverse("cases:case_list"), {"q": "zzzqqq"}))
        assert "No case matches" in html

    def test_someone_in_no_course_is_told_how_cases_come_not_that_a_search_failed(
        self, world, client
    ):
        client.force_login(UserFactory(username="newcomer"))
        html = _html(client.get(reverse("cases:case_list")))
        assert "No case matches" not in html
        assert "No cases to read yet" in html
        assert f'href="{reverse("cases:cohort_join")}"' in html
        # Nothing to search among: a search says the same, not that it failed.
        searched = _html(client.get(reverse("cases:case_list"), {"q": "Lenovo"}))
        assert "No case matches" not in searched and "No cases to read yet" in searched


class TestAuthoring:
    def _data(self, **overrides):
        data = {
            "title": "Lenovo",
            "slug": "lenovo",
            "company": "Lenovo",
            "region": "beijing",
            "sector": "PCs and hardware",
            "summary": "Cheap PCs for cities.",
            "body": "First paragraph.\n\nSecond paragraph.",
            "key_facts": "Bought IBM's PC division in 2005.\nFourth largest PC maker.",
            "discussion_questions": "Is adaptation innovation?",
            "spectrum_placement": "80",
            "action": "save",
        }
        return data | overrides

    def test_instructor_creates_a_case(self, world, client_for):
        response = client_for("instructor").post(reverse("cases:case_create"), self._data())
        case = CaseStudy.objects.get(slug="lenovo")
        assert response["Location"] == case.get_absolute_url()
        assert case.created_by == world.users["instructor"]
        assert case.key_facts == ["Bought IBM's PC division in 2005.", "Fourth largest PC maker."]
        assert case.paragraphs.count() == 2

    @pytest.mark.parametrize(
        ("overrides", "field", "message"),
        [
            ({"title": ""}, "title", "Give the case a title."),
            ({"slug": "shanghai-bell"}, "slug", "Another case already uses this slug"),
            ({"body": "Hello <script>alert(1)</script>"}, "body", "Remove the HTML"),
            ({"spectrum_placement": "140"}, "spectrum_placement", "less than or equal to 100"),
        ],
    )
    def test_bad_input_is_explained_beside_the_field_and_kept(
        self, world, client_for, overrides, field, message
    ):
        data = self._data(**overrides)
        response = client_for("instructor").post(reverse("cases:case_create"), data)
        html = _html(response)
        assert response.status_code == 200
        assert f'id="id_{field}_error"' in html
        assert message in html
        assert "Cheap PCs for cities." in html  # What was typed is still there.
        assert not CaseStudy.objects.filter(title="Lenovo").exists()

    def test_preview_without_javascript_does_not_save(self, world, client_for):
        data = self._data(action="preview", body="Some *emphasis* here.")
        html = _html(client_for("instructor").post(reverse("cases:case_create"), data))
        assert "<em>emphasis</em>" in html
        assert not CaseStudy.objects.filter(slug="lenovo").exists()

    def test_live_preview_over_htmx_returns_the_preview_fragment(self, world, client_for):
        data = self._data(action="preview", body="Some *emphasis* here.\n\nTwo.")
        response = client_for("instructor").post(
            reverse("cases:case_create"), data, headers={"HX-Request": "true"}
        )
        html = _html(response)
        assert html.strip().startswith('<section id="case-preview"')
        assert html.count('class="para"') == 2

    def test_author_edits_and_paragraph_numbers_survive(self, world, client_for):
        data = self._data(
            title=world.case.title,
            slug=world.case.slug,
            body=world.case.body.replace("many", "very many"),
        )
        response = client_for("instructor").post(
            reverse("cases:case_edit", args=[world.case.slug]), data
        )
        assert response.status_code == 302
        world.case.refresh_from_db()
        assert world.case.revision == 2
        assert "very many" in world.case.paragraphs.get(number=2).text

    def test_a_save_on_top_of_someone_elses_newer_revision_is_refused_and_kept(
        self, world, client_for
    ):
        url = reverse("cases:case_edit", args=[world.case.slug])
        mine = self._data(title=world.case.title, slug=world.case.slug, body="My rewrite.")
        theirs = self._data(title=world.case.title, slug=world.case.slug, body="Their text.")
        client_for("admin").post(url, theirs | {"revision": "1"})
        response = client_for("instructor").post(url, mine | {"revision": "1"})
        html = _html(response)
        assert response.status_code == 200
        assert "Someone else saved this case" in html
        assert "My rewrite." in html
        world.case.refresh_from_db()
        assert world.case.body == "Their text."

    def test_fixing_a_rejected_import_saves_a_new_case(self, world, client_for):
        text = (
            '+++\ntitle = "Copy"\nslug = "shanghai-bell"\ncompany = "X"\nsector = "Y"\n'
            'summary = "Z"\n+++\n\nBody kept.\n'
        )
        upload = io.BytesIO(text.encode())
        upload.name = "copy.md"
        html = _html(client_for("instructor").post(reverse("cases:case_import"), {"file": upload}))
        assert f'action="{reverse("cases:case_create")}"' in html

    def test_import_a_case_file(self, world, client_for):
        text = (
            '+++\ntitle = "SMIC"\nslug = "smic"\ncompany = "SMIC"\nregion = "shanghai"\n'
            'sector = "Semiconductors"\nsummary = "A foundry."\nkey_facts = ["Largest foundry."]\n'
            "spectrum_placement = 85\n+++\n\nOne.\n\nTwo.\n\nThree.\n"
        )
        upload = io.BytesIO(text.encode())
        upload.name = "smic.md"
        response = client_for("instructor").post(reverse("cases:case_import"), {"file": upload})
        case = CaseStudy.objects.get(slug="smic")
        assert response["Location"] == case.get_absolute_url()
        assert case.paragraphs.count() == 3
        assert case.key_facts == ["Largest foundry."]

    def test_import_without_front_matter_explains_the_format(self, world, client_for):
        upload = io.BytesIO(b"Just some text.")
        upload.name = "case.md"
        html = _html(client_for("instructor").post(reverse("cases:case_import"), {"file": upload}))
        assert "front-matter header" in html
        assert not CaseStudy.objects.exclude(pk=world.case.pk).exists()

    def test_import_with_a_duplicate_slug_opens_the_editor_with_everything_kept(
        self, world, client_for
    ):
        text = (
            '+++\ntitle = "Copy"\nslug = "shanghai-bell"\ncompany = "X"\nsector = "Y"\n'
            'summary = "Z"\n+++\n\nBody kept.\n'
        )
        upload = io.BytesIO(text.encode())
        upload.name = "copy.md"
        html = _html(client_for("instructor").post(reverse("cases:case_import"), {"file": upload}))
        assert "Another case already uses this slug" in html
        assert "Body kept." in html


def test_heartbeat_from_another_cohort_is_not_found(world, client_for):
    CohortFactory()
    response = client_for("other_student").post(
        reverse("cases:reading_heartbeat", args=[world.case.slug])
    )
    assert response.status_code == 404
    assert not ReadingProgress.objects.exists()


def test_on_a_phone_the_reader_jumps_to_the_facts_and_the_students_own_reading(world, client_for):
    from cases.models import ReadingProgress

    client = client_for("student")
    html = _html(client.get(world.item.get_absolute_url()))
    jump = html.split('aria-label="On this page"')[1].split("</nav>")[0]
    assert 'href="#facts-heading"' in jump and "just started, mark as done" in jump
    ReadingProgress.objects.filter(user=world.users["student"]).update(active_seconds=7 * 60)
    client.post(reverse("cases:reading_done", args=[world.case.slug]), {"done": "1"})
    html = _html(client.get(world.item.get_absolute_url()))
    assert "Your reading: 7 min so far, done" in html
    assert "about 7 min of reading so far" in html
