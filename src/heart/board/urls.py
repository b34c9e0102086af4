from django.urls import path

from heart.board import views

urlpatterns = [
    path("", views.home, name="home"),
    path("board/", views.board, name="board"),
    path("board/state", views.board_state, name="board-state"),
    path("board/areas.geojson", views.areas, name="board-areas"),
    path("board/tiles/<int:z>/<int:x>/<int:y>", views.tile, name="board-tile"),
    path("live/events", views.stream, name="live-events"),
    path("responder/", views.responder, name="responder"),
    path("responder/sw.js", views.responder_worker, name="responder-worker"),
    path("responder/status", views.responder_status, name="responder-status"),
    path("responder/backup", views.responder_backup, name="responder-backup"),
    path("responder/clear", views.responder_clear, name="responder-clear"),
    path("ccd/", views.ccd, name="ccd"),
    path("ccd/<int:call_id>/outcome", views.ccd_outcome, name="ccd-outcome"),
    path("ccd/<int:call_id>/claim", views.ccd_claim, name="ccd-claim"),
    path("ccd/<int:call_id>/release", views.ccd_release, name="ccd-release"),
    path("healthz", views.healthz, name="healthz"),
]
