"""Forms of the live class: starting a session, writing a poll, answering one from a
phone, joining by code and marking a contribution."""

from django import forms

from cases.forms.common import LinesField
from cases.models import (
    LIKERT_LABELS,
    MAX_WORD_CHARS,
    OPTION_KINDS,
    ItemKind,
    LiveClass,
    LivePoll,
    ModuleItem,
    PollKind,
    Question,
    QuestionKind,
)
from cases.services.live import MAX_OPTIONS, poll_fields_from_question

POLL_QUESTION_KINDS = [
    QuestionKind.SINGLE,
    QuestionKind.MULTIPLE,
    QuestionKind.TRUE_FALSE,
    QuestionKind.LIKERT,
    QuestionKind.SPECTRUM,
    QuestionKind.SHORT_TEXT,
]


class LiveStartForm(forms.Form):
    title = forms.CharField(max_length=200, label="Session title")
    cohort = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label="Every cohort",
        help_text="Who may join: one section, or everyone taking it.",
    )
    item = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label="None (ad hoc, not graded)",
        label="Live-session item",
        help_text="Attendance and marks of a session started from an item are graded.",
    )

    def __init__(self, *args, course, cohorts=None, every: bool = True, **kwargs):
        """`cohorts`: those the user may start a class for (the cohorts they grade;
        default, the course's), of which the current ones are offered; `every`: whether
        they may start one for every cohort at once (a TA limited to some sections may
        not: its roster would be theirs)."""
        super().__init__(*args, **kwargs)
        field = self.fields["cohort"]
        # A class is for a current cohort: an archived one (a past term) starts none.
        field.queryset = (course.cohorts.all() if cohorts is None else cohorts).current()
        if not every:
            field.required = True
            field.empty_label = None
            field.help_text = "Who may join: one of the sections you look after."
            refusal = "Choose one of the sections you look after."
            field.error_messages |= {"required": refusal, "invalid_choice": refusal}
        self.fields["item"].queryset = ModuleItem.objects.filter(
            module__course=course, kind=ItemKind.LIVE_SESSION
        ).select_related("module")


class PollForm(forms.Form):
    """A new poll: written here, or taken from a question in the course's bank."""

    question = forms.ModelChoiceField(
        queryset=None,
        required=False,
        label="From the question bank",
        empty_label="None: write it below",
        help_text="Its kind, title and choices become the poll's.",
    )
    kind = forms.ChoiceField(choices=PollKind.choices, required=False, label="Kind")
    prompt = forms.CharField(max_length=300, required=False, label="Question")
    options = LinesField(
        required=False,
        label="Options, one per line (single and multiple choice)",
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    launch = forms.BooleanField(required=False, initial=True, label="Launch it now")
    # The session's polls when the form was drawn (`poll_create`).
    after = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def __init__(self, *args, course, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["question"].queryset = Question.objects.filter(
            course=course, kind__in=POLL_QUESTION_KINDS
        ).only("title", "kind")

    def clean(self):

        cleaned = super().clean()
        question = cleaned.get("question")
        if question is not None:
            cleaned |= poll_fields_from_question(question)
            return cleaned
        if not cleaned.get("kind"):
            self.add_error("kind", "Choose a kind, or a question from the bank.")
        if not cleaned.get("prompt"):
            self.add_error("prompt", "Write the question the class answers.")
        options = cleaned.get("options") or []
        if cleaned.get("kind") in OPTION_KINDS:
            if len(options) < 2:
                self.add_error("options", "Give at least two options, one per line.")
            elif len(options) > MAX_OPTIONS:
                self.add_error("options", f"At most {MAX_OPTIONS} options fit on the screen.")
            elif any(len(option) > 200 for option in options):
                self.add_error("options", "Keep each option under 200 characters.")
        return cleaned


class LiveAnswerForm(forms.Form):
    """A student's answer to one poll; its one field depends on the poll's kind."""

    def __init__(self, *args, poll: LivePoll, **kwargs):
        super().__init__(*args, **kwargs)
        self.poll = poll
        options = list(enumerate(poll.options))
        if poll.kind == PollKind.SINGLE:
            field = forms.TypedChoiceField(
                choices=options,
                coerce=int,
                widget=forms.RadioSelect,
                error_messages={"required": "Choose an option."},
            )
        elif poll.kind == PollKind.MULTIPLE:
            field = forms.TypedMultipleChoiceField(
                choices=options,
                coerce=int,
                widget=forms.CheckboxSelectMultiple,
                help_text="Tick every option you agree with.",
                error_messages={"required": "Tick at least one option."},
            )
        elif poll.kind == PollKind.LIKERT:
            field = forms.TypedChoiceField(
                choices=LIKERT_LABELS,
                coerce=int,
                widget=forms.RadioSelect,
                error_messages={"required": "Choose a point on the scale."},
            )
        elif poll.kind == PollKind.SPECTRUM:
            if self.initial.get("answer") is None:
                # Unplaced until the slider moves, so its resting point anchors nobody.
                self.fields["unplaced"] = forms.BooleanField(
                    label="Not placed yet", required=False, initial=True
                )
            field = forms.IntegerField(
                min_value=0,
                max_value=100,
                initial=50,  # Where the slider rests; "Not placed yet" says it is no answer.
                help_text="0: novel-product research (R). 100: second-generation and "
                "process innovation (D).",
                error_messages=dict.fromkeys(
                    ("min_value", "max_value", "invalid", "required"),
                    "Choose a place from 0 to 100.",
                ),
                widget=forms.NumberInput(
                    attrs={
                        "type": "range",
                        "step": 1,
                        "class": "spectrum__range",
                        "data-show-value": "",
                        **({"data-unplaced": "id_unplaced"} if "unplaced" in self.fields else {}),
                    }
                ),
            )
        else:
            field = forms.CharField(
                max_length=MAX_WORD_CHARS,
                help_text=f"A word or two, up to {MAX_WORD_CHARS} characters.",
                error_messages={"required": "Type a word or two."},
            )
        field.label = "Your answer"
        self.fields["answer"] = field

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("unplaced"):
            self.add_error("answer", "Move the slider to where you place it, then send.")
        return cleaned

    @staticmethod
    def initial_for(poll: LivePoll, answer) -> dict:
        """The form's initial data showing a saved LiveAnswer (or none)."""
        if answer is None:
            return {}
        if poll.kind == PollKind.SINGLE:
            return {"answer": answer.choices[0] if answer.choices else None}
        if poll.kind == PollKind.MULTIPLE:
            return {"answer": answer.choices}
        if poll.kind in (PollKind.LIKERT, PollKind.SPECTRUM):
            return {"answer": answer.value}
        return {"answer": answer.text}

    def cleaned_answer(self) -> dict:
        """The answer as LiveAnswer's fields."""
        value = self.cleaned_data["answer"]
        if self.poll.kind == PollKind.SINGLE:
            return {"choices": [value]}
        if self.poll.kind == PollKind.MULTIPLE:
            return {"choices": sorted(set(value))}
        if self.poll.kind in (PollKind.LIKERT, PollKind.SPECTRUM):
            return {"value": value}
        return {"text": " ".join(value.split()).lower()}


class JoinForm(forms.Form):
    code = forms.CharField(
        max_length=8,
        label="Join code",
        help_text="The six characters on the screen at the front of the room.",
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}
        ),
        error_messages={"required": "Type the code shown on the screen."},
    )

    def clean_code(self) -> str:
        return "".join(self.cleaned_data["code"].split()).upper()


class MarkForm(forms.Form):
    student = forms.IntegerField(widget=forms.HiddenInput)
    points = forms.TypedChoiceField(choices=[(1, "+1"), (2, "+2")], coerce=int)
    note = forms.CharField(max_length=200, required=False, label="Note")
    call = forms.IntegerField(required=False, widget=forms.HiddenInput)
    # The student's marks in the session when the form was drawn (`mark_add`).
    seen = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)


class LiveClassForm(forms.ModelForm):
    class Meta:
        model = LiveClass
        fields = ["attendance_percent", "marks_for_full_credit"]
        labels = {
            "attendance_percent": "Percent of the points for joining",
            "marks_for_full_credit": "Contribution points for full credit",
        }

    def clean_attendance_percent(self):
        percent = self.cleaned_data["attendance_percent"]
        if percent is not None and percent > 100:
            raise forms.ValidationError("A share of the points runs from 0 to 100 percent.")
        return percent

    def clean_marks_for_full_credit(self):
        marks = self.cleaned_data["marks_for_full_credit"]
        if marks is not None and marks < 1:
            raise forms.ValidationError("Full credit needs at least 1 contribution point.")
        return marks
