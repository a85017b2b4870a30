"""Forms of the case library: writing and importing cases, filtering the library."""

from django import forms

from cases.forms.common import LinesField, TextUploadForm, reject_html
from cases.models import (
    CaseStudy,
    Region,
)


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
