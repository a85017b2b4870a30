"""Login throttling, kept in the database so every server process agrees.

A key is counted whether or not such a user exists, so the answer never tells an
attacker which usernames are real."""

import hashlib
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from cases.models import LoginThrottle

# The hard lock is per username *and* address, so a stranger cannot lock a user out from
# elsewhere; the per-username and per-address limits are far higher and only stop
# spraying at scale (a campus NAT puts many honest students behind one address).
USERNAME_LIMIT_FACTOR = 10
ADDRESS_LIMIT_FACTOR = 20


def _name_digest(username: str) -> str:
    return hashlib.sha256(username.strip().casefold().encode()).hexdigest()


def _keys(*, username: str, address: str) -> list[tuple[str, int]]:
    limit = settings.LOGIN_FAILURE_LIMIT
    name = _name_digest(username)
    return [
        (f"pair:{name}:{address}", limit),
        (f"user:{name}", limit * USERNAME_LIMIT_FACTOR),
        (f"addr:{address}", limit * ADDRESS_LIMIT_FACTOR),
    ]


def _window() -> timedelta:
    return timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)


def login_lockout_remaining(*, username: str, address: str) -> timedelta | None:
    """How long sign-in stays locked for this username or address; None when it is not."""
    now = timezone.now()
    remaining = None
    for key, limit in _keys(username=username, address=address):
        throttle = LoginThrottle.objects.filter(key=key).first()
        if throttle is None or throttle.failures < limit:
            continue
        left = throttle.window_started_at + _window() - now
        if left > timedelta(0):
            remaining = max(remaining or left, left)
    return remaining


def _count(key: str, now) -> int:
    """Count one more event for `key` in the current window, atomically; return the
    count."""
    with transaction.atomic():
        # A stale window starts again; otherwise count atomically in SQL.
        rows = LoginThrottle.objects.filter(key=key, window_started_at__gt=now - _window())
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


def login_failure_record(*, username: str, address: str) -> None:
    now = timezone.now()
    for key, _limit in _keys(username=username, address=address):
        _count(key, now)


RESET_LIMIT_PER_EMAIL = 3
RESET_LIMIT_PER_ADDRESS = 20


def password_reset_allowed(*, email: str, address: str) -> bool:
    """Count a reset request; False once an address or an email asks too often in the
    window. The page answers the same either way; only the email is not sent, so nobody
    can flood an inbox or probe for accounts by timing."""
    now = timezone.now()
    by_email = _count(f"reset:{_name_digest(email)}", now)
    by_address = _count(f"resetaddr:{address}", now)
    return by_email <= RESET_LIMIT_PER_EMAIL and by_address <= RESET_LIMIT_PER_ADDRESS


def login_success_clear(*, username: str) -> None:
    """Forget a username's failures: after a successful sign-in or a password reset."""
    name = _name_digest(username)
    LoginThrottle.objects.filter(key__startswith=f"pair:{name}:").delete()
    LoginThrottle.objects.filter(key=f"user:{name}").delete()


def client_address(meta: dict) -> str:
    """The client's address. Behind N trusted proxies (DJANGO_TRUSTED_PROXY_HOPS) it is
    the Nth address from the right of X-Forwarded-For; the left part is client-made."""
    hops = settings.TRUSTED_PROXY_HOPS
    forwarded = [a.strip() for a in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    if hops and len(forwarded) >= hops:
        return forwarded[-hops]
    return meta.get("REMOTE_ADDR", "")
