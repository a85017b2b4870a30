"""Signing up with a join code, confirmed by email.

The sign-up page makes nothing: it queues one task with what was typed, whatever the
address. The task emails a new address a link to finish (a signed token holding the
details, expiring after PASSWORD_RESET_TIMEOUT), and an address that has an active
account a note with a way to sign in instead; a deactivated account's address gets
nothing. The account, its membership and its audit entry are made only when the link
is used, with the password chosen there: so whoever chooses the password owns the
inbox, nothing is kept for sign-ups never finished, and the page's answer and timing
are the same whether or not the address has an account. A link works once: once an
account has its address (made by this link, another one, or an admin), it is refused."""

from django.conf import settings
from django.core import signing
from django.core.mail import mailers
from django.db import transaction
from django.tasks import task
from django.urls import reverse

from cases.models import AuditAction, Cohort, Membership, User
from cases.permissions import join_refusal
from cases.services.auth import password_link
from cases.services.notifications import absolute, email_message
from cases.services.people import audit

SIGNUP_SALT = "cases.signup"
FIELDS = ("email", "username", "first_name", "last_name", "cohort")


class SignupLinkRefused(Exception):
    """A sign-up link that makes no account (expired, used, or its cohort gone); with a
    message when its cohort's code admits nobody now, which says why."""


def signup_token(*, email: str, username: str, first_name: str, last_name: str, cohort: int) -> str:
    values = [email, username, first_name, last_name, cohort]
    return signing.dumps(values, salt=SIGNUP_SALT, compress=True)


def signup_read(token: str) -> dict:
    """What the link's sign-up said, with its cohort; SignupLinkRefused when the link is
    forged, expired or used, or its cohort is archived or gone, or (saying why) when its
    join code admits nobody now: turning a code off stops the links it gave out too."""
    try:
        values = signing.loads(token, salt=SIGNUP_SALT, max_age=settings.PASSWORD_RESET_TIMEOUT)
        details = dict(zip(FIELDS, values, strict=True))
    except (signing.BadSignature, TypeError, ValueError):
        raise SignupLinkRefused from None
    details["cohort"] = Cohort.objects.filter(pk=details["cohort"], archived_at=None).first()
    if details["cohort"] is None or User.objects.filter(email__iexact=details["email"]).exists():
        raise SignupLinkRefused
    if refusal := join_refusal(details["cohort"]):
        raise SignupLinkRefused(refusal)
    return details


@task
def signup_email_send(
    *, email: str, username: str, first_name: str, last_name: str, cohort_id: int
) -> None:
    cohort = Cohort.objects.filter(pk=cohort_id).first()
    if cohort is None:
        return  # Deleted since: the link would be refused anyway.
    accounts = list(User.objects.filter(email__iexact=email))
    days = settings.PASSWORD_RESET_TIMEOUT // 86400
    if not accounts:
        token = signup_token(
            email=email,
            username=username,
            first_name=first_name,
            last_name=last_name,
            cohort=cohort.pk,
        )
        link = absolute(reverse("cases:signup_confirm", args=[token]))
        context = {"first_name": first_name, "cohort": cohort, "days": days, "link": link}
        messages = [
            email_message(
                to=email,
                subject="Finish creating your Red Queen account",
                template="signup_link",
                context=context,
            )
        ]
    else:
        messages = [
            email_message(
                to=user.email,
                subject="Someone tried to create a Red Queen account with your address",
                template="signup_existing",
                context={
                    "user": user,
                    "cohort": cohort,
                    "days": days,
                    "sign_in": absolute(reverse("login")),
                    "join": absolute(reverse("cases:cohort_join")),
                    "choose_password": password_link(user),
                },
            )
            for user in accounts
            if user.is_active
        ]
    if messages:
        mailers.default.send_messages(messages)


def signup_request(
    *, email: str, username: str, first_name: str, last_name: str, cohort: Cohort
) -> None:
    """Queue the sign-up's email. Nothing is looked up here: whether the address has an
    account is the task's business, so this costs the same either way."""
    signup_email_send.enqueue(
        email=email,
        username=username,
        first_name=first_name,
        last_name=last_name,
        cohort_id=cohort.pk,
    )


@transaction.atomic
def user_signup(
    *, username: str, first_name: str, last_name: str, email: str, password: str, cohort: Cohort
) -> User:
    """Create the account a sign-up link stands for, in its cohort. Refused once an
    account has the address; a second use of one link racing the first (a double click)
    is refused by the unique username. A new account has no work to bring along."""
    if User.objects.filter(email__iexact=email).exists():
        raise SignupLinkRefused
    user = User.objects.create_user(
        username=username,
        first_name=first_name,
        last_name=last_name,
        email=email,
        password=password,
    )
    Membership.objects.create(cohort=cohort, user=user)
    audit(
        user,
        AuditAction.ENROL,
        f"{user.username} created an account and joined {cohort.name} with its join code",
        subject=user,
        cohort=cohort,
        after={"cohort": cohort.pk, "name": cohort.name, "by": "sign-up"},
    )
    return user
