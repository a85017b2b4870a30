"""The form for handing in a memo as a file. What the file is, and whether it is taken,
is the service's to decide (cases.services.memo_files), from its bytes."""

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat


class MemoFileForm(forms.Form):
    file = forms.FileField(
        label="Your memo as a file",
        widget=forms.FileInput(attrs={"accept": ".pdf,.docx"}),
        error_messages={"required": "Choose the file your memo is in."},
    )
    nonce = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        # Its ids apart from the writing form's on the same page (both have a nonce).
        kwargs.setdefault("auto_id", "upload-%s")
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = (
            f"A PDF or a Word document (.docx), at most "
            f"{filesizeformat(settings.MEMO_MAX_BYTES)}. It becomes your next version; "
            "what you have written here stays as your draft."
        )
