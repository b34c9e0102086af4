from django.urls import path

from heart.care import views

urlpatterns = [
    path("queue", views.queue, name="care-queue"),
    path("sla", views.sla, name="care-sla"),
    path("tasks/<int:task_id>", views.task, name="care-task"),
    path("providers", views.providers, name="care-providers"),
    path("providers/<int:provider_id>", views.provider_edit, name="care-provider"),
    path("people/<int:person_id>", views.person, name="care-person"),
    path("people/<int:person_id>/audit", views.person_audit, name="care-person-audit"),
    path("people/<int:person_id>/fhir", views.person_fhir, name="care-person-fhir"),
]
