"""Sign-in forms (Django's, saying so when the throttle refused the attempt) and the
password-reset request form."""

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.template.defaultfilters import pluralize

from cases.services.auth import (
    lockout_minutes,
    password_reset_send,
    sign_in_deactivated,
    sign_in_lockout,
)


class LockoutMessage:
    """Says how long sign-in stays locked when the backend refused it for that, instead
    of "wrong username or password" (which would be untrue: nothing was checked); and
    that the account is deactivated when the password was right for one."""

    def get_invalid_login_error(self):
        if sign_in_deactivated(self.request):
            return forms.ValidationError(
                "This account is deactivated. Ask an administrator to reactivate it; "
                "its work is kept.",
                code="inactive",
            )
        remaining = sign_in_lockout(self.request)
        if remaining is None:
            return super().get_invalid_login_error()
        minutes = lockout_minutes(remaining)
        return forms.ValidationError(
            f"Too many failed sign-in attempts. Try again in about {minutes} "
            f"minute{pluralize(minutes)}, or reset your password.",
            code="locked",
        )


class SignInForm(LockoutMessage, AuthenticationForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The backend finds the account by either (`ThrottledModelBackend._named`).
        self.fields["username"].label = "Username or email"


class AdminSignInForm(LockoutMessage, AdminAuthenticationForm):
    pass


class PasswordResetRequestForm(PasswordResetForm):
    """Django's reset request, except that the request looks nothing up and sends
    nothing: it queues one task with the address whether or not an account has it, so
    neither its answer nor its timing tells who has an account."""

    def save(self, **kwargs) -> None:
        password_reset_send.enqueue(self.cleaned_data["email"])
