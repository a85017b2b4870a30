"""Turning off one kind of email from the link at the foot of every notification email.

The link carries a signed token for (user, kind), so it works without signing in (mail
clients and people on another device follow it signed out). A GET only shows what the
button will do; the POST, a real form with its CSRF token, turns the email off. There is
no one-click POST (RFC 8058): that would need a CSRF exemption. A token that is not ours,
or names an account since deactivated, is a 404, as a wrong id is everywhere."""

from django.contrib.auth.decorators import login_not_required
from django.core import signing
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from cases.http import HtmxHttpRequest
from cases.models import NotificationKind, User
from cases.services import notifications as services


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def notification_unsubscribe(request: HtmxHttpRequest, token: str):
    """Anyone holding the link, signed in or not, sees which emails it stops (GET) and
    stops them with the button (POST); the in-app notifications keep coming. A bad or
    tampered token is a 404."""
    try:
        user, kind = services.unsubscribe_read(token)
    except (signing.BadSignature, User.DoesNotExist) as error:
        raise Http404("This link is not valid.") from error
    done = False
    if request.method == "POST":
        services.notification_email_off(user=user, kind=kind)
        done = True
    return render(
        request,
        "cases/notifications/unsubscribe.html",
        {"kind_label": NotificationKind(kind).label, "done": done},
    )
