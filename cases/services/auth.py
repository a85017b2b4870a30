"""Throttles for the doors strangers knock on: sign-in, password resets, join codes and
sign-up. Counts are kept in the database so every server process agrees.

A key is counted whether or not such a user exists, so the answer never tells an
attacker which usernames are real. Sign-in is counted by the authentication backend
(`cases.backends.ThrottledModelBackend`), which every sign-in page goes through."""

import hashlib
import unicodedata
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import mailers
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.tasks import task
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from cases.models import Invitation, LoginThrottle, User
from cases.services.notifications import email_message

# The hard lock is per username *and* address, so a stranger cannot lock a user out from
# elsewhere; the per-username and per-address limits are far higher and only stop
# spraying at scale (a campus NAT puts many honest students behind one address).
USERNAME_LIMIT_FACTOR = 10
ADDRESS_LIMIT_FACTOR = 20
# Where the backend leaves how long sign-in stays locked, for the page to say so.
LOCKOUT_ATTRIBUTE = "sign_in_locked_for"
# Where the backend notes that the password was right but the account is deactivated.
DEACTIVATED_ATTRIBUTE = "sign_in_deactivated"
RESET_LIMIT_PER_EMAIL = 3
RESET_LIMIT_PER_ADDRESS = 20
# Sign-up emails one inbox receives in the sign-up window, whoever asks.
SIGNUP_LIMIT_PER_EMAIL = 3


def _name_digest(username: str) -> str:
    return hashlib.sha256(username.strip().casefold().encode()).hexdigest()


def _window() -> timedelta:
    return timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)


def _signup_window() -> timedelta:
    return timedelta(seconds=settings.SIGNUP_WINDOW_SECONDS)


def _remaining(limits: list[tuple[str, int]], window: timedelta) -> timedelta | None:
    """How long the longest of these keys that reached its limit stays locked; None when
    none did. One query."""
    now = timezone.now()
    limit_of = dict(limits)
    remaining = None
    for throttle in LoginThrottle.objects.filter(key__in=limit_of):
        if throttle.failures < limit_of[throttle.key]:
            continue
        left = throttle.window_started_at + window - now
        if left > timedelta(0):
            remaining = max(remaining or left, left)
    return remaining


def _count(key: str, now, window: timedelta | None = None) -> int:
    """Count one more event for `key` in the current window, atomically; return the
    count."""
    window = window or _window()
    with transaction.atomic():
        # A stale window starts again; otherwise count atomically in SQL.
        rows = LoginThrottle.objects.filter(key=key, window_started_at__gt=now - window)
        if rows.update(failures=F("failures") + 1):
            return rows.values_list("failures", flat=True).first() or 1
        try:
            with transaction.atomic():
                LoginThrottle.objects.update_or_create(
                    key=key, defaults={"failures": 1, "window_started_at": now}
                )
        except IntegrityError:
            # Another process created the row first; count on top of it.
            LoginThrottle.objects.filter(key=key).update(failures=F("failures") + 1)
        return 1


def lockout_minutes(remaining: timedelta) -> int:
    return max(1, round(remaining.total_seconds() / 60))


# Sign-in ------------------------------------------------------------------------------


def _keys(*, username: str, address: str) -> list[tuple[str, int]]:
    limit = settings.LOGIN_FAILURE_LIMIT
    name = _name_digest(username)
    return [
        (f"pair:{name}:{address}", limit),
        (f"user:{name}", limit * USERNAME_LIMIT_FACTOR),
        (f"addr:{address}", limit * ADDRESS_LIMIT_FACTOR),
    ]


def login_lockout_remaining(*, username: str, address: str) -> timedelta | None:
    """How long sign-in stays locked for this username or address; None when it is not."""
    return _remaining(_keys(username=username, address=address), _window())


def login_failure_record(*, username: str, address: str) -> None:
    now = timezone.now()
    for key, _limit in _keys(username=username, address=address):
        _count(key, now)


def login_success_clear(*, username: str) -> None:
    """Forget a username's failures: after a successful sign-in or a password reset."""
    name = _name_digest(username)
    LoginThrottle.objects.filter(key__startswith=f"pair:{name}:").delete()
    LoginThrottle.objects.filter(key=f"user:{name}").delete()


def sign_in_lockout(request: HttpRequest) -> timedelta | None:
    """How long sign-in is locked, if the backend refused this request for that."""
    return getattr(request, LOCKOUT_ATTRIBUTE, None)


def sign_in_deactivated(request: HttpRequest) -> bool:
    """Whether the backend refused this request's right password because an admin
    deactivated the account."""
    return getattr(request, DEACTIVATED_ATTRIBUTE, False)


# Password resets ----------------------------------------------------------------------


def password_reset_allowed(*, email: str, address: str) -> bool:
    """Count a reset request; False once an address or an email asks too often in the
    window. The page answers the same either way; only the email is not sent, so nobody
    can flood an inbox or probe for accounts by timing."""
    now = timezone.now()
    by_email = _count(f"reset:{_name_digest(email)}", now)
    by_address = _count(f"resetaddr:{address}", now)
    return by_email <= RESET_LIMIT_PER_EMAIL and by_address <= RESET_LIMIT_PER_ADDRESS


# Join codes and sign-up ---------------------------------------------------------------


def _code_keys(*, user_id: int | None, address: str) -> list[tuple[str, int]]:
    keys = [(f"codeaddr:{address}", settings.JOIN_CODE_ADDRESS_LIMIT)]
    if user_id is not None:
        keys.append((f"codeuser:{user_id}", settings.JOIN_CODE_FAILURE_LIMIT))
    return keys


def join_code_lockout_remaining(*, user_id: int | None, address: str) -> timedelta | None:
    """How long join codes are refused to this account (None: signed out) or address
    after too many wrong ones; None when they are not."""
    return _remaining(_code_keys(user_id=user_id, address=address), _window())


def join_code_failure_record(*, user_id: int | None, address: str) -> None:
    """Count a code that admitted nobody, for the account and for the address."""
    now = timezone.now()
    for key, _limit in _code_keys(user_id=user_id, address=address):
        _count(key, now)


def signup_lockout_remaining(*, address: str) -> timedelta | None:
    """How long sign-up is refused to this address: after too many wrong join codes, or
    too many sign-ups, from it; None when it is not."""
    codes = join_code_lockout_remaining(user_id=None, address=address)
    signups = _remaining([(f"signupaddr:{address}", settings.SIGNUP_LIMIT)], _signup_window())
    return max([r for r in (codes, signups) if r is not None], default=None)


def signup_record(*, address: str) -> None:
    """Count a sign-up from this address that got past the join code, whether or not the
    rest was right: the page says whether a username is taken, and that is not to be
    asked without end either."""
    _count(f"signupaddr:{address}", timezone.now(), _signup_window())


def signup_email_allowed(*, email: str) -> bool:
    """Count a sign-up email to this address; False once it has had its share in the
    window. The page answers the same either way; only the email is not sent, so nobody
    can flood an inbox through the sign-up form."""
    count = _count(f"signup:{_name_digest(email)}", timezone.now(), _signup_window())
    return count <= SIGNUP_LIMIT_PER_EMAIL


def client_address(meta: dict) -> str:
    """The client's address. Behind N trusted proxies (DJANGO_TRUSTED_PROXY_HOPS) it is
    the Nth address from the right of X-Forwarded-For; the left part is client-made."""
    hops = settings.TRUSTED_PROXY_HOPS
    forwarded = [a.strip() for a in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    if hops and len(forwarded) >= hops:
        return forwarded[-hops]
    return meta.get("REMOTE_ADDR", "")


# Choosing a password by email ---------------------------------------------------------------
# The link is Django's password-reset token for the account, so it works once (setting the
# password changes what the token is made from) and expires after PASSWORD_RESET_TIMEOUT
# (three days by default). Invitations and sign-up use it too.


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


def _same_address(a: str, b: str) -> bool:
    return (
        unicodedata.normalize("NFKC", a).casefold() == unicodedata.normalize("NFKC", b).casefold()
    )


def invitation_message(user: User, cohort_name: str = ""):
    """The email inviting a new account to choose its password, naming its username."""
    where = f" for {cohort_name}" if cohort_name else ""
    context = {
        "user": user,
        "where": where,
        "days": settings.PASSWORD_RESET_TIMEOUT // 86400,
        "link": password_link(user),
        # Where an expired invitation is renewed (`password_reset_send` sends one).
        "renew": settings.SITE_URL.rstrip("/") + reverse("password_reset"),
    }
    return email_message(
        to=user.email,
        subject=f"Your Red Queen account{where}",
        template="invitation",
        context=context,
    )


@task
def password_reset_send(email: str) -> None:
    """Email a link to choose a new password to each active account with this address
    and a usable password (Django's `get_users`), and a new invitation to each one that
    was invited and never chose one: its invitation's link expired, and the page that
    says so sends them here. (An account with no password and no invitation, made by an
    LTI launch, signs in through its LMS and is sent nothing.) The page that asked
    queued only the address, doing the same whether or not an account has it; the
    lookup is here, in the worker."""
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
    invited = User.objects.filter(
        email__iexact=email, is_active=True, invitations__isnull=False
    ).distinct()
    for user in invited:
        # As `get_users`: the address as stored must be the one asked for, not one the
        # database's case-insensitive match takes for it.
        if not user.has_usable_password() and _same_address(email, user.email):
            Invitation.objects.create(user=user)
            messages.append(invitation_message(user))
    if messages:
        mailers.default.send_messages(messages)
