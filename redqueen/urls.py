from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from cases.forms.auth import AdminSignInForm
from cases.views import auth, health

admin.site.site_header = "Red Queen administration"
admin.site.site_title = "Red Queen admin"
admin.site.login_form = AdminSignInForm

urlpatterns = [
    path("login/", auth.login, name="login"),
    path("logout/", auth.logout, name="logout"),
    path(
        "password/change/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("password/reset/", auth.PasswordReset.as_view(), name="password_reset"),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        auth.PasswordResetConfirm.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("healthz", health.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("", include("cases.urls")),
]

handler400 = "cases.views.errors.bad_request"
handler403 = "cases.views.errors.permission_denied"
handler404 = "cases.views.errors.page_not_found"
handler500 = "cases.views.errors.server_error"
