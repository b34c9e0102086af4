from django.apps import AppConfig


class BoardConfig(AppConfig):
    name = "heart.board"
    label = "board"
    verbose_name = "Live board, responder and crisis-line pages"
