from django.contrib import admin
from django.urls import include, path

from heart.calls.api import api
from heart.calls.views import new_call
from heart.care import views as care_views
from heart.care.api import router as care_router

api.add_router("/care/", care_router)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("calls/new", new_call, name="call-new"),
    path("care/queue", care_views.queue, name="care-queue"),
    path("care/sla", care_views.sla, name="care-sla"),
    path("care/tasks/<int:task_id>", care_views.task, name="care-task"),
    path("care/people/<int:person_id>", care_views.person, name="care-person"),
    path("care/people/<int:person_id>/audit", care_views.person_audit, name="care-person-audit"),
    path("care/people/<int:person_id>/fhir", care_views.person_fhir, name="care-person-fhir"),
    path("plan/", include("heart.planning.urls")),
    path("", include("heart.board.urls")),
]
