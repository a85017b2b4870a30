"""Forms of the people pages: a course role given to someone found by username or email,
the people directory's search and the audit log's filters."""

from django import forms
from django.core.validators import validate_email
from django.db.models import Q

from cases.forms.common import CohortChoiceField
from cases.models import AuditAction, Cohort, Course, User
from cases.permissions import CourseRole


class RoleAddForm(forms.Form):
    """Someone named by username or email, and the role to give them. `roles` are the
    roles the person asking may give (see `permissions.roles_to_give`)."""

    person = forms.CharField(
        max_length=254,
        label="Username or email",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    role = forms.ChoiceField(choices=CourseRole.choices, label="Role")

    def __init__(self, *args, roles: list[str], may_invite: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [(r, CourseRole(r).label) for r in roles]
        if len(roles) == 1:
            self.fields["role"].initial = roles[0]
        # Whoever asks may invite someone with no account yet, by email (admins).
        self.may_invite = may_invite
        # The address to invite when `person` is None: nobody has it yet.
        self.invite_email = ""
        if may_invite:
            self.fields["person"].help_text = (
                "Someone with no account yet: type their email, and they are sent an "
                "invitation to choose a password."
            )

    def clean_person(self) -> User | None:
        typed = self.cleaned_data["person"].strip()
        found = list(User.objects.filter(Q(username__iexact=typed) | Q(email__iexact=typed))[:2])
        exact = [u for u in found if u.username.lower() == typed.lower()]
        if exact:
            return exact[0]
        if not found:
            try:
                validate_email(typed)
            except forms.ValidationError:
                raise forms.ValidationError(
                    "Nobody has that username or email.", code="unknown"
                ) from None
            if not self.may_invite:
                raise forms.ValidationError(
                    "Nobody has that email yet: an admin can invite them from this page.",
                    code="unknown",
                )
            self.invite_email = User.objects.normalize_email(typed)
            return None
        if len(found) > 1:
            raise forms.ValidationError(
                "Several accounts share that email: type the username instead.", code="ambiguous"
            )
        return found[0]


class TaCohortsForm(forms.Form):
    """The course's cohorts one TA is limited to; none chosen means every cohort."""

    cohorts = forms.ModelMultipleChoiceField(
        queryset=Cohort.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Limited to",
        error_messages={"invalid_choice": "Choose among this course's cohorts."},
    )

    def __init__(self, *args, course: Course, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cohorts"].queryset = Cohort.objects.filter(courses=course)


class PeopleSearchForm(forms.Form):
    STATUSES = [("", "Everyone"), ("active", "Active"), ("deactivated", "Deactivated")]

    q = forms.CharField(
        required=False,
        max_length=200,
        label="Search",
        help_text="Name, username, email or student number.",
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    status = forms.ChoiceField(required=False, choices=STATUSES, label="Accounts")

    def filter(self, people):
        """The people matching the search: every word typed must appear in a name,
        the username, the email or the student number."""
        if not self.is_valid():
            return people
        for word in self.cleaned_data["q"].split()[:8]:
            people = people.filter(
                Q(first_name__icontains=word)
                | Q(last_name__icontains=word)
                | Q(username__icontains=word)
                | Q(email__icontains=word)
                | Q(student_id__icontains=word)
            )
        status = self.cleaned_data["status"]
        if status:
            people = people.filter(is_active=status == "active")
        return people


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(
        required=False, choices=[("", "Any action"), *AuditAction.choices], label="Action"
    )
    actor = forms.CharField(required=False, max_length=150, label="By (username)")
    subject = forms.CharField(required=False, max_length=150, label="About (username)")
    cohort = CohortChoiceField(
        queryset=Cohort.objects.prefetch_related("courses"),
        required=False,
        empty_label="Any cohort",
    )
    course = forms.ModelChoiceField(
        queryset=Course.objects.all(), required=False, empty_label="Any course"
    )
    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and until < since:
            self.add_error("until", "The end date must not come before the start date.")
        return cleaned

    def filter(self, entries):
        """The entries matching the valid filters (all of them if none is valid).
        Dates are whole days in the site's time zone, both ends included."""
        if not self.is_valid():
            return entries.none() if self.errors else entries
        data = self.cleaned_data
        if data["action"]:
            entries = entries.filter(action=data["action"])
        if data["actor"]:
            entries = entries.filter(actor__username__iexact=data["actor"].strip())
        if data["subject"]:
            entries = entries.filter(subject__username__iexact=data["subject"].strip())
        if data["cohort"]:
            entries = entries.filter(cohort=data["cohort"])
        if data["course"]:
            entries = entries.filter(course=data["course"])
        if data["since"]:
            entries = entries.filter(created_at__date__gte=data["since"])
        if data["until"]:
            entries = entries.filter(created_at__date__lte=data["until"])
        return entries
