"""The roster import's two steps: upload a file to preview, then confirm it."""

from django import forms

MAX_UPLOAD_BYTES = 2 * 1024 * 1024  # 5,000 rows of a roster fit in well under this.


class RosterUploadForm(forms.Form):
    file = forms.FileField(
        label="Roster (CSV)",
        help_text="Columns email, first_name, last_name, student_id, named on the first "
        "line; comma or semicolon; UTF-8. At most 5,000 rows.",
        error_messages={"required": "Choose the CSV file to import."},
    )
    invite = forms.BooleanField(
        required=False, initial=True, label="Email new accounts a link to choose a password"
    )

    def clean_file(self) -> bytes:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError("The file is over 2 MB: split it into smaller files.")
        return upload.read()


class RosterConfirmForm(forms.Form):
    """The previewed file, carried back unchanged: it is checked again before saving."""

    roster = forms.CharField(widget=forms.HiddenInput, max_length=4 * MAX_UPLOAD_BYTES)
    invite = forms.BooleanField(required=False, widget=forms.HiddenInput)
