import re

from django import forms
from django.core.validators import MaxValueValidator
from django.db import transaction

from cases.models import (
    CHOICE_KINDS,
    CaseStudy,
    Choice,
    Cohort,
    Discussion,
    GradeCategory,
    ItemKind,
    Module,
    Question,
    QuestionCategory,
    QuestionKind,
    Quiz,
    QuizSlot,
    Region,
)

# Raw HTML in a case is escaped when shown, but an author who typed it expected it to
# work: say so instead of silently showing tags as text.
HTML_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9-]*(\s[^<>]*)?/?>|javascript:", re.I)


def _reject_html(value: str) -> str:
    found = HTML_TAG.search(value or "")
    if found:
        raise forms.ValidationError(
            "Remove the HTML (%(tag)s): write Markdown instead, e.g. *italic*, **bold**, "
            "[a link](https://example.org).",
            params={"tag": found.group(0)[:40]},
            code="html",
        )
    return value


class LinesField(forms.CharField):
    """A list of short strings edited as one line each."""

    widget = forms.Textarea(attrs={"rows": 5})

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(value)
        return value

    def to_python(self, value):
        text = super().to_python(value)
        return [line.strip() for line in text.splitlines() if line.strip()]


class CaseStudyForm(forms.ModelForm):
    key_facts = LinesField(required=False, help_text="One fact a line.")
    discussion_questions = LinesField(required=False, help_text="One question a line.")

    class Meta:
        model = CaseStudy
        fields = [
            "title",
            "slug",
            "company",
            "region",
            "sector",
            "period",
            "summary",
            "body",
            "key_facts",
            "discussion_questions",
            "teaching_notes",
            "spectrum_placement",
            "spectrum_justification",
            "placement_released",
            "source",
        ]
        widgets = {
            "summary": forms.Textarea(attrs={"rows": 3}),
            "body": forms.Textarea(attrs={"rows": 18, "class": "textarea--mono"}),
            "teaching_notes": forms.Textarea(attrs={"rows": 6}),
            "spectrum_justification": forms.Textarea(attrs={"rows": 3}),
            "source": forms.Textarea(attrs={"rows": 2}),
        }
        labels = {
            "spectrum_placement": "Authors' placement (0 = novel-product R, 100 = process D)",
            "placement_released": "Show the placement to students",
        }
        help_texts = {
            "slug": "The case's address: lower-case letters, digits and hyphens.",
            "teaching_notes": "Markdown. Only instructors and TAs ever see these.",
        }
        error_messages = {
            "slug": {"unique": "Another case already uses this slug. Choose a different one."},
            "title": {"required": "Give the case a title."},
            "body": {"required": "Write the case text, paragraphs separated by blank lines."},
        }

    @staticmethod
    def data_from_fields(fields: dict) -> dict:
        """Form data from a case file's fields: lists become one line each."""
        return {
            name: "\n".join(value) if isinstance(value, list) else value
            for name, value in fields.items()
        }

    def clean(self):
        cleaned = super().clean()
        for name in ["title", "company", "summary", "body", "teaching_notes", "source"]:
            try:
                _reject_html(cleaned.get(name, ""))
            except forms.ValidationError as error:
                self.add_error(name, error)
        for name in ["key_facts", "discussion_questions"]:
            for line in cleaned.get(name) or []:
                try:
                    _reject_html(line)
                except forms.ValidationError as error:
                    self.add_error(name, error)
                    break
        return cleaned


class TextUploadForm(forms.Form):
    """An uploaded UTF-8 text file, read into a string; too big or not text is refused
    beside the field."""

    max_bytes = 512 * 1024
    too_big = "That file is too big."
    file = forms.FileField()

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > self.max_bytes:
            raise forms.ValidationError(self.too_big)
        try:
            return upload.read().decode("utf-8")
        except UnicodeDecodeError as error:
            raise forms.ValidationError("Save the file as UTF-8 text and try again.") from error


class CaseImportForm(TextUploadForm):
    too_big = "That file is over 512 KB; a case is much shorter."
    file = forms.FileField(
        label="Case file (.md)",
        help_text="Markdown with a TOML front-matter header between +++ lines.",
    )


class LibraryFilterForm(forms.Form):
    q = forms.CharField(
        required=False, label="Search", widget=forms.TextInput(attrs={"type": "search"})
    )
    region = forms.ChoiceField(required=False, choices=[("", "All regions"), *Region.choices])
    sector = forms.ChoiceField(required=False, choices=[("", "All sectors")])

    def __init__(self, *args, sectors: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sector"].choices = [("", "All sectors")] + [(s, s) for s in sectors]


class GiftImportForm(TextUploadForm):
    max_bytes = 2 * 1024 * 1024
    too_big = "That file is over 2 MB."
    file = forms.FileField(
        label="GIFT file (.gift or .txt)",
        help_text="Moodle's GIFT text format. One bad question and nothing is imported.",
    )


CHOICE_HELP = (
    "One answer a line. Start a right answer with =, a wrong one with ~. For several "
    "right answers give weights: ~%50% … (the right ones add up to 100, wrong ones may "
    "be negative). Feedback for an answer follows a #."
)


class QuestionForm(forms.ModelForm):
    new_category = forms.CharField(
        required=False, max_length=200, label="…or a new category", help_text="Optional."
    )
    true_false_answer = forms.TypedChoiceField(
        required=False,
        label="Right answer (true/false questions)",
        choices=[("", "—"), ("true", "True"), ("false", "False")],
        coerce=lambda v: v == "true",
        empty_value=None,
    )
    choices_text = forms.CharField(
        required=False,
        label="Answers (choice questions)",
        help_text=CHOICE_HELP,
        widget=forms.Textarea(attrs={"rows": 6, "class": "textarea--mono"}),
    )

    class Meta:
        model = Question
        fields = [
            "kind",
            "category",
            "title",
            "text",
            "feedback",
            "points",
            "numeric_answer",
            "numeric_tolerance",
            "true_false_answer",
            "spectrum_target",
            "spectrum_graded",
            "spectrum_tolerance",
        ]
        widgets = {
            "text": forms.Textarea(attrs={"rows": 4}),
            "feedback": forms.Textarea(attrs={"rows": 3}),
        }
        labels = {
            "numeric_answer": "Right answer (numeric questions)",
            "numeric_tolerance": "Accepted either side of it",
            "spectrum_target": "Target placement, 0 to 100 (spectrum questions)",
            "spectrum_graded": "Grade spectrum answers by distance to the target",
        }

    field_order = [
        "kind",
        "category",
        "new_category",
        "title",
        "text",
        "choices_text",
        "feedback",
        "points",
    ]

    def __init__(self, *args, course, **kwargs):
        super().__init__(*args, **kwargs)
        self.course = course
        self.fields["category"].queryset = QuestionCategory.objects.filter(course=course)
        if self.instance.pk and not self.is_bound:
            self.initial["choices_text"] = "\n".join(
                _choice_line(c) for c in self.instance.choices.all()
            )
            if self.instance.true_false_answer is not None:
                self.initial["true_false_answer"] = (
                    "true" if self.instance.true_false_answer else "false"
                )

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        for name in ["title", "text", "feedback"]:
            try:
                _reject_html(cleaned.get(name, ""))
            except forms.ValidationError as error:
                self.add_error(name, error)
        if kind in CHOICE_KINDS:
            self._clean_choices(kind, cleaned.get("choices_text", ""))
        elif kind == QuestionKind.NUMERIC and cleaned.get("numeric_answer") is None:
            self.add_error("numeric_answer", "Give the right number.")
        elif kind == QuestionKind.TRUE_FALSE and cleaned.get("true_false_answer") is None:
            self.add_error("true_false_answer", "Say whether the statement is true or false.")
        elif (
            kind == QuestionKind.SPECTRUM
            and cleaned.get("spectrum_graded")
            and cleaned.get("spectrum_target") is None
        ):
            self.add_error("spectrum_target", "A graded spectrum question needs a target.")
        return cleaned

    def _clean_choices(self, kind, text):
        from cases.gift import GiftError, GiftQuestion, _parse_body

        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if len(lines) < 2:
            self.add_error("choices_text", "Give at least two answers, one a line.")
            return
        parsed = GiftQuestion(line=1, kind="", title="", text="")
        try:
            _parse_body("\n".join(lines), 1, parsed)
        except GiftError as error:
            self.add_error("choices_text", error.reason.capitalize())
            return
        if parsed.kind not in CHOICE_KINDS:
            self.add_error("choices_text", "Mark at least one answer wrong with ~.")
            return
        if kind == QuestionKind.SINGLE and parsed.kind != QuestionKind.SINGLE:
            self.add_error(
                "choices_text", "A single-choice question has exactly one right answer (=)."
            )
            return
        self.parsed_choices = parsed.choices

    @transaction.atomic
    def save(self, commit=True):
        question = super().save(commit=False)
        question.course = self.course
        if name := self.cleaned_data.get("new_category", "").strip():
            question.category, _ = QuestionCategory.objects.get_or_create(
                course=self.course, name=name
            )
        question.save()
        if question.kind in CHOICE_KINDS:
            # Keep choices in place (their ids are in students' answers) so that
            # correcting a key regrades instead of orphaning answers.
            existing = list(question.choices.all())
            for position, parsed in enumerate(self.parsed_choices):
                choice = (
                    existing[position] if position < len(existing) else Choice(question=question)
                )
                choice.text, choice.fraction = parsed.text[:500], parsed.fraction
                choice.feedback, choice.position = parsed.feedback, position
                choice.save()
            for extra in existing[len(self.parsed_choices) :]:
                extra.delete()
        return question


def _choice_line(choice) -> str:
    from cases.gift import escape

    if choice.fraction == 1:
        mark = "="
    elif choice.fraction:
        mark = f"~%{(choice.fraction * 100).normalize():f}%"
    else:
        mark = "~"
    feedback = f" #{escape(choice.feedback)}" if choice.feedback else ""
    return f"{mark}{escape(choice.text)}{feedback}"


class GradeForm(forms.Form):
    points = forms.DecimalField(min_value=0, decimal_places=2, max_digits=6)
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, max_points=None, **kwargs):
        super().__init__(*args, **kwargs)
        if max_points is not None:
            self.fields["points"].max_value = max_points
            self.fields["points"].validators.append(MaxValueValidator(max_points))


class QuizSettingsForm(forms.ModelForm):
    """A quiz's rules and its questions: fixed ones from the bank, plus an optional
    random draw from a category (drawn afresh, then frozen, for each attempt)."""

    questions = forms.ModelMultipleChoiceField(
        queryset=Question.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Every attempt gets these.",
    )
    draw_category = forms.ModelChoiceField(
        queryset=QuestionCategory.objects.none(),
        required=False,
        label="Also draw at random from",
    )
    draw_count = forms.IntegerField(min_value=1, max_value=50, required=False, label="How many")

    class Meta:
        model = Quiz
        fields = [
            "attempts_allowed",
            "time_limit_minutes",
            "shuffle_questions",
            "shuffle_choices",
            "one_question_per_page",
            "grading_method",
            "feedback_release",
        ]
        help_texts = {"time_limit_minutes": "Leave empty for no limit."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        course = self.instance.item.module.course
        self.fields["questions"].queryset = (
            Question.objects.filter(course=course)
            .select_related("category")
            .order_by("category__name", "pk")
        )
        self.fields["draw_category"].queryset = QuestionCategory.objects.filter(course=course)
        self.fields["questions"].label_from_instance = lambda q: (
            f"{q.category.name if q.category else 'No category'} · {q.title}"
        )
        if not self.is_bound:
            slots = list(self.instance.slots.all())
            self.initial["questions"] = [s.question_id for s in slots if s.question_id]
            draw = next((s for s in slots if s.category_id), None)
            if draw:
                self.initial["draw_category"] = draw.category_id
                self.initial["draw_count"] = draw.draw_count

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("draw_category") and not cleaned.get("draw_count"):
            self.add_error("draw_count", "Say how many questions to draw.")
        if not cleaned.get("questions") and not cleaned.get("draw_category"):
            self.add_error("questions", "Pick at least one question, or a category to draw from.")
        return cleaned

    @transaction.atomic
    def save(self, commit=True):
        quiz = super().save()
        # Attempts froze their own questions when they started: changing the slots
        # changes only attempts that start from now on.
        quiz.slots.all().delete()
        slots = [
            QuizSlot(quiz=quiz, question=q, position=i)
            for i, q in enumerate(self.cleaned_data["questions"], 1)
        ]
        if category := self.cleaned_data.get("draw_category"):
            slots.append(
                QuizSlot(
                    quiz=quiz,
                    category=category,
                    draw_count=self.cleaned_data["draw_count"],
                    position=len(slots) + 1,
                )
            )
        QuizSlot.objects.bulk_create(slots)
        return quiz


class ParticipationGradeForm(forms.Form):
    student = forms.IntegerField(widget=forms.HiddenInput)
    points = forms.DecimalField(min_value=0, max_digits=6, decimal_places=2)
    comment = forms.CharField(required=False, max_length=2000)


class DiscussionSettingsForm(forms.ModelForm):
    class Meta:
        model = Discussion
        fields = [
            "case",
            "prompt",
            "post_first",
            "anonymous",
            "locked",
            "first_post_due_at",
            "replies_due_at",
            "closes_at",
        ]
        widgets = {
            "prompt": forms.Textarea(attrs={"rows": 5}),
            "first_post_due_at": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "replies_due_at": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "closes_at": forms.DateTimeInput(attrs={"type": "datetime-local"}),
        }
        labels = {
            "case": "Case the thread discusses (its paragraphs can be cited)",
            "first_post_due_at": "First post due",
            "replies_due_at": "Replies to classmates due",
            "closes_at": "Closes for posting",
        }

    def clean(self):
        cleaned = super().clean()
        try:
            _reject_html(cleaned.get("prompt", ""))
        except forms.ValidationError as error:
            self.add_error("prompt", error)
        first, replies = cleaned.get("first_post_due_at"), cleaned.get("replies_due_at")
        if first and replies and replies < first:
            self.add_error("replies_due_at", "Replies fall due after the first post, not before.")
        return cleaned


class ItemCreateForm(forms.Form):
    """A new case reading, quiz or discussion in one of the course's modules."""

    KINDS = [
        (ItemKind.CASE_READING, "Case reading"),
        (ItemKind.QUIZ, "Quiz"),
        (ItemKind.DISCUSSION, "Discussion"),
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

    def __init__(self, *args, course, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["module"].queryset = course.modules.all()
        self.fields["cohorts"].queryset = course.cohorts.all()

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == ItemKind.CASE_READING and not cleaned.get("case"):
            self.add_error("case", "Choose the case to read.")
        return cleaned


# Gradebook ----------------------------------------------------------------------------


class GradeEditForm(forms.Form):
    """A person's part of one student's grade on one item."""

    override_score = forms.DecimalField(
        required=False,
        min_value=0,
        max_digits=8,
        decimal_places=2,
        label="Override score",
        help_text="Points that replace the computed grade. Leave empty to use the computed one.",
    )
    override_reason = forms.CharField(
        required=False,
        max_length=300,
        label="Reason for the override",
        help_text="Required with an override; kept with the grade.",
    )
    excused = forms.BooleanField(
        required=False, label="Excused: leave this item out of the student's grade"
    )
    feedback = forms.CharField(
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Comment for the student",
        help_text="Shown to the student with the grade once the grades are released.",
    )

    def __init__(self, *args, max_points=None, **kwargs):
        super().__init__(*args, **kwargs)
        if max_points is not None:
            field = self.fields["override_score"]
            field.max_value = max_points
            field.validators.append(MaxValueValidator(max_points))
            field.widget.attrs["max"] = max_points
            field.help_text = f"Out of {max_points}. {field.help_text}"

    def clean(self):
        cleaned = super().clean()
        if (
            cleaned.get("override_score") is not None
            and not cleaned.get("override_reason", "").strip()
        ):
            self.add_error("override_reason", "Give a reason for the override.")
        return cleaned


class GradeCategoryForm(forms.ModelForm):
    class Meta:
        model = GradeCategory
        fields = ["name", "weight", "drop_lowest", "position"]
        labels = {"weight": "Weight (%)", "drop_lowest": "Drop lowest"}


class BaseGradeCategoryFormSet(forms.BaseModelFormSet):
    def clean(self):
        super().clean()
        seen = set()
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or self._should_delete_form(form):
                continue
            name = (form.cleaned_data.get("name") or "").strip().casefold()
            if name and name in seen:
                form.add_error("name", "Each category needs its own name.")
            seen.add(name)


GradeCategoryFormSet = forms.modelformset_factory(
    GradeCategory, form=GradeCategoryForm, formset=BaseGradeCategoryFormSet, extra=1,
    can_delete=True,
)  # fmt: skip


class ItemCategoriesForm(forms.Form):
    """One select per item: the grade category it counts in."""

    def __init__(self, *args, items, categories, **kwargs):
        super().__init__(*args, **kwargs)
        self.items = list(items)
        for item in self.items:
            self.fields[f"item-{item.pk}"] = forms.ModelChoiceField(
                queryset=categories,
                required=False,
                empty_label="Uncategorised (not counted)",
                label=f"{item.module.title} / {item.title}",
                initial=item.grade_category_id,
            )

    def changes(self) -> dict[int, object]:
        """Item id → its new category (or None), for the items whose category changed."""
        return {
            item.pk: self.cleaned_data[f"item-{item.pk}"]
            for item in self.items
            if (self.cleaned_data[f"item-{item.pk}"] or None)
            != (item.grade_category if item.grade_category_id else None)
        }
