from django.urls import path

from heart.teams import views

urlpatterns = [
    path("", views.staff, name="staff"),
    path("shifts", views.new_shift, name="staff-shift-new"),
    path("shifts/<int:shift_id>/end", views.finish_shift, name="staff-shift-end"),
    path("shifts/<int:shift_id>/until", views.change_shift, name="staff-shift-until"),
    path("training", views.new_training, name="staff-training-new"),
    path("training/<int:record_id>/remove", views.remove_training, name="staff-training-remove"),
    path("teams", views.teams, name="staff-teams"),
    path("teams/new", views.new_team, name="staff-team-new"),
    path("teams/<int:team_id>", views.edit_team, name="staff-team-edit"),
]
