from django.contrib.auth import middleware as auth_middleware
from django.contrib.auth.views import redirect_to_login
from django.utils import timezone
from django_htmx.http import HttpResponseClientRedirect


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
