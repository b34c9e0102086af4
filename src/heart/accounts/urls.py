from django.urls import path

from heart.accounts import views

urlpatterns = [
    path("otp/", views.otp_enrol, name="otp-enrol"),
    path("otp/qr.svg", views.otp_qr, name="otp-qr"),
    path("otp/verify", views.otp_verify, name="otp-verify"),
    path("security", views.security, name="accounts-security"),
    path("alive", views.alive, name="alive"),
]
