"""Form pieces several concepts share: Markdown-only text, lists edited a line
at a time, text files uploaded for import, dates typed in the course's zone."""

import re

from django import forms

# Raw HTML in a case is escaped when shown, but an author who typed it expected it to
# work: say so instead of silently showing tags as text.
HTML_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9-]*(\s[^<>]*)?/?>|javascript:", re.I)


def reject_html(value: str) -> str:
    found = HTML_TAG.search(value or "")
    if found:
        raise forms.ValidationError(
            "Remove the HTML (%(tag)s): write Markdown instead, e.g. *italic*, **bold**, "
            "[a link](https://example.org).",
            params={"tag": found.group(0)[:40]},
            code="html",
        )
    return value


class LinesField(forms.CharField):
    """A list of short strings edited as one line each."""

    widget = forms.Textarea(attrs={"rows": 5})

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(value)
        return value

    def to_python(self, value):
        text = super().to_python(value)
        return [line.strip() for line in text.splitlines() if line.strip()]


class TextUploadForm(forms.Form):
    """An uploaded UTF-8 text file, read into a string; too big or not text is refused
    beside the field. NUL bytes decode as UTF-8 but are never text (a UTF-16 or binary
    file) and no text column stores them, so they are refused too."""

    max_bytes = 512 * 1024
    too_big = "That file is too big."
    file = forms.FileField()

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > self.max_bytes:
            raise forms.ValidationError(self.too_big)
        try:
            text = upload.read().decode("utf-8")
        except UnicodeDecodeError as error:
            raise forms.ValidationError("Save the file as UTF-8 text and try again.") from error
        if "\0" in text:
            line = text.count("\n", 0, text.index("\0")) + 1
            raise forms.ValidationError(
                f"This file contains NUL bytes (the first on line {line}), so it is not "
                "plain text: save it as UTF-8 text and upload it again."
            )
        return text


def local_datetime(label: str, **kwargs) -> forms.DateTimeField:
    """A date and time typed in the active (the course's) time zone."""
    return forms.DateTimeField(
        label=label,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        **kwargs,
    )


def check_dates(form: forms.Form, cleaned: dict) -> dict:
    """Due after opening, cut-off after due (and only with a due date)."""
    opens, due, cutoff = cleaned.get("opens_at"), cleaned.get("due_at"), cleaned.get("late_until")
    if opens and due and due <= opens:
        form.add_error("due_at", "The due date must come after the opening date.")
    if cutoff and not due:
        form.add_error("late_until", "A cut-off needs a due date.")
    elif cutoff and due and cutoff < due:
        form.add_error("late_until", "The cut-off must not come before the due date.")
    return cleaned


class KindFieldsMixin:
    """A form whose fields depend on a kind chosen first (an item's, a question's).

    `KIND_FIELDS` is the one definition of which fields belong to which kind: the
    fields of the other kinds are dropped in `__init__`, so they are neither shown
    nor validated, and the template puts the kind's own fields in one fragment
    (`cases/forms/kind_form.html#kind-fields`) that htmx swaps when the kind changes.
    Fields belonging to no kind are common to all and stay. The kind's own fields
    are shown after the common field named `kind_fields_after`."""

    KIND_FIELDS: dict[str, tuple[str, ...]] = {}
    kind_fields_after = "title"
    kind_note = ""

    def switch_kind_by_htmx(self, url: str) -> None:
        """Changing the kind fetches its fields from `url` (GET, with the kind and
        what was typed in the current kind's fields: never the CSRF token)."""
        if "kind" in self.fields:
            self.fields["kind"].widget.attrs.update(
                {
                    "hx-get": url,
                    "hx-trigger": "change",
                    "hx-target": "#kind-fields",
                    "hx-swap": "outerHTML",
                    "hx-include": "#kind-fields",
                }
            )

    def keep_kind_fields(self, kind: str | None) -> None:
        self.kind = kind if kind in self.KIND_FIELDS else None
        own = self.KIND_FIELDS.get(self.kind, ())
        for name in set().union(*self.KIND_FIELDS.values()) - set(own):
            self.fields.pop(name, None)

    @classmethod
    def chosen_kind(cls, *sources) -> str | None:
        """The kind named in the first of the query dicts that names one we know."""
        for source in sources:
            kind = (source or {}).get("kind")
            if kind in cls.KIND_FIELDS:
                return kind
        return None

    @classmethod
    def initial_from(cls, data) -> dict:
        """What was typed (a QueryDict), as initial values: the kind is switched
        without validating, so nothing typed is lost and no error shows yet."""
        fields = cls.base_fields  # type: ignore[attr-defined]
        return {
            name: values
            if isinstance(fields[name], forms.MultipleChoiceField | forms.ModelMultipleChoiceField)
            else values[0]
            for name, values in data.lists()
            if name in fields
        }

    @property
    def kind_is_chosen(self) -> bool:
        # Templates cannot ask `form.kind`: that names the kind's field.
        return self.kind is not None

    def kind_fields(self) -> list:
        return [self[name] for name in self.KIND_FIELDS.get(self.kind, ()) if name in self.fields]

    def _common(self) -> list:
        every = set().union(*self.KIND_FIELDS.values())
        return [field for field in self if field.name not in every and field.name != "kind"]

    def leading_fields(self) -> list:
        common = self._common()
        names = [field.name for field in common]
        cut = names.index(self.kind_fields_after) + 1 if self.kind_fields_after in names else 0
        return common[:cut]

    def trailing_fields(self) -> list:
        return self._common()[len(self.leading_fields()) :]


class CohortChoiceField(forms.ModelChoiceField):
    """A cohort named with the codes of its courses ("Section A · MGT 6001"): names are
    free, and two courses' "Section A" must not read alike where an admin picks one.
    Give it cohorts with `prefetch_related("courses")`."""

    def label_from_instance(self, cohort) -> str:
        codes = ", ".join(sorted(course.code for course in cohort.courses.all()))
        return f"{cohort.name} · {codes or 'no course'}"
