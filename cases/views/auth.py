from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from cases.services.auth import (
    client_address,
    login_failure_record,
    login_lockout_remaining,
    login_success_clear,
    password_reset_allowed,
)


def _safe_next(request: HttpRequest) -> str:
    """The `next` URL if it stays on this site, else the default landing page."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


@login_not_required
@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    """Anyone may sign in. Repeated failures for one username or from one address lock
    sign-in for a while (429), with the same answer whether or not the user exists."""
    next_url = _safe_next(request)
    if request.method == "GET" and request.user.is_authenticated:
        return redirect(next_url)
    form = AuthenticationForm(request, data=request.POST if request.method == "POST" else None)
    status = 200
    lockout_minutes = None
    if request.method == "POST":
        username = request.POST.get("username", "")
        address = client_address(request.META)
        remaining = login_lockout_remaining(username=username, address=address)
        if remaining is not None:
            lockout_minutes = max(1, round(remaining.total_seconds() / 60))
            form = AuthenticationForm(request, initial={"username": username})
            status = 429
        elif form.is_valid():
            auth_login(request, form.get_user())
            login_success_clear(username=username)
            return redirect(next_url)
        else:
            login_failure_record(username=username, address=address)
    context = {"form": form, "next": request.POST.get("next") or request.GET.get("next", "")}
    context["lockout_minutes"] = lockout_minutes
    return render(request, "registration/login.html", context, status=status)


@login_not_required
@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """Anyone may sign out (POST only, so a link cannot sign a user out)."""
    auth_logout(request)
    messages.success(request, "You have signed out.")
    return redirect("login")


class PasswordResetConfirm(auth_views.PasswordResetConfirmView):
    """Django's reset confirmation, which also lifts any sign-in lockout: the lockout
    message tells users to reset their password, so that must work."""

    def form_valid(self, form):
        response = super().form_valid(form)
        login_success_clear(username=form.user.get_username())
        return response


class PasswordReset(auth_views.PasswordResetView):
    """Django's reset request, throttled per email and per address. Over the limit the
    answer is the same page; the email is simply not sent."""

    def form_valid(self, form):
        allowed = password_reset_allowed(
            email=form.cleaned_data["email"], address=client_address(self.request.META)
        )
        if not allowed:
            return redirect(self.get_success_url())
        return super().form_valid(form)
