from django.apps import AppConfig


class FilesConfig(AppConfig):
    name = "files"
    verbose_name = "Files"

    def ready(self):
        from accounts.signals import limits_changed, user_provisioned
        from files import tasks

        # Homes and quotas live on file servers: accounts tells us when they must change
        # (each receiver is listed beside its signal in accounts/signals.py).
        user_provisioned.connect(tasks.home_create_enqueue, dispatch_uid="files.home")
        limits_changed.connect(tasks.storage_quota_apply_enqueue, dispatch_uid="files.quota")
