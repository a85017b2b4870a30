from django import forms

from cases.models import NotificationKind


class PreferencesForm(forms.Form):
    """A checkbox per kind of notification (emailed or not) and the digest choice."""

    daily_digest = forms.BooleanField(
        required=False,
        label="Send one email a day with everything new, instead of one email each time",
    )

    def __init__(self, *args, emailed_off: set[str], digest: bool, **kwargs):
        super().__init__(*args, **kwargs)
        for kind, label in NotificationKind.choices:
            self.fields[f"email_{kind}"] = forms.BooleanField(
                required=False, label=label, initial=kind not in emailed_off
            )
        self.fields["daily_digest"].initial = digest
        # The digest last: it is about how, not what.
        self.order_fields([f"email_{kind}" for kind in NotificationKind.values])

    def emailed(self) -> dict[str, bool]:
        return {kind: self.cleaned_data[f"email_{kind}"] for kind in NotificationKind.values}

    @property
    def kind_fields(self):
        return [self[f"email_{kind}"] for kind in NotificationKind.values]
