"""Public pages (inside i18n_patterns in heart.web.urls: English at /, Spanish at /es/)."""

from django.urls import path, re_path

from heart.public import views

urlpatterns = [
    path("", views.home, name="public-home"),
    path("about/", views.about, name="public-about"),
    path("hours-and-area/", views.coverage, name="public-coverage"),
    path("privacy/", views.privacy, name="public-privacy"),
    path("feedback/", views.feedback, name="public-feedback"),
    path("reports/", views.reports, name="public-reports"),
    re_path(r"^reports/(?P<month>\d{4}-\d{2})/$", views.report_month, name="public-report"),
]

# language-independent files (outside i18n_patterns)
files = [
    path("public/area.geojson", views.area_geojson, name="public-area"),
    re_path(
        r"^reports/(?P<month>\d{4}-\d{2})/(?P<name>(data|charts)/[a-z_-]+\.(csv|png)|[a-z]+\.(pdf|json))$",
        views.report_file,
        name="public-report-file",
    ),
]
