import contextlib

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import middleware as auth_middleware
from django.contrib.auth.views import redirect_to_login
from django.http import QueryDict, UnreadablePostError
from django.utils import timezone
from django_htmx.http import HttpResponseClientRedirect

FORM_CONTENT_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}


class SignedInUserMiddleware:
    """`request.user` as the user itself, loaded once the session is read, rather than
    Django's lazy stand-in: every page asks for the user (LoginRequiredMiddleware does
    before any view), and each attribute read through the stand-in costs a failed
    lookup first, a few hundred times a page. Signing in and out replace
    `request.user` as before."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.user = auth.get_user(request)
        return self.get_response(request)


class LoginRequiredMiddleware(auth_middleware.LoginRequiredMiddleware):
    """Django's login-by-default, but an htmx request whose session has expired asks the
    browser to go to the login page instead of swapping the login form into a fragment."""

    def handle_no_permission(self, request, view_func):
        if getattr(request, "htmx", False):
            current = request.htmx.current_url_abs_path or "/"
            login = redirect_to_login(
                current, self.get_login_url(view_func), self.get_redirect_field_name(view_func)
            )
            return HttpResponseClientRedirect(login.url)
        return super().handle_no_permission(request, view_func)


class CourseTimeZoneMiddleware:
    """Every request starts (and ends) in the default time zone. A course-scoped access
    helper then activates the course's own zone (`cases.timezones.activate_for`), so
    dates are shown and typed in it; nothing leaks into the next request on the same
    thread."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def _without_nul(data: QueryDict) -> QueryDict | None:
    """A copy of `data` with U+0000 taken out of every key and value, or None when there
    is none to take out (the usual case, which costs one pass over a few fields)."""
    pairs = [(key, value) for key, values in data.lists() for value in values]
    if not any("\0" in key or "\0" in value for key, value in pairs):
        return None
    cleaned = QueryDict(mutable=True, encoding=data.encoding)
    for key, value in pairs:
        cleaned.appendlist(key.replace("\0", ""), value.replace("\0", ""))
    cleaned._mutable = False
    return cleaned


class NulStripMiddleware:
    """Takes U+0000 out of the query string, a posted form's fields and the cookies
    before anything reads them. PostgreSQL refuses NUL in text and JSON columns (and in
    query parameters), so a NUL pasted into a field, or a session cookie carrying one,
    would reach the database and fail as a 500: many views read `request.POST` directly,
    and the forms that do check refuse it with "Null characters are not allowed.", about
    a character the user cannot see. NUL is never meaningful in typed text, so dropping
    it keeps everything else the user wrote. Uploaded files are left alone: a file with
    NUL bytes is binary or UTF-16, and the forms that read files refuse it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = request.META.get("QUERY_STRING", "")
        if "%00" in query or "\0" in query:
            request.GET = _without_nul(request.GET) or request.GET
        if request.method == "POST" and request.content_type in FORM_CONTENT_TYPES:
            # A client that went away: whatever reads the form next finds out, as before.
            with contextlib.suppress(UnreadablePostError):
                request.POST = _without_nul(request.POST) or request.POST
        if any("\0" in value for value in request.COOKIES.values()):
            request.COOKIES = {
                key: value.replace("\0", "") for key, value in request.COOKIES.items()
            }
        return self.get_response(request)


class PrivateByDefaultMiddleware:
    """Every response to a signed-in user is `Cache-Control: private, no-store` unless
    its view chose otherwise: pages carry students' work and grades, and neither a
    shared cache nor the browser's disk should keep them. The views that choose are the
    polls that revalidate with an ETag (`private, no-cache`, answered 304 when nothing
    changed) and Django's `never_cache` pages (which are stricter still). Static files
    never get here: WhiteNoise answers them first, with its own long cache headers.
    Anonymous pages (sign-in, sign-up) are left to their views."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Asked before the view: signing out ends the session but not this response.
        signed_in = request.user.is_authenticated
        response = self.get_response(request)
        # A 304 has no body to keep, and its headers would replace the revalidated
        # response's in the browser's cache.
        if (
            response.status_code != 304
            and not response.has_header("Cache-Control")
            and (signed_in or request.user.is_authenticated)
        ):
            response["Cache-Control"] = "private, no-store"
        return response


class LtiFrameMiddleware:
    """A session that came in through an LTI launch may be shown inside the launching
    LMS's frame: that origin, and only it, is the page's frame-ancestor. Every other
    page keeps `frame-ancestors 'none'` and X-Frame-Options DENY."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        origin = session.get("lti_frame_origin") if session is not None else None
        if origin:
            policy = getattr(response, "_csp_config", None) or settings.SECURE_CSP
            response._csp_config = {**policy, "frame-ancestors": [origin]}
            response.xframe_options_exempt = True
        return response
