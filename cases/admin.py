from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from cases.models import (
    Assignment,
    Cohort,
    Course,
    LoginThrottle,
    Membership,
    Module,
    ModuleItem,
    User,
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
