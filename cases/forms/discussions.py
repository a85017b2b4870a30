"""Forms of discussions: a thread's settings and a participation grade."""

from django import forms
from django.core.validators import MaxValueValidator

from cases.forms.common import reject_html
from cases.models import (
    Discussion,
)


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
            "prompt": forms.Textarea(
                attrs={
                    "rows": 5,
                    "placeholder": (
                        "e.g. Argue from the case's evidence, citing paragraphs like ¶3."
                    ),
                }
            ),
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
        error_messages = {"prompt": {"required": "Write the prompt students answer."}}

    def clean(self):
        cleaned = super().clean()
        try:
            reject_html(cleaned.get("prompt", ""))
        except forms.ValidationError as error:
            self.add_error("prompt", error)
        first, replies = cleaned.get("first_post_due_at"), cleaned.get("replies_due_at")
        if first and replies and replies < first:
            self.add_error("replies_due_at", "Replies fall due after the first post, not before.")
        # Read before the form's values are put on it: the thread as it stands.
        thread = self.instance
        moves = thread.case_id is not None and cleaned.get("case") != thread.case
        if (
            moves
            and thread.pk
            and thread.posts.filter(citation_count__gt=0, deleted_at=None).exists()
        ):
            self.add_error(
                "case",
                "Posts in this thread cite its paragraphs (¶): with another case they would "
                "point at paragraphs they never cited. For another case, add a new "
                "discussion.",
            )
        unmasks = thread.pk and thread.anonymous and not cleaned.get("anonymous")
        if unmasks and thread.posts.exists():
            self.add_error(
                "anonymous",
                "Students have posted here anonymously: their names stay hidden from "
                "classmates. For a thread under names, add a new discussion.",
            )
        return cleaned
