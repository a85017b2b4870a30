"""Forms whose fields depend on a kind chosen first (`KindFieldsMixin`): the one way
their views read the kind, switch it and answer htmx's request for its fields."""

from django.shortcuts import render

from cases.http import HtmxHttpRequest

KIND_FORM = "cases/forms/kind_form.html"


def kind_form(request: HtmxHttpRequest, form_class, *, url: str, **kwargs):
    """The form for the kind the request names, and the response when one is already
    due: htmx asking for a kind's fields gets the #kind-fields fragment (and the
    address bar says the kind). A POST with `switch_kind` (the no-script way to change
    kind) comes back unvalidated, with what was typed kept; any other POST is bound
    for the view to validate. A GET may prefill fields (?kind=quiz&module=3)."""
    data = request.POST if request.method == "POST" else request.GET
    kind = kwargs.pop("kind", None) or form_class.chosen_kind(data)
    if request.method == "POST" and "switch_kind" not in request.POST:
        form = form_class(request.POST, kind=kind, **kwargs)
    else:
        form = form_class(initial=form_class.initial_from(data), kind=kind, **kwargs)
    form.switch_kind_by_htmx(url)
    response = None
    if request.method == "GET" and request.htmx and request.htmx.target == "kind-fields":
        response = render(request, f"{KIND_FORM}#kind-fields", {"form": form})
        if form.kind:
            response["HX-Replace-Url"] = f"{url}?kind={form.kind}"
    return form, response
