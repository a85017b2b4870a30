"""Invitations: a new account's email with a link to choose a password
(`cases.services.auth.invitation_message`, which a reset asked for by an invited
account that never chose one sends too), sent through Django's tasks framework once the
import that created the accounts is saved, built like every other email
(`cases.services.notifications.email_message`: plain text and HTML)."""

from django.core.mail import mailers
from django.db import transaction
from django.tasks import task

from cases.models import AuditAction, Invitation, User
from cases.services.auth import invitation_message
from cases.services.people import audit


@task
def send_invitation(user_id: int, cohort_name: str) -> None:
    # No in-app notification: the user cannot sign in to see one until they use the link.
    # Nor an unsubscribe link: without this email there is no way in.
    user = User.objects.get(pk=user_id)
    mailers.default.send_messages([invitation_message(user, cohort_name)])


def invitations_send(users, *, cohort=None, sent_by=None) -> int:
    """Record an invitation for each user with an email and send it once the current
    transaction is saved. Sending again (a resend) makes a fresh link; earlier ones
    still work until used or expired."""
    users = [user for user in users if user.email]
    Invitation.objects.bulk_create(
        [Invitation(user=user, cohort=cohort, sent_by=sent_by) for user in users],
        batch_size=1000,
    )
    cohort_name = cohort.name if cohort else ""
    for user in users:
        transaction.on_commit(lambda user_id=user.pk: send_invitation.enqueue(user_id, cohort_name))
    return len(users)


@transaction.atomic
def invitation_resend(user: User, *, by: User) -> None:
    invitations_send([user], sent_by=by)
    audit(by, AuditAction.INVITE, f"Invitation sent again to {user.email}", subject=user)
