"""Every URL by every role → the status that role must get.

Add each new URL here: `test_every_url_is_in_the_matrix` fails until you do. Statuses:
302 for an anonymous visitor is the redirect to sign in; 404 means "not yours" as well
as "not there", so a wrong id never reveals what exists.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from cases.models import (
    Accommodation,
    Analysis,
    Annotation,
    AnnotationTask,
    Decision,
    Extension,
    Memo,
    MemoVersion,
    PeerReview,
    Rubric,
    StanceCheck,
    StancePair,
)
from cases.permissions import CaseAccess
from cases.services.analyses import MemoRefused
from cases.services.annotations import Selection, annotation_create
from cases.services.cohorts.signup import signup_token
from cases.services.memo_files import memo_file_submit
from cases.services.notifications import unsubscribe_url
from cases.services.quizzes import attempt_submit
from tests.conftest import ROLES, World
from tests.factories import (
    AssignmentFactory,
    make_analysis,
    make_annotation_task,
    make_decision,
    make_stance_check,
)

pytestmark = pytest.mark.django_db


def everyone(status: int, **overrides: int) -> dict[str, int]:
    return {role: status for role in ROLES} | overrides


def signed_in(status: int, **overrides: int) -> dict[str, int]:
    return everyone(status, anonymous=302) | overrides


@dataclass
class Route:
    url: Callable[[World], str]
    expected: dict[str, int]
    method: str = "get"
    data: dict = field(default_factory=dict)


STAFF_ONLY = signed_in(403, admin=200)
TEACHERS = signed_in(200, student=403, other_student=403)
COURSE_MEMBERS = signed_in(
    404, student=200, student_ta_elsewhere=200, instructor=200, ta=200, admin=200
)
AUTHORS = signed_in(403, instructor=200, other_instructor=200, admin=200)
OWNER_ONLY = signed_in(404, student=200)
# Course pages for staff: members who may not are refused; strangers see nothing.
COURSE_GRADERS = signed_in(
    404, student=403, student_ta_elsewhere=403, instructor=200, ta=200, admin=200
)
THREAD_READERS_POST = signed_in(302, other_student=404, other_instructor=404)
STAFF_POST = signed_in(
    404, student=403, student_ta_elsewhere=403, instructor=302, ta=302, admin=302
)
AUTHOR_ONLY = signed_in(403, other_student=404, other_instructor=404, student=200)
COURSE_TEACHERS = signed_in(
    404, student=403, student_ta_elsewhere=403, ta=403, instructor=200, admin=200
)
# POSTs that change a course: its teachers are sent on; others refused or not told.
TEACHERS_POST = signed_in(
    404, student=403, student_ta_elsewhere=403, ta=403, instructor=302, admin=302
)
# Students read the cases given to them; anyone who teaches reads the whole library.
CASE_READERS = signed_in(200, other_student=404)
# A student's shared note: their cohort and its course's staff; nobody else is told.
NOTE_READERS = signed_in(200, other_student=404, other_instructor=404)


def _rubric(world: World) -> Rubric:
    rubric, _created = Rubric.objects.get_or_create(
        course=world.course,
        title="Argument",
        defaults={"criteria": [{"name": "Evidence", "levels": [{"label": "None", "points": 0}]}]},
    )
    return rubric


def _stance(world: World) -> StanceCheck:
    stance = StanceCheck.objects.filter(item__module__course=world.course).first()
    if stance is None:
        stance = make_stance_check(world.item.module)
        AssignmentFactory(item=stance.item, cohort=world.course.cohorts.get())
    return stance


def _decision(world: World) -> Decision:
    decision = Decision.objects.filter(item__module__course=world.course).first()
    if decision is None:
        decision = make_decision(world.item.module)
        AssignmentFactory(item=decision.item, cohort=world.course.cohorts.get())
    return decision


def _annotation_item(world: World):
    task = AnnotationTask.objects.filter(item__module__course=world.course).first()
    if task is None:
        task = make_annotation_task(world.item.module, world.case, world.course.cohorts.all())
    return task.item


def _pair(world: World) -> StancePair:
    stance = _stance(world)
    pair = StancePair.objects.filter(stance=stance).first()
    if pair is None:
        first, second = world.users["student"], world.users["student_ta_elsewhere"]
        pair = StancePair.objects.create(stance=stance, first=first, second=second, distance=4)
    return pair


MATRIX: dict[str, Route] = {
    "login": Route(lambda w: reverse("login"), everyone(302, anonymous=200)),
    "logout": Route(lambda w: reverse("logout"), everyone(302), method="post"),
    "password_change": Route(lambda w: reverse("password_change"), signed_in(200)),
    "password_change_done": Route(lambda w: reverse("password_change_done"), signed_in(200)),
    "password_reset": Route(lambda w: reverse("password_reset"), everyone(200)),
    "password_reset_done": Route(lambda w: reverse("password_reset_done"), everyone(200)),
    "password_reset_confirm": Route(
        lambda w: reverse("password_reset_confirm", args=["MQ", "bad-token"]), everyone(200)
    ),
    "password_reset_complete": Route(lambda w: reverse("password_reset_complete"), everyone(200)),
    "healthz": Route(lambda w: reverse("healthz"), everyone(200)),
    # The Django admin sends everyone but staff to its own sign-in page.
    "admin:index": Route(lambda w: reverse("admin:index"), everyone(302, admin=200)),
    "cases:home": Route(
        lambda w: reverse("cases:home"),
        # Those who teach and take nothing are sent on to the teaching dashboard.
        signed_in(302, student=200, other_student=200, student_ta_elsewhere=200),
    ),
    "cases:instructor_dashboard": Route(lambda w: reverse("cases:instructor_dashboard"), TEACHERS),
    "cases:course_detail": Route(
        lambda w: reverse("cases:course_detail", args=[w.course.pk]), COURSE_MEMBERS
    ),
    "cases:item_detail": Route(
        lambda w: reverse("cases:item_detail", args=[w.item.pk]), COURSE_MEMBERS
    ),
    "cases:item_create": Route(
        lambda w: reverse("cases:item_create", args=[w.course.pk]), COURSE_TEACHERS
    ),
    "cases:cohort_list": Route(lambda w: reverse("cases:cohort_list"), STAFF_ONLY),
    "cases:case_list": Route(lambda w: reverse("cases:case_list"), signed_in(200)),
    "cases:case_create": Route(lambda w: reverse("cases:case_create"), AUTHORS),
    "cases:case_import": Route(lambda w: reverse("cases:case_import"), AUTHORS),
    "cases:case_detail": Route(
        lambda w: reverse("cases:case_detail", args=[w.case.slug]), CASE_READERS
    ),
    "cases:case_edit": Route(
        lambda w: reverse("cases:case_edit", args=[w.case.slug]),
        # Its author and admins; other readers may read but not edit.
        signed_in(403, other_student=404, instructor=200, admin=200),
    ),
    # Notes on a case: its readers; a note's thread, whoever reads the note.
    "cases:annotation_list": Route(
        lambda w: reverse("cases:annotation_list", args=[w.case.slug]), CASE_READERS
    ),
    "cases:annotation_list POST": Route(
        lambda w: reverse("cases:annotation_list", args=[w.case.slug]),
        signed_in(302, other_student=404),
        method="post",
        data={"paragraph": "2", "body": "Headcount is an input.", "visibility": "cohort"},
    ),
    "cases:annotation_live": Route(
        lambda w: reverse("cases:annotation_live", args=[w.case.slug]), CASE_READERS
    ),
    "cases:annotation_detail": Route(
        lambda w: reverse("cases:annotation_detail", args=[_note(w).pk]), NOTE_READERS
    ),
    "cases:annotation_reply": Route(
        lambda w: reverse("cases:annotation_reply", args=[_note(w).pk]),
        signed_in(302, other_student=404, other_instructor=404),
        method="post",
        data={"body": "Compare ¶3."},
    ),
    "cases:annotation_vote": Route(
        lambda w: reverse("cases:annotation_vote", args=[_note(w).pk]),
        signed_in(302, other_student=404, other_instructor=404),
        method="post",
    ),
    "cases:annotation_moderate": Route(
        lambda w: reverse("cases:annotation_moderate", args=[_note(w).pk]),
        signed_in(403, other_student=404, other_instructor=404, instructor=302, ta=302, admin=302),
        method="post",
        data={"action": "pin"},
    ),
    "cases:annotation_delete": Route(
        lambda w: reverse("cases:annotation_delete", args=[_note(w).pk]),
        signed_in(403, other_student=404, other_instructor=404, student=302),
        method="post",
    ),
    "cases:reading_heartbeat": Route(
        lambda w: reverse("cases:reading_heartbeat", args=[w.case.slug]),
        signed_in(204, other_student=404),
        method="post",
    ),
    # Quizzes: only the attempt's owner reaches it; staff review through grading pages.
    "cases:attempt_start": Route(
        lambda w: reverse("cases:attempt_start", args=[w.quiz.item.pk]),
        signed_in(404, student=302, student_ta_elsewhere=302),
        method="post",
    ),
    "cases:attempt_detail": Route(
        lambda w: reverse("cases:attempt_detail", args=[w.attempt.pk]), OWNER_ONLY
    ),
    "cases:attempt_save": Route(
        lambda w: reverse("cases:attempt_save", args=[w.attempt.pk]),
        signed_in(404, student=302),
        method="post",
    ),
    "cases:attempt_submit": Route(
        lambda w: reverse("cases:attempt_submit", args=[w.attempt.pk]), OWNER_ONLY
    ),
    "cases:attempt_result": Route(
        # An open attempt's result sends its owner back to the questions.
        lambda w: reverse("cases:attempt_result", args=[w.attempt.pk]),
        signed_in(404, student=302),
    ),
    "cases:quiz_stats": Route(
        lambda w: reverse("cases:quiz_stats", args=[w.quiz.item.pk]), COURSE_GRADERS
    ),
    "cases:quiz_regrade": Route(
        lambda w: reverse("cases:quiz_regrade", args=[w.quiz.item.pk]),
        signed_in(404, student=403, student_ta_elsewhere=403, ta=403, instructor=302, admin=302),
        method="post",
    ),
    "cases:quiz_settings": Route(
        lambda w: reverse("cases:quiz_settings", args=[w.quiz.item.pk]),
        signed_in(404, student=403, student_ta_elsewhere=403, ta=403, instructor=200, admin=200),
    ),
    "cases:grading_queue": Route(
        lambda w: reverse("cases:grading_queue", args=[w.course.pk]), COURSE_GRADERS
    ),
    "cases:answer_grade": Route(
        lambda w: reverse("cases:answer_grade", args=[_submitted_answer(w).pk]),
        signed_in(404, instructor=302, ta=302, admin=302),
        method="post",
        data={"points": "1", "comment": "Good."},
    ),
    "cases:question_list": Route(
        lambda w: reverse("cases:question_list", args=[w.course.pk]), COURSE_TEACHERS
    ),
    "cases:question_create": Route(
        lambda w: reverse("cases:question_create", args=[w.course.pk]), COURSE_TEACHERS
    ),
    "cases:question_import": Route(
        lambda w: reverse("cases:question_import", args=[w.course.pk]), COURSE_TEACHERS
    ),
    "cases:question_import_confirm": Route(
        lambda w: reverse("cases:question_import_confirm", args=[w.course.pk]),
        TEACHERS_POST,
        method="post",
        data={"text": "::Sky::The sky is blue.{T}", "token": "0" * 32, "mode": "sound"},
    ),
    "cases:question_export": Route(
        lambda w: reverse("cases:question_export", args=[w.course.pk]), COURSE_TEACHERS
    ),
    "cases:question_edit": Route(
        lambda w: reverse("cases:question_edit", args=[w.quiz.slots.first().question_id]),
        signed_in(404, instructor=200, admin=200),
    ),
    # Discussions: readers of the thread, the post's author, the course staff.
    "cases:thread_posts": Route(
        lambda w: reverse("cases:thread_posts", args=[w.discussion.item.pk]), COURSE_MEMBERS
    ),
    "cases:post_create": Route(
        lambda w: reverse("cases:post_create", args=[w.discussion.item.pk]),
        THREAD_READERS_POST,
        method="post",
        data={"body": "I disagree: see ¶3."},
    ),
    "cases:discussion_lock": Route(
        lambda w: reverse("cases:discussion_lock", args=[w.discussion.item.pk]),
        STAFF_POST,
        method="post",
        data={"locked": "1"},
    ),
    "cases:discussion_follow": Route(
        lambda w: reverse("cases:discussion_follow", args=[w.discussion.item.pk]),
        THREAD_READERS_POST,
        method="post",
        data={"follow": "1"},
    ),
    "cases:discussion_settings": Route(
        lambda w: reverse("cases:discussion_settings", args=[w.discussion.item.pk]),
        COURSE_TEACHERS,
    ),
    "cases:annotation_settings": Route(
        lambda w: reverse("cases:annotation_settings", args=[_annotation_item(w).pk]),
        COURSE_TEACHERS,
    ),
    "cases:annotation_report": Route(
        lambda w: reverse("cases:annotation_report", args=[_annotation_item(w).pk]),
        COURSE_GRADERS,
    ),
    "cases:participation": Route(
        lambda w: reverse("cases:participation", args=[w.discussion.item.pk]), COURSE_GRADERS
    ),
    "cases:post_edit": Route(lambda w: reverse("cases:post_edit", args=[w.post.pk]), AUTHOR_ONLY),
    "cases:post_delete": Route(
        lambda w: reverse("cases:post_delete", args=[w.post.pk]),
        AUTHOR_ONLY | {"student": 302},
        method="post",
    ),
    "cases:post_upvote": Route(
        lambda w: reverse("cases:post_upvote", args=[w.post.pk]),
        THREAD_READERS_POST,
        method="post",
    ),
    "cases:post_moderate": Route(
        lambda w: reverse("cases:post_moderate", args=[w.post.pk]),
        STAFF_POST,
        method="post",
        data={"action": "pin"},
    ),
    "cases:post_history": Route(
        lambda w: reverse("cases:post_history", args=[w.post.pk]),
        COURSE_GRADERS | {"student": 200},
    ),
    "cases:paragraph_detail": Route(
        lambda w: reverse("cases:paragraph_detail", args=[w.case.slug, 2]), CASE_READERS
    ),
    "cases:reading_done": Route(
        lambda w: reverse("cases:reading_done", args=[w.case.slug]),
        signed_in(302, other_student=404),
        method="post",
        data={"done": "1"},
    ),
    # Instructor workspace: tracker, grading one student at a time, rubrics.
    "cases:tracker": Route(lambda w: reverse("cases:tracker", args=[w.course.pk]), COURSE_GRADERS),
    "cases:student_timeline": Route(
        lambda w: reverse("cases:student_timeline", args=[w.course.pk, w.users["student"].pk]),
        COURSE_GRADERS,
    ),
    "cases:work_panel": Route(
        lambda w: reverse("cases:work_panel", args=[w.course.pk, w.users["student"].pk, w.item.pk]),
        COURSE_GRADERS,
    ),
    "cases:grade_work": Route(
        lambda w: reverse("cases:grade_work", args=[w.item.pk, w.users["student"].pk]),
        COURSE_GRADERS,
    ),
    "cases:rubric_list": Route(
        lambda w: reverse("cases:rubric_list", args=[w.course.pk]), COURSE_TEACHERS
    ),
    "cases:rubric_edit": Route(
        lambda w: reverse("cases:rubric_edit", args=[_rubric(w).pk]), COURSE_TEACHERS
    ),
    # Course builder: instructors of the course and admins.
    "cases:course_create": Route(lambda w: reverse("cases:course_create"), AUTHORS),
    "cases:course_edit": Route(
        lambda w: reverse("cases:course_edit", args=[w.course.pk]), COURSE_TEACHERS
    ),
    "cases:course_builder": Route(
        lambda w: reverse("cases:course_builder", args=[w.course.pk]), COURSE_TEACHERS
    ),
    "cases:course_duplicate": Route(
        lambda w: reverse("cases:course_duplicate", args=[w.course.pk]), COURSE_TEACHERS
    ),
    "cases:module_create": Route(
        lambda w: reverse("cases:module_create", args=[w.course.pk]), COURSE_TEACHERS
    ),
    "cases:item_copy": Route(
        lambda w: reverse("cases:item_copy", args=[w.course.pk]), COURSE_TEACHERS
    ),
    "cases:module_edit": Route(
        lambda w: reverse("cases:module_edit", args=[w.item.module_id]), COURSE_TEACHERS
    ),
    "cases:module_delete": Route(
        lambda w: reverse("cases:module_delete", args=[w.item.module_id]), COURSE_TEACHERS
    ),
    "cases:module_move": Route(
        lambda w: reverse("cases:module_move", args=[w.item.module_id]),
        TEACHERS_POST,
        method="post",
        data={"direction": "down"},
    ),
    "cases:item_edit": Route(
        lambda w: reverse("cases:item_edit", args=[w.item.pk]), COURSE_TEACHERS
    ),
    "cases:item_delete": Route(
        lambda w: reverse("cases:item_delete", args=[w.item.pk]), COURSE_TEACHERS
    ),
    "cases:item_move": Route(
        lambda w: reverse("cases:item_move", args=[w.item.pk]),
        TEACHERS_POST,
        method="post",
        data={"direction": "down"},
    ),
    # Scheduling.
    "cases:item_schedule": Route(
        lambda w: reverse("cases:item_schedule", args=[w.item.pk]), COURSE_TEACHERS
    ),
    "cases:extension_grant": Route(
        lambda w: reverse("cases:extension_grant", args=[w.item.pk]),
        # No student chosen: the page comes back with the error beside the field.
        TEACHERS_POST | {"instructor": 200, "admin": 200},
        method="post",
        data={"students": "", "due_at": "2030-01-01T09:00"},
    ),
    "cases:extension_delete": Route(
        lambda w: reverse("cases:extension_delete", args=[w.item.pk, _extension(w).pk]),
        TEACHERS_POST,
        method="post",
    ),
    "cases:accommodation_set": Route(
        lambda w: reverse("cases:accommodation_set", args=[w.quiz.item.pk]),
        # No time given: the page comes back with the error.
        TEACHERS_POST | {"instructor": 200, "admin": 200},
        method="post",
        data={"student": "", "extra_minutes": ""},
    ),
    "cases:accommodation_delete": Route(
        lambda w: reverse(
            "cases:accommodation_delete", args=[w.quiz.item.pk, _accommodation(w).pk]
        ),
        TEACHERS_POST,
        method="post",
    ),
    "cases:course_deadlines": Route(
        lambda w: reverse("cases:course_deadlines", args=[w.course.pk]), COURSE_MEMBERS
    ),
    # Thesis tools: stance checks.
    "cases:stance_settings": Route(
        lambda w: reverse("cases:stance_settings", args=[_stance(w).item.pk]), COURSE_TEACHERS
    ),
    "cases:stance_answer": Route(
        lambda w: reverse("cases:stance_answer", args=[_stance(w).item.pk]),
        signed_in(
            404,
            student=302,
            student_ta_elsewhere=302,
            instructor=403,
            ta=403,
            admin=403,
        ),
        method="post",
        data={"value": "4", "reason": "It depends on the sector."},
    ),
    # Thesis tools: decision points and calibration.
    "cases:decision_settings": Route(
        lambda w: reverse("cases:decision_settings", args=[_decision(w).item.pk]),
        COURSE_TEACHERS,
    ),
    "cases:decision_commit": Route(
        lambda w: reverse("cases:decision_commit", args=[_decision(w).item.pk]),
        signed_in(404, student=302, student_ta_elsewhere=302, instructor=403, ta=403, admin=403),
        method="post",
        data={"choice": "0", "rationale": "Own R&D.", "expects": "yes", "confidence": "70"},
    ),
    "cases:decision_score": Route(
        lambda w: reverse("cases:decision_score", args=[_decision(w).item.pk]),
        signed_in(404, student=403, student_ta_elsewhere=403, ta=403, instructor=302, admin=302),
        method="post",
        data={"came_true": "yes"},
    ),
    "cases:calibration": Route(
        lambda w: reverse("cases:calibration", args=[w.course.pk]), COURSE_MEMBERS
    ),
    # Thesis tools: arguing with the other side.
    "cases:stance_pairs": Route(
        lambda w: reverse("cases:stance_pairs", args=[_stance(w).item.pk]),
        signed_in(404, student=403, student_ta_elsewhere=403, ta=403, instructor=302, admin=302),
        method="post",
        data={"phase": "before"},
    ),
    "cases:pair_thread": Route(
        lambda w: reverse("cases:pair_thread", args=[_pair(w).pk]), COURSE_MEMBERS
    ),
    "cases:regional_comparison": Route(
        lambda w: reverse("cases:regional_comparison", args=[w.course.pk]), COURSE_MEMBERS
    ),
    "cases:spectrum_pairs": Route(
        lambda w: reverse("cases:spectrum_pairs", args=[_spectrum_item(w).pk]),
        signed_in(404, student=403, student_ta_elsewhere=403, ta=403, instructor=302, admin=302),
        method="post",
    ),
}


def _accommodation(world: World):
    return Accommodation.objects.get_or_create(
        course=world.course, student=world.users["student"], defaults={"extra_minutes": 10}
    )[0]


# Written analyses: peer review.
def _peer_reviews(world: World) -> dict[str, PeerReview]:
    """The analysis with peer review on, the section's two students having handed in
    and each reviewing the other; the review of the student's memo is submitted.
    Returns the reviews by who reviews: "student" and "student_ta_elsewhere"."""
    from django.utils import timezone

    from cases.models import Memo, MemoVersion

    item = _analysis_item(world)
    Analysis.objects.filter(item=item).update(peer_review=True)
    reviews = {}
    versions = {}
    for role in ("student", "student_ta_elsewhere"):
        memo, _ = Memo.objects.get_or_create(item=item, author=world.users[role])
        versions[role], _ = MemoVersion.objects.get_or_create(
            memo=memo, number=1, defaults={"body": "Buy.", "submitted_at": timezone.now()}
        )
    for reviewer, author in (
        ("student", "student_ta_elsewhere"),
        ("student_ta_elsewhere", "student"),
    ):
        reviews[reviewer], _ = PeerReview.objects.get_or_create(
            item=item,
            reviewer=world.users[reviewer],
            author=world.users[author],
            defaults={"version": versions[author], "position": 1},
        )
    PeerReview.objects.filter(pk=reviews["student_ta_elsewhere"].pk).update(
        submitted_at=timezone.now(), comment="Clear."
    )
    return reviews


# The reviewer alone reads and writes their review (anyone else: 404); the memo's author
# alone rates a submitted review; the item's graders see the reviews; its instructors
# and admins assign them and use peer scores as grades.
MATRIX |= {
    "cases:peer_review": Route(
        lambda w: reverse("cases:peer_review", args=[_peer_reviews(w)["student"].pk]),
        signed_in(404, student=200),
    ),
    "cases:peer_review_rate": Route(
        lambda w: reverse(
            "cases:peer_review_rate", args=[_peer_reviews(w)["student_ta_elsewhere"].pk]
        ),
        signed_in(404, student=302),
        method="post",
        data={"helpfulness": "4"},
    ),
    "cases:peer_reviews": Route(
        lambda w: reverse("cases:peer_reviews", args=[_peer_reviews(w)["student"].item_id]),
        COURSE_GRADERS,
    ),
    "cases:peer_reviews_assign": Route(
        lambda w: reverse("cases:peer_reviews_assign", args=[_peer_reviews(w)["student"].item_id]),
        TEACHERS_POST,
        method="post",
    ),
    "cases:peer_scores_apply": Route(
        lambda w: reverse("cases:peer_scores_apply", args=[_peer_reviews(w)["student"].item_id]),
        TEACHERS_POST,
        method="post",
    ),
}


def _extension(world: World):
    assignment = world.item.assignments.get()
    return Extension.objects.create(
        assignment=assignment,
        user=world.users["student"],
        due_at=assignment.due_at + timedelta(days=2),
    )


def _analysis_item(world: World):
    """A written analysis on the world's case, given to the course's section."""
    analysis = Analysis.objects.filter(item__module__course=world.course).first()
    if analysis is None:
        analysis = make_analysis(world.item.module, world.course.cohorts.all(), case=world.case)
    return analysis.item


# Written analyses: the students given one write it; its staff read, not write.
WRITERS_POST = signed_in(
    404, student=200, student_ta_elsewhere=200, instructor=403, ta=403, admin=403
)
MATRIX |= {
    "cases:analysis_settings": Route(
        lambda w: reverse("cases:analysis_settings", args=[_analysis_item(w).pk]),
        COURSE_TEACHERS,
    ),
    "cases:analysis_draft": Route(
        lambda w: reverse("cases:analysis_draft", args=[_analysis_item(w).pk]),
        WRITERS_POST,
        method="post",
        data={"body": "A first line.", "seq": "5"},
    ),
    "cases:analysis_preview": Route(
        lambda w: reverse("cases:analysis_preview", args=[_analysis_item(w).pk]),
        WRITERS_POST,
        method="post",
        data={"body": "See ¶2."},
    ),
    "cases:analysis_write": Route(
        lambda w: reverse("cases:analysis_write", args=[_analysis_item(w).pk]),
        WRITERS_POST | {"student": 302, "student_ta_elsewhere": 302},
        method="post",
        data={"body": "A first line.", "action": "save"},
    ),
}


# Written analyses: files handed in.
class _PdfUpload:
    """A PDF for the matrix's posts, read afresh by each request that sends it."""

    name = "memo.pdf"
    content_type = "application/pdf"

    def read(self) -> bytes:
        return b"%PDF-1.7\n%%EOF\n"


def _memo_file_version(world: World):
    """A version the world's student handed in as a file (once per world). Handed in
    the way a student does, unless a route before it in this world already gave the
    memo to reviewers, which pins it: then made as that hand-in would have made it."""
    item, student = _analysis_item(world), world.users["student"]
    found = MemoVersion.objects.filter(memo__item=item, memo__author=student, file__gt="")
    if version := found.first():
        return version
    upload = SimpleUploadedFile("memo.pdf", _PdfUpload().read())
    try:
        return memo_file_submit(item=item, user=student, upload=upload, nonce="matrix")
    except MemoRefused:
        memo, _ = Memo.objects.get_or_create(item=item, author=student)
        version = MemoVersion(
            memo=memo,
            number=memo.versions.count() + 1,
            file_name="memo.pdf",
            file_type="pdf",
            file_size=upload.size,
            submitted_at=timezone.now(),
        )
        version.file.save("memo.pdf", upload)
        return version


MATRIX |= {
    "cases:analysis_upload": Route(
        lambda w: reverse("cases:analysis_upload", args=[_analysis_item(w).pk]),
        WRITERS_POST | {"student": 302, "student_ta_elsewhere": 302},
        method="post",
        data={"file": _PdfUpload(), "nonce": ""},
    ),
    # Its author and those who grade them; a classmate only when given it to review
    # (tests/analyses/test_uploads.py), so here a 404 like anyone else's.
    "cases:memo_file": Route(
        lambda w: reverse("cases:memo_file", args=[_memo_file_version(w).pk]),
        signed_in(404, student=200, instructor=200, ta=200, admin=200),
    ),
}


# The heat map of a class's notes on a case the course uses: its graders.
MATRIX |= {
    "cases:annotation_heatmap": Route(
        lambda w: reverse("cases:annotation_heatmap", args=[w.course.pk, w.case.slug]),
        COURSE_GRADERS,
    ),
}


# The gradebook: graders see it; instructors and admins release grades and set
# categories; a student sees their own grades (staff are sent to the gradebook).
MATRIX |= {
    "cases:gradebook": Route(
        lambda w: reverse("cases:gradebook", args=[w.course.pk]), COURSE_GRADERS
    ),
    "cases:gradebook_csv": Route(
        lambda w: reverse("cases:gradebook_csv", args=[w.course.pk]), COURSE_GRADERS
    ),
    "cases:grade_categories": Route(
        lambda w: reverse("cases:grade_categories", args=[w.course.pk]), COURSE_TEACHERS
    ),
    "cases:grade_edit": Route(
        lambda w: reverse(
            "cases:grade_edit", args=[w.course.pk, w.users["student"].pk, w.quiz.item.pk]
        ),
        COURSE_GRADERS,
    ),
    "cases:assignment_release": Route(
        lambda w: reverse("cases:assignment_release", args=[w.quiz.item.assignments.get().pk]),
        signed_in(404, student=403, student_ta_elsewhere=403, ta=403, instructor=302, admin=302),
        method="post",
        data={"release": "1"},
    ),
    "cases:student_grades": Route(
        lambda w: reverse("cases:student_grades", args=[w.course.pk]),
        signed_in(404, student=200, student_ta_elsewhere=200, instructor=302, ta=302, admin=302),
    ),
}


# Written analyses: a version's page, the grader's comments, the changes between versions.
# Its author and those who grade them read a version; graders comment; a comment's
# author (or an instructor) deletes it; classmates and other courses are not told.
def _memo_version(world: World):
    from cases.models import MemoVersion
    from cases.services.analyses import memo_submit

    item = _analysis_item(world)
    version = MemoVersion.objects.filter(memo__item=item).first()
    if version is None:
        version = memo_submit(item=item, user=world.users["student"], body="Buy. Do not build.")
    return version


def _memo_comment(world: World):
    from cases.services.memo_feedback import comment_create

    return comment_create(
        version=_memo_version(world),
        author=world.users["ta"],
        selection=Selection(1, 0, 1, 4, "Buy."),
        body="Why?",
    )


MEMO_READERS = signed_in(404, student=200, instructor=200, ta=200, admin=200)
MATRIX |= {
    "cases:memo_version": Route(
        lambda w: reverse("cases:memo_version", args=[_memo_version(w).pk]), MEMO_READERS
    ),
    "cases:memo_changes": Route(
        lambda w: reverse("cases:memo_changes", args=[_memo_version(w).pk]), MEMO_READERS
    ),
    "cases:memo_comment_create": Route(
        lambda w: reverse("cases:memo_comment_create", args=[_memo_version(w).pk]),
        MEMO_READERS | {"student": 403},
    ),
    "cases:memo_comment_create POST": Route(
        lambda w: reverse("cases:memo_comment_create", args=[_memo_version(w).pk]),
        signed_in(404, student=403, instructor=302, ta=302, admin=302),
        method="post",
        data={"paragraph": "1", "sentence": "", "body": "Say more."},
    ),
    "cases:memo_comment_delete": Route(
        lambda w: reverse("cases:memo_comment_delete", args=[_memo_comment(w).pk]),
        signed_in(404, student=403, instructor=302, ta=302, admin=302),
        method="post",
    ),
}


def _spectrum_item(world: World):
    """A spectrum exercise given to the course's section, made once per world."""
    from cases.models import ModuleItem
    from tests.factories import make_spectrum

    item = ModuleItem.objects.filter(module=world.item.module, kind="spectrum").first()
    if item is None:
        item = make_spectrum(world.item.module, [world.case], world.course.cohorts.all()).item
    return item


# The spectrum exercise: students given it save their placements (course staff do not
# place companies); its instructors and admins release the class's placements.
MATRIX |= {
    "cases:spectrum_save": Route(
        lambda w: reverse("cases:spectrum_save", args=[_spectrum_item(w).pk]),
        signed_in(404, student=302, student_ta_elsewhere=302, instructor=403, ta=403, admin=403),
        method="post",
    ),
    "cases:spectrum_release": Route(
        lambda w: reverse("cases:spectrum_release", args=[_spectrum_item(w).pk]),
        TEACHERS_POST,
        method="post",
        data={"release": "1"},
    ),
}


def _live(world: World):
    """A running session of a live-session item given to the course's section, with a
    poll open, made once per world."""
    from cases.models import LiveSession
    from cases.services.live import poll_create, poll_launch
    from tests.factories import make_live

    session = LiveSession.objects.filter(course=world.course).first()
    if session is None:
        session = make_live(
            world.item.module, world.course.cohorts.all(), start_by=world.users["instructor"]
        )
        poll = poll_create(session=session, kind="single", prompt="R or D?", options=["R", "D"])
        poll_launch(poll)
        session.refresh_from_db()
    return session


def _live_mark(world: World):
    from cases.services.live import mark_add

    session = _live(world)
    mark = session.marks.first()
    if mark is None:
        student, by = world.users["student"], world.users["instructor"]
        mark = mark_add(session=session, student=student, points=1, note="", by=by)
    return mark


# Live class: students the session is for join and answer from their phones; the
# course's graders run it; its teachers set how a live-session item is graded.
LIVE_STUDENTS = signed_in(
    404, student=200, student_ta_elsewhere=200, instructor=302, ta=302, admin=302
)
LIVE_STUDENTS_POST = signed_in(
    404, student=302, student_ta_elsewhere=302, instructor=403, ta=403, admin=403
)
MATRIX |= {
    "cases:live_join": Route(lambda w: reverse("cases:live_join"), signed_in(200)),
    "cases:live_join_code": Route(
        lambda w: reverse("cases:live_join_code", args=[_live(w).join_code]),
        signed_in(200, instructor=302, ta=302, admin=302),
    ),
    "cases:live_session": Route(
        lambda w: reverse("cases:live_session", args=[_live(w).pk]), COURSE_MEMBERS
    ),
    "cases:live_session_join": Route(
        lambda w: reverse("cases:live_session_join", args=[_live(w).pk]),
        LIVE_STUDENTS_POST,
        method="post",
    ),
    "cases:live_state": Route(
        lambda w: reverse("cases:live_state", args=[_live(w).pk]), LIVE_STUDENTS
    ),
    "cases:live_answer": Route(
        lambda w: reverse("cases:live_answer", args=[_live(w).pk]),
        LIVE_STUDENTS_POST,
        method="post",
        data={"answer": "1"},
    ),
    "cases:live_projector": Route(
        lambda w: reverse("cases:live_projector", args=[_live(w).pk]), COURSE_GRADERS
    ),
    "cases:live_poll_create": Route(
        lambda w: reverse("cases:live_poll_create", args=[_live(w).pk]),
        STAFF_POST,
        method="post",
        data={"kind": "word", "prompt": "One word for QQ"},
    ),
    "cases:live_poll_control": Route(
        lambda w: reverse("cases:live_poll_control", args=[_live(w).current_poll_id]),
        STAFF_POST,
        method="post",
        data={"action": "reveal"},
    ),
    "cases:live_cold_call": Route(
        lambda w: reverse("cases:live_cold_call", args=[_live(w).pk]),
        STAFF_POST,
        method="post",
        data={"action": "pick"},
    ),
    "cases:live_mark": Route(
        lambda w: reverse("cases:live_mark", args=[_live(w).pk]),
        STAFF_POST,
        method="post",
        data={"points": "1"},
    ),
    "cases:live_mark_delete": Route(
        lambda w: reverse("cases:live_mark_delete", args=[_live_mark(w).pk]),
        STAFF_POST,
        method="post",
    ),
    "cases:live_end": Route(
        lambda w: reverse("cases:live_end", args=[_live(w).pk]), STAFF_POST, method="post"
    ),
    "cases:live_sessions": Route(
        lambda w: reverse("cases:live_sessions", args=[w.course.pk]), COURSE_GRADERS
    ),
    "cases:live_class_settings": Route(
        lambda w: reverse("cases:live_class_settings", args=[_live(w).item_id]),
        TEACHERS_POST,
        method="post",
        data={"attendance_percent": "40", "marks_for_full_credit": "2"},
    ),
}


# Cohort administration: admins enrol cohorts from a roster.
MATRIX |= {
    "cases:roster_import": Route(
        lambda w: reverse("cases:roster_import", args=[w.course.cohorts.get().pk]), STAFF_ONLY
    ),
}


# People: a course's instructors and admins give roles there (its TAs and students are
# refused, strangers not told); the directory, deactivation and the audit log are for
# admins only.
MATRIX |= {
    "cases:course_people": Route(
        lambda w: reverse("cases:course_people", args=[w.course.pk]), COURSE_TEACHERS
    ),
    "cases:course_people_remove": Route(
        lambda w: reverse("cases:course_people_remove", args=[w.course.pk, w.users["ta"].pk]),
        TEACHERS_POST,
        method="post",
        data={"role": "ta"},
    ),
    "cases:course_ta_cohorts": Route(
        lambda w: reverse("cases:course_ta_cohorts", args=[w.course.pk, w.users["ta"].pk]),
        TEACHERS_POST,
        method="post",
        data={"cohorts": []},
    ),
    "cases:people_directory": Route(lambda w: reverse("cases:people_directory"), STAFF_ONLY),
    # The page that asks "Deactivate X?"; the POST that does it is in tests/people.
    "cases:person_deactivate": Route(
        lambda w: reverse("cases:person_deactivate", args=[w.users["student"].pk]),
        signed_in(403, admin=200),
    ),
    "cases:person_reactivate": Route(
        lambda w: reverse("cases:person_reactivate", args=[w.users["student"].pk]),
        signed_in(403, admin=302),
        method="post",
    ),
    "cases:person_invite": Route(
        lambda w: reverse("cases:person_invite", args=[w.users["student"].pk]),
        signed_in(403, admin=302),
        method="post",
    ),
    "cases:audit_log": Route(lambda w: reverse("cases:audit_log"), STAFF_ONLY),
    "cases:audit_csv": Route(lambda w: reverse("cases:audit_csv"), STAFF_ONLY),
}


def _cohort_url(name: str):
    return lambda w: reverse(name, args=[w.course.cohorts.get().pk])


def _signup_link(world: World) -> str:
    token = signup_token(
        email="newcomer@example.edu",
        username="newcomer",
        first_name="Mei",
        last_name="Lin",
        cohort=world.course.cohorts.get().pk,
    )
    return reverse("cases:signup_confirm", args=[token])


# Cohort administration is for admins; anyone signed in joins a cohort with its code;
# only someone signed out signs up (with a code). Bad or missing input comes back as the
# page with the error beside the field (200), so nothing changes here.
ADMIN_POST = signed_in(403, admin=302)
ADMIN_FORM = signed_in(403, admin=200)
MATRIX |= {
    "cases:cohort_detail": Route(_cohort_url("cases:cohort_detail"), STAFF_ONLY),
    "cases:cohort_rename": Route(
        _cohort_url("cases:cohort_rename"), ADMIN_POST, method="post", data={"name": "A2"}
    ),
    "cases:cohort_archive": Route(
        _cohort_url("cases:cohort_archive"), ADMIN_POST, method="post", data={"archived": "1"}
    ),
    "cases:cohort_courses": Route(
        _cohort_url("cases:cohort_courses"), ADMIN_FORM, method="post", data={"action": "attach"}
    ),
    "cases:cohort_join_code": Route(
        _cohort_url("cases:cohort_join_code"),
        ADMIN_POST,
        method="post",
        data={"action": "rotate"},
    ),
    "cases:cohort_members": Route(
        _cohort_url("cases:cohort_members"), ADMIN_FORM, method="post", data={"action": "move"}
    ),
    "cases:cohort_join": Route(lambda w: reverse("cases:cohort_join"), signed_in(200)),
    "cases:signup": Route(lambda w: reverse("cases:signup"), everyone(302, anonymous=200)),
    # Where the sign-up link went, and the link's page: for whoever holds it.
    "cases:signup_sent": Route(lambda w: reverse("cases:signup_sent"), everyone(200)),
    "cases:signup_confirm": Route(_signup_link, everyone(200)),
}


def _notification(world: World):
    from cases.models import Notification

    notification = Notification.objects.filter(user=world.users["student"]).first()
    if notification is None:
        notification = Notification.objects.create(
            user=world.users["student"],
            kind="grade_released",
            title="Grade released",
            url=world.quiz.item.get_absolute_url(),
        )
    return notification


# Notifications: everyone signed in has their own; one is opened only by its owner.
MATRIX |= {
    "cases:notification_list": Route(lambda w: reverse("cases:notification_list"), signed_in(200)),
    "cases:notification_bell": Route(lambda w: reverse("cases:notification_bell"), signed_in(200)),
    "cases:notification_read": Route(
        lambda w: reverse("cases:notification_read"), signed_in(302), method="post"
    ),
    "cases:notification_preferences": Route(
        lambda w: reverse("cases:notification_preferences"), signed_in(200)
    ),
    "cases:notification_open": Route(
        lambda w: reverse("cases:notification_open", args=[_notification(w).pk]),
        signed_in(404, student=302),
    ),
}


# Notifications: the link at the foot of an email works for whoever holds it, signed in or
# not (a GET shows the button; tests/notifications/test_services.py covers the POST and bad tokens).
MATRIX |= {
    "cases:notification_unsubscribe": Route(
        lambda w: unsubscribe_url(w.users["student"].pk, "grade_released"), everyone(200)
    ),
}


# LTI 1.3: the LMS's entry points answer anyone, and refuse what no LMS launched (a
# clear page, nothing recorded: tests/lti covers real launches); the pages after a
# launch need one, so nobody reaches them without (404).
LTI_UUID = "00000000-0000-4000-8000-000000000000"
MATRIX |= {
    "cases:lti_login": Route(lambda w: reverse("cases:lti_login", args=[LTI_UUID]), everyone(400)),
    "cases:lti_launch": Route(lambda w: reverse("cases:lti_launch"), everyone(403), method="post"),
    "cases:lti_enter": Route(lambda w: reverse("cases:lti_enter", args=["x"]), everyone(403)),
    "cases:lti_link": Route(lambda w: reverse("cases:lti_link"), signed_in(404)),
    "cases:lti_deep_link": Route(lambda w: reverse("cases:lti_deep_link"), signed_in(404)),
    "cases:lti_jwks": Route(lambda w: reverse("cases:lti_jwks"), everyone(200)),
    "cases:lti_config": Route(lambda w: reverse("cases:lti_config"), STAFF_ONLY),
    "cases:lti_course": Route(
        lambda w: reverse("cases:lti_course", args=[w.course.pk]), COURSE_TEACHERS
    ),
}


def _note(world: World) -> Annotation:
    """The student's note on ¶2 of the world's case, shared with Section A."""
    note = Annotation.objects.filter(case=world.case, author=world.users["student"]).first()
    if note is None:
        note = annotation_create(
            case=world.case,
            author=world.users["student"],
            access=CaseAccess(is_teaching_staff=False, can_edit=False),
            selection=Selection(2, 0, 2, 6),
            body="Headcount is an input.",
        )
    return note


def _submitted_answer(world: World):
    attempt_submit(attempt_id=world.attempt.pk)
    return world.attempt.slots.last().answer


def _url_names(resolver: URLResolver, namespace: str = "") -> set[str]:
    names = set()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                names.add("admin:index")  # The admin's own views are Django's to guard.
                continue
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            names |= _url_names(pattern, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(f"{namespace}{pattern.name}")
    return names


def test_every_url_is_in_the_matrix():
    # A URL that answers GET and POST differently has a second entry, "name POST".
    assert _url_names(get_resolver()) == {name.split(" ")[0] for name in MATRIX}


# The routes the tests below are made for, fixed when this module is imported: a block
# added to MATRIX below them would be in the matrix and yet never checked.
CHECKED = sorted(MATRIX)


def test_every_route_in_the_matrix_is_checked():
    assert set(CHECKED) == set(MATRIX), "Add MATRIX blocks above the tests."


def assert_kept_private(response, name: str) -> None:
    """A response to a signed-in user is `private, no-store`; the one exception is a
    poll that revalidates with its ETag (`private, no-cache`), never stored elsewhere."""
    parts = {part.strip() for part in response.get("Cache-Control", "").split(",")}
    revalidates = "no-cache" in parts and response.has_header("ETag")
    assert "private" in parts and ("no-store" in parts or revalidates), (
        name,
        response.get("Cache-Control"),
    )


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", CHECKED)
def test_role_gets_expected_status(name, role, world, client_for):
    route = MATRIX[name]
    client = client_for(role)
    response = getattr(client, route.method)(route.url(world), route.data)
    assert response.status_code == route.expected[role], (name, role)
    if role != "anonymous":
        assert_kept_private(response, name)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(n for n, r in MATRIX.items() if r.method == "get"))
def test_htmx_request_gets_the_same_answer(name, role, world, client_for):
    """The same checks guard fragments: an htmx request is never let through where the
    page would not be. A signed-out htmx request is told to go to the sign-in page."""
    route = MATRIX[name]
    client = client_for(role)
    response = client.get(route.url(world), headers={"HX-Request": "true"})
    expected = route.expected[role]
    if role == "anonymous" and expected == 302:
        assert response.status_code == 200
        assert "/login/?next=" in response["HX-Redirect"]
    else:
        assert response.status_code == expected, (name, role)
    if role != "anonymous":
        assert_kept_private(response, name)


# Query parameters that open more of a page than its plain address: each role gets the
# same answer as for the page itself (an htmx request too).
VARIANTS = {
    "tracker, compact, with a student's panel open": (
        lambda w: (
            reverse("cases:tracker", args=[w.course.pk])
            + f"?view=compact&student={w.users['student'].pk}&item={w.quiz.item.pk}"
        ),
        COURSE_GRADERS,
    ),
    "heat map as CSV, one cohort": (
        lambda w: (
            reverse("cases:annotation_heatmap", args=[w.course.pk, w.case.slug])
            + f"?cohort={w.course.cohorts.get().pk}&format=csv"
        ),
        COURSE_GRADERS,
    ),
    "gradebook, category totals": (
        lambda w: reverse("cases:gradebook", args=[w.course.pk]) + "?view=categories",
        COURSE_GRADERS,
    ),
}


@pytest.mark.parametrize("htmx", [False, True])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_page_variants_get_the_pages_answer(name, role, htmx, world, client_for):
    url, expected = VARIANTS[name]
    headers = {"HX-Request": "true"} if htmx else {}
    response = client_for(role).get(url(world), headers=headers)
    if role == "anonymous" and htmx:
        assert "/login/?next=" in response["HX-Redirect"]
    else:
        assert response.status_code == expected[role], (name, role)
    if role != "anonymous":
        assert_kept_private(response, name)
