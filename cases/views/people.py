"""People: a course's instructors and TAs, the directory of accounts with deactivation,
and the audit log of who changed what."""

import csv
from datetime import UTC
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from cases.forms.people import AuditFilterForm, PeopleSearchForm, RoleAddForm, TaCohortsForm
from cases.http import CsvEcho, HtmxHttpRequest, csv_cell, parse_int
from cases.models import AuditEntry, Cohort, User
from cases.permissions import CourseRole, course_to_staff, roles_to_give, staff_required
from cases.services import people as services
from cases.services.cohorts.invitations import course_role_invite, invitation_resend

PAGE_SIZE = 50


def _partial(request: HtmxHttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.history_restore_request


# A course's people ------------------------------------------------------------------


def _people_page(request, course, access, *, form=None, notice=None):
    """The course's instructors and TAs (each TA with the course's cohorts they are
    limited to), and the form to add someone."""
    roles = roles_to_give(access)
    limited = Prefetch(
        "assisted_cohorts", queryset=Cohort.objects.filter(courses=course), to_attr="limited_to"
    )
    context = {
        "course": course,
        "access": access,
        "instructors": course.instructors.order_by("last_name", "first_name", "username"),
        "tas": course.teaching_assistants.order_by(
            "last_name", "first_name", "username"
        ).prefetch_related(limited),
        "can_remove": {role: role in roles for role in CourseRole},
        # With their sizes and join codes: the page tells the course's teachers the
        # codes to give their students.
        "cohorts": list(
            Cohort.objects.filter(courses=course)
            .annotate(member_count=Count("memberships"))
            .order_by("name", "pk")
        ),
        "form": form or RoleAddForm(roles=roles, may_invite=access.is_admin),
        "notice": notice,
    }
    template = "cases/people/course_people.html" + ("#people" if _partial(request) else "")
    return render(request, template, context)


def _refused_or_done(request, course, access, message: str, *, error: bool):
    """After a change: with htmx, the updated people region with the message in it;
    without, a message and back to the page (POST/redirect/GET)."""
    if _partial(request):
        return _people_page(request, course, access, notice={"text": message, "error": error})
    (messages.error if error else messages.success)(request, message)
    return redirect("cases:course_people", pk=course.pk)


@vary_on_headers("HX-Request")
@require_http_methods(["GET", "POST"])
def course_people(request: HtmxHttpRequest, pk: int):
    """The course's instructors and TAs. Admins give and take away both roles; the
    course's instructors give and take away the TA role only. Its TAs and students get
    403, everyone else 404. Nobody changes their own role here."""
    course, access = course_to_staff(request.user, pk)
    if request.method == "GET":
        return _people_page(request, course, access)
    roles = roles_to_give(access)
    if request.POST.get("role") in CourseRole.values and request.POST["role"] not in roles:
        raise PermissionDenied  # An instructor naming someone instructor: never offered.
    form = RoleAddForm(request.POST, roles=roles, may_invite=access.is_admin)
    if not form.is_valid():
        return _people_page(request, course, access, form=form)
    person, role = form.cleaned_data["person"], form.cleaned_data["role"]
    try:
        if person is None:
            person = course_role_invite(
                course=course, email=form.invite_email, role=role, by=request.user
            )
        else:
            services.course_role_add(course=course, user=person, role=role, by=request.user)
    except services.Refused as refusal:
        form.add_error("person", str(refusal))
        return _people_page(request, course, access, form=form)
    if form.invite_email:
        message = (
            f"Invited {person.email} as {CourseRole(role).with_article}: their account "
            f"({person.username}) is made and they are emailed a link to choose a password."
        )
    else:
        message = f"{person.display_name} is now {CourseRole(role).with_article}."
    return _refused_or_done(request, course, access, message, error=False)


@vary_on_headers("HX-Request")
@require_POST
def course_people_remove(request: HtmxHttpRequest, pk: int, user_pk: int):
    """Admins take away an instructor or TA role; the course's instructors take away a
    TA role only. Refused for one's own role and for the course's last instructor."""
    course, access = course_to_staff(request.user, pk)
    person = get_object_or_404(User, pk=user_pk)
    role = request.POST.get("role")
    if role not in CourseRole.values:
        return _refused_or_done(request, course, access, "Choose a role to remove.", error=True)
    if role not in roles_to_give(access):
        raise PermissionDenied
    try:
        services.course_role_remove(course=course, user=person, role=role, by=request.user)
    except services.Refused as refusal:
        return _refused_or_done(request, course, access, str(refusal), error=True)
    message = f"{person.display_name} is no longer {CourseRole(role).with_article}."
    return _refused_or_done(request, course, access, message, error=False)


@vary_on_headers("HX-Request")
@require_POST
def course_ta_cohorts(request: HtmxHttpRequest, pk: int, user_pk: int):
    """Limit one of the course's TAs to some of its cohorts (none chosen: every cohort),
    for whoever gives the TA role here (its instructors and admins)."""
    course, access = course_to_staff(request.user, pk)
    if CourseRole.TA not in roles_to_give(access):
        raise PermissionDenied
    person = get_object_or_404(course.teaching_assistants.all(), pk=user_pk)
    form = TaCohortsForm(request.POST, course=course)
    if not form.is_valid():
        message = "; ".join(form.errors["cohorts"]) or "Choose among this course's cohorts."
        return _refused_or_done(request, course, access, message, error=True)
    chosen = form.cleaned_data["cohorts"]
    try:
        services.ta_cohorts_set(course=course, user=person, cohorts=chosen, by=request.user)
    except services.Refused as refusal:
        return _refused_or_done(request, course, access, str(refusal), error=True)
    names = ", ".join(sorted(cohort.name for cohort in chosen))
    message = (
        f"{person.display_name} now sees and grades only {names}."
        if names
        else f"{person.display_name} now sees and grades every cohort."
    )
    return _refused_or_done(request, course, access, message, error=False)


# The people directory ---------------------------------------------------------------


def _directory_query(request) -> str:
    """The search and page the directory shows, to come back to after a change."""
    shown = {key: request.POST.get(key) or request.GET.get(key) for key in ("q", "status")}
    page = parse_int(request.POST.get("page") or request.GET.get("page"), low=1)
    return urlencode({k: v for k, v in {**shown, "page": page}.items() if v})


@require_GET
@vary_on_headers("HX-Request")
@staff_required
def people_directory(request: HtmxHttpRequest):
    """Admins only: every account, searched by name, username, email or student number,
    50 a page, each with whether it is active or an admin and how many cohorts it is in,
    and a button to deactivate or reactivate it."""
    form = PeopleSearchForm(request.GET)
    people = form.filter(User.objects.annotate(cohort_count=Count("memberships")))
    paginator = Paginator(people.order_by("last_name", "first_name", "username"), PAGE_SIZE)
    page = paginator.get_page(parse_int(request.GET.get("page"), low=1) or 1)
    query = {k: v for k, v in request.GET.items() if k in ("q", "status") and v}
    context = {
        "form": form,
        "page": page,
        "query": urlencode(query),
        "here": _directory_query(request),
    }
    template = "cases/people/people_directory.html" + ("#results" if _partial(request) else "")
    return render(request, template, context)


def _back_to_directory(request):
    query = _directory_query(request)
    return redirect(reverse("cases:people_directory") + (f"?{query}" if query else ""))


@require_http_methods(["GET", "POST"])
@staff_required
def person_deactivate(request: HtmxHttpRequest, pk: int):
    """Admins only: deactivate an account (it can no longer sign in; its sessions end;
    its work and grades stay). A GET, or a POST without `confirm=yes` (a stale form, a
    replayed request), only asks: "Deactivate X?" with Confirm and Cancel; the POST
    from that page does it. An admin cannot deactivate themselves."""
    person = get_object_or_404(User.objects.annotate(cohort_count=Count("memberships")), pk=pk)
    if request.method == "GET" or request.POST.get("confirm") != "yes":
        if not person.is_active:
            messages.info(request, f"{person.display_name} is already deactivated.")
            return _back_to_directory(request)
        context = {
            "person": person,
            "here": _directory_query(request),
            "untaught": services.courses_only_taught_by(person),
        }
        return render(request, "cases/people/person_deactivate.html", context)
    try:
        services.user_deactivate(user=person, by=request.user)
    except services.Refused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, f"{person.display_name}'s account is deactivated.")
    return _back_to_directory(request)


@require_POST
@staff_required
def person_reactivate(request: HtmxHttpRequest, pk: int):
    """Admins only: reactivate a deactivated account; it signs in again as before."""
    person = get_object_or_404(User, pk=pk)
    try:
        services.user_reactivate(user=person, by=request.user)
    except services.Refused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, f"{person.display_name}'s account is active again.")
    return _back_to_directory(request)


# The audit log ----------------------------------------------------------------------


def readable(value) -> str:
    """A before/after JSON value as text: a dict as "key: value" pairs."""
    if value is None or value == {}:
        return "—"
    if isinstance(value, dict):
        return "; ".join(f"{key}: {readable(v)}" for key, v in value.items())
    if isinstance(value, list):
        return ", ".join(readable(v) for v in value)
    return str(value)


def _audit_entries(form: AuditFilterForm):
    return form.filter(AuditEntry.objects.select_related("actor", "subject", "cohort", "course"))


@require_GET
@vary_on_headers("HX-Request")
@staff_required
def audit_log(request: HtmxHttpRequest):
    """Admins only: the audit log, newest first, 50 a page, filtered by action, by who
    made the change, by whom it was about, by cohort, by course and by date."""
    form = AuditFilterForm(request.GET)
    paginator = Paginator(_audit_entries(form), PAGE_SIZE)
    page = paginator.get_page(parse_int(request.GET.get("page"), low=1) or 1)
    for entry in page:
        entry.before_text, entry.after_text = readable(entry.before), readable(entry.after)
    query = urlencode({k: v for k, v in request.GET.items() if k != "page" and v})
    context = {
        "form": form,
        "page": page,
        "query": query,
        "zone": timezone.get_current_timezone_name(),
    }
    template = "cases/people/audit_log.html" + ("#results" if _partial(request) else "")
    return render(request, template, context)


@never_cache
@require_GET
@staff_required
def audit_csv(request: HtmxHttpRequest):
    """Admins only: the filtered audit log as a CSV file, newest first, streamed (UTF-8
    with a byte-order mark; no cell can run as a formula)."""
    entries = _audit_entries(AuditFilterForm(request.GET))
    writer = csv.writer(CsvEcho())
    header = ["When (UTC)", "By", "Action", "About", "Cohort", "Course", "Summary"]
    header += ["Before", "After"]

    def lines():
        yield "\ufeff"
        yield writer.writerow(header)
        for e in entries.iterator(chunk_size=2000):
            values = [
                e.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                e.actor.username if e.actor else "system",
                e.get_action_display(),
                e.subject.username if e.subject else "",
                e.cohort.name if e.cohort else "",
                e.course.code if e.course else "",
                e.summary,
                readable(e.before),
                readable(e.after),
            ]
            yield writer.writerow([csv_cell(v) for v in values])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
    return response


@require_POST
@staff_required
def person_invite(request: HtmxHttpRequest, pk: int):
    """Admins only: email an account that has no password yet a fresh link to choose
    one (a roster import sends the first)."""
    person = get_object_or_404(User, pk=pk)
    if not person.email or person.has_usable_password() or not person.is_active:
        messages.error(request, f"{person.display_name} has no pending invitation to resend.")
    else:
        invitation_resend(person, by=request.user)
        messages.success(request, f"Sent {person.email} a new link to choose a password.")
    return _back_to_directory(request)
