from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from cases.models import (
    Assignment,
    Attempt,
    CaseReading,
    CaseStudy,
    Choice,
    Cohort,
    Course,
    Discussion,
    Extension,
    GradeCategory,
    LiveAnswer,
    LiveClass,
    LivePoll,
    LiveSession,
    LoginThrottle,
    Membership,
    Module,
    ModuleItem,
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

admin.site.register(User, UserAdmin)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Cohort)
class CohortAdmin(admin.ModelAdmin):
    list_display = ["name", "join_code", "created_at"]
    search_fields = ["name", "join_code"]
    # A TA listed here grades only this cohort's students (in every course it takes).
    filter_horizontal = ["teaching_assistants"]
    inlines = [MembershipInline]


class ModuleInline(admin.TabularInline):
    model = Module
    extra = 0


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ["code", "title"]
    search_fields = ["code", "title"]
    filter_horizontal = ["instructors", "teaching_assistants", "cohorts"]
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


@admin.register(GradeCategory)
class GradeCategoryAdmin(admin.ModelAdmin):
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
