"""Forms of quizzes: the question bank (one question, a GIFT import), a quiz's
settings, and a person's grade on a short answer."""

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django import forms
from django.core.validators import MaxValueValidator

from cases.forms.common import KindFieldsMixin, TextUploadForm, reject_html
from cases.gift import (
    MAX_SIGNIFICANT,
    GiftChoice,
    GiftError,
    GiftQuestion,
    _parse_body,
    escape,
    format_decimal,
    numeric_value,
    numeric_written,
)
from cases.markdown import count_blanks
from cases.models import (
    CHOICE_KINDS,
    Question,
    QuestionCategory,
    QuestionKind,
    Quiz,
)
from cases.services.quizzes import MatchPair


class GiftImportForm(TextUploadForm):
    max_bytes = 2 * 1024 * 1024
    too_big = "That file is over 2 MB."
    file = forms.FileField(
        label="GIFT file (.gift or .txt)",
        help_text="Moodle's GIFT text format. You see what each question imports as "
        "before anything is saved.",
    )

    def clean_file(self):
        text = super().clean_file()
        if not text.strip():
            raise forms.ValidationError("This file is empty: choose the GIFT file itself.")
        return text


class GiftImportConfirmForm(forms.Form):
    """The second step of an import: the previewed file's text, carried back in a hidden
    field (nothing is stored between the steps), the preview's one-off token (so the
    same preview is never imported twice), and which questions to import."""

    SOUND, ALL = "sound", "all"
    text = forms.CharField(widget=forms.HiddenInput, strip=False)
    token = forms.RegexField(regex=r"^[0-9a-f]{32}$", widget=forms.HiddenInput)
    mode = forms.ChoiceField(
        choices=[
            (SOUND, "The sound questions; the refused ones are left out"),
            (ALL, "All or nothing (import only if every question is sound)"),
        ],
        initial=SOUND,
    )

    def clean_text(self):
        text = self.cleaned_data["text"].replace("\r\n", "\n")  # The browser sent CRLF.
        if len(text.encode("utf-8")) > GiftImportForm.max_bytes or "\0" in text:
            raise forms.ValidationError("Upload the file again.")
        return text


PAIRS_HELP = (
    "Each line a prompt, then ->, then its match. Several prompts may share a match. A "
    "line with nothing before -> adds a wrong match to choose from."
)
CHOICE_HELP = (
    "One answer a line. Start a right answer with =, a wrong one with ~. For several "
    "right answers give weights: ~%50% … (the right ones add up to 100, wrong ones may "
    "be negative). Feedback for an answer follows a #."
)


ACCEPTED_HELP = (
    "One accepted answer a line. An answer alone, or after =, gives full credit; "
    "%50% before it gives half. Feedback for it follows a # (write \\# for a # in the "
    "answer). A * stands for any characters (\\* for a star itself). Spaces at the "
    "ends and doubled spaces are ignored."
)
NUMERIC_OTHERS_HELP = (
    "Answers besides the right one, each with its credit (%50% gives half, %0% none) and "
    "optional feedback after a #: a number, a number:tolerance (1600:100) or a range "
    "(1500..1700). A number that fits several answers earns the best credit."
)
BLANK_HELP = (
    "For a missing word, write ___ in the text (three or more underscores, a word on its "
    "own) where the blank goes: students answer in the sentence. One blank a question."
)
# Kinds whose text may hold one blank (a missing word).
BLANK_KINDS = {QuestionKind.SINGLE, QuestionKind.SHORT_ANSWER}
CREDIT = re.compile(r"%(-?[0-9]+(?:\.[0-9]+)?)%")


@dataclass
class AcceptedAnswer:
    """One line of a short-answer question's accepted answers (saved as a choice)."""

    text: str
    fraction: Decimal
    feedback: str = ""


def parse_accepted(text: str) -> list[AcceptedAnswer]:
    """The accepted answers typed one a line: `=answer`, `answer`, `%50%answer`, each
    with an optional `# feedback`. Raises ValidationError naming the first bad line."""
    answers = [answer for _number, answer in _credit_lines(text)]
    if not answers:
        raise forms.ValidationError("Give at least one accepted answer.")
    if not any(answer.fraction == 1 for answer in answers):
        raise forms.ValidationError(
            "No answer gives full credit: start the right one with = (or give it %100%)."
        )
    return answers


def parse_numeric_others(text: str) -> list[GiftChoice]:
    """A numeric question's other answers, typed as accepted answers are (credit,
    answer, # feedback), each answer a number, number:tolerance or min..max."""
    others = []
    for number, line in _credit_lines(text):
        try:
            value, tolerance, is_range = numeric_value(line.text, number)
        except GiftError as error:
            raise forms.ValidationError(f"Line {number}: {error.reason}") from None
        others.append(
            GiftChoice(
                "",
                line.fraction,
                line.feedback,
                numeric_answer=value,
                numeric_tolerance=tolerance,
                numeric_range=is_range,
            )
        )
    return others


def _credit_lines(text: str) -> list[tuple[int, AcceptedAnswer]]:
    """Lines of `[=|%credit%]answer [# feedback]`, numbered; blank lines skipped."""
    answers = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        fraction = Decimal(1)
        if line.startswith("="):
            line = line[1:]
        elif credit := CREDIT.match(line):
            try:
                percent = Decimal(credit.group(1))
            except InvalidOperation:  # pragma: no cover - the pattern admits numbers only
                percent = Decimal(-1)
            if not 0 <= percent <= 100:
                raise forms.ValidationError(
                    f"Line {number}: the credit must be from 0% to 100%, like %50%."
                )
            fraction = (percent / 100).quantize(Decimal("0.00001"))
            line = line[credit.end() :]
        elif line.startswith("%"):
            raise forms.ValidationError(
                f"Line {number}: write the credit as a percent between two % signs, "
                "like %50%answer (or \\% for an answer starting with %)."
            )
        elif line.startswith(("\\=", "\\%")):
            line = line[1:]
        answer, feedback = _split_feedback(line)
        answer = " ".join(answer.split())
        if not answer:
            raise forms.ValidationError(f"Line {number}: give the answer itself.")
        if len(answer) > 500:
            raise forms.ValidationError(f"Line {number}: an answer is at most 500 characters.")
        answers.append((number, AcceptedAnswer(answer, fraction, feedback.strip())))
    return answers


def _split_feedback(line: str) -> tuple[str, str]:
    """An answer and its feedback, split at the first # not written as \\#."""
    answer = ""
    rest = line
    while rest:
        if rest.startswith("\\#"):
            answer += "#"
            rest = rest[2:]
        elif rest[0] == "#":
            return answer, rest[1:]
        else:
            answer += rest[0]
            rest = rest[1:]
    return answer, ""


def accepted_line(choice) -> str:
    """An accepted answer as it is typed in the form (what `parse_accepted` reads)."""
    mark = "=" if choice.fraction == 1 else f"%{(choice.fraction * 100).normalize():f}%"
    feedback = f" # {choice.feedback}" if choice.feedback else ""
    return f"{mark}{choice.text.replace('#', chr(92) + '#')}{feedback}"


def numeric_other_line(choice) -> str:
    """A numeric question's other answer as typed in the form: %50%1500..1700 # Close."""
    value = numeric_written(choice).removesuffix(":0")  # 1949, not 1949:0
    credit = "=" if choice.fraction == 1 else f"%{(choice.fraction * 100).normalize():f}%"
    return f"{credit}{value}" + (f" # {choice.feedback}" if choice.feedback else "")


def _answer_lines(rows: int, placeholder: str) -> forms.Textarea:
    """A monospaced box for answers typed one a line, with an example as placeholder."""
    return forms.Textarea(
        attrs={"rows": rows, "class": "textarea--mono", "placeholder": placeholder}
    )


class QuestionForm(KindFieldsMixin, forms.ModelForm):
    """A question of a kind chosen first: only that kind's answer fields
    (`KIND_FIELDS`) are shown and validated. Editing keeps the kind: the answers
    already given were given to it."""

    KIND_FIELDS = {
        QuestionKind.SINGLE: ("choices_text", "points"),
        QuestionKind.MULTIPLE: ("choices_text", "points"),
        QuestionKind.TRUE_FALSE: (
            "true_false_answer",
            "right_feedback",
            "wrong_feedback",
            "points",
        ),
        QuestionKind.NUMERIC: (
            "numeric_answer",
            "numeric_tolerance",
            "right_feedback",
            "numeric_others_text",
            "wrong_feedback",
            "points",
        ),
        QuestionKind.SHORT_TEXT: ("points",),
        QuestionKind.LIKERT: (),  # Recorded, never scored: no points.
        QuestionKind.SPECTRUM: (
            "spectrum_target",
            "spectrum_graded",
            "spectrum_tolerance",
            "points",
        ),
        QuestionKind.MATCHING: ("pairs_text", "points"),
        QuestionKind.DESCRIPTION: (),  # Text shown between questions: no answer, no points.
        QuestionKind.SHORT_ANSWER: ("accepted_text", "case_sensitive", "points"),
    }
    KIND_NOTES = {
        QuestionKind.SHORT_TEXT: "A person grades each answer.",
        QuestionKind.LIKERT: (
            "Students answer from “Strongly disagree” to “Strongly agree”; recorded, never scored."
        ),
        QuestionKind.MATCHING: (
            "Students choose a match for each prompt from all the matches, shuffled; "
            "each prompt matched right earns its share of the points."
        ),
        QuestionKind.DESCRIPTION: (
            "Text shown in the quiz between questions: nothing to answer, no points."
        ),
        QuestionKind.SINGLE: BLANK_HELP,
        QuestionKind.SHORT_ANSWER: (
            "Students type a word or a phrase; it is graded against the accepted answers. "
            + BLANK_HELP
        ),
    }
    kind_fields_after = "text"

    new_category = forms.CharField(
        required=False, max_length=200, label="…or a new category", help_text="Optional."
    )
    true_false_answer = forms.TypedChoiceField(
        label="Right answer",
        choices=[("", "—"), ("true", "True"), ("false", "False")],
        coerce=lambda v: v == "true",
        empty_value=None,
        error_messages={"required": "Say whether the statement is true or false."},
    )
    choices_text = forms.CharField(
        label="Answers",
        help_text=CHOICE_HELP,
        widget=_answer_lines(6, "=Right answer\n~Wrong answer"),
        error_messages={"required": "Give at least two answers, one a line."},
    )
    accepted_text = forms.CharField(
        label="Accepted answers, one per line",
        help_text=ACCEPTED_HELP,
        widget=_answer_lines(5, "=entombed\n%50%buried # Close: the word is entombed"),
        error_messages={"required": "Give at least one accepted answer."},
    )
    numeric_others_text = forms.CharField(
        label="Other answers, one per line (optional)",
        help_text=NUMERIC_OTHERS_HELP,
        required=False,
        widget=_answer_lines(3, "%50%1500..1700 # Close: it was 1600\n%0%16 # Count in ones"),
    )
    pairs_text = forms.CharField(
        label="Pairs, one per line: prompt -> match",
        help_text=PAIRS_HELP,
        widget=_answer_lines(6, "Lenovo -> Beijing\nSMIC -> Shanghai\n-> Hangzhou"),
        error_messages={"required": "Give at least two pairs, one a line: prompt -> match."},
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
            "right_feedback",
            "wrong_feedback",
            "spectrum_target",
            "spectrum_graded",
            "spectrum_tolerance",
            "case_sensitive",
        ]
        widgets = {
            "text": forms.Textarea(attrs={"rows": 4}),
            "feedback": forms.Textarea(attrs={"rows": 3}),
            "right_feedback": forms.Textarea(attrs={"rows": 2}),
            "wrong_feedback": forms.Textarea(attrs={"rows": 2}),
        }
        labels = {
            "kind": "Kind of question",
            "numeric_answer": "Right answer",
            "numeric_tolerance": "Accepted either side of it",
            "right_feedback": "Feedback on a right answer",
            "wrong_feedback": "Feedback on a wrong answer",
            "spectrum_target": "Target placement, 0 to 100",
            "spectrum_graded": "Grade answers by distance to the target",
            "case_sensitive": "Letter case matters",
        }
        help_texts = {"case_sensitive": "Off: “Entombed” counts as “entombed”."}
        error_messages = {"numeric_answer": {"required": "Give the right number."}}

    field_order = [
        "kind",
        "category",
        "new_category",
        "title",
        "text",
        "choices_text",
        "accepted_text",
        "feedback",
        "points",
    ]

    def __init__(self, *args, course, kind=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.course = course
        if self.instance.pk:
            kind = self.instance.kind
            del self.fields["kind"]
        self.keep_kind_fields(kind)
        if "numeric_answer" in self.fields:
            self.fields["numeric_answer"].required = True
            if self.instance.pk and not self.is_bound:
                # As the author wrote it: 1600, not 1600.0000000000.
                for name in ("numeric_answer", "numeric_tolerance"):
                    value = getattr(self.instance, name)
                    if value is not None:
                        self.initial[name] = format_decimal(value)
        self.fields["category"].queryset = QuestionCategory.objects.filter(course=course)
        if self.instance.pk and not self.is_bound and self.kind == QuestionKind.SHORT_ANSWER:
            self.initial["accepted_text"] = "\n".join(
                accepted_line(c) for c in self.instance.choices.all()
            )
        elif self.instance.pk and not self.is_bound and self.kind == QuestionKind.NUMERIC:
            self.initial["numeric_others_text"] = "\n".join(
                numeric_other_line(c) for c in self.instance.choices.all()
            )
        elif self.instance.pk and not self.is_bound:
            self.initial["choices_text"] = "\n".join(
                _choice_line(c) for c in self.instance.choices.all()
            )
            if kind == QuestionKind.MATCHING:
                self.initial["pairs_text"] = "\n".join(
                    _pair_line(c) for c in self.instance.choices.all()
                )
            if self.instance.true_false_answer is not None:
                self.initial["true_false_answer"] = (
                    "true" if self.instance.true_false_answer else "false"
                )

    @property
    def lines_field(self) -> str:
        """The field the kind's answer lines are typed in (where a refusal of them goes)."""
        return {
            QuestionKind.MATCHING: "pairs_text",
            QuestionKind.SHORT_ANSWER: "accepted_text",
            QuestionKind.NUMERIC: "numeric_others_text",
        }.get(self.kind, "choices_text")

    @property
    def kind_note(self) -> str:
        return self.KIND_NOTES.get(self.kind, "")

    def clean(self):
        cleaned = super().clean()
        for name in ["title", "text", "feedback", "right_feedback", "wrong_feedback"]:
            try:
                reject_html(cleaned.get(name, ""))
            except forms.ValidationError as error:
                self.add_error(name, error)
        for name in ("numeric_answer", "numeric_tolerance"):
            value = cleaned.get(name)
            if value is not None and len(value.normalize().as_tuple().digits) > MAX_SIGNIFICANT:
                self.add_error(
                    name,
                    f"Give at most {MAX_SIGNIFICANT} significant digits: they are kept exactly.",
                )
        if self.kind in CHOICE_KINDS and cleaned.get("choices_text"):
            self._clean_choices(self.kind, cleaned["choices_text"])
        elif (
            self.kind == QuestionKind.SPECTRUM
            and cleaned.get("spectrum_graded")
            and cleaned.get("spectrum_target") is None
        ):
            self.add_error("spectrum_target", "A graded spectrum question needs a target.")
        elif self.kind == QuestionKind.MATCHING and cleaned.get("pairs_text"):
            self._clean_pairs(cleaned["pairs_text"])
        elif self.kind == QuestionKind.NUMERIC:
            try:
                self.parsed_choices = parse_numeric_others(cleaned.get("numeric_others_text", ""))
            except forms.ValidationError as error:
                self.add_error("numeric_others_text", error)
        elif self.kind == QuestionKind.SHORT_ANSWER and cleaned.get("accepted_text"):
            try:
                self.parsed_choices = parse_accepted(cleaned["accepted_text"])
            except forms.ValidationError as error:
                self.add_error("accepted_text", error)
        if self.kind in BLANK_KINDS and (blanks := count_blanks(cleaned.get("text", ""))) > 1:
            self.add_error(
                "text",
                f"One blank (___) a question: this text has {blanks}. Keep one.",
            )
        return cleaned

    def _clean_pairs(self, text: str) -> None:
        """Read "prompt -> match" lines; a line with no prompt is a wrong match."""
        pairs, problems, seen = [], [], set()
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            prompt, arrow, match = line.partition("->")
            prompt, match = prompt.strip(), match.strip()
            if not arrow:
                problems.append(f"Line {number} has no “->”: write prompt -> match.")
            elif not match:
                problems.append(f"Line {number} has nothing after “->”: give its match.")
            elif len(prompt) > 500 or len(match) > 500:
                problems.append(f"Line {number} is too long: 500 characters a side at most.")
            elif prompt.casefold() in seen:
                problems.append(f"Line {number} repeats the prompt “{prompt}”: give each once.")
            else:
                if prompt:
                    seen.add(prompt.casefold())
                pairs.append(MatchPair(text=prompt, match=match))
        if not problems and len(seen) < 2:
            problems.append("Give at least two pairs with a prompt, one a line: prompt -> match.")
        if problems:
            self.add_error("pairs_text", problems)
            return
        self.parsed_choices = pairs

    def _clean_choices(self, kind, text):

        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if len(lines) < 2:
            self.add_error("choices_text", "Give at least two answers, one a line.")
            return
        if all(line.startswith("=") for line in lines):
            self.add_error("choices_text", "Mark at least one answer wrong with ~.")
            return
        parsed = GiftQuestion(line=1, kind="", title="", text="")
        try:
            _parse_body("\n".join(lines), 1, parsed)
        except GiftError as error:
            self.add_error("choices_text", error.reason[:1].upper() + error.reason[1:])
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

    def choices(self) -> list | None:
        """The parsed answers of a choice question (None for other kinds)."""
        if self.kind in CHOICE_KINDS or self.kind in (
            QuestionKind.MATCHING,
            QuestionKind.SHORT_ANSWER,
            QuestionKind.NUMERIC,
        ):
            return self.parsed_choices
        return None


def _pair_line(choice) -> str:
    return f"{choice.text} -> {choice.match}" if choice.text else f"-> {choice.match}"


def _choice_line(choice) -> str:

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
