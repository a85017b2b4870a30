from django.urls import path

from cases.views import cohorts, courses, dashboard

app_name = "cases"

urlpatterns = [
    path("", dashboard.home, name="home"),
    path("teach/", dashboard.instructor_dashboard, name="instructor_dashboard"),
    path("courses/<int:pk>/", courses.course_detail, name="course_detail"),
    path("items/<int:pk>/", courses.item_detail, name="item_detail"),
    path("manage/cohorts/", cohorts.cohort_list, name="cohort_list"),
]
