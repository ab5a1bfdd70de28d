from django.apps import AppConfig


class FilesConfig(AppConfig):
    name = "files"
    verbose_name = "Files"

    def ready(self):
        from accounts.services import on_limits_changed, on_user_provisioned
        from files import tasks

        # Homes and quotas live on file servers: accounts tells us when they must change.
        on_user_provisioned(tasks.enqueue_create_home)
        on_limits_changed(tasks.enqueue_apply_storage_quota)
