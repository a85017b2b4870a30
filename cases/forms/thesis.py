"""Forms of the thesis tools: stance checks, decision points and the spectrum."""

from django import forms

from cases.forms.common import reject_html
from cases.models import (
    MAX_JUSTIFICATION_CHARS,
    SCALE,
    Decision,
    StanceCheck,
    StancePhase,
)
from cases.services.thesis import PlacementInput


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
    # The phase the page asked for: an answer arriving once another phase is open is
    # refused, not filed under it (`stance_answer`).
    phase = forms.ChoiceField(choices=StancePhase.choices, required=False, widget=forms.HiddenInput)


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

    def clean_statement(self):
        statement = self.cleaned_data["statement"]
        # Answers are kept as points on the scale of this statement: once students have
        # answered, rewording it would change what they agreed with (as a decision's
        # options are kept once committed to).
        before = self.instance.statement
        if self.instance.pk and statement != before and self.instance.answers.exists():
            raise forms.ValidationError(
                "Keep the statement as it was: students have answered it, and their "
                "answers would then agree or disagree with new words. To ask something "
                "else, add another stance check."
            )
        return statement

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
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "e.g.\nLicense the design\nBuild its own lab"}
        ),
        help_text="One per line, at least two.",
        error_messages={"required": "Give at least two options, one per line."},
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
        # A commitment is kept as its option's place in the list: once a student has
        # committed, moving, rewording or removing an option would change what they chose.
        before = self.instance.options
        if self.instance.pk and options[: len(before)] != before and self.instance.commits.exists():
            raise forms.ValidationError(
                "Keep the options as they were, in their order: students have committed to "
                "them. You may add options after them."
            )
        return options

    def clean_follow_up(self):
        return reject_html(self.cleaned_data["follow_up"])

    def save(self, commit=True):
        self.instance.options = self.cleaned_data["options_text"]
        return super().save(commit)


class SpectrumForm(forms.Form):
    """A student's placement of each company: a position from 0 (novel-product
    research) to 100 (second-generation and process innovation) and a short
    justification. A slider always posts a value, so a company not placed yet has a
    "Not placed yet" box, ticked until the student moves its slider (the page's script
    unticks it; without script the student does): no default place anchors anyone, and
    an untouched slider is never taken for an answer."""

    def __init__(self, *args, cases, placements=None, **kwargs):
        super().__init__(*args, **kwargs)
        placements = placements or {}
        self.cases = list(cases)
        for case in self.cases:
            placed = placements.get(case.pk)
            if placed is None:
                self.fields[f"unplaced_{case.pk}"] = forms.BooleanField(
                    label="Not placed yet", required=False, initial=True
                )
            self.fields[f"position_{case.pk}"] = forms.IntegerField(
                label=f"Where to place {case.company} (0 = R, 100 = D)",
                min_value=0,
                max_value=100,
                required=False,
                initial=placed.position if placed else 50,  # Where the slider rests.
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
                        **({"data-unplaced": f"id_unplaced_{case.pk}"} if placed is None else {}),
                    }
                ),
            )
            self.fields[f"justification_{case.pk}"] = forms.CharField(
                label=f"Why there? ({case.company})",
                required=False,
                max_length=MAX_JUSTIFICATION_CHARS,
                initial=placed.justification if placed else "",
                widget=forms.Textarea(attrs={"rows": 3}),
                help_text=f"Up to {MAX_JUSTIFICATION_CHARS} characters; cite paragraphs of "
                f"“{case.title}” like ¶3.",
            )

    def clean(self):
        cleaned = super().clean()
        for case in self.cases:
            if cleaned.get(f"unplaced_{case.pk}"):
                cleaned[f"position_{case.pk}"] = None
                # A reason for a company left unplaced would be dropped unsaved: the
                # student is asked to place it instead, the reason kept in its box.
                if cleaned.get(f"justification_{case.pk}", "").strip():
                    self.add_error(
                        f"position_{case.pk}",
                        f"Place {case.company} on the spectrum (move its slider, or untick "
                        "“Not placed yet”) to save your reason for it.",
                    )
        return cleaned

    def rows(self):
        """(case, position field, "not placed yet" box or None, justification field)."""
        return [
            (
                case,
                self[f"position_{case.pk}"],
                self[f"unplaced_{case.pk}"] if f"unplaced_{case.pk}" in self.fields else None,
                self[f"justification_{case.pk}"],
            )
            for case in self.cases
        ]

    def placements(self) -> list:

        return [
            PlacementInput(
                case_id=case.pk,
                position=self.cleaned_data[f"position_{case.pk}"],
                justification=self.cleaned_data[f"justification_{case.pk}"],
            )
            for case in self.cases
            if self.cleaned_data.get(f"position_{case.pk}") is not None
        ]
