"""Emails with a link to choose a password: a new account's invitation, and a password
reset.

The link is Django's password-reset token for the account, so it works once (setting the
password changes what the token is made from) and expires after PASSWORD_RESET_TIMEOUT
(three days by default). Emails go out through Django's tasks framework (invitations
after the import that created the accounts is saved), built like every other email
(`cases.services.notifications.email_message`: plain text and HTML)."""

from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import mailers
from django.db import transaction
from django.tasks import task
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from cases.models import AuditAction, Invitation, User
from cases.services.notifications import email_message
from cases.services.people import audit


def password_link(user: User) -> str:
    """Where the user chooses a new password, as an absolute link for an email sent
    outside any request."""
    path = reverse(
        "password_reset_confirm",
        args=[
            urlsafe_base64_encode(force_bytes(user.pk)),
            default_token_generator.make_token(user),
        ],
    )
    return settings.SITE_URL.rstrip("/") + path


@task
def send_invitation(user_id: int, cohort_name: str) -> None:
    # No in-app notification: the user cannot sign in to see one until they use the link.
    # Nor an unsubscribe link: without this email there is no way in.
    user = User.objects.get(pk=user_id)
    where = f" for {cohort_name}" if cohort_name else ""
    context = {
        "user": user,
        "where": where,
        "days": settings.PASSWORD_RESET_TIMEOUT // 86400,
        "link": password_link(user),
    }
    message = email_message(
        to=user.email,
        subject=f"Your Red Queen account{where}",
        template="invitation",
        context=context,
    )
    mailers.default.send_messages([message])


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


@task
def password_reset_send(email: str) -> None:
    """Email a link to choose a new password to each active account with this address
    and a usable password (Django's `get_users`; an invited account that never chose one
    needs its invitation resent). The page that asked queued only the address, doing the
    same whether or not an account has it; the lookup is here, in the worker."""
    messages = [
        email_message(
            to=user.email,
            subject="Reset your Red Queen password",
            template="password_reset",
            context={
                "user": user,
                "days": settings.PASSWORD_RESET_TIMEOUT // 86400,
                "link": password_link(user),
            },
        )
        for user in PasswordResetForm().get_users(email)
    ]
    if messages:
        mailers.default.send_messages(messages)
