from django.urls import path

from heart.intake import views

urlpatterns = [path("new", views.new_call, name="call-new")]
