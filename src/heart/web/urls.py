"""Every URL of the service: the API root, the admin, sign-in, and each app's pages."""

from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import include, path

from heart.public.urls import files as public_files
from heart.web.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("calls/", include("heart.intake.urls")),
    path("care/", include("heart.care.urls")),
    path("plan/", include("heart.planning.urls")),
    path("staff/reports/", include("heart.reports.urls")),
    *public_files,
    # the public site: English at /, Spanish at /es/ (before the board: "/" is public
    # for visitors; signed-in staff are sent on to their page from there)
    *i18n_patterns(path("", include("heart.public.urls")), prefix_default_language=False),
    path("", include("heart.board.urls")),
]
