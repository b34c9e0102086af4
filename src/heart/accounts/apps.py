from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "heart.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from heart.accounts.roles import ensure_roles

        def _roles(sender, **kwargs):
            ensure_roles(using=kwargs.get("using", "default"))

        post_migrate.connect(_roles, sender=self, weak=False, dispatch_uid="heart.accounts.roles")
