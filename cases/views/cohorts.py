from django.db.models import Count
from django.shortcuts import render
from django.views.decorators.http import require_GET

from cases.http import HtmxHttpRequest
from cases.models import Cohort
from cases.permissions import staff_required


@require_GET
@staff_required
def cohort_list(request: HtmxHttpRequest):
    """Admins only: every cohort with its join code, size and courses."""
    cohorts = Cohort.objects.annotate(member_count=Count("memberships")).prefetch_related("courses")
    return render(request, "cases/cohorts/cohort_list.html", {"cohorts": cohorts})
