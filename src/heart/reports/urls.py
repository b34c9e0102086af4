from django.urls import path, re_path

from heart.reports import views

urlpatterns = [
    path("", views.index, name="reports-index"),
    re_path(r"^data/(?P<name>[a-z_]+)\.csv$", views.csv_file, name="reports-csv"),
]
