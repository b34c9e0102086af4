"""Every URL of the service: the API root, the admin, sign-in, and each app's pages."""

from django.contrib import admin
from django.urls import include, path

from heart.web import views
from heart.web.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("accounts/", include("heart.accounts.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("csp-report", views.csp_report, name="csp-report"),
    path("calls/", include("heart.intake.urls")),
    path("care/", include("heart.care.urls")),
    path("plan/", include("heart.planning.urls")),
    path("", include("heart.board.urls")),
]
