"""Forms of the schedule: an item's dates per cohort and students' extensions."""

from django import forms
from django.forms.models import ModelChoiceIterator
from django.template.defaultfilters import pluralize
from django.utils import timezone
from django.utils.formats import date_format

from cases.forms.common import check_dates, local_datetime
from cases.models import (
    Cohort,
    LatePolicy,
    ModuleItem,
    User,
)
from cases.services.schedule import extension_too_early


class _CurrentCohorts(ModelChoiceIterator):
    def __init__(self, field):
        super().__init__(field)
        self.queryset = self.queryset.current()


class CohortsToGiveField(forms.ModelMultipleChoiceField):
    """Cohorts of a course to give an item to, with new dates: only current ones are
    offered (`CohortQuerySet.current`). An archived one posted anyway is refused by
    name rather than as an unknown choice, as it is the course's: its term ended."""

    iterator = _CurrentCohorts

    def clean(self, value):
        cohorts = super().clean(value)
        if archived := [cohort.name for cohort in cohorts if not cohort.is_current]:
            raise forms.ValidationError(
                f"{', '.join(archived)} {pluralize(len(archived), 'is,are')} archived: "
                f"{pluralize(len(archived), 'it takes,they take')} no new work. An admin "
                "restores a cohort on its page.",
                code="archived",
            )
        return cohorts


class AssignmentScheduleForm(forms.Form):
    """One cohort's dates and rules for an item."""

    assigned = forms.BooleanField(required=False, label="Assigned")
    opens_at = local_datetime("Opens", required=False)
    due_at = local_datetime("Due", required=False)
    points = forms.IntegerField(min_value=0, max_value=10000, initial=10)
    late_policy = forms.ChoiceField(
        label="Late work",
        choices=[
            (LatePolicy.ACCEPT, "Accept"),
            (LatePolicy.PENALIZE, "Accept with a penalty per day"),
            (LatePolicy.REFUSE, "Refuse"),
        ],
        initial=LatePolicy.ACCEPT,
    )
    late_penalty_percent = forms.IntegerField(
        min_value=0,
        max_value=100,
        initial=0,
        label="Penalty per day late (%)",
        error_messages={
            "min_value": "The penalty is a percent from 0 to 100.",
            "max_value": "The penalty is a percent from 0 to 100.",
        },
    )
    late_until = local_datetime("Cut-off for late work", required=False)

    # One cohort's row, with its "assigned" box; the bulk form has none.
    per_cohort = True

    def __init__(self, *args, zone_name: str = "UTC", cohort: Cohort | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ["opens_at", "due_at", "late_until"]:
            self.fields[name].help_text = f"Time zone: {zone_name}."
        # An archived cohort's row is shown, not edited: what it was given stays as it
        # was, and nothing new is given to it (`Cohort.is_current`).
        self.cohort = cohort
        self.archived = cohort is not None and not cohort.is_current
        # A cohort left unassigned needs none of its fields filled in.
        unassigned = self.is_bound and not self.data.get(self.add_prefix("assigned"))
        if self.archived or (self.per_cohort and unassigned):
            for field in self.fields.values():
                field.required = False
                field.disabled = self.archived

    def clean(self):
        cleaned = super().clean()
        if self.archived:
            if any(self.add_prefix(name) in self.data for name in self.fields):
                raise forms.ValidationError(
                    f"{self.cohort.name} is archived: it takes no new work or new dates, "
                    "and what it was given stays as it was. An admin restores a cohort "
                    "on its page.",
                    code="archived",
                )
            return cleaned
        if self.per_cohort and not cleaned.get("assigned"):
            return cleaned
        return check_dates(self, cleaned)

    def schedule(self) -> dict:
        """The Assignment fields from a valid form."""
        data = self.cleaned_data
        return {
            "opens_at": data["opens_at"],
            "due_at": data["due_at"],
            "points": data["points"],
            "late_policy": data["late_policy"],
            "late_penalty_percent": (
                data["late_penalty_percent"] if data["late_policy"] == LatePolicy.PENALIZE else 0
            ),
            "late_until": data["late_until"],
        }


class AssignmentBulkForm(AssignmentScheduleForm):
    """The same dates and rules applied to every chosen cohort at once."""

    cohorts = CohortsToGiveField(
        queryset=Cohort.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        label="Apply to these cohorts",
        error_messages={"required": "Choose at least one cohort."},
    )

    field_order = ["cohorts"]
    per_cohort = False

    def __init__(self, *args, cohorts, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["assigned"]
        self.fields["cohorts"].queryset = cohorts


class ExtensionForm(forms.Form):
    """A later due date for one or several students (say, an accommodation): later than
    the due date of each cohort of theirs the item is given to, which it extends. A date
    that is not (even one in the past) is refused beside the field, naming the cohort
    and its date, as it would give the student an earlier date than their classmates'
    (or a first one), marked "extended"."""

    students = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        label="Students",
        error_messages={"required": "Choose at least one student."},
    )
    due_at = local_datetime("New due date")
    late_until = local_datetime("New cut-off for late work", required=False)
    reason = forms.CharField(max_length=300, required=False)

    def __init__(self, *args, item: ModuleItem, students, zone_name: str = "UTC", **kwargs):
        super().__init__(*args, **kwargs)
        self.item = item
        self.fields["students"].queryset = students
        self.fields["students"].label_from_instance = lambda u: (
            f"{u.get_full_name() or u.username} ({u.username})"
        )
        for name in ["due_at", "late_until"]:
            self.fields[name].help_text = f"Time zone: {zone_name}."

    def clean(self):
        cleaned = check_dates(self, super().clean())
        students, due = cleaned.get("students"), cleaned.get("due_at")
        if not students or not due:
            return cleaned
        for assignment in extension_too_early(item=self.item, users=students, due_at=due):
            cohort = assignment.cohort.name
            if assignment.due_at is None:
                self.add_error(
                    "due_at",
                    f"{cohort} has no due date for this item, so there is nothing to "
                    "extend: give the cohort a due date first.",
                )
                continue
            # In the active zone: the course's, which the date was typed in.
            when = date_format(timezone.localtime(assignment.due_at), "D j M Y, H:i")
            self.add_error(
                "due_at",
                f"{cohort} is due {when}: an extension must come after that.",
            )
        return cleaned


class AccommodationForm(forms.Form):
    """Extra time on every timed quiz of the course for one student: a multiplier of
    the time limit, extra minutes, or both."""

    student = forms.ModelChoiceField(
        queryset=User.objects.none(),
        label="Student",
        empty_label="Choose a student",
        error_messages={"required": "Choose a student."},
    )
    time_multiplier = forms.DecimalField(
        label="Time multiplier",
        required=False,
        min_value=1,
        max_value=9,
        max_digits=3,
        decimal_places=2,
        help_text="For example 1.5 for time and a half. Leave empty for none.",
        widget=forms.NumberInput(attrs={"step": "0.05", "inputmode": "decimal"}),
    )
    extra_minutes = forms.IntegerField(
        label="Extra minutes",
        required=False,
        min_value=1,
        max_value=600,
        help_text="Added to each time limit (after the multiplier). Leave empty for none.",
    )
    reason = forms.CharField(max_length=300, required=False, label="Reason (staff only)")

    def __init__(self, *args, students, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["student"].queryset = students
        self.fields["student"].label_from_instance = lambda u: (
            f"{u.get_full_name() or u.username} ({u.username})"
        )

    def clean(self):
        data = super().clean()
        if (
            not self.errors
            and data.get("time_multiplier") is None
            and data.get("extra_minutes") is None
        ):
            raise forms.ValidationError(
                "Give a multiplier, extra minutes or both.", code="no_extra_time"
            )
        return data
