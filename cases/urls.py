from django.urls import path

from cases.views import cohorts, courses, dashboard, readings

app_name = "cases"

urlpatterns = [
    path("", dashboard.home, name="home"),
    path("teach/", dashboard.instructor_dashboard, name="instructor_dashboard"),
    path("courses/<int:pk>/", courses.course_detail, name="course_detail"),
    path("items/<int:pk>/", courses.item_detail, name="item_detail"),
    path("library/", readings.case_list, name="case_list"),
    path("library/new/", readings.case_create, name="case_create"),
    path("library/import/", readings.case_import, name="case_import"),
    path("library/<slug:slug>/", readings.case_detail, name="case_detail"),
    path("library/<slug:slug>/edit/", readings.case_edit, name="case_edit"),
    path("library/<slug:slug>/heartbeat/", readings.reading_heartbeat, name="reading_heartbeat"),
    path("library/<slug:slug>/done/", readings.reading_done, name="reading_done"),
    path("manage/cohorts/", cohorts.cohort_list, name="cohort_list"),
]
