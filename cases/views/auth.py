from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from cases.forms.auth import PasswordResetRequestForm, SignInForm
from cases.http import next_url
from cases.services.auth import (
    client_address,
    login_success_clear,
    password_reset_allowed,
    sign_in_lockout,
)


@login_not_required
@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    """Anyone may sign in. Repeated failures for one username or from one address lock
    sign-in for a while (429), with the same answer whether or not the user exists; the
    count is kept by the authentication backend, so the admin's sign-in shares it."""
    after = next_url(request, settings.LOGIN_REDIRECT_URL)
    if request.method == "GET" and request.user.is_authenticated:
        return redirect(after)
    form = SignInForm(request, data=request.POST if request.method == "POST" else None)
    if form.is_valid():
        auth_login(request, form.get_user())
        return redirect(after)
    status = 429 if sign_in_lockout(request) else 200
    context = {"form": form, "next": request.POST.get("next") or request.GET.get("next", "")}
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
    message tells users to reset their password, so that must work. A deactivated
    account's link (an invitation opened late) reads as expired: it would take a
    password, then the sign-in would refuse it without saying why. Reactivated, the
    link works again while it lasts.

    Choosing the password signs the link's owner in and takes them home (a new
    instructor to their teaching page, a student to their dashboard), as a sign-up link
    does: whoever was signed in on that browser before (an admin at a shared computer)
    is signed out, so nobody lands on another person's pages believing them their own."""

    post_reset_login = True
    success_url = reverse_lazy(settings.LOGIN_REDIRECT_URL)

    def get_user(self, uidb64):
        user = super().get_user(uidb64)
        return user if user is not None and user.is_active else None

    def form_valid(self, form):
        response = super().form_valid(form)
        login_success_clear(username=form.user.get_username())
        messages.success(
            self.request,
            f"Your password is set. You are signed in as {form.user.get_username()}.",
        )
        return response


class PasswordReset(auth_views.PasswordResetView):
    """Django's reset request, throttled per email and per address, whose email is sent
    by the task worker. Over the limit the answer is the same page; the email is simply
    not sent."""

    form_class = PasswordResetRequestForm

    def form_valid(self, form):
        allowed = password_reset_allowed(
            email=form.cleaned_data["email"], address=client_address(self.request.META)
        )
        if not allowed:
            return redirect(self.get_success_url())
        return super().form_valid(form)
