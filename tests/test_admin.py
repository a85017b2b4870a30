"""The Django admin: every model is registered and its list loads; the audit log is
read-only there."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse
from django.utils.text import capfirst

from cases.models import AuditAction, AuditEntry, Cohort, GradeCategory
from cases.services.people import audit

pytestmark = pytest.mark.django_db


def test_every_model_of_the_app_is_registered():
    models = set(apps.get_app_config("cases").get_models())
    assert models - set(admin.site._registry) == set()


@pytest.mark.parametrize(
    "model",
    sorted(admin.site._registry, key=lambda m: m._meta.label),
    ids=lambda m: m._meta.label,
)
def test_each_changelist_loads_for_a_superuser(model, world, client_for):
    audit(world.users["admin"], AuditAction.DEACTIVATE, "Deactivated", subject=world.users["ta"])
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    client = client_for("admin")
    assert client.get(url).status_code == 200
    assert client.get(url, {"q": "a"}).status_code == 200


def test_the_audit_log_can_be_read_but_not_added_to_changed_or_deleted(world, client_for):
    entry = audit(world.users["admin"], AuditAction.REACTIVATE, "Back", subject=world.users["ta"])
    client = client_for("admin")
    change = reverse("admin:cases_auditentry_change", args=[entry.pk])
    assert client.get(change).status_code == 200  # View only.
    assert client.get(reverse("admin:cases_auditentry_add")).status_code == 403
    assert client.post(change, {"summary": "Rewritten"}).status_code == 403
    delete = reverse("admin:cases_auditentry_delete", args=[entry.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    entry.refresh_from_db()
    assert entry.summary == "Back"
    assert AuditEntry.objects.count() == 1


def test_the_user_list_shows_student_numbers_and_whether_active(world, client_for):
    world.users["student"].student_id = "S-4242"
    world.users["student"].save()
    client = client_for("admin")
    url = reverse("admin:cases_user_changelist")
    html = client.get(url, {"is_active__exact": "1"}).content.decode()
    assert "S-4242" in html
    assert "column-is_active" in html
    assert client.get(url, {"q": "S-4242"}).content.decode().count("S-4242") >= 1


def test_a_user_is_edited_with_their_student_number(world, client_for):
    url = reverse("admin:cases_user_change", args=[world.users["student"].pk])
    assert 'name="student_id"' in client_for("admin").get(url).content.decode()


def _admin_post_data(response) -> dict:
    """What the admin's change form would post back unchanged: its fields' values and
    each inline's management form."""
    form = response.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is None or value is False:
            continue
        data[name] = (
            [str(v.pk if hasattr(v, "pk") else v) for v in value]
            if isinstance(value, (list, tuple))
            else value
        )
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[f"{management.prefix}-{name}"] = management[name].value()
    return data


def test_role_changes_made_in_the_django_admin_are_audited_like_any_other(world, client_for):
    client = client_for("admin")
    cohort = world.course.cohorts.get()
    ta = world.users["ta"]
    url = reverse("admin:cases_cohort_change", args=[cohort.pk])
    data = _admin_post_data(client.get(url)) | {"teaching_assistants": [str(ta.pk)]}
    assert client.post(url, data).status_code == 302
    assert list(cohort.teaching_assistants.all()) == [ta]
    # Twice: nothing more changes, nothing more is written.
    client.post(url, data)
    url = reverse("admin:cases_user_change", args=[ta.pk])
    data = _admin_post_data(client.get(url)) | {"is_staff": "on"}
    assert client.post(url, data).status_code == 302
    ta.refresh_from_db()
    assert ta.is_staff
    log = client.get(reverse("cases:audit_log")).content.decode()
    assert f"{ta.display_name} made TA of the cohort {cohort.name}" in log
    assert f"{ta.display_name} ({ta.username}): admin yes, superuser no" in log
    assert AuditEntry.objects.filter(subject=ta).count() == 2


def test_course_roles_and_memberships_are_shown_but_changed_only_in_the_app(world, client_for):
    client = client_for("admin")
    course_url = reverse("admin:cases_course_change", args=[world.course.pk])
    page = client.get(course_url)
    assert 'name="instructors"' not in page.content.decode()
    data = _admin_post_data(page) | {"instructors": [str(world.users["other_instructor"].pk)]}
    client.post(course_url, data)
    assert list(world.course.instructors.all()) == [world.users["instructor"]]
    membership = world.users["student"].memberships.get()
    change = reverse("admin:cases_membership_change", args=[membership.pk])
    assert client.post(change, {"user": world.users["other_student"].pk}).status_code == 403
    delete = reverse("admin:cases_membership_delete", args=[membership.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert world.users["student"].memberships.count() == 1
    # The account's active flag is shown, not offered: deactivation is on the People page.
    user_page = client.get(reverse("admin:cases_user_change", args=[world.users["student"].pk]))
    assert 'name="is_active"' not in user_page.content.decode()


# Every model's plural as the admin index lists it. A new model must be added here, so
# its plural is read by a person once rather than left to Django's "add an s".
ADMIN_PLURALS = {
    "Analysis": "Analyses",
    "Memo": "Memos",
    "MemoComment": "Memo comments",
    "MemoVersion": "Memo versions",
    "PeerReview": "Peer reviews",
    "Annotation": "Annotations",
    "AnnotationTask": "Annotation tasks",
    "AnnotationVote": "Annotation votes",
    "Accommodation": "Accommodations",
    "Answer": "Answers",
    "Assignment": "Assignments",
    "Attempt": "Attempts",
    "AttemptQuestion": "Attempt questions",
    "AuditEntry": "Audit entries",
    "CaseParagraph": "Case paragraphs",
    "CaseReading": "Case readings",
    "CaseStudy": "Case studies",
    "Choice": "Choices",
    "Cohort": "Cohorts",
    "ColdCall": "Cold calls",
    "Course": "Courses",
    "Decision": "Decisions",
    "DecisionCommit": "Decision commits",
    "Discussion": "Discussions",
    "EmailSettings": "Email settings",
    "Extension": "Extensions",
    "Follow": "Follows",
    "GradeCategory": "Grade categories",
    "HeldRelease": "Held releases",
    "Invitation": "Invitations",
    "LiveAnswer": "Live answers",
    "LiveAttendance": "Live attendances",
    "LiveClass": "Live classes",
    "LivePoll": "Live polls",
    "LiveSession": "Live sessions",
    "LoginThrottle": "Login throttles",
    "LtiCourse": "LMS course links",
    "LtiGrade": "LMS grades",
    "LtiValue": "LTI launch values",
    "Membership": "Memberships",
    "Module": "Modules",
    "ModuleItem": "Module items",
    "Notification": "Notifications",
    "NotificationPreference": "Notification preferences",
    "PairMessage": "Pair messages",
    "ParticipationGrade": "Participation grades",
    "ParticipationMark": "Participation marks",
    "Post": "Posts",
    "PostRevision": "Post revisions",
    "Question": "Questions",
    "QuestionCategory": "Question categories",
    "Quiz": "Quizzes",
    "QuizSlot": "Quiz slots",
    "ReadingProgress": "Reading progress",
    "Rubric": "Rubrics",
    "SpectrumExercise": "Spectrum exercises",
    "SpectrumPlacement": "Spectrum placements",
    "StanceAnswer": "Stance answers",
    "StanceCheck": "Stance checks",
    "StancePair": "Stance pairs",
    "Upvote": "Upvotes",
    "User": "Users",
    "Work": "Work",
}


def test_the_admin_index_lists_every_model_under_a_proper_plural(world, client_for):
    models = list(apps.get_app_config("cases").get_models())
    # As the admin shows them (capfirst: an acronym such as LMS stays upper-case).
    plurals = {m.__name__: capfirst(str(m._meta.verbose_name_plural)) for m in models}
    assert plurals == ADMIN_PLURALS
    # Django's default plural adds an "s" even after s, x, ch, sh or a consonant's y.
    wrong = [
        m.__name__
        for m in models
        if m._meta.verbose_name_plural == f"{m._meta.verbose_name}s"
        and m._meta.verbose_name.endswith(("s", "x", "ch", "sh", "by", "ry", "ty", "gy"))
    ]
    assert wrong == []
    html = client_for("admin").get(reverse("admin:index")).content.decode()
    for plural in ADMIN_PLURALS.values():
        assert f">{plural}</a>" in html, plural
    assert "settingss" not in html and "classs" not in html


def test_accommodations_and_cohort_tas_still_edit_in_the_admin(world, client_for):
    from cases.models import Accommodation

    accommodation = Accommodation.objects.create(
        course=world.course, student=world.users["student"], time_multiplier="1.5"
    )
    client = client_for("admin")
    html = client.get(reverse("admin:cases_accommodation_changelist")).content.decode()
    assert world.users["student"].username in html and "1.50" in html
    change = reverse("admin:cases_accommodation_change", args=[accommodation.pk])
    assert client.get(change).status_code == 200
    cohort = world.course.cohorts.get()
    assert client.get(reverse("admin:cases_cohort_change", args=[cohort.pk])).status_code == 200


def test_a_cohort_s_name_code_and_archive_change_only_where_audited(world, client_for):
    """On the Django admin's cohort page the name, the join code and whether it is
    archived are shown, not changed: renamed or archived there, nothing reached the
    audit log. A cohort with members or dates cannot be deleted there (archive it:
    deleting took its items' dates, released grades and extensions with it); an empty
    one can."""
    client = client_for("admin")
    cohort = world.course.cohorts.get()
    url = reverse("admin:cases_cohort_change", args=[cohort.pk])
    data = _admin_post_data(client.get(url)) | {
        "name": "Renamed quietly",
        "join_code": "QUIET123",
        "archived_at_0": "2026-01-01",
        "archived_at_1": "10:00:00",
    }
    client.post(url, data)
    cohort.refresh_from_db()
    assert (cohort.name, cohort.archived_at) == ("Section A", None)
    assert cohort.join_code != "QUIET123"
    delete = reverse("admin:cases_cohort_delete", args=[cohort.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Cohort.objects.filter(pk=cohort.pk).exists()
    empty = Cohort.objects.create(name="Made by mistake")
    delete = reverse("admin:cases_cohort_delete", args=[empty.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert not Cohort.objects.filter(pk=empty.pk).exists()
    # Nor is one made there, unaudited: it is made on the cohorts page, in the log.
    add = reverse("admin:cases_cohort_add")
    assert client.post(add, {"name": "Made quietly"}).status_code == 403
    assert not Cohort.objects.filter(name="Made quietly").exists()
    client.post(reverse("cases:cohort_list"), {"name": "Made in the app"})
    made = Cohort.objects.get(name="Made in the app")
    assert AuditEntry.objects.filter(cohort=made).exists()


def test_grade_categories_are_shown_in_the_admin_but_changed_on_the_course_s_page(
    world, client_for
):
    """A weight changed here moved every total without an audit entry."""
    category = GradeCategory.objects.create(course=world.course, name="Quizzes", weight=60)
    client = client_for("admin")
    change = reverse("admin:cases_gradecategory_change", args=[category.pk])
    assert client.get(change).status_code == 200  # View only.
    assert client.post(change, {"name": "Quizzes", "weight": "90"}).status_code == 403
    assert client.get(reverse("admin:cases_gradecategory_add")).status_code == 403
    category.refresh_from_db()
    assert category.weight == 60


def test_the_django_admin_gives_no_account_a_username_another_has_in_another_case(
    world, client_for
):
    """An admin tidying accounts in the Django admin renames the TA "Student" (another
    account is "student") and then adds a new "STUDENT": each is refused with the reason,
    and nothing changes, as the sign-up page refuses it, so that typing "student" at
    sign-in names one account."""
    from cases.models import User

    client = client_for("admin")
    ta = world.users["ta"]
    url = reverse("admin:cases_user_change", args=[ta.pk])
    renamed = client.post(url, _admin_post_data(client.get(url)) | {"username": "Student"})
    assert renamed.status_code == 200
    assert "A user with that username already exists" in renamed.content.decode()
    ta.refresh_from_db()
    assert ta.username == "ta"
    password = "a-long-passphrase-9"
    added = client.post(
        reverse("admin:cases_user_add"),
        {"username": "STUDENT", "password1": password, "password2": password},
    )
    assert added.status_code == 200
    assert "A user with that username already exists" in added.content.decode()
    assert User.objects.filter(username__iexact="student").count() == 1
