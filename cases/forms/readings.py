"""Forms of the case library: writing and importing cases, filtering the library."""

import json
import tomllib

from django import forms

from cases.exhibits import ExhibitError, exhibits_clean
from cases.forms.common import LinesField, TextUploadForm, reject_html
from cases.models import (
    CaseStudy,
    Region,
)

EXHIBITS_HELP = (
    "Optional. Each exhibit a [[exhibits]] table: title, kind (timeline, table, spectrum "
    "or chain), columns and rows, and an optional note; the text cites them as "
    "“Exhibit 1”, “Exhibit 2”. See the demo cases for examples."
)


class ExhibitsField(forms.CharField):
    """A case's exhibits written as TOML [[exhibits]] tables, checked and drawn by
    cases/exhibits.py; shown again in the same form."""

    widget = forms.Textarea(attrs={"rows": 8, "class": "textarea--mono"})

    def prepare_value(self, value):
        return exhibits_toml(value) if isinstance(value, list) else value

    def to_python(self, value):
        text = super().to_python(value) or ""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise forms.ValidationError(f"These exhibits are not valid TOML: {error}") from None
        unknown = set(data) - {"exhibits"}
        if unknown:
            raise forms.ValidationError(
                f"Start each exhibit with a line [[exhibits]] (found {', '.join(sorted(unknown))})."
            )
        try:
            return exhibits_clean(data.get("exhibits", []))
        except ExhibitError as error:
            raise forms.ValidationError(str(error)) from None


def exhibits_toml(exhibits: list[dict]) -> str:
    """Exhibits as the [[exhibits]] tables `ExhibitsField` reads (JSON strings and
    arrays are valid TOML)."""
    blocks = []
    for exhibit in exhibits:
        lines = ["[[exhibits]]"]
        for key in ("title", "kind", "highlight", "note", "columns"):
            if key in exhibit:
                lines.append(f"{key} = {json.dumps(exhibit[key], ensure_ascii=False)}")
        rows = ",\n".join(f"  {json.dumps(row, ensure_ascii=False)}" for row in exhibit["rows"])
        lines.append(f"rows = [\n{rows},\n]")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


class CaseStudyForm(forms.ModelForm):
    key_facts = LinesField(required=False, help_text="One fact a line.")
    discussion_questions = LinesField(required=False, help_text="One question a line.")
    exhibits = ExhibitsField(required=False, help_text=EXHIBITS_HELP)
    follows = forms.ModelChoiceField(
        queryset=CaseStudy.objects.none(),
        to_field_name="slug",
        required=False,
        label="Part B of",
        help_text="Optional: the case this one continues. Students read it only after "
        "committing to the decision point that reveals it.",
    )

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
            "protagonist",
            "dilemma",
            "sources_note",
            "exhibits",
            "follows",
        ]
        widgets = {
            "dilemma": forms.Textarea(attrs={"rows": 2}),
            "sources_note": forms.Textarea(attrs={"rows": 3}),
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
            "protagonist": "Whose decision the case opens on; say if the role is imagined.",
            "slug": "The case's address: lower-case letters, digits and hyphens.",
            "teaching_notes": "Markdown. Only instructors and TAs ever see these.",
        }
        error_messages = {
            "slug": {"unique": "Another case already uses this slug. Choose a different one."},
            "title": {"required": "Give the case a title."},
            "body": {"required": "Write the case text, paragraphs separated by blank lines."},
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        others = CaseStudy.objects.filter(follows__isnull=True).order_by("title")
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
        self.fields["follows"].queryset = others

    @staticmethod
    def data_from_fields(fields: dict) -> dict:
        """Form data from a case file's fields: lists become one line each, exhibits
        their TOML tables."""
        data = {
            name: "\n".join(value) if isinstance(value, list) else value
            for name, value in fields.items()
            if name != "exhibits"
        }
        data["exhibits"] = exhibits_toml(fields.get("exhibits", []))
        return data

    def clean(self):
        cleaned = super().clean()
        texts = ["title", "company", "summary", "body", "teaching_notes", "source"]
        for name in [*texts, "protagonist", "dilemma", "sources_note"]:
            try:
                reject_html(cleaned.get(name, ""))
            except forms.ValidationError as error:
                self.add_error(name, error)
        for name in ["key_facts", "discussion_questions"]:
            for line in cleaned.get(name) or []:
                try:
                    reject_html(line)
                except forms.ValidationError as error:
                    self.add_error(name, error)
                    break
        return cleaned


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
