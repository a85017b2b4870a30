"""Invitations: a new account's email with a link to choose a password
(`cases.services.auth.invitation_message`, which a reset asked for by an invited
account that never chose one sends too), sent through Django's tasks framework once the
import (or the role given by email) that created the accounts is saved, built like every
other email (`cases.services.notifications.email_message`: plain text and HTML)."""

import re

from django.core.mail import mailers
from django.db import transaction
from django.db.models.functions import Lower
from django.tasks import task

from cases.models import AuditAction, Course, Invitation, User
from cases.permissions import CourseRole
from cases.services.auth import invitation_message
from cases.services.people import Refused, audit, course_role_add


def free_usernames(emails: list[str]) -> list[str]:
    """A free username for each new account: the email's local part, in lower case and
    made unique. Unique in any case: no two usernames differ only in case
    (`user_username_case_insensitive_unique`), so "ann" is taken once "Ann" is."""
    bases = [
        re.sub(r"[^a-z0-9._-]", "", email.split("@")[0].lower())[:140] or "student"
        for email in emails
    ]
    folded = User.objects.annotate(folded=Lower("username"))
    taken = set(folded.filter(folded__in=set(bases)).values_list("folded", flat=True))
    for base in {b for b in bases if b in taken}:
        taken |= set(folded.filter(folded__startswith=f"{base}-").values_list("folded", flat=True))
    names = []
    for base in bases:
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}-{n}"
        taken.add(name)
        names.append(name)
    return names


@task
def send_invitation(user_id: int, cohort_name: str) -> None:
    # No in-app notification: the user cannot sign in to see one until they use the link.
    # Nor an unsubscribe link: without this email there is no way in.
    user = User.objects.get(pk=user_id)
    mailers.default.send_messages([invitation_message(user, cohort_name)])


def invitations_send(users, *, cohort=None, sent_by=None, where: str = "") -> int:
    """Record an invitation for each user with an email and send it once the current
    transaction is saved. Sending again (a resend) makes a fresh link; earlier ones
    still work until used or expired. The email says what it is for: `where`, else the
    cohort's name."""
    users = [user for user in users if user.email]
    Invitation.objects.bulk_create(
        [Invitation(user=user, cohort=cohort, sent_by=sent_by) for user in users],
        batch_size=1000,
    )
    cohort_name = where or (cohort.name if cohort else "")
    for user in users:
        transaction.on_commit(lambda user_id=user.pk: send_invitation.enqueue(user_id, cohort_name))
    return len(users)


@transaction.atomic
def invitation_resend(user: User, *, by: User) -> None:
    invitations_send([user], sent_by=by)
    audit(by, AuditAction.INVITE, f"Invitation sent again to {user.email}", subject=user)


@transaction.atomic
def course_role_invite(*, course: Course, email: str, role: str, by: User) -> User:
    """Give a course role to someone with no account yet: an account for the address,
    with no password and a username from it (`free_usernames`), the role
    (`course_role_add`, audited) and an invitation to choose a password, sent once
    saved and audited. Refused if an account has the address by now (two admins at
    once): give that one the role instead."""
    course = Course.objects.select_for_update().get(pk=course.pk)
    if User.objects.filter(email__iexact=email).exists():
        raise Refused(f"{email} has an account now: add it by its username.")
    [username] = free_usernames([email])
    user = User(username=username, email=email)
    user.set_unusable_password()
    user.save()
    course_role_add(course=course, user=user, role=role, by=by)
    invitations_send([user], sent_by=by, where=f"{course.code}, {course.title}")
    audit(
        by,
        AuditAction.INVITE,
        f"Invited {email} ({username}) as {CourseRole(role).label.lower()} of {course.code}",
        subject=user,
        course=course,
        after={"username": username, "email": email},
    )
    return user
