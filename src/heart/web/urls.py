from django.contrib import admin
from django.urls import include, path

from heart.calls.api import api
from heart.calls.views import new_call

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("calls/new", new_call, name="call-new"),
    path("plan/", include("heart.planning.urls")),
    path("", include("heart.board.urls")),
]
