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
