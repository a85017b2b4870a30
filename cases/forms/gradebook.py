"""Forms of the gradebook: one grade, the categories and which items count in them."""

from django import forms
from django.core.validators import MaxValueValidator

from cases.models import (
    GradeCategory,
)


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
