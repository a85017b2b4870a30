"""The authentication backend: Django's username-and-password check behind the sign-in
throttle. Every sign-in page (/login/, the Django admin's, any later one) calls
`django.contrib.auth.authenticate`, so here they all share one count of failures."""

from asgiref.sync import sync_to_async
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef, Q

from cases.compiled import compiled
from cases.models import Course, User
from cases.services.auth import (
    DEACTIVATED_ATTRIBUTE,
    LOCKOUT_ATTRIBUTE,
    client_address,
    login_failure_record,
    login_lockout_remaining,
    login_success_clear,
)


class ThrottledModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        """A locked username or address is refused before the password is checked
        (PermissionDenied stops `authenticate`, which then reports a failed sign-in) and
        the time left is left on the request for the page to say. A wrong password and
        an unknown username count the same; a right one clears the username's count,
        and for a deactivated account is refused with that noted on the request, for
        the page to say so (only to whoever knows the password).
        Without a request (the shell, a test client's `login()`) there is no address to
        count, and nothing is throttled."""
        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if request is None or username is None or password is None:
            return super().authenticate(request, username=username, password=password)
        address = client_address(request.META)
        named = self._named(username)
        # Failures count against the account named, whether by its username or its
        # email in any case: one tally, not one for each way of typing it.
        key = named.username if named is not None else username
        remaining = login_lockout_remaining(username=key, address=address)
        if remaining is not None:
            setattr(request, LOCKOUT_ATTRIBUTE, remaining)
            raise PermissionDenied
        user = self._password_owner(named, password)
        if user is None:
            login_failure_record(username=key, address=address)
            return None
        login_success_clear(username=key)
        if not self.user_can_authenticate(user):
            # The right password for a deactivated account: not a guess to count, and
            # the page says why it is refused instead of calling the password wrong.
            setattr(request, DEACTIVATED_ATTRIBUTE, True)
            return None
        return user

    def _password_owner(self, user, password):
        """`user` (the account named, or None) if this password is right for it, active
        or not (ModelBackend's check, the same hashing whether or not the account
        exists); None otherwise."""
        if user is None:
            User().set_password(password)  # As long as a real check takes.
            return None
        return user if user.check_password(password) else None

    @staticmethod
    def _named(typed: str):
        """The account a sign-in names: the username exactly, else the one account
        whose username or email it is in another case. People type their email, or
        their username with a capital, as often as the username they were given (a
        roster import makes it from the address); an address two accounts share names
        neither."""
        try:
            return User._default_manager.get_by_natural_key(typed)
        except User.DoesNotExist:
            pass
        found = list(
            User._default_manager.filter(Q(username__iexact=typed) | Q(email__iexact=typed))[:2]
        )
        return found[0] if len(found) == 1 else None

    async def aauthenticate(self, request, username=None, password=None, **kwargs):
        # ModelBackend's own async version would skip the throttle.
        return await sync_to_async(self.authenticate)(
            request, username=username, password=password, **kwargs
        )

    def get_user(self, user_id):
        """ModelBackend's, on a query compiled once per connection: every signed-in
        request asks it. The user comes with whether they teach or assist on a course
        (`permissions.is_teaching_staff`, which the navigation of every page asks)."""
        try:
            pk = User._meta.pk.to_python(user_id)
        except ValidationError:  # A session holding no id of ours: no user.
            return None
        user = _user_by_id.first(user=pk)
        return user if user is not None and self.user_can_authenticate(user) else None


@compiled
def _user_by_id(user):
    instructs = Course.instructors.through.objects.filter(user=OuterRef("pk"))
    assists = Course.teaching_assistants.through.objects.filter(user=OuterRef("pk"))
    return User._default_manager.filter(pk=user).annotate(
        _teaching_staff=Exists(instructs) | Exists(assists)
    )
