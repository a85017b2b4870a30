"""Forms of cohort administration, joining with a code and signing up with one."""

from django import forms
from django.contrib.auth.forms import UserCreationForm, UsernameField
from django.forms.utils import ErrorDict
from django.utils import timezone

from cases.forms.common import CohortChoiceField, local_datetime
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
    expires_at = local_datetime(
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
    to = CohortChoiceField(
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


class CodeFirst:
    """A form whose join code is checked first and alone: while the code admits nobody,
    or the throttle says to wait (`wait`, a message), the code's error is all the form
    checks and says, so a stranger without a code learns nothing else from it."""

    def __init__(self, *args, wait: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.wait = wait

    def code_refusal(self) -> str:
        return self.wait

    def full_clean(self) -> None:
        refusal = self.is_bound and self.code_refusal()
        if refusal:
            self._errors = ErrorDict()
            self.cleaned_data = {}
            self.add_error("code", refusal)
            return
        super().full_clean()


class JoinCodeForm(CodeFirst, forms.Form):
    code = forms.CharField(
        max_length=40,
        label="Join code",
        help_text="The code your instructor gave your cohort, e.g. K7QM3XWP.",
        widget=CODE_WIDGET,
        error_messages={"required": "Type your cohort's join code."},
    )

    def clean_code(self) -> str:
        return _normalise_code(self.cleaned_data["code"])


class SignupForm(CodeFirst, forms.ModelForm):
    """The first step of a new account: a join code that admits students now, then a
    username, names and an email. Whether the email has an account is never said: the
    next step is a link sent to it either way (cases/services/cohorts/signup.py)."""

    code = forms.CharField(
        max_length=40,
        label="Join code",
        help_text="The code your instructor gave your cohort. No code, no account.",
        widget=CODE_WIDGET,
        error_messages={"required": "Type your cohort's join code."},
    )

    field_order = ["code", "username", "first_name", "last_name", "email"]

    class Meta:
        model = User
        fields = ["username", "first_name", "last_name", "email"]
        field_classes = {"username": UsernameField}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("first_name", "last_name", "email"):
            self.fields[name].required = True
        self.fields["email"].help_text = "We send a link there to finish creating your account."
        self.cohort = None
        self.code_refused = False

    def code_refusal(self) -> str:
        if self.wait:
            return self.wait
        try:
            code = _normalise_code(self.fields["code"].clean(self["code"].data))
        except forms.ValidationError as error:
            return error.messages[0]
        try:
            self.cohort = cohort_for_join_code(code)
        except JoinRefused as refused:
            self.code_refused = True
            return str(refused)
        return ""

    def clean_code(self) -> str:
        return _normalise_code(self.cleaned_data["code"])

    def clean_username(self) -> str:
        # Saying a username is taken is unavoidable here, and only said to someone who
        # holds a code that admits students.
        username = self.cleaned_data["username"]
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError("A user with that username already exists.")
        return username

    def clean_email(self) -> str:
        return User.objects.normalize_email(self.cleaned_data["email"])


class SignupFinishForm(UserCreationForm):
    """The last step, from the emailed link: the password (Django's validators, compared
    with the sign-up's names and email) and the username, which may be changed."""

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ["username"]

    def __init__(self, *args, details: dict, **kwargs):
        instance = User(
            first_name=details["first_name"],
            last_name=details["last_name"],
            email=details["email"],
        )
        initial = {"username": details["username"]}
        super().__init__(*args, instance=instance, initial=initial, **kwargs)
        # The username is filled in already; the password is what is left to type.
        self.fields["username"].widget.attrs.pop("autofocus", None)
        self.fields["password1"].widget.attrs["autofocus"] = True


# The roster import's two steps: upload a file to preview, then confirm it.

MAX_UPLOAD_BYTES = 2 * 1024 * 1024  # 5,000 rows of a roster fit in well under this.


class RosterUploadForm(forms.Form):
    file = forms.FileField(
        label="Roster (CSV)",
        help_text="Columns email, first_name, last_name, student_id, named on the first "
        "line; comma or semicolon; UTF-8. At most 5,000 rows.",
        error_messages={"required": "Choose the CSV file to import."},
    )
    invite = forms.BooleanField(
        required=False, initial=True, label="Email new accounts a link to choose a password"
    )

    def clean_file(self) -> bytes:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError("The file is over 2 MB: split it into smaller files.")
        return upload.read()


class RosterConfirmForm(forms.Form):
    """The previewed file, carried back unchanged: it is checked again before saving."""

    roster = forms.CharField(widget=forms.HiddenInput, max_length=4 * MAX_UPLOAD_BYTES)
    invite = forms.BooleanField(required=False, widget=forms.HiddenInput)
