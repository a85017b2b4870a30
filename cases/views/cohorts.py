"""Cohorts. Admins create, rename, archive and restore them, attach them to courses,
look after their join codes and move or remove their members; anyone signed in joins a
cohort with its code; someone without an account creates one with a code, confirmed by
a link emailed to them. The writes (and their audit entries) are in
cases/services/cohorts/ and cases/services/cohorts/signup.py."""

import base64
import binascii

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_not_required
from django.db import IntegrityError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from cases.forms.cohorts import (
    CohortCourseForm,
    CohortFilterForm,
    CohortForm,
    JoinCodeExpiryForm,
    JoinCodeForm,
    MemberActionForm,
    RosterConfirmForm,
    RosterUploadForm,
    SignupFinishForm,
    SignupForm,
)
from cases.http import HtmxHttpRequest, parse_int
from cases.models import Cohort, Course, Membership, User
from cases.permissions import access_cohort, staff_required
from cases.services import cohorts as services
from cases.services.auth import (
    client_address,
    join_code_failure_record,
    join_code_lockout_remaining,
    lockout_minutes,
    signup_email_allowed,
    signup_lockout_remaining,
    signup_record,
)
from cases.services.cohorts.roster import RosterInvalid, roster_apply, roster_plan, roster_rejected
from cases.services.cohorts.signup import (
    SignupLinkRefused,
    signup_read,
    signup_request,
    user_signup,
)

MEMBERS_PER_PAGE = 50


def _fragment(request: HtmxHttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.history_restore_request


@require_http_methods(["GET", "POST"])
@staff_required
@vary_on_headers("HX-Request")
def cohort_list(request: HtmxHttpRequest):
    """Admins only: the active (or archived, or all) cohorts with their join codes,
    sizes and courses, and a form to create a cohort by name. htmx swaps only the
    list when the filter changes."""
    form = CohortForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        cohort = services.cohort_create(name=form.cleaned_data["name"], by=request.user)
        messages.success(request, f"Cohort “{cohort.name}” created. Its join code is shown below.")
        return redirect("cases:cohort_detail", pk=cohort.pk)
    filters = CohortFilterForm(request.GET)
    shown = filters.shown()
    # By name, ordered here: Django leaves the model's `ordering` out of a query with an
    # aggregate.
    cohorts = (
        Cohort.objects.annotate(member_count=Count("memberships"))
        .prefetch_related("courses")
        .order_by("name", "pk")
    )
    if shown == "active":
        cohorts = cohorts.filter(archived_at__isnull=True)
    elif shown == "archived":
        cohorts = cohorts.filter(archived_at__isnull=False)
    context = {"cohorts": cohorts, "form": form, "filters": filters, "shown": shown}
    template = "cases/cohorts/cohort_list.html"
    if request.method == "GET" and _fragment(request):
        template += "#cohort-results"
    return render(request, template, context)


def _member_form(cohort: Cohort, data=None) -> MemberActionForm:
    return MemberActionForm(
        data,
        members=User.objects.filter(memberships__cohort=cohort),
        cohorts=Cohort.objects.filter(archived_at__isnull=True)
        .exclude(pk=cohort.pk)
        .prefetch_related("courses"),
    )


def _cohort_page(request: HtmxHttpRequest, cohort: Cohort, **forms):
    """The cohort page, with any bound (invalid) form given in place of a blank one. The
    same queries whatever the cohort's size: the members are shown a page at a time."""
    pages = max(1, -(-cohort.member_count // MEMBERS_PER_PAGE))
    page = min(parse_int(request.GET.get("page") or request.POST.get("page"), low=1) or 1, pages)
    start = (page - 1) * MEMBERS_PER_PAGE
    memberships = (
        Membership.objects.filter(cohort=cohort)
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "user__username")[
            start : start + MEMBERS_PER_PAGE
        ]
    )
    member_form = forms.get("member_form") or _member_form(cohort)
    context = {
        "cohort": cohort,
        "memberships": memberships,
        "page": page,
        "pages": pages,
        "member_form": member_form,
        # The member checkboxes are drawn in the table, so an invalid form keeps them.
        "chosen": set(member_form.data.getlist("students")) if member_form.is_bound else set(),
    }
    if _fragment(request) and request.method == "GET":
        return render(request, "cases/cohorts/cohort_detail.html#cohort-members", context)
    context |= {
        "code_state": cohort.join_code_state(),
        "zone": timezone.get_current_timezone_name(),
        "courses": cohort.courses.all(),
        "rename_form": forms.get("rename_form") or CohortForm(instance=cohort),
        "expiry_form": forms.get("expiry_form")
        or JoinCodeExpiryForm(initial={"expires_at": cohort.join_code_expires_at}),
        "attach_form": forms.get("attach_form")
        or CohortCourseForm(courses=Course.objects.exclude(cohorts=cohort)),
        "detach_error": forms.get("detach_error"),
        "archive_error": forms.get("archive_error"),
    }
    return render(request, "cases/cohorts/cohort_detail.html", context)


@require_http_methods(["GET"])
@staff_required
@vary_on_headers("HX-Request")
def cohort_detail(request: HtmxHttpRequest, pk: int):
    """Admins only: one cohort, its join code, its courses and its members (50 a page;
    htmx swaps only the members when paging)."""
    return _cohort_page(request, access_cohort(request.user, pk))


def _back(cohort: Cohort, page: int | None = None):
    response = redirect("cases:cohort_detail", pk=cohort.pk)
    if page and page > 1:
        response["Location"] += f"?page={page}"
    return response


@require_POST
@staff_required
def cohort_rename(request: HtmxHttpRequest, pk: int):
    """Admins only: give the cohort a new name."""
    cohort = access_cohort(request.user, pk)
    form = CohortForm(request.POST)
    if not form.is_valid():
        return _cohort_page(request, cohort, rename_form=form)
    if services.cohort_rename(cohort=cohort, name=form.cleaned_data["name"], by=request.user):
        messages.success(request, f"Renamed to “{form.cleaned_data['name']}”.")
    return _back(cohort)


@require_POST
@staff_required
def cohort_archive(request: HtmxHttpRequest, pk: int):
    """Admins only: archive the cohort (members and work stay, the join code stops
    admitting, it leaves the active list) or restore it."""
    cohort = access_cohort(request.user, pk)
    archived = request.POST.get("archived") == "1"
    try:
        done = services.cohort_archive(cohort=cohort, archived=archived, by=request.user)
    except services.CohortRefused as refused:
        return _cohort_page(request, cohort, archive_error=str(refused))
    if done:
        if archived:
            messages.success(request, "Cohort archived. Its members and their work are kept.")
        else:
            messages.success(request, "Cohort restored.")
    return _back(cohort)


@require_POST
@staff_required
def cohort_courses(request: HtmxHttpRequest, pk: int):
    """Admins only: attach the cohort to a course (its members then take the course;
    refused while a member teaches it or is in another of its sections) or detach it
    (refused while the course still gives items to the cohort)."""
    cohort = access_cohort(request.user, pk)
    if request.POST.get("action") == "detach":
        form = CohortCourseForm(request.POST, courses=Course.objects.filter(cohorts=cohort))
        if not form.is_valid():
            return _back(cohort)  # Detached already (a second click): nothing to say.
        course = form.cleaned_data["course"]
        try:
            services.cohort_course_detach(cohort=cohort, course=course, by=request.user)
        except services.CohortRefused as refused:
            return _cohort_page(request, cohort, detach_error=(course.pk, str(refused)))
        messages.success(request, f"Detached from {course.code}.")
        return _back(cohort)
    form = CohortCourseForm(request.POST, courses=Course.objects.exclude(cohorts=cohort))
    if not form.is_valid():
        return _cohort_page(request, cohort, attach_form=form)
    course = form.cleaned_data["course"]
    try:
        services.cohort_course_attach(cohort=cohort, course=course, by=request.user)
    except services.CohortRefused as refused:
        form.add_error("course", str(refused))
        return _cohort_page(request, cohort, attach_form=form)
    messages.success(request, f"Attached to {course.code}: its members now take it.")
    return _back(cohort)


@require_POST
@staff_required
def cohort_join_code(request: HtmxHttpRequest, pk: int):
    """Admins only: a new random join code, the code switched on or off, or when it
    stops admitting set or cleared."""
    cohort = access_cohort(request.user, pk)
    action = request.POST.get("action")
    if action == "rotate":
        cohort = services.join_code_rotate(cohort=cohort, by=request.user)
        messages.success(request, f"New join code {cohort.join_code}; the old one no longer works.")
    elif action in ("enable", "disable"):
        enabled = action == "enable"
        if services.join_code_enable(cohort=cohort, enabled=enabled, by=request.user):
            messages.success(request, f"Join code {'on' if enabled else 'off'}.")
    else:
        form = JoinCodeExpiryForm(request.POST)
        if action == "clear":
            form = JoinCodeExpiryForm({"expires_at": ""})
        if not form.is_valid():
            return _cohort_page(request, cohort, expiry_form=form)
        expires_at = form.cleaned_data["expires_at"]
        if services.join_code_expire(cohort=cohort, expires_at=expires_at, by=request.user):
            messages.success(request, "Expiry saved." if expires_at else "Expiry cleared.")
    return _back(cohort)


@require_POST
@staff_required
def cohort_members(request: HtmxHttpRequest, pk: int):
    """Admins only: move the chosen members to another active cohort (their work goes
    with them; refused beside the target for anyone who teaches one of its courses or
    is in another of its sections) or remove them from this one (their accounts and
    work stay; their extensions on its items go)."""
    cohort = access_cohort(request.user, pk)
    form = _member_form(cohort, request.POST)
    if not form.is_valid():
        return _cohort_page(request, cohort, member_form=form)
    students = list(form.cleaned_data["students"])
    page = parse_int(request.POST.get("page"), low=1)
    if form.cleaned_data["action"] == "move":
        to = form.cleaned_data["to"]
        try:
            n = services.memberships_move(cohort=cohort, to=to, users=students, by=request.user)
        except services.CohortRefused as refused:
            form.add_error("to", str(refused))
            return _cohort_page(request, cohort, member_form=form)
        if n:
            messages.success(request, f"Moved {n} student{pluralize(n)} to {to.name}.")
    else:
        n = services.memberships_remove(cohort=cohort, users=students, by=request.user)
        if n:
            messages.success(
                request,
                f"Removed {n} student{pluralize(n)} from this cohort. The join code no longer"
                " lets them back in; a roster import that lists them does.",
            )
    return _back(cohort, page)


# Self-enrolment ------------------------------------------------------------------------


def _wait(what: str, remaining) -> str:
    minutes = lockout_minutes(remaining)
    return f"{what} Wait about {minutes} minute{pluralize(minutes)}, then try again."


@require_http_methods(["GET", "POST"])
def cohort_join(request: HtmxHttpRequest):
    """Anyone signed in: type a cohort's join code to become one of its members (again
    is harmless). An unknown, switched-off or expired code, or an archived cohort's, is
    refused beside the field; after too many wrong codes from the account or its
    address, every code is refused for a while (429)."""
    form = JoinCodeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        address = client_address(request.META)
        remaining = join_code_lockout_remaining(user_id=request.user.pk, address=address)
        if remaining is not None:
            form = JoinCodeForm(request.POST, wait=_wait("Too many wrong join codes.", remaining))
            status = 429
        elif form.is_valid():
            try:
                code = form.cleaned_data["code"]
                cohort, created = services.cohort_join(user=request.user, code=code)
            except services.JoinRefused as refused:
                if refused.wrong_code:
                    join_code_failure_record(user_id=request.user.pk, address=address)
                form.add_error("code", str(refused))
            else:
                if created:
                    messages.success(request, f"You joined {cohort.name}.")
                else:
                    messages.info(request, f"You are already in {cohort.name}.")
                return redirect("cases:home")
    return render(request, "cases/cohorts/cohort_join.html", {"form": form}, status=status)


SIGNUP_EMAIL_SESSION_KEY = "signup_email"


@login_not_required
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def signup(request: HtmxHttpRequest):
    """Anyone signed out: with a join code that admits students now, a username, names
    and an email, be sent a link to finish creating the account (the page answers the
    same whether or not the email has an account). A code that admits nobody is the
    only thing said until it is right. Too many wrong codes or sign-ups from one address
    refuse it for a while (429). Someone signed in is sent to join with the code
    instead."""
    if request.user.is_authenticated:
        return redirect("cases:cohort_join")
    form = SignupForm(request.POST or None)
    status = 200
    if request.method == "POST":
        address = client_address(request.META)
        remaining = signup_lockout_remaining(address=address)
        if remaining is not None:
            wait = _wait("Too many sign-up attempts from this network.", remaining)
            form = SignupForm(request.POST, wait=wait)
            status = 429
        elif form.is_valid():
            signup_record(address=address)
            data = form.cleaned_data
            if signup_email_allowed(email=data["email"]):
                signup_request(
                    email=data["email"],
                    username=data["username"],
                    first_name=data["first_name"],
                    last_name=data["last_name"],
                    cohort=form.cohort,
                )
            request.session[SIGNUP_EMAIL_SESSION_KEY] = data["email"]
            return redirect("cases:signup_sent")
        elif form.code_refused:
            join_code_failure_record(user_id=None, address=address)
        elif form.cohort is not None:
            signup_record(address=address)
    return render(request, "cases/cohorts/signup.html", {"form": form}, status=status)


@login_not_required
@require_GET
def signup_sent(request: HtmxHttpRequest):
    """Anyone: after signing up, where the link went (the same page whether or not the
    address has an account)."""
    context = {
        "email": request.session.get(SIGNUP_EMAIL_SESSION_KEY, ""),
        "days": settings.PASSWORD_RESET_TIMEOUT // 86400,
    }
    return render(request, "cases/cohorts/signup_sent.html", context)


def _link_refused(request: HtmxHttpRequest, refused: SignupLinkRefused):
    context = {"days": settings.PASSWORD_RESET_TIMEOUT // 86400, "reason": str(refused)}
    return render(request, "cases/cohorts/signup_link_refused.html", context)


@login_not_required
@sensitive_post_parameters("password1", "password2")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def signup_confirm(request: HtmxHttpRequest, token: str):
    """Anyone holding a sign-up link: the page shows the form (opening the link, as mail
    scanners do, makes nothing); choosing a password makes the account in the link's
    cohort, signs them in and lands them on their dashboard. A link that was used
    (its address has an account now), expired or forged says so."""
    try:
        details = signup_read(token)
    except SignupLinkRefused as refused:
        return _link_refused(request, refused)
    form = SignupFinishForm(request.POST or None, details=details)
    if request.method == "POST" and form.is_valid():
        cohort = details["cohort"]
        try:
            user = user_signup(
                username=form.cleaned_data["username"],
                first_name=details["first_name"],
                last_name=details["last_name"],
                email=details["email"],
                password=form.cleaned_data["password1"],
                cohort=cohort,
            )
        except SignupLinkRefused as refused:
            return _link_refused(request, refused)
        except IntegrityError:
            # Taken between the check and the insert: by a second click on this link
            # (the address has its account now), or by someone else.
            if User.objects.filter(email__iexact=details["email"]).exists():
                return _link_refused(request, SignupLinkRefused())
            form.add_error("username", "A user with that username already exists.")
        else:
            auth_login(request, user)
            messages.success(request, f"Welcome, {user.first_name}. You are in {cohort.name}.")
            return redirect("cases:home")
    context = {"form": form, "details": details}
    return render(request, "cases/cohorts/signup_confirm.html", context)


# Roster import -----------------------------------------------------------------------


SHOWN_ROWS = 100


def _page(request, cohort, *, form=None, plan=None, data: bytes = b"", invite=True, status=200):
    context = {
        "cohort": cohort,
        "form": form or RosterUploadForm(),
        "plan": plan,
        "invite": invite,
    }
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
        created = len(result.created)
        invited = f", {result.invited} invitation{pluralize(result.invited)} sent"
        messages.success(
            request,
            f"Imported into {cohort.name}: {created} new account{pluralize(created)}, "
            f"{result.updated} updated, {result.skipped} unchanged"
            f"{invited if result.invited else ''}.",
        )
        # Back to the cohort, whose members now include them.
        return redirect("cases:cohort_detail", pk=cohort.pk)
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
