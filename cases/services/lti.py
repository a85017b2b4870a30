"""LTI 1.3 launches, on django-lti and PyLTI1p3 (kept libraries), with what Red Queen
adds to them:

- State, nonce and launch data live in the database (`LtiValue`), shared by every
  instance; a nonce and a state are each taken once, and only after the id_token's
  signature, issuer, audience, expiry and deployment have been checked.
- A launch never creates a deployment: the platform's deployment ids are registered by
  an admin first (django-lti would create an unknown one on the fly).
- The LMS user is found by the platform's `sub` (never by email), the LMS course by its
  context; the roles the signed token gives in that context are the only roles it grants,
  and only in the Red Queen course that context is linked to.
"""

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.dispatch import receiver
from django.tasks import task
from django.utils import timezone
from lti_tool.lti_core.constants import ContextRole
from lti_tool.lti_core.utils import normalize_role
from lti_tool.models import LtiContext, LtiDeployment, LtiLaunch, LtiRegistration
from lti_tool.utils import DjangoToolConfig, sync_data_from_launch
from pylti1p3.contrib.django import DjangoMessageLaunch
from pylti1p3.deployment import Deployment
from pylti1p3.exception import LtiException
from pylti1p3.launch_data_storage.base import LaunchDataStorage

from cases.compiled import compiled
from cases.models import Cohort, Course, LtiCourse, LtiValue, Membership, User
from cases.models.workspace import work_changed
from cases.permissions import enrolment_conflicts

# How long a login's state and nonce, a validated launch and an entry token are kept.
LOGIN_LIFETIME = timedelta(minutes=10)
LAUNCH_LIFETIME = timedelta(hours=8)
ENTRY_LIFETIME = timedelta(minutes=5)

INSTRUCTOR, TEACHING_ASSISTANT, LEARNER = "instructor", "ta", "learner"
DEEP_LINKING_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"


class LaunchRefused(Exception):
    """A launch that is not let in; the message says why, for the person launching."""


class DatabaseLaunchStorage(LaunchDataStorage):
    """PyLTI1p3's launch storage in the database. `check_value` on a nonce takes it: a
    second check of the same nonce fails, however many instances ask at once."""

    def can_set_keys_expiration(self) -> bool:
        return True

    def get_session_cookie_name(self):
        return None  # Keys are not tied to a cookie a framed page may not get.

    def get_value(self, key: str):
        row = LtiValue.objects.filter(
            key=self._prepare_key(key), expires_at__gt=timezone.now()
        ).first()
        return None if row is None else row.value

    def set_value(self, key: str, value, exp=None) -> None:
        # Our lifetimes, not PyLTI1p3's day for everything: a login's state and nonce
        # live minutes, a validated launch (deep linking's second step) a working day.
        key = self._prepare_key(key)
        lifetime = LAUNCH_LIFETIME if key.startswith("lti1p3-launch-") else LOGIN_LIFETIME
        LtiValue.objects.update_or_create(
            key=key,
            defaults={"value": value, "expires_at": timezone.now() + lifetime},
        )

    def check_value(self, key: str) -> bool:
        return take(self._prepare_key(key))


def values_purge() -> int:
    """Forget expired launch values (the scheduled `lti_sync` calls this)."""
    deleted, _ = LtiValue.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted


def take(key: str) -> bool:
    """Delete a live one-time value; True for the one caller that deleted it."""
    deleted, _ = LtiValue.objects.filter(key=key, expires_at__gt=timezone.now()).delete()
    return bool(deleted)


class ToolConfig(DjangoToolConfig):
    """django-lti's configuration, except that an unknown deployment is refused, not
    created: an admin registers the deployment ids a platform may launch from."""

    def find_deployment(self, iss, deployment_id):
        return self._registered(deployment_id, registration__issuer=iss)

    def find_deployment_by_params(self, iss, deployment_id, client_id, *args, **kwargs):
        return self._registered(
            deployment_id, registration__issuer=iss, registration__client_id=client_id
        )

    def _registered(self, deployment_id, **lookups):
        if self.registration_uuid is not None:
            lookups["registration__uuid"] = self.registration_uuid
        self.deployment = LtiDeployment.objects.filter(
            deployment_id=deployment_id, registration__is_active=True, is_active=True, **lookups
        ).first()
        if self.deployment is None:
            return None
        return Deployment().set_deployment_id(self.deployment.deployment_id)


class MessageLaunch(DjangoMessageLaunch):
    """A launch checked in full before anything is used up: the state must be one this
    tool issued, the token well formed, from a registered platform and deployment,
    signed by the platform's key (RS256, never `none`), for this tool, unexpired; then
    the nonce and the state are each taken, once."""

    def validate_state(self):
        state = self._get_request_param("state")
        if not state or self._session_service.get_state_params(state) is None:
            raise LtiException("State not found")
        return self

    def validate(self):
        if self._restored:
            raise LtiException("Can't validate restored launch")
        self._validated = True
        try:
            self.validate_state().validate_jwt_format().validate_registration()
            self.validate_jwt_signature().validate_deployment().validate_message()
            self.validate_nonce()  # Takes the nonce: a replayed token fails here.
            state_key = self._session_service._get_key(self._get_request_param("state"))
            if not self._session_service.data_storage.check_value(state_key):  # takes it
                raise LtiException("State already used")
            return self.save_launch_data()
        except Exception:
            self._validated = False
            raise


def _storage(request) -> DatabaseLaunchStorage:
    storage = DatabaseLaunchStorage()
    storage.set_request(request)
    return storage


def login_storage(request) -> DatabaseLaunchStorage:
    return _storage(request)


NO_KEY = "Red Queen has no signing key yet: an admin makes it on Red Queen's LTI page."
DEACTIVATED = (
    "Your Red Queen account is deactivated, so it cannot be opened from the LMS either. "
    "Ask your instructor or a Red Queen administrator to reactivate it."
)


def has_key() -> bool:
    from lti_tool.models import Key

    return Key.objects.active().exists()


def launch_validate(request) -> LtiLaunch:
    """The launch this POST carries, checked in full; LaunchRefused says why not."""
    if not has_key():
        raise LaunchRefused(NO_KEY)
    message = MessageLaunch(request, ToolConfig(), launch_data_storage=_storage(request))
    try:
        message.validate()
    except (LtiException, Exception) as error:  # PyJWT and key errors, too
        raise LaunchRefused(_reason(error)) from None
    return LtiLaunch(message)


def launch_restore(request, launch_id: str | None, *, user: User) -> LtiLaunch | None:
    """A launch `user` made and that was validated earlier (deep linking's second step,
    the course link page); None for another person's, or one unknown or expired."""
    if not launch_id or not launch_id.startswith("lti1p3-launch-"):
        return None
    try:
        message = MessageLaunch.from_cache(
            launch_id, request, ToolConfig(), launch_data_storage=_storage(request)
        )
    except LtiException:
        return None
    lti_launch = LtiLaunch(message)
    if not user.is_authenticated:
        return None
    made_by = lti_launch.registration.users.filter(sub=lti_launch.get_claim("sub"), auth_user=user)
    return lti_launch if made_by.exists() else None


def _reason(error: Exception) -> str:
    text = str(error) or type(error).__name__
    known = {
        "Registration not found": "The launch came from a platform or client id this tool "
        "does not know: an admin registers it first.",
        "Client id not registered": "The launch was meant for another tool.",
        "State not found": "This launch was not started by this tool, or has already been used.",
        "State already used": "This launch has already been used.",
        "Invalid Nonce": "This launch has already been used (its nonce was seen before).",
        "Unable to find deployment": "The LMS sent a deployment this tool has not been told about.",
        "Client id not registered for this token": "The launch was meant for another tool.",
        "Invalid issuer": "The launch came from a platform this tool does not know.",
    }
    for start, reason in known.items():
        if text.startswith(start) or start in text:
            return reason
    if "expired" in text.lower():
        return "The launch has expired. Launch again from your course."
    if "signature" in text.lower() or "alg" in text.lower() or "key" in text.lower():
        return "The launch was not signed by the LMS's key."
    return f"The launch could not be checked ({text[:120]})."


# Roles ------------------------------------------------------------------------------


def course_role(lti_launch: LtiLaunch) -> str:
    """Red Queen's role in the launch's course, from the roles the signed token gives in
    its context (LMS-wide roles such as Canvas's institution Instructor count for
    nothing here)."""
    return member_role(lti_launch.roles_claim or [])


TEACHING_ROLES = {ContextRole.INSTRUCTOR.value, ContextRole.ADMINISTRATOR.value}
TA_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"


def member_role(roles: list[str]) -> str:
    """A context's roles as one Red Queen role: a teaching assistant assists; an
    instructor or administrator of the LMS course teaches; anyone else learns."""
    context_roles = {normalize_role(role) for role in roles}
    if TA_ROLE in context_roles:
        return TEACHING_ASSISTANT
    if context_roles & TEACHING_ROLES:
        return INSTRUCTOR
    return LEARNER


# Accounts and courses ----------------------------------------------------------------


@dataclass
class Arrival:
    """Where a launch leaves the person: their account, their role, and the linked
    course (None while an instructor has yet to link the LMS course)."""

    user: User
    role: str
    course: Course | None
    context: LtiContext | None


@transaction.atomic
def launch_accept(lti_launch: LtiLaunch) -> Arrival:
    """Record what the launch says (django-lti's LMS user, context and membership), find
    or make the Red Queen account of that LMS user, and give it its role in the linked
    course. Nothing here trusts anything but the validated token. A deactivated account
    is refused (LaunchRefused), with nothing recorded: it cannot sign in, here either."""
    sync_data_from_launch(lti_launch)
    lti_user = lti_launch.user
    user = lti_user.auth_user
    if user is not None and not user.is_active:
        raise LaunchRefused(DEACTIVATED)
    user = account_for(lti_user, lti_launch.registration)
    role = course_role(lti_launch)
    context = lti_launch.context if lti_launch.context_claim else None
    link = LtiCourse.objects.filter(context=context).select_related("course", "cohort").first()
    if link is not None:
        enrol(link, user, role)
    return Arrival(user, role, link.course if link else None, context)


def account_for(lti_user, registration: LtiRegistration) -> User:
    """The Red Queen account of an LMS user (launching, or on the roster), made the
    first time with the name and email the LMS sends. A name or email it lacks is
    taken from the LMS later (Canvas sends none until its privacy level is Public);
    one it has is kept (an admin may have corrected it)."""
    given = (lti_user.given_name or lti_user.name or "")[:150]
    family = (lti_user.family_name or "")[:150]
    email = lti_user.email or ""
    user = lti_user.auth_user
    if user is None:
        user = User.objects.create_user(
            username=_username(registration, lti_user.sub),
            first_name=given,
            last_name=family,
            email=email,
        )
        lti_user.auth_user = user
        lti_user.save(update_fields=["auth_user"])
        return user
    filled = []
    if not (user.first_name or user.last_name) and (given or family):
        user.first_name, user.last_name = given, family
        filled += ["first_name", "last_name"]
    if not user.email and email:
        user.email = email
        filled.append("email")
    if filled:
        user.save(update_fields=filled)
    return user


def _username(registration: LtiRegistration, sub: str) -> str:
    digest = hashlib.sha256(f"{registration.pk}:{sub}".encode()).hexdigest()[:16]
    return f"lti-{digest}"


def enrol(link: LtiCourse, user: User, role: str) -> None:
    """Give `user` the role the LMS gives them now in the linked course, as a roster
    sync would (`_roster_apply`): a learner joins its cohort, staff join its teaching
    staff; and take what it no longer gives: a learner or an instructor stops
    assisting, staff leave the cohort (audited). Instructors are never removed here: a
    person does that on the People page. A learner is never made staff. A learner who
    is a student of another current section of the course (an admin moved them there,
    or they joined it with its code), or who teaches it, stays as they are: one rule
    (`enrolment_conflicts`) for who may be a student of a cohort, from the LMS too."""
    from cases.services.people import audit

    course, cohort = link.course, link.cohort
    name = user.get_full_name() or user.username
    if role == INSTRUCTOR:
        course.instructors.add(user)
    elif role == TEACHING_ASSISTANT:
        course.teaching_assistants.add(user)
    if role != TEACHING_ASSISTANT and course.teaching_assistants.filter(pk=user.pk).exists():
        course.teaching_assistants.remove(user)
        audit(None, "role_remove", f"{name} no longer assists in {course.code} (LMS launch)",
              subject=user, course=course)  # fmt: skip
    if role == LEARNER and not enrolment_conflicts(cohort, [user.pk]):
        Membership.objects.get_or_create(cohort=cohort, user=user)
    if role != LEARNER and Membership.objects.filter(cohort=cohort, user=user).delete()[0]:
        audit(None, "unenrol", f"{name} left {cohort.name} (LMS launch)",
              subject=user, cohort=cohort, course=course)  # fmt: skip


def context_link(context: LtiContext) -> LtiCourse | None:
    """The LMS course's link to a Red Queen course, if it has one."""
    return LtiCourse.objects.filter(context=context).select_related("course", "cohort").first()


@transaction.atomic
def course_for_context(*, context: LtiContext, user: User) -> LtiCourse:
    """An LMS instructor's new Red Queen course for their LMS course, which they teach,
    linked to it; the link it has already if it was connected meanwhile (the LMS
    course's row is locked, so a form sent twice at once makes one course)."""
    LtiContext.objects.select_for_update().filter(pk=context.pk).first()
    if (link := context_link(context)) is not None:
        enrol(link, user, INSTRUCTOR)
        return link
    base = (context.label or context.title or "LMS course")[:30]
    code, n = base, 1
    while Course.objects.filter(code=code).exists():  # Codes are unique: "ECON 101 (2)".
        n += 1
        code = f"{base} ({n})"
    course = Course.objects.create(code=code, title=(context.title or base)[:200])
    course.instructors.add(user)
    return course_link(context=context, course=course, user=user)


@transaction.atomic
def course_link(
    *, context: LtiContext, course: Course, user: User, cohort: Cohort | None = None
) -> LtiCourse:
    """An instructor links an LMS course to a Red Queen course they teach; its
    learners join `cohort` (one of the course's, so they get its assignments), or a new
    cohort named after the LMS course."""
    if cohort is None:
        name = f"{context.title or context.label or 'LMS course'} (LMS)"[:200]
        cohort, _ = Cohort.objects.get_or_create(name=name)
        course.cohorts.add(cohort)
    link, _ = LtiCourse.objects.get_or_create(
        context=context, defaults={"course": course, "cohort": cohort}
    )
    enrol(link, user, INSTRUCTOR)
    return link


# Entering from a frame ------------------------------------------------------------------


def entry_token(user: User, next_url: str) -> str:
    """A one-time token that signs `user` in at `next_url`: used when the LMS's frame
    cannot keep Red Queen's cookie and the person opens a new tab."""
    token = secrets.token_urlsafe(24)
    LtiValue.objects.create(
        key=f"entry-{token}",
        value={"user": user.pk, "next": next_url},
        expires_at=timezone.now() + ENTRY_LIFETIME,
    )
    return token


def entry_peek(token: str) -> dict | None:
    row = LtiValue.objects.filter(key=f"entry-{token}", expires_at__gt=timezone.now()).first()
    return None if row is None else row.value


def entry_take(token: str) -> dict | None:
    """The token's user and page, once."""
    value = entry_peek(token)
    return value if value is not None and take(f"entry-{token}") else None


def platform_origin(lti_launch: LtiLaunch) -> str:
    """The LMS's own web address, allowed to frame Red Queen's pages for this session:
    where the launch says to return (Canvas's issuer and sign-in host are not the
    school's Canvas), else the platform's URL, else its issuer."""
    presentation = lti_launch.launch_presentation_claim or {}
    platform = lti_launch.get_claim("https://purl.imsglobal.org/spec/lti/claim/tool_platform")
    candidates = [presentation.get("return_url"), (platform or {}).get("url")]
    for url in [*candidates, lti_launch.registration.issuer]:
        parts = urlsplit(url or "")
        if parts.scheme in ("http", "https") and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}"
    return "'none'"


def csp_with_form_action(url: str) -> dict:
    """The site's CSP, letting one form post to `url`'s origin (the LMS's deep-linking
    return): nothing else is loosened."""
    parts = urlsplit(url)
    policy = dict(settings.SECURE_CSP)
    policy["form-action"] = [*policy.get("form-action", []), f"{parts.scheme}://{parts.netloc}"]
    return policy


# Names and Role Provisioning: the roster from the LMS ------------------------------------


@dataclass
class RosterChange:
    """What a roster sync changed, named for the people who look (and the audit log)."""

    added: list[str]
    dropped: list[str]
    roles: list[str]
    # Learners left where they are: a reason each (`EnrolmentConflict.reason`).
    kept: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        if not (self.added or self.dropped or self.roles):
            said = "The roster matches the LMS: nothing changed."
        else:
            parts = []
            if self.added:
                parts.append(f"{len(self.added)} added")
            if self.dropped:
                parts.append(f"{len(self.dropped)} dropped")
            if self.roles:
                parts.append(f"{len(self.roles)} changed role")
            said = "From the LMS: " + ", ".join(parts) + "."
        if self.kept:
            said += " Not added: " + " ".join(self.kept)
        return said


def roster_sync(link: LtiCourse, *, by: User | None = None) -> RosterChange:
    """Fetch the LMS course's members (NRPS, over HTTP, outside any transaction) and
    bring the cohort and the course's staff in line with them."""
    from lti_tool.services.nrps import fetch_member_data

    members = fetch_member_data(link.context)
    return _roster_apply(link, members, by)


@transaction.atomic
def _roster_apply(link: LtiCourse, members: list[dict], by: User | None) -> RosterChange:
    """Active learners join the cohort, TAs and instructors the course's staff; a member
    who left the LMS course, went inactive or became staff leaves the cohort, and a TA
    who left or became a learner stops assisting. Instructors are never removed by a
    sync: a person does that on the People page. A learner who is a student of another
    current section of the course, or teaches it, is not added (`enrolment_conflicts`,
    as for every way into a cohort): the change says who and why, so an admin's move
    holds. Every change is in the audit log."""
    from lti_tool.models import LtiUser

    from cases.services.people import audit

    course, cohort = link.course, link.cohort
    link.context.update_memberships(members)
    registration = link.context.deployment.registration
    active = {
        m["user_id"]: member_role(m.get("roles", []))
        for m in members
        if m.get("status", "Active") == "Active"
    }
    lti_users = {
        u.sub: u
        for u in LtiUser.objects.filter(registration=registration, sub__in=active).select_related(
            "auth_user"
        )
    }
    change = RosterChange([], [], [])
    in_cohort = set(Membership.objects.filter(cohort=cohort).values_list("user_id", flat=True))
    tas = set(course.teaching_assistants.values_list("pk", flat=True))
    instructors = set(course.instructors.values_list("pk", flat=True))
    wanted_learners, wanted_tas = set(), set()
    joining = []  # Learners not yet in the cohort, added once the staff are in line.
    for sub, role in active.items():
        user = account_for(lti_users[sub], registration)
        name = user.get_full_name() or user.username
        if role == LEARNER:
            wanted_learners.add(user.pk)
            if user.pk not in in_cohort:
                joining.append(user)
        elif role == TEACHING_ASSISTANT:
            wanted_tas.add(user.pk)
            if user.pk not in tas:
                course.teaching_assistants.add(user)
                change.roles.append(f"{name}: teaching assistant")
                audit(by, "role_add", f"{name} assists in {course.code} (LMS roster)",
                      subject=user, course=course)  # fmt: skip
        elif user.pk not in instructors:
            course.instructors.add(user)
            change.roles.append(f"{name}: instructor")
            audit(by, "role_add", f"{name} teaches {course.code} (LMS roster)",
                  subject=user, course=course)  # fmt: skip
    # Who came from this LMS and is no longer what the roster says.
    from_lms = set(
        LtiUser.objects.filter(registration=registration, auth_user__isnull=False).values_list(
            "auth_user", flat=True
        )
    )
    for user in User.objects.filter(pk__in=(in_cohort & from_lms) - wanted_learners):
        Membership.objects.filter(cohort=cohort, user=user).delete()
        change.dropped.append(user.get_full_name() or user.username)
        audit(by, "unenrol", f"{user.get_full_name() or user.username} left {cohort.name} "
              "(LMS roster)", subject=user, cohort=cohort, course=course)  # fmt: skip
    for user in User.objects.filter(pk__in=(tas & from_lms) - wanted_tas):
        course.teaching_assistants.remove(user)
        change.roles.append(f"{user.get_full_name() or user.username}: no longer assists")
        audit(by, "role_remove", f"{user.get_full_name() or user.username} no longer assists "
              f"in {course.code} (LMS roster)", subject=user, course=course)  # fmt: skip
    conflicts = enrolment_conflicts(cohort, [user.pk for user in joining])
    for user in joining:
        name = user.get_full_name() or user.username
        if user.pk in conflicts:
            change.kept.append(conflicts[user.pk].reason(name))
            continue
        Membership.objects.get_or_create(cohort=cohort, user=user)
        change.added.append(name)
        audit(by, "enrol", f"{name} joined {cohort.name} from the LMS roster",
              subject=user, cohort=cohort, course=course)  # fmt: skip
    return change


# Assignment and Grade Services: grades back to the LMS ---------------------------------

MAX_ATTEMPTS = 5


@receiver(work_changed)
def _work_changed(sender, *, item, user_ids, **kwargs) -> None:
    grades_queue(item, user_ids)


def grades_queue(item, user_ids) -> int:
    """After work changed: each of these students who belongs to an LMS course linked
    to the item's course gets their grade (re)sent to that LMS course's gradebook (a
    course taught in two LMS sections has a link for each). One query (compiled) when
    the course has no LMS link; the sending is a task, after the commit."""
    links = {link.context_id: link for link in _lms_links(module=item.module_id)}
    if not links:
        return 0
    from cases.models import LtiGrade, LtiGradeStatus

    came_from = _lms_links_of(links, user_ids)
    for user_id, link in came_from.items():
        grade, _ = LtiGrade.objects.update_or_create(
            item=item, user_id=user_id,
            defaults={"link": link, "status": LtiGradeStatus.WAITING, "attempts": 0},
        )  # fmt: skip
        transaction.on_commit(lambda pk=grade.pk: grade_send_task.enqueue(pk))
    return len(came_from)


def _lms_links_of(links: dict[int, LtiCourse], user_ids) -> dict[int, LtiCourse]:
    """Each of these users' LMS course among `links` (by LMS context): one the LMS knows
    them in (django-lti's memberships, from launches and the roster) whose cohort they
    are in now; in two, the link made first. The cohort is the roster's word, kept
    current by every launch and sync: django-lti keeps a membership the roster has
    dropped, so a student who moved to another section, or left, is in their old
    section's memberships still. Users in none of them are left out."""
    from lti_tool.models import LtiMembership

    in_cohort = Membership.objects.filter(
        cohort=OuterRef("context__red_queen__cohort"), user=OuterRef("user__auth_user")
    )
    rows = (
        LtiMembership.objects.filter(
            Exists(in_cohort), context__in=list(links), user__auth_user__in=list(user_ids)
        )
        .order_by("context__red_queen")  # The link made first comes first.
        .values_list("user__auth_user", "context")
    )
    found: dict[int, LtiCourse] = {}
    for user_id, context_id in rows:
        found.setdefault(user_id, links[context_id])
    return found


@compiled
def _lms_links(module):
    """The LMS links of the module's course, if any (every submit and grade asks)."""
    return LtiCourse.objects.filter(course__modules=module).order_by("pk")


def grade_send(grade_id: int) -> str:
    """Send one grade: the score the gradebook gives (its one function, `cell_score`),
    to the item's line item in the LMS, made on first use, once it is released to the
    student as their grades page shows it (the LMS's gradebook is theirs to read too;
    releasing sends it, `assignment_release`). Nothing is sent for work not yet graded
    or released, or for a grade the LMS has already. Returns the grade's status (""
    for a grade gone since it was queued)."""
    from pylti1p3.grade import Grade

    from cases.models import LtiGrade, LtiGradeStatus
    from cases.services.gradebook import cell_score
    from cases.services.workspace.matrix import student_row

    grade = (
        LtiGrade.objects.select_related(
            "link__context__deployment__registration", "item__module__course", "user"
        )
        .filter(pk=grade_id)
        .first()
    )
    if grade is None:  # Gone with its LMS link (unlinked) since it was queued.
        return ""
    row = student_row(grade.user, grade.item.module.course)
    cell = next((c for c in row.cells if c.item.pk == grade.item_id), None)
    if cell is not None and cell.assignment is not None and not cell.assignment.points:
        # Worth no points: no grade for the LMS, so nothing waits (a change of points
        # queues it again). What the LMS was sent before, it keeps.
        if grade.sent_at is None:
            grade.delete()
            return ""
        LtiGrade.objects.filter(pk=grade.pk).update(status=LtiGradeStatus.SENT, error="")
        return LtiGradeStatus.SENT
    score = cell_score(cell, released_only=True) if cell is not None else None
    if score is None:
        return grade.status  # Not graded or not released yet: sent when it is.
    if grade.sent_at is not None and (grade.score_given, grade.score_maximum) == (
        score.earned,
        score.possible,
    ):
        # The LMS has this score already (queued again by a change that did not move
        # it): each send would be a new submission in the LMS's gradebook.
        if grade.status != LtiGradeStatus.SENT:
            grade.status, grade.error = LtiGradeStatus.SENT, ""
            grade.save(update_fields=["status", "error", "updated_at"])
        return grade.status
    context = grade.link.context
    registration = context.deployment.registration
    sub = registration.users.filter(auth_user=grade.user).values_list("sub", flat=True).first()
    try:
        ags = _ags(registration, context)
        # Found by the item's own resource id (the LMS's column for a link placed by
        # deep linking has it): the tag is every item's, and PyLTI1p3 looks line
        # items up by tag unless told otherwise.
        lineitem = ags.find_or_create_lineitem(
            item_line_item(grade.item, score.possible), find_by="resource_id"
        )
        _line_item_points(registration, lineitem, score.possible)
        result = ags.put_grade(
            Grade()
            .set_score_given(float(score.earned))
            .set_score_maximum(float(score.possible))
            .set_timestamp(timezone.now().isoformat())
            .set_activity_progress("Completed")
            .set_grading_progress("FullyGraded")
            .set_user_id(sub),
            lineitem,
        )
        if int(result.get("status_code") or 200) >= 400:
            raise RuntimeError(f"the LMS answered {result.get('status_code')}")
    except Exception as error:  # The LMS or the network: kept, tried again later.
        grade.attempts += 1
        grade.status = LtiGradeStatus.FAILED
        grade.error = str(error)[:300]
        grade.save(update_fields=["attempts", "status", "error", "updated_at"])
        return grade.status
    grade.status, grade.error = LtiGradeStatus.SENT, ""
    grade.score_given, grade.score_maximum = score.earned, score.possible
    grade.sent_at = timezone.now()
    grade.save()
    return grade.status


def item_line_item(item, points):
    """The item's column in an LMS gradebook: made by the LMS when deep linking places
    the item with it, or by `grade_send` the first time; found by its resource id."""
    from pylti1p3.lineitem import LineItem

    return (
        LineItem()
        .set_resource_id(f"red-queen-item-{item.pk}")
        .set_tag("red-queen")
        .set_label(item.title[:255])
        .set_score_maximum(float(points))
    )


def items_with_columns(context: LtiContext, item_ids) -> set[int]:
    """Which of these items have their column in the LMS course's gradebook already
    (placed before, or graded): placing one again makes a link to it, not a second
    column that its grades would never reach. Asked of the LMS; when it cannot answer,
    none is known."""
    wanted = {f"red-queen-item-{pk}": pk for pk in item_ids}
    if not wanted or not context.lineitems_url:
        return set()
    try:
        lineitems = _ags(context.deployment.registration, context).get_lineitems()
    except Exception:  # The LMS or the network: a placement is not refused for it.
        return set()
    return {wanted[li.get("resourceId")] for li in lineitems if li.get("resourceId") in wanted}


AGS_SCOPES = [
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
]


def _ags(registration: LtiRegistration, context: LtiContext):
    from pylti1p3.assignments_grades import AssignmentsGradesService
    from pylti1p3.service_connector import ServiceConnector

    return AssignmentsGradesService(
        ServiceConnector(registration.to_registration()),
        {"scope": AGS_SCOPES, "lineitems": context.lineitems_url},
    )


def _line_item_points(registration: LtiRegistration, lineitem, points) -> None:
    """The item's LMS column out of the points it is worth now: made out of 10 and the
    item then made worth 20, the LMS would scale 14 of 20 back to 7 of 10 and count 10
    points in its course total. Its label stays the LMS's (a teacher may rename it)."""
    import requests
    from pylti1p3.service_connector import ServiceConnector

    if lineitem.get_id() is None or float(lineitem.get_score_maximum() or 0) == float(points):
        return
    lineitem.set_score_maximum(float(points))
    token = ServiceConnector(registration.to_registration()).get_access_token(AGS_SCOPES)
    response = requests.put(
        lineitem.get_id(),
        data=lineitem.get_value(),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/vnd.ims.lis.v2.lineitem+json",
            "Accept": "application/vnd.ims.lis.v2.lineitem+json",
        },
        timeout=30,
    )
    response.raise_for_status()


@task
def grade_send_task(grade_id: int) -> str:
    return grade_send(grade_id)


def grades_retry() -> int:
    """Send again every grade still waiting, or failed fewer than MAX_ATTEMPTS times
    (the scheduled `lti_sync` command calls this)."""
    from cases.models import LtiGrade, LtiGradeStatus

    pending = LtiGrade.objects.filter(
        status__in=[LtiGradeStatus.WAITING, LtiGradeStatus.FAILED], attempts__lt=MAX_ATTEMPTS
    ).values_list("pk", flat=True)
    return sum(grade_send(pk) == LtiGradeStatus.SENT for pk in pending)


def lms_grades_summary(course: Course) -> dict | None:
    """How the course's grades stand with the LMS gradebook: counts of sent, waiting and
    failed, and of the failed ones no longer tried (`given_up`, MAX_ATTEMPTS failures);
    None when the course has no LMS link. One query."""
    from django.db.models import Count, Q

    from cases.models import LtiGrade, LtiGradeStatus

    counts = LtiGrade.objects.filter(link__course=course).aggregate(
        total=Count("pk"),
        given_up=Count("pk", filter=Q(status=LtiGradeStatus.FAILED, attempts__gte=MAX_ATTEMPTS)),
        **{s.value: Count("pk", filter=Q(status=s.value)) for s in LtiGradeStatus},
    )
    counts["max_attempts"] = MAX_ATTEMPTS
    return counts if counts["total"] else None


@transaction.atomic
def grades_resend(*, course: Course) -> int:
    """Send again the course's grades the scheduled sync gave up on (the LMS refused
    them MAX_ATTEMPTS times, say down for a night): each waits again with its tries
    counted afresh, and its send is a task after the commit. Returns how many."""
    from cases.models import LtiGrade, LtiGradeStatus

    given_up = LtiGrade.objects.select_for_update().filter(
        link__course=course, status=LtiGradeStatus.FAILED, attempts__gte=MAX_ATTEMPTS
    )
    ids = list(given_up.values_list("pk", flat=True))
    LtiGrade.objects.filter(pk__in=ids).update(status=LtiGradeStatus.WAITING, attempts=0)
    for pk in ids:
        transaction.on_commit(lambda pk=pk: grade_send_task.enqueue(pk))
    return len(ids)
