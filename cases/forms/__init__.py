import re

from django import forms
from django.core.validators import MaxValueValidator
from django.db import transaction
from django.db.models import Q

from cases.models import (
    CHOICE_KINDS,
    MAX_JUSTIFICATION_CHARS,
    SCALE,
    CaseStudy,
    Choice,
    Cohort,
    Course,
    Decision,
    Discussion,
    GradeCategory,
    ItemKind,
    LatePolicy,
    Module,
    ModuleItem,
    Question,
    QuestionCategory,
    QuestionKind,
    Quiz,
    QuizSlot,
    Region,
    Rubric,
    StanceCheck,
    User,
)
from cases.timezones import time_zone_names

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
    beside the field. NUL bytes decode as UTF-8 but are never text (a UTF-16 or binary
    file) and no text column stores them, so they are refused too."""

    max_bytes = 512 * 1024
    too_big = "That file is too big."
    file = forms.FileField()

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > self.max_bytes:
            raise forms.ValidationError(self.too_big)
        try:
            text = upload.read().decode("utf-8")
        except UnicodeDecodeError as error:
            raise forms.ValidationError("Save the file as UTF-8 text and try again.") from error
        if "\0" in text:
            line = text.count("\n", 0, text.index("\0")) + 1
            raise forms.ValidationError(
                f"This file contains NUL bytes (the first on line {line}), so it is not "
                "plain text: save it as UTF-8 text and upload it again."
            )
        return text


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
        fields = Quiz.SETTINGS
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

    def __init__(self, *args, max_points=None, **kwargs):
        super().__init__(*args, **kwargs)
        if max_points is not None:
            self.fields["points"].validators.append(MaxValueValidator(max_points))


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


class WorkGradeForm(forms.Form):
    """A person's grade on one student's work: a level per rubric criterion (when the
    item has a rubric), participation points (a discussion without a rubric), a comment
    the student sees, and excused. Like GradeEditForm, each field posts back the value
    the grader saw, so only what they changed is saved."""

    participation = forms.DecimalField(
        show_hidden_initial=True,
        label="Participation points",
        required=False,
        min_value=0,
        max_digits=6,
        decimal_places=2,
    )
    feedback = forms.CharField(
        show_hidden_initial=True,
        label="Comment for the student",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    excused = forms.BooleanField(
        show_hidden_initial=True, label="Excused (left out of the grade)", required=False
    )

    def __init__(
        self, *args, rubric=None, participation=False, max_points=None, answers=(), **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.rubric = rubric
        self.answers = list(answers)
        if not participation:
            del self.fields["participation"]
        elif max_points is not None:
            field = self.fields["participation"]
            field.label = f"Participation points (out of {max_points})"
            field.max_value = max_points
            field.validators.append(MaxValueValidator(max_points))
            field.widget.attrs["max"] = max_points
        # Each short answer's points and comment, for "Save" and "Save and next" to
        # grade with the rest.
        for answer in self.answers:
            most = answer.slot.question.points
            self.fields[f"points_{answer.pk}"] = forms.DecimalField(
                show_hidden_initial=True,
                label=f"Points (out of {most.normalize():f})",
                required=False,
                min_value=0,
                max_value=most,
                max_digits=6,
                decimal_places=2,
                widget=forms.NumberInput(attrs={"step": "0.25"}),
            )
            self.fields[f"comment_{answer.pk}"] = forms.CharField(
                show_hidden_initial=True,
                label="Comment on this answer",
                required=False,
                max_length=5000,
                widget=forms.Textarea(attrs={"rows": 2}),
            )
            self.initial.setdefault(
                f"points_{answer.pk}", answer.points if answer.graded_at else None
            )
            self.initial.setdefault(f"comment_{answer.pk}", answer.comment)
        for index, criterion in enumerate(rubric.criteria if rubric else []):
            choices = [
                (str(n), f"{level['label']} ({level['points']})")
                for n, level in enumerate(criterion["levels"])
            ]
            self.fields[f"criterion_{index}"] = forms.ChoiceField(
                label=criterion["name"],
                choices=choices,
                required=False,
                widget=forms.RadioSelect,
            )

    def answer_fields(self, answer):
        """The bound points and comment fields of one short answer."""
        return self[f"points_{answer.pk}"], self[f"comment_{answer.pk}"]

    def graded_answers(self) -> list[tuple[int, object, str]]:
        """(answer id, points, comment) for each short answer whose points or comment
        this grader changed, with points given."""
        changed = set(self.changed_data)
        graded = []
        for answer in self.answers:
            points = self.cleaned_data.get(f"points_{answer.pk}")
            comment = self.cleaned_data.get(f"comment_{answer.pk}", "")
            touched = {f"points_{answer.pk}", f"comment_{answer.pk}"} & changed
            if touched and points is not None:
                graded.append((answer.pk, points, comment))
        return graded

    def rubric_levels(self) -> dict[str, int]:
        return {
            name.removeprefix("criterion_"): int(value)
            for name, value in self.cleaned_data.items()
            if name.startswith("criterion_") and value not in ("", None)
        }


class RubricForm(forms.Form):
    """A rubric written one criterion a line: `Criterion: Level 0 | Level 2 | Level 4`,
    where the number ending each level is its points."""

    title = forms.CharField(max_length=200)
    criteria = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="One criterion a line: <code>Evidence: Missing 0 | Some 2 | Strong 4</code>",
    )

    def clean_criteria(self):
        parsed = []
        for number, line in enumerate(self.cleaned_data["criteria"].splitlines(), start=1):
            if not line.strip():
                continue
            name, colon, rest = line.partition(":")
            if not colon or not name.strip():
                raise forms.ValidationError(f"Line {number}: start with the criterion and a colon.")
            levels = []
            for part in rest.split("|"):
                label, _space, points = part.strip().rpartition(" ")
                try:
                    value = float(points)
                except ValueError:
                    raise forms.ValidationError(
                        f"Line {number}: end each level with its points, like “Strong 4”."
                    ) from None
                if value < 0 or not label.strip():
                    raise forms.ValidationError(
                        f"Line {number}: each level needs a name and points of 0 or more."
                    )
                levels.append({"label": label.strip(), "points": value})
            if len(levels) < 2:
                raise forms.ValidationError(f"Line {number}: give at least two levels.")
            parsed.append({"name": name.strip(), "levels": levels})
        if not parsed:
            raise forms.ValidationError("Write at least one criterion.")
        return parsed


def rubric_as_text(criteria) -> str:
    def points(value):
        return f"{value:g}"

    return "\n".join(
        f"{c['name']}: "
        + " | ".join(f"{level['label']} {points(level['points'])}" for level in c["levels"])
        for c in criteria
    )


# Course builder and scheduling --------------------------------------------------------


def _local_datetime(label: str, **kwargs) -> forms.DateTimeField:
    """A date and time typed in the active (the course's) time zone."""
    return forms.DateTimeField(
        label=label,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        **kwargs,
    )


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
        return _reject_html(self.cleaned_data["description"])


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
        return _reject_html(self.cleaned_data["summary"])


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
        return _reject_html(self.cleaned_data["instructions"])


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


def _check_dates(form: forms.Form, cleaned: dict) -> dict:
    """Due after opening, cut-off after due (and only with a due date)."""
    opens, due, cutoff = cleaned.get("opens_at"), cleaned.get("due_at"), cleaned.get("late_until")
    if opens and due and due <= opens:
        form.add_error("due_at", "The due date must come after the opening date.")
    if cutoff and not due:
        form.add_error("late_until", "A cut-off needs a due date.")
    elif cutoff and due and cutoff < due:
        form.add_error("late_until", "The cut-off must not come before the due date.")
    return cleaned


class AssignmentScheduleForm(forms.Form):
    """One cohort's dates and rules for an item."""

    assigned = forms.BooleanField(required=False, label="Assigned")
    opens_at = _local_datetime("Opens", required=False)
    due_at = _local_datetime("Due", required=False)
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
    late_until = _local_datetime("Cut-off for late work", required=False)

    # One cohort's row, with its "assigned" box; the bulk form has none.
    per_cohort = True

    def __init__(self, *args, zone_name: str = "UTC", **kwargs):
        super().__init__(*args, **kwargs)
        for name in ["opens_at", "due_at", "late_until"]:
            self.fields[name].help_text = f"Time zone: {zone_name}."
        # A cohort left unassigned needs none of its fields filled in.
        if self.per_cohort and self.is_bound and not self.data.get(self.add_prefix("assigned")):
            for field in self.fields.values():
                field.required = False

    def clean(self):
        cleaned = super().clean()
        if self.per_cohort and not cleaned.get("assigned"):
            return cleaned
        return _check_dates(self, cleaned)

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

    cohorts = forms.ModelMultipleChoiceField(
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
    """A later due date for one or several students (say, an accommodation)."""

    students = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        label="Students",
        error_messages={"required": "Choose at least one student."},
    )
    due_at = _local_datetime("New due date")
    late_until = _local_datetime("New cut-off for late work", required=False)
    reason = forms.CharField(max_length=300, required=False)

    def __init__(self, *args, students, zone_name: str = "UTC", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["students"].queryset = students
        self.fields["students"].label_from_instance = lambda u: (
            f"{u.get_full_name() or u.username} ({u.username})"
        )
        for name in ["due_at", "late_until"]:
            self.fields[name].help_text = f"Time zone: {zone_name}."

    def clean(self):
        return _check_dates(self, super().clean())


# Gradebook ----------------------------------------------------------------------------


class GradeEditForm(forms.Form):
    """A person's part of one student's grade on one item. Each field posts back the
    value the grader saw (show_hidden_initial), so only what they changed is saved and
    a colleague's edit in the meantime stands."""

    override_score = forms.DecimalField(
        show_hidden_initial=True,
        required=False,
        min_value=0,
        max_digits=8,
        decimal_places=2,
        label="Override score",
        help_text="Points that replace the computed grade. Leave empty to use the computed one.",
    )
    override_reason = forms.CharField(
        show_hidden_initial=True,
        required=False,
        max_length=300,
        label="Reason for the override",
        help_text="Required with an override; kept with the grade.",
    )
    excused = forms.BooleanField(
        show_hidden_initial=True,
        required=False,
        label="Excused: leave this item out of the student's grade",
    )
    feedback = forms.CharField(
        show_hidden_initial=True,
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
    """One select per item: the grade category it counts in. The categories are read
    once for every select (a ModelChoiceField per item would query per item)."""

    def __init__(self, *args, items, categories, **kwargs):
        super().__init__(*args, **kwargs)
        self.items = list(items)
        self.categories = {str(c.pk): c for c in categories}
        choices = [("", "Uncategorised (not counted)")]
        choices += [(pk, c.name) for pk, c in self.categories.items()]
        for item in self.items:
            self.fields[f"item-{item.pk}"] = forms.ChoiceField(
                choices=choices,
                required=False,
                label=f"{item.module.title} / {item.title}",
                initial=str(item.grade_category_id or ""),
            )

    def changes(self) -> dict[int, object]:
        """Item id → its new category (or None), for the items whose category changed."""
        found = {}
        for item in self.items:
            chosen = self.categories.get(self.cleaned_data[f"item-{item.pk}"] or "")
            if (chosen.pk if chosen else None) != item.grade_category_id:
                found[item.pk] = chosen
        return found


# Stance checks -------------------------------------------------------------------------


class StanceAnswerForm(forms.Form):
    value = forms.TypedChoiceField(
        label="Your position",
        choices=SCALE,
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose a point on the scale."},
    )
    reason = forms.CharField(
        label="Your reason, in a line",
        max_length=200,
        error_messages={"required": "Give a one-line reason: it is what the class discusses."},
    )


class StanceSettingsForm(forms.ModelForm):
    class Meta:
        model = StanceCheck
        fields = ["statement", "before_closes_at", "after_opens_at", "after_closes_at"]
        widgets = {
            name: forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
            for name in ["before_closes_at", "after_opens_at", "after_closes_at"]
        }
        labels = {
            "before_closes_at": "“Before” answers close",
            "after_opens_at": "“After” answers open",
            "after_closes_at": "“After” answers close",
        }

    def clean(self):
        cleaned = super().clean()
        before_closes, after_opens = cleaned.get("before_closes_at"), cleaned.get("after_opens_at")
        if before_closes and after_opens and before_closes > after_opens:
            self.add_error("after_opens_at", "Open the “after” check once the “before” one closes.")
        after_closes = cleaned.get("after_closes_at")
        if after_opens and after_closes and after_closes <= after_opens:
            self.add_error("after_closes_at", "Close the “after” check after it opens.")
        return cleaned


class DecisionCommitForm(forms.Form):
    choice = forms.TypedChoiceField(
        label="Your decision",
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose what you would do."},
    )
    rationale = forms.CharField(
        label="Why, in a line",
        max_length=300,
        error_messages={"required": "Say why: it is what you will compare with what happened."},
    )
    expects = forms.TypedChoiceField(
        label="Will it happen?",
        choices=[("yes", "Yes, it will"), ("no", "No, it will not")],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
        error_messages={"required": "Say whether you expect it to happen."},
    )
    confidence = forms.IntegerField(
        label="How sure are you? (50% is a coin toss)",
        min_value=50,
        max_value=100,
        initial=70,
        widget=forms.NumberInput(attrs={"type": "range", "step": 5, "data-show-value": ""}),
    )

    def __init__(self, *args, options, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["choice"].choices = list(enumerate(options))


class DecisionSettingsForm(forms.ModelForm):
    options_text = forms.CharField(
        label="Options",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line, at least two.",
    )

    class Meta:
        model = Decision
        fields = ["question", "prediction", "follow_up"]
        widgets = {
            "prediction": forms.TextInput(
                attrs={"placeholder": "e.g. The venture will open its own research lab by 2005."}
            ),
            "follow_up": forms.Textarea(
                attrs={"rows": 6, "placeholder": "What happened next, in Markdown."}
            ),
        }
        error_messages = {
            "prediction": {"required": "Write the event the case's next part settles."},
            "follow_up": {
                "required": "Write what happened next: students read it after committing."
            },
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Blank in the database until written, but required here: the form is how they
        # get written.
        for name in ("prediction", "follow_up"):
            self.fields[name].required = True
        self.fields["options_text"].initial = "\n".join(self.instance.options)

    def clean_options_text(self):
        options = [line.strip() for line in self.cleaned_data["options_text"].splitlines()]
        options = [option for option in options if option]
        if len(options) < 2:
            raise forms.ValidationError("Give at least two options, one per line.")
        return options

    def clean_follow_up(self):
        return _reject_html(self.cleaned_data["follow_up"])

    def save(self, commit=True):
        self.instance.options = self.cleaned_data["options_text"]
        return super().save(commit)


# The spectrum exercise ------------------------------------------------------------------


class SpectrumForm(forms.Form):
    """A student's placement of each company: a position from 0 (novel-product
    research) to 100 (second-generation and process innovation) and a short
    justification. A company left without a position is not placed."""

    def __init__(self, *args, cases, placements=None, **kwargs):
        super().__init__(*args, **kwargs)
        placements = placements or {}
        self.cases = list(cases)
        for case in self.cases:
            placed = placements.get(case.pk)
            self.fields[f"position_{case.pk}"] = forms.IntegerField(
                label=f"Where {case.company} sits (0 = R, 100 = D)",
                min_value=0,
                max_value=100,
                required=False,
                initial=placed.position if placed else 50,
                error_messages={
                    "min_value": "Choose a place from 0 to 100.",
                    "max_value": "Choose a place from 0 to 100.",
                    "invalid": "Choose a place from 0 to 100.",
                },
                widget=forms.NumberInput(
                    attrs={
                        "type": "range",
                        "step": 1,
                        "class": "spectrum__range",
                        "data-show-value": "",
                    }
                ),
            )
            self.fields[f"justification_{case.pk}"] = forms.CharField(
                label=f"Why there? ({case.company})",
                required=False,
                max_length=MAX_JUSTIFICATION_CHARS,
                initial=placed.justification if placed else "",
                widget=forms.Textarea(attrs={"rows": 3}),
                help_text=f"Up to {MAX_JUSTIFICATION_CHARS} characters; cite paragraphs like ¶3.",
            )

    def rows(self):
        """(case, position field, justification field) for the template."""
        return [
            (case, self[f"position_{case.pk}"], self[f"justification_{case.pk}"])
            for case in self.cases
        ]

    def placements(self) -> list:
        from cases.services.thesis import PlacementInput

        return [
            PlacementInput(
                case_id=case.pk,
                position=self.cleaned_data[f"position_{case.pk}"],
                justification=self.cleaned_data[f"justification_{case.pk}"],
            )
            for case in self.cases
            if self.cleaned_data.get(f"position_{case.pk}") is not None
        ]
