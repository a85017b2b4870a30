"""Bulk enrolment from a CSV roster, for admins: upload, preview what would be created,
updated or left alone (or every bad row with its line), then confirm to import it all
in one transaction."""

import base64
import binascii

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from cases.forms.cohorts import RosterConfirmForm, RosterUploadForm
from cases.http import HtmxHttpRequest
from cases.models import Cohort
from cases.permissions import staff_required
from cases.services.cohorts.roster import RosterInvalid, roster_apply, roster_plan, roster_rejected

SHOWN_ROWS = 100


def _page(request, cohort, *, form=None, plan=None, data: bytes = b"", invite=True, status=200):
    context = {"cohort": cohort, "form": form or RosterUploadForm(), "plan": plan}
    if plan is not None:
        context["sections"] = [
            (label, rows[:SHOWN_ROWS], len(rows), max(0, len(rows) - SHOWN_ROWS))
            for label, rows in (
                ("New accounts", plan.of("create")),
                ("Existing accounts updated or enrolled", plan.of("update")),
                ("Already enrolled, unchanged", plan.of("skip")),
            )
            if rows
        ]
        if plan.ok:
            context["confirm"] = RosterConfirmForm(
                initial={"roster": base64.b64encode(data).decode(), "invite": invite}
            )
    return render(request, "cases/cohorts/roster_import.html", context, status=status)


@require_http_methods(["GET", "POST"])
@staff_required
def roster_import(request: HtmxHttpRequest, pk: int):
    """Admins only: enrol a cohort from a CSV file. Nothing is saved until the preview
    is confirmed, and then all rows or none."""
    cohort = get_object_or_404(Cohort, pk=pk)
    if request.method == "GET":
        return _page(request, cohort)
    if request.POST.get("step") == "confirm":
        confirm = RosterConfirmForm(request.POST)
        try:
            data = base64.b64decode(confirm.data.get("roster", ""), validate=True)
        except (binascii.Error, ValueError):
            data = b""
        if not confirm.is_valid() or not data:
            messages.error(request, "The preview was lost: upload the file again.")
            return redirect("cases:roster_import", pk=cohort.pk)
        invite = confirm.cleaned_data["invite"]
        try:
            result = roster_apply(cohort=cohort, data=data, actor=request.user, invite=invite)
        except RosterInvalid as refused:  # The accounts changed since the preview.
            roster_rejected(cohort, refused.plan, request.user)
            return _page(request, cohort, plan=refused.plan, data=data, status=400)
        messages.success(
            request,
            f"Imported into {cohort.name}: {len(result.created)} new accounts, "
            f"{result.updated} updated, {result.skipped} unchanged.",
        )
        return redirect("cases:roster_import", pk=cohort.pk)
    form = RosterUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, cohort, form=form, status=400)
    data = form.cleaned_data["file"]
    plan = roster_plan(cohort, data)
    if not plan.ok:
        roster_rejected(cohort, plan, request.user)
    return _page(
        request,
        cohort,
        form=form,
        plan=plan,
        data=data,
        invite=form.cleaned_data["invite"],
        status=200 if plan.ok else 400,
    )
