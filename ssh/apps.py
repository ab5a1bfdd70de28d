from django.apps import AppConfig


class SshConfig(AppConfig):
    name = "ssh"
    verbose_name = "SSH access"
    default_auto_field = "django.db.models.BigAutoField"
