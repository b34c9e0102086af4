from django.urls import path

from heart.planning import views

app_name = "planning"
urlpatterns = [
    path("", views.index, name="index"),
    path("charts/<str:name>", views.chart, name="chart"),
]
