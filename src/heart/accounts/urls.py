from django.urls import path

from heart.accounts import users, views

urlpatterns = [
    path("otp/", views.otp_enrol, name="otp-enrol"),
    path("otp/qr.svg", views.otp_qr, name="otp-qr"),
    path("otp/verify", views.otp_verify, name="otp-verify"),
    path("security", views.security, name="accounts-security"),
    path("alive", views.alive, name="alive"),
    path("users", users.users, name="accounts-users"),
    path("users/new", users.new_user, name="accounts-user-new"),
    path("users/<int:user_id>/role", users.change_role, name="accounts-user-role"),
    path("users/<int:user_id>/active", users.change_active, name="accounts-user-active"),
]
