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
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from lti_tool.lti_core.constants import ContextRole
from lti_tool.models import LtiContext, LtiDeployment, LtiLaunch, LtiRegistration
from lti_tool.utils import DjangoToolConfig, sync_data_from_launch
from pylti1p3.contrib.django import DjangoMessageLaunch
from pylti1p3.deployment import Deployment
from pylti1p3.exception import LtiException
from pylti1p3.launch_data_storage.base import LaunchDataStorage

from cases.models import Cohort, Course, LtiCourse, LtiValue, Membership, User

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
        lifetime = timedelta(seconds=exp) if exp else LOGIN_LIFETIME
        LtiValue.objects.update_or_create(
            key=self._prepare_key(key),
            defaults={"value": value, "expires_at": timezone.now() + lifetime},
        )

    def check_value(self, key: str) -> bool:
        return take(self._prepare_key(key))


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


def launch_validate(request) -> LtiLaunch:
    """The launch this POST carries, checked in full; LaunchRefused says why not."""
    message = MessageLaunch(request, ToolConfig(), launch_data_storage=_storage(request))
    try:
        message.validate()
    except (LtiException, Exception) as error:  # PyJWT and key errors, too
        raise LaunchRefused(_reason(error)) from None
    return LtiLaunch(message)


def launch_restore(request, launch_id: str) -> LtiLaunch | None:
    """A launch validated earlier in this browser (deep linking's second step)."""
    try:
        message = MessageLaunch.from_cache(
            launch_id, request, ToolConfig(), launch_data_storage=_storage(request)
        )
    except LtiException:
        return None
    return LtiLaunch(message)


def _reason(error: Exception) -> str:
    text = str(error) or type(error).__name__
    known = {
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
    its context: an LMS instructor or administrator teaches, a teaching assistant
    assists, anyone else learns."""
    roles = set(lti_launch.roles_claim or [])
    if any(r.endswith("#TeachingAssistant") for r in roles):
        return TEACHING_ASSISTANT
    teaching = {ContextRole.INSTRUCTOR, ContextRole.ADMINISTRATOR}
    if any(_context_role(r) in teaching for r in roles) or any(
        r.endswith("institution/person#Administrator") for r in roles
    ):
        return INSTRUCTOR
    return LEARNER


def _context_role(role: str) -> str:
    return role.rsplit("#", 1)[-1] if role.startswith("http") else role


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
    course. Nothing here trusts anything but the validated token."""
    sync_data_from_launch(lti_launch)
    lti_user = lti_launch.user
    user = lti_user.auth_user
    if user is None:
        user = User.objects.create_user(
            username=_username(lti_launch.registration, lti_user.sub),
            first_name=(lti_user.given_name or lti_user.name or "")[:150],
            last_name=(lti_user.family_name or "")[:150],
            email=lti_user.email or "",
        )
        lti_user.auth_user = user
        lti_user.save(update_fields=["auth_user"])
    role = course_role(lti_launch)
    context = lti_launch.context if lti_launch.context_claim else None
    link = LtiCourse.objects.filter(context=context).select_related("course", "cohort").first()
    if link is not None:
        enrol(link, user, role)
    return Arrival(user, role, link.course if link else None, context)


def _username(registration: LtiRegistration, sub: str) -> str:
    digest = hashlib.sha256(f"{registration.pk}:{sub}".encode()).hexdigest()[:16]
    return f"lti-{digest}"


def enrol(link: LtiCourse, user: User, role: str) -> None:
    """Give `user` the role in the linked course: a learner joins its cohort, staff
    join its teaching staff. Never the other way: a learner is never made staff."""
    if role == INSTRUCTOR:
        link.course.instructors.add(user)
    elif role == TEACHING_ASSISTANT:
        link.course.teaching_assistants.add(user)
    else:
        Membership.objects.get_or_create(cohort=link.cohort, user=user)


@transaction.atomic
def course_link(*, context: LtiContext, course: Course, user: User) -> LtiCourse:
    """An instructor links an LMS course to a Red Queen course they teach; its
    learners join a cohort named after the LMS course."""
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
    """The LMS's origin, allowed to frame Red Queen's pages for this session."""
    parts = urlsplit(lti_launch.registration.auth_url or lti_launch.registration.issuer)
    return f"{parts.scheme}://{parts.netloc}"


def linked_course(lti_launch: LtiLaunch) -> Course | None:
    """The Red Queen course the launch's LMS course is linked to, if any."""
    if not lti_launch.context_claim:
        return None
    link = LtiCourse.objects.filter(context=lti_launch.context).select_related("course").first()
    return link.course if link else None


def csp_with_form_action(url: str) -> dict:
    """The site's CSP, letting one form post to `url`'s origin (the LMS's deep-linking
    return): nothing else is loosened."""
    parts = urlsplit(url)
    policy = dict(settings.SECURE_CSP)
    policy["form-action"] = [*policy.get("form-action", []), f"{parts.scheme}://{parts.netloc}"]
    return policy
