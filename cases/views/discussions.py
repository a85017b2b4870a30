import functools
import re
import uuid
from dataclasses import replace

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, Min, Q, Sum
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.template import engines
from django.template.backends.utils import csrf_input
from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import get_current_timezone_name
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import reswap

from cases.forms.discussions import DiscussionSettingsForm, ParticipationGradeForm
from cases.http import (
    CSRF_SLOT_INPUT,
    HtmxHttpRequest,
    kept,
    not_modified,
    parse_int,
    with_token,
)
from cases.models import (
    Discussion,
    Follow,
    Membership,
    ModuleItem,
    ParticipationGrade,
    Post,
    Work,
    assignment_for_student,
    due_last,
    graded_earlier,
)
from cases.permissions import (
    CourseAccess,
    access_case,
    access_item,
    graded_students,
    item_access,
    items_with_access,
)
from cases.routes import route
from cases.services import discussions as services
from cases.views.errors import htmx_alert
from redqueen.jinja2 import here


def _etag(discussion: Discussion, user) -> str:
    return f'W/"thread-{discussion.pk}-v{discussion.version}-u{user.pk}"'


def _discussion_item(user, pk: int) -> tuple[ModuleItem, Discussion, CourseAccess]:
    item, access = access_item(user, pk)
    discussion = getattr(item, "discussion", None)
    if discussion is None:
        raise Http404
    discussion.item = item
    return item, discussion, access


def _thread_context(request, item, discussion, access, *, highlight: int | None = None) -> dict:
    if highlight is None:
        # A link to one post (`Post.get_absolute_url`: a notice, a moderator's return)
        # opens the page of the thread that shows it to this viewer.
        highlight = parse_int(request.GET.get("post"), low=1)
    shown = services.thread_page(
        discussion,
        request.user,
        access,
        page=parse_int(request.GET.get("page"), low=1, high=10_000),
        highlight=highlight,
    )
    context = {
        "item": item,
        "course": item.module.course,
        "discussion": discussion,
        "access": access,
        "page": shown.page,
        "pages": shown.pages,
        "page_numbers": range(1, shown.pages + 1),
        "highlight": highlight,
        "sees_others": shown.sees_others,
        "refusal": services.writing_refusal(
            discussion, request.user, staff=access.can_grade and not access.is_student
        ),
        "nonce": uuid.uuid4().hex,
        "reply_to": parse_int(request.GET.get("reply")),
        "etag": _etag(discussion, request.user),
        "thread_url": route("cases:thread_posts", item.pk),
        "post_create_url": route("cases:post_create", item.pk),
        "marks": services.ViewerMarks(discussion, request.user),
    }
    context["posts_html"] = _posts_html(request, discussion, access, shown, context)
    return context


# The page of posts (templates/jinja2/cases/discussions/thread_posts.jinja) -------------
# A thread's page looks the same to every student who sees the thread, but for their own
# posts (named "You", with Edit and Delete), their upvotes, their CSRF token and ETag.
# So for students it is rendered once per thread version (`kept`) as `NOBODY` sees it,
# and each request puts in what is theirs: their posts re-rendered, their upvoted
# buttons pressed, their token and ETag. Staff, and a student whose page differs in
# more than that (a post of theirs hidden, a post-first thread before their post, a
# reply form open, a new post outlined, their own post among pseudonyms), get the
# page rendered whole.

POSTS = "cases/discussions/thread_posts.jinja"
ETAG_SLOT = "etag-slot-8c41d0e9"
_ARTICLE = '<article class="post[^"]*" id="post-{}"'


def _jinja_module(name: str, values: dict):
    """The template's macros, for rendering one piece of it with `values`."""
    return engines["jinja2"].get_template(name).template.make_module(values)


def _posts_html(request, discussion, access, shown, context: dict) -> SafeString:
    user = request.user
    me = user.pk  # Once: request.user is a lazy object, each attribute a detour.
    own = {key.pk for key in shown.shown if key.author_id == me}
    shared = (
        shown.alike
        and context["highlight"] is None
        and context["reply_to"] is None
        and not (own and discussion.anonymous)
    )
    if not shared:
        load = services.page_loader(discussion, user, access)
        posts = services.thread_views(
            discussion, user, access, shown.shown, load=load, sees_others=shown.sees_others
        )
        values = context | here() | {"posts": posts, "csrf_input": csrf_input(request)}
        html = render_to_string(POSTS, values, using="jinja2")
        return mark_safe(html)  # noqa: S308 - rendered by Jinja2 with autoescaping on.
    page = _shared_page(discussion, access, shown, context)
    html = page["html"]
    for pk in own:
        found = re.search(_ARTICLE.format(pk), html)
        if found is None:  # Gone since its key was kept (its author deleted, say).
            continue
        end = html.index("</article>", found.start()) + len("</article>")
        html = html[: found.start()] + page["mine"][pk] + html[end:]
    for pk in context["marks"].votes & page["voted"].keys() - own:
        html = html.replace(*page["voted"][pk], 1)
    html = with_token(request, html).replace(ETAG_SLOT, escape(context["etag"]))
    return mark_safe(html)  # noqa: S308 - rendered by Jinja2, with our own pieces put in.


def _shared_page(discussion, access, shown, context: dict) -> dict:
    """The page as `NOBODY` sees it; each post as its author sees it (`mine`); and each
    upvote button unpressed and pressed (`voted`): kept per thread version and
    everything else that shapes them."""
    key = ":".join(
        map(
            str,
            (
                "thread-posts",
                discussion.pk,
                discussion.version,
                shown.page,
                shown.pages,
                discussion.anonymous,
                discussion.post_first,
                context["refusal"],
                get_current_timezone_name(),
            ),
        )
    )

    def build() -> dict:
        nobody = services.NOBODY
        load = services.page_loader(discussion, nobody, access)
        # The page the student sees is the one `NOBODY` sees (`_posts_html` checked).
        posts = services.thread_views(
            discussion, nobody, access, shown.shown, load=load, sees_others=True
        )
        # The viewer's token goes in last, everywhere at once.
        values = context | here() | {"csrf_input": CSRF_SLOT_INPUT}
        article = _jinja_module("cases/discussions/thread_post.jinja", values).post_article
        button = _jinja_module("cases/discussions/upvote_button.jinja", values).upvote_button
        page = values | {"posts": posts, "etag": ETAG_SLOT}
        return {
            "html": render_to_string(POSTS, page, using="jinja2"),
            "mine": {p.pk: str(article(replace(p, author="You", mine=True))) for p in posts},
            "voted": {
                p.pk: (str(button(p)), str(button(replace(p, voted=True))))
                for p in posts
                if not p.deleted
            },
        }

    return kept(key, build)


def _prompt(discussion: Discussion):
    """The instructor's prompt, with its ¶ citations linked like a post's: rendered once
    a process for each prompt and revision of its case (which numbers its paragraphs)."""
    case = discussion.case
    if case is None:
        return _prompt_html(discussion.prompt, None, None)
    return _prompt_html(
        discussion.prompt, case, (case.slug, case.revision, len(case.exhibits or []))
    )


@functools.lru_cache(maxsize=256)
def _prompt_html(prompt: str, case, version) -> SafeString:
    # `case` is hashed by its id: `version` holds what the links are made from.
    html, _cited = services.render_post(prompt, case, services.paragraph_numbers(case))
    return mark_safe(html)  # noqa: S308 - rendered and cleaned by render_post.


def _page_context(request, item, discussion, access) -> dict:
    """The whole page's context: the thread's, with the prompt above it and whether the
    viewer follows the thread (its button)."""
    context = _thread_context(request, item, discussion, access)
    context["prompt"] = _prompt(discussion)
    context["following"] = context["marks"].following
    return context


def item_discussion(request: HtmxHttpRequest, item: ModuleItem, access: CourseAccess):
    """A discussion as a module item: the prompt, the compose box and the thread.
    Students of a cohort it is given to post; course staff moderate."""
    discussion = getattr(item, "discussion", None)
    if discussion is None:
        return None
    discussion.item = item
    context = _page_context(request, item, discussion, access)
    response = render(request, "cases/discussions/thread_detail.html", context)
    response["ETag"] = context["etag"]
    return response


@require_GET
@vary_on_headers("HX-Request")
def thread_posts(request: HtmxHttpRequest, pk: int):
    """Everyone who may read the thread: its posts, for htmx to poll every 10 seconds.
    An unchanged thread answers 304 Not Modified before touching the posts."""
    item, discussion, access = _discussion_item(request.user, pk)
    etag = _etag(discussion, request.user)
    if unchanged := not_modified(request, etag):
        return unchanged
    if not request.htmx or request.htmx.history_restore_request:
        return item_discussion(request, item, access)
    context = _thread_context(request, item, discussion, access)
    response = render(request, "cases/discussions/thread_detail.html#thread-posts", context)
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-cache"
    return response


def _refused(request, item, message: str, *, status: int = 400):
    if request.htmx:
        return htmx_alert(request, title="Not posted", message=message, status=status)
    messages.error(request, message)
    return redirect(item)


@require_POST
@vary_on_headers("HX-Request")
def post_create(request: HtmxHttpRequest, pk: int):
    """Students given the thread, and course staff, post or reply. htmx gets the thread
    back with the new post; a plain form post is redirected to it. Refused posts keep
    their text in the form."""
    item, discussion, access = _discussion_item(request.user, pk)
    parent = None
    if request.POST.get("parent", "").strip():
        parent_id = parse_int(request.POST["parent"], low=1)
        parent = Post.objects.filter(discussion=discussion, pk=parent_id).first()
        if parent_id is None or parent is None:
            raise Http404
    body = request.POST.get("body", "")
    try:
        post = services.post_create(
            discussion=discussion,
            author=request.user,
            body=body,
            parent=parent,
            nonce=request.POST.get("nonce", ""),
        )
    except services.PostRefused as error:
        if request.htmx:
            return _refused(request, item, str(error))
        context = _page_context(request, item, discussion, access)
        context |= {
            "draft": body,
            # A reply its post can no longer take is offered as a post of its own.
            "draft_parent": None if isinstance(error, services.ReplyRefused) else parent,
            "error": str(error),
        }
        return render(request, "cases/discussions/thread_detail.html", context, status=200)
    if request.htmx:
        response = _thread_fragment(
            request, item, discussion, access, highlight=post.pk, announce="Posted."
        )
        # The new post is brought into view and outlined; "Posted." is said beside the
        # compose box, in a live region.
        return reswap(response, f"outerHTML show:#post-{post.pk}:top")
    messages.success(request, "Posted.")
    return redirect(_post_url(post, discussion, request.user, access))


def _post_url(post: Post, discussion, user, access) -> str:
    """The post's address on the page of the thread that shows it to this viewer (the
    post moved the thread's version, which names what is kept)."""
    discussion.refresh_from_db(fields=["version"])
    page = services.thread_page(discussion, user, access, highlight=post.pk).page
    return f"{discussion.item.get_absolute_url()}?page={page}#post-{post.pk}"


def _thread_fragment(request, item, discussion, access, *, highlight: int, announce: str = ""):
    """The compose box and the thread, after a change, for htmx to swap in."""
    services.thread_state_refresh(discussion)
    context = _thread_context(request, item, discussion, access, highlight=highlight)
    context["announce"] = announce
    response = render(request, "cases/discussions/thread_detail.html#thread-body", context)
    response["ETag"] = context["etag"]
    return response


def _own_post(request, pk: int) -> tuple[Post, ModuleItem, Discussion, CourseAccess]:
    post = get_object_or_404(Post.objects.select_related("discussion"), pk=pk)
    item, discussion, access = _discussion_item(request.user, post.discussion.item_id)
    post.discussion = discussion
    if post.author_id != request.user.pk:
        raise PermissionDenied
    return post, item, discussion, access


@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def post_edit(request: HtmxHttpRequest, pk: int):
    """The author edits their post (earlier versions are kept for the course staff).
    htmx swaps the form in place of the post; without JavaScript it is a page."""
    post, item, _discussion, _access = _own_post(request, pk)
    if request.method == "POST":
        try:
            services.post_edit(post=post, body=request.POST.get("body", ""))
        except services.PostRefused as error:
            if request.htmx:
                return _refused(request, item, str(error))
            return render(
                request,
                "cases/discussions/post_form.html",
                {
                    "post": post,
                    "item": item,
                    "draft": request.POST.get("body", ""),
                    "error": str(error),
                },
            )
        if request.htmx:
            return _thread_fragment(request, item, _discussion, _access, highlight=post.pk)
        return redirect(post.get_absolute_url())
    template = "cases/discussions/post_form.html"
    if request.htmx:
        template += "#edit-form"
    return render(request, template, {"post": post, "item": item, "draft": post.body})


@require_POST
def post_delete(request: HtmxHttpRequest, pk: int):
    """The author deletes their post; it shows as deleted so replies keep their place,
    on the page they come back to."""
    post, item, _discussion, _access = _own_post(request, pk)
    try:
        services.post_delete(post=post)
    except services.PostRefused as error:
        return _refused(request, item, str(error))
    messages.success(request, "Your post was deleted.")
    return redirect(post.get_absolute_url())


def _readable_post(request, pk: int) -> tuple[Post, ModuleItem, Discussion, CourseAccess]:
    post = get_object_or_404(Post.objects.select_related("discussion"), pk=pk)
    item, discussion, access = _discussion_item(request.user, post.discussion.item_id)
    post.discussion = discussion
    return post, item, discussion, access


@require_POST
@vary_on_headers("HX-Request")
def post_upvote(request: HtmxHttpRequest, pk: int):
    """Anyone who may see the post upvotes it, or takes the upvote back. htmx swaps the
    button; a plain post returns to the thread."""
    post, item, discussion, access = _readable_post(request, pk)
    if post.hidden_at and not access.can_grade:
        raise Http404
    posts = None
    if discussion.post_first and not access.can_grade:
        posts = services.post_keys(discussion)
        if not services.may_see_others(discussion, request.user, access, posts):
            raise Http404
    try:
        voted = services.post_upvote_toggle(post=post, user=request.user)
    except services.PostRefused as error:
        return _refused(request, item, str(error))
    if request.htmx:
        post.refresh_from_db(fields=["upvote_count"])
        return render(
            request,
            "cases/discussions/upvote.jinja",
            {
                "post": {
                    "pk": post.pk,
                    "upvotes": post.upvote_count,
                    "voted": voted,
                    "mine": False,
                    "urls": {"upvote": request.path},
                }
            },
            using="jinja2",
        )
    return redirect(post.get_absolute_url())


@require_POST
def post_moderate(request: HtmxHttpRequest, pk: int):
    """Instructors, TAs and admins of the course pin, endorse or hide a post."""
    post, item, _discussion, access = _readable_post(request, pk)
    if not access.can_grade:
        raise PermissionDenied
    try:
        services.post_moderate(
            post=post, action=request.POST.get("action", ""), reason=request.POST.get("reason", "")
        )
    except services.PostRefused as error:
        return _refused(request, item, str(error))
    return redirect(post.get_absolute_url())


@require_GET
def post_history(request: HtmxHttpRequest, pk: int):
    """Course staff (and the author) see a post's earlier versions."""
    post, item, _discussion, access = _readable_post(request, pk)
    if not access.can_grade and post.author_id != request.user.pk:
        raise PermissionDenied
    context = {"post": post, "item": item, "revisions": post.revisions.all()}
    return render(request, "cases/discussions/post_history.html", context)


@require_http_methods(["GET", "POST"])
def discussion_settings(request: HtmxHttpRequest, pk: int):
    """Instructors and admins of the course set the thread's prompt, case, modes and
    dates."""
    item, discussion, access = _discussion_item(request.user, pk)
    if not access.can_teach:
        raise PermissionDenied
    form = DiscussionSettingsForm(request.POST or None, instance=discussion)
    if request.method == "POST" and form.is_valid():
        form.save()
        Discussion.objects.filter(pk=discussion.pk).update(version=F("version") + 1)
        messages.success(request, "Thread settings saved.")
        return redirect(item)
    context = {"form": form, "item": item, "heading": "Thread settings"}
    return render(request, "cases/builder/item_settings.html", context)


@require_POST
def discussion_lock(request: HtmxHttpRequest, pk: int):
    """Instructors, TAs and admins lock or reopen the thread."""
    item, discussion, access = _discussion_item(request.user, pk)
    if not access.can_grade:
        raise PermissionDenied
    services.discussion_lock(discussion=discussion, locked=request.POST.get("locked") == "1")
    return redirect(item)


@require_POST
def discussion_follow(request: HtmxHttpRequest, pk: int):
    """Anyone who may read the thread follows it (told of new posts by
    `followers_notify`), or stops."""
    item, discussion, _access = _discussion_item(request.user, pk)
    if request.POST.get("follow") == "1":
        Follow.objects.get_or_create(discussion=discussion, user=request.user)
    else:
        Follow.objects.filter(discussion=discussion, user=request.user).delete()
    return redirect(item)


def _thread_students(item: ModuleItem, user, access: CourseAccess):
    """Students of the cohorts the thread is given to that the user grades (a TA given
    some cohorts sees only theirs)."""
    return graded_students(user, item.module.course, access, item=item).order_by(
        "last_name", "first_name", "username"
    )


def _points_of(item: ModuleItem, students) -> dict[int, int]:
    """Each student's points for the item: those of their cohort's assignment (with two
    cohorts given it, the one due last, as `assignment_for_student` has it). Two
    queries however many students."""
    assignments = {a.cohort_id: a for a in item.assignments.all()}
    theirs: dict[int, list] = {}
    members = Membership.objects.filter(cohort__in=assignments, user__in=students)
    for user_id, cohort_id in members.values_list("user", "cohort"):
        theirs.setdefault(user_id, []).append(assignments[cohort_id])
    return {user_id: due_last(given).points for user_id, given in theirs.items()}


@require_http_methods(["GET", "POST"])
def participation(request: HtmxHttpRequest, pk: int):
    """Instructors, TAs and admins: each student's posts, replies, words, citations,
    upvotes received and first post, with a participation grade; and the most cited
    paragraphs. Aggregated in SQL: the same queries for 10 students or 300."""
    item, discussion, access = _discussion_item(request.user, pk)
    if not access.can_grade:
        raise PermissionDenied
    if request.method == "POST":
        student = parse_int(request.POST.get("student"), low=1)
        if not _thread_students(item, request.user, access).filter(pk=student).exists():
            raise Http404
        # Out of the student's own points: their cohort's, as on the grading page.
        assignment = assignment_for_student(item.pk, student)
        most = assignment.points if assignment else None
        form = ParticipationGradeForm(request.POST, max_points=most)
        if form.is_valid():
            services.participation_grade(
                discussion=discussion,
                user_id=form.cleaned_data["student"],
                points=form.cleaned_data["points"],
                comment=form.cleaned_data["comment"],
                grader=request.user,
            )
            messages.success(request, "Participation grade saved.")
            return redirect("cases:participation", pk=item.pk)
        # The page again, the points as typed in the student's box, the reason beside.
        limit = f" and at most {most}" if most is not None else ""
        refused = {
            "student": student,
            "typed": request.POST.get("points", ""),
            "error": f"Give points of 0 or more{limit}.",
        }
        return _participation_page(request, item, discussion, access, refused=refused)
    return _participation_page(request, item, discussion, access)


def _participation_page(request, item, discussion, access, *, refused: dict | None = None):
    """The participation page; `refused`, a grade not saved: its student's box keeps the
    points typed, with the reason beside it."""
    course = item.module.course
    stats = (
        Post.objects.filter(discussion=discussion, deleted_at__isnull=True)
        .values("author")
        .annotate(
            posts=Count("pk", filter=Q(parent__isnull=True)),
            replies=Count("pk", filter=Q(parent__isnull=False)),
            words=Sum("word_count"),
            citations=Sum("citation_count"),
            upvotes=Sum("upvote_count"),
            first=Min("created_at"),
        )
    )
    by_author = {row["author"]: row for row in stats}
    grades = {g.user_id: g for g in ParticipationGrade.objects.filter(discussion=discussion)}
    students = list(_thread_students(item, request.user, access))
    points = _points_of(item, students)
    # Graded, then posted again: the grade waits to be saved again (`graded_earlier`).
    works = Work.objects.filter(item=item, user__in=[s.pk for s in students], needs_grading=True)
    regrade = {work.user_id for work in works if graded_earlier(work)}
    rows = [
        {
            "student": student,
            "stats": by_author.get(student.pk),
            "grade": grades.get(student.pk),
            "posted_since": student.pk in regrade,
            "max_points": points.get(student.pk),
            "refused": refused if refused and refused["student"] == student.pk else None,
        }
        for student in students
    ]
    cited = {}
    for numbers in Post.objects.filter(discussion=discussion, deleted_at__isnull=True).values_list(
        "cited_paragraphs", flat=True
    ):
        for number in numbers:
            cited[number] = cited.get(number, 0) + 1
    context = {
        "item": item,
        "course": course,
        "discussion": discussion,
        "rows": rows,
        # The header says "out of" only when every row is out of the same points.
        "max_points": next(iter(alike)) if len(alike := set(points.values())) == 1 else None,
        "most_cited": sorted(cited.items(), key=lambda kv: (-kv[1], kv[0]))[:8],
    }
    return render(request, "cases/discussions/participation.html", context)


def discussions_citing(user, case) -> list[tuple[Discussion, CourseAccess, list[Post]]]:
    """Threads about `case` the user may read, each with its posts: two queries
    however many threads."""
    found = {}
    for item in items_with_access(user).filter(discussion__case=case):
        access = item_access(item, user)
        if access is not None:
            item.discussion.item = item
            found[item.discussion.pk] = (item.discussion, access, [])
    # Names come from the author rows only where the viewer may see them (`thread_views`).
    for post in services.post_rows([d for d, _a, _p in found.values()], user.pk).select_related(
        "author"
    ):
        found[post.discussion_id][2].append(post)
    return list(found.values())


@require_GET
def paragraph_detail(request: HtmxHttpRequest, slug: str, number: int):
    """Anyone who may read the case: one paragraph (the preview behind a ¶ citation, as a
    fragment), and as a page the posts that cite it in threads the reader may see, with
    the names that thread allows."""
    case, _access = access_case(request.user, slug)
    paragraph = get_object_or_404(case.paragraphs, number=number)
    if request.htmx or request.GET.get("preview"):
        return render(
            request,
            "cases/discussions/paragraph_detail.html#paragraph-preview",
            {"case": case, "paragraph": paragraph, "html": mark_safe(paragraph.html)},  # noqa: S308
        )
    citing = []
    for discussion, access, posts in discussions_citing(request.user, case):
        views = services.thread_views(discussion, request.user, access, posts)
        by_pk = {p.pk: p for p in posts}
        citing += [
            (discussion, view)
            for view in views
            if not view.deleted and number in by_pk[view.pk].cited_paragraphs
        ]
    return render(
        request,
        "cases/discussions/paragraph_detail.html",
        {
            "case": case,
            "paragraph": paragraph,
            "html": mark_safe(paragraph.html),  # noqa: S308 - cleaned when saved.
            "citing": citing,
        },
    )
