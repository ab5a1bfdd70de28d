from django.apps import AppConfig


class DatabasesConfig(AppConfig):
    name = "databases"
    verbose_name = "Databases"

    def ready(self):
        from django.db.models.signals import pre_delete

        from accounts.models import User
        from accounts.signals import limits_changed
        from databases import checks, receivers, tasks  # noqa: F401 - checks registers

        limits_changed.connect(tasks.postgres_access_sync_enqueue, dispatch_uid="databases-pg")
        # No account-deletion service exists yet: deleting the User row (admin, shell) is it.
        pre_delete.connect(receivers.user_deleting, sender=User, dispatch_uid="databases-user")
