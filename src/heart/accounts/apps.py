from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "heart.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        from axes.signals import user_locked_out
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate

        from heart.accounts import chain, lockout
        from heart.accounts.roles import ADMIN_SITE_PERMISSIONS, ensure_roles

        # after accounts' own migrate, and again after each app whose models the admin
        # role sees in the admin site (their permissions exist only from then on)
        apps_to_follow = {"accounts"} | {p.split(".")[0] for p in ADMIN_SITE_PERMISSIONS}

        def _roles(sender, **kwargs):
            if sender.label in apps_to_follow:
                ensure_roles(using=kwargs.get("using", "default"))

        def _guards(sender, **kwargs):
            # every migrate re-installs the append-only triggers: on SQLite a later
            # migration that rebuilds an audit table would otherwise drop them silently
            from django.db import connections

            connection = connections[kwargs.get("using", "default")]
            with connection.cursor() as cur:
                for model in chain.chained_models():
                    for sql in chain.append_only_sql(model._meta.db_table, connection.vendor):
                        cur.execute(sql)

        post_migrate.connect(_roles, weak=False, dispatch_uid="heart.accounts.roles")
        post_migrate.connect(
            _guards, sender=self, weak=False, dispatch_uid="heart.accounts.audit_guards"
        )
        connection_created.connect(
            chain.install_sqlite_functions, weak=False, dispatch_uid="heart.accounts.sqlite_fns"
        )
        from heart.accounts.services import on_live_event
        from heart.live.local import subscribe

        subscribe(on_live_event)
        user_locked_out.connect(
            lockout.record_lockout, weak=False, dispatch_uid="heart.accounts.lockout"
        )
