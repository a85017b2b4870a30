"""LTI 1.3: Red Queen inside an LMS. The LMS starts a login (`lti_login`), the browser
comes back with a signed launch (`lti_launch`), and the person lands on their item,
signed in, with no Red Queen password; an instructor picks items to place in the LMS
course (`lti_deep_link`). Checks and records are in cases/services/lti.py."""

from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from lti_tool.models import Key, LtiRegistration
from lti_tool.views import jwks as published_keys
from pylti1p3.contrib.django import DjangoOIDCLogin
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.exception import OIDCException

from cases.http import HtmxHttpRequest
from cases.models import Assignment, Cohort, Course, ItemKind, LtiCourse, ModuleItem, User
from cases.permissions import access_item, course_to_teach, staff_required
from cases.services import lti as services

BACKEND = settings.AUTHENTICATION_BACKENDS[0]  # the site's own (a launch has no password)
# What an instructor may place in the LMS: the kinds a student opens and works on,
# which is every kind (each has its page and its grade, sent back to the LMS).
PLACEABLE = list(ItemKind)


def _refused(request, reason: str, status: int = 403):
    return render(request, "cases/lti/refused.html", {"reason": reason}, status=status)


@login_not_required
@csrf_exempt
@xframe_options_exempt
@require_http_methods(["GET", "POST"])
def lti_login(request: HtmxHttpRequest, uuid):
    """OIDC third-party login initiation: the LMS names itself and the resource; the
    browser is sent to the LMS's authorisation endpoint with a state and a nonce this
    tool keeps (in the database, each usable once)."""
    params = request.POST if request.method == "POST" else request.GET
    if not params.get("target_link_uri"):
        return _refused(request, "The LMS sent no target_link_uri.", status=400)
    if not services.has_key():
        return _refused(request, services.NO_KEY, status=503)
    oidc = DjangoOIDCLogin(
        request, services.ToolConfig(uuid), launch_data_storage=services.login_storage(request)
    )
    try:
        return (
            oidc.pass_params_to_launch({"issued": True})  # kept server-side, checked once
            .disable_check_cookies()
            .redirect(request.build_absolute_uri(reverse("cases:lti_launch")))
        )
    except OIDCException as error:
        return _refused(request, f"This LMS is not registered with Red Queen ({error}).", 400)


@login_not_required
@csrf_exempt
@xframe_options_exempt
@require_POST
def lti_launch(request: HtmxHttpRequest):
    """The signed launch. Checked in full before anything is recorded; then the LMS
    user's account, their role in the linked course, and the page they asked for."""
    try:
        lti_launch = services.launch_validate(request)
        arrival = services.launch_accept(lti_launch)
    except services.LaunchRefused as refused:
        return _refused(request, str(refused))
    login(request, arrival.user, backend=BACKEND)
    request.session["lti_launch_id"] = lti_launch.get_launch_id()
    request.session["lti_frame_origin"] = services.platform_origin(lti_launch)
    token = services.entry_token(arrival.user, _destination(request, lti_launch, arrival))
    return redirect("cases:lti_enter", token=token)


def _destination(request, lti_launch, arrival) -> str:
    """Where the launch leads: deep linking's picker, the course link page, the item
    the LMS link names (only one in the linked course), or the course."""
    if lti_launch.is_deep_link_launch:
        return _launch_page("cases:lti_deep_link", lti_launch.get_launch_id())
    if arrival.course is None:
        return _launch_page("cases:lti_link", lti_launch.get_launch_id())
    item_id = lti_launch.get_custom_claim("item") or _item_in(lti_launch)
    if not item_id:
        return arrival.course.get_absolute_url()
    try:  # Whether this person may open it: the one rule (access_item) every page asks.
        item, _access = access_item(arrival.user, int(item_id))
    except (Http404, TypeError, ValueError):
        item = None
    if item is None or item.module.course_id != arrival.course.pk:
        # The link outlived its item (deleted, moved), or it is not for their cohort.
        messages.info(
            request,
            f"The item this LMS link opens is not open to you in {arrival.course.code} "
            "(it may have been removed): here is the course.",
        )
        return arrival.course.get_absolute_url()
    return item.get_absolute_url()


def _item_in(lti_launch) -> str | None:
    """An item named by the launch's target_link_uri (/items/<pk>/), if it is one."""
    target = lti_launch.get_claim("https://purl.imsglobal.org/spec/lti/claim/target_link_uri")
    try:
        match = resolve(urlsplit(target or "").path)
    except Resolver404:
        return None
    return match.kwargs.get("pk") if match.url_name == "item_detail" else None


@login_not_required
@xframe_options_exempt
@require_GET
def lti_enter(request: HtmxHttpRequest, token: str):
    """The page after a launch. With Red Queen's cookie, straight on. Without it (a
    browser that blocks cookies in the LMS's frame), a link that opens the same place in
    a new tab, where the one-time token signs the person in."""
    entry = services.entry_peek(token)
    if entry is None:
        return _refused(request, "This link has expired or was used. Launch again from the LMS.")
    if request.user.is_authenticated and request.user.pk == entry["user"]:
        services.entry_take(token)
        return redirect(entry["next"])
    if request.GET.get("tab") == "1":
        entry = services.entry_take(token)
        if entry is None:
            return _refused(request, "This link was used already. Launch again from the LMS.")
        login(request, User.objects.get(pk=entry["user"]), backend=BACKEND)
        return redirect(entry["next"])
    return render(request, "cases/lti/new_tab.html", {"token": token})


def _launch_page(name: str, launch_id: str) -> str:
    """The address of a page that acts on one launch, naming it: each browser tab
    keeps its own launch, so two LMS courses open side by side do not mix."""
    return f"{reverse(name)}?{urlencode({'launch': launch_id})}"


def _launch(request):
    """The launch this page acts on: the one its address names, else the session's
    latest; only ever one the signed-in person made (else not found)."""
    launch_id = request.GET.get("launch") or request.session.get("lti_launch_id")
    lti_launch = services.launch_restore(request, launch_id, user=request.user)
    if lti_launch is None:
        raise Http404
    return lti_launch


@xframe_options_exempt
@require_http_methods(["GET", "POST"])
def lti_link(request: HtmxHttpRequest):
    """An instructor's first launch from an LMS course not yet linked: choose the Red
    Queen course it is. A learner is told their instructor has not done so yet."""
    lti_launch = _launch(request)
    context = lti_launch.context if lti_launch.context_claim else None
    if context is None:
        raise Http404
    if services.course_role(lti_launch) != services.INSTRUCTOR:
        return render(request, "cases/lti/waiting.html", {"context": context})
    if request.method == "POST" and (link := services.context_link(context)) is not None:
        # Connected since this page was drawn (its form sent twice, or by a colleague):
        # the LMS course is that course, as their next launch would make them find it.
        services.enrol(link, request.user, services.INSTRUCTOR)
        title = context.title or "The LMS course"
        messages.info(request, f"{title} is already connected to {link.course.code}.")
        return redirect(link.course)
    # A current cohort, or a new one: an archived cohort's term has ended.
    current = Prefetch("cohorts", queryset=Cohort.objects.current())
    courses = Course.objects.filter(instructors=request.user).prefetch_related(current)
    choices = {
        f"{course.pk}:{cohort.pk if cohort else 'new'}": (course, cohort)
        for course in courses.order_by("code")
        for cohort in [*course.cohorts.all(), None]
    }
    if request.method == "POST" and request.POST.get("course") == "new":
        link = services.course_for_context(context=context, user=request.user)
        messages.success(request, f"{link.course.code} is made for this LMS course.")
        return redirect(link.course)
    if request.method == "POST":
        chosen = choices.get(request.POST.get("course", ""))
        if chosen is None:
            messages.error(request, "Choose one of the courses you teach.")
        else:
            course, cohort = chosen
            services.course_link(context=context, course=course, user=request.user, cohort=cohort)
            messages.success(request, f"{context.title or 'The LMS course'} is now {course.code}.")
            return redirect(course)
    return render(request, "cases/lti/link.html", {"context": context, "choices": choices})


@xframe_options_exempt
@require_http_methods(["GET", "POST"])
def lti_deep_link(request: HtmxHttpRequest):
    """Deep linking: the instructor picks items of the linked course; the LMS gets a
    signed list of links, each launching straight to its item."""
    lti_launch = _launch(request)
    if not lti_launch.is_deep_link_launch or services.course_role(lti_launch) == services.LEARNER:
        raise Http404
    link = services.context_link(lti_launch.context) if lti_launch.context_claim else None
    if link is None:
        return redirect(_launch_page("cases:lti_link", lti_launch.get_launch_id()))
    arrival_course, cohort = link.course, link.cohort
    items = list(
        ModuleItem.objects.filter(module__course=arrival_course, kind__in=PLACEABLE)
        .select_related("module")
        .order_by("module__position", "position")
    )
    # An item not given to the LMS course's cohort is one its students cannot open
    # (their launch lands on the course page): the picker says so beside it.
    given = set(
        Assignment.objects.filter(cohort=cohort, item__in=items).values_list("item", flat=True)
    )
    for item in items:
        item.not_given = item.pk not in given
    settings_claim = lti_launch.get_claim(services.DEEP_LINKING_SETTINGS) or {}
    # Some places in an LMS take one item (Canvas's Assignment Selection says so).
    single = settings_claim.get("accept_multiple") is False
    chosen = []
    if request.method == "POST":
        chosen = [i for i in items if str(i.pk) in request.POST.getlist("items")]
        if not chosen:
            messages.error(request, "Choose at least one item to place.")
        elif single and len(chosen) > 1:
            messages.error(request, "This place in the LMS takes one item: choose one.")
        else:
            launch_url = request.build_absolute_uri(reverse("cases:lti_launch"))
            # A graded item is placed with its column in the LMS gradebook (the points
            # its LMS course's cohort is given), where its grades then go.
            points = dict(
                Assignment.objects.filter(item__in=chosen, cohort=link.cohort, points__gt=0)
                .values_list("item", "points")
            )  # fmt: skip
            for placed in services.items_with_columns(link.context, points):
                del points[placed]  # Placed before: a link to its one column.
            resources = []
            for item in chosen:
                resource = (
                    DeepLinkResource()
                    .set_url(launch_url)
                    .set_title(item.title)
                    .set_custom_params({"item": str(item.pk)})
                )
                if item.pk in points:
                    resource.set_lineitem(services.item_line_item(item, points[item.pk]))
                resources.append(resource)
            deep_link = lti_launch.get_message_launch().get_deep_link()
            return_url = settings_claim.get("deep_link_return_url", "")
            context = {"return_url": return_url, "jwt": deep_link.get_response_jwt(resources)}
            response = render(request, "cases/lti/deep_link_return.html", context)
            response._csp_config = services.csp_with_form_action(return_url)
            return response
    context = {
        "items": items,
        "course": arrival_course,
        "cohort": cohort,
        "single": single,
        "chosen": chosen,
    }
    return render(request, "cases/lti/deep_link.html", context)


@login_not_required
@require_GET
def lti_jwks(request: HtmxHttpRequest):
    """The tool's public keys, for platforms to check what Red Queen signs."""
    return published_keys(request)


@staff_required
@require_http_methods(["GET", "POST"])
def lti_config(request: HtmxHttpRequest):
    """Admins: the values an LMS admin pastes to install Red Queen, per registered
    platform, and the tool's key (made here the first time; rotated with
    `manage.py rotate_keys`)."""
    if request.method == "POST" and not Key.objects.active().exists():
        Key.objects.generate()
        messages.success(request, "The tool's first key is made and published.")
        return redirect("cases:lti_config")
    registrations = LtiRegistration.objects.prefetch_related("deployments").order_by("name")
    context = {
        "registrations": [
            (r, request.build_absolute_uri(reverse("cases:lti_login", args=[r.uuid])))
            for r in registrations
        ],
        "launch_url": request.build_absolute_uri(reverse("cases:lti_launch")),
        "jwks_url": request.build_absolute_uri(reverse("cases:lti_jwks")),
        "has_key": Key.objects.active().exists(),
    }
    return render(request, "cases/lti/config.html", context)


@require_http_methods(["GET", "POST"])
def lti_course(request: HtmxHttpRequest, pk: int):
    """A course's LMS links, for its instructors and admins: the LMS courses it is, the
    roster synced from each on demand (also nightly: `manage.py lti_sync`), and how its
    grades stand with the LMS gradebook."""
    course, _access = course_to_teach(request.user, pk)
    links = list(LtiCourse.objects.filter(course=course).select_related("context", "cohort"))
    if request.method == "POST" and request.POST.get("resend"):
        sent = services.grades_resend(course=course)
        if sent:
            said = "1 grade is" if sent == 1 else f"{sent} grades are"
            messages.success(request, f"{said} on its way to the LMS again.")
        else:
            messages.info(request, "No grade was waiting to be sent again.")
        return redirect("cases:lti_course", pk=course.pk)
    if request.method == "POST":
        link = next((x for x in links if str(x.pk) == request.POST.get("link")), None)
        if link is None:
            raise Http404
        try:
            change = services.roster_sync(link, by=request.user)
        except Exception as error:  # The LMS or the network: said, nothing half-done.
            messages.error(request, f"The LMS did not answer the roster request ({error}).")
        else:
            messages.success(request, change.summary)
        return redirect("cases:lti_course", pk=course.pk)
    context = {"course": course, "links": links, "grades": services.lms_grades_summary(course)}
    return render(request, "cases/lti/course.html", context)
