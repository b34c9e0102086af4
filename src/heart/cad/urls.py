from django.urls import path

from heart.cad import views

urlpatterns = [
    path("", views.dead_letters, name="cad-dead-letters"),
    path("<int:message_id>/replay", views.replay, name="cad-replay"),
    path("<int:message_id>/discard", views.discard, name="cad-discard"),
]
