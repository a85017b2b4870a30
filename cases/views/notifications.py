"""In-app notifications: the bell in the header (its unread count, fetched after the
page and refreshed with conditional GET), the list, marking read, and each user's
choice of which kinds are emailed."""

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core import signing
from django.core.paginator import Paginator
from django.db.models import Count, Max, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cases.forms.notifications import PreferencesForm
from cases.http import HtmxHttpRequest, next_url, not_modified, parse_int
from cases.models import EmailSettings, Notification, NotificationKind, NotificationPreference, User
from cases.services import notifications as services

PAGE_SIZE = 30


@require_GET
def notification_bell(request: HtmxHttpRequest):
    """Anyone signed in: the header's bell with their unread count. The header asks for
    it after the page has loaded and every 30 seconds, with the ETag it shows: nothing
    new is a 304 after one query."""
    counts = Notification.objects.filter(user=request.user).aggregate(
        unread=Count("pk", filter=Q(read_at__isnull=True)), last=Max("pk")
    )
    etag = f'W/"bell-{request.user.pk}-{counts["unread"]}-{counts["last"] or 0}"'
    if unchanged := not_modified(request, etag):
        return unchanged
    response = render(
        request,
        "cases/notifications/bell.jinja",
        {"unread": counts["unread"], "etag": etag},
        using="jinja2",
    )
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def notification_list(request: HtmxHttpRequest):
    """Anyone signed in: their notifications, newest first, 30 a page; each one of a
    course says when in the course's time zone, as its text and the course's pages do."""
    notifications = Notification.objects.filter(user=request.user).select_related("course")
    page = Paginator(notifications, PAGE_SIZE).get_page(parse_int(request.GET.get("page"), low=1))
    # The newest one now, so that "Mark all read" marks only those counted here.
    counts = Notification.objects.filter(user=request.user).aggregate(
        unread=Count("pk", filter=Q(read_at__isnull=True)), last=Max("pk")
    )
    context = {"page": page, "unread": counts["unread"], "last": counts["last"]}
    return render(request, "cases/notifications/list.html", context)


@require_GET
def notification_open(request: HtmxHttpRequest, pk: int):
    """The notification's owner: mark it read and go to what it is about; when that is
    no longer there for them (deleted, taken back, they left the course), back to the
    list saying so rather than to a 404. Anyone else's is 404."""
    notification = get_object_or_404(Notification, pk=pk, user=request.user)
    if notification.read_at is None:
        Notification.objects.filter(pk=pk, read_at__isnull=True).update(read_at=timezone.now())
    url = notification.url
    if not url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}):
        url = "/"
    elif services.notification_target_gone(request.user, url):
        messages.info(
            request,
            f"“{notification.title}” leads to something no longer there for you: it was "
            "deleted, or is no longer given to you.",
        )
        return redirect("cases:notification_list")
    return redirect(url)


@require_POST
def notification_read(request: HtmxHttpRequest):
    """Anyone signed in: mark one of their notifications read (`id`), or all of them:
    all those the list counted when it was shown (`upto`, its newest then), so one that
    arrived meanwhile, never seen, stays new."""
    mine = Notification.objects.filter(user=request.user, read_at__isnull=True)
    one = parse_int(request.POST.get("id"), low=1)
    if one is not None:
        mine = mine.filter(pk=one)
    elif (upto := parse_int(request.POST.get("upto"), low=1)) is not None:
        mine = mine.filter(pk__lte=upto)
    marked = mine.update(read_at=timezone.now())
    if one is None:
        messages.success(request, f"Marked {marked} notification{'s' if marked != 1 else ''} read.")
    return redirect(next_url(request, "cases:notification_list"))


@require_http_methods(["GET", "POST"])
def notification_preferences(request: HtmxHttpRequest):
    """Anyone signed in: which kinds of notification are also emailed, and whether they
    come one by one or in a daily digest. In-app notifications always show."""
    user = request.user
    off = set(
        NotificationPreference.objects.filter(user=user, email=False).values_list("kind", flat=True)
    )
    settings_row = EmailSettings.objects.filter(user=user).first()
    form = PreferencesForm(
        request.POST or None,
        emailed_off=off,
        digest=bool(settings_row and settings_row.daily_digest),
    )
    if request.method == "POST" and form.is_valid():
        services.email_preferences_save(
            user=user, emailed=form.emailed(), daily_digest=form.cleaned_data["daily_digest"]
        )
        messages.success(request, "Saved your email preferences.")
        return redirect("cases:notification_preferences")
    return render(request, "cases/notifications/preferences.html", {"form": form})


# Unsubscribing from an email ---------------------------------------------------------


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def notification_unsubscribe(request: HtmxHttpRequest, token: str):
    """Anyone holding the link, signed in or not, sees which emails it stops (GET) and
    stops them with the button (POST); the in-app notifications keep coming. Opened
    again once they are stopped, it says so, with no button; signed in as someone else,
    it says the link is for another account. A bad or tampered token is a 404."""
    try:
        user, kind = services.unsubscribe_read(token)
    except (signing.BadSignature, User.DoesNotExist) as error:
        raise Http404("This link is not valid.") from error
    done = request.method == "POST"
    if done:
        services.notification_email_off(user=user, kind=kind)
    context = {
        "kind_label": NotificationKind(kind).label,
        "done": done,
        "already": not done and services.notification_email_is_off(user=user, kind=kind),
        "elsewhere": request.user.is_authenticated and request.user.pk != user.pk,
    }
    return render(request, "cases/notifications/unsubscribe.html", context)
