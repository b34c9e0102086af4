"""Every URL of the service: the API root, the admin, sign-in, and each app's pages."""

from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from heart.public.urls import files as public_files
from heart.web import views
from heart.web.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("accounts/", include("heart.accounts.urls")),
    # sign-in, sign-out, change password (no reset by e-mail: the service sends no mail;
    # an admin sets a new password)
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(next_page="login"), name="logout"),
    path(
        "accounts/password_change/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password_change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("csp-report", views.csp_report, name="csp-report"),
    path("calls/", include("heart.intake.urls")),
    path("care/", include("heart.care.urls")),
    path("plan/", include("heart.planning.urls")),
    path("staff/reports/", include("heart.reports.urls")),
    path("staff/cad/", include("heart.cad.urls")),
    path("staff/", include("heart.teams.urls")),
    *public_files,
    # the public site: English at /, Spanish at /es/ (before the board: "/" is public
    # for visitors; signed-in staff are sent on to their page from there)
    *i18n_patterns(path("", include("heart.public.urls")), prefix_default_language=False),
    path("", include("heart.board.urls")),
]

handler403 = "heart.web.views.forbidden"
