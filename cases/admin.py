from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin

from cases.models import (
    Accommodation,
    Assignment,
    Attempt,
    CaseReading,
    CaseStudy,
    Choice,
    Cohort,
    Course,
    Discussion,
    EmailSettings,
    Extension,
    GradeCategory,
    HeldRelease,
    LiveAnswer,
    LiveClass,
    LivePoll,
    LiveSession,
    LoginThrottle,
    Membership,
    Module,
    ModuleItem,
    Notification,
    NotificationPreference,
    ParticipationMark,
    Post,
    Question,
    QuestionCategory,
    Quiz,
    QuizSlot,
    Rubric,
    User,
    Work,
)
from cases.services import people


class ReadOnly:
    """Shown here, changed only in the app, where every change is audited and students'
    work follows it."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(User)
class RedQueenUserAdmin(UserAdmin):
    """Django's user admin, with the student number. Whether the account is active is
    changed on the People page (which also ends its sessions); making someone an admin
    or superuser here goes through `user_admin_set`, which audits it."""

    readonly_fields = ["is_active", "last_login", "date_joined"]

    def save_model(self, request, obj, form, change):
        wanted = {name: form.cleaned_data.get(name) for name in ("is_staff", "is_superuser")}
        if not change:
            super().save_model(request, obj, form, change)
            return
        previous = User.objects.get(pk=obj.pk)
        obj.is_staff, obj.is_superuser = previous.is_staff, previous.is_superuser
        super().save_model(request, obj, form, change)
        if wanted != {"is_staff": previous.is_staff, "is_superuser": previous.is_superuser}:
            try:
                people.user_admin_set(user=obj, by=request.user, **wanted)
            except people.Refused as refused:
                self.message_user(request, str(refused), level=messages.ERROR)

    list_display = [
        "username",
        "email",
        "first_name",
        "last_name",
        "student_id",
        "is_active",
        "is_staff",
    ]
    list_filter = ["is_active", "is_staff", "is_superuser"]
    search_fields = ["username", "first_name", "last_name", "email", "student_id"]
    fieldsets = [
        *UserAdmin.fieldsets[:1],
        ("Personal info", {"fields": ["first_name", "last_name", "email", "student_id"]}),
        *UserAdmin.fieldsets[2:],
    ]


class MembershipInline(ReadOnly, admin.TabularInline):
    """Members are enrolled, moved and removed on the cohort's page in the app (roster
    import, join code, move, remove), where it is audited and their work follows."""

    model = Membership
    extra = 0
    fields = ["user", "joined_at"]
    readonly_fields = ["user", "joined_at"]


@admin.register(Cohort)
class CohortAdmin(admin.ModelAdmin):
    list_display = ["name", "join_code", "created_at"]
    search_fields = ["name", "join_code"]
    # A TA listed here grades only this cohort's students (in every course it takes).
    filter_horizontal = ["teaching_assistants"]
    inlines = [MembershipInline]

    # Renamed, archived or given a code on the cohort's page in the app, where each
    # change is audited with the values before and after.
    readonly_fields = [
        "name",
        "join_code",
        "join_code_enabled",
        "join_code_expires_at",
        "archived_at",
    ]

    def has_add_permission(self, request):
        # Created on the cohorts page in the app (/manage/cohorts/), where it is audited
        # and given a join code; made here, it reached no audit log.
        return False

    def has_delete_permission(self, request, obj=None):
        # Deleting a cohort deletes its members' places, its items' dates, released
        # grades and extensions: one with any is archived on its page instead.
        if obj is not None and (obj.memberships.exists() or obj.assignments.exists()):
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request, action_location=admin.ActionLocation.CHANGE_LIST):
        # The list's bulk delete would not ask has_delete_permission cohort by cohort.
        actions = super().get_actions(request, action_location=action_location)
        actions.pop("delete_selected", None)
        return actions

    def save_related(self, request, form, formsets, change):
        # The TAs go through the audited service, not the form's own many-to-many save.
        assistants = form.cleaned_data.pop("teaching_assistants", None)
        super().save_related(request, form, formsets, change)
        if assistants is not None:
            people.cohort_assistants_set(cohort=form.instance, users=assistants, by=request.user)


class ModuleInline(admin.TabularInline):
    model = Module
    extra = 0


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    """Instructors and TAs are given on the course's People page and cohorts attached on
    the cohort's page, where each change is audited (and students' work follows a
    cohort): here they are shown only."""

    list_display = ["code", "title"]
    search_fields = ["code", "title"]
    readonly_fields = ["instructors", "teaching_assistants", "cohorts"]
    inlines = [ModuleInline]


class ModuleItemInline(admin.TabularInline):
    model = ModuleItem
    extra = 0


@admin.register(Module)
class ModuleAdmin(admin.ModelAdmin):
    list_display = ["title", "course", "position"]
    list_filter = ["course"]
    inlines = [ModuleItemInline]


@admin.register(ModuleItem)
class ModuleItemAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "module", "position"]
    list_filter = ["kind", "module__course"]
    search_fields = ["title"]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["item", "cohort", "opens_at", "due_at", "points", "late_policy"]
    list_filter = ["cohort", "late_policy"]
    autocomplete_fields = ["item"]


@admin.register(LoginThrottle)
class LoginThrottleAdmin(admin.ModelAdmin):
    list_display = ["key", "failures", "window_started_at"]


class ChoiceInline(admin.TabularInline):
    model = Choice
    extra = 0


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "course", "category", "points"]
    list_filter = ["kind", "course", "category"]
    search_fields = ["title", "text"]
    inlines = [ChoiceInline]


@admin.register(QuestionCategory)
class QuestionCategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "course"]
    list_filter = ["course"]


class QuizSlotInline(admin.TabularInline):
    model = QuizSlot
    extra = 0
    autocomplete_fields = ["question"]


@admin.register(Quiz)
class QuizAdmin(admin.ModelAdmin):
    list_display = ["item", "attempts_allowed", "time_limit_minutes", "feedback_release"]
    inlines = [QuizSlotInline]


@admin.register(Attempt)
class AttemptAdmin(admin.ModelAdmin):
    list_display = ["quiz", "user", "number", "state", "score", "max_score", "late"]
    list_filter = ["state", "quiz"]
    readonly_fields = ["started_at", "submitted_at", "score", "max_score"]


@admin.register(CaseStudy)
class CaseStudyAdmin(admin.ModelAdmin):
    list_display = ["title", "company", "region", "sector", "revision"]
    list_filter = ["region", "sector"]
    search_fields = ["title", "company"]
    readonly_fields = ["body_html", "revision", "next_paragraph_number"]


@admin.register(CaseReading)
class CaseReadingAdmin(admin.ModelAdmin):
    list_display = ["item", "case"]


@admin.register(Discussion)
class DiscussionAdmin(admin.ModelAdmin):
    list_display = ["item", "case", "post_first", "anonymous", "locked", "closes_at"]
    list_filter = ["post_first", "anonymous", "locked"]


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    list_display = ["pk", "discussion", "author", "created_at", "deleted_at", "hidden_at"]
    list_filter = ["discussion"]
    search_fields = ["body"]
    readonly_fields = ["body_html", "cited_paragraphs", "upvote_count"]


@admin.register(Work)
class WorkAdmin(admin.ModelAdmin):
    list_display = [
        "user",
        "item",
        "state",
        "auto_score",
        "override_score",
        "excused",
        "updated_at",
    ]
    list_filter = ["state", "excused", "needs_grading"]
    search_fields = ["user__username", "item__title"]
    list_select_related = ["user", "item"]
    # The student's part is kept by work_sync from each kind's own tables.
    readonly_fields = [
        "state",
        "opened_at",
        "submitted_at",
        "auto_score",
        "max_score",
        "needs_grading",
        "updated_at",
    ]


@admin.register(Extension)
class ExtensionAdmin(admin.ModelAdmin):
    list_display = ["user", "assignment", "due_at", "late_until", "reason"]
    search_fields = ["user__username", "assignment__item__title"]
    list_select_related = ["user", "assignment__item", "assignment__cohort"]


@admin.register(HeldRelease)
class HeldReleaseAdmin(admin.ModelAdmin):
    list_display = ["user", "assignment", "released_at"]
    search_fields = ["user__username", "assignment__item__title"]
    list_select_related = ["user", "assignment__item", "assignment__cohort"]
    raw_id_fields = ["user", "assignment"]


@admin.register(Accommodation)
class AccommodationAdmin(admin.ModelAdmin):
    list_display = ["student", "course", "time_multiplier", "extra_minutes", "reason"]
    list_filter = ["course"]
    search_fields = ["student__username", "student__last_name"]
    list_select_related = ["student", "course"]
    raw_id_fields = ["student", "created_by"]


@admin.register(GradeCategory)
class GradeCategoryAdmin(ReadOnly, admin.ModelAdmin):
    """Edited on the course's grade categories page, where every change (which moves
    every total in the gradebook) is audited with the categories before and after."""

    list_display = ["name", "course", "weight", "drop_lowest", "position"]
    list_filter = ["course"]


@admin.register(Rubric)
class RubricAdmin(admin.ModelAdmin):
    list_display = ["title", "course"]
    list_filter = ["course"]


# Live class.


class LivePollInline(admin.TabularInline):
    model = LivePoll
    extra = 0
    fields = ["position", "kind", "prompt", "state", "results_shown"]


@admin.register(LiveSession)
class LiveSessionAdmin(admin.ModelAdmin):
    list_display = ["title", "course", "item", "cohort", "join_code", "started_at", "ended_at"]
    list_filter = ["course"]
    search_fields = ["title", "join_code"]
    list_select_related = ["course", "item", "cohort"]
    readonly_fields = ["join_code", "version", "current_poll", "started_by"]
    inlines = [LivePollInline]


@admin.register(LiveClass)
class LiveClassAdmin(admin.ModelAdmin):
    list_display = ["item", "attendance_percent", "marks_for_full_credit"]
    list_select_related = ["item"]


@admin.register(LiveAnswer)
class LiveAnswerAdmin(admin.ModelAdmin):
    # Students' answers: read here, never edited.
    list_display = ["poll", "user", "choices", "value", "text", "updated_at"]
    search_fields = ["user__username", "poll__prompt"]
    list_select_related = ["poll", "user"]
    readonly_fields = ["poll", "user", "choices", "value", "text", "created_at", "updated_at"]


@admin.register(ParticipationMark)
class ParticipationMarkAdmin(admin.ModelAdmin):
    list_display = ["student", "session", "points", "note", "marked_by", "created_at"]
    list_filter = ["session__course"]
    search_fields = ["student__username", "note"]
    list_select_related = ["student", "session", "marked_by"]


# Everything else, so the admin covers every model. The audit log is read-only.

from cases.models import (  # noqa: E402
    Answer,
    AttemptQuestion,
    AuditEntry,
    CaseParagraph,
    ColdCall,
    Decision,
    DecisionCommit,
    Follow,
    Invitation,
    LiveAttendance,
    PairMessage,
    ParticipationGrade,
    PostRevision,
    ReadingProgress,
    SpectrumExercise,
    SpectrumPlacement,
    StanceAnswer,
    StanceCheck,
    StancePair,
    Upvote,
)


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The audit log may be read here, never added to, changed or deleted: entries are
    written by the services that make the changes."""

    list_display = ["created_at", "actor", "action", "subject", "course", "cohort", "summary"]
    list_filter = ["action", "created_at"]
    search_fields = ["summary", "actor__username", "subject__username"]
    list_select_related = ["actor", "subject", "course", "cohort"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["user", "cohort", "sent_by", "sent_at"]
    list_filter = ["cohort"]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user", "cohort", "sent_by"]
    autocomplete_fields = ["user"]


@admin.register(Membership)
class MembershipAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["user", "cohort", "joined_at"]
    list_filter = ["cohort"]
    search_fields = ["user__username", "user__email", "user__student_id", "cohort__name"]
    list_select_related = ["user", "cohort"]
    autocomplete_fields = ["user"]


@admin.register(CaseParagraph)
class CaseParagraphAdmin(admin.ModelAdmin):
    list_display = ["case", "number", "position"]
    list_filter = ["case"]
    search_fields = ["text"]
    list_select_related = ["case"]
    # Paragraphs are kept by case_paragraphs_sync from the case's body.
    readonly_fields = ["case", "number", "position", "text", "html"]


@admin.register(ReadingProgress)
class ReadingProgressAdmin(admin.ModelAdmin):
    list_display = ["user", "case", "first_opened_at", "active_seconds", "done_at"]
    list_filter = ["case"]
    search_fields = ["user__username"]
    list_select_related = ["user", "case"]


@admin.register(PostRevision)
class PostRevisionAdmin(admin.ModelAdmin):
    list_display = ["post", "created_at"]
    search_fields = ["body"]
    list_select_related = ["post__author"]


@admin.register(Upvote)
class UpvoteAdmin(admin.ModelAdmin):
    list_display = ["post", "user"]
    search_fields = ["user__username"]
    list_select_related = ["post__author", "user"]


@admin.register(Follow)
class FollowAdmin(admin.ModelAdmin):
    list_display = ["user", "discussion"]
    search_fields = ["user__username"]
    list_select_related = ["user", "discussion__item"]


@admin.register(ParticipationGrade)
class ParticipationGradeAdmin(admin.ModelAdmin):
    list_display = ["user", "discussion", "points", "graded_by", "graded_at"]
    search_fields = ["user__username"]
    list_select_related = ["user", "discussion__item", "graded_by"]


@admin.register(AttemptQuestion)
class AttemptQuestionAdmin(admin.ModelAdmin):
    list_display = ["attempt", "position", "question"]
    list_filter = ["attempt__quiz"]
    search_fields = ["attempt__user__username"]
    list_select_related = ["attempt__user", "attempt__quiz__item", "question"]


@admin.register(Answer)
class AnswerAdmin(admin.ModelAdmin):
    list_display = ["pk", "slot", "points", "needs_grading", "saved_at", "graded_by"]
    list_filter = ["needs_grading"]
    search_fields = ["slot__attempt__user__username"]
    list_select_related = ["slot__attempt__user", "slot__attempt__quiz__item", "graded_by"]
    # Students' answers: graded on the grading pages, never edited here.
    readonly_fields = ["slot", "response", "seq", "saved_at"]


@admin.register(LiveAttendance)
class LiveAttendanceAdmin(admin.ModelAdmin):
    list_display = ["user", "session", "joined_at"]
    list_filter = ["session__course"]
    search_fields = ["user__username"]
    list_select_related = ["user", "session"]


@admin.register(ColdCall)
class ColdCallAdmin(admin.ModelAdmin):
    list_display = ["student", "session", "outcome", "called_by", "called_at"]
    list_filter = ["outcome", "session__course"]
    search_fields = ["student__username"]
    list_select_related = ["student", "session", "called_by"]


@admin.register(StanceCheck)
class StanceCheckAdmin(admin.ModelAdmin):
    list_display = ["item", "statement", "before_closes_at", "after_opens_at"]
    search_fields = ["statement", "item__title"]
    list_select_related = ["item"]


@admin.register(StanceAnswer)
class StanceAnswerAdmin(admin.ModelAdmin):
    list_display = ["user", "stance", "phase", "value", "updated_at"]
    list_filter = ["phase"]
    search_fields = ["user__username", "reason"]
    list_select_related = ["user", "stance"]


@admin.register(Decision)
class DecisionAdmin(admin.ModelAdmin):
    list_display = ["question", "item", "came_true", "scored_at"]
    search_fields = ["question", "item__title"]
    list_select_related = ["item"]


@admin.register(DecisionCommit)
class DecisionCommitAdmin(admin.ModelAdmin):
    list_display = ["user", "decision", "choice", "expects", "confidence", "created_at"]
    search_fields = ["user__username"]
    list_select_related = ["user", "decision"]


@admin.register(StancePair)
class StancePairAdmin(admin.ModelAdmin):
    list_display = ["first", "second", "stance", "spectrum", "distance", "created_at", "ended_at"]
    search_fields = ["first__username", "second__username"]
    list_select_related = ["first", "second", "stance", "spectrum__item"]


@admin.register(PairMessage)
class PairMessageAdmin(admin.ModelAdmin):
    list_display = ["pk", "pair", "author", "created_at"]
    search_fields = ["author__username", "body"]
    list_select_related = ["pair__first", "pair__second", "author"]
    readonly_fields = ["body_html"]


@admin.register(SpectrumExercise)
class SpectrumExerciseAdmin(admin.ModelAdmin):
    list_display = ["item", "released_at"]
    list_select_related = ["item"]


@admin.register(SpectrumPlacement)
class SpectrumPlacementAdmin(admin.ModelAdmin):
    list_display = ["user", "exercise", "case", "position", "updated_at"]
    list_filter = ["case"]
    search_fields = ["user__username", "justification"]
    list_select_related = ["user", "exercise__item", "case"]
    readonly_fields = ["justification_html"]


@admin.register(Choice)
class ChoiceAdmin(admin.ModelAdmin):
    list_display = ["text", "question", "fraction", "position"]
    search_fields = ["text", "question__title"]
    list_select_related = ["question"]


@admin.register(QuizSlot)
class QuizSlotAdmin(admin.ModelAdmin):
    list_display = ["quiz", "position", "question", "category", "draw_count"]
    list_select_related = ["quiz__item", "question", "category"]


@admin.register(LivePoll)
class LivePollAdmin(admin.ModelAdmin):
    list_display = ["prompt", "session", "kind", "state", "results_shown", "opened_at"]
    list_filter = ["kind", "state"]
    search_fields = ["prompt"]
    list_select_related = ["session"]


# Notifications.


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["title", "user", "kind", "course", "created_at", "read_at", "emailed_at"]
    list_filter = ["kind", "course"]
    search_fields = ["title", "user__username", "key"]
    list_select_related = ["user", "course"]
    readonly_fields = ["key", "created_at", "emailed_at"]


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "email"]
    list_filter = ["kind", "email"]
    search_fields = ["user__username"]
    list_select_related = ["user"]


@admin.register(EmailSettings)
class EmailSettingsAdmin(admin.ModelAdmin):
    list_display = ["user", "daily_digest", "digest_since", "digest_sent_at"]
    list_filter = ["daily_digest"]
    search_fields = ["user__username"]
    list_select_related = ["user"]


# LTI 1.3: platforms, deployments and keys are django-lti's own admin pages; these are
# Red Queen's links and records of what the launches and grades did.

from cases.models import LtiCourse, LtiGrade, LtiValue  # noqa: E402


@admin.register(LtiCourse)
class LtiCourseAdmin(admin.ModelAdmin):
    list_display = ["context", "course", "cohort", "linked_at"]
    list_select_related = ["context", "course", "cohort"]
    search_fields = ["course__code", "context__title"]
    raw_id_fields = ["context"]


@admin.register(LtiGrade)
class LtiGradeAdmin(admin.ModelAdmin):
    list_display = ["item", "user", "status", "score_given", "score_maximum", "attempts", "sent_at"]
    list_filter = ["status"]
    list_select_related = ["item", "user"]
    readonly_fields = [f.name for f in LtiGrade._meta.fields]


@admin.register(LtiValue)
class LtiValueAdmin(admin.ModelAdmin):
    """One-time launch values: shown for diagnosis, never edited."""

    list_display = ["key", "expires_at"]
    readonly_fields = ["key", "value", "expires_at"]


from cases.models import Annotation, AnnotationTask, AnnotationVote  # noqa: E402


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ["pk", "case", "author", "visibility", "paragraph", "orphaned", "created_at"]
    list_filter = ["visibility", "orphaned", "case"]
    search_fields = ["body", "quote", "author__username"]
    list_select_related = ["case", "author"]
    readonly_fields = ["body_html", "upvote_count", "reply_count", "anchored_revision"]
    raw_id_fields = ["author", "cohort", "thread"]


@admin.register(AnnotationVote)
class AnnotationVoteAdmin(admin.ModelAdmin):
    list_display = ["annotation", "user"]
    search_fields = ["user__username"]
    list_select_related = ["annotation", "user"]


@admin.register(AnnotationTask)
class AnnotationTaskAdmin(admin.ModelAdmin):
    list_display = ["item", "case", "min_notes", "min_words", "annotate_first"]
    list_select_related = ["item", "case"]


from cases.models import Analysis, Memo, MemoComment, MemoVersion, PeerReview  # noqa: E402


@admin.register(Analysis)
class AnalysisAdmin(admin.ModelAdmin):
    list_display = ["item", "case", "word_limit", "allow_upload", "peer_review"]
    list_select_related = ["item", "case"]


class MemoVersionInline(admin.TabularInline):
    model = MemoVersion
    extra = 0
    fields = ["number", "word_count", "file_name", "file_type", "file_size", "submitted_at"]
    readonly_fields = fields


@admin.register(Memo)
class MemoAdmin(admin.ModelAdmin):
    list_display = ["item", "author", "draft_saved_at", "points"]
    search_fields = ["author__username"]
    list_select_related = ["item", "author"]
    raw_id_fields = ["author"]
    readonly_fields = ["draft_seq", "draft_saved_at"]
    inlines = [MemoVersionInline]


@admin.register(MemoVersion)
class MemoVersionAdmin(admin.ModelAdmin):
    list_display = ["memo", "number", "word_count", "file_type", "submitted_at"]
    list_select_related = ["memo__item", "memo__author"]
    readonly_fields = ["body_html", "cited_paragraphs", "file_size", "nonce"]
    raw_id_fields = ["memo"]


@admin.register(MemoComment)
class MemoCommentAdmin(admin.ModelAdmin):
    list_display = ["pk", "version", "author", "paragraph", "created_at"]
    search_fields = ["body", "quote", "author__username"]
    list_select_related = ["version__memo", "author"]
    readonly_fields = ["body_html"]
    raw_id_fields = ["version", "author"]


@admin.register(PeerReview)
class PeerReviewAdmin(admin.ModelAdmin):
    list_display = ["item", "reviewer", "author", "position", "score", "submitted_at"]
    list_filter = ["item"]
    list_select_related = ["item", "reviewer", "author"]
    raw_id_fields = ["reviewer", "author", "version"]
    readonly_fields = ["comment_html"]
