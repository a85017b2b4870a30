"""Forms of the workspace: grading one student's work, and rubrics."""

from django import forms
from django.core.validators import MaxValueValidator


class WorkGradeForm(forms.Form):
    """A person's grade on one student's work: a level per rubric criterion (when the
    item has a rubric), points for the whole (a discussion's participation, a memo's
    points, without a rubric), a comment the student sees, and excused. Like
    GradeEditForm, each field posts back the value the grader saw, so only what they
    changed is saved."""

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
        self,
        *args,
        rubric=None,
        participation=False,
        points_label="Participation points",
        max_points=None,
        answers=(),
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.rubric = rubric
        self.answers = list(answers)
        # A person's points for the whole piece of work, where the kind has no score
        # of its own: a discussion's participation, a memo's points (`points_label`).
        if not participation:
            del self.fields["participation"]
        else:
            self.fields["participation"].label = points_label
        if participation and max_points is not None:
            field = self.fields["participation"]
            field.label = f"{points_label} (out of {max_points})"
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
            # Posting back the level the grader saw: a level a colleague chose since
            # the page was opened stands unless this grader chose another.
            self.fields[f"criterion_{index}"] = forms.ChoiceField(
                show_hidden_initial=True,
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
