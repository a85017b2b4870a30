"""Forms of cohort administration, joining with a code and signing up with one."""

from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.utils import timezone

from cases.forms import _local_datetime
from cases.models import Cohort, User
from cases.services.cohorts import JoinRefused, cohort_for_join_code


class CohortForm(forms.ModelForm):
    class Meta:
        model = Cohort
        fields = ["name"]
        help_texts = {"name": "For example, MGT 6001, Spring 2027, section A."}

    def clean_name(self) -> str:
        return " ".join(self.cleaned_data["name"].split())


class CohortFilterForm(forms.Form):
    SHOW = [("active", "Active"), ("archived", "Archived"), ("all", "All")]

    show = forms.ChoiceField(choices=SHOW, required=False, label="Show")

    def shown(self) -> str:
        return (self.is_valid() and self.cleaned_data["show"]) or "active"


class CohortCourseForm(forms.Form):
    """One course, chosen from `courses` (those to attach, or those attached)."""

    course = forms.ModelChoiceField(
        queryset=None,
        label="Course",
        empty_label="Choose a course",
        error_messages={"required": "Choose a course.", "invalid_choice": "Choose a course."},
    )

    def __init__(self, *args, courses, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["course"].queryset = courses


class JoinCodeExpiryForm(forms.Form):
    expires_at = _local_datetime(
        "Stops admitting at",
        required=False,
        help_text="Leave empty for a code that does not expire.",
    )

    def clean_expires_at(self):
        expires_at = self.cleaned_data["expires_at"]
        if expires_at is not None and expires_at <= timezone.now():
            raise forms.ValidationError(
                "Choose a time in the future, or switch the code off instead."
            )
        return expires_at


class MemberActionForm(forms.Form):
    """Move the chosen members to another cohort, or remove them from this one."""

    ACTIONS = [("move", "Move"), ("remove", "Remove")]

    students = forms.ModelMultipleChoiceField(
        queryset=None,
        label="Students",
        error_messages={"required": "Choose at least one student."},
    )
    action = forms.ChoiceField(choices=ACTIONS, widget=forms.HiddenInput)
    to = forms.ModelChoiceField(
        queryset=None,
        required=False,
        label="Move to",
        empty_label="Choose a cohort",
        help_text="Their work stays with them and shows in the new cohort's items.",
    )

    def __init__(self, *args, members, cohorts, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["students"].queryset = members
        self.fields["to"].queryset = cohorts

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("action") == "move" and not cleaned.get("to"):
            self.add_error("to", "Choose the cohort to move them to.")
        return cleaned


def _normalise_code(code: str) -> str:
    return "".join(code.split()).upper()


CODE_WIDGET = forms.TextInput(
    attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}
)


class JoinCodeForm(forms.Form):
    code = forms.CharField(
        max_length=40,
        label="Join code",
        help_text="The code your instructor gave your cohort, e.g. K7QM3XWP.",
        widget=CODE_WIDGET,
        error_messages={"required": "Type your cohort's join code."},
    )

    def clean_code(self) -> str:
        return _normalise_code(self.cleaned_data["code"])


class SignupForm(UserCreationForm):
    """A new account, made only with a join code that admits students now; Django's
    password validators apply."""

    code = forms.CharField(
        max_length=40,
        label="Join code",
        help_text="The code your instructor gave your cohort. No code, no account.",
        widget=CODE_WIDGET,
        error_messages={"required": "Type your cohort's join code."},
    )

    field_order = ["code", "username", "first_name", "last_name", "email"]

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ["username", "first_name", "last_name", "email"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("first_name", "last_name", "email"):
            self.fields[name].required = True
        self.fields["email"].help_text = "Where password resets are sent."
        # The join code comes first, so the username does not take the focus.
        self.fields["username"].widget.attrs.pop("autofocus", None)
        self.cohort = None

    def clean_code(self) -> str:
        code = _normalise_code(self.cleaned_data["code"])
        try:
            self.cohort = cohort_for_join_code(code)
        except JoinRefused as refused:
            raise forms.ValidationError(str(refused), code="join_code") from None
        return code

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"])
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(
                "An account with this email exists already: sign in, or reset its password."
            )
        return email
