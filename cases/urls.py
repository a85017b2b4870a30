from django.urls import path, re_path

from cases.views import (
    analyses,
    annotations,
    builder,
    cohorts,
    courses,
    discussions,
    live,
    lti,
    memo_files,
    notifications,
    peer_review,
    people,
    readings,
    schedule,
)
from cases.views import gradebook as gradebook_views
from cases.views.heatmap import annotation_heatmap
from cases.views.memo_feedback import (
    memo_changes,
    memo_comment_create,
    memo_comment_delete,
    memo_version,
)
from cases.views.quizzes import staff as quiz_staff
from cases.views.quizzes import taking as quiz_taking
from cases.views.thesis import spectrum, stances
from cases.views.workspace import annotations as annotation_staff
from cases.views.workspace import grading, tracker

app_name = "cases"

urlpatterns = [
    path("", courses.home, name="home"),
    path("teach/", courses.instructor_dashboard, name="instructor_dashboard"),
    path("courses/<int:pk>/", courses.course_detail, name="course_detail"),
    path("items/<int:pk>/", courses.item_detail, name="item_detail"),
    path("courses/<int:pk>/items/new/", builder.item_create, name="item_create"),
    path("library/", readings.case_list, name="case_list"),
    path("library/new/", readings.case_create, name="case_create"),
    path("library/import/", readings.case_import, name="case_import"),
    path("library/<slug:slug>/", readings.case_detail, name="case_detail"),
    path("library/<slug:slug>/edit/", readings.case_edit, name="case_edit"),
    path("library/<slug:slug>/heartbeat/", readings.reading_heartbeat, name="reading_heartbeat"),
    path("library/<slug:slug>/done/", readings.reading_done, name="reading_done"),
    path("library/<slug:slug>/notes/", annotations.annotation_list, name="annotation_list"),
    path("library/<slug:slug>/notes/live/", annotations.annotation_live, name="annotation_live"),
    path("notes/<int:pk>/", annotations.annotation_detail, name="annotation_detail"),
    path("notes/<int:pk>/reply/", annotations.annotation_reply, name="annotation_reply"),
    path("notes/<int:pk>/vote/", annotations.annotation_vote, name="annotation_vote"),
    path("notes/<int:pk>/moderate/", annotations.annotation_moderate, name="annotation_moderate"),
    path("notes/<int:pk>/delete/", annotations.annotation_delete, name="annotation_delete"),
    path("manage/cohorts/", cohorts.cohort_list, name="cohort_list"),
    # Quizzes: taking them.
    path("items/<int:pk>/attempts/", quiz_taking.attempt_start, name="attempt_start"),
    path("attempts/<int:pk>/", quiz_taking.attempt_detail, name="attempt_detail"),
    path("attempts/<int:pk>/save/", quiz_taking.attempt_save, name="attempt_save"),
    path("attempts/<int:pk>/submit/", quiz_taking.attempt_submit, name="attempt_submit"),
    path("attempts/<int:pk>/result/", quiz_taking.attempt_result, name="attempt_result"),
    # Quizzes: the course staff's side.
    path("items/<int:pk>/stats/", quiz_staff.quiz_stats, name="quiz_stats"),
    path("items/<int:pk>/regrade/", quiz_staff.quiz_regrade, name="quiz_regrade"),
    path("items/<int:pk>/quiz-settings/", quiz_staff.quiz_settings, name="quiz_settings"),
    path("courses/<int:pk>/grading/", grading.grading_queue, name="grading_queue"),
    path("answers/<int:pk>/grade/", grading.answer_grade, name="answer_grade"),
    path("courses/<int:pk>/questions/", quiz_staff.question_list, name="question_list"),
    path("courses/<int:pk>/questions/new/", quiz_staff.question_create, name="question_create"),
    path("courses/<int:pk>/questions/import/", quiz_staff.question_import, name="question_import"),
    path(
        "courses/<int:pk>/questions/import/confirm/",
        quiz_staff.question_import_confirm,
        name="question_import_confirm",
    ),
    path("courses/<int:pk>/questions/export/", quiz_staff.question_export, name="question_export"),
    path("questions/<int:pk>/edit/", quiz_staff.question_edit, name="question_edit"),
    # Discussions.
    path("items/<int:pk>/posts/", discussions.thread_posts, name="thread_posts"),
    path("items/<int:pk>/posts/new/", discussions.post_create, name="post_create"),
    path("items/<int:pk>/lock/", discussions.discussion_lock, name="discussion_lock"),
    path(
        "items/<int:pk>/thread-settings/",
        discussions.discussion_settings,
        name="discussion_settings",
    ),
    path("items/<int:pk>/follow/", discussions.discussion_follow, name="discussion_follow"),
    path("items/<int:pk>/participation/", discussions.participation, name="participation"),
    path("posts/<int:pk>/edit/", discussions.post_edit, name="post_edit"),
    path("posts/<int:pk>/delete/", discussions.post_delete, name="post_delete"),
    path("posts/<int:pk>/upvote/", discussions.post_upvote, name="post_upvote"),
    path("posts/<int:pk>/moderate/", discussions.post_moderate, name="post_moderate"),
    path("posts/<int:pk>/history/", discussions.post_history, name="post_history"),
    path(
        "library/<slug:slug>/paragraphs/<int:number>/",
        discussions.paragraph_detail,
        name="paragraph_detail",
    ),
    # Course builder.
    path("courses/new/", builder.course_create, name="course_create"),
    path("lti/login/<uuid:uuid>/", lti.lti_login, name="lti_login"),
    path("lti/launch/", lti.lti_launch, name="lti_launch"),
    path("lti/enter/<str:token>/", lti.lti_enter, name="lti_enter"),
    path("lti/link/", lti.lti_link, name="lti_link"),
    path("lti/deep-link/", lti.lti_deep_link, name="lti_deep_link"),
    path("lti/jwks/", lti.lti_jwks, name="lti_jwks"),
    path("lti/config/", lti.lti_config, name="lti_config"),
    path("courses/<int:pk>/lms/", lti.lti_course, name="lti_course"),
    path("courses/<int:pk>/edit/", builder.course_edit, name="course_edit"),
    path("courses/<int:pk>/build/", builder.course_builder, name="course_builder"),
    path("courses/<int:pk>/duplicate/", builder.course_duplicate, name="course_duplicate"),
    path("courses/<int:pk>/modules/new/", builder.module_create, name="module_create"),
    path("courses/<int:pk>/items/copy/", builder.item_copy, name="item_copy"),
    path("modules/<int:pk>/edit/", builder.module_edit, name="module_edit"),
    path("modules/<int:pk>/delete/", builder.module_delete, name="module_delete"),
    path("modules/<int:pk>/move/", builder.module_move, name="module_move"),
    path("items/<int:pk>/edit/", builder.item_edit, name="item_edit"),
    path("items/<int:pk>/delete/", builder.item_delete, name="item_delete"),
    path(
        "items/<int:pk>/annotation-settings/",
        builder.annotation_settings,
        name="annotation_settings",
    ),
    path("items/<int:pk>/move/", builder.item_move, name="item_move"),
    # Scheduling.
    path("items/<int:pk>/schedule/", schedule.item_schedule, name="item_schedule"),
    path("items/<int:pk>/extensions/", schedule.extension_grant, name="extension_grant"),
    path(
        "items/<int:pk>/extensions/<int:extension_pk>/delete/",
        schedule.extension_delete,
        name="extension_delete",
    ),
    path("items/<int:pk>/accommodations/", schedule.accommodation_set, name="accommodation_set"),
    path(
        "items/<int:pk>/accommodations/<int:accommodation_pk>/delete/",
        schedule.accommodation_delete,
        name="accommodation_delete",
    ),
    path("courses/<int:pk>/deadlines/", schedule.course_deadlines, name="course_deadlines"),
]

# Instructor workspace: the response tracker, grading one student at a time, rubrics.
urlpatterns += [
    path("courses/<int:pk>/tracker/", tracker.tracker, name="tracker"),
    path(
        "courses/<int:pk>/tracker/students/<int:student>/",
        tracker.student_timeline,
        name="student_timeline",
    ),
    path(
        "courses/<int:pk>/tracker/students/<int:student>/items/<int:item>/",
        tracker.work_panel,
        name="work_panel",
    ),
    path("items/<int:pk>/grade/<int:student>/", grading.grade_work, name="grade_work"),
    path("courses/<int:pk>/rubrics/", grading.rubric_list, name="rubric_list"),
    path("rubrics/<int:pk>/", grading.rubric_edit, name="rubric_edit"),
    path(
        "items/<int:pk>/annotation-report/",
        annotation_staff.annotation_report,
        name="annotation_report",
    ),
]

# The gradebook.
urlpatterns += [
    path("courses/<int:pk>/gradebook/", gradebook_views.gradebook, name="gradebook"),
    path("courses/<int:pk>/gradebook.csv", gradebook_views.gradebook_csv, name="gradebook_csv"),
    path(
        "courses/<int:pk>/gradebook/categories/",
        gradebook_views.grade_categories,
        name="grade_categories",
    ),
    path(
        "courses/<int:pk>/gradebook/students/<int:student_pk>/items/<int:item_pk>/",
        gradebook_views.grade_edit,
        name="grade_edit",
    ),
    path(
        "assignments/<int:pk>/release/",
        gradebook_views.assignment_release,
        name="assignment_release",
    ),
    path("courses/<int:pk>/grades/", gradebook_views.student_grades, name="student_grades"),
]

# Annotations: the course staff's heat map of the class's notes on a case.
urlpatterns += [
    path("courses/<int:pk>/notes/<slug:slug>/", annotation_heatmap, name="annotation_heatmap"),
]

# Thesis tools: stance checks.
urlpatterns += [
    path("items/<int:pk>/stance/answer/", stances.stance_answer, name="stance_answer"),
    path("items/<int:pk>/stance/settings/", stances.stance_settings, name="stance_settings"),
    path("items/<int:pk>/decision/commit/", stances.decision_commit, name="decision_commit"),
    path("items/<int:pk>/decision/score/", stances.decision_score, name="decision_score"),
    path("items/<int:pk>/decision/settings/", stances.decision_settings, name="decision_settings"),
    path("courses/<int:pk>/calibration/", stances.calibration, name="calibration"),
    path("items/<int:pk>/stance/pairs/", stances.stance_pairs, name="stance_pairs"),
    path("pairs/<int:pk>/", stances.pair_thread, name="pair_thread"),
    path("items/<int:pk>/spectrum/pairs/", stances.spectrum_pairs, name="spectrum_pairs"),
    path("courses/<int:pk>/regions/", stances.regional_comparison, name="regional_comparison"),
]

# The spectrum exercise.
urlpatterns += [
    path("items/<int:pk>/spectrum/save/", spectrum.spectrum_save, name="spectrum_save"),
    path("items/<int:pk>/spectrum/release/", spectrum.spectrum_release, name="spectrum_release"),
]

# Live class.
urlpatterns += [
    path("live/", live.live_join, name="live_join"),
    re_path(r"^live/(?P<code>[A-Za-z0-9]{6})/$", live.live_join_code, name="live_join_code"),
    path("live/sessions/<int:pk>/", live.live_session, name="live_session"),
    path("live/sessions/<int:pk>/join/", live.live_session_join, name="live_session_join"),
    path("live/sessions/<int:pk>/state/", live.live_state, name="live_state"),
    path("live/sessions/<int:pk>/answer/", live.live_answer, name="live_answer"),
    path("live/sessions/<int:pk>/projector/", live.live_projector, name="live_projector"),
    path("live/sessions/<int:pk>/polls/", live.live_poll_create, name="live_poll_create"),
    path("live/sessions/<int:pk>/cold-call/", live.live_cold_call, name="live_cold_call"),
    path("live/sessions/<int:pk>/marks/", live.live_mark, name="live_mark"),
    path("live/sessions/<int:pk>/end/", live.live_end, name="live_end"),
    path("live/polls/<int:pk>/", live.live_poll_control, name="live_poll_control"),
    path("live/marks/<int:pk>/delete/", live.live_mark_delete, name="live_mark_delete"),
    path("courses/<int:pk>/live/", live.live_sessions, name="live_sessions"),
    path("items/<int:pk>/live-settings/", live.live_class_settings, name="live_class_settings"),
]

# Cohort administration: bulk enrolment.
urlpatterns += [
    path("manage/cohorts/<int:pk>/import/", cohorts.roster_import, name="roster_import"),
]

# People: course roles, the directory with deactivation, and the audit log.
urlpatterns += [
    path("courses/<int:pk>/people/", people.course_people, name="course_people"),
    path(
        "courses/<int:pk>/people/<int:user_pk>/remove/",
        people.course_people_remove,
        name="course_people_remove",
    ),
    path(
        "courses/<int:pk>/people/<int:user_pk>/cohorts/",
        people.course_ta_cohorts,
        name="course_ta_cohorts",
    ),
    path("manage/people/", people.people_directory, name="people_directory"),
    path("manage/people/<int:pk>/deactivate/", people.person_deactivate, name="person_deactivate"),
    path("manage/people/<int:pk>/reactivate/", people.person_reactivate, name="person_reactivate"),
    path("manage/people/<int:pk>/invite/", people.person_invite, name="person_invite"),
    path("manage/audit/", people.audit_log, name="audit_log"),
    path("manage/audit.csv", people.audit_csv, name="audit_csv"),
]

# Cohort administration: cohorts, join codes, members; joining and signing up with a code.
urlpatterns += [
    path("manage/cohorts/<int:pk>/", cohorts.cohort_detail, name="cohort_detail"),
    path("manage/cohorts/<int:pk>/rename/", cohorts.cohort_rename, name="cohort_rename"),
    path("manage/cohorts/<int:pk>/archive/", cohorts.cohort_archive, name="cohort_archive"),
    path("manage/cohorts/<int:pk>/courses/", cohorts.cohort_courses, name="cohort_courses"),
    path("manage/cohorts/<int:pk>/join-code/", cohorts.cohort_join_code, name="cohort_join_code"),
    path("manage/cohorts/<int:pk>/members/", cohorts.cohort_members, name="cohort_members"),
    path("join/", cohorts.cohort_join, name="cohort_join"),
    path("signup/", cohorts.signup, name="signup"),
    path("signup/sent/", cohorts.signup_sent, name="signup_sent"),
    path("signup/confirm/<str:token>/", cohorts.signup_confirm, name="signup_confirm"),
    path(
        "notifications/unsubscribe/<str:token>/",
        notifications.notification_unsubscribe,
        name="notification_unsubscribe",
    ),
]

# Notifications in the app.
urlpatterns += [
    path("notifications/", notifications.notification_list, name="notification_list"),
    path("notifications/bell/", notifications.notification_bell, name="notification_bell"),
    path("notifications/read/", notifications.notification_read, name="notification_read"),
    path(
        "notifications/preferences/",
        notifications.notification_preferences,
        name="notification_preferences",
    ),
    path("notifications/<int:pk>/", notifications.notification_open, name="notification_open"),
]

# Written analyses: writing and handing in.
urlpatterns += [
    path("items/<int:pk>/analysis-settings/", builder.analysis_settings, name="analysis_settings"),
    path("items/<int:pk>/memo/draft/", analyses.analysis_draft, name="analysis_draft"),
    path("items/<int:pk>/memo/preview/", analyses.analysis_preview, name="analysis_preview"),
    path("items/<int:pk>/memo/", analyses.analysis_write, name="analysis_write"),
]

# Written analyses: files handed in.
urlpatterns += [
    path("items/<int:pk>/memo/upload/", memo_files.analysis_upload, name="analysis_upload"),
    path("memos/versions/<int:pk>/file/", memo_files.memo_file, name="memo_file"),
]

# Written analyses: reading a version, the grader's comments, the changes between versions.
urlpatterns += [
    path("memos/versions/<int:pk>/", memo_version, name="memo_version"),
    path("memos/versions/<int:pk>/comments/", memo_comment_create, name="memo_comment_create"),
    path("memos/versions/<int:pk>/changes/", memo_changes, name="memo_changes"),
    path("memo-comments/<int:pk>/delete/", memo_comment_delete, name="memo_comment_delete"),
]

# Written analyses: peer review.
urlpatterns += [
    path("reviews/<int:pk>/", peer_review.peer_review, name="peer_review"),
    path("reviews/<int:pk>/helpful/", peer_review.peer_review_rate, name="peer_review_rate"),
    path("items/<int:pk>/peer-reviews/", peer_review.peer_reviews, name="peer_reviews"),
    path(
        "items/<int:pk>/peer-reviews/assign/",
        peer_review.peer_reviews_assign,
        name="peer_reviews_assign",
    ),
    path(
        "items/<int:pk>/peer-reviews/apply/",
        peer_review.peer_scores_apply,
        name="peer_scores_apply",
    ),
]
