"""Forms of the course builder: courses, modules and items."""

from django import forms
from django.db.models import Q

from cases.forms.common import reject_html
from cases.models import (
    CaseStudy,
    Cohort,
    Course,
    GradeCategory,
    ItemKind,
    Module,
    ModuleItem,
    Rubric,
)
from cases.timezones import time_zone_names


class CourseForm(forms.ModelForm):
    time_zone = forms.ChoiceField(
        choices=(),
        initial="UTC",
        help_text="Dates are stored in UTC and shown, and typed, in this zone.",
    )

    class Meta:
        model = Course
        fields = ["code", "title", "description", "time_zone"]
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}
        help_texts = {"description": "Markdown, shown on the course page."}
        error_messages = {"code": {"unique": "Another course already uses this code."}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(name, name) for name in time_zone_names()]

    def clean_description(self):
        return reject_html(self.cleaned_data["description"])


class CourseDuplicateForm(forms.ModelForm):
    """The new course's code and title; everything else comes from the course copied."""

    class Meta:
        model = Course
        fields = ["code", "title"]
        labels = {"code": "New course code", "title": "New title"}
        error_messages = {"code": {"unique": "Another course already uses this code."}}


class ModuleForm(forms.ModelForm):
    class Meta:
        model = Module
        fields = ["title", "summary"]
        widgets = {"summary": forms.Textarea(attrs={"rows": 3})}

    def clean_summary(self):
        return reject_html(self.cleaned_data["summary"])


class ItemCreateForm(forms.Form):
    """A new case reading, quiz or discussion in one of the course's modules."""

    KINDS = [
        (ItemKind.CASE_READING, "Case reading"),
        (ItemKind.QUIZ, "Quiz"),
        (ItemKind.DISCUSSION, "Discussion"),
        (ItemKind.STANCE_CHECK, "Stance check (the title is the statement)"),
        (ItemKind.DECISION, "Decision point (the title is the question)"),
        (ItemKind.SPECTRUM, "Spectrum exercise"),
        (ItemKind.LIVE_SESSION, "Live session (a graded class meeting)"),
    ]
    module = forms.ModelChoiceField(queryset=Module.objects.none())
    kind = forms.ChoiceField(choices=KINDS)
    title = forms.CharField(max_length=200)
    case = forms.ModelChoiceField(
        queryset=CaseStudy.objects.all(),
        required=False,
        help_text="Required for a reading; for a discussion, the case its ¶ citations refer to.",
    )
    cohorts = forms.ModelMultipleChoiceField(
        queryset=Cohort.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Students see the item once it is given to their cohort.",
    )
    due_at = forms.DateTimeField(
        required=False,
        label="Due",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    spectrum_cases = forms.ModelMultipleChoiceField(
        queryset=CaseStudy.objects.all(),
        required=False,
        label="Companies to place (spectrum exercise)",
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every case the course reads.",
    )

    def __init__(self, *args, course, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["module"].queryset = course.modules.all()
        self.fields["cohorts"].queryset = course.cohorts.all()
        self.fields["spectrum_cases"].queryset = CaseStudy.objects.only("title", "company")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == ItemKind.CASE_READING and not cleaned.get("case"):
            self.add_error("case", "Choose the case to read.")
        return cleaned


class ItemEditForm(forms.ModelForm):
    class Meta:
        model = ModuleItem
        fields = ["title", "instructions", "grade_category", "rubric"]
        widgets = {"instructions": forms.Textarea(attrs={"rows": 6})}
        labels = {"instructions": "Instructions (Markdown)"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        course = self.instance.module.course
        self.fields["grade_category"].queryset = GradeCategory.objects.filter(course=course)
        self.fields["rubric"].queryset = Rubric.objects.filter(course=course)

    def clean_instructions(self):
        return reject_html(self.cleaned_data["instructions"])


class ItemCopyForm(forms.Form):
    """An existing quiz or discussion, from any course the user teaches, copied into
    one of this course's modules."""

    source = forms.ModelChoiceField(
        queryset=ModuleItem.objects.none(), label="Quiz or discussion to copy"
    )
    module = forms.ModelChoiceField(queryset=Module.objects.none(), label="Into module")
    title = forms.CharField(
        max_length=200, required=False, help_text="Leave empty to keep the original's title."
    )

    def __init__(self, *args, course, courses, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["module"].queryset = course.modules.all()
        self.fields["source"].queryset = (
            ModuleItem.objects.with_content()
            .select_related("module__course")
            .filter(module__course__in=courses)
            # Only items whose content exists (one made in the admin may lack it).
            .filter(
                Q(kind=ItemKind.QUIZ, quiz__isnull=False)
                | Q(kind=ItemKind.DISCUSSION, discussion__isnull=False)
            )
            .order_by("module__course__code", "module__position", "position", "pk")
        )
        self.fields["source"].label_from_instance = lambda item: (
            f"{item.module.course.code} · {item.module.title} · {item.title} "
            f"({item.get_kind_display()})"
        )
