"""Who may do what. Every view and htmx endpoint asks here, nowhere else.

Objects are fetched through `access_*` helpers that scope the query to the user, so a
wrong or forbidden id is the same 404. Role questions are named predicates on the
`CourseAccess` those helpers return.
"""

from dataclasses import dataclass
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Q,
    Subquery,
    Value,
)
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from cases import sql
from cases.compiled import compiled
from cases.models import (
    Answer,
    Assignment,
    Attempt,
    AuditAction,
    AuditEntry,
    CaseStudy,
    Cohort,
    Course,
    DecisionCommit,
    LiveAnswer,
    LiveAttendance,
    LiveSession,
    Membership,
    MemoVersion,
    Module,
    ModuleItem,
    PeerReview,
    Question,
    StancePair,
    User,
    assignment_for_student,
    given_to,
    grade_released,
    live_running_since,
)
from cases.timezones import activate_for


@dataclass(frozen=True)
class CourseAccess:
    """What one user is in one course."""

    is_admin: bool
    is_instructor: bool
    is_ta: bool
    is_student: bool

    @property
    def can_view(self) -> bool:
        return self.is_admin or self.is_instructor or self.is_ta or self.is_student

    @property
    def can_teach(self) -> bool:
        """Build and change the course: its modules, items, assignments and dates."""
        return self.is_admin or self.is_instructor

    @property
    def can_grade(self) -> bool:
        """See every student's work and grade it."""
        return self.is_admin or self.is_instructor or self.is_ta

    @property
    def gives_roles(self) -> bool:
        """Give and take away roles in the course (see `roles_to_give`)."""
        return self.is_admin or self.is_instructor

    @property
    def role_label(self) -> str:
        if self.is_instructor:
            return "Instructor"
        if self.is_ta:
            return "Teaching assistant"
        if self.is_student:
            return "Student"
        return "Admin" if self.is_admin else ""


def is_admin(user) -> bool:
    return user.is_authenticated and user.is_active and user.is_staff


def _roles(user, course_ref: str) -> dict:
    """Exists() annotations for the user's roles in the course at `course_ref`."""
    course = OuterRef(course_ref)
    return {
        "_is_instructor": Exists(
            Course.instructors.through.objects.filter(course=course, user=user)
        ),
        "_is_ta": Exists(
            Course.teaching_assistants.through.objects.filter(course=course, user=user)
        ),
        "_is_student": Exists(
            Course.cohorts.through.objects.filter(course=course, cohort__memberships__user=user)
        ),
    }


def _with_roles(queryset, user):
    return queryset.annotate(**_roles(user, "pk"))


def _access_of(annotated, user) -> CourseAccess:
    """The roles `_roles` annotated on a course, or on a row of one (a live session)."""
    return CourseAccess(
        is_admin=is_admin(user),
        is_instructor=annotated._is_instructor,
        is_ta=annotated._is_ta,
        is_student=annotated._is_student,
    )


def access_course(user, course_id: int) -> tuple[Course, CourseAccess]:
    """The course and the user's roles in it, in one query (`cases.sql`); 404 if the
    user may not see it (as `Course.objects.for_user`)."""
    found = None
    if user.is_authenticated:
        found = sql.course_with_roles(user_id=user.pk, course_id=course_id)
    if found is None or not (
        user.is_staff or found._is_instructor or found._is_ta or found._is_student
    ):
        raise Http404
    activate_for(found)
    return found, _access_of(found, user)


def course_to_teach(user, course_id: int) -> tuple[Course, CourseAccess]:
    """The course for its instructors and admins; its other members get 403 and
    everyone else 404."""
    course, access = access_course(user, course_id)
    if not access.can_teach:
        raise PermissionDenied
    return course, access


def courses_to_grade(user, queryset=None) -> list[tuple[Course, CourseAccess]]:
    """Every course the user grades in (instructors, TAs; admins: every course), each
    with the user's access, in one query. `queryset` may annotate or order them."""
    courses = queryset if queryset is not None else Course.objects.all()
    if not is_admin(user):
        courses = courses.taught_by(user)
    return [(course, _access_of(course, user)) for course in _with_roles(courses, user)]


def course_to_grade(user, course_id: int) -> tuple[Course, CourseAccess]:
    """The course for those who grade in it (instructors, TAs, admins); its students get
    403 and everyone else 404."""
    course, access = access_course(user, course_id)
    if not access.can_grade:
        raise PermissionDenied
    return course, access


def items_with_access(user, kind: str | None = None, now=None):
    """Module items with their module, course and content, each annotated with the
    user's roles in its course and whether it is given to them (open at `now`): one
    query for any number of items (of `kind`, if given: only that kind's content is
    joined). `user` is a user or their id. Pair with `item_access`."""
    return (
        ModuleItem.objects.with_content(kind, reader=user)
        .select_related("module__course")
        .annotate(
            _assigned=given_to(user, OuterRef("pk"), now),
            # Whether they teach any course, for the navigation (`is_teaching_staff`),
            # asked here so an item's page does not ask it again.
            _teaches_any=ExpressionWrapper(
                Q(Exists(Course.instructors.through.objects.filter(user=user)))
                | Q(Exists(Course.teaching_assistants.through.objects.filter(user=user))),
                output_field=BooleanField(),
            ),
            **_roles(user, "module__course"),
        )
    )


@compiled
def _item_with_access(item, user, now, *, kind: str | None):
    """Compiled once a kind, and once with every kind's content: composing the access
    query cost an item page 4 ms each time."""
    return items_with_access(user, kind, now).filter(pk=item)


def item_access(item: ModuleItem, user) -> CourseAccess | None:
    """The user's access to an item from `items_with_access`; None if they may not see
    it. Students see only items assigned to one of their cohorts (an unassigned item is
    a draft); staff of the course see every item."""
    access = CourseAccess(
        is_admin=is_admin(user),
        is_instructor=item._is_instructor,
        is_ta=item._is_ta,
        is_student=item._is_student,
    )
    if not access.can_view or (not access.can_grade and not item._assigned):
        return None
    return access


# Each item's kind, remembered by the process once an item has been shown: a kind
# never changes once made, so `access_item` joins that kind's content alone, not all
# nine kinds' (a third of the cost of an item page's access query). Should an item's
# kind differ (an id reused after a deletion, a kind changed in the admin), the item is
# fetched again with every kind's content.
_ITEM_KINDS: dict[int, str] = {}
_ITEM_KINDS_MAX = 20_000


def access_item(user, item_id: int) -> tuple[ModuleItem, CourseAccess]:
    """A module item with its module, course and content (as `items_with_access`) and
    the user's roles in its course, in one query; 404 if the user may not see it."""
    item = None
    if user.is_authenticated:
        kind = _ITEM_KINDS.get(item_id)
        now = timezone.now()
        item = _item_with_access.first(item=item_id, user=user, now=now, kind=kind)
        if item is not None and kind is not None and item.kind != kind:
            kind = None
            item = _item_with_access.first(item=item_id, user=user, now=now, kind=None)
        if item is not None:
            if kind is not None:
                item.content_known()
            elif item_id in _ITEM_KINDS or len(_ITEM_KINDS) < _ITEM_KINDS_MAX:
                _ITEM_KINDS[item_id] = item.kind
    access = None if item is None else item_access(item, user)
    if access is None:
        raise Http404
    user._teaching_staff = item._teaches_any
    activate_for(item.module.course)
    return item, access


def access_module(user, module_id: int) -> tuple[Module, CourseAccess]:
    """A module (with its course) and the user's roles in that course, in one query;
    404 if the user may not see the course."""
    module = get_object_or_404(
        Module.objects.select_related("course")
        .filter(course__in=Course.objects.for_user(user))
        .annotate(**_roles(user, "course")),
        pk=module_id,
    )
    activate_for(module.course)
    return module, _access_of(module, user)


def can_create_courses(user) -> bool:
    """Admins and anyone who is an instructor of some course start new courses."""
    return is_admin(user) or Course.objects.filter(instructors=user).exists()


def courses_to_copy_from(user):
    """Courses whose content the user may copy: every course for admins, else those
    they are an instructor of (can_teach), not those they only assist on."""
    if is_admin(user):
        return Course.objects.all()
    return Course.objects.filter(instructors=user)


def access_item_content(user, item_id: int, kind_field: str):
    """An item, its kind's content (the one-to-one named `kind_field`, e.g.
    "stance_check") and the user's roles; 404 if the user may not see the item or it is
    of another kind."""
    item, access = access_item(user, item_id)
    content = getattr(item, kind_field, None)
    if content is None:
        raise Http404
    content.item = item
    return item, content, access


def _role_required(predicate, doc: str):
    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not predicate(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    decorator.__doc__ = doc
    return decorator


@dataclass(frozen=True)
class CaseAccess:
    """What one user may do with one library case."""

    is_teaching_staff: bool
    can_edit: bool

    @property
    def sees_teaching_notes(self) -> bool:
        return self.is_teaching_staff


def is_teaching_staff(user) -> bool:
    """Admins and anyone who teaches or assists on a course: they see the whole case
    library with its teaching notes, and the navigation's teaching links. Asked once a
    request (the answer rides on the user object)."""
    if is_admin(user):
        return True
    if not user.is_authenticated:
        return False
    if not hasattr(user, "_teaching_staff"):
        user._teaching_staff = sql.is_teaching_staff(user_id=user.pk)
    return user._teaching_staff


def can_author_cases(user) -> bool:
    """Admins and instructors (not TAs) write and import cases."""
    return is_admin(user) or Course.objects.filter(instructors=user).exists()


def cases_for_user(user, *, admin: bool | None = None, now=None):
    """The library as this user may see it: all of it for teaching staff, else the
    cases in readings given to the student's cohorts, and a case's part B once the
    student has committed to the decision point that reveals it (never before, even if
    it is also given as a reading, when that decision point is given to them: a course
    that gives part B only as a reading opens it to its students). One query, whatever
    the role. `admin` says whether
    the user is an admin, when the caller knows (`user` may then be an id), and `now`
    when the readings open is judged (default: now)."""
    if is_admin(user) if admin is None else admin:
        return CaseStudy.objects.annotate(
            _staff=Value(True), _has_part_b=Exists(CaseStudy.objects.filter(follows=OuterRef("pk")))
        )
    # Someone who teaches one course and takes another reads the cases of the course
    # they take as a student: no teaching notes there.
    assigned = Q(pk__in=CaseStudy.objects.assigned_to(user, now).values("pk"))
    teaches = Q(Exists(Course.objects.taught_by(user)))
    # Gated for this student by a decision point given to them, open yet or not.
    gated = Q(
        Exists(Assignment.objects.for_student(user).filter(item__decision__reveals=OuterRef("pk")))
    )
    unlocked = Q(Exists(DecisionCommit.objects.filter(user=user, decision__reveals=OuterRef("pk"))))
    return CaseStudy.objects.annotate(
        _staff=ExpressionWrapper(teaches & ~assigned, output_field=BooleanField()),
        _has_part_b=Exists(CaseStudy.objects.filter(follows=OuterRef("pk"))),
    ).filter(teaches | (assigned & ~gated) | unlocked)


def case_access(user, case: CaseStudy) -> CaseAccess:
    """What a user may do with a case from `cases_for_user` (it carries `_staff`)."""
    can_edit = is_admin(user) or (case._staff and case.created_by_id == user.pk)
    return CaseAccess(is_teaching_staff=case._staff, can_edit=can_edit)


def item_case_access(user, case: CaseStudy, course_access: CourseAccess) -> CaseAccess:
    """What a user may do with the case of an item they reached (a reading, an
    annotation assignment): the course's staff teach it; its author or an admin edits."""
    return CaseAccess(
        is_teaching_staff=course_access.can_grade,
        can_edit=course_access.is_admin
        or (course_access.can_teach and case.created_by_id == user.pk),
    )


def access_case(user, slug: str) -> tuple[CaseStudy, CaseAccess]:
    """A case the user may read, and what else they may do with it; 404 otherwise. One
    query, compiled once a connection for all but admins (the notes' poll asks it every
    few seconds for every reader), found by the case's id for its slug (`_CASE_IDS`, a
    hint: a case that comes back with another slug is looked up again by its slug)."""
    case = None
    case_id = _CASE_IDS.get(slug)
    if case_id is not None and user.is_authenticated and not is_admin(user):
        case = _case_with_access.first(case=case_id, user=user, now=timezone.now())
    if case is None or case.slug != slug:
        case = get_object_or_404(cases_for_user(user), slug=slug)
        if len(_CASE_IDS) < _CASE_IDS_MAX:
            _CASE_IDS[slug] = case.pk
    return case, case_access(user, case)


# Each case's id by its slug, as a process has met them.
_CASE_IDS: dict[str, int] = {}
_CASE_IDS_MAX = 20_000


@compiled
def _case_with_access(case, user, now):
    # Anyone but an admin, who sees every case (one plain query: `access_case`).
    return cases_for_user(user, admin=False, now=now).filter(pk=case)


staff_required = _role_required(is_admin, "Admins only; anyone else signed in gets 403.")
author_required = _role_required(
    can_author_cases, "Admins and instructors only; anyone else signed in gets 403."
)
course_creator_required = _role_required(
    can_create_courses, "Admins and instructors of some course; anyone else gets 403."
)


def access_attempt(user, attempt_id: int) -> Attempt:
    """The user's own attempt at a quiz still given to them (`given_to`, as the quiz's
    page asks); anyone else's is 404, staff included (they review work through the
    grading pages)."""
    attempt = None
    if user.is_authenticated:
        attempt = _own_attempt.first(attempt=attempt_id, user=user, now=timezone.now())
    if attempt is None:
        raise Http404
    attempt.user = user  # It is theirs: no second query to load it.
    return attempt


@compiled
def _own_attempt(attempt, user, now):
    # One row: no order (the model's would join the user for their name).
    attempts = Attempt.objects.select_related("quiz__item__module")
    return attempts.filter(pk=attempt, user=user).given(now).order_by()


def access_question(user, question_id: int) -> tuple[Question, CourseAccess]:
    """A bank question of a course the user teaches; 404 for everyone else."""
    question = get_object_or_404(
        Question.objects.select_related("category"),
        pk=question_id,
        course__in=Course.objects.for_user(user),
    )
    course, access = access_course(user, question.course_id)
    if not access.can_teach:
        raise Http404
    question.course = course
    return question, access


def access_answer_for_grading(user, answer_id: int) -> Answer:
    """An answer in a course the user may grade, by a student they may grade; 404
    otherwise."""
    answer = get_object_or_404(
        Answer.objects.select_related("slot__attempt__quiz__item__module"),
        pk=answer_id,
        slot__attempt__state="submitted",  # Work in progress is not graded.
    )
    course, access = access_course(user, answer.slot.attempt.quiz.item.module.course_id)
    if not access.can_grade:
        raise Http404
    if not graded_students(user, course, access).filter(pk=answer.slot.attempt.user_id).exists():
        raise Http404
    return answer


# Which students' work a grader sees ------------------------------------------------


def graded_cohorts(user, course: Course, access: CourseAccess):
    """The course's cohorts whose students the user may see and grade: every one for
    instructors and admins; a TA assigned to some of the course's cohorts sees only
    those, a TA assigned to none sees all. A queryset, usable as a subquery."""
    cohorts = Cohort.objects.filter(courses=course)
    if not access.can_grade:
        return cohorts.none()
    if access.is_instructor or access.is_admin:
        return cohorts
    assigned = Cohort.objects.filter(courses=course, teaching_assistants=user)
    return cohorts.filter(Q(teaching_assistants=user) | ~Exists(assigned)).distinct()


def grades_every_cohort(user, course: Course, access: CourseAccess) -> bool:
    """Whether `graded_cohorts` is every cohort of the course (instructors, admins, a
    TA assigned to none of them): only such a grader acts for the whole course at once,
    a live class for every cohort, say. One query for a TA, none for the others."""
    if not access.can_grade:
        return False
    if access.is_instructor or access.is_admin:
        return True
    others = Cohort.objects.filter(courses=course)
    return not others.exclude(pk__in=graded_cohorts(user, course, access)).exists()


def graded_students(
    user, course: Course, access: CourseAccess, cohort_id: int | None = None, item=None
):
    """Students of the cohorts the user may grade (one of them, if `cohort_id`; only
    those given `item`, if one is named)."""
    cohorts = graded_cohorts(user, course, access)
    if cohort_id is not None:
        cohorts = cohorts.filter(pk=cohort_id)
    if item is not None:
        cohorts = cohorts.filter(assignments__item=item)
    return _members(cohorts)


def live_session_students(user, session: LiveSession, access: CourseAccess):
    """The students a grader may call on and mark in a live session: those they grade
    whom the session is for, as `live_access` decides: its cohort's, else those given
    its item, else (ad hoc) the course's. A student moved to another section mid-class
    is no longer one of them."""
    if session.cohort_id:
        return graded_students(user, session.course, access, cohort_id=session.cohort_id)
    return graded_students(user, session.course, access, item=session.item_id)


def class_students(item, user=None, access: CourseAccess | None = None):
    """The class whose answers an item's figures count (a stance check's charts, a
    decision point's split, a spectrum exercise's placements): the current members of
    every cohort of the item's course it is given to, as its instructor counts them. A
    student removed from those cohorts, or moved to one not given the item, keeps their
    answer but is no longer counted. With `access` (course staff), only the students the
    user grades: a TA's sections. A queryset, usable as a subquery."""
    course = item.module.course
    if access is not None:
        return graded_students(user, course, access, item=item)
    return _members(Cohort.objects.filter(courses=course, assignments__item=item))


def _members(cohorts):
    return User.objects.filter(
        Exists(Cohort.members.through.objects.filter(user=OuterRef("pk"), cohort__in=cohorts))
    )


def access_student(user, course: Course, access: CourseAccess, student_id: int) -> User:
    """One student the user may grade in this course; 404 for anyone else, including
    a student of a cohort another TA looks after."""
    return get_object_or_404(graded_students(user, course, access), pk=student_id)


def access_pair(user, pair_id: int):
    """A pair's thread (on a stance check or a spectrum exercise), for its two students
    while they may see its item (not once removed from the course, or moved to a
    section not given it) and for those who grade them; 404 for everyone else."""
    pair = get_object_or_404(
        StancePair.objects.select_related("stance__item", "spectrum__item", "first", "second"),
        pk=pair_id,
    )
    item, access = access_item(user, pair.item.pk)
    if user.pk in (pair.first_id, pair.second_id):
        return pair, None
    course = item.module.course
    if (
        not access.can_grade
        or not graded_students(user, course, access)
        .filter(pk__in=[pair.first_id, pair.second_id])
        .exists()
    ):
        raise Http404
    return pair, access


# Written analyses ------------------------------------------------------------------


@dataclass(frozen=True)
class MemoVersionAccess:
    """Why one user may read one handed-in version of a memo. `role` is "author",
    "grader" (instructors and admins of the course; TAs for their cohorts) or
    "reviewer" (a student given this version in peer review). A reviewer must never
    learn whose memo it is: name it by `review.position` ("Memo 2"), never by its
    author or the file name they gave."""

    role: str
    course: CourseAccess | None = None  # A grader's roles in the course.
    review: PeerReview | None = None  # A reviewer's review of this version.

    @property
    def is_author(self) -> bool:
        return self.role == "author"

    @property
    def is_grader(self) -> bool:
        return self.role == "grader"

    @property
    def is_reviewer(self) -> bool:
        return self.role == "reviewer"


def access_memo_version(user, version_id: int) -> tuple[MemoVersion, MemoVersionAccess]:
    """A handed-in version of a memo (with its memo, item, module and course) for its
    author, for those who grade the author (as `grade_work`: the course's graders, a TA
    only for their cohorts), and for a student asked to review this very version; 404
    for everyone else, so a wrong id tells nothing. Two queries for the author, three
    for the others."""
    if not user.is_authenticated:
        raise Http404
    version = get_object_or_404(
        MemoVersion.objects.select_related("memo__item__module__course"), pk=version_id
    )
    memo = version.memo
    if memo.author_id == user.pk:
        # Their own work, as `access_attempt`: theirs to read whatever became of the item.
        activate_for(memo.item.module.course)
        return version, MemoVersionAccess("author")
    item = items_with_access(user).filter(pk=memo.item_id).first()
    access = item_access(item, user) if item is not None else None
    if access is not None and access.can_grade:
        course = item.module.course
        if not graded_students(user, course, access).filter(pk=memo.author_id).exists():
            raise Http404
        user._teaching_staff = item._teaches_any
        activate_for(course)
        return version, MemoVersionAccess("grader", course=access)
    review = PeerReview.objects.filter(reviewer=user, version=version).first()
    if review is None:
        raise Http404
    activate_for(memo.item.module.course)
    return version, MemoVersionAccess("reviewer", review=review)


@dataclass(frozen=True)
class MemoFeedback:
    """A handed-in version of a memo and what the reader may do with its feedback: its
    author reads the grader's comments, rubric and comment once the grades are
    released to them; the course's graders read everything and comment."""

    version: "MemoVersion"
    access: CourseAccess | None  # The grader's roles; None for the author.
    released: bool | None  # The author's grades on the item are released to them.
    assignment: "Assignment | None" = None  # The author's, as they see it.

    @property
    def is_author(self) -> bool:
        return self.access is None

    @property
    def can_comment(self) -> bool:
        return self.access is not None

    @property
    def shows_feedback(self) -> bool:
        return self.access is not None or bool(self.released)


def access_memo_feedback(user, version_id: int, *, release: bool = True) -> MemoFeedback:
    """A handed-in version and its feedback (the grader's comments, rubric and comment)
    for its author and those who grade them, as `access_memo_version` decides; 404 for
    a peer reviewer too, who reads the version on their review page, never its
    feedback. With `release`, whether the author's grades on the item are released
    (their own assignment, with two cohorts the one due last): one query more, which
    a grader's comment forms do without; the author's always asks it."""
    version, why = access_memo_version(user, version_id)
    if why.is_reviewer:
        raise Http404
    memo = version.memo
    assignment = released = None
    if release or why.is_author:
        assignment = assignment_for_student(memo.item_id, User(pk=memo.author_id))
        released = grade_released(assignment, memo.item)
    return MemoFeedback(version, why.course, released, assignment)


# Live class ------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveAccess:
    """What one user is in one live session."""

    course: CourseAccess
    may_join: bool  # A student the session is for.
    joined: bool
    # Launches polls, calls on students and marks contributions: `live_session_runner`.
    runs: bool = False


def live_session_runner(user, course: Course, access: CourseAccess):
    """Who runs a live session of the course (its console and projector, its polls,
    the cold caller, marks, End), as a predicate over the course's sessions: the rule
    of starting one (`LiveStartForm` offers `graded_cohorts` and, to those who
    `grades_every_cohort`, every cohort). Instructors and admins run every session; a
    TA runs a session for a cohort they grade, and one for every cohort only if they
    grade every cohort. No query for instructors and admins; for a TA at most one for
    the sessions of a cohort and one for those of every cohort, however many asked."""
    if not access.can_grade:
        return lambda session: False
    if access.is_instructor or access.is_admin:
        return lambda session: True
    known: dict = {}

    def runs(session: LiveSession) -> bool:
        if session.cohort_id:
            if "cohorts" not in known:
                graded = graded_cohorts(user, course, access).values_list("pk", flat=True)
                known["cohorts"] = set(graded)
            return session.cohort_id in known["cohorts"]
        if "every" not in known:
            known["every"] = grades_every_cohort(user, course, access)
        return known["every"]

    return runs


def live_sessions_with_access(user, now=None):
    """Sessions with their course and poll on screen, annotated with the user's roles
    and whether the session is for them (its item open at `now`) and they joined: one
    query. `user` is a user or their id."""
    assigned = Assignment.objects.open(now).for_student(user).filter(item=OuterRef("item"))
    return LiveSession.objects.select_related("course", "item", "current_poll").annotate(
        **_roles(user, "course"),
        _in_cohort=Exists(Membership.objects.filter(cohort=OuterRef("cohort"), user=user)),
        _assigned=Exists(assigned),
        _joined=Exists(LiveAttendance.objects.filter(session=OuterRef("pk"), user=user)),
    )


@compiled
def _live_session_with_access(session, user, now):
    return live_sessions_with_access(user, now).filter(pk=session)


def live_access(session: LiveSession, user) -> LiveAccess | None:
    """The user's access to a session from `live_sessions_with_access`; None if they
    may not see it. A session for one cohort is for its members; a session of an item,
    for the students given the item; an ad hoc one, for every student of the course."""
    course = _access_of(session, user)
    if session.cohort_id:
        may_join = session._in_cohort and course.is_student
    elif session.item_id:
        may_join = session._assigned
    else:
        may_join = course.is_student
    if not (may_join or course.can_grade):
        return None
    runs = live_session_runner(user, session.course, course)(session)
    return LiveAccess(course=course, may_join=may_join, joined=session._joined, runs=runs)


def access_live_session_joined(
    user, session_id: int, *, with_answer: bool = False
) -> tuple[LiveSession, LiveAccess]:
    """For a phone's frequent requests: a session the student has joined, after one
    lean query. Joining passed the full check of `access_live_session`, and attendance
    is what lets a student stay for the rest of the session; anyone who has not joined
    goes through that full check. `with_answer` brings the student's answer to the poll
    on screen in the same query (`session.my_answer`, None if they have not answered)."""
    if not user.is_authenticated:
        return access_live_session(user, session_id)
    session = _joined_session.first(session=session_id, user=user, with_answer=with_answer)
    if session is None or not session._joined:
        return access_live_session(user, session_id)
    if with_answer:
        session.my_answer = None
        if session._my_id is not None:
            values = {name: getattr(session, f"_my_{name}") for name in MY_ANSWER_FIELDS}
            session.my_answer = LiveAnswer(poll=session.current_poll, user=user, **values)
    activate_for(session.course)
    student = CourseAccess(is_admin=False, is_instructor=False, is_ta=False, is_student=True)
    return session, LiveAccess(course=student, may_join=True, joined=True)


@compiled
def _joined_session(session, user, *, with_answer: bool):
    joined = LiveAttendance.objects.filter(session=OuterRef("pk"), user=user)
    sessions = LiveSession.objects.select_related("course", "current_poll").annotate(
        _joined=Exists(joined)
    )
    if with_answer:
        mine = LiveAnswer.objects.filter(poll=OuterRef("current_poll"), user=user)
        sessions = sessions.annotate(
            **{f"_my_{name}": Subquery(mine.values(name)[:1]) for name in MY_ANSWER_FIELDS}
        )
    return sessions.filter(pk=session)


def live_running(since) -> Exists:
    """Whether the course (the query's row) has a live session running
    (`LiveSession.objects.running`; `since`, `live_running_since()`): an annotation
    `live_sessions_to_join` reads, on the query that lists the courses."""
    return Exists(LiveSession.objects.running(since).filter(course=OuterRef("pk")))


def live_sessions_to_join(user, courses: list[Course]) -> list[LiveSession]:
    """Running sessions of these courses (those the user takes, each annotated with
    `live_running`) that are for them. Most of the time none runs: the courses' own
    query said so, and nothing more is asked."""
    course_ids = [course.pk for course in courses if course.live_running]
    if not course_ids:
        return []
    now = timezone.now()
    since = live_running_since(now)
    sessions = _running_with_access(courses=course_ids, user=user, now=now, since=since)
    return _for_them(sessions, user)


def item_sessions_to_join(user, item: ModuleItem) -> list[LiveSession]:
    """The item's running sessions that are for the user, newest first: another
    section's class of the same item is not theirs to join (as on the dashboard)."""
    sessions = live_sessions_with_access(user).running().filter(item=item)
    return _for_them(sessions.order_by("-started_at", "-pk"), user)


def _for_them(sessions, user) -> list[LiveSession]:
    """Those of the sessions (from `live_sessions_with_access`) the user may join."""
    return [s for s in sessions if (access := live_access(s, user)) and access.may_join]


@compiled
def _running_with_access(courses, user, now, since):
    """What the dashboard's "Live now" shows of a session (its title and course code)
    and what `live_access` reads: not the item and the poll on screen, with its
    options, that a session's own pages show."""
    sessions = live_sessions_with_access(user, now).select_related(None).select_related("course")
    sessions = sessions.only("title", "cohort", "item", "course", "course__code")
    return sessions.running(since).filter(course__in=courses)


def access_live_session(user, session_id: int, queryset=None) -> tuple[LiveSession, LiveAccess]:
    """A live session and the user's access to it, in one query; 404 if it is not for
    them."""
    if queryset is None and user.is_authenticated:
        now = timezone.now()
        session = _live_session_with_access.first(session=session_id, user=user, now=now)
    else:
        sessions = live_sessions_with_access(user) if queryset is None else queryset
        session = sessions.filter(pk=session_id).first()
    if session is None:
        raise Http404
    access = live_access(session, user)
    if access is None:
        raise Http404
    activate_for(session.course)
    return session, access


# What a phone shows of the student's own answer.
MY_ANSWER_FIELDS = ["id", "choices", "value", "text"]


def joined_session_version(user, session_id: int) -> str | None:
    """The session's `live_phone_version` if the user has joined it, else None: all a
    phone's unchanged poll needs to hear 204, in one query (`cases.sql`). Attendance is
    the permission for reading, as in `access_live_session_joined`."""
    if not user.is_authenticated:
        return None
    found = sql.joined_session_version(
        user_id=user.pk, session_id=session_id, since=live_running_since()
    )
    if found is None:
        return None
    version, running, answers, answered_at = found
    return live_phone_version(version, running, answers, answered_at)


def live_phone_version(
    version: int, running: bool, answers: int | None = None, answered_at=None
) -> str:
    """What a phone shows, as it carries it into its next poll (`?known=`), which is
    answered 204 while it holds: the session's version, whether it runs (a session
    stops running by time, `LIVE_STALE_AFTER`, with its version unmoved), and while
    the results of an open poll of a running session are shown (counts that move
    without the version), how many answered and when an answer last changed
    (`answers` None otherwise)."""
    if not running:
        return f"{version}-ended"
    if answers is None:
        return str(version)
    # Digits only, safe in an address (SQLite answers the time as text).
    at = "".join(ch for ch in str(answered_at) if ch.isdigit())
    return f"{version}-a{answers}-{at}"


@compiled
def _session_to_run(session, user, *, annotate):
    """Compiled once for each `annotate` a view passes (a module's function)."""
    sessions = LiveSession.objects.select_related("course", "item", "current_poll")
    sessions = sessions.annotate(**_roles(user, "course"))
    return (annotate(sessions) if annotate else sessions).filter(pk=session)


def live_session_to_run(user, session_id: int, annotate=None) -> tuple[LiveSession, LiveAccess]:
    """A live session for those who run it (the course's graders); its students get 403
    and everyone else 404. The roles alone are asked first, in a query a third lighter
    than the full check (the projector polls it every second); anyone who does not run
    the session goes through `access_live_session`, which tells 403 from 404.
    `annotate(queryset)` adds what the caller shows (the projector's counts)."""
    if user.is_authenticated:
        session = _session_to_run.first(session=session_id, user=user, annotate=annotate)
        if session is not None:
            course = _access_of(session, user)
            if course.can_grade:
                if not live_session_runner(user, session.course, course)(session):
                    raise PermissionDenied  # A TA, and another section's class.
                activate_for(session.course)
                return session, LiveAccess(course=course, may_join=False, joined=False, runs=True)
    session, access = access_live_session(user, session_id)
    if not access.runs:
        raise PermissionDenied
    return session, access


# Course roles and people -----------------------------------------------------------


class CourseRole(models.TextChoices):
    """The roles given per course on its people page. Admin (staff) is not one: it is
    given only in the Django admin."""

    INSTRUCTOR = "instructor", "Instructor"
    TA = "ta", "Teaching assistant"

    @property
    def with_article(self) -> str:
        """ "an instructor", "a teaching assistant": in sentences about someone's role."""
        label = self.label.lower()
        return f"{'an' if label[0] in 'aeiou' else 'a'} {label}"


def roles_to_give(access: CourseAccess) -> list[str]:
    """The course roles the user may give and take away in this course: admins give
    both; its instructors give TA only (never instructor); nobody else gives any."""
    if access.is_admin:
        return [CourseRole.INSTRUCTOR, CourseRole.TA]
    if access.gives_roles:
        return [CourseRole.TA]
    return []


def course_to_staff(user, course_id: int) -> tuple[Course, CourseAccess]:
    """The course's people page, for those who give roles in it (its instructors and
    admins); its TAs and students get 403 and everyone else 404."""
    course, access = access_course(user, course_id)
    if not roles_to_give(access):
        raise PermissionDenied
    return course, access


# Cohorts and join codes --------------------------------------------------------------


def access_cohort(user, cohort_id: int) -> Cohort:
    """A cohort for an admin to manage, with its `member_count`, in one query. Anyone
    else signed in gets 403 (as on the cohort list, which tells them nothing more); a
    missing cohort is 404."""
    if not is_admin(user):
        raise PermissionDenied
    return get_object_or_404(
        Cohort.objects.annotate(member_count=Count("memberships")), pk=cohort_id
    )


JOIN_CODE_UNKNOWN = "No open cohort has that join code. Check it with your instructor."
JOIN_CODE_DISABLED = "That join code is switched off for now. Ask your instructor to turn it on."
JOIN_CODE_EXPIRED = "That join code has expired. Ask your instructor for a new one."
JOIN_CODE_TEACHER = "You teach {course}: its join codes are for its students."
JOIN_CODE_OTHER_SECTION = (
    "You are already in {cohort}, another section of this course. To change section,"
    " ask an admin to move you."
)
JOIN_CODE_REMOVED = (
    "You were taken out of {cohort}. To join it again, ask your instructor or an admin"
    " to add you back."
)


def join_refusal(cohort: Cohort | None, now=None) -> str | None:
    """Why a join code admits nobody now, or None when anyone signed in (or signing up)
    may join its cohort with it. An unknown code and an archived cohort's code read the
    same, so last term's codes tell a guesser nothing."""
    if cohort is None or cohort.archived_at is not None:
        return JOIN_CODE_UNKNOWN
    if not cohort.join_code_enabled:
        return JOIN_CODE_DISABLED
    if not cohort.join_code_open(now):
        return JOIN_CODE_EXPIRED
    return None


@dataclass(frozen=True)
class EnrolmentConflict:
    """Why someone may not be a student of a cohort: they teach one of its courses
    (`course`, its code; no `section`), or are a student in `section`, another current
    (not archived) cohort of one."""

    course: str
    section: str = ""

    def reason(self, who: str) -> str:
        """The conflict as an admin reads it, `who` naming the person."""
        if self.section:
            return (
                f"{who} is already in {self.section}, another section of {self.course}: "
                "move them from there instead."
            )
        return f"{who} teaches {self.course}: staff of a course cannot also take it."


def enrolment_conflicts(
    cohort: Cohort, user_ids, *, leaving=None, courses=None
) -> dict[int, EnrolmentConflict]:
    """The conflict of each of these users (by id) with being a student of the cohort,
    for those who have one: teaching one of its courses comes first (the course with the
    first code), then another section (the first by name). Whoever teaches a course is
    there as staff, not as a student (`course_role_add` refuses the converse); a student
    in two current sections of one course would have both sections' dates and notes.
    `leaving`: a cohort the users are being moved out of, which is no conflict;
    `courses`: the courses to check instead of the cohort's (one about to be attached
    to it). The single rule for joining with a code, a roster import, a move and
    attaching a course."""
    user_ids = list(user_ids)
    conflicts: dict[int, EnrolmentConflict] = {}
    if courses is None:
        courses = Course.objects.filter(cohorts=cohort)
    for through in (Course.instructors.through, Course.teaching_assistants.through):
        rows = through.objects.filter(course__in=courses, user_id__in=user_ids)
        for user_id, code in rows.order_by("course__code").values_list("user_id", "course__code"):
            if user_id not in conflicts or code < conflicts[user_id].course:
                conflicts[user_id] = EnrolmentConflict(course=code)
    others = (
        Membership.objects.filter(
            user_id__in=user_ids,
            cohort__courses__in=courses,
            cohort__archived_at=None,
        )
        .exclude(cohort=cohort)
        .order_by("cohort__name", "cohort_id", "cohort__courses__code")
    )
    if leaving is not None:
        others = others.exclude(cohort=leaving)
    # The course named is one the two cohorts share: the filter's join is reused.
    for user_id, name, code in others.values_list(
        "user_id", "cohort__name", "cohort__courses__code"
    ):
        conflicts.setdefault(user_id, EnrolmentConflict(course=code, section=name))
    return conflicts


def _removed(user, cohort: Cohort) -> bool:
    """Whether the user's last coming into or leaving the cohort was a removal by
    someone else (staff, or the LMS roster): the audit log is where that is kept."""
    last = (
        AuditEntry.objects.filter(
            subject=user, cohort=cohort, action__in=[AuditAction.ENROL, AuditAction.UNENROL]
        )
        .order_by("-created_at", "-pk")
        .values_list("action", "actor_id")
        .first()
    )
    return last is not None and last[0] == AuditAction.UNENROL and last[1] != user.pk


def join_refusal_for(user, cohort: Cohort) -> str | None:
    """Why this user may not join the cohort with its open code, or None
    (`enrolment_conflicts`): a student in another current cohort of one of its courses
    changes section through an admin, not by typing the other section's code. Nor may
    a student whom staff or the LMS took out of the cohort come back with its code,
    still open: their removal holds until an admin adds them again."""
    conflict = enrolment_conflicts(cohort, [user.pk]).get(user.pk)
    if conflict is None:
        return JOIN_CODE_REMOVED.format(cohort=cohort.name) if _removed(user, cohort) else None
    if conflict.section:
        return JOIN_CODE_OTHER_SECTION.format(cohort=conflict.section)
    return JOIN_CODE_TEACHER.format(course=conflict.course)
