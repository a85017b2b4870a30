"""Forms of the course builder: courses, modules and items."""

import functools
import operator

from django import forms
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html

from cases.forms.common import KindFieldsMixin, local_datetime, reject_html
from cases.forms.schedule import CohortsToGiveField
from cases.models import (
    Analysis,
    AnnotationTask,
    CaseStudy,
    Cohort,
    Course,
    GradeCategory,
    ItemKind,
    Module,
    ModuleItem,
    Rubric,
)
from cases.models.courses import KIND_FIELD
from cases.timezones import time_zone_names, zone_of


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


# What each kind of item is for, as the "What are you adding?" step says it.
ITEM_KINDS = [
    (ItemKind.CASE_READING, "Case reading", "Students read a case and mark it done."),
    (ItemKind.QUIZ, "Quiz", "Questions from the course's bank, scored on submission."),
    (ItemKind.DISCUSSION, "Discussion", "A thread on a prompt, citing a case's paragraphs."),
    (
        ItemKind.STANCE_CHECK,
        "Stance check",
        "Students agree or disagree with a statement before and after class.",
    ),
    (
        ItemKind.DECISION,
        "Decision point",
        "Students commit to a choice and a prediction, then read what happened.",
    ),
    (ItemKind.SPECTRUM, "Spectrum exercise", "Students place companies along a scale."),
    (ItemKind.LIVE_SESSION, "Live session", "A graded class meeting with polls and cold calls."),
    (
        ItemKind.ANNOTATION,
        "Annotation assignment",
        "Students annotate a case together, handing in a number of substantive notes.",
    ),
    (
        ItemKind.ANALYSIS,
        "Written analysis",
        "Students write a memo on a case, citing its paragraphs; graded with comments.",
    ),
]

# A sentence shown with the kind's own fields: where the title has a special role, or
# what the kind counts.
ITEM_KIND_NOTES = {
    ItemKind.STANCE_CHECK: "The title is the statement students take a stance on.",
    ItemKind.DECISION: "The title is the question students decide.",
    ItemKind.QUIZ: "Its questions and rules are set on the next page.",
    ItemKind.LIVE_SESSION: "Polls and the roster are prepared on the item's page.",
    ItemKind.ANNOTATION: ("Notes and replies classmates may read count; private notes never do."),
    ItemKind.ANALYSIS: "Its word limit, file uploads and peer review are set on the next page.",
}

# The most an annotation assignment may ask of a student.
MAX_NOTES = 50
MAX_WORDS = 500


def min_notes_field() -> forms.IntegerField:
    """How many substantive notes an annotation assignment asks (the "add" form and
    the settings form say and check the same)."""
    return forms.IntegerField(
        label="Substantive notes to hand in",
        initial=3,
        min_value=1,
        max_value=MAX_NOTES,
        help_text="Notes or replies a student writes that classmates may read.",
        error_messages={
            "required": "Say how many notes a student writes.",
            "min_value": "Ask for at least one note.",
            "max_value": f"Ask for at most {MAX_NOTES} notes.",
            "invalid": "Write a whole number of notes.",
        },
    )


def min_words_field() -> forms.IntegerField:
    return forms.IntegerField(
        label="Words a note needs to count",
        initial=15,
        min_value=1,
        max_value=MAX_WORDS,
        help_text="Shorter notes are welcome but do not count.",
        error_messages={
            "required": "Say how many words a note needs to count.",
            "min_value": "A note needs at least one word.",
            "max_value": f"Ask for at most {MAX_WORDS} words a note.",
            "invalid": "Write a whole number of words.",
        },
    )


def annotate_first_field() -> forms.BooleanField:
    return forms.BooleanField(
        label="Annotate first",
        required=False,
        help_text="Students see classmates' notes only after writing one of their own.",
    )


class ItemCreateForm(KindFieldsMixin, forms.Form):
    """A new item of a kind chosen first, in one of the course's modules. Only the
    chosen kind's fields (`KIND_FIELDS`) are shown and validated."""

    KIND_FIELDS = {
        ItemKind.CASE_READING: ("case",),
        ItemKind.QUIZ: (),
        ItemKind.DISCUSSION: ("case", "prompt"),
        ItemKind.STANCE_CHECK: (),
        ItemKind.DECISION: (),
        ItemKind.SPECTRUM: ("spectrum_cases",),
        ItemKind.LIVE_SESSION: (),
        ItemKind.ANNOTATION: ("case", "min_notes", "min_words", "annotate_first"),
        ItemKind.ANALYSIS: ("case", "prompt"),
    }
    kind_fields_after = "module"

    kind = forms.ChoiceField(
        choices=[(kind, label) for kind, label, _ in ITEM_KINDS], label="What are you adding?"
    )
    title = forms.CharField(max_length=200)
    module = forms.ModelChoiceField(queryset=Module.objects.none())
    case = forms.ModelChoiceField(queryset=CaseStudy.objects.all(), required=False)
    prompt = forms.CharField(
        label="Prompt (Markdown)",
        widget=forms.Textarea(
            attrs={
                "rows": 4,
                "placeholder": "e.g. Argue from the case's evidence, citing paragraphs like ¶3.",
            }
        ),
        help_text="What students answer. Shown above the thread.",
        error_messages={"required": "Write the prompt students answer."},
    )
    spectrum_cases = forms.ModelMultipleChoiceField(
        queryset=CaseStudy.objects.all(),
        required=False,
        label="Companies to place",
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every case the course reads.",
    )
    min_notes = min_notes_field()
    min_words = min_words_field()
    annotate_first = annotate_first_field()
    cohorts = CohortsToGiveField(
        queryset=Cohort.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Students see the item once it is given to their cohort.",
    )
    due_at = local_datetime("Due", required=False)

    def __init__(self, *args, course, kind=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.keep_kind_fields(kind)
        self.fields["module"].queryset = course.modules.all()
        # Every cohort of the course, so an archived one posted is refused by name; only
        # current ones are offered.
        self.fields["cohorts"].queryset = course.cohorts.all()
        # As on the schedule page: typed in the course's zone, whoever types it.
        self.fields["due_at"].help_text = f"Time zone: {zone_of(course)}."
        if not course.cohorts.current().exists():
            self.fields["cohorts"].help_text = (
                "This course has no cohorts yet: an admin adds them on the Cohorts page."
                " Give the item to them later, from its schedule."
            )
        if "spectrum_cases" in self.fields:
            self.fields["spectrum_cases"].queryset = CaseStudy.objects.only("title", "company")
        if self.kind == ItemKind.CASE_READING:
            self.fields["case"].required = True
            self.fields["case"].label = "Case to read"
            self.fields["case"].error_messages["required"] = "Choose the case to read."
        elif self.kind == ItemKind.DISCUSSION:
            self.fields["case"].label = "Case it discusses (optional)"
            self.fields["case"].help_text = "Its paragraphs can then be cited as ¶3."
        elif self.kind == ItemKind.ANNOTATION:
            self.fields["case"].required = True
            self.fields["case"].label = "Case to annotate"
            self.fields["case"].error_messages["required"] = "Choose the case to annotate."
        if self.fields.get("case") and self.fields["case"].required:
            if not CaseStudy.objects.exists():
                # A new site's first reading: nothing to choose until a case is written.
                self.fields["case"].help_text = format_html(
                    'The case library has no cases yet: <a href="{}">write one</a> or '
                    '<a href="{}">import one from a file</a>, then come back to add this item.',
                    reverse("cases:case_create"),
                    reverse("cases:case_import"),
                )
        elif self.kind == ItemKind.ANALYSIS:
            self.fields["case"].label = "Case it analyses (optional)"
            self.fields["case"].help_text = "Its paragraphs can then be cited as ¶3."
            self.fields["prompt"].help_text = "What the memo answers, e.g. the case's decision."
            self.fields["prompt"].widget.attrs["placeholder"] = (
                "e.g. Should Shanghai Bell build its own switch? Take a position and defend it "
                "from the case, citing paragraphs like ¶3."
            )

    @property
    def kind_note(self) -> str:
        return ITEM_KIND_NOTES.get(self.kind, "")

    def clean_prompt(self):
        return reject_html(self.cleaned_data["prompt"])

    def clean(self):
        """A due date is a cohort's (its assignment's): with no cohort ticked there is
        nothing to give it to, and it would be dropped unsaid."""
        cleaned = super().clean()
        if cleaned.get("due_at") and not cleaned.get("cohorts") and "cohorts" not in self.errors:
            self.add_error(
                "due_at",
                "Tick the cohorts it is due for, or leave the date empty and set it on "
                "the item's schedule later.",
            )
        return cleaned


# Kinds a person may grade with a rubric: a quiz scores itself (a person grades only
# its short answers) and a reading is done or not.
RUBRIC_KINDS = {
    ItemKind.DISCUSSION,
    ItemKind.STANCE_CHECK,
    ItemKind.DECISION,
    ItemKind.SPECTRUM,
    ItemKind.LIVE_SESSION,
    ItemKind.ANNOTATION,
    ItemKind.ANALYSIS,
}


class ItemEditForm(forms.ModelForm):
    """An item's common fields; its kind is fixed, and its kind's own content is set
    on the kind's settings page. The rubric only for kinds a person grades (or an item
    that has one already, so it can be taken off)."""

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
        if self.instance.kind not in RUBRIC_KINDS and not self.instance.rubric_id:
            del self.fields["rubric"]

    def clean_instructions(self):
        return reject_html(self.cleaned_data["instructions"])


class AnnotationTaskForm(forms.ModelForm):
    """An annotation assignment's case, how many substantive notes of how many words
    it asks, and whether classmates' notes wait for the student's first."""

    min_notes = min_notes_field()
    min_words = min_words_field()
    annotate_first = annotate_first_field()

    class Meta:
        model = AnnotationTask
        fields = ["case", "min_notes", "min_words", "annotate_first"]
        labels = {"case": "Case to annotate"}
        help_texts = {"case": "Changing it leaves the notes on the old case where they are."}
        error_messages = {"case": {"required": "Choose the case to annotate."}}


class AnalysisForm(forms.ModelForm):
    """A written analysis's case, prompt and word limit, whether a file may be handed
    in instead, and its peer review."""

    class Meta:
        model = Analysis
        fields = [
            *("case", "prompt", "word_limit", "allow_upload"),
            *("peer_review", "reviews_each", "review_days"),
        ]
        labels = {"case": "Case it analyses (optional)", "prompt": "Prompt (Markdown)"}
        widgets = {"prompt": forms.Textarea(attrs={"rows": 5})}
        error_messages = {
            "prompt": {"required": "Write the prompt the memo answers."},
            "word_limit": {
                "min_value": "Allow at least 50 words.",
                "max_value": "Allow at most 10,000 words.",
            },
            "reviews_each": {
                "min_value": "Each student reviews at least one memo.",
                "max_value": "Each student reviews at most three memos.",
            },
        }

    def clean_prompt(self):
        return reject_html(self.cleaned_data["prompt"])


class ItemCopyForm(forms.Form):
    """An existing item of any kind, from any course the user teaches, copied into one
    of this course's modules (`item_copy` copies each kind's content)."""

    source = forms.ModelChoiceField(queryset=ModuleItem.objects.none(), label="Item to copy")
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
                functools.reduce(
                    operator.or_,
                    (
                        Q(kind=kind, **{f"{name}__isnull": False})
                        for kind, name in KIND_FIELD.items()
                    ),
                )
            )
            .order_by("module__course__code", "module__position", "position", "pk")
        )
        self.fields["source"].label_from_instance = lambda item: (
            f"{item.module.course.code} · {item.module.title} · {item.title} "
            f"({item.get_kind_display()})"
        )
