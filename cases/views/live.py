"""Live class: the instructor's console and projector, students' phones, the cold-call
picker and participation marks.

The projector and the console poll every second with conditional GET: an unchanged
session answers 304 after one query, before any template is touched. Phones poll every
three seconds carrying the version they show, and an unchanged session answers 204, so
htmx never replaces a half-filled answer form.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, OuterRef, Prefetch, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from cases.compiled import compiled
from cases.forms.live import (
    JoinForm,
    LiveAnswerForm,
    LiveClassForm,
    LiveStartForm,
    MarkForm,
    PollForm,
)
from cases.http import HtmxHttpRequest, not_modified, parse_int, shared_fragment
from cases.models import (
    ColdCall,
    ItemKind,
    LiveAnswer,
    LiveAttendance,
    LivePoll,
    LiveSession,
    ModuleItem,
    ParticipationMark,
    PollKind,
    PollState,
)
from cases.permissions import (
    CourseAccess,
    LiveAccess,
    access_live_session,
    access_live_session_joined,
    course_to_grade,
    course_to_teach,
    graded_cohorts,
    graded_students,
    grades_every_cohort,
    item_sessions_to_join,
    joined_session_version,
    live_access,
    live_phone_version,
    live_session_runner,
    live_session_students,
    live_session_to_run,
    live_sessions_with_access,
)
from cases.services import live as services
from cases.views.errors import htmx_alert


def _with_counts(queryset):
    """Sessions annotated with what the projector shows besides the session row: how
    many answered the poll on screen, when an answer last changed, and how many joined.
    Together with the row's version they make the ETag."""
    answers = LiveAnswer.objects.filter(poll=OuterRef("current_poll")).values("poll")
    joined = LiveAttendance.objects.filter(session=OuterRef("pk")).values("session")
    return queryset.annotate(
        answer_count=Coalesce(Subquery(answers.annotate(n=Count("pk")).values("n")), 0),
        answered_at=Subquery(answers.annotate(at=Max("updated_at")).values("at")),
        joined_count=Coalesce(Subquery(joined.annotate(n=Count("pk")).values("n")), 0),
    )


def _etag(session: LiveSession, view: str) -> str:
    """Whether the session runs is part of it: a session stops running by time
    (`LIVE_STALE_AFTER`) with its version unmoved."""
    answered = session.answered_at.timestamp() if session.answered_at else 0
    return (
        f'W/"live-{view}-{session.pk}-v{session.version}-a{session.answer_count}'
        f'-{answered}-j{session.joined_count}-r{int(session.is_running)}"'
    )


def _with_etag(response, etag: str):
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-store"
    return response


def _poll_context(session: LiveSession) -> dict:
    poll = session.current_poll
    return {"poll": poll, "results": services.poll_results(poll) if poll else None}


def _join_url(request, session: LiveSession) -> str:
    return request.build_absolute_uri(reverse("cases:live_join_code", args=[session.join_code]))


# Joining -----------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def live_join(request: HtmxHttpRequest):
    """Anyone signed in: type the code on the screen to join a running session. Only a
    session for the user is found; a wrong code and someone else's session read the
    same."""
    form = JoinForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        session = (
            live_sessions_with_access(request.user)
            .filter(join_code=form.cleaned_data["code"])
            .first()
        )
        access = live_access(session, request.user) if session else None
        if access is None or not (access.may_join or access.runs):
            form.add_error("code", "No running session has that code for you. Check the screen.")
        elif not session.is_running:
            form.add_error(
                "code",
                f"No running session has that code for you: “{session.title}” has ended. "
                "Check the screen for today's code.",
            )
        else:
            if access.may_join and not access.runs:
                services.join(session, request.user)
            return redirect(session)
    return render(request, "cases/live/join.html", {"form": form})


@require_GET
def live_join_code(request: HtmxHttpRequest, code: str):
    """The address on the projector: the join form with the code filled in (joining
    changes data, so it is a button press, not this GET). Those already in go on."""
    session = (
        live_sessions_with_access(request.user).running().filter(join_code=code.upper()).first()
    )
    access = live_access(session, request.user) if session else None
    if access is not None and (access.joined or access.runs):
        return redirect(session)
    return render(request, "cases/live/join.html", {"form": JoinForm(initial={"code": code})})


@require_POST
def live_session_join(request: HtmxHttpRequest, pk: int):
    """Students the session is for join it (again is harmless); its staff run it."""
    session, access = access_live_session(request.user, pk)
    if not access.may_join or access.runs:
        raise PermissionDenied
    try:
        services.join(session, request.user)
    except services.LiveRefused as refusal:
        messages.error(request, str(refusal))
    return redirect(session)


# The student's phone -----------------------------------------------------------------


def _phone_version(session: LiveSession, seen: str | None = None) -> str | None:
    """The `live_phone_version` a phone is given with what it shows. While the results
    of an open poll are shown, their counts are not on the session's row: `seen` is
    what `joined_session_version` read before the page was drawn (so never newer than
    it), else None, which no poll matches: the phone's next poll draws it again."""
    poll = session.current_poll
    running = session.is_running
    if running and poll is not None and poll.results_shown and poll.state == PollState.OPEN:
        return seen
    return live_phone_version(session.version, running)


def _student_context(
    request, session: LiveSession, access: LiveAccess, form=None, seen: str | None = None
) -> dict:
    poll = session.current_poll
    mine = getattr(session, "my_answer", None)  # Loaded with the session, or asked now.
    if poll is not None and not hasattr(session, "my_answer"):
        mine = _my_answer.first(poll=poll, user=request.user)
    if poll is not None and poll.state == PollState.OPEN and form is None:
        form = LiveAnswerForm(poll=poll, initial=LiveAnswerForm.initial_for(poll, mine))
    shown = poll is not None and poll.results_shown
    return {
        "session": session,
        "course": session.course,
        "access": access,
        "poll": poll,
        "mine": mine,
        "mine_text": services.answer_text(poll, mine),
        "form": form,
        "results": services.poll_results(poll) if shown else None,
        "version": _phone_version(session, seen),
    }


@compiled
def _my_answer(poll, user):
    return LiveAnswer.objects.filter(poll=poll, user=user).order_by("pk")[:1]


@require_GET
@vary_on_headers("HX-Request")
def live_state(request: HtmxHttpRequest, pk: int):
    """Students the session is for: the poll on screen, their answer and any revealed
    results, for the phone to poll. `known` is the version the phone shows: while the
    session has not changed the answer is 204 and htmx leaves the page alone."""
    known = request.GET.get("known")
    seen = joined_session_version(request.user, pk) if known is not None else None
    if known is not None and known == seen:
        return HttpResponse(status=204)  # Joined, and nothing changed: one query.
    session, access = access_live_session_joined(request.user, pk, with_answer=True)
    if access.runs:
        return redirect(session)
    if not access.may_join:
        raise PermissionDenied  # A TA, and another section's class.
    version = _phone_version(session, seen)
    if version is not None and known == version:
        return HttpResponse(status=204)
    context = _student_context(request, session, access, seen=seen)
    if not request.htmx or request.htmx.history_restore_request:
        return render(request, "cases/live/student.html", context)
    return _live_state(request, session, access, context)


def _live_state(request, session: LiveSession, access: LiveAccess, context: dict):
    """The phone's live state. When the session changes, 300 phones ask within three
    seconds, nearly all in the same state (no answer yet, or one of a few options): it
    is rendered once for them all (`_shared_state_key`)."""
    key = _shared_state_key(session, access, context)
    if key is None:
        return render(request, "cases/live/student.html#live-state", context)
    return HttpResponse(
        shared_fragment(
            request,
            key,
            lambda extra: render_to_string(
                "cases/live/student.html#live-state", context | extra, request
            ),
        )
    )


def _shared_state_key(session: LiveSession, access: LiveAccess, context: dict) -> str | None:
    """What shapes a phone's live state, when phones in the same state see the same
    fragment: the session's version, the poll, and the student's answer when it is a
    pick (a free answer is the student's own). None when it is not shared: a word
    answered, or results shown while answers still come in (counts that move without
    the version)."""
    poll, mine = context["poll"], context["mine"]
    if poll is not None and mine is not None and poll.kind == PollKind.WORD:
        return None
    if context["results"] is not None and poll.state == PollState.OPEN:
        return None
    answer = None if mine is None else (tuple(mine.choices or ()), mine.value)
    return (
        f"live-state:{session.pk}:{session.version}:{session.is_running}:{access.joined}:"
        f"{poll.pk if poll else None}:{poll.state if poll else None}:{answer}"
    )


@require_POST
@vary_on_headers("HX-Request")
def live_answer(request: HtmxHttpRequest, pk: int):
    """Students the session is for answer the open poll (again, to change it). Answering
    joins a student who had not pressed Join. A bad answer comes back with its message
    and what was chosen; a poll that closed meanwhile says so. Every answer asks the full
    access rule, never attendance alone: a student taken out of the cohort mid-class is
    refused at their next answer."""
    session, access = access_live_session(request.user, pk)
    if access.runs or not access.may_join:
        raise PermissionDenied
    # The poll the phone showed; without one, the poll on screen.
    poll_id = parse_int(request.POST.get("poll"), low=1)
    poll = session.current_poll
    if poll_id is not None and (poll is None or poll.pk != poll_id):
        poll = get_object_or_404(LivePoll, session=session, pk=poll_id)
    if poll is None or poll.pk != session.current_poll_id or poll.state != PollState.OPEN:
        return _not_saved(request, session, "That poll closed before your answer arrived.")
    form = LiveAnswerForm(request.POST, poll=poll)
    status = 200
    if form.is_valid():
        try:
            if not access.joined:
                services.join(session, request.user)
                access = LiveAccess(course=access.course, may_join=True, joined=True)
            services.answer_save(
                session=session, poll=poll, user=request.user, answer=form.cleaned_answer()
            )
        except services.LiveRefused as refusal:
            return _not_saved(request, session, str(refusal))
        if not request.htmx:
            return redirect(session)
        form = None
    else:
        status = 400 if request.htmx else 200
    context = _student_context(request, session, access, form=form)
    if request.htmx and status == 200:  # The answer saved: the phone's new state.
        return _live_state(request, session, access, context)
    if request.htmx:
        response = render(request, "cases/live/student.html#live-state", context, status=status)
        response["HX-Reswap"] = "outerHTML"  # Swap the form with its messages all the same.
        return response
    return render(request, "cases/live/student.html", context)


def _not_saved(request, session: LiveSession, message: str, title: str = "Not saved"):
    """A refusal: in the page's alert region for htmx (what was typed stays in its
    form), else said on the page the browser goes back to."""
    if request.htmx:
        return htmx_alert(request, title=title, message=message, status=409)
    messages.error(request, message)
    return redirect(session)


# The room: projector and console -------------------------------------------------------


@require_GET
@vary_on_headers("HX-Request")
def live_projector(request: HtmxHttpRequest, pk: int):
    """Those who run the session: the join code and the poll on screen, large, for the
    room. htmx polls it every second; unchanged, it is a 304 after one query."""
    session, _access = live_session_to_run(request.user, pk, _with_counts)
    etag = _etag(session, "projector")
    partial = request.htmx and not request.htmx.history_restore_request
    if partial and (unchanged := not_modified(request, etag)):
        return unchanged
    join_url = _join_url(request, session)
    context = {
        "session": session,
        "course": session.course,
        "join_url": join_url,
        "join_qr": services.join_qr_svg(join_url) if session.is_running else None,
        "etag": etag,
        **_poll_context(session),
    }
    template = "cases/live/projector.html" + ("#projector-board" if partial else "")
    return _with_etag(render(request, template, context), etag)


def _students(request, session: LiveSession, access: LiveAccess):
    """The students this user may call on and mark: those they grade whom the session
    is for."""
    return live_session_students(request.user, session, access.course)


def _roster(request, session: LiveSession, access: LiveAccess) -> list:
    """Students who joined, quietest first, each with their marks this session; those
    found not there when called on have `absent_call`."""
    joined = services.joined_students(session, _students(request, session, access))
    marks = ParticipationMark.objects.filter(session=session).order_by("created_at")
    return list(
        services.with_spoken(session.course, joined)
        .order_by("spoken", "last_name", "first_name", "username")
        .prefetch_related(Prefetch("participation_marks", queryset=marks, to_attr="session_marks"))
    )


def _console_context(
    request, session: LiveSession, access: LiveAccess, *, caller: bool = True, **extra
) -> dict:
    """The console's context; without the cold caller and the roster (a query over every
    present student) when `caller` is False, for the parts that do not show them."""
    context = {
        "session": session,
        "course": session.course,
        "access": access,
        "join_url": _join_url(request, session),
        # In the order they were added (the model's `ordering`, which Django leaves out
        # of a query with an aggregate).
        "polls": session.polls.annotate(n=Count("answers")).order_by("position", "pk"),
        "poll_form": extra.pop("poll_form", None) or PollForm(course=session.course),
        "mark_form": extra.pop("mark_form", None),
        "etag": _etag(session, "console"),
        "nav_teaches": True,
        **_poll_context(session),
        **extra,
    }
    if caller:
        roster = _roster(request, session, access)
        context |= {
            "call": services.current_call(session),
            "roster": [student for student in roster if student.absent_call is None],
            "not_there": [student for student in roster if student.absent_call is not None],
        }
        context["present"] = len(context["roster"])
    return context


# The console's partials that show no cold caller and no roster: a poll launched,
# revealed or closed in front of 300 students re-renders the polls alone.
_WITHOUT_CALLER = {"console-polls"}


def _console(request, session, access, *, partial: str = "", status: int = 200, **extra):
    context = _console_context(
        request, session, access, caller=partial not in _WITHOUT_CALLER, **extra
    )
    template = "cases/live/console.html" + (f"#{partial}" if partial else "")
    return render(request, template, context, status=status)


@require_GET
@vary_on_headers("HX-Request")
def live_session(request: HtmxHttpRequest, pk: int):
    """A live session: the console for those who run it (the board polls every second,
    304 when unchanged), the phone page for its students."""
    session, access = access_live_session(
        request.user, pk, _with_counts(live_sessions_with_access(request.user))
    )
    if not access.runs:
        if not access.may_join:
            raise PermissionDenied  # A TA, and another section's class.
        return render(
            request, "cases/live/student.html", _student_context(request, session, access)
        )
    etag = _etag(session, "console")
    if request.htmx and not request.htmx.history_restore_request:
        if unchanged := not_modified(request, etag):
            return unchanged
        context = {
            "session": session,
            "access": access,
            "etag": etag,
            **_poll_context(session),
        }
        return _with_etag(render(request, "cases/live/console.html#console-board", context), etag)
    return _console(request, session, access)


def _after_action(request, session_pk: int, partial: str):
    """A console action is done: htmx gets the changed part, a plain form the console."""
    if not request.htmx:
        return redirect("cases:live_session", pk=session_pk)
    session, access = live_session_to_run(request.user, session_pk, _with_counts)
    return _console(request, session, access, partial=partial)


@require_POST
@vary_on_headers("HX-Request")
def live_poll_create(request: HtmxHttpRequest, pk: int):
    """Those who run the session add a poll (written, or from the course's question
    bank) and may launch it at once."""
    session, access = live_session_to_run(request.user, pk, _with_counts)
    if not session.is_running:
        return _not_saved(request, session, "This live session has ended.")
    form = PollForm(request.POST, course=session.course)
    if not form.is_valid():
        partial = "console-polls" if request.htmx else ""
        return _console(request, session, access, partial=partial, poll_form=form)
    data = form.cleaned_data
    poll = services.poll_create(
        session=session,
        kind=data["kind"],
        prompt=data["prompt"],
        options=data.get("options") or [],
        question=data.get("question"),
        after=data.get("after"),
    )
    if data["launch"]:
        try:
            services.poll_launch(poll)
        except services.LiveRefused as refusal:
            messages.error(request, str(refusal))
    return _after_action(request, session.pk, "console-polls")


POLL_ACTIONS = {
    "launch": lambda poll: services.poll_launch(poll),
    "reveal": lambda poll: services.poll_update(poll, results_shown=True),
    "hide": lambda poll: services.poll_update(poll, results_shown=False),
    "close": lambda poll: services.poll_update(poll, close=True),
}


@require_POST
@vary_on_headers("HX-Request")
def live_poll_control(request: HtmxHttpRequest, pk: int):
    """Those who run the session launch a poll, reveal or hide its results, or close
    it."""
    poll = get_object_or_404(LivePoll.objects.select_related("session"), pk=pk)
    session, _access = live_session_to_run(request.user, poll.session_id)
    action = POLL_ACTIONS.get(request.POST.get("action", ""))
    if action is None:
        return HttpResponse("Unknown action.", status=400)
    try:
        action(poll)
    except services.LiveRefused as refusal:
        return _not_saved(request, session, str(refusal), title="Not launched")
    return _after_action(request, session.pk, "console-polls")


@require_POST
def live_end(request: HtmxHttpRequest, pk: int):
    """Those who run the session end it: the open poll closes, nobody joins any more."""
    session, _access = live_session_to_run(request.user, pk)
    services.session_end(session)
    messages.success(request, f"Ended “{session.title}”.")
    return redirect(session)


@require_POST
@vary_on_headers("HX-Request")
def live_cold_call(request: HtmxHttpRequest, pk: int):
    """Those who run the session pick a present student to call on (favouring those who
    have spoken least), record that the one picked is not there, or that one found not
    there is back."""
    session, access = live_session_to_run(request.user, pk)
    action = request.POST.get("action")
    if action in ("absent", "here"):
        call = get_object_or_404(
            ColdCall, session=session, pk=parse_int(request.POST.get("call"), low=1) or 0
        )
        if action == "absent":
            services.cold_call_absent(call)
        else:
            services.cold_call_here(call)
    else:
        call = None
        if session.is_running:
            call = services.cold_call_pick(
                session=session,
                by=request.user,
                students=_students(request, session, access),
                after=parse_int(request.POST.get("after"), low=0),
            )
        if call is None:
            message = (
                "Nobody else present to call on."
                if session.is_running
                else "This live session has ended."
            )
            if request.htmx:
                return htmx_alert(request, title="No one to pick", message=message, status=409)
            messages.info(request, message)
    return _after_action(request, session.pk, "console-caller")


@require_POST
@vary_on_headers("HX-Request")
def live_mark(request: HtmxHttpRequest, pk: int):
    """Those who run the session mark a contribution: +1 or +2 with a note, for a
    student they grade."""
    session, access = live_session_to_run(request.user, pk)
    form = MarkForm(request.POST)
    if not form.is_valid():
        message = "Choose +1 or +2; a note is at most 200 characters."
        if request.htmx:
            return htmx_alert(request, title="Not marked", message=message, status=400)
        messages.error(request, message)
        return redirect(session)
    data = form.cleaned_data
    student = get_object_or_404(_students(request, session, access), pk=data["student"])
    call = None
    if data["call"]:
        call = get_object_or_404(ColdCall, session=session, pk=data["call"], student=student)
    services.mark_add(
        session=session,
        student=student,
        points=data["points"],
        note=data["note"],
        by=request.user,
        call=call,
        seen=data["seen"],
    )
    return _after_action(request, session.pk, "console-caller")


@require_POST
@vary_on_headers("HX-Request")
def live_mark_delete(request: HtmxHttpRequest, pk: int):
    """Those who run the session take back a mark given by mistake."""
    mark = get_object_or_404(
        ParticipationMark.objects.select_related("session__item", "cold_call"), pk=pk
    )
    session, access = live_session_to_run(request.user, mark.session_id)
    graded = graded_students(request.user, session.course, access.course)
    if not graded.filter(pk=mark.student_id).exists():
        raise Http404
    mark.session = session
    services.mark_remove(mark)
    return _after_action(request, session.pk, "console-caller")


# Starting sessions -----------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def live_sessions(request: HtmxHttpRequest, pk: int):
    """The course's graders: its live sessions, newest first, with attendance and
    marks, and a form to start one (ad hoc, or for a live-session item)."""
    course, access = course_to_grade(request.user, pk)
    form = LiveStartForm(
        request.POST or None,
        course=course,
        cohorts=graded_cohorts(request.user, course, access),
        every=grades_every_cohort(request.user, course, access),
        initial=_start_initial(request),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        session = services.session_start(
            course=course,
            by=request.user,
            title=data["title"],
            item=data["item"],
            cohort=data["cohort"],
        )
        if getattr(session, "resumed", False):
            said = f"“{session.title}” is already running. Join code: {session.join_code}."
            messages.info(request, said)
        else:
            said = f"Started “{session.title}”. Join code: {session.join_code}."
            for old in session.ended_stale:
                since = timezone.localtime(old.started_at)
                said += f" Ended “{old.title}”, left running since {since:%a %d %b}."
            messages.success(request, said)
        return redirect(session)
    # Newest first, ordered here: Django leaves the model's `ordering` out of a query
    # with an aggregate.
    sessions = (
        course.live_sessions.select_related("item", "cohort")
        .annotate(
            joined=Count("attendance", distinct=True),
            mark_total=Coalesce(Subquery(_mark_totals()), 0),
        )
        .order_by("-started_at", "-pk")
    )
    # A TA sees the classes they run, not another section's.
    runs = live_session_runner(request.user, course, access)
    sessions = [session for session in sessions if runs(session)]
    return render(
        request,
        "cases/live/sessions.html",
        {"course": course, "access": access, "form": form, "sessions": sessions},
    )


def _mark_totals():
    return (
        ParticipationMark.objects.filter(session=OuterRef("pk"))
        .values("session")
        .annotate(n=Count("pk"))
        .values("n")
    )


def _start_initial(request) -> dict:
    return {
        "title": f"Class, {timezone.localdate():%d %b %Y}",
        "item": parse_int(request.GET.get("item"), low=1),
    }


def item_live_class(
    request: HtmxHttpRequest,
    item: ModuleItem,
    access: CourseAccess,
    form: LiveClassForm | None = None,
    status: int = 200,
):
    """A live-session item: its grading rule and its sessions for the staff (with the
    button to start one; `form`, the rule as typed and refused); for students, the
    running session to join."""
    live = getattr(item, "live_class", None)
    if live is None:
        return None
    live.item = item
    if access.can_grade:
        sessions = (
            item.live_sessions.select_related("cohort")
            .annotate(joined=Count("attendance", distinct=True))
            .order_by("-started_at", "-pk")  # Newest first (not the model's: an aggregate).
        )
        # A TA is offered the classes they run, not another section's.
        runs = live_session_runner(request.user, item.module.course, access)
        sessions = [session for session in sessions if runs(session)]
    else:
        sessions = item_sessions_to_join(request.user, item)
    return render(
        request,
        "cases/live/item.html",
        {
            "item": item,
            "course": item.module.course,
            "access": access,
            "live": live,
            "sessions": sessions,
            "form": form or (LiveClassForm(instance=live) if access.can_teach else None),
        },
        status=status,
    )


@require_POST
def live_class_settings(request: HtmxHttpRequest, pk: int):
    """The course's teachers set how a live-session item is graded; every student's
    score follows."""
    item = get_object_or_404(
        ModuleItem.objects.select_related("live_class", "module"), pk=pk, kind=ItemKind.LIVE_SESSION
    )
    course, access = course_to_teach(request.user, item.module.course_id)
    live = getattr(item, "live_class", None)
    if live is None:
        raise Http404
    form = LiveClassForm(request.POST, instance=live)
    if not form.is_valid():
        # The page again, each reason beside its field and the numbers as typed.
        item.module.course = course
        live.refresh_from_db()  # The page's sentence states the rule in force.
        return item_live_class(request, item, access, form=form, status=400)
    services.live_class_update(live=form.save(commit=False))
    messages.success(request, "Saved how this class meeting is graded.")
    return redirect(item)
